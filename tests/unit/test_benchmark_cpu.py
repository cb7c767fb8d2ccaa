"""``mts-service bench``'s server CPU figure: the CPU of a process and all its descendants."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from mts_service.benchmark.cpu import tree_cpu_seconds

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads Linux's /proc")

BURN = "import time\nend = time.process_time() + 0.4\nwhile time.process_time() < end: pass\ntime.sleep(30)"


def test_a_grandchilds_cpu_counts_for_the_root():
    # root: a shell that starts Python (like serve starts gunicorn, which forks its workers)
    root = subprocess.Popen(["sh", "-c", f"{sys.executable} -c '{BURN}'; :"])
    try:
        deadline = time.monotonic() + 20
        while (tree_cpu_seconds(root.pid) or 0) < 0.35:
            assert time.monotonic() < deadline, tree_cpu_seconds(root.pid)
            time.sleep(0.05)
        assert tree_cpu_seconds(root.pid) < 5
    finally:
        subprocess.run(["pkill", "-P", str(root.pid)])
        root.wait()


def test_a_process_that_is_gone_has_no_figure():
    done = subprocess.run([sys.executable, "-c", "pass"])
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    assert done.returncode == 0 and tree_cpu_seconds(gone.pid) is None

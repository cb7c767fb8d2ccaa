"""The collector settings of a server worker (soap.worker_gc): applied by the MTS's gunicorn
target and by the bench's echo alike, so the benchmark compares like with like."""

from __future__ import annotations

import subprocess
import sys

import pytest

from mts_service.soap.worker_gc import THRESHOLDS

PROBE = "import gc, spyne.const, {module}; print(gc.get_threshold(), gc.get_freeze_count() > 0, spyne.const.MIN_GC_INTERVAL)"


@pytest.mark.parametrize("module", ["mts_service.soap.wsgi", "mts_service.benchmark.echo"])
def test_a_worker_freezes_start_up_and_collects_young_objects_less_often(module, tmp_path):
    env = {"MTS_SECURITY": "0", "MTS_DATABASE_URL": f"sqlite+pysqlite:///{tmp_path / 'mts.db'}",
           "MTS_LOG_LEVEL": "WARNING", "PATH": "/usr/bin:/bin"}
    run = subprocess.run([sys.executable, "-c", PROBE.format(module=module)], capture_output=True, text=True,
                         env=env, cwd=tmp_path, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.split("\n")[-2] == f"{THRESHOLDS} True inf"

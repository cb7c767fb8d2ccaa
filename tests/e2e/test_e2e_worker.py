"""What a gunicorn worker gets from ``mts_service.soap.wsgi``: no forced Spyne garbage collection.

Spyne runs a full ``gc.collect()`` once a second in each worker when a method context closes
(``spyne.const.MIN_GC_INTERVAL``); with this heap each one cost 50-180 ms, a quarter of a signed
request's time and most of its p99 (measured under cProfile). The worker's module
switches it off and freezes the start-up heap.
"""

from __future__ import annotations

import json
import subprocess
import sys

from e2e_helpers import ROOT, child_env


def test_the_wsgi_target_turns_off_spynes_forced_collections(tmp_path, certs):
    probe = (
        "import gc, json, spyne.const\n"
        "import mts_service.soap.wsgi\n"
        "print(json.dumps({'interval': spyne.const.MIN_GC_INTERVAL, 'frozen': gc.get_freeze_count()}))\n"
    )
    env = {**child_env(), "MTS_DATABASE_URL": f"sqlite+pysqlite:///{tmp_path / 'mts.db'}", "MTS_CERTS_DIR": str(certs),
           "MTS_LOG_LEVEL": "WARNING"}
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["interval"] == float("inf")
    assert seen["frozen"] > 10_000  # the start-up heap is out of the collector's way

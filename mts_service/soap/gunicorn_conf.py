"""gunicorn settings module used by ``mts-service serve`` (``--config python:...``).

Only what cannot be said on gunicorn's command line: when several workers share
Prometheus samples through ``PROMETHEUS_MULTIPROC_DIR``, a dead worker's live gauges
must be dropped (prometheus_client's documented gunicorn hook).
"""

from __future__ import annotations

import os


def child_exit(server, worker) -> None:  # noqa: ANN001 - gunicorn's hook signature
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)

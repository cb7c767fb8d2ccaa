"""A real cluster for the tests: ``mts-service cluster up`` (two nodes, haproxy) on a PostgreSQL
schema of its own, created for the module and dropped at the end with every process stopped."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from sqlalchemy import text

from mts_service.cluster import Cluster, alive, with_schema
from mts_service.persistence.engine import make_engine

PG_ENV = "MTS_TEST_DATABASE_URL"
REPO = Path(__file__).resolve().parents[2]


def mts_service(*args: str, env: dict, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mts_service", *args], capture_output=True, text=True,
                          env=env, cwd=REPO, timeout=timeout)


def child_env() -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MTS_")}
    env["PYTHONPATH"] = str(REPO) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


@pytest.fixture(scope="module")
def cluster_schema():
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(f"{PG_ENV} is not set")
    if not (shutil.which("haproxy") or os.path.exists("/usr/sbin/haproxy")):
        pytest.skip("haproxy is not installed (.ci/run installs it)")
    schema = f"mts_cluster_{uuid.uuid4().hex[:10]}"
    yield schema, with_schema(base, schema)
    admin = make_engine(base)
    try:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    finally:
        admin.dispose()


@pytest.fixture(scope="module")
def cluster(cluster_schema, tmp_path_factory):
    """Two nodes of one sync worker each behind haproxy, started and stopped through the CLI."""
    _schema, url = cluster_schema
    directory = tmp_path_factory.mktemp("cluster")
    env = child_env()
    up = mts_service("cluster", "up", "--dir", str(directory), "--database", url, "--nodes", "2",
                     "--workers-per-node", "1", "--port", "0", env=env)
    loaded = None
    try:
        assert up.returncode == 0, up.stderr + up.stdout
        loaded = Cluster.load(directory)
        assert up.stdout.strip().splitlines()[-1] == loaded.url
        yield loaded
    finally:
        started = (loaded.server_pids() + [loaded.state.haproxy_pid]) if loaded is not None else []
        down = mts_service("cluster", "down", "--dir", str(directory), env=env)
        leftovers = [pid for pid in started if alive(pid)]
        if leftovers:  # never leave a process behind, even when the test failed
            Cluster.load(directory).down()
        assert down.returncode == 0, down.stderr
        assert not leftovers, f"still running after down: {leftovers}"

"""A real MTS for the client tests: ``mts-service serve`` (gunicorn, TLS, WS-Security on) on a
free port, with a dev PKI and a SQLite database in a temporary directory, for the session."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from mts_service.cli.demo import DEMO_POLICY, Transcript, child_env, running_server
from mts_service.pki import create_dev_pki

REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class LiveServer:
    url: str
    certs: Path
    workdir: Path
    env: dict

    def run_cli(self, module: str, *args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess:
        """Run ``python -m <module> ...`` (an mts-* CLI) against this server."""
        return subprocess.run(
            [sys.executable, "-m", module, *args, "--url", self.url, "--certs-dir", str(self.certs)],
            input=stdin, capture_output=True, env=self.env, cwd=self.workdir, timeout=120,
        )


@pytest.fixture(scope="session")
def live_server(tmp_path_factory) -> LiveServer:
    workdir = tmp_path_factory.mktemp("mts-live")
    certs = create_dev_pki(workdir / "certs").directory
    env = child_env(os.environ)
    subprocess.run([sys.executable, "-m", "mts_service", "db", "upgrade", "--database", str(workdir / "mts.db")],
                   check=True, env=env, cwd=workdir, capture_output=True, timeout=120)
    with running_server(workdir, tls=True, env=env, startup_timeout=90, transcript=Transcript(io.StringIO())) as url:
        from shop_client import AdminClient

        AdminClient.connect(url, certs_dir=certs).set_policy(DEMO_POLICY)
        yield LiveServer(url, certs, workdir, env)

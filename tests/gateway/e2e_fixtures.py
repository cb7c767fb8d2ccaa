"""The REAL pieces for the gateway end-to-end tests: the MTS and the bridge as processes.

* ``MtsServer``: ``mts-service serve`` (gunicorn, TLS, WS-Security on) with a dev PKI and a
  SQLite database in a temp dir, on a port fixed for its lifetime, so that it can be
  stopped and started again (an outage) at the address the bridge keeps calling.
* ``BridgeProcess``: ``mts-gateway bridge`` as Kannel's sms-service, signing with the
  gateway certificate over TLS (``--url https://... --certs-dir ...``), its sendsms
  password from ``$MTS_SENDSMS_PASSWORD``, on the port the Kannel config points at.

Both run in their own session and are stopped by PID (SIGTERM, then SIGKILL of that
session only). Polling is bounded: a step that never happens fails with a message, and
no test asserts on a duration.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

import requests

from gateway_client import GatewayClient
from gateway_client.spool import Spool, SpoolEntry
from mts_service.cli.demo import child_env, free_port
from mts_service.clock import SystemClock
from mts_service.pki import create_dev_pki
from shop_client import AdminClient, ShopClient

from gw_kannel import SENDSMS_PASSWORD, SENDSMS_USER, KannelHarness

SERVICE_NUMBER = "7575"
CURRENCY = "MAD"
CODE_LENGTH = 8
# The code alphabet is Crockford's base32 (no I, L, O, U).
CODE_PATTERN = rf"\b[0-9A-HJKMNP-TV-Z]{{{CODE_LENGTH}}}\b"

BASE_POLICY: dict[str, Any] = {
    "mode": "ADVANCE",
    "currency": CURRENCY,
    "premium_numbers": [
        # Kannel's fake SMSC is called "fake": that is the operator the bridge reports (%i).
        {"number": SERVICE_NUMBER, "price_minor": 500, "net_minor": 300,
         "keywords": ["PAY", "PAYE"], "operators": ["fake"]},
    ],
    "advance_sms": 1,
    "flows": ["CODE", "USERNAME", "REGISTERED"],
    "codes": {"length": CODE_LENGTH},
    "default_language": "fr",
}


def wait_until(predicate: Callable[[], Any], *, timeout: float, message: str, interval: float = 0.2) -> Any:
    """Poll ``predicate`` until it returns something truthy; AssertionError after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out waiting for {message}")
        time.sleep(interval)


def _stop_session(process: subprocess.Popen[bytes], *, sig: int = signal.SIGTERM, timeout: float = 20.0) -> None:
    """Stop a child started with ``start_new_session=True``: ``sig``, then SIGKILL to its
    own process group (the child and what it spawned, e.g. gunicorn's workers)."""
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(process.pid, signal.SIGKILL)  # leftovers of that session only
    except (ProcessLookupError, PermissionError):
        pass
    if process.poll() is None:
        process.wait(timeout=10)


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


class MtsServer:
    """``mts-service serve`` with TLS and WS-Security, restartable on the same port."""

    def __init__(self, workdir: Path, *, workers: int = 2) -> None:
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.certs = create_dev_pki(self.workdir / "certs").directory
        self.database = self.workdir / "mts.db"
        self.port = free_port()
        self.url = f"https://127.0.0.1:{self.port}"
        self.workers = workers
        self.env = child_env(os.environ)
        self.log = self.workdir / "serve.log"
        self._process: subprocess.Popen[bytes] | None = None
        subprocess.run(
            [sys.executable, "-m", "mts_service", "db", "upgrade", "--database", str(self.database)],
            check=True, env=self.env, cwd=self.workdir, capture_output=True, timeout=120,
        )

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self, *, timeout: float = 90.0) -> MtsServer:
        if self.running:
            return self
        command = [sys.executable, "-m", "mts_service", "serve", "--bind", f"127.0.0.1:{self.port}",
                   "--workers", str(self.workers), "--database", str(self.database), "--certs", str(self.certs)]
        with open(self.log, "ab") as log:
            self._process = subprocess.Popen(command, cwd=self.workdir, env=self.env, stdout=log,
                                             stderr=subprocess.STDOUT, start_new_session=True)
        session = requests.Session()
        session.trust_env = False
        session.verify = str(self.certs / "ca.pem")

        def healthy() -> bool:
            assert self._process is not None
            if self._process.poll() is not None:
                raise AssertionError(f"mts-service serve exited with {self._process.returncode}:\n{_tail(self.log)}")
            try:
                return session.get(f"{self.url}/healthz", timeout=2).status_code == 200
            except requests.RequestException:
                return False

        wait_until(healthy, timeout=timeout, message=f"the MTS at {self.url}:\n{_tail(self.log)}", interval=0.25)
        return self

    def stop(self) -> None:
        if self._process is not None:
            _stop_session(self._process)
            self._process = None

    # -- the other parties, through the real signed clients ---------------------------------
    def admin(self) -> AdminClient:
        return AdminClient.connect(self.url, certs_dir=self.certs)

    def shop(self) -> ShopClient:
        return ShopClient.connect(self.url, certs_dir=self.certs)

    def gateway(self) -> GatewayClient:
        return GatewayClient.connect(self.url, certs_dir=self.certs)

    def set_policy(self, **overrides: Any) -> None:
        self.admin().set_policy({**BASE_POLICY, **overrides})


def mts_gateway_command() -> list[str]:
    """The installed ``mts-gateway`` console script, else the same entry point as a module."""
    script = Path(sys.executable).with_name("mts-gateway")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "gateway_client.cli"]


class BridgeProcess:
    """``mts-gateway bridge`` wired to a real MTS and to the Kannel harness."""

    def __init__(self, kannel: KannelHarness, mts: MtsServer, spool_path: Path, log: Path,
                 *, configure_by_env: bool = False) -> None:
        """``configure_by_env``: every setting from the environment (``MTS_URL``,
        ``MTS_CERTS_DIR``, ``MTS_BRIDGE_*``, ``MTS_SENDSMS_*``), as a service unit would run
        it; else from options (the sendsms password always from the environment)."""
        self.kannel = kannel
        self.mts = mts
        self.spool_path = Path(spool_path)
        self.log = Path(log)
        self.configure_by_env = configure_by_env
        settings = {
            "MTS_BRIDGE_HOST": "127.0.0.1", "MTS_BRIDGE_PORT": str(kannel.bridge_port),
            "MTS_BRIDGE_SPOOL": str(self.spool_path), "MTS_SENDSMS_URL": kannel.sendsms_url,
            "MTS_SENDSMS_USER": SENDSMS_USER, "MTS_URL": mts.url, "MTS_CERTS_DIR": str(mts.certs),
            "MTS_TIMEOUT": "5",
        }
        tuning = ["--sync-timeout", "3", "--poll-interval", "0.2", "--base-delay", "0.5", "--max-delay", "3"]
        self.env = {**child_env(os.environ), "MTS_SENDSMS_PASSWORD": SENDSMS_PASSWORD}
        if configure_by_env:
            self.argv = [*mts_gateway_command(), "bridge", *tuning]
            self.env.update(settings)
        else:
            self.argv = [
                *mts_gateway_command(), "bridge",
                "--host", "127.0.0.1", "--port", str(kannel.bridge_port),
                "--spool", str(self.spool_path),
                "--sendsms-url", kannel.sendsms_url, "--sendsms-user", SENDSMS_USER,
                "--url", mts.url, "--certs-dir", str(mts.certs), "--timeout", "5", *tuning,
            ]
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def start(self, *, timeout: float = 60.0) -> BridgeProcess:
        with open(self.log, "ab") as log:
            self._process = subprocess.Popen(self.argv, cwd=self.mts.workdir, env=self.env, stdout=log,
                                             stderr=subprocess.STDOUT, start_new_session=True)
        session = requests.Session()
        session.trust_env = False

        def healthy() -> bool:
            assert self._process is not None
            if self._process.poll() is not None:
                raise AssertionError(f"mts-gateway bridge exited with {self._process.returncode}:\n{_tail(self.log)}")
            try:
                return session.get(f"http://127.0.0.1:{self.kannel.bridge_port}/health", timeout=2).status_code == 200
            except requests.RequestException:
                return False

        wait_until(healthy, timeout=timeout, message=f"the bridge:\n{_tail(self.log)}")
        return self

    def kill(self) -> None:
        """kill -9: no chance to finish anything or close the spool."""
        assert self._process is not None
        os.kill(self._process.pid, signal.SIGKILL)
        self._process.wait(timeout=10)
        self._process = None

    def stop(self) -> None:
        if self._process is not None:
            _stop_session(self._process, timeout=15)
            self._process = None

    # -- what it holds -------------------------------------------------------------------------
    def spool_counts(self) -> dict[str, int]:
        if not self.spool_path.exists():
            return {}
        spool = Spool(self.spool_path, clock=SystemClock())
        try:
            return spool.counts()
        finally:
            spool.close()

    def spool_entries(self) -> list[SpoolEntry]:
        spool = Spool(self.spool_path, clock=SystemClock())
        try:
            return list(spool.entries())
        finally:
            spool.close()

    def spool_cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        """``mts-gateway spool --spool <file> ...``, as an operator would run it."""
        where = [] if self.configure_by_env else ["--spool", str(self.spool_path)]
        return subprocess.run([*mts_gateway_command(), "spool", *where, *args],
                              capture_output=True, text=True, env=self.env, timeout=120)

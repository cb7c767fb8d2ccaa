"""Helpers of the end-to-end tests: start ``mts-service serve`` as a real process, build and
sign requests as a client would, post them raw and verify the signed answer.

Requests are built by zeep from the checked-in wsdl/ files (``create_message``, no network)
and signed with ``sign_envelope``, so each test controls every byte that goes on the wire.
"""

from __future__ import annotations

import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

import requests
from lxml import etree
from zeep import Client

from mts_service.clock import Clock, SystemClock
from mts_service.pki import load_certificate, load_private_key
from mts_service.wssec import ns
from mts_service.wssec.replay import InMemoryReplayCache
from mts_service.wssec.sign import sign_envelope
from mts_service.wssec.trust import TrustStore
from mts_service.wssec.verify import VerifiedMessage, verify_envelope

ROOT = Path(__file__).resolve().parents[2]
WSDL_DIR = ROOT / "wsdl"
FAULT_NS = "urn:mts:fault:v1"
PREMIUM = "7575"
POLICY = {
    "mode": "ADVANCE",
    "currency": "MAD",
    "premium_numbers": [{"number": PREMIUM, "price_minor": 500, "net_minor": 300, "keywords": ["PAY"],
                         "operators": ["E2E"]}],
    "advance_sms": 1,
    "flows": ["CODE", "USERNAME", "REGISTERED"],
    "codes": {"length": 8},
    "default_language": "fr",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MTS_") and k != "PROMETHEUS_MULTIPROC_DIR"}
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def mts(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mts_service", *args], cwd=cwd, env=child_env(),
                          capture_output=True, text=True, timeout=180)


@dataclass(frozen=True)
class Server:
    url: str
    certs: Path
    process: subprocess.Popen
    log: Path

    @property
    def tls(self) -> bool:
        return self.url.startswith("https")

    def session(self, *, cert: str | None = "gateway") -> requests.Session:
        session = requests.Session()
        session.trust_env = False  # a local server: no proxy, no REQUESTS_CA_BUNDLE
        if self.tls:
            session.verify = str(self.certs / "ca.pem")
            if cert:
                session.cert = (str(self.certs / f"{cert}.pem"), str(self.certs / f"{cert}.key"))
        return session


@contextmanager
def serve(workdir: Path, certs: Path, database: str, *, tls: bool = True, mtls: bool = False, workers: int = 1,
          worker_class: str | None = None, timeout: float = 90) -> Iterator[Server]:
    """``mts-service serve`` on a free port; stopped (SIGTERM to its own session) on exit."""
    port = free_port()
    command = [sys.executable, "-m", "mts_service", "serve", "--bind", f"127.0.0.1:{port}",
               "--workers", str(workers), "--database", database, "--certs", str(certs), "--log-level", "warning"]
    command += ["--mtls"] if mtls else [] if tls else ["--no-tls"]
    if worker_class:
        command += ["--worker-class", worker_class]
    log = workdir / f"serve-{port}.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(command, cwd=workdir, env=child_env(), stdout=out, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    server = Server(f"{'https' if tls else 'http'}://127.0.0.1:{port}", certs, process, log)
    try:
        _wait_healthy(server, timeout)
        yield server
    finally:
        _stop(process)


def _wait_healthy(server: Server, timeout: float) -> None:
    session = server.session(cert="admin")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"server exited {server.process.returncode}: {server.log.read_text(errors='replace')}")
        try:
            if session.get(f"{server.url}/healthz", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"no /healthz within {timeout}s: {server.log.read_text(errors='replace')[-2000:]}")


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)  # the session we started: serve and its gunicorn
            process.wait(timeout=10)


# -- requests --------------------------------------------------------------------------------

_clients: dict[str, Client] = {}


def unsigned_request(service: str, operation: str, **kwargs: Any) -> etree._Element:
    """The SOAP 1.1 envelope zeep would send for ``operation`` (built from wsdl/, not sent)."""
    client = _clients.get(service)
    if client is None:
        client = _clients[service] = Client(str(WSDL_DIR / f"{service}.wsdl"))
    return client.create_message(client.service, operation, **kwargs)


def sign(envelope: etree._Element, certs: Path, role: str, *, clock: Clock | None = None) -> bytes:
    sign_envelope(envelope, key=load_private_key(certs / f"{role}.key"), cert=load_certificate(certs / f"{role}.pem"),
                  clock=clock or SystemClock())
    return etree.tostring(envelope, xml_declaration=True, encoding="utf-8")


def sms_request(message_id: str, sender: str, text: str = "PAY") -> etree._Element:
    return unsigned_request("gateway", "SubmitSms", message={
        "messageId": message_id, "channel": "SMS", "sender": sender, "serviceNumber": PREMIUM, "text": text,
        "receivedAt": datetime.now(timezone.utc), "operator": "E2E"})


@dataclass(frozen=True)
class Answer:
    status: int
    verified: VerifiedMessage
    """The answer's signature, checked against the CA with the ``server`` role."""
    raw: bytes = b""
    """The answer's bytes as they came off the wire."""

    @property
    def fault(self) -> tuple[str, str] | None:
        """(faultcode, detail code), or None for a normal answer."""
        fault = self.verified.body.find(ns.FAULT_TAG)
        if fault is None:
            return None
        return fault.findtext("faultcode"), fault.findtext(f"detail/{{{FAULT_NS}}}FaultDetail/{{{FAULT_NS}}}code")

    def find(self, local_name: str) -> str | None:
        for node in self.verified.body.iter():
            if isinstance(node.tag, str) and etree.QName(node).localname == local_name:
                return node.text
        return None


def post(server: Server, path: str, payload: bytes, *, session: requests.Session | None = None,
         headers: dict[str, str] | None = None) -> Answer:
    """POST raw bytes; the answer must be signed by the server's certificate, whatever it says."""
    session = session or server.session()
    response = session.post(f"{server.url}{path}", data=payload, timeout=60,
                            headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""', **(headers or {})})
    trust = TrustStore.from_pem_files(server.certs / "ca.pem", purpose="server")
    verified = verify_envelope(response.content, trust=trust, clock=SystemClock(),
                               replay=InMemoryReplayCache(), expected_role="server")
    return Answer(response.status_code, verified, response.content)


def tls_handshake(server: Server, *, cert: str | None) -> ssl.SSLSocket:
    """Open a TLS connection as a client with or without a certificate; raises on a refused handshake."""
    context = ssl.create_default_context(cafile=str(server.certs / "ca.pem"))
    if cert:
        context.load_cert_chain(str(server.certs / f"{cert}.pem"), str(server.certs / f"{cert}.key"))
    host, port = server.url.split("://")[1].split(":")
    raw = socket.create_connection((host, int(port)), timeout=10)
    tls = context.wrap_socket(raw, server_hostname=host)
    # TLS 1.3: the server checks the client certificate after the client's handshake ends,
    # so the refusal shows on the first read.
    tls.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    data = tls.recv(1024)
    if not data:
        raise ssl.SSLError("connection closed without an answer")
    return tls


def set_policy(url: str, certs: Path) -> None:
    """The demo policy, set through the signed admin client."""
    from shop_client import AdminClient

    AdminClient.connect(url, certs_dir=certs).set_policy(POLICY)

"""Signed MTS operations against a bare Spyne echo, same gunicorn settings, one run (not a test).

Run::

    python bench/signed_bench.py [--requests 1500] [--clients 4] [--workers 2] [--key-type rsa|ec]
                                 [--modes http,tls] [--profile 300]

For each mode it starts (a) ``bench/echo_app.py`` under gunicorn and (b) ``mts-service
serve`` (temporary dev PKI, temporary SQLite file, WS-Security on) with the same gunicorn
command line (bind, workers, worker class, threads, TLS files):

- ``http``: plain HTTP, sync workers (message security only, as behind a TLS-terminating
  load balancer): the headline ratio;
- ``tls``: TLS on both, gthread workers (keep-alive, one handshake per client connection).

Load: ``--clients`` processes, each on one keep-alive ``http.client`` connection (the
sync worker closes after each answer and the client reconnects), send pre-built request
bytes and time each answer. Every signed request is distinct and signed *before* the
clock starts (the replay cache refuses repeats; timestamps stay valid for 5 minutes), and
only non-fault answers count. The operations chain so that each one does real work:
SubmitSms from unknown numbers (flow 1: a code each) → RedeemCode of those codes for one
customer (an advance each) → PlaceOrder consuming those advances.

``--profile N`` also runs N signed SubmitSms through the MTS WSGI stack in this process
under cProfile and prints where the time goes (XML, crypto, database, Spyne).
"""

from __future__ import annotations

import argparse
import cProfile
import http.client
import io
import multiprocessing as mp
import os
import pstats
import re
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

ROOT = Path(__file__).resolve().parents[1]
BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(BENCH))

from lxml import etree  # noqa: E402

from echo_app import echo_request  # noqa: E402
from mts_service.clock import SystemClock  # noqa: E402
from mts_service.pki import create_dev_pki, load_certificate, load_private_key  # noqa: E402
from mts_service.wssec.sign import sign_envelope  # noqa: E402

PREMIUM = "7575"
POLICY = {
    "mode": "ADVANCE", "currency": "MAD",
    "premium_numbers": [{"number": PREMIUM, "price_minor": 500, "net_minor": 300, "keywords": ["PAY"],
                         "operators": ["BENCH"]}],
    "advance_sms": 1, "flows": ["CODE", "USERNAME", "REGISTERED"], "codes": {"length": 8}, "default_language": "fr",
}
CUSTOMER = "bench-customer"
CODE = re.compile(rb"<[^>]*replyText>[^<]*?\b([0-9A-HJKMNP-TV-Z]{8})\b")


# -- servers -----------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MTS_") and k != "PROMETHEUS_MULTIPROC_DIR"}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(BENCH)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    env.update(extra or {})
    return env


@dataclass(frozen=True)
class Mode:
    name: str
    tls: bool
    worker_class: str


def gunicorn_settings(mode: Mode, port: int, workers: int, threads: int, certs: Path) -> list[str]:
    """The one gunicorn command line both servers get (echo: directly; MTS: through serve)."""
    args = ["--bind", f"127.0.0.1:{port}", "--workers", str(workers), "--worker-class", mode.worker_class,
            "--log-level", "warning"]
    if mode.worker_class == "gthread":
        args += ["--threads", str(threads)]
    if mode.tls:
        args += ["--certfile", str(certs / "server.pem"), "--keyfile", str(certs / "server.key")]
    return args


@contextmanager
def running(command: list[str], url: str, certs: Path, log: Path, env: dict[str, str]) -> Iterator[str]:
    with open(log, "wb") as out:
        process = subprocess.Popen(command, cwd=log.parent, env=env, stdout=out, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"server exited: {log.read_text(errors='replace')[-3000:]}")
            try:
                if request_once(url, "GET", "/healthz", b"", certs)[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"server not healthy: {log.read_text(errors='replace')[-3000:]}")
            time.sleep(0.2)
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)  # the session we started
            process.wait()


def connection(url: str, certs: Path) -> http.client.HTTPConnection:
    host, port = url.split("://")[1].split(":")
    if url.startswith("https"):
        context = ssl.create_default_context(cafile=str(certs / "ca.pem"))
        return http.client.HTTPSConnection(host, int(port), context=context, timeout=60)
    return http.client.HTTPConnection(host, int(port), timeout=60)


def request_once(url: str, method: str, path: str, body: bytes, certs: Path) -> tuple[int, bytes]:
    conn = connection(url, certs)
    try:
        conn.request(method, path, body=body or None, headers=HEADERS if body else {})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


HEADERS = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'}


# -- load generator -------------------------------------------------------------------------------

def _client(url: str, certs: Path, path: str, payloads: list[bytes], keep: bool, start, out) -> None:  # noqa: ANN001
    conn = connection(url, certs)
    results = []
    start.wait()
    for payload in payloads:
        t0 = time.perf_counter()
        try:
            conn.request("POST", path, body=payload, headers=HEADERS)
            response = conn.getresponse()
            body = response.read()
            status = response.status
        except (OSError, http.client.HTTPException):
            conn.close()
            conn = connection(url, certs)
            status, body = 0, b""
        results.append((time.perf_counter() - t0, status, body if keep else b""))
    conn.close()
    out.put(results)


@dataclass
class Figures:
    ok: int
    sent: int
    seconds: float
    latencies: list[float]
    bodies: list[bytes]

    @property
    def rps(self) -> float:
        return self.ok / self.seconds

    def pct(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else float("nan")


def drive(url: str, certs: Path, path: str, payloads: list[bytes], clients: int, *, keep: bool = False) -> Figures:
    ctx = mp.get_context("fork")
    start, out = ctx.Event(), ctx.Queue()
    slices = [payloads[i::clients] for i in range(clients)]
    procs = [ctx.Process(target=_client, args=(url, certs, path, s, keep, start, out)) for s in slices]
    for p in procs:
        p.start()
    time.sleep(0.5)  # every client connected... or about to
    t0 = time.perf_counter()
    start.set()
    results = [r for _ in procs for r in out.get()]
    seconds = time.perf_counter() - t0
    for p in procs:
        p.join()
    ok = [r for r in results if r[1] == 200]
    return Figures(len(ok), len(results), seconds, [r[0] for r in ok], [r[2] for r in ok])


# -- signed requests ------------------------------------------------------------------------------

class Requests:
    """Envelopes from wsdl/ (zeep, no network), signed with a role's key; each one distinct."""

    def __init__(self, certs: Path) -> None:
        from zeep import Client

        self.certs = certs
        self.clock = SystemClock()
        self._clients = {s: Client(str(ROOT / "wsdl" / f"{s}.wsdl")) for s in ("gateway", "shop", "admin")}
        self._keys = {r: (load_private_key(certs / f"{r}.key"), load_certificate(certs / f"{r}.pem"))
                      for r in ("gateway", "shop", "admin")}

    def template(self, service: str, operation: str, **kwargs) -> bytes:  # noqa: ANN003
        client = self._clients[service]
        return etree.tostring(client.create_message(client.service, operation, **kwargs))

    def signed(self, role: str, template: bytes, **fill: str) -> bytes:
        for placeholder, value in fill.items():
            template = template.replace(placeholder.encode(), value.encode())
        key, cert = self._keys[role]
        envelope = sign_envelope(etree.fromstring(template), key=key, cert=cert, clock=self.clock)
        return etree.tostring(envelope, xml_declaration=True, encoding="utf-8")

    def submit_sms(self, n: int) -> list[bytes]:
        template = self.template("gateway", "SubmitSms", message={
            "messageId": "MID", "channel": "SMS", "sender": "+212600000000", "serviceNumber": PREMIUM, "text": "PAY",
            "receivedAt": datetime.now(timezone.utc), "operator": "BENCH"})
        base = uuid.uuid4().int % 10**6
        return [self.signed("gateway", template, MID=f"bench-{uuid.uuid4().hex[:16]}",
                            **{"+212600000000": f"+2126{(base * 1000 + i) % 10**8:08d}"}) for i in range(n)]

    def redeem(self, codes: list[str]) -> list[bytes]:
        template = self.template("shop", "RedeemCode", customerRef=CUSTOMER, code="CODEXXXX")
        return [self.signed("shop", template, CODEXXXX=code) for code in codes]

    def place_order(self, n: int) -> list[bytes]:
        template = self.template("shop", "PlaceOrder", orderId="ORDERID", customerRef=CUSTOMER,
                                 total={"amountMinor": 10000, "currency": "MAD"}, deliveryMode="HOME")
        return [self.signed("shop", template, ORDERID=f"o-{uuid.uuid4().hex[:16]}") for _ in range(n)]

    def register_customer(self) -> bytes:
        return self.signed("shop", self.template("shop", "RegisterCustomer", customerRef=CUSTOMER, language="fr"))


# -- the run ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Row:
    mode: str
    operation: str
    figures: Figures
    echo: Figures


def run_mode(mode: Mode, args: argparse.Namespace, work: Path, certs: Path) -> list[Row]:
    echo_port, mts_port = free_port(), free_port()
    scheme = "https" if mode.tls else "http"

    # (a) the bare echo, payload about the size of a signed request
    echo_cmd = [sys.executable, "-m", "gunicorn", *gunicorn_settings(mode, echo_port, args.workers, args.threads, certs),
                "echo_app:application"]
    echo_payloads = [echo_request("x" * 3300 + f"{i:08d}") for i in range(args.requests)]
    with running(echo_cmd, f"{scheme}://127.0.0.1:{echo_port}", certs, work / f"echo-{mode.name}.log", child_env()) as url:
        drive(url, certs, "/echo", echo_payloads[: args.clients * 20], args.clients)  # warm-up
        echo = drive(url, certs, "/echo", echo_payloads, args.clients)

    # (b) the MTS: same gunicorn settings, through `mts-service serve`
    database = work / f"mts-{mode.name}.db"
    subprocess.run([sys.executable, "-m", "mts_service", "db", "upgrade", "--database", str(database)],
                   cwd=work, env=child_env(), check=True, capture_output=True)
    serve_cmd = [sys.executable, "-m", "mts_service", "serve", "--bind", f"127.0.0.1:{mts_port}",
                 "--workers", str(args.workers), "--worker-class", mode.worker_class, "--threads", str(args.threads),
                 "--database", str(database), "--certs", str(certs), "--log-level", "warning"]
    if not mode.tls:
        serve_cmd.append("--no-tls")
    # The command serve hands gunicorn carries the same settings as echo_cmd (checked here).
    dry = subprocess.run(serve_cmd + ["--dry-run"], cwd=work, env=child_env(), capture_output=True, text=True).stdout
    for setting in gunicorn_settings(mode, mts_port, args.workers, args.threads, certs):
        assert setting in dry.split(), (setting, dry)
    rows = []
    env = child_env({"MTS_LOG_LEVEL": args.mts_log_level})
    with running(serve_cmd, f"{scheme}://127.0.0.1:{mts_port}", certs, work / f"mts-{mode.name}.log", env) as url:
        factory = Requests(certs)
        policy = factory.signed("admin", factory.template("admin", "SetPolicy", policy=_wire_policy()))
        for path, payload in (("/admin", policy), ("/shop", factory.register_customer())):
            status, body = request_once(url, "POST", path, payload, certs)
            assert status == 200, body[:2000]
        drive(url, certs, "/gateway", factory.submit_sms(args.clients * 20), args.clients)  # warm-up

        sms = drive(url, certs, "/gateway", factory.submit_sms(args.requests), args.clients, keep=True)
        rows.append(Row(mode.name, "SubmitSms", sms, echo))
        codes = [m.group(1).decode() for m in (CODE.search(b) for b in sms.bodies) if m]
        redeem = drive(url, certs, "/shop", factory.redeem(codes), args.clients)
        rows.append(Row(mode.name, "RedeemCode", redeem, echo))
        orders = drive(url, certs, "/shop", factory.place_order(redeem.ok), args.clients)
        rows.append(Row(mode.name, "PlaceOrder", orders, echo))
    rows.append(Row(mode.name, "echo (bare Spyne)", echo, echo))
    return rows


def _wire_policy() -> dict:
    from shop_client.admin import policy_to_wire

    return policy_to_wire(POLICY)


def print_table(rows: list[Row], args: argparse.Namespace) -> None:
    print(f"\nsigned MTS vs bare Spyne echo — {args.workers} workers, {args.clients} client processes, "
          f"{args.requests} requests per operation, {args.key_type.upper()} keys, {os.cpu_count()} CPUs")
    header = f"{'mode':<5} {'operation':<18} {'ok/sent':>11} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'ratio':>6}"
    print(header)
    print("-" * len(header))
    for row in rows:
        f = row.figures
        print(f"{row.mode:<5} {row.operation:<18} {f'{f.ok}/{f.sent}':>11} {f.rps:8.0f} {f.pct(0.50):8.2f} "
              f"{f.pct(0.99):8.2f} {f.rps / row.echo.rps:6.2f}")
    print("mode http: plain HTTP, sync workers (headline). mode tls: TLS, gthread keep-alive workers.")


# -- in-process profile -----------------------------------------------------------------------------

def profile(n: int, work: Path, certs: Path, *, spyne_gc: bool = False) -> None:
    """N signed SubmitSms through the MTS WSGI stack (security middleware, Spyne, SQLite) under cProfile."""
    database = work / "profile.db"
    subprocess.run([sys.executable, "-m", "mts_service", "db", "upgrade", "--database", str(database)],
                   cwd=work, env=child_env(), check=True, capture_output=True)
    os.environ.update({"MTS_DATABASE_URL": f"sqlite+pysqlite:///{database}", "MTS_CERTS_DIR": str(certs),
                       "MTS_LOG_LEVEL": "WARNING"})
    from mts_service.services.keys import load_or_create_secret
    from mts_service.soap.wsgi import build_application

    load_or_create_secret(certs / "mts-secret.hex")
    app = build_application(os.environ)
    if spyne_gc:  # "before": Spyne's forced gc.collect() once a second, as it ships
        import spyne.const

        spyne.const.MIN_GC_INTERVAL = 1.0
    factory = Requests(certs)

    def call(path: str, payload: bytes) -> tuple[str, bytes]:
        seen = {}

        def start_response(status, headers, exc_info=None):  # noqa: ANN001
            seen["status"] = status

        environ = {"REQUEST_METHOD": "POST", "PATH_INFO": path, "CONTENT_LENGTH": str(len(payload)),
                   "CONTENT_TYPE": "text/xml", "wsgi.input": io.BytesIO(payload), "SERVER_NAME": "x",
                   "SERVER_PORT": "80", "wsgi.url_scheme": "http", "REMOTE_ADDR": "127.0.0.1", "HTTP_SOAPACTION": '""'}
        body = b"".join(app(environ, start_response))
        return seen["status"], body

    assert call("/admin", factory.signed("admin", factory.template("admin", "SetPolicy", policy=_wire_policy())))[0][:3] == "200"
    for payload in factory.submit_sms(20):
        call("/gateway", payload)
    payloads = factory.submit_sms(n)
    t0 = time.perf_counter()
    for payload in payloads[: n // 2]:
        call("/gateway", payload)
    print(f"\nin-process signed SubmitSms, no profiler: {(time.perf_counter() - t0) / (n // 2) * 1000:.2f} ms per request")
    payloads = payloads[n // 2:]
    n = len(payloads)
    profiler = cProfile.Profile()
    t0 = time.perf_counter()
    profiler.enable()
    statuses = [call("/gateway", p)[0][:3] for p in payloads]
    profiler.disable()
    elapsed = time.perf_counter() - t0
    assert statuses.count("200") == n, statuses[:5]
    print(f"\nin-process signed SubmitSms: {elapsed / n * 1000:.2f} ms per request (under cProfile, {n} requests)")
    stats = pstats.Stats(profiler)
    parts = [  # (label, file suffix, function): cumulative time of each, per request
        ("middleware total", "soap/security.py", "__call__"),
        ("  verify_envelope", "wssec/verify.py", "verify_envelope"),
        ("    signxml verify", "signxml/verifier.py", "verify"),
        ("    replay cache (DB)", "persistence/replay_cache.py", "remember"),
        ("  Spyne + service (inner app)", "soap/security.py", "_call_inner"),
        ("    service transaction (DB)", "services/unit_of_work.py", "run_in_transaction"),
        ("  sign response (parse+sign)", "soap/security.py", "_sign_bytes"),
        ("    RSA/EC private-key op", "", "sign' of '"),
        ("  gc.collect (Spyne)", "", "gc.collect"),
    ]
    for label, suffix, func in parts:
        seconds = sum(ct for (filename, _, name), (_, _, _, ct, _) in stats.stats.items()
                      if (filename.endswith(suffix) and name == func) or (not suffix and func in name))
        print(f"  {label:<32} {seconds / n * 1000:6.2f} ms")
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(18)
    print(out.getvalue())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=1500, help="requests per operation (default 1500)")
    parser.add_argument("--clients", type=int, default=4, help="client processes (default 4)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers, both servers (default 2)")
    parser.add_argument("--threads", type=int, default=4, help="threads per gthread worker (tls mode)")
    parser.add_argument("--key-type", choices=("rsa", "ec"), default="rsa")
    parser.add_argument("--modes", default="http,tls")
    parser.add_argument("--mts-log-level", default="INFO", help="MTS_LOG_LEVEL of the MTS workers (default INFO)")
    parser.add_argument("--profile", type=int, default=0, metavar="N", help="also profile N requests in-process")
    args = parser.parse_args(argv)
    modes = {"http": Mode("http", False, "sync"), "tls": Mode("tls", True, "gthread")}
    work = Path(tempfile.mkdtemp(prefix="mts-bench-"))
    try:
        certs = create_dev_pki(work / "certs", key_type=args.key_type).directory
        rows = []
        for name in args.modes.split(","):
            rows += run_mode(modes[name], args, work, certs)
        print_table(rows, args)
        if args.profile:
            profile(args.profile, work, certs)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""``mts-service bench``: signed MTS operations beside a bare Spyne echo, one run, one machine.

For each mode both servers get the same gunicorn settings (bind, workers, worker class,
threads, TLS files): (a) the echo (``mts_service.benchmark.echo``), (b) ``mts-service
serve`` with WS-Security on, a temporary dev PKI (RSA-2048 or ECDSA P-256) and a fresh
database (a temporary SQLite file unless ``--database`` names one).

- ``http`` (headline): plain HTTP, sync workers: message-level security only, as behind
  a TLS-terminating load balancer;
- ``tls``: TLS on both, gthread workers (keep-alive: one handshake per connection).

Both servers run side by side. Each operation runs in slices (3 by default) with an echo
slice of the same size before each and after the last (echo, op, echo, op, echo, op, echo),
and its ratio is to the echo slices around it: a shared host's speed drifts by tens of per
cent within minutes, and this way the drift moves both sides of each ratio alike.

Every MTS request is distinct and signed before its phase starts; the operations do real
work and feed each other: SubmitSms from distinct unknown numbers (flow 1: one advance
code each) → RedeemCode of those codes, spread over ``customers`` registered customers →
PlaceOrder on those customers, each consuming one of their advances. Only non-fault
answers count; the fault count is printed beside.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator, Sequence

from mts_service.benchmark.cpu import tree_cpu_seconds
from mts_service.benchmark.echo import echo_request
from mts_service.benchmark.load import Call, Figures, drive, wrk_path

PREMIUM = "7575"
POLICY: dict[str, Any] = {
    "mode": "ADVANCE", "currency": "MAD",
    "premium_numbers": [{"number": PREMIUM, "price_minor": 500, "net_minor": 300, "keywords": ["PAY"],
                         "operators": ["BENCH"]}],
    "advance_sms": 1, "flows": ["CODE", "USERNAME", "REGISTERED"], "codes": {"length": 8}, "default_language": "fr",
}
CODE = re.compile(r"\b([0-9A-HJKMNP-TV-Z]{8})\b")
OPERATIONS = ("SubmitSms", "RedeemCode", "PlaceOrder")
MIN_SLICE = 500
ECHO = "Echo"


@dataclass(frozen=True)
class Mode:
    name: str
    tls: bool
    worker_class: str


MODES = {"http": Mode("http", False, "sync"), "tls": Mode("tls", True, "gthread")}


@dataclass(frozen=True)
class BenchConfig:
    key_type: str = "rsa"
    requests: int = 1000
    connections: int = 4
    workers: int = 2
    threads: int = 4
    modes: tuple[str, ...] = ("http", "tls")
    customers: int = 200
    slices: int = 3
    """Each operation runs in this many slices (of MIN_SLICE requests at least), each between
    two echo slices."""
    generator: str = "wrk"
    database: str | None = None
    mts_log_level: str = "WARNING"


# -- servers ------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MTS_") and k != "PROMETHEUS_MULTIPROC_DIR"}
    env.update(extra or {})
    return env


def gunicorn_settings(mode: Mode, port: int, config: BenchConfig, certs: Path) -> list[str]:
    """The gunicorn settings both servers get (echo: directly; MTS: through ``serve``)."""
    args = ["--bind", f"127.0.0.1:{port}", "--workers", str(config.workers), "--worker-class", mode.worker_class]
    if mode.worker_class == "gthread":
        args += ["--threads", str(config.threads)]
    if mode.tls:
        args += ["--certfile", str(certs / "server.pem"), "--keyfile", str(certs / "server.key")]
    return args


def _get(url: str, path: str) -> int:
    import http.client
    import ssl
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.scheme == "https":
        conn: http.client.HTTPConnection = http.client.HTTPSConnection(
            parts.hostname, parts.port, timeout=10, context=ssl._create_unverified_context())  # noqa: S323
    else:
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        conn.request("GET", path)
        return conn.getresponse().status
    finally:
        conn.close()


@dataclass(frozen=True)
class Server:
    url: str
    pid: int


@contextmanager
def running(command: list[str], url: str, log: Path, env: dict[str, str], cwd: Path) -> Iterator[Server]:
    with open(log, "wb") as out:
        process = subprocess.Popen(command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"server exited: {log.read_text(errors='replace')[-3000:]}")
            try:
                if _get(url, "/healthz") == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"server not healthy: {log.read_text(errors='replace')[-3000:]}")
            time.sleep(0.2)
        yield Server(url, process.pid)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)  # the session this function started
            process.wait()


# -- signed requests ----------------------------------------------------------------------------

class Requests:
    """SOAP envelopes from the services' own WSDLs (zeep, no network), signed with a role's key."""

    def __init__(self, certs: Path, work: Path) -> None:
        from zeep import Client

        from mts_service.clock import SystemClock
        from mts_service.pki import load_certificate, load_private_key
        from mts_service.soap.wsdl import render_all

        self.clock = SystemClock()
        self._clients = {}
        for name, document in render_all().items():
            path = work / f"{name}.wsdl"
            path.write_bytes(document)
            self._clients[name] = Client(str(path))
        self._keys = {r: (load_private_key(certs / f"{r}.key"), load_certificate(certs / f"{r}.pem"))
                      for r in ("gateway", "shop", "admin")}

    def template(self, service: str, operation: str, **kwargs: Any) -> bytes:
        from lxml import etree

        client = self._clients[service]
        return etree.tostring(client.create_message(client.service, operation, **kwargs))

    def signed(self, role: str, template: bytes, **fill: str) -> bytes:
        from lxml import etree

        from mts_service.wssec.sign import sign_envelope

        for placeholder, value in fill.items():
            template = template.replace(placeholder.encode(), value.encode())
        key, cert = self._keys[role]
        envelope = sign_envelope(etree.fromstring(template), key=key, cert=cert, clock=self.clock)
        return etree.tostring(envelope, xml_declaration=True, encoding="utf-8")

    def submit_sms(self, n: int) -> list[Call]:
        template = self.template("gateway", "SubmitSms", message={
            "messageId": "MSGIDXXX", "channel": "SMS", "sender": "+212600000000", "serviceNumber": PREMIUM,
            "text": "PAY", "receivedAt": datetime.now(timezone.utc), "operator": "BENCH"})
        base = uuid.uuid4().int % 10**5
        return [Call("/gateway", self.signed("gateway", template, MSGIDXXX=f"bench-{uuid.uuid4().hex[:16]}",
                                             **{"+212600000000": f"+2126{(base * 1000 + i) % 10**8:08d}"}))
                for i in range(n)]

    def redeem(self, codes: Sequence[str], customers: Sequence[str]) -> list[Call]:
        template = self.template("shop", "RedeemCode", customerRef="CUSTOMERREF", code="CODEXXXX")
        return [Call("/shop", self.signed("shop", template, CODEXXXX=code, CUSTOMERREF=customers[i % len(customers)]))
                for i, code in enumerate(codes)]

    def place_order(self, customers: Sequence[str]) -> list[Call]:
        template = self.template("shop", "PlaceOrder", orderId="ORDERIDXX", customerRef="CUSTOMERREF",
                                 total={"amountMinor": 10000, "currency": "MAD"}, deliveryMode="HOME")
        return [Call("/shop", self.signed("shop", template, ORDERIDXX=f"o-{uuid.uuid4().hex[:16]}",
                                          CUSTOMERREF=customer)) for customer in customers]

    def register_customer(self, ref: str) -> Call:
        return Call("/shop", self.signed("shop", self.template("shop", "RegisterCustomer", customerRef="CUSTOMERREF",
                                                               language="fr"), CUSTOMERREF=ref))

    def set_policy(self) -> Call:
        from shop_client.admin import policy_to_wire

        return Call("/admin", self.signed("admin", self.template("admin", "SetPolicy", policy=policy_to_wire(POLICY))))


# -- the run ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Result:
    mode: str
    operation: str
    figures: Figures
    echo_rps: float
    cpu_ms: float | None = None
    """CPU of the server's processes per request of the phase (None where /proc is absent)."""
    echo_cpu_ms: float | None = None

    def to_dict(self) -> dict[str, Any]:
        f = self.figures
        cpu_ratio = self.echo_cpu_ms / self.cpu_ms if self.cpu_ms and self.echo_cpu_ms else None
        return {"rps": round(f.rps, 1), "p50_ms": round(f.percentile_ms(0.50), 2),
                "p99_ms": round(f.percentile_ms(0.99), 2),
                "ratio_to_echo": round(f.rps / self.echo_rps, 3) if self.echo_rps else None,
                "ok": f.answered, "faults": f.faults, "timed": f.ok,
                "server_cpu_ms": round(self.cpu_ms, 3) if self.cpu_ms is not None else None,
                "cpu_ratio_to_echo": round(cpu_ratio, 3) if cpu_ratio is not None else None}


@dataclass(frozen=True)
class Measured:
    figures: Figures
    cpu_ms: float | None


def combined(slices: Sequence[Measured]) -> tuple[Figures, float | None]:
    """Slices of one phase as one: counts, timed seconds and latencies add up; the CPU per
    request is weighted by each slice's requests (None if any slice has no figure)."""
    figures = [m.figures for m in slices]
    sent = [m.figures.faults + m.figures.answered for m in slices]
    total = Figures(sum(f.ok for f in figures), sum(f.faults for f in figures), sum(f.seconds for f in figures),
                    [x for f in figures for x in f.latencies], [r for f in figures for r in f.replies],
                    total_ok=sum(f.answered for f in figures))
    if any(m.cpu_ms is None for m in slices) or not sum(sent):
        return total, None
    return total, sum(m.cpu_ms * k for m, k in zip(slices, sent)) / sum(sent)


def metered(server: Server, calls: Sequence[Call], run) -> Measured:  # noqa: ANN001
    """Run a phase, with the server's CPU milliseconds per call sent."""
    before = tree_cpu_seconds(server.pid)
    figures = run(calls)
    after = tree_cpu_seconds(server.pid)
    if before is None or after is None or not calls:
        return Measured(figures, None)
    return Measured(figures, (after - before) * 1000 / len(calls))


def _echo_calls(n: int, size: int) -> list[Call]:
    filler = max(0, size - 300)
    return [Call("/echo", echo_request("x" * filler + f"{i:08d}")) for i in range(n)]


def run_mode(mode: Mode, config: BenchConfig, work: Path, certs: Path, log=print) -> list[Result]:  # noqa: ANN001
    scheme = "https" if mode.tls else "http"
    echo_port, mts_port = free_port(), free_port()
    n, c = config.requests, config.connections
    py = sys.executable
    echo_cmd = [py, "-m", "gunicorn", *gunicorn_settings(mode, echo_port, config, certs), "--log-level", "warning",
                "mts_service.benchmark.echo:application"]
    database = config.database or f"sqlite+pysqlite:///{work / f'mts-{mode.name}.db'}"
    subprocess.run([py, "-m", "mts_service", "db", "upgrade", "--database", database],
                   cwd=work, env=child_env(), check=True, capture_output=True)
    serve_cmd = [py, "-m", "mts_service", "serve", "--bind", f"127.0.0.1:{mts_port}", "--workers", str(config.workers),
                 "--worker-class", mode.worker_class, "--threads", str(config.threads), "--database", database,
                 "--certs", str(certs), "--log-level", "warning"]
    if not mode.tls:
        serve_cmd.append("--no-tls")
    dry = subprocess.run(serve_cmd + ["--dry-run"], cwd=work, env=child_env(), capture_output=True, text=True).stdout
    for setting in gunicorn_settings(mode, mts_port, config, certs):
        if setting not in dry.split():
            raise RuntimeError(f"mts-service serve does not pass {setting!r} to gunicorn: {dry}")

    env = child_env({"MTS_LOG_LEVEL": config.mts_log_level})
    factory = Requests(certs, work)
    echo_slices: list[Measured] = []
    results: list[Result] = []
    with ExitStack() as stack:
        echo = stack.enter_context(running(echo_cmd, f"{scheme}://127.0.0.1:{echo_port}",
                                           work / f"echo-{mode.name}.log", child_env(), work))
        mts = stack.enter_context(running(serve_cmd, f"{scheme}://127.0.0.1:{mts_port}",
                                          work / f"mts-{mode.name}.log", env, work))
        customers = [f"bench-{uuid.uuid4().hex[:8]}-{i}" for i in range(max(1, min(config.customers, n)))]
        setup = drive(config.generator, mts.url, [factory.set_policy()], 1)
        if setup.answered != 1:
            raise RuntimeError(f"SetPolicy refused; see {work / f'mts-{mode.name}.log'}")
        setup = drive(config.generator, mts.url, [factory.register_customer(ref) for ref in customers], c)
        if setup.answered != len(customers):
            raise RuntimeError(f"{setup.faults} RegisterCustomer refused")
        sample = factory.submit_sms(c * 10)  # warm-up, and the payload size the echo copies
        drive(config.generator, mts.url, sample, c)
        echo_size = len(sample[0].body)
        drive(config.generator, echo.url, _echo_calls(c * 10, echo_size), c)  # warm-up

        def echo_slice(size: int) -> Measured:
            measured = metered(echo, _echo_calls(size, echo_size), lambda calls: drive(config.generator, echo.url, calls, c))
            echo_slices.append(measured)
            return measured

        def interleaved(operation: str, calls: list[Call], **kwargs: Any) -> Figures:
            """The operation in ``config.slices`` slices, an echo slice of the same size before
            each and after the last: its ratio is to those echo slices only, so a host whose
            speed drifts during the run moves both sides of each ratio alike."""
            # Slices of at least MIN_SLICE requests: a tiny wrk run has no steady-state window
            # and its figure is dominated by start-up and by the last connection's tail.
            slices = max(1, min(config.slices, len(calls) // MIN_SLICE))
            size = -(-len(calls) // slices)
            pieces = [calls[i:i + size] for i in range(0, len(calls), size)]
            mine: list[Measured] = []
            local = [echo_slice(len(pieces[0]))]
            for piece in pieces:
                mine.append(metered(mts, piece, lambda p: drive(config.generator, mts.url, p, c, **kwargs)))
                local.append(echo_slice(len(piece)))
            figures, cpu_ms = combined(mine)
            baseline, baseline_cpu = combined(local)
            results.append(Result(mode.name, operation, figures, baseline.rps, cpu_ms, baseline_cpu))
            log(f"  {mode.name} {operation}: {figures.rps:.0f} req/s ({figures.faults} faults); echo beside it: "
                f"{baseline.rps:.0f} req/s")
            return figures

        sms = interleaved("SubmitSms", factory.submit_sms(n), keep_replies=True)
        codes = [m.group(1) for m in map(CODE.search, sms.replies) if m]   # replies: the replyText only
        redeem = interleaved("RedeemCode", factory.redeem(codes, customers))
        # Each customer orders as many times as codes were redeemed for it: one advance per order.
        owners = [customers[i % len(customers)] for i in range(len(codes))][: redeem.answered]
        interleaved("PlaceOrder", factory.place_order(owners))
    # The Echo row: every echo slice pooled (an operation's ratio uses its own slices).
    echo_figures, echo_cpu = combined(echo_slices)
    results.append(Result(mode.name, ECHO, echo_figures, echo_figures.rps, echo_cpu, echo_cpu))
    return results


def run(config: BenchConfig, log=print) -> dict[str, Any]:  # noqa: ANN001
    from mts_service.pki import create_dev_pki

    if config.generator == "wrk" and wrk_path() is None:
        raise OSError("wrk is not installed (Debian: apt-get install wrk), or pass --generator python")
    work = Path(tempfile.mkdtemp(prefix="mts-bench-"))
    load_before = os.getloadavg()
    try:
        certs = create_dev_pki(work / "certs", key_type=config.key_type).directory
        rows: list[Result] = []
        for name in config.modes:
            log(f"mode {name}:")
            rows += run_mode(MODES[name], config, work, certs, log)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report: dict[str, Any] = {
        "key_type": config.key_type, "requests": config.requests, "connections": config.connections,
        "workers": config.workers, "customers": config.customers, "generator": config.generator,
        "cpus": os.cpu_count(), "load_average": {"before": [round(x, 2) for x in load_before],
                                                 "after": [round(x, 2) for x in os.getloadavg()]},
        "modes": {},
    }
    for name in config.modes:
        mode = MODES[name]
        report["modes"][name] = {
            "tls": mode.tls, "worker_class": mode.worker_class,
            "operations": {r.operation: r.to_dict() for r in rows if r.mode == name},
        }
    return report


def render(report: dict[str, Any]) -> str:
    lines = [f"signed MTS vs bare Spyne echo: {report['workers']} gunicorn workers, {report['connections']} "
             f"keep-alive connections ({report['generator']}), {report['requests']} requests per operation, "
             f"{report['key_type'].upper()} keys, {report['customers']} customers, {report['cpus']} CPUs, "
             f"load average {report['load_average']['before'][0]} → {report['load_average']['after'][0]}"]
    header = (f"{'mode':<24} {'operation':<11} {'ok':>6} {'faults':>6} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} "
              f"{'ratio':>6} {'cpu ms':>7} {'cpu ratio':>9}")
    lines += [header, "-" * len(header)]
    for name, mode in report["modes"].items():
        label = f"{name} ({mode['worker_class']})"
        for op, f in mode["operations"].items():
            cpu = f"{f['server_cpu_ms']:7.2f}" if f.get("server_cpu_ms") is not None else f"{'-':>7}"
            cpu_ratio = f"{f['cpu_ratio_to_echo']:9.2f}" if f.get("cpu_ratio_to_echo") is not None else f"{'-':>9}"
            lines.append(f"{label:<24} {op:<11} {f['ok']:>6} {f['faults']:>6} {f['rps']:8.0f} {f['p50_ms']:8.2f} "
                         f"{f['p99_ms']:8.2f} {f['ratio_to_echo']:6.2f} {cpu} {cpu_ratio}")
    lines.append("headline: http (plain HTTP, sync workers); tls: TLS with gthread keep-alive workers. "
                 "ratio = signed req/s / req/s of the echo slices run between its slices. cpu ms = CPU of the "
                 "server's processes per request (from /proc); cpu ratio = echo cpu ms / cpu ms: steadier than req/s on "
                 "a shared host, and its gap to the ratio is time the server waited rather than computed.")
    return "\n".join(lines)


def dumps(report: dict[str, Any]) -> str:
    return json.dumps(report, indent=2, sort_keys=False)

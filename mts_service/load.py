"""``mts-service load``: a realistic, bounded mix of signed calls, faults, then the books.

Several client *processes* play the three parties at once through the real clients
(every request signed, every answer verified):

* SMS bursts from many numbers (registered numbers, ``PAY username``, unknown numbers that
  earn a code), a quarter of them re-submitted by the "gateway" with the same messageId;
* redemptions of those codes, some raced by a thief in another process;
* orders racing on a few shared customers whose deposits cover 3 orders each (mode BOTH:
  each order also consumes one advance), topped up by SMS from every process;
* delivery reports (delivered, refused, cancelled, not delivered) and revocations.

Every call is idempotent (messageId, orderId, customer reference, same outcome), so a
client retries it on ``ServiceUnavailable`` or a Server fault with the *same* ids, re-signed.
The run is bounded by ``requests`` (SOAP calls, retries included) and ``duration`` and
refuses any URL that is not loopback. Faults (``worker``, ``node``, ``pg-restart``,
``pg-terminate``) are injected into a ``Cluster`` at fixed fractions of the run.

At the end the books are checked against what the clients were told: every accepted SMS
credited exactly once (``SMS_PAYMENT`` entries == distinct accepted messageIds), every
accepted order present once and no refused one, no deposit over its order count, no
advance used by two live orders, no code won twice, identical receipts for gateway
retries, and ``check_books`` (the whole ledger against grants and wallets) empty. By SQL
when the database URL is known, else through ``AdminClient``.
"""

from __future__ import annotations

import ipaddress
import logging
import multiprocessing as mp
import os
import queue
import random
import re
import subprocess
import threading
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, TextIO
from urllib.parse import urlsplit

NUMBER = "7777"
KEYWORD = "PAY"
PRICE_MINOR = 500
CURRENCY = "MAD"
CODE_LENGTH = 8
DEPOSIT_ORDERS = 3
LOAD_POLICY: dict[str, Any] = {
    "mode": "BOTH",
    "currency": CURRENCY,
    "premium_numbers": [
        {"number": NUMBER, "price_minor": PRICE_MINOR, "net_minor": 300, "keywords": [KEYWORD], "operators": ["LOAD"]},
    ],
    "advance_sms": 1,
    "deposit_sms": 2,
    "deposit_orders": DEPOSIT_ORDERS,
    "flows": ["CODE", "USERNAME", "REGISTERED"],
    "codes": {"length": CODE_LENGTH, "max_failed_attempts": 5, "attempt_window_seconds": 600},
    "default_language": "fr",
}
CODE_RE = re.compile(rf"\b[0-9A-HJKMNP-TV-Z]{{{CODE_LENGTH}}}\b")
FAULT_AT = {"worker": 0.2, "node": 0.4, "pg-restart": 0.6, "pg-terminate": 0.6}
NODE_BACK_AT = 0.8
RETRY_GRACE = 45.0
"""Seconds past ``duration`` during which calls already started may still be retried."""
LIVE_ORDER = "status NOT IN ('CANCELLED', 'NOT_DELIVERED')"


class LoadRefused(ValueError):
    """The load was not started: a non-loopback URL, a fault without a cluster, ..."""


@dataclass(frozen=True)
class LoadConfig:
    url: str
    certs_dir: Path
    workers: int = 4
    """Client processes."""
    requests: int = 2000
    """Upper bound on SOAP calls (attempts, retries included) across all processes."""
    duration: float = 60.0
    """Upper bound in seconds on starting new work; calls under way may retry for RETRY_GRACE more."""
    faults: tuple[str, ...] = ()
    seed: int = 1
    shared_customers: int = 3
    timeout: float = 10.0
    run_id: str = field(default_factory=lambda: f"L{uuid.uuid4().hex[:8]}")

    def check(self) -> None:
        host = urlsplit(self.url).hostname or ""
        try:
            loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            raise LoadRefused(f"{self.url}: the load tool only talks to loopback addresses")
        unknown = set(self.faults) - set(FAULT_AT)
        if unknown:
            raise LoadRefused(f"unknown fault(s) {', '.join(sorted(unknown))}; known: {', '.join(FAULT_AT)}")
        if not 1 <= self.workers <= 10 or self.requests < 1 or self.duration <= 0:
            raise LoadRefused("workers must be 1-10; requests and duration positive")
        if not 1 <= self.shared_customers <= 999:
            raise LoadRefused("shared_customers must be 1-999")


# -- one client process -------------------------------------------------------------------------

class GaveUp(Exception):
    """An idempotent call still failed when the run's deadline passed."""


class _Worker:
    def __init__(self, index: int, config: LoadConfig, budget: Any, stop: Any, codes: Any, deadline: float) -> None:
        from gateway_client import GatewayClient
        from shop_client import AdminClient, ShopClient

        self.index = index
        self.config = config
        self.budget = budget
        self.stop = stop
        self.codes = codes
        self.deadline = deadline  # time.time() after which no new scenario starts
        self.rng = random.Random(config.seed * 7919 + index)
        options = {"certs_dir": config.certs_dir, "timeout": config.timeout}
        self.gateway = GatewayClient.connect(config.url, **options)
        self.shop = ShopClient.connect(config.url, **options)
        self.admin = AdminClient.connect(config.url, **options)
        self.run = config.run_id
        self.serial = 0
        # what the clients were told
        self.latencies: dict[str, list[float]] = defaultdict(list)
        self.attempts = 0
        self.retries = 0
        self.gave_up = 0
        self.refusals: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self.sms_accepted: list[str] = []
        self.sms_unresolved: list[str] = []
        self.retry_mismatch: list[str] = []
        self.orders_accepted: list[str] = []
        self.orders_refused: list[str] = []
        self.orders_unresolved: list[str] = []
        self.code_wins: list[str] = []
        self.code_tries = 0
        self.scenarios: Counter[str] = Counter()

    # -- calls with retries ----------------------------------------------------------------

    def _take_budget(self) -> None:
        with self.budget.get_lock():
            self.budget.value += 1

    def out_of_budget(self) -> bool:
        return self.stop.is_set() or self.budget.value >= self.config.requests or time.time() >= self.deadline

    def call(self, op: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """One idempotent call: retried with the same arguments until it answers or the run ends."""
        from gateway_client.errors import MtsFaultError, ServiceUnavailable
        from gateway_client.soap_client import UntrustedResponse

        pause = 0.05
        while True:
            self.attempts += 1
            self._take_budget()
            started = time.perf_counter()
            try:
                result = fn(*args, **kwargs)
            except UntrustedResponse as exc:
                # The balancer's own 502/503 page is no signed envelope: the client says so.
                self.errors[f"{op}: unsigned answer"] += 1
                reason = exc
            except ServiceUnavailable as exc:
                self.errors[f"{op}: unavailable"] += 1
                reason = exc
            except MtsFaultError as exc:
                if not exc.retryable:
                    self.latencies[op].append(time.perf_counter() - started)
                    self.refusals[f"{op}: {exc.code}"] += 1
                    raise
                self.errors[f"{op}: server fault {exc.code}"] += 1
                reason = exc
            else:
                self.latencies[op].append(time.perf_counter() - started)
                return result
            if time.time() > self.deadline + RETRY_GRACE:
                self.gave_up += 1
                raise GaveUp(f"{op}: {reason}")
            self.retries += 1
            time.sleep(pause * (0.5 + self.rng.random()))
            pause = min(pause * 2, 1.0)

    # -- ids -------------------------------------------------------------------------------

    def next_id(self, kind: str) -> str:
        self.serial += 1
        return f"{self.run}-{kind}-w{self.index}-{self.serial}"

    def mobile(self) -> str:
        """A Moroccan mobile number (6[0-7]x xxxxxx) unique to this run's process and serial."""
        self.serial += 1
        run_part = int(self.run[1:], 16) % 80
        return f"+2126{run_part // 10}{run_part % 10}{self.index % 10}{self.serial % 100000:05d}"

    # -- the parties -----------------------------------------------------------------------

    def sms(self, sender: str, text: str, *, gateway_retry: float = 0.0) -> Any:
        from gateway_client import InboundMessage

        message = InboundMessage(
            message_id=self.next_id("sms"), sender=sender, service_number=NUMBER, text=text,
            received_at=datetime.now(timezone.utc), operator="LOAD",
        )
        try:
            receipt = self.call("SubmitSms", self.gateway.submit_sms, message)
        except GaveUp:
            self.sms_unresolved.append(message.message_id)
            return None
        self.sms_accepted.append(message.message_id)
        if self.rng.random() < gateway_retry:
            try:
                again = self.call("SubmitSms", self.gateway.submit_sms, message)
            except GaveUp:
                return receipt
            if not again.duplicate or again.reply_text != receipt.reply_text or again.outcome != receipt.outcome:
                self.retry_mismatch.append(message.message_id)
        return receipt

    def order(self, customer_ref: str, *, resend: float = 0.0) -> str | None:
        from gateway_client.errors import MtsFaultError
        from shop_client import Money

        order_id = self.next_id("ord")
        total = Money(self.rng.choice((9900, 25000, 120000)), CURRENCY)
        try:
            self.call("PlaceOrder", self.shop.place_order, order_id, customer_ref, total)
            if self.rng.random() < resend:
                again = self.call("PlaceOrder", self.shop.place_order, order_id, customer_ref, total)
                if not again.duplicate:
                    self.retry_mismatch.append(order_id)
        except MtsFaultError:
            self.orders_refused.append(order_id)
            return None
        except GaveUp:
            self.orders_unresolved.append(order_id)
            return None
        self.orders_accepted.append(order_id)
        return order_id

    def deliver(self, order_id: str, outcome: str) -> None:
        self.call("ReportDelivery", self.shop.report_delivery, order_id, outcome)

    def redeem(self, customer_ref: str, code: str) -> bool:
        from gateway_client.errors import MtsFaultError

        self.code_tries += 1
        try:
            self.call("RedeemCode", self.shop.redeem_code, customer_ref, code)
        except MtsFaultError:
            return False
        self.code_wins.append(code)
        return True

    # -- scenarios -------------------------------------------------------------------------

    def registered_burst(self) -> None:
        ref, mobile = self.next_id("cust"), self.mobile()
        self.call("RegisterCustomer", self.shop.register_customer, ref, mobile=mobile, language="fr")
        for _ in range(self.rng.randint(2, 4)):
            self.sms(mobile, KEYWORD, gateway_retry=0.25)
        order_id = self.order(ref, resend=0.2)
        if order_id is None:
            return
        outcome = self.rng.choices(("DELIVERED", "REFUSED", "CANCELLED", "NOT_DELIVERED"), (50, 20, 15, 15))[0]
        self.deliver(order_id, outcome)
        if outcome == "REFUSED" and self.rng.random() < 0.7:
            self.call("RevokeAuthorization", self.admin.revoke_authorization,
                      customer_ref=ref, reason="refused delivery (load)", order_id=order_id)

    def code_burst(self) -> None:
        sender = self.mobile()
        code = None
        for _ in range(2):
            receipt = self.sms(sender, KEYWORD, gateway_retry=0.25)
            found = CODE_RE.search(receipt.reply_text) if receipt is not None else None
            code = found.group(0) if found else code
        if code is None:
            return
        ref = self.next_id("cust")
        self.call("RegisterCustomer", self.shop.register_customer, ref, language="fr")
        if self.rng.random() < 0.3:
            try:
                self.codes.put_nowait(code)  # a thief in another process races the owner
            except queue.Full:
                pass
        if self.redeem(ref, code) and self.order(ref) is not None:
            pass

    def username_burst(self) -> None:
        ref = self.next_id("cust")
        username = f"u{ref.replace('-', '').lower()}"[-30:]
        self.call("RegisterCustomer", self.shop.register_customer, ref, username=username)
        for _ in range(3):
            self.sms(self.mobile(), f"{KEYWORD} {username}", gateway_retry=0.25)
        order_id = self.order(ref)
        if order_id is not None:
            self.deliver(order_id, "DELIVERED")

    def shared_order(self) -> None:
        ref = f"{self.run}-shared-{self.rng.randrange(self.config.shared_customers)}"
        order_id = self.order(ref, resend=0.1)
        if order_id is None:
            return
        draw = self.rng.random()
        if draw < 0.5:
            self.deliver(order_id, "DELIVERED")
        elif draw < 0.7:
            self.deliver(order_id, "CANCELLED")  # gives the advance and the deposit slot back

    def shared_topup(self) -> None:
        index = self.rng.randrange(self.config.shared_customers)
        self.sms(shared_mobile(self.run, index), KEYWORD)

    def steal(self) -> None:
        try:
            code = self.codes.get_nowait()
        except queue.Empty:
            return
        self.redeem(f"{self.run}-thief-w{self.index}", code)

    SCENARIOS = (
        ("registered", registered_burst, 3),
        ("code", code_burst, 2),
        ("username", username_burst, 1),
        ("shared_order", shared_order, 4),
        ("shared_topup", shared_topup, 3),
        ("steal", steal, 1),
    )

    def play(self) -> dict[str, Any]:
        from gateway_client.errors import MtsFaultError

        cpu_before = _own_cpu()
        started = time.time()
        try:
            self.call("RegisterCustomer", self.shop.register_customer, f"{self.run}-thief-w{self.index}")
            names = [s[0] for s in self.SCENARIOS]
            weights = [s[2] for s in self.SCENARIOS]
            functions = {s[0]: s[1] for s in self.SCENARIOS}
            while not self.out_of_budget():
                name = self.rng.choices(names, weights)[0]
                self.scenarios[name] += 1
                try:
                    functions[name](self)
                except (GaveUp, MtsFaultError):
                    pass  # counted where it happened; the scenario stops there
        except GaveUp:
            pass
        return {
            "index": self.index,
            "elapsed": time.time() - started,
            "cpu": _own_cpu() - cpu_before,
            "latencies": dict(self.latencies),
            "attempts": self.attempts,
            "retries": self.retries,
            "gave_up": self.gave_up,
            "refusals": dict(self.refusals),
            "errors": dict(self.errors),
            "sms_accepted": self.sms_accepted,
            "sms_unresolved": self.sms_unresolved,
            "retry_mismatch": self.retry_mismatch,
            "orders_accepted": self.orders_accepted,
            "orders_refused": self.orders_refused,
            "orders_unresolved": self.orders_unresolved,
            "code_wins": self.code_wins,
            "code_tries": self.code_tries,
            "scenarios": dict(self.scenarios),
        }


def _own_cpu() -> float:
    times = os.times()
    return times.user + times.system


def _worker_main(index: int, config: LoadConfig, budget: Any, stop: Any, codes: Any, deadline: Any,
                 ready: Any, start: Any, results: Any) -> None:
    # Counted by the worker instead: an error page from the balancer while a node is down
    # would otherwise log one "failed WS-Security verification" line per retry.
    logging.getLogger("gateway_client.soap_client").setLevel(logging.CRITICAL)
    try:
        worker = _Worker(index, config, budget, stop, codes, 0.0)
        with ready.get_lock():
            ready.value += 1
        start.wait()
        worker.deadline = deadline.value
        results.put(worker.play())
    except BaseException as exc:  # reported, never silently lost
        results.put({"index": index, "crashed": f"{type(exc).__name__}: {exc}"})


def shared_mobile(run: str, index: int) -> str:
    """The shared customers' numbers: 69x xxxxxx, apart from the processes' 60-67."""
    return f"+21269{int(run[1:], 16) % 10000:04d}{index:03d}"


# -- the result ----------------------------------------------------------------------------------

@dataclass
class LoadResult:
    run_id: str
    url: str
    workers: int
    elapsed: float = 0.0
    calls: int = 0
    attempts: int = 0
    retries: int = 0
    gave_up: int = 0
    refusals: dict[str, int] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    per_operation: dict[str, dict[str, float]] = field(default_factory=dict)
    faults: list[str] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)
    cpu: dict[str, float] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    crashed: list[str] = field(default_factory=list)

    @property
    def requests_per_second(self) -> float:
        return self.calls / self.elapsed if self.elapsed else 0.0

    @property
    def consistent(self) -> bool:
        return not self.problems and not self.crashed

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["requests_per_second"] = round(self.requests_per_second, 1)
        data["consistent"] = self.consistent
        return data

    def render(self) -> str:
        lines = [
            f"run {self.run_id} against {self.url}: {self.workers} client processes, {self.elapsed:.1f} s",
            f"  calls answered   {self.calls}  ({self.requests_per_second:.1f} requests/s)",
            f"  latency          p50 {self.p50_ms:.1f} ms   p99 {self.p99_ms:.1f} ms",
            f"  attempts         {self.attempts}  retries {self.retries}  gave up {self.gave_up}",
        ]
        for op, row in sorted(self.per_operation.items()):
            lines.append(f"    {op:<20} {int(row['calls']):>6} calls  p50 {row['p50_ms']:7.1f} ms  p99 {row['p99_ms']:7.1f} ms")
        if self.errors:
            lines.append("  transient errors " + ", ".join(f"{k} x{v}" for k, v in sorted(self.errors.items())))
        if self.refusals:
            lines.append("  refusals         " + ", ".join(f"{k} x{v}" for k, v in sorted(self.refusals.items())))
        for fault in self.faults:
            lines.append(f"  fault            {fault}")
        if self.cpu:
            lines.append("  cpu per call     " + ", ".join(f"{k} {v:.2f} ms" for k, v in self.cpu.items()))
        for key, value in self.figures.items():
            lines.append(f"  {key:<16} {value}")
        lines += [f"  CRASHED {c}" for c in self.crashed]
        if self.consistent:
            lines.append("  consistency      OK")
        else:
            lines += [f"  INCONSISTENT     {p}" for p in self.problems]
        return "\n".join(lines)


def _percentile(values: list[float], fraction: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] * 1000


# -- faults ---------------------------------------------------------------------------------------

def pg_restart_command() -> list[str]:
    versions = sorted(os.listdir("/etc/postgresql")) if os.path.isdir("/etc/postgresql") else []
    if not versions:
        raise LoadRefused("no local PostgreSQL cluster to restart (/etc/postgresql is empty)")
    return ["pg_ctlcluster", "--skip-systemctl-redirect", versions[-1], "main", "restart"]


def terminate_backends(database_url: str) -> int:
    """Close every server connection of the cluster (its application_name), as a crash would."""
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    from mts_service.persistence.engine import make_engine

    parsed = make_url(database_url)
    name = parsed.query.get("application_name")
    if not name:
        raise LoadRefused("pg-terminate needs the cluster's database URL (with its application_name)")
    engine = make_engine(parsed.update_query_dict({"application_name": f"{name}-faults"}).render_as_string(hide_password=False))
    try:
        with engine.begin() as conn:
            rows = conn.execute(
                text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = :name"),
                {"name": name},
            ).fetchall()
    finally:
        engine.dispose()
    return len(rows)


class _Faults(threading.Thread):
    """Injects the configured faults at fixed fractions of the run's progress."""

    def __init__(self, config: LoadConfig, cluster: Any, budget: Any, started: float, log: list[str]) -> None:
        super().__init__(daemon=True, name="faults")
        plan = sorted((FAULT_AT[name], name) for name in config.faults)
        if "node" in config.faults:
            plan.append((NODE_BACK_AT, "node-back"))
        self.plan = sorted(plan)
        self.config, self.cluster, self.budget, self.started, self.log = config, cluster, budget, started, log
        self.done = threading.Event()
        self.error: BaseException | None = None

    def progress(self) -> float:
        elapsed = (time.time() - self.started) / self.config.duration
        return max(elapsed, self.budget.value / self.config.requests)

    def run(self) -> None:
        try:
            for at, name in self.plan:
                while self.progress() < at and not self.done.is_set():
                    time.sleep(0.05)
                if self.done.is_set():
                    self.log.append(f"{name}: not injected (the run ended first)")
                    continue
                self.log.append(f"{time.time() - self.started:6.1f} s  {name}: {self.inject(name)}")
        except BaseException as exc:
            self.error = exc
            self.log.append(f"fault injection failed: {type(exc).__name__}: {exc}")

    def inject(self, name: str) -> str:
        nodes = self.cluster.state.nodes
        if name == "worker":
            return f"kill -9 worker {self.cluster.kill_worker(0)} of {nodes[0].name}"
        if name == "node":
            victim = nodes[-1]
            return f"kill -9 {victim.name} (pids {' '.join(map(str, self.cluster.kill_node(victim.name)))})"
        if name == "node-back":
            started = time.time()
            node = self.cluster.start_node(nodes[-1].name)
            return f"{node.name} started again (pid {node.pid}), healthy after {time.time() - started:.1f} s"
        if name == "pg-restart":
            started = time.time()
            done = subprocess.run(pg_restart_command(), capture_output=True, text=True, timeout=120)
            if done.returncode != 0:
                raise RuntimeError(f"pg_ctlcluster restart failed: {done.stderr.strip()}")
            return f"PostgreSQL restarted in {time.time() - started:.1f} s"
        if name == "pg-terminate":
            return f"terminated {terminate_backends(self.cluster.database_url)} PostgreSQL connections of the cluster"
        raise LoadRefused(name)


# -- the run ----------------------------------------------------------------------------------------

def setup(config: LoadConfig, *, patience: float = 60.0) -> list[str]:
    """Set the load policy and fund the shared customers (deposit + advances); return their SMS ids.

    Retried like every other call (same ids), so a set-up that meets a restarting node passes."""
    from gateway_client import GatewayClient, InboundMessage
    from gateway_client.errors import MtsFaultError, ServiceUnavailable
    from shop_client import AdminClient, ShopClient

    def retrying(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        give_up = time.time() + patience
        while True:
            try:
                return fn(*args, **kwargs)
            except (ServiceUnavailable, MtsFaultError) as exc:
                if isinstance(exc, MtsFaultError) and not exc.retryable or time.time() > give_up:
                    raise
                time.sleep(0.5)

    options = {"certs_dir": config.certs_dir, "timeout": config.timeout}
    retrying(AdminClient.connect(config.url, **options).set_policy, LOAD_POLICY)
    shop = ShopClient.connect(config.url, **options)
    gateway = GatewayClient.connect(config.url, **options)
    accepted = []
    for index in range(config.shared_customers):
        mobile = shared_mobile(config.run_id, index)
        retrying(shop.register_customer, f"{config.run_id}-shared-{index}", mobile=mobile)
        for n in range(2 + DEPOSIT_ORDERS):
            message_id = f"{config.run_id}-sms-setup-{index}-{n}"
            retrying(gateway.submit_sms, InboundMessage(
                message_id=message_id, sender=mobile, service_number=NUMBER, text=KEYWORD,
                received_at=datetime.now(timezone.utc), operator="LOAD",
            ))
            accepted.append(message_id)
    return accepted


def run_load(
    config: LoadConfig,
    *,
    cluster: Any = None,
    database_url: str | None = None,
    secret_file: Path | None = None,
    out: TextIO | None = None,
) -> LoadResult:
    """Play the mix, inject the faults, check the books; print the result to ``out``."""
    config.check()
    if config.faults and cluster is None:
        raise LoadRefused("faults need the cluster (--dir)")
    say = (lambda text: print(text, file=out, flush=True)) if out else (lambda text: None)
    say(f"load {config.run_id}: setting the policy and funding {config.shared_customers} shared customers")
    setup_sms = setup(config)

    ctx = mp.get_context("spawn")
    budget = ctx.Value("l", 0)
    stop, start = ctx.Event(), ctx.Event()
    codes, results = ctx.Queue(maxsize=1000), ctx.Queue()
    deadline, ready = ctx.Value("d", 0.0), ctx.Value("l", 0)
    processes = []
    result = LoadResult(config.run_id, config.url, config.workers)
    try:
        # Workers build their clients first (WSDL parsing), then all start together.
        for index in range(config.workers):
            process = ctx.Process(target=_worker_main, name=f"load-{index}",
                                  args=(index, config, budget, stop, codes, deadline, ready, start, results))
            process.start()
            processes.append(process)
        samples = _Samples(cluster, database_url)
        _wait_for_workers_ready(processes, ready)
        samples.begin()
        began = time.time()
        deadline.value = began + config.duration
        start.set()
        faults = _Faults(config, cluster, budget, began, result.faults) if config.faults else None
        if faults:
            faults.start()
        say(f"load {config.run_id}: {config.workers} processes, at most {config.requests} calls / {config.duration:.0f} s"
            + (f", faults: {', '.join(config.faults)}" if config.faults else ""))
        reports = _collect(results, processes, began + config.duration, stop)
        result.elapsed = time.time() - began
        samples.end()
        if faults:
            faults.done.set()
            faults.join(timeout=180)
    finally:
        stop.set()
        for process in processes:
            process.join(timeout=30)
            if process.is_alive():
                process.kill()
                process.join(timeout=10)

    latencies: list[float] = []
    per_op: dict[str, list[float]] = defaultdict(list)
    sms_accepted, sms_unresolved = set(setup_sms), set()
    orders_accepted, orders_refused, orders_unresolved = set(), set(), set()
    code_wins: Counter[str] = Counter()
    retry_mismatch: list[str] = []
    client_cpu = 0.0
    scenarios: Counter[str] = Counter()
    code_tries = 0
    for report in reports:
        if "crashed" in report:
            result.crashed.append(f"process {report['index']}: {report['crashed']}")
            continue
        for op, values in report["latencies"].items():
            per_op[op] += values
            latencies += values
        result.attempts += report["attempts"]
        result.retries += report["retries"]
        result.gave_up += report["gave_up"]
        for key in ("refusals", "errors"):
            for name, count in report[key].items():
                getattr(result, key)[name] = getattr(result, key).get(name, 0) + count
        sms_accepted.update(report["sms_accepted"])
        sms_unresolved.update(report["sms_unresolved"])
        orders_accepted.update(report["orders_accepted"])
        orders_refused.update(report["orders_refused"])
        orders_unresolved.update(report["orders_unresolved"])
        code_wins.update(report["code_wins"])
        code_tries += report["code_tries"]
        retry_mismatch += report["retry_mismatch"]
        client_cpu += report["cpu"]
        scenarios.update(report["scenarios"])
    result.calls = len(latencies)
    result.p50_ms, result.p99_ms = _percentile(latencies, 0.50), _percentile(latencies, 0.99)
    result.per_operation = {
        op: {"calls": len(v), "p50_ms": _percentile(v, 0.5), "p99_ms": _percentile(v, 0.99)} for op, v in per_op.items()
    }
    if result.calls:
        result.cpu["clients"] = client_cpu / result.calls * 1000
        result.cpu.update(samples.per_call(result.calls))
    if samples.cluster and getattr(samples, "wall", 0):
        result.figures["machine"] = samples.machine(client_cpu)
        ours = client_cpu + sum(samples.cpu.values())
        result.figures["calls_per_cpu_second"] = round(result.calls / ours, 1) if ours else 0.0
    result.figures["scenarios"] = ", ".join(f"{k} x{v}" for k, v in sorted(scenarios.items()))
    result.figures["sms"] = f"{len(sms_accepted)} accepted, {len(sms_unresolved)} unresolved"
    result.figures["orders"] = (f"{len(orders_accepted)} accepted, {len(orders_refused)} refused, "
                                f"{len(orders_unresolved)} unresolved")
    result.figures["codes"] = f"{code_tries} redemption attempts, {len(code_wins)} codes won"
    if samples.database:
        result.figures["database"] = samples.database
        result.figures["transactions_per_call"] = round(samples.transactions / max(result.calls, 1), 2)
    if faults and faults.error:
        result.problems.append(f"fault injection failed: {faults.error}")
    if retry_mismatch:
        result.problems.append(f"{len(retry_mismatch)} retries answered differently (e.g. {retry_mismatch[0]})")
    doubled = [code for code, wins in code_wins.items() if wins > 1]
    if doubled:
        result.problems.append(f"{len(doubled)} codes redeemed more than once")
    checks = Expectations(config.run_id, sms_accepted, sms_unresolved, orders_accepted, orders_refused, orders_unresolved)
    if database_url:
        result.figures["books"] = check_by_sql(checks, database_url, secret_file, result.problems)
    else:
        result.figures["books"] = check_by_admin(checks, config, result.problems)
    say(result.render())
    return result


def _wait_for_workers_ready(processes: list[Any], ready: Any, timeout: float = 180.0) -> None:
    """Each process builds its three zeep clients (WSDL parsing) before the clock starts."""
    deadline = time.time() + timeout
    while ready.value < len(processes) and time.time() < deadline:
        if any(not p.is_alive() for p in processes):
            return
        time.sleep(0.1)


def _collect(results: Any, processes: list[Any], end: float, stop: Any) -> list[dict[str, Any]]:
    reports: list[dict[str, Any]] = []
    hard_end = end + RETRY_GRACE + 90
    while len(reports) < len(processes) and time.time() < hard_end:
        if time.time() >= end:
            stop.set()
        try:
            reports.append(results.get(timeout=0.5))
        except queue.Empty:
            if all(not p.is_alive() for p in processes) and results.empty():
                break
    missing = {p.name for p in processes} - {f"load-{r['index']}" for r in reports}
    reports += [{"index": name.split("-")[1], "crashed": "no report"} for name in sorted(missing)]
    return reports


# -- CPU and database costs ------------------------------------------------------------------------

class _Samples:
    """CPU of the cluster's processes and of its PostgreSQL backends, and commits, over the run."""

    def __init__(self, cluster: Any, database_url: str | None) -> None:
        self.cluster, self.database_url = cluster, database_url
        self.cpu: dict[str, float] = {}
        self.database = ""
        self._before: dict[str, Any] = {}

    def _server(self) -> dict[int, float]:
        from mts_service.cluster import cpu_seconds

        return {pid: cpu_seconds([pid]) for pid in self.cluster.server_pids()} if self.cluster else {}

    def _backends(self) -> tuple[dict[int, float], tuple[int, int]]:
        from mts_service.cluster import cpu_seconds

        if not self.database_url:
            return {}, (0, 0)
        from sqlalchemy import text
        from sqlalchemy.engine import make_url

        from mts_service.persistence.engine import make_engine

        parsed = make_url(self.database_url)
        name = parsed.query.get("application_name")
        engine = make_engine(parsed.update_query_dict({"application_name": "mts-load-sampler"}).render_as_string(hide_password=False))
        try:
            with engine.connect() as conn:
                pids = [row[0] for row in conn.execute(
                    text("SELECT pid FROM pg_stat_activity WHERE application_name = :n"), {"n": name})] if name else []
                commits = tuple(conn.execute(text(
                    "SELECT xact_commit, xact_rollback FROM pg_stat_database WHERE datname = current_database()"
                )).one())
        finally:
            engine.dispose()
        return {pid: cpu_seconds([pid]) for pid in pids}, (int(commits[0]), int(commits[1]))

    def _haproxy(self) -> float:
        from mts_service.cluster import cpu_seconds

        return cpu_seconds([self.cluster.state.haproxy_pid]) if self.cluster and self.cluster.state.haproxy_pid else 0.0

    @staticmethod
    def _machine_busy() -> float:
        """CPU seconds the whole machine spent busy since boot (every process, every core)."""
        with open("/proc/stat", encoding="ascii") as stat:
            fields = [int(v) for v in stat.readline().split()[1:]]
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
        return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")

    def begin(self) -> None:
        self._before = {"server": self._server(), "backends": self._backends(), "haproxy": self._haproxy(),
                        "busy": self._machine_busy(), "wall": time.time()}

    def end(self) -> None:
        server, (backends, commits), haproxy = self._server(), self._backends(), self._haproxy()
        before_backends, before_commits = self._before["backends"]
        self.cpu["nodes"] = sum(v - self._before["server"].get(pid, 0.0) for pid, v in server.items())
        self.cpu["haproxy"] = haproxy - self._before["haproxy"]
        self.cpu["postgres"] = sum(v - before_backends.get(pid, 0.0) for pid, v in backends.items())
        self.commits = commits[0] - before_commits[0]
        self.rollbacks = commits[1] - before_commits[1]
        self.transactions = self.commits + self.rollbacks
        self.wall = time.time() - self._before["wall"]
        self.busy = self._machine_busy() - self._before["busy"]

    def machine(self, client_cpu: float) -> str:
        """How busy the machine was, and how much of it was someone else's work."""
        ours = client_cpu + sum(self.cpu.values())
        return (f"{self.busy / self.wall:.2f} of {os.cpu_count()} cores busy; this run's processes"
                f" {ours / self.wall:.2f}, everything else {max(self.busy - ours, 0.0) / self.wall:.2f}")

    def per_call(self, calls: int) -> dict[str, float]:
        out = {name: seconds / calls * 1000 for name, seconds in self.cpu.items() if self.cluster or name == "postgres"}
        if self.database_url and getattr(self, "transactions", 0):
            self.database = (f"{self.commits} commits + {self.rollbacks} rollbacks in the database"
                             f" ({self.commits / calls:.2f} + {self.rollbacks / calls:.2f} per call; the rollbacks"
                             " are mostly the pool's pre-ping)")
        return out


# -- the books ----------------------------------------------------------------------------------------

@dataclass
class Expectations:
    run_id: str
    sms_accepted: set[str]
    sms_unresolved: set[str]
    orders_accepted: set[str]
    orders_refused: set[str]
    orders_unresolved: set[str]


def check_by_sql(expected: Expectations, database_url: str, secret_file: Path | None, problems: list[str]) -> str:
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    from mts_service.bootstrap import service_context
    from mts_service.config import Settings
    from mts_service.persistence.engine import make_engine
    from mts_service.services.admin import check_books

    parsed = make_url(database_url)
    if "application_name" in parsed.query:
        parsed = parsed.update_query_dict({"application_name": "mts-load-check"})
    url = parsed.render_as_string(hide_password=False)
    engine = make_engine(url)
    prefix = f"{expected.run_id}-%"
    try:
        with engine.connect() as conn:
            credited = dict(conn.execute(text(
                "SELECT message_id, count(*) FROM ledger WHERE kind = 'SMS_PAYMENT' AND message_id LIKE :p GROUP BY message_id"
            ), {"p": prefix}).fetchall())
            doubled_anywhere = conn.execute(text(
                "SELECT count(*) FROM (SELECT message_id FROM ledger WHERE kind = 'SMS_PAYMENT' "
                "GROUP BY message_id HAVING count(*) > 1) d")).scalar_one()
            orders = set(conn.execute(text("SELECT order_id FROM orders WHERE order_id LIKE :p"), {"p": prefix}).scalars())
            deposits_over = conn.execute(text(
                "SELECT g.grant_id, g.orders_allowed, g.orders_used, "
                f"  (SELECT count(*) FROM orders o WHERE o.deposit_grant_id = g.grant_id AND o.{LIVE_ORDER}) "
                "FROM grants g WHERE g.kind = 'DEPOSIT' AND g.orders_allowed IS NOT NULL")).fetchall()
            advances_twice = conn.execute(text(
                f"SELECT advance_grant_id, count(*) FROM orders WHERE advance_grant_id IS NOT NULL AND {LIVE_ORDER} "
                "GROUP BY advance_grant_id HAVING count(*) > 1")).fetchall()
            applied_twice = conn.execute(text(
                "SELECT grant_id FROM ledger WHERE grant_id IS NOT NULL GROUP BY grant_id HAVING "
                "sum(CASE kind WHEN 'ADVANCE_APPLIED' THEN 1 WHEN 'ADVANCE_RETURNED' THEN -1 ELSE 0 END) > 1")).fetchall()
            deposits_used = sum(1 for row in deposits_over if row[2] > 0)
    finally:
        engine.dispose()

    payments = sum(credited.values())
    missing = expected.sms_accepted - set(credited)
    stray = set(credited) - expected.sms_accepted - expected.sms_unresolved
    if missing:
        problems.append(f"{len(missing)} accepted SMS not credited (e.g. {sorted(missing)[0]})")
    if any(count > 1 for count in credited.values()) or doubled_anywhere:
        problems.append(f"SMS credited more than once: {doubled_anywhere} messageIds")
    if stray:
        problems.append(f"{len(stray)} SMS credited that no client sent")
    accepted_payments = sum(credited.get(m, 0) for m in expected.sms_accepted)
    if accepted_payments != len(expected.sms_accepted):
        problems.append(f"SMS_PAYMENT entries {accepted_payments} != accepted messageIds {len(expected.sms_accepted)}")
    lost_orders = expected.orders_accepted - orders
    ghost_orders = orders - expected.orders_accepted - expected.orders_unresolved
    if lost_orders:
        problems.append(f"{len(lost_orders)} accepted orders missing (e.g. {sorted(lost_orders)[0]})")
    if ghost_orders:
        problems.append(f"{len(ghost_orders)} orders recorded that were refused or never sent (e.g. {sorted(ghost_orders)[0]})")
    over = [row for row in deposits_over if row[2] > row[1] or row[3] > row[1]]
    if over:
        problems.append(f"{len(over)} deposits over their order count (e.g. {over[0][0]}: {over[0][3]} orders of {over[0][1]})")
    if advances_twice or applied_twice:
        problems.append(f"{len(advances_twice) + len(applied_twice)} advances used twice")

    settings = Settings(database_url=url, secret_file=secret_file)
    ctx_engine = make_engine(url)
    try:
        ctx = service_context(settings, engine=ctx_engine, secret=None if secret_file else b"\0" * 32)
        discrepancies = check_books(ctx)
    finally:
        ctx_engine.dispose()
    for item in discrepancies[:5]:
        problems.append(f"check_books: {item}")
    if len(discrepancies) > 5:
        problems.append(f"check_books: {len(discrepancies) - 5} more discrepancies")
    unresolved_credited = len(set(credited) & expected.sms_unresolved)
    return (f"SMS_PAYMENT entries {payments} for {len(expected.sms_accepted)} accepted messageIds"
            f" (+{unresolved_credited} of {len(expected.sms_unresolved)} unresolved); orders {len(orders)} in the database;"
            f" {len(deposits_over)} deposits ({deposits_used} used), none over {DEPOSIT_ORDERS} orders: {not over};"
            f" advances used twice: {len(advances_twice) + len(applied_twice)}; check_books: {len(discrepancies)} discrepancies")


def check_by_admin(expected: Expectations, config: LoadConfig, problems: list[str]) -> str:
    """The same SMS and advance checks through the admin service (no database access)."""
    from shop_client import AdminClient

    admin = AdminClient.connect(config.url, certs_dir=config.certs_dir, timeout=60)
    credited: Counter[str] = Counter()
    net_applied: Counter[str] = Counter()
    for entry in admin.iter_ledger(page_size=500):
        kind = entry.kind.value
        if kind == "SMS_PAYMENT" and entry.message_id and entry.message_id.startswith(expected.run_id):
            credited[entry.message_id] += 1
        elif kind in ("ADVANCE_APPLIED", "ADVANCE_RETURNED") and entry.grant_id:
            net_applied[entry.grant_id] += 1 if kind == "ADVANCE_APPLIED" else -1
    missing = expected.sms_accepted - set(credited)
    doubled = [m for m, n in credited.items() if n > 1]
    if missing:
        problems.append(f"{len(missing)} accepted SMS not credited")
    if doubled:
        problems.append(f"{len(doubled)} SMS credited more than once")
    twice = [g for g, n in net_applied.items() if n > 1]
    if twice:
        problems.append(f"{len(twice)} advances used twice")
    return (f"SMS_PAYMENT entries {sum(credited.values())} for {len(expected.sms_accepted)} accepted messageIds;"
            f" advances used twice: {len(twice)} (by AdminClient.get_ledger)")


__all__ = ["LOAD_POLICY", "LoadConfig", "LoadRefused", "LoadResult", "run_load", "setup", "terminate_backends"]

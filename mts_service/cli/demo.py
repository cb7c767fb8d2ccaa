"""``mts-service demo``: the three flows end to end against a real server, as a transcript.

Nothing to set up: in a fresh temporary directory it creates a dev PKI, a SQLite
database (``mts-service db upgrade``), starts ``mts-service serve`` (gunicorn, TLS, every
message WS-Security signed) on a free port, and then plays the three parties through the
real clients:

1. the administrator sets a demo policy (ADVANCE, premium number 7575, keyword PAY);
2. flow 1: an SMS from an unknown number gets a code, the shop redeems it;
3. flow 2: ``PAY karim`` credits the customer named karim;
4. flow 3: SMS from a registered number credit that customer (twice: two advances);
5. that customer orders: the advance is deducted from the cash due on delivery;
6. the delivery is refused, the administrator revokes: the remaining advance is forfeited.

Each step prints what was sent and what came back. Exit 0 only if every step gave the
expected result; the server is always stopped, the directory removed (unless ``--keep``).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator, Mapping

DEMO_NUMBER = "7575"
DEMO_KEYWORD = "PAY"
PRICE_MINOR = 500
CURRENCY = "MAD"
CODE_LENGTH = 8
DEMO_POLICY: dict[str, Any] = {
    "mode": "ADVANCE",
    "currency": CURRENCY,
    "premium_numbers": [
        {"number": DEMO_NUMBER, "price_minor": PRICE_MINOR, "net_minor": 300, "keywords": [DEMO_KEYWORD],
         "operators": ["DEMO"]},
    ],
    "advance_sms": 1,
    "flows": ["CODE", "USERNAME", "REGISTERED"],
    "codes": {"length": CODE_LENGTH},
    "default_language": "fr",
}


class DemoFailed(Exception):
    pass


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("demo", help="walk the three flows against a freshly started server")
    parser.add_argument("--no-tls", action="store_true", help="serve plain HTTP (messages are still signed)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (certs, db, server log)")
    parser.add_argument("--startup-timeout", type=float, default=90.0, help="seconds to wait for the server")
    parser.set_defaults(handler=run_demo)


# -- the transcript ------------------------------------------------------------------------

class Transcript:
    def __init__(self, out: Any = None) -> None:
        self.out = out or sys.stdout
        self.failures: list[str] = []

    def say(self, text: str = "") -> None:
        print(text, file=self.out, flush=True)

    def section(self, title: str) -> None:
        self.say()
        self.say(f"== {title}")

    def party(self, who: str, text: str) -> None:
        self.say(f"   {who:<8} {text}")

    def check(self, what: str, ok: bool, detail: str = "") -> None:
        mark = "ok  " if ok else "FAIL"
        self.say(f"   [{mark}] {what}" + (f" ({detail})" if detail and not ok else ""))
        if not ok:
            self.failures.append(what)
            raise DemoFailed(what)


# -- the server ------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def child_env(environ: Mapping[str, str]) -> dict[str, str]:
    """The environment of the subprocesses: this very mts_service importable, no stray settings."""
    env = {k: v for k, v in environ.items() if not k.startswith("MTS_")}
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["PYTHONUNBUFFERED"] = "1"
    return env


def mts_service(*args: str) -> list[str]:
    return [sys.executable, "-m", "mts_service", *args]


@contextmanager
def running_server(workdir: Path, *, tls: bool, env: dict[str, str], startup_timeout: float,
                   transcript: Transcript) -> Iterator[str]:
    port = free_port()
    scheme = "https" if tls else "http"
    url = f"{scheme}://127.0.0.1:{port}"
    command = mts_service("serve", "--bind", f"127.0.0.1:{port}", "--workers", "1",
                          "--database", str(workdir / "mts.db"), "--certs", str(workdir / "certs"))
    if not tls:
        command.append("--no-tls")
    log_path = workdir / "serve.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    try:
        _wait_healthy(url, process, workdir, startup_timeout, log_path)
        transcript.party("server", f"{url} (pid {process.pid}, gunicorn, {'TLS + ' if tls else ''}WS-Security)")
        yield url
    finally:
        _stop(process)
        transcript.party("server", f"stopped (exit {process.returncode})")


def _wait_healthy(url: str, process: subprocess.Popen, workdir: Path, timeout: float, log_path: Path) -> None:
    import requests

    deadline = time.monotonic() + timeout
    verify: str | bool = str(workdir / "certs" / "ca.pem") if url.startswith("https") else True
    session = requests.Session()
    session.trust_env = False  # a local server: no proxy, no REQUESTS_CA_BUNDLE
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise DemoFailed(f"the server exited with {process.returncode}:\n{_tail(log_path)}")
        try:
            if session.get(f"{url}/healthz", verify=verify, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.25)
    raise DemoFailed(f"the server did not answer /healthz within {timeout:.0f}s:\n{_tail(log_path)}")


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)  # serve passes it on to gunicorn, which stops its workers
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)  # our own session: serve and its gunicorn only
        process.wait(timeout=10)


# -- the walk --------------------------------------------------------------------------------

def _find_code(reply: str) -> str | None:
    match = re.search(rf"\b[0-9A-HJKMNP-TV-Z]{{{CODE_LENGTH}}}\b", reply)
    return match.group(0) if match else None


def walk(url: str, certs: Path, t: Transcript) -> None:
    from gateway_client import GatewayClient, InboundMessage, ReceiptOutcome
    from shop_client import AdminClient, DeliveryOutcome, GrantStatus, Money, OrderStatus, ShopClient

    admin = AdminClient.connect(url, certs_dir=certs)
    shop = ShopClient.connect(url, certs_dir=certs)
    gateway = GatewayClient.connect(url, certs_dir=certs)
    counter = iter(range(1, 1000))

    def sms(sender: str, text: str, message_id: str | None = None) -> Any:
        message = InboundMessage(
            message_id=message_id or f"demo-{next(counter):03d}", sender=sender, service_number=DEMO_NUMBER,
            text=text, received_at=datetime.now(timezone.utc), operator="DEMO",
        )
        t.party("phone", f"{sender} -> {DEMO_NUMBER}: {text!r}  [{message.message_id}]")
        receipt = gateway.submit_sms(message)
        t.party("MTS", f"{receipt.outcome.value}{' (duplicate)' if receipt.duplicate else ''}: {receipt.reply_text!r}")
        return message, receipt

    t.section("administrator sets the policy")
    stored = admin.set_policy(DEMO_POLICY)
    t.party("admin", f"SetPolicy: ADVANCE, {DEMO_NUMBER} at {Money(PRICE_MINOR, CURRENCY)} per SMS, keyword {DEMO_KEYWORD}")
    t.check(f"policy stored as version {stored.version}", stored.version is not None and stored.version >= 1)

    t.section("flow 1: code (unknown number)")
    message, receipt = sms("+212600000101", DEMO_KEYWORD)
    code = _find_code(receipt.reply_text)
    t.check("the reply carries a one-time code", receipt.outcome is ReceiptOutcome.CODE_ISSUED and code is not None,
            receipt.reply_text)
    _, again = sms(message.sender, message.text, message.message_id)
    t.check("a gateway retry gets the identical receipt, credited once",
            again.duplicate and again.reply_text == receipt.reply_text)
    shop.register_customer("demo-amina", language="fr")
    t.party("shop", "RegisterCustomer demo-amina")
    redemption = shop.redeem_code("demo-amina", code or "")
    t.party("shop", f"RedeemCode demo-amina {code} -> {redemption.kind.value} {redemption.value}")
    t.check("demo-amina may order", redemption.authorization.may_order)

    t.section("flow 2: KEYWORD username")
    shop.register_customer("demo-karim", username="karim")
    t.party("shop", "RegisterCustomer demo-karim --username karim")
    _, receipt = sms("+212600000102", f"{DEMO_KEYWORD} karim")
    t.check("credited to karim", receipt.outcome is ReceiptOutcome.CREDITED)
    auth = shop.get_authorization("demo-karim")
    t.party("shop", f"GetAuthorization demo-karim -> may order: {auth.may_order}, advances: {auth.advances_left}")
    t.check("demo-karim may order", auth.may_order and auth.advances_left == 1)

    t.section("flow 3: registered number")
    salma_mobile = "+212600000103"
    shop.register_customer("demo-salma", mobile=salma_mobile)
    t.party("shop", f"RegisterCustomer demo-salma --mobile {salma_mobile}")
    for _ in range(2):
        _, receipt = sms(salma_mobile, DEMO_KEYWORD)
        t.check("credited to the number's owner", receipt.outcome is ReceiptOutcome.CREDITED)
    auth = shop.get_authorization("demo-salma")
    t.party("shop", f"GetAuthorization demo-salma -> may order: {auth.may_order}, advances: {auth.advances_left}")
    t.check("demo-salma holds two advances", auth.may_order and auth.advances_left == 2)

    t.section("an order: the advance is deducted from the cash due")
    total = Money(25000, CURRENCY)
    order = shop.place_order("demo-order-1", "demo-salma", total)
    t.party("shop", f"PlaceOrder demo-order-1 demo-salma {total} HOME -> advance {order.advance_applied}, "
                    f"cash on delivery {order.cod_due}")
    t.check("cash due = total - advance",
            order.advance_applied == Money(PRICE_MINOR, CURRENCY) and order.cod_due == Money(25000 - PRICE_MINOR, CURRENCY))

    t.section("the delivery is refused; the administrator revokes")
    order = shop.report_delivery("demo-order-1", DeliveryOutcome.REFUSED)
    t.party("shop", f"ReportDelivery demo-order-1 REFUSED -> {order.status.value}")
    t.check("order closed as refused", order.status is OrderStatus.REFUSED)
    revocation = admin.revoke_authorization(customer_ref="demo-salma", reason="refused delivery", order_id="demo-order-1")
    t.party("admin", f"RevokeAuthorization demo-salma -> {len(revocation.revoked_grants)} grant(s), "
                     f"forfeited {revocation.forfeited}")
    t.check("the remaining advance is forfeited", revocation.forfeited == Money(PRICE_MINOR, CURRENCY)
            and all(g.status is GrantStatus.REVOKED for g in revocation.revoked_grants))
    again_revoked = admin.revoke_authorization(customer_ref="demo-salma", reason="refused delivery", order_id="demo-order-1")
    t.check("revoking twice changes nothing", not again_revoked.revoked_grants)
    auth = shop.get_authorization("demo-salma")
    t.party("shop", f"GetAuthorization demo-salma -> may order: {auth.may_order}")
    t.check("demo-salma may no longer order", not auth.may_order)

    t.section("the books")
    entries = list(admin.iter_ledger())
    kinds: dict[str, int] = {}
    for entry in entries:
        kinds[entry.kind.value] = kinds.get(entry.kind.value, 0) + 1
    t.party("admin", "GetLedger: " + ", ".join(f"{k} x{n}" for k, n in sorted(kinds.items())))
    t.check("4 paid SMS (the retry is not one), 1 advance applied, 1 forfeit",
            kinds.get("SMS_PAYMENT") == 4 and kinds.get("ADVANCE_APPLIED") == 1 and kinds.get("FORFEIT") == 1,
            str(kinds))
    today = datetime.now(timezone.utc).date()
    report = admin.get_report(today, today)
    gross = sum(r.gross_minor for r in report.rows)
    t.party("admin", f"GetReport {today}: {sum(r.messages for r in report.rows)} messages, gross {Money(gross, CURRENCY)}")
    t.check("the report counts the 4 paid SMS", gross == 4 * PRICE_MINOR)


def run_demo(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    from mts_service.pki import create_dev_pki

    t = Transcript()
    workdir = Path(tempfile.mkdtemp(prefix="mts-demo-"))
    env = child_env(environ)
    t.say("MTS demo: three parties, one real server, every message signed")
    try:
        certs = create_dev_pki(workdir / "certs").directory
        t.party("set-up", f"dev PKI in {certs} (CA, server, gateway, shop, admin)")
        upgrade = subprocess.run(mts_service("db", "upgrade", "--database", str(workdir / "mts.db")),
                                 cwd=workdir, env=env, capture_output=True, text=True, timeout=120)
        if upgrade.returncode != 0:
            raise DemoFailed(f"db upgrade failed: {upgrade.stderr.strip()}")
        t.party("set-up", f"SQLite database {workdir / 'mts.db'}: {upgrade.stdout.strip()}")
        with running_server(workdir, tls=not args.no_tls, env=env, startup_timeout=args.startup_timeout,
                            transcript=t) as url:
            walk(url, certs, t)
    except DemoFailed as exc:
        if not t.failures:
            t.say(f"   [FAIL] {exc}")
        t.say("\ndemo FAILED")
        return 1
    except Exception as exc:  # a client error is a failed step, shown as such
        t.say(f"   [FAIL] {type(exc).__name__}: {exc}")
        t.say("\ndemo FAILED")
        return 1
    finally:
        if args.keep:
            t.say(f"\nkept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    t.say("\ndemo passed: flows 1, 2 and 3, an order with its advance deducted, a refusal and a forfeit")
    return 0


__all__ = ["register", "run_demo"]

"""Stand-ins for the gateway tests: the MTS's SubmitSms, a sendsms endpoint, a recording sender.

``FakeMts.submit`` keeps GatewayClient.submit_sms's contract: ServiceUnavailable when
"down" or "slow" past the caller's patience, MtsFaultError(side="Server"/"Client") for
faults, and the identical receipt (``duplicate=True``) when a message id comes back.
``FakeMtsServer`` serves it over HTTP so that a bridge in another process can use it
(``remote_submit_from_env``), the way the real bridge talks to the real MTS.
"""

from __future__ import annotations

import dataclasses
import json
import os
import threading
import time
from collections import Counter
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable
from urllib.parse import parse_qs, urlsplit

import requests

from gateway_client.errors import MtsFaultError, ServiceUnavailable
from gateway_client.models import Channel, InboundMessage, ReceiptOutcome, SmsReceipt

UP, DOWN, SERVER_FAULT, CLIENT_FAULT, SLOW = "up", "down", "server_fault", "client_fault", "slow"


def default_reply(message: InboundMessage) -> str:
    return f"Merci ! Code {abs(hash(message.message_id)) % 1000000:06d} pour {message.text[:20]}"


class FakeMts:
    def __init__(self, reply: Callable[[InboundMessage], str] = default_reply) -> None:
        self.mode = UP
        self.slow_seconds = 1.0
        self.reply = reply
        self.receipts: dict[str, SmsReceipt] = {}
        self.messages: dict[str, InboundMessage] = {}
        self.accepted: list[str] = []          # ids accepted for the first time, in order
        self.calls: Counter[str] = Counter()   # every call, per id, whatever the outcome
        self.overlaps = 0                      # calls that ran while another for the id was running
        self._running: Counter[str] = Counter()
        self._lock = threading.Lock()

    def set_mode(self, mode: str) -> None:
        self.mode = mode

    def submit(self, message: InboundMessage) -> SmsReceipt:
        with self._lock:
            self.calls[message.message_id] += 1
            if self._running[message.message_id]:
                self.overlaps += 1
            self._running[message.message_id] += 1
        try:
            mode = self.mode
            if mode == SLOW:
                time.sleep(self.slow_seconds)
            elif mode == DOWN:
                raise ServiceUnavailable("connection refused")
            elif mode == SERVER_FAULT:
                raise MtsFaultError("INTERNAL", "database locked", side="Server")
            elif mode == CLIENT_FAULT:
                raise MtsFaultError("UNKNOWN_SERVICE_NUMBER", "no such premium number", side="Client")
            with self._lock:
                known = self.receipts.get(message.message_id)
                if known is not None:
                    return dataclasses.replace(known, duplicate=True)
                receipt = SmsReceipt(
                    message_id=message.message_id,
                    outcome=ReceiptOutcome.CODE_ISSUED,
                    reply_text=self.reply(message),
                    duplicate=False,
                )
                self.receipts[message.message_id] = receipt
                self.messages[message.message_id] = message
                self.accepted.append(message.message_id)
                return receipt
        finally:
            with self._lock:
                self._running[message.message_id] -= 1


class RecordingSender:
    """An in-memory Sender; ``fail`` makes it raise SendFailed."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, str | None]] = []
        self.fail = False
        self._lock = threading.Lock()

    def send(self, to: str, text: str, *, sender: str | None = None) -> None:
        from gateway_client.sendsms import SendFailed

        if self.fail:
            raise SendFailed("sendsms down")
        with self._lock:
            self.sent.append((to, text, sender))


# -- HTTP servers ---------------------------------------------------------------------------

class _Server:
    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)

    def start(self) -> "_Server":
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class FakeSendsmsServer(_Server):
    """Records smsbox-style sendsms GETs: a list of dicts of the query parameters."""

    def __init__(self, status: int = 202) -> None:
        self.requests: list[dict[str, str]] = []
        self.status = status
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                query = parse_qs(urlsplit(self.path).query, keep_blank_values=True)
                outer.requests.append({k: v[0] for k, v in query.items()})
                body = b"0: Accepted for delivery"
                self.send_response(outer.status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        super().__init__(Handler)


class FakeMtsServer(_Server):
    """FakeMts over HTTP: POST /submit with a JSON InboundMessage → JSON receipt or fault."""

    def __init__(self, mts: FakeMts) -> None:
        self.mts = mts

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                data = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                message = InboundMessage(
                    message_id=data["message_id"], sender=data["sender"],
                    service_number=data["service_number"], text=data["text"],
                    received_at=datetime.fromisoformat(data["received_at"]),
                    channel=Channel(data["channel"]), operator=data.get("operator"),
                )
                try:
                    receipt = mts.submit(message)
                    status, payload = 200, {"message_id": receipt.message_id, "outcome": receipt.outcome.value,
                                            "reply_text": receipt.reply_text, "duplicate": receipt.duplicate}
                except ServiceUnavailable:
                    status, payload = 503, {}
                except MtsFaultError as exc:
                    status, payload = 500, {"code": exc.code, "message": exc.message, "side": exc.side}
                body = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        super().__init__(Handler)


def remote_submit_from_env() -> Callable[[InboundMessage], SmsReceipt]:
    """Submit factory for ``python -m gateway_client.bridge --submit-factory``: talks to a
    FakeMtsServer at $GW_FAKE_MTS_URL with GatewayClient's error contract."""
    url = os.environ["GW_FAKE_MTS_URL"] + "/submit"
    session = requests.Session()

    def submit(message: InboundMessage) -> SmsReceipt:
        payload = {
            "message_id": message.message_id, "sender": message.sender,
            "service_number": message.service_number, "text": message.text,
            "received_at": message.received_at.isoformat(), "channel": message.channel.value,
            "operator": message.operator,
        }
        try:
            response = session.post(url, json=payload, timeout=5)
        except requests.RequestException as exc:
            raise ServiceUnavailable(str(exc)) from exc
        if response.status_code == 503:
            raise ServiceUnavailable("503")
        data = response.json()
        if response.status_code != 200:
            raise MtsFaultError(data["code"], data["message"], side=data["side"])
        return SmsReceipt(message_id=data["message_id"], outcome=ReceiptOutcome(data["outcome"]),
                          reply_text=data["reply_text"], duplicate=data["duplicate"])

    return submit


def wait_until(predicate: Callable[[], bool], *, timeout: float = 30.0, interval: float = 0.05,
               message: str = "condition") -> None:
    """Bounded polling: no test asserts on durations, they only wait for facts."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {message}")
        time.sleep(interval)

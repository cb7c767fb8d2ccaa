"""The Kannel bridge: the HTTP endpoint that smsbox's ``sms-service`` calls for each MO.

Per call (``GET /kannel?msgid=%I&from=%p&to=%P&text=%b&coding=%c&charset=%C&smsc=%i&ts=%T``):

1. store the MO in the spool (before anything else: Kannel considers the MO handled as soon
   as its HTTP call starts);
2. submit it to the MTS once, waiting at most ``sync_timeout``;
3. receipt in time → ``200 text/plain; charset=utf-8`` with the reply (``X-Kannel-Coding: 2``
   when it needs UCS-2), which Kannel sends to the phone;
   MTS down, slow or Server fault → ``202`` with an empty body (Kannel sends nothing) and the
   retry worker resubmits with backoff under the same message id, then pushes the reply as
   an MT through sendsms; Client fault → recorded as failed, logged, never retried.

A Kannel retry of a call still running (same ``%I``) never submits a second time: the spool
lease plus an in-process map of running submissions serialise them, and the retry waits
for the running one's outcome. A restart resumes the spool.
"""

from __future__ import annotations

import argparse
import codecs
import importlib
import logging
import os
import secrets
import signal
import socketserver
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import datetime, timedelta
from typing import Callable, Iterable
from urllib.parse import parse_qsl
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from mts_service.clock import UTC, Clock, SystemClock

from .errors import MtsFaultError, ServiceUnavailable
from .models import Channel, InboundMessage, SmsReceipt
from .sendsms import Sender, SendFailed, needs_ucs2
from .spool import PENDING, Jitter, Spool, SpoolEntry, next_delay

log = logging.getLogger(__name__)

Submit = Callable[[InboundMessage], SmsReceipt]
StartResponse = Callable[..., object]

_MAX_BODY = 64 * 1024
_UTF16_NAMES = ("utf-16", "utf16", "ucs-2", "ucs2", "iso-10646-ucs-2")


class BadKannelRequest(ValueError):
    """The call lacks what the bridge needs (most likely a get-url without ``msgid=%I``)."""


# -- request parsing ------------------------------------------------------------------------

def decode_text(raw: bytes, *, coding: str | None, charset: str | None) -> str:
    """Decode ``%b`` the way Kannel encoded it.

    ``coding=2`` without mo-recode is raw UTF-16BE (Kannel's UCS-2 is big-endian); with
    mo-recode Kannel says ``charset=UTF-8``. Any other declared charset is honoured; with no
    usable charset, UTF-8 is tried before Latin-1 (which cannot fail).
    """
    name = (charset or "").strip().lower()
    if coding == "2" and (not name or name.startswith(_UTF16_NAMES)):
        return raw.decode("utf-16-be", errors="replace")
    if name:
        try:
            codecs.lookup(name)
        except LookupError:
            log.warning("unknown charset %r from Kannel; guessing", charset)
        else:
            return raw.decode(name, errors="replace")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _content_charset(content_type: str) -> str | None:
    for part in content_type.split(";")[1:]:
        key, _, value = part.strip().partition("=")
        if key.strip().lower() == "charset":
            return value.strip().strip('"') or None
    return None


def parse_kannel_request(environ: dict, *, clock: Clock) -> InboundMessage:
    """Build the InboundMessage from one sms-service call (get-url or post-url).

    Query values are percent-decoded to bytes first (Latin-1 maps byte for byte), so ``%b``
    keeps its raw octets until ``decode_text`` knows the coding. With post-url the text is
    the body and its charset is in Content-Type; the ids stay in the query string.
    """
    pairs = parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True, encoding="latin-1")
    raw = {key: value.encode("latin-1") for key, value in pairs}

    def field(name: str, header: str | None = None) -> str | None:
        if name in raw:
            return raw[name].decode("utf-8", errors="replace").strip()
        if header:
            value = environ.get("HTTP_" + header.upper().replace("-", "_"))
            return value.strip() if value else None
        return None

    coding = field("coding", "X-Kannel-Coding")
    charset = field("charset")
    if environ.get("REQUEST_METHOD", "GET").upper() == "POST":
        length = int(environ.get("CONTENT_LENGTH") or 0)
        if length > _MAX_BODY:
            raise BadKannelRequest("body too large")
        body = environ["wsgi.input"].read(length) if length else b""
        text_bytes = body or raw.get("text", b"")
        charset = _content_charset(environ.get("CONTENT_TYPE", "")) or charset
    else:
        text_bytes = raw.get("text", b"")

    message_id = field("msgid")
    sender = field("from", "X-Kannel-From")
    service_number = field("to", "X-Kannel-To")
    if not message_id or message_id.startswith("%"):
        raise BadKannelRequest("missing msgid: the get-url must carry msgid=%I")
    if not sender or not service_number:
        raise BadKannelRequest("missing from/to")

    received_at = clock.now()
    ts = field("ts")
    if ts and ts.isdigit():
        received_at = datetime.fromtimestamp(int(ts), UTC)

    return InboundMessage(
        message_id=message_id,
        # A masked sender ("opaque1", "Orange") is an opaque id: passed through as is.
        sender=sender,
        service_number=service_number,
        text=decode_text(text_bytes, coding=coding or None, charset=charset or None),
        received_at=received_at,
        channel=Channel.SMS,
        operator=field("smsc") or None,
    )


# -- the bridge -----------------------------------------------------------------------------

class Bridge:
    """Spool-first Kannel endpoint plus the retry worker that finishes what the call could not."""

    def __init__(
        self,
        spool: Spool,
        submit: Submit,
        *,
        sender: Sender,
        clock: Clock | None = None,
        rng: Jitter | None = None,
        sync_timeout: float = 5.0,
        lease: timedelta = timedelta(minutes=2),
        poll_interval: float = 1.0,
        base_delay: float = 2.0,
        max_delay: float = 300.0,
        batch: int = 50,
        max_workers: int = 8,
    ) -> None:
        """
        Args:
            submit: ``GatewayClient.submit_sms`` or any callable with its contract
                (ServiceUnavailable when unreachable, MtsFaultError for SOAP faults).
            sender: where late replies go (``KannelSender``).
            sync_timeout: how long a Kannel call waits for the MTS before answering 202;
                keep it well under smsbox's http-timeout.
            lease: how long a submission may hold a message; longer than the submit's own
                timeout.
        """
        self.spool = spool
        self._submit = submit
        self._sender = sender
        self._clock = clock or SystemClock()
        self._rng = rng or secrets.SystemRandom()
        self.sync_timeout = sync_timeout
        self._lease = lease
        self._poll_interval = poll_interval
        self._base_delay = base_delay
        self._max_delay = max_delay
        self._batch = batch
        self._executor = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="mts-submit")
        self._inflight: dict[str, Future[None]] = {}
        self._inflight_lock = threading.Lock()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._worker: threading.Thread | None = None

    # -- lifecycle --------------------------------------------------------------------------
    def start(self) -> None:
        """Resume the spool and start the retry worker."""
        released = self.spool.release_all()
        orphans = self.spool.defer_orphan_replies()
        if released or orphans:
            log.info("spool resumed: %d leases released, %d replies handed to sendsms", released, orphans)
        self._stop.clear()
        self._worker = threading.Thread(target=self._run_worker, name="mts-bridge-retry", daemon=True)
        self._worker.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._worker is not None:
            self._worker.join(timeout)
        self._executor.shutdown(wait=True)

    # -- WSGI -------------------------------------------------------------------------------
    def __call__(self, environ: dict, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO", "/") == "/health":
            return _respond(start_response, "200 OK", "ok")
        if environ.get("REQUEST_METHOD", "GET").upper() not in ("GET", "POST"):
            return _respond(start_response, "405 Method Not Allowed", "")
        try:
            message = parse_kannel_request(environ, clock=self._clock)
        except BadKannelRequest as exc:
            log.error("refused Kannel call: %s (query %r)", exc, environ.get("QUERY_STRING", "")[:200])
            return _respond(start_response, "400 Bad Request", str(exc))
        status, reply = self.handle_mo(message)
        return _respond(start_response, status, reply or "")

    def handle_mo(self, message: InboundMessage) -> tuple[str, str | None]:
        """Spool, submit once, and decide the HTTP answer: (status line, reply text or None)."""
        if not self.spool.store(message):
            log.info("Kannel retry for %s", message.message_id)
        entry = self.spool.get(message.message_id)
        if entry is not None and entry.state == PENDING:
            self._await(message.message_id, self._start_attempt(entry))
        reply = self.spool.take_http_reply(message.message_id)
        if reply:
            return "200 OK", reply
        # Not done in time, failed, or its reply already goes by sendsms: nothing now.
        self.spool.defer_reply(message.message_id)
        self._wake.set()
        return "202 Accepted", None

    def _await(self, message_id: str, future: Future[None] | None) -> None:
        deadline = time.monotonic() + self.sync_timeout
        if future is not None:
            try:
                future.result(timeout=self.sync_timeout)
            except FutureTimeout:
                log.info("MTS slow for %s: answering 202, reply will follow by sendsms", message_id)
            return
        # Claimed by another process sharing the spool: watch the row for a while.
        while time.monotonic() < deadline:
            entry = self.spool.get(message_id)
            if entry is None or entry.state != PENDING:
                return
            time.sleep(0.05)

    # -- submissions ------------------------------------------------------------------------
    def _start_attempt(self, entry: SpoolEntry, *, from_worker: bool = False) -> Future[None] | None:
        """Submit ``entry`` in the pool unless a submission for its id is already running;
        returns the running submission's future either way (None if another process has it)."""
        message_id = entry.message.message_id
        with self._inflight_lock:
            running = self._inflight.get(message_id)
            if running is not None:
                return running
            if not self.spool.claim(message_id, lease=self._lease):
                return None
            future = self._executor.submit(self._attempt, entry, from_worker)
            self._inflight[message_id] = future
        return future

    def _attempt(self, entry: SpoolEntry, from_worker: bool) -> None:
        message = entry.message
        attempt = entry.attempts + 1
        try:
            try:
                receipt = self._submit(message)
            except MtsFaultError as exc:
                if exc.retryable:
                    self._schedule_retry(message.message_id, attempt, str(exc))
                else:
                    log.error("MTS refused %s for good (%s): not retried", message.message_id, exc)
                    self.spool.mark_failed(message.message_id, str(exc))
                return
            except ServiceUnavailable as exc:
                self._schedule_retry(message.message_id, attempt, f"unavailable: {exc}")
                return
            except Exception as exc:  # a bug or an unexpected transport error: keep the message
                log.exception("submit of %s raised unexpectedly", message.message_id)
                self._schedule_retry(message.message_id, attempt, f"{exc.__class__.__name__}: {exc}")
                return
            self.spool.mark_done(message.message_id, receipt)
            log.info("submitted %s: %s (attempt %d)", message.message_id, receipt.outcome.value, attempt)
            if from_worker:
                # Nobody is waiting on an HTTP call for it: the reply goes by sendsms.
                self.spool.defer_reply(message.message_id)
                self._wake.set()
        finally:
            with self._inflight_lock:
                self._inflight.pop(message.message_id, None)

    def _schedule_retry(self, message_id: str, attempt: int, error: str) -> None:
        delay = next_delay(attempt, self._rng, base=self._base_delay, cap=self._max_delay)
        next_at = self._clock.now() + timedelta(seconds=delay)
        self.spool.mark_retry(message_id, attempt, next_at, error)
        log.warning("%s not submitted (%s): retry %d in %.1fs", message_id, error, attempt, delay)

    # -- the retry worker -------------------------------------------------------------------
    def run_due_once(self, *, wait: bool = True) -> int:
        """One pass of the worker: start due submissions, then send due replies. Returns how
        many submissions were started. Tests call it directly."""
        now = self._clock.now()
        started = []
        for entry in self.spool.due(now, self._batch):
            future = self._start_attempt(entry, from_worker=True)
            if future is not None:
                started.append(future)
        if wait:
            for future in started:
                future.result()
        self.send_due_replies()
        return len(started)

    def send_due_replies(self) -> int:
        sent = 0
        for entry in self.spool.replies_due(self._clock.now(), self._batch):
            message, receipt = entry.message, entry.receipt
            text = receipt.reply_text if receipt else ""
            if text:
                try:
                    self._sender.send(message.sender, text, sender=message.service_number)
                except SendFailed as exc:
                    attempt = entry.reply_attempts + 1
                    delay = next_delay(attempt, self._rng, base=self._base_delay, cap=self._max_delay)
                    self.spool.mark_reply_retry(
                        message.message_id, attempt, self._clock.now() + timedelta(seconds=delay), str(exc)
                    )
                    log.warning("late reply to %s not sent (%s): retry in %.1fs", message.message_id, exc, delay)
                    continue
                sent += 1
            self.spool.mark_reply_sent(message.message_id)
        return sent

    def _run_worker(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_due_once(wait=False)
            except Exception:  # the worker must outlive a locked database or a bad row
                log.exception("retry worker pass failed")
            self._wake.wait(self._poll_interval)
            self._wake.clear()


def _respond(start_response: StartResponse, status: str, body: str) -> list[bytes]:
    data = body.encode("utf-8")
    headers = [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(data)))]
    if body and status.startswith("200") and needs_ucs2(body):
        headers.append(("X-Kannel-Coding", "2"))
    start_response(status, headers)
    return [data]


# -- serving --------------------------------------------------------------------------------

class _ThreadingWSGIServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True
    # socketserver's default backlog is 5; smsbox opens up to max-pending-requests calls at
    # once (and all its queued retries together after a restart), and a SYN dropped on a
    # full backlog costs that MO a retransmission delay or, worse, one of its retries.
    request_queue_size = 128


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        log.debug("%s " + format, self.client_address[0], *args)


def make_bridge_server(bridge: Bridge, host: str, port: int) -> WSGIServer:
    """A threaded WSGI server for ``bridge`` (one thread per Kannel call)."""
    return make_server(host, port, bridge, server_class=_ThreadingWSGIServer, handler_class=_QuietHandler)


def serve_bridge(
    host: str,
    port: int,
    *,
    spool_path: str,
    submit: Submit,
    sender: Sender,
    clock: Clock | None = None,
    **bridge_options: object,
) -> None:
    """Run the bridge until SIGTERM/SIGINT: open the spool, resume it, serve Kannel."""
    clock = clock or SystemClock()
    spool = Spool(spool_path, clock=clock)
    bridge = Bridge(spool, submit, sender=sender, clock=clock, **bridge_options)  # type: ignore[arg-type]
    server = make_bridge_server(bridge, host, port)
    bridge.start()

    def _terminate(signum: int, frame: object) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _terminate)
    log.info("bridge listening on http://%s:%d/ (spool %s)", host, server.server_port, spool_path)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        bridge.stop()
        spool.close()


def _load_factory(spec: str) -> Callable[[], Submit]:
    module_name, _, attribute = spec.partition(":")
    if not attribute:
        raise SystemExit(f"--submit-factory must look like package.module:function, not {spec!r}")
    return getattr(importlib.import_module(module_name), attribute)


def main(argv: list[str] | None = None) -> None:
    """``python -m gateway_client.bridge``: the bridge with a pluggable submit function.

    The submit function comes from ``--submit-factory module:function`` (a zero-argument
    callable returning the submit callable, e.g. one building a GatewayClient); the CLI
    ``mts-gateway bridge`` wires GatewayClient.submit_sms directly.
    """
    from .bridge_options import add_tuning_arguments, tuning_options
    from .sendsms import KannelSender

    parser = argparse.ArgumentParser(prog="python -m gateway_client.bridge")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8088)
    parser.add_argument("--spool", required=True)
    parser.add_argument("--submit-factory", required=True)
    parser.add_argument("--sendsms-url", required=True)
    parser.add_argument("--sendsms-user", required=True)
    parser.add_argument("--sendsms-password", default=os.environ.get("MTS_SENDSMS_PASSWORD", ""))
    add_tuning_arguments(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    serve_bridge(
        args.host,
        args.port,
        spool_path=args.spool,
        submit=_load_factory(args.submit_factory)(),
        sender=KannelSender(args.sendsms_url, args.sendsms_user, args.sendsms_password),
        **tuning_options(args),
    )


if __name__ == "__main__":
    main()

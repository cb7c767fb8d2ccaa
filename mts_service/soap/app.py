"""make_wsgi_app: the three SOAP services, health and metrics behind one WSGI callable.

::

    POST /gateway, /shop, /admin   SOAP 1.1 (one Spyne application each)
    GET  /gateway?wsdl ...         the WSDL, exactly the file in wsdl/ (built once)
    GET  /healthz                  200 "ok" when the database answers SELECT 1, else 503
    GET  /metrics                  Prometheus exposition

Everything costly is done once, here: Spyne applications (their schema validators
included) and the WSDL documents. Per request the dispatcher only checks the size,
times the call and counts it. No security code: ``soap.security.SecurityMiddleware``
wraps the dispatcher, inside the request-id middleware, when WS-Security is on (see
``soap.wsgi``).
"""

from __future__ import annotations

import io
import logging
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from sqlalchemy import text
from sqlalchemy.engine import Engine

from mts_service.config import Settings
from mts_service.errors import ErrorCode
from mts_service.observability import RequestIdMiddleware, WsgiApp, current_request_id
from mts_service.services.context import ServiceContext
from mts_service.soap import faults
from mts_service.soap.base import FAULT_KEY, OPERATION_KEY, MtsWsgiApplication, call_buffered
from mts_service.soap.direct import DirectCalls
from mts_service.soap.metrics import SoapMetrics
from mts_service.soap.request_body import BodyRefused, announced_length, read_unannounced
from mts_service.soap.wsdl import SERVICE_NAMES, build_service

log = logging.getLogger("mts.soap")

StartResponse = Callable[..., Any]


@dataclass(frozen=True)
class _Mounted:
    name: str
    app: MtsWsgiApplication
    wsdl: bytes
    direct: DirectCalls


class SoapDispatcher:
    """Routes by path; refuses oversize bodies before Spyne reads them; records metrics."""

    def __init__(
        self, context: ServiceContext, *, max_request_bytes: int, engine: Engine | None = None,
        metrics: SoapMetrics | None = None,
    ) -> None:
        self.max_request_bytes = max_request_bytes
        self.engine = engine
        self.metrics = metrics or SoapMetrics()
        self.services: dict[str, _Mounted] = {}
        for name in SERVICE_NAMES:
            app, wsdl = build_service(name, context, max_request_bytes=max_request_bytes)
            self.services["/" + name] = _Mounted(name, app, wsdl, DirectCalls(app.app, app.event_manager))

    def __call__(self, environ: dict, start_response: StartResponse) -> Iterable[bytes]:
        path = (environ.get("PATH_INFO") or "/").rstrip("/") or "/"
        method = environ.get("REQUEST_METHOD", "GET").upper()
        mounted = self.services.get(path)
        if mounted is not None:
            if method == "POST":
                return self._soap(mounted, environ, start_response)
            if method in ("GET", "HEAD") and environ.get("QUERY_STRING", "").lower().split("=")[0] == "wsdl":
                return _respond(start_response, "200 OK", mounted.wsdl, "text/xml; charset=utf-8", head=method == "HEAD")
            return _respond(start_response, "405 Method Not Allowed", b"POST a SOAP 1.1 request, or GET ?wsdl\n",
                            "text/plain; charset=utf-8", extra=[("Allow", "GET, HEAD, POST")])
        if path == "/healthz" and method in ("GET", "HEAD"):
            return self._health(start_response, head=method == "HEAD")
        if path == "/metrics" and method in ("GET", "HEAD"):
            body, content_type = self.metrics.exposition()
            return _respond(start_response, "200 OK", body, content_type, head=method == "HEAD")
        return _respond(start_response, "404 Not Found", b"not found\n", "text/plain; charset=utf-8")

    # -- SOAP --------------------------------------------------------------------------

    def _soap(self, mounted: _Mounted, environ: dict, start_response: StartResponse) -> Iterable[bytes]:
        started = time.perf_counter()
        try:
            refusal = self._cap_body(environ)
            if refusal is not None:
                environ[FAULT_KEY] = refusal[0]
                return _fault(start_response, *refusal)
            # A verified request of a planned operation skips Spyne's request loop (soap.direct).
            answered = mounted.direct.answer(environ)
            if answered is not None:
                status, headers = answered
                start_response(status, headers + [("Content-Length", "0")])   # the tree is in the environ
                return [b""]
            return _buffered(mounted.app, environ, start_response)
        except Exception:
            log.exception("unexpected error serving %s", mounted.name)
            environ[FAULT_KEY] = ErrorCode.INTERNAL_ERROR
            return _fault(start_response, ErrorCode.INTERNAL_ERROR, faults.GENERIC_MESSAGE)
        finally:
            code = environ.get(FAULT_KEY)
            self.metrics.observe(
                mounted.name, environ.get(OPERATION_KEY, "unknown"), time.perf_counter() - started,
                code.value if code is not None else None, code is not None and code.side.value == "Server",
            )

    def _cap_body(self, environ: dict) -> tuple[ErrorCode, str] | None:
        """Refuse a body over the cap unparsed (see ``request_body``). A body with a
        Content-Length is left for Spyne to read; a chunked one is buffered here.

        The security middleware caps too, but this app must be safe on its own.
        """
        try:
            if announced_length(environ, self.max_request_bytes) is not None:
                return None
            body = read_unannounced(environ, self.max_request_bytes)
        except BodyRefused as refused:
            return refused.code, refused.message
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        return None

    # -- health ------------------------------------------------------------------------

    def _health(self, start_response: StartResponse, *, head: bool) -> Iterable[bytes]:
        if self.engine is None:
            return _respond(start_response, "200 OK", b"ok\n", "text/plain; charset=utf-8", head=head)
        try:
            # DEFERRED: on SQLite the engine's transactions otherwise begin IMMEDIATE, and a
            # probe must never take (or wait for) the write lock. Other dialects ignore it.
            with self.engine.connect() as conn:
                conn.execution_options(sqlite_begin="DEFERRED").execute(text("SELECT 1"))
        except Exception as exc:  # the reason goes to the log, not to the prober
            log.warning("health check failed: %s", type(exc).__name__)
            return _respond(start_response, "503 Service Unavailable", b"database unavailable\n",
                            "text/plain; charset=utf-8", head=head)
        return _respond(start_response, "200 OK", b"ok\n", "text/plain; charset=utf-8", head=head)


def make_wsgi_app(
    ctx: ServiceContext, settings: Settings, *, engine: Engine | None = None, metrics: SoapMetrics | None = None,
    middleware: Callable[[WsgiApp], WsgiApp] | None = None,
) -> WsgiApp:
    """The MTS WSGI application (request ids included), without WS-Security.

    ``engine`` is what ``/healthz`` probes; without it ``/healthz`` only says the process is up.
    ``middleware``, if given, wraps the dispatcher inside the one request-id middleware
    (``soap.wsgi`` puts the WS-Security layer there, so that its refusals carry the id).
    """
    app: WsgiApp = SoapDispatcher(ctx, max_request_bytes=settings.max_request_bytes, engine=engine, metrics=metrics)
    if middleware is not None:
        app = middleware(app)
    return RequestIdMiddleware(app)


def _buffered(app: Callable[..., Any], environ: dict, start_response: StartResponse) -> list[bytes]:
    """Run a Spyne app and answer with one buffer and its Content-Length.

    Spyne's unchunked mode is broken on Python 3 (it joins bytes with a str) and its
    chunked mode drops Content-Length; SOAP answers are small, so buffer them here.
    """
    status, headers, body = call_buffered(app, environ)
    headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
    start_response(status, headers + [("Content-Length", str(len(body)))])
    return [body]


def _fault(start_response: StartResponse, code: ErrorCode, message: str) -> list[bytes]:
    body = faults.fault_envelope(code, message, current_request_id())
    start_response(faults.HTTP_STATUS, [("Content-Type", faults.CONTENT_TYPE), ("Content-Length", str(len(body)))])
    return [body]


def _respond(
    start_response: StartResponse, status: str, body: bytes, content_type: str, *, head: bool = False,
    extra: list[tuple[str, str]] | None = None,
) -> list[bytes]:
    start_response(status, [("Content-Type", content_type), ("Content-Length", str(len(body)))] + (extra or []))
    return [] if head else [body]

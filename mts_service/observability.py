"""Structured logs and request ids.

Every log line is one JSON object and carries the id of the request being served (a
contextvar, so threads of a gthread worker do not mix them up). The id is taken from a
well-formed incoming ``X-Request-Id`` (so a gateway can correlate its own logs) or
generated, put in ``environ["mts.request_id"]`` for the layers below (the security
middleware reads it there) and returned in the ``X-Request-Id`` response header.

Not named ``logging.py`` on purpose: no shadowing of the standard library.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import secrets
import sys
import time
from typing import Any, Callable, Iterable

REQUEST_ID_HEADER = "X-Request-Id"
ENVIRON_KEY = "mts.request_id"
_WELL_FORMED_ID = re.compile(r"^[A-Za-z0-9._:-]{8,64}$")
_NO_REQUEST = "-"

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("mts_request_id", default=_NO_REQUEST)

# Attributes every LogRecord has; anything else was passed with ``extra=`` and is logged too.
_STANDARD_ATTRS = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "request_id"}


def new_request_id() -> str:
    return secrets.token_hex(8)


def current_request_id() -> str:
    """The id of the request being served, or a fresh one outside any request."""
    value = request_id_var.get()
    return new_request_id() if value == _NO_REQUEST else value


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request_id, extras, exc."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": request_id_var.get(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                line[key] = value if isinstance(value, (str, int, float, bool, type(None))) else repr(value)
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def configure_logging(level: str | int = "INFO", *, stream: Any = None) -> None:
    """JSON lines on stderr for the root logger. Idempotent (safe in every worker)."""
    root = logging.getLogger()
    handler = next((h for h in root.handlers if getattr(h, "_mts_json", False)), None)
    if handler is None:
        handler = logging.StreamHandler(stream or sys.stderr)
        handler._mts_json = True  # type: ignore[attr-defined]
        handler.setFormatter(JsonFormatter())
        root.addHandler(handler)
    root.setLevel(level)
    logging.getLogger("spyne").setLevel(logging.WARNING)  # Spyne is chatty at INFO


WsgiApp = Callable[[dict, Callable[..., Any]], Iterable[bytes]]


class RequestIdMiddleware:
    """Give each request an id: environ, contextvar (for every log line) and response header.

    Put it outermost (before the security middleware) so that refusals made there carry
    the id too. Nested twice, the inner one reuses the outer one's id.
    """

    def __init__(self, app: WsgiApp) -> None:
        self.app = app

    def __call__(self, environ: dict, start_response: Callable[..., Any]) -> Iterable[bytes]:
        request_id = environ.get(ENVIRON_KEY) or _incoming_id(environ) or new_request_id()
        environ[ENVIRON_KEY] = request_id
        token = request_id_var.set(request_id)

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            if not any(name.lower() == "x-request-id" for name, _ in headers):
                headers = list(headers) + [(REQUEST_ID_HEADER, request_id)]
            return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)

        try:
            return self.app(environ, start)
        finally:
            request_id_var.reset(token)


def _incoming_id(environ: dict) -> str | None:
    value = (environ.get("HTTP_X_REQUEST_ID") or "").strip()
    return value if _WELL_FORMED_ID.match(value) else None

"""In-process plumbing: a zeep transport that calls a WSGI app, and raw WSGI calls."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any, Callable

import requests
from zeep import Client, Settings as ZeepSettings
from zeep.transports import Transport

ROOT = Path(__file__).resolve().parents[2]
WSDL_DIR = ROOT / "wsdl"
SECRET = bytes(range(32))
MAX_BYTES = 64 * 1024


class WsgiTransport(Transport):
    """A zeep transport that hands each POST to a WSGI app instead of the network."""

    def __init__(self, app: Callable[..., Any], base: str = "http://mts.test") -> None:
        super().__init__()
        self.app = app
        self.base = base
        self.last_headers: dict[str, str] = {}

    def post(self, address: str, message: bytes | str, headers: dict[str, str]) -> requests.Response:
        body = message.encode("utf-8") if isinstance(message, str) else message
        status, response_headers, payload = call_wsgi(self.app, "POST", address.replace(self.base, ""), body, headers)
        self.last_headers = dict(response_headers)
        response = requests.Response()
        response.status_code = int(status.split()[0])
        response.headers.update(response_headers)
        response._content = payload
        response.encoding = "utf-8"
        return response


def call_wsgi(
    app: Callable[..., Any], method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None,
    *, content_length: bool = True,
) -> tuple[str, list[tuple[str, str]], bytes]:
    path, _, query = path.partition("?")
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_NAME": "mts.test",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": io.StringIO(),
        "CONTENT_TYPE": "text/xml; charset=utf-8",
    }
    if content_length:
        environ["CONTENT_LENGTH"] = str(len(body))
    else:
        environ["wsgi.input_terminated"] = True
    for name, value in (headers or {}).items():
        key = name.upper().replace("-", "_")
        environ[key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else f"HTTP_{key}"] = value
    captured: dict[str, Any] = {}

    def start_response(status: str, response_headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        captured["status"], captured["headers"] = status, response_headers

    chunks = app(environ, start_response)
    payload = b"".join(chunks)
    return captured["status"], captured["headers"], payload


def zeep_client(name: str, transport: Transport, address: str) -> Any:
    """A zeep service proxy built from wsdl/<name>.wsdl, bound to ``address``."""
    client = Client(str(WSDL_DIR / f"{name}.wsdl"), transport=transport, settings=ZeepSettings(strict=True))
    binding = {"gateway": "GatewayService", "shop": "ShopService", "admin": "AdminService"}[name]
    return client, client.create_service(f"{{urn:mts:{name}:v1}}{binding}", address)

"""Fixtures of the SOAP layer tests: the WSGI app on a SQLite copy, zeep clients built
from the checked-in wsdl/ files and talking to the app in-process, and raw posting.

In-process means through the whole WSGI stack (request id, size cap, Spyne parsing and
schema validation, fault rendering) with zeep serialising and parsing real XML: only the
socket is missing. The gunicorn test (test_soap_server.py) adds it.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path
from typing import Any, Callable

import pytest
import requests
from sqlalchemy.engine import Engine
from zeep import Client, Settings as ZeepSettings
from zeep.transports import Transport

from mts_service.clock import FixedClock
from mts_service.config import Settings
from mts_service.persistence.engine import make_engine
from mts_service.persistence.unit_of_work import uow_factory
from mts_service.services.context import ServiceContext
from mts_service.services.keys import ServiceKeys
from mts_service.soap.app import make_wsgi_app
from mts_service.soap.metrics import SoapMetrics

sys.path.insert(0, str(Path(__file__).parent))  # soap_helpers beside the tests

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


@pytest.fixture
def soap_clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def soap_engine(sqlite_database: str) -> Engine:
    engine = make_engine(sqlite_database)
    yield engine
    engine.dispose()


@pytest.fixture
def service_ctx(soap_engine: Engine, soap_clock: FixedClock) -> ServiceContext:
    return ServiceContext(uow_factory(soap_engine), soap_clock, ServiceKeys.from_secret(SECRET))


@pytest.fixture
def metrics() -> SoapMetrics:
    return SoapMetrics()


@pytest.fixture
def wsgi_app(service_ctx: ServiceContext, soap_engine: Engine, metrics: SoapMetrics):
    settings = Settings(security=False, max_request_bytes=MAX_BYTES)
    return make_wsgi_app(service_ctx, settings, engine=soap_engine, metrics=metrics)


def zeep_client(name: str, transport: Transport, address: str) -> Any:
    """A zeep service proxy built from wsdl/<name>.wsdl, bound to ``address``."""
    client = Client(str(WSDL_DIR / f"{name}.wsdl"), transport=transport, settings=ZeepSettings(strict=True))
    binding = {"gateway": "GatewayService", "shop": "ShopService", "admin": "AdminService"}[name]
    return client, client.create_service(f"{{urn:mts:{name}:v1}}{binding}", address)


@pytest.fixture
def clients(wsgi_app) -> dict[str, Any]:
    transport = WsgiTransport(wsgi_app)
    return {name: zeep_client(name, transport, f"http://mts.test/{name}") for name in ("gateway", "shop", "admin")}


@pytest.fixture
def gateway(clients):
    return clients["gateway"][1]


@pytest.fixture
def shop(clients):
    return clients["shop"][1]


@pytest.fixture
def admin(clients):
    return clients["admin"][1]

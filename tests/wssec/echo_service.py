"""A bare Spyne echo service behind SecurityMiddleware, as the tests' stand-in for the MTS services."""

from __future__ import annotations

from typing import Callable

from spyne import Application, ServiceBase, Unicode, rpc
from spyne.model.fault import Fault
from spyne.protocol.soap import Soap11
from spyne.server.wsgi import WsgiApplication

TNS = "urn:mts:test:echo"


class EchoService(ServiceBase):
    @rpc(Unicode, _returns=Unicode)
    def Echo(ctx, text):  # noqa: N802,N805 - SOAP operation name
        if text == "boom":
            raise Fault("Client.Boom", "the echo refused")
        if text == "crash":
            raise RuntimeError("secret internal detail")
        return text


def echo_wsgi_app(*, handoff: bool = False) -> WsgiApplication:
    """The echo app; ``handoff=True`` uses MTS's protocol (verified tree in, response tree out)."""
    from mts_service.soap.base import MtsSoap11

    protocol = MtsSoap11 if handoff else Soap11
    application = Application(
        [EchoService], tns=TNS, name="Echo", in_protocol=protocol(validator="lxml"), out_protocol=protocol()
    )
    return WsgiApplication(application)


class Router:
    """Mounts the echo app on /gateway, /shop and /admin, plus a GET /healthz; records what the app received."""

    def __init__(self, *, handoff: bool = False) -> None:
        self.echo = echo_wsgi_app(handoff=handoff)
        self.received: list[bytes] = []
        self.environs: list[dict] = []

    def __call__(self, environ: dict, start_response: Callable) -> list[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/healthz":
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [b"ok"]
        if path == "/explode":
            raise RuntimeError("router exploded")
        if environ["REQUEST_METHOD"] == "POST":
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = environ["wsgi.input"].read(length)
            self.received.append(body)
            self.environs.append(environ)
            import io

            environ["wsgi.input"] = io.BytesIO(body)
        return self.echo(environ, start_response)

"""The bare Spyne echo service of ``mts-service bench``: no signatures, no database.

Same Spyne protocol settings as the MTS services (SOAP 1.1 in and out, lxml schema
validation of requests), one operation that returns its text. gunicorn target:
``mts_service.benchmark.echo:application``.
"""

from __future__ import annotations

from spyne import Application, ServiceBase, Unicode, rpc
from spyne.protocol.soap import Soap11
from spyne.server.wsgi import WsgiApplication

from mts_service.soap import worker_gc

TNS = "urn:mts:bench:echo"


class EchoService(ServiceBase):
    @rpc(Unicode, _returns=Unicode)
    def Echo(ctx, text):  # noqa: N802,N805 - SOAP operation name
        return text


def _healthz_or(app: WsgiApplication):  # noqa: ANN202
    def route(environ, start_response):  # noqa: ANN001,ANN202
        if environ.get("PATH_INFO") == "/healthz":
            start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
            return [b"ok"]
        return app(environ, start_response)

    return route


worker_gc.quiet_spyne()  # the MTS workers' collector settings (soap.worker_gc), the same here
application = _healthz_or(WsgiApplication(Application(
    [EchoService], tns=TNS, name="Echo", in_protocol=Soap11(validator="lxml"), out_protocol=Soap11())))
worker_gc.after_start_up()


def echo_request(text: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">'
        f'<soap:Body><e:Echo xmlns:e="{TNS}"><e:text>{text}</e:text></e:Echo></soap:Body></soap:Envelope>'
    ).encode()

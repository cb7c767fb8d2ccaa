"""The bare Spyne echo service of ``mts-service bench``: no signatures, no database.

Same Spyne protocol settings as the MTS services (SOAP 1.1 in and out, lxml schema
validation of requests), one operation that returns its text. gunicorn target:
``mts_service.benchmark.echo:application``.
"""

from __future__ import annotations

import gc

from spyne import Application, ServiceBase, Unicode, rpc
from spyne.protocol.soap import Soap11
from spyne.server.wsgi import WsgiApplication

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


def _quiet_spyne_gc() -> None:
    # The MTS workers switch Spyne's forced gc.collect() off (soap.wsgi.quiet_spyne_gc): same here.
    import spyne.const

    spyne.const.MIN_GC_INTERVAL = float("inf")


_quiet_spyne_gc()
application = _healthz_or(WsgiApplication(Application(
    [EchoService], tns=TNS, name="Echo", in_protocol=Soap11(validator="lxml"), out_protocol=Soap11())))
gc.freeze()  # as the MTS workers do after start-up


def echo_request(text: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">'
        f'<soap:Body><e:Echo xmlns:e="{TNS}"><e:text>{text}</e:text></e:Echo></soap:Body></soap:Envelope>'
    ).encode()

"""soap.fast_ctx beside what Spyne builds itself: the method contexts, their copies, the
request handler and the event managers."""

from __future__ import annotations

import io
from typing import Any

from spyne import Application, ServiceBase, Unicode, rpc
from spyne.context import MethodContext
from spyne.evmgr import EventManager
from spyne.server.wsgi import WsgiApplication, WsgiMethodContext

from mts_service.soap.base import MtsSoap11, MtsWsgiApplication
from mts_service.soap.fast_ctx import MtsMethodContext, QuietEventManager, quieten

TNS = "urn:mts:test:fast-ctx"
ENVIRON = {
    "REQUEST_METHOD": "POST", "PATH_INFO": "/echo", "QUERY_STRING": "", "SERVER_NAME": "x", "SERVER_PORT": "80",
    "CONTENT_TYPE": "text/xml; charset=utf-8", "HTTP_HOST": "x", "HTTP_SOAPACTION": '""', "wsgi.url_scheme": "http",
}


class _Echo(ServiceBase):
    @rpc(Unicode, _returns=Unicode)
    def Echo(ctx, text):  # noqa: N802,N805
        return text


def wsgi() -> WsgiApplication:
    app = Application([_Echo], tns=TNS, in_protocol=MtsSoap11(validator="lxml"), out_protocol=MtsSoap11())
    return WsgiApplication(app)


def shape(value: Any) -> Any:
    """What a context entry is: the value itself, or for a per-request object its type
    (and what it points back to)."""
    if value is None or isinstance(value, (bool, int, float, str, dict)) or hasattr(value, "set_app"):
        return value
    return type(value)


def test_a_context_holds_what_spynes_holds_in_the_same_order():
    server = wsgi()
    created: list[tuple[str, Any]] = []
    server.app.event_manager.add_listener("method_context_created", lambda ctx: created.append((type(ctx).__name__,
                                                                                                ctx.transport)))
    spyne_ctx = WsgiMethodContext(server, dict(ENVIRON), "text/xml")
    ours = MtsMethodContext(server, dict(ENVIRON), "text/xml")
    assert list(vars(ours)) == list(vars(spyne_ctx))
    for key in vars(spyne_ctx):
        if key != "call_start":
            assert shape(vars(ours)[key]) == shape(vars(spyne_ctx)[key]), key
    assert ours.protocol is ours.inprot_ctx and ours.inprot_ctx.parent is ours and ours.event.parent is ours
    assert ours.files == [] and ours.files is not spyne_ctx.files and ours.frozen
    assert type(ours.transport) is type(spyne_ctx.transport)
    assert list(vars(ours.transport)) == list(vars(spyne_ctx.transport))
    for key, value in vars(spyne_ctx.transport).items():
        if key != "parent":
            assert vars(ours.transport)[key] == value, key
    assert ours.transport.parent is ours
    # The event fires before the transport is set, as in Spyne.
    assert created == [("WsgiMethodContext", None), ("MtsMethodContext", None)]


def test_a_context_still_refuses_new_attributes():
    ours = MtsMethodContext(wsgi(), dict(ENVIRON), "text/xml")
    try:
        ours.not_an_attribute = 1
    except ValueError:
        pass
    else:
        raise AssertionError("a frozen context took a new attribute")


def test_a_copy_is_what_copy_copy_makes():
    ours = MtsMethodContext(wsgi(), dict(ENVIRON), "text/xml")
    spynes = MethodContext.copy(ours)
    assert spynes.transport.parent is spynes
    mine = ours.copy()
    assert type(mine) is type(spynes) is MtsMethodContext
    assert list(vars(mine)) == list(vars(spynes))
    assert all(vars(mine)[k] is vars(spynes)[k] for k in vars(spynes))
    assert mine.transport.parent is mine and mine.inprot_ctx.parent is mine and mine.outprot_ctx.parent is mine
    assert mine.event.parent is mine


def test_the_request_handler_is_spynes_with_the_mts_context():
    assert MtsWsgiApplication.handle_rpc.__code__ is WsgiApplication.handle_rpc.__code__
    server = MtsWsgiApplication(wsgi().app)
    seen: list[type] = []
    server.event_manager.add_listener("wsgi_call", lambda ctx: seen.append(type(ctx)))
    server.app.event_manager.add_listener("method_call", lambda ctx: seen.append(type(ctx)))
    body = (f'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><e:Echo xmlns:e="{TNS}">'
            "<e:text>hello</e:text></e:Echo></s:Body></s:Envelope>").encode()
    environ = dict(ENVIRON, CONTENT_LENGTH=str(len(body)), **{"wsgi.input": io.BytesIO(body)})
    status: list[str] = []
    answer = b"".join(server(environ, lambda code, headers, exc=None: status.append(code)))
    assert status == ["200 OK"] and b"hello" in answer
    assert seen == [MtsMethodContext, MtsMethodContext]


def test_a_quiet_manager_runs_the_same_handlers_in_the_same_order():
    calls: list[tuple] = []
    manager = EventManager(None)
    manager.add_listener("e", lambda ctx, *a, **k: calls.append(("first", ctx, a, k)))
    manager.add_listener("e", lambda ctx, *a, **k: calls.append(("second", ctx, a, k)))
    quieten(manager)
    assert type(manager) is QuietEventManager
    manager.fire_event("e", "ctx", 1, x=2)
    manager.fire_event("nobody listens", "ctx")
    manager.add_listener("later", lambda ctx: calls.append(("later", ctx, (), {})))
    manager.fire_event("later", "c2")
    assert calls == [("first", "ctx", (1,), {"x": 2}), ("second", "ctx", (1,), {"x": 2}), ("later", "c2", (), {})]


def test_every_manager_an_mts_request_fires_on_is_quiet(service_ctx):
    from mts_service.soap.gateway import gateway_application

    app = gateway_application(service_ctx)
    managers = [app.event_manager, app.in_protocol.event_manager, app.out_protocol.event_manager]
    managers += [m for ds in app.interface.service_method_map.values() for d in ds for m in d.event_managers]
    managers.append(MtsWsgiApplication(app).event_manager)
    assert all(type(m) is QuietEventManager for m in managers)

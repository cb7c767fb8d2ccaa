"""Cheaper bookkeeping around Spyne's request path: method contexts and events.

Spyne's bookkeeping per request, before and after any XML work, was about 5 % of a signed
request's CPU (py-spy):

- ``MethodContext.__init__`` sets 36 attributes one by one through ``MethodContext.__setattr__``,
  a Python function (it refuses new attributes once the context is frozen);
  ``generate_method_contexts`` then copies the context with ``copy.copy``.
- ``EventManager.fire_event`` builds an empty ordered set for every event nobody listens
  to: 17 events a request, each on two or three managers.

``MtsMethodContext`` is a ``WsgiMethodContext`` that fills the same attributes, with the
same values and in the same order, straight into its ``__dict__``, and copies itself the
way ``copy.copy`` does; everything after construction (the freeze, the properties, the
events) is Spyne's. ``rpc_handler`` gives Spyne's own ``WsgiApplication.handle_rpc`` with
that class where it names ``WsgiMethodContext``: the same steps, events and error paths.
``QuietEventManager`` runs the same handlers in the same order and returns at once when
there are none. Tests compare the contexts with the ones Spyne builds.
"""

from __future__ import annotations

import types
from time import time
from typing import Any, Callable

import spyne.server.wsgi as spyne_wsgi
from spyne.context import EventContext
from spyne.evmgr import EventManager
from spyne.server.wsgi import WsgiApplication, WsgiMethodContext


class QuietEventManager(EventManager):
    """EventManager whose events without listeners cost one dictionary look-up."""

    def fire_event(self, event_name: str, ctx: Any, *args: Any, **kwargs: Any) -> None:
        handlers = self.handlers.get(event_name)
        if handlers is None:
            return
        for handler in handlers:
            handler(ctx, *args, **kwargs)


def quieten(manager: Any) -> None:
    """Make one of Spyne's own event managers a QuietEventManager, in place: whoever holds
    it (a descriptor, a service class) keeps the same object and the same handlers."""
    if type(manager) is EventManager:
        manager.__class__ = QuietEventManager


class MtsMethodContext(WsgiMethodContext):
    """A WsgiMethodContext built without 36 calls to ``MethodContext.__setattr__``.

    The attributes are MethodContext.__init__'s, in its order and with its values
    (``test_fast_ctx`` compares them with a context Spyne builds), then HttpMethodContext's
    transport; ``method_context_created`` fires where Spyne fires it, before the transport.
    """

    def __init__(self, transport: Any, req_env: dict, content_type: str) -> None:
        app = transport.app
        state = self.__dict__
        state.update(call_start=time(), call_end=None, is_closed=False, app=app, udc=None, transport=None)
        state["outprot_ctx"] = app.out_protocol.get_context(self, transport) if app.out_protocol is not None else None
        state["inprot_ctx"] = inprot_ctx = (
            app.in_protocol.get_context(self, transport) if app.in_protocol is not None else None
        )
        state.update(
            protocol=inprot_ctx, event=EventContext(self), aux=None, method_request_string=None, files=[],
            active=False, _MethodContext__descriptor=None,
            in_string=None, in_document=None, in_header_doc=None, in_body_doc=None, in_error=None, in_header=None,
            in_object=None, out_object=None, out_header=None, out_error=None, out_body_doc=None,
            out_header_doc=None, out_document=None, out_string=None, out_stream=None, function=None, locale=None,
            _in_protocol=app.in_protocol, _out_protocol=app.out_protocol, pusher_stack=[], frozen=True,
        )
        # No descriptor yet: only the application's listeners, as MethodContext.fire_event.
        app.event_manager.fire_event("method_context_created", self)
        state["transport"] = self.HttpTransportContext(self, transport, req_env, content_type)

    def copy(self) -> MtsMethodContext:
        """``MethodContext.copy``, with ``copy.copy``'s result (a new instance, the same
        ``__dict__`` entries) made directly."""
        retval = object.__new__(type(self))
        retval.__dict__.update(self.__dict__)
        for part in (retval.transport, retval.inprot_ctx, retval.outprot_ctx, retval.event, retval.aux):
            if part is not None:
                part.parent = retval
        return retval


def rpc_handler() -> Callable[..., Any]:
    """Spyne's own ``WsgiApplication.handle_rpc``, naming MtsMethodContext where it names
    WsgiMethodContext (its module's globals otherwise unchanged)."""
    spyne_rpc = WsgiApplication.handle_rpc
    scope = dict(spyne_wsgi.__dict__, WsgiMethodContext=MtsMethodContext)
    handler = types.FunctionType(spyne_rpc.__code__, scope, spyne_rpc.__name__, spyne_rpc.__defaults__,
                                 spyne_rpc.__closure__)
    handler.__qualname__ = spyne_rpc.__qualname__
    handler.__doc__ = spyne_rpc.__doc__
    return handler

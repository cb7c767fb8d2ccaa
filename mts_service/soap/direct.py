"""Direct calls: a verified request of a planned operation, served without Spyne's request loop.

Behind the security middleware, Spyne's ``handle_rpc`` did about 12 to 18 % of a signed
request's CPU in bookkeeping around the three things that matter: reading the operation's
arguments, calling the service method, writing its answer (py-spy, SubmitSms and
PlaceOrder): two method contexts with their transport and protocol contexts, a dozen event
firings, the envelope split, ``deserialize`` and ``serialize`` with their wrapper objects,
``process_request``, the WSGI headers and a generator chain, then the dispatcher buffering
what the generator yields.

``DirectCalls`` does those three things with Spyne's own parts, in Spyne's order:

1. the operation is the verified Body's one child element, looked up in the interface's
   ``service_method_map`` (as ``get_call_handles``);
2. the element is validated with the compiled lxml schema (``validate_body``) and read with
   ``fast_in.ReadPlan`` (Spyne's converters);
3. the method runs through ``MtsApplication.call_wrapper`` (the one place errors are
   translated), with the arguments Spyne's ``ServiceBase.call_wrapper`` would pass;
4. the answer is written by the out protocol's own ``to_parent`` (``fast_out.MemberPlan``
   where planned) into the Envelope ``Soap11.serialize`` builds, and left in
   ``environ[OUT_DOCUMENT_KEY]`` for the middleware to sign; a fault is rendered by
   ``base.render_fault``, as ``MtsWsgiApplication.handle_error`` renders it.

A method must return its answer, not a generator (Spyne's streaming, which no MTS method
uses): a generator cannot be written and ends as a Server fault.

Nothing is decided here that Spyne would decide differently: any request that is not the
ordinary case goes to Spyne whole, before anything ran — no verified tree, not exactly one
element child, an unknown operation, a schema-invalid element (Spyne renders that fault),
or anything ``ReadPlan`` leaves to Spyne. Operations with headers, auxiliary methods, MTOM,
several handlers or a bare body style are never planned, and an application with event
listeners of its own (other than MTS's ``method_call`` listener) gets no direct calls at
all. ``tests/soap/test_direct.py`` reads every direct request and writes every direct
answer Spyne's way too, and compares.
"""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass
from typing import Any

from lxml import etree
from spyne import BODY_STYLE_WRAPPED
from spyne.const.xml import DEFAULT_NS
from spyne.error import Fault
from spyne.model.complex import ComplexModelBase
import spyne.application as spyne_application

from mts_service.soap.base import (
    OUT_DOCUMENT_KEY,
    VERIFIED_BODY_KEY,
    MtsApplication,
    remember_operation,
    render_fault,
)
from mts_service.soap import faults
from mts_service.soap.fast_in import ReadPlan

log = logging.getLogger("mts.soap")

RESPONSE_HEADERS = (("Content-Type", faults.CONTENT_TYPE),)
"""What Spyne's WSGI layer answers a SOAP 1.1 call with, besides the Content-Length the
dispatcher and the middleware set (compared with Spyne's in the tests)."""


class DirectContext:
    """What a service method, ``MtsApplication.call_wrapper`` and the (de)serialisers use
    of a Spyne method context: the application, the descriptor and its function, the
    arguments, and the WSGI environ under ``transport.req_env``."""

    __slots__ = ("app", "descriptor", "function", "in_object", "transport", "udc")

    def __init__(self, app: MtsApplication, descriptor: Any, environ: dict) -> None:
        self.app = app
        self.descriptor = descriptor
        self.function = descriptor.function
        self.in_object: Any = None
        self.transport = _Transport(environ)
        self.udc = None


class _Transport:
    __slots__ = ("req_env",)

    def __init__(self, environ: dict) -> None:
        self.req_env = environ


@dataclass(frozen=True)
class Route:
    """One operation that can be called directly, planned once."""

    descriptor: Any
    read: ReadPlan
    in_keys: tuple[str, ...]
    out_cls: Any
    out_key: str | None
    """The response wrapper's one member (None for an operation that answers nothing)."""
    out_attrs: Any
    """The wrapper's class attributes, as ``serialize`` passes them to ``_safe_set``."""
    out_ns: str


class DirectCalls:
    """The direct calls of one MTS application (one SOAP service)."""

    enabled = True
    """Off: every request goes through Spyne (the tests compare both ways)."""

    def __init__(self, app: MtsApplication, wsgi_events: Any = None) -> None:
        """``wsgi_events``: the event manager of the WSGI application serving ``app``
        (its wsgi_call / wsgi_return listeners would not run for a direct call)."""
        self.app = app
        self.in_protocol = app.in_protocol
        self.out_protocol = app.out_protocol
        self.schema = getattr(self.in_protocol, "validation_schema", None)
        self._envelope = etree.Element(f"{{{self.out_protocol.ns_soap_env}}}Envelope", nsmap=app.interface.nsmap)
        self.routes: dict[str, Route] = {}
        if self.schema is None or not _only_mts_listeners(app) or (wsgi_events is not None and wsgi_events.handlers):
            return
        for tag, descriptors in app.interface.service_method_map.items():
            route = _route(app, descriptors) if len(descriptors) == 1 else None
            if route is not None:
                self.routes[tag] = route

    def answer(self, environ: dict) -> tuple[str, list[tuple[str, str]]] | None:
        """Serve the verified request in ``environ`` and leave the answer's envelope in
        ``environ[OUT_DOCUMENT_KEY]``: the status and headers, or None (before anything
        ran) when Spyne must serve it."""
        body = environ.get(VERIFIED_BODY_KEY)
        if body is None or OUT_DOCUMENT_KEY not in environ or not self.enabled:
            return None
        route = self.route(body)
        if route is None:
            return None
        ctx = DirectContext(self.app, route.descriptor, environ)
        args = self.read(ctx, route, body[0])
        if args is None:
            return None
        ctx.in_object = args
        remember_operation(ctx)
        try:
            value = self.app.call_wrapper(ctx)
        except Fault as fault:  # MtsApplication.call_wrapper turned every error into one
            return self._fault(ctx, fault)
        try:
            envelope = self.write(ctx, route, value)
        except Exception as exc:  # as Spyne: logged, and a Server fault
            log.exception("could not write the answer of %s", route.descriptor.name)
            return self._fault(ctx, Fault("Server", spyne_application.get_fault_string_from_exception(exc)))
        environ[OUT_DOCUMENT_KEY] = envelope
        return "200 OK", list(RESPONSE_HEADERS)

    def route(self, body: etree._Element) -> Route | None:
        """The operation of a Body holding exactly one element (what Spyne takes as the
        operation: its first child), if it can be called directly."""
        if len(body) != 1:
            return None
        return self.routes.get(body[0].tag)   # a comment's or a PI's tag is not a string key

    def read(self, ctx: DirectContext, route: Route, element: etree._Element) -> tuple[Any, ...] | None:
        """The method's arguments, as ``ServiceBase.call_wrapper`` passes them (the request
        instance's members in order), or None when Spyne must read the element."""
        if not self.in_protocol.fast_in or not self.schema.validate(element):
            return None   # Spyne validates again and renders the fault
        try:
            inst = route.read.read(self.in_protocol, ctx, element)
        except Exception:   # noqa: BLE001 - nothing ran yet: Spyne reads it again, value or refusal
            return None
        values = inst.__dict__
        return tuple(values.get(key) for key in route.in_keys)

    def write(self, ctx: DirectContext, route: Route, value: Any) -> etree._Element:
        """``Soap11.serialize`` of a wrapped answer: the Envelope with the interface's
        namespaces, its Body, the response wrapper with the method's one return value."""
        protocol = self.out_protocol
        # A copy of an empty Envelope with the interface's namespaces (15 or 16): making one with
        # that nsmap cost 31 us, copying it 6 us (the bytes are compared with Spyne's in tests).
        envelope = copy.deepcopy(self._envelope)
        out_body = etree.Element(f"{{{protocol.ns_soap_env}}}Body")
        wrapper = route.out_cls()
        if route.out_key is not None:   # as serialize sets it
            wrapper._safe_set(route.out_key, value, route.out_cls, route.out_attrs)
        protocol.to_parent(ctx, route.out_cls, wrapper, out_body, route.out_ns)
        envelope.append(out_body)
        if protocol.cleanup_namespaces:
            etree.cleanup_namespaces(envelope)
        return envelope

    def _fault(self, ctx: DirectContext, fault: Fault) -> tuple[str, list[tuple[str, str]]]:
        environ = ctx.transport.req_env
        render_fault(environ, fault, None, ctx.descriptor.name)
        return faults.HTTP_STATUS, list(RESPONSE_HEADERS)


def _route(app: MtsApplication, descriptors: list[Any]) -> Route | None:
    descriptor = descriptors[0]
    in_cls, out_cls = descriptor.in_message, descriptor.out_message
    if (
        descriptor.body_style is not BODY_STYLE_WRAPPED
        or descriptor.in_header or descriptor.out_header or descriptor.aux is not None or descriptor.mtom
        or not descriptor.no_self or descriptor.no_ctx or descriptor.function is None
        or len(out_cls._type_info) > 1
        or not issubclass(out_cls, ComplexModelBase)
        or any(manager.handlers for manager in descriptor.event_managers)
    ):
        return None
    protocol = app.in_protocol
    if getattr(protocol.deserialization_handlers[in_cls], "__func__", None) is not type(protocol).complex_from_element:
        return None   # read by something other than the protocol's complex_from_element
    plan = ReadPlan.build(protocol, in_cls)
    if plan is None:
        return None
    out_ns = out_cls.get_namespace()
    if out_ns in (None, DEFAULT_NS):
        return None
    out_key = next(iter(out_cls._type_info), None)
    return Route(descriptor, plan, tuple(in_cls._type_info.keys()), out_cls, out_key,
                 app.out_protocol.get_cls_attrs(out_cls), out_ns)


def _only_mts_listeners(app: MtsApplication) -> bool:
    """Spyne fires events around every step; a direct call fires none, so it is only for
    applications where nobody listens but MTS's own ``method_call`` listener (which a
    direct call runs itself)."""
    for event, handlers in app.event_manager.handlers.items():
        if event != "method_call" or list(handlers) != [remember_operation]:
            return False
    managers = [app.in_protocol.event_manager, app.out_protocol.event_manager]
    return not any(manager.handlers for manager in managers)

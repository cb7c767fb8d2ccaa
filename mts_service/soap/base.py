"""What the three Spyne applications share: error translation, fault rendering, the context.

- ``MtsApplication.call_wrapper`` is the one place where a service method's errors are
  translated: ``MtsError`` -> ``MtsFault`` (its code kept), anything else -> logged with
  its trace and answered as INTERNAL_ERROR.
- ``MtsWsgiApplication.handle_error`` renders every fault, Spyne's own included (schema
  validation, malformed XML, wrong envelope), with ``faults.fault_envelope`` (or, behind
  the security middleware, leaves ``faults.fault_element`` in ``OUT_DOCUMENT_KEY``).
- The service context (unit of work, clock, keys) hangs on the Application instance, so
  a method reaches it as ``service_context(ctx)``: no globals.
- ``MtsSoap11`` is Spyne's SOAP 1.1 protocol with two hand-off hooks for the WS-Security
  middleware (``soap.security``), both keyed by WSGI environ entries that no HTTP client
  can set: on the way in it takes the already verified soap:Body element
  (``VERIFIED_BODY_KEY``) instead of re-parsing bytes, and schema validation still runs on
  it (``decompose_incoming_envelope`` → ``validate_body``, the compiled lxml XMLSchema);
  on the way out, when asked to (``OUT_DOCUMENT_KEY`` present), it leaves the response
  envelope element in the environ for the middleware to sign, instead of serialising it
  for the middleware to parse again. Without those keys it is plain ``Soap11``. Shortcuts
  on the hot path keep Spyne's results: the envelope it built around a verified Body is
  split without Spyne's XPath queries (and its xml:id map is only walked for when the
  canonical bytes hold one), requests are read with ``fast_in.ReadPlan`` and responses
  written with ``fast_out.MemberPlan`` (Spyne's rules and converters, planned once per
  type; the SOAP tests compare both ways).
- Spyne's bookkeeping is cheaper (``fast_ctx``): ``MtsWsgiApplication.handle_rpc`` is
  Spyne's own code building ``MtsMethodContext`` (the same attributes, filled at once), and
  every event manager a request fires on skips events without listeners.
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Iterable

from lxml import etree
from spyne import Application, ServiceBase
from spyne.const.http import HTTP_405
from spyne.error import RequestNotAllowed
from spyne.protocol.soap import Soap11
from spyne.server.http import HttpTransportContext
from spyne.server.wsgi import WsgiApplication

from mts_service.errors import MtsError
from mts_service.observability import current_request_id
from mts_service.services.context import ServiceContext
from mts_service.soap import faults
from mts_service.soap.fast_ctx import quieten, rpc_handler
from mts_service.soap.fast_in import NotPlanned, ReadPlan
from mts_service.soap.fast_out import MemberPlan, complex_tag, write_planned
from mts_service.wssec import ns

log = logging.getLogger("mts.soap")

OPERATION_KEY = "mts.operation"
FAULT_KEY = "mts.fault"
VERIFIED_BODY_KEY = "mts.wssec.body"
"""environ: the verified soap:Body element (a tree of its own), set by SecurityMiddleware only."""
VERIFIED_MESSAGE_KEY = "mts.wssec"
"""environ: the ``wssec.verify.VerifiedMessage`` (its ``body`` is the element above, re-parsed
from its ``body_c14n``), set by SecurityMiddleware only."""
OUT_DOCUMENT_KEY = "mts.wssec.out_document"
"""environ: present (None) when the middleware wants the response tree; MtsSoap11 puts the
response envelope element there and writes no bytes."""


def _req_env(ctx: Any) -> dict | None:
    transport = getattr(ctx, "transport", None)
    env = getattr(transport, "req_env", None)
    return env if isinstance(env, dict) else None


def _may_hold_xml_ids(env: dict, body: Any) -> bool:
    """False when the Body's canonical bytes, which it was parsed from, have no ``xml:id``:
    c14n writes every such attribute with the one prefix the xml namespace may have. A
    bytes search costs well under a microsecond; walking the tree cost about 13 us."""
    message = env.get(VERIFIED_MESSAGE_KEY)
    canonical = getattr(message, "body_c14n", None)
    if getattr(message, "body", None) is not body or not isinstance(canonical, bytes) or not canonical:
        return True
    return b"xml:id" in canonical


def _write_plan(protocol: Any, cls: Any) -> MemberPlan | None:
    return None if protocol.polymorphic else MemberPlan.build(protocol, cls)


class MtsSoap11(Soap11):
    """Soap11 that takes the verified Body tree in, and hands the response tree out."""

    def create_in_document(self, ctx: Any, charset: str | None = None) -> None:
        env = _req_env(ctx)
        body = env.get(VERIFIED_BODY_KEY) if env is not None else None
        if body is None:
            return super().create_in_document(ctx, charset)
        if isinstance(ctx.transport, HttpTransportContext):  # Soap11's own HTTP checks
            if ctx.transport.get_request_content_type() is None or ctx.transport.get_request_method() != "POST":
                ctx.transport.resp_code = HTTP_405
                raise RequestNotAllowed("You must issue a POST request with the Content-Type header properly set.")
        envelope = etree.Element(ns.ENVELOPE, nsmap={"soap": ns.SOAP11})
        envelope.append(body)
        # What etree.XMLID would have collected from the same bytes (no DTD: xml:id only),
        # so that Spyne's SOAP-encoding href resolution behaves as on a parsed string.
        ids = {node.get(ns.XML_ID): node for node in body.iter() if node.get(ns.XML_ID) is not None} \
            if _may_hold_xml_ids(env, body) else {}
        ctx.in_document = (envelope, ids)
        return None

    fast_out = True
    """Write planned response types with ``fast_out.MemberPlan`` (tests compare both ways)."""

    def complex_to_parent(self, ctx: Any, cls: Any, inst: Any, parent: Any, ns: Any, name: Any = None,
                          add_type: bool = False, **kwargs: Any) -> Any:
        plan = self._plan(cls) if self.fast_out and not add_type and isinstance(parent, etree._Element) else None
        # Spyne's own tag and instance rules (complex_to_parent), then the planned members.
        if plan is not None and write_planned(self, ctx, plan, cls, inst, parent, complex_tag(self, cls, ns, name)):
            return None
        return super().complex_to_parent(ctx, cls, inst, parent, ns, name, add_type, **kwargs)

    def _plan(self, cls: Any) -> MemberPlan | None:
        return self._planned("_mts_plans", cls, _write_plan)

    def _planned(self, store: str, cls: Any, build: Callable[[Any, Any], Any]) -> Any:
        """One plan per class and protocol instance (None: Spyne does it), built on first use."""
        plans = self.__dict__.setdefault(store, {})
        if cls not in plans:
            plans[cls] = build(self, cls)
        return plans[cls]

    fast_in = True
    """Read planned request types with ``fast_in.ReadPlan`` (tests compare both ways)."""

    def complex_from_element(self, ctx: Any, cls: Any, elt: Any) -> Any:
        plan = self._read_plan(cls) if self.fast_in else None
        if plan is not None:
            try:
                return plan.read(self, ctx, elt)
            except NotPlanned:
                pass  # something only Spyne reads: it reads the whole element again
        return super().complex_from_element(ctx, cls, elt)

    def _read_plan(self, cls: Any) -> ReadPlan | None:
        return self._planned("_mts_read_plans", cls, ReadPlan.build)

    def decompose_incoming_envelope(self, ctx: Any, message: Any = Soap11.REQUEST) -> None:
        envelope, ids = ctx.in_document
        env = _req_env(ctx)
        built_here = env is not None and env.get(VERIFIED_BODY_KEY) is not None
        if not built_here or ids or not len(envelope) or not len(envelope[0]):
            return super().decompose_incoming_envelope(ctx, message)
        # The envelope create_in_document built around the verified Body: no Header, one
        # Body, no xml:id to resolve. What Soap11 finds with two XPath queries is known.
        body = envelope[0][0]
        ctx.in_document = envelope
        ctx.in_body_doc = body
        if body.tag == f"{{{self.ns_soap_env}}}Fault":
            return None
        ctx.in_header_doc = None
        ctx.method_request_string = body.tag
        self.validate_body(ctx, message)
        return None

    def create_out_string(self, ctx: Any, charset: str | None = None) -> None:
        env = _req_env(ctx)
        if env is not None and OUT_DOCUMENT_KEY in env and ctx.out_document is not None:
            env[OUT_DOCUMENT_KEY] = ctx.out_document
            ctx.out_string = []
            return
        super().create_out_string(ctx, charset)
_QUIET_SPYNE_LOGGERS = (
    "spyne.application.client", "spyne.protocol.xml.invalid", "spyne.protocol.soap.soap11.invalid", "spyne.server.wsgi",
)


class MtsApplication(Application):
    def __init__(self, services: list[type[ServiceBase]], *, tns: str, name: str, context: ServiceContext) -> None:
        super().__init__(
            services, tns=tns, name=name,
            in_protocol=MtsSoap11(validator="lxml"),
            out_protocol=MtsSoap11(),
        )
        self.mts_context = context
        # Spyne logs every Client fault with a traceback, and an unparsable request with
        # its whole body (which may hold a code); they are expected refusals, which
        # MtsWsgiApplication.handle_error logs in one line, without the body.
        for name in _QUIET_SPYNE_LOGGERS:
            logging.getLogger(name).setLevel(logging.CRITICAL)
        self.event_manager.add_listener("method_call", remember_operation)
        # Every manager a request fires events on: the application's, the protocols', and
        # each method's (its service class's). Same handlers, same order (soap.fast_ctx).
        quieten(self.event_manager)
        quieten(self.in_protocol.event_manager)
        quieten(self.out_protocol.event_manager)
        for descriptors in self.interface.service_method_map.values():
            for descriptor in descriptors:
                for manager in descriptor.event_managers:
                    quieten(manager)

    def call_wrapper(self, ctx: Any) -> Any:
        try:
            return super().call_wrapper(ctx)
        except faults.MtsFault:
            raise
        except MtsError as exc:
            if exc.side.value == "Server":
                log.error("service error %s in %s: %s", exc.code.value, _operation(ctx), exc.message, exc_info=True)
            raise faults.MtsFault.from_error(exc) from None
        except Exception:
            # The trace goes to the log with the request id; the caller gets only the id.
            log.exception("unexpected error in %s", _operation(ctx))
            raise faults.MtsFault(faults.ErrorCode.INTERNAL_ERROR, faults.GENERIC_MESSAGE) from None


class MtsWsgiApplication(WsgiApplication):
    # Spyne's own handle_rpc, with contexts that are cheaper to build (soap.fast_ctx).
    handle_rpc = rpc_handler()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        quieten(self.event_manager)

    def handle_error(self, p_ctx: Any, others: Any, error: Any, start_response: Callable[..., Any]) -> Iterable[bytes]:
        descriptor = getattr(p_ctx, "descriptor", None)
        body = render_fault(p_ctx.transport.req_env, error, getattr(p_ctx, "in_document", None),
                            descriptor.name if descriptor is not None else None)
        start_response(faults.HTTP_STATUS, [("Content-Type", faults.CONTENT_TYPE), ("Content-Length", str(len(body)))])
        try:
            p_ctx.close()
        finally:
            for other in others or ():
                other.close()
        return [body]


def render_fault(environ: dict, error: BaseException, in_document: Any, operation: str | None) -> bytes:
    """Record and render the fault a request ends with (Spyne's path and direct calls alike).

    Behind the security middleware (``OUT_DOCUMENT_KEY`` in the environ) the fault's tree is
    left there for it to sign and no bytes are returned; otherwise the serialized envelope.
    """
    code, message = faults.classify(error, in_document)
    environ[FAULT_KEY] = code
    if operation is not None:
        environ.setdefault(OPERATION_KEY, operation)
    if code.side.value == "Client":
        log.info("refused %s: %s: %s", environ.get(OPERATION_KEY, "unknown"), code.value, message)
    if OUT_DOCUMENT_KEY in environ:
        # Behind the security middleware: hand it the tree to sign (no serialise/parse).
        environ[OUT_DOCUMENT_KEY] = faults.fault_element(code, message, current_request_id())
        return b""
    return faults.fault_envelope(code, message, current_request_id())


def call_buffered(app: Callable[..., Any], environ: dict) -> tuple[str, list[tuple[str, str]], bytes]:
    """Run a WSGI app to completion: its status, headers and whole body (``write()`` included),
    its result closed. The dispatcher answers Spyne's output with one buffer and its
    Content-Length; the security middleware signs what its inner app answered."""
    captured: dict[str, Any] = {}
    chunks: list[bytes] = []

    def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], None]:
        captured["status"] = status
        captured["headers"] = list(headers)
        return chunks.append

    result = app(environ, capture)
    try:
        for chunk in result:
            chunks.append(chunk)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    if "status" not in captured:
        raise RuntimeError("inner application did not call start_response")
    return captured["status"], captured["headers"], b"".join(chunks)


def service_context(ctx: Any) -> ServiceContext:
    """The MTS service context of the application serving this Spyne method context."""
    return ctx.app.mts_context


def remember_operation(ctx: Any) -> None:
    """The ``method_call`` listener: the operation's name, for the metrics and the logs."""
    ctx.transport.req_env[OPERATION_KEY] = ctx.descriptor.name


def _operation(ctx: Any) -> str:
    descriptor = getattr(ctx, "descriptor", None)
    return descriptor.name if descriptor is not None else "unknown"


def wsgi_application(application: MtsApplication, max_request_bytes: int) -> MtsWsgiApplication:
    # Spyne's own cap stays as a second line; the dispatcher refuses oversize bodies first.
    return MtsWsgiApplication(application, chunked=True, max_content_length=max_request_bytes)

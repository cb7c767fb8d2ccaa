"""What the three Spyne applications share: error translation, fault rendering, the context.

- ``MtsApplication.call_wrapper`` is the one place where a service method's errors are
  translated: ``MtsError`` -> ``MtsFault`` (its code kept), anything else -> logged with
  its trace and answered as INTERNAL_ERROR.
- ``MtsWsgiApplication.handle_error`` renders every fault, Spyne's own included (schema
  validation, malformed XML, wrong envelope), with ``faults.fault_envelope``.
- The service context (unit of work, clock, keys) hangs on the Application instance, so
  a method reaches it as ``service_context(ctx)``: no globals.
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Iterable

from spyne import Application, ServiceBase
from spyne.protocol.soap import Soap11
from spyne.server.wsgi import WsgiApplication

from mts_service.errors import MtsError
from mts_service.observability import current_request_id
from mts_service.services.context import ServiceContext
from mts_service.soap import faults

log = logging.getLogger("mts.soap")

OPERATION_KEY = "mts.operation"
FAULT_KEY = "mts.fault"
_QUIET_SPYNE_LOGGERS = (
    "spyne.application.client", "spyne.protocol.xml.invalid", "spyne.protocol.soap.soap11.invalid", "spyne.server.wsgi",
)


class MtsApplication(Application):
    def __init__(self, services: list[type[ServiceBase]], *, tns: str, name: str, context: ServiceContext) -> None:
        super().__init__(
            services, tns=tns, name=name,
            in_protocol=Soap11(validator="lxml"),
            out_protocol=Soap11(),
        )
        self.mts_context = context
        # Spyne logs every Client fault with a traceback, and an unparsable request with
        # its whole body (which may hold a code); they are expected refusals, which
        # MtsWsgiApplication.handle_error logs in one line, without the body.
        for name in _QUIET_SPYNE_LOGGERS:
            logging.getLogger(name).setLevel(logging.CRITICAL)
        self.event_manager.add_listener("method_call", _remember_operation)

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
    def handle_error(self, p_ctx: Any, others: Any, error: Any, start_response: Callable[..., Any]) -> Iterable[bytes]:
        code, message = faults.classify(error, getattr(p_ctx, "in_document", None))
        environ = p_ctx.transport.req_env
        environ[FAULT_KEY] = code
        if getattr(p_ctx, "descriptor", None) is not None:
            environ.setdefault(OPERATION_KEY, p_ctx.descriptor.name)
        if code.side.value == "Client":
            log.info("refused %s: %s: %s", environ.get(OPERATION_KEY, "unknown"), code.value, message)
        body = faults.fault_envelope(code, message, current_request_id())
        start_response(faults.HTTP_STATUS, [("Content-Type", faults.CONTENT_TYPE), ("Content-Length", str(len(body)))])
        try:
            p_ctx.close()
        finally:
            for other in others or ():
                other.close()
        return [body]


def service_context(ctx: Any) -> ServiceContext:
    """The MTS service context of the application serving this Spyne method context."""
    return ctx.app.mts_context


def _remember_operation(ctx: Any) -> None:
    ctx.transport.req_env[OPERATION_KEY] = ctx.descriptor.name


def _operation(ctx: Any) -> str:
    descriptor = getattr(ctx, "descriptor", None)
    return descriptor.name if descriptor is not None else "unknown"


def wsgi_application(application: MtsApplication, max_request_bytes: int) -> MtsWsgiApplication:
    # Spyne's own cap stays as a second line; the dispatcher refuses oversize bodies first.
    return MtsWsgiApplication(application, chunked=True, max_content_length=max_request_bytes)

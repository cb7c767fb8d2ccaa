"""SecurityMiddleware: WS-Security in front of the Spyne applications, as WSGI middleware.

On a POST to a protected path (``/gateway``, ``/shop``, ``/admin``):

1. cap the size before reading (Content-Length over ``profile.max_body_bytes``, or a
   longer body, is a Client fault REQUEST_TOO_LARGE);
2. parse once with the hardened parser and verify with ``verify_envelope`` (signature, trust, timestamp,
   replay, and that the certificate's role may call this path), then check that a
   non-empty SOAPAction names the signed operation;
3. hand the inner application only the verified Body: as an element in
   ``environ[VERIFIED_BODY_KEY]`` (taken as is by ``soap.base.MtsSoap11``, which still
   schema-validates it: no second parse), and as a fresh envelope around the verified
   canonical bytes in ``wsgi.input`` for any other application; the ``VerifiedMessage``
   is in ``environ["mts.wssec"]``, the request id in ``environ["mts.request_id"]``;
4. the replay key is recorded in the service's own write transaction when there is one
   (``SqlReplayCache.request_scope``), else after the service answered;
5. sign whatever the application answers, faults included, whatever the status: the
   response envelope element itself when the application leaves it in
   ``environ[OUT_DOCUMENT_KEY]`` (MtsSoap11 does; no serialise/parse round trip),
   otherwise the bytes it answered, parsed.

GET and HEAD (``?wsdl``, ``/healthz``, ``/metrics``) and unprotected paths pass through
untouched. Our own refusals are SOAP 1.1 Faults with HTTP 500, ``soap:Client`` and the
shared detail shape (``urn:mts:fault:v1`` FaultDetail: code, message, requestId), or
``soap:Server`` with a generic message for unexpected errors (trace to the log only); they
are signed too, because zeep verifies a fault's signature before reading it.
"""

from __future__ import annotations

import io
import logging
import threading
from contextlib import nullcontext
from typing import Any, Callable, Iterable, Mapping

from cryptography import x509
from lxml import etree

from mts_service.clock import Clock
from mts_service.errors import ErrorCode, SecurityError
from mts_service.observability import ENVIRON_KEY as REQUEST_ID_KEY, WsgiApp, new_request_id
from mts_service.soap.base import OUT_DOCUMENT_KEY, VERIFIED_BODY_KEY, call_buffered
from mts_service.soap.faults import CONTENT_TYPE, GENERIC_MESSAGE, HTTP_STATUS, fault_element, fault_envelope
from mts_service.soap.request_body import BodyRefused, announced_length, read_unannounced
from mts_service.wssec import ns
from mts_service.wssec.profile import SecurityProfile
from mts_service.wssec.replay import ReplayCache
from mts_service.wssec.sign import SigningKey, sign_envelope_bytes
from mts_service.wssec.trust import TrustStore
from mts_service.wssec.verify import VerifiedMessage, envelope_from_canonical_body, verify_envelope

log = logging.getLogger("mts.wssec")

DEFAULT_ROLES_BY_PATH: Mapping[str, str] = {"/gateway": "gateway", "/shop": "shop", "/admin": "admin"}
PASS_THROUGH_METHODS = frozenset({"GET", "HEAD"})

_local = threading.local()


def _response_parser() -> etree.XMLParser:
    """Per-thread parser for our own application's answers (faults rendered as bytes):
    no entities, DTD or network, and libxml2's default limits (our pages are far below them)."""
    parser = getattr(_local, "parser", None)
    if parser is None:
        parser = _local.parser = etree.XMLParser(
            resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
        )
    return parser


class SecurityMiddleware:
    def __init__(
        self,
        app: WsgiApp,
        *,
        trust: TrustStore,
        profile: SecurityProfile,
        clock: Clock,
        replay: ReplayCache,
        signer_key: SigningKey,
        signer_cert: x509.Certificate,
        roles_by_path: Mapping[str, str] = DEFAULT_ROLES_BY_PATH,
    ) -> None:
        self.app = app
        self.trust = trust
        self.profile = profile
        self.clock = clock
        self.replay = replay
        self.signer_key = signer_key
        self.signer_cert = signer_cert
        # A cache that can defer its write to the service's transaction offers request_scope.
        self._replay_scope = getattr(replay, "request_scope", nullcontext)
        # Longest prefix first, so that "/shop/admin" could be given its own role.
        self.roles_by_path = sorted(roles_by_path.items(), key=lambda item: len(item[0]), reverse=True)

    # -- WSGI entry -------------------------------------------------------------------

    def __call__(self, environ: dict, start_response: Callable[..., Any]) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET").upper()
        role = self._role_for(environ.get("PATH_INFO") or "/")
        if role is None or method in PASS_THROUGH_METHODS:
            return self.app(environ, start_response)

        request_id = environ.get(REQUEST_ID_KEY) or new_request_id()
        environ[REQUEST_ID_KEY] = request_id
        with self._replay_scope() as deferred:
            return self._serve(environ, start_response, method, role, request_id, deferred)

    def _serve(
        self, environ: dict, start_response: Callable[..., Any], method: str, role: str, request_id: str,
        deferred: Any,
    ) -> Iterable[bytes]:
        try:
            inner_environ = self._verified_environ(environ, role, request_id)
        except SecurityError as exc:
            return self._refuse(environ, start_response, exc, request_id)
        except Exception:
            log.exception("unexpected error verifying request %s", request_id)
            return self._fault(start_response, ErrorCode.INTERNAL_ERROR, GENERIC_MESSAGE, request_id)

        try:
            status, headers, body = call_buffered(self.app, inner_environ)
            # A replay key the service's transaction did not record (the request wrote
            # nothing, or its transaction rolled back) is recorded now; if a racing copy of
            # the message got there first, this copy is refused: it changed nothing.
            if deferred is not None and not deferred.settle():
                raise SecurityError("this signature was already accepted", code=ErrorCode.SECURITY_REPLAY)
            document = inner_environ.get(OUT_DOCUMENT_KEY)
            if document is not None and not body:
                signed = self._sign_document(document)
            else:
                signed = self._sign_bytes(body)
        except SecurityError as exc:
            return self._refuse(environ, start_response, exc, request_id)
        except Exception:
            log.exception("unexpected error answering request %s", request_id)
            return self._fault(start_response, ErrorCode.INTERNAL_ERROR, GENERIC_MESSAGE, request_id)
        headers = [(k, v) for k, v in headers if k.lower() not in ("content-length", "content-type")]
        headers += [("Content-Type", CONTENT_TYPE), ("Content-Length", str(len(signed)))]
        start_response(status, headers)
        return [signed]

    def _refuse(
        self, environ: dict, start_response: Callable[..., Any], exc: SecurityError, request_id: str
    ) -> list[bytes]:
        log.warning(
            "refused %s %s: %s: %s (request %s, peer %s)", environ.get("REQUEST_METHOD"), environ.get("PATH_INFO"),
            exc.code.value, exc.message, request_id, environ.get("REMOTE_ADDR"),
        )
        return self._fault(start_response, exc.code, exc.message, request_id)

    # -- request side -----------------------------------------------------------------

    def _role_for(self, path: str) -> str | None:
        for prefix, role in self.roles_by_path:
            if path == prefix or path.startswith(prefix.rstrip("/") + "/"):
                return role
        return None

    def _read_body(self, environ: dict) -> bytes:
        limit = self.profile.max_body_bytes
        try:
            length = announced_length(environ, limit)
            return environ["wsgi.input"].read(length) if length is not None else read_unannounced(environ, limit)
        except BodyRefused as refused:
            raise SecurityError(refused.message, code=refused.code) from None

    def _verified_environ(self, environ: dict, role: str, request_id: str) -> dict:
        raw = self._read_body(environ)
        message = verify_envelope(
            raw, trust=self.trust, profile=self.profile, clock=self.clock, replay=self.replay,
            expected_role=role,
        )
        self._check_soap_action(environ, message)
        log.info(
            "verified request %s: role %s, cert %s, signature %s",
            request_id, message.role, message.fingerprint[:16], message.signed_info_digest[:16],
        )
        fresh = envelope_from_canonical_body(message.body_c14n)  # the verified bytes, wrapped
        inner = dict(environ)
        inner["wsgi.input"] = io.BytesIO(fresh)
        inner["CONTENT_LENGTH"] = str(len(fresh))
        inner["CONTENT_TYPE"] = CONTENT_TYPE
        inner.pop("wsgi.input_terminated", None)
        inner["mts.wssec"] = message
        inner[VERIFIED_BODY_KEY] = message.body
        inner[OUT_DOCUMENT_KEY] = None
        return inner

    @staticmethod
    def _check_soap_action(environ: dict, message: VerifiedMessage) -> None:
        """A non-empty SOAPAction must name the signed operation (never dispatch on it alone)."""
        action = (environ.get("HTTP_SOAPACTION") or "").strip().strip('"').strip()
        if not action:
            return
        operations = [child for child in message.body if isinstance(child.tag, str)]
        if len(operations) != 1:
            raise SecurityError("the signed Body must hold exactly one operation", code=ErrorCode.UNKNOWN_OPERATION)
        name = etree.QName(operations[0]).localname
        last = action.replace("#", "/").rstrip("/").rsplit("/", 1)[-1]
        if last != name:
            raise SecurityError(
                f"SOAPAction {action!r} does not match the signed operation {name!r}", code=ErrorCode.UNKNOWN_OPERATION
            )

    # -- response side ----------------------------------------------------------------

    def _sign_bytes(self, body: bytes) -> bytes:
        return self._sign_document(etree.fromstring(body, parser=_response_parser()))

    def _sign_document(self, envelope: etree._Element) -> bytes:
        if not isinstance(envelope, etree._Element) or envelope.tag != ns.ENVELOPE:
            raise ValueError("inner application answered something other than a SOAP 1.1 envelope")
        return self._sign(envelope)

    def _sign(self, envelope: etree._Element) -> bytes:
        return sign_envelope_bytes(
            envelope, key=self.signer_key, cert=self.signer_cert, clock=self.clock, profile=self.profile
        )

    def _fault(
        self, start_response: Callable[..., Any], code: ErrorCode, message: str, request_id: str
    ) -> list[bytes]:
        envelope = fault_element(code, message, request_id)
        try:
            payload = self._sign(envelope)
        except Exception:  # never let a signing failure hide the refusal itself
            log.exception("could not sign the fault for request %s", request_id)
            payload = fault_envelope(code, message, request_id)
        start_response(HTTP_STATUS, [("Content-Type", CONTENT_TYPE), ("Content-Length", str(len(payload)))])
        return [payload]


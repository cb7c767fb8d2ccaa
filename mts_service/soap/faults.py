"""Every refusal on the SOAP wire has one shape, whoever raised it.

::

    <soap:Fault>
      <faultcode>soap:Client</faultcode>          (or soap:Server, from ErrorCode.side)
      <faultstring>no customer with this reference</faultstring>
      <detail>
        <f:FaultDetail xmlns:f="urn:mts:fault:v1">
          <f:code>UNKNOWN_CUSTOMER</f:code>
          <f:message>no customer with this reference</f:message>
          <f:requestId>4f1c...</f:requestId>
        </f:FaultDetail>
      </detail>
    </soap:Fault>

``MtsError`` raised by a use case, Spyne's own refusals (schema validation, malformed XML,
wrong envelope) and the app's transport checks (size cap) all end in ``fault_envelope``,
the same shape ``soap.security`` answers with. An unexpected exception becomes
INTERNAL_ERROR with a generic message: its text and trace go to the log only.
"""

from __future__ import annotations

import html
import re
from typing import Any

from lxml import etree
from spyne.model.fault import Fault

from mts_service.errors import ErrorCode, MtsError
from mts_service.wssec import ns

CONTENT_TYPE = "text/xml; charset=utf-8"
HTTP_STATUS = "500 Internal Server Error"
GENERIC_MESSAGE = "internal error"
MAX_MESSAGE_CHARS = 512

# Spyne's fault codes for the refusals it makes itself, before our code runs.
_SPYNE_CODES: dict[str, ErrorCode] = {
    "Client.SchemaValidationError": ErrorCode.SCHEMA_INVALID,
    "Client.ValidationError": ErrorCode.SCHEMA_INVALID,
    "Client.XMLSyntaxError": ErrorCode.XML_MALFORMED,
    "Client.SoapError": ErrorCode.XML_MALFORMED,
    "Client.ResourceNotFound": ErrorCode.UNKNOWN_OPERATION,
    "Client.MethodNotFound": ErrorCode.UNKNOWN_OPERATION,
    "Client.RequestNotAllowed": ErrorCode.INVALID_INPUT,
}


class MtsFault(Fault):
    """An ``MtsError`` on its way through Spyne: keeps our code for the renderer."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(faultcode=code.side.value, faultstring=message)
        self.code = code
        self.message = message

    @classmethod
    def from_error(cls, error: MtsError) -> MtsFault:
        return cls(error.code, error.message)


def fault_envelope(code: ErrorCode, message: str, request_id: str) -> bytes:
    """The serialized SOAP 1.1 Fault envelope (see the module docstring)."""
    return etree.tostring(fault_element(code, message, request_id), xml_declaration=True, encoding="utf-8")


def fault_element(code: ErrorCode, message: str, request_id: str) -> etree._Element:
    """The Fault envelope as a tree (the security middleware signs it before serialising)."""
    envelope = etree.Element(ns.ENVELOPE, nsmap={"soap": ns.SOAP11})
    body = etree.SubElement(envelope, ns.BODY)
    fault = etree.SubElement(body, ns.FAULT_TAG)
    etree.SubElement(fault, "faultcode").text = f"soap:{code.side.value}"
    etree.SubElement(fault, "faultstring").text = message
    detail = etree.SubElement(fault, "detail")
    fault_detail = etree.SubElement(detail, ns.qn(ns.FAULT, "FaultDetail"), nsmap={"f": ns.FAULT})
    etree.SubElement(fault_detail, ns.qn(ns.FAULT, "code")).text = code.value
    etree.SubElement(fault_detail, ns.qn(ns.FAULT, "message")).text = message
    etree.SubElement(fault_detail, ns.qn(ns.FAULT, "requestId")).text = request_id
    return envelope


def classify(error: BaseException, in_document: Any = None) -> tuple[ErrorCode, str]:
    """The (code, caller-safe message) of any error that reached the SOAP layer.

    ``in_document`` is what Spyne parsed, if anything: a SOAP 1.2 envelope is reported as
    a version mismatch rather than as "not an envelope".
    """
    if isinstance(error, MtsFault):
        return error.code, error.message
    if isinstance(error, MtsError):
        if error.code.side.value == "Server":
            return error.code, GENERIC_MESSAGE
        return error.code, error.message
    if isinstance(error, Fault):
        faultcode = str(error.faultcode or "")
        if _is_soap12(in_document):
            return ErrorCode.SOAP_VERSION_MISMATCH, "SOAP 1.2 envelopes are not accepted: use SOAP 1.1"
        code = _SPYNE_CODES.get(faultcode)
        if code is None:
            code = ErrorCode.INVALID_INPUT if faultcode.startswith("Client") else ErrorCode.INTERNAL_ERROR
        if code is ErrorCode.INTERNAL_ERROR:
            return code, GENERIC_MESSAGE
        return code, _caller_message(code, error.faultstring)
    return ErrorCode.INTERNAL_ERROR, GENERIC_MESSAGE


# lxml's validation messages start with "<string>:1:0:ERROR:SCHEMASV:SCHEMAV_...: ".
_LXML_PREFIX = re.compile(r"^<string>:\d+:\d+:\w+:\w+:\w+: ")


def _caller_message(code: ErrorCode, text: Any) -> str:
    # Spyne hands over lxml's message as bytes (sometimes as their repr), HTML-escaped.
    text = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text or "")
    if text[:2] in ("b'", 'b"') and text[-1:] == text[1]:
        text = text[2:-1]
    text = _LXML_PREFIX.sub("", html.unescape(" ".join(text.split())))
    if code is ErrorCode.XML_MALFORMED:
        # lxml's parser message is useful; it quotes nothing but positions and names.
        return ("malformed XML: " + text)[:MAX_MESSAGE_CHARS] if text else "malformed XML"
    return text[:MAX_MESSAGE_CHARS] or code.value


_SOAP12_ENVELOPE = ns.qn(ns.SOAP12, "Envelope")


def _is_soap12(document: Any) -> bool:
    root = document[0] if isinstance(document, tuple) and document else document
    if isinstance(root, etree._ElementTree):
        root = root.getroot()
    return isinstance(root, etree._Element) and root.tag == _SOAP12_ENVELOPE

"""The WSDL documents: generated from the Spyne definitions, checked into ``wsdl/``.

Each document is built once per process with a fixed address
(``https://localhost:8443/<service>``, the default of ``mts-service serve``), pretty-printed,
and served byte for byte as the file in ``wsdl/``; clients set the real endpoint
themselves. ``check`` is the drift test behind ``mts-service wsdl check``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from lxml import etree
from spyne.interface.wsdl import Wsdl11

from mts_service.services.context import ServiceContext
from mts_service.soap.admin import admin_application
from mts_service.soap.base import MtsApplication, MtsWsgiApplication, wsgi_application
from mts_service.soap.gateway import gateway_application
from mts_service.soap.shop import shop_application
from mts_service.soap.wspolicy import attach as attach_security_policy

SERVICE_NAMES = ("gateway", "shop", "admin")
PLACEHOLDER_BASE = "https://localhost:8443"
DEFAULT_MAX_REQUEST_BYTES = 256 * 1024

_FACTORIES: dict[str, Callable[[ServiceContext], MtsApplication]] = {
    "gateway": gateway_application,
    "shop": shop_application,
    "admin": admin_application,
}


def placeholder_location(name: str) -> str:
    return f"{PLACEHOLDER_BASE}/{name}"


def build_service(
    name: str, context: ServiceContext | None, *, max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES
) -> tuple[MtsWsgiApplication, bytes]:
    """The WSGI application of one service and its WSDL document (built once, here)."""
    application = _FACTORIES[name](context)  # type: ignore[arg-type]  # None: WSDL only
    wsgi = wsgi_application(application, max_request_bytes)  # also sets the SOAP/HTTP transport
    wsdl = Wsdl11(application.interface)
    wsdl.build_interface_document(placeholder_location(name))
    return wsgi, _pretty(wsdl.get_interface_document())


def render_all() -> dict[str, bytes]:
    """Every WSDL, by service name, as served."""
    return {name: build_service(name, None)[1] for name in SERVICE_NAMES}


def file_name(name: str) -> str:
    return f"{name}.wsdl"


def export(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, document in render_all().items():
        path = directory / file_name(name)
        path.write_bytes(document)
        written.append(path)
    return written


def check(directory: Path) -> list[str]:
    """The services whose file in ``directory`` is missing or differs from the served WSDL."""
    drifted = []
    for name, document in render_all().items():
        path = directory / file_name(name)
        if not path.is_file() or path.read_bytes() != document:
            drifted.append(name)
    return drifted


WSDL_NS = "http://schemas.xmlsoap.org/wsdl/"
XSD_NS = "http://www.w3.org/2001/XMLSchema"
_SCHEMA_RANK = {f"{{{XSD_NS}}}import": 0, f"{{{XSD_NS}}}simpleType": 1, f"{{{XSD_NS}}}complexType": 2, f"{{{XSD_NS}}}element": 3}


def _pretty(document: bytes) -> bytes:
    parser = etree.XMLParser(remove_blank_text=True, resolve_entities=False, no_network=True)
    root = etree.fromstring(document, parser)
    _canonical_order(root)
    _local_fault_messages(root)
    root = attach_security_policy(root)  # WS-SecurityPolicy 1.2 of the MTS profile
    return etree.tostring(root, pretty_print=True, xml_declaration=True, encoding="utf-8")


def _canonical_order(root: etree._Element) -> None:
    """Sort what Spyne emits in set order (schema members, schemas, messages).

    Spyne walks its classes through sets, so two processes can emit the same types in
    another order; the order carries no meaning in XSD or WSDL 1.1, and a stable one is
    what lets the drift check compare bytes.
    """
    types = root.find(f"{{{WSDL_NS}}}types")
    if types is not None:
        for schema in types:
            schema[:] = sorted(schema, key=lambda e: (_SCHEMA_RANK.get(e.tag, 9), e.get("name") or e.get("namespace") or ""))
        types[:] = sorted(types, key=lambda s: s.get("targetNamespace") or "")
    messages = root.findall(f"{{{WSDL_NS}}}message")
    for message in messages:
        root.remove(message)
    anchor = types.getparent().index(types) + 1 if types is not None else 0
    for offset, message in enumerate(sorted(messages, key=lambda m: m.get("name") or "")):
        root.insert(anchor + offset, message)


def _local_fault_messages(root: etree._Element) -> None:
    """Point wsdl:fault at the wsdl:message this document defines.

    Spyne qualifies a fault's message with the fault type's namespace (urn:mts:fault:v1),
    but a wsdl:message is named in the definitions' targetNamespace, where Spyne writes it:
    left as is, the reference would not resolve in a client.
    """
    local = {m.get("name") for m in root.findall(f"{{{WSDL_NS}}}message")}
    tns_prefix = next(p for p, uri in root.nsmap.items() if uri == root.get("targetNamespace") and p)
    for fault in root.iter(f"{{{WSDL_NS}}}fault"):
        reference = fault.get("message")
        if reference and reference.split(":")[-1] in local:
            fault.set("message", f"{tns_prefix}:{reference.split(':')[-1]}")

"""WS-SecurityPolicy 1.2 in the checked-in WSDLs: parsed back out of each wsdl/ file and checked
assertion by assertion, as CXF/WSS4J or .NET svcutil would read it."""

from __future__ import annotations

import pytest
from lxml import etree

from soap_wsgi import WSDL_DIR

WSP = "http://www.w3.org/ns/ws-policy"
SP = "http://docs.oasis-open.org/ws-sx/ws-securitypolicy/200702"
WSU_ID = "{http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd}Id"
WSDL = "http://schemas.xmlsoap.org/wsdl/"
NAMES = ("gateway", "shop", "admin")
NSS = {"wsp": WSP, "sp": SP, "wsdl": WSDL}


def _load(name: str) -> etree._Element:
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    return etree.parse(str(WSDL_DIR / f"{name}.wsdl"), parser).getroot()


def _policies(root: etree._Element) -> dict[str, etree._Element]:
    return {p.get(WSU_ID): p for p in root.findall(f"{{{WSP}}}Policy")}


def _resolve(root: etree._Element, holder: etree._Element) -> etree._Element:
    """The one wsp:Policy that ``holder`` attaches by wsp:PolicyReference."""
    references = holder.findall(f"{{{WSP}}}PolicyReference")
    assert len(references) == 1, f"{holder.tag} {holder.get('name')} has no single PolicyReference"
    uri = references[0].get("URI")
    assert uri.startswith("#")
    return _policies(root)[uri[1:]]


def _only_alternative(policy: etree._Element) -> etree._Element:
    alternatives = policy.xpath("wsp:ExactlyOne/wsp:All", namespaces=NSS)
    assert len(alternatives) == 1, "the profile is one alternative, not a choice"
    return alternatives[0]


def _nested(assertion: etree._Element) -> etree._Element:
    inner = assertion.findall(f"{{{WSP}}}Policy")
    assert len(inner) == 1, f"{assertion.tag} needs one nested wsp:Policy"
    return inner[0]


def _local_names(node: etree._Element) -> list[str]:
    return [etree.QName(child).localname for child in node if isinstance(child.tag, str)]


@pytest.fixture(params=NAMES)
def wsdl(request) -> etree._Element:
    return _load(request.param)


def test_binding_policy_is_the_mts_asymmetric_x509_profile(wsdl):
    bindings = wsdl.findall(f"{{{WSDL}}}binding")
    assert len(bindings) == 1
    alternative = _only_alternative(_resolve(wsdl, bindings[0]))
    assert _local_names(alternative) == ["AsymmetricBinding", "Wss10"]
    assert _local_names(_nested(alternative.find(f"{{{SP}}}Wss10"))) == []  # direct reference only

    binding = _nested(alternative.find(f"{{{SP}}}AsymmetricBinding"))
    assert sorted(_local_names(binding)) == sorted([
        "InitiatorToken", "RecipientToken", "AlgorithmSuite", "Layout", "IncludeTimestamp",
        "OnlySignEntireHeadersAndBody",
    ])
    for side, include in (("InitiatorToken", "AlwaysToRecipient"), ("RecipientToken", "AlwaysToInitiator")):
        tokens = _nested(binding.find(f"{{{SP}}}{side}")).findall(f"{{{SP}}}X509Token")
        assert len(tokens) == 1, side
        assert tokens[0].get(f"{{{SP}}}IncludeToken") == f"{SP}/IncludeToken/{include}"
        assert _local_names(_nested(tokens[0])) == ["WssX509V3Token10"]
    assert _local_names(_nested(binding.find(f"{{{SP}}}AlgorithmSuite"))) == ["Basic256Sha256"]
    assert _local_names(_nested(binding.find(f"{{{SP}}}Layout")))[0] in ("Strict", "Lax")


def test_every_message_of_every_operation_signs_the_body(wsdl):
    operations = wsdl.findall(f"{{{WSDL}}}binding/{{{WSDL}}}operation")
    assert operations
    for operation in operations:
        messages = [m for m in operation if m.tag in (f"{{{WSDL}}}input", f"{{{WSDL}}}output", f"{{{WSDL}}}fault")]
        assert [etree.QName(m).localname for m in messages][:2] == ["input", "output"]
        for message in messages:
            alternative = _only_alternative(_resolve(wsdl, message))
            assert _local_names(alternative) == ["SignedParts"]
            assert _local_names(alternative[0]) == ["Body"], "exactly the Body, no headers"


def test_every_policy_reference_resolves_and_policies_come_first(wsdl):
    ids = set(_policies(wsdl))
    assert ids == {"MtsX509BindingPolicy", "MtsSignedBodyPolicy"}
    for reference in wsdl.iter(f"{{{WSP}}}PolicyReference"):
        assert reference.get("URI")[1:] in ids
    # WSDL 1.1 schema: extensibility elements precede wsdl:types.
    children = _local_names(wsdl)
    assert children[:3] == ["Policy", "Policy", "types"]

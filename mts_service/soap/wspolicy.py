"""WS-SecurityPolicy 1.2 for the WSDLs: the MTS security profile, as Java and .NET tooling reads it.

Added to each generated WSDL by ``mts_service.soap.wsdl`` (so ``mts-service wsdl export``
writes it and the drift test covers it). Two policies, declared at the top of
``wsdl:definitions`` and attached by ``wsp:PolicyReference`` (WS-PolicyAttachment)::

    <wsp:Policy wsu:Id="MtsX509BindingPolicy">          on wsdl:binding (endpoint subject)
      <sp:AsymmetricBinding>
        InitiatorToken: X509Token IncludeToken=AlwaysToRecipient, WssX509V3Token10
        RecipientToken: X509Token IncludeToken=AlwaysToInitiator, WssX509V3Token10
        AlgorithmSuite Basic256Sha256 (RSA-SHA256, SHA-256 digests, exclusive c14n)
        Layout Lax, IncludeTimestamp, OnlySignEntireHeadersAndBody
      </sp:AsymmetricBinding>
      <sp:Wss10/>                                         direct reference to the BST
    </wsp:Policy>
    <wsp:Policy wsu:Id="MtsSignedBodyPolicy">             on every input, output and fault
      <sp:SignedParts><sp:Body/></sp:SignedParts>
    </wsp:Policy>

Layout is Lax because MTS resolves every part by ``wsu:Id`` and accepts the header orders
of WSS4J, zeep and xmlsec1 (WSSEC-NOTES 12); its own responses also meet Strict (Timestamp
first, token before the signature that uses it). WS-SecurityPolicy has no assertion for the
timestamp TTL, the clock skew, ECDSA or the certificate roles: docs/security.md says them.
"""

from __future__ import annotations

from lxml import etree

WSP = "http://www.w3.org/ns/ws-policy"
SP = "http://docs.oasis-open.org/ws-sx/ws-securitypolicy/200702"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
WSDL = "http://schemas.xmlsoap.org/wsdl/"

NSMAP = {"wsp": WSP, "sp": SP, "wsu": WSU}
BINDING_POLICY_ID = "MtsX509BindingPolicy"
MESSAGE_POLICY_ID = "MtsSignedBodyPolicy"
INCLUDE_TO_RECIPIENT = f"{SP}/IncludeToken/AlwaysToRecipient"
INCLUDE_TO_INITIATOR = f"{SP}/IncludeToken/AlwaysToInitiator"
ALGORITHM_SUITE = "Basic256Sha256"
LAYOUT = "Lax"


def _wsp(name: str) -> str:
    return f"{{{WSP}}}{name}"


def _sp(name: str) -> str:
    return f"{{{SP}}}{name}"


def _nested(parent: etree._Element, name: str) -> etree._Element:
    """``<sp:name><wsp:Policy/></sp:name>`` under ``parent``; returns the inner wsp:Policy."""
    return etree.SubElement(etree.SubElement(parent, _sp(name)), _wsp("Policy"))


def _x509_token(parent: etree._Element, role: str, include: str) -> None:
    token = etree.SubElement(_nested(parent, role), _sp("X509Token"), {_sp("IncludeToken"): include})
    etree.SubElement(etree.SubElement(token, _wsp("Policy")), _sp("WssX509V3Token10"))


def binding_policy() -> etree._Element:
    policy = etree.Element(_wsp("Policy"), {f"{{{WSU}}}Id": BINDING_POLICY_ID})
    alternative = etree.SubElement(etree.SubElement(policy, _wsp("ExactlyOne")), _wsp("All"))
    asymmetric = _nested(alternative, "AsymmetricBinding")
    _x509_token(asymmetric, "InitiatorToken", INCLUDE_TO_RECIPIENT)
    _x509_token(asymmetric, "RecipientToken", INCLUDE_TO_INITIATOR)
    etree.SubElement(_nested(asymmetric, "AlgorithmSuite"), _sp(ALGORITHM_SUITE))
    etree.SubElement(_nested(asymmetric, "Layout"), _sp(LAYOUT))
    etree.SubElement(asymmetric, _sp("IncludeTimestamp"))
    etree.SubElement(asymmetric, _sp("OnlySignEntireHeadersAndBody"))
    _nested(alternative, "Wss10")  # no MustSupportRef*: tokens are referenced directly, by wsu:Id
    return policy


def message_policy() -> etree._Element:
    policy = etree.Element(_wsp("Policy"), {f"{{{WSU}}}Id": MESSAGE_POLICY_ID})
    alternative = etree.SubElement(etree.SubElement(policy, _wsp("ExactlyOne")), _wsp("All"))
    etree.SubElement(etree.SubElement(alternative, _sp("SignedParts")), _sp("Body"))
    return policy


def _reference(policy_id: str) -> etree._Element:
    return etree.Element(_wsp("PolicyReference"), {"URI": f"#{policy_id}"})


def attach(definitions: etree._Element) -> etree._Element:
    """Return a copy of ``definitions`` (a wsdl:definitions root) carrying the policies.

    The root is rebuilt so that the wsp, sp and wsu prefixes are declared once, on it.
    """
    root = etree.Element(definitions.tag, dict(definitions.attrib), nsmap={**definitions.nsmap, **NSMAP})
    root.text, root.tail = definitions.text, definitions.tail
    root.append(binding_policy())
    root.append(message_policy())
    root.extend(list(definitions))
    for binding in root.findall(f"{{{WSDL}}}binding"):
        binding.insert(0, _reference(BINDING_POLICY_ID))
        for operation in binding.findall(f"{{{WSDL}}}operation"):
            for message in operation:
                if message.tag in (f"{{{WSDL}}}input", f"{{{WSDL}}}output", f"{{{WSDL}}}fault"):
                    message.insert(0, _reference(MESSAGE_POLICY_ID))
    return root


__all__ = ["attach", "binding_policy", "message_policy", "BINDING_POLICY_ID", "MESSAGE_POLICY_ID"]

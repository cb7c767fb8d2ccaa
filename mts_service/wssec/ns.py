"""Namespace URIs, algorithm URIs, tags and attributes of the MTS WS-Security profile.

Match on these URIs, never on prefixes: peers spell prefixes differently (zeep writes
``<Signature xmlns="…xmldsig#">``, lxml invents ``ns1:Id``, xmlsec1 hoists everything to
the Envelope).

Specs: SOAP 1.1 (https://www.w3.org/TR/2000/NOTE-SOAP-20000508/), WS-Security 1.1
(https://docs.oasis-open.org/wss-m/wss/v1.1.1/os/wss-SOAPMessageSecurity-v1.1.1-os.html),
X.509 Token Profile 1.1, XML-DSig 1.1 (https://www.w3.org/TR/xmldsig-core1/).
"""

from __future__ import annotations

SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
DS = "http://www.w3.org/2000/09/xmldsig#"
EC = "http://www.w3.org/2001/10/xml-exc-c14n#"
XML = "http://www.w3.org/XML/1998/namespace"
FAULT = "urn:mts:fault:v1"

X509V3 = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509v3"
BASE64_BINARY = (
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary"
)

# Algorithm URIs (XML-DSig 1.1 section 6, RFC 6931).
EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
EXC_C14N_WITH_COMMENTS = "http://www.w3.org/2001/10/xml-exc-c14n#WithComments"
RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
ECDSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"
RSA_SHA1 = "http://www.w3.org/2000/09/xmldsig#rsa-sha1"
ECDSA_SHA1 = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha1"
HMAC_SHA1 = "http://www.w3.org/2000/09/xmldsig#hmac-sha1"
HMAC_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#hmac-sha256"
SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"
SHA1 = "http://www.w3.org/2000/09/xmldsig#sha1"


def qn(namespace: str, local: str) -> str:
    """Clark notation ``{namespace}local``, as lxml spells tags and attributes."""
    return f"{{{namespace}}}{local}"


# Tags and attributes used on every message.
ENVELOPE = qn(SOAP11, "Envelope")
HEADER = qn(SOAP11, "Header")
BODY = qn(SOAP11, "Body")
FAULT_TAG = qn(SOAP11, "Fault")
MUST_UNDERSTAND = qn(SOAP11, "mustUnderstand")
ACTOR = qn(SOAP11, "actor")
SECURITY = qn(WSSE, "Security")
BST = qn(WSSE, "BinarySecurityToken")
STR = qn(WSSE, "SecurityTokenReference")
WSSE_REFERENCE = qn(WSSE, "Reference")
TIMESTAMP = qn(WSU, "Timestamp")
CREATED = qn(WSU, "Created")
EXPIRES = qn(WSU, "Expires")
WSU_ID = qn(WSU, "Id")
XML_ID = qn(XML, "id")
SIGNATURE = qn(DS, "Signature")
# XML-DSig (ds:Signature's parts) and exclusive c14n, as signed and checked on every message.
SIGNED_INFO = qn(DS, "SignedInfo")
CANONICALIZATION_METHOD = qn(DS, "CanonicalizationMethod")
SIGNATURE_METHOD = qn(DS, "SignatureMethod")
DS_REFERENCE = qn(DS, "Reference")
TRANSFORMS = qn(DS, "Transforms")
TRANSFORM = qn(DS, "Transform")
DIGEST_METHOD = qn(DS, "DigestMethod")
DIGEST_VALUE = qn(DS, "DigestValue")
SIGNATURE_VALUE = qn(DS, "SignatureValue")
KEY_INFO = qn(DS, "KeyInfo")
DS_OBJECT = qn(DS, "Object")
INCLUSIVE_NAMESPACES = qn(EC, "InclusiveNamespaces")

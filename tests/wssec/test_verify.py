"""verify_envelope: round trips, trust, timestamps, replay, roles and algorithms."""

from datetime import timedelta

import pytest
from cryptography.x509.oid import ExtendedKeyUsageOID
from lxml import etree
from signxml import SignatureMethod

from wssec_helpers import START, echo_text
from mts_service.errors import ErrorCode, SecurityError
from mts_service.pki import make_cert
from mts_service.wssec import ns
from mts_service.wssec.profile import SecurityProfile
from mts_service.wssec.replay import InMemoryReplayCache
from mts_service.wssec.trust import TrustStore
from mts_service.wssec.verify import build_envelope_from_body, verify_envelope
from wssec_helpers import body_id, find, mutate, parse, resign, rewrap_base64, timestamp_id, dump


def refused(raw, code, **kwargs):
    with pytest.raises(SecurityError) as info:
        verify_envelope(raw, **kwargs)
    assert info.value.code is code, info.value.message
    return info.value


@pytest.fixture
def ctx(trust, clock, replay, profile):
    return dict(trust=trust, clock=clock, replay=replay, profile=profile)


# --- round trips -------------------------------------------------------------------------


def test_round_trip_returns_the_signed_body_and_signer(sign, ctx, pki):
    message = verify_envelope(sign("shop"), expected_role="shop", **ctx)
    assert message.body.tag == ns.BODY
    assert echo_text(message.body) == "bonjour"
    assert message.role == "shop"
    assert message.certificate == pki.cert("shop")
    assert message.created == START
    assert message.expires == START + timedelta(minutes=5)
    expected = ns.RSA_SHA256 if pki.key_type == "rsa" else ns.ECDSA_SHA256
    assert message.signature_method == expected
    assert len(message.signed_info_digest) == 64


def test_verified_body_is_a_copy_not_the_parsed_original(sign, ctx):
    raw = sign("shop")
    message = verify_envelope(raw, **ctx)
    # The Body handed on lives in its own document (signxml's canonical re-parse).
    assert message.body.getparent() is None


def test_build_envelope_from_body_holds_only_the_body(sign, ctx):
    message = verify_envelope(sign("shop"), **ctx)
    fresh = etree.fromstring(build_envelope_from_body(message.body))
    assert fresh.tag == ns.ENVELOPE
    assert [child.tag for child in fresh] == [ns.BODY]
    assert echo_text(fresh[0]) == "bonjour"


def test_each_role_verifies(sign, ctx):
    for role in ("gateway", "shop", "admin"):
        assert verify_envelope(sign(role), expected_role=role, **ctx).role == role


def test_non_ascii_body_survives(sign, ctx):
    body = (
        '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
        '<e:Echo xmlns:e="urn:mts:test:echo"><e:text>مساعدة — été</e:text></e:Echo></soap:Body></soap:Envelope>'
    ).encode()
    assert echo_text(verify_envelope(sign("shop", body), **ctx).body) == "مساعدة — été"


# --- trust -------------------------------------------------------------------------------


def _signed_with(sign, cert, key):
    return sign("shop", cert=cert, key=key)


def test_foreign_ca_is_refused(sign, ctx, pki, clock):
    foreign_ca, foreign_key = make_cert("Evil CA", is_ca=True, key_type=pki.key_type, clock=clock)
    cert, key = make_cert(
        "evil shop", ou="shop", issuer_cert=foreign_ca, issuer_key=foreign_key, key_type=pki.key_type,
        san=["evil.invalid"], eku=[ExtendedKeyUsageOID.CLIENT_AUTH], clock=clock,
    )
    refused(_signed_with(sign, cert, key), ErrorCode.SECURITY_UNTRUSTED_CERT, **ctx)


def test_self_signed_is_refused(sign, ctx, pki, clock):
    cert, key = make_cert("self shop", ou="shop", key_type=pki.key_type, san=["x.invalid"],
                          eku=[ExtendedKeyUsageOID.CLIENT_AUTH], clock=clock)
    refused(_signed_with(sign, cert, key), ErrorCode.SECURITY_UNTRUSTED_CERT, **ctx)


def test_ca_key_signing_directly_is_refused(sign, ctx, pki):
    refused(_signed_with(sign, pki.ca, pki.ca_key), ErrorCode.SECURITY_UNTRUSTED_CERT, **ctx)


@pytest.mark.parametrize("shift", [-timedelta(days=800), timedelta(days=1)], ids=["expired", "not-yet-valid"])
def test_cert_outside_validity_is_refused(sign, ctx, pki, clock, shift):
    cert, key = make_cert(
        "old shop", ou="shop", issuer_cert=pki.ca, issuer_key=pki.ca_key, key_type=pki.key_type,
        san=["x.invalid"], eku=[ExtendedKeyUsageOID.CLIENT_AUTH],
        not_before=START + shift, not_after=START + shift + timedelta(days=30), clock=clock,
    )
    refused(_signed_with(sign, cert, key), ErrorCode.SECURITY_UNTRUSTED_CERT, **ctx)


def test_issuer_without_ca_flag_is_refused(sign, clock, replay, profile, pki):
    not_a_ca, not_a_ca_key = make_cert("leaf as CA", key_type=pki.key_type, clock=clock, san=["x.invalid"],
                                       eku=[ExtendedKeyUsageOID.CLIENT_AUTH])
    cert, key = make_cert(
        "child", ou="shop", issuer_cert=not_a_ca, issuer_key=not_a_ca_key, key_type=pki.key_type,
        san=["x.invalid"], eku=[ExtendedKeyUsageOID.CLIENT_AUTH], clock=clock,
    )
    trust = TrustStore([not_a_ca])
    refused(_signed_with(sign, cert, key), ErrorCode.SECURITY_UNTRUSTED_CERT,
            trust=trust, clock=clock, replay=replay, profile=profile)


def test_server_certificate_cannot_sign_requests(sign, ctx):
    # purpose="client": the leaf must carry the clientAuth EKU.
    refused(sign("server"), ErrorCode.SECURITY_UNTRUSTED_CERT, **ctx)


def test_trust_cache_still_checks_validity_at_each_call(sign, ctx, clock, pki):
    cert, key = make_cert(
        "short shop", ou="shop", issuer_cert=pki.ca, issuer_key=pki.ca_key, key_type=pki.key_type,
        san=["x.invalid"], eku=[ExtendedKeyUsageOID.CLIENT_AUTH],
        not_before=START - timedelta(hours=1), not_after=START + timedelta(minutes=10), clock=clock,
    )
    verify_envelope(_signed_with(sign, cert, key), **ctx)
    clock.advance(timedelta(minutes=11))
    refused(_signed_with(sign, cert, key), ErrorCode.SECURITY_UNTRUSTED_CERT, **ctx)


# --- roles -------------------------------------------------------------------------------


def test_wrong_role_is_refused(sign, ctx):
    refused(sign("gateway"), ErrorCode.SECURITY_ROLE, expected_role="shop", **ctx)
    refused(sign("shop"), ErrorCode.SECURITY_ROLE, expected_role="admin", **ctx)


def test_certificate_without_role_is_refused(sign, ctx, pki, clock):
    cert, key = make_cert(
        "nobody", ou="marketing", issuer_cert=pki.ca, issuer_key=pki.ca_key, key_type=pki.key_type,
        san=["x.invalid"], eku=[ExtendedKeyUsageOID.CLIENT_AUTH], clock=clock,
    )
    refused(_signed_with(sign, cert, key), ErrorCode.SECURITY_ROLE, expected_role="shop", **ctx)


def test_fingerprint_map_overrides_the_ou(sign, clock, replay, profile, pki):
    from mts_service.wssec.trust import fingerprint

    trust = TrustStore([pki.ca], roles_by_fingerprint={fingerprint(pki.cert("shop")): "admin"})
    message = verify_envelope(sign("shop"), trust=trust, clock=clock, replay=replay, profile=profile,
                              expected_role="admin")
    assert message.role == "admin"


# --- timestamps --------------------------------------------------------------------------


def test_stale_message_is_refused(sign, ctx, clock):
    raw = sign("shop")
    clock.advance(timedelta(seconds=300 + 60 + 1))
    refused(raw, ErrorCode.SECURITY_EXPIRED, **ctx)


def test_message_within_ttl_and_skew_is_accepted(sign, ctx, clock):
    raw = sign("shop", at=START + timedelta(seconds=59))  # peer clock slightly ahead
    verify_envelope(raw, **ctx)


def test_future_message_is_refused(sign, ctx):
    refused(sign("shop", at=START + timedelta(seconds=61)), ErrorCode.SECURITY_EXPIRED, **ctx)


def test_age_counts_from_created_whatever_expires_says(sign, ctx, clock, pki):
    root = parse(sign("shop", at=START - timedelta(seconds=400)))
    find(root, "soap:Header/wsse:Security/wsu:Timestamp/wsu:Expires").text = "2030-01-01T00:00:00Z"
    resign(root, pki.key("shop"), [f"#{body_id(root)}", f"#{timestamp_id(root)}"])
    refused(dump(root), ErrorCode.SECURITY_EXPIRED, **ctx)


@pytest.mark.parametrize(
    "created, expires",
    [
        ("2026-01-15T09:00:00+00:00", "2026-01-15T09:05:00Z"),  # not Z
        ("2026-01-15T09:00:00", "2026-01-15T09:05:00Z"),  # naive
        ("2026-01-15T09:05:00Z", "2026-01-15T09:00:00Z"),  # Expires before Created
        ("2026-01-15T09:00:00Z", None),  # no Expires
        ("yesterday", "2026-01-15T09:05:00Z"),
    ],
)
def test_odd_signed_timestamps_are_refused(sign, ctx, pki, created, expires):
    root = parse(sign("shop"))
    stamp = find(root, "soap:Header/wsse:Security/wsu:Timestamp")
    find(stamp, "wsu:Created").text = created
    if expires is None:
        stamp.remove(find(stamp, "wsu:Expires"))
    else:
        find(stamp, "wsu:Expires").text = expires
    resign(root, pki.key("shop"), [f"#{body_id(root)}", f"#{timestamp_id(root)}"])
    refused(dump(root), ErrorCode.SECURITY_EXPIRED, **ctx)


def test_millisecond_to_microsecond_timestamps_are_accepted(sign, ctx, pki):
    root = parse(sign("shop"))
    find(root, "soap:Header/wsse:Security/wsu:Timestamp/wsu:Created").text = "2026-01-15T09:00:00.123456Z"
    find(root, "soap:Header/wsse:Security/wsu:Timestamp/wsu:Expires").text = "2026-01-15T09:05:00Z"
    resign(root, pki.key("shop"), [f"#{body_id(root)}", f"#{timestamp_id(root)}"])
    assert verify_envelope(dump(root), **ctx).created.microsecond == 123456


# --- replay ------------------------------------------------------------------------------


def test_replay_is_refused(sign, ctx):
    raw = sign("shop")
    verify_envelope(raw, **ctx)
    refused(raw, ErrorCode.SECURITY_REPLAY, **ctx)


def test_reserialised_replay_is_refused(sign, ctx):
    raw = sign("shop")
    verify_envelope(raw, **ctx)

    def rewrap(root):
        value = find(root, "soap:Header/wsse:Security/ds:Signature/ds:SignatureValue")
        value.text = rewrap_base64(value.text, 76, "\r\n")
        find(root, "soap:Header/wsse:Security/ds:Signature").addprevious(etree.Comment("noise"))

    replayed = mutate(raw, rewrap)
    assert replayed != raw
    refused(replayed, ErrorCode.SECURITY_REPLAY, **ctx)


def test_ecdsa_malleated_replay_is_refused(sign, ctx, pki):
    if pki.key_type != "ec":
        pytest.skip("ECDSA only")
    import base64

    n = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551  # P-256 order
    raw = sign("shop")
    verify_envelope(raw, **ctx)

    def malleate(root):
        value = find(root, "soap:Header/wsse:Security/ds:Signature/ds:SignatureValue")
        sig = base64.b64decode(value.text)
        r, s = sig[:32], int.from_bytes(sig[32:], "big")
        value.text = base64.b64encode(r + (n - s).to_bytes(32, "big")).decode()

    refused(mutate(raw, malleate), ErrorCode.SECURITY_REPLAY, **ctx)


def test_refused_message_does_not_poison_the_cache(sign, ctx, replay):
    raw = sign("shop")
    tampered = raw.replace(b"bonjour", b"bonsoir")
    refused(tampered, ErrorCode.SECURITY_BAD_SIGNATURE, **ctx)
    assert len(replay) == 0
    verify_envelope(raw, **ctx)


def test_in_memory_cache_forgets_after_expiry(clock):
    cache = InMemoryReplayCache(clock=clock)
    assert cache.remember("k", START + timedelta(minutes=1)) is True
    assert cache.remember("k", START + timedelta(minutes=1)) is False
    clock.advance(timedelta(minutes=2))
    assert cache.remember("k", START + timedelta(minutes=3)) is True
    assert len(cache) == 1


# --- algorithms --------------------------------------------------------------------------


def _set_algorithm(path, uri):
    def change(root):
        find(root, path).set("Algorithm", uri)

    return change


SIG = "soap:Header/wsse:Security/ds:Signature/ds:SignedInfo/"


@pytest.mark.parametrize(
    "path, uri",
    [
        (SIG + "ds:SignatureMethod", ns.RSA_SHA1),
        (SIG + "ds:SignatureMethod", ns.HMAC_SHA256),
        (SIG + "ds:SignatureMethod", ns.HMAC_SHA1),
        (SIG + "ds:SignatureMethod", "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512"),
        (SIG + "ds:Reference/ds:DigestMethod", ns.SHA1),
        (SIG + "ds:Reference/ds:DigestMethod", "http://www.w3.org/2001/04/xmlenc#sha512"),
        (SIG + "ds:CanonicalizationMethod", "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"),
        (SIG + "ds:CanonicalizationMethod", ns.EXC_C14N_WITH_COMMENTS),
    ],
    ids=["rsa-sha1", "hmac-sha256", "hmac-sha1", "rsa-sha512", "sha1-digest", "sha512-digest", "c14n10", "with-comments"],
)
def test_algorithms_outside_the_allow_list_are_refused(sign, ctx, path, uri):
    refused(mutate(sign("shop"), _set_algorithm(path, uri)), ErrorCode.SECURITY_ALGORITHM, **ctx)


def test_hmac_signature_really_made_with_a_secret_is_refused(sign, ctx):
    root = parse(sign("shop"))
    resign(root, b"shared-secret", [f"#{body_id(root)}", f"#{timestamp_id(root)}"],
           signature_method=SignatureMethod.HMAC_SHA256)
    refused(dump(root), ErrorCode.SECURITY_ALGORITHM, **ctx)


def test_weak_profile_is_refused_at_construction():
    with pytest.raises(ValueError):
        SecurityProfile(signature_methods=frozenset({ns.RSA_SHA1}))
    with pytest.raises(ValueError):
        SecurityProfile(digest_methods=frozenset({ns.SHA1}))
    with pytest.raises(ValueError):
        SecurityProfile(signature_methods=frozenset({ns.HMAC_SHA256}), allow_weak_algorithms=True)
    SecurityProfile(signature_methods=frozenset({ns.RSA_SHA1, ns.RSA_SHA256}), allow_weak_algorithms=True)


def test_public_api_is_listed():
    import inspect

    import mts_service.wssec as wssec

    public = {name for name, value in vars(wssec).items() if not name.startswith("_") and not inspect.ismodule(value)}
    assert sorted(wssec.__all__) == sorted(public)


def test_signing_copies_the_security_template_and_never_fills_it(sign, ctx, pki):
    """sign_envelope deep-copies one wsse:Security template per method and certificate: two
    messages get their own ids, times and signatures, and the template stays blank."""
    from mts_service.wssec.sign import _security_template, _signature_method, _token_text

    first, second = sign("shop"), sign("shop")
    assert verify_envelope(first, **ctx).signed_info_digest != verify_envelope(second, **ctx).signed_info_digest
    template = _security_template(_signature_method(pki.key("shop")), _token_text(pki.cert("shop")))
    timestamp, bst, signature = template
    assert timestamp.get(ns.WSU_ID) == bst.get(ns.WSU_ID) == "" and timestamp[0].text is None
    assert template.get(ns.MUST_UNDERSTAND) is None and signature[1].text is None
    assert all(ref.get("URI") == "" and ref[2].text is None for ref in signature[0][2:])


def test_element_children_skip_comments_and_processing_instructions():
    from lxml import etree

    from mts_service.wssec.verify import _elements

    node = etree.fromstring("<a><b/><!-- c --><d/><?pi x?><e>t</e></a>")
    assert [child.tag for child in _elements(node)] == ["b", "d", "e"]
    assert _elements(etree.fromstring("<a>text<!-- only --></a>")) == []

import stat

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from mts_service.clock import FixedClock
from mts_service.pki import create_dev_pki, load_certificate, load_private_key

NAMES = ("ca", "server", "gateway", "shop", "admin")


@pytest.mark.parametrize("key_type, key_class", [("rsa", rsa.RSAPrivateKey), ("ec", ec.EllipticCurvePrivateKey)])
def test_creates_ca_and_role_certificates(tmp_path, key_type, key_class):
    pki = create_dev_pki(tmp_path, key_type=key_type, clock=FixedClock())
    for name in NAMES:
        assert isinstance(load_private_key(pki.key(name)), key_class)
        assert stat.S_IMODE(pki.key(name).stat().st_mode) == 0o600
    if key_type == "rsa":
        assert load_private_key(pki.key("shop")).key_size == 2048
    else:
        assert isinstance(load_private_key(pki.key("shop")).curve, ec.SECP256R1)
    ca = load_certificate(pki.ca_cert)
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is True
    for role in ("gateway", "shop", "admin"):
        cert = load_certificate(pki.cert(role))
        assert cert.issuer == ca.subject
        assert cert.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)[0].value == role
        assert list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [
            ExtendedKeyUsageOID.CLIENT_AUTH
        ]
        assert cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    server = load_certificate(pki.cert("server"))
    assert list(server.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [
        ExtendedKeyUsageOID.SERVER_AUTH
    ]
    san = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["localhost"]


def test_is_idempotent_unless_forced(tmp_path):
    pki = create_dev_pki(tmp_path, clock=FixedClock())
    before = {name: pki.cert(name).read_bytes() for name in NAMES}
    create_dev_pki(tmp_path, clock=FixedClock())
    assert {name: pki.cert(name).read_bytes() for name in NAMES} == before
    create_dev_pki(tmp_path, clock=FixedClock(), force=True)
    assert all(pki.cert(name).read_bytes() != before[name] for name in NAMES)


def test_missing_leaf_is_reissued_by_the_existing_ca(tmp_path):
    pki = create_dev_pki(tmp_path, clock=FixedClock())
    ca_before = pki.ca_cert.read_bytes()
    pki.cert("shop").unlink()
    create_dev_pki(tmp_path, clock=FixedClock())
    assert pki.ca_cert.read_bytes() == ca_before
    assert load_certificate(pki.cert("shop")).issuer == load_certificate(pki.ca_cert).subject

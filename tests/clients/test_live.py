"""Every operation through the clients against a real ``mts-service serve`` (gunicorn, TLS,
WS-Security on), plus the failure paths a client meets: faults, wrong role, untrusted answers,
a server that is not there."""

from __future__ import annotations

import secrets
import shutil
from datetime import datetime, timedelta, timezone

import pytest

from gateway_client import (
    ClientConfig,
    GatewayClient,
    InboundMessage,
    MtsFaultError,
    ReceiptOutcome,
    ServiceUnavailable,
    UntrustedResponse,
    find_wsdl,
    make_signature,
)
from gateway_client.soap_client import make_transport
from mts_service.cli.demo import DEMO_NUMBER, free_port
from mts_service.pki import create_dev_pki
from shop_client import (
    AdminClient,
    DeliveryMode,
    DeliveryOutcome,
    EntryKind,
    GrantStatus,
    Money,
    OrderStatus,
    ShopClient,
)

pytestmark = pytest.mark.slow


def uid(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(4)}"


def phone() -> str:
    return "+2126" + "".join(secrets.choice("0123456789") for _ in range(8))


@pytest.fixture(scope="module")
def clients(live_server):
    return (
        GatewayClient.connect(live_server.url, certs_dir=live_server.certs),
        ShopClient.connect(live_server.url, certs_dir=live_server.certs),
        AdminClient.connect(live_server.url, certs_dir=live_server.certs),
    )


def sms(gateway, sender, text, message_id=None):
    return gateway.submit_sms(InboundMessage(message_id or uid("m"), sender, DEMO_NUMBER, text,
                                             datetime.now(timezone.utc)))


def test_code_flow_redeem_order_delivery(clients):
    gateway, shop, admin = clients
    receipt = sms(gateway, phone(), "pay")
    assert receipt.outcome is ReceiptOutcome.CODE_ISSUED and not receipt.duplicate and receipt.language == "fr"
    code = next(w.strip(":.") for w in receipt.reply_text.split() if len(w.strip(":.")) == 8 and w.strip(":.").isupper())
    ref = uid("cust")
    customer = shop.register_customer(ref, language="fr")
    assert customer.customer_ref == ref and customer.language == "fr"
    redemption = shop.redeem_code(ref, code)
    assert redemption.value == Money(500, "MAD") and redemption.authorization.may_order
    assert shop.redeem_code(ref, code).already_redeemed

    order = shop.place_order(uid("o"), ref, Money(10000, "MAD"), delivery_mode=DeliveryMode.PICKUP,
                             pickup_point_id="relay-1")
    assert (order.advance_applied, order.cod_due, order.pickup_point_id) == (
        Money(500, "MAD"), Money(9500, "MAD"), "relay-1")
    assert shop.place_order(order.order_id, ref, Money(10000, "MAD"), delivery_mode="PICKUP",
                            pickup_point_id="relay-1").duplicate
    closed = shop.report_delivery(order.order_id, DeliveryOutcome.CANCELLED)
    assert closed.status is OrderStatus.CANCELLED
    assert shop.get_authorization(ref).advances_left == 1  # a cancelled order gives the advance back


def test_username_and_registered_number_flows_then_forfeit(clients):
    gateway, shop, admin = clients
    name, mobile = uid("user").replace("-", ""), phone()
    shop.register_customer(uid("k"), username=name)
    assert sms(gateway, phone(), f"PAY {name}").outcome is ReceiptOutcome.CREDITED
    ref = uid("s")
    shop.register_customer(ref, mobile=mobile)
    for _ in range(2):
        assert sms(gateway, mobile, "PAY").outcome is ReceiptOutcome.CREDITED
    order = shop.place_order(uid("o"), ref, Money(5000, "MAD"))
    shop.report_delivery(order.order_id, "REFUSED")
    revocation = admin.revoke_authorization(customer_ref=ref, reason="refused delivery", order_id=order.order_id)
    assert revocation.forfeited == Money(500, "MAD")
    assert [g.status for g in revocation.revoked_grants] == [GrantStatus.REVOKED]
    assert admin.revoke_authorization(customer_ref=ref, reason="again").revoked_grants == ()

    details = admin.get_customer(ref)
    assert details.customer.mobile == mobile and details.customer.forfeit_count == 1
    assert {o.order_id: o.status for o in details.orders} == {order.order_id: OrderStatus.REFUSED}
    assert not details.authorization.may_order

    forfeits = admin.get_ledger(customer_ref=ref, kind=EntryKind.FORFEIT)
    assert [e.amount for e in forfeits.entries] == [Money(500, "MAD")]
    assert forfeits.entries[0].order_id == order.order_id


def test_duplicate_message_id_returns_the_same_receipt(clients):
    gateway, _, _ = clients
    message_id, sender = uid("m"), phone()
    first = sms(gateway, sender, "PAY", message_id)
    again = sms(gateway, sender, "PAY", message_id)
    assert again.duplicate and again.reply_text == first.reply_text
    with pytest.raises(MtsFaultError) as info:
        sms(gateway, sender, "PAY something else", message_id)
    assert info.value.code == "MESSAGE_ID_CONFLICT" and info.value.side == "Client"


def test_ledger_pages_report_and_policy(clients):
    gateway, _, admin = clients
    for _ in range(3):
        sms(gateway, phone(), "PAY")
    first = admin.get_ledger(limit=2)
    assert len(first.entries) == 2 and first.next_after_id is not None
    everything = list(admin.iter_ledger(page_size=2))
    assert [e.entry_id for e in everything] == sorted({e.entry_id for e in everything})
    assert everything[:2] == list(first.entries)
    since = datetime.now(timezone.utc) - timedelta(hours=1)
    assert admin.get_ledger(since=since, limit=500).entries
    # An empty page (zeep reads the empty <page/> as None) is a page with no entries.
    empty = admin.get_ledger(since=datetime.now(timezone.utc) + timedelta(days=365))
    assert (empty.entries, empty.next_after_id) == ((), None)
    assert list(admin.iter_ledger(since=datetime.now(timezone.utc) + timedelta(days=365))) == []

    today = datetime.now(timezone.utc).date()
    report = admin.get_report(today, today)
    row = next(r for r in report.rows if r.premium_number == DEMO_NUMBER)
    assert row.messages >= 3 and row.gross_minor == row.messages * 500 and row.net_minor == row.messages * 300

    policy = admin.get_policy()
    assert policy is not None and policy["premium_numbers"][0]["number"] == DEMO_NUMBER
    settings = policy.settings
    settings["advance_sms"] = 1
    stored = admin.set_policy(settings, expected_version=policy.version)
    assert stored.version == policy.version + 1
    with pytest.raises(MtsFaultError) as info:
        admin.set_policy(settings, expected_version=policy.version)
    assert info.value.code == "POLICY_VERSION_CONFLICT"


def test_refusals_are_typed_faults_with_a_request_id(clients):
    _, shop, admin = clients
    with pytest.raises(MtsFaultError) as info:
        shop.get_authorization(uid("nobody"))
    assert (info.value.code, info.value.side, info.value.retryable) == ("UNKNOWN_CUSTOMER", "Client", False)
    assert info.value.request_id
    ref = uid("c")
    shop.register_customer(ref)
    with pytest.raises(MtsFaultError) as info:
        shop.redeem_code(ref, "ZZZZZZZZ")
    assert info.value.code == "INVALID_CODE"
    with pytest.raises(MtsFaultError) as info:
        shop.place_order(uid("o"), ref, Money(1000, "MAD"))
    assert info.value.code == "NOT_AUTHORIZED"
    with pytest.raises(MtsFaultError) as info:
        admin.revoke_authorization(grant_id="no-such-grant", reason="x")
    assert info.value.code == "UNKNOWN_GRANT"


def test_a_certificate_of_another_role_is_refused(live_server):
    # the shop's certificate presented to the admin service
    config = ClientConfig(url=live_server.url, certs_dir=live_server.certs)
    wrong = AdminClient(find_wsdl("admin"), endpoint=config.endpoint("admin"),
                        wsse=make_signature(live_server.certs, "shop"), transport=make_transport(config, "shop"))
    with pytest.raises(MtsFaultError) as info:
        wrong.get_policy()
    assert info.value.code == "SECURITY_ROLE"


def test_unsigned_requests_are_refused(live_server):
    shop = ShopClient.connect(live_server.url, certs_dir=live_server.certs, security=False)
    with pytest.raises(MtsFaultError) as info:
        shop.get_authorization("anyone")
    assert info.value.code == "SECURITY_UNSIGNED"


def test_an_answer_signed_by_an_untrusted_server_is_refused(live_server, tmp_path):
    # TLS still verified against the real CA, but the client trusts another CA for signatures
    other = create_dev_pki(tmp_path / "other")
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    for name in ("shop.pem", "shop.key"):
        shutil.copy(live_server.certs / name, mixed / name)
    shutil.copy(other.ca_cert, mixed / "ca.pem")
    shop = ShopClient.connect(live_server.url, certs_dir=mixed, verify=str(live_server.certs / "ca.pem"))
    with pytest.raises(UntrustedResponse):  # the server's signature does not chain to "our" CA
        shop.get_authorization("anyone")


def test_tls_is_verified_against_the_ca(live_server, tmp_path):
    other = create_dev_pki(tmp_path / "other")
    shop = ShopClient.connect(live_server.url, certs_dir=live_server.certs, verify=str(other.ca_cert))
    with pytest.raises(ServiceUnavailable):
        shop.get_authorization("anyone")


def test_a_server_that_is_not_there_is_service_unavailable(live_server):
    url = f"https://127.0.0.1:{free_port()}"
    gateway = GatewayClient(find_wsdl("gateway"), endpoint=f"{url}/gateway")
    with pytest.raises(ServiceUnavailable):
        sms(gateway, phone(), "PAY")


def test_without_a_wsdl_file_the_served_wsdl_is_used(live_server):
    config = ClientConfig(url=live_server.url, certs_dir=live_server.certs)
    shop = ShopClient(None, endpoint=config.endpoint("shop"), wsse=make_signature(live_server.certs, "shop"),
                      transport=make_transport(config, "shop"))
    with pytest.raises(MtsFaultError) as info:
        shop.get_authorization(uid("nobody"))
    assert info.value.code == "UNKNOWN_CUSTOMER"


def test_the_bridge_submits_through_the_gateway_client(live_server, clients, tmp_path):
    from gateway_client.bridge import Bridge
    from gateway_client.spool import Spool
    from mts_service.clock import SystemClock

    class NoSender:
        def send(self, to, text, *, sender=None):
            raise AssertionError("the reply goes back in the HTTP answer")

    gateway = clients[0]
    spool = Spool(tmp_path / "spool.db", clock=SystemClock())
    bridge = Bridge(spool, gateway.submit_sms, sender=NoSender(), sync_timeout=30)
    try:
        message = InboundMessage(uid("kannel"), phone(), DEMO_NUMBER, "PAY", datetime.now(timezone.utc))
        status, reply = bridge.handle_mo(message)
        assert status == "200 OK" and reply and "MAD" in reply
        assert spool.counts()["done"] == 1
    finally:
        bridge.stop()
        spool.close()


def test_an_expired_code_is_refused_over_the_wire(clients):
    import copy
    import re
    import time

    gateway, shop, admin = clients
    policy = admin.get_policy()
    short = copy.deepcopy(policy.settings)
    short["codes"] = {**short.get("codes", {}), "ttl_seconds": 1}
    admin.set_policy(short)
    try:
        receipt = sms(gateway, phone(), "PAY")
        assert receipt.outcome is ReceiptOutcome.CODE_ISSUED
        code = re.search(r"\b([0-9A-Z]{8})\b", receipt.reply_text).group(1)
        ref = uid("c")
        shop.register_customer(ref)
        time.sleep(1.5)  # let the one-second TTL pass; nothing here measures speed
        with pytest.raises(MtsFaultError) as info:
            shop.redeem_code(ref, code)
        assert (info.value.code, info.value.side) == ("CODE_EXPIRED", "Client")
    finally:
        admin.set_policy(copy.deepcopy(policy.settings))

"""End to end with nothing stood in: phone (fakesmsc) → bearerbox → smsbox → ``mts-gateway
bridge`` (a process, signing with the gateway certificate over TLS) → ``mts-service serve``
(gunicorn, TLS + WS-Security, SQLite) and the reply back to the phone as an MT.

The other parties use the real clients: the administrator sets the policy and reads the
ledger (AdminClient), the shop redeems the code the phone received (ShopClient).

The outage test sends ``MTS_GATEWAY_E2E_OUTAGE_COUNT`` MOs (default 200) while the MTS is
stopped, kills the bridge with SIGKILL twice (while spooling, and while draining) and checks
the ledger and the phones: every MO credited once, every phone answered.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections import Counter
from datetime import datetime, timezone
from urllib.parse import quote

import pytest

from gateway_client import InboundMessage, MtsFaultError, ReceiptOutcome
from mts_service.cli.demo import child_env
from shop_client import EntryKind

from e2e_fixtures import CODE_PATTERN, SERVICE_NUMBER, BridgeProcess, MtsServer, mts_gateway_command, wait_until

pytestmark = [pytest.mark.kannel, pytest.mark.slow]

OUTAGE_COUNT = int(os.environ.get("MTS_GATEWAY_E2E_OUTAGE_COUNT", "200"))


# -- fixtures --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def mts(tmp_path_factory):
    server = MtsServer(tmp_path_factory.mktemp("mts-e2e"))
    try:
        server.start()
        server.set_policy()
        yield server
    finally:
        server.stop()


@pytest.fixture
def bridge(kannel, mts, tmp_path):
    process = BridgeProcess(kannel, mts, tmp_path / "spool.db", tmp_path / "bridge.log")
    try:
        yield process.start()
    finally:
        process.stop()


def the_code(text: str) -> str:
    match = re.search(CODE_PATTERN, text)
    assert match, f"no code in {text!r}"
    return match.group(0)


def spooled_from(bridge: BridgeProcess, phone: str):
    (entry,) = [e for e in bridge.spool_entries() if e.message.sender == phone]
    return entry


def ledger_entries(admin, kind: EntryKind, *, page_size: int = 50) -> list:
    """Every ledger entry of ``kind``, read page by page with AdminClient.get_ledger."""
    entries, after_id = [], None
    while True:
        page = admin.get_ledger(kind=kind, after_id=after_id, limit=page_size)
        entries.extend(page.entries)
        if page.next_after_id is None or not page.entries:
            return entries
        after_id = page.next_after_id


def replay(mts: MtsServer, entry, text: str):
    """Submit the spooled message again with ``text``: the MTS answers the identical receipt
    only if that is exactly the text it recorded (its fingerprint), else MESSAGE_ID_CONFLICT."""
    message = InboundMessage(
        message_id=entry.message.message_id, sender=entry.message.sender,
        service_number=entry.message.service_number, text=text,
        received_at=datetime.now(timezone.utc), operator=entry.message.operator,
    )
    return mts.gateway().submit_sms(message)


# -- the round trip ----------------------------------------------------------------------------

def test_code_by_sms_is_the_one_the_shop_redeems(kannel, mts, bridge):
    mts.set_policy()
    phone = "+212611100001"
    kannel.send_mo(phone, SERVICE_NUMBER, "PAY")
    kannel.wait_mts(lambda k: k.mts_to(phone), timeout=60)

    (mt,) = kannel.mts_to(phone)
    assert (mt.sender, mt.parts) == (SERVICE_NUMBER, 1)
    code = the_code(mt.text)
    entry = spooled_from(bridge, phone)
    assert entry.receipt is not None and entry.receipt.outcome is ReceiptOutcome.CODE_ISSUED
    assert entry.receipt.reply_text == mt.text
    assert (entry.state, entry.reply_state) == ("done", "reply_sent")

    # Credited once, under Kannel's id for the MO, from the operator Kannel named.
    payments = [e for e in ledger_entries(mts.admin(), EntryKind.SMS_PAYMENT) if e.message_id == entry.message.message_id]
    assert [(p.premium_number, p.operator, p.amount.amount_minor) for p in payments] == [(SERVICE_NUMBER, "fake", 500)]

    shop = mts.shop()
    shop.register_customer("e2e-amina", language="fr")
    redemption = shop.redeem_code("e2e-amina", code)
    assert redemption.authorization.may_order
    shop.register_customer("e2e-other", language="fr")
    with pytest.raises(MtsFaultError):          # one-time: nobody else can redeem it
        shop.redeem_code("e2e-other", code)


@pytest.mark.parametrize("phone,text,language", [
    ("+33611100002", "Payé ça à l'hôtel", "fr"),
    ("+212611100003", "دفع من فضلكم", "ar"),
])
def test_french_and_arabic_survive_both_ways(kannel, mts, bridge, phone, text, language):
    mts.set_policy()
    kannel.send_mo(phone, SERVICE_NUMBER, text, ucs2=True)
    kannel.wait_mts(lambda k: k.mts_to(phone), timeout=60)

    entry = spooled_from(bridge, phone)
    assert entry.message.text == text                    # Kannel → bridge
    assert entry.receipt is not None and entry.receipt.language == language
    # bridge → MTS: the MTS recorded exactly this text (a replay with it is a duplicate,
    # a replay with one character changed is a conflict).
    again = replay(mts, entry, text)
    assert again.duplicate and again.reply_text == entry.receipt.reply_text
    with pytest.raises(MtsFaultError) as refused:
        replay(mts, entry, text.replace("à" if language == "fr" else "م", "a"))
    assert refused.value.code == "MESSAGE_ID_CONFLICT"

    (mt,) = kannel.mts_to(phone)                         # MTS → bridge → Kannel → phone
    assert mt.text == entry.receipt.reply_text
    the_code(mt.text)
    if language == "ar":
        assert mt.coding == "ucs-2" and re.search("[\u0600-\u06ff]", mt.text)
    else:
        assert re.search("[éèàù]", mt.text), mt.text     # GSM-7 accents, sent with charset=utf-8


LONG_TEMPLATES = {
    "fr": {"CODE_ISSUED": "Merci pour votre paiement de {amount}. Votre code est {code}, valable {validity}"
                          " pour une {kind}. Saisissez-le sur le site du marchand pour passer commande, puis"
                          " réglez le reste à la livraison. Conservez bien ce message."},
    "ar": {"CODE_ISSUED": "شكرا لدفعكم {amount}. رمزكم هو {code} وهو صالح لمدة {validity}."
                          " أدخلوه في موقع التاجر لإتمام الطلب."},
}


@pytest.mark.parametrize("phone,text,coding", [
    ("+33611100004", "PAY", "text"),        # 161..306 GSM-7 characters: 2 parts of 153
    ("+212611100005", "دفع", "ucs-2"),      # 71..134 UCS-2 characters: 2 parts of 67
])
def test_two_segment_reply_arrives_whole(kannel, mts, bridge, phone, text, coding):
    mts.set_policy(max_reply_segments=2, templates=LONG_TEMPLATES)
    try:
        kannel.send_mo(phone, SERVICE_NUMBER, text, ucs2=coding == "ucs-2")
        kannel.wait_mts(lambda k: k.mts_to(phone), timeout=60)
    finally:
        mts.set_policy()
    entry = spooled_from(bridge, phone)
    (mt,) = kannel.mts_to(phone)
    assert (mt.text, mt.parts, mt.coding) == (entry.receipt.reply_text, 2, coding)
    assert mt.text.startswith("Merci pour votre paiement" if coding == "text" else "شكرا لدفعكم")
    the_code(mt.text)


# -- the outage ---------------------------------------------------------------------------------

def phones(block: int, count: int) -> list[str]:
    return [f"+2126{block:02d}{i:06d}" for i in range(count)]


def why_not_spooled(kannel, bridge: BridgeProcess, numbers: list[str]) -> str:
    """What a failed spooling wait needs to be diagnosed: the spool's counts, the senders it
    lacks and what smsbox logged about them (a lost MO shows as its retries running out)."""
    spooled = {e.message.sender for e in bridge.spool_entries()}
    missing = [number for number in numbers if number not in spooled]
    smsbox_log = (kannel.workdir / "smsbox.log").read_text(errors="replace").splitlines()
    about_missing = [line for line in smsbox_log if any(quote(m) in line or m in line for m in missing)]
    return (f"spool counts {bridge.spool_counts()}; {len(missing)} missing: {missing[:20]}\n"
            + "\n".join(about_missing[-40:]) + "\n-- bridge log --\n"
            + "\n".join(bridge.log.read_text(errors="replace").splitlines()[-20:]))


def test_outage_of_the_mts_with_the_bridge_killed_twice(kannel, tmp_path):
    """MTS down; N MOs through Kannel; the bridge killed -9 while spooling and again while
    draining; the MTS back: N payments in the ledger under N distinct ids, N phones answered."""
    n = OUTAGE_COUNT
    numbers = phones(50, n)
    a = n * 2 // 5
    b = a + max(1, n // 20)           # a few while the bridge is dead: smsbox must retry them
    first, while_dead, rest = numbers[:a], numbers[a:b], numbers[b:]
    mts = MtsServer(tmp_path / "mts")
    bridge = BridgeProcess(kannel, mts, tmp_path / "spool.db", tmp_path / "bridge.log", configure_by_env=True)
    try:
        mts.start()
        mts.set_policy()
        mts.stop()                                            # the outage starts

        bridge.start()
        for number in first:
            kannel.send_mo(number, SERVICE_NUMBER, "PAY")
        wait_until(lambda: bridge.spool_counts().get("pending") == len(first), timeout=120,
                   message=f"{len(first)} MOs in the spool")
        bridge.kill()                                         # kill -9 while spooling
        for number in while_dead:                             # smsbox retries these (same %I)
            kannel.send_mo(number, SERVICE_NUMBER, "PAY")
        bridge.start()
        for number in rest:
            kannel.send_mo(number, SERVICE_NUMBER, "PAY")
        try:
            wait_until(lambda: bridge.spool_counts().get("pending") == n, timeout=180,
                       message=f"all {n} MOs in the spool")
        except AssertionError as timeout:
            raise AssertionError(f"{timeout}\n{why_not_spooled(kannel, bridge, numbers)}") from None
        assert not any(kannel.mts_to(number) for number in numbers)   # nothing sent while down

        # Every entry is tried (and fails) soon after it is spooled; on a loaded machine the
        # last ones may still wait for a free submitter thread, hence the wait.
        wait_until(lambda: all(e.attempts >= 1 for e in bridge.spool_entries()), timeout=60,
                   message="a first attempt at every spooled MO")
        listed = bridge.spool_cli("--json")                   # what an operator sees
        assert listed.returncode == 0, listed.stderr
        owed = json.loads(listed.stdout)
        assert owed["counts"]["pending"] == n and len(owed["entries"]) == n
        assert all(e["attempts"] >= 1 and e["last_error"] for e in owed["entries"])

        mts.start()                                           # the MTS comes back
        wait_until(lambda: bridge.spool_counts().get("done", 0) >= n // 4, timeout=180,
                   message="the drain under way", interval=0.05)
        bridge.kill()                                         # kill -9 while draining
        bridge.start()
        kannel.wait_mts(lambda k: all(k.mts_to(number) for number in numbers), timeout=600)
        wait_until(lambda: bridge.spool_counts().get("reply_pending") == 0, timeout=60,
                   message="no reply owed")

        spooled = bridge.spool_entries()
        payments = ledger_entries(mts.admin(), EntryKind.SMS_PAYMENT)
    finally:
        bridge.stop()
        mts.stop()

    # Credited exactly once each, under Kannel's ids.
    assert len(spooled) == n and all(e.state == "done" for e in spooled)
    ids = [p.message_id for p in payments]
    assert len(ids) == n and len(set(ids)) == n
    assert set(ids) == {e.message.message_id for e in spooled}
    assert {e.message.sender for e in spooled} == set(numbers)

    # Every phone got its own reply, with its own code.
    reply_of = {e.message.sender: e.receipt.reply_text for e in spooled}
    copies = Counter()
    for number in numbers:
        texts = [mt.text for mt in kannel.mts_to(number)]
        assert texts and set(texts) == {reply_of[number]}, (number, texts)
        copies[len(texts)] += 1
    assert len({the_code(reply_of[number]) for number in numbers}) == n
    # A late reply goes out by sendsms and is then marked sent: a kill -9 between the two
    # can send that one reply twice (at least once, never lost). One kill, one reply at most.
    assert copies[1] >= n - 1 and set(copies) <= {1, 2}, copies


def test_bridge_refuses_to_start_without_its_sendsms_account(mts, tmp_path):
    """A bridge that took MOs but could never push a late reply would fail silently later."""
    env = {**child_env(os.environ), "MTS_BRIDGE_SPOOL": str(tmp_path / "spool.db"),
           "MTS_SENDSMS_URL": "http://127.0.0.1:9", "MTS_SENDSMS_USER": "mts"}
    done = subprocess.run([*mts_gateway_command(), "bridge", "--url", mts.url, "--certs-dir", str(mts.certs)],
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 2 and "MTS_SENDSMS_PASSWORD" in done.stderr, done.stderr
    assert not (tmp_path / "spool.db").exists()

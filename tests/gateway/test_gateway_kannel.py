"""End to end through a REAL Kannel: phone (fakesmsc) → bearerbox → smsbox → bridge → stand-in MTS,
and the reply back as an MT, directly or later by sendsms.

Each test uses its own phone numbers, so the module shares one Kannel. The outage size is
``MTS_GATEWAY_OUTAGE_COUNT`` (default 50; run 200 once the real MTS is wired).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from gateway_client.bridge import Bridge, make_bridge_server
from gateway_client.sendsms import KannelSender
from gateway_client.spool import Spool
from mts_service.clock import SystemClock

from gw_fakes import DOWN, UP, FakeMts, FakeMtsServer, wait_until
from gw_kannel import SENDSMS_PASSWORD, SENDSMS_USER, wait_for_port

pytestmark = [pytest.mark.kannel, pytest.mark.slow]

OUTAGE_COUNT = int(os.environ.get("MTS_GATEWAY_OUTAGE_COUNT", "50"))
REPO = Path(__file__).resolve().parents[2]


class RunningBridge:
    """The bridge in this process, on the port the Kannel config points at."""

    def __init__(self, kannel, mts: FakeMts, spool_path: Path) -> None:
        self.spool = Spool(spool_path, clock=SystemClock())
        self.bridge = Bridge(
            self.spool, mts.submit,
            sender=KannelSender(kannel.sendsms_url, SENDSMS_USER, SENDSMS_PASSWORD),
            sync_timeout=2.0, poll_interval=0.2, base_delay=0.5, max_delay=2.0, max_workers=8,
        )
        self.server = make_bridge_server(self.bridge, "127.0.0.1", kannel.bridge_port)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self) -> "RunningBridge":
        self.bridge.start()
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.bridge.stop()
        self.spool.close()


@pytest.fixture
def mts() -> FakeMts:
    return FakeMts()


def test_mo_in_reply_out(kannel, mts, tmp_path):
    mts.reply = lambda m: f"Votre code: K7M2P9 ({m.text})"
    with RunningBridge(kannel, mts, tmp_path / "spool.db"):
        kannel.send_mo("+33611000001", "7575", "CODE")
        kannel.send_mo("Orange42", "7575", "CODE")  # masked sender: an opaque id, both ways
        kannel.wait_mts(lambda k: k.mts_to("+33611000001") and k.mts_to("Orange42"))
    (mt,) = kannel.mts_to("+33611000001")
    assert (mt.sender, mt.text, mt.parts) == ("7575", "Votre code: K7M2P9 (CODE)", 1)
    assert [m.sender for m in mts.messages.values()] == ["+33611000001", "Orange42"]
    assert kannel.mts_to("Orange42")[0].text == "Votre code: K7M2P9 (CODE)"


@pytest.mark.parametrize("phone,text,reply", [
    ("+33611000002", "Côte ça à l'hôtel", "Reçu ô ç : code K7M2P9"),
    ("+212611000003", "مساعدة", "شكرا، رمزك K7M2P9"),
])
def test_french_and_arabic_survive_both_ways(kannel, mts, tmp_path, phone, text, reply):
    mts.reply = lambda m: reply
    with RunningBridge(kannel, mts, tmp_path / "spool.db"):
        kannel.send_mo(phone, "7575", text, ucs2=True)
        kannel.wait_mts(lambda k: k.mts_to(phone))
    (message,) = mts.messages.values()
    assert message.text == text
    (mt,) = kannel.mts_to(phone)
    assert (mt.text, mt.coding) == (reply, "ucs-2")


LONG_FRENCH = ("Merci pour votre paiement. Votre code est K7M2P9, valable 24 heures. Saisissez-le sur "
               "le site du marchand pour commander, puis payez a la livraison. Conservez ce message.")
LONG_ARABIC = "شكرا لدفعكم. رمزكم هو K7M2P9 وهو صالح لمدة أربع وعشرين ساعة. أدخلوه في موقع التاجر."


@pytest.mark.parametrize("phone,reply,coding", [
    ("+33611000004", LONG_FRENCH, "text"),     # 161..306 GSM-7 characters: 2 parts of 153
    ("+212611000006", LONG_ARABIC, "ucs-2"),   # 71..134 UCS-2 characters: 2 parts of 67
])
def test_long_reply_arrives_whole_in_two_parts(kannel, mts, tmp_path, phone, reply, coding):
    mts.reply = lambda m: reply
    with RunningBridge(kannel, mts, tmp_path / "spool.db"):
        kannel.send_mo(phone, "7575", "CODE")
        kannel.wait_mts(lambda k: k.mts_to(phone))
    (mt,) = kannel.mts_to(phone)
    assert (mt.text, mt.parts, mt.coding) == (reply, 2, coding)


def test_late_reply_by_sendsms_keeps_ucs2(kannel, mts, tmp_path):
    mts.reply = lambda m: "Paiement reçu ô — شكرا"
    mts.set_mode(DOWN)
    with RunningBridge(kannel, mts, tmp_path / "spool.db") as running:
        kannel.send_mo("+33611000005", "7575", "CODE")
        wait_until(lambda: mts.calls, message="the first submit")
        mts.set_mode(UP)
        kannel.wait_mts(lambda k: k.mts_to("+33611000005"))
        assert running.spool.counts()["reply_sent"] == 1
    (mt,) = kannel.mts_to("+33611000005")
    assert (mt.sender, mt.text, mt.coding) == ("7575", "Paiement reçu ô — شكرا", "ucs-2")


def phones(prefix: str, count: int) -> list[str]:
    return [f"+336{prefix}{i:05d}" for i in range(count)]


def test_outage_nothing_lost_nothing_twice(kannel, mts, tmp_path):
    numbers = phones("20", OUTAGE_COUNT)
    mts.reply = lambda m: f"Code pour {m.sender}"
    mts.set_mode(DOWN)
    with RunningBridge(kannel, mts, tmp_path / "spool.db") as running:
        for number in numbers:
            kannel.send_mo(number, "7575", "CODE")
        wait_until(lambda: running.spool.counts()["pending"] == OUTAGE_COUNT, timeout=120,
                   message="every MO in the spool")
        assert not any(kannel.mts_to(n) for n in numbers)   # Kannel sent nothing while down
        mts.set_mode(UP)
        kannel.wait_mts(lambda k: all(k.mts_to(n) for n in numbers), timeout=180)
    assert sorted(mts.accepted) == sorted(set(mts.accepted)) and len(mts.accepted) == OUTAGE_COUNT
    assert {m.sender for m in mts.messages.values()} == set(numbers)
    assert mts.overlaps == 0
    for number in numbers:
        assert [mt.text for mt in kannel.mts_to(number)] == [f"Code pour {number}"]


def start_bridge_process(kannel, spool_path: Path, mts_url: str, log: Path) -> subprocess.Popen[bytes]:
    env = dict(os.environ, GW_FAKE_MTS_URL=mts_url,
               PYTHONPATH=os.pathsep.join([str(REPO), str(Path(__file__).parent)]))
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway_client.bridge", "--port", str(kannel.bridge_port),
         "--spool", str(spool_path), "--submit-factory", "gw_fakes:remote_submit_from_env",
         "--sendsms-url", kannel.sendsms_url, "--sendsms-user", SENDSMS_USER,
         "--sendsms-password", SENDSMS_PASSWORD, "--sync-timeout", "2", "--poll-interval", "0.2",
         "--base-delay", "0.5", "--max-delay", "2"],
        cwd=REPO, env=env, stdout=open(log, "ab"), stderr=subprocess.STDOUT,
    )
    wait_for_port(kannel.bridge_port)
    return proc


def test_killed_bridge_loses_nothing(kannel, mts, tmp_path):
    count = max(10, OUTAGE_COUNT // 2)
    first, second = phones("30", count), phones("31", count)
    mts.reply = lambda m: f"Code pour {m.sender}"
    mts.set_mode(DOWN)
    server = FakeMtsServer(mts).start()
    spool_path, log = tmp_path / "spool.db", tmp_path / "bridge.log"
    proc = start_bridge_process(kannel, spool_path, server.url, log)
    try:
        for number in first:
            kannel.send_mo(number, "7575", "CODE")
        wait_until(lambda: len(mts.calls) == count, timeout=120, message="first half submitted once")
        os.kill(proc.pid, signal.SIGKILL)                    # dies with everything still spooled
        proc.wait(timeout=10)
        mts.set_mode(UP)
        for number in second[: count // 2]:                  # smsbox retries these until the bridge is back
            kannel.send_mo(number, "7575", "CODE")
        proc = start_bridge_process(kannel, spool_path, server.url, log)
        for number in second[count // 2:]:
            kannel.send_mo(number, "7575", "CODE")
        kannel.wait_mts(lambda k: all(k.mts_to(n) for n in first + second), timeout=180)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()
        server.stop()
    assert len(mts.accepted) == len(set(mts.accepted)) == 2 * count
    assert {m.sender for m in mts.messages.values()} == set(first + second)
    for number in first + second:
        assert [mt.text for mt in kannel.mts_to(number)] == [f"Code pour {number}"]

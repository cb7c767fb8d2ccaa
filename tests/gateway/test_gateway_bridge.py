"""The bridge's WSGI app without Kannel: what Kannel would get back, and what the MTS sees."""

from __future__ import annotations

import threading
from datetime import timedelta
from io import BytesIO
from urllib.parse import quote

import pytest

from gateway_client.bridge import Bridge, decode_text, make_bridge_server, parse_kannel_request
from gateway_client.sendsms import KannelSender
from gateway_client.spool import DONE, FAILED, PENDING, REPLY_PENDING, REPLY_SENT, Spool

from gw_fakes import CLIENT_FAULT, DOWN, SERVER_FAULT, SLOW, UP, FakeSendsmsServer, wait_until


def kannel_query(msgid: str, *, sender: str = "+33612345678", to: str = "7575", text: bytes = b"CODE",
                 coding: str = "0", charset: str = "UTF-8", ts: str = "1767225600") -> str:
    return (f"msgid={msgid}&from={quote(sender, safe='')}&to={to}&text={quote(text, safe='')}"
            f"&coding={coding}&charset={charset}&smsc=fake&ts={ts}")


def call(app, query: str, *, method: str = "GET", body: bytes = b"", headers: dict | None = None):
    environ = {"REQUEST_METHOD": method, "PATH_INFO": "/kannel", "QUERY_STRING": query,
               "CONTENT_LENGTH": str(len(body)), "wsgi.input": BytesIO(body)}
    environ.update(headers or {})
    seen = {}

    def start_response(status, response_headers):
        seen["status"], seen["headers"] = status, dict(response_headers)

    data = b"".join(app(environ, start_response))
    return int(seen["status"].split()[0]), seen["headers"], data.decode("utf-8")


@pytest.fixture
def make_bridge(spool, fake_mts, recording_sender, clock):
    import random

    bridges = []

    def make(**options) -> Bridge:
        options.setdefault("sender", recording_sender)
        options.setdefault("sync_timeout", 2.0)
        bridge = Bridge(options.pop("spool", spool), options.pop("submit", fake_mts.submit), clock=clock,
                        rng=random.Random(7), **options)
        bridges.append(bridge)
        return bridge

    yield make
    for b in bridges:
        b.stop()


def test_mts_up_answers_200_with_the_reply(make_bridge, fake_mts, spool):
    fake_mts.reply = lambda m: "Votre code: K7M2P9"
    status, headers, body = call(make_bridge(), kannel_query("id-1"))
    assert (status, body) == (200, "Votre code: K7M2P9")
    assert headers["Content-Type"] == "text/plain; charset=utf-8"
    assert "X-Kannel-Coding" not in headers
    assert fake_mts.accepted == ["id-1"]
    assert fake_mts.messages["id-1"].sender == "+33612345678"
    assert fake_mts.messages["id-1"].operator == "fake"
    assert spool.get("id-1").state == DONE and spool.get("id-1").reply_state == REPLY_SENT


def test_reply_outside_gsm7_is_flagged_ucs2(make_bridge, fake_mts):
    fake_mts.reply = lambda m: "Côte d'Ivoire ça marche — شكرا"
    status, headers, body = call(make_bridge(), kannel_query("id-2"))
    assert status == 200 and body == "Côte d'Ivoire ça marche — شكرا"
    assert headers["X-Kannel-Coding"] == "2"


@pytest.mark.parametrize("mode", [DOWN, SERVER_FAULT])
def test_mts_unavailable_answers_202_empty_then_late_mt_by_sendsms(mode, spool, fake_mts, clock, make_bridge):
    sendsms = FakeSendsmsServer().start()
    try:
        sender = KannelSender(sendsms.url, "u", "p")
        bridge = make_bridge(sender=sender)
        fake_mts.set_mode(mode)
        fake_mts.reply = lambda m: "Merci, code ô7"
        status, headers, body = call(bridge, kannel_query("id-3", sender="+212600000001"))
        assert (status, body) == (202, "")
        assert spool.get("id-3").state == PENDING and spool.get("id-3").attempts == 1
        assert spool.get("id-3").reply_state == REPLY_PENDING

        bridge.run_due_once()                 # still down, and the retry is not due anyway
        assert fake_mts.accepted == [] and sendsms.requests == []

        fake_mts.set_mode(UP)
        clock.advance(timedelta(seconds=bridge._max_delay))
        assert bridge.run_due_once() == 1
        assert fake_mts.accepted == ["id-3"]
        assert sendsms.requests == [{
            "username": "u", "password": "p", "to": "+212600000001", "from": "7575",
            "text": "Merci, code ô7", "charset": "utf-8", "coding": "2",
        }]
        assert spool.get("id-3").reply_state == REPLY_SENT
        bridge.run_due_once()
        assert len(sendsms.requests) == 1     # sent once
    finally:
        sendsms.stop()


def test_client_fault_is_recorded_failed_and_not_retried(make_bridge, fake_mts, spool, clock, recording_sender):
    bridge = make_bridge()
    fake_mts.set_mode(CLIENT_FAULT)
    status, _, body = call(bridge, kannel_query("id-4"))
    assert (status, body) == (202, "")
    entry = spool.get("id-4")
    assert entry.state == FAILED and "UNKNOWN_SERVICE_NUMBER" in entry.last_error
    clock.advance(timedelta(days=1))
    fake_mts.set_mode(UP)
    assert bridge.run_due_once() == 0
    assert fake_mts.calls["id-4"] == 1 and recording_sender.sent == []
    assert spool.pending() == []


def test_slow_mts_answers_202_and_the_reply_follows(make_bridge, fake_mts, spool, recording_sender):
    bridge = make_bridge(sync_timeout=0.2)
    fake_mts.set_mode(SLOW)
    fake_mts.slow_seconds = 1.0
    status, _, body = call(bridge, kannel_query("id-5"))
    assert (status, body) == (202, "")
    wait_until(lambda: spool.get("id-5").state == DONE, timeout=10, message="the slow submit to finish")
    bridge.send_due_replies()
    assert [(to, s) for to, _, s in recording_sender.sent] == [("+33612345678", "7575")]
    assert fake_mts.calls["id-5"] == 1


def test_concurrent_kannel_retry_submits_once(make_bridge, fake_mts, spool, recording_sender):
    bridge = make_bridge(sync_timeout=5.0)
    fake_mts.set_mode(SLOW)
    fake_mts.slow_seconds = 0.5
    results = []

    def kannel_call():
        results.append(call(bridge, kannel_query("id-6")))

    threads = [threading.Thread(target=kannel_call) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert fake_mts.calls["id-6"] == 1 and fake_mts.overlaps == 0
    assert fake_mts.accepted == ["id-6"]
    # All calls got the reply (Kannel keeps only the live one); nothing goes by sendsms.
    assert {(s, b) for s, _, b in results} == {(200, fake_mts.receipts["id-6"].reply_text)}
    bridge.send_due_replies()
    assert recording_sender.sent == []


def test_kannel_retry_after_done_gets_the_same_reply(make_bridge, fake_mts):
    bridge = make_bridge()
    first = call(bridge, kannel_query("id-7"))
    again = call(bridge, kannel_query("id-7"))
    assert first[2] == again[2] and first[0] == again[0] == 200
    assert fake_mts.calls["id-7"] == 1


def test_a_bridge_restart_resumes_the_spool(tmp_path, clock, fake_mts, recording_sender, make_message):
    import random

    path = tmp_path / "restart.db"
    fake_mts.set_mode(DOWN)
    first = Bridge(Spool(path, clock=clock), fake_mts.submit, sender=recording_sender, clock=clock,
                   rng=random.Random(1), sync_timeout=1.0)
    for i in range(5):
        assert first.handle_mo(make_message(f"r-{i}", sender=f"+3361000000{i}"))[0] == "202 Accepted"
    first.stop()
    first.spool.close()

    fake_mts.set_mode(UP)
    again = Bridge(Spool(path, clock=clock), fake_mts.submit, sender=recording_sender, clock=clock,
                   rng=random.Random(2), poll_interval=0.05)
    clock.advance(timedelta(minutes=10))
    again.start()
    try:
        wait_until(lambda: len(recording_sender.sent) == 5, timeout=20, message="5 late replies")
    finally:
        again.stop()
    assert sorted(fake_mts.accepted) == [f"r-{i}" for i in range(5)]
    assert sorted(to for to, _, _ in recording_sender.sent) == [f"+3361000000{i}" for i in range(5)]


def test_sendsms_failure_keeps_the_reply_pending(make_bridge, fake_mts, spool, clock, recording_sender):
    bridge = make_bridge()
    fake_mts.set_mode(DOWN)
    call(bridge, kannel_query("id-8"))
    fake_mts.set_mode(UP)
    recording_sender.fail = True
    clock.advance(timedelta(hours=1))
    bridge.run_due_once()
    assert spool.get("id-8").reply_state == REPLY_PENDING and spool.get("id-8").reply_attempts == 1
    recording_sender.fail = False
    clock.advance(timedelta(hours=1))
    bridge.run_due_once()
    assert spool.get("id-8").reply_state == REPLY_SENT and len(recording_sender.sent) == 1


def test_masked_sender_passes_through(make_bridge, fake_mts):
    call(make_bridge(), kannel_query("id-9", sender="Orange-4F2A"))
    assert fake_mts.messages["id-9"].sender == "Orange-4F2A"


def test_missing_msgid_is_refused(make_bridge, fake_mts):
    status, _, body = call(make_bridge(), "from=%2B336&to=7575&text=CODE")
    assert status == 400 and "msgid" in body
    assert fake_mts.calls == {}


def test_served_over_http(make_bridge, fake_mts):
    import requests

    server = make_bridge_server(make_bridge(), "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        fake_mts.reply = lambda m: "مرحبا ô"
        url = f"http://127.0.0.1:{server.server_port}/kannel?" + kannel_query("id-10")
        response = requests.get(url, timeout=10)
        assert response.status_code == 200 and response.content.decode("utf-8") == "مرحبا ô"
        assert response.headers["X-Kannel-Coding"] == "2"
    finally:
        server.shutdown()
        server.server_close()


# -- decoding what Kannel sends -------------------------------------------------------------

@pytest.mark.parametrize("text", ["Côte ça", "مساعدة", "CODE  avec\nligne"])
def test_utf16be_raw_with_coding_2(text, clock):
    query = kannel_query("u-1", text=text.encode("utf-16-be"), coding="2", charset="UTF-16BE")
    assert parse_kannel_request({"QUERY_STRING": query}, clock=clock).text == text
    query = kannel_query("u-1", text=text.encode("utf-16-be"), coding="2", charset="")
    assert parse_kannel_request({"QUERY_STRING": query}, clock=clock).text == text


def test_mo_recode_utf8_and_legacy_charsets(clock):
    assert parse_kannel_request({"QUERY_STRING": kannel_query("u-2", text="ô ç €".encode())}, clock=clock).text == "ô ç €"
    latin = kannel_query("u-3", text="Côte".encode("latin-1"), charset="ISO-8859-1")
    assert parse_kannel_request({"QUERY_STRING": latin}, clock=clock).text == "Côte"
    assert decode_text("ça".encode("latin-1"), coding="0", charset=None) == "ça"
    assert decode_text(b"ok", coding="0", charset="no-such-charset") == "ok"


def test_timestamp_and_post_url(clock):
    msg = parse_kannel_request({"QUERY_STRING": kannel_query("u-4", ts="1767225600")}, clock=clock)
    assert msg.received_at.isoformat() == "2026-01-01T00:00:00+00:00"
    body = "مرحبا".encode("utf-8")
    environ = {"REQUEST_METHOD": "POST", "QUERY_STRING": "msgid=u-5", "CONTENT_LENGTH": str(len(body)),
               "CONTENT_TYPE": "text/plain; charset=utf-8", "wsgi.input": BytesIO(body),
               "HTTP_X_KANNEL_FROM": "+212600000000", "HTTP_X_KANNEL_TO": "7575"}
    msg = parse_kannel_request(environ, clock=clock)
    assert (msg.message_id, msg.sender, msg.service_number, msg.text) == ("u-5", "+212600000000", "7575", "مرحبا")

"""kannel.conf rendering and the sendsms client (against a fake sendsms endpoint)."""

from __future__ import annotations

import pytest

from gateway_client.kannel_config import bridge_get_url, render_kannel_config
from gateway_client.sendsms import KannelSender, SendFailed

from gw_fakes import FakeSendsmsServer


def render(**overrides):
    options = dict(sendsms_port=13013, sendsms_user="mts", sendsms_password="pw", smsc_port=10000)
    options.update(overrides)
    return render_kannel_config("http://127.0.0.1:8088/kannel", **options)


def test_config_has_the_settings_the_bridge_relies_on():
    text = render()
    for line in [
        'get-url = "http://127.0.0.1:8088/kannel?msgid=%I&from=%p&to=%P&text=%b&coding=%c&charset=%C&smsc=%i&ts=%T"',
        "mo-recode = true", 'reply-couldnotfetch = ""', "omit-empty = true", "accept-x-kannel-headers = true",
        "http-request-retry = 30", "http-queue-delay = 10", "sendsms-port = 13013", 'username = "mts"', "group = sendsms-user",
        "smsc = fake", "port = 10000", "max-messages = 3",
    ]:
        assert line in text.splitlines(), line


def test_get_url_keeps_an_existing_query():
    assert bridge_get_url("http://h:1/k?site=a").startswith("http://h:1/k?site=a&msgid=%I&")


@pytest.mark.parametrize("bad", [{"sendsms_password": 'a"b'}, {"sendsms_user": "a b"}, {"smsc_port": 0},
                                 {"max_messages": 0}])
def test_config_refuses_values_it_cannot_write(bad):
    with pytest.raises(ValueError):
        render(**bad)


def test_sender_switches_to_ucs2_only_when_needed():
    server = FakeSendsmsServer().start()
    try:
        sender = KannelSender(server.url, "mts", "pw", from_number="7575")
        sender.send("+33612345678", "Code é à: K7M2")
        sender.send("opaque1", "شكرا ô", sender="8080")
        first, second = server.requests
        assert first["charset"] == "utf-8" and "coding" not in first and first["from"] == "7575"
        assert second["coding"] == "2" and second["text"] == "شكرا ô" and second["from"] == "8080"
        assert second["to"] == "opaque1"
    finally:
        server.stop()


def test_sender_raises_on_refusal_and_when_unreachable():
    server = FakeSendsmsServer(status=403).start()
    try:
        with pytest.raises(SendFailed) as info:
            KannelSender(server.url, "mts", "bad").send("+33612345678", "x")
        assert info.value.status_code == 403
    finally:
        server.stop()
    with pytest.raises(SendFailed):
        KannelSender(server.url, "mts", "pw", timeout=1).send("+33612345678", "x")

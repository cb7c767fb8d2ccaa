"""E-mail as an inbound channel: header rules and body fallback."""

from __future__ import annotations

import pytest

from gateway_client.email_channel import InvalidEmail, UnknownServiceAddress, inbound_from_email, service_number_for
from gateway_client.models import Channel

MAP = {"pay-7575@shop.example": "7575", "paiement@shop.example": "8080", "@pay.example": ""}


def mail(*, subject: str = "CODE", to: str = "pay-7575@shop.example", body: str = "",
         message_id: str | None = "<abc.123@mail.example>", sender: str = "Fatima Zahra <Fatima.Z@Example.MA>",
         date: str | None = "Sun, 01 Mar 2026 12:00:00 +0100") -> bytes:
    lines = [f"From: {sender}", f"To: {to}", f"Subject: {subject}"]
    if message_id:
        lines.append(f"Message-ID: {message_id}")
    if date:
        lines.append(f"Date: {date}")
    lines += ["MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: 8bit", "", body]
    return "\r\n".join(lines).encode("utf-8")


def test_headers_make_the_inbound_message(clock):
    msg = inbound_from_email(mail(subject="  CODE jean.dupont "), service_address_map=MAP, clock=clock)
    assert msg.message_id == "abc.123@mail.example"
    assert msg.sender == "fatima.z@example.ma"
    assert msg.service_number == "7575"
    assert msg.text == "CODE jean.dupont"
    assert msg.channel is Channel.EMAIL
    assert msg.received_at.isoformat() == "2026-03-01T11:00:00+00:00"


def test_body_first_line_when_no_subject(clock):
    raw = mail(subject="", body="\n\n  مساعدة  \nsecond line")
    assert inbound_from_email(raw, service_address_map=MAP, clock=clock).text == "مساعدة"


def test_encoded_subject_and_exact_map(clock):
    raw = mail(subject="=?utf-8?q?C=C3=B4te_=C3=A7a?=", to="Paiement <PAIEMENT@shop.example>")
    msg = inbound_from_email(raw, service_address_map=MAP, clock=clock)
    assert (msg.text, msg.service_number) == ("Côte ça", "8080")


@pytest.mark.parametrize("address,number", [
    ("pay-4242@pay.example", "4242"), ("pay+4242@pay.example", "4242"), ("PAY-4242@Pay.Example", "4242"),
    ("pay@pay.example", None), ("pay-42a@pay.example", None), ("pay-4242@other.example", None),
])
def test_domain_rule(address, number):
    assert service_number_for(address, MAP) == number


def test_refusals(clock):
    with pytest.raises(InvalidEmail, match="Message-ID"):
        inbound_from_email(mail(message_id=None), service_address_map=MAP, clock=clock)
    with pytest.raises(UnknownServiceAddress):
        inbound_from_email(mail(to="someone@else.example"), service_address_map=MAP, clock=clock)
    with pytest.raises(InvalidEmail, match="text"):
        inbound_from_email(mail(subject="", body="  \n"), service_address_map=MAP, clock=clock)


def test_missing_date_uses_the_clock(clock):
    assert inbound_from_email(mail(date=None), service_address_map=MAP, clock=clock).received_at == clock.now()

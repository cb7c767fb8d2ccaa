"""Paid messages that arrive by e-mail (channel EMAIL): one RFC 5322 message → InboundMessage.

Rules (documented here because operators configure them):

* ``message_id``: the Message-ID header without its angle brackets. A mail without one is
  refused: a made-up id would defeat the MTS's idempotency on re-delivery.
* ``sender``: the From address (addr-spec only), lowercased.
* ``service_number``: from the first recipient (To, then Cc, Delivered-To, X-Original-To)
  that the map resolves:

  1. an exact address key: ``{"pay-7575@shop.example": "7575"}``;
  2. a domain key ``"@shop.example"`` (value ignored): the number is the digits after the
     last ``-`` or ``+`` of the local part, so ``pay-7575@…`` and ``pay+7575@…`` → ``7575``.

  Nothing resolves → ``UnknownServiceAddress`` (the message is not guessed at).
* ``text``: the Subject when not blank, else the first non-blank line of the text/plain body.
* ``received_at``: the Date header when present and timezone-aware, else the clock.
"""

from __future__ import annotations

import re
from datetime import datetime
from email import message_from_bytes, policy
from email.headerregistry import Address
from email.message import EmailMessage
from typing import Mapping

from mts_service.clock import Clock, SystemClock, ensure_utc

from .models import Channel, InboundMessage

_NUMBER_SUFFIX = re.compile(r"[-+](\d+)$")
_RECIPIENT_HEADERS = ("To", "Cc", "Delivered-To", "X-Original-To")


class InvalidEmail(ValueError):
    """The mail lacks what an inbound payment needs (Message-ID, From, a text)."""


class UnknownServiceAddress(InvalidEmail):
    """No recipient of the mail maps to a premium service number."""


def service_number_for(address: str, service_address_map: Mapping[str, str]) -> str | None:
    """Apply the mapping rules above to one recipient address."""
    address = address.strip().lower()
    exact = {key.lower(): value for key, value in service_address_map.items()}
    if address in exact:
        return exact[address]
    local, _, domain = address.rpartition("@")
    if local and "@" + domain in exact:
        match = _NUMBER_SUFFIX.search(local)
        if match:
            return match.group(1)
    return None


def _addresses(msg: EmailMessage, header: str) -> list[Address]:
    result: list[Address] = []
    for value in msg.get_all(header, []):
        result.extend(getattr(value, "addresses", ()))
    return result


def _first_text_line(msg: EmailMessage) -> str:
    body = msg.get_body(preferencelist=("plain",))
    if body is None:
        return ""
    for line in body.get_content().splitlines():
        if line.strip():
            return line.strip()
    return ""


def inbound_from_email(
    raw_bytes: bytes,
    *,
    service_address_map: Mapping[str, str],
    clock: Clock | None = None,
) -> InboundMessage:
    """Parse one mail into the InboundMessage submitted to the MTS (rules in the module doc)."""
    msg = message_from_bytes(raw_bytes, policy=policy.default)
    if not isinstance(msg, EmailMessage):  # policy.default builds EmailMessage; be explicit
        raise InvalidEmail("not an RFC 5322 message")

    message_id = str(msg.get("Message-ID", "")).strip().strip("<>").strip()
    if not message_id:
        raise InvalidEmail("no Message-ID header")

    senders = _addresses(msg, "From")
    if not senders or not senders[0].addr_spec or "@" not in senders[0].addr_spec:
        raise InvalidEmail("no usable From address")
    sender = senders[0].addr_spec.lower()

    service_number = None
    for header in _RECIPIENT_HEADERS:
        for address in _addresses(msg, header):
            service_number = service_number_for(address.addr_spec, service_address_map)
            if service_number:
                break
        if service_number:
            break
    if not service_number:
        raise UnknownServiceAddress("no recipient maps to a service number")

    subject = str(msg.get("Subject", "") or "").strip()
    text = subject or _first_text_line(msg)
    if not text:
        raise InvalidEmail("neither a subject nor a text line")

    received_at: datetime | None = None
    date = msg.get("Date")
    if date is not None:
        parsed = getattr(date, "datetime", None)
        if parsed is not None and parsed.tzinfo is not None:
            received_at = ensure_utc(parsed)
    if received_at is None:
        received_at = (clock or SystemClock()).now()

    return InboundMessage(
        message_id=message_id,
        sender=sender,
        service_number=service_number,
        text=text,
        received_at=received_at,
        channel=Channel.EMAIL,
    )

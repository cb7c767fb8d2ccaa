"""Sender and mobile numbers, normalised to E.164 before any lookup.

Some operators mask or withhold the sender's number; such a sender is kept as an opaque id
(prefixed ``opaque:``) so that flows 1 and 2 still work and the reply goes back to it, while
flow 3 (registered number) can never match it.
"""

from __future__ import annotations

from functools import lru_cache

import phonenumbers

from mts_service.errors import InvalidPhoneNumber

OPAQUE_PREFIX = "opaque:"


@lru_cache(maxsize=65536)  # pure, and parsing costs more than the rest of a lookup
def normalise_mobile(raw: str, default_region: str) -> str:
    """A customer's mobile number as E.164; refuses anything that is not a valid number."""
    try:
        parsed = phonenumbers.parse(raw.strip(), default_region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhoneNumber(f"not a phone number: {exc}") from None
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidPhoneNumber("not a valid phone number")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


@lru_cache(maxsize=65536)
def normalise_sender(raw: str, default_region: str) -> str:
    """The sender of an inbound message: E.164 when it is a valid number, else an opaque id."""
    raw = raw.strip()
    if not raw:
        raise InvalidPhoneNumber("empty sender")
    try:
        return normalise_mobile(raw, default_region)
    except InvalidPhoneNumber:
        return raw if raw.startswith(OPAQUE_PREFIX) else OPAQUE_PREFIX + raw


def is_opaque(sender: str) -> bool:
    return sender.startswith(OPAQUE_PREFIX)

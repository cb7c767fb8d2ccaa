"""Helpers of the SOAP tests: read a fault, build wire arguments, post raw envelopes."""

from __future__ import annotations

import itertools
import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable

import pytest
import zeep

FAULT_NS = "urn:mts:fault:v1"
SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
PREMIUM = "7575"
CURRENCY = "MAD"
_numbers = itertools.count(1)
_base = uuid.uuid4().int % 500_000


@dataclass(frozen=True)
class SeenFault:
    faultcode: str
    faultstring: str
    code: str
    message: str
    request_id: str


def fault_of(call: Callable[..., Any], *args: Any, **kwargs: Any) -> SeenFault:
    """Call a zeep operation that must fail; return what the wire said."""
    with pytest.raises(zeep.exceptions.Fault) as info:
        call(*args, **kwargs)
    return read_fault(info.value)


def read_fault(fault: zeep.exceptions.Fault) -> SeenFault:
    detail = fault.detail.find(f"{{{FAULT_NS}}}FaultDetail")
    assert detail is not None, "fault without an MTS FaultDetail"
    return SeenFault(
        faultcode=fault.code,
        faultstring=fault.message,
        code=detail.findtext(f"{{{FAULT_NS}}}code"),
        message=detail.findtext(f"{{{FAULT_NS}}}message"),
        request_id=detail.findtext(f"{{{FAULT_NS}}}requestId"),
    )


def assert_client_fault(seen: SeenFault, code: str) -> None:
    assert (seen.faultcode, seen.code) == ("soap:Client", code), seen
    assert seen.request_id and seen.message


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def new_mobile() -> str:
    return f"+212662{(_base + next(_numbers)) % 1_000_000:06d}"


def code_in(reply: str) -> str:
    match = re.search(r"\b([0-9A-Z]{8})\b", reply)
    assert match, f"no code in {reply!r}"
    return match.group(1)


def money(amount: int, currency: str = CURRENCY) -> dict:
    return {"amountMinor": amount, "currency": currency}


def message(text: str = "SHOP", *, sender: str | None = None, message_id: str | None = None, number: str = PREMIUM,
            at: datetime | None = None) -> dict:
    return {
        "messageId": message_id or unique("msg"),
        "channel": "SMS",
        "sender": sender or new_mobile(),
        "serviceNumber": number,
        "text": text,
        "receivedAt": at or datetime(2026, 1, 15, 9, 0, tzinfo=timezone.utc),
        "operator": "IAM",
    }


def policy_doc(**overrides: Any) -> dict:
    """A complete PolicyDocument: ADVANCE mode, one SMS per advance, 5.00 MAD per SMS."""
    doc = {
        "mode": "ADVANCE",
        "currency": CURRENCY,
        "premiumNumbers": [
            {"number": PREMIUM, "priceMinor": 500, "netMinor": 300, "keywords": ["SHOP", "ACHAT"], "operators": ["IAM"]},
            {"number": "7576", "priceMinor": 1000, "netMinor": 600, "keywords": ["CAUTION"], "operators": []},
        ],
        "advanceSms": 1,
        "depositSms": 2,
        "depositOrders": 3,
        "depositValiditySeconds": 30 * 86400,
        "flows": ["CODE", "USERNAME", "REGISTERED"],
        "codes": {"length": 8, "alphabet": "0123456789ABCDEFGHJKMNPQRSTVWXYZ", "ttlSeconds": 7 * 86400,
                  "maxFailedAttempts": 3, "attemptWindowSeconds": 900},
        "defaultLanguage": "fr",
        "templates": [],
        "maxReplySegments": 1,
        "autoRevokeOnRefusal": False,
    }
    doc.update(overrides)
    return doc


def customer_with_advance(gateway: Any, shop: Any, advances: int = 1) -> str:
    """A customer registered with a mobile number, credited by flow 3 (SMS from that number)."""
    reference, mobile = unique("cust"), new_mobile()
    shop.RegisterCustomer(customerRef=reference, mobile=mobile, language="fr")
    for _ in range(advances):
        assert gateway.SubmitSms(message=message(sender=mobile)).outcome == "CREDITED"
    return reference


def envelope(body: str, *, soap_ns: str = SOAP11) -> bytes:
    return f'<s:Envelope xmlns:s="{soap_ns}"><s:Body>{body}</s:Body></s:Envelope>'.encode()


def submit_xml(message_id: str = "raw-1", channel: str = "SMS", *, drop: str | None = None) -> str:
    fields = [("messageId", message_id), ("channel", channel), ("sender", "+212661000001"), ("serviceNumber", PREMIUM),
              ("text", "SHOP"), ("receivedAt", "2026-01-15T09:00:00Z")]
    inner = "".join(f"<g:{k}>{v}</g:{k}>" for k, v in fields if k != drop)
    return f'<g:SubmitSms xmlns:g="urn:mts:gateway:v1"><g:message>{inner}</g:message></g:SubmitSms>'

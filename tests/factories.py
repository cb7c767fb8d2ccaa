"""Test data with sensible defaults; override by keyword."""

from __future__ import annotations

import itertools
import re
import uuid
from datetime import datetime

from mts_service.domain.customers import Registration
from mts_service.domain.inbound import Channel, InboundSms
from mts_service.domain.money import Money
from mts_service.domain.orders import DeliveryMode, OrderRequest
from mts_service.domain.policy import Policy
from mts_service.domain.policy_codec import policy_from_dict
from mts_service.services import admin, customers, sms
from mts_service.services.context import ServiceContext

PREMIUM = "7575"
PRICE = 500
CURRENCY = "MAD"
_numbers = itertools.count(1)


def random_id(prefix: str = "id") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def policy_dict(**overrides) -> dict:
    data = {
        "mode": "ADVANCE",
        "currency": CURRENCY,
        "premium_numbers": [
            {"number": PREMIUM, "price_minor": PRICE, "net_minor": 300, "keywords": ["SHOP", "ACHAT"], "operators": ["IAM"]},
            {"number": "7576", "price_minor": 1000, "net_minor": 600, "keywords": ["CAUTION"]},
        ],
        "advance_sms": 1,
        "deposit_sms": 2,
        "deposit_orders": 3,
        "deposit_validity_seconds": 30 * 86400,
    }
    data.update(overrides)
    return data


def make_policy(**overrides) -> Policy:
    return policy_from_dict(policy_dict(**overrides))


def set_policy(ctx: ServiceContext, **overrides) -> Policy:
    return admin.set_policy(ctx, make_policy(**overrides))


_base = uuid.uuid4().int % 500_000


def new_mobile() -> str:
    """A valid Moroccan mobile number (+212 661 ...), unique within the test run."""
    return f"+212661{(_base + next(_numbers)) % 1_000_000:06d}"


def make_sms(ctx: ServiceContext | None = None, *, text: str = "SHOP", sender: str | None = None, number: str = PREMIUM,
             message_id: str | None = None, received_at: datetime | None = None, channel: Channel = Channel.SMS,
             operator: str | None = "IAM") -> InboundSms:
    at = received_at or (ctx.clock.now() if ctx else datetime(2026, 1, 15, 9, 0).astimezone())
    return InboundSms(message_id or random_id("msg"), sender or new_mobile(), number, text, at, channel, operator)


def send(ctx: ServiceContext, **kwargs):
    return sms.submit_sms(ctx, make_sms(ctx, **kwargs))


def register(ctx: ServiceContext, reference: str | None = None, **kwargs):
    return customers.register_customer(ctx, Registration(reference or random_id("cust"), **kwargs))


def code_in(reply: str) -> str:
    match = re.search(r"\b([0-9A-Z]{8})\b", reply)
    assert match, f"no code in {reply!r}"
    return match.group(1)


def customer_with_advance(ctx: ServiceContext, count: int = 1):
    """A registered customer credited by flow 3 with ``count`` advances (ADVANCE mode, 1 SMS each)."""
    mobile = new_mobile()
    customer = register(ctx, mobile=mobile)
    for _ in range(count):
        send(ctx, sender=mobile)
    return customer


def order(customer_ref: str, total: int = 10_000, *, order_id: str | None = None, currency: str = CURRENCY,
          mode: DeliveryMode = DeliveryMode.HOME, pickup: str | None = None) -> OrderRequest:
    return OrderRequest(order_id or random_id("ord"), customer_ref, Money(total, currency), mode, pickup)

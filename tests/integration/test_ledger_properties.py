"""Property test: any sequence of operations and clock moves keeps the books reconciled.

paid - reversals = value of grants + wallets + held - unrecovered reversals; per grant,
value = applied - returned + forfeited + expired + remaining; nothing negative; no deposit
over its order count; no advance used by two live orders. The operator's billing reports
(CONFIRMED / FAILED, on any message, repeated or contradicted) and a premium number whose
credit is held until billed are part of the mix. Runs on SQLite (a fresh database per
example).
"""

from __future__ import annotations

import shutil
import tempfile
from collections import Counter
from datetime import timedelta
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from mts_service.clock import FixedClock
from mts_service.domain.orders import DeliveryOutcome, OrderStatus
from mts_service.domain.policy_codec import policy_from_dict
from mts_service.errors import DomainError, MessageIdConflict
from mts_service.persistence.engine import make_engine, sqlite_url
from mts_service.persistence.migrate import upgrade
from mts_service.persistence.unit_of_work import uow_factory
from mts_service.services import admin, billing, customers, orders
from mts_service.services.context import ServiceContext
from mts_service.services.keys import ServiceKeys
from tests.conftest import TEST_SECRET
from tests.factories import code_in, make_sms, order, policy_dict
from mts_service.services import sms

_TEMPLATE: Path | None = None
SENDERS = ["+212661000001", "+212661000001", "+212661000002", "HIDDEN"]


def _template() -> Path:
    global _TEMPLATE
    if _TEMPLATE is None:
        path = Path(tempfile.mkdtemp(prefix="mts-prop-")) / "template.db"
        engine = make_engine(sqlite_url(str(path)))
        upgrade(engine)
        engine.dispose()
        _TEMPLATE = path
    return _TEMPLATE


class Books(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.dir = Path(tempfile.mkdtemp(prefix="mts-prop-"))
        shutil.copyfile(_template(), self.dir / "db.sqlite")
        self.engine = make_engine(sqlite_url(str(self.dir / "db.sqlite")))
        self.clock = FixedClock()
        self.ctx = ServiceContext(uow_factory(self.engine), self.clock, ServiceKeys.from_secret(TEST_SECRET))
        self.codes: list[str] = []
        self.order_ids: list[str] = []
        self.message_ids: list[str] = []
        self.refs = ["c1", "c2"]
        self.n = 0

    def teardown(self) -> None:
        self.engine.dispose()
        shutil.rmtree(self.dir, ignore_errors=True)

    @initialize(mode=st.sampled_from(["ADVANCE", "DEPOSIT", "BOTH"]), deposit_orders=st.sampled_from([None, 1, 2]))
    def setup(self, mode, deposit_orders):
        data = policy_dict(mode=mode, advance_sms=1, deposit_sms=2, deposit_orders=deposit_orders,
                           deposit_validity_seconds=3 * 86400, codes={"ttl_seconds": 86400})
        data["premium_numbers"].append({"number": "7577", "price_minor": 700, "net_minor": 400, "keywords": ["SHOP"],
                                        "hold_until_billed": True})
        admin.set_policy(self.ctx, policy_from_dict(data))
        customers.register_customer(self.ctx, _registration("c1", "+212661000001", "alice"))
        customers.register_customer(self.ctx, _registration("c2", None, "bob"))

    @rule(sender=st.sampled_from(SENDERS), text=st.sampled_from(["SHOP", "SHOP bob", "SHOP bob", "SHOP nobody", "hello"]),
          number=st.sampled_from(["7575", "7576", "7577", "9999"]), retry=st.booleans())
    def pay(self, sender, text, number, retry):
        self._pay(sender, text, number, retry)

    # Paying is what most steps of real life are: a second rule doubles its weight.
    @rule(sender=st.sampled_from(SENDERS[:2]), retry=st.booleans())
    def pay_registered(self, sender, retry):
        self._pay(sender, "SHOP", "7575", retry)

    def _pay(self, sender, text, number, retry):
        self.n += 1
        message = make_sms(self.ctx, sender=sender, text=text, number=number, message_id=f"m{self.n}")
        receipt = sms.submit_sms(self.ctx, message)
        if retry:
            assert sms.submit_sms(self.ctx, message).reply_text == receipt.reply_text
        if receipt.outcome.value == "CODE_ISSUED":
            self.codes.append(code_in(receipt.reply_text))
        self.message_ids.append(message.message_id)

    @precondition(lambda self: self.message_ids)
    @rule(data=st.data(), status=st.sampled_from(["CONFIRMED", "FAILED", "FAILED"]))
    def bill(self, data, status):
        """The operator's word on any message, at any time, possibly repeated or contradicted."""
        message_id = data.draw(st.sampled_from(self.message_ids))
        try:
            result = billing.report_billing(self.ctx, message_id, status)
        except MessageIdConflict:
            return
        assert result.status == status
        if result.outcome is not None and result.outcome.value == "CODE_ISSUED":
            self.codes.append(code_in(result.reply_text))

    @precondition(lambda self: self.codes)
    @rule(data=st.data())
    def redeem(self, data):
        code = data.draw(st.sampled_from(self.codes))
        ref = data.draw(st.sampled_from(self.refs))
        try:
            customers.redeem_code(self.ctx, ref, code)
        except DomainError:
            pass

    @rule(ref=st.sampled_from(["c1", "c2"]), total=st.integers(1, 20_000))
    def place(self, ref, total):
        self.n += 1
        try:
            self.order_ids.append(orders.place_order(self.ctx, order(ref, total, order_id=f"o{self.n}")).order.order_id)
        except DomainError:
            pass

    @precondition(lambda self: self.order_ids)
    @rule(data=st.data(), outcome=st.sampled_from(list(DeliveryOutcome)))
    def deliver(self, data, outcome):
        order_id = data.draw(st.sampled_from(self.order_ids))
        orders.report_delivery(self.ctx, order_id, outcome)
        self.order_ids.remove(order_id)

    @rule(ref=st.sampled_from(["c1", "c2"]))
    def revoke(self, ref):
        admin.revoke(self.ctx, customer_ref=ref, reason="property test")

    @rule(hours=st.integers(1, 48))
    def time_passes(self, hours):
        self.clock.advance(timedelta(hours=hours))

    @rule()
    def sweep(self):
        admin.expire(self.ctx)

    @invariant()
    def books_balance(self):
        assert admin.check_books(self.ctx) == []

    @invariant()
    def no_advance_used_twice(self):
        with self.ctx.uow_factory(write=False) as uow:
            live = [o for o in uow.orders.all() if o.advance_grant_id and o.status is not OrderStatus.CANCELLED
                    and o.status is not OrderStatus.NOT_DELIVERED]
            assert all(n == 1 for n in Counter(o.advance_grant_id for o in live).values())
            for grant in uow.grants.all():
                assert grant.orders_used >= 0
                assert grant.orders_allowed is None or grant.orders_used <= grant.orders_allowed


def _registration(ref, mobile, username):
    from mts_service.domain.customers import Registration

    return Registration(ref, username, mobile, None)


Books.TestCase.settings = settings(
    max_examples=40, stateful_step_count=40, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
TestBooks = Books.TestCase

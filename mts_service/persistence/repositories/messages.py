from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, func, literal_column, select, update

from mts_service.domain.billing import BillingStatus
from mts_service.domain.inbound import ReceiptOutcome

from mts_service.persistence.fastsql import Db, Prepared, Row, insert_row

from mts_service.persistence.tables import messages as t

_BY_ID = Prepared(select(t).where(t.c.message_id == bindparam("mid")))
# Built once: a statement made per call with .values() costs more than the SQL itself.
_INSERT = Prepared(insert_row(t))
_NEAR_DUPLICATE = Prepared(
    select(t.c.message_id)
    .where(
        t.c.sender == bindparam("sender"),
        t.c.service_number == bindparam("number"),
        t.c.text_key == bindparam("text_key"),
        t.c.received_at >= bindparam("since"),
        t.c.received_at <= bindparam("until"),
    )
    .limit(1)
)
_SENT_TODAY = Prepared(
    select(func.count().label("n")).where(t.c.sender == bindparam("sender"), t.c.day == bindparam("day"), t.c.credited.is_(True))
)
_ASSIGN_GRANT = Prepared(
    update(t)
    .where(t.c.beneficiary == bindparam("b"), t.c.grant_id.is_(None), t.c.credited.is_(True))
    .values(grant_id=bindparam("gid"))
)
# Conditional on the status read: a concurrent report that got there first makes it match
# nothing (and, on PostgreSQL, this row lock orders the racing reports). One statement per
# status moved from, a constant of it: a bound status, compared with the partial index on
# billing_status = 'HELD', made SQLite re-prepare the statement on every execution (fastsql).
_SET_BILLING = {
    status.value: Prepared(
        update(t)
        .where(t.c.message_id == bindparam("mid"), t.c.billing_status == status.value)
        .values(
            billing_status=bindparam("to_status"), billed_at=bindparam("now"), billing_outcome=bindparam("outcome"),
            billing_recovery=bindparam("recovery"), billing_reply_sealed=bindparam("reply_sealed"),
        )
    )
    for status in BillingStatus
}
_SET_CREDITED = Prepared(
    update(t).where(t.c.message_id == bindparam("mid")).values(credited=bindparam("credited"), grant_id=bindparam("gid"))
)
_SET_FLAGS = Prepared(update(t).where(t.c.message_id == bindparam("mid")).values(flags=bindparam("flags")))
# The status as a literal, not a bound value: only then may the planners use the partial
# index ix_messages_held (WHERE billing_status = 'HELD').
_HELD_TOTAL = Prepared(
    select(func.coalesce(func.sum(t.c.price_minor), 0).label("total"))
    .where(t.c.billing_status == literal_column(f"'{BillingStatus.HELD.value}'"))
)
_paid = t.c.outcome != ReceiptOutcome.REFUSED.value
_CONFIRM_DAY = {
    with_operator: Prepared(
        update(t)
        .where(
            t.c.day == bindparam("day"), t.c.service_number == bindparam("number"), _paid,
            t.c.billing_status == BillingStatus.UNCONFIRMED.value,
            *([t.c.operator == bindparam("operator")] if with_operator else []),
        )
        .values(billing_status=BillingStatus.CONFIRMED.value, billed_at=bindparam("now"))
    )
    for with_operator in (False, True)
}
_HELD_ON_DAY = {
    with_operator: Prepared(
        select(func.count().label("n")).where(
            t.c.day == bindparam("day"), t.c.service_number == bindparam("number"),
            t.c.billing_status == BillingStatus.HELD.value,
            *([t.c.operator == bindparam("operator")] if with_operator else []),
        )
    )
    for with_operator in (False, True)
}


@dataclass(frozen=True)
class StoredMessage:
    message_id: str
    fingerprint: str
    outcome: str
    language: str
    reply_sealed: bytes
    credited: bool
    customer_id: int | None
    grant_id: str | None
    flags: str
    service_number: str
    price_minor: int
    currency: str
    billing_status: str
    sender: str = ""
    beneficiary: str | None = None
    operator: str | None = None
    day: str = ""
    flow: str | None = None
    text_key: str = ""
    net_minor: int = 0
    billing_outcome: str | None = None
    billing_recovery: str | None = None
    billing_reply_sealed: bytes | None = None


class MessageRepository:
    def __init__(self, db: Db) -> None:
        self._db = db

    def get(self, message_id: str) -> StoredMessage | None:
        row = self._db.execute(_BY_ID, {"mid": message_id}).first()
        if row is None:
            return None
        return StoredMessage(
            message_id=row.message_id,
            fingerprint=row.fingerprint,
            outcome=row.outcome,
            language=row.language,
            reply_sealed=row.reply_sealed,
            credited=row.credited,
            customer_id=row.customer_id,
            grant_id=row.grant_id,
            flags=row.flags,
            service_number=row.service_number,
            price_minor=row.price_minor,
            currency=row.currency,
            billing_status=row.billing_status,
            sender=row.sender,
            beneficiary=row.beneficiary,
            operator=row.operator,
            day=row.day,
            flow=row.flow,
            text_key=row.text_key,
            net_minor=row.net_minor,
            billing_outcome=row.billing_outcome,
            billing_recovery=row.billing_recovery,
            billing_reply_sealed=None if row.billing_reply_sealed is None else bytes(row.billing_reply_sealed),
        )

    def is_near_duplicate(self, sender: str, number: str, text_key: str, received_at: datetime, window: timedelta) -> bool:
        params = {"sender": sender, "number": number, "text_key": text_key, "since": received_at - window, "until": received_at + window}
        return self._db.execute(_NEAR_DUPLICATE, params).first() is not None

    def credited_today(self, sender: str, day: str) -> int:
        return int(self._db.execute(_SENT_TODAY, {"sender": sender, "day": day}).scalar_one())

    def add(self, **values) -> None:
        self._db.execute(_INSERT, values)

    def assign_grant(self, beneficiary: str, grant_id: str) -> None:
        """The payments a wallet held now make up ``grant_id``."""
        self._db.execute(_ASSIGN_GRANT, {"b": beneficiary, "gid": grant_id})

    # -- billing confirmation -------------------------------------------------------------
    def set_billing(
        self, message_id: str, from_status: str, to_status: str, now: datetime, *, outcome: str | None = None,
        recovery: str | None = None, reply_sealed: bytes | None = None,
    ) -> bool:
        """Move the billing status on from ``from_status``; False when another report won."""
        params = {"mid": message_id, "to_status": to_status, "now": now, "outcome": outcome,
                  "recovery": recovery, "reply_sealed": reply_sealed}
        return self._db.execute(_SET_BILLING[from_status], params).rowcount == 1

    def mark_credited(self, message_id: str, grant_id: str | None) -> None:
        """A held message is credited now (its confirmation arrived)."""
        self._db.execute(_SET_CREDITED, {"mid": message_id, "credited": True, "gid": grant_id})

    def mark_uncredited(self, message_id: str) -> None:
        """A failed payment taken back from a wallet: it makes up no grant any more."""
        self._db.execute(_SET_CREDITED, {"mid": message_id, "credited": False, "gid": None})

    def set_flags(self, message_id: str, flags: str) -> None:
        self._db.execute(_SET_FLAGS, {"mid": message_id, "flags": flags[:128]})

    def held_total(self) -> int:
        """Price of the messages held until billed: paid (as far as we know) but not credited."""
        return int(self._db.execute(_HELD_TOTAL).scalar_one())

    def confirm_day(self, day: str, number: str, operator: str | None, now: datetime) -> tuple[int, int]:
        """Confirm the unconfirmed paid messages of one day x number (x operator) at once.

        Returns (confirmed, held left): held messages are not confirmed here, since their
        confirmation issues a reply only the gateway can send (``ReportBilling``).
        """
        with_operator = operator is not None
        params = {"day": day, "number": number, "now": now, **({"operator": operator} if with_operator else {})}
        confirmed = self._db.execute(_CONFIRM_DAY[with_operator], params).rowcount
        params.pop("now")
        held = int(self._db.execute(_HELD_ON_DAY[with_operator], params).scalar_one())
        return confirmed, held

    def billing_totals(self, first_day: str, last_day: str) -> list[Row]:
        """Paid messages per day x number x operator x billing status: count, gross and net."""
        stmt = (
            select(
                t.c.day, t.c.service_number, t.c.operator, t.c.currency, t.c.billing_status,
                func.count().label("n"), func.sum(t.c.price_minor).label("gross"), func.sum(t.c.net_minor).label("net"),
            )
            .where(t.c.day >= first_day, t.c.day <= last_day, _paid)
            .group_by(t.c.day, t.c.service_number, t.c.operator, t.c.currency, t.c.billing_status)
        )
        return list(self._db.execute(stmt))

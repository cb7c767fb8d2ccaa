from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, func, insert, select, update

from mts_service.persistence.fastsql import Db, Prepared, insert_row

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

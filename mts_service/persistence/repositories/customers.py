from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import bindparam, case, select, update

from mts_service.domain.customers import Customer, CustomerStatus, Registration
from mts_service.persistence.fastsql import Db, Prepared, insert_row, Row
from mts_service.persistence.tables import customers as t

_BY_REFERENCE = Prepared(select(t).where(t.c.reference == bindparam("reference")))
_BY_USERNAME = Prepared(select(t).where(t.c.username_key == bindparam("username_key")))
_BY_MOBILE = Prepared(select(t).where(t.c.mobile == bindparam("mobile")))
_BY_ID = Prepared(select(t).where(t.c.customer_id == bindparam("cid")))
_BY_ID_FOR_UPDATE = Prepared(select(t).where(t.c.customer_id == bindparam("cid")).with_for_update())
_INSERT = Prepared(insert_row(t).returning(*t.c))  # RETURNING the row: no read-back
_UPDATE_REGISTRATION = Prepared(
    update(t)
    .where(t.c.customer_id == bindparam("cid"))
    .values(
        username=bindparam("username"), username_key=bindparam("username_key"), mobile=bindparam("mobile"),
        language=bindparam("language"), updated_at=bindparam("now"),
    )
    .returning(*t.c)
)
_RECORD_FAILURE = Prepared(
    update(t)
    .where(t.c.customer_id == bindparam("cid"))
    .values(
        failed_code_attempts=bindparam("failures"), attempt_window_start=bindparam("start"),
        code_locked_until=bindparam("locked_until"), updated_at=bindparam("now"),
    )
    .returning(*t.c)
)
_ADD_FORFEIT = Prepared(
    update(t)
    .where(t.c.customer_id == bindparam("cid"))
    .values(
        forfeit_count=t.c.forfeit_count + 1,
        status=case((t.c.forfeit_count + 1 >= bindparam("block_after"), CustomerStatus.BLOCKED.value), else_=t.c.status),
        updated_at=bindparam("now"),
    )
    .returning(*t.c)
)
_NEVER = 2**31 - 1  # "block after" when blocking is off


def _customer(row: Row) -> Customer:
    return Customer(
        customer_id=row.customer_id,
        reference=row.reference,
        username=row.username,
        mobile=row.mobile,
        language=row.language,
        status=CustomerStatus(row.status),
        forfeit_count=row.forfeit_count,
        created_at=row.created_at,
        failed_code_attempts=row.failed_code_attempts,
        attempt_window_start=row.attempt_window_start,
        code_locked_until=row.code_locked_until,
    )


class CustomerRepository:
    def __init__(self, db: Db) -> None:
        self._db = db

    def _one(self, stmt: Prepared, **params) -> Customer | None:
        row = self._db.execute(stmt, params).first()
        return _customer(row) if row else None

    def by_reference(self, reference: str) -> Customer | None:
        return self._one(_BY_REFERENCE, reference=reference)

    def by_username(self, username_key: str) -> Customer | None:
        return self._one(_BY_USERNAME, username_key=username_key)

    def by_mobile(self, mobile: str) -> Customer | None:
        return self._one(_BY_MOBILE, mobile=mobile)

    def by_id(self, customer_id: int) -> Customer | None:
        return self._one(_BY_ID, cid=customer_id)

    def add(self, reg: Registration, now: datetime) -> Customer:
        row = self._db.execute(
            _INSERT,
            dict(
                reference=reg.reference, username=reg.username, username_key=reg.username_key, mobile=reg.mobile,
                language=reg.language, status=CustomerStatus.ACTIVE.value, forfeit_count=0, failed_code_attempts=0,
                attempt_window_start=None, code_locked_until=None, created_at=now, updated_at=now,
            ),
        ).one()
        return _customer(row)

    def update_registration(self, customer_id: int, reg: Registration, now: datetime) -> Customer:
        row = self._db.execute(
            _UPDATE_REGISTRATION,
            {"cid": customer_id, "username": reg.username, "username_key": reg.username_key, "mobile": reg.mobile,
             "language": reg.language, "now": now},
        ).one()
        return _customer(row)

    def record_code_failure(self, customer_id: int, now: datetime, window: timedelta, max_failures: int) -> Customer:
        """Count one failed redemption in the customer's current window.

        A window opens at the first failure and lasts ``window``; reaching ``max_failures``
        inside it locks redemption until the window ends. The row is locked first (FOR UPDATE
        on PostgreSQL, the write lock of BEGIN IMMEDIATE on SQLite) so racing failures all count.
        """
        current = _customer(self._db.execute(_BY_ID_FOR_UPDATE, {"cid": customer_id}).one())
        if current.attempt_window_start is not None and current.attempt_window_start > now - window:
            failures, start = current.failed_code_attempts + 1, current.attempt_window_start
        else:
            failures, start = 1, now
        locked_until = start + window if failures >= max_failures else current.code_locked_until
        row = self._db.execute(
            _RECORD_FAILURE, {"cid": customer_id, "failures": failures, "start": start, "locked_until": locked_until, "now": now}
        ).one()
        return _customer(row)

    def add_forfeit(self, customer_id: int, now: datetime, block_after: int | None) -> Customer:
        row = self._db.execute(_ADD_FORFEIT, {"cid": customer_id, "block_after": block_after or _NEVER, "now": now}).one()
        return _customer(row)

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, bindparam, case, literal_column, or_, select, update

from mts_service.persistence.fastsql import Db, Prepared, insert_row, Row

from mts_service.domain.grants import Grant, GrantKind, GrantStatus
from mts_service.domain.money import Money
from mts_service.persistence.tables import grants as t

_A, _D = GrantKind.ADVANCE.value, GrantKind.DEPOSIT.value
_ACTIVE, _EXHAUSTED, _PENDING = GrantStatus.ACTIVE.value, GrantStatus.EXHAUSTED.value, GrantStatus.PENDING_CODE.value

def _status_in(*statuses: str):
    # Plain ORs, not IN: an expanding IN would be re-rendered per call.
    return or_(*(t.c.status == status for status in sorted(statuses)))


_BY_ID = Prepared(select(t).where(t.c.grant_id == bindparam("gid")))
_ALL = Prepared(select(t).order_by(t.c.created_at, t.c.grant_id))
_INSERT = Prepared(insert_row(t))
_BY_CODE_HASH = Prepared(select(t).where(t.c.code_hash == bindparam("h")))
_BY_CUSTOMER = Prepared(select(t).where(t.c.customer_id == bindparam("cid")).order_by(t.c.created_at, t.c.grant_id))
_not_expired = or_(t.c.expires_at.is_(None), t.c.expires_at > bindparam("now"))
_has_room = or_(t.c.orders_allowed.is_(None), t.c.orders_used < t.c.orders_allowed)
_usable = (t.c.status == _ACTIVE, _not_expired, _has_room)  # Grant.is_usable, in SQL
# A customer's usable grants: what an authorization counts. Spent,
# expired and revoked grants pile up over a customer's life and are not read on this path.
# Both kinds are named so that SQLite's planner, which has no statistics, takes the index on
# (customer_id, kind, status) rather than the one on status, which holds every live grant.
_USABLE_FOR_CUSTOMER = Prepared(
    select(t)
    .where(t.c.customer_id == bindparam("cid"), or_(*(t.c.kind == kind.value for kind in GrantKind)), *_usable)
    .order_by(t.c.created_at, t.c.grant_id)
)

# Oldest usable grant of a kind for a customer: spend what expires first. One statement
# per kind, the kind a constant of it: a bound kind, compared with the partial index on
# kind = 'DEPOSIT', made SQLite re-prepare the statement on every execution (fastsql).
_USABLE = {
    kind.value: Prepared(
        select(t.c.grant_id)
        .where(t.c.customer_id == bindparam("cid"), t.c.kind == kind.value, *_usable)
        .order_by(t.c.expires_at.is_(None), t.c.expires_at, t.c.created_at, t.c.grant_id)
        .limit(1)
    )
    for kind in GrantKind
}

# The WHERE repeats the usability test: under READ COMMITTED a racing order that took the
# last slot makes this match zero rows, and the caller looks for another grant.
_TAKE_DEPOSIT_SLOT = Prepared(
    update(t)
    .where(t.c.grant_id == bindparam("gid"), t.c.status == _ACTIVE, _has_room, _not_expired)
    .values(
        orders_used=t.c.orders_used + 1,
        status=case(
            (and_(t.c.orders_allowed.is_not(None), t.c.orders_used + 1 >= t.c.orders_allowed), _EXHAUSTED), else_=_ACTIVE
        ),
    )
)
_TAKE_ADVANCE = Prepared(
    update(t)
    .where(t.c.grant_id == bindparam("gid"), t.c.status == _ACTIVE, _not_expired)
    .values(status=_EXHAUSTED, orders_used=1, order_id=bindparam("order_id"))
)
_RETURN_ADVANCE = Prepared(
    update(t)
    .where(t.c.grant_id == bindparam("gid"), t.c.status == _EXHAUSTED, t.c.order_id == bindparam("oid"))
    .values(status=_ACTIVE, orders_used=0, order_id=None)
)
_RETURN_DEPOSIT_SLOT = Prepared(
    update(t)
    .where(t.c.grant_id == bindparam("gid"), _status_in(_ACTIVE, _EXHAUSTED), t.c.orders_used > 0)
    .values(orders_used=t.c.orders_used - 1, status=_ACTIVE)
)
# kind as a literal, not a bound value: only then may the planners use the partial index
# ix_grants_deposit_beneficiary (WHERE kind = 'DEPOSIT').
_LIVE_DEPOSIT = Prepared(
    select(t.c.grant_id)
    .where(
        t.c.beneficiary == bindparam("b"),
        t.c.kind == literal_column(f"'{_D}'"),
        or_(and_(_status_in(_ACTIVE, _EXHAUSTED), _not_expired), and_(t.c.status == _PENDING, t.c.code_expires_at > bindparam("now"))),
        _has_room,
    )
    .limit(1)
)


_ACTIVATE_PLAIN = (
    update(t)
    .where(t.c.grant_id == bindparam("gid"), t.c.status == _PENDING)
    .values(
        status=_ACTIVE, customer_id=bindparam("cid"), activated_at=bindparam("now"), expires_at=bindparam("expires_at"),
        beneficiary=bindparam("beneficiary"),
    )
)
# PostgreSQL reads the activated row back in the same round trip. SQLite buffers RETURNING
# rows in a temporary table per execution (134 us against about 50 + 15 us for the UPDATE
# and a read by primary key, in process): there the row is read after the UPDATE, in the
# same write transaction, which holds the database.
_ACTIVATE = {"postgresql": Prepared(_ACTIVATE_PLAIN.returning(*t.c)), "sqlite": Prepared(_ACTIVATE_PLAIN)}
_REVOKE = {
    frozenset(statuses): Prepared(
        update(t)
        .where(t.c.grant_id == bindparam("gid"), _status_in(*statuses))
        .values(status=GrantStatus.REVOKED.value, revoked_at=bindparam("now"), revoke_reason=bindparam("reason"),
                revoke_order_id=bindparam("oid"))
    )
    for statuses in (
        {_ACTIVE, _PENDING},
        {_ACTIVE, _EXHAUSTED, _PENDING},
    )
}
# A failed charge taken back from an unused grant: value reduced, REVERSED at zero. The
# WHERE is the "still unused" test, so a racing order or redemption decides under the lock.
_REDUCE_VALUE = Prepared(
    update(t)
    .where(t.c.grant_id == bindparam("gid"), _status_in(_ACTIVE, _PENDING), t.c.value_minor >= bindparam("amount"))
    .values(
        value_minor=t.c.value_minor - bindparam("amount"),
        status=case((t.c.value_minor == bindparam("amount"), GrantStatus.REVERSED.value), else_=t.c.status),
    )
)
_EXPIRE = Prepared(
    update(t).where(t.c.grant_id == bindparam("gid"), t.c.status == bindparam("from_status")).values(status=GrantStatus.EXPIRED.value)
)
_DUE_FOR_EXPIRY = Prepared(
    select(t)
    .where(
        or_(
            and_(
                or_(t.c.status == _ACTIVE, and_(t.c.status == _EXHAUSTED, t.c.kind == _D)),
                t.c.expires_at.is_not(None),
                t.c.expires_at <= bindparam("now"),
            ),
            and_(t.c.status == _PENDING, t.c.code_expires_at <= bindparam("now")),
        )
    )
    .order_by(t.c.grant_id)
    .limit(bindparam("limit"))
)


# Stored text -> member by dictionary: GrantKind(text) goes through EnumMeta.__call__ (about
# 1 us a call here), and an authorization turns every usable grant of the customer into a Grant.
_KINDS = {member.value: member for member in GrantKind}
_STATUSES = {member.value: member for member in GrantStatus}


def _grant(row: Row) -> Grant:
    return Grant(
        grant_id=row.grant_id,
        kind=_KINDS.get(row.kind) or GrantKind(row.kind),    # an unknown text raises as before
        status=_STATUSES.get(row.status) or GrantStatus(row.status),
        value=Money(row.value_minor, row.currency),
        policy_version=row.policy_version,
        created_at=row.created_at,
        premium_number=row.premium_number,
        operator=row.operator,
        customer_id=row.customer_id,
        sender=row.sender,
        orders_allowed=row.orders_allowed,
        orders_used=row.orders_used,
        validity=None if row.validity_seconds is None else timedelta(seconds=row.validity_seconds),
        expires_at=row.expires_at,
        code_expires_at=row.code_expires_at,
        order_id=row.order_id,
        revoked_at=row.revoked_at,
        revoke_reason=row.revoke_reason,
    )


class GrantRepository:
    def __init__(self, db: Db) -> None:
        self._db = db

    def get(self, grant_id: str) -> Grant | None:
        row = self._db.execute(_BY_ID, {"gid": grant_id}).first()
        return _grant(row) if row else None

    def by_code_hash(self, code_hash: str) -> tuple[Grant, str] | None:
        """The grant holding this code, with the stored hash for a constant-time comparison."""
        row = self._db.execute(_BY_CODE_HASH, {"h": code_hash}).first()
        return (_grant(row), row.code_hash) if row else None

    def for_customer(self, customer_id: int) -> list[Grant]:
        return [_grant(r) for r in self._db.execute(_BY_CUSTOMER, {"cid": customer_id})]

    def usable_for_customer(self, customer_id: int, now: datetime) -> list[Grant]:
        return [_grant(r) for r in self._db.execute(_USABLE_FOR_CUSTOMER, {"cid": customer_id, "now": now})]

    def all(self) -> list[Grant]:
        return [_grant(r) for r in self._db.execute(_ALL)]

    def add(self, grant: Grant, *, beneficiary: str, code_hash: str | None) -> None:
        self._db.execute(
            _INSERT,
            dict(
                grant_id=grant.grant_id,
                kind=grant.kind.value,
                status=grant.status.value,
                value_minor=grant.value.minor,
                currency=grant.value.currency,
                policy_version=grant.policy_version,
                premium_number=grant.premium_number,
                operator=grant.operator,
                customer_id=grant.customer_id,
                sender=grant.sender,
                beneficiary=beneficiary,
                orders_allowed=grant.orders_allowed,
                orders_used=grant.orders_used,
                validity_seconds=None if grant.validity is None else int(grant.validity.total_seconds()),
                expires_at=grant.expires_at,
                code_hash=code_hash,
                code_expires_at=grant.code_expires_at,
                order_id=None,
                created_at=grant.created_at,
                activated_at=grant.created_at if grant.status is GrantStatus.ACTIVE else None,
                revoked_at=None,
                revoke_reason=None,
                revoke_order_id=None,
            ),
        )

    def has_live_deposit(self, beneficiary: str, now: datetime) -> bool:
        return self._db.execute(_LIVE_DEPOSIT, {"b": beneficiary, "now": now}).first() is not None

    def activate(self, grant_id: str, customer_id: int, now: datetime, expires_at: datetime | None) -> Grant | None:
        """PENDING_CODE -> ACTIVE for one customer: the activated grant, or None when someone
        else got there first."""
        params = {"gid": grant_id, "cid": customer_id, "now": now, "expires_at": expires_at, "beneficiary": f"c:{customer_id}"}
        if self._db.name == "sqlite":
            if self._db.execute(_ACTIVATE["sqlite"], params).rowcount != 1:
                return None
            return self.get(grant_id)
        row = self._db.execute(_ACTIVATE[self._db.name], params).first()
        return _grant(row) if row else None

    def take_deposit_slot(self, customer_id: int, now: datetime, attempts: int = 5) -> str | None:
        return self._take(_D, _TAKE_DEPOSIT_SLOT, customer_id, now, {}, attempts)

    def take_advance(self, customer_id: int, order_id: str, now: datetime, attempts: int = 5) -> str | None:
        return self._take(_A, _TAKE_ADVANCE, customer_id, now, {"order_id": order_id}, attempts)

    def _take(self, kind: str, stmt, customer_id: int, now: datetime, extra: dict, attempts: int) -> str | None:
        for _ in range(attempts):
            grant_id = self._db.execute(_USABLE[kind], {"cid": customer_id, "now": now}).scalar()
            if grant_id is None:
                return None
            if self._db.execute(stmt, {"gid": grant_id, "now": now, **extra}).rowcount == 1:
                return grant_id
        return None

    def return_advance(self, grant_id: str, order_id: str) -> bool:
        return self._db.execute(_RETURN_ADVANCE, {"gid": grant_id, "oid": order_id}).rowcount == 1

    def return_deposit_slot(self, grant_id: str) -> bool:
        return self._db.execute(_RETURN_DEPOSIT_SLOT, {"gid": grant_id}).rowcount == 1

    def revoke(self, grant_id: str, now: datetime, reason: str, order_id: str | None, from_statuses: list[str]) -> bool:
        params = {"gid": grant_id, "now": now, "reason": reason, "oid": order_id}
        return self._db.execute(_REVOKE[frozenset(from_statuses)], params).rowcount == 1

    def reduce_value(self, grant_id: str, amount_minor: int) -> bool:
        """Take ``amount_minor`` back from an unused grant; False when it is used, gone or worth less."""
        return self._db.execute(_REDUCE_VALUE, {"gid": grant_id, "amount": amount_minor}).rowcount == 1

    def expire(self, grant_id: str, from_status: str) -> bool:
        return self._db.execute(_EXPIRE, {"gid": grant_id, "from_status": from_status}).rowcount == 1

    def due_for_expiry(self, now: datetime, limit: int) -> list[Grant]:
        return [_grant(r) for r in self._db.execute(_DUE_FOR_EXPIRY, {"now": now, "limit": limit})]

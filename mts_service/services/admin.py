"""Administrator use cases: revocation, customer and ledger views, reports, policy, expiry."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, time, timedelta, timezone

from mts_service.domain.billing import BillingStatus
from mts_service.domain.customers import Customer
from mts_service.domain.grants import GrantKind, GrantStatus
from mts_service.domain.ledger import Discrepancy, EntryKind, LedgerEntry, reconcile
from mts_service.domain.money import Money
from mts_service.domain.policy import Policy
from mts_service.errors import InvalidInput, PolicyVersionConflict, UnknownCustomer, UnknownGrant
from mts_service.services.context import ServiceContext
from mts_service.services.results import CustomerView, DeliveryDay, LedgerPage, Report, ReportRow, RevokeResult
from mts_service.services.unit_of_work import run_in_transaction

MAX_REASON = 256
MAX_PAGE = 1000
MAX_REPORT_DAYS = 366

# A deposit is at stake even once all its orders are used; an exhausted advance is spent.
_FORFEITABLE = {GrantKind.ADVANCE: [GrantStatus.ACTIVE.value, GrantStatus.PENDING_CODE.value],
                GrantKind.DEPOSIT: [GrantStatus.ACTIVE.value, GrantStatus.EXHAUSTED.value, GrantStatus.PENDING_CODE.value]}


def revoke(
    ctx: ServiceContext, *, customer_ref: str | None = None, grant_id: str | None = None, reason: str, order_id: str | None = None
) -> RevokeResult:
    """Forfeit the customer's grants (or one grant). Revoking twice changes nothing."""
    if (customer_ref is None) == (grant_id is None):
        raise InvalidInput("give exactly one of customerRef or grantId")
    if not isinstance(reason, str) or not reason.strip() or len(reason) > MAX_REASON:
        raise InvalidInput(f"reason must be 1-{MAX_REASON} characters")

    def work(uow) -> RevokeResult:
        now = ctx.clock.now()
        policy = uow.policies.current()
        if grant_id is not None:
            grant = uow.grants.get(grant_id)
            if grant is None:
                raise UnknownGrant("no grant with this id", grant_id=grant_id)
            customer = uow.customers.by_id(grant.customer_id) if grant.customer_id else None
        else:
            customer = uow.customers.by_reference(customer_ref)
            if customer is None:
                raise UnknownCustomer("no customer with this reference", customer_ref=customer_ref)
        return revoke_in(uow, policy, customer, grant_id, reason.strip(), order_id, now)

    return run_in_transaction(ctx.uow_factory, work)


def revoke_in(uow, policy: Policy | None, customer: Customer | None, grant_id: str | None, reason: str, order_id: str | None, now: datetime) -> RevokeResult:
    """Revocation inside an open transaction (also used by auto-revoke on a refused delivery)."""
    grants = [uow.grants.get(grant_id)] if grant_id else uow.grants.for_customer(customer.customer_id)
    revoked = []
    for grant in grants:
        if not grant.is_forfeitable():
            continue
        if uow.grants.revoke(grant.grant_id, now, reason, order_id, _FORFEITABLE[grant.kind]):
            revoked.append(grant)
            uow.ledger.append(
                LedgerEntry(
                    kind=EntryKind.FORFEIT, amount=grant.remaining_value(), at=now, customer_id=grant.customer_id,
                    grant_id=grant.grant_id, order_id=order_id, premium_number=grant.premium_number,
                    operator=grant.operator, note=reason[:MAX_REASON],
                )
            )
    blocked = customer.blocked if customer else False
    if revoked and customer is not None:
        after = uow.customers.add_forfeit(customer.customer_id, now, policy.block_after_forfeits if policy else None)
        blocked = after.blocked
    forfeited = None
    if revoked:
        forfeited = Money.zero(revoked[0].value.currency)
        for grant in revoked:
            forfeited = forfeited + grant.remaining_value()
    return RevokeResult(tuple(uow.grants.get(g.grant_id) for g in revoked), forfeited, blocked)


def get_customer(ctx: ServiceContext, customer_ref: str) -> CustomerView:
    from mts_service.services.customers import authorization_from

    def work(uow) -> CustomerView:
        customer = uow.customers.by_reference(customer_ref) if isinstance(customer_ref, str) else None
        if customer is None:
            raise UnknownCustomer("no customer with this reference", customer_ref=customer_ref)
        grants = uow.grants.for_customer(customer.customer_id)
        auth = authorization_from(uow.policies.current(), customer, grants, ctx.clock.now())
        return CustomerView(customer, tuple(grants), tuple(uow.orders.for_customer(customer.customer_id)), auth)

    return run_in_transaction(ctx.uow_factory, work, write=False)


def get_ledger(
    ctx: ServiceContext,
    *,
    customer_ref: str | None = None,
    kind: EntryKind | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    after_id: int = 0,
    limit: int = 100,
) -> LedgerPage:
    if not 1 <= limit <= MAX_PAGE or after_id < 0:
        raise InvalidInput(f"limit must be 1-{MAX_PAGE} and afterId non-negative")

    def work(uow) -> LedgerPage:
        customer_id = None
        if customer_ref is not None:
            customer = uow.customers.by_reference(customer_ref)
            if customer is None:
                raise UnknownCustomer("no customer with this reference", customer_ref=customer_ref)
            customer_id = customer.customer_id
        entries = uow.ledger.page(customer_id=customer_id, kind=kind, since=since, until=until, after_id=after_id, limit=limit + 1)
        more = len(entries) > limit
        entries = entries[:limit]
        return LedgerPage(tuple(entries), entries[-1].entry_id if more else None)

    return run_in_transaction(ctx.uow_factory, work, write=False)


_REPORT_FIELD = {
    EntryKind.ADVANCE_APPLIED: "advances_applied_minor",
    EntryKind.ADVANCE_RETURNED: "advances_returned_minor",
    EntryKind.FORFEIT: "forfeits_minor",
    EntryKind.EXPIRY: "expiries_minor",
    EntryKind.BILLING_REVERSAL: "reversals_minor",
}


def get_report(ctx: ServiceContext, first_day: date, last_day: date) -> Report:
    """Per day x premium number x operator: paid messages, gross and net, advances, forfeits.

    Ledger figures are by the day of the entry. The billing figures are by the day of the
    message, as an operator reports its charges: of that day's paid messages, how many (and
    how much) the operator reported FAILED, CONFIRMED, or not yet (held or unconfirmed), so
    ``billed_* = messages/gross/net - failed_*`` is what the operator's report should show
    (docs/reconciliation.md).
    """
    if last_day < first_day or (last_day - first_day).days >= MAX_REPORT_DAYS:
        raise InvalidInput(f"the report covers 1 to {MAX_REPORT_DAYS} days, first day first")

    def work(uow) -> Report:
        rows: dict[tuple, dict] = defaultdict(dict)
        for r in uow.ledger.totals_by_day(first_day.isoformat(), last_day.isoformat()):
            key = (r.day, r.premium_number or "", r.operator or "", r.currency)
            fields = rows[key]
            kind = EntryKind(r.kind)
            if kind is EntryKind.SMS_PAYMENT:
                fields["messages"] = fields.get("messages", 0) + r.entries
                fields["gross_minor"] = fields.get("gross_minor", 0) + int(r.amount)
                fields["net_minor"] = fields.get("net_minor", 0) + int(r.net)
            else:
                name = _REPORT_FIELD[kind]
                fields[name] = fields.get(name, 0) + int(r.amount)
        for r in uow.messages.billing_totals(first_day.isoformat(), last_day.isoformat()):
            fields = rows[(r.day, r.service_number, r.operator or "", r.currency)]
            status = BillingStatus(r.billing_status)
            if status is BillingStatus.FAILED:
                for name, value in (("failed_messages", r.n), ("failed_gross_minor", r.gross), ("failed_net_minor", r.net)):
                    fields[name] = fields.get(name, 0) + int(value)
            else:
                name = "confirmed_messages" if status is BillingStatus.CONFIRMED else "pending_messages"
                fields[name] = fields.get(name, 0) + int(r.n)
        report_rows = tuple(
            ReportRow(day=k[0], premium_number=k[1], operator=k[2], currency=k[3], **v) for k, v in sorted(rows.items())
        )
        return Report(first_day.isoformat(), last_day.isoformat(), report_rows, _deliveries(uow, first_day, last_day))

    return run_in_transaction(ctx.uow_factory, work, write=False)


_OUTCOME_FIELD = {"DELIVERED": "delivered", "REFUSED": "refused", "NOT_DELIVERED": "not_delivered", "CANCELLED": "cancelled"}


def _deliveries(uow, first_day: date, last_day: date) -> tuple[DeliveryDay, ...]:
    since = datetime.combine(first_day, time.min, tzinfo=timezone.utc)
    until = datetime.combine(last_day + timedelta(days=1), time.min, tzinfo=timezone.utc)
    days: dict[str, dict[str, int]] = defaultdict(dict)
    for at, status in uow.orders.outcomes_between(since, until):
        name = _OUTCOME_FIELD.get(status)
        if name is not None:
            counts = days[at.date().isoformat()]
            counts[name] = counts.get(name, 0) + 1
    return tuple(DeliveryDay(day, **counts) for day, counts in sorted(days.items()))


def get_policy(ctx: ServiceContext) -> Policy | None:
    return run_in_transaction(ctx.uow_factory, lambda uow: uow.policies.current(), write=False)


def set_policy(ctx: ServiceContext, policy: Policy, *, expected_version: int | None = None) -> Policy:
    """Validate and store as a new version. Grants keep the terms they were created under."""
    policy = policy.validate()

    def work(uow) -> Policy:
        current = uow.policies.current_version()
        if expected_version is not None and expected_version != current:
            raise PolicyVersionConflict(f"policy is at version {current}, not {expected_version}")
        return uow.policies.add(policy, ctx.clock.now())

    return run_in_transaction(ctx.uow_factory, work)


def expire(ctx: ServiceContext, *, batch: int = 500) -> int:
    """Expire grants past their validity or unredeemed codes past their TTL; record the expiries."""
    total = 0
    while True:
        def work(uow) -> int:
            now = ctx.clock.now()
            count = 0
            for grant in uow.grants.due_for_expiry(now, batch):
                remaining = grant.remaining_value()
                if uow.grants.expire(grant.grant_id, grant.status.value):
                    count += 1
                    if remaining.minor:
                        uow.ledger.append(
                            LedgerEntry(
                                kind=EntryKind.EXPIRY, amount=remaining, at=now, customer_id=grant.customer_id,
                                grant_id=grant.grant_id, premium_number=grant.premium_number, operator=grant.operator,
                            )
                        )
            return count

        done = run_in_transaction(ctx.uow_factory, work)
        total += done
        if done < batch:
            return total


def check_books(ctx: ServiceContext) -> list[Discrepancy]:
    """Reconcile the whole ledger with grants and wallets (operations and tests)."""

    def work(uow) -> list[Discrepancy]:
        return reconcile(uow.ledger.all(), uow.grants.all(), uow.wallets.total(), uow.messages.held_total())

    return run_in_transaction(ctx.uow_factory, work, write=False)

"""zeep answers -> the frozen dataclasses of ``models`` (and the few values going the other way).

zeep hands back ``CompoundValue`` objects with the wire's camelCase names; nothing of them
survives past these functions.
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Any

from .models import (
    BillingConfirmation,
    DeliveryDay,
    Authorization,
    Customer,
    CustomerStatus,
    DeliveryMode,
    Grant,
    GrantKind,
    GrantStatus,
    LedgerEntry,
    EntryKind,
    LedgerPage,
    Money,
    Order,
    OrderStatus,
    Redemption,
    Report,
    ReportRow,
    Revocation,
    CustomerDetails,
)


def utc(value: datetime | None) -> datetime | None:
    """A wire dateTime without a zone is UTC (MTS is UTC throughout)."""
    if value is None:
        return None
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def money_out(value: Money) -> dict[str, Any]:
    return {"amountMinor": value.amount_minor, "currency": value.currency}


def money(value: Any) -> Money | None:
    if value is None:
        return None
    return Money(int(value.amountMinor), value.currency)


def _money(value: Any) -> Money:
    result = money(value)
    if result is None:
        raise ValueError("a required amount is missing from the answer")
    return result


def _list(value: Any) -> list[Any]:
    return list(value or ())


def customer(value: Any) -> Customer:
    return Customer(
        customer_ref=value.customerRef,
        status=CustomerStatus(value.status),
        forfeit_count=int(value.forfeitCount),
        created_at=utc(value.createdAt),  # type: ignore[arg-type]
        username=value.username,
        mobile=value.mobile,
        language=value.language,
    )


def authorization(value: Any) -> Authorization:
    return Authorization(
        customer_ref=value.customerRef,
        may_order=bool(value.mayOrder),
        advances_left=int(value.advancesLeft),
        deposit_active=bool(value.depositActive),
        blocked=bool(value.blocked),
        advance_value=money(value.advanceValue),
        deposit_orders_left=value.depositOrdersLeft,
        deposit_expires_at=utc(value.depositExpiresAt),
        reason=value.reason,
    )


def grant(value: Any) -> Grant:
    return Grant(
        grant_id=value.grantId,
        kind=GrantKind(value.kind),
        status=GrantStatus(value.status),
        value=_money(value.value),
        policy_version=int(value.policyVersion),
        created_at=utc(value.createdAt),  # type: ignore[arg-type]
        premium_number=value.premiumNumber,
        orders_used=int(value.ordersUsed),
        operator=value.operator,
        sender=value.sender,
        orders_allowed=value.ordersAllowed,
        expires_at=utc(value.expiresAt),
        code_expires_at=utc(value.codeExpiresAt),
        order_id=value.orderId,
        revoked_at=utc(value.revokedAt),
        revoke_reason=value.revokeReason,
    )


def order(value: Any) -> Order:
    return Order(
        order_id=value.orderId,
        status=OrderStatus(value.status),
        total=_money(value.total),
        advance_applied=_money(value.advanceApplied),
        cod_due=_money(value.codDue),
        delivery_mode=DeliveryMode(value.deliveryMode),
        duplicate=bool(value.duplicate),
        pickup_point_id=value.pickupPointId,
    )


def redemption(value: Any) -> Redemption:
    return Redemption(
        grant_id=value.grantId,
        kind=GrantKind(value.kind),
        value=_money(value.value),
        already_redeemed=bool(value.alreadyRedeemed),
        authorization=authorization(value.authorization),
    )


def revocation(value: Any) -> Revocation:
    return Revocation(
        revoked_grants=tuple(grant(g) for g in _list(value.revokedGrants)),
        customer_blocked=bool(value.customerBlocked),
        forfeited=money(value.forfeited),
    )


def customer_details(value: Any) -> CustomerDetails:
    return CustomerDetails(
        customer=customer(value.customer),
        grants=tuple(grant(g) for g in _list(value.grants)),
        orders=tuple(order(o) for o in _list(value.orders)),
        authorization=authorization(value.authorization),
    )


def ledger_page(value: Any) -> LedgerPage:
    if value is None:  # an empty page arrives as an empty element, which zeep reads as None
        return LedgerPage(entries=(), next_after_id=None)
    entries = tuple(
        LedgerEntry(
            entry_id=int(e.entryId),
            kind=EntryKind(e.kind),
            amount=_money(e.amount),
            at=utc(e.at),  # type: ignore[arg-type]
            customer_id=e.customerId,
            grant_id=e.grantId,
            order_id=e.orderId,
            message_id=e.messageId,
            premium_number=e.premiumNumber,
            operator=e.operator,
            net=money(e.net),
            note=e.note,
        )
        for e in _list(value.entries)
    )
    return LedgerPage(entries=entries, next_after_id=value.nextAfterId)


def _day(value: Any) -> date:
    return value if isinstance(value, date) and not isinstance(value, datetime) else date.fromisoformat(str(value)[:10])


def _count(value: Any, name: str) -> int:
    # Billing figures came with ReportBilling: a server from before them sends none (0).
    return int(getattr(value, name, None) or 0)


def report(value: Any) -> Report:
    rows = tuple(
        ReportRow(
            day=_day(r.day),
            premium_number=r.premiumNumber,
            operator=r.operator or "",
            currency=r.currency,
            messages=int(r.messages),
            gross_minor=int(r.grossMinor),
            net_minor=int(r.netMinor),
            advances_applied_minor=int(r.advancesAppliedMinor),
            advances_returned_minor=int(r.advancesReturnedMinor),
            forfeits_minor=int(r.forfeitsMinor),
            expiries_minor=int(r.expiriesMinor),
            reversals_minor=int(r.reversalsMinor),
            failed_messages=_count(r, "failedMessages"),
            failed_gross_minor=_count(r, "failedGrossMinor"),
            failed_net_minor=_count(r, "failedNetMinor"),
            confirmed_messages=_count(r, "confirmedMessages"),
            pending_messages=_count(r, "pendingMessages"),
            billed_messages=_count(r, "billedMessages"),
            billed_gross_minor=_count(r, "billedGrossMinor"),
            billed_net_minor=_count(r, "billedNetMinor"),
        )
        for r in _list(value.rows)
    )
    deliveries = tuple(
        DeliveryDay(day=_day(d.day), delivered=int(d.delivered), refused=int(d.refused),
                    not_delivered=int(d.notDelivered), cancelled=int(d.cancelled))
        for d in _list(getattr(value, "deliveries", None))
    )
    return Report(first_day=_day(value.firstDay), last_day=_day(value.lastDay), rows=rows, deliveries=deliveries)


def billing_confirmation(value: Any) -> BillingConfirmation:
    return BillingConfirmation(day=_day(value.day), premium_number=value.premiumNumber, operator=value.operator or None,
                               confirmed=int(value.confirmed), held_left=int(value.heldLeft))

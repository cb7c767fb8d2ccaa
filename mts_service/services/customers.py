"""register_customer, redeem_code, get_authorization."""

from __future__ import annotations

import hmac

from datetime import datetime

from mts_service.domain.codes import looks_like_code
from mts_service.domain.customers import Customer, Registration
from mts_service.domain.grants import Grant, GrantKind, GrantStatus, expiry_on_activation

from mts_service.domain.phone import normalise_mobile
from mts_service.domain.policy import Policy
from mts_service.errors import (
    CodeExpired,
    CodeLocked,
    CustomerBlocked,
    CustomerConflict,
    InvalidCode,
    InvalidInput,
    UnknownCustomer,
)
from mts_service.services.context import ServiceContext
from mts_service.services.results import Authorization, RedeemResult
from mts_service.services.unit_of_work import run_in_transaction


def register_customer(ctx: ServiceContext, registration: Registration) -> Customer:
    """Create the customer, or update the same reference (idempotent for identical data)."""
    mobile = normalise_mobile(registration.mobile, ctx.default_region) if registration.mobile else None
    registration = Registration(registration.reference, registration.username or None, mobile, registration.language).validate()

    def work(uow) -> Customer:
        now = ctx.clock.now()
        for other, what in (
            (uow.customers.by_username(registration.username_key) if registration.username_key else None, "username"),
            (uow.customers.by_mobile(mobile) if mobile else None, "mobile number"),
        ):
            if other is not None and other.reference != registration.reference:
                raise CustomerConflict(f"this {what} belongs to another customer")
        current = uow.customers.by_reference(registration.reference)
        if current is None:
            return uow.customers.add(registration, now)
        if (current.username, current.mobile, current.language) == (registration.username, mobile, registration.language):
            return current
        return uow.customers.update_registration(current.customer_id, registration, now)

    return run_in_transaction(ctx.uow_factory, work)


def _customer(uow, reference: str) -> Customer:
    customer = uow.customers.by_reference(reference) if isinstance(reference, str) else None
    if customer is None:
        raise UnknownCustomer("no customer with this reference", customer_ref=reference)
    return customer


def redeem_code(ctx: ServiceContext, customer_ref: str, code: str) -> RedeemResult:
    if not isinstance(code, str) or not code.strip() or len(code) > 64:
        raise InvalidInput("code must be 1-64 characters")

    def work(uow) -> RedeemResult:
        now = ctx.clock.now()
        customer = _customer(uow, customer_ref)
        if customer.blocked:
            raise CustomerBlocked("this customer is blocked")
        if customer.code_locked_until is not None and customer.code_locked_until > now:
            raise CodeLocked("too many failed codes; try again later", locked_until=customer.code_locked_until)
        policy = uow.policies.current()
        if policy is None:
            raise InvalidCode("no such code")
        grant = None
        if looks_like_code(code, policy.codes.length, policy.codes.alphabet):
            code_hash = ctx.keys.code_hasher.hash(code)
            found = uow.grants.by_code_hash(code_hash)
            # The lookup is by keyed hash, so timing reveals nothing of the code; the
            # constant-time comparison against the stored hash is defence in depth.
            if found is not None and hmac.compare_digest(code_hash, found[1]):
                grant = found[0]
        if grant is not None and grant.status is GrantStatus.PENDING_CODE and grant.code_expires_at and grant.code_expires_at <= now:
            raise CodeExpired("this code has expired")
        if grant is not None and grant.customer_id == customer.customer_id and grant.status is not GrantStatus.PENDING_CODE:
            return RedeemResult(grant, True, _authorization(uow, policy, customer, now))
        if grant is not None and grant.status is GrantStatus.PENDING_CODE:
            expires_at = expiry_on_activation(grant.validity, now)
            activated = uow.grants.activate(grant.grant_id, customer.customer_id, now, expires_at)
            if activated is not None:
                return RedeemResult(activated, False, _authorization(uow, policy, customer, now))
        # Unknown, used by someone else, or lost the race: count it, commit the count, refuse.
        after = uow.customers.record_code_failure(customer.customer_id, now, policy.codes.attempt_window, policy.codes.max_failed_attempts)
        uow.commit()
        remaining = max(policy.codes.max_failed_attempts - after.failed_code_attempts, 0)
        raise InvalidCode("invalid code", attempts_left=remaining)

    return run_in_transaction(ctx.uow_factory, work)


def get_authorization(ctx: ServiceContext, customer_ref: str) -> Authorization:
    def work(uow) -> Authorization:
        now = ctx.clock.now()
        customer = _customer(uow, customer_ref)
        return _authorization(uow, uow.policies.current(), customer, now)

    return run_in_transaction(ctx.uow_factory, work, write=False)


def _authorization(uow, policy: Policy | None, customer: Customer, now: datetime) -> Authorization:
    return authorization_from(policy, customer, uow.grants.usable_for_customer(customer.customer_id, now), now)


def authorization_from(policy: Policy | None, customer: Customer, grants: list[Grant], now: datetime) -> Authorization:
    usable = [g for g in grants if g.is_usable(now)]
    advances = [g for g in usable if g.kind is GrantKind.ADVANCE]
    deposits = [g for g in usable if g.kind is GrantKind.DEPOSIT]
    if any(d.orders_allowed is None for d in deposits):
        deposit_left = None
    else:
        deposit_left = sum(d.orders_left() or 0 for d in deposits)
    advance_value = advances[0].value if advances else None
    reason = None
    if customer.blocked:
        may, reason = False, "CUSTOMER_BLOCKED"
    elif policy is None:
        may, reason = False, "NO_POLICY"
    else:
        need_advance = policy.needs_advance()
        need_deposit = policy.needs_deposit()
        may = (not need_advance or bool(advances)) and (not need_deposit or bool(deposits))
        if not may:
            reason = "NO_ADVANCE" if need_advance and not advances else "NO_DEPOSIT"
    return Authorization(
        customer_ref=customer.reference,
        may_order=may,
        advances_left=len(advances),
        advance_value=advance_value,
        deposit_active=bool(deposits),
        deposit_orders_left=deposit_left if deposits else 0,
        deposit_expires_at=max((d.expires_at for d in deposits if d.expires_at), default=None) if deposits else None,
        blocked=customer.blocked,
        reason=reason,
    )




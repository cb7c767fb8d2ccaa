"""submit_sms: record one paid inbound message, credit it, and build the reply.

Idempotent per gateway messageId: a retry gets the identical receipt (same code, same reply)
and credits nothing twice; the same id with other content is a conflict. The payments of
one beneficiary are serialised by the lock on its wallet row, so racing messages of one
customer cannot both complete (or both miss) a grant.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import datetime

from mts_service.domain import replies
from mts_service.domain.codes import generate_code
from mts_service.domain.customers import Customer
from mts_service.domain.grants import Grant, GrantKind, GrantStatus
from mts_service.domain.inbound import InboundSms, MessageFlag, ParsedText, ReceiptOutcome, normalised_text_key, parse_text
from mts_service.domain.ledger import EntryKind, LedgerEntry
from mts_service.domain.money import Money
from mts_service.domain.phone import is_opaque, normalise_sender
from mts_service.domain.policy import Flow, Mode, Policy, PremiumNumber
from mts_service.domain.billing import BillingStatus
from mts_service.errors import ErrorCode, MessageIdConflict
from mts_service.services.context import ServiceContext
from mts_service.services.results import SmsReceipt
from mts_service.services.unit_of_work import run_in_transaction


@dataclass(frozen=True)
class _Credit:
    outcome: ReceiptOutcome
    grant: Grant | None
    code: str | None
    count: int
    needed: int
    kind: GrantKind


def submit_sms(ctx: ServiceContext, message: InboundSms) -> SmsReceipt:
    message = message.validate()
    fingerprint = message.fingerprint()
    # Pure work before the transaction: on SQLite the transaction holds the one write lock.
    sender = normalise_sender(message.sender, ctx.default_region)
    return run_in_transaction(ctx.uow_factory, lambda uow: _submit(ctx, uow, message, fingerprint, sender))


def _submit(ctx: ServiceContext, uow, message: InboundSms, fingerprint: str, sender: str) -> SmsReceipt:
    existing = uow.messages.get(message.message_id)
    if existing is not None:
        if existing.fingerprint != fingerprint:
            raise MessageIdConflict("messageId already used for another message", message_id=message.message_id)
        return SmsReceipt(
            message_id=message.message_id,
            outcome=ReceiptOutcome(existing.outcome),
            reply_text=ctx.keys.sealer.open(message.message_id, existing.reply_sealed),
            duplicate=True,
            language=existing.language,
            refusal_code=ErrorCode.UNKNOWN_PREMIUM_NUMBER.value if existing.outcome == ReceiptOutcome.REFUSED.value else None,
            grant_id=existing.grant_id,
        )

    now = ctx.clock.now()
    policy = uow.policies.current()
    premium = policy.premium_number(message.service_number.strip()) if policy else None
    if policy is None or premium is None:
        return _refuse_unknown_number(ctx, uow, message, fingerprint, sender, policy, now)

    parsed = parse_text(message.text, premium)
    customer, flow, unknown_username = _resolve(uow, policy, parsed, sender)
    beneficiary = f"c:{customer.customer_id}" if customer else f"s:{sender}"
    text_key = normalised_text_key(message.text)
    flags = _flags(ctx, uow, policy, message, sender, text_key, now)

    held = premium.hold_until_billed
    if held:
        # Paid (the ledger records the payment) but credited only once the operator confirms
        # the charge: services.billing.report_billing runs the credit then.
        credit = _Credit(ReceiptOutcome.HELD, None, None, 0, 0, GrantKind.ADVANCE)
    else:
        credit = _credit(ctx, uow, policy, premium.price, premium.number, message.operator, sender, customer, beneficiary, now)
    language = replies.choose_language(customer.language if customer else None, message.text, policy.default_language)
    reply = _reply(policy, premium, language, credit, parsed, unknown_username)

    uow.messages.add(
        message_id=message.message_id,
        fingerprint=fingerprint,
        channel=message.channel.value,
        sender=sender,
        service_number=premium.number,
        text_key=text_key[:1600],
        operator=message.operator,
        received_at=message.received_at,
        recorded_at=now,
        day=now.date().isoformat(),
        credited=not held,
        price_minor=premium.price.minor,
        net_minor=premium.net.minor,
        currency=premium.price.currency,
        beneficiary=beneficiary,
        customer_id=customer.customer_id if customer else None,
        grant_id=credit.grant.grant_id if credit.grant else None,
        flow=flow.value,
        flags=",".join(f.value for f in flags),
        outcome=credit.outcome.value,
        language=language,
        reply_sealed=ctx.keys.sealer.seal(message.message_id, reply),
        billing_status=BillingStatus.HELD.value if held else BillingStatus.UNCONFIRMED.value,
    )
    if credit.grant is not None and credit.count > 1:
        # The earlier payments the wallet held make up the grant too.
        uow.messages.assign_grant(beneficiary, credit.grant.grant_id)
    uow.ledger.append(
        LedgerEntry(
            kind=EntryKind.SMS_PAYMENT,
            amount=premium.price,
            net=premium.net,
            at=now,
            customer_id=customer.customer_id if customer else None,
            grant_id=credit.grant.grant_id if credit.grant else None,
            message_id=message.message_id,
            premium_number=premium.number,
            operator=message.operator,
        )
    )
    return SmsReceipt(
        message_id=message.message_id,
        outcome=credit.outcome,
        reply_text=reply,
        duplicate=False,
        language=language,
        flow=flow.value,
        grant_id=credit.grant.grant_id if credit.grant else None,
    )


def _resolve(uow, policy: Policy, parsed: ParsedText, sender: str) -> tuple[Customer | None, Flow, bool]:
    """Username in the text -> flow 2; registered sender -> flow 3; else flow 1."""
    unknown_username = False
    if parsed.username_key and Flow.USERNAME in policy.flows:
        customer = uow.customers.by_username(parsed.username_key)
        if customer is not None:
            return customer, Flow.USERNAME, False
        unknown_username = True
    if Flow.REGISTERED in policy.flows and not is_opaque(sender):
        customer = uow.customers.by_mobile(sender)
        if customer is not None:
            return customer, Flow.REGISTERED, unknown_username
    # A paid message is never lost: when nothing else applies it earns a code, even if the
    # merchant disabled flow 1 (the flag only stops advertising it).
    return None, Flow.CODE, unknown_username


def _flags(
    ctx: ServiceContext, uow, policy: Policy, message: InboundSms, sender: str, text_key: str, now: datetime
) -> list[MessageFlag]:
    flags = []
    if uow.messages.is_near_duplicate(
        sender, message.service_number.strip(), text_key, message.received_at, ctx.near_duplicate_window
    ):
        flags.append(MessageFlag.NEAR_DUPLICATE)
    if policy.daily_cap_per_sender is not None:
        if uow.messages.credited_today(sender, now.date().isoformat()) >= policy.daily_cap_per_sender:
            flags.append(MessageFlag.OVER_DAILY_CAP)
    return flags


def _credit(
    ctx: ServiceContext,
    uow,
    policy: Policy,
    price: Money,
    number: str,
    operator: str | None,
    sender: str,
    customer: Customer | None,
    beneficiary: str,
    now: datetime,
) -> _Credit:
    wallet = uow.wallets.lock(beneficiary, policy.currency, now)
    kind = wallet.kind if wallet.sms_count > 0 and wallet.kind else _kind_to_fund(uow, policy, beneficiary, now)
    needed = policy.sms_needed(kind)
    count = wallet.sms_count + 1
    amount = wallet.amount_minor + price.minor
    if count < needed:
        uow.wallets.save(replace(wallet, kind=kind, sms_count=count, amount_minor=amount), now, policy.currency)
        return _Credit(ReceiptOutcome.PROGRESS, None, None, count, needed, kind)

    if wallet.sms_count or wallet.kind is not None:  # an empty wallet stays empty: no write
        uow.wallets.save(replace(wallet, kind=None, sms_count=0, amount_minor=0), now)
    validity = policy.validity(kind)
    code = code_hash = None
    if customer is not None:
        status, expires_at, code_expires_at = GrantStatus.ACTIVE, (now + validity if validity else None), None
    else:
        # 32^8 codes: a collision is rare, not impossible. The unique index on code_hash is
        # the guard (no look-up first): a clash rolls back and the use case runs again.
        code = generate_code(policy.codes.length, policy.codes.alphabet)
        code_hash = ctx.keys.code_hasher.hash(code)
        status, expires_at, code_expires_at = GrantStatus.PENDING_CODE, None, now + policy.codes.ttl
    grant = Grant(
        grant_id=str(uuid.uuid4()),
        kind=kind,
        status=status,
        value=Money(amount, policy.currency),
        policy_version=policy.version,
        created_at=now,
        premium_number=number,
        operator=operator,
        customer_id=customer.customer_id if customer else None,
        sender=None if customer else sender,
        orders_allowed=policy.orders_covered(kind),
        validity=validity,
        expires_at=expires_at,
        code_expires_at=code_expires_at,
    )
    uow.grants.add(grant, beneficiary=beneficiary, code_hash=code_hash)
    outcome = ReceiptOutcome.CODE_ISSUED if code else ReceiptOutcome.CREDITED
    return _Credit(outcome, grant, code, count, needed, kind)


def _kind_to_fund(uow, policy: Policy, beneficiary: str, now: datetime) -> GrantKind:
    if policy.mode is Mode.ADVANCE:
        return GrantKind.ADVANCE
    if policy.mode is Mode.DEPOSIT:
        return GrantKind.DEPOSIT
    # BOTH: a payment funds the deposit first, then advances.
    return GrantKind.ADVANCE if uow.grants.has_live_deposit(beneficiary, now) else GrantKind.DEPOSIT


def _reply(
    policy: Policy, premium: PremiumNumber, language: str, credit: _Credit, parsed: ParsedText, unknown_username: bool
) -> str:
    """The main sentence, plus the optional ones that still fit the allowed segments."""
    key = replies.TemplateKey
    prefix = [key.USERNAME_UNKNOWN] if unknown_username else []
    suffix = [key.NO_KEYWORD, key.HELP] if not parsed.keyword_matched else [key.HELP] if parsed.help_asked else []
    values: dict = {}
    if key.HELP in suffix:
        # Help tells how to pay at the number the customer just used.
        values.update(keyword=premium.keywords[0], price=premium.price)
    if credit.outcome is ReceiptOutcome.CODE_ISSUED:
        assert credit.grant is not None and credit.code is not None
        main = key.CODE_ISSUED
        values.update(code=credit.code, amount=credit.grant.value, validity=policy.codes.ttl, kind=credit.grant.kind.value)
    elif credit.outcome is ReceiptOutcome.CREDITED:
        assert credit.grant is not None
        main = key.CREDITED
        values.update(amount=credit.grant.value, kind=credit.grant.kind.value, validity=credit.grant.validity)
    elif credit.outcome is ReceiptOutcome.HELD:
        main = key.HELD
        values.update(amount=premium.price)
    else:
        main = key.PROGRESS
        values.update(count=credit.count, needed=credit.needed)
    return replies.render_reply(
        policy.effective_templates(), language, main, prefix_keys=prefix, suffix_keys=suffix,
        max_segments=policy.max_reply_segments, **values,
    )


def credit_held(ctx: ServiceContext, uow, policy: Policy, message, customer: Customer | None, now: datetime) -> tuple[_Credit, str]:
    """Credit a held message whose charge the operator confirmed.

    The credit it would have had on arrival (wallet, grant, code) and the reply the gateway
    must now send as an MT. ``message`` is the stored message: it is credited at the price
    it was charged, to the beneficiary it was resolved to on arrival, whatever the policy
    says today.
    """
    price = Money(message.price_minor, message.currency)
    credit = _credit(ctx, uow, policy, price, message.service_number, message.operator, message.sender, customer,
                     message.beneficiary, now)
    premium = policy.premium_number(message.service_number)
    if premium is None:  # the number left the policy since: no help to give for it
        premium = PremiumNumber(message.service_number, price, Money(message.net_minor, message.currency), ("",))
        parsed = ParsedText(keyword_matched=True, help_asked=False, username=None)
    else:
        parsed = parse_text(message.text_key, premium)
    unknown_username = parsed.username_key is not None and message.flow != Flow.USERNAME.value and Flow.USERNAME in policy.flows
    reply = _reply(policy, premium, message.language, credit, parsed, unknown_username)
    grant_id = credit.grant.grant_id if credit.grant else None
    uow.messages.mark_credited(message.message_id, grant_id)
    if credit.grant is not None and credit.count > 1:
        uow.messages.assign_grant(message.beneficiary, credit.grant.grant_id)
    return credit, reply


def _refuse_unknown_number(ctx, uow, message: InboundSms, fingerprint: str, sender: str, policy: Policy | None, now: datetime) -> SmsReceipt:
    """Recorded (so it can be reported and reconciled) but not credited."""
    default_language = policy.default_language if policy else "fr"
    language = replies.choose_language(None, message.text, default_language)
    reply = replies.render_reply(policy.effective_templates() if policy else None, language, replies.TemplateKey.REFUSED)
    uow.messages.add(
        message_id=message.message_id,
        fingerprint=fingerprint,
        channel=message.channel.value,
        sender=sender,
        service_number=message.service_number.strip()[:32],
        text_key=normalised_text_key(message.text)[:1600],
        operator=message.operator,
        received_at=message.received_at,
        recorded_at=now,
        day=now.date().isoformat(),
        credited=False,
        price_minor=0,
        net_minor=0,
        currency=policy.currency if policy else "XXX",
        flags=MessageFlag.UNKNOWN_NUMBER.value,
        outcome=ReceiptOutcome.REFUSED.value,
        language=language,
        reply_sealed=ctx.keys.sealer.seal(message.message_id, reply),
        billing_status=BillingStatus.UNCONFIRMED.value,
    )
    return SmsReceipt(
        message_id=message.message_id,
        outcome=ReceiptOutcome.REFUSED,
        reply_text=reply,
        duplicate=False,
        language=language,
        refusal_code=ErrorCode.UNKNOWN_PREMIUM_NUMBER.value,
    )

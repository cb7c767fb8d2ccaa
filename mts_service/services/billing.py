"""report_billing: the operator's word on one paid message (CONFIRMED or FAILED).

- CONFIRMED on a message credited on arrival: marked confirmed, nothing else changes.
- CONFIRMED on a message held until billed (``PremiumNumber.hold_until_billed``): the credit
  runs now (wallet, grant, code) and the answer carries the reply the gateway must send as
  an MT, so no code is lost. A repeated report gets the same reply.
- FAILED: the payment is reversed in the ledger (``BILLING_REVERSAL``) and taken back from
  where it sits (``Recovery``): a held message was never credited; a payment still in a
  wallet reduces the wallet; one that made up an unused grant (ACTIVE or PENDING_CODE, worth
  at least the price) reduces the grant's value (at zero the grant is REVERSED: worthless,
  final). When the grant was used or is gone, the reversal is UNRECOVERED and the message
  is flagged ``BILLING_UNRECOVERED`` for review; the books still balance (domain.ledger).

Idempotent per messageId: the same status again answers as before; the other status after
a final one is a ``MessageIdConflict``; an unknown messageId is ``UnknownMessage``.

Lock order is the one of submit_sms (wallet, then message), so a report racing a payment of
the same beneficiary cannot deadlock; the conditional update of the message's billing status
settles two racing reports (the loser runs again and answers as a repeat).
"""

from __future__ import annotations

from datetime import date

from mts_service.domain.billing import BillingStatus, check_report
from mts_service.domain.inbound import MessageFlag, ReceiptOutcome
from mts_service.domain.ledger import EntryKind, LedgerEntry, Recovery
from mts_service.domain.money import Money
from mts_service.errors import InvalidInput, UnknownMessage, UnknownPremiumNumber
from mts_service.services import sms
from mts_service.services.context import ServiceContext
from mts_service.services.results import BillingResult, ConfirmBillingResult
from mts_service.services.unit_of_work import TransientConflict, run_in_transaction


def report_billing(ctx: ServiceContext, message_id: str, status: BillingStatus | str) -> BillingResult:
    reported = BillingStatus(status)
    if not isinstance(message_id, str) or not 1 <= len(message_id) <= 128:
        raise InvalidInput("messageId must be 1-128 characters")
    return run_in_transaction(ctx.uow_factory, lambda uow: _report(ctx, uow, message_id, reported))


def _report(ctx: ServiceContext, uow, message_id: str, reported: BillingStatus) -> BillingResult:
    message = uow.messages.get(message_id)
    if message is None:
        raise UnknownMessage("no message with this messageId", message_id=message_id)
    if not check_report(BillingStatus(message.billing_status), reported, message_id=message_id):
        return _answer(ctx, message, duplicate=True)

    now = ctx.clock.now()
    policy = uow.policies.current()
    if message.beneficiary is not None and policy is not None:
        # Wallet first, as submit_sms does; then read the message again under that lock (a
        # racing payment may have just turned the wallet into a grant).
        uow.wallets.lock(message.beneficiary, message.currency, now)
        message = uow.messages.get(message_id)
    current = BillingStatus(message.billing_status)
    if not check_report(current, reported, message_id=message_id):
        return _answer(ctx, message, duplicate=True)

    outcome = recovery = reply_sealed = None
    reply = grant_id = None
    if reported is BillingStatus.CONFIRMED and current is BillingStatus.HELD:
        customer = uow.customers.by_id(message.customer_id) if message.customer_id else None
        credit, reply = sms.credit_held(ctx, uow, policy, message, customer, now)
        outcome = credit.outcome.value
        grant_id = credit.grant.grant_id if credit.grant else None
        reply_sealed = ctx.keys.sealer.seal(_reply_aad(message_id), reply)
    elif reported is BillingStatus.FAILED and message.price_minor > 0:
        recovery = _reverse(uow, message, current, now).value

    if not uow.messages.set_billing(message_id, current.value, reported.value, now, outcome=outcome, recovery=recovery,
                                    reply_sealed=reply_sealed):
        raise TransientConflict("another billing report for this message won")  # run again: answered as a repeat
    return BillingResult(
        message_id=message_id, status=reported.value, outcome=ReceiptOutcome(outcome) if outcome else None,
        reply_text=reply, recovery=recovery, duplicate=False, grant_id=grant_id,
    )


def _reverse(uow, message, current: BillingStatus, now) -> Recovery:
    price = Money(message.price_minor, message.currency)
    if current is BillingStatus.HELD:
        recovery = Recovery.HELD
    elif message.grant_id is None:
        wallet = uow.wallets.get(message.beneficiary)
        if wallet is None or wallet.amount_minor < price.minor or wallet.sms_count < 1:
            raise AssertionError(f"payment {message.message_id} is neither in a grant nor in its wallet")
        count = wallet.sms_count - 1
        uow.wallets.save(
            type(wallet)(wallet.beneficiary, wallet.kind if count else None, count, wallet.amount_minor - price.minor), now
        )
        uow.messages.mark_uncredited(message.message_id)
        recovery = Recovery.WALLET
    elif uow.grants.reduce_value(message.grant_id, price.minor):
        recovery = Recovery.GRANT
    else:
        recovery = Recovery.UNRECOVERED
        flags = [f for f in message.flags.split(",") if f]
        if MessageFlag.BILLING_UNRECOVERED.value not in flags:
            uow.messages.set_flags(message.message_id, ",".join([*flags, MessageFlag.BILLING_UNRECOVERED.value]))
    uow.ledger.append(
        LedgerEntry(
            kind=EntryKind.BILLING_REVERSAL, amount=price, net=Money(message.net_minor, message.currency), at=now,
            customer_id=message.customer_id, grant_id=message.grant_id, message_id=message.message_id,
            premium_number=message.service_number, operator=message.operator, note=f"billing failed ({recovery.value})",
            recovery=recovery,
        )
    )
    return recovery


def _answer(ctx: ServiceContext, message, *, duplicate: bool) -> BillingResult:
    reply = None
    if message.billing_reply_sealed is not None:
        reply = ctx.keys.sealer.open(_reply_aad(message.message_id), message.billing_reply_sealed)
    return BillingResult(
        message_id=message.message_id, status=message.billing_status,
        outcome=ReceiptOutcome(message.billing_outcome) if message.billing_outcome else None, reply_text=reply,
        recovery=message.billing_recovery, duplicate=duplicate, grant_id=message.grant_id if reply else None,
    )


def _reply_aad(message_id: str) -> str:
    # Bound to the message and to its purpose: the arrival reply cannot be swapped in.
    return f"{message_id}#billing"


def confirm_billing(ctx: ServiceContext, day: date, premium_number: str, operator: str | None = None) -> ConfirmBillingResult:
    """Confirm every unconfirmed paid message of one day x premium number (x operator).

    For operators that confirm by a daily report rather than per message: the administrator
    imports the report (``mts-admin reconcile --confirm-billing``) and each day x number whose
    figures match is confirmed here. Held messages are left to the gateway's ReportBilling,
    since confirming them issues replies (codes) only the gateway can deliver.
    """
    if not isinstance(premium_number, str) or not 1 <= len(premium_number) <= 32:
        raise InvalidInput("premiumNumber must be 1-32 characters")
    if operator is not None and not 1 <= len(operator) <= 64:
        raise InvalidInput("operator must be 1-64 characters")

    def work(uow) -> ConfirmBillingResult:
        policy = uow.policies.current()
        if policy is None or policy.premium_number(premium_number) is None:
            raise UnknownPremiumNumber("no premium number with this number", premium_number=premium_number)
        confirmed, held = uow.messages.confirm_day(day.isoformat(), premium_number, operator, ctx.clock.now())
        return ConfirmBillingResult(day.isoformat(), premium_number, operator, confirmed, held)

    return run_in_transaction(ctx.uow_factory, work)

"""AdminService (urn:mts:admin:v1): revocation (forfeit), customer and ledger views, reports, policy."""

from __future__ import annotations

from datetime import date
from typing import Any

from spyne import Date, DateTime, Integer, Long, ServiceBase, Unicode, rpc

from mts_service.domain.ledger import EntryKind
from mts_service.services import admin, billing
from mts_service.services.context import ServiceContext
from mts_service.services.results import LedgerPage as LedgerPageResult
from mts_service.services.results import Report as ReportResult
from mts_service.soap.base import MtsApplication, service_context
from mts_service.soap.convert import Translator, aware, text_in
from mts_service.soap.policy_doc import policy_in, policy_out
from mts_service.soap.types import (
    ADMIN,
    ADMIN_NS,
    BillingConfirmation,
    CustomerDetails,
    DeliveryDay,
    EntryKind_,
    FaultDetail,
    LedgerEntry,
    LedgerPage,
    PolicyDocument,
    Report,
    ReportRow,
    Revocation,
    one,
    optional,
    required,
)

SERVICE_NAME = "AdminService"
DEFAULT_PAGE = 100
wire = Translator(ADMIN)


class AdminService(ServiceBase):
    @rpc(optional(Unicode, max_len=64), optional(Unicode, max_len=64), required(Unicode, min_len=1, max_len=256),
         optional(Unicode, max_len=64),
         _returns=one(Revocation), _out_variable_name="revocation", _throws=FaultDetail)
    def RevokeAuthorization(ctx, customerRef, grantId, reason, orderId):  # noqa: N802,N803,N805
        """Forfeit the customer's grants (customerRef) or one grant (grantId); twice changes nothing."""
        result = admin.revoke(
            service_context(ctx), customer_ref=text_in(customerRef), grant_id=text_in(grantId), reason=reason,
            order_id=text_in(orderId),
        )
        return Revocation(
            revokedGrants=[wire.grant(g) for g in result.revoked],
            forfeited=wire.money(result.forfeited),
            customerBlocked=result.customer_blocked,
        )

    @rpc(required(Unicode, min_len=1, max_len=64),
         _returns=one(CustomerDetails), _out_variable_name="details", _throws=FaultDetail)
    def GetCustomer(ctx, customerRef):  # noqa: N802,N803,N805
        view = admin.get_customer(service_context(ctx), customerRef)
        return CustomerDetails(
            customer=wire.customer(view.customer),
            grants=[wire.grant(g) for g in view.grants],
            orders=[wire.order(o) for o in view.orders],
            authorization=wire.authorization(view.authorization),
        )

    @rpc(optional(Unicode, max_len=64), EntryKind_(min_occurs=0), optional(DateTime),
         optional(DateTime), optional(Long), optional(Integer),
         _returns=one(LedgerPage), _out_variable_name="page", _throws=FaultDetail)
    def GetLedger(ctx, customerRef, kind, since, until, afterId, limit):  # noqa: N802,N803,N805
        """One page of ledger entries, oldest first; pass nextAfterId back as afterId for the next."""
        page = admin.get_ledger(
            service_context(ctx),
            customer_ref=text_in(customerRef),
            kind=EntryKind(kind) if kind else None,
            since=aware(since),
            until=aware(until),
            after_id=afterId if afterId is not None else 0,
            limit=limit if limit is not None else DEFAULT_PAGE,
        )
        return ledger_page_out(page)

    @rpc(required(Date), required(Date), _returns=one(Report), _out_variable_name="report", _throws=FaultDetail)
    def GetReport(ctx, firstDay, lastDay):  # noqa: N802,N803,N805
        """Per day x premium number x operator: paid messages, gross and net, advances, forfeits."""
        return report_out(admin.get_report(service_context(ctx), firstDay, lastDay))

    @rpc(_returns=PolicyDocument.customize(min_occurs=0, nillable=False), _out_variable_name="policy", _throws=FaultDetail)
    def GetPolicy(ctx):  # noqa: N802,N805
        """The current policy; absent when none was ever set."""
        policy = admin.get_policy(service_context(ctx))
        return policy_out(policy) if policy is not None else None

    @rpc(one(PolicyDocument), optional(Integer),
         _returns=one(PolicyDocument), _out_variable_name="policy", _throws=FaultDetail)
    def SetPolicy(ctx, policy, expectedVersion):  # noqa: N802,N803,N805
        """Store a new policy version; refused if the current version is not expectedVersion (when given)."""
        stored = admin.set_policy(service_context(ctx), policy_in(policy), expected_version=expectedVersion)
        return policy_out(stored)

    @rpc(required(Date), required(Unicode, min_len=1, max_len=32), optional(Unicode, min_len=1, max_len=64),
         _returns=one(BillingConfirmation), _out_variable_name="confirmation", _throws=FaultDetail)
    def ConfirmBilling(ctx, day, premiumNumber, operator):  # noqa: N802,N803,N805
        """Confirm the charges of one day x premium number (x operator) from the operator's report.

        Held messages are left to the gateway's ReportBilling (their replies must be sent).
        """
        result = billing.confirm_billing(service_context(ctx), day, premiumNumber, text_in(operator))
        return BillingConfirmation(
            day=date.fromisoformat(result.day), premiumNumber=result.premium_number, operator=result.operator,
            confirmed=result.confirmed, heldLeft=result.held_left,
        )


def ledger_page_out(page: LedgerPageResult) -> Any:
    return LedgerPage(
        entries=[
            LedgerEntry(
                entryId=e.entry_id, kind=e.kind.value, amount=wire.money(e.amount), at=e.at, customerId=e.customer_id,
                grantId=e.grant_id, orderId=e.order_id, messageId=e.message_id, premiumNumber=e.premium_number,
                operator=e.operator, net=wire.money(e.net), note=e.note,
            )
            for e in page.entries
        ],
        nextAfterId=page.next_after_id,
    )


def report_out(report: ReportResult) -> Any:
    return Report(
        firstDay=date.fromisoformat(report.first_day),
        lastDay=date.fromisoformat(report.last_day),
        rows=[
            ReportRow(
                day=date.fromisoformat(r.day), premiumNumber=r.premium_number, operator=r.operator, currency=r.currency,
                messages=r.messages, grossMinor=r.gross_minor, netMinor=r.net_minor,
                advancesAppliedMinor=r.advances_applied_minor, advancesReturnedMinor=r.advances_returned_minor,
                forfeitsMinor=r.forfeits_minor, expiriesMinor=r.expiries_minor, reversalsMinor=r.reversals_minor,
                failedMessages=r.failed_messages, failedGrossMinor=r.failed_gross_minor, failedNetMinor=r.failed_net_minor,
                confirmedMessages=r.confirmed_messages, pendingMessages=r.pending_messages,
                billedMessages=r.billed_messages, billedGrossMinor=r.billed_gross_minor, billedNetMinor=r.billed_net_minor,
            )
            for r in report.rows
        ],
        deliveries=[
            DeliveryDay(day=date.fromisoformat(d.day), delivered=d.delivered, refused=d.refused,
                        notDelivered=d.not_delivered, cancelled=d.cancelled)
            for d in report.deliveries
        ],
    )


def admin_application(context: ServiceContext) -> MtsApplication:
    return MtsApplication([AdminService], tns=ADMIN_NS, name=SERVICE_NAME, context=context)

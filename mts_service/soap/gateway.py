"""GatewayService (urn:mts:gateway:v1): the SMS gateway submits each paid inbound message.

Thin: parse the wire message into ``InboundSms``, call ``services.sms.submit_sms``,
translate the receipt. Errors are translated once, in ``base.MtsApplication``.
"""

from __future__ import annotations

from typing import Any

from spyne import ServiceBase, Unicode, rpc

from mts_service.domain.inbound import Channel, InboundSms
from mts_service.services import billing, sms
from mts_service.services.context import ServiceContext
from mts_service.services.results import BillingResult
from mts_service.services.results import SmsReceipt as ReceiptResult
from mts_service.soap.base import MtsApplication, service_context
from mts_service.soap.convert import aware, text_in
from mts_service.soap.fast_new import new
from mts_service.soap.types import (
    GATEWAY_NS,
    BillingReceipt,
    BillingReport_,
    FaultDetail,
    InboundMessage,
    SmsReceipt,
    one,
    required,
)

SERVICE_NAME = "GatewayService"


class GatewayService(ServiceBase):
    @rpc(one(InboundMessage), _returns=one(SmsReceipt),
         _out_variable_name="receipt", _throws=FaultDetail)
    def SubmitSms(ctx, message):  # noqa: N802,N805 - WSDL operation name
        """Record and credit one paid message; a retry under the same messageId gets the same receipt."""
        receipt = sms.submit_sms(service_context(ctx), inbound_sms(message))
        return receipt_out(receipt)

    @rpc(required(Unicode, min_len=1, max_len=128), BillingReport_(),
         _returns=one(BillingReceipt), _out_variable_name="receipt", _throws=FaultDetail)
    def ReportBilling(ctx, messageId, status):  # noqa: N802,N803,N805 - WSDL operation name
        """The operator's word on a message's charge: CONFIRMED or FAILED (reversed in the ledger).

        When the message's credit was held until billed, the confirmation runs it and the
        receipt's replyText must be sent to the sender as an MT.
        """
        return billing_receipt_out(billing.report_billing(service_context(ctx), messageId, status))


def inbound_sms(message: Any) -> InboundSms:
    return InboundSms(
        message_id=message.messageId,
        sender=message.sender,
        service_number=message.serviceNumber,
        text=message.text or "",
        received_at=aware(message.receivedAt),
        channel=Channel(message.channel),
        operator=text_in(message.operator),
    )


def receipt_out(receipt: ReceiptResult) -> Any:
    return new(
        SmsReceipt,
        messageId=receipt.message_id,
        outcome=receipt.outcome.value,
        replyText=receipt.reply_text,
        duplicate=receipt.duplicate,
        language=receipt.language,
        refusalCode=receipt.refusal_code,
    )


def billing_receipt_out(result: BillingResult) -> Any:
    return BillingReceipt(
        messageId=result.message_id,
        status=result.status,
        outcome=result.outcome.value if result.outcome else None,
        replyText=result.reply_text,
        reversal=result.recovery,
        duplicate=result.duplicate,
    )


def gateway_application(context: ServiceContext) -> MtsApplication:
    return MtsApplication([GatewayService], tns=GATEWAY_NS, name=SERVICE_NAME, context=context)

"""GatewayService (urn:mts:gateway:v1): the SMS gateway submits each paid inbound message.

Thin: parse the wire message into ``InboundSms``, call ``services.sms.submit_sms``,
translate the receipt. Errors are translated once, in ``base.MtsApplication``.
"""

from __future__ import annotations

from typing import Any

from spyne import ServiceBase, rpc

from mts_service.domain.inbound import Channel, InboundSms
from mts_service.services import sms
from mts_service.services.context import ServiceContext
from mts_service.services.results import SmsReceipt as ReceiptResult
from mts_service.soap.base import MtsApplication, service_context
from mts_service.soap.convert import aware, text_in
from mts_service.soap.types import GATEWAY_NS, FaultDetail, InboundMessage, SmsReceipt, one

SERVICE_NAME = "GatewayService"


class GatewayService(ServiceBase):
    @rpc(one(InboundMessage), _returns=one(SmsReceipt),
         _out_variable_name="receipt", _throws=FaultDetail)
    def SubmitSms(ctx, message):  # noqa: N802,N805 - WSDL operation name
        """Record and credit one paid message; a retry under the same messageId gets the same receipt."""
        receipt = sms.submit_sms(service_context(ctx), inbound_sms(message))
        return receipt_out(receipt)


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
    return SmsReceipt(
        messageId=receipt.message_id,
        outcome=receipt.outcome.value,
        replyText=receipt.reply_text,
        duplicate=receipt.duplicate,
        language=receipt.language,
        refusalCode=receipt.refusal_code,
    )


def gateway_application(context: ServiceContext) -> MtsApplication:
    return MtsApplication([GatewayService], tns=GATEWAY_NS, name=SERVICE_NAME, context=context)

"""GatewayClient: submit one paid inbound message to the MTS and get the reply to send back.

::

    client = GatewayClient.connect("https://mts.example:8443", certs_dir="certs")
    receipt = client.submit_sms(InboundMessage(message_id="k-1", sender="+212612345678",
                                               service_number="7575", text="PAY", received_at=now))
    receipt.reply_text   # what goes back to the phone

A retry with the same ``message_id`` returns the identical receipt (``duplicate=True``), so
``ServiceUnavailable`` may always be retried with the same message.
"""

from __future__ import annotations

import os
from typing import Any

from mts_service.clock import ensure_utc

from .errors import ServiceUnavailable
from .models import BillingReceipt, BillingStatus, InboundMessage, ReceiptOutcome, SmsReceipt
from .soap_client import ClientConfig, SoapClient


class GatewayClient(SoapClient):
    """The gateway's side of ``urn:mts:gateway:v1`` (signs with the ``gateway`` certificate)."""

    service_name = "gateway"
    role = "gateway"

    def submit_sms(self, message: InboundMessage) -> SmsReceipt:
        """Submit one message; raises MtsFaultError (refused) or ServiceUnavailable (retry later)."""
        answer = self._call("SubmitSms", message=message_to_wire(message))
        return receipt_from_wire(answer)

    def report_billing(self, message_id: str, status: BillingStatus | str) -> BillingReceipt:
        """Report the operator's word on a message's charge (CONFIRMED or FAILED).

        Idempotent: safe to retry on ServiceUnavailable. If the receipt has a ``reply_text``,
        send it to the sender as an MT (the held credit ran and may have issued a code).
        """
        answer = self._call("ReportBilling", messageId=message_id, status=BillingStatus(status).value)
        return billing_receipt_from_wire(answer)


def message_to_wire(message: InboundMessage) -> dict[str, Any]:
    wire: dict[str, Any] = {
        "messageId": message.message_id,
        "channel": message.channel.value,
        "sender": message.sender,
        "serviceNumber": message.service_number,
        "text": message.text,
        "receivedAt": ensure_utc(message.received_at),
    }
    if message.operator:
        wire["operator"] = message.operator
    return wire


def receipt_from_wire(answer: Any) -> SmsReceipt:
    try:
        outcome = ReceiptOutcome(answer.outcome)
    except ValueError:
        raise ServiceUnavailable(f"unknown receipt outcome {answer.outcome!r}: update gateway_client") from None
    return SmsReceipt(
        message_id=answer.messageId,
        outcome=outcome,
        reply_text=answer.replyText or "",
        duplicate=bool(answer.duplicate),
        language=answer.language or None,
        refusal_code=answer.refusalCode or None,
    )


def billing_receipt_from_wire(answer: Any) -> BillingReceipt:
    try:
        outcome = ReceiptOutcome(answer.outcome) if answer.outcome else None
        status = BillingStatus(answer.status)
    except ValueError:
        raise ServiceUnavailable(f"unknown billing receipt {answer.status!r}/{answer.outcome!r}: update gateway_client") from None
    return BillingReceipt(
        message_id=answer.messageId,
        status=status,
        duplicate=bool(answer.duplicate),
        outcome=outcome,
        reply_text=answer.replyText or None,
        reversal=answer.reversal or None,
    )


def submit_sms(
    message: InboundMessage,
    *,
    url: str | None = None,
    config: ClientConfig | None = None,
    client: GatewayClient | None = None,
) -> SmsReceipt:
    """One-shot ``submit_sms``: builds a client from ``config`` (or the environment) unless given one.

    Long-running callers (the bridge) should keep one GatewayClient instead.
    """
    if client is None:
        config = config or ClientConfig.from_env(os.environ)
        if url:
            config = config.with_url(url)
        client = GatewayClient.from_config(config)
    return client.submit_sms(message)


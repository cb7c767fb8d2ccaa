"""The gateway side of MTS: submit each paid inbound message, get the reply to send back.

Library use::

    from gateway_client import GatewayClient, InboundMessage
    client = GatewayClient.connect("https://mts.example:8443", certs_dir="certs")
    receipt = client.submit_sms(InboundMessage(...))

The Kannel bridge (``gateway_client.bridge``), its spool, the sendsms sender, the
kannel.conf renderer and the e-mail channel are submodules; ``mts-gateway`` is the CLI.
"""

from gateway_client.client import GatewayClient, submit_sms
from gateway_client.errors import GatewayClientError, MtsFaultError, ServiceUnavailable
from gateway_client.models import BillingReceipt, BillingStatus, Channel, InboundMessage, ReceiptOutcome, SmsReceipt
from gateway_client.soap_client import ClientConfig, UntrustedResponse, find_wsdl, make_signature

__all__ = [
    "BillingReceipt",
    "BillingStatus",
    "Channel",
    "ClientConfig",
    "GatewayClient",
    "GatewayClientError",
    "InboundMessage",
    "MtsFaultError",
    "ReceiptOutcome",
    "ServiceUnavailable",
    "SmsReceipt",
    "UntrustedResponse",
    "find_wsdl",
    "make_signature",
    "submit_sms",
]

"""The shop and administrator sides of MTS.

::

    from shop_client import ShopClient, AdminClient, Money
    shop = ShopClient.connect("https://mts.example:8443", certs_dir="certs")
    admin = AdminClient.connect("https://mts.example:8443", certs_dir="certs")

``mts-shop`` and ``mts-admin`` are the CLIs (``shop_client.cli``).
"""

from gateway_client.soap_client import ClientConfig
from shop_client.admin import AdminClient, load_policy_file
from shop_client.client import ShopClient
from shop_client.errors import InvalidPolicyFile, MtsClientError, MtsFaultError, ServiceUnavailable, UntrustedResponse
from shop_client.models import (
    Authorization,
    BillingConfirmation,
    Customer,
    CustomerDetails,
    CustomerStatus,
    DeliveryDay,
    DeliveryMode,
    DeliveryOutcome,
    EntryKind,
    Grant,
    GrantKind,
    GrantStatus,
    LedgerEntry,
    LedgerPage,
    Money,
    Order,
    OrderStatus,
    Policy,
    Redemption,
    Report,
    ReportRow,
    Revocation,
)

__all__ = [
    "AdminClient",
    "Authorization",
    "BillingConfirmation",
    "ClientConfig",
    "Customer",
    "CustomerDetails",
    "CustomerStatus",
    "DeliveryDay",
    "DeliveryMode",
    "DeliveryOutcome",
    "EntryKind",
    "Grant",
    "GrantKind",
    "GrantStatus",
    "InvalidPolicyFile",
    "LedgerEntry",
    "LedgerPage",
    "Money",
    "MtsClientError",
    "MtsFaultError",
    "Order",
    "OrderStatus",
    "Policy",
    "Redemption",
    "Report",
    "ReportRow",
    "Revocation",
    "ServiceUnavailable",
    "ShopClient",
    "UntrustedResponse",
    "load_policy_file",
]

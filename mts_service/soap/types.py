"""Spyne models of the wire: what the WSDLs publish, one namespace per audience.

Each service's types live in its own target namespace (``urn:mts:gateway:v1``,
``urn:mts:shop:v1``, ``urn:mts:admin:v1``), so a type the shop and the administrator both
see (Money, Customer, Grant, Order, Authorization) is declared once per namespace by a
small factory. Only the fault detail is shared, in ``urn:mts:fault:v1``.

Rules of the wire:

- money is ``{amountMinor: long, currency: [A-Z]{3}}``, never a float or decimal;
- durations are whole seconds; an absent optional count or duration means "unlimited";
- every identifier with a fixed set of values is an XSD enumeration, so schema
  validation refuses a bad value before any of our code runs.

Field order is declared with ``_type_info`` lists: it is the XSD sequence order, which
clients depend on.
"""

from __future__ import annotations

from typing import Any, Iterable

from spyne import Boolean, ComplexModel, Date, DateTime, Integer, Long, Unicode
from spyne.model.fault import Fault

from mts_service.domain.billing import REPORTABLE, BillingStatus
from mts_service.domain.customers import LANGUAGES, CustomerStatus
from mts_service.domain.grants import GrantKind, GrantStatus
from mts_service.domain.inbound import Channel, ReceiptOutcome
from mts_service.domain.ledger import EntryKind, Recovery
from mts_service.domain.orders import DeliveryMode, DeliveryOutcome, OrderStatus
from mts_service.domain.policy import Flow, Mode
from mts_service.errors import ErrorCode
from mts_service.wssec.ns import FAULT as FAULT_NS  # the FaultDetail namespace

GATEWAY_NS = "urn:mts:gateway:v1"
SHOP_NS = "urn:mts:shop:v1"
ADMIN_NS = "urn:mts:admin:v1"

UNBOUNDED = "unbounded"


# -- building blocks -----------------------------------------------------------------


def required(model: Any, **facets: Any) -> Any:
    """A mandatory element: present exactly once and never nil."""
    return model(min_occurs=1, nillable=False, **facets)


def optional(model: Any, **facets: Any) -> Any:
    """An element that may be absent (absent means "none" or "unlimited", as documented)."""
    return model(min_occurs=0, nillable=False, **facets)


def one(model: Any) -> Any:
    """A complex element that is present exactly once (operation arguments and results)."""
    return model.customize(min_occurs=1, nillable=False)


def repeated(model: Any, *, minimum: int = 0) -> Any:
    return model.customize(min_occurs=minimum, max_occurs=UNBOUNDED, nillable=False)


class SimpleType:
    """A named XSD simple type (enumeration or pattern) in one namespace.

    Spyne turns ``NamedType.customize(min_occurs=1)`` into a new anonymous type, so each
    use builds the restriction again under the same name and namespace instead: the
    schema then declares the named type once and every element refers to it.
    """

    def __init__(self, name: str, namespace: str, **facets: Any) -> None:
        self.name = name
        self.namespace = namespace
        self.facets = facets

    def __call__(self, *, min_occurs: int = 1, max_occurs: Any = 1) -> Any:
        return Unicode(
            type_name=self.name, __namespace__=self.namespace, min_occurs=min_occurs, max_occurs=max_occurs,
            nillable=False, **self.facets,
        )


def enum_type(name: str, values: Iterable[str], namespace: str) -> SimpleType:
    """A named XSD enumeration (a restriction of xs:string) in ``namespace``."""
    return SimpleType(name, namespace, values=list(values))


def model(name: str, namespace: str, fields: list[tuple[str, Any]], doc: str = "") -> type[ComplexModel]:
    """A ComplexModel with an explicit field order (the XSD sequence)."""
    return type(name, (ComplexModel,), {"__namespace__": namespace, "__type_name__": name, "_type_info": fields, "__doc__": doc})


def _values(enum_cls: Any) -> list[str]:
    return [member.value for member in enum_cls]


# -- the fault detail (shared) ---------------------------------------------------------

FaultCode = enum_type("FaultCode", _values(ErrorCode), FAULT_NS)


class _PinnedNamespace(type(Fault)):
    """Spyne's Interface assigns every ``_throws`` class the service's target namespace.

    The fault detail is shared by the three services in ``urn:mts:fault:v1``, so that
    assignment is ignored here (it would also make the last-built application's namespace
    leak into the others, the class being shared).
    """

    def __setattr__(cls, name: str, value: Any) -> None:
        if name == "__namespace__" and getattr(cls, "__namespace__", None) == FAULT_NS:
            return
        super().__setattr__(name, value)


class FaultDetail(Fault, metaclass=_PinnedNamespace):
    """Declared in every operation's ``_throws`` so that clients see the detail's type.

    Only used for the WSDL: faults are rendered by ``soap.faults.fault_envelope`` into
    ``<detail><f:FaultDetail><f:code/><f:message/><f:requestId/></f:FaultDetail></detail>``.
    """

    __namespace__ = FAULT_NS
    __type_name__ = "FaultDetail"
    _type_info = [
        ("code", FaultCode()),
        ("message", required(Unicode)),
        ("requestId", required(Unicode)),
    ]


# -- types shared by shop and admin, one copy per namespace ---------------------------


class CommonTypes:
    """Money, Customer, Grant, Order and Authorization in one service namespace."""

    def __init__(self, namespace: str) -> None:
        ns = namespace
        self.namespace = ns
        self.Currency = SimpleType("Currency", ns, pattern="[A-Z]{3}")
        self.Money = model(
            "Money", ns,
            [("amountMinor", required(Long)), ("currency", self.Currency())],
            "An amount in integer minor units of an ISO 4217 currency (never a float).",
        )
        self.Language = enum_type("Language", LANGUAGES, ns)
        self.CustomerStatus = enum_type("CustomerStatus", _values(CustomerStatus), ns)
        self.GrantKind = enum_type("GrantKind", _values(GrantKind), ns)
        self.GrantStatus = enum_type("GrantStatus", _values(GrantStatus), ns)
        self.OrderStatus = enum_type("OrderStatus", _values(OrderStatus), ns)
        self.DeliveryMode = enum_type("DeliveryMode", _values(DeliveryMode), ns)
        self.DeliveryOutcome = enum_type("DeliveryOutcome", _values(DeliveryOutcome), ns)
        money = self.Money
        self.Customer = model("Customer", ns, [
            ("customerRef", required(Unicode)),
            ("username", optional(Unicode)),
            ("mobile", optional(Unicode)),
            ("language", self.Language(min_occurs=0)),
            ("status", self.CustomerStatus()),
            ("forfeitCount", required(Integer)),
            ("createdAt", required(DateTime)),
        ])
        self.Authorization = model("Authorization", ns, [
            ("customerRef", required(Unicode)),
            ("mayOrder", required(Boolean)),
            ("advancesLeft", required(Integer)),
            ("advanceValue", money.customize(min_occurs=0, nillable=False)),
            ("depositActive", required(Boolean)),
            # absent = unlimited (only meaningful while a deposit is active)
            ("depositOrdersLeft", optional(Integer)),
            ("depositExpiresAt", optional(DateTime)),
            ("blocked", required(Boolean)),
            ("reason", optional(Unicode)),
        ])
        self.Grant = model("Grant", ns, [
            ("grantId", required(Unicode)),
            ("kind", self.GrantKind()),
            ("status", self.GrantStatus()),
            ("value", money.customize(min_occurs=1, nillable=False)),
            ("policyVersion", required(Integer)),
            ("createdAt", required(DateTime)),
            ("premiumNumber", required(Unicode)),
            ("operator", optional(Unicode)),
            ("sender", optional(Unicode)),
            ("ordersAllowed", optional(Integer)),  # absent = unlimited
            ("ordersUsed", required(Integer)),
            ("expiresAt", optional(DateTime)),
            ("codeExpiresAt", optional(DateTime)),
            ("orderId", optional(Unicode)),
            ("revokedAt", optional(DateTime)),
            ("revokeReason", optional(Unicode)),
        ])
        self.Order = model("Order", ns, [
            ("orderId", required(Unicode)),
            ("status", self.OrderStatus()),
            ("total", money.customize(min_occurs=1, nillable=False)),
            ("advanceApplied", money.customize(min_occurs=1, nillable=False)),
            ("codDue", money.customize(min_occurs=1, nillable=False)),
            ("deliveryMode", self.DeliveryMode()),
            ("pickupPointId", optional(Unicode)),
            ("duplicate", required(Boolean)),
        ])


# -- gateway ------------------------------------------------------------------------

Channel_ = enum_type("Channel", _values(Channel), GATEWAY_NS)
ReceiptOutcome_ = enum_type("ReceiptOutcome", _values(ReceiptOutcome), GATEWAY_NS)

InboundMessage = model("InboundMessage", GATEWAY_NS, [
    ("messageId", required(Unicode, min_len=1, max_len=128)),
    ("channel", Channel_()),
    ("sender", required(Unicode, min_len=1, max_len=128)),
    ("serviceNumber", required(Unicode, min_len=1, max_len=32)),
    ("text", required(Unicode, min_len=0, max_len=1600)),
    ("receivedAt", required(DateTime)),
    ("operator", optional(Unicode, max_len=64)),
], "One paid inbound message, as the gateway received it.")

SmsReceipt = model("SmsReceipt", GATEWAY_NS, [
    ("messageId", required(Unicode)),
    ("outcome", ReceiptOutcome_()),
    ("replyText", required(Unicode)),
    ("duplicate", required(Boolean)),
    ("language", required(Unicode)),
    ("refusalCode", optional(Unicode)),
], "What MTS made of the message, and the text to send back to the sender.")

BillingReport_ = enum_type("BillingStatus", [s.value for s in BillingStatus if s in REPORTABLE], GATEWAY_NS)
Recovery_ = enum_type("Recovery", _values(Recovery), GATEWAY_NS)

BillingReceipt = model("BillingReceipt", GATEWAY_NS, [
    ("messageId", required(Unicode)),
    ("status", BillingReport_()),
    # Present when a credit held until billed ran on this confirmation: replyText must then
    # be sent to the sender as an MT (it may hold the code).
    ("outcome", ReceiptOutcome_(min_occurs=0)),
    ("replyText", optional(Unicode)),
    # Present on FAILED for a paid message: where the payment was taken back from.
    ("reversal", Recovery_(min_occurs=0)),
    ("duplicate", required(Boolean)),
], "The operator's word on one message, as MTS recorded it; the same report again gets the same receipt.")


# -- shop ---------------------------------------------------------------------------

SHOP = CommonTypes(SHOP_NS)

Redemption = model("Redemption", SHOP_NS, [
    ("grantId", required(Unicode)),
    ("kind", SHOP.GrantKind()),
    ("value", SHOP.Money.customize(min_occurs=1, nillable=False)),
    ("alreadyRedeemed", required(Boolean)),
    ("authorization", SHOP.Authorization.customize(min_occurs=1, nillable=False)),
])


# -- admin --------------------------------------------------------------------------

ADMIN = CommonTypes(ADMIN_NS)

EntryKind_ = enum_type("EntryKind", _values(EntryKind), ADMIN_NS)
PolicyMode = enum_type("PolicyMode", _values(Mode), ADMIN_NS)
FlowType = enum_type("Flow", _values(Flow), ADMIN_NS)

Revocation = model("Revocation", ADMIN_NS, [
    ("revokedGrants", repeated(ADMIN.Grant)),
    ("forfeited", ADMIN.Money.customize(min_occurs=0, nillable=False)),
    ("customerBlocked", required(Boolean)),
])

CustomerDetails = model("CustomerDetails", ADMIN_NS, [
    ("customer", ADMIN.Customer.customize(min_occurs=1, nillable=False)),
    ("grants", repeated(ADMIN.Grant)),
    ("orders", repeated(ADMIN.Order)),
    ("authorization", ADMIN.Authorization.customize(min_occurs=1, nillable=False)),
])

LedgerEntry = model("LedgerEntry", ADMIN_NS, [
    ("entryId", required(Long)),
    ("kind", EntryKind_()),
    ("amount", ADMIN.Money.customize(min_occurs=1, nillable=False)),
    ("at", required(DateTime)),
    ("customerId", optional(Long)),
    ("grantId", optional(Unicode)),
    ("orderId", optional(Unicode)),
    ("messageId", optional(Unicode)),
    ("premiumNumber", optional(Unicode)),
    ("operator", optional(Unicode)),
    ("net", ADMIN.Money.customize(min_occurs=0, nillable=False)),
    ("note", optional(Unicode)),
])

LedgerPage = model("LedgerPage", ADMIN_NS, [
    ("entries", repeated(LedgerEntry)),
    ("nextAfterId", optional(Long)),  # absent = last page
])

ReportRow = model("ReportRow", ADMIN_NS, [
    ("day", required(Date)),
    ("premiumNumber", required(Unicode)),
    ("operator", required(Unicode)),
    ("currency", ADMIN.Currency()),
    ("messages", required(Long)),
    ("grossMinor", required(Long)),
    ("netMinor", required(Long)),
    ("advancesAppliedMinor", required(Long)),
    ("advancesReturnedMinor", required(Long)),
    ("forfeitsMinor", required(Long)),
    ("expiriesMinor", required(Long)),
    ("reversalsMinor", required(Long)),
    # By the message's day, as the operator reports its charges (docs/reconciliation.md):
    # billed = messages - failed, the figures an operator's report is compared with.
    ("failedMessages", required(Long)),
    ("failedGrossMinor", required(Long)),
    ("failedNetMinor", required(Long)),
    ("confirmedMessages", required(Long)),
    ("pendingMessages", required(Long)),
    ("billedMessages", required(Long)),
    ("billedGrossMinor", required(Long)),
    ("billedNetMinor", required(Long)),
], "One day x premium number x operator; amounts in minor units of the row's currency.")

DeliveryDay = model("DeliveryDay", ADMIN_NS, [
    ("day", required(Date)),
    ("delivered", required(Long)),
    ("refused", required(Long)),
    ("notDelivered", required(Long)),
    ("cancelled", required(Long)),
], "Delivery outcomes reported on one day, all premium numbers together.")

Report = model("Report", ADMIN_NS, [
    ("firstDay", required(Date)),
    ("lastDay", required(Date)),
    ("rows", repeated(ReportRow)),
    ("deliveries", repeated(DeliveryDay)),
])

BillingConfirmation = model("BillingConfirmation", ADMIN_NS, [
    ("day", required(Date)),
    ("premiumNumber", required(Unicode)),
    ("operator", optional(Unicode)),
    ("confirmed", required(Long)),
    ("heldLeft", required(Long)),  # held messages: confirmed only by the gateway's ReportBilling
])

PremiumNumberDoc = model("PremiumNumber", ADMIN_NS, [
    ("number", required(Unicode, min_len=1, max_len=32)),
    ("priceMinor", required(Long)),
    ("netMinor", required(Long)),
    ("keywords", repeated(Unicode(min_len=1, max_len=32), minimum=1)),
    ("operators", repeated(Unicode(min_len=1, max_len=64))),
    ("holdUntilBilled", optional(Boolean)),
], "A premium-rate number: retail price per SMS and the merchant's net share, in the policy's currency.")

CodeSettingsDoc = model("CodeSettings", ADMIN_NS, [
    ("length", required(Integer)),
    ("alphabet", required(Unicode, min_len=1, max_len=64)),
    ("ttlSeconds", required(Long)),
    ("maxFailedAttempts", required(Integer)),
    ("attemptWindowSeconds", required(Long)),
])

Template = model("Template", ADMIN_NS, [
    ("language", required(Unicode, min_len=2, max_len=8)),
    ("key", required(Unicode, min_len=1, max_len=64)),
    ("text", required(Unicode, max_len=1600)),
], "A reply template overriding the built-in one for (language, key).")

PolicyDocument = model("PolicyDocument", ADMIN_NS, [
    ("version", optional(Integer)),  # set by MTS; ignored on SetPolicy (use expectedVersion)
    ("mode", PolicyMode()),
    ("currency", ADMIN.Currency()),
    ("premiumNumbers", repeated(PremiumNumberDoc, minimum=1)),
    ("advanceSms", required(Integer)),
    ("depositSms", required(Integer)),
    ("depositOrders", optional(Integer)),  # absent = unlimited
    ("depositValiditySeconds", optional(Long)),  # absent = unlimited
    ("advanceValiditySeconds", optional(Long)),  # absent = unlimited
    ("flows", FlowType(min_occurs=1, max_occurs=UNBOUNDED)),
    ("codes", CodeSettingsDoc.customize(min_occurs=1, nillable=False)),
    ("defaultLanguage", ADMIN.Language()),
    ("templates", repeated(Template)),
    ("maxReplySegments", required(Integer)),
    ("autoRevokeOnRefusal", required(Boolean)),
    ("blockAfterForfeits", optional(Integer)),  # absent = off
    ("dailyCapPerSender", optional(Integer)),  # absent = off
], "The merchant's policy, versioned by MTS.")

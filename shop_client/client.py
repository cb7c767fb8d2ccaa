"""ShopClient: the shop's (or e-government site's) side of ``urn:mts:shop:v1``.

::

    shop = ShopClient.connect("https://mts.example:8443", certs_dir="certs")
    shop.register_customer("cust-42", mobile="+212612345678", language="fr")
    shop.redeem_code("cust-42", "7K3M9QX2")          # flow 1: the code from the SMS reply
    if shop.get_authorization("cust-42").may_order:
        order = shop.place_order("o-1", "cust-42", Money(25000, "MAD"))
        order.cod_due                                   # total minus the advance
    shop.report_delivery("o-1", DeliveryOutcome.REFUSED)

Refusals raise ``MtsFaultError`` (``.code`` is the MTS ErrorCode value); an unreachable
service raises ``ServiceUnavailable``. Every call is idempotent on the MTS side
(customer reference, order id), so retrying after ``ServiceUnavailable`` is safe.
"""

from __future__ import annotations

from typing import Any

from gateway_client.soap_client import SoapClient

from . import wire
from .models import Authorization, Customer, DeliveryMode, DeliveryOutcome, Money, Order, Redemption


class ShopClient(SoapClient):
    """Signs with the ``shop`` certificate."""

    service_name = "shop"
    role = "shop"

    def register_customer(
        self,
        customer_ref: str,
        *,
        username: str | None = None,
        mobile: str | None = None,
        language: str | None = None,
    ) -> Customer:
        """Create the customer, or update the same reference (identical data: no change)."""
        # zeep leaves an optional element out when its value is None.
        return wire.customer(self._call(
            "RegisterCustomer", customerRef=customer_ref, username=username, mobile=mobile, language=language
        ))

    def redeem_code(self, customer_ref: str, code: str) -> Redemption:
        """Bind the grant behind the one-time ``code`` to the customer."""
        return wire.redemption(self._call("RedeemCode", customerRef=customer_ref, code=code))

    def get_authorization(self, customer_ref: str) -> Authorization:
        return wire.authorization(self._call("GetAuthorization", customerRef=customer_ref))

    def place_order(
        self,
        order_id: str,
        customer_ref: str,
        total: Money,
        *,
        delivery_mode: DeliveryMode | str = DeliveryMode.HOME,
        pickup_point_id: str | None = None,
    ) -> Order:
        """Record a COD order; idempotent per ``order_id`` (a repeat answers ``duplicate=True``)."""
        args: dict[str, Any] = {
            "orderId": order_id,
            "customerRef": customer_ref,
            "total": wire.money_out(total),
            "deliveryMode": DeliveryMode(delivery_mode).value,
        }
        if pickup_point_id is not None:
            args["pickupPointId"] = pickup_point_id
        return wire.order(self._call("PlaceOrder", **args))

    def report_delivery(self, order_id: str, outcome: DeliveryOutcome | str) -> Order:
        """Close the order: CANCELLED and NOT_DELIVERED give the advance back; REFUSED keeps it
        at stake until an administrator decides (or the policy auto-revokes)."""
        return wire.order(self._call("ReportDelivery", orderId=order_id, outcome=DeliveryOutcome(outcome).value))

"""ShopService (urn:mts:shop:v1): the shop registers customers, redeems codes, places orders.

Each method parses its arguments into a domain command, calls one use case and
translates the result; ``base.MtsApplication`` turns refusals into faults.
"""

from __future__ import annotations

from spyne import ServiceBase, Unicode, rpc

from mts_service.domain.customers import Registration
from mts_service.domain.orders import DeliveryMode, DeliveryOutcome, OrderRequest
from mts_service.services import customers, orders
from mts_service.services.context import ServiceContext
from mts_service.soap.base import MtsApplication, service_context
from mts_service.soap.convert import Translator, money_in, text_in
from mts_service.soap.fast_new import new
from mts_service.soap.types import SHOP, SHOP_NS, FaultDetail, Redemption, one, optional, required

SERVICE_NAME = "ShopService"
wire = Translator(SHOP)

# Lengths are capped by the schema; the exact character rules are the domain's
# (a reference with a blank is INVALID_INPUT, not a schema error).
CustomerRef = required(Unicode, min_len=1, max_len=64)
OrderId = required(Unicode, min_len=1, max_len=64)


class ShopService(ServiceBase):
    @rpc(CustomerRef, optional(Unicode, max_len=64), optional(Unicode, max_len=32),
         SHOP.Language(min_occurs=0),
         _returns=one(SHOP.Customer), _out_variable_name="customer", _throws=FaultDetail)
    def RegisterCustomer(ctx, customerRef, username, mobile, language):  # noqa: N802,N803,N805
        """Create the customer, or update the same reference (idempotent for identical data)."""
        registration = Registration(customerRef, text_in(username), text_in(mobile), language)
        return wire.customer(customers.register_customer(service_context(ctx), registration))

    @rpc(CustomerRef, required(Unicode, min_len=1, max_len=64),
         _returns=one(Redemption), _out_variable_name="redemption", _throws=FaultDetail)
    def RedeemCode(ctx, customerRef, code):  # noqa: N802,N803,N805
        """Bind the grant behind a one-time code to the customer (idempotent for the same customer)."""
        result = customers.redeem_code(service_context(ctx), customerRef, code)
        return new(
            Redemption,
            grantId=result.grant.grant_id,
            kind=result.grant.kind.value,
            value=wire.money(result.grant.value),
            alreadyRedeemed=result.already_redeemed,
            authorization=wire.authorization(result.authorization),
        )

    @rpc(CustomerRef, _returns=one(SHOP.Authorization), _out_variable_name="authorization", _throws=FaultDetail)
    def GetAuthorization(ctx, customerRef):  # noqa: N802,N803,N805
        """May this customer order now, and with what advance or deposit."""
        return wire.authorization(customers.get_authorization(service_context(ctx), customerRef))

    @rpc(OrderId, CustomerRef, one(SHOP.Money),
         SHOP.DeliveryMode(), optional(Unicode, max_len=64),
         _returns=one(SHOP.Order), _out_variable_name="order", _throws=FaultDetail)
    def PlaceOrder(ctx, orderId, customerRef, total, deliveryMode, pickupPointId):  # noqa: N802,N803,N805
        """Record a COD order (idempotent per orderId), consuming an advance and/or a deposit slot."""
        request = OrderRequest(orderId, customerRef, money_in(total), DeliveryMode(deliveryMode), text_in(pickupPointId))
        result = orders.place_order(service_context(ctx), request)
        return wire.order(result.order, duplicate=result.duplicate)

    @rpc(OrderId, SHOP.DeliveryOutcome(),
         _returns=one(SHOP.Order), _out_variable_name="order", _throws=FaultDetail)
    def ReportDelivery(ctx, orderId, outcome):  # noqa: N802,N803,N805
        """Close an order; CANCELLED and NOT_DELIVERED give the advance back."""
        return wire.order(orders.report_delivery(service_context(ctx), orderId, DeliveryOutcome(outcome)))


def shop_application(context: ServiceContext) -> MtsApplication:
    return MtsApplication([ShopService], tns=SHOP_NS, name=SERVICE_NAME, context=context)


__all__ = ["ShopService", "shop_application"]

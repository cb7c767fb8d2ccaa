"""soap.fast_in.ReadPlan beside Spyne's own deserialiser on the cases MTS's requests do not
exercise (the SOAP tests compare every real request; see conftest): optional, repeated,
nil, renamed, unknown and invalid members, under each validator."""

from __future__ import annotations

import pytest
from lxml import etree
from spyne import Application, ComplexModel, Integer, ServiceBase, Unicode, rpc
from spyne.model.primitive import Boolean, DateTime

from mts_service.soap.base import MtsSoap11
from mts_service.soap.fast_in import NotPlanned, ReadPlan
from read_compare import outcome, same_reading, same_refusal
from soap_helpers import code_in, customer_with_advance, message, money, policy_doc, unique

TNS = "urn:mts:test:fast-in"
XSI = "http://www.w3.org/2001/XMLSchema-instance"

# The autouse comparison (conftest) wraps complex_from_element; these tests compare the
# two ways themselves, on protocols built with the method as MTS has it.
UNWRAPPED = MtsSoap11.complex_from_element


class Inner(ComplexModel):
    __namespace__ = TNS
    label = Unicode(min_occurs=1, nillable=True, max_len=5)
    count = Integer


class Outer(ComplexModel):
    __namespace__ = TNS
    name = Unicode(min_occurs=1, min_len=1, pattern="[a-z]+")
    flag = Boolean
    at = DateTime
    items = Inner.customize(max_occurs=3)
    inner = Inner
    renamed = Unicode(sub_name="otherName")
    kind = Unicode(values=["A", "B"])


class _Service(ServiceBase):
    @rpc(Outer, _returns=Unicode)
    def Put(ctx, outer):  # noqa: N802,N805
        return None


@pytest.fixture
def unwrapped(monkeypatch):
    monkeypatch.setattr(MtsSoap11, "complex_from_element", UNWRAPPED)


unit = pytest.mark.usefixtures("unwrapped")


def protocol(validator):
    """A protocol of its own (with the unwrapped method: see the ``unwrapped`` fixture)."""
    return Application([_Service], tns=TNS, in_protocol=MtsSoap11(validator=validator), out_protocol=MtsSoap11()).in_protocol


def outer(body: str) -> etree._Element:
    return etree.fromstring(f'<o:Outer xmlns:o="{TNS}" xmlns:xsi="{XSI}">{body}</o:Outer>')


def both_ways(validator, body: str):
    prot = protocol(validator)
    readings = []
    for fast in (True, False):
        prot.fast_in = fast
        readings.append(outcome(lambda: prot.from_element(None, Outer, outer(body))))
    return readings


def assert_same(validator, body: str):
    (fast, fast_error), (spyne, spyne_error) = both_ways(validator, body)
    if fast_error is None and spyne_error is None:
        assert same_reading(fast, spyne), (fast, spyne)
        return fast
    assert fast_error is not None and spyne_error is not None and same_refusal(fast_error, spyne_error), \
        (fast_error, spyne_error)
    return fast_error


VALIDATORS = [None, "soft", "lxml"]
FULL = ("<o:name>abc</o:name><o:flag>true</o:flag><o:at>2026-01-15T09:00:00+01:00</o:at>"
        "<o:items><o:label>x</o:label><o:count>3</o:count></o:items><o:items><o:label>y</o:label></o:items>"
        "<o:inner><o:label></o:label></o:inner><o:kind>B</o:kind>")


@unit
@pytest.mark.parametrize("validator", VALIDATORS)
def test_optional_and_repeated_members_read_as_spyne_reads_them(validator):
    read = assert_same(validator, FULL)
    assert read.name == "abc" and read.flag is True and read.at.utcoffset().total_seconds() == 3600
    assert [(i.label, i.count) for i in read.items] == [("x", 3), ("y", None)]
    assert read.inner.label == "" and read.renamed is None and read.kind == "B"


@unit
def test_the_plan_reads_an_ordinary_element_itself():
    prot = protocol("soft")
    plan = ReadPlan.build(prot, Outer)
    assert plan is not None and ReadPlan.build(prot, Inner) is not None
    assert plan.read(prot, None, outer(FULL)).name == "abc"


@pytest.mark.parametrize("validator", VALIDATORS)
@pytest.mark.parametrize("body", [
    "<o:name>abc</o:name><o:items><o:label xsi:nil='true'/></o:items>",         # nil
    "<o:name>abc</o:name><o:otherName>r</o:otherName>",                          # renamed (an alias)
    "<o:name>abc</o:name><o:unknown>u</o:unknown>",                              # ignored by Spyne
    "<o:name>abc</o:name><!-- a comment --><o:flag>0</o:flag>",
    "<o:name>abc</o:name><o:inner xsi:type='o:Inner'><o:label>q</o:label></o:inner>",
    "<name>abc</name><o:kind>A</o:kind>",                                        # another namespace
])
@unit
def test_what_the_plan_leaves_to_spyne_reads_the_same(validator, body):
    assert_same(validator, body)


@pytest.mark.parametrize("validator", VALIDATORS)
@pytest.mark.parametrize("body", [
    "",                                                                          # name missing
    "<o:name>abc</o:name><o:name>def</o:name>",                                  # name twice
    "<o:name></o:name>",                                                         # too short
    "<o:name>ABC</o:name>",                                                      # pattern
    "<o:name>abc</o:name><o:kind>C</o:kind>",                                    # not an enumerated value
    "<o:name>abc</o:name><o:flag>maybe</o:flag>",
    "<o:name>abc</o:name><o:at>yesterday</o:at>",
    "<o:name>abc</o:name><o:items><o:label>toolong</o:label></o:items>",
    "<o:name>abc</o:name><o:items><o:count>x</o:count><o:label>a</o:label></o:items>",
    "<o:name>abc</o:name>" + "<o:items><o:label>a</o:label></o:items>" * 4,     # max_occurs
    "<o:name>abc</o:name><?pi data?>",
])
@unit
def test_invalid_members_are_refused_as_spyne_refuses_them(validator, body):
    assert_same(validator, body)


@unit
def test_soft_validation_refuses_what_spyne_refuses():
    assert isinstance(assert_same("soft", "<o:name>ABC</o:name>"), Exception)
    assert isinstance(assert_same("soft", "<o:name>abc</o:name>" + "<o:items><o:label>a</o:label></o:items>" * 4),
                      Exception)


@unit
def test_a_class_with_an_own_init_is_left_to_spyne():
    class Custom(ComplexModel):
        __namespace__ = TNS
        a = Unicode

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)

    assert ReadPlan.build(protocol("soft"), Custom) is None


@unit
def test_an_element_with_attributes_is_not_planned():
    prot = protocol(None)
    plan = ReadPlan.build(prot, Outer)
    with pytest.raises(NotPlanned):
        plan.read(prot, None, etree.fromstring(f'<o:Outer xmlns:o="{TNS}" a="1"><o:name>x</o:name></o:Outer>'))


def test_requests_are_compared_with_spynes_own_deserialiser(admin, gateway, shop, requests_read_as_spyne_reads_them):
    """The autouse comparison (conftest) really runs on the real operations: ReadPlan read
    these requests and Spyne's deserialiser read the same values."""
    admin.SetPolicy(policy=policy_doc())
    receipt = gateway.SubmitSms(message=message("shop"))
    reference = customer_with_advance(gateway, shop)
    shop.RedeemCode(customerRef=reference, code=code_in(receipt.replyText))
    shop.PlaceOrder(orderId=unique("ord"), customerRef=reference, total=money(300), deliveryMode="HOME")
    compared = set(requests_read_as_spyne_reads_them)
    assert {"SetPolicy", "SubmitSms", "RegisterCustomer", "RedeemCode", "PlaceOrder"} <= compared, compared

"""fast_new.new builds the same answer objects as Spyne's ComplexModelBase.__init__."""

from __future__ import annotations

import pytest
from spyne import ComplexModel, Integer, Unicode

from mts_service.soap import fast_new, types
from mts_service.soap.fast_new import new

WIRE_TYPES = [
    types.SmsReceipt, types.BillingReceipt, types.Redemption,
    *(getattr(common, name) for common in (types.SHOP, types.ADMIN)
      for name in ("Money", "Customer", "Authorization", "Grant", "Order")),
]


def _values(cls: type) -> dict:
    members = list(cls.get_flat_type_info(cls))
    return {name: f"v{i}" for i, name in enumerate(members[::2])}   # every other member given


@pytest.mark.parametrize("cls", WIRE_TYPES, ids=lambda c: c.get_type_name())
def test_a_wire_type_is_built_as_spyne_builds_it(cls):
    values = _values(cls)
    built, spyne_built = new(cls, **values, notAMember="ignored"), cls(**values, notAMember="ignored")
    assert type(built) is cls
    assert built.__dict__ == spyne_built.__dict__
    assert list(built.__dict__) == list(spyne_built.__dict__)   # same order: Spyne's member order
    assert fast_new._templates[cls] is not None   # planned, not Spyne's own __init__


def test_a_class_with_a_default_is_left_to_spyne():
    class WithDefault(ComplexModel):
        __namespace__ = "urn:test"
        plain = Unicode
        counted = Integer(default=3)

    built = new(WithDefault, plain="x")
    assert fast_new._templates[WithDefault] is None
    assert (built.plain, built.counted) == ("x", 3)

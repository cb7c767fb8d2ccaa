"""Comparing two readings of one request: soap.fast_in.ReadPlan's and Spyne's own."""

from __future__ import annotations

from typing import Any

from lxml import etree
from spyne.model.complex import ComplexModelBase


def same_reading(a: Any, b: Any) -> bool:
    """Two deserialised values are the same: same types, same members in the same order,
    same values (datetimes with the same offset), recursively."""
    if type(a) is not type(b):
        return False
    if isinstance(a, ComplexModelBase):
        return list(vars(a)) == list(vars(b)) and all(same_reading(vars(a)[k], vars(b)[k]) for k in vars(a))
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same_reading(x, y) for x, y in zip(a, b))
    if isinstance(a, etree._Element):
        return etree.tostring(a) == etree.tostring(b)
    return a == b and repr(a) == repr(b)


def outcome(read: Any) -> tuple[Any, BaseException | None]:
    """What reading gave: its value, or the exception it raised."""
    try:
        return read(), None
    except Exception as exc:  # noqa: BLE001 - compared, then raised again by the caller
        return None, exc


def same_refusal(a: BaseException, b: BaseException) -> bool:
    """The same exception: type, arguments and, for a Fault, code and string."""
    return type(a) is type(b) and a.args == b.args and getattr(a, "faultcode", None) == getattr(b, "faultcode", None) \
        and getattr(a, "faultstring", None) == getattr(b, "faultstring", None)

"""A faster path through Spyne's own deserialiser for the MTS request types.

Spyne reads a request's ComplexModel through its generic ``complex_from_element``: per
request it builds the instance through ``__init__`` (``_init_member`` per member), and per
child element it looks the member up, asks ``get_cls_attrs`` (a debug log line and a weak
dictionary each time), goes through ``from_element`` (nil and ``xsi:type`` checks) and
``from_unicode`` (the same look-ups again) before the one call that converts the text.

``ReadPlan`` does once per class what does not depend on the request: which local name is
which member, each member's attributes as the protocol sees them, and which of Spyne's
handlers converts it. Reading a request is then a loop over the element's children that
calls the same handler Spyne would (``_from_unicode_handlers`` for simple values, the
``deserialization_handlers`` entry for anything else) and, under soft validation, the same
``validate_string`` / ``validate_native`` / frequency checks, in the same order: a bad
value raises the same fault.

Anything the plan does not cover is Spyne's: a class with attributes, XmlData, defaults,
read-only members, ``__extends__``, its own ``__init__`` or ``__setattr__``, and, per
request, an element or child with any XML attribute (``xsi:nil``, ``xsi:type``, attribute
members), a child that is not an element or comment, or a child whose local name is not a
member (Spyne ignores it or resolves an alias). Then ``NotPlanned`` is raised and the
caller lets Spyne read the whole element again. The SOAP tests read every request both
ways and compare (``tests/soap/conftest.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lxml import etree
from spyne.error import Fault, ValidationError
from spyne.model.complex import Array, ComplexModelBase, XmlAttribute, XmlData
from spyne.protocol._inbase import InProtocolBase
from spyne.protocol.xml import XmlDocument

UNICODE, BASE, HANDLER = range(3)


class NotPlanned(Exception):
    """This element needs Spyne's own ``complex_from_element``: the caller reads it again."""


@dataclass(frozen=True)
class Slot:
    """One member: how its child element becomes a value (planned once per class)."""

    key: str
    cls: Any
    how: int
    convert: Any          # _from_unicode_handlers[cls] (UNICODE, BASE) or the element handler
    empty_is_none: bool
    repeated: bool


class ReadPlan:
    """How to read the members of one ComplexModel class, or None if Spyne must."""

    def __init__(self, factory: type, template: dict, slots: dict[str, Slot], frequencies: tuple) -> None:
        self.factory = factory
        self.template = template
        self.slots = slots
        self.frequencies = frequencies

    @classmethod
    def build(cls, protocol: Any, model: type) -> ReadPlan | None:
        if not _reads_as_spyne(protocol):
            return None
        if getattr(model, "__extends__", None) is not None or issubclass(model, Array):
            return None
        if protocol.get_cls_attrs(model)._xml_tag_body_as is not None:
            return None
        factory = model.__orig__ if model.__orig__ is not None else model
        if not plain_instances(model, factory):
            return None
        slots: dict[str, Slot] = {}
        frequencies = []
        for key, member in model.get_flat_type_info(model).items():
            if not plain_member(factory, key, member):
                return None
            attrs = protocol.get_cls_attrs(member)
            if attrs.read_only:
                return None
            frequencies.append((key, attrs.min_occurs, attrs.max_occurs))
            slots[key] = _slot(protocol, key, member, attrs)
        # __init__ sets every member to None, in this order (_init_member, no defaults).
        template = dict.fromkeys(model.get_flat_type_info(model))
        return cls(factory, template, slots, tuple(frequencies))

    def read(self, protocol: Any, ctx: Any, elt: etree._Element) -> Any:
        """Spyne's ``complex_from_element`` for a planned class and an ordinary element."""
        if elt.keys():
            raise NotPlanned("attributes")
        soft = protocol.validator is protocol.SOFT_VALIDATION
        seen: dict[str, int] | None = {} if soft else None
        values = dict(self.template)
        slots = self.slots
        for child in elt:
            tag = child.tag
            if tag.__class__ is not str:
                if isinstance(child, etree._Comment):
                    continue
                raise NotPlanned("not an element")  # a PI or an entity: Spyne's behaviour, not ours
            key = tag.split("}", 1)[-1]
            slot = slots.get(key)
            if slot is None or child.keys():
                raise NotPlanned(key)
            if seen is not None:
                seen[key] = seen.get(key, 0) + 1
            value = _read_one(protocol, ctx, slot, child, soft)
            if slot.repeated:
                items = values[key]
                if items is None:
                    items = values[key] = []
                items.append(value)
            else:
                values[key] = value
        if seen is not None:
            for key, low, high in self.frequencies:
                count = seen.get(key, 0)
                if count < low or count > high:
                    raise Fault("Client.ValidationError", "%r member does not respect frequency constraints." % key)
        inst = object.__new__(self.factory)
        inst.__dict__.update(values)
        return inst


def _read_one(protocol: Any, ctx: Any, slot: Slot, child: etree._Element, soft: bool) -> Any:
    how = slot.how
    if how is HANDLER:
        # What from_element does for an element without attributes (no nil, no xsi:type).
        return slot.convert(ctx, slot.cls, child)
    text = child.text
    if soft and not slot.cls.validate_string(slot.cls, text):
        raise ValidationError(text)
    if how is UNICODE and text is None:   # unicode_from_element reads a missing text as ''
        text = ""
    # from_unicode, with its class attributes looked up once
    if text is None or (not text and slot.empty_is_none):
        value = None
    else:
        value = slot.convert(slot.cls, text)
    if soft and not slot.cls.validate_native(slot.cls, value):
        raise ValidationError(value)
    return value


def _slot(protocol: Any, key: str, member: Any, attrs: Any) -> Slot:
    handler = protocol.deserialization_handlers[member]
    func = getattr(handler, "__func__", None)
    if func is XmlDocument.unicode_from_element:
        how, convert = UNICODE, protocol._from_unicode_handlers[member]
    elif func is XmlDocument.base_from_element:
        how, convert = BASE, protocol._from_unicode_handlers[member]
    else:
        how, convert = HANDLER, handler
    return Slot(key=key, cls=member, how=how, convert=convert, empty_is_none=bool(attrs.empty_is_none),
                repeated=attrs.max_occurs > 1)


def _reads_as_spyne(protocol: Any) -> bool:
    """The plan inlines from_element and from_unicode: only where they are Spyne's own."""
    kind = type(protocol)
    return kind.from_element is XmlDocument.from_element and kind.from_unicode is InProtocolBase.from_unicode


def plain_instances(model: type, factory: type) -> bool:
    """``get_deserialization_instance`` is then ``__new__`` plus a dict of Nones."""
    return (
        factory.__orig__ is None
        and factory.__init__ is ComplexModelBase.__init__
        and factory.__new__ is object.__new__
        and type(factory).__call__ is type.__call__
        and model.get_deserialization_instance.__func__ is ComplexModelBase.get_deserialization_instance.__func__
        and factory.__setattr__ is object.__setattr__
        and not hasattr(factory, "_sa_class_manager")
    )


def plain_member(factory: type, key: str, member: Any) -> bool:
    """_init_member would set None and _safe_set a plain attribute: no default, no
    descriptor on the class, nothing SQLAlchemy initialises, no attribute or XmlData."""
    if issubclass(member, (XmlAttribute, XmlData, Array)) or hasattr(member, "_sa_class_manager"):
        return False
    attributes = member.Attributes
    if attributes.default is not None or getattr(attributes, "default_factory", None) is not None:
        return False
    # A member declared in the class body stays there as its Spyne type (a class, not a
    # descriptor): the instance's own attribute hides it, as setattr would.
    on_class = getattr(factory, key, None)
    if on_class is None:
        return True
    meta = type(on_class)
    return isinstance(on_class, type) and not any(hasattr(meta, name) for name in ("__get__", "__set__", "__delete__"))

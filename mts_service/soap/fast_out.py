"""A faster path through Spyne's own serialiser for the MTS response types.

Spyne writes a ComplexModel member by member through its generic ``to_parent``: for every
member it looks the class attributes up again, asks for a polymorphic target (logging a
debug line), dispatches on the type and drives a coroutine per complex value. That was
8 to 13 % of a signed request's CPU (py-spy, ``mts-service bench``), more than verifying
the request's signature.

``MemberPlan`` does once per class what Spyne does per member and per response: the tag
(namespace and name, Spyne's rules), whether the member is skipped, optional, repeated,
and which of Spyne's handlers serialises it. Writing a response is then a loop over the
plan that calls Spyne's own ``to_unicode`` for every simple value and Spyne's own
``to_parent`` for anything it does not plan (attributes, XmlData, ByteArray, Any*,
defaults, ``__extends__``, arrays as types): the bytes are Spyne's. The SOAP tests check
that on every response they produce (``tests/soap/conftest.py`` serialises each one both
ways and compares).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lxml import etree
from spyne.model.complex import Array, ComplexModelBase, XmlAttribute, XmlData
from spyne.model import PushBase

NIL = {"{http://www.w3.org/2001/XMLSchema-instance}nil": "true"}

SIMPLE, ENUM, COMPLEX, SPYNE = range(4)


@dataclass(frozen=True)
class Member:
    attr: str
    cls: Any
    tag: str
    ns: str | None
    name: str
    how: int
    repeated: bool
    required: bool


def tag(ns: str | None, name: str) -> str:
    """Spyne's element name: Clark notation in ``ns``, or bare without one."""
    return f"{{{ns}}}{name}" if ns is not None else name


class NeedsSpyne(Exception):
    """A value only Spyne's own serialiser can write: the caller starts the element again."""


class MemberPlan:
    """How to write the members of one ComplexModel class, or None if Spyne must."""

    def __init__(self, members: tuple[Member, ...]) -> None:
        self.members = members

    @classmethod
    def build(cls, protocol: Any, model: type) -> MemberPlan | None:
        if getattr(model, "__extends__", None) is not None or issubclass(model, Array):
            return None
        members = []
        for attr, member in model._type_info.items():
            if protocol.get_cls_attrs(member).exc:
                continue
            if issubclass(member, (XmlAttribute, XmlData)):
                return None
            attributes = member.Attributes
            ns = attributes.sub_ns if attributes.sub_ns is not None else model.get_namespace()
            name = attributes.sub_name if attributes.sub_name is not None else attr
            members.append(Member(
                attr=attr, cls=member, tag=tag(ns, name), ns=ns, name=name,
                how=_how(protocol, member), repeated=attributes.max_occurs > 1, required=attributes.min_occurs > 0,
            ))
        return cls(tuple(members))

    def write(self, protocol: Any, ctx: Any, inst: Any, element: etree._Element) -> None:
        """Spyne's ``_get_members_etree`` for a planned class, member for member."""
        for m in self.members:
            try:
                value = getattr(inst, m.attr, None)
            except Exception:  # as Spyne: a member that cannot be read is written as absent
                value = None
            if value is not None and m.repeated:
                if isinstance(value, PushBase):   # Spyne's push protocol (a coroutine): Spyne's
                    raise NeedsSpyne(m.attr)
                for item in value:
                    _write_one(protocol, ctx, m, item, element)
            elif value is not None or m.required:
                _write_one(protocol, ctx, m, value, element)


def _how(protocol: Any, member: type) -> int:
    attrs = protocol.get_cls_attrs(member)
    if attrs.prot is not None or attrs.default is not None:
        return SPYNE
    handler = protocol.serialization_handlers[member]
    if handler == protocol.modelbase_to_parent:
        return SIMPLE
    if handler == protocol.enum_to_parent:
        return ENUM
    if issubclass(member, ComplexModelBase) and handler == protocol.complex_to_parent:
        return COMPLEX
    return SPYNE


def _write_one(protocol: Any, ctx: Any, m: Member, value: Any, parent: etree._Element) -> None:
    if m.how is SPYNE or m.how is COMPLEX:
        # Complex values come back through complex_to_parent, hence to the plan again.
        protocol.to_parent(ctx, m.cls, value, parent, m.ns, m.name)
    else:
        # As Spyne's modelbase_to_parent / null_to_parent do: a free element, then appended
        # (lxml then settles its namespace declaration the same way).
        element = etree.Element(m.tag)
        if value is None:
            element.attrib.update(NIL)
        else:
            element.text = protocol.to_unicode(m.cls, str(value) if m.how is ENUM else value)
        parent.append(element)

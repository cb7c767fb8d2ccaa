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
from spyne.const.xml import DEFAULT_NS
from spyne.model.complex import Array, ComplexModelBase, XmlAttribute, XmlData
from spyne.model import PushBase
from spyne.protocol._outbase import OutProtocolBase

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
    convert: Any = None
    """SIMPLE and ENUM: the protocol's to_unicode handler of ``cls`` (``to_unicode`` of a
    value that is not None is exactly that call), or None to call ``to_unicode`` itself."""
    complex_tag: str | None = None
    """COMPLEX: the tag ``complex_to_parent`` gives the member's element (its class's
    sub_name / sub_ns, else the member's name in ``ns``)."""


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
            how = _how(protocol, member)
            members.append(Member(
                attr=attr, cls=member, tag=tag(ns, name), ns=ns, name=name,
                how=how, repeated=attributes.max_occurs > 1, required=attributes.min_occurs > 0,
                convert=_converter(protocol, member) if how in (SIMPLE, ENUM) else None,
                complex_tag=complex_tag(protocol, member, ns, name) if how is COMPLEX else None,
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


def _converter(protocol: Any, member: type) -> Any:
    """The handler ``OutProtocolBase.to_unicode`` would call for ``member``, when it is
    Spyne's own ``to_unicode`` (else None: the protocol's is called)."""
    if type(protocol).to_unicode is not OutProtocolBase.to_unicode:
        return None
    return protocol._to_unicode_handlers[member]


def complex_tag(protocol: Any, cls: type, ns: str | None, name: str | None) -> str:
    """The tag Spyne's ``complex_to_parent`` gives the element of ``cls`` written as ``name``
    in ``ns``: the class's sub_name and sub_ns win, and its type name stands in for no name."""
    attrs = protocol.get_cls_attrs(cls)
    if attrs.sub_name is not None:
        name = attrs.sub_name
    if name is None:
        name = cls.get_type_name()
    if attrs.sub_ns not in (None, DEFAULT_NS):
        ns = attrs.sub_ns
    return tag(ns, name)


def write_planned(protocol: Any, ctx: Any, plan: MemberPlan, cls: type, inst: Any, parent: etree._Element,
                  element_tag: str) -> bool:
    """``complex_to_parent`` of ``inst`` by its plan: its element under ``parent``, then its
    members; False, with nothing left written, when Spyne must write it."""
    element = etree.SubElement(parent, element_tag)
    try:
        plan.write(protocol, ctx, cls.get_serialization_instance(inst), element)
    except NeedsSpyne:
        parent.remove(element)
        return False
    return True


def _write_planned(protocol: Any, ctx: Any, m: Member, value: Any, parent: etree._Element) -> bool:
    """A planned complex member without ``to_parent``'s per-call look-ups (plans exist only
    for non-polymorphic protocols); False when Spyne must write it."""
    plan = protocol._plan(m.cls) if protocol.fast_out else None
    return plan is not None and write_planned(protocol, ctx, plan, m.cls, value, parent, m.complex_tag)


def _write_one(protocol: Any, ctx: Any, m: Member, value: Any, parent: etree._Element) -> None:
    if m.how is COMPLEX and value is not None and _write_planned(protocol, ctx, m, value, parent):
        return
    if m.how is SPYNE or m.how is COMPLEX:
        protocol.to_parent(ctx, m.cls, value, parent, m.ns, m.name)
    else:
        # As Spyne's modelbase_to_parent / null_to_parent do, in the parent's document: the
        # element's namespace is settled against the parent's scope as on Spyne's append
        # (the SOAP tests compare the bytes).
        element = etree.SubElement(parent, m.tag)
        if value is None:
            element.attrib.update(NIL)
        else:
            value = str(value) if m.how is ENUM else value
            element.text = m.convert(m.cls, value) if m.convert is not None else protocol.to_unicode(m.cls, value)

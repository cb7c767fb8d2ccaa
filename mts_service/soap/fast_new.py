"""Building the answer objects of the MTS services without Spyne's ``ComplexModelBase.__init__``.

Every answer is a tree of Spyne ComplexModel instances (a PlaceOrder answer is an Order and
three Money). Spyne's ``__init__`` walks the class's flat type info per instance: for every
member ``_init_member`` looks the class attribute up, asks for defaults and SQLAlchemy
details and sets None, then ``_safe_set`` sets each given value; about a quarter of the
cost of turning a domain result into its answer.

``new(cls, **values)`` gives the same instance when ``__init__`` could do no more than
that: for a class that ``fast_in`` finds plain (Spyne's own ``__init__``, ``__new__`` and
``__setattr__``, not a customised copy, not SQLAlchemy-mapped) whose members are all plain
(no default, attribute, XmlData, array, descriptor or read-only member). Then every member
starts as None, each given member takes its value, and a name that is not a member is
ignored, as Spyne's ``__init__`` does. Any other class is built by ``cls(**values)``.
"""

from __future__ import annotations

from typing import Any

from mts_service.soap.fast_in import plain_instances, plain_member

_templates: dict[type, dict[str, None] | None] = {}


def _template(cls: type) -> dict[str, None] | None:
    """Every member set to None, in Spyne's order; None when ``cls`` needs Spyne's ``__init__``."""
    if not plain_instances(cls, cls) or cls.Attributes._xml_tag_body_as is not None:
        return None
    members = cls.get_flat_type_info(cls)
    for key, member in members.items():
        if member.Attributes.read_only or not plain_member(cls, key, member):
            return None
    return dict.fromkeys(members)


def new(cls: type, **values: Any) -> Any:
    """``cls(**values)``, without Spyne's per-member ``__init__`` work when ``cls`` is plain."""
    try:
        template = _templates[cls]
    except KeyError:
        template = _templates[cls] = _template(cls)
    if template is None:
        return cls(**values)
    instance = object.__new__(cls)
    state = instance.__dict__
    state.update(template)
    for key, value in values.items():
        if key in template:   # Spyne's __init__ only sets members; it ignores other names
            state[key] = value
    return instance

"""soap.fast_out.MemberPlan beside Spyne's own serialiser on the cases MTS's responses do not
exercise (the SOAP tests compare every real response; see conftest)."""

from __future__ import annotations

from lxml import etree
from spyne import Application, ComplexModel, Integer, ServiceBase, Unicode, rpc
from spyne.model.primitive import Boolean

from mts_service.soap.base import MtsSoap11

TNS = "urn:mts:test:fast-out"


class Inner(ComplexModel):
    __namespace__ = TNS
    label = Unicode(min_occurs=1, nillable=True)
    count = Integer


class Outer(ComplexModel):
    __namespace__ = TNS
    name = Unicode(min_occurs=1)
    flag = Boolean
    items = Inner.customize(max_occurs="unbounded")
    inner = Inner
    renamed = Unicode(sub_name="otherName")
    hidden = Unicode(exc=True)


class Shaky(Outer):
    """An instance whose member cannot be read: Spyne writes it as absent."""

    @property
    def flag(self):  # noqa: D401
        raise KeyError("not loaded")


class _Service(ServiceBase):
    @rpc(_returns=Outer)
    def Get(ctx):  # noqa: N802,N805
        return None


def both_ways(inst) -> tuple[bytes, bytes]:
    app = Application([_Service], tns=TNS, in_protocol=MtsSoap11(), out_protocol=MtsSoap11())
    protocol = app.out_protocol
    written = []
    for fast in (True, False):
        protocol.fast_out = fast
        parent = etree.Element("root")
        protocol.to_parent(None, Outer, inst, parent, TNS, "Outer")
        written.append(etree.tostring(parent))
    return written[0], written[1]


def test_members_optional_repeated_nil_renamed_and_excluded_as_spyne_writes_them():
    inst = Outer(name="n", flag=False, items=[Inner(label=None, count=3), Inner(label="x")], inner=None,
                 renamed="r", hidden="secret")
    fast, spyne = both_ways(inst)
    assert fast == spyne
    assert b"secret" not in fast and b"otherName" in fast and b'nil="true"' in fast


def test_a_member_that_cannot_be_read_is_absent_as_in_spyne():
    inst = Shaky(name="n", items=[])
    fast, spyne = both_ways(inst)
    assert fast == spyne and b"flag" not in fast

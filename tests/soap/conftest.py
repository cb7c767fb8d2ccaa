"""Fixtures of the SOAP layer tests: the WSGI app on a SQLite copy, zeep clients built
from the checked-in wsdl/ files and talking to the app in-process, and raw posting.

In-process means through the whole WSGI stack (request id, size cap, Spyne parsing and
schema validation, fault rendering) with zeep serialising and parsing real XML: only the
socket is missing. The gunicorn test (test_soap_server.py) adds it.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from mts_service.clock import FixedClock
from mts_service.config import Settings
from mts_service.persistence.engine import make_engine
from mts_service.persistence.unit_of_work import uow_factory
from mts_service.services.context import ServiceContext
from mts_service.services.keys import ServiceKeys
from mts_service.soap.app import make_wsgi_app
from mts_service.soap.metrics import SoapMetrics

sys.path.insert(0, str(Path(__file__).parent))  # soap_helpers, soap_wsgi beside the tests

from read_compare import outcome, same_reading, same_refusal  # noqa: E402
from soap_wsgi import MAX_BYTES, SECRET, WsgiTransport, zeep_client  # noqa: E402


@pytest.fixture
def soap_clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def soap_engine(sqlite_database: str) -> Engine:
    engine = make_engine(sqlite_database)
    yield engine
    engine.dispose()


@pytest.fixture
def service_ctx(soap_engine: Engine, soap_clock: FixedClock) -> ServiceContext:
    return ServiceContext(uow_factory(soap_engine), soap_clock, ServiceKeys.from_secret(SECRET))


@pytest.fixture
def metrics() -> SoapMetrics:
    return SoapMetrics()


@pytest.fixture
def wsgi_app(service_ctx: ServiceContext, soap_engine: Engine, metrics: SoapMetrics):
    settings = Settings(security=False, max_request_bytes=MAX_BYTES)
    return make_wsgi_app(service_ctx, settings, engine=soap_engine, metrics=metrics)


@pytest.fixture
def clients(wsgi_app) -> dict[str, Any]:
    transport = WsgiTransport(wsgi_app)
    return {name: zeep_client(name, transport, f"http://mts.test/{name}") for name in ("gateway", "shop", "admin")}


@pytest.fixture
def gateway(clients):
    return clients["gateway"][1]


@pytest.fixture
def shop(clients):
    return clients["shop"][1]


@pytest.fixture
def admin(clients):
    return clients["admin"][1]


@pytest.fixture(autouse=True)
def responses_written_as_spyne_writes_them(monkeypatch):
    """Every response of the SOAP tests is written both ways, MemberPlan and Spyne's own
    serialiser (soap.fast_out), into copies of the same parent: the bytes must agree."""
    import copy

    from lxml import etree

    from mts_service.soap.base import MtsSoap11

    planned = MtsSoap11.complex_to_parent
    compared: list[str] = []
    checking = False

    def both_ways(self, ctx, cls, inst, parent, ns, name=None, add_type=False, **kwargs):
        nonlocal checking
        if checking or not isinstance(parent, etree._Element):
            return planned(self, ctx, cls, inst, parent, ns, name, add_type, **kwargs)
        checking = True
        try:
            written = []
            try:
                for fast in (True, False):
                    scratch = copy.deepcopy(parent)   # keeps the namespaces in scope at the parent
                    for child in list(scratch):
                        scratch.remove(child)
                    self.fast_out = fast
                    planned(self, ctx, cls, inst, scratch, ns, name, add_type, **kwargs)
                    written.append(etree.tostring(scratch))
            finally:
                self.__dict__.pop("fast_out", None)
            assert written[0] == written[1], f"MemberPlan wrote {written[0]!r}, Spyne writes {written[1]!r}"
            compared.append(cls.get_type_name())
        finally:
            checking = False
        return planned(self, ctx, cls, inst, parent, ns, name, add_type, **kwargs)

    monkeypatch.setattr(MtsSoap11, "complex_to_parent", both_ways)
    yield compared


@pytest.fixture(autouse=True)
def requests_read_as_spyne_reads_them(monkeypatch):
    """Every request of the SOAP tests is read both ways, ReadPlan and Spyne's own
    ``complex_from_element`` (soap.fast_in): the values, or the refusals, must agree."""
    from mts_service.soap.base import MtsSoap11

    planned = MtsSoap11.complex_from_element
    compared: list[str] = []
    checking = False

    def both_ways(self, ctx, cls, elt):
        nonlocal checking
        if checking:
            return planned(self, ctx, cls, elt)
        checking = True
        try:
            outcomes = []
            try:
                for fast in (True, False):
                    self.fast_in = fast
                    outcomes.append(outcome(lambda: planned(self, ctx, cls, elt)))
            finally:
                self.__dict__.pop("fast_in", None)
            (fast_value, fast_error), (spyne_value, spyne_error) = outcomes
            if fast_error is not None or spyne_error is not None:
                assert fast_error is not None and spyne_error is not None and same_refusal(fast_error, spyne_error), \
                    f"ReadPlan: {fast_error!r}, Spyne: {spyne_error!r}"
            else:
                assert same_reading(fast_value, spyne_value), f"ReadPlan read {fast_value!r}, Spyne reads {spyne_value!r}"
            compared.append(cls.get_type_name())
            return planned(self, ctx, cls, elt)   # the real reading (its members are compared above)
        finally:
            checking = False

    monkeypatch.setattr(MtsSoap11, "complex_from_element", both_ways)
    yield compared

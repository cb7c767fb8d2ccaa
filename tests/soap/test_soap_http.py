"""Around the SOAP calls: request ids, health, metrics, routing."""

from __future__ import annotations

import json
import logging

from mts_service.observability import JsonFormatter, RequestIdMiddleware, request_id_var
from soap_helpers import envelope, fault_of
from soap_wsgi import call_wsgi


def test_every_response_carries_a_request_id_and_a_fault_repeats_it(wsgi_app, clients):
    _, shop = clients["shop"]
    seen = fault_of(shop.GetAuthorization, customerRef="nobody")
    assert seen.request_id == clients["shop"][0].transport.last_headers["X-Request-Id"]
    status, headers, _ = call_wsgi(wsgi_app, "GET", "/healthz")
    assert len(dict(headers)["X-Request-Id"]) == 16


def test_a_well_formed_incoming_request_id_is_kept(wsgi_app):
    _, headers, _ = call_wsgi(wsgi_app, "GET", "/healthz", headers={"X-Request-Id": "gw-1234abcd"})
    assert dict(headers)["X-Request-Id"] == "gw-1234abcd"
    _, headers, _ = call_wsgi(wsgi_app, "GET", "/healthz", headers={"X-Request-Id": "bad id\r\nx"})
    assert dict(headers)["X-Request-Id"] != "bad id\r\nx"


def test_log_lines_are_json_with_the_request_id():
    seen = []

    def app(environ, start_response):
        record = logging.makeLogRecord({"name": "mts.test", "msg": "hello %s", "args": ("you",), "levelname": "INFO"})
        seen.append(json.loads(JsonFormatter().format(record)))
        start_response("200 OK", [])
        return [b""]

    call_wsgi(RequestIdMiddleware(app), "GET", "/", headers={"X-Request-Id": "req-00000001"})
    assert seen[0]["request_id"] == "req-00000001" and seen[0]["message"] == "hello you"
    assert request_id_var.get() == "-"  # reset after the request


def test_healthz_checks_the_database(wsgi_app, soap_engine):
    assert call_wsgi(wsgi_app, "GET", "/healthz")[0].startswith("200")
    soap_engine.dispose()
    soap_engine.pool._creator = lambda *a: (_ for _ in ()).throw(OSError("database down"))  # noqa: SLF001
    status, _, body = call_wsgi(wsgi_app, "GET", "/healthz")
    assert status.startswith("503") and b"down" not in body.replace(b"unavailable", b"")


def test_metrics_count_requests_by_operation_and_outcome_and_faults_by_code(wsgi_app, clients):
    _, shop = clients["shop"]
    fault_of(shop.GetAuthorization, customerRef="nobody")
    call_wsgi(wsgi_app, "POST", "/gateway", b"<broken")
    status, headers, body = call_wsgi(wsgi_app, "GET", "/metrics")
    text = body.decode()
    assert status.startswith("200") and dict(headers)["Content-Type"].startswith("text/plain")
    assert 'mts_soap_requests_total{operation="GetAuthorization",outcome="client_fault",service="shop"} 1.0' in text
    assert 'mts_soap_faults_total{code="UNKNOWN_CUSTOMER",service="shop"} 1.0' in text
    assert 'mts_soap_faults_total{code="XML_MALFORMED",service="gateway"} 1.0' in text
    assert 'mts_soap_request_duration_seconds_count{operation="GetAuthorization",service="shop"} 1.0' in text


def test_metrics_count_successes(admin, wsgi_app):
    admin.GetPolicy()
    text = call_wsgi(wsgi_app, "GET", "/metrics")[2].decode()
    assert 'mts_soap_requests_total{operation="GetPolicy",outcome="ok",service="admin"} 1.0' in text


def test_routing(wsgi_app):
    assert call_wsgi(wsgi_app, "GET", "/nowhere")[0].startswith("404")
    status, headers, _ = call_wsgi(wsgi_app, "GET", "/shop")
    assert status.startswith("405") and "POST" in dict(headers)["Allow"]
    assert call_wsgi(wsgi_app, "POST", "/shop/", envelope(""))[0].startswith("500")  # a SOAP fault, not a 404

"""A real gunicorn server (``mts-service serve --no-tls``, two workers, security off) on a
free port and a fresh SQLite file, driven by zeep clients built from wsdl/.

Every operation is called over HTTP, plus a sample of faults of each origin (domain,
schema, XML, size); the full fault catalogue runs in-process in test_soap_faults.py.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from datetime import timedelta

import pytest
import requests
from lxml import etree
from zeep import Client
from zeep.transports import Transport

from mts_service.clock import SystemClock
from soap_helpers import (
    FAULT_NS,
    assert_client_fault,
    code_in,
    envelope,
    fault_of,
    message,
    money,
    new_mobile,
    policy_doc,
    submit_xml,
    unique,
)
from soap_wsgi import ROOT, WSDL_DIR

pytestmark = pytest.mark.slow
READY_ATTEMPTS = 300


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _cli(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mts_service", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("server")
    database = str(tmp / "mts.db")
    env = {**os.environ, "MTS_SECURITY": "0", "MTS_CERTS_DIR": str(tmp / "certs"), "MTS_MAX_REQUEST_BYTES": "65536",
           "PYTHONPATH": str(ROOT)}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    upgraded = _cli("db", "upgrade", "--database", database, env=env)
    assert upgraded.returncode == 0, upgraded.stderr
    port = _free_port()
    log = open(tmp / "server.log", "wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "mts_service", "serve", "--no-tls", "--bind", f"127.0.0.1:{port}", "--workers", "2",
         "--database", database, "--log-level", "warning"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    session = requests.Session()
    for _ in range(READY_ATTEMPTS):  # wait for readiness by polling, not by sleeping a fixed time
        if process.poll() is not None:
            pytest.fail(f"server exited: {(tmp / 'server.log').read_text()}")
        try:
            # The arbiter accepts at once; a worker answers once it has built the apps.
            if session.get(f"{base}/healthz", timeout=30).status_code == 200:
                break
        except requests.ConnectionError:
            subprocess.run(["sleep", "0.1"])
    else:
        pytest.fail("server did not become ready")
    yield base
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) == 0
    log.close()


@pytest.fixture(scope="module")
def proxies(server):
    transport = Transport(timeout=30)
    bindings = {"gateway": "GatewayService", "shop": "ShopService", "admin": "AdminService"}
    return {
        name: Client(str(WSDL_DIR / f"{name}.wsdl"), transport=transport).create_service(
            f"{{urn:mts:{name}:v1}}{binding}", f"{server}/{name}")
        for name, binding in bindings.items()
    }


def test_every_operation_over_http(proxies):
    gateway, shop, admin = proxies["gateway"], proxies["shop"], proxies["admin"]
    assert admin.GetPolicy() is None
    assert admin.SetPolicy(policy=policy_doc()).version == 1
    assert admin.GetPolicy().currency == "MAD"

    receipt = gateway.SubmitSms(message=message("achat"))
    assert receipt.outcome == "CODE_ISSUED"
    reference = unique("cust")
    assert shop.RegisterCustomer(customerRef=reference, mobile=new_mobile(), language="en").language == "en"
    redemption = shop.RedeemCode(customerRef=reference, code=code_in(receipt.replyText))
    assert redemption.authorization.advancesLeft == 1
    assert shop.GetAuthorization(customerRef=reference).mayOrder
    order = shop.PlaceOrder(orderId=unique("ord"), customerRef=reference, total=money(2000), deliveryMode="HOME")
    assert order.codDue.amountMinor == 1500
    assert shop.ReportDelivery(orderId=order.orderId, outcome="REFUSED").status == "REFUSED"

    details = admin.GetCustomer(customerRef=reference)
    assert details.orders[0].status == "REFUSED"
    revocation = admin.RevokeAuthorization(customerRef=reference, reason="parcel refused", orderId=order.orderId)
    assert revocation.revokedGrants == [] and revocation.forfeited is None  # the advance was spent on the order
    page = admin.GetLedger(customerRef=reference)
    assert [e.kind for e in page.entries] == ["ADVANCE_APPLIED"]  # the flow-1 payment predates the customer
    today = SystemClock().now().date()
    report = admin.GetReport(firstDay=today - timedelta(days=1), lastDay=today + timedelta(days=1))
    assert sum(r.messages for r in report.rows) >= 1


def test_faults_over_http(proxies, server):
    shop, admin = proxies["shop"], proxies["admin"]
    assert_client_fault(fault_of(shop.GetAuthorization, customerRef="nobody"), "UNKNOWN_CUSTOMER")
    assert_client_fault(fault_of(admin.SetPolicy, policy=policy_doc(), expectedVersion=99), "POLICY_VERSION_CONFLICT")
    assert_client_fault(fault_of(shop.ReportDelivery, orderId="none", outcome="DELIVERED"), "UNKNOWN_ORDER")

    def raw(body: bytes) -> tuple[int, str, str]:
        response = requests.post(f"{server}/gateway", data=body, headers={"Content-Type": "text/xml; charset=utf-8"},
                                 timeout=30)
        root = etree.fromstring(response.content)
        detail = root.find(f".//{{{FAULT_NS}}}FaultDetail")
        assert detail.findtext(f"{{{FAULT_NS}}}requestId") == response.headers["X-Request-Id"]
        return response.status_code, root.findtext(".//faultcode"), detail.findtext(f"{{{FAULT_NS}}}code")

    assert raw(envelope(submit_xml(channel="FAX"))) == (500, "soap:Client", "SCHEMA_INVALID")
    assert raw(b"<not-xml") == (500, "soap:Client", "XML_MALFORMED")
    assert raw(envelope(submit_xml()) + b" " * 70_000) == (500, "soap:Client", "REQUEST_TOO_LARGE")


def test_wsdl_health_and_metrics_over_http(server, proxies):
    assert requests.get(f"{server}/shop?wsdl", timeout=30).content == (WSDL_DIR / "shop.wsdl").read_bytes()
    assert requests.get(f"{server}/healthz", timeout=30).text == "ok\n"
    for _ in range(4):  # spread over both workers: the exposition sums them
        fault_of(proxies["shop"].GetAuthorization, customerRef="nobody")
    text = requests.get(f"{server}/metrics", timeout=30).text
    line = next(l for l in text.splitlines() if l.startswith('mts_soap_faults_total{code="UNKNOWN_CUSTOMER",service="shop"}'))
    assert float(line.split()[-1]) >= 4

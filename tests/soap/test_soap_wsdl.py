"""The WSDL contract: wsdl/ files equal what the services serve, and load cleanly in zeep."""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from zeep import Client

from mts_service.soap import wsdl as documents
from soap_wsgi import ROOT, WSDL_DIR, call_wsgi

NAMES = ("gateway", "shop", "admin")
OPERATIONS = {
    "gateway": ["SubmitSms", "ReportBilling"],
    "shop": ["RegisterCustomer", "RedeemCode", "GetAuthorization", "PlaceOrder", "ReportDelivery"],
    "admin": ["RevokeAuthorization", "GetCustomer", "GetLedger", "GetReport", "GetPolicy", "SetPolicy", "ConfirmBilling"],
}


def test_checked_in_wsdls_have_not_drifted():
    assert documents.check(WSDL_DIR) == [], "run `mts-service wsdl export`"


@pytest.mark.parametrize("name", NAMES)
def test_served_wsdl_is_the_file(wsgi_app, name):
    status, headers, body = call_wsgi(wsgi_app, "GET", f"/{name}?wsdl")
    assert status.startswith("200") and dict(headers)["Content-Type"].startswith("text/xml")
    assert body == (WSDL_DIR / f"{name}.wsdl").read_bytes()


@pytest.mark.parametrize("name", NAMES)
def test_zeep_loads_each_wsdl_without_warning(name):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        client = Client(str(WSDL_DIR / f"{name}.wsdl"))
    service = next(iter(client.wsdl.services.values()))
    port = next(iter(service.ports.values()))
    assert list(port.binding._operations) == OPERATIONS[name]
    assert port.binding_options["address"] == f"https://localhost:8443/{name}"
    for operation in port.binding._operations.values():
        assert operation.soapaction == operation.name
    tns = f"urn:mts:{name}:v1"
    assert client.wsdl.types.get_element(f"{{{tns}}}{OPERATIONS[name][0]}") is not None
    assert client.wsdl.types.get_element("{urn:mts:fault:v1}FaultDetail") is not None


def test_money_is_integer_minor_units_and_a_currency_code():
    client = Client(str(WSDL_DIR / "shop.wsdl"))
    money = client.get_type("{urn:mts:shop:v1}Money")
    fields = dict(money.elements)
    assert fields["amountMinor"].type.name == "long"
    currency = (WSDL_DIR / "shop.wsdl").read_text()
    assert '<xs:simpleType name="Currency">' in currency and '<xs:pattern value="[A-Z]{3}"/>' in currency


def test_cli_wsdl_check_fails_on_drift_and_export_repairs_it(tmp_path: Path):
    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "mts_service", "wsdl", *args, "--dir", str(tmp_path)],
                              cwd=ROOT, capture_output=True, text=True, timeout=120)

    assert cli("export").returncode == 0
    assert cli("check").returncode == 0
    (tmp_path / "shop.wsdl").write_text((tmp_path / "shop.wsdl").read_text().replace("PlaceOrder", "PlaceOrders"))
    drifted = cli("check")
    assert drifted.returncode == 1 and "shop.wsdl" in drifted.stderr

"""Billing confirmation, operator reconciliation and the HTML report against a real
``mts-service serve`` (gunicorn, TLS, WS-Security on): the libraries and the CLIs."""

from __future__ import annotations

import json
import secrets
import subprocess
from datetime import datetime, timezone

import pytest

from gateway_client import BillingStatus, GatewayClient, InboundMessage, ReceiptOutcome
from mts_service.cli.demo import DEMO_POLICY
from shop_client import AdminClient, ShopClient

pytestmark = pytest.mark.slow

GATEWAY = "gateway_client.cli"
ADMIN = ("shop_client.cli", "admin")
RECON_NUMBER, HELD_NUMBER, OPERATOR = "7579", "7578", f"OP{secrets.token_hex(3).upper()}"


@pytest.fixture(scope="module")
def clients(live_server):
    gateway = GatewayClient.connect(live_server.url, certs_dir=live_server.certs)
    shop = ShopClient.connect(live_server.url, certs_dir=live_server.certs)
    admin = AdminClient.connect(live_server.url, certs_dir=live_server.certs)
    policy = dict(DEMO_POLICY)
    policy["premium_numbers"] = [
        *DEMO_POLICY["premium_numbers"],
        {"number": RECON_NUMBER, "price_minor": 700, "net_minor": 400, "keywords": ["RECON"], "operators": [OPERATOR]},
        {"number": HELD_NUMBER, "price_minor": 500, "net_minor": 300, "keywords": ["PAY"], "operators": [OPERATOR],
         "hold_until_billed": True},
    ]
    admin.set_policy(policy)
    yield gateway, shop, admin
    admin.set_policy(DEMO_POLICY)


def sms(gateway, number, text="PAY"):
    sender = "+2126" + "".join(secrets.choice("0123456789") for _ in range(8))
    return gateway.submit_sms(InboundMessage(f"b-{secrets.token_hex(6)}", sender, number, text, datetime.now(timezone.utc),
                                             operator=OPERATOR))


def run(live_server, module, *args) -> subprocess.CompletedProcess:
    if isinstance(module, tuple):
        module, *first = module
        args = (*first, *args)
    return live_server.run_cli(module, *args)


def test_held_credit_runs_on_report_billing_and_the_cli_reports_a_failure(live_server, clients):
    gateway, shop, _ = clients
    held = sms(gateway, HELD_NUMBER)
    assert held.outcome is ReceiptOutcome.HELD
    receipt = gateway.report_billing(held.message_id, BillingStatus.CONFIRMED)
    assert receipt.outcome is ReceiptOutcome.CODE_ISSUED and not receipt.duplicate
    code = next(w.strip(":.") for w in receipt.reply_text.split() if len(w.strip(":.")) == 8 and w.strip(":.").isupper())
    ref = f"b-{secrets.token_hex(4)}"
    shop.register_customer(ref)
    assert shop.redeem_code(ref, code).authorization.may_order
    assert gateway.report_billing(held.message_id, "CONFIRMED").reply_text == receipt.reply_text

    other = sms(gateway, RECON_NUMBER, "RECON")
    done = run(live_server, GATEWAY, "billing", "--id", other.message_id, "--status", "FAILED", "--json")
    assert done.returncode == 0, done.stderr.decode()
    assert json.loads(done.stdout) | {} == {"message_id": other.message_id, "status": "FAILED", "duplicate": False,
                                             "outcome": None, "reply_text": None, "reversal": "GRANT"}
    conflict = run(live_server, GATEWAY, "billing", "--id", other.message_id, "--status", "CONFIRMED")
    assert conflict.returncode == 1 and b"MESSAGE_ID_CONFLICT" in conflict.stderr


def test_reconcile_an_operator_csv_then_confirm_and_write_the_html_report(live_server, clients, tmp_path):
    gateway, _, admin = clients
    today = datetime.now(timezone.utc).date()
    before = {r.premium_number: r for r in admin.get_report(today, today).rows if r.operator == OPERATOR}
    base = before.get(RECON_NUMBER)
    billed = base.billed_messages if base else 0
    sent = [sms(gateway, RECON_NUMBER, "RECON") for _ in range(3)]
    gateway.report_billing(sent[0].message_id, "FAILED")
    billed += 2
    header = "date,premium_number,operator,message_count,gross_amount_minor,currency\n"

    wrong = tmp_path / "wrong.csv"
    wrong.write_text(header + f"{today},{RECON_NUMBER},{OPERATOR},{billed + 1},{(billed + 1) * 700},MAD\n")
    result = run(live_server, ADMIN, "reconcile", str(wrong), "--json")
    assert result.returncode == 4, result.stderr.decode()
    data = json.loads(result.stdout)
    lines = {(line["premium_number"], line["operator"]): line for line in data["lines"]}
    line = lines[(RECON_NUMBER, OPERATOR)]
    assert (line["status"], line["messages_delta"], line["gross_delta_minor"]) == ("DIFFERENT", -1, -700)
    # The held number's messages are ours alone: the operator's file does not list them.
    assert lines[(HELD_NUMBER, OPERATOR)]["status"] == "MISSING_IN_OPERATOR_REPORT"
    assert data["confirmed"] == []

    right = tmp_path / "right.csv"
    held_billed = {r.premium_number: r for r in admin.get_report(today, today).rows if r.operator == OPERATOR}[HELD_NUMBER]
    right.write_text(header + f"{today},{RECON_NUMBER},{OPERATOR},{billed},{billed * 700},MAD\n"
                     f"{today},{HELD_NUMBER},,{held_billed.billed_messages},{held_billed.billed_gross_minor},MAD\n")
    result = run(live_server, ADMIN, "reconcile", str(right), "--confirm-billing")
    assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()
    assert "0 with differences" in result.stdout.decode()
    row = {r.premium_number: r for r in admin.get_report(today, today).rows if r.operator == OPERATOR}[RECON_NUMBER]
    assert row.confirmed_messages == billed and row.pending_messages == 0 and row.failed_messages >= 1

    out = tmp_path / "report.html"
    result = run(live_server, ADMIN, "report", "--from", today.isoformat(), "--to", today.isoformat(), "--html", str(out))
    assert result.returncode == 0, result.stderr.decode()
    page = out.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and "<svg" in page and "<script" not in page and "http://" not in page.replace(
        'xmlns="http://www.w3.org/2000/svg"', "")
    total_paid = sum(r.billed_messages for r in admin.get_report(today, today).rows)
    assert f"<td>{today.isoformat()}</td><td>{total_paid}</td>" in page

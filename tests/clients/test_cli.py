"""mts-gateway, mts-shop and mts-admin as subprocesses against the live server."""

from __future__ import annotations

import json
import secrets
import subprocess
import sys

import pytest

from gateway_client.cli import build_parser
from shop_client.cli import admin_parser, shop_parser

pytestmark = pytest.mark.slow

GATEWAY = "gateway_client.cli"
SHOP = ("shop_client.cli", "shop")
ADMIN = ("shop_client.cli", "admin")


def ok(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 0, result.stderr.decode()
    return result.stdout.decode()


def test_send_then_redeem_order_and_report(live_server):
    sender = "+2126" + "".join(secrets.choice("0123456789") for _ in range(8))
    receipt = json.loads(ok(live_server.run_cli(GATEWAY, "send", "--from", sender, "--to", "7575", "--text", "PAY",
                                                "--id", f"cli-{secrets.token_hex(4)}", "--json")))
    assert receipt["outcome"] == "CODE_ISSUED"
    code = next(w.strip(":.") for w in receipt["reply_text"].split() if len(w.strip(":.")) == 8 and w.strip(":.").isupper())

    ref = f"cli-{secrets.token_hex(4)}"
    assert "ACTIVE" in ok(live_server.run_cli(*SHOP, "register", ref, "--language", "ar"))
    redeemed = json.loads(ok(live_server.run_cli(*SHOP, "redeem", ref, code, "--json")))
    assert redeemed["authorization"]["may_order"] is True
    table = ok(live_server.run_cli(*SHOP, "authorization", ref))
    assert "may order" in table and "yes" in table
    order = json.loads(ok(live_server.run_cli(*SHOP, "order", f"o-{ref}", ref, "--total-minor", "20000",
                                              "--currency", "MAD", "--json")))
    assert order["cod_due"] == {"amount_minor": 19500, "currency": "MAD"}
    assert "DELIVERED" in ok(live_server.run_cli(*SHOP, "delivery", f"o-{ref}", "DELIVERED"))

    report = json.loads(ok(live_server.run_cli(*ADMIN, "report", "--json")))
    assert any(row["premium_number"] == "7575" and row["messages"] >= 1 for row in report["rows"])
    assert "gross" in ok(live_server.run_cli(*ADMIN, "report"))
    customer = ok(live_server.run_cli(*ADMIN, "customer", ref))
    assert "grants" in customer and f"o-{ref}" in customer
    ledger = json.loads(ok(live_server.run_cli(*ADMIN, "ledger", "--customer", ref, "--all", "--json")))
    assert {e["kind"] for e in ledger["entries"]} >= {"ADVANCE_APPLIED"}


def test_revoke_and_policy_round_trip(live_server, tmp_path):
    ref = f"cli-{secrets.token_hex(4)}"
    ok(live_server.run_cli(*SHOP, "register", ref))
    revoked = json.loads(ok(live_server.run_cli(*ADMIN, "revoke", "--customer", ref, "--reason", "test", "--json")))
    assert revoked["revoked_grants"] == []

    policy_yaml = ok(live_server.run_cli(*ADMIN, "policy", "get"))
    assert "premium_numbers" in policy_yaml
    path = tmp_path / "policy.yaml"
    path.write_text(policy_yaml)
    current = json.loads(ok(live_server.run_cli(*ADMIN, "policy", "get", "--json")))
    stored = ok(live_server.run_cli(*ADMIN, "policy", "set", str(path), "--expected-version", str(current["version"])))
    assert f"policy version {current['version'] + 1} stored" in stored


def test_exit_codes_for_refusals_unavailability_and_bad_files(live_server, tmp_path):
    refused = live_server.run_cli(*SHOP, "authorization", "nobody-at-all")
    assert refused.returncode == 1 and b"UNKNOWN_CUSTOMER" in refused.stderr and b"request " in refused.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text("mode: ADVANCE\nwhat: 1\n")
    assert live_server.run_cli(*ADMIN, "policy", "set", str(bad)).returncode == 2
    down = subprocess.run([sys.executable, "-m", "shop_client.cli", "shop", "authorization", "x",
                           "--url", "https://127.0.0.1:9", "--certs-dir", str(live_server.certs)],
                          capture_output=True, env=live_server.env, timeout=60)
    assert down.returncode == 3 and b"unavailable" in down.stderr
    missing = subprocess.run([sys.executable, "-m", "gateway_client.cli", "send", "--from", "+212600000000", "--to",
                              "7575", "--text", "PAY", "--certs-dir", str(tmp_path / "none")],
                             capture_output=True, env=live_server.env, timeout=60)
    assert missing.returncode == 2 and b"mts-service certs" in missing.stderr


def test_spool_and_kannel_config_commands(tmp_path):
    from datetime import datetime, timezone

    from gateway_client.models import InboundMessage
    from gateway_client.spool import Spool
    from mts_service.clock import FixedClock

    spool = Spool(tmp_path / "spool.db", clock=FixedClock())
    spool.store(InboundMessage("k-1", "+212600000001", "7575", "PAY", datetime(2026, 1, 15, tzinfo=timezone.utc)))
    spool.close()
    run = [sys.executable, "-m", "gateway_client.cli"]
    listing = subprocess.run(run + ["spool", "--spool", str(tmp_path / "spool.db"), "--json"], capture_output=True,
                             timeout=60)
    data = json.loads(ok(listing))
    assert data["counts"]["pending"] == 1 and data["entries"][0]["message_id"] == "k-1"
    conf = ok(subprocess.run(run + ["kannel-config", "--bridge-url", "http://127.0.0.1:8088/kannel",
                                    "--sendsms-password", "s3cret"], capture_output=True, timeout=60))
    assert "group = sms-service" in conf and "msgid=%I" in conf


@pytest.mark.parametrize("parser, argv", [
    (build_parser, ["send", "--from", "+2126", "--to", "7575", "--text", "PAY", "--channel", "EMAIL", "--json"]),
    (build_parser, ["bridge", "--spool", "s.db", "--sendsms-url", "http://k:13013", "--sendsms-user", "mts"]),
    (build_parser, ["email", "--service-address", "@shop.example=-"]),
    (shop_parser, ["order", "o1", "c1", "--total-minor", "100", "--currency", "MAD", "--pickup", "p1"]),
    (admin_parser, ["ledger", "--kind", "FORFEIT", "--since", "2026-01-01T00:00:00", "--limit", "5"]),
    (admin_parser, ["revoke", "--grant", "g1", "--reason", "r", "--order", "o1"]),
])
def test_parsers_accept_the_documented_commands(parser, argv):
    assert parser().parse_args(argv).func is not None


def test_email_on_stdin_is_submitted(live_server):
    mail = (
        "From: Amina <amina@example.org>\r\nTo: pay-7575@shop.example\r\n"
        f"Message-ID: <{secrets.token_hex(6)}@example.org>\r\nSubject: PAY\r\n"
        "Date: Thu, 15 Jan 2026 09:00:00 +0000\r\n\r\nbody\r\n"
    ).encode()
    receipt = json.loads(ok(live_server.run_cli(GATEWAY, "email", "--service-address", "@shop.example=-", "--json",
                                                stdin=mail)))
    assert receipt["outcome"] == "CODE_ISSUED"

"""``mts-service bench --json``: runs end to end on a few requests and prints the figures
as JSON (shape only: no assertion on speed; the benchmark is not a timed test)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow

OPERATIONS = ("SubmitSms", "RedeemCode", "PlaceOrder", "Echo")
KEYS = {"rps", "p50_ms", "p99_ms", "ratio_to_echo", "server_cpu_ms", "cpu_ratio_to_echo"}


def test_bench_prints_json_per_operation(tmp_path):
    generator = "wrk" if shutil.which("wrk") else "python"
    run = subprocess.run(
        [sys.executable, "-m", "mts_service", "bench", "--requests", "12", "--connections", "2", "--customers", "4",
         "--no-tls", "--json", "--generator", generator],
        cwd=tmp_path, capture_output=True, text=True, timeout=600,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    report = json.loads(run.stdout)
    assert report["key_type"] == "rsa" and report["workers"] == 2
    operations = report["modes"]["http"]["operations"]
    assert set(operations) == set(OPERATIONS)
    for name in OPERATIONS:
        figures = operations[name]
        assert KEYS <= set(figures), (name, figures)
        # 12 requests make one slice per operation: an echo slice of 12 before it and one after.
        assert figures["faults"] == 0 and figures["ok"] == (72 if name == "Echo" else 12), (name, figures)
        assert figures["rps"] > 0 and 0 < figures["p50_ms"] <= figures["p99_ms"]
        # The server's processes, from /proc, in 10 ms ticks: a phase of 12 requests may show 0
        # (seen for a signed SubmitSms on a fast machine: about 15 ms of CPU in all).
        assert figures["server_cpu_ms"] >= 0, (name, figures)
    assert sum(operations[name]["server_cpu_ms"] for name in OPERATIONS) > 0   # about 8 ticks in all
    assert operations["Echo"]["ratio_to_echo"] == 1.0


def test_bench_runs_twice_and_summarises_the_spread(tmp_path):
    generator = "wrk" if shutil.which("wrk") else "python"
    run = subprocess.run(
        [sys.executable, "-m", "mts_service", "bench", "--requests", "12", "--connections", "2", "--customers", "4",
         "--no-tls", "--json", "--generator", generator, "--runs", "2"],
        cwd=tmp_path, capture_output=True, text=True, timeout=900,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    report = json.loads(run.stdout)
    assert len(report["runs"]) == 2 and "run 2 of 2:" in run.stderr
    for name in OPERATIONS:
        ratios = [r["modes"]["http"]["operations"][name]["ratio_to_echo"] for r in report["runs"]]
        spread = report["summary"]["http"][name]["ratio_to_echo"]
        assert spread["runs"] == ratios and spread["min"] == min(ratios) and spread["max"] == max(ratios)
        assert spread["min"] <= spread["median"] <= spread["max"]

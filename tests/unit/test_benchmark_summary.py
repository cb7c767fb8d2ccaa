"""``mts-service bench --runs N``: the summary lines up the runs' figures, it computes none."""

from __future__ import annotations

from mts_service.benchmark.summary import render_summary, summarise


def _report(ratio: float, cpu_ratio: float | None, rps: float = 100.0) -> dict:
    figures = {"rps": rps, "ratio_to_echo": ratio, "cpu_ratio_to_echo": cpu_ratio, "server_cpu_ms": 1.5,
               "p50_ms": 1.0, "p99_ms": 2.0}
    echo = dict(figures, ratio_to_echo=1.0, cpu_ratio_to_echo=1.0 if cpu_ratio is not None else None)
    return {"modes": {"http": {"tls": False, "worker_class": "sync",
                               "operations": {"SubmitSms": figures, "Echo": echo}}}}


def test_min_median_max_and_every_run_in_order():
    summary = summarise([_report(0.38, 0.36), _report(0.31, 0.33), _report(0.42, 0.40), _report(0.36, 0.35)])
    ratio = summary["http"]["SubmitSms"]["ratio_to_echo"]
    assert ratio == {"min": 0.31, "median": 0.37, "max": 0.42, "runs": [0.38, 0.31, 0.42, 0.36]}
    assert summary["http"]["SubmitSms"]["cpu_ratio_to_echo"]["median"] == 0.355
    assert summary["http"]["Echo"]["ratio_to_echo"]["min"] == 1.0


def test_a_figure_missing_from_one_run_is_left_out_not_guessed():
    summary = summarise([_report(0.38, 0.36), _report(0.40, None)])
    assert "cpu_ratio_to_echo" not in summary["http"]["SubmitSms"]
    assert summary["http"]["SubmitSms"]["ratio_to_echo"]["runs"] == [0.38, 0.40]
    text = render_summary(summary, runs=2)
    assert "over 2 runs" in text and "SubmitSms" in text


def test_rendered_table_shows_the_lowest_run():
    text = render_summary(summarise([_report(0.38, 0.36), _report(0.29, 0.30)]), runs=2)
    row = next(line for line in text.splitlines() if "SubmitSms" in line).split()
    assert row[2:5] == ["0.29", "0.34", "0.38"] and row[5:8] == ["0.30", "0.33", "0.36"]

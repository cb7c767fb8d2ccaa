"""``mts-service bench --runs N``: the spread of the ratios over several whole runs.

On a shared host a single run's ratio moves with the host's speed (see docs/performance.md:
±0.05 from one run to the next, with the code unchanged). One run cannot say whether a
figure is the code's or the hour's; several runs, each with fresh servers and database,
and their lowest, median and highest ratio per operation can. The summary adds nothing to
the figures of each run: it only lines them up.
"""

from __future__ import annotations

from statistics import median
from typing import Any, Sequence

SPREAD_OF = ("ratio_to_echo", "cpu_ratio_to_echo", "rps", "server_cpu_ms")


def _spread(values: Sequence[float]) -> dict[str, Any]:
    return {"min": min(values), "median": round(median(values), 3), "max": max(values), "runs": list(values)}


def summarise(reports: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Per mode and operation, min / median / max (and every run's value, in order) of each
    figure in ``SPREAD_OF`` over ``reports`` (each the report of one ``runner.run``). A
    figure missing from any run (the CPU where /proc is absent) is left out."""
    summary: dict[str, Any] = {}
    for mode in reports[0]["modes"]:
        operations = {}
        for operation in reports[0]["modes"][mode]["operations"]:
            per_run = [report["modes"][mode]["operations"][operation] for report in reports]
            operations[operation] = {
                key: _spread([figures[key] for figures in per_run])
                for key in SPREAD_OF
                if all(figures.get(key) is not None for figures in per_run)
            }
        summary[mode] = operations
    return summary


def render_summary(summary: dict[str, Any], runs: int) -> str:
    header = f"{'mode':<6} {'operation':<11} {'ratio min':>9} {'median':>7} {'max':>6}   {'cpu ratio min':>13} {'median':>7} {'max':>6}"
    lines = [f"over {runs} runs (each with fresh servers and database):", header, "-" * len(header)]
    for mode, operations in summary.items():
        for operation, spread in operations.items():
            ratio = spread["ratio_to_echo"]
            cpu = spread.get("cpu_ratio_to_echo")
            cpu_text = f"{cpu['min']:13.2f} {cpu['median']:7.2f} {cpu['max']:6.2f}" if cpu else f"{'-':>13} {'-':>7} {'-':>6}"
            lines.append(f"{mode:<6} {operation:<11} {ratio['min']:9.2f} {ratio['median']:7.2f} {ratio['max']:6.2f}   {cpu_text}")
    return "\n".join(lines)


__all__ = ["SPREAD_OF", "render_summary", "summarise"]

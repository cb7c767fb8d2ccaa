"""The merchant's report as one self-contained HTML file: inline SVG charts, no script, no
external resource (it opens offline and in a mail client).

Per day: paid SMS (messages billed: paid minus those the operator reported failed) and
their gross amount, advances applied to orders, forfeits, and the refusal rate of
deliveries (refused / (delivered + refused)).
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import date, timedelta

from .models import Report, refusal_rate

WIDTH, HEIGHT, PAD_LEFT, PAD_BOTTOM, PAD_TOP = 760, 260, 70, 40, 20
COLOURS = {"gross": "#2f6db5", "advances": "#3a9b5c", "forfeits": "#c0392b", "sms": "#7f8c8d", "refusal": "#e67e22"}


@dataclass(frozen=True)
class DayFigures:
    day: date
    paid_sms: int = 0
    gross_minor: int = 0
    advances_applied_minor: int = 0
    forfeits_minor: int = 0
    delivered: int = 0
    refused: int = 0

    @property
    def refusal_rate(self) -> float | None:
        return refusal_rate(self.delivered, self.refused)


def daily_figures(report: Report) -> list[DayFigures]:
    """One entry per day of the report, days without activity included (zeros)."""
    days: dict[date, dict] = {}
    day = report.first_day
    while day <= report.last_day:
        days[day] = {}
        day += timedelta(days=1)
    for row in report.rows:
        figures = days.setdefault(row.day, {})
        for name, value in (("paid_sms", row.billed_messages), ("gross_minor", row.billed_gross_minor),
                            ("advances_applied_minor", row.advances_applied_minor), ("forfeits_minor", row.forfeits_minor)):
            figures[name] = figures.get(name, 0) + value
    for delivery in report.deliveries:
        figures = days.setdefault(delivery.day, {})
        figures["delivered"] = figures.get("delivered", 0) + delivery.delivered
        figures["refused"] = figures.get("refused", 0) + delivery.refused
    return [DayFigures(day, **values) for day, values in sorted(days.items())]


def _major(minor: int) -> str:
    sign = "-" if minor < 0 else ""
    whole, cents = divmod(abs(minor), 100)
    return f"{sign}{whole:,}.{cents:02d}".replace(",", "\u202f")


def _rate(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.1f}\u202f%"


def _bars(days: list[DayFigures], series: list[tuple[str, str, list[int]]], *, title: str, unit: str,
          money: bool, line: tuple[str, str, list[float | None]] | None = None) -> str:
    """A grouped bar chart (and an optional 0-100 % line on a right axis), as inline SVG."""
    plot_w, plot_h = WIDTH - PAD_LEFT - 60, HEIGHT - PAD_TOP - PAD_BOTTOM
    top = max([1] + [v for _, _, values in series for v in values])
    slot = plot_w / max(len(days), 1)
    bar = max(slot * 0.8 / max(len(series), 1), 1.0)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{WIDTH}" height="{HEIGHT}" '
             f'viewBox="0 0 {WIDTH} {HEIGHT}" aria-label="{html.escape(title)}">',
             f'<title>{html.escape(title)}</title>']
    for i in range(5):  # horizontal grid and left axis labels
        value = top * i / 4
        y = PAD_TOP + plot_h - plot_h * i / 4
        label = _major(round(value)) if money else f"{value:.0f}"
        parts.append(f'<line x1="{PAD_LEFT}" y1="{y:.1f}" x2="{PAD_LEFT + plot_w}" y2="{y:.1f}" stroke="#ddd"/>')
        parts.append(f'<text x="{PAD_LEFT - 6}" y="{y + 4:.1f}" font-size="11" text-anchor="end">{label}</text>')
    parts.append(f'<text x="12" y="{PAD_TOP - 6}" font-size="11">{html.escape(unit)}</text>')
    for d, day in enumerate(days):
        x0 = PAD_LEFT + d * slot + slot * 0.1
        for s, (name, colour, values) in enumerate(series):
            h = plot_h * values[d] / top
            x = x0 + s * bar
            shown = _major(values[d]) if money else str(values[d])
            parts.append(f'<rect x="{x:.1f}" y="{PAD_TOP + plot_h - h:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                         f'fill="{colour}"><title>{day.day} {html.escape(name)}: {shown}</title></rect>')
        if len(days) <= 31 or d % max(len(days) // 15, 1) == 0:
            parts.append(f'<text x="{x0 + slot * 0.4:.1f}" y="{HEIGHT - PAD_BOTTOM + 14}" font-size="10" '
                         f'text-anchor="middle">{day.day.strftime("%m-%d")}</text>')
    if line is not None:
        name, colour, rates = line
        points = [(PAD_LEFT + d * slot + slot / 2, PAD_TOP + plot_h - plot_h * r) for d, r in enumerate(rates) if r is not None]
        if points:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
            parts.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
            parts.extend(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}"/>' for x, y in points)
        for i in range(5):
            y = PAD_TOP + plot_h - plot_h * i / 4
            parts.append(f'<text x="{PAD_LEFT + plot_w + 6}" y="{y + 4:.1f}" font-size="11">{i * 25} %</text>')
    legend = [*((n, c) for n, c, _ in series), *([(line[0], line[1])] if line else [])]
    for i, (name, colour) in enumerate(legend):
        x = PAD_LEFT + i * 170
        parts.append(f'<rect x="{x}" y="{HEIGHT - 16}" width="10" height="10" fill="{colour}"/>')
        parts.append(f'<text x="{x + 14}" y="{HEIGHT - 7}" font-size="11">{html.escape(name)}</text>')
    parts.append("</svg>")
    return "\n".join(parts)


def render_html(report: Report, *, title: str = "MTS merchant report") -> str:
    days = daily_figures(report)
    currencies = sorted({row.currency for row in report.rows}) or ["-"]
    currency = "/".join(currencies)
    money_chart = _bars(
        days,
        [("paid SMS (gross)", COLOURS["gross"], [d.gross_minor for d in days]),
         ("advances applied", COLOURS["advances"], [d.advances_applied_minor for d in days]),
         ("forfeits", COLOURS["forfeits"], [d.forfeits_minor for d in days])],
        title="Money per day", unit=currency, money=True,
    )
    count_chart = _bars(
        days, [("paid SMS", COLOURS["sms"], [d.paid_sms for d in days])], title="Paid SMS and refusal rate per day",
        unit="SMS", money=False, line=("refusal rate", COLOURS["refusal"], [d.refusal_rate for d in days]),
    )
    totals = DayFigures(
        report.last_day, sum(d.paid_sms for d in days), sum(d.gross_minor for d in days),
        sum(d.advances_applied_minor for d in days), sum(d.forfeits_minor for d in days),
        sum(d.delivered for d in days), sum(d.refused for d in days),
    )
    rows = "\n".join(
        f"<tr><td>{d.day.isoformat()}</td><td>{d.paid_sms}</td><td>{_major(d.gross_minor)}</td>"
        f"<td>{_major(d.advances_applied_minor)}</td><td>{_major(d.forfeits_minor)}</td>"
        f"<td>{d.delivered}</td><td>{d.refused}</td><td>{_rate(d.refusal_rate)}</td></tr>"
        for d in days
    )
    esc = html.escape
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{esc(title)} {report.first_day} .. {report.last_day}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; color: #222; }}
table {{ border-collapse: collapse; margin-top: 1em; }}
th, td {{ border: 1px solid #ccc; padding: 4px 10px; text-align: right; }}
th:first-child, td:first-child {{ text-align: left; }}
tfoot td {{ font-weight: bold; }}
figure {{ margin: 1.5em 0; }}
</style>
</head>
<body>
<h1>{esc(title)}</h1>
<p>From {report.first_day} to {report.last_day} (UTC days); amounts in {esc(currency)}.
Paid SMS are those billed (the operator's failed charges taken out); refusal rate = refused / (delivered + refused).</p>
<figure>{money_chart}<figcaption>Paid SMS (gross), advances applied and forfeits per day</figcaption></figure>
<figure>{count_chart}<figcaption>Paid SMS per day and the refusal rate of deliveries</figcaption></figure>
<table>
<thead><tr><th>day</th><th>paid SMS</th><th>gross</th><th>advances applied</th><th>forfeits</th>
<th>delivered</th><th>refused</th><th>refusal rate</th></tr></thead>
<tbody>
{rows}
</tbody>
<tfoot><tr><td>total</td><td>{totals.paid_sms}</td><td>{_major(totals.gross_minor)}</td>
<td>{_major(totals.advances_applied_minor)}</td><td>{_major(totals.forfeits_minor)}</td>
<td>{totals.delivered}</td><td>{totals.refused}</td><td>{_rate(totals.refusal_rate)}</td></tr></tfoot>
</table>
</body>
</html>
"""

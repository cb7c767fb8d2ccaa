"""The operator CSV format, the comparison with GetReport's figures and the HTML report, offline."""

from __future__ import annotations

import io
from datetime import date

import pytest

from shop_client.html_report import daily_figures, render_html
from shop_client.models import DeliveryDay, Report, ReportRow
from shop_client.reconcile import InvalidOperatorReport, LineStatus, compare, parse_operator_report

HEADER = "date,premium_number,operator,message_count,gross_amount_minor,currency\n"
D1, D2 = date(2026, 1, 15), date(2026, 1, 16)


def row(day, number="7575", operator="IAM", *, messages=0, gross=0, failed=0, failed_gross=0, **more):
    return ReportRow(day, number, operator, "MAD", messages, gross, 0, more.get("applied", 0), 0, more.get("forfeits", 0), 0, 0,
                     failed_messages=failed, failed_gross_minor=failed_gross, billed_messages=messages - failed,
                     billed_gross_minor=gross - failed_gross)


def parse(text):
    return parse_operator_report(io.StringIO(HEADER + text))


def test_matching_different_and_missing_lines():
    report = Report(D1, D2, (row(D1, messages=3, gross=1500, failed=1, failed_gross=500), row(D1, operator="INWI", messages=1, gross=500),
                             row(D2, number="7576", messages=2, gross=2000)))
    lines = parse("2026-01-15,7575,IAM,2,1000,MAD\n2026-01-15,7575,INWI,2,1000,MAD\n2026-01-16,7577,IAM,4,2000,MAD\n")
    by_key = {(d.day, d.premium_number, d.operator): d for d in compare(lines, report)}
    assert by_key[(D1, "7575", "IAM")].status is LineStatus.MATCH  # 3 paid - 1 failed = the operator's 2
    inwi = by_key[(D1, "7575", "INWI")]
    assert (inwi.status, inwi.messages_delta, inwi.gross_delta_minor) == (LineStatus.DIFFERENT, -1, -500)
    assert by_key[(D2, "7577", "IAM")].status is LineStatus.MISSING_IN_MTS
    assert by_key[(D2, "7576", "IAM")].status is LineStatus.MISSING_IN_OPERATOR_REPORT


def test_an_empty_operator_covers_every_operator_and_currency_must_agree():
    report = Report(D1, D1, (row(D1, messages=2, gross=1000), row(D1, operator="", messages=1, gross=500)))
    [line] = compare(parse("2026-01-15,7575,,3,1500,MAD\n"), report)
    assert line.status is LineStatus.MATCH and line.operator is None
    [euro] = compare(parse("2026-01-15,7575,,3,1500,EUR\n"), report)
    assert euro.status is LineStatus.DIFFERENT


@pytest.mark.parametrize("text, message", [
    ("", "no lines"),
    ("2026-13-01,7575,IAM,1,500,MAD\n", "date"),
    ("2026-01-15,75,IAM,1,500,MAD\n", "premium_number"),
    ("2026-01-15,7575,IAM,-1,500,MAD\n", "message_count"),
    ("2026-01-15,7575,IAM,1,5.00,MAD\n", "gross_amount_minor"),
    ("2026-01-15,7575,IAM,1,500,mad\n", "currency"),
    ("2026-01-15,7575,IAM,1,500,MAD\n2026-01-15,7575,IAM,1,500,MAD\n", "twice"),
])
def test_a_malformed_file_is_refused_with_its_line(text, message):
    with pytest.raises(InvalidOperatorReport, match=message):
        parse(text)
    with pytest.raises(InvalidOperatorReport, match="header"):
        parse_operator_report(io.StringIO("day,number\n2026-01-15,7575\n"))


def test_html_report_is_self_contained_and_carries_the_figures():
    report = Report(D1, D2, (row(D1, messages=3, gross=1500, failed=1, failed_gross=500, applied=500, forfeits=500),
                             row(D1, operator="INWI", messages=1, gross=500)),
                    deliveries=(DeliveryDay(D1, delivered=3, refused=1),))
    days = daily_figures(report)
    assert [(d.day, d.paid_sms, d.gross_minor, d.refusal_rate) for d in days] == [(D1, 3, 1500, 0.25), (D2, 0, 0, None)]
    page = render_html(report)
    assert page.count("<svg") == 2 and "<script" not in page and "<link" not in page and "@import" not in page
    assert "<tr><td>2026-01-15</td><td>3</td><td>15.00</td><td>5.00</td><td>5.00</td><td>3</td><td>1</td><td>25.0\u202f%</td></tr>" in page
    assert "<tr><td>2026-01-16</td><td>0</td>" in page

"""Operator reconciliation: an operator's daily CSV report against MTS's GetReport.

The CSV format (docs/reconciliation.md), UTF-8, comma-separated, one header row::

    date,premium_number,operator,message_count,gross_amount_minor,currency
    2026-01-15,7575,IAM,120,60000,MAD

``operator`` may be empty: the line then covers every operator of that day and number.
Each line is compared with MTS's *billed* figures for the same day x number (x operator):
the paid messages of that day (by the day MTS recorded them) minus those whose charge was
reported FAILED, and their gross amount. A day x number (x operator) that MTS has and the
file does not, within the file's dates, is a difference too.
"""

from __future__ import annotations

import csv
import enum
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Iterable

from .models import Report

COLUMNS = ("date", "premium_number", "operator", "message_count", "gross_amount_minor", "currency")
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_NUMBER = re.compile(r"^\+?[0-9]{3,15}$")


class InvalidOperatorReport(ValueError):
    """The CSV does not follow the documented format; the message names the line."""


@dataclass(frozen=True)
class OperatorLine:
    day: date
    premium_number: str
    operator: str | None
    """None: every operator of that day and number."""
    message_count: int
    gross_minor: int
    currency: str


class LineStatus(str, enum.Enum):
    MATCH = "MATCH"
    DIFFERENT = "DIFFERENT"
    MISSING_IN_MTS = "MISSING_IN_MTS"                # the operator charged what MTS never recorded
    MISSING_IN_OPERATOR_REPORT = "MISSING_IN_OPERATOR_REPORT"  # MTS credited what the operator does not report


@dataclass(frozen=True)
class Difference:
    day: date
    premium_number: str
    operator: str | None
    status: LineStatus
    operator_messages: int
    mts_messages: int
    operator_gross_minor: int
    mts_gross_minor: int
    currency: str

    @property
    def messages_delta(self) -> int:
        """MTS minus operator."""
        return self.mts_messages - self.operator_messages

    @property
    def gross_delta_minor(self) -> int:
        return self.mts_gross_minor - self.operator_gross_minor

    def to_dict(self) -> dict:
        return {
            "day": self.day.isoformat(), "premium_number": self.premium_number, "operator": self.operator,
            "status": self.status.value, "operator_messages": self.operator_messages, "mts_messages": self.mts_messages,
            "messages_delta": self.messages_delta, "operator_gross_minor": self.operator_gross_minor,
            "mts_gross_minor": self.mts_gross_minor, "gross_delta_minor": self.gross_delta_minor,
            "currency": self.currency,
        }


def read_operator_report(path: str | Path) -> list[OperatorLine]:
    with open(path, newline="", encoding="utf-8-sig") as handle:
        return parse_operator_report(handle, source=str(path))


def parse_operator_report(lines: Iterable[str], *, source: str = "<csv>") -> list[OperatorLine]:
    reader = csv.DictReader(lines)
    header = tuple((name or "").strip() for name in (reader.fieldnames or ()))
    if sorted(header) != sorted(COLUMNS):
        raise InvalidOperatorReport(f"{source}: header must be {','.join(COLUMNS)}, got {','.join(header) or 'nothing'}")
    seen: set[tuple] = set()
    result = []
    for row in reader:
        where = f"{source} line {reader.line_num}"
        row = {(k or "").strip(): (v or "").strip() for k, v in row.items()}
        try:
            day = date.fromisoformat(row["date"])
        except ValueError:
            raise InvalidOperatorReport(f"{where}: date must be YYYY-MM-DD, got {row['date']!r}") from None
        if not _NUMBER.match(row["premium_number"]):
            raise InvalidOperatorReport(f"{where}: premium_number {row['premium_number']!r} is not a service number")
        counts = []
        for name in ("message_count", "gross_amount_minor"):
            if not row[name].isdigit():
                raise InvalidOperatorReport(f"{where}: {name} must be a non-negative integer, got {row[name]!r}")
            counts.append(int(row[name]))
        if not _CURRENCY.match(row["currency"]):
            raise InvalidOperatorReport(f"{where}: currency must be an ISO 4217 code, got {row['currency']!r}")
        line = OperatorLine(day, row["premium_number"], row["operator"] or None, counts[0], counts[1], row["currency"])
        key = (line.day, line.premium_number, line.operator)
        if key in seen:
            raise InvalidOperatorReport(f"{where}: {line.day} {line.premium_number} {line.operator or '*'} is listed twice")
        seen.add(key)
        result.append(line)
    if not result:
        raise InvalidOperatorReport(f"{source}: no lines after the header")
    return result


def date_range(lines: list[OperatorLine]) -> tuple[date, date]:
    days = [line.day for line in lines]
    return min(days), max(days)


def compare(lines: list[OperatorLine], report: Report) -> list[Difference]:
    """Every line of the file and every MTS figure of its days, MATCH or not, sorted."""
    ours: dict[tuple, list[int]] = {}
    currencies: dict[tuple, str] = {}
    for row in report.rows:
        key = (row.day, row.premium_number, row.operator or None)
        figures = ours.setdefault(key, [0, 0])
        figures[0] += row.billed_messages
        figures[1] += row.billed_gross_minor
        currencies[key] = row.currency
    by_day_and_number: dict[tuple, list[tuple]] = {}
    for key in ours:
        by_day_and_number.setdefault(key[:2], []).append(key)
    covered: set[tuple] = set()
    result = []
    for line in lines:
        if line.operator is None:
            keys = by_day_and_number.get((line.day, line.premium_number), [])
        else:
            key = (line.day, line.premium_number, line.operator)
            keys = [key] if key in ours else []
        covered.update(keys)
        messages = sum(ours[k][0] for k in keys)
        gross = sum(ours[k][1] for k in keys)
        currency_ok = all(currencies[k] == line.currency for k in keys)
        if not keys and (line.message_count or line.gross_minor):
            status = LineStatus.MISSING_IN_MTS
        elif messages == line.message_count and gross == line.gross_minor and currency_ok:
            status = LineStatus.MATCH
        else:
            status = LineStatus.DIFFERENT
        result.append(Difference(line.day, line.premium_number, line.operator, status, line.message_count, messages,
                                 line.gross_minor, gross, line.currency))
    file_days = {line.day for line in lines}
    for key, (messages, gross) in ours.items():
        if key in covered or key[0] not in file_days or (messages == 0 and gross == 0):
            continue
        result.append(Difference(key[0], key[1], key[2], LineStatus.MISSING_IN_OPERATOR_REPORT, 0, messages, 0, gross,
                                 currencies[key]))
    return sorted(result, key=lambda d: (d.day, d.premium_number, d.operator or ""))

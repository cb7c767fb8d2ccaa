"""Money: integer minor units with an ISO 4217 currency.

Never use floating point for money. ``Money`` is immutable, built from an ``int`` only,
and arithmetic between two currencies raises ``CurrencyMismatch``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mts_service.errors import CurrencyMismatch, InvalidAmount

_CURRENCY = re.compile(r"^[A-Z]{3}$")
# Codes already checked: a service meets a handful, and every amount it reads or writes is
# a Money (the regex was a tenth of the cost of making one). Only valid str codes get in.
_SEEN_CURRENCIES: set[str] = set()


@dataclass(frozen=True, slots=True)
class Money:
    minor: int
    currency: str

    def __post_init__(self) -> None:
        # bool is an int subclass; a float or Decimal must never sneak in.
        if type(self.minor) is not int:
            raise InvalidAmount(f"amount must be integer minor units, got {type(self.minor).__name__}")
        if not (isinstance(self.currency, str) and self.currency in _SEEN_CURRENCIES):
            if not isinstance(self.currency, str) or not _CURRENCY.match(self.currency):
                raise InvalidAmount(f"currency must be an ISO 4217 code, got {self.currency!r}")
            if len(_SEEN_CURRENCIES) < 512:
                _SEEN_CURRENCIES.add(self.currency)

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(0, currency)

    def _same(self, other: Money) -> None:
        if not isinstance(other, Money):
            raise TypeError("Money only combines with Money")
        if other.currency != self.currency:
            raise CurrencyMismatch(f"cannot combine {self.currency} with {other.currency}")

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.minor + other.minor, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.minor - other.minor, self.currency)

    def __mul__(self, factor: int) -> Money:
        if type(factor) is not int:
            raise InvalidAmount("money can only be multiplied by an int")
        return Money(self.minor * factor, self.currency)

    __rmul__ = __mul__

    def __lt__(self, other: Money) -> bool:
        self._same(other)
        return self.minor < other.minor

    def __le__(self, other: Money) -> bool:
        self._same(other)
        return self.minor <= other.minor

    def clamp_at_zero(self) -> Money:
        return self if self.minor >= 0 else Money(0, self.currency)

    def __str__(self) -> str:
        return f"{self.minor} {self.currency} (minor units)"

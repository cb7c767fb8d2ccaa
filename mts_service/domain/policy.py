"""The merchant's policy: what a payment buys and under which terms.

A policy is immutable and versioned. Every grant records the version it was created under
and keeps those terms (value, order count, validity) when the policy later changes; the
mode and the per-message rules always come from the current policy.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field, replace
from datetime import timedelta
from functools import lru_cache
from typing import Mapping

from mts_service.domain.grants import GrantKind
from mts_service.domain.money import Money
from mts_service.domain.text import fold
from mts_service.errors import InvalidPolicy, MtsError

CROCKFORD_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
HELP_WORDS = frozenset({"aide", "help", "مساعدة"})
_SERVICE_NUMBER = re.compile(r"^\+?[0-9]{3,15}$")


class Mode(str, enum.Enum):
    ADVANCE = "ADVANCE"
    DEPOSIT = "DEPOSIT"
    BOTH = "BOTH"


class Flow(str, enum.Enum):
    CODE = "CODE"              # flow 1: a one-time code in the reply
    USERNAME = "USERNAME"      # flow 2: KEYWORD username
    REGISTERED = "REGISTERED"  # flow 3: the sender's registered number


@lru_cache(maxsize=256)  # a policy's keywords, folded once, not on every message
def _folded(keywords: tuple[str, ...]) -> frozenset[str]:
    return frozenset(fold(k) for k in keywords)


@dataclass(frozen=True)
class PremiumNumber:
    """A premium-rate service number, its price to the customer and the merchant's share."""

    number: str
    price: Money
    net: Money
    keywords: tuple[str, ...]
    operators: tuple[str, ...] = ()
    hold_until_billed: bool = False

    def matches_keyword(self, word: str) -> bool:
        return fold(word) in _folded(self.keywords)


@dataclass(frozen=True)
class CodeSettings:
    length: int = 8
    alphabet: str = CROCKFORD_ALPHABET
    ttl: timedelta = timedelta(days=7)
    max_failed_attempts: int = 5
    attempt_window: timedelta = timedelta(minutes=15)


@dataclass(frozen=True)
class Policy:
    mode: Mode
    currency: str
    premium_numbers: tuple[PremiumNumber, ...]
    advance_sms: int = 1
    deposit_sms: int = 3
    deposit_orders: int | None = 3
    deposit_validity: timedelta | None = timedelta(days=90)
    advance_validity: timedelta | None = None
    flows: frozenset[Flow] = frozenset(Flow)
    codes: CodeSettings = field(default_factory=CodeSettings)
    default_language: str = "fr"
    templates: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    max_reply_segments: int = 1
    auto_revoke_on_refusal: bool = False
    block_after_forfeits: int | None = None
    daily_cap_per_sender: int | None = None
    version: int = 0

    # -- lookups -------------------------------------------------------------------
    def premium_number(self, number: str) -> PremiumNumber | None:
        for premium in self.premium_numbers:
            if premium.number == number:
                return premium
        return None

    def sms_needed(self, kind: GrantKind) -> int:
        return self.advance_sms if kind is GrantKind.ADVANCE else self.deposit_sms

    def validity(self, kind: GrantKind) -> timedelta | None:
        return self.advance_validity if kind is GrantKind.ADVANCE else self.deposit_validity

    def orders_covered(self, kind: GrantKind) -> int | None:
        return 1 if kind is GrantKind.ADVANCE else self.deposit_orders

    def needs_advance(self) -> bool:
        return self.mode in (Mode.ADVANCE, Mode.BOTH)

    def needs_deposit(self) -> bool:
        return self.mode in (Mode.DEPOSIT, Mode.BOTH)

    def with_version(self, version: int) -> Policy:
        return replace(self, version=version)

    # -- validation ----------------------------------------------------------------
    def validate(self) -> Policy:
        """Refuse a policy that cannot be applied, at the time it is set (``InvalidPolicy``)."""
        if not isinstance(self.mode, Mode):
            raise InvalidPolicy("mode must be ADVANCE, DEPOSIT or BOTH")
        if not self.premium_numbers:
            raise InvalidPolicy("at least one premium number is needed")
        seen: set[str] = set()
        for premium in self.premium_numbers:
            if not _SERVICE_NUMBER.match(premium.number):
                raise InvalidPolicy(f"premium number {premium.number!r} is not a service number")
            if premium.number in seen:
                raise InvalidPolicy(f"premium number {premium.number} is listed twice")
            seen.add(premium.number)
            for amount, what in ((premium.price, "price"), (premium.net, "net share")):
                if amount.currency != self.currency:
                    raise InvalidPolicy(f"{premium.number}: {what} is in {amount.currency}, the policy in {self.currency}")
            if premium.price.minor <= 0:
                raise InvalidPolicy(f"{premium.number}: price must be positive")
            if not 0 <= premium.net.minor <= premium.price.minor:
                raise InvalidPolicy(f"{premium.number}: net share must be between 0 and the price")
            if not premium.keywords or any(not fold(k) or " " in fold(k) for k in premium.keywords):
                raise InvalidPolicy(f"{premium.number}: keywords must be single non-empty words")
            if any(fold(k) in HELP_WORDS for k in premium.keywords):
                raise InvalidPolicy(f"{premium.number}: a keyword cannot be a help word")
        for count, what in ((self.advance_sms, "advance_sms"), (self.deposit_sms, "deposit_sms")):
            if type(count) is not int or not 1 <= count <= 100:
                raise InvalidPolicy(f"{what} must be an integer between 1 and 100")
        if self.deposit_orders is not None and (type(self.deposit_orders) is not int or self.deposit_orders < 1):
            raise InvalidPolicy("deposit_orders must be a positive integer or null (unlimited)")
        for validity, what in ((self.deposit_validity, "deposit_validity"), (self.advance_validity, "advance_validity")):
            if validity is not None and validity <= timedelta(0):
                raise InvalidPolicy(f"{what} must be positive or null (unlimited)")
        if not self.flows:
            raise InvalidPolicy("at least one flow must be enabled")
        codes = self.codes
        if not 6 <= codes.length <= 16:
            raise InvalidPolicy("code length must be between 6 and 16")
        if len(set(codes.alphabet)) != len(codes.alphabet) or len(codes.alphabet) < 10:
            raise InvalidPolicy("code alphabet needs at least 10 distinct characters")
        if any(c not in CROCKFORD_ALPHABET for c in codes.alphabet):
            raise InvalidPolicy("code alphabet must be drawn from Crockford base32 (no look-alikes)")
        if len(codes.alphabet) ** codes.length < 2**32:
            raise InvalidPolicy("code space too small: at least 2^32 codes are needed")
        if codes.ttl <= timedelta(0) or codes.attempt_window <= timedelta(0) or codes.max_failed_attempts < 1:
            raise InvalidPolicy("code ttl, attempt window and max failed attempts must be positive")
        if not 1 <= self.max_reply_segments <= 10:
            raise InvalidPolicy("max_reply_segments must be between 1 and 10")
        for optional, what in ((self.block_after_forfeits, "block_after_forfeits"), (self.daily_cap_per_sender, "daily_cap_per_sender")):
            if optional is not None and (type(optional) is not int or optional < 1):
                raise InvalidPolicy(f"{what} must be a positive integer or null (off)")
        self._validate_templates()
        return self

    def _validate_templates(self) -> None:
        from mts_service.domain import replies

        try:
            replies.validate_templates(
                self.effective_templates(),
                max_segments=self.max_reply_segments,
                code_length=self.codes.length,
                currency=self.currency,
                default_language=self.default_language,
                keywords=tuple(k for p in self.premium_numbers for k in p.keywords),
                validities=(self.advance_validity, self.deposit_validity, self.codes.ttl),
            )
        except MtsError:
            raise
        except (KeyError, ValueError, TypeError) as exc:
            raise InvalidPolicy(f"invalid reply templates: {exc}") from None

    def effective_templates(self) -> Mapping[str, Mapping[str, str]]:
        """The policy's templates laid over the built-in ones, language by language."""
        from mts_service.domain import replies

        merged: dict[str, dict[str, str]] = {lang: dict(t) for lang, t in replies.DEFAULT_TEMPLATES.items()}
        for lang, templates in self.templates.items():
            merged.setdefault(lang, {}).update(templates)
        return merged


"""Customers of the shop, as MTS knows them."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from datetime import datetime

from mts_service.domain.text import fold
from mts_service.errors import InvalidInput

_REFERENCE = re.compile(r"^[A-Za-z0-9._:@/-]{1,64}$")
_USERNAME = re.compile(r"^[^\s]{2,32}$")
LANGUAGES = ("fr", "ar", "en")


class CustomerStatus(str, enum.Enum):
    ACTIVE = "ACTIVE"
    BLOCKED = "BLOCKED"


@dataclass(frozen=True)
class Customer:
    customer_id: int
    reference: str
    username: str | None
    mobile: str | None
    language: str | None
    status: CustomerStatus
    forfeit_count: int
    created_at: datetime
    failed_code_attempts: int = 0
    attempt_window_start: datetime | None = None
    code_locked_until: datetime | None = None

    @property
    def blocked(self) -> bool:
        return self.status is CustomerStatus.BLOCKED


@dataclass(frozen=True)
class Registration:
    reference: str
    username: str | None = None
    mobile: str | None = None  # E.164 once normalised by the service
    language: str | None = None

    def validate(self) -> Registration:
        if not isinstance(self.reference, str) or not _REFERENCE.match(self.reference):
            raise InvalidInput("customer reference must be 1-64 characters of letters, digits and . _ : @ / -")
        if self.username is not None and not _USERNAME.match(self.username):
            raise InvalidInput("username must be 2-32 characters without blanks")
        if self.language is not None and self.language not in LANGUAGES:
            raise InvalidInput(f"language must be one of {', '.join(LANGUAGES)}")
        return self

    @property
    def username_key(self) -> str | None:
        """Usernames match case- and accent-insensitively, as typed in an SMS."""
        return fold(self.username) if self.username else None

"""Inbound paid messages: what the text asks for, and which flow credits it.

Resolution of one message: a username in the text that names a customer -> flow 2; else a
sender registered to a customer -> flow 3; else flow 1 (a code). A paid message is never
lost: an unknown username falls back to flow 1, a text that matches no keyword is still
credited and the reply adds the help text.
"""

from __future__ import annotations

import enum
import hashlib
import re
from dataclasses import dataclass
from datetime import datetime

from mts_service.domain.policy import HELP_WORDS, PremiumNumber
from mts_service.domain.text import fold, split_words
from mts_service.errors import InvalidInput

MAX_TEXT_CHARS = 1600
_MESSAGE_ID = re.compile(r"^[\x21-\x7e]{1,128}$")


class Channel(str, enum.Enum):
    SMS = "SMS"
    MMS = "MMS"
    EMAIL = "EMAIL"


class ReceiptOutcome(str, enum.Enum):
    CODE_ISSUED = "CODE_ISSUED"
    CREDITED = "CREDITED"
    PROGRESS = "PROGRESS"
    REFUSED = "REFUSED"
    HELD = "HELD"          # recorded, credit held until the operator confirms the charge


class MessageFlag(str, enum.Enum):
    NEAR_DUPLICATE = "NEAR_DUPLICATE"   # same sender, number and text within a minute
    OVER_DAILY_CAP = "OVER_DAILY_CAP"   # credited (it was paid) but over the sender's daily cap
    UNKNOWN_NUMBER = "UNKNOWN_NUMBER"   # sent to a premium number the policy does not know
    BILLING_UNRECOVERED = "BILLING_UNRECOVERED"  # charge failed after its grant was used or gone


@dataclass(frozen=True)
class InboundSms:
    message_id: str
    sender: str
    service_number: str
    text: str
    received_at: datetime
    channel: Channel = Channel.SMS
    operator: str | None = None

    def validate(self) -> InboundSms:
        if not isinstance(self.message_id, str) or not _MESSAGE_ID.match(self.message_id):
            raise InvalidInput("messageId must be 1-128 printable ASCII characters")
        if not self.sender or len(self.sender) > 128:
            raise InvalidInput("sender must be 1-128 characters")
        if not self.service_number or len(self.service_number) > 32:
            raise InvalidInput("serviceNumber must be 1-32 characters")
        if len(self.text) > MAX_TEXT_CHARS:
            raise InvalidInput(f"text is longer than {MAX_TEXT_CHARS} characters")
        if self.operator is not None and len(self.operator) > 64:
            raise InvalidInput("operator must be at most 64 characters")
        return self

    def fingerprint(self) -> str:
        """What makes a retry identical: the same content under the same messageId."""
        parts = (self.channel.value, self.sender.strip(), self.service_number.strip(), self.text, self.operator or "")
        return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class ParsedText:
    keyword_matched: bool
    help_asked: bool
    username: str | None

    @property
    def username_key(self) -> str | None:
        return fold(self.username) if self.username else None


def parse_text(text: str, premium: PremiumNumber) -> ParsedText:
    """``KEYWORD``, ``KEYWORD username``, a help word, or anything else (still credited)."""
    words = split_words(text)
    if not words:
        return ParsedText(keyword_matched=False, help_asked=False, username=None)
    first = words[0]
    if first in HELP_WORDS:
        return ParsedText(keyword_matched=True, help_asked=True, username=None)
    if premium.matches_keyword(first):
        return ParsedText(keyword_matched=True, help_asked=False, username=words[1] if len(words) > 1 else None)
    return ParsedText(keyword_matched=False, help_asked=False, username=None)


def normalised_text_key(text: str) -> str:
    """The text as compared for near-duplicates."""
    return " ".join(split_words(text))

"""Normalisation of what customers type: keywords, usernames and codes.

Customers type on phones with every keyboard: case, accents, Eastern Arabic and Persian
digits, and look-alike letters must not make a paid message or a code fail.
"""

from __future__ import annotations

import unicodedata

# Eastern Arabic (U+0660..) and Persian (U+06F0..) digits to ASCII.
_DIGITS = {ord(c): str(i) for i, c in enumerate("٠١٢٣٤٥٦٧٨٩")}
_DIGITS.update({ord(c): str(i) for i, c in enumerate("۰۱۲۳۴۵۶۷۸۹")})
# Crockford base32 reading rules: O is 0, I and L are 1; U is never issued.
_CROCKFORD_LOOKALIKES = str.maketrans({"O": "0", "I": "1", "L": "1"})
_IGNORED_IN_CODES = {" ", "-", "\u00a0", "\t", "_", "\u2010", "\u2011", "\u2012", "\u2013", "\u2014"}


def fold(text: str) -> str:
    """Case- and accent-insensitive form of a word, with surrounding blanks removed."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_DIGITS))
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return unicodedata.normalize("NFC", stripped).casefold().strip()


def normalise_code(text: str) -> str:
    """A code as typed, in its canonical form: upper case, look-alikes mapped, no blanks or dashes."""
    cleaned = "".join(c for c in unicodedata.normalize("NFKC", text.translate(_DIGITS)) if c not in _IGNORED_IN_CODES)
    return cleaned.upper().translate(_CROCKFORD_LOOKALIKES)


def split_words(text: str) -> list[str]:
    return fold(text).split()

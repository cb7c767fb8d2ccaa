"""Late replies as MTs through Kannel's smsbox sendsms interface.

When the MTS answers after Kannel's sms-service call is over (outage, slow answer), the
bridge pushes the reply itself::

    GET /cgi-bin/sendsms?username=..&password=..&from=7575&to=%2B33612345678
        &text=Votre+code+...&charset=utf-8[&coding=2]

Kannel never switches to UCS-2 by itself (see KANNEL.md): a UTF-8 text with ``ô`` or Arabic
is squeezed into GSM-7 as ``?``. So ``coding=2`` is sent whenever the text holds a character
outside GSM-7, and ``charset=utf-8`` always, so that GSM-7 accents (é, è, à) survive too.
"""

from __future__ import annotations

import logging
from typing import Protocol

import requests

# One GSM-7 table for the whole project: the reply templates are checked with the same one.
from mts_service.domain.sms_text import needs_ucs2

__all__ = ["KannelSender", "SendFailed", "Sender", "needs_ucs2"]

log = logging.getLogger(__name__)

class SendFailed(Exception):
    """Kannel refused the MT or could not be reached; the reply stays pending in the spool."""

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


class Sender(Protocol):
    def send(self, to: str, text: str, *, sender: str | None = None) -> None: ...


class KannelSender:
    """Sends one MT (possibly several concatenated parts) through smsbox's sendsms."""

    def __init__(
        self,
        base_url: str,
        username: str,
        password: str,
        *,
        from_number: str | None = None,
        timeout: float = 10.0,
        session: requests.Session | None = None,
    ) -> None:
        """``base_url`` is smsbox's sendsms address, e.g. ``http://127.0.0.1:13013``
        (``/cgi-bin/sendsms`` is appended unless already there)."""
        base = base_url.rstrip("/")
        self.url = base if base.endswith("/cgi-bin/sendsms") else base + "/cgi-bin/sendsms"
        self.username = username
        self.password = password
        self.from_number = from_number
        self.timeout = timeout
        self._session = session or requests.Session()

    def send(self, to: str, text: str, *, sender: str | None = None) -> None:
        """Push ``text`` to ``to``; the sender is the premium number the customer wrote to.

        Raises SendFailed unless Kannel accepted the message (200 or 202).
        """
        params: dict[str, str] = {
            "username": self.username,
            "password": self.password,
            "to": to,
            "text": text,
            "charset": "utf-8",
        }
        origin = sender or self.from_number
        if origin:
            params["from"] = origin
        if needs_ucs2(text):
            params["coding"] = "2"
        try:
            response = self._session.get(self.url, params=params, timeout=self.timeout)
        except requests.RequestException as exc:
            raise SendFailed(f"sendsms unreachable: {exc.__class__.__name__}") from exc
        if response.status_code not in (200, 202):
            raise SendFailed(
                f"sendsms answered {response.status_code}: {response.text.strip()[:200]}",
                status_code=response.status_code,
            )
        log.info("sendsms accepted MT to %s (%d chars, ucs2=%s)", to, len(text), "coding" in params)

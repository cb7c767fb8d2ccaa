"""Billing confirmation: the operator's word on whether a paid message was really charged.

Some operators confirm the charge of a premium SMS later. The gateway then reports each
message ``CONFIRMED`` or ``FAILED`` (``ReportBilling``); an administrator may confirm a whole
day of a premium number from the operator's report. A message's billing status::

    UNCONFIRMED --CONFIRMED--> CONFIRMED      credited on arrival; nothing more to do
         |      --FAILED-----> FAILED         the payment is reversed in the ledger
    HELD --------CONFIRMED--> CONFIRMED       the held credit runs now (wallet, grant, code)
         --------FAILED-----> FAILED          reversed; nothing was ever credited

``HELD`` is the arrival status on a premium number whose policy says ``hold_until_billed``.
CONFIRMED and FAILED are final: the same report again gets the same answer, the other one
is a conflict.
"""

from __future__ import annotations

import enum

from mts_service.errors import InvalidInput, MessageIdConflict


class BillingStatus(str, enum.Enum):
    UNCONFIRMED = "UNCONFIRMED"
    HELD = "HELD"
    CONFIRMED = "CONFIRMED"
    FAILED = "FAILED"

    @classmethod
    def _missing_(cls, value: object) -> BillingStatus:
        raise InvalidInput(f"unknown billing status {value!r}")

    @property
    def is_final(self) -> bool:
        return self in (BillingStatus.CONFIRMED, BillingStatus.FAILED)


REPORTABLE = frozenset({BillingStatus.CONFIRMED, BillingStatus.FAILED})


def check_report(current: BillingStatus, reported: BillingStatus, *, message_id: str) -> bool:
    """May ``reported`` be applied to a message at ``current``?

    Returns True when it changes the status, False when it repeats the final one (the
    caller answers as before); raises ``MessageIdConflict`` when it contradicts it and
    ``InvalidInput`` when it is not a status a caller may report.
    """
    if reported not in REPORTABLE:
        raise InvalidInput("billing status must be CONFIRMED or FAILED")
    if not current.is_final:
        return True
    if current is reported:
        return False
    raise MessageIdConflict(
        f"billing of this message was already reported {current.value}", message_id=message_id, billing_status=current.value
    )

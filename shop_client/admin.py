"""AdminClient: the administrator's side of ``urn:mts:admin:v1``.

::

    admin = AdminClient.connect("https://mts.example:8443", certs_dir="certs")
    admin.revoke_authorization(customer_ref="cust-42", reason="refused delivery", order_id="o-1")
    for entry in admin.iter_ledger(customer_ref="cust-42"): ...
    admin.get_report(date(2026, 1, 1), date(2026, 1, 31))
    policy = load_policy_file("policy.yaml")
    admin.set_policy(policy, expected_version=admin.get_policy().version)

Policies travel in their file shape (``models.Policy``); ``policy_to_wire`` fills the
documented defaults and checks keys and types before anything is sent, with the same
codec the service uses, so a file is read the same way on both sides.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path
from typing import Any, Iterator, Mapping

import yaml

from gateway_client.soap_client import SoapClient
from mts_service.domain.policy_codec import policy_from_dict, policy_to_dict
from mts_service.errors import MtsError
from mts_service.policy_wire import document_fields, settings_from_document

from . import wire
from .errors import InvalidPolicyFile
from .models import BillingConfirmation, CustomerDetails, EntryKind, LedgerEntry, LedgerPage, Policy, Report, Revocation


class AdminClient(SoapClient):
    """Signs with the ``admin`` certificate."""

    service_name = "admin"
    role = "admin"

    def revoke_authorization(
        self,
        *,
        reason: str,
        customer_ref: str | None = None,
        grant_id: str | None = None,
        order_id: str | None = None,
    ) -> Revocation:
        """Forfeit the customer's active grants (or one grant). Revoking twice changes nothing."""
        if (customer_ref is None) == (grant_id is None):
            raise ValueError("give exactly one of customer_ref and grant_id")
        # zeep leaves an optional element out when its value is None.
        return wire.revocation(self._call(
            "RevokeAuthorization", reason=reason, customerRef=customer_ref, grantId=grant_id, orderId=order_id
        ))

    def get_customer(self, customer_ref: str) -> CustomerDetails:
        return wire.customer_details(self._call("GetCustomer", customerRef=customer_ref))

    def get_ledger(
        self,
        *,
        customer_ref: str | None = None,
        kind: EntryKind | str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        after_id: int | None = None,
        limit: int | None = None,
    ) -> LedgerPage:
        """One page, oldest first; pass ``next_after_id`` back as ``after_id`` for the next."""
        return wire.ledger_page(self._call(
            "GetLedger", customerRef=customer_ref, kind=EntryKind(kind).value if kind is not None else None,
            since=_aware(since), until=_aware(until), afterId=after_id, limit=limit,
        ))

    def iter_ledger(self, *, page_size: int = 100, **filters: Any) -> Iterator[LedgerEntry]:
        """Every matching entry, page after page."""
        after_id = filters.pop("after_id", None)
        while True:
            page = self.get_ledger(after_id=after_id, limit=page_size, **filters)
            yield from page.entries
            if page.next_after_id is None or not page.entries:
                return
            after_id = page.next_after_id

    def get_report(self, first_day: date, last_day: date) -> Report:
        return wire.report(self._call("GetReport", firstDay=first_day, lastDay=last_day))

    def confirm_billing(self, day: date, premium_number: str, operator: str | None = None) -> BillingConfirmation:
        """Confirm the unconfirmed charges of one day x premium number (x operator), from the operator's report.

        Held messages are left to the gateway (``held_left``): confirming them issues replies.
        """
        return wire.billing_confirmation(
            self._call("ConfirmBilling", day=day, premiumNumber=premium_number, operator=operator)
        )

    def get_policy(self) -> Policy | None:
        """The current policy, or None when none was ever set."""
        answer = self._call("GetPolicy")
        return policy_from_wire(answer) if answer is not None else None

    def set_policy(self, policy: Policy | Mapping[str, Any], *, expected_version: int | None = None) -> Policy:
        """Store a new version (refused with POLICY_VERSION_CONFLICT if ``expected_version`` is stale)."""
        args: dict[str, Any] = {"policy": policy_to_wire(policy)}
        if expected_version is not None:
            args["expectedVersion"] = expected_version
        return policy_from_wire(self._call("SetPolicy", **args))


def _aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        raise ValueError("naive datetime: pass a timezone-aware time")
    return value


# -- policies ----------------------------------------------------------------------------

def normalise_policy(data: Mapping[str, Any]) -> dict[str, Any]:
    """Fill the documented defaults and refuse unknown keys or wrong types (InvalidPolicyFile)."""
    try:
        normal = policy_to_dict(policy_from_dict(dict(data)))
    except MtsError as exc:
        raise InvalidPolicyFile(exc.message) from None
    normal.pop("version", None)
    return normal


def load_policy_file(path: str | Path) -> Policy:
    """Read a policy from YAML (``.yaml``/``.yml``) or JSON (anything else that parses as JSON)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidPolicyFile(f"{path}: {exc.strerror}") from None
    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise InvalidPolicyFile(f"{path}: not valid {'JSON' if path.suffix.lower() == '.json' else 'YAML'}: {exc}") from None
    if not isinstance(data, Mapping):
        raise InvalidPolicyFile(f"{path}: a policy file holds one mapping")
    version = data.get("version")
    return Policy(normalise_policy(data), version=version if isinstance(version, int) else None)


def policy_to_wire(policy: Policy | Mapping[str, Any]) -> dict[str, Any]:
    settings = policy.settings if isinstance(policy, Policy) else dict(policy)
    fields = document_fields(normalise_policy(settings))
    del fields["version"]  # the version is the server's to give
    fields["premiumNumbers"] = [_compact(p) for p in fields["premiumNumbers"]]
    return _compact(fields)


def _compact(values: dict[str, Any]) -> dict[str, Any]:
    """On the wire an absent optional element means unlimited / off: drop the Nones."""
    return {key: value for key, value in values.items() if value is not None}


def policy_from_wire(doc: Any) -> Policy:
    return Policy(settings_from_document(doc), version=doc.version)

"""PolicyDocument (wire) <-> Policy, through the domain's own dict codec (``policy_codec``).

The wire shape is typed (schema-validated) where the dict shape is loose; mapping both ways
through ``policy_to_dict`` / ``policy_from_dict`` keeps one set of rules for defaults and
"absent = unlimited". On the wire an absent count or duration means unlimited (or off), so
it is passed to the codec as an explicit null, never left to the codec's defaults.
"""

from __future__ import annotations

from typing import Any

from mts_service.domain.policy import Policy
from mts_service.domain.policy_codec import policy_from_dict, policy_to_dict
from mts_service.policy_wire import document_fields, settings_from_document
from mts_service.soap.types import CodeSettingsDoc, PolicyDocument, PremiumNumberDoc, Template


def policy_in(doc: Any) -> Policy:
    """Build (not validate: ``set_policy`` does) a Policy from a wire PolicyDocument."""
    return policy_from_dict(settings_from_document(doc))


def policy_out(policy: Policy) -> Any:
    fields = document_fields(policy_to_dict(policy))
    fields["premiumNumbers"] = [PremiumNumberDoc(**p) for p in fields["premiumNumbers"]]
    fields["codes"] = CodeSettingsDoc(**fields["codes"])
    fields["templates"] = [Template(**t) for t in fields["templates"]]
    return PolicyDocument(**fields)

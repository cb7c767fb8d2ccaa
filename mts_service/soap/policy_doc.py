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
from mts_service.soap.types import CodeSettingsDoc, PolicyDocument, PremiumNumberDoc, Template


def policy_in(doc: Any) -> Policy:
    """Build (not validate: ``set_policy`` does) a Policy from a wire PolicyDocument."""
    templates: dict[str, dict[str, str]] = {}
    for template in doc.templates or ():
        templates.setdefault(template.language, {})[template.key] = template.text or ""
    codes = doc.codes
    data = {
        "mode": doc.mode,
        "currency": doc.currency,
        "premium_numbers": [
            {
                "number": p.number,
                "price_minor": p.priceMinor,
                "net_minor": p.netMinor,
                "keywords": list(p.keywords or ()),
                "operators": list(p.operators or ()),
                "hold_until_billed": bool(p.holdUntilBilled),
            }
            for p in doc.premiumNumbers or ()
        ],
        "advance_sms": doc.advanceSms,
        "deposit_sms": doc.depositSms,
        "deposit_orders": doc.depositOrders,
        "deposit_validity_seconds": doc.depositValiditySeconds,
        "advance_validity_seconds": doc.advanceValiditySeconds,
        "flows": list(doc.flows or ()),
        "codes": {
            "length": codes.length,
            "alphabet": codes.alphabet,
            "ttl_seconds": codes.ttlSeconds,
            "max_failed_attempts": codes.maxFailedAttempts,
            "attempt_window_seconds": codes.attemptWindowSeconds,
        },
        "default_language": doc.defaultLanguage,
        "templates": templates,
        "max_reply_segments": doc.maxReplySegments,
        "auto_revoke_on_refusal": bool(doc.autoRevokeOnRefusal),
        "block_after_forfeits": doc.blockAfterForfeits,
        "daily_cap_per_sender": doc.dailyCapPerSender,
    }
    return policy_from_dict(data)


def policy_out(policy: Policy) -> Any:
    data = policy_to_dict(policy)
    codes = data["codes"]
    return PolicyDocument(
        version=data["version"],
        mode=data["mode"],
        currency=data["currency"],
        premiumNumbers=[
            PremiumNumberDoc(
                number=p["number"], priceMinor=p["price_minor"], netMinor=p["net_minor"], keywords=p["keywords"],
                operators=p["operators"], holdUntilBilled=p["hold_until_billed"],
            )
            for p in data["premium_numbers"]
        ],
        advanceSms=data["advance_sms"],
        depositSms=data["deposit_sms"],
        depositOrders=data["deposit_orders"],
        depositValiditySeconds=data["deposit_validity_seconds"],
        advanceValiditySeconds=data["advance_validity_seconds"],
        flows=data["flows"],
        codes=CodeSettingsDoc(
            length=codes["length"], alphabet=codes["alphabet"], ttlSeconds=codes["ttl_seconds"],
            maxFailedAttempts=codes["max_failed_attempts"], attemptWindowSeconds=codes["attempt_window_seconds"],
        ),
        defaultLanguage=data["default_language"],
        templates=[
            Template(language=lang, key=key, text=text)
            for lang, keyed in sorted(data["templates"].items())
            for key, text in sorted(keyed.items())
        ],
        maxReplySegments=data["max_reply_segments"],
        autoRevokeOnRefusal=data["auto_revoke_on_refusal"],
        blockAfterForfeits=data["block_after_forfeits"],
        dailyCapPerSender=data["daily_cap_per_sender"],
    )


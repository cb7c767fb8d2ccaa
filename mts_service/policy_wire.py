"""The WSDL's PolicyDocument field names <-> the policy's dict shape (``policy_codec``).

One mapping for both ends of the wire: the Spyne admin service (``soap/policy_doc.py``) and
the zeep admin client (``shop_client/admin.py``). It imports neither: documents are read by
attribute (a Spyne or a zeep object alike) and written as plain nested dicts.
"""

from __future__ import annotations

from typing import Any, Mapping


def settings_from_document(doc: Any) -> dict[str, Any]:
    """A wire PolicyDocument as the codec's dict; an absent optional element stays None
    (unlimited / off on the wire), never left to the codec's defaults."""
    templates: dict[str, dict[str, str]] = {}
    for template in doc.templates or ():
        templates.setdefault(template.language, {})[template.key] = template.text or ""
    codes = doc.codes
    return {
        "mode": doc.mode,
        "currency": doc.currency,
        "premium_numbers": [
            {
                "number": p.number,
                "price_minor": int(p.priceMinor),
                "net_minor": int(p.netMinor),
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
        "flows": sorted(doc.flows or ()),
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


def document_fields(data: Mapping[str, Any]) -> dict[str, Any]:
    """A complete codec dict (as ``policy_to_dict`` gives) as PolicyDocument fields.

    Nones are kept: each end decides how "absent" is written (Spyne omits None elements;
    the zeep client drops them before sending)."""
    codes = data["codes"]
    return {
        "version": data.get("version"),
        "mode": data["mode"],
        "currency": data["currency"],
        "premiumNumbers": [
            {
                "number": p["number"],
                "priceMinor": p["price_minor"],
                "netMinor": p["net_minor"],
                "keywords": list(p["keywords"]),
                "operators": list(p["operators"]),
                "holdUntilBilled": p["hold_until_billed"],
            }
            for p in data["premium_numbers"]
        ],
        "advanceSms": data["advance_sms"],
        "depositSms": data["deposit_sms"],
        "depositOrders": data["deposit_orders"],
        "depositValiditySeconds": data["deposit_validity_seconds"],
        "advanceValiditySeconds": data["advance_validity_seconds"],
        "flows": list(data["flows"]),
        "codes": {
            "length": codes["length"],
            "alphabet": codes["alphabet"],
            "ttlSeconds": codes["ttl_seconds"],
            "maxFailedAttempts": codes["max_failed_attempts"],
            "attemptWindowSeconds": codes["attempt_window_seconds"],
        },
        "defaultLanguage": data["default_language"],
        "templates": [
            {"language": language, "key": key, "text": text}
            for language, texts in sorted(data["templates"].items())
            for key, text in sorted(texts.items())
        ],
        "maxReplySegments": data["max_reply_segments"],
        "autoRevokeOnRefusal": data["auto_revoke_on_refusal"],
        "blockAfterForfeits": data["block_after_forfeits"],
        "dailyCapPerSender": data["daily_cap_per_sender"],
    }

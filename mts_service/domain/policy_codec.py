"""Policy <-> plain dict (JSON / YAML shape), used by storage, the admin service and the CLI.

Durations are whole seconds (``*_seconds``; null = unlimited); money is integer minor units in
the policy's currency. Unknown keys and wrong types are refused with ``InvalidPolicy``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Mapping

from mts_service.domain.money import Money
from mts_service.domain.policy import CodeSettings, Flow, Mode, Policy, PremiumNumber
from mts_service.errors import InvalidPolicy, MtsError

_TOP_KEYS = {
    "version", "mode", "currency", "premium_numbers", "advance_sms", "deposit_sms", "deposit_orders",
    "deposit_validity_seconds", "advance_validity_seconds", "flows", "codes", "default_language",
    "templates", "max_reply_segments", "auto_revoke_on_refusal", "block_after_forfeits", "daily_cap_per_sender",
}
_DEFAULT = Policy(mode=Mode.ADVANCE, currency="XXX", premium_numbers=())
_PREMIUM_KEYS = {"number", "price_minor", "net_minor", "keywords", "operators", "hold_until_billed"}
_CODE_KEYS = {"length", "alphabet", "ttl_seconds", "max_failed_attempts", "attempt_window_seconds"}


def _seconds(delta: timedelta | None) -> int | None:
    return None if delta is None else int(delta.total_seconds())


def policy_to_dict(policy: Policy) -> dict[str, Any]:
    return {
        "version": policy.version,
        "mode": policy.mode.value,
        "currency": policy.currency,
        "premium_numbers": [
            {
                "number": p.number,
                "price_minor": p.price.minor,
                "net_minor": p.net.minor,
                "keywords": list(p.keywords),
                "operators": list(p.operators),
                "hold_until_billed": p.hold_until_billed,
            }
            for p in policy.premium_numbers
        ],
        "advance_sms": policy.advance_sms,
        "deposit_sms": policy.deposit_sms,
        "deposit_orders": policy.deposit_orders,
        "deposit_validity_seconds": _seconds(policy.deposit_validity),
        "advance_validity_seconds": _seconds(policy.advance_validity),
        "flows": sorted(f.value for f in policy.flows),
        "codes": {
            "length": policy.codes.length,
            "alphabet": policy.codes.alphabet,
            "ttl_seconds": _seconds(policy.codes.ttl),
            "max_failed_attempts": policy.codes.max_failed_attempts,
            "attempt_window_seconds": _seconds(policy.codes.attempt_window),
        },
        "default_language": policy.default_language,
        "templates": {lang: dict(t) for lang, t in policy.templates.items()},
        "max_reply_segments": policy.max_reply_segments,
        "auto_revoke_on_refusal": policy.auto_revoke_on_refusal,
        "block_after_forfeits": policy.block_after_forfeits,
        "daily_cap_per_sender": policy.daily_cap_per_sender,
    }


def _expect(value: Any, kind: type | tuple[type, ...], what: str, *, optional: bool = False) -> Any:
    if value is None and optional:
        return None
    # bool is an int: a "true" count is a mistake, not a number.
    if isinstance(value, bool) and kind is int:
        raise InvalidPolicy(f"{what} must be an integer")
    if not isinstance(value, kind):
        raise InvalidPolicy(f"{what} has the wrong type")
    return value


def _duration(value: Any, what: str, *, optional: bool = True) -> timedelta | None:
    seconds = _expect(value, int, what, optional=optional)
    return None if seconds is None else timedelta(seconds=seconds)


def _check_keys(data: Mapping[str, Any], allowed: set[str], where: str) -> None:
    if not isinstance(data, Mapping):
        raise InvalidPolicy(f"{where} must be a mapping")
    unknown = set(data) - allowed
    if unknown:
        raise InvalidPolicy(f"unknown {where} keys: {', '.join(sorted(map(str, unknown)))}")


def policy_from_dict(data: Mapping[str, Any]) -> Policy:
    """Build (not yet validate) a policy from its dict form; call ``.validate()`` after."""
    try:
        return _policy_from_dict(data)
    except InvalidPolicy:
        raise
    except MtsError as exc:  # e.g. a bad currency code found while building Money
        raise InvalidPolicy(exc.message) from None
    except (KeyError, ValueError, TypeError) as exc:
        raise InvalidPolicy(f"malformed policy: {exc}") from None


def _policy_from_dict(data: Mapping[str, Any]) -> Policy:
    _check_keys(data, _TOP_KEYS, "policy")
    currency = _expect(data["currency"], str, "currency")
    try:
        mode = Mode(_expect(data["mode"], str, "mode"))
    except ValueError:
        raise InvalidPolicy("mode must be ADVANCE, DEPOSIT or BOTH") from None
    premiums = []
    for raw in _expect(data.get("premium_numbers", []), list, "premium_numbers"):
        _check_keys(raw, _PREMIUM_KEYS, "premium number")
        price = _expect(raw["price_minor"], int, "price_minor")
        premiums.append(
            PremiumNumber(
                number=str(_expect(raw["number"], (str, int), "number")),
                price=Money(price, currency),
                net=Money(_expect(raw.get("net_minor", price), int, "net_minor"), currency),
                keywords=tuple(_expect(k, str, "keyword") for k in _expect(raw["keywords"], list, "keywords")),
                operators=tuple(_expect(o, str, "operator") for o in _expect(raw.get("operators", []), list, "operators")),
                hold_until_billed=_expect(raw.get("hold_until_billed", False), bool, "hold_until_billed"),
            )
        )
    codes_raw = data.get("codes", {})
    _check_keys(codes_raw, _CODE_KEYS, "codes")
    defaults = CodeSettings()
    codes = CodeSettings(
        length=_expect(codes_raw.get("length", defaults.length), int, "codes.length"),
        alphabet=_expect(codes_raw.get("alphabet", defaults.alphabet), str, "codes.alphabet"),
        ttl=_duration(codes_raw.get("ttl_seconds", _seconds(defaults.ttl)), "codes.ttl_seconds", optional=False),
        max_failed_attempts=_expect(codes_raw.get("max_failed_attempts", defaults.max_failed_attempts), int, "codes.max_failed_attempts"),
        attempt_window=_duration(
            codes_raw.get("attempt_window_seconds", _seconds(defaults.attempt_window)), "codes.attempt_window_seconds", optional=False
        ),
    )
    try:
        flows = frozenset(Flow(_expect(f, str, "flow")) for f in data.get("flows", [f.value for f in Flow]))
    except ValueError:
        raise InvalidPolicy("flows must be among CODE, USERNAME, REGISTERED") from None
    templates_raw = _expect(data.get("templates") or {}, Mapping, "templates")
    templates = {
        _expect(lang, str, "template language"): {
            _expect(k, str, "template key"): _expect(v, str, "template") for k, v in _expect(t, Mapping, "templates").items()
        }
        for lang, t in templates_raw.items()
    }
    return Policy(
        mode=mode,
        currency=currency,
        premium_numbers=tuple(premiums),
        advance_sms=_expect(data.get("advance_sms", 1), int, "advance_sms"),
        deposit_sms=_expect(data.get("deposit_sms", 3), int, "deposit_sms"),
        # Absent means the default; an explicit null means unlimited.
        deposit_orders=_expect(data.get("deposit_orders", _DEFAULT.deposit_orders), int, "deposit_orders", optional=True),
        deposit_validity=_duration(
            data.get("deposit_validity_seconds", _seconds(_DEFAULT.deposit_validity)), "deposit_validity_seconds"
        ),
        advance_validity=_duration(data.get("advance_validity_seconds"), "advance_validity_seconds"),
        flows=flows,
        codes=codes,
        default_language=_expect(data.get("default_language", "fr"), str, "default_language"),
        templates=templates,
        max_reply_segments=_expect(data.get("max_reply_segments", 1), int, "max_reply_segments"),
        auto_revoke_on_refusal=_expect(data.get("auto_revoke_on_refusal", False), bool, "auto_revoke_on_refusal"),
        block_after_forfeits=_expect(data.get("block_after_forfeits"), int, "block_after_forfeits", optional=True),
        daily_cap_per_sender=_expect(data.get("daily_cap_per_sender"), int, "daily_cap_per_sender", optional=True),
        version=_expect(data.get("version", 0), int, "version"),
    )

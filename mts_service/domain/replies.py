"""Reply texts: templates per language, localised values, and the fit check.

The gateway sends our reply text back to the phone, so every reply is paid for in SMS
segments (see ``sms_text``). Three rules follow:

* A reply is in ONE language: the customer's (set at registration), else guessed from
  the script of the SMS they sent (Arabic letters → Arabic), else the policy default.
  A template missing in that language falls back to our built-in text *in the same
  language* (``DEFAULT_TEMPLATES``), never to another language, so a prefix sentence and
  the body of one reply never mix languages.
* Values are localised here: amounts with the currency's minor-unit exponent (Babel,
  CLDR data: MAD/EUR 2, JPY 0, TND/KWD 3), validity in days/hours/minutes with the
  language's plural rules, the grant kind as a word.
* A policy's templates are checked when the policy is set (``validate_templates``):
  every reply shape the service may send (``REPLY_SHAPES``), rendered with the longest
  values, must fit the allowed number of segments. An SMS arriving never discovers that
  a reply is too long.

Digits: all three languages use Western digits 0-9. The code the customer must type on
the shop is ASCII; Maghreb Arabic (ar-MA, ar-TN, ar-DZ) writes amounts in Western digits
too, and one message mixing ٠-٩ amounts with a 0-9 code invites typing mistakes.

French texts use only accents in the GSM 7-bit alphabet (é è à ù É, no ç ê ô): one of
those would turn the whole SMS into UCS-2 and cut its room from 160 to 70 characters.
Babel's narrow/no-break spaces are turned into plain spaces for the same reason.
"""

from __future__ import annotations

import enum
import itertools
import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any

from babel import Locale
from babel.numbers import format_currency, get_currency_precision, is_currency

from mts_service.domain.money import Money
from mts_service.domain.sms_text import SegmentInfo, segment_count
from mts_service.errors import InvalidAmount, InvalidInput, InvalidPolicy

__all__ = [
    "DEFAULT_TEMPLATES",
    "Language",
    "ReplyFit",
    "ReplyShape",
    "REPLY_SHAPES",
    "TemplateKey",
    "choose_language",
    "format_amount",
    "format_kind",
    "format_validity",
    "guess_language",
    "placeholders_of",
    "render_reply",
    "required_segments",
    "validate_templates",
    "worst_case_fits",
]


class Language(str, enum.Enum):
    FR = "fr"
    AR = "ar"
    EN = "en"

    @classmethod
    def _missing_(cls, value: object) -> Language:
        raise InvalidInput(f"unknown reply language {value!r}")


class TemplateKey(str, enum.Enum):
    CODE_ISSUED = "CODE_ISSUED"
    CREDITED = "CREDITED"
    PROGRESS = "PROGRESS"
    USERNAME_UNKNOWN = "USERNAME_UNKNOWN"
    NO_KEYWORD = "NO_KEYWORD"
    HELP = "HELP"
    REFUSED = "REFUSED"
    HELD = "HELD"

    @classmethod
    def _missing_(cls, value: object) -> TemplateKey:
        raise InvalidInput(f"unknown reply template {value!r}")


# Which placeholders each template may use. HELP's are optional; the others are what
# the service always passes for that reply.
ALLOWED_PLACEHOLDERS: Mapping[TemplateKey, frozenset[str]] = {
    TemplateKey.CODE_ISSUED: frozenset({"code", "amount", "validity", "kind"}),
    TemplateKey.CREDITED: frozenset({"amount", "kind", "validity"}),
    TemplateKey.PROGRESS: frozenset({"count", "needed"}),
    TemplateKey.USERNAME_UNKNOWN: frozenset(),
    TemplateKey.NO_KEYWORD: frozenset(),
    TemplateKey.HELP: frozenset({"keyword", "price"}),
    TemplateKey.REFUSED: frozenset(),
    TemplateKey.HELD: frozenset({"amount"}),
}
_ALL_PLACEHOLDERS = frozenset().union(*ALLOWED_PLACEHOLDERS.values())

# Each text below fits ONE SMS on its own with the longest values (tested); the
# Arabic ones are UCS-2, so they have 70 units, hence their brevity.
# Arabic validity is written in the genitive, after "لمدة" (for a period of); one
# unit is the bare noun ("لمدة يوم": for a day), as CLDR does.
DEFAULT_TEMPLATES: Mapping[str, Mapping[str, str]] = {
    Language.FR.value: {
        "CODE_ISSUED": "Code {code}: {kind} de {amount} enregistrée, validité {validity}."
        " Saisissez ce code sur le site marchand.",
        "CREDITED": "Merci. Votre {kind} de {amount} est active, validité {validity}.",
        "PROGRESS": "SMS {count} sur {needed} enregistré. Envoyez les suivants pour"
        " terminer le paiement.",
        "USERNAME_UNKNOWN": "Nom d'utilisateur introuvable.",
        "NO_KEYWORD": "Mot-clé non reconnu.",
        "HELP": "Pour payer, envoyez {keyword} par SMS ({price} par SMS) puis saisissez"
        " votre code sur le site.",
        "REFUSED": "Numéro de service inconnu: ce SMS n'a pas été crédité.",
        "HELD": "Paiement de {amount} enregistré, en attente de confirmation par l'opérateur."
        " Vous recevrez un SMS dès sa confirmation.",
    },
    Language.EN.value: {
        "CODE_ISSUED": "Code {code}: {kind} of {amount} recorded, validity {validity}."
        " Enter this code on the merchant site.",
        "CREDITED": "Thank you. Your {kind} of {amount} is active, validity {validity}.",
        "PROGRESS": "SMS {count} of {needed} received. Send the next ones to complete"
        " the payment.",
        "USERNAME_UNKNOWN": "Username not found.",
        "NO_KEYWORD": "Keyword not recognised.",
        "HELP": "To pay, send {keyword} by SMS ({price} per SMS), then enter your code"
        " on the site.",
        "REFUSED": "Unknown service number: this SMS was not credited.",
        "HELD": "Payment of {amount} received, awaiting the operator's confirmation."
        " You will get an SMS once it is confirmed.",
    },
    Language.AR.value: {
        "CODE_ISSUED": "رمز {code}: {kind} {amount} لمدة {validity}. أدخله بالموقع.",
        "CREDITED": "شكرا. تم تفعيل {kind} {amount} لمدة {validity}.",
        "PROGRESS": "وصلت الرسالة {count} من {needed}. أرسل الباقي لإتمام الدفع.",
        "USERNAME_UNKNOWN": "اسم المستخدم غير موجود.",
        "NO_KEYWORD": "كلمة غير معروفة.",
        "HELP": "أرسل {keyword} ({price}/رسالة) ثم أدخل الرمز بالموقع.",
        "REFUSED": "رقم خدمة غير معروف: لم تحتسب هذه الرسالة.",
        "HELD": "وصل دفع {amount}. ننتظر تأكيد المشغل وسنرسل لك رسالة.",
    },
}

_KIND_WORDS: Mapping[Language, Mapping[str, str]] = {
    Language.FR: {"ADVANCE": "avance", "DEPOSIT": "caution"},
    Language.EN: {"ADVANCE": "advance", "DEPOSIT": "deposit"},
    # عربون: earnest money, deducted from the price and lost if the buyer defaults,
    # which is exactly an advance; ضمان: a guarantee, the deposit (caution).
    Language.AR: {"ADVANCE": "عربون", "DEPOSIT": "ضمان"},
}

_UNLIMITED: Mapping[Language, str] = {
    Language.FR: "illimitée",
    Language.EN: "unlimited",
    Language.AR: "غير محدودة",
}

# Duration words by CLDR plural category ("one", "two", "few", "many", "other").
_DURATION_WORDS: Mapping[Language, Mapping[str, Mapping[str, str]]] = {
    Language.FR: {
        "day": {"one": "{n} jour", "other": "{n} jours"},
        "hour": {"one": "{n} heure", "other": "{n} heures"},
        "minute": {"one": "{n} minute", "other": "{n} minutes"},
    },
    Language.EN: {
        "day": {"one": "{n} day", "other": "{n} days"},
        "hour": {"one": "{n} hour", "other": "{n} hours"},
        "minute": {"one": "{n} minute", "other": "{n} minutes"},
    },
    Language.AR: {
        "day": {"one": "يوم", "two": "يومين", "few": "{n} أيام", "many": "{n} يوما", "other": "{n} يوم"},
        "hour": {"one": "ساعة", "two": "ساعتين", "few": "{n} ساعات", "many": "{n} ساعة", "other": "{n} ساعة"},
        "minute": {
            "one": "دقيقة",
            "two": "دقيقتين",
            "few": "{n} دقائق",
            "many": "{n} دقيقة",
            "other": "{n} دقيقة",
        },
    },
}

# French/English amounts show the ISO code after the number ("15,00 MAD", "15.00 MAD"):
# unambiguous and GSM-7 safe. Arabic uses the CLDR Arabic pattern and symbol (د.م.).
_ISO_PATTERN = "#,##0.00\xa0¤¤"
_NON_GSM_SPACES = str.maketrans({"\xa0": " ", "\u202f": " ", "\u2009": " "})


def _language(language: str | Language) -> Language:
    return Language(language.value if isinstance(language, Language) else str(language).lower())


# --- values ------------------------------------------------------------------------------


@lru_cache(maxsize=4096)  # a handful of amounts recur (prices x counts) and Babel is slow
def format_amount(minor: int, currency: str, language: str | Language) -> str:
    """``1500, "MAD"`` → fr ``"15,00 MAD"``, en ``"15.00 MAD"``, ar ``"‏15.00 د.م.‏"``."""
    lang = _language(language)
    if type(minor) is not int or minor < 0:
        raise InvalidAmount(f"amount must be non-negative integer minor units, got {minor!r}")
    if not isinstance(currency, str) or not is_currency(currency):
        raise InvalidAmount(f"unknown ISO 4217 currency {currency!r}")
    # Exact: scaleb shifts the decimal point, no float ever appears.
    value = Decimal(minor).scaleb(-get_currency_precision(currency))
    if lang is Language.AR:
        # Keeps Babel's right-to-left marks: they hold number and symbol in order
        # inside right-to-left text.
        return format_currency(value, currency, locale="ar", currency_digits=True, numbering_system="latn")
    text = format_currency(
        value, currency, format=_ISO_PATTERN, locale=lang.value, currency_digits=True, numbering_system="latn"
    )
    return text.translate(_NON_GSM_SPACES)


def _money_text(value: Any, language: Language, name: str) -> str:
    if isinstance(value, Money):
        return format_amount(value.minor, value.currency, language)
    if isinstance(value, str):
        return value
    raise InvalidInput(f"{{{name}}} must be Money or an already formatted str, got {type(value).__name__}")


def _duration(n: int, unit: str, language: Language) -> str:
    category = Locale.parse(language.value).plural_form(n)
    words = _DURATION_WORDS[language][unit]
    return words.get(category, words["other"]).format(n=n)


@lru_cache(maxsize=1024)  # a policy has a few validities; Babel's plural rules cost ~45 us a call
def format_validity(delta: timedelta | None, language: str | Language) -> str:
    """How long a grant or code stays valid, in words; ``None`` means unlimited.

    Whole days (or 2 days and more) show as days, then hours, then minutes. Always
    rounded *down*: a customer must never be told more time than they have.
    """
    lang = _language(language)
    if delta is None:
        return _UNLIMITED[lang]
    if delta <= timedelta(0):
        raise InvalidInput("validity must be positive or None (unlimited)")
    day, hour, minute = timedelta(days=1), timedelta(hours=1), timedelta(minutes=1)
    days = delta // day
    if days >= 2 or (days == 1 and delta % day == timedelta(0)):
        return _duration(days, "day", lang)
    if delta >= hour:
        return _duration(delta // hour, "hour", lang)
    return _duration(max(1, delta // minute), "minute", lang)


def format_kind(kind: Any, language: str | Language) -> str:
    """``"ADVANCE"``/``"DEPOSIT"`` (or an enum with that value) as a word of the language."""
    value = getattr(kind, "value", kind)
    try:
        return _KIND_WORDS[_language(language)][value]
    except (KeyError, TypeError):
        raise InvalidInput(f"unknown grant kind {kind!r}") from None


def _value_text(name: str, value: Any, language: Language) -> str:
    if name in ("amount", "price"):
        return _money_text(value, language, name)
    if name == "validity":
        return value if isinstance(value, str) else format_validity(value, language)
    if name == "kind":
        return format_kind(value, language)
    if name in ("count", "needed"):
        if type(value) is not int:
            raise InvalidInput(f"{{{name}}} must be an int, got {type(value).__name__}")
        return str(value)
    if not isinstance(value, str):
        raise InvalidInput(f"{{{name}}} must be a str, got {type(value).__name__}")
    return value


# --- language ------------------------------------------------------------------------------


def _is_arabic_letter(char: str) -> bool:
    code = ord(char)
    in_block = (
        0x0600 <= code <= 0x06FF
        or 0x0750 <= code <= 0x077F
        or 0x08A0 <= code <= 0x08FF
        or 0xFB50 <= code <= 0xFDFF
        or 0xFE70 <= code <= 0xFEFF
    )
    return in_block and char.isalpha()


def guess_language(text: str) -> str | None:
    """``"ar"`` if the text has an Arabic letter, else None (let the caller decide).

    Latin script tells nothing (French and English share it, and keywords are often
    Latin whatever the customer reads), and Arabic-Indic digits alone are not letters.
    """
    return Language.AR.value if any(_is_arabic_letter(char) for char in text) else None


def choose_language(customer_language: str | None, text: str, default: str) -> str:
    """The reply language: the customer's, else guessed from the SMS script, else default.

    A customer language is read by its primary subtag ("fr-MA", "AR_ma"); one we have no
    texts for is ignored rather than refused: the SMS was paid and must be answered.
    """
    fallback = _language(default).value  # a bad default is a policy bug: raise
    if customer_language:
        primary = customer_language.replace("_", "-").split("-")[0].lower()
        if primary in {member.value for member in Language}:
            return primary
    return guess_language(text) or fallback


# --- templates -------------------------------------------------------------------------------


@lru_cache(maxsize=512)
def placeholders_of(template: str) -> frozenset[str]:
    """The placeholder names of a template; InvalidPolicy on anything but ``{name}``.

    Attribute and index access (``{code.__class__}``), positional fields, conversions and
    format specs are refused: templates come from an administrator, and each of those
    can change lengths after validation or reach into objects.
    """
    names: set[str] = set()
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise InvalidPolicy(f"bad template syntax: {exc}") from None
    for _literal, field, spec, conversion in parsed:
        if field is None:
            continue
        if not field.isidentifier() or spec or conversion:
            raise InvalidPolicy(f"bad placeholder {{{field}{'!' + conversion if conversion else ''}"
                                f"{':' + spec if spec else ''}}}: use {{name}} only")
        names.add(field)
    return frozenset(names)


def _template(templates: Mapping[str, Mapping[str, str]] | None, language: Language, key: TemplateKey) -> str:
    own = (templates or {}).get(language.value) or {}
    text = own.get(key.value)
    return text if text is not None else DEFAULT_TEMPLATES[language.value][key.value]


def render_reply(
    templates: Mapping[str, Mapping[str, str]] | None,
    language: str | Language,
    key: str | TemplateKey,
    *,
    prefix_keys: Iterable[str | TemplateKey] = (),
    suffix_keys: Iterable[str | TemplateKey] = (),
    max_segments: int | None = None,
    **values: Any,
) -> str:
    """One reply: prefix sentences, the main one, suffix sentences, joined by a space.

    With ``max_segments``, the optional sentences are kept only while the reply fits:
    the suffixes are dropped first, then the prefix; the main sentence always stays (the
    policy check guarantees it fits on its own).

    ``values`` may be raw (``amount=Money``, ``validity=timedelta | None``,
    ``kind="ADVANCE"``, ``count=2``) and are localised here; ``amount``/``validity`` may
    also be preformatted str. A template missing from ``templates`` (or ``templates``
    None) uses ``DEFAULT_TEMPLATES`` of the same language.
    """
    prefix = tuple(prefix_keys)
    suffix = tuple(suffix_keys)
    if max_segments is not None:
        for pre, post in ((prefix, suffix), (prefix, ()), ((), ())):
            text = render_reply(templates, language, key, prefix_keys=pre, suffix_keys=post, **values)
            # Without optional sentences the reply is final: no need to count its segments.
            if not (pre or post) or segment_count(text).segments <= max_segments:
                return text
    prefix_keys, suffix_keys = prefix, suffix
    lang = _language(language)
    unknown = set(values) - _ALL_PLACEHOLDERS
    if unknown:
        raise InvalidInput(f"unknown reply values: {', '.join(sorted(unknown))}")
    keys = [TemplateKey(k) for k in prefix_keys] + [TemplateKey(key)] + [TemplateKey(k) for k in suffix_keys]
    sentences = []
    for template_key in keys:
        template = _template(templates, lang, template_key)
        needed = placeholders_of(template)
        missing = needed - set(values)
        if missing:
            raise InvalidInput(
                f"template {template_key.value} ({lang.value}) needs {', '.join(sorted(missing))}"
            )
        texts = {name: _value_text(name, values[name], lang) for name in needed}
        sentences.append(template.format_map(texts))
    return " ".join(sentences)


# --- fit check at policy time -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReplyShape:
    """One combination of templates the service may send as a single reply."""

    key: TemplateKey
    prefix_keys: tuple[TemplateKey, ...] = ()
    suffix_keys: tuple[TemplateKey, ...] = ()

    @property
    def label(self) -> str:
        return " + ".join(k.value for k in (*self.prefix_keys, self.key, *self.suffix_keys))


def _shapes() -> tuple[ReplyShape, ...]:
    # Only the essential sentence of each reply must fit: the optional prefix (unknown
    # username) and suffixes (no keyword, help) are added by ``render_reply`` only while
    # the reply stays within the allowed segments, so a code is never pushed into a
    # second SMS by advice the customer can ask for with AIDE/HELP.
    return tuple(
        ReplyShape(key)
        for key in (
            TemplateKey.CODE_ISSUED, TemplateKey.CREDITED, TemplateKey.PROGRESS, TemplateKey.HELP, TemplateKey.REFUSED,
            TemplateKey.HELD,
        )
    )


REPLY_SHAPES: tuple[ReplyShape, ...] = _shapes()

MAX_AMOUNT_MINOR = 9_999_999
MAX_COUNT = 999
# The longest validity texts: every plural category of each unit, up to 100 years.
# A policy with a longer validity should say "unlimited".
_WORST_VALIDITIES: tuple[timedelta | None, ...] = (
    None,
    *(timedelta(minutes=n) for n in (1, 2, 3, 11, 59)),
    *(timedelta(hours=n) for n in (1, 2, 3, 11, 47)),
    *(timedelta(days=n) for n in (1, 2, 3, 11, 100, 36_500)),
)
_ASSUMED_KEYWORD = "K" * 12  # when the caller names no keyword


@dataclass(frozen=True, slots=True)
class ReplyFit:
    """The longest rendering of one reply shape in one language."""

    language: Language
    shape: ReplyShape
    text: str
    info: SegmentInfo


def _worst(
    templates: Mapping[str, Mapping[str, str]] | None,
    language: Language,
    shape: ReplyShape,
    *,
    code: str,
    amount: Money,
    keywords: tuple[str, ...],
    validities: tuple[timedelta | None, ...],
) -> ReplyFit:
    worst: ReplyFit | None = None
    for kind, validity, keyword in itertools.product(("ADVANCE", "DEPOSIT"), validities, keywords):
        text = render_reply(
            templates,
            language,
            shape.key,
            prefix_keys=shape.prefix_keys,
            suffix_keys=shape.suffix_keys,
            code=code,
            amount=amount,
            price=amount,
            validity=validity,
            kind=kind,
            count=MAX_COUNT,
            needed=MAX_COUNT,
            keyword=keyword,
        )
        info = segment_count(text)
        if worst is None or (info.segments, info.units) > (worst.info.segments, worst.info.units):
            worst = ReplyFit(language, shape, text, info)
    if worst is None:
        raise InvalidPolicy("no validity or keyword to check the replies with")
    return worst


def worst_case_fits(
    templates: Mapping[str, Mapping[str, str]] | None,
    *,
    code_length: int,
    currency: str,
    keywords: Iterable[str] = (),
    validities: Iterable[timedelta | None] | None = None,
) -> list[ReplyFit]:
    """The longest rendering of every shape in every language (for checks and reports)."""
    amount = Money(MAX_AMOUNT_MINOR, currency)
    words = tuple(keywords) or (_ASSUMED_KEYWORD,)
    spans = tuple(validities) if validities is not None else _WORST_VALIDITIES
    return [
        _worst(templates, language, shape, code="W" * code_length, amount=amount, keywords=words, validities=spans)
        for language in Language
        for shape in REPLY_SHAPES
    ]


def required_segments(
    templates: Mapping[str, Mapping[str, str]] | None,
    *,
    code_length: int,
    currency: str,
    keywords: Iterable[str] = (),
    validities: Iterable[timedelta | None] | None = None,
) -> int:
    """The smallest ``max_segments`` these templates can be validated with.

    With the built-in texts this is 3: an Arabic reply (UCS-2, 67 units a part) that says
    the username was unknown, carries a code and appends the help does not fit in two.
    """
    fits = worst_case_fits(
        templates, code_length=code_length, currency=currency, keywords=keywords, validities=validities
    )
    return max(fit.info.segments for fit in fits)


def _check_structure(templates: Mapping[str, Mapping[str, str]]) -> None:
    if not isinstance(templates, Mapping):
        raise InvalidPolicy("reply templates must map language → template key → text")
    for language, by_key in templates.items():
        if language not in {member.value for member in Language}:
            raise InvalidPolicy(f"unknown reply language {language!r}", language=language)
        if not isinstance(by_key, Mapping):
            raise InvalidPolicy(f"templates of language {language!r} must map key → text", language=language)
        for key, template in by_key.items():
            if key not in {member.value for member in TemplateKey}:
                raise InvalidPolicy(f"unknown template key {key!r} (language {language})", language=language, key=key)
            where = f"template {key} (language {language})"
            if not isinstance(template, str) or not template.strip():
                raise InvalidPolicy(f"{where} must be non-empty text", language=language, key=key)
            try:
                names = placeholders_of(template)
            except InvalidPolicy as exc:
                raise InvalidPolicy(f"{where}: {exc.message}", language=language, key=key) from None
            extra = names - ALLOWED_PLACEHOLDERS[TemplateKey(key)]
            if extra:
                allowed = ", ".join(sorted(ALLOWED_PLACEHOLDERS[TemplateKey(key)])) or "none"
                raise InvalidPolicy(
                    f"{where} uses unknown placeholder(s) {', '.join(sorted(extra))}; allowed: {allowed}",
                    language=language,
                    key=key,
                )


def validate_templates(
    templates: Mapping[str, Mapping[str, str]] | None,
    *,
    max_segments: int,
    code_length: int,
    currency: str,
    default_language: str,
    keywords: Iterable[str] = (),
    validities: Iterable[timedelta | None] | None = None,
) -> None:
    """Refuse (InvalidPolicy) templates the service could not send within ``max_segments``.

    Checks syntax and placeholders per key, then renders every ``REPLY_SHAPES`` entry in
    every language (missing templates taken from ``DEFAULT_TEMPLATES``) with the longest
    values: a code of ``code_length``, amounts of 9 999 999 minor units, counts of 999,
    each grant kind, and each validity of ``validities`` (default: unlimited and every
    plural form up to 100 years) and keyword of ``keywords`` (default: 12 letters).
    """
    if type(max_segments) is not int or not 1 <= max_segments <= 10:
        raise InvalidPolicy(f"max_segments must be 1..10, got {max_segments!r}")
    if type(code_length) is not int or not 1 <= code_length <= 64:
        raise InvalidPolicy(f"code_length must be 1..64, got {code_length!r}")
    if not isinstance(currency, str) or not is_currency(currency):
        raise InvalidPolicy(f"unknown ISO 4217 currency {currency!r}")
    try:
        _language(default_language)
    except InvalidInput:
        raise InvalidPolicy(f"unknown default reply language {default_language!r}") from None
    _check_structure(templates or {})
    for fit in worst_case_fits(
        templates, code_length=code_length, currency=currency, keywords=keywords, validities=validities
    ):
        if fit.info.segments > max_segments:
            raise InvalidPolicy(
                f"template {fit.shape.key.value} (language {fit.language.value}) does not fit"
                f" {max_segments} SMS: '{fit.shape.label}' with the longest values takes"
                f" {fit.info.segments} ({fit.info.encoding.value}, {fit.info.units} units)",
                language=fit.language.value,
                key=fit.shape.key.value,
                shape=fit.shape.label,
                segments=fit.info.segments,
            )

"""Reply texts: language choice, localised values, rendering and the policy-time fit check."""

from __future__ import annotations

import enum
from datetime import timedelta

import pytest

from mts_service.domain.money import Money
from mts_service.domain.replies import (
    ALLOWED_PLACEHOLDERS,
    DEFAULT_TEMPLATES,
    REPLY_SHAPES,
    Language,
    TemplateKey,
    choose_language,
    format_amount,
    format_kind,
    format_validity,
    guess_language,
    placeholders_of,
    render_reply,
    required_segments,
    validate_templates,
    worst_case_fits,
)
from mts_service.domain.sms_text import Encoding, needs_ucs2, segment_count
from mts_service.errors import InvalidAmount, InvalidInput, InvalidPolicy

ARABIC_INDIC_DIGITS = set("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹")
RLM = "\u200f"


def code_issued(language: str, templates=None, **overrides) -> str:
    values = dict(code="7KQ2M9XD", amount=Money(1500, "MAD"), validity=timedelta(days=30), kind="ADVANCE")
    values.update(overrides)
    return render_reply(templates, language, TemplateKey.CODE_ISSUED, **values)


def validate(templates, **overrides) -> None:
    arguments = dict(max_segments=3, code_length=8, currency="MAD", default_language="fr")
    arguments.update(overrides)
    validate_templates(templates, **arguments)


# --- enums -------------------------------------------------------------------------------


def test_enums_have_wire_values_and_refuse_unknown_ones() -> None:
    assert [lang.value for lang in Language] == ["fr", "ar", "en"]
    assert Language("ar") is Language.AR
    assert TemplateKey("HELP") is TemplateKey.HELP
    with pytest.raises(InvalidInput):
        Language("de")
    with pytest.raises(InvalidInput):
        TemplateKey("GOODBYE")


# --- language choice -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("customer", "text", "default", "expected"),
    [
        ("ar", "AVANCE", "fr", "ar"),  # the customer's registered language wins
        ("en", "مساعدة", "fr", "en"),
        ("fr-MA", "x", "en", "fr"),  # primary subtag of a locale tag
        ("AR_ma", "x", "fr", "ar"),
        (None, "مساعدة", "fr", "ar"),  # Arabic letters
        (None, "AVANCE محمد", "en", "ar"),  # Latin keyword, Arabic name: the customer writes Arabic
        ("", "AVANCE", "en", "en"),  # Latin tells nothing: policy default
        (None, "aide", "fr", "fr"),
        (None, "٣٤٥", "fr", "fr"),  # Arabic-Indic digits are not letters
        ("de", "AVANCE", "en", "en"),  # a language we have no texts for is ignored
        ("de", "تسبيق", "fr", "ar"),
    ],
)
def test_choose_language(customer, text, default, expected) -> None:
    assert choose_language(customer, text, default) == expected


def test_guess_language_returns_none_for_latin() -> None:
    assert guess_language("AVANCE bob") is None
    assert guess_language("") is None
    assert guess_language("ﻣﺴﺎﻋﺪﺓ") == "ar"  # presentation forms, as some phones send


def test_choose_language_refuses_an_unknown_default() -> None:
    with pytest.raises(InvalidInput):
        choose_language(None, "AVANCE", "de")


# --- amounts -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("minor", "currency", "language", "expected"),
    [
        (1500, "MAD", "fr", "15,00 MAD"),
        (1500, "MAD", "en", "15.00 MAD"),
        (1500, "EUR", "fr", "15,00 EUR"),
        (5, "EUR", "en", "0.05 EUR"),
        (0, "MAD", "fr", "0,00 MAD"),
        (1500, "JPY", "fr", "1 500 JPY"),  # exponent 0: minor units are yen
        (1500, "JPY", "en", "1,500 JPY"),
        (1500, "TND", "fr", "1,500 TND"),  # exponent 3: 1500 millimes
        (1500, "TND", "en", "1.500 TND"),
        (1, "KWD", "en", "0.001 KWD"),
        (9_999_999, "MAD", "fr", "99 999,99 MAD"),  # plain space, not Babel's U+202F
        (9_999_999, "MAD", "en", "99,999.99 MAD"),
    ],
)
def test_format_amount(minor, currency, language, expected) -> None:
    assert format_amount(minor, currency, language) == expected


@pytest.mark.parametrize("language", ["fr", "en"])
def test_latin_amounts_stay_gsm7(language) -> None:
    for currency in ("MAD", "EUR", "JPY", "TND"):
        assert not needs_ucs2(format_amount(9_999_999, currency, language))


def test_arabic_amount_uses_western_digits_and_the_arabic_symbol() -> None:
    text = format_amount(1500, "MAD", Language.AR)
    assert text == f"{RLM}15.00\xa0د.م.{RLM}"
    assert format_amount(1500, "TND", "ar") == f"{RLM}1.500\xa0د.ت.{RLM}"
    assert not ARABIC_INDIC_DIGITS & set(format_amount(9_999_999, "MAD", "ar"))


@pytest.mark.parametrize("minor", [15.0, True, -1, "1500"])
def test_format_amount_refuses_non_integer_or_negative_minor_units(minor) -> None:
    with pytest.raises(InvalidAmount):
        format_amount(minor, "MAD", "fr")


def test_format_amount_refuses_unknown_currency_and_language() -> None:
    with pytest.raises(InvalidAmount):
        format_amount(100, "XXQ", "fr")
    with pytest.raises(InvalidInput):
        format_amount(100, "MAD", "de")


# --- validity and kind ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("delta", "fr", "en"),
    [
        (None, "illimitée", "unlimited"),
        (timedelta(days=30), "30 jours", "30 days"),
        (timedelta(days=1), "1 jour", "1 day"),
        (timedelta(hours=36), "36 heures", "36 hours"),
        (timedelta(days=2, hours=23), "2 jours", "2 days"),  # rounded down, never up
        (timedelta(minutes=90), "1 heure", "1 hour"),
        (timedelta(minutes=15), "15 minutes", "15 minutes"),
        (timedelta(seconds=30), "1 minute", "1 minute"),
    ],
)
def test_format_validity(delta, fr, en) -> None:
    assert format_validity(delta, "fr") == fr
    assert format_validity(delta, "en") == en


@pytest.mark.parametrize(
    ("days", "expected"),
    [(1, "يوم"), (2, "يومين"), (3, "3 أيام"), (10, "10 أيام"), (11, "11 يوما"), (100, "100 يوم"), (103, "103 أيام")],
)
def test_arabic_validity_follows_plural_rules(days, expected) -> None:
    assert format_validity(timedelta(days=days), "ar") == expected


def test_arabic_unlimited_and_hours() -> None:
    assert format_validity(None, "ar") == "غير محدودة"
    assert format_validity(timedelta(hours=2), "ar") == "ساعتين"
    assert format_validity(timedelta(minutes=5), "ar") == "5 دقائق"


@pytest.mark.parametrize("delta", [timedelta(0), timedelta(seconds=-1)])
def test_format_validity_refuses_non_positive(delta) -> None:
    with pytest.raises(InvalidInput):
        format_validity(delta, "fr")


class GrantKind(enum.Enum):  # stands in for the grants module's enum: only .value is read
    ADVANCE = "ADVANCE"
    DEPOSIT = "DEPOSIT"


def test_format_kind() -> None:
    assert [format_kind(k, "fr") for k in ("ADVANCE", "DEPOSIT")] == ["avance", "caution"]
    assert [format_kind(k, "en") for k in GrantKind] == ["advance", "deposit"]
    assert format_kind("ADVANCE", "ar") == "عربون"
    assert format_kind("DEPOSIT", "ar") == "ضمان"
    with pytest.raises(InvalidInput):
        format_kind("LOAN", "fr")


# --- rendering -----------------------------------------------------------------------------------------


def test_render_code_issued_in_french() -> None:
    assert code_issued("fr") == (
        "Code 7KQ2M9XD: avance de 15,00 MAD enregistrée, validité 30 jours."
        " Saisissez ce code sur le site marchand."
    )
    assert segment_count(code_issued("fr")).encoding is Encoding.GSM7


def test_render_joins_prefix_and_suffix_sentences() -> None:
    text = render_reply(
        None,
        "en",
        "CREDITED",
        prefix_keys=["USERNAME_UNKNOWN"],
        suffix_keys=[TemplateKey.NO_KEYWORD, TemplateKey.HELP],
        amount=Money(300, "EUR"),
        kind=GrantKind.DEPOSIT,
        validity=None,
        keyword="AVANCE",
        price=Money(300, "EUR"),
    )
    assert text == (
        "Username not found. Thank you. Your deposit of 3.00 EUR is active, validity unlimited."
        " Keyword not recognised. To pay, send AVANCE by SMS (3.00 EUR per SMS), then enter"
        " your code on the site."
    )


def test_render_arabic_reads_right_to_left_with_an_ascii_code() -> None:
    text = code_issued("ar", validity=timedelta(days=11), kind="DEPOSIT")
    assert text == f"رمز 7KQ2M9XD: ضمان {RLM}15.00\xa0د.م.{RLM} لمدة 11 يوما. أدخله بالموقع."
    assert "7KQ2M9XD" in text  # the code is left as typed on the shop: ASCII
    assert not ARABIC_INDIC_DIGITS & set(text)
    assert segment_count(text).encoding is Encoding.UCS2
    assert segment_count(text).segments == 1


def test_render_progress_and_refused() -> None:
    assert render_reply(None, "fr", "PROGRESS", count=1, needed=3) == (
        "SMS 1 sur 3 enregistré. Envoyez les suivants pour terminer le paiement."
    )
    assert render_reply(None, "en", "REFUSED") == "Unknown service number: this SMS was not credited."


def test_policy_template_overrides_and_missing_ones_fall_back_to_the_same_language() -> None:
    templates = {"fr": {"CODE_ISSUED": "Votre code: {code}"}}
    assert code_issued("fr", templates) == "Votre code: 7KQ2M9XD"
    # Arabic has no override: our Arabic text, not the French override or the default language.
    assert code_issued("ar", templates).startswith("رمز 7KQ2M9XD")
    mixed = render_reply(templates, "fr", "CODE_ISSUED", prefix_keys=["USERNAME_UNKNOWN"], **_code_values())
    assert mixed == "Nom d'utilisateur introuvable. Votre code: 7KQ2M9XD"


def _code_values() -> dict:
    return dict(code="7KQ2M9XD", amount=Money(1500, "MAD"), validity=None, kind="ADVANCE")


def test_preformatted_amount_and_validity_are_used_as_given() -> None:
    text = code_issued("en", amount="15.00 MAD", validity="2 weeks")
    assert "advance of 15.00 MAD recorded, validity 2 weeks." in text


def test_render_refuses_missing_unknown_and_mistyped_values() -> None:
    with pytest.raises(InvalidInput, match="needs code"):
        render_reply(None, "fr", "CODE_ISSUED", amount=Money(1, "MAD"), validity=None, kind="ADVANCE")
    with pytest.raises(InvalidInput, match="unknown reply values: colour"):
        render_reply(None, "fr", "REFUSED", colour="red")
    with pytest.raises(InvalidInput):
        render_reply(None, "fr", "PROGRESS", count="1", needed=3)
    with pytest.raises(InvalidInput):
        code_issued("fr", amount=1500)  # raw int: which currency?


def test_render_refuses_attribute_access_in_a_template() -> None:
    with pytest.raises(InvalidPolicy):
        render_reply({"fr": {"REFUSED": "{code.__class__}"}}, "fr", "REFUSED", code="X")


# --- default templates ----------------------------------------------------------------------------------


def test_default_templates_cover_every_language_and_key_with_allowed_placeholders() -> None:
    assert set(DEFAULT_TEMPLATES) == {lang.value for lang in Language}
    for language, by_key in DEFAULT_TEMPLATES.items():
        assert set(by_key) == {key.value for key in TemplateKey}, language
        for key, template in by_key.items():
            assert placeholders_of(template) <= ALLOWED_PLACEHOLDERS[TemplateKey(key)], (language, key)


@pytest.mark.parametrize("language", ["fr", "en"])
def test_french_and_english_defaults_are_gsm7(language) -> None:
    for key, template in DEFAULT_TEMPLATES[language].items():
        assert not needs_ucs2(template), key


@pytest.mark.parametrize("currency", ["MAD", "EUR", "JPY", "TND", "KWD"])
def test_every_default_template_alone_fits_one_sms_with_the_longest_values(currency) -> None:
    alone = [f for f in worst_case_fits(None, code_length=10, currency=currency)
             if not f.shape.prefix_keys and not f.shape.suffix_keys]
    assert {f.shape.key for f in alone} == set(TemplateKey) - {TemplateKey.USERNAME_UNKNOWN, TemplateKey.NO_KEYWORD}
    for fit in alone:
        assert fit.info.segments == 1, (fit.language, fit.shape.label, fit.info, fit.text)
    for key in (TemplateKey.USERNAME_UNKNOWN, TemplateKey.NO_KEYWORD):
        for language in Language:
            assert segment_count(DEFAULT_TEMPLATES[language.value][key.value]).segments == 1


def test_defaults_pass_validation_in_one_sms() -> None:
    validate(None, max_segments=1)
    validate(DEFAULT_TEMPLATES, max_segments=1)


def test_reply_shapes_are_the_essential_sentences_only() -> None:
    labels = {shape.label for shape in REPLY_SHAPES}
    assert labels == {"HELP", "REFUSED", "CODE_ISSUED", "CREDITED", "PROGRESS", "HELD"}


def test_optional_sentences_are_dropped_to_stay_within_the_segments() -> None:
    values = dict(code="W" * 8, amount=Money(9_999_999, "MAD"), validity=timedelta(days=7), kind="ADVANCE",
                  keyword="AVANCE", price=Money(500, "MAD"))
    full = render_reply(None, "ar", TemplateKey.CODE_ISSUED, prefix_keys=[TemplateKey.USERNAME_UNKNOWN],
                        suffix_keys=[TemplateKey.NO_KEYWORD, TemplateKey.HELP], **values)
    assert segment_count(full).segments > 1
    fitted = render_reply(None, "ar", TemplateKey.CODE_ISSUED, prefix_keys=[TemplateKey.USERNAME_UNKNOWN],
                          suffix_keys=[TemplateKey.NO_KEYWORD, TemplateKey.HELP], max_segments=1, **values)
    assert segment_count(fitted).segments == 1
    assert "W" * 8 in fitted
    roomy = render_reply(None, "ar", TemplateKey.CODE_ISSUED, prefix_keys=[TemplateKey.USERNAME_UNKNOWN],
                         suffix_keys=[TemplateKey.NO_KEYWORD, TemplateKey.HELP], max_segments=10, **values)
    assert roomy == full


# --- policy-time refusals ----------------------------------------------------------------------------------


def test_too_long_template_is_refused_naming_language_and_key() -> None:
    with pytest.raises(InvalidPolicy) as caught:
        validate({"en": {"REFUSED": "Sorry. " * 70}})
    message = caught.value.message
    assert "REFUSED" in message and "language en" in message
    assert caught.value.code.value == "INVALID_POLICY"


def tiny_templates() -> dict[str, dict[str, str]]:
    """Every text "ok": one SMS is out of reach for the default combined shapes, so tests
    at max_segments=1 shrink all other texts and only the template under test can overflow."""
    return {lang.value: {key.value: "ok" for key in TemplateKey} for lang in Language}


def test_tiny_templates_fit_one_sms() -> None:
    validate(tiny_templates(), max_segments=1)


def test_fit_is_checked_with_a_code_of_the_policy_length() -> None:
    templates = tiny_templates()
    # With an 8-character code exactly 160.
    templates["fr"]["CODE_ISSUED"] = "{code}" + "x" * 152
    validate(templates, max_segments=1, code_length=8)
    with pytest.raises(InvalidPolicy, match=r"CODE_ISSUED \(language fr\)"):
        validate(templates, max_segments=1, code_length=9)


def test_fit_is_checked_with_the_longest_validity_text() -> None:
    templates = tiny_templates()
    # With "1 jour" (6) that is exactly 160.
    templates["fr"]["CREDITED"] = "{validity}" + "x" * 154
    validate(templates, max_segments=1, validities=[timedelta(days=1)])
    with pytest.raises(InvalidPolicy, match=r"CREDITED \(language fr\)"):
        validate(templates, max_segments=1)  # "illimitée" (9) makes it 163


def test_an_arabic_keyword_turns_french_help_into_ucs2() -> None:
    def help_fit(keywords):
        return next(f for f in worst_case_fits(None, code_length=8, currency="MAD", keywords=keywords)
                    if f.language is Language.FR and f.shape.label == "HELP")

    assert help_fit(["AVANCE"]).info.encoding is Encoding.GSM7
    arabic = help_fit(["مساعدة"])
    assert arabic.info.encoding is Encoding.UCS2
    assert arabic.info.segments == 2


@pytest.mark.parametrize(
    ("templates", "fragment"),
    [
        ({"fr": {"CODE_ISSUED": "Code {codes}"}}, "unknown placeholder(s) codes"),
        ({"fr": {"REFUSED": "Code {code}"}}, "unknown placeholder(s) code; allowed: none"),
        ({"fr": {"PROGRESS": "{count} / {needed} {amount}"}}, "allowed: count, needed"),
        ({"fr": {"CODE_ISSUED": "Code {code"}}, "bad template syntax"),
        ({"fr": {"CODE_ISSUED": "Code } {code}"}}, "bad template syntax"),
        ({"fr": {"CODE_ISSUED": "{code.__class__}"}}, "use {name} only"),
        ({"fr": {"CODE_ISSUED": "{code[0]}"}}, "use {name} only"),
        ({"fr": {"CODE_ISSUED": "{amount:>90}"}}, "use {name} only"),
        ({"fr": {"CODE_ISSUED": "{code!r}"}}, "use {name} only"),
        ({"fr": {"CODE_ISSUED": "Code {}"}}, "use {name} only"),
        ({"de": {"HELP": "Hilfe"}}, "unknown reply language 'de'"),
        ({"fr": {"GOODBYE": "Au revoir"}}, "unknown template key 'GOODBYE'"),
        ({"fr": {"HELP": "   "}}, "must be non-empty text"),
        ({"fr": ["HELP"]}, "must map key"),
    ],
)
def test_invalid_templates_are_refused(templates, fragment) -> None:
    with pytest.raises(InvalidPolicy) as caught:
        validate(templates)
    assert fragment in caught.value.message


def test_bad_syntax_message_names_language_and_key() -> None:
    with pytest.raises(InvalidPolicy) as caught:
        validate({"ar": {"HELP": "أرسل {keyword"}})
    assert "template HELP (language ar)" in caught.value.message


@pytest.mark.parametrize(
    "overrides",
    [
        {"max_segments": 0},
        {"max_segments": 11},
        {"code_length": 0},
        {"currency": "XXQ"},
        {"currency": "mad"},
        {"default_language": "de"},
    ],
)
def test_invalid_parameters_are_refused(overrides) -> None:
    with pytest.raises(InvalidPolicy):
        validate(None, **overrides)


def test_required_segments_of_the_defaults_is_one() -> None:
    assert required_segments(None, code_length=8, currency="MAD") == 1
    assert required_segments(tiny_templates(), code_length=8, currency="MAD") == 1


def test_policy_specific_keywords_and_validities_are_used_when_given() -> None:
    with pytest.raises(InvalidPolicy):
        validate(None, validities=[])
    validate(None, keywords=["AVANCE", "CAUTION"], validities=[None, timedelta(days=90)])

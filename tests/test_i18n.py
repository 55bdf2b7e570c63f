"""Every text in Danish and English with the same placeholders; numbers and dates read right."""

from __future__ import annotations

import datetime as dt
import string

from bot.core.i18n import catalogue, language_of, translator


def _placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_both_languages_have_the_same_keys_and_placeholders() -> None:
    da, en = catalogue("da"), catalogue("en")
    assert sorted(set(da) ^ set(en)) == []
    differing = [k for k in da if _placeholders(da[k]) != _placeholders(en[k])]
    assert differing == []


def test_numbers_and_dates_follow_the_language() -> None:
    da, en = translator("da"), translator("en")
    assert da.number(4.2) == "4,2" and en.number(4.2) == "4.2"
    assert da.date(dt.date(2026, 1, 12)) == "12. jan."
    assert en.date(dt.date(2026, 1, 12)) == "12 Jan"
    assert da.weekday_time(dt.datetime(2026, 11, 27, 16, 0)) == "fredag kl. 16:00"


def test_platform_locales_pick_a_language() -> None:
    assert language_of("en-US") == "en"
    assert language_of("da-DK") == "da"
    assert language_of("nb_NO") == "da"
    assert language_of("de-DE") == "en"
    assert language_of(None, "en") == "en"


def test_counts_use_the_languages_plural_rules_not_brackets() -> None:
    from bot.core.i18n import Translator, catalogue

    da, en = Translator("da"), Translator("en")
    assert da.plural("pulse.status_open", 1).startswith("Du har 1 åben runde.")
    assert da.plural("pulse.status_open", 3).startswith("Du har 3 åbne runder.")
    assert en.plural("pulse.status_open", 1).startswith("You have 1 open round.")
    assert en.plural("pulse.status_open", 0).startswith("You have 0 open rounds.")
    for lang in ("da", "en"):
        for key, text in catalogue(lang).items():  # type: ignore[arg-type]
            assert "runde(r)" not in text and "round(s)" not in text, key

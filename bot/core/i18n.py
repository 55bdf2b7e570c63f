"""User-facing text in Danish and English, and locale-aware numbers and dates (Babel).

Catalogues live in bot/core/locales/<lang>/<domain>.toml, one file per domain (pulse, agenda, ...);
keys are "<domain>.<key>" and values are str.format templates. A test holds that both languages
have the same keys and the same placeholders.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from storage.models import Member

import datetime as dt
import tomllib
from functools import cache
from pathlib import Path
from typing import Literal

from babel import Locale
from babel.dates import format_date, format_datetime, format_time
from babel.numbers import format_decimal, format_percent

Lang = Literal["da", "en"]
LANGUAGES: tuple[Lang, ...] = ("da", "en")
LOCALES = Path(__file__).parent / "locales"
_BABEL = {"da": "da_DK", "en": "en_GB"}


@cache
def catalogue(lang: Lang) -> dict[str, str]:
    merged: dict[str, str] = {}
    for path in sorted((LOCALES / lang).glob("*.toml")):
        with path.open("rb") as fh:
            for key, value in _flatten(tomllib.load(fh)).items():
                merged[f"{path.stem}.{key}"] = value
    return merged


def _flatten(tree: dict[str, object], prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = str(value)
    return out


def chosen_language(value: str | None, default: Lang) -> Lang:
    """A member's own choice of language, where they made a valid one; else `default`."""
    for lang in LANGUAGES:
        if value == lang:
            return lang
    return default


def language_of(locale: str | None, default: Lang = "da") -> Lang:
    """Slack's "en-US", Teams' "da-DK", a member's "en": the language we speak to them."""
    if not locale:
        return default
    head = locale.replace("_", "-").split("-")[0].lower()
    if head in ("da", "en"):
        return head  # type: ignore[return-value]
    # Norwegian and Swedish readers manage Danish better than English, others the reverse.
    return "da" if head in ("nb", "nn", "no", "sv") else "en"


class Translator:
    def __init__(self, lang: Lang) -> None:
        self.lang = lang
        # Parsed once: Babel parses a locale given by name on every call, which dominated a
        # digest run's thousands of numbers and dates.
        self._babel = Locale.parse(_BABEL[lang])

    def __call__(self, key: str, /, **values: object) -> str:
        template = catalogue(self.lang).get(key)
        if template is None:
            raise KeyError(f"no {self.lang} text for {key!r}")
        return template.format(**values) if values else template

    def plural(self, key: str, n: int, /, **values: object) -> str:
        """The text for `n` by the language's plural rules (CLDR, through Babel): a catalogue
        key written as a table, `[key]` with `one = "..."` and `other = "..."`."""
        form = self._babel.plural_form(n)
        catalogue_ = catalogue(self.lang)
        template = catalogue_.get(f"{key}.{form}") or catalogue_.get(f"{key}.other")
        if template is None:
            raise KeyError(f"no {self.lang} text for {key!r} ({form})")
        return template.format(n=n, **values)

    def number(self, value: float, digits: int = 1) -> str:
        pattern = "#,##0" + ("." + "0" * digits if digits else "")
        return format_decimal(value, format=pattern, locale=self._babel)

    def percent(self, share: float) -> str:
        return format_percent(share, format="#,##0 %", locale=self._babel)

    def date(self, value: dt.date, style: str = "d. MMM") -> str:
        pattern = style if self.lang == "da" else style.replace("d. MMM", "d MMM")
        return format_date(value, format=pattern, locale=self._babel)

    def time(self, value: dt.datetime | dt.time) -> str:
        return format_time(value, format="HH:mm", locale=self._babel)

    def weekday_time(self, value: dt.datetime) -> str:
        """ "fredag kl. 16:00" / "Friday at 16:00"."""
        day = format_datetime(value, format="EEEE", locale=self._babel)
        return self("common.weekday_at", day=day, time=self.time(value))


def translator(lang: Lang) -> Translator:
    return Translator(lang)


def speaks(member: Member | None, locale: str | None, default: Lang) -> Lang:
    """A person's language: their choice, else their client's locale, else the default."""
    return chosen_language(member.language if member else None, language_of(locale, default))

"""How long a submitted text may be, and what the person is told when it is longer.

The adapters give every text field its limit (Slack `max_length`, Teams `maxLength`, HTML
`maxlength`), so a person typing cannot exceed it. A value that is longer anyway (a crafted
payload, an old client) is refused with a one-line error before any flow sees it: a flow never
cuts a text silently.
"""

from __future__ import annotations

from collections.abc import Mapping

from bot.core.i18n import Translator
from bot.core.messages import MAX_TEXT


def over_limit(
    limits: Mapping[str, int], values: Mapping[str, str], t: Translator
) -> dict[str, str]:
    """Field name -> error, for each value longer than its field's limit (MAX_TEXT where the
    form names none)."""
    errors: dict[str, str] = {}
    for name, value in values.items():
        limit = min(limits.get(name, MAX_TEXT), MAX_TEXT)
        if len(value) > limit:
            errors[name] = t(
                "forms.too_long", length=t.number(len(value), 0), limit=t.number(limit, 0)
            )
    return errors


def limit_text(limit: int, t: Translator) -> str:
    """ "Højst 3.000 tegn." for a hint under a field."""
    return t("forms.limit", limit=t.number(limit, 0))


def label_with_limit(label: str, limit: int, t: Translator) -> str:
    """ "Titel (højst 200 tegn)" where a platform has no hint line (Teams)."""
    return t("forms.label_limit", label=label, limit=t.number(limit, 0))

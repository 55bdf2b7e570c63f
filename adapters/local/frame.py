"""The local chat's own words (headings, buttons, placeholders, role names), in the language
of the person chosen in the page: the same language every message to them is written in."""

from __future__ import annotations

from typing import Any

from bot.core.config import Settings
from bot.core.i18n import Lang, speaks, translator
from storage.db import Database
from storage.models import Member

TEXTS = (
    "title",
    "brand",
    "who",
    "choose",
    "conversations",
    "about",
    "pick_first",
    "placeholder",
    "send",
    "empty",
    "direct",
    "cancel",
    "only_you",
    "you",
    "characters",
)
ROLES = ("member", "leader", "chair", "vice_chair", "rep", "admin")


def language(db: Database, settings: Settings, member_id: int | None) -> Lang:
    """The member's language (their choice, else what their platform told us), else the
    installation's default. An unknown or erased member gets the default."""
    if member_id is None:
        return settings.language
    with db.session() as session:
        member = session.get(Member, member_id)
        if member is None or member.erased:
            return settings.language
        return speaks(member, None, settings.language)


def frame(lang: Lang) -> dict[str, Any]:
    t = translator(lang)
    return {
        "lang": lang,
        "text": {key: t(f"localchat.{key}") for key in TEXTS},
        "roles": {role: t(f"localchat.role.{role}") for role in ROLES},
    }

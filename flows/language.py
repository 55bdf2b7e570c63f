"""`sprog en` / `language da`: the language MEDpuls writes to a person in.

Without a choice, a person gets the language their Slack or Teams client uses (bot.core
remembers it); `sprog auto` goes back to that. The choice is theirs alone and applies to every
message from then on, those they did not ask for included (pulse questions, digests, notices).
"""

from __future__ import annotations

from bot.core.events import CommandInvoked
from bot.core.i18n import LANGUAGES, Lang, translator
from bot.core.messages import Reply
from bot.core.router import FlowContext, Router

# What people type after the command word, in either language.
NAMES: dict[str, Lang | None] = {
    "da": "da",
    "dansk": "da",
    "danish": "da",
    "en": "en",
    "engelsk": "en",
    "english": "en",
    "auto": None,
}


def on_language(ctx: FlowContext, event: CommandInvoked) -> Reply:
    member = ctx.member
    if member is None:
        return Reply.note(ctx.t("common.unknown_user"))
    words = event.text.split()
    if len(words) < 2 or words[1].lower() not in NAMES:
        current = ctx.t(f"language.name_{ctx.t.lang}")
        return Reply.note(ctx.t("language.status", language=current))
    chosen = NAMES[words[1].lower()]
    if chosen is None:
        member.language_chosen = False
        return Reply.note(ctx.t("language.auto"))
    assert chosen in LANGUAGES
    member.language, member.language_chosen = chosen, True
    ctx.audit("language.set", chosen)
    t = translator(chosen)
    return Reply.note(t("language.set", language=t(f"language.name_{chosen}")))


def register(router: Router) -> None:
    router.command("sprog", "language")(on_language)

"""From normalised events to flow handlers.

Flows register handlers per action kind, form kind, command word or event type (the bolt
`listeners/<kind>/register(app)` habit); the router looks them up. It holds no business rules.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from bot.core.actions import ActionData, decode
from bot.core.config import Settings
from bot.core.errors import BadAction
from bot.core.events import (
    Actor,
    ButtonClicked,
    CommandInvoked,
    FormSubmitted,
    InboundEvent,
    MemberJoined,
    MessageReceived,
)
from bot.core.i18n import Translator
from bot.core.messages import NO_REPLY, Reply
from bot.core.outbox import Outgoing, queue
from bot.core.text_limits import over_limit
from storage.audit import audit_entry
from storage.models import Member

R = TypeVar("R")


@dataclass
class FlowContext:
    """What a handler gets besides the event: the unit of work, who acted, how to speak."""

    session: Session
    settings: Settings
    actor: Actor
    member: Member | None
    t: Translator
    now: dt.datetime
    queued: list[Outgoing] = field(default_factory=list)

    def send(self, *items: Outgoing) -> None:
        # What goes back to the person who acted answers them: quiet hours do not hold it.
        me = str(self.member.id) if self.member is not None else None
        marked = [
            dataclasses.replace(o, reply=True)
            if o.address_kind == "member" and o.address == me
            else o
            for o in items
        ]
        self.queued.extend(marked)
        queue(self.session, marked)

    def added(self, row: R) -> R:
        """`row` added to the unit of work and flushed, so that its id is known."""
        self.session.add(row)
        self.session.flush()
        return row

    def audit(self, action: str, subject: str = "", *, allowed: bool = True, **detail: Any) -> None:
        self.session.add(
            audit_entry(self.member, action, subject, allowed=allowed, now=self.now, **detail)
        )


ActionHandler = Callable[[FlowContext, ButtonClicked, Any], Reply]
FormHandler = Callable[[FlowContext, FormSubmitted, Any], Reply]
CommandHandler = Callable[[FlowContext, CommandInvoked], Reply]
MessageHandler = Callable[[FlowContext, MessageReceived], Reply]
JoinHandler = Callable[[FlowContext, MemberJoined], Reply]
F = TypeVar("F", bound=Callable[..., Reply])


def command_text(text: str) -> str:
    """A typed command without the "/med" a Slack habit may put first: "/med digest pause",
    "med digest pause" and "digest pause" are the same command."""
    # Only the prefix goes: the rest keeps its line breaks ("forslag Title\nWhy" fills a form).
    stripped = text.strip()
    return re.sub(r"^/?med\s+(?=\S)", "", stripped, flags=re.IGNORECASE).lstrip("/")


def command_word(text: str) -> str:
    """The command a typed message starts with: "Digest pause" and "/med digest pause" alike."""
    words = command_text(text).lower().split()
    return words[0] if words else ""


class Router:
    def __init__(self) -> None:
        self.actions: dict[str, ActionHandler] = {}
        self.forms: dict[str, FormHandler] = {}
        # Form kind -> field name -> the most characters that field takes.
        self.form_limits: dict[str, dict[str, int]] = {}
        self.commands: dict[str, CommandHandler] = {}
        self.message_handlers: list[MessageHandler] = []
        self.join_handlers: list[JoinHandler] = []
        # What a direct message that no handler and no command word takes gets (a short help).
        self.fallback: MessageHandler | None = None

    def action(self, cls: type[ActionData]) -> Callable[[F], F]:
        def register(fn: F) -> F:
            self.actions[cls.kind] = fn
            return fn

        return register

    def form(
        self, cls: type[ActionData], *, limits: dict[str, int] | None = None
    ) -> Callable[[F], F]:
        """`limits`: the same max_length the form's fields show; fields not named take
        MAX_TEXT. A longer value is refused here, so the handler never has to cut one."""

        def register(fn: F) -> F:
            self.forms[cls.kind] = fn
            self.form_limits[cls.kind] = dict(limits or {})
            return fn

        return register

    def command(self, *words: str) -> Callable[[F], F]:
        def register(fn: F) -> F:
            for word in words:
                self.commands[word] = fn
            return fn

        return register

    def message(self, fn: F) -> F:
        self.message_handlers.append(fn)
        return fn

    def joined(self, fn: F) -> F:
        self.join_handlers.append(fn)
        return fn

    def unknown(self, fn: F) -> F:
        self.fallback = fn
        return fn

    def dispatch(self, ctx: FlowContext, event: InboundEvent) -> Reply:
        """Call the handler for `event`; unknown kinds are a quiet no-op."""
        match event:
            case ButtonClicked(data=packed) | FormSubmitted(data=packed):
                try:
                    data = decode(packed)
                except BadAction:
                    return NO_REPLY
                if isinstance(event, ButtonClicked):
                    handler = self.actions.get(data.kind)
                    return handler(ctx, event, data) if handler else NO_REPLY
                form_handler = self.forms.get(data.kind)
                if form_handler is None:
                    return NO_REPLY
                limits = self.form_limits.get(data.kind, {})
                if errors := over_limit(limits, event.values, ctx.t):
                    return Reply(errors=errors)
                return form_handler(ctx, event, data)
            case CommandInvoked(command=command, text=text):
                # "/med forslag ..." is routed on its first word; shortcuts by their own name.
                if command.startswith("/") or not command:
                    word = (text.split() or ["help"])[0].lower()
                else:
                    word = command
                cmd = self.commands.get(word) or self.commands.get("help")
                return cmd(ctx, event) if cmd else NO_REPLY
            case MessageReceived(text=text):
                for on_message in self.message_handlers:
                    reply = on_message(ctx, event)
                    if reply != NO_REPLY:
                        return reply
                # A command typed as a message means the same on every platform as `/med word`.
                word = command_word(text)
                if word in self.commands:
                    typed = CommandInvoked(
                        event.actor,
                        event.conversation,
                        command="",
                        text=command_text(text),
                        delivery_id=event.delivery_id,
                    )
                    return self.commands[word](ctx, typed)
                direct = event.conversation is None or event.conversation.is_direct
                if direct and self.fallback is not None:
                    return self.fallback(ctx, event)
                return NO_REPLY
            case MemberJoined():
                for join in self.join_handlers:
                    join(ctx, event)
                return NO_REPLY
        return NO_REPLY

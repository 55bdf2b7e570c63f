"""The port every platform adapter implements, and what crosses it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

from bot.core.config import Settings
from bot.core.events import InboundEvent, MessageRef
from bot.core.messages import Form, Message, Reply
from bot.core.router import Router
from storage.db import Database


@dataclass(frozen=True)
class Address:
    """Where an outbound message goes, resolved for one platform by bot.delivery.

    `kind` "user": a direct message to a person, `value` their platform user id (empty when
    the import had none: the adapter may then find them by `email`); `kind` "channel": a
    channel id on that platform.
    """

    kind: Literal["user", "channel"]
    value: str
    email: str | None = None
    member_id: int | None = None


@runtime_checkable
class Platform(Protocol):
    """A chat platform as the core sees it: post, update, open a form, send proactively."""

    @property
    def name(self) -> str:
        """ "local", "slack" or "teams" (bot.events.PlatformName)."""
        ...

    async def post(self, to: Address, message: Message, *, dedupe_key: str) -> MessageRef:
        """Send a message to a member (proactively) or to a channel."""
        ...

    async def update(self, ref: MessageRef, message: Message) -> None:
        """Replace a message we posted earlier."""
        ...

    async def open_form(self, trigger: str, form: Form, *, to: Address) -> None:
        """Show a form to the person who just acted (Slack trigger_id; elsewhere a card)."""
        ...

    async def find_user(self, email: str) -> str | None:
        """The platform user id for an e-mail address, if the platform can look it up."""
        ...


class TurnHandler(Protocol):
    """The other port: what an adapter hands a normalised event to (bot.app.turns.Core).

    Adapters depend on this, not on the concrete class, so they stay below the app layer."""

    @property
    def settings(self) -> Settings: ...

    @property
    def db(self) -> Database: ...

    @property
    def router(self) -> Router: ...

    async def handle(self, event: InboundEvent) -> Reply:
        """Run the event's flow in one transaction; the reply to show the person who acted."""
        ...

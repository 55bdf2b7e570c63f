"""Normalised inbound events: the only shape of the outside world that flows ever see.

Each adapter translates its platform's payloads into these frozen dataclasses; the router hands
them to flows. Nothing platform-specific crosses this line except opaque ids.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

PlatformName = Literal["local", "slack", "teams"]


@dataclass(frozen=True)
class Actor:
    """Who acted: a platform user, not yet resolved to one of our members."""

    platform: PlatformName
    user_id: str
    team_id: str | None = None
    email: str | None = None
    locale: str | None = None
    display_name: str | None = None
    # Teams: the AAD object id, which an import may hold instead of the Teams user id.
    directory_id: str | None = None


@dataclass(frozen=True)
class Conversation:
    """Where it happened: a direct message with the bot or a channel."""

    platform: PlatformName
    conversation_id: str
    is_direct: bool = True


@dataclass(frozen=True)
class MessageRef:
    """A message we posted and may update in place (Slack ts, Teams activity id, local id)."""

    platform: PlatformName
    conversation_id: str
    message_id: str


@dataclass(frozen=True)
class InboundEvent:
    actor: Actor
    conversation: Conversation | None
    # Platform delivery id (Slack event_id, Teams activity id): the router de-duplicates on it.
    delivery_id: str | None = field(default=None, kw_only=True)


@dataclass(frozen=True)
class MessageReceived(InboundEvent):
    text: str = ""


@dataclass(frozen=True)
class ButtonClicked(InboundEvent):
    """A button in one of our messages; `data` is the packed action string (bot.actions)."""

    data: str = ""
    message: MessageRef | None = None
    # Slack trigger_id: lets the flow open a form in answer to the click.
    trigger: str | None = None
    # Values of inputs that travelled with the click (Teams cards submit their inputs).
    inputs: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class FormSubmitted(InboundEvent):
    """A form (Slack modal, Teams card, local form) came back; `data` is the packed form id."""

    data: str = ""
    values: dict[str, str] = field(default_factory=dict)
    message: MessageRef | None = None


@dataclass(frozen=True)
class CommandInvoked(InboundEvent):
    """A slash command, a shortcut or a typed command word (`/med forslag ...`)."""

    command: str = ""
    text: str = ""
    trigger: str | None = None


@dataclass(frozen=True)
class MemberJoined(InboundEvent):
    """The app was installed for, or a conversation opened with, a person or a team."""

    reference: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class OtherEvent(InboundEvent):
    """Anything else, kept so that unknown payloads are a no-op instead of an error."""

    kind: str = ""
    payload: dict[str, Any] = field(default_factory=dict)

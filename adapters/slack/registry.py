"""Everything the Slack app listens to, in one place.

The Bolt app registers its listeners from these lists and `build_manifest` writes them into the
app manifest, so the two cannot drift apart (tests/test_slack_manifest.py holds them together).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

EVENTS_PATH = "/slack/events"
INSTALL_PATH = "/slack/install"
REDIRECT_PATH = "/slack/oauth_redirect"

# Buttons we render carry action ids with this prefix; the retry button (expired trigger) too.
ACTION_PREFIX = "medpuls."
RETRY_ACTION_ID = "medpuls.retry"
ACTION_PATTERN = re.compile(r"^medpuls\.")
# Modals we open carry callback ids with this prefix; the packed form data is in the metadata.
VIEW_PREFIX = "medpuls_form:"
VIEW_PATTERN = re.compile(r"^medpuls_form:")


@dataclass(frozen=True)
class SlashCommand:
    command: str
    description_key: str
    usage_hint: str


@dataclass(frozen=True)
class Shortcut:
    callback_id: str
    type: Literal["global", "message"]
    name_key: str
    description_key: str
    # The command word the router receives (bot.events.CommandInvoked.command).
    command: str


@dataclass(frozen=True)
class EventSubscription:
    """A Slack event: `manifest_name` as the manifest spells it, `event_type` as Bolt sees it."""

    manifest_name: str
    event_type: str
    scopes: tuple[str, ...] = ()


SLASH_COMMANDS: tuple[SlashCommand, ...] = (
    SlashCommand("/med", "slack.command_description", "[forslag | dagsorden | puls | help]"),
)

SHORTCUTS: tuple[Shortcut, ...] = (
    Shortcut(
        "medpuls_propose", "global", "slack.shortcut_name", "slack.shortcut_description", "forslag"
    ),
    Shortcut(
        "medpuls_propose_from_message",
        "message",
        "slack.message_shortcut_name",
        "slack.message_shortcut_description",
        "forslag",
    ),
)

EVENTS: tuple[EventSubscription, ...] = (
    EventSubscription("app_home_opened", "app_home_opened"),
    # Direct messages to the bot; the scope is needed for the event, we never read history.
    EventSubscription("message.im", "message", ("im:history",)),
    EventSubscription(
        "member_joined_channel", "member_joined_channel", ("channels:read", "groups:read")
    ),
    EventSubscription("app_uninstalled", "app_uninstalled"),
    EventSubscription("tokens_revoked", "tokens_revoked"),
)

# Scopes of the Web API methods the adapter calls, method by method.
METHOD_SCOPES: dict[str, tuple[str, ...]] = {
    "chat.postMessage": ("chat:write",),
    "chat.update": ("chat:write",),
    "chat.postEphemeral": ("chat:write",),
    "views.open": (),
    "views.publish": (),
    "users.info": ("users:read", "users:read.email"),
    "users.lookupByEmail": ("users:read.email",),
    "files.getUploadURLExternal": ("files:write",),
    "files.completeUploadExternal": ("files:write",),
    "auth.test": (),
}


def bot_scopes() -> list[str]:
    scopes: set[str] = set()
    if SLASH_COMMANDS or SHORTCUTS:
        scopes.add("commands")
    for method_scopes in METHOD_SCOPES.values():
        scopes.update(method_scopes)
    for event in EVENTS:
        scopes.update(event.scopes)
    return sorted(scopes)


def shortcut_for(callback_id: str) -> Shortcut | None:
    return next((s for s in SHORTCUTS if s.callback_id == callback_id), None)

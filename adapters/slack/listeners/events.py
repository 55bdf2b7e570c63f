"""Events API subscriptions: App Home, DMs to the bot, channel joins, uninstalls."""

from __future__ import annotations

from typing import TYPE_CHECKING

from slack_bolt.async_app import AsyncAck, AsyncApp

from adapters.slack.listeners.ack import acked
from adapters.slack.registry import EVENTS

if TYPE_CHECKING:
    from adapters.slack.adapter import SlackAdapter

# Handled by Bolt itself: they delete the workspace's installation from our store.
REVOCATIONS = frozenset({"app_uninstalled", "tokens_revoked"})


def register(app: AsyncApp, adapter: SlackAdapter) -> None:
    on_event = acked(adapter.on_event)

    async def ignore(ack: AsyncAck) -> None:
        # One workspace, one token (SLACK_BOT_TOKEN): there is no stored installation to drop.
        await ack()

    for event in EVENTS:
        if event.event_type in REVOCATIONS:
            if app.installation_store is not None:
                listener = (
                    app.default_app_uninstalled_event_listener()
                    if event.event_type == "app_uninstalled"
                    else app.default_tokens_revoked_event_listener()
                )
                app.event(event.event_type)(listener)
            else:
                app.event(event.event_type)(ignore)
        else:
            app.event(event.event_type)(on_event)

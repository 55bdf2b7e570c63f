"""The global shortcut and the message shortcut "Foreslå til MED"."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from adapters.slack.registry import SHORTCUTS

if TYPE_CHECKING:
    from adapters.slack.adapter import SlackAdapter


def register(app: AsyncApp, adapter: SlackAdapter) -> None:
    async def on_shortcut(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        await adapter.on_shortcut(body)

    for shortcut in SHORTCUTS:
        if shortcut.type == "global":
            app.global_shortcut(shortcut.callback_id)(on_shortcut)
        else:
            app.message_shortcut(shortcut.callback_id)(on_shortcut)

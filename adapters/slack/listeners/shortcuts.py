"""The global shortcut and the message shortcut "Foreslå til MED"."""

from __future__ import annotations

from typing import TYPE_CHECKING

from slack_bolt.async_app import AsyncApp

from adapters.slack.listeners.ack import acked
from adapters.slack.registry import SHORTCUTS

if TYPE_CHECKING:
    from adapters.slack.adapter import SlackAdapter


def register(app: AsyncApp, adapter: SlackAdapter) -> None:
    on_shortcut = acked(adapter.on_shortcut)
    for shortcut in SHORTCUTS:
        if shortcut.type == "global":
            app.global_shortcut(shortcut.callback_id)(on_shortcut)
        else:
            app.message_shortcut(shortcut.callback_id)(on_shortcut)

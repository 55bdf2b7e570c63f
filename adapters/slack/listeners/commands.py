"""Slash commands (/med): the router picks the flow by the text's first word."""

from __future__ import annotations

from typing import TYPE_CHECKING

from slack_bolt.async_app import AsyncApp

from adapters.slack.listeners.ack import acked
from adapters.slack.registry import SLASH_COMMANDS

if TYPE_CHECKING:
    from adapters.slack.adapter import SlackAdapter


def register(app: AsyncApp, adapter: SlackAdapter) -> None:
    on_command = acked(adapter.on_command)
    for command in SLASH_COMMANDS:
        app.command(command.command)(on_command)

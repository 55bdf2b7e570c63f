"""Slash commands (/med): the router picks the flow by the text's first word."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from adapters.slack.registry import SLASH_COMMANDS

if TYPE_CHECKING:
    from adapters.slack.adapter import SlackAdapter


def register(app: AsyncApp, adapter: SlackAdapter) -> None:
    async def on_command(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        await adapter.on_command(body)

    for command in SLASH_COMMANDS:
        app.command(command.command)(on_command)

"""Clicks on our buttons: every action id we render starts with "medpuls."."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from adapters.slack.registry import ACTION_PATTERN, RETRY_ACTION_ID

if TYPE_CHECKING:
    from adapters.slack.adapter import SlackAdapter


def register(app: AsyncApp, adapter: SlackAdapter) -> None:
    async def on_action(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        action_id = str((body.get("actions") or [{}])[0].get("action_id", ""))
        if action_id == RETRY_ACTION_ID:
            await adapter.on_retry(body)
        else:
            await adapter.on_block_action(body)

    app.action(ACTION_PATTERN)(on_action)

"""Submitted modals: the one acknowledgement that carries the flow's answer (errors)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from adapters.slack.registry import VIEW_PATTERN

if TYPE_CHECKING:
    from adapters.slack.adapter import SlackAdapter


def register(app: AsyncApp, adapter: SlackAdapter) -> None:
    async def on_submission(ack: AsyncAck, body: dict[str, Any]) -> None:
        answer = await adapter.on_view_submission(body)
        await ack(**(answer or {}))

    app.view_submission(VIEW_PATTERN)(on_submission)

"""The listener most kinds need: acknowledge at once, then hand the body to the adapter."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncAck

Body = dict[str, Any]
Listener = Callable[[AsyncAck, Body], Awaitable[None]]


def acked(handle: Callable[[Body], Awaitable[object]]) -> Listener:
    # Bolt passes arguments by name: the listener's parameters must be called ack and body.
    async def listener(ack: AsyncAck, body: Body) -> None:
        await ack()
        await handle(body)

    return listener

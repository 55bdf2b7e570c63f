"""Bolt listeners by kind, each module registering itself (the bolt starter-template habit).

Every listener comes from the lists in adapters.slack.registry, which the manifest is written
from too. Listeners acknowledge and hand the work to the adapter; they hold no rules.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from slack_bolt.async_app import AsyncApp

from adapters.slack.listeners import actions, commands, events, shortcuts, views

if TYPE_CHECKING:
    from adapters.slack.adapter import SlackAdapter


def register_all(app: AsyncApp, adapter: SlackAdapter) -> None:
    for kind in (actions, commands, shortcuts, views, events):
        kind.register(app, adapter)

"""The Slack app manifest, written from the same lists the Bolt app registers from.

`medpuls slack manifest --out slack-manifest.yaml` writes it; paste it into "Create New App →
From an app manifest" at api.slack.com/apps. Scopes are exactly those of the Web API methods
and events in adapters.slack.registry.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from adapters.slack.registry import (
    EVENTS,
    EVENTS_PATH,
    REDIRECT_PATH,
    SHORTCUTS,
    SLASH_COMMANDS,
    bot_scopes,
)
from bot.core.i18n import Lang, translator

APP_NAME = "MEDpuls"


def build_manifest(public_url: str, *, lang: Lang = "da") -> dict[str, Any]:
    t = translator(lang)
    base = public_url.rstrip("/")
    events_url = base + EVENTS_PATH
    return {
        "_metadata": {"major_version": 1, "minor_version": 1},
        "display_information": {
            "name": APP_NAME,
            "description": t("slack.app_description"),
            "background_color": "#1d4f91",
        },
        "features": {
            "app_home": {
                "home_tab_enabled": True,
                "messages_tab_enabled": True,
                "messages_tab_read_only_enabled": False,
            },
            "bot_user": {"display_name": APP_NAME, "always_online": True},
            "slash_commands": [
                {
                    "command": c.command,
                    "url": events_url,
                    "description": t(c.description_key),
                    "usage_hint": c.usage_hint,
                    "should_escape": False,
                }
                for c in SLASH_COMMANDS
            ],
            "shortcuts": [
                {
                    "name": t(s.name_key),
                    "type": s.type,
                    "callback_id": s.callback_id,
                    "description": t(s.description_key),
                }
                for s in SHORTCUTS
            ],
        },
        "oauth_config": {
            "redirect_urls": [base + REDIRECT_PATH],
            "scopes": {"bot": bot_scopes()},
        },
        "settings": {
            "event_subscriptions": {
                "request_url": events_url,
                "bot_events": sorted(e.manifest_name for e in EVENTS),
            },
            "interactivity": {"is_enabled": True, "request_url": events_url},
            "org_deploy_enabled": False,
            "socket_mode_enabled": False,
            "token_rotation_enabled": False,
        },
    }


def write_manifest(path: str | Path, public_url: str, *, lang: Lang = "da") -> Path:
    out = Path(path)
    text = yaml.safe_dump(
        build_manifest(public_url, lang=lang), sort_keys=False, allow_unicode=True
    )
    out.write_text(text, encoding="utf-8")
    return out

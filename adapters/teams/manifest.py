"""The Teams app package an admin uploads: manifest.json and two icons, zipped.

Manifest schema v1.11 (the official MicrosoftTeams.schema.json of that version is kept in
tests/data/ and the package is validated against it). The icons are drawn here with Pillow:
color.png 192x192, outline.png 32x32 white on transparent, as Teams requires.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from PIL import Image, ImageDraw

from bot.core.config import Settings
from bot.core.errors import InvalidInput
from bot.core.i18n import translator

MANIFEST_VERSION = "1.11"
SCHEMA_URL = (
    f"https://developer.microsoft.com/en-us/json-schemas/teams/v{MANIFEST_VERSION}"
    "/MicrosoftTeams.schema.json"
)
ACCENT = "#1F6F78"
APP_VERSION = "1.0.0"
# The heartbeat line of the icon, in a 0..1 square.
_PULSE = [
    (0.08, 0.55),
    (0.32, 0.55),
    (0.42, 0.30),
    (0.54, 0.78),
    (0.64, 0.45),
    (0.70, 0.55),
    (0.92, 0.55),
]


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def color_icon(size: int = 192) -> bytes:
    """Full colour: the accent colour with a white pulse line."""
    image = Image.new("RGBA", (size, size), ACCENT)
    draw = ImageDraw.Draw(image)
    points = [(x * size, y * size) for x, y in _PULSE]
    draw.line(points, fill="white", width=max(2, size // 14), joint="curve")
    return _png(image)


def outline_icon(size: int = 32) -> bytes:
    """White on transparent: only the pulse line, and a thin white frame."""
    image = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.rectangle([0, 0, size - 1, size - 1], outline=(255, 255, 255, 255), width=1)
    points = [(x * size, y * size) for x, y in _PULSE]
    draw.line(points, fill=(255, 255, 255, 255), width=2)
    return _png(image)


def manifest(settings: Settings) -> dict[str, Any]:
    app_id = settings.microsoft_app_id
    if not app_id:
        raise InvalidInput("MICROSOFT_APP_ID is not set: the package needs the bot's app id")
    if not settings.public_url or not settings.public_url.startswith("https://"):
        raise InvalidInput("MEDPULS_PUBLIC_URL must be the bot's https:// address")
    base = settings.public_url.rstrip("/")
    host = urlparse(base).hostname or ""
    t = translator(settings.language)
    # The words the router knows in both languages; the list shows the installation's own.
    words = {
        "help": ("hjælp", "help"),
        "home": ("hjem", "home"),
        "proposal": ("forslag", "propose"),
        "agenda": ("dagsorden", "agenda"),
        "decisions": ("beslutninger", "decisions"),
        "pulse": ("puls", "pulse"),
        "results": ("resultater", "results"),
        "privacy": ("privatliv", "privacy"),
    }
    index = 0 if settings.language == "da" else 1
    commands = [
        {"title": pair[index], "description": t(f"teams.manifest.cmd_{key}")}
        for key, pair in words.items()
    ]
    return {
        "$schema": SCHEMA_URL,
        "manifestVersion": MANIFEST_VERSION,
        "version": APP_VERSION,
        "id": app_id,
        "packageName": "dk.medpuls.bot",
        "developer": {
            "name": "MEDpuls",
            "websiteUrl": base,
            "privacyUrl": f"{base}/privacy",
            "termsOfUseUrl": f"{base}/terms",
        },
        "name": {"short": t("teams.manifest.short_name"), "full": t("teams.manifest.full_name")},
        "description": {
            "short": t("teams.manifest.short_description"),
            "full": t("teams.manifest.full_description"),
        },
        "icons": {"color": "color.png", "outline": "outline.png"},
        "accentColor": ACCENT,
        "bots": [
            {
                "botId": app_id,
                "scopes": ["personal", "team"],
                "supportsFiles": False,
                "isNotificationOnly": False,
                "commandLists": [
                    {"scopes": ["personal"], "commands": commands},
                    {"scopes": ["team"], "commands": commands},
                ],
            }
        ],
        "permissions": ["identity", "messageTeamMembers"],
        "validDomains": [host] if host else [],
    }


def build_package(out: Path, settings: Settings) -> Path:
    """Write the app package zip to `out` and return its path."""
    data = manifest(settings)
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as package:
        package.writestr("manifest.json", json.dumps(data, ensure_ascii=False, indent=2))
        package.writestr("color.png", color_icon())
        package.writestr("outline.png", outline_icon())
    return out

"""The Bot Framework's token signing keys: fetched without blocking, refreshed as they rotate.

botbuilder validates each inbound token against keys it caches per OpenID metadata URL
(`JwtTokenExtractor.metadataCache`). Its own cache fetches with `requests`, which blocks the
event loop that serves every Slack and Teams request; it refreshes once a day whatever the
response says, and on a token naming an unknown key at most once an hour, so an unannounced
rotation gives an hour of 401s (and its lookup raises IndexError on an unknown key id).

`SigningKeys` is a drop-in for that cache entry, with the interface botbuilder calls
(`await get(key_id)` returning an object with `public_key` and `endorsements`): it fetches with
aiohttp, keeps the keys as long as the key response's Cache-Control allows (within bounds), and
when a token names a key it does not know, fetches once more, at most once a minute, so a
rotation costs one request and a flood of forged key ids costs one request a minute.
`install_signing_keys` puts one in botbuilder's cache for each metadata URL this bot uses.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from dataclasses import dataclass
from typing import Any

import aiohttp
from botframework.connector.auth import AuthenticationConstants, GovernmentConstants
from botframework.connector.auth.jwt_token_extractor import JwtTokenExtractor
from jwt.algorithms import RSAAlgorithm

from bot.core.config import Settings

log = logging.getLogger("medpuls.teams.auth")

# Keep keys at least this long whatever the response says, and at most this long.
MIN_MAX_AGE = 5 * 60.0
MAX_MAX_AGE = 5 * 24 * 3600.0
# Without a usable Cache-Control: botbuilder's own daily refresh.
DEFAULT_MAX_AGE = 24 * 3600.0
# A token naming an unknown key fetches again at most this often.
REFETCH_SECONDS = 60.0
FETCH_TIMEOUT = aiohttp.ClientTimeout(total=10)
_MAX_AGE = re.compile(r"max-age=(\d+)")


@dataclass(frozen=True)
class SigningKey:
    """What botbuilder reads off a cache entry: the key and the channels it endorses."""

    public_key: Any
    endorsements: list[str]


def max_age(cache_control: str | None) -> float:
    """Seconds the keys may be kept by a Cache-Control header, within our bounds."""
    found = _MAX_AGE.search(cache_control or "")
    if found is None or "no-store" in (cache_control or ""):
        return DEFAULT_MAX_AGE
    return min(max(float(found.group(1)), MIN_MAX_AGE), MAX_MAX_AGE)


class SigningKeys:
    def __init__(self, metadata_url: str, *, refetch_seconds: float = REFETCH_SECONDS) -> None:
        self.url = metadata_url
        self.refetch_seconds = refetch_seconds
        self.keys: dict[str, dict[str, Any]] = {}
        self.fetches = 0
        self._fresh_until = float("-inf")
        self._fetched_at = float("-inf")
        self._looked_again = float("-inf")  # the last fetch for an unknown key id
        self._lock = asyncio.Lock()

    async def get(self, key_id: str | None) -> SigningKey | None:
        if time.monotonic() >= self._fresh_until:
            await self._refresh(since=self._fetched_at)
        key = self._find(key_id)
        if key is None and key_id and time.monotonic() - self._looked_again >= self.refetch_seconds:
            # An unannounced rotation: the new key id is unknown until we look again.
            self._looked_again = time.monotonic()
            await self._refresh(since=self._fetched_at)
            key = self._find(key_id)
        return key

    async def _refresh(self, *, since: float) -> None:
        async with self._lock:
            if self._fetched_at > since:
                return  # another request fetched while this one waited for the lock
            self._fetched_at = time.monotonic()
            self.fetches += 1
            try:
                async with aiohttp.ClientSession(timeout=FETCH_TIMEOUT) as http:
                    async with http.get(self.url) as response:
                        response.raise_for_status()
                        jwks_uri = str((await response.json(content_type=None))["jwks_uri"])
                    async with http.get(jwks_uri) as response:
                        response.raise_for_status()
                        body = await response.json(content_type=None)
                        keep = max_age(response.headers.get("Cache-Control"))
                self.keys = {str(k["kid"]): k for k in body["keys"] if "kid" in k}
                self._fresh_until = self._fetched_at + keep
            except (aiohttp.ClientError, TimeoutError, KeyError, TypeError, ValueError) as exc:
                # Keep the keys we have; try again after the refetch interval, not at once.
                self._fresh_until = self._fetched_at + self.refetch_seconds
                log.warning(
                    "signing keys not refreshed",
                    extra={"platform": "teams", "reason": type(exc).__name__},
                )

    def _find(self, key_id: str | None) -> SigningKey | None:
        jwk = self.keys.get(key_id or "")
        if jwk is None:
            return None
        public_key = RSAAlgorithm.from_jwk(json.dumps(jwk))
        return SigningKey(public_key, list(jwk.get("endorsements") or []))


def metadata_urls(settings: Settings) -> list[str]:
    """The OpenID metadata URLs botbuilder may validate this bot's inbound tokens against."""
    urls = [
        settings.to_bot_from_channel_openid_metadata_url,
        AuthenticationConstants.TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL,
        AuthenticationConstants.TO_BOT_FROM_EMULATOR_OPENID_METADATA_URL,
        GovernmentConstants.TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL,
        GovernmentConstants.TO_BOT_FROM_EMULATOR_OPENID_METADATA_URL,
    ]
    return list(dict.fromkeys(u for u in urls if u))


def install_signing_keys(settings: Settings) -> dict[str, SigningKeys]:
    """Put a fresh key cache where botbuilder looks for its own, one per URL.

    Fresh on every start of the web app: botbuilder builds its token extractor per request
    and looks the cache up each time, so nothing holds on to a replaced one."""
    installed = {url: SigningKeys(url) for url in metadata_urls(settings)}
    JwtTokenExtractor.metadataCache.update(installed)
    return installed

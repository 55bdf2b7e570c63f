"""Bot Framework authentication settings, and the bot's own tokens for the Bot Connector.

Incoming requests are validated by botbuilder (`ConfigurationBotFrameworkAuthentication`):
issuer, audience (our app id), RS256 signature with keys from the OpenID metadata, 5 minutes
of clock skew and the token's `serviceurl` claim against the activity's serviceUrl. It is
configured from `BotFrameworkConfig`, which carries botbuilder's own attribute names, so the
endpoints can point at a sovereign cloud or at the test fakes.

Outgoing calls need an app token (OAuth2 client credentials). `AppTokenFactory` gets it
asynchronously with aiohttp and caches it until shortly before it expires, instead of
botbuilder's MSAL path, which blocks the event loop and cannot talk to a non-Microsoft
login host; user-assigned managed identity is delegated to botbuilder as it is.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any

import aiohttp
import requests
from botframework.connector.auth import (
    ManagedIdentityServiceClientCredentialsFactory,
    ServiceClientCredentialsFactory,
)
from msrest.authentication import Authentication

from bot.core.config import Settings, id_list
from bot.core.errors import InvalidInput, TokenError

log = logging.getLogger("medpuls.teams.auth")

PUBLIC_LOGIN = "https://login.microsoftonline.com/"
GOVERNMENT_LOGIN = "https://login.microsoftonline.us/"
DEFAULT_TENANT = "botframework.com"
APP_TYPES = {
    "singletenant": "SingleTenant",
    "multitenant": "MultiTenant",
    "userassignedmsi": "UserAssignedMSI",
}
_PARAMETERISED = (
    "to_channel_from_bot_login_url",
    "to_channel_from_bot_oauth_scope",
    "to_bot_from_channel_openid_metadata_url",
    "to_bot_from_channel_token_issuer",
)


@dataclass(frozen=True)
class BotFrameworkConfig:
    """The configuration object botbuilder reads, attribute names as botbuilder spells them."""

    APP_ID: str
    APP_PASSWORD: str | None
    APP_TYPE: str
    APP_TENANTID: str | None
    CHANNEL_SERVICE: str | None
    TO_CHANNEL_FROM_BOT_LOGIN_URL: str | None
    TO_CHANNEL_FROM_BOT_OAUTH_SCOPE: str | None
    TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL: str | None
    TO_BOT_FROM_CHANNEL_TOKEN_ISSUER: str | None
    VALIDATE_AUTHORITY: bool = True


def config_from(settings: Settings) -> BotFrameworkConfig:
    """Checked settings: a user error (one line) for what cannot work."""
    app_id = settings.microsoft_app_id
    if not app_id:
        raise InvalidInput("MICROSOFT_APP_ID is not set")
    app_type = APP_TYPES.get(settings.microsoft_app_type.replace("-", "").lower())
    if app_type is None:
        raise InvalidInput(
            f"MICROSOFT_APP_TYPE {settings.microsoft_app_type!r} is not one of "
            "SingleTenant, MultiTenant, UserAssignedMSI"
        )
    if app_type in ("SingleTenant", "UserAssignedMSI") and not settings.microsoft_app_tenant_id:
        raise InvalidInput(f"MICROSOFT_APP_TENANT_ID is required for a {app_type} bot")
    if app_type != "UserAssignedMSI" and not settings.microsoft_app_password:
        raise InvalidInput(f"MICROSOFT_APP_PASSWORD is required for a {app_type} bot")
    given = [name for name in _PARAMETERISED if getattr(settings, name)]
    if given and len(given) != len(_PARAMETERISED):
        missing = ", ".join(n.upper() for n in _PARAMETERISED if n not in given)
        raise InvalidInput(
            f"set all of the Bot Framework endpoint settings or none; missing {missing}"
        )
    return BotFrameworkConfig(
        APP_ID=app_id,
        APP_PASSWORD=settings.microsoft_app_password,
        APP_TYPE=app_type,
        APP_TENANTID=settings.microsoft_app_tenant_id,
        CHANNEL_SERVICE=settings.channel_service,
        TO_CHANNEL_FROM_BOT_LOGIN_URL=settings.to_channel_from_bot_login_url,
        TO_CHANNEL_FROM_BOT_OAUTH_SCOPE=settings.to_channel_from_bot_oauth_scope,
        TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL=settings.to_bot_from_channel_openid_metadata_url,
        TO_BOT_FROM_CHANNEL_TOKEN_ISSUER=settings.to_bot_from_channel_token_issuer,
    )


def allowed_tenants(settings: Settings) -> frozenset[str]:
    """The Entra tenants whose activities we process; a one-line error when there are none.

    A valid Bot Framework token only says that the activity came through the Bot Connector for
    our app id: it says nothing about the tenant, and a multi-tenant app can be added by any
    tenant. So a single-tenant bot serves MICROSOFT_APP_TENANT_ID alone, and a multi-tenant bot
    only the tenants named in MEDPULS_TEAMS_ALLOWED_TENANT_IDS (fail closed: none named, no
    start).
    """
    listed = frozenset(t.lower() for t in id_list(settings.teams_allowed_tenant_ids))
    app_type = APP_TYPES.get(settings.microsoft_app_type.replace("-", "").lower())
    if app_type == "MultiTenant":
        if not listed:
            raise InvalidInput(
                "a MultiTenant Teams bot needs MEDPULS_TEAMS_ALLOWED_TENANT_IDS "
                "(the Entra tenant ids allowed to use it)"
            )
        return listed
    own = (settings.microsoft_app_tenant_id or "").strip().lower()
    if not own:
        raise InvalidInput(f"MICROSOFT_APP_TENANT_ID is required for a {app_type} bot")
    if listed and listed != {own}:
        raise InvalidInput(
            f"a {app_type} bot serves MICROSOFT_APP_TENANT_ID only; "
            "MEDPULS_TEAMS_ALLOWED_TENANT_IDS may not name other tenants"
        )
    return frozenset({own})


class BearerToken(Authentication):
    """msrest credentials holding one ready token (fetched before the connector is made)."""

    def __init__(self, token: str) -> None:
        super().__init__()
        self._token = token

    def signed_session(self, session: requests.Session | None = None) -> requests.Session:
        session = session or requests.Session()
        session.headers["Authorization"] = f"Bearer {self._token}"
        return session


class AppTokenFactory(ServiceClientCredentialsFactory):  # type: ignore[misc]
    """Credentials for calls to the Bot Connector: client-credentials tokens, cached."""

    REFRESH_MARGIN = 300.0

    def __init__(self, config: BotFrameworkConfig, *, timeout: float = 20.0) -> None:
        self.config = config
        self.timeout = timeout
        self._tokens: dict[tuple[str, str], tuple[str, float]] = {}
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}
        self._msi = (
            ManagedIdentityServiceClientCredentialsFactory(config.APP_ID)
            if config.APP_TYPE == "UserAssignedMSI"
            else None
        )

    async def is_valid_app_id(self, app_id: str) -> bool:
        return bool(app_id) and app_id == self.config.APP_ID

    async def is_authentication_disabled(self) -> bool:
        return False

    def authority(self, login_endpoint: str | None) -> str:
        """Where to ask for a token, as botbuilder decides it for each cloud."""
        endpoint = (login_endpoint or PUBLIC_LOGIN + DEFAULT_TENANT).rstrip("/")
        for prefix in (PUBLIC_LOGIN, GOVERNMENT_LOGIN):
            if endpoint.lower().startswith(prefix):
                tenant = endpoint[len(prefix) :].split("/")[0]
                if self.config.APP_TYPE == "SingleTenant" and self.config.APP_TENANTID:
                    tenant = self.config.APP_TENANTID
                return prefix + tenant
        # A private cloud (or a test fake): the login URL is used as given, tenant included.
        return endpoint

    async def create_credentials(
        self, app_id: str, oauth_scope: str, login_endpoint: str, validate_authority: bool
    ) -> Authentication:
        if not await self.is_valid_app_id(app_id):
            raise TokenError("credentials asked for another app id")
        if self._msi is not None:
            credentials: Authentication = await self._msi.create_credentials(
                app_id, oauth_scope, login_endpoint, validate_authority
            )
            return credentials
        scope = oauth_scope or "https://api.botframework.com"
        token = await self.token(self.authority(login_endpoint), scope)
        return BearerToken(token)

    async def token(self, authority: str, scope: str) -> str:
        key = (authority, scope)
        cached = self._tokens.get(key)
        if cached and cached[1] - self.REFRESH_MARGIN > time.monotonic():
            return cached[0]
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            cached = self._tokens.get(key)
            if cached and cached[1] - self.REFRESH_MARGIN > time.monotonic():
                return cached[0]
            token, lifetime = await self._fetch(authority, scope)
            self._tokens[key] = (token, time.monotonic() + lifetime)
            return token

    async def _fetch(self, authority: str, scope: str) -> tuple[str, float]:
        form = {
            "grant_type": "client_credentials",
            "client_id": self.config.APP_ID,
            "client_secret": self.config.APP_PASSWORD or "",
            "scope": scope if scope.endswith("/.default") else scope.rstrip("/") + "/.default",
        }
        url = authority + "/oauth2/v2.0/token"
        try:
            async with (
                aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout)) as http,
                http.post(url, data=form) as response,
            ):
                body: dict[str, Any] = await response.json(content_type=None)
                status = response.status
        except (aiohttp.ClientError, TimeoutError, ValueError) as err:
            raise TokenError(f"token request failed: {type(err).__name__}") from err
        if status != 200 or "access_token" not in body:
            # The error code only: the description may echo the request.
            raise TokenError(f"token request refused: HTTP {status} {body.get('error', '')}")
        log.info("app token obtained", extra={"platform": "teams"})
        return str(body["access_token"]), float(body.get("expires_in", 3600))

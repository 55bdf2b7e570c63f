"""Everything that touches botbuilder: authenticating a request, running a turn, proactive calls.

botbuilder-python is in maintenance; its successor (the Microsoft 365 Agents SDK) should be able
to replace this module alone. The rest of adapters/teams speaks Bot Framework JSON (dicts) and
calls `BotConnector` and `Calls`. Connector failures become `DeliveryError`s here, so the outbox
can tell a rate limit from a lost cause from a send that may have arrived.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from urllib.parse import quote

import requests
from botbuilder.core import InvokeResponse, TurnContext
from botbuilder.integration.aiohttp import (
    CloudAdapter,
    ConfigurationBotFrameworkAuthentication,
)
from botbuilder.schema import (
    Activity,
    ActivityTypes,
    ConversationParameters,
)
from msrest.exceptions import ClientRequestError, HttpOperationError
from urllib3 import Retry
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

from adapters.teams.auth import AppTokenFactory, BotFrameworkConfig
from bot.core.errors import DeliveryError, TokenError, Unauthorized
from bot.core.ratelimit import until_slot

log = logging.getLogger("medpuls.teams.connector")
T = TypeVar("T")

# Statuses after which the same request may simply be tried again later.
RETRYABLE = frozenset({412, 429, 500, 502, 503, 504})
PER_CONVERSATION_PER_SECOND = 7.0
PER_TENANT_PER_SECOND = 25.0
# Teams serves 50 to 500 roster entries a page; the most, so a big team takes few calls.
ROSTER_PAGE_SIZE = 500
# Cached connector clients live well within AppTokenFactory.REFRESH_MARGIN (300 s).
CLIENT_SECONDS = 240.0
CLIENTS_KEPT = 64


class Throttle:
    """An async token bucket per key (GCRA): at most `rate` a second, bursts of `burst`."""

    def __init__(self, rate: float, burst: int = 1) -> None:
        self.interval = 1.0 / rate
        self.burst = burst
        self._tat: dict[str, float] = {}

    async def acquire(self, key: str) -> None:
        now = time.monotonic()
        tat = max(self._tat.get(key, now), now)
        wait = tat - now - (self.burst - 1) * self.interval
        # Reserve the slot before sleeping: no await between reading and writing `_tat`.
        self._tat[key] = tat + self.interval
        if len(self._tat) > 10_000:
            self._tat = {k: v for k, v in self._tat.items() if v > now}
        if wait > 0:
            await asyncio.sleep(wait)


def _retry_after(headers: Any) -> float | None:
    raw = headers.get("Retry-After") if headers is not None else None
    if raw is None:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        return None


def _reached_server(err: BaseException) -> bool:
    """False when the request surely never left (no connection); True when it may have."""
    seen: set[int] = set()
    current: BaseException | None = err
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, requests.exceptions.ConnectTimeout | ConnectTimeoutError):
            return False
        if isinstance(current, NewConnectionError | ConnectionRefusedError):
            return False
        reason = getattr(current, "reason", None)
        if isinstance(reason, BaseException) and not _reached_server(reason):
            return False
        inner = getattr(current, "inner_exception", None)
        current = (
            inner
            if isinstance(inner, BaseException)
            else (
                current.__cause__
                or current.__context__
                or (
                    current.args[0]
                    if current.args and isinstance(current.args[0], BaseException)
                    else None
                )
            )
        )
    return True


class MessageGone(DeliveryError):
    """The activity to update no longer exists (deleted with its conversation)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason, permanent=True)


def _status(err: BaseException) -> int:
    if not isinstance(err, HttpOperationError):
        return 0
    return int(getattr(getattr(err, "response", None), "status_code", None) or 0)


def delivery_error(err: BaseException, *, idempotent: bool) -> DeliveryError:
    """The outbox's view of a failed connector call."""
    if isinstance(err, DeliveryError):
        return err
    if isinstance(err, HttpOperationError):
        response = getattr(err, "response", None)
        status = getattr(response, "status_code", None) or 0
        headers = getattr(response, "headers", None)
        if status in RETRYABLE:
            return DeliveryError(f"connector HTTP {status}", retry_after=_retry_after(headers))
        if status in (403, 404):
            # Teams' answer when the app was removed or the person left: no retry will help.
            return DeliveryError(
                f"connector HTTP {status}: app not installed or conversation gone", permanent=True
            )
        return DeliveryError(f"connector HTTP {status}")
    if isinstance(err, ClientRequestError | requests.RequestException | OSError):
        if idempotent or not _reached_server(err):
            return DeliveryError(f"connector unreachable: {type(err).__name__}")
        return DeliveryError(
            f"connection lost after sending: {type(err).__name__}", unknown_outcome=True
        )
    if isinstance(err, TokenError):
        return DeliveryError(str(err))
    return DeliveryError(f"connector call failed: {type(err).__name__}")


class Calls:
    """Bot Connector calls within one turn (inbound or proactive), throttled per conversation
    and per tenant."""

    def __init__(self, client: Any, connector: BotConnector, tenant: str | None) -> None:
        self._client = client
        self._connector = connector
        self.tenant = tenant
        # No hidden retries inside the HTTP library: the outbox decides (POSTs never resent).
        client.config.retry_policy.policy = Retry(
            total=0,
            connect=0,
            read=0,
            redirect=0,
            status=0,
            status_forcelist=(),
            raise_on_status=False,
            respect_retry_after_header=False,
        )

    async def _throttle(self, conversation_id: str) -> None:
        await self._connector.per_conversation.acquire(conversation_id)
        if self.tenant:
            await self._connector.per_tenant.acquire(self.tenant)
        await until_slot()  # delivery's shared slot, if any: not early, not late

    async def send(self, conversation_id: str, activity: dict[str, Any]) -> str:
        await self._throttle(conversation_id)
        body = Activity().deserialize({**activity, "conversation": {"id": conversation_id}})
        try:
            response = await self._client.conversations.send_to_conversation(conversation_id, body)
        except Exception as err:
            raise delivery_error(err, idempotent=False) from err
        return str(getattr(response, "id", "") or "")

    async def update(
        self, conversation_id: str, activity_id: str, activity: dict[str, Any]
    ) -> None:
        await self._throttle(conversation_id)
        body = Activity().deserialize(
            {**activity, "id": activity_id, "conversation": {"id": conversation_id}}
        )
        try:
            await self._client.conversations.update_activity(conversation_id, activity_id, body)
        except Exception as err:
            if _status(err) == 404:
                raise MessageGone(f"connector HTTP 404: no activity {activity_id}") from err
            raise delivery_error(err, idempotent=True) from err

    async def create_personal(self, user_id: str, bot_id: str | None) -> str:
        """Open (or find) the 1:1 conversation with a person; returns its id."""
        params = ConversationParameters().deserialize(
            {
                "isGroup": False,
                "bot": {"id": bot_id or f"28:{self._connector.app_id}"},
                "members": [{"id": user_id}],
                "tenantId": self.tenant,
                "channelData": {"tenant": {"id": self.tenant}} if self.tenant else None,
            }
        )
        if self.tenant:
            await self._connector.per_tenant.acquire(self.tenant)
        await until_slot()
        try:
            response = await self._client.conversations.create_conversation(params)
        except Exception as err:
            # Creating a 1:1 conversation twice returns the same one: safe to retry.
            raise delivery_error(err, idempotent=True) from err
        return str(response.id)

    async def member(self, conversation_id: str, member_id: str) -> dict[str, Any] | None:
        """The roster entry (email, AAD id) of one member, or None where Teams will not say."""
        try:
            raw = await self._client.conversations.get_conversation_member(
                conversation_id, member_id, raw=True
            )
            data = raw.response.json()
        except Exception as err:
            log.info(
                "member look-up failed", extra={"platform": "teams", "reason": type(err).__name__}
            )
            return None
        # The raw JSON: the SDK's ChannelAccount model would drop `email`.
        return dict(data) if isinstance(data, dict) else None

    async def roster_page(
        self, team_id: str, continuation: str | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        """One page of a team's roster (GET .../{team}/pagedmembers) and the token for the
        next page, None after the last."""
        try:
            raw = await self._client.conversations.get_conversation_paged_members(
                team_id, page_size=ROSTER_PAGE_SIZE, continuation_token=continuation, raw=True
            )
            data = raw.response.json()
        except Exception as err:
            raise delivery_error(err, idempotent=True) from err
        # The raw JSON: the SDK's ChannelAccount model would drop `email` and `userRole`.
        if not isinstance(data, dict):
            return [], None
        members = [m for m in data.get("members") or [] if isinstance(m, dict)]
        token = data.get("continuationToken")
        return members, str(token) if token else None

    async def team_channels(self, team_id: str) -> list[str]:
        """The ids of a team's channels (GET /v3/teams/{team}/conversations)."""
        # botbuilder's only client for this path (TeamsConnectorClient) is synchronous: the
        # request goes through the turn's own asynchronous service client instead.
        service = self._client._client
        url = service.format_url("/v3/teams/{teamId}/conversations", teamId=quote(team_id, safe=""))
        try:
            response = await service.async_send(
                service.get(url, {}, {"Accept": "application/json"}), stream=False
            )
        except Exception as err:
            raise delivery_error(err, idempotent=True) from err
        if response.status_code != 200:
            raise DeliveryError(
                f"connector HTTP {response.status_code}",
                permanent=response.status_code in (403, 404),
            )
        try:
            data = json.loads(response.text())
        except ValueError as err:
            raise DeliveryError("connector: unreadable channel list") from err
        conversations = data.get("conversations") if isinstance(data, dict) else None
        return [str(c["id"]) for c in conversations or [] if isinstance(c, dict) and c.get("id")]


class BotConnector:
    def __init__(self, config: BotFrameworkConfig) -> None:
        self.config = config
        self.app_id = config.APP_ID
        self.credentials = AppTokenFactory(config)
        self.auth = ConfigurationBotFrameworkAuthentication(
            config, credentials_factory=self.credentials
        )
        self.adapter = CloudAdapter(self.auth)
        # service URL -> (connector client, when to build a new one)
        self._clients: dict[str, tuple[Any, float]] = {}
        self.per_conversation = Throttle(PER_CONVERSATION_PER_SECOND)
        self.per_tenant = Throttle(PER_TENANT_PER_SECOND, burst=5)

    async def authenticate(self, body: dict[str, Any], auth_header: str) -> Any:
        """botbuilder's validation of the request's JWT; any failure is `Unauthorized`."""
        if not auth_header:
            raise Unauthorized("no token")
        try:
            # Inside the try: a body msrest cannot read is as unauthenticated as a bad token.
            activity = Activity().deserialize(body)
            return await self.auth.authenticate_request(activity, auth_header)
        except Exception as err:  # botbuilder raises PermissionError, jwt errors, IndexError...
            raise Unauthorized(type(err).__name__) from err

    async def turn(
        self,
        body: dict[str, Any],
        authenticated: Any,
        tenant: str | None,
        handler: Callable[[Calls], Awaitable[dict[str, Any] | None]],
    ) -> dict[str, Any] | None:
        """Run `handler` in a turn for an authenticated activity; its result, if any, is the
        invoke response body."""
        activity = Activity().deserialize(body)

        async def logic(context: TurnContext) -> None:
            client = context.turn_state[self.adapter.BOT_CONNECTOR_CLIENT_KEY]
            result = await handler(Calls(client, self, tenant))
            if result is not None:
                await context.send_activity(
                    Activity(
                        type=ActivityTypes.invoke_response,
                        value=InvokeResponse(status=200, body=result),
                    )
                )

        response = await self.adapter.process_activity(authenticated, activity, logic)
        if isinstance(response, InvokeResponse) and response.body is not None:
            return dict(response.body)
        return None

    async def client(self, service_url: str) -> Any:
        """The connector client for `service_url`, built once and kept while its token is good.

        botbuilder's continue_conversation builds a new ConnectorClient (and a user-token client
        we never use) for every call: msrest's retry configuration alone costs about 15 ms of
        CPU each time, which capped a worker's sends. A client holds the token it was built
        with; AppTokenFactory hands out only tokens with REFRESH_MARGIN left, so a client
        rebuilt before that margin has passed never sends an expired token.
        """
        now = time.monotonic()
        cached = self._clients.get(service_url)
        if cached is not None and cached[1] > now:
            return cached[0]
        factory = self.auth.create_connector_factory(
            self.adapter.create_claims_identity(self.app_id)
        )
        client = await factory.create(service_url, None)
        if len(self._clients) >= CLIENTS_KEPT:
            self._clients.clear()  # a handful of service URLs per deployment; never grows
        self._clients[service_url] = (client, now + CLIENT_SECONDS)
        return client

    async def proactive(
        self, service_url: str, tenant: str | None, handler: Callable[[Calls], Awaitable[T]]
    ) -> T:
        """Run `handler` with connector calls to `service_url`, outside any inbound turn."""
        try:
            client = await self.client(service_url)
            return await handler(Calls(client, self, tenant))
        except DeliveryError as err:
            if err.reason.startswith("connector HTTP 401"):
                self._clients.pop(service_url, None)  # a revoked token: fetch anew next time
            raise
        except Exception as err:
            raise delivery_error(err, idempotent=True) from err

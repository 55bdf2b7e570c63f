"""A fake Bot Framework, served for real over HTTP on 127.0.0.1 in a thread of its own.

It plays three services the Teams adapter talks to, all configured through MEDpuls' settings
(nothing is monkeypatched):

- the Bot Connector (the activity's `serviceUrl`): create conversations, send, reply, update,
  get a member, read a team's roster a page at a time (`rosters`, `pagedmembers` with
  `continuationToken`) and its channels (`team_channels`); creating a 1:1 with someone in
  `unreachable` answers 403, as Teams does for a person the bot may not write to; it records
  every call and can answer 429 (or any status) on demand, and, when
  `tenant_rate` / `conversation_windows` are set, throttles like Teams: 429 with Retry-After
  for a send that would put more than `tenant_rate` into any second across the tenant, or
  break one of the conversation's windows (bot.platform_limits.TEAMS_CONVERSATION: 7 in any
  second, 8 in any two, ...), counted in `refused`;
- the login endpoint (`TO_CHANNEL_FROM_BOT_LOGIN_URL`): OAuth2 client-credentials tokens;
- the OpenID metadata and JWKS (`TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL`) with an RSA key
  the tests sign incoming activities' tokens with (`sign`).

It runs on its own event loop because botbuilder fetches the OpenID metadata with blocking
`requests` calls from the bot's loop.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import socket
import threading
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import jwt
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import rsa

from bot.core.platform_limits import Window
from tests.fakes.windows import SlidingWindows

ISSUER = "https://api.botframework.com"
# Where botbuilder reads the OpenID metadata (and from it the signing keys' URL).
METADATA_PATH = "/openid/.well-known/openidconfiguration"
SCOPE = "https://api.botframework.com"


def _b64(n: int) -> str:
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


Route = Callable[["FakeBotConnector", web.Request], Awaitable[web.StreamResponse]]


def _recorded(route: Route) -> Route:
    """A Bot Connector route: the call is recorded (`calls`), and a failure or a throttle due
    for it (`fail_next`, `tenant_rate`, `conversation_windows`) answers in the route's place."""

    async def recorded(self: FakeBotConnector, request: web.Request) -> web.StreamResponse:
        failed = await self._record(request)
        return failed if failed is not None else await route(self, request)

    return recorded


@dataclass
class Call:
    method: str
    path: str
    body: Any
    authorization: str | None
    # The activity id the fake answered with (sends and replies).
    result_id: str | None = None


@dataclass
class Failure:
    status: int
    retry_after: float | None = None
    drop_connection: bool = False


@dataclass
class FakeBotConnector:
    tenant: str = "9e8d7c6b-5a49-4382-9170-6f5e4d3c2b1a"
    calls: list[Call] = field(default_factory=list)
    token_requests: list[dict[str, str]] = field(default_factory=list)
    # Teams user id -> roster entry served by GET .../members/{id}
    members: dict[str, dict[str, Any]] = field(default_factory=dict)
    failures: list[Failure] = field(default_factory=list)
    # Team id -> its roster, served a page at a time by GET .../{team id}/pagedmembers
    # (roster entries as Teams gives them: id, objectId, email, userPrincipalName, userRole...).
    rosters: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    # The most a roster page holds, whatever pageSize asks (Teams: 50 to 500, as it likes).
    roster_page_cap: int = 500
    # Roster pages are answered only while this is set (a test clears it to hold them).
    roster_gate: threading.Event = field(default_factory=threading.Event)
    # The query of each roster request (pageSize, continuationToken), in order.
    roster_queries: list[dict[str, str]] = field(default_factory=list)
    # Team id -> its channels, served by GET /v3/teams/{team id}/conversations.
    team_channels: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    # Teams user ids a 1:1 cannot be created with (403 Forbidden from POST /v3/conversations).
    unreachable: set[str] = field(default_factory=set)
    # Teams' throttling (None: none): sends and new conversations in any second across the
    # tenant; sends to one conversation in each of its windows (bot.platform_limits).
    tenant_rate: int | None = None
    conversation_windows: Sequence[Window] | None = None
    # Benches send tens of thousands: they keep the counts below, not every call's body.
    keep_calls: bool = True
    refused: int = 0
    # Conversation id -> activities sent there (not counting refused ones).
    posted: Counter[str] = field(default_factory=Counter)
    first_post: float | None = None
    last_post: float | None = None

    def __post_init__(self) -> None:
        self.roster_gate.set()
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        # Unique per fake: a later fake on a reused port must not match an earlier one's key.
        self.kid = f"fake-{uuid.uuid4().hex[:8]}-1"
        self.key_fetches = 0
        self._ids = itertools.count(1000)
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self.port = 0
        self._current: Call | None = None
        # Touched only on the fake's own loop.
        self.overall = SlidingWindows(((self.tenant_rate or 0, 1.0),))
        self._conversations = SlidingWindows(self.conversation_windows or ())

    # --- lifecycle ------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def service_url(self) -> str:
        return f"{self.url}/teams/"

    def settings(self) -> dict[str, str]:
        """The Bot Framework endpoint settings that point botbuilder at this fake."""
        return {
            "TO_CHANNEL_FROM_BOT_LOGIN_URL": f"{self.url}/login/{self.tenant}",
            "TO_CHANNEL_FROM_BOT_OAUTH_SCOPE": SCOPE,
            "TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL": f"{self.url}{METADATA_PATH}",
            "TO_BOT_FROM_CHANNEL_TOKEN_ISSUER": ISSUER,
            "MICROSOFT_APP_TENANT_ID": self.tenant,
        }

    def personal_reference(self, user_id: str, conversation_id: str, app_id: str) -> dict[str, Any]:
        """The 1:1 conversation reference a first contact with `user_id` through this fake
        stores (storage.models.ConversationReference.reference)."""
        return {
            "channelId": "msteams",
            "serviceUrl": self.service_url,
            "bot": {"id": f"28:{app_id}"},
            "user": {"id": user_id},
            "conversation": {
                "id": conversation_id,
                "conversationType": "personal",
                "tenantId": self.tenant,
            },
        }

    def start(self) -> FakeBotConnector:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            self._runner = web.AppRunner(self._app(), access_log=None)
            loop.run_until_complete(self._runner.setup())
            loop.run_until_complete(web.SockSite(self._runner, sock).start())
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self._runner.cleanup())
            loop.close()

        self._thread = threading.Thread(target=run, name="fake-bot-connector", daemon=True)
        self._thread.start()
        ready.wait(10)
        return self

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)

    # --- test helpers ---------------------------------------------------------------------

    def fail_next(
        self,
        status: int,
        *,
        retry_after: float | None = None,
        times: int = 1,
        drop_connection: bool = False,
    ) -> None:
        """The next `times` Bot Connector calls answer `status` (or drop the connection)."""
        with self._lock:
            self.failures.extend(
                Failure(status, retry_after, drop_connection) for _ in range(times)
            )

    def sign(
        self,
        *,
        audience: str,
        service_url: str,
        issuer: str = ISSUER,
        expires_in: int = 3600,
        key: rsa.RSAPrivateKey | None = None,
        kid: str | None = None,
    ) -> str:
        """A Bot Framework channel token, as the Bot Connector service sends with activities."""
        now = int(time.time())
        claims = {
            "serviceurl": service_url,
            "nbf": now - 60,
            "exp": now + expires_in,
            "iss": issuer,
            "aud": audience,
        }
        return jwt.encode(
            claims, key or self.key, algorithm="RS256", headers={"kid": kid or self.kid}
        )

    def activities(self, kind: str | None = None) -> list[Call]:
        """Calls that carried an activity (send, reply, update), optionally of one kind."""
        out = [c for c in self.calls if c.path.endswith("/activities") or "/activities/" in c.path]
        if kind == "update":
            return [c for c in out if c.method == "PUT"]
        if kind == "send":
            return [c for c in out if c.method == "POST"]
        return out

    def cards(self, kind: str | None = None) -> list[dict[str, Any]]:
        """The Adaptive Cards in the recorded activities."""
        return [
            a["content"]
            for c in self.activities(kind)
            for a in (c.body or {}).get("attachments") or []
            if a.get("contentType") == "application/vnd.microsoft.card.adaptive"
        ]

    # --- the services ---------------------------------------------------------------------

    def _app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/login/{tenant}/oauth2/v2.0/token", self._token)
        app.router.add_get(METADATA_PATH, self._metadata)
        app.router.add_get("/openid/keys", self._keys)
        app.router.add_post("/teams/v3/conversations", self._create)
        app.router.add_post("/teams/v3/conversations/{cid}/activities", self._send)
        app.router.add_post("/teams/v3/conversations/{cid}/activities/{aid}", self._send)
        app.router.add_put("/teams/v3/conversations/{cid}/activities/{aid}", self._update)
        app.router.add_get("/teams/v3/conversations/{cid}/members/{mid}", self._member)
        app.router.add_get("/teams/v3/conversations/{cid}/pagedmembers", self._paged_members)
        app.router.add_get("/teams/v3/teams/{tid}/conversations", self._channels)
        return app

    async def _token(self, request: web.Request) -> web.Response:
        form = dict(await request.post())
        self.token_requests.append({k: str(v) for k, v in form.items() if k != "client_secret"})
        if form.get("grant_type") != "client_credentials" or not form.get("client_secret"):
            return web.json_response({"error": "invalid_client"}, status=401)
        return web.json_response(
            {
                "token_type": "Bearer",
                "expires_in": 3599,
                "access_token": f"bot-token-{uuid.uuid4().hex}",
            }
        )

    async def _metadata(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "issuer": ISSUER,
                "authorization_endpoint": "https://invalid.example/authorize",
                "jwks_uri": f"{self.url}/openid/keys",
                "id_token_signing_alg_values_supported": ["RS256"],
                "token_endpoint_auth_methods_supported": ["private_key_jwt"],
            }
        )

    def rotate_key(self) -> None:
        """A new signing key under a new id, unannounced, as Microsoft may rotate them."""
        stem, number = self.kid.rsplit("-", 1)
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = f"{stem}-{int(number) + 1}"

    async def _keys(self, request: web.Request) -> web.Response:
        self.key_fetches += 1
        public = self.key.public_key().public_numbers()
        jwk = {
            "kty": "RSA",
            "use": "sig",
            "kid": self.kid,
            "n": _b64(public.n),
            "e": _b64(public.e),
            "endorsements": ["msteams"],
        }
        # As login.botframework.com answers: the keys may be cached for a day.
        return web.json_response(
            {"keys": [jwk]}, headers={"Cache-Control": "public, max-age=86400"}
        )

    def _throttled(self, request: web.Request) -> float | None:
        """Teams' throttling of a send or a new conversation: None, or the Retry-After."""
        cid = request.match_info.get("cid")
        checks: list[tuple[SlidingWindows, str]] = []
        if cid is not None and self.conversation_windows is not None:
            checks.append((self._conversations, cid))
        if self.tenant_rate is not None:
            checks.append((self.overall, "tenant"))
        return SlidingWindows.admit(time.monotonic(), *checks)

    async def _record(self, request: web.Request) -> web.StreamResponse | None:
        body = await request.json() if request.can_read_body else None
        call = Call(request.method, request.path, body, request.headers.get("Authorization"))
        # Read by the handler right after this returns, with no await in between.
        self._current = call
        if self.keep_calls:
            self.calls.append(call)
        if not (request.headers.get("Authorization") or "").startswith("Bearer bot-token-"):
            return web.json_response({"error": {"code": "Unauthorized"}}, status=401)
        with self._lock:
            failure = self.failures.pop(0) if self.failures else None
        if failure is None and request.method == "POST":
            wait = self._throttled(request)
            if wait is not None:
                self.refused += 1
                return web.json_response(
                    {"error": {"code": "Throttled", "message": "too many requests"}},
                    status=429,
                    headers={"Retry-After": SlidingWindows.retry_after(wait)},
                )
        if failure is None:
            return None
        if failure.drop_connection:
            # The request arrived; the answer never does (a reset after sending).
            assert request.transport is not None
            request.transport.close()
            return web.Response(status=500)
        headers = (
            {"Retry-After": str(failure.retry_after)} if failure.retry_after is not None else {}
        )
        return web.json_response(
            {"error": {"code": "Throttled", "message": "fake failure"}},
            status=failure.status,
            headers=headers,
        )

    @_recorded
    async def _create(self, request: web.Request) -> web.StreamResponse:
        assert self._current is not None
        body = self._current.body or {}
        member = (body.get("members") or [{}])[0].get("id", "")
        if member in self.unreachable:
            # Teams' answer for someone the bot shares no team with, or who blocked it.
            return web.json_response(
                {"error": {"code": "Forbidden", "message": "The bot is not part of the roster"}},
                status=403,
            )
        return web.json_response(
            {"id": f"a:1personal-{member}", "activityId": str(next(self._ids))}, status=201
        )

    @_recorded
    async def _send(self, request: web.Request) -> web.StreamResponse:
        activity_id = str(next(self._ids))
        assert self._current is not None
        self._current.result_id = activity_id
        self.posted[request.match_info["cid"]] += 1
        now = time.monotonic()
        self.first_post = now if self.first_post is None else self.first_post
        self.last_post = now
        return web.json_response({"id": activity_id}, status=201)

    @_recorded
    async def _update(self, request: web.Request) -> web.StreamResponse:
        return web.json_response({"id": request.match_info["aid"]})

    @_recorded
    async def _member(self, request: web.Request) -> web.StreamResponse:
        member = self.members.get(request.match_info["mid"])
        if member is None:
            return web.json_response(
                {"error": {"code": "MemberNotFoundInConversation"}}, status=404
            )
        return web.json_response(member)

    def roster_requests(self) -> list[Call]:
        return [c for c in self.calls if c.path.endswith("/pagedmembers")]

    @_recorded
    async def _paged_members(self, request: web.Request) -> web.StreamResponse:
        self.roster_queries.append(dict(request.query))
        if not self.roster_gate.is_set():
            await asyncio.to_thread(self.roster_gate.wait, 60)
        roster = self.rosters.get(request.match_info["cid"])
        if roster is None:
            return web.json_response(
                {"error": {"code": "ConversationNotFound", "message": "not a team of the bot"}},
                status=404,
            )
        asked = int(request.query.get("pageSize") or 200)
        size = max(1, min(max(50, min(asked, 500)), self.roster_page_cap))
        token = request.query.get("continuationToken")
        start = int(token.removeprefix("page-")) if token and token.startswith("page-") else 0
        if token and not token.startswith("page-"):
            return web.json_response(
                {"error": {"code": "BadArgument", "message": "bad continuationToken"}}, status=400
            )
        page: dict[str, Any] = {"members": roster[start : start + size]}
        if start + size < len(roster):
            page["continuationToken"] = f"page-{start + size}"
        return web.json_response(page)

    @_recorded
    async def _channels(self, request: web.Request) -> web.StreamResponse:
        channels = self.team_channels.get(request.match_info["tid"])
        if channels is None:
            return web.json_response({"error": {"code": "NotFound"}}, status=404)
        return web.json_response({"conversations": channels})

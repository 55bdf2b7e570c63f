"""A fake Slack Web API: a real HTTP server on 127.0.0.1 that answers as Slack does.

Tests point SLACK_API_URL at `FakeSlack.api_url` and assert on `calls`. Nothing in slack_sdk or
in our code is patched: requests travel over a socket, in the shapes slack_sdk sends them
(form bodies, JSON bodies, query strings, `Authorization: Bearer`).

Failures on demand: `fail(method, error)` answers {"ok": false, "error": ...}; `rate_limit(method,
retry_after)` answers HTTP 429 with Retry-After; `drop(method)` closes the connection after
reading the request (the sender cannot know whether it arrived); `expire_trigger(trigger_id)`
makes views.open answer expired_trigger_id.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

from aiohttp import WSMsgType, web

Args = dict[str, Any]


@dataclass
class FakeUser:
    id: str
    email: str | None = None
    name: str = ""
    locale: str = "da-DK"
    team_id: str = "T0MEDPULS"
    deleted: bool = False
    is_bot: bool = False

    def as_slack(self, *, include_locale: bool) -> dict[str, Any]:
        user: dict[str, Any] = {
            "id": self.id,
            "team_id": self.team_id,
            "name": self.name or self.id.lower(),
            "real_name": self.name,
            "deleted": self.deleted,
            "is_bot": self.is_bot,
            "tz": "Europe/Copenhagen",
            "profile": {
                "real_name": self.name,
                "display_name": self.name,
                "email": self.email,
            },
        }
        if include_locale:
            user["locale"] = self.locale
        return user


@dataclass(frozen=True)
class Call:
    method: str
    args: Args
    token: str | None
    # What the fake answered (an empty dict for a dropped connection).
    result: dict[str, Any] = field(default_factory=dict)

    def blocks(self) -> list[dict[str, Any]]:
        raw = self.args.get("blocks")
        if isinstance(raw, str):
            raw = json.loads(raw)
        return list(raw or [])

    def view(self) -> dict[str, Any]:
        raw = self.args.get("view")
        if isinstance(raw, str):
            raw = json.loads(raw)
        return dict(raw or {})


@dataclass
class _Fault:
    kind: str  # "error", "429", "drop"
    value: Any
    times: int
    when: Callable[[Args], bool] | None = None


@dataclass
class FakeSlack:
    team_id: str = "T0MEDPULS"
    bot_user_id: str = "U0MEDBOT"
    bot_token: str = "xoxb-fake-bot-token"
    # The Enterprise Grid org of `team_id`, if any (oauth.v2.access says so).
    enterprise_id: str | None = None
    users: dict[str, FakeUser] = field(default_factory=dict)
    # Tokens oauth.v2.access issued -> their workspace: as on Slack, a token only finds users
    # of its own workspace by e-mail. Tokens not in here (SLACK_BOT_TOKEN) see every user.
    tokens: dict[str, str] = field(default_factory=dict)
    revoked: list[str] = field(default_factory=list)
    # Channel id -> its workspace; a token of another workspace gets channel_not_found.
    channels: dict[str, str] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    uploads: dict[str, bytes] = field(default_factory=dict)
    expired_triggers: set[str] = field(default_factory=set)
    _faults: dict[str, list[_Fault]] = field(default_factory=dict)
    _runner: web.AppRunner | None = None
    calls_token: str | None = None  # the token of the request being answered
    _port: int = 0
    _ts: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    # The token of the call being answered (handlers run one at a time on the fake's loop).
    _caller: str | None = None

    # Socket Mode: the app's websocket connections, and acknowledgements awaited by envelope.
    sockets: list[web.WebSocketResponse] = field(default_factory=list)
    _acks: dict[str, asyncio.Future[dict[str, Any]]] = field(default_factory=dict)
    _connected: asyncio.Event = field(default_factory=asyncio.Event)

    # --- set-up -------------------------------------------------------------------------------

    def add_user(self, user_id: str, email: str | None = None, **kw: Any) -> FakeUser:
        user = FakeUser(user_id, email, team_id=kw.pop("team_id", self.team_id), **kw)
        self.users[user_id] = user
        return user

    def fail(
        self,
        method: str,
        error: str,
        *,
        times: int = 1,
        when: Callable[[Args], bool] | None = None,
    ) -> None:
        self._faults.setdefault(method, []).append(_Fault("error", error, times, when))

    def rate_limit(self, method: str, retry_after: int = 1, *, times: int = 1) -> None:
        self._faults.setdefault(method, []).append(_Fault("429", retry_after, times))

    def drop(self, method: str, *, times: int = 1) -> None:
        self._faults.setdefault(method, []).append(_Fault("drop", None, times))

    def expire_trigger(self, trigger_id: str) -> None:
        self.expired_triggers.add(trigger_id)

    # --- reading what happened ----------------------------------------------------------------

    def calls_to(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    def methods(self) -> list[str]:
        return [c.method for c in self.calls]

    def clear(self) -> None:
        self.calls.clear()

    # --- server -------------------------------------------------------------------------------

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    @property
    def api_url(self) -> str:
        return f"{self.root}/api/"

    def response_url(self, name: str = "hook") -> str:
        return f"{self.root}/response/{name}"

    async def start(self) -> FakeSlack:
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_post("/upload/{file_id}", self._upload)
        app.router.add_post("/response/{name}", self._response_url)
        app.router.add_get("/link", self._socket)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        self._port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeSlack:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # --- handlers -----------------------------------------------------------------------------

    async def _read_args(self, request: web.Request) -> Args:
        args: Args = dict(request.query)
        if request.can_read_body:
            raw = await request.read()
            ctype = request.content_type
            if ctype == "application/json" and raw:
                args.update(json.loads(raw))
            elif raw:
                args.update(parse_qsl(raw.decode(), keep_blank_values=True))
        return args

    def _fault(self, method: str, args: Args) -> _Fault | None:
        for fault in self._faults.get(method, []):
            if fault.times > 0 and (fault.when is None or fault.when(args)):
                fault.times -= 1
                return fault
        return None

    async def _api(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        args = await self._read_args(request)
        auth = request.headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else None
        token = token or args.pop("token", None)
        fault = self._fault(method, args)
        if fault is not None:
            if fault.kind == "429":
                limited = {"ok": False, "error": "ratelimited"}
                self.calls.append(Call(method, args, token, limited))
                return web.json_response(
                    limited, status=429, headers={"Retry-After": str(fault.value)}
                )
            if fault.kind == "drop":
                # The request arrived; the answer never does.
                self.calls.append(Call(method, args, token))
                assert request.transport is not None
                request.transport.close()
                raise ConnectionResetError("dropped by the fake")
            failed = {"ok": False, "error": fault.value}
            self.calls.append(Call(method, args, token, failed))
            return web.json_response(failed)
        self.calls_token = token
        handler = getattr(self, "_m_" + method.replace(".", "_"), None)
        self._caller = token
        result: dict[str, Any] = (
            handler(args) if handler is not None else {"ok": False, "error": "unknown_method"}
        )
        self.calls.append(Call(method, args, token, result))
        return web.json_response(result)

    async def _upload(self, request: web.Request) -> web.Response:
        body = await request.read()
        file_id = request.match_info["file_id"]
        self.uploads[file_id] = body
        self.calls.append(Call("upload", {"file_id": file_id, "length": len(body)}, None))
        return web.Response(text=f"OK - {len(body)}")

    async def _response_url(self, request: web.Request) -> web.Response:
        args = await self._read_args(request)
        self.calls.append(Call("response_url", {"name": request.match_info["name"], **args}, None))
        return web.json_response({"ok": True})

    # --- methods ------------------------------------------------------------------------------

    def _ts_now(self) -> str:
        return f"{int(time.time())}.{next(self._ts):06d}"

    def _dm_channel(self, user_id: str) -> str:
        return "D" + user_id.removeprefix("U").removeprefix("W")

    def _m_auth_revoke(self, args: Args) -> dict[str, Any]:
        if self._caller:
            self.revoked.append(self._caller)
            self.tokens.pop(self._caller, None)
        return {"ok": True, "revoked": True}

    # --- Socket Mode (api.slack.com/apis/socket-mode) ----------------------------------------

    def _m_apps_connections_open(self, args: Args) -> dict[str, Any]:
        # Only an app-level token (xapp-) opens a connection; the bot token does not.
        token = self.calls_token
        if not (token or "").startswith("xapp-"):
            return {"ok": False, "error": "not_allowed_token_type"}
        return {"ok": True, "url": f"ws://127.0.0.1:{self._port}/link?ticket=fake-ticket"}

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.sockets.append(ws)
        await ws.send_json(
            {
                "type": "hello",
                "num_connections": len(self.sockets),
                "debug_info": {"host": "applink-fake", "approximate_connection_time": 18060},
                "connection_info": {"app_id": "A0MEDPULS"},
            }
        )
        self._connected.set()
        async for frame in ws:
            if frame.type != WSMsgType.TEXT:
                continue
            ack = json.loads(frame.data)
            waiting = self._acks.pop(str(ack.get("envelope_id")), None)
            if waiting is not None and not waiting.done():
                waiting.set_result(ack)
        self.sockets.remove(ws)
        return ws

    async def push(
        self, kind: str, payload: dict[str, Any], *, retry_attempt: int = 0, timeout: float = 10
    ) -> dict[str, Any]:
        """Send an envelope as Slack does over Socket Mode; the app's acknowledgement back."""
        await asyncio.wait_for(self._connected.wait(), timeout)
        envelope_id = f"env-{next(self._ts)}"
        done: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._acks[envelope_id] = done
        await self.sockets[-1].send_json(
            {
                "envelope_id": envelope_id,
                "payload": payload,
                "type": kind,
                "accepts_response_payload": kind != "events_api",
                "retry_attempt": retry_attempt,
                "retry_reason": "timeout" if retry_attempt else "",
            }
        )
        return await asyncio.wait_for(done, timeout)

    def _m_auth_test(self, args: Args) -> dict[str, Any]:
        return {
            "ok": True,
            "url": "https://medpuls-test.slack.com/",
            "team": "MEDpuls test",
            "user": "medpuls",
            "team_id": self.tokens.get(self._caller or "", self.team_id),
            "user_id": self.bot_user_id,
            "bot_id": "B0MEDBOT",
            "is_enterprise_install": False,
        }

    def _user_or_error(self, user_id: str) -> FakeUser | None:
        return self.users.get(user_id)

    def _m_users_info(self, args: Args) -> dict[str, Any]:
        user = self.users.get(str(args.get("user", "")))
        if user is None:
            return {"ok": False, "error": "user_not_found"}
        include = str(args.get("include_locale", "")).lower() in ("1", "true")
        return {"ok": True, "user": user.as_slack(include_locale=include)}

    def _m_users_lookupByEmail(self, args: Args) -> dict[str, Any]:
        email = str(args.get("email", "")).lower()
        team = self.tokens.get(self._caller or "")
        for user in self.users.values():
            if team is not None and user.team_id != team:
                continue
            if user.email and user.email.lower() == email:
                return {"ok": True, "user": user.as_slack(include_locale=False)}
        return {"ok": False, "error": "users_not_found"}

    def _m_conversations_open(self, args: Args) -> dict[str, Any]:
        users = str(args.get("users", "")).split(",")
        if not users[0] or users[0] not in self.users:
            return {"ok": False, "error": "user_not_found"}
        return {"ok": True, "channel": {"id": self._dm_channel(users[0])}}

    def _channel_for(self, channel: str) -> str | dict[str, Any]:
        team = self.tokens.get(self._caller or "")
        if channel.startswith(("U", "W")):
            user = self.users.get(channel)
            if user is None or (team is not None and user.team_id != team):
                return {"ok": False, "error": "channel_not_found"}
            if user.deleted:
                return {"ok": False, "error": "user_disabled"}
            return self._dm_channel(channel)
        home = self.channels.get(channel)
        if team is not None and home is not None and home != team:
            return {"ok": False, "error": "channel_not_found"}
        return channel

    def _m_chat_postMessage(self, args: Args) -> dict[str, Any]:
        channel = self._channel_for(str(args.get("channel", "")))
        if isinstance(channel, dict):
            return channel
        ts = self._ts_now()
        message = {"type": "message", "text": args.get("text"), "ts": ts, "bot_id": "B0MEDBOT"}
        return {"ok": True, "channel": channel, "ts": ts, "message": message}

    def _m_chat_update(self, args: Args) -> dict[str, Any]:
        home = self.channels.get(str(args.get("channel", "")))
        team = self.tokens.get(self._caller or "")
        if team is not None and home is not None and home != team:
            return {"ok": False, "error": "channel_not_found"}
        return {
            "ok": True,
            "channel": args.get("channel"),
            "ts": args.get("ts"),
            "text": args.get("text"),
        }

    def _m_chat_postEphemeral(self, args: Args) -> dict[str, Any]:
        return {"ok": True, "message_ts": self._ts_now()}

    def _m_views_open(self, args: Args) -> dict[str, Any]:
        if args.get("trigger_id") in self.expired_triggers:
            return {"ok": False, "error": "expired_trigger_id"}
        view = args.get("view")
        if isinstance(view, str):
            view = json.loads(view)
        return {"ok": True, "view": {"id": f"V{next(self._ts):08d}", **(view or {})}}

    def _m_views_publish(self, args: Args) -> dict[str, Any]:
        view = args.get("view")
        if isinstance(view, str):
            view = json.loads(view)
        return {"ok": True, "view": {"id": f"V{next(self._ts):08d}", **(view or {})}}

    def _m_files_getUploadURLExternal(self, args: Args) -> dict[str, Any]:
        file_id = f"F{next(self._ts):08d}"
        return {"ok": True, "upload_url": f"{self.root}/upload/{file_id}", "file_id": file_id}

    def _m_files_completeUploadExternal(self, args: Args) -> dict[str, Any]:
        files = args.get("files")
        if isinstance(files, str):
            files = json.loads(files)
        return {
            "ok": True,
            "files": [{"id": f["id"], "title": f.get("title")} for f in files or []],
        }

    def _m_oauth_v2_access(self, args: Args) -> dict[str, Any]:
        if not args.get("code"):
            return {"ok": False, "error": "invalid_code"}
        self.tokens[self.bot_token] = self.team_id
        enterprise = (
            {"id": self.enterprise_id, "name": "MEDpuls org"} if self.enterprise_id else None
        )
        return {
            "ok": True,
            "app_id": "A0MEDPULS",
            "authed_user": {"id": "U0INSTALLER"},
            "scope": "chat:write,commands",
            "token_type": "bot",
            "access_token": self.bot_token,
            "bot_user_id": self.bot_user_id,
            "team": {"id": self.team_id, "name": "MEDpuls test"},
            "enterprise": enterprise,
            "is_enterprise_install": False,
        }


# --- requests as Slack sends them -------------------------------------------------------------

FIXTURES = Path(__file__).resolve().parents[2] / "adapters" / "slack" / "fixtures"


def fixture(name: str) -> dict[str, Any]:
    """A recorded payload shape from adapters/slack/fixtures/ (a fresh copy each time)."""
    data: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))
    return data


_triggers = itertools.count(1)


def slash_command(user_id: str, text: str, channel: str) -> dict[str, Any]:
    """The form fields Slack posts when `user_id` types `/med <text>` in `channel`."""
    fields = fixture("slash_command")
    fields.update(
        user_id=user_id,
        text=text,
        channel_id=channel,
        channel_name="directmessage" if channel.startswith("D") else "hjemmeplejen-nord",
        trigger_id=f"{time.time():.6f}.{next(_triggers)}.command",
    )
    return fields


def view_submission(user_id: str, opened: Call, values: dict[str, Any]) -> dict[str, Any]:
    """The payload Slack posts when `user_id` submits the modal `opened` (a views.open call).

    A plain string value is a text input; a dict is taken as the element's state as it is.
    """
    view = opened.view()
    payload = fixture("view_submission")
    payload["user"]["id"] = user_id
    payload["trigger_id"] = f"{time.time():.6f}.{next(_triggers)}.submit"
    state = {
        name: {
            "value": value
            if isinstance(value, dict)
            else {"type": "plain_text_input", "value": value}
        }
        for name, value in values.items()
    }
    payload["view"].update(
        id=opened.result["view"]["id"],
        callback_id=view["callback_id"],
        private_metadata=view["private_metadata"],
        blocks=view["blocks"],
        state={"values": state},
    )
    return payload


def sign(secret: str, body: str, timestamp: int | str) -> str:
    """Slack's v0 signature: HMAC-SHA256 of "v0:{timestamp}:{body}" under the signing secret."""
    base = f"v0:{timestamp}:{body}".encode()
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def interaction_body(payload: dict[str, Any]) -> tuple[str, str]:
    """Interactivity posts a form with one `payload` field holding the JSON."""
    return urlencode({"payload": json.dumps(payload)}), "application/x-www-form-urlencoded"


def command_body(fields: dict[str, Any]) -> tuple[str, str]:
    return urlencode(fields), "application/x-www-form-urlencoded"


def event_body(envelope: dict[str, Any]) -> tuple[str, str]:
    return json.dumps(envelope), "application/json"


def signed_headers(
    secret: str, body: str, content_type: str, *, timestamp: int | None = None
) -> dict[str, str]:
    ts = int(time.time()) if timestamp is None else timestamp
    return {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": str(ts),
        "X-Slack-Signature": sign(secret, body, ts),
    }


# --- MEDpuls on a fake workspace ----------------------------------------------------------------

SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"


@dataclass
class Sent:
    status: int
    text: str

    def json(self) -> Any:
        return json.loads(self.text) if self.text else None


class SlackWorkspace:
    """MEDpuls served on 127.0.0.1 with Slack configured, talking to a `FakeSlack`.

    `interact`, `command` and `event` send requests signed as Slack signs them; `drain` waits
    for the adapter's work after the acknowledgement; `deliver` empties the outbox.
    """

    def __init__(self, db_url: str, fake: FakeSlack, **settings: Any) -> None:
        self.db_url = db_url
        self.fake = fake
        self.settings_overrides = settings
        self.secret = settings.get("SLACK_SIGNING_SECRET", SIGNING_SECRET)

    async def __aenter__(self) -> SlackWorkspace:
        from aiohttp.test_utils import TestServer

        from adapters.slack.web import SLACK_ADAPTER
        from bot.app.server import build_web_app
        from bot.app.wiring import build
        from bot.core.config import Settings

        values: dict[str, Any] = {
            "DATABASE_URL": self.db_url,
            "SLACK_BOT_TOKEN": self.fake.bot_token,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": self.fake.api_url,
        }
        values.update(self.settings_overrides)
        self.bot = build(Settings(**values))
        self.web = build_web_app(self.bot, background=False)
        self.adapter = self.web[SLACK_ADAPTER]
        self.server = TestServer(self.web, host="127.0.0.1")
        await self.server.start_server()
        import aiohttp

        self.http = aiohttp.ClientSession()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.adapter.drain()
        await self.http.close()
        await self.server.close()
        self.bot.db.dispose()

    @property
    def url(self) -> str:
        return str(self.server.make_url("/slack/events"))

    async def post(
        self,
        body: str,
        content_type: str,
        *,
        headers: dict[str, str] | None = None,
        timestamp: int | None = None,
        secret: str | None = None,
    ) -> Sent:
        if headers is None:
            headers = signed_headers(secret or self.secret, body, content_type, timestamp=timestamp)
        async with self.http.post(self.url, data=body.encode(), headers=headers) as resp:
            return Sent(resp.status, await resp.text())

    async def interact(self, payload: dict[str, Any], **kw: Any) -> Sent:
        return await self.post(*interaction_body(payload), **kw)

    async def command(self, fields: dict[str, Any], **kw: Any) -> Sent:
        return await self.post(*command_body(fields), **kw)

    async def event(self, envelope: dict[str, Any], **kw: Any) -> Sent:
        return await self.post(*event_body(envelope), **kw)

    async def drain(self) -> None:
        await self.adapter.drain()

    async def deliver(self) -> int:
        """Empty the outbox, waiting out a short Retry-After as the worker's loop would."""
        total = 0
        while True:
            while sent := await self.bot.delivery.run_once():
                total += sent
            if not self._rate_limited_soon_due():
                return total
            await asyncio.sleep(0.05)

    def _rate_limited_soon_due(self) -> bool:
        from sqlalchemy import func, select

        from storage.models import OutboxMessage, utcnow

        with self.bot.db.session() as s:
            waiting = s.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(
                    OutboxMessage.status == "pending",
                    OutboxMessage.last_error == "slack rate limit",
                    OutboxMessage.next_attempt_at <= utcnow() + dt.timedelta(seconds=3),
                )
            )
        return bool(waiting)

"""The Slack routes of `medpuls serve`, and Socket Mode when SLACK_APP_TOKEN is set.

Every request to /slack/events is checked here before Bolt sees it: the v0 signature (HMAC-SHA256
of "v0:{timestamp}:{body}" under the signing secret, compared in constant time) and a timestamp
within five minutes either way. A request that fails gets 401 and is not processed.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import re
import time
from collections.abc import AsyncIterator, Callable
from typing import cast

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.request.async_request import AsyncBoltRequest

from adapters.slack.adapter import SlackAdapter
from adapters.slack.logs import log
from adapters.slack.platform import SlackPlatform
from adapters.slack.registry import EVENTS_PATH, INSTALL_PATH, REDIRECT_PATH
from bot.core.platform import Platform, TurnHandler
from bot.core.request_body import SLACK_LIMIT, read_body, utf8

SLACK_ADAPTER: web.AppKey[SlackAdapter] = web.AppKey("slack_adapter", SlackAdapter)
MAX_BODY = SLACK_LIMIT
# Slack: reject requests whose timestamp is more than five minutes from now (replays).
MAX_SKEW = 300
_SECONDS = re.compile(r"[0-9]{1,12}", re.ASCII)


def signed(
    secret: str, body: str, timestamp: str, signature: str, now: float | None = None
) -> bool:
    """Slack's v0 request signature, and a timestamp no more than five minutes off."""
    # isdigit() also passes "٣" and "²", which int() refuses, and 4,000 digits would make
    # int() raise: only a plain ASCII count of seconds gets as far as the clock check.
    if not secret or not _SECONDS.fullmatch(timestamp) or not signature.startswith("v0="):
        return False
    now = time.time() if now is None else now
    if abs(now - int(timestamp)) > MAX_SKEW:
        return False
    base = f"v0:{timestamp}:{body}".encode()
    expected = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), signature.encode())


def mount(app: web.Application, core: TurnHandler, platform: Platform) -> None:
    slack = cast(SlackPlatform, platform)
    if slack.store is not None:
        slack.store.check_key()
    adapter = SlackAdapter(core, slack)
    app[SLACK_ADAPTER] = adapter
    secret = slack.settings.slack_signing_secret or ""

    async def events(request: web.Request) -> web.StreamResponse:
        # At most 1 MiB, chunked or not, and UTF-8 whatever charset the request claims:
        # bad bytes or an unknown charset were a 500 before the signature was checked.
        body = utf8(await read_body(request, MAX_BODY))
        if not signed(
            secret,
            body,
            request.headers.get("X-Slack-Request-Timestamp", ""),
            request.headers.get("X-Slack-Signature", ""),
        ):
            log.warning(
                "slack request refused: bad signature or stale timestamp",
                extra={"platform": "slack"},
            )
            return web.Response(status=401, text="invalid request")
        retry = request.headers.get("X-Slack-Retry-Num")
        if retry:
            log.info(
                "slack redelivery",
                extra={
                    "platform": "slack",
                    "retry": retry,
                    "reason": request.headers.get("X-Slack-Retry-Reason"),
                },
            )
        with adapter.acknowledging():
            # Built from the body already read: Bolt's to_bolt_request would read it again
            # by the request's charset.
            bolt_request = AsyncBoltRequest(
                body=body,
                query=request.query_string,
                headers=dict(request.headers),
            )
            return await to_aiohttp_response(await adapter.bolt.async_dispatch(bolt_request))

    async def oauth(request: web.Request) -> web.StreamResponse:
        flow = adapter.bolt.oauth_flow
        if flow is None:
            raise web.HTTPNotFound(text="This MEDpuls runs in one workspace (SLACK_BOT_TOKEN).")
        bolt_request = await to_bolt_request(request)
        if request.path == INSTALL_PATH:
            response = await flow.handle_installation(bolt_request)
        else:
            response = await flow.handle_callback(bolt_request)
        return await to_aiohttp_response(response)

    app.router.add_post(EVENTS_PATH, events)
    app.router.add_get(INSTALL_PATH, oauth)
    app.router.add_get(REDIRECT_PATH, oauth)
    app.cleanup_ctx.append(_lifetime(adapter))


def _lifetime(adapter: SlackAdapter) -> Callable[[web.Application], AsyncIterator[None]]:
    async def run(app: web.Application) -> AsyncIterator[None]:
        handler = None
        await adapter.platform.pool_connections()
        token = adapter.settings.slack_app_token
        if token:
            from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

            handler = AsyncSocketModeHandler(adapter.bolt, token)
            await handler.connect_async()  # type: ignore[no-untyped-call]
            log.info("slack socket mode connected", extra={"platform": "slack"})
        yield
        if handler is not None:
            with contextlib.suppress(Exception):
                await handler.close_async()  # type: ignore[no-untyped-call]
        await adapter.close()
        await adapter.platform.close()

    return run

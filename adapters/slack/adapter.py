"""Interactions in, replies out: acknowledge Slack at once, do the work after.

Slack wants an answer within three seconds. Listeners (adapters/slack/listeners/) acknowledge
first and hand the rest to `SlackAdapter.spawn`, which keeps the task so that shutdown and tests
can `await adapter.drain()`. Only a modal submission waits for the flow before acknowledging,
because its errors travel in the acknowledgement; if the flow is slow, the modal closes and
the work finishes in the background.

Acknowledgements go before work: the web route counts the requests it is answering
(`acknowledging`), and background work starts once none has been left for `LULL` (the requests
of a burst arrive a little apart), or after `ACKS_FIRST_WAIT` at the latest. On a burst of
clicks (a pulse round landing in 50 DMs at once) the database work and Web API calls of the
first clicks would otherwise share the event loop and the GIL with the acknowledgements of the
later ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import html
from collections.abc import AsyncIterator, Coroutine, Iterator
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization.async_authorize import AsyncInstallationStoreAuthorize
from slack_bolt.oauth.async_callback_options import (
    AsyncCallbackOptions,
    AsyncFailureArgs,
    AsyncSuccessArgs,
)
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError

from adapters.slack import normalize
from adapters.slack.blocks import FormOrigin, render_modal
from adapters.slack.installation_store import ForeignWorkspace, SignedStateStore
from adapters.slack.logs import log, sdk_logger
from adapters.slack.normalize import Body, Origin
from adapters.slack.platform import SlackPlatform, error_code
from adapters.slack.registry import INSTALL_PATH, REDIRECT_PATH, bot_scopes
from bot.core.events import Actor, CommandInvoked, InboundEvent, MemberJoined
from bot.core.i18n import Lang, language_of, translator
from bot.core.messages import Message, Reply
from bot.core.platform import TurnHandler

# A submitted modal waits this long for the flow before Slack's three seconds run out.
SUBMISSION_WAIT = 2.0
# Background work starts when no request has been waiting for its acknowledgement this long,
# and under a steady stream of requests waits no longer than ACKS_FIRST_WAIT for such a lull.
LULL = 0.02
ACKS_FIRST_WAIT = 1.0


class SlackAdapter:
    def __init__(self, core: TurnHandler, platform: SlackPlatform) -> None:
        self.core = core
        self.platform = platform
        self.settings = platform.settings
        self._tasks: set[asyncio.Task[Any]] = set()
        self._turns: dict[tuple[str | None, str], tuple[asyncio.Lock, int]] = {}
        self._answering = 0
        self._all_answered = asyncio.Event()
        self._all_answered.set()
        self._lull: asyncio.TimerHandle | None = None
        self.bolt = self._build_bolt()

    # --- Bolt ---------------------------------------------------------------------------------

    def _build_bolt(self) -> AsyncApp:
        from adapters.slack.listeners import register_all

        settings = self.settings
        kwargs: dict[str, Any] = {
            "name": "medpuls",
            "logger": sdk_logger(),
            "signing_secret": settings.slack_signing_secret or "",
            # Listeners only acknowledge and spawn; the response goes out when they return.
            "process_before_response": True,
            "client": self.platform.reads,
        }
        if not settings.slack_bot_token:
            secret = settings.slack_client_secret or ""
            store = self.platform.store
            assert store is not None  # no SLACK_BOT_TOKEN: installations live in our store
            kwargs["installation_store"] = store
            # Bolt's default authorize asks auth.test on every request, before the ack can go;
            # the answer for a token does not change, so once per token is enough.
            kwargs["authorize"] = AsyncInstallationStoreAuthorize(
                installation_store=store,
                client_id=settings.slack_client_id,
                client_secret=secret,
                logger=sdk_logger(),
                client=self.platform.reads,
                cache_enabled=True,
            )
            kwargs["oauth_settings"] = AsyncOAuthSettings(
                client_id=settings.slack_client_id,
                client_secret=secret,
                scopes=bot_scopes(),
                install_path=INSTALL_PATH,
                redirect_uri_path=REDIRECT_PATH,
                redirect_uri=(
                    settings.public_url.rstrip("/") + REDIRECT_PATH if settings.public_url else None
                ),
                installation_store=store,
                state_store=SignedStateStore(secret, self.platform.db),
                callback_options=AsyncCallbackOptions(
                    success=self._installed, failure=self._install_failed
                ),
                logger=sdk_logger(),
            )
        app = AsyncApp(**kwargs)
        register_all(app, self)
        return app

    async def _installed(self, args: AsyncSuccessArgs) -> BoltResponse:
        installation = args.installation
        if installation.user_id:
            joined = MemberJoined(
                Actor("slack", installation.user_id, team_id=installation.team_id),
                None,
                reference={"team_id": installation.team_id, "installed": True},
            )
            self.spawn(self._run(joined, Origin("install", installation.user_id)))
        response: BoltResponse = await args.default.success(args)
        return response

    async def _install_failed(self, args: AsyncFailureArgs) -> BoltResponse:
        if isinstance(args.error, ForeignWorkspace):
            return await self._refuse_install(args.error)
        log.warning("slack install failed", extra={"platform": "slack", "reason": args.reason})
        response: BoltResponse = await args.default.failure(args)
        return response

    async def _refuse_install(self, refused: ForeignWorkspace) -> BoltResponse:
        """A workspace that is not on the allow-list: nothing kept, the token given back."""
        installation = refused.installation
        log.warning(
            "slack install refused: workspace not allowed",
            extra={
                "platform": "slack",
                "team": installation.team_id,
                "reason": installation.enterprise_id or "",
            },
        )
        if installation.bot_token:
            # Revoking uninstalls the app from that workspace: it is left with no bot that
            # nobody here can use, and no token of it exists anywhere any more.
            try:
                await self.platform.reads.auth_revoke(token=installation.bot_token)
            except Exception as exc:  # best effort: nothing of it was stored anyway
                log.warning(
                    "slack token revoke failed",
                    extra={"platform": "slack", "reason": type(exc).__name__},
                )
        t = translator(self.settings.language)
        title = html.escape(t("slack.install_refused_title"))
        text = html.escape(t("slack.install_refused"))
        lang = self.settings.language
        body = (
            f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8">'
            f"<title>{title}</title></head><body><h1>{title}</h1><p>{text}</p></body></html>"
        )
        return BoltResponse(
            status=403, body=body, headers={"Content-Type": "text/html; charset=utf-8"}
        )

    # --- background work ----------------------------------------------------------------------

    def spawn(self, work: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            exc = task.exception()
            log.error(
                "slack background work failed",
                exc_info=exc,
                extra={"platform": "slack", "reason": type(exc).__name__},
            )

    @contextlib.contextmanager
    def acknowledging(self) -> Iterator[None]:
        """Around the handling of one request from Slack, up to its acknowledgement."""
        self._answering += 1
        self._all_answered.clear()
        if self._lull is not None:
            self._lull.cancel()
            self._lull = None
        try:
            yield
        finally:
            self._answering -= 1
            if self._answering == 0:
                self._lull = asyncio.get_running_loop().call_later(LULL, self._all_answered.set)

    async def _after_acknowledgements(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._all_answered.wait(), ACKS_FIRST_WAIT)

    async def drain(self, timeout: float = 30.0) -> None:
        """Wait until every acknowledged interaction has been fully handled."""
        deadline = asyncio.get_running_loop().time() + timeout
        while self._tasks:
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                raise TimeoutError(f"{len(self._tasks)} Slack tasks still running")
            await asyncio.wait(set(self._tasks), timeout=left)

    # --- entry points (called by the listeners) -----------------------------------------------

    def _run_found(self, found: tuple[InboundEvent, Origin] | None) -> None:
        """Handle what normalize made of the payload; None: nothing of ours (answered by ack)."""
        if found is not None:
            self.spawn(self._run(*found))

    async def on_block_action(self, body: Body) -> None:
        self._run_found(normalize.block_action(body))

    async def on_retry(self, body: Body) -> None:
        self._run_found(normalize.retry_click(body))

    async def on_command(self, body: Body) -> None:
        self._run_found(normalize.slash_command(body))

    async def on_shortcut(self, body: Body) -> None:
        self._run_found(normalize.shortcut(body))

    async def on_event(self, body: Body) -> None:
        self._run_found(normalize.event_callback(body))

    async def on_view_submission(self, body: Body) -> dict[str, Any] | None:
        """The acknowledgement body for a submitted modal (errors, or a next modal)."""
        event, origin = normalize.view_submission(body, self.settings.tz)
        task = self.spawn(self._handle(event, origin))
        try:
            event, reply = await asyncio.wait_for(asyncio.shield(task), SUBMISSION_WAIT)
        except TimeoutError:
            self.spawn(self._apply_later(task, origin))
            return None
        if reply.errors:
            return {"response_action": "errors", "errors": dict(reply.errors)}
        ack: dict[str, Any] | None = None
        if reply.form is not None:
            form_origin = FormOrigin(
                data=reply.form.data,
                channel_id=origin.channel_id,
                message_ts=origin.message_ts,
                response_url=origin.response_url,
            )
            lang = self._lang(event)
            ack = {
                "response_action": "update",
                "view": render_modal(reply.form, form_origin, lang=lang),
            }
            reply = reply.model_copy(update={"form": None})
        if reply.update is not None or reply.notice is not None or reply.transient is not None:
            self.spawn(self._apply(reply, event, origin))
        return ack

    # --- the work -----------------------------------------------------------------------------

    async def _run(self, event: InboundEvent, origin: Origin) -> None:
        event, reply = await self._handle(event, origin, acks_first=True)
        await self._apply(reply, event, origin)

    async def _handle(
        self, event: InboundEvent, origin: Origin, *, acks_first: bool = False
    ) -> tuple[InboundEvent, Reply]:
        # The turn is taken first, so that waiting for a lull keeps a person's order.
        async with self._turn(origin):
            if acks_first:
                await self._after_acknowledgements()
            log.info(
                "slack interaction",
                extra={
                    "platform": "slack",
                    "team": origin.team_id,
                    "channel": origin.channel_id,
                    "event": origin.kind,
                    "delivery": origin.ref,
                },
            )
            event = await self._enrich(event, origin)
            return event, await self.core.handle(event)

    @contextlib.asynccontextmanager
    async def _turn(self, origin: Origin) -> AsyncIterator[None]:
        """One interaction at a time per person, in the order they arrived.

        The two requests of a double click would otherwise run as concurrent transactions; the
        loser rolls back its delivery record with its work, so a later replay of it would count.
        """
        key = (origin.team_id, origin.user_id)
        lock, users = self._turns.get(key, (asyncio.Lock(), 0))
        self._turns[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._turns[key]
            if users <= 1:
                del self._turns[key]
            else:
                self._turns[key] = (lock, users - 1)

    async def _apply_later(
        self, task: asyncio.Task[tuple[InboundEvent, Reply]], origin: Origin
    ) -> None:
        event, reply = await task
        # The modal is closed already: errors or a next form can no longer be shown.
        await self._apply(reply.model_copy(update={"form": None, "errors": {}}), event, origin)

    async def _enrich(self, event: InboundEvent, origin: Origin) -> InboundEvent:
        """Fill in e-mail and locale so the core can match an imported member by e-mail."""
        if not origin.user_id:
            return event
        info = await self.platform.user_info(origin.user_id, origin.team_id)
        if info is None:
            return event
        # An e-mail introduces a member only for a user of an allowed workspace: a profile
        # e-mail elsewhere (another workspace, a Slack Connect guest) is anyone's to set.
        email = info.email if await self.platform.ours(info.team_id, info.enterprise_id) else None
        actor = dataclasses.replace(
            event.actor, email=email, locale=info.locale, display_name=info.name
        )
        return dataclasses.replace(event, actor=actor)

    def _lang(self, event: InboundEvent) -> Lang:
        return language_of(event.actor.locale, self.settings.language)

    async def _apply(self, reply: Reply, event: InboundEvent, origin: Origin) -> None:
        lang = self._lang(event)
        team = origin.team_id
        try:
            if reply.update is not None:
                if origin.message_ts and origin.channel_id and not origin.is_ephemeral:
                    await self.platform.update_in_place(
                        origin.channel_id, origin.message_ts, reply.update, team_id=team, lang=lang
                    )
                elif origin.response_url:
                    await self.platform.respond(
                        origin.response_url, reply.update, replace=True, lang=lang
                    )
            if reply.form is not None and origin.trigger_id:
                form_origin = FormOrigin(
                    data=reply.form.data,
                    channel_id=origin.channel_id,
                    message_ts=origin.message_ts,
                    response_url=origin.response_url,
                )
                await self.platform.open_modal(
                    origin.trigger_id,
                    reply.form,
                    form_origin,
                    user_id=origin.user_id,
                    team_id=team,
                    lang=lang,
                    retry=normalize.retry_value(event),
                )
            if reply.notice is not None:
                await self._notice(reply, event, origin, lang)
            if reply.transient is not None:
                await self._transient(reply.transient, origin, lang)
        except SlackApiError as exc:
            log.warning(
                "slack reply failed",
                extra={
                    "platform": "slack",
                    "team": team,
                    "channel": origin.channel_id,
                    "event": origin.kind,
                    "reason": error_code(exc),
                },
            )

    async def _notice(self, reply: Reply, event: InboundEvent, origin: Origin, lang: Lang) -> None:
        assert reply.notice is not None
        team = origin.team_id
        if isinstance(event, CommandInvoked) and event.command == "home":
            await self.platform.publish_home(origin.user_id, reply.notice, team_id=team, lang=lang)
            return
        if origin.is_direct or not origin.channel_id:
            await self.platform.dm(origin.user_id, reply.notice, team_id=team, lang=lang)
            return
        try:
            await self.platform.ephemeral(
                origin.channel_id, origin.user_id, reply.notice, team_id=team, lang=lang
            )
        except SlackApiError as exc:
            # /med in a channel the bot is not in: the response_url still reaches the person.
            if (
                error_code(exc) not in ("channel_not_found", "not_in_channel")
                or not origin.response_url
            ):
                raise
            await self.platform.respond(origin.response_url, reply.notice, replace=False, lang=lang)

    async def _transient(self, message: Message, origin: Origin, lang: Lang) -> None:
        """An ephemeral message where they clicked: Slack shows it to them alone and does not
        keep it (it is gone after a reload), so it may say what they chose."""
        team = origin.team_id
        if origin.channel_id and origin.user_id:
            try:
                await self.platform.ephemeral(
                    origin.channel_id, origin.user_id, message, team_id=team, lang=lang
                )
                return
            except SlackApiError as exc:
                if not origin.response_url:
                    raise
                log.info(
                    "ephemeral refused, using the response_url",
                    extra={"platform": "slack", "team": team, "reason": error_code(exc)},
                )
        if origin.response_url:
            await self.platform.respond(origin.response_url, message, replace=False, lang=lang)

    async def close(self) -> None:
        await self.drain()

"""The Slack side of bot.platform.Platform: post, update, open a form, find a person.

Two Web API clients with different retry rules. Reads (users.info, users.lookupByEmail,
auth.test, oauth.v2.access) wait out 429s and retry connection errors: asking twice is harmless.
Writes retry nothing: a chat.postMessage whose connection broke after sending may have arrived,
so it goes back to the outbox as `unknown_outcome` instead of being sent again, and a 429 goes
back as `retry_after` so the outbox reschedules the row instead of holding a worker.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from adapters.slack.blocks import (
    FormOrigin,
    Rendered,
    render_home,
    render_message,
    render_modal,
    retry_message,
)
from adapters.slack.installation_store import DbInstallationStore
from adapters.slack.logs import log, sdk_logger
from adapters.slack.tenancy import workspaces_from
from bot.core.config import Settings
from bot.core.errors import DeliveryError, MedpulsError
from bot.core.events import MessageRef
from bot.core.i18n import Lang, chosen_language
from bot.core.messages import Form, Message
from bot.core.platform import Address
from bot.core.ratelimit import until_slot
from bot.core.sealing import sealer
from storage.db import Database
from storage.models import Member, StoredImage

# The person cannot be reached any more (left, deactivated, blocked the app): mark and skip.
USER_GONE = frozenset(
    {
        "user_not_found",
        "users_not_found",
        "account_inactive",
        "user_disabled",
        "cannot_dm_bot",
        "messages_tab_disabled",
        "user_is_restricted",
    }
)
# A channel we cannot post to (not invited, archived, deleted): retrying will not help.
CHANNEL_GONE = frozenset(
    {
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "restricted_action",
        "team_access_not_granted",
    }
)
# The message itself is wrong or gone: retrying sends the same wrong message.
MESSAGE_BAD = frozenset(
    {
        "invalid_blocks",
        "invalid_blocks_format",
        "msg_too_long",
        "no_text",
        "invalid_arguments",
        "message_not_found",
        "cant_update_message",
        "edit_window_closed",
        "not_allowed_token_type",
    }
)
# An update of a message that is no longer there (deleted, or its DM gone): nothing to rewrite.
MESSAGE_GONE = frozenset({"message_not_found", "channel_not_found"})
# Web API connections kept open by the web process: enough for a burst of replies.
POOL_SIZE = 32
POOL_IDLE_SECONDS = 10.0
USER_CACHE_SECONDS = 900.0
USER_CACHE_SIZE = 10_000
# Channel -> the workspace a post there went through, for this many channels.
CHANNEL_TEAMS_KEPT = 10_000


@dataclass(frozen=True)
class UserInfo:
    user_id: str
    email: str | None
    locale: str | None
    name: str | None
    # The workspace (and Enterprise Grid org) the user belongs to: a Slack Connect guest's is
    # their own, not the workspace the event came from.
    team_id: str | None = None
    enterprise_id: str | None = None


def error_code(exc: SlackApiError) -> str:
    data = exc.response.data if exc.response is not None else None
    if isinstance(data, dict):
        return str(data.get("error") or "unknown_error")
    return "unknown_error"


def retry_after(exc: SlackApiError) -> float | None:
    if exc.response is None or exc.response.status_code != 429:
        return None
    headers = exc.response.headers or {}
    value = headers.get("Retry-After") or headers.get("retry-after") or "1"
    if isinstance(value, list):
        value = value[0]
    try:
        return max(float(value), 1.0)
    except ValueError:
        return 30.0


def _elsewhere(exc: Exception, *codes: str) -> bool:
    """Slack's answer when a channel, person or message belongs to another workspace."""
    return isinstance(exc, SlackApiError) and error_code(exc) in (
        "channel_not_found",
        "not_in_channel",
        *codes,
    )


def delivery_error(exc: Exception, *, to: Address | None = None) -> DeliveryError:
    """What the outbox should do about a failed send."""
    if isinstance(exc, SlackApiError):
        wait = retry_after(exc)
        if wait is not None:
            return DeliveryError("slack rate limit", retry_after=wait)
        code = error_code(exc)
        user = to is not None and to.kind == "user"
        if code in USER_GONE or (user and code == "channel_not_found"):
            return DeliveryError(f"slack: {code}", permanent=True)
        if code in CHANNEL_GONE or code in MESSAGE_BAD:
            return DeliveryError(f"slack: {code}", permanent=True)
        return DeliveryError(f"slack: {code}")
    if isinstance(exc, aiohttp.ClientConnectorError):
        # Never connected: nothing reached Slack, so sending again is safe.
        return DeliveryError("slack: cannot connect")
    if isinstance(exc, aiohttp.ClientError | asyncio.TimeoutError | ConnectionError):
        return DeliveryError(f"slack: {type(exc).__name__}", unknown_outcome=True)
    return DeliveryError(f"slack: {type(exc).__name__}")


class SlackPlatform:
    name = "slack"

    def __init__(self, settings: Settings, db: Database) -> None:
        self.settings = settings
        self.db = db
        self.workspaces = workspaces_from(settings)
        self.store: DbInstallationStore | None = (
            None
            if settings.slack_bot_token
            else DbInstallationStore(
                db,
                self.workspaces,
                sealer(settings, "slack-tokens", needed_for="Slack OAuth mode (SLACK_CLIENT_ID)"),
            )
        )
        logger = sdk_logger()
        self.reads = AsyncWebClient(
            token=settings.slack_bot_token,
            base_url=settings.slack_api_url,
            logger=logger,
            timeout=15,
            retry_handlers=[
                AsyncRateLimitErrorRetryHandler(max_retry_count=3),
                AsyncConnectionErrorRetryHandler(max_retry_count=2),
            ],
        )
        self.writes = AsyncWebClient(
            token=settings.slack_bot_token,
            base_url=settings.slack_api_url,
            logger=logger,
            timeout=15,
            retry_handlers=[],
        )
        # SLACK_BOT_TOKEN's own workspace and Grid org (auth.test), once known.
        self._home: tuple[str | None, str | None] | None = None
        self._users: OrderedDict[tuple[str | None, str], tuple[float, UserInfo | None]] = (
            OrderedDict()
        )
        # Unit channel -> its workspace, learnt from the first post there (several workspaces).
        self._channel_teams: OrderedDict[str, str] = OrderedDict()

    # --- tokens -------------------------------------------------------------------------------

    async def token_for(self, team_id: str | None, enterprise_id: str | None = None) -> str:
        if self.settings.slack_bot_token:
            return self.settings.slack_bot_token
        assert self.store is not None
        bot = await self.store.async_find_bot(enterprise_id=enterprise_id, team_id=team_id)
        if bot is None and team_id is not None and enterprise_id is None:
            # A workspace known by its id alone (a request Bolt has authorised, a member's
            # remembered workspace): an org-wide Enterprise Grid install serves it. Not in the
            # store's own look-up, which authorises requests and must not guess.
            org = await asyncio.to_thread(self.store.only_org_install)
            if org is not None:
                bot = await self.store.async_find_bot(
                    enterprise_id=org[0], team_id=None, is_enterprise_install=True
                )
        if bot is None:
            # Never another workspace's token for a known workspace: that workspace would see
            # the message, or answer for a user who is not theirs.
            if team_id is not None or enterprise_id is not None:
                raise DeliveryError("slack: the app is not installed in this workspace")
            raise DeliveryError("slack: the app is not installed in any workspace")
        return bot.bot_token

    async def ours(self, team_id: str | None, enterprise_id: str | None) -> bool:
        """Whether a Slack user of this workspace (or Grid org) may be one of our members.

        The allow-list decides when there is one. Without one (SLACK_BOT_TOKEN only) it is the
        token's own workspace, asked once (auth.test): a Slack Connect guest from elsewhere is
        not ours, whatever e-mail their profile shows.
        """
        if self.workspaces.restricted or self.store is not None:
            return self.workspaces.restricted and self.workspaces.allows(team_id, enterprise_id)
        if self._home is None:
            try:
                resp = await self.reads.auth_test(token=self.settings.slack_bot_token)
            except (TimeoutError, SlackApiError, aiohttp.ClientError) as exc:
                log.warning(
                    "auth.test failed", extra={"platform": "slack", "reason": type(exc).__name__}
                )
                return False
            self._home = (resp.get("team_id"), resp.get("enterprise_id"))
        home_team, home_grid = self._home
        return (team_id is not None and team_id == home_team) or (
            enterprise_id is not None and enterprise_id == home_grid
        )

    async def _installed_workspaces(self) -> list[tuple[str | None, str | None]]:
        if self.store is None:
            return [(None, None)]
        return await asyncio.to_thread(self.store.workspaces_installed)

    def _member_team(self, member_id: int | None) -> str | None:
        if member_id is None or self.store is None:
            return None
        with self.db.session() as session:
            member = session.get(Member, member_id)
            return member.slack_team_id if member else None

    # --- people -------------------------------------------------------------------------------

    async def user_info(self, user_id: str, team_id: str | None = None) -> UserInfo | None:
        """E-mail and locale of a Slack user, cached: every click would otherwise ask Slack."""
        key = (team_id, user_id)
        cached = self._users.get(key)
        if cached is not None and cached[0] > time.monotonic():
            self._users.move_to_end(key)
            return cached[1]
        info: UserInfo | None = None
        try:
            token = await self.token_for(team_id)
            resp = await self.reads.users_info(user=user_id, include_locale=True, token=token)
            user: dict[str, Any] = resp.get("user") or {}
            profile = user.get("profile") or {}
            info = UserInfo(
                user_id=user_id,
                email=(profile.get("email") or None),
                locale=user.get("locale"),
                name=profile.get("display_name") or profile.get("real_name") or user.get("name"),
                team_id=user.get("team_id"),
                enterprise_id=(user.get("enterprise_user") or {}).get("enterprise_id"),
            )
        except (TimeoutError, SlackApiError, DeliveryError, aiohttp.ClientError) as exc:
            # Without e-mail and locale the core still matches by Slack id; not fatal.
            log.warning(
                "users.info failed",
                extra={"platform": "slack", "team": team_id, "reason": type(exc).__name__},
            )
            return None
        self._users[key] = (time.monotonic() + USER_CACHE_SECONDS, info)
        while len(self._users) > USER_CACHE_SIZE:
            self._users.popitem(last=False)
        return info

    async def find_user(self, email: str) -> str | None:
        found = await self._lookup(email)
        return found[0] if found else None

    async def _lookup(self, email: str) -> tuple[str, str | None] | None:
        """The Slack user with this e-mail and their workspace, in the allowed workspaces
        (each installation asked in install order)."""
        installed = await self._installed_workspaces()
        if not installed:
            raise DeliveryError("slack: the app is not installed in any workspace")
        for enterprise_id, team_id in installed:
            token = await self.token_for(team_id, enterprise_id)
            try:
                resp = await self.reads.users_lookupByEmail(email=email, token=token)
            except SlackApiError as exc:
                if error_code(exc) in ("users_not_found", "user_not_found"):
                    continue
                raise
            user = resp.get("user") or {}
            home = user.get("team_id")
            grid = (user.get("enterprise_user") or {}).get("enterprise_id")
            if user.get("deleted") or not user.get("id"):
                continue
            if not await self.ours(home, grid):
                # A Slack Connect guest whose own workspace is not ours: not the member.
                continue
            return str(user["id"]), team_id
        return None

    def _remember_user_id(self, member_id: int, user_id: str, team_id: str | None) -> None:
        try:
            with self.db.session() as session:
                session.execute(
                    update(Member)
                    .where(Member.id == member_id, Member.slack_user_id.is_(None))
                    .values(slack_user_id=user_id, slack_team_id=team_id)
                )
        except IntegrityError:
            # Another member row already holds this Slack id (a duplicate import): leave it.
            log.warning("slack id already taken", extra={"platform": "slack"})

    def _mark_unreachable(self, member_id: int, reason: str) -> None:
        with self.db.session() as session:
            member = session.get(Member, member_id)
            if member is not None:
                member.unreachable = reason[:200]
        log.warning("member unreachable on slack", extra={"platform": "slack", "reason": reason})

    def _language(self, member_id: int | None) -> Lang:
        if member_id is not None:
            with self.db.session() as session:
                member = session.get(Member, member_id)
                if member is not None:
                    return chosen_language(member.language, self.settings.language)
        return self.settings.language

    def _image(self, image_id: str) -> bytes | None:
        with self.db.session() as session:
            image = session.get(StoredImage, image_id)
            return image.png if image else None

    def image_url(self, image_id: str) -> str | None:
        """Where Slack fetches a chart for an image block: our /images route, when this
        server has a public address (MEDPULS_PUBLIC_URL); else charts are uploaded as files."""
        base = self.settings.public_url
        return f"{base.rstrip('/')}/images/{image_id}.png" if base else None

    async def _render(self, message: Message, member_id: int | None) -> Rendered:
        rendered = render_message(message, lang=self.settings.language, image_url=self.image_url)
        if rendered.truncated and member_id is not None:
            # Only the "… and N more" line is in our words; fetch the language only then.
            lang = await asyncio.to_thread(self._language, member_id)
            rendered = render_message(message, lang=lang, image_url=self.image_url)
        return rendered

    # --- Platform -----------------------------------------------------------------------------

    async def _tokens_for(
        self, team_id: str | None, channel: str | None = None
    ) -> list[tuple[str | None, str]]:
        """(workspace, token) to try, in order, for a message to `team_id`'s workspace.

        A unit channel (or an imported Slack id) does not say which workspace it is in: then
        the workspace it was last posted through first, then every other allowed installation,
        the earliest first, until one knows the channel.
        """
        if team_id is not None or self.store is None:
            return [(team_id, await self.token_for(team_id))]
        pairs = [
            (team, await self.token_for(team, enterprise))
            for enterprise, team in await self._installed_workspaces()
        ]
        known = self._channel_teams.get(channel) if channel else None
        pairs.sort(key=lambda pair: pair[0] != known)  # stable: the rest keep install order
        return pairs or [(None, await self.token_for(None))]

    def _learn_channel(self, channel: str, team: str | None) -> None:
        if team is None or self.store is None:
            return
        self._channel_teams[channel] = team
        self._channel_teams.move_to_end(channel)
        while len(self._channel_teams) > CHANNEL_TEAMS_KEPT:
            self._channel_teams.popitem(last=False)

    async def post(self, to: Address, message: Message, *, dedupe_key: str) -> MessageRef:
        channel = to.value
        team = await asyncio.to_thread(self._member_team, to.member_id)
        if to.kind == "user" and not channel:
            channel, team = await self._user_by_email(to)
        tokens = await self._tokens_for(team, channel if to.kind == "channel" else None)
        rendered = await self._render(message, to.member_id)
        for attempt, (team, token) in enumerate(tokens, start=1):
            await until_slot()  # delivery's rate-limit slot, if any: not early, not late
            try:
                # A DM goes to the user id itself: Slack opens the app's DM without
                # conversations.open.
                resp = await self.writes.chat_postMessage(
                    channel=channel,
                    text=rendered.text,
                    blocks=rendered.blocks,
                    unfurl_links=False,
                    unfurl_media=False,
                    token=token,
                )
                break
            except Exception as exc:
                if attempt < len(tokens) and _elsewhere(exc):
                    continue  # not this workspace's channel: nothing was posted
                err = delivery_error(exc, to=to)
                if err.permanent and to.kind == "user" and to.member_id is not None:
                    await asyncio.to_thread(self._mark_unreachable, to.member_id, err.reason)
                log.warning(
                    "slack post failed",
                    extra={"platform": "slack", "team": team, "reason": err.reason},
                )
                raise err from exc
        posted_in = str(resp.get("channel") or channel)
        if to.kind == "channel":
            # The channel's own workspace, found: its next post and updates go straight there.
            self._learn_channel(channel, team)
        # With several workspaces, an update later needs this one's token: the reference
        # carries the team ("T…/C…"; Slack ids never hold a "/").
        where = f"{team}/{posted_in}" if self.store is not None and team else posted_in
        ref = MessageRef("slack", where, str(resp["ts"]))
        if rendered.images:
            await self._upload_images(rendered, posted_in, token)
        return ref

    async def _user_by_email(self, to: Address) -> tuple[str, str | None]:
        """The member's Slack user id and workspace, looked up by e-mail and remembered."""
        if not to.email:
            raise DeliveryError("slack: no Slack id and no e-mail", permanent=True)
        try:
            found = await self._lookup(to.email)
        except SlackApiError as exc:
            raise delivery_error(exc) from exc
        if found is None:
            if to.member_id is not None:
                await asyncio.to_thread(
                    self._mark_unreachable, to.member_id, "slack: no user with this e-mail"
                )
            raise DeliveryError("slack: no user with this e-mail", permanent=True)
        user_id, team_id = found
        if to.member_id is not None:
            await asyncio.to_thread(self._remember_user_id, to.member_id, user_id, team_id)
        return user_id, team_id

    async def _upload_images(self, rendered: Rendered, channel: str, token: str) -> None:
        # After the message, best effort: re-posting the summary to retry a chart would send
        # the summary twice, and the text already carries every figure the chart shows.
        for image in rendered.images:
            png = await asyncio.to_thread(self._image, image.image_id)
            if png is None:
                log.warning("chart not found", extra={"platform": "slack", "channel": channel})
                continue
            try:
                await self.writes.files_upload_v2(
                    channel=channel,
                    file=png,
                    filename=f"{image.image_id}.png",
                    title=image.alt,
                    alt_txt=image.alt,
                    token=token,
                )
            except Exception as exc:
                log.warning(
                    "chart upload failed",
                    extra={"platform": "slack", "channel": channel, "reason": type(exc).__name__},
                )

    async def update(self, ref: MessageRef, message: Message) -> None:
        # A DM's reference names its workspace ("T…/D…"); a channel's does not, so then every
        # installation is tried until one knows the message.
        team, _, channel = ref.conversation_id.rpartition("/")
        tokens = await self._tokens_for(team or None, channel)
        rendered = render_message(message, lang=self.settings.language, image_url=self.image_url)
        for attempt, (_, token) in enumerate(tokens, start=1):
            await until_slot()
            try:
                await self.writes.chat_update(
                    channel=channel,
                    ts=ref.message_id,
                    text=rendered.text,
                    blocks=rendered.blocks,
                    token=token,
                )
                return
            except Exception as exc:
                if attempt < len(tokens) and _elsewhere(exc, "message_not_found"):
                    continue
                if isinstance(exc, SlackApiError) and error_code(exc) in MESSAGE_GONE:
                    # The closed state of a pulse DM someone deleted: there is nothing left to
                    # rewrite, which is not a failure anyone must resolve.
                    log.info("message to update is gone", extra={"platform": "slack"})
                    return
                raise delivery_error(exc) from exc

    async def open_form(self, trigger: str, form: Form, *, to: Address) -> None:
        await self.open_modal(
            trigger, form, FormOrigin(data=form.data), user_id=to.value, team_id=None
        )

    # --- the interactive side (used by adapters.slack.adapter) --------------------------------

    async def open_modal(
        self,
        trigger: str,
        form: Form,
        origin: FormOrigin,
        *,
        user_id: str,
        team_id: str | None,
        lang: Lang | None = None,
        retry: str | None = None,
    ) -> bool:
        """views.open; when the trigger expired, DM the person a button to try again."""
        lang = lang or self.settings.language
        token = await self.token_for(team_id)
        view = render_modal(form, origin, lang=lang)
        try:
            await self.writes.views_open(trigger_id=trigger, view=view, token=token)
            return True
        except SlackApiError as exc:
            if error_code(exc) != "expired_trigger_id" or not user_id:
                raise
        log.info("trigger expired, offering a retry", extra={"platform": "slack", "team": team_id})
        text, blocks = retry_message(lang, retry or "{}")
        if retry is None:
            blocks = blocks[:1]
        await self.writes.chat_postMessage(channel=user_id, text=text, blocks=blocks, token=token)
        return False

    async def publish_home(
        self, user_id: str, message: Message, *, team_id: str | None, lang: Lang
    ) -> None:
        token = await self.token_for(team_id)
        await self.writes.views_publish(
            user_id=user_id, view=render_home(message, lang=lang), token=token
        )

    async def dm(self, user_id: str, message: Message, *, team_id: str | None, lang: Lang) -> None:
        token = await self.token_for(team_id)
        rendered = render_message(message, lang=lang, image_url=self.image_url)
        await self.writes.chat_postMessage(
            channel=user_id, text=rendered.text, blocks=rendered.blocks, token=token
        )
        if rendered.images:
            await self._upload_images(rendered, user_id, token)

    async def _write(
        self,
        call: Callable[..., Awaitable[object]],
        message: Message,
        *,
        team_id: str | None,
        lang: Lang,
        **where: str,
    ) -> None:
        """One Web API write of `message`, rendered in `lang`, with the workspace's token."""
        token = await self.token_for(team_id)
        rendered = render_message(message, lang=lang)
        await call(**where, text=rendered.text, blocks=rendered.blocks, token=token)

    async def ephemeral(
        self, channel: str, user_id: str, message: Message, *, team_id: str | None, lang: Lang
    ) -> None:
        await self._write(
            self.writes.chat_postEphemeral,
            message,
            team_id=team_id,
            lang=lang,
            channel=channel,
            user=user_id,
        )

    async def update_in_place(
        self, channel: str, ts: str, message: Message, *, team_id: str | None, lang: Lang
    ) -> None:
        await self._write(
            self.writes.chat_update, message, team_id=team_id, lang=lang, channel=channel, ts=ts
        )

    async def respond(
        self, response_url: str, message: Message, *, replace: bool, lang: Lang
    ) -> None:
        """Answer through an interaction's response_url (ephemeral messages, foreign channels)."""
        rendered = render_message(message, lang=lang)
        body: dict[str, Any] = {"text": rendered.text, "blocks": rendered.blocks}
        if replace:
            body["replace_original"] = True
        else:
            body["response_type"] = "ephemeral"
        timeout = aiohttp.ClientTimeout(total=10)
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.post(response_url, json=body) as resp,
        ):
            if resp.status >= 400:
                log.warning(
                    "response_url refused",
                    extra={"platform": "slack", "reason": str(resp.status)},
                )

    async def pool_connections(self) -> None:
        """Keep Web API connections open for this event loop's lifetime (the web process).

        Without a session slack_sdk opens and closes a TCP (and TLS) connection per call; on a
        burst of clicks that work sits on the same loop that has to acknowledge the next click.
        Idle connections are dropped well before Slack would drop them, so a write never meets
        a half-closed connection and turns into an unknown outcome.
        """
        if self.writes.session is not None and not self.writes.session.closed:
            return
        connector = aiohttp.TCPConnector(limit=POOL_SIZE, keepalive_timeout=POOL_IDLE_SECONDS)
        session = aiohttp.ClientSession(connector=connector)
        self.reads.session = session
        self.writes.session = session

    async def close(self) -> None:
        session = self.writes.session
        self.reads.session = None
        self.writes.session = None
        if session is not None and not session.closed:
            await session.close()


def make_slack_platform(settings: Settings, db: Database) -> SlackPlatform:
    """The Slack platform, or a clear refusal to start with a half-done configuration."""
    socket_mode = bool(settings.slack_app_token)
    if not socket_mode and not (settings.slack_signing_secret or "").strip():
        raise MedpulsError(
            "SLACK_SIGNING_SECRET is empty: Slack requests cannot be verified. Copy the "
            "Signing Secret from the app's Basic Information page in Slack."
        )
    if socket_mode and not settings.slack_bot_token:
        raise MedpulsError("Socket Mode (SLACK_APP_TOKEN) needs SLACK_BOT_TOKEN as well.")
    if not settings.slack_bot_token and not (
        settings.slack_client_id and settings.slack_client_secret
    ):
        raise MedpulsError(
            "Slack needs either SLACK_BOT_TOKEN (one workspace) or both SLACK_CLIENT_ID and "
            "SLACK_CLIENT_SECRET (install through /slack/install)."
        )
    return SlackPlatform(settings, db)

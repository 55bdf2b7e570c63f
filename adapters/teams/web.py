"""`POST /api/messages`: authenticate the activity, normalise it, run the core, apply its Reply.

Nothing is processed before the request's token is validated (401 otherwise). Charts are
linked as `{MEDPULS_PUBLIC_URL}/images/<id>.png`, which bot/app/server.py serves.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from typing import Any

from aiohttp import web

from adapters.teams import cards
from adapters.teams.connector import Calls
from adapters.teams.normalize import (
    bot_arrived,
    classify,
    clicked_message,
    is_personal,
    is_uninstall,
    people_changed,
    reference_of,
    team_of,
    tenant_of,
    tenant_refusal,
)
from adapters.teams.platform import TeamsPlatform
from adapters.teams.roster import roster_rows, usable_email
from adapters.teams.signing_keys import install_signing_keys
from bot.core.errors import DeliveryError, Unauthorized
from bot.core.events import FormSubmitted
from bot.core.i18n import language_of, translator
from bot.core.messages import NO_REPLY, Message, Reply, Text
from bot.core.platform import Platform, TurnHandler
from bot.core.request_body import TEAMS_LIMIT, json_object, read_body

log = logging.getLogger("medpuls.teams.web")


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _ids(activity: dict[str, Any]) -> dict[str, Any]:
    """Log fields: tenant, conversation, activity id; never text, values or tokens."""
    return {
        "platform": "teams",
        "team": tenant_of(activity),
        "channel": _dict(activity.get("conversation")).get("id"),
        "delivery": activity.get("id"),
        "event": f"{activity.get('type')}:{activity.get('name') or ''}",
    }


# Card answers to invokes, kept in memory (never stored) for Teams' retries of the same
# invoke, which come within seconds: the latest this many.
ANSWERED_KEPT = 2_000


class TeamsInbound:
    def __init__(self, core: TurnHandler, platform: TeamsPlatform) -> None:
        self.core = core
        self.platform = platform
        # activity id -> the invoke answer we gave it.
        self.answered: OrderedDict[str, dict[str, Any]] = OrderedDict()

    async def handle(self, request: web.Request) -> web.Response:
        # At most 1 MiB, chunked or not; UTF-8 JSON whatever charset the request claims.
        body = json_object(await read_body(request, TEAMS_LIMIT))
        if not isinstance(body.get("type"), str) or not body["type"]:
            return web.json_response({"error": "not an activity"}, status=400)
        connector = self.platform.connector
        try:
            authenticated = await connector.authenticate(
                body, request.headers.get("Authorization", "")
            )
        except Unauthorized as why:
            log.warning("request refused", extra={**_ids(body), "reason": str(why)})
            return web.json_response({"error": "unauthorized"}, status=401)
        # The token proves the Bot Connector sent it for our app id, not for which tenant.
        refused = tenant_refusal(body, self.platform.tenants)
        if refused is not None:
            log.warning("request refused: tenant", extra={**_ids(body), "reason": refused})
            return web.json_response({"error": "tenant not allowed"}, status=403)

        async def turn(calls: Calls) -> dict[str, Any] | None:
            return await self.on_activity(body, calls)

        result = await connector.turn(body, authenticated, tenant_of(body), turn)
        if body.get("type") == "invoke":
            return web.json_response(result or {}, status=200)
        return web.Response(status=200)

    async def _email(self, activity: dict[str, Any], calls: Calls) -> str | None:
        user_id = str((activity.get("from") or {}).get("id") or "")
        conversation_id = str((activity.get("conversation") or {}).get("id") or "")
        if not user_id or not conversation_id:
            return None
        emails = self.platform.emails
        if user_id not in emails:
            if len(emails) > 50_000:
                emails.clear()
            emails[user_id] = usable_email(await calls.member(conversation_id, user_id) or {})
        return emails[user_id]

    async def on_team(self, activity: dict[str, Any], team_id: str, calls: Calls) -> None:
        """Keep the team's roster: read it when the app arrives (and daily), add who joins,
        drop who leaves."""
        platform = self.platform
        reference = reference_of(activity)
        joined = people_changed(activity, "membersAdded")
        if platform.roster_due(team_id, arrived=bot_arrived(activity)):
            platform.read_team_later(reference, team_id)
        elif joined:
            # Someone else added to the team is not the sender joining: only their reference.
            entries = [await calls.member(team_id, str(p["id"])) or p for p in joined]
            rows = roster_rows(reference, team_id, entries)
            await asyncio.to_thread(platform.keep_people, rows, refused_too=True)
        left = people_changed(activity, "membersRemoved")
        if left:
            await asyncio.to_thread(platform.forget_people, team_id, left)

    async def on_activity(self, activity: dict[str, Any], calls: Calls) -> dict[str, Any] | None:
        if is_uninstall(activity):
            await asyncio.to_thread(self.platform.forget, activity)
            log.info("uninstalled", extra=_ids(activity))
            return None
        email = await self._email(activity, calls)
        await asyncio.to_thread(self.platform.capture, activity, email)
        answer = await self.respond(activity, email, calls)
        team_id = team_of(activity)
        # After the reply, and never for an invoke (a click waits for its answer): a big
        # team's roster takes a while.
        if team_id is not None and not is_personal(activity) and activity.get("type") != "invoke":
            try:
                await self.on_team(activity, team_id, calls)
            except Exception as err:  # the activity was handled: never a 500 for this
                log.warning(
                    "team roster not kept", extra={**_ids(activity), "reason": type(err).__name__}
                )
        return answer

    async def respond(
        self, activity: dict[str, Any], email: str | None, calls: Calls
    ) -> dict[str, Any] | None:
        event = classify(activity, email=email)
        is_card_invoke = (
            activity.get("type") == "invoke" and activity.get("name") == "adaptiveCard/action"
        )
        if event is None:
            return cards.invoke_message_response("") if is_card_invoke else None
        activity_id = str(activity.get("id") or "")
        reply = await self.core.handle(event)
        log.info("handled", extra=_ids(activity))
        if is_card_invoke and reply == NO_REPLY:
            # Teams retried an invoke we handled (the core skipped it as a duplicate): the card
            # we answered it with, else a short "done"; never an empty answer.
            kept = self.answered.get(activity_id)
            if kept is not None:
                return kept
            t = translator(language_of(activity.get("locale"), self.platform.settings.language))
            return cards.invoke_message_response(t("teams.done"))
        try:
            answer = await self.apply(activity, event, reply, calls)
        except DeliveryError as err:
            log.warning("reply not delivered", extra={**_ids(activity), "reason": err.reason})
            return cards.invoke_message_response("") if is_card_invoke else None
        # Cards only: a transient confirmation names a choice and is not worth keeping.
        if is_card_invoke and answer is not None and answer.get("type") == cards.CARD_CONTENT_TYPE:
            self.remember(activity_id, answer)
        return answer

    def remember(self, activity_id: str, answer: dict[str, Any]) -> None:
        self.answered[activity_id] = answer
        while len(self.answered) > ANSWERED_KEPT:
            self.answered.popitem(last=False)

    async def apply(
        self, activity: dict[str, Any], event: object, reply: Reply, calls: Calls
    ) -> dict[str, Any] | None:
        """Do what the core asked at once, answering the invoke where there is one."""
        t = translator(language_of(activity.get("locale"), self.platform.settings.language))
        image_url = self.platform.image_url
        invoke = activity.get("type") == "invoke"
        clicked = clicked_message(activity)
        answer: dict[str, Any] | None = None

        async def private(card: cards.Card, summary: str) -> None:
            conversation_id = await self.platform.private_conversation(activity, calls)
            await calls.send(conversation_id, cards.message_activity(card, summary))

        if reply.errors:
            if reply.form is not None:
                values = event.values if isinstance(event, FormSubmitted) else {}
                card = cards.render_form(reply.form, t, errors=reply.errors, values=values)
            else:
                lines = [Text(text=t("teams.fix_errors"))] + [
                    Text(text=msg, markdown=False) for msg in reply.errors.values()
                ]
                card = cards.render_message(Message(summary=t("teams.fix_errors"), parts=lines), t)
            if invoke:
                answer = cards.invoke_card_response(card)
            elif clicked is not None and reply.form is not None:
                await calls.update(
                    clicked.conversation_id,
                    clicked.message_id,
                    cards.message_activity(card, reply.form.title),
                )
            else:
                await private(card, t("teams.fix_errors"))
        elif reply.update is not None:
            card = cards.render_message(reply.update, t, image_url)
            if invoke:
                answer = cards.invoke_card_response(card)
            if clicked is not None and (not invoke or not is_personal(activity)):
                await calls.update(
                    clicked.conversation_id,
                    clicked.message_id,
                    cards.message_activity(card, reply.update.summary),
                )
        if reply.form is not None and not reply.errors:
            await private(cards.render_form(reply.form, t), reply.form.title)
            if invoke and answer is None:
                answer = cards.invoke_message_response(reply.form.title)
        if reply.notice is not None:
            await private(cards.render_message(reply.notice, t, image_url), reply.notice.summary)
            if invoke and answer is None:
                answer = cards.invoke_message_response(reply.notice.summary)
        if reply.transient is not None and invoke and answer is None:
            # Shown to the clicker by the invoke answer alone; never posted, so Teams keeps no
            # copy of it. (Action.Submit, the old clients' fallback, has no such answer: they
            # get no confirmation rather than one that stays in the chat.)
            answer = cards.invoke_message_response(reply.transient.summary)
        if invoke and answer is None and activity.get("name") == "adaptiveCard/action":
            answer = cards.invoke_message_response("")
        return answer


HANDLER: web.AppKey[TeamsInbound] = web.AppKey("teams_inbound", TeamsInbound)


def mount(app: web.Application, core: TurnHandler, platform: Platform) -> None:
    """Add `POST /api/messages` (bot/app/server.py calls this when MICROSOFT_APP_ID is set)."""
    assert isinstance(platform, TeamsPlatform)
    install_signing_keys(platform.settings)
    inbound = TeamsInbound(core, platform)
    app[HANDLER] = inbound
    app.router.add_post("/api/messages", inbound.handle)

    async def stop_reading(_: web.Application) -> None:
        # A roster left half read is read again on the team's next activity (roster_due).
        for task in list(platform.background):
            task.cancel()
        await platform.settled()

    app.on_cleanup.append(stop_reading)

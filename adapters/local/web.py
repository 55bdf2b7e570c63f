"""The local web chat at `/`: pick who you are, read your DMs and your units' channels,
click buttons and fill forms. A try-out and test platform: there is no login, so it is only
mounted when MEDPULS_LOCAL_CHAT=1 and no real platform is configured (bot/core/config.py), and
only its own page may call it (adapters/local/guard.py)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from aiohttp import web
from sqlalchemy import select

from adapters.local.frame import frame, language
from adapters.local.guard import allowed_names, guarded, json_body
from adapters.local.html import render_form, render_message, render_said
from adapters.local.platform import LocalPlatform
from bot.core.events import (
    Actor,
    ButtonClicked,
    CommandInvoked,
    Conversation,
    FormSubmitted,
    InboundEvent,
    MessageReceived,
    MessageRef,
)
from bot.core.i18n import Lang, translator
from bot.core.messages import Form, Message, Reply
from bot.core.platform import Platform, TurnHandler
from bot.core.router import command_text, command_word
from storage.models import LocalMessage, Member, Membership

STATIC = Path(__file__).parent / "static"
CORE: web.AppKey[TurnHandler] = web.AppKey("local_core", TurnHandler)
PLATFORM: web.AppKey[LocalPlatform] = web.AppKey("local_platform", LocalPlatform)


def mount(app: web.Application, core: TurnHandler, platform: Platform) -> None:
    assert isinstance(platform, LocalPlatform)
    app[CORE] = core
    app[PLATFORM] = platform
    names = allowed_names(core.settings)
    app.router.add_get("/", guarded(index, names))
    app.router.add_get("/favicon.ico", favicon)
    app.router.add_static("/static/", STATIC)
    app.router.add_get("/local/api/frame", guarded(page_frame, names))
    app.router.add_get("/local/api/members", guarded(members, names))
    app.router.add_get("/local/api/conversations", guarded(conversations, names))
    app.router.add_get("/local/api/messages", guarded(messages, names))
    app.router.add_post("/local/api/click", guarded(click, names))
    app.router.add_post("/local/api/submit", guarded(submit, names))
    app.router.add_post("/local/api/say", guarded(say, names))


async def index(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "index.html")


async def favicon(request: web.Request) -> web.FileResponse:
    # Browsers ask for /favicon.ico whatever the page says; an SVG answers them all.
    response = web.FileResponse(STATIC / "favicon.svg")
    response.content_type = "image/svg+xml"
    return response


async def page_frame(request: web.Request) -> web.Response:
    """The page's own words in the chosen person's language (the default before a choice)."""
    core = _core(request)
    raw = request.query.get("member")
    member_id = _member_id(raw) if raw else None
    lang = await asyncio.to_thread(language, core.db, core.settings, member_id)
    return web.json_response(frame(lang))


def _core(request: web.Request) -> TurnHandler:
    return request.app[CORE]


def _member_id(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise web.HTTPBadRequest(text="member must be a member id") from None


def _allowed(core: TurnHandler, member_id: int) -> list[dict[str, str]]:
    """The conversations this member can see: their DM and their units' channels."""
    lang = language(core.db, core.settings, member_id)
    with core.db.session() as session:
        member = session.get(Member, member_id)
        if member is None or member.erased:
            raise web.HTTPNotFound(text="unknown member")
        rows = session.scalars(select(Membership).where(Membership.member_id == member_id)).all()
        direct = translator(lang)("localchat.direct")
        convs = [{"id": f"member:{member_id}", "title": direct, "kind": "dm"}]
        for ms in sorted(rows, key=lambda m: m.unit.path):
            convs.append(
                {"id": f"unit:{ms.unit_id}", "title": f"# {ms.unit.name}", "kind": "channel"}
            )
        return convs


async def members(request: web.Request) -> web.Response:
    core = _core(request)

    def load() -> list[dict[str, Any]]:
        with core.db.session() as session:
            out = []
            for m in session.scalars(
                select(Member).where(Member.erased.is_(False)).order_by(Member.name)
            ):
                units = [
                    {"unit": ms.unit.name, "roles": sorted(ms.role_set)} for ms in m.memberships
                ]
                out.append({"id": m.id, "name": m.name, "units": units})
            return out

    return web.json_response(await asyncio.to_thread(load))


async def conversations(request: web.Request) -> web.Response:
    member_id = _member_id(request.query.get("member"))
    return web.json_response(await asyncio.to_thread(_allowed, _core(request), member_id))


def _rendered(payload: dict[str, Any], lang: Lang) -> str:
    if "said" in payload:
        return render_said(str(payload["said"]))
    if "form" in payload:
        return render_form(Form.model_validate(payload["form"]), lang=lang)
    return render_message(Message.model_validate(payload["message"]))


async def messages(request: web.Request) -> web.Response:
    core = _core(request)
    member_id = _member_id(request.query.get("member"))
    conversation = request.query.get("conversation", "")

    def load() -> list[dict[str, Any]]:
        if conversation not in {c["id"] for c in _allowed(core, member_id)}:
            raise web.HTTPForbidden(text="not your conversation")
        lang = language(core.db, core.settings, member_id)
        with core.db.session() as session:
            rows = session.scalars(
                select(LocalMessage)
                .where(LocalMessage.conversation == conversation)
                .order_by(LocalMessage.id)
            ).all()
            return [
                {
                    "id": r.id,
                    "html": _rendered(r.payload, lang),
                    "version": r.updated_at.isoformat(),
                    # What the person typed, shown as theirs (the rest is the bot's).
                    "mine": "said" in r.payload,
                }
                for r in rows
            ]

    return web.json_response(await asyncio.to_thread(load))


async def _body(request: web.Request) -> dict[str, Any]:
    # Host, Origin and Content-Type were checked by adapters/local/guard.py; 64 KiB at most.
    return await json_body(request)


def _actor(member_id: int) -> Actor:
    return Actor(platform="local", user_id=str(member_id))


async def _apply(
    request: web.Request,
    event: InboundEvent,
    ref: MessageRef | None,
    *,
    keep_in: str | None = None,
) -> web.Response:
    """Handle the event and answer the page. With `keep_in`, the reply's notice is also posted
    in that conversation, as Slack and Teams post the answer to a typed message in the chat."""
    core = _core(request)
    reply: Reply = await core.handle(event)
    platform = request.app[PLATFORM]
    if reply.update is not None and ref is not None:
        await platform.update(ref, reply.update)
    out: dict[str, Any] = {}
    if reply.form is not None:
        lang = await asyncio.to_thread(language, core.db, core.settings, int(event.actor.user_id))
        out["form"] = render_form(reply.form, lang=lang)
    if reply.notice is not None:
        out["notice"] = render_message(reply.notice)
        if keep_in is not None:
            payload = {"message": reply.notice.model_dump(mode="json")}
            out["posted"] = await asyncio.to_thread(platform.keep, keep_in, payload)
    if reply.transient is not None:
        # In this answer only, never in local_messages: the page shows it and forgets it.
        out["toast"] = render_message(reply.transient)
    if reply.errors:
        out["errors"] = reply.errors
    return web.json_response(out)


def _ref(body: dict[str, Any], member_id: int) -> MessageRef | None:
    message_id, conversation = body.get("message_id"), str(body.get("conversation") or "")
    if message_id is None or not conversation:
        return None
    return MessageRef("local", conversation, str(message_id))


async def click(request: web.Request) -> web.Response:
    body = await _body(request)
    member_id = _member_id(body.get("member"))
    ref = _ref(body, member_id)
    if ref is not None and ref.conversation_id not in {
        c["id"] for c in await asyncio.to_thread(_allowed, _core(request), member_id)
    }:
        raise web.HTTPForbidden(text="not your conversation")
    event = ButtonClicked(
        actor=_actor(member_id),
        conversation=Conversation("local", ref.conversation_id) if ref else None,
        data=str(body.get("data") or ""),
        message=ref,
        trigger=f"local:{member_id}",
    )
    return await _apply(request, event, ref)


async def submit(request: web.Request) -> web.Response:
    body = await _body(request)
    member_id = _member_id(body.get("member"))
    values = body.get("values") or {}
    if not isinstance(values, dict):
        raise web.HTTPBadRequest(text="values must be an object")
    event = FormSubmitted(
        actor=_actor(member_id),
        conversation=Conversation("local", f"member:{member_id}"),
        data=str(body.get("data") or ""),
        values={str(k): str(v) for k, v in values.items()},
    )
    return await _apply(request, event, None)


async def say(request: web.Request) -> web.Response:
    """A typed message: kept in the person's DM as theirs, answered there like on Slack."""
    body = await _body(request)
    member_id = _member_id(body.get("member"))
    text = str(body.get("text") or "").strip()
    core = _core(request)
    # Unknown or erased members get 404 before anything is kept.
    await asyncio.to_thread(_allowed, core, member_id)
    if not text:
        return web.json_response({})
    conversation = f"member:{member_id}"
    await asyncio.to_thread(request.app[PLATFORM].keep, conversation, {"said": text})
    conv = Conversation("local", conversation)
    event: InboundEvent
    if command_word(text) in core.router.commands:
        event = CommandInvoked(
            actor=_actor(member_id),
            conversation=conv,
            command="",
            text=command_text(text),
            trigger=f"local:{member_id}",
        )
    else:
        event = MessageReceived(actor=_actor(member_id), conversation=conv, text=text)
    return await _apply(request, event, None, keep_in=conversation)

"""Slack payloads to neutral events: small pure functions, tested on recorded payload shapes.

Each function returns the event the core sees and an `Origin`, the Slack-only facts needed to
answer (response_url, trigger, the clicked message) that must not leak into flows.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from adapters.slack.blocks import FormOrigin
from adapters.slack.registry import shortcut_for
from bot.core.events import (
    Actor,
    ButtonClicked,
    CommandInvoked,
    Conversation,
    FormSubmitted,
    InboundEvent,
    MemberJoined,
    MessageReceived,
    MessageRef,
    OtherEvent,
)

Body = dict[str, Any]


@dataclass(frozen=True)
class Origin:
    """Where an interaction happened, as Slack tells it."""

    kind: str
    user_id: str
    team_id: str | None = None
    enterprise_id: str | None = None
    channel_id: str | None = None
    is_direct: bool = False
    trigger_id: str | None = None
    response_url: str | None = None
    message_ts: str | None = None
    is_ephemeral: bool = False
    # For logs only: the event id or the interaction's own timestamp.
    ref: str | None = None


def _team(body: Body) -> tuple[str | None, str | None]:
    team = body.get("team") or {}
    enterprise = body.get("enterprise") or {}
    team_id = team.get("id") if isinstance(team, dict) else None
    user = body.get("user") or {}
    team_id = (
        team_id or body.get("team_id") or (user.get("team_id") if isinstance(user, dict) else None)
    )
    enterprise_id = (
        (enterprise.get("id") if isinstance(enterprise, dict) else None)
        or (team.get("enterprise_id") if isinstance(team, dict) else None)
        or body.get("enterprise_id")
    )
    return team_id, enterprise_id


def is_direct_channel(channel_id: str | None, channel_name: str | None = None) -> bool:
    # DM channel ids start with "D"; slash commands in a DM report the name "directmessage".
    return bool(channel_id and channel_id.startswith("D")) or channel_name == "directmessage"


def actor(user_id: str, team_id: str | None) -> Actor:
    return Actor(platform="slack", user_id=user_id, team_id=team_id)


def conversation(channel_id: str | None, direct: bool) -> Conversation | None:
    if not channel_id:
        return None
    return Conversation(platform="slack", conversation_id=channel_id, is_direct=direct)


# --- interactivity ----------------------------------------------------------------------------


def _interactive(body: Body, kind: str, channel_id: str | None, **more: Any) -> Origin:
    """Where a click or a shortcut happened: the payload's user and team, in `channel_id`."""
    team_id, enterprise_id = _team(body)
    return Origin(
        kind=kind,
        user_id=str((body.get("user") or {}).get("id", "")),
        team_id=team_id,
        enterprise_id=enterprise_id,
        channel_id=channel_id,
        is_direct=is_direct_channel(channel_id),
        trigger_id=body.get("trigger_id"),
        response_url=body.get("response_url"),
        **more,
    )


def block_action(body: Body) -> tuple[ButtonClicked, Origin] | None:
    """The first action of a block_actions payload (our buttons send one at a time)."""
    actions = body.get("actions") or []
    if not actions:
        return None
    action = actions[0]
    container = body.get("container") or {}
    channel_id = (body.get("channel") or {}).get("id") or container.get("channel_id")
    message_ts = container.get("message_ts") or (body.get("message") or {}).get("ts")
    ref = None
    if container.get("type") == "message" and channel_id and message_ts:
        ref = MessageRef("slack", channel_id, message_ts)
    action_ts = str(action.get("action_ts", ""))
    origin = _interactive(
        body,
        "block_actions",
        channel_id,
        message_ts=message_ts,
        is_ephemeral=bool(container.get("is_ephemeral")),
        ref=action_ts or None,
    )
    event = ButtonClicked(
        actor(origin.user_id, origin.team_id),
        conversation(channel_id, origin.is_direct),
        data=str(action.get("value") or ""),
        message=ref,
        trigger=body.get("trigger_id"),
        # A replayed payload carries the same click; a second click has its own action_ts.
        # Not the action_id: buttons are numbered per message, so it would say what was chosen
        # (bot.core stores only a keyed hash of this, but it must not be in it either).
        delivery_id=f"{action_ts}:{origin.user_id}" if action_ts else None,
    )
    return event, origin


def _state_value(element: dict[str, Any], tz: ZoneInfo) -> str:
    kind = element.get("type")
    if kind in ("static_select", "radio_buttons", "external_select"):
        option = element.get("selected_option") or {}
        return str(option.get("value") or "")
    if kind == "checkboxes":
        return "true" if element.get("selected_options") else "false"
    if kind == "datepicker":
        return str(element.get("selected_date") or "")
    if kind == "datetimepicker":
        stamp = element.get("selected_date_time")
        if stamp is None:
            return ""
        local = dt.datetime.fromtimestamp(int(stamp), dt.UTC).astimezone(tz)
        return local.strftime("%Y-%m-%dT%H:%M")
    if kind == "timepicker":
        return str(element.get("selected_time") or "")
    return str(element.get("value") or "")


def form_values(view: Body, tz: ZoneInfo) -> dict[str, str]:
    """{field name: value}: our input blocks use the field name as block_id."""
    values: dict[str, str] = {}
    state = (view.get("state") or {}).get("values") or {}
    for block_id, elements in state.items():
        for element in elements.values():
            values[block_id] = _state_value(element, tz)
    return values


def view_submission(body: Body, tz: ZoneInfo) -> tuple[FormSubmitted, Origin]:
    view = body.get("view") or {}
    form = FormOrigin.load(view.get("private_metadata"))
    user_id = str((body.get("user") or {}).get("id", ""))
    team_id, enterprise_id = _team(body)
    values = form_values(view, tz)
    ref = None
    if form.channel_id and form.message_ts:
        ref = MessageRef("slack", form.channel_id, form.message_ts)
    trigger = body.get("trigger_id")
    if trigger:
        delivery = f"view:{trigger}"
    else:
        # Without a trigger, an identical submission of the same view is the replay.
        digest = hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()[:16]
        delivery = f"view:{view.get('id')}:{view.get('hash')}:{digest}"
    direct = is_direct_channel(form.channel_id)
    event = FormSubmitted(
        actor(user_id, team_id),
        conversation(form.channel_id, direct),
        data=form.data,
        values=values,
        message=ref,
        delivery_id=delivery,
    )
    origin = Origin(
        kind="view_submission",
        user_id=user_id,
        team_id=team_id,
        enterprise_id=enterprise_id,
        channel_id=form.channel_id,
        is_direct=direct,
        trigger_id=trigger,
        response_url=form.response_url,
        message_ts=form.message_ts,
        ref=view.get("id"),
    )
    return event, origin


def slash_command(body: Body) -> tuple[CommandInvoked, Origin]:
    user_id = str(body.get("user_id", ""))
    team_id = body.get("team_id")
    channel_id = body.get("channel_id")
    direct = is_direct_channel(channel_id, body.get("channel_name"))
    trigger = body.get("trigger_id")
    event = CommandInvoked(
        actor(user_id, team_id),
        conversation(channel_id, direct),
        command=str(body.get("command", "")),
        text=str(body.get("text", "")).strip(),
        trigger=trigger,
        # Every invocation gets its own trigger_id; a replayed request repeats it.
        delivery_id=f"command:{trigger}" if trigger else None,
    )
    origin = Origin(
        kind="slash_command",
        user_id=user_id,
        team_id=team_id,
        enterprise_id=body.get("enterprise_id"),
        channel_id=channel_id,
        is_direct=direct,
        trigger_id=trigger,
        response_url=body.get("response_url"),
        ref=trigger,
    )
    return event, origin


def shortcut(body: Body) -> tuple[CommandInvoked, Origin] | None:
    registered = shortcut_for(str(body.get("callback_id", "")))
    if registered is None:
        return None
    channel_id = (body.get("channel") or {}).get("id")
    text = ""
    if body.get("type") == "message_action":
        text = str((body.get("message") or {}).get("text") or "")
    trigger = body.get("trigger_id")
    origin = _interactive(
        body,
        str(body.get("type", "shortcut")),
        channel_id,
        ref=str(body.get("action_ts", "")) or None,
    )
    event = CommandInvoked(
        actor(origin.user_id, origin.team_id),
        conversation(channel_id, origin.is_direct),
        command=registered.command,
        text=text,
        trigger=trigger,
        delivery_id=f"shortcut:{trigger}" if trigger else None,
    )
    return event, origin


def retry_click(body: Body) -> tuple[InboundEvent, Origin] | None:
    """The "try again" button of an expired form: replay the original click or command."""
    found = block_action(body)
    if found is None:
        return None
    click, origin = found
    try:
        raw = json.loads(click.data)
    except json.JSONDecodeError:
        return None
    if not isinstance(raw, dict):
        return None
    event: InboundEvent
    if "b" in raw:
        event = ButtonClicked(
            click.actor,
            click.conversation,
            data=str(raw["b"]),
            trigger=click.trigger,
            delivery_id=click.delivery_id,
        )
    else:
        event = CommandInvoked(
            click.actor,
            click.conversation,
            command=str(raw.get("c", "")),
            text=str(raw.get("t", "")),
            trigger=click.trigger,
            delivery_id=click.delivery_id,
        )
    return event, origin


def retry_value(event: InboundEvent) -> str | None:
    """What the retry button must carry to repeat `event` with a fresh trigger."""
    if isinstance(event, ButtonClicked):
        return json.dumps({"b": event.data}, separators=(",", ":"))
    if isinstance(event, CommandInvoked):
        # Button values hold 2,000 characters; a long message shortcut text is cut to fit.
        return json.dumps({"c": event.command, "t": event.text[:1500]}, separators=(",", ":"))
    return None


# --- events -----------------------------------------------------------------------------------


def event_callback(body: Body) -> tuple[InboundEvent, Origin] | None:
    """An Events API envelope to a neutral event; None for what flows need not see."""
    event = body.get("event") or {}
    kind = str(event.get("type", ""))
    event_id = body.get("event_id")
    team_id = body.get("team_id") or event.get("team")
    enterprise_id = body.get("enterprise_id")
    user_id = event.get("user")
    if isinstance(user_id, dict):  # user_change and friends carry the whole user object
        user_id = user_id.get("id")
    user_id = str(user_id or "")
    channel_id = event.get("channel")
    if isinstance(channel_id, dict):
        channel_id = channel_id.get("id")
    origin = Origin(
        kind=kind,
        user_id=user_id,
        team_id=team_id,
        enterprise_id=enterprise_id,
        channel_id=channel_id,
        is_direct=event.get("channel_type") == "im" or is_direct_channel(channel_id),
        ref=event_id,
    )
    who = actor(user_id, team_id)
    if kind == "app_home_opened":
        if event.get("tab") != "home":
            return None
        return CommandInvoked(who, None, command="home", delivery_id=event_id), origin
    if kind == "message":
        # Only what a person typed to the bot: no edits, joins, bot posts or our own echoes.
        if event.get("channel_type") != "im" or event.get("subtype") or event.get("bot_id"):
            return None
        if not user_id:
            return None
        text = str(event.get("text") or "")
        convo = conversation(channel_id, True)
        return MessageReceived(who, convo, text=text, delivery_id=event_id), origin
    if kind == "member_joined_channel":
        reference = {"team_id": team_id, "channel_id": channel_id, "inviter": event.get("inviter")}
        convo = conversation(channel_id, False)
        return MemberJoined(who, convo, reference=reference, delivery_id=event_id), origin
    if not user_id:
        return None
    return OtherEvent(who, None, kind=kind, payload={}, delivery_id=event_id), origin

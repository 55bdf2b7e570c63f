"""Bot Framework activities (as the JSON Teams posts) to MEDpuls' normalised events.

Pure functions over the activity dict, tested on recorded shapes in adapters/teams/fixtures/.
Card actions carry our packed action string under `DATA_KEY` (a button) or `FORM_KEY` (a
form's submit); the card's input values arrive merged into the same object, both for an
`Action.Execute` (invoke `adaptiveCard/action`, in `value.action.data`) and for its
`Action.Submit` fallback (a message activity, in `value`).
"""

from __future__ import annotations

import html
import re
from typing import Any

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

DATA_KEY = "medpuls"
FORM_KEY = "medpuls_form"
# A datetime field is two card inputs, `<name>__date` and `<name>__time`, joined back here.
DATE_SUFFIX = "__date"
TIME_SUFFIX = "__time"
COMMAND_WORDS = frozenset({"help", "hjælp", "forslag", "dagsorden", "puls"})

_AT = re.compile(r"<at[^>]*>.*?</at>", re.IGNORECASE | re.DOTALL)
_TAGS = re.compile(r"<[^>]+>")

Activity = dict[str, Any]


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def tenant_of(activity: Activity) -> str | None:
    tenant = _dict(_dict(activity.get("channelData")).get("tenant")).get("id")
    if isinstance(tenant, str) and tenant:
        return tenant
    conv_tenant = _dict(activity.get("conversation")).get("tenantId")
    return conv_tenant if isinstance(conv_tenant, str) and conv_tenant else None


def tenant_refusal(activity: Activity, allowed: frozenset[str]) -> str | None:
    """Why this activity's tenant is not ours, or None when it is.

    Both places Teams states the tenant are checked (channelData.tenant.id and
    conversation.tenantId): each one present must be allowed, and at least one must be present.
    """
    stated = {
        "channelData.tenant.id": _dict(_dict(activity.get("channelData")).get("tenant")).get("id"),
        "conversation.tenantId": _dict(activity.get("conversation")).get("tenantId"),
    }
    present = {k: v for k, v in stated.items() if v is not None}
    if not present:
        return "no tenant"
    for where, value in present.items():
        if not isinstance(value, str) or value.strip().lower() not in allowed:
            return f"{where} not allowed"
    return None


def is_personal(activity: Activity) -> bool:
    conversation = _dict(activity.get("conversation"))
    kind = conversation.get("conversationType")
    if kind:
        return bool(kind == "personal")
    return not conversation.get("isGroup", False)


def channel_id_of(activity: Activity) -> str | None:
    """The Teams channel a channel activity belongs to (no `;messageid=` thread suffix)."""
    channel = _dict(_dict(activity.get("channelData")).get("channel")).get("id")
    if isinstance(channel, str) and channel:
        return channel
    conversation = _dict(activity.get("conversation"))
    if conversation.get("conversationType") == "channel":
        return str(conversation.get("id", "")).split(";", 1)[0] or None
    return None


def actor_of(activity: Activity, *, email: str | None = None) -> Actor:
    sender = _dict(activity.get("from"))
    aad = sender.get("aadObjectId")
    return Actor(
        platform="teams",
        user_id=str(sender.get("id", "")),
        team_id=tenant_of(activity),
        email=email,
        locale=activity.get("locale") or None,
        display_name=sender.get("name") or None,
        directory_id=aad if isinstance(aad, str) and aad else None,
    )


def conversation_of(activity: Activity) -> Conversation | None:
    conversation_id = _dict(activity.get("conversation")).get("id")
    if not conversation_id:
        return None
    return Conversation("teams", str(conversation_id), is_direct=is_personal(activity))


def clicked_message(activity: Activity) -> MessageRef | None:
    """The card that was clicked: the activity's `replyToId` in its conversation."""
    reply_to = activity.get("replyToId") or _dict(
        _dict(activity.get("channelData")).get("legacy")
    ).get("replyToId")
    conversation = conversation_of(activity)
    if not reply_to or conversation is None:
        return None
    return MessageRef("teams", conversation.conversation_id, str(reply_to))


def clean_text(activity: Activity) -> str:
    """The typed text without the bot's @-mention and without Teams' HTML wrapping."""
    text = str(activity.get("text") or "")
    for entity in activity.get("entities") or []:
        entity = _dict(entity)
        if entity.get("type") == "mention" and entity.get("text"):
            text = text.replace(str(entity["text"]), " ")
    text = _AT.sub(" ", text)
    text = html.unescape(_TAGS.sub(" ", text)).replace("\xa0", " ")
    return " ".join(text.split())


def card_values(activity: Activity) -> dict[str, Any] | None:
    """What a card action submitted: `value.action.data` (invoke) or `value` (Action.Submit)."""
    value = activity.get("value")
    if not isinstance(value, dict):
        return None
    if activity.get("type") == "invoke":
        action = _dict(value.get("action"))
        return _dict(action.get("data"))
    return value


def _inputs(values: dict[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, raw in values.items():
        if key in (DATA_KEY, FORM_KEY) or key.startswith("msteams"):
            continue
        out[key] = raw if isinstance(raw, str) else ("" if raw is None else str(raw))
    for key in [k for k in out if k.endswith(DATE_SUFFIX)]:
        name = key[: -len(DATE_SUFFIX)]
        date = out.pop(key)
        time = out.pop(name + TIME_SUFFIX, "")
        out[name] = f"{date}T{time}" if date and time else date
    return out


def _adder_joined(activity: Activity) -> bool:
    """True when the sender of a conversationUpdate is the one who arrived: the bot was added
    (the sender installed the app) or the sender was. Someone else added to a team is not."""
    added = {
        str(m.get("id", "")) for m in activity.get("membersAdded") or [] if isinstance(m, dict)
    }
    bot = str(_dict(activity.get("recipient")).get("id", ""))
    sender = str(_dict(activity.get("from")).get("id", ""))
    return bool(added) and (bot in added or sender in added)


def team_of(activity: Activity) -> str | None:
    """The team an activity happened in (channelData.team.id), None outside a team."""
    team = _dict(_dict(activity.get("channelData")).get("team")).get("id")
    return team if isinstance(team, str) and team else None


def bot_arrived(activity: Activity) -> bool:
    """The app was just added here: installationUpdate add, or the bot in membersAdded."""
    kind = activity.get("type")
    if kind == "installationUpdate":
        return str(activity.get("action", "")).startswith("add")
    bot = str(_dict(activity.get("recipient")).get("id", ""))
    added = activity.get("membersAdded") or []
    return kind == "conversationUpdate" and any(
        isinstance(m, dict) and str(m.get("id", "")) == bot for m in added
    )


def people_changed(activity: Activity, field: str) -> list[dict[str, Any]]:
    """People (never the bot) in a conversationUpdate's `membersAdded` or `membersRemoved`."""
    if activity.get("type") != "conversationUpdate":
        return []
    bot = str(_dict(activity.get("recipient")).get("id", ""))
    return [
        m
        for m in activity.get(field) or []
        if isinstance(m, dict) and m.get("id") and str(m["id"]) != bot
    ]


def is_uninstall(activity: Activity) -> bool:
    """The app removed: `installationUpdate` remove, or the bot itself in `membersRemoved`."""
    kind = activity.get("type")
    if kind == "installationUpdate":
        return str(activity.get("action", "")).startswith("remove")
    if kind == "conversationUpdate":
        bot = str(_dict(activity.get("recipient")).get("id", ""))
        removed = activity.get("membersRemoved") or []
        return any(isinstance(m, dict) and str(m.get("id", "")) == bot for m in removed)
    return False


def classify(activity: Activity, *, email: str | None = None) -> InboundEvent | None:
    """The normalised event for one activity, or None for activities we ignore."""
    kind = activity.get("type")
    actor = actor_of(activity, email=email)
    common: dict[str, Any] = {
        "actor": actor,
        "conversation": conversation_of(activity),
        "delivery_id": activity.get("id") or None,
    }
    if (kind == "invoke" and activity.get("name") == "adaptiveCard/action") or (
        kind == "message" and isinstance(activity.get("value"), dict)
    ):
        values = card_values(activity) or {}
        message = clicked_message(activity)
        if isinstance(values.get(FORM_KEY), str):
            return FormSubmitted(
                **common, data=values[FORM_KEY], values=_inputs(values), message=message
            )
        if isinstance(values.get(DATA_KEY), str):
            return ButtonClicked(
                **common, data=values[DATA_KEY], message=message, inputs=_inputs(values)
            )
        return OtherEvent(**common, kind="card_action", payload={})
    if kind == "message":
        text = clean_text(activity)
        if not text:
            return None
        first = text.split()[0].lower()
        if first in COMMAND_WORDS:
            return CommandInvoked(**common, command="", text=text)
        return MessageReceived(**common, text=text)
    if kind == "conversationUpdate" and _adder_joined(activity):
        return MemberJoined(**common, reference=reference_of(activity))
    if kind == "installationUpdate" and str(activity.get("action", "")).startswith("add"):
        return MemberJoined(**common, reference=reference_of(activity))
    if kind in ("conversationUpdate", "installationUpdate", "messageReaction", "typing"):
        return None
    return OtherEvent(**common, kind=f"{kind}:{activity.get('name', '')}", payload={})


# --- conversation references --------------------------------------------------------------


def reference_of(activity: Activity) -> dict[str, Any]:
    """A Bot Framework ConversationReference (its JSON shape) for reaching this place later.

    Kept minimal: ids only, no names. Channel references point at the channel itself so a
    proactive post starts a new thread instead of answering in an old one.
    """
    sender = _dict(activity.get("from"))
    conversation = dict(_dict(activity.get("conversation")))
    channel = channel_id_of(activity)
    if channel is not None and not is_personal(activity):
        conversation["id"] = channel
    conversation.pop("name", None)
    tenant = tenant_of(activity)
    if tenant:
        conversation["tenantId"] = tenant
    user: dict[str, Any] = {"id": sender.get("id")}
    if sender.get("aadObjectId"):
        user["aadObjectId"] = sender["aadObjectId"]
    recipient = _dict(activity.get("recipient"))
    reference: dict[str, Any] = {
        "user": user,
        "bot": {"id": recipient.get("id"), "name": recipient.get("name")},
        "conversation": conversation,
        "channelId": activity.get("channelId", "msteams"),
        "serviceUrl": activity.get("serviceUrl"),
        "locale": activity.get("locale"),
    }
    team = team_of(activity)
    if team is not None and not is_personal(activity):
        # Which team a channel belongs to: its posts go through that team's reference.
        reference["teamId"] = team
    return reference


def reference_keys(activity: Activity) -> list[str]:
    """Keys under which this activity's reference is stored (ConversationReference.key)."""
    keys: list[str] = []
    sender = _dict(activity.get("from"))
    if is_personal(activity):
        if sender.get("id"):
            keys.append(f"user:{sender['id']}")
        if sender.get("aadObjectId"):
            keys.append(f"user:{sender['aadObjectId']}")
    else:
        channel = channel_id_of(activity)
        if channel:
            keys.append(f"channel:{channel}")
        team = _dict(_dict(activity.get("channelData")).get("team")).get("id")
        if team:
            keys.append(f"team:{team}")
    return keys

"""Neutral messages and forms rendered as Adaptive Cards (version 1.5, under 28 KB).

Every button is an `Action.Execute` (Universal Actions: Teams answers with an invoke and
shows the card we return) with an `Action.Submit` fallback for clients without it. Both carry
the same data object, `{DATA_KEY: <packed action>}` or `{FORM_KEY: <packed form id>}`, into
which the client merges the card's input values.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from adapters.teams.normalize import DATA_KEY, DATE_SUFFIX, FORM_KEY, TIME_SUFFIX
from bot.core.i18n import Translator
from bot.core.messages import (
    Button,
    Buttons,
    Divider,
    Facts,
    Field_,
    Form,
    Header,
    Image,
    Message,
    SmallPrint,
    Text,
)
from bot.core.text_limits import label_with_limit

CARD_VERSION = "1.5"
CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
VERB = "medpuls"
# Teams refuses messages over ~28 KB; the activity envelope around the card needs some room.
MAX_MESSAGE_BYTES = 28 * 1024
MAX_CARD_BYTES = MAX_MESSAGE_BYTES - 2 * 1024

Card = dict[str, Any]
Element = dict[str, Any]
ImageUrl = Callable[[str], str | None]

_BOLD = re.compile(r"(?<![*\w])\*(?!\s)([^*\n]+?)(?<!\s)\*(?![*\w])")
_STYLE = {"default": "default", "primary": "positive", "danger": "destructive"}


def size_of(payload: object) -> int:
    return len(json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))


def markdown(text: str) -> str:
    """Our *bold* / _italic_ to Adaptive Card markdown (**bold**, _italic_ is the same)."""
    return _BOLD.sub(r"**\1**", text)


def _text(text: str, **style: Any) -> Element:
    return {"type": "TextBlock", "text": text, "wrap": True, **style}


def action(title: str, data: dict[str, str], *, style: str = "default") -> Element:
    """An Action.Execute that falls back to an Action.Submit with the same data."""
    submit: Element = {"type": "Action.Submit", "title": title, "data": data}
    execute: Element = {"type": "Action.Execute", "title": title, "verb": VERB, "data": data}
    if style != "default":
        submit["style"] = execute["style"] = style
    execute["fallback"] = submit
    return execute


def _button(button: Button) -> Element:
    style = "positive" if button.selected else _STYLE[button.style]
    title = f"✓ {button.label}" if button.selected else button.label
    return action(title, {DATA_KEY: button.data}, style=style)


def _buttons(part: Buttons) -> list[Element]:
    out: list[Element] = []
    if part.label:
        out.append(_text(markdown(part.label), weight="Bolder"))
    out.append({"type": "ActionSet", "actions": [_button(b) for b in part.buttons]})
    if part.ends:
        low, high = part.ends
        small = {"size": "Small", "isSubtle": True}
        out.append(
            {
                "type": "ColumnSet",
                "spacing": "None",
                "columns": [
                    {"type": "Column", "width": "stretch", "items": [_text(low, **small)]},
                    {
                        "type": "Column",
                        "width": "stretch",
                        "items": [_text(high, horizontalAlignment="Right", **small)],
                    },
                ],
            }
        )
    return out


def _part(part: object, image_url: ImageUrl) -> list[Element]:
    match part:
        case Header(text=text):
            return [_text(text, size="Large", weight="Bolder")]
        case Text(text=text, markdown=md):
            return [_text(markdown(text) if md else text)]
        case Facts(facts=facts):
            return [
                {"type": "FactSet", "facts": [{"title": f.label, "value": f.value} for f in facts]}
            ]
        case Buttons():
            return _buttons(part)
        case SmallPrint(text=text):
            return [_text(text, size="Small", isSubtle=True)]
        case Image(image_id=image_id, alt=alt):
            url = image_url(image_id)
            if url is None:
                return [_text(alt, isSubtle=True)]
            return [{"type": "Image", "url": url, "altText": alt, "size": "Stretch"}]
    return []


def _card(body: list[Element], fallback: str) -> Card:
    return {
        "type": "AdaptiveCard",
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "version": CARD_VERSION,
        "fallbackText": fallback,
        "msteams": {"width": "Full"},
        "body": body,
    }


def render_message(message: Message, t: Translator, image_url: ImageUrl = lambda _id: None) -> Card:
    """The card for a message; trimmed with "… and N more" if it would not fit."""
    groups: list[list[Element]] = []
    separate = False
    for part in message.parts:
        if isinstance(part, Divider):
            separate = True
            continue
        elements = _part(part, image_url)
        if elements and separate:
            elements[0] = {**elements[0], "separator": True, "spacing": "Medium"}
            separate = False
        groups.append(elements)
    return fit(_card([e for g in groups for e in g], message.summary), t)


def _with_value(element: Element, value: str | None) -> list[Element]:
    """The one input, showing `value` when there is one."""
    if value:
        element["value"] = value
    return [element]


def _inputs(field: Field_, initial: str | None, error: str | None, t: Translator) -> list[Element]:
    """The card's input(s) for one field: a datetime is a date and a time input, joined again
    by normalize."""
    base: Element = {"id": field.name, "label": field.label, "isRequired": field.required}
    if field.required:
        base["errorMessage"] = error or t("teams.required")
    if field.kind in ("text", "textarea"):
        element = {**base, "type": "Input.Text", "isMultiline": field.kind == "textarea"}
        if field.placeholder:
            element["placeholder"] = field.placeholder
        if field.limit is not None:
            # Teams stops typing at maxLength; the label says where that is.
            element["maxLength"] = field.limit
            element["label"] = label_with_limit(field.label, field.limit, t)
        return _with_value(element, initial)
    if field.kind == "choice":
        choices = [{"title": o.label, "value": o.value} for o in field.options]
        element = {**base, "type": "Input.ChoiceSet", "style": "compact", "choices": choices}
        return _with_value(element, initial)
    if field.kind == "checkbox":
        return [
            {
                "type": "Input.Toggle",
                "id": field.name,
                "title": field.label,
                "valueOn": "true",
                "valueOff": "false",
                "value": "true" if initial in ("true", "1", "yes") else "false",
            }
        ]
    day = initial[:10] if initial else None
    if field.kind == "date":
        return _with_value({**base, "type": "Input.Date"}, day)
    date: Element = {**base, "type": "Input.Date", "id": field.name + DATE_SUFFIX}
    time: Element = {
        "type": "Input.Time",
        "id": field.name + TIME_SUFFIX,
        "isRequired": field.required,
    }
    if field.required:
        time["errorMessage"] = base["errorMessage"]
    if initial:
        date["value"] = day
        if len(initial) >= 16:
            time["value"] = initial[11:16]
    return [date, time]


def render_form(
    form: Form,
    t: Translator,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
) -> Card:
    """A card with one input per field; its submit carries the form's packed data."""
    errors = errors or {}
    values = values or {}
    body: list[Element] = [_text(form.title, size="Large", weight="Bolder")]
    if form.intro:
        body.append(_text(markdown(form.intro)))
    general = [msg for name, msg in errors.items() if name not in {f.name for f in form.fields}]
    for msg in general:
        body.append(_text(msg, color="Attention", weight="Bolder"))
    for field in form.fields:
        initial = values.get(field.name, field.initial)
        body.extend(_inputs(field, initial, errors.get(field.name), t))
        if field.hint:
            body.append(_text(field.hint, size="Small", isSubtle=True, spacing="None"))
        if field.name in errors:
            body.append(_text(errors[field.name], color="Attention", spacing="None"))
    body.append(
        {
            "type": "ActionSet",
            "actions": [action(form.submit, {FORM_KEY: form.data}, style="positive")],
        }
    )
    return fit(_card(body, form.title), t)


def fit(card: Card, t: Translator, limit: int = MAX_CARD_BYTES) -> Card:
    """The card itself if it fits; otherwise trimmed from the end, saying how much was left out.

    Action sets (the buttons a person must be able to press) are kept; facts go one by one,
    other elements whole; a single oversized text is cut.
    """
    if size_of(card) <= limit:
        return card
    body: list[Element] = [dict(e) for e in card["body"]]
    dropped = 0

    def attempt() -> Card:
        notice = [_text(t("teams.and_more", n=dropped), isSubtle=True)] if dropped else []
        return {**card, "body": body + notice}

    while size_of(attempt()) > limit:
        index = next(
            (i for i in range(len(body) - 1, -1, -1) if body[i].get("type") != "ActionSet"),
            None,
        )
        if index is None:
            break
        element = body[index]
        if element.get("type") == "FactSet" and len(element["facts"]) > 1:
            body[index] = {**element, "facts": element["facts"][:-1]}
            dropped += 1
        elif element.get("type") == "TextBlock" and len(str(element.get("text", ""))) > 1000:
            text = str(element["text"])
            body[index] = {**element, "text": text[: len(text) * 3 // 4].rstrip() + " …"}
        else:
            del body[index]
            dropped += 1
    return attempt()


def attachment(card: Card) -> dict[str, Any]:
    return {"contentType": CARD_CONTENT_TYPE, "content": card}


def message_activity(card: Card, summary: str) -> dict[str, Any]:
    """The outgoing message activity (Bot Framework JSON) carrying one card."""
    return {
        "type": "message",
        "summary": summary[:200],
        "attachments": [attachment(card)],
    }


def invoke_card_response(card: Card) -> dict[str, Any]:
    """The body of an `adaptiveCard/action` invoke response that shows `card` to the clicker."""
    return {"statusCode": 200, "type": CARD_CONTENT_TYPE, "value": card}


def invoke_message_response(text: str) -> dict[str, Any]:
    return {"statusCode": 200, "type": "application/vnd.microsoft.activity.message", "value": text}

"""Block Kit rendering of neutral messages and forms, within Slack's limits.

Slack rejects a whole message for one oversized field (`invalid_blocks`), and a rejected pulse
question is a question nobody answers. So every limit is enforced here, before sending: long
text is split over several sections, long labels are cut with "…", and what still does not fit
ends in "… og N mere" / "… and N more".
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from adapters.slack.registry import ACTION_PREFIX, RETRY_ACTION_ID, VIEW_PREFIX
from bot.core.i18n import Lang, translator
from bot.core.messages import (
    MAX_TEXT,
    Button,
    Buttons,
    Divider,
    Facts,
    Field_,
    Form,
    Header,
    Image,
    Message,
    Part,
    SmallPrint,
    Text,
)
from bot.core.text_limits import limit_text

Block = dict[str, Any]

# https://docs.slack.dev/reference/block-kit/blocks (limits per block and element)
MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
MAX_SECTION_TEXT = 3000
MAX_FIELD_TEXT = 2000
MAX_FIELDS = 10
MAX_HEADER_TEXT = 150
MAX_BUTTON_TEXT = 75
MAX_ACTION_ELEMENTS = 25
MAX_CONTEXT_TEXT = 2000
MAX_OPTIONS = 100
MAX_OPTION_TEXT = 75
MAX_OPTION_VALUE = 150
MAX_MODAL_TITLE = 24
MAX_MODAL_BUTTON = 24
MAX_LABEL = 2000
MAX_PLACEHOLDER = 150
MAX_HINT = 2000
MAX_INPUT_LENGTH = 3000
MAX_BUTTON_VALUE = 2000
MAX_CALLBACK_ID = 255
MAX_PRIVATE_METADATA = 3000
# chat.postMessage's `text` is the notification and screen-reader fallback; keep it readable.
MAX_FALLBACK_TEXT = 3000
MAX_ALT_TEXT = 2000
ELLIPSIS = "…"
MORE_VALUE = "…"


# Where Slack can fetch one of our images (MEDPULS_PUBLIC_URL), or None: then it is uploaded.
ImageUrl = Callable[[str], str | None]


def _no_url(_image_id: str) -> str | None:
    return None


@dataclass(frozen=True)
class Rendered:
    text: str
    blocks: list[Block]
    # Images to upload as files beside the message (those without a public address).
    images: list[Image]
    # Content had to be dropped (not merely split): the "more" line is in the blocks.
    truncated: bool


def escape(text: str) -> str:
    """Slack treats &, < and > as control characters in every text field."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def cut(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[: limit - 1].rstrip() + ELLIPSIS


def split_text(text: str, limit: int = MAX_SECTION_TEXT) -> list[str]:
    """Pieces of at most `limit` characters, broken at paragraphs, lines or words if possible."""
    pieces: list[str] = []
    rest = text
    while len(rest) > limit:
        window = rest[:limit]
        at = max(window.rfind("\n\n"), window.rfind("\n"))
        if at < limit // 2:
            at = window.rfind(" ")
        if at < limit // 2:
            at = limit
        pieces.append(rest[:at].rstrip())
        rest = rest[at:].lstrip()
    if rest or not pieces:
        pieces.append(rest)
    return pieces


def plain(text: str, limit: int) -> dict[str, Any]:
    # Slack rejects empty text objects; a lone space is not accepted either.
    return {"type": "plain_text", "text": cut(text, limit) or ELLIPSIS, "emoji": True}


def mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text or ELLIPSIS}


def more_line(lang: Lang, n: int) -> Block:
    return {"type": "context", "elements": [mrkdwn(translator(lang)("slack.more", n=n))]}


# --- messages ---------------------------------------------------------------------------------


class _Counter:
    def __init__(self) -> None:
        self.n = 0

    def next(self) -> int:
        self.n += 1
        return self.n


def _sections(text: str, markdown: bool) -> Iterator[Block]:
    body = escape(text)
    for piece in split_text(body, MAX_SECTION_TEXT):
        obj = mrkdwn(piece) if markdown else plain(piece, MAX_SECTION_TEXT)
        yield {"type": "section", "text": obj}


def button_element(button: Button, action_id: str) -> Block:
    element: Block = {
        "type": "button",
        "text": plain(button.label, MAX_BUTTON_TEXT),
        "action_id": action_id,
        "value": button.data[:MAX_BUTTON_VALUE],
    }
    style = "primary" if button.selected else button.style
    if style in ("primary", "danger"):
        element["style"] = style
    return element


def _buttons(part: Buttons, counter: _Counter) -> Iterator[Block]:
    if part.label:
        yield from _sections(part.label, markdown=True)
    for start in range(0, len(part.buttons), MAX_ACTION_ELEMENTS):
        row = part.buttons[start : start + MAX_ACTION_ELEMENTS]
        yield {
            "type": "actions",
            "elements": [button_element(b, f"{ACTION_PREFIX}{counter.next()}") for b in row],
        }
    if part.ends and part.buttons:
        low, high = part.ends
        first, last = part.buttons[0].label, part.buttons[-1].label
        line = f"{escape(first)} = {escape(low)}   ·   {escape(last)} = {escape(high)}"
        yield {"type": "context", "elements": [mrkdwn(cut(line, MAX_CONTEXT_TEXT))]}


def _facts(part: Facts) -> Iterator[Block]:
    fields = [
        mrkdwn(cut(f"*{escape(f.label)}*\n{escape(f.value)}", MAX_FIELD_TEXT)) for f in part.facts
    ]
    for start in range(0, len(fields), MAX_FIELDS):
        yield {"type": "section", "fields": fields[start : start + MAX_FIELDS]}


def part_blocks(part: Part, counter: _Counter, image_url: ImageUrl = _no_url) -> Iterator[Block]:
    match part:
        case Header(text=text):
            yield {"type": "header", "text": plain(text, MAX_HEADER_TEXT)}
        case Text(text=text, markdown=markdown):
            yield from _sections(text, markdown)
        case Facts():
            yield from _facts(part)
        case Buttons():
            yield from _buttons(part, counter)
        case SmallPrint(text=text):
            yield {"type": "context", "elements": [mrkdwn(cut(escape(text), MAX_CONTEXT_TEXT))]}
        case Divider():
            yield {"type": "divider"}
        case Image(image_id=image_id, alt=alt):
            # An image block where Slack can fetch the image; otherwise it is uploaded as a
            # file next to the message (platform.post). Either way the alt text travels with it.
            url = image_url(image_id)
            if url is not None:
                yield {"type": "image", "image_url": url, "alt_text": cut(alt, MAX_ALT_TEXT)}


def fit(blocks: list[Block], limit: int, lang: Lang) -> tuple[list[Block], bool]:
    if len(blocks) <= limit:
        return blocks, False
    kept = blocks[: limit - 1]
    return [*kept, more_line(lang, len(blocks) - len(kept))], True


def render_blocks(
    parts: list[Part], *, limit: int, lang: Lang, image_url: ImageUrl = _no_url
) -> tuple[list[Block], bool]:
    counter = _Counter()
    blocks = [block for part in parts for block in part_blocks(part, counter, image_url)]
    return fit(blocks, limit, lang)


def fallback_text(message: Message) -> str:
    text = message.summary
    if not text:
        text = next((p.text for p in message.parts if isinstance(p, Text | Header)), "")
    return cut(escape(text), MAX_FALLBACK_TEXT)


def render_message(
    message: Message, *, lang: Lang = "da", image_url: ImageUrl = _no_url
) -> Rendered:
    blocks, truncated = render_blocks(
        message.parts, limit=MAX_MESSAGE_BLOCKS, lang=lang, image_url=image_url
    )
    images = [p for p in message.parts if isinstance(p, Image) and image_url(p.image_id) is None]
    return Rendered(fallback_text(message), blocks, images, truncated)


def render_home(message: Message, *, lang: Lang = "da") -> dict[str, Any]:
    blocks, _ = render_blocks(message.parts, limit=MAX_VIEW_BLOCKS, lang=lang)
    if not blocks:
        blocks = list(_sections(message.summary, markdown=True))
    return {"type": "home", "blocks": blocks}


def retry_message(lang: Lang, retry_value: str) -> tuple[str, list[Block]]:
    """The DM sent when a form could not open in time (an expired trigger_id)."""
    t = translator(lang)
    text = t("slack.expired_trigger")
    blocks: list[Block] = [
        {"type": "section", "text": mrkdwn(escape(text))},
        {
            "type": "actions",
            "elements": [
                {
                    "type": "button",
                    "text": plain(t("slack.try_again"), MAX_BUTTON_TEXT),
                    "action_id": RETRY_ACTION_ID,
                    "value": retry_value[:MAX_BUTTON_VALUE],
                    "style": "primary",
                }
            ],
        },
    ]
    return text, blocks


# --- forms ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FormOrigin:
    """Where a form was opened from, carried through the modal in `private_metadata`."""

    data: str
    channel_id: str | None = None
    message_ts: str | None = None
    response_url: str | None = None

    def dump(self) -> str:
        out: dict[str, str] = {"d": self.data}
        if self.channel_id:
            out["c"] = self.channel_id
        if self.message_ts:
            out["m"] = self.message_ts
        if self.response_url:
            out["r"] = self.response_url
        text = json.dumps(out, separators=(",", ":"))
        if len(text) > MAX_PRIVATE_METADATA:
            # The response URL is a convenience; the form data is not optional.
            out.pop("r", None)
            text = json.dumps(out, separators=(",", ":"))
        return text

    @classmethod
    def load(cls, text: str | None) -> FormOrigin:
        try:
            raw = json.loads(text or "")
        except json.JSONDecodeError:
            return cls(data="")
        if not isinstance(raw, dict):
            return cls(data="")
        return cls(
            data=str(raw.get("d", "")),
            channel_id=raw.get("c"),
            message_ts=raw.get("m"),
            response_url=raw.get("r"),
        )


def _option(value: str, label: str) -> Block:
    return {"text": plain(label, MAX_OPTION_TEXT), "value": value[:MAX_OPTION_VALUE]}


def _options(field: Field_, lang: Lang) -> list[Block]:
    options = [_option(o.value, o.label) for o in field.options]
    if len(options) > MAX_OPTIONS:
        hidden = len(options) - (MAX_OPTIONS - 1)
        label = translator(lang)("slack.more", n=hidden)
        options = [*options[: MAX_OPTIONS - 1], _option(MORE_VALUE, label)]
    return options


def _element(field: Field_, lang: Lang) -> Block:
    element: Block
    if field.kind in ("text", "textarea"):
        element = {"type": "plain_text_input", "action_id": "value"}
        if field.kind == "textarea":
            element["multiline"] = True
        limit = min(field.limit or MAX_TEXT, MAX_INPUT_LENGTH)
        element["max_length"] = limit
        if field.initial:
            element["initial_value"] = field.initial[:limit]
    elif field.kind == "choice":
        options = _options(field, lang)
        element = {"type": "static_select", "action_id": "value", "options": options}
        initial = next((o for o in options if o["value"] == field.initial), None)
        if initial is not None:
            element["initial_option"] = initial
    elif field.kind == "checkbox":
        option = _option("true", field.hint or field.label)
        element = {"type": "checkboxes", "action_id": "value", "options": [option]}
        if field.initial in ("true", "1", "yes"):
            element["initial_options"] = [option]
    elif field.kind == "date":
        element = {"type": "datepicker", "action_id": "value"}
        if field.initial:
            element["initial_date"] = field.initial[:10]
    else:
        element = {"type": "datetimepicker", "action_id": "value"}
        if field.initial and field.initial.isdigit():
            element["initial_date_time"] = int(field.initial)
    if field.placeholder and field.kind not in ("checkbox", "datetime"):
        element["placeholder"] = plain(field.placeholder, MAX_PLACEHOLDER)
    return element


def input_block(field: Field_, lang: Lang) -> Block:
    block: Block = {
        "type": "input",
        "block_id": field.name[:255],
        "label": plain(field.label, MAX_LABEL),
        "element": _element(field, lang),
        # A required checkbox would mean "must be ticked"; a checkbox is a yes/no answer here.
        "optional": (not field.required) or field.kind == "checkbox",
    }
    # Slack stops typing at max_length without saying why; the hint says it beforehand.
    hints = [field.hint] if field.hint and field.kind != "checkbox" else []
    if field.limit is not None:
        hints.append(limit_text(min(field.limit, MAX_INPUT_LENGTH), translator(lang)))
    if hints:
        block["hint"] = plain(" ".join(hints), MAX_HINT)
    return block


def render_modal(form: Form, origin: FormOrigin, *, lang: Lang = "da") -> dict[str, Any]:
    blocks: list[Block] = []
    if form.intro:
        blocks.extend(_sections(form.intro, markdown=True))
    blocks.extend(input_block(f, lang) for f in form.fields)
    blocks, _ = fit(blocks, MAX_VIEW_BLOCKS, lang)
    kind = form.data.partition("|")[0]
    return {
        "type": "modal",
        "callback_id": f"{VIEW_PREFIX}{kind}"[:MAX_CALLBACK_ID],
        "private_metadata": origin.dump(),
        "title": plain(form.title, MAX_MODAL_TITLE),
        "submit": plain(form.submit, MAX_MODAL_BUTTON),
        "close": plain(translator(lang)("slack.cancel"), MAX_MODAL_BUTTON),
        "blocks": blocks,
    }

"""Neutral messages and forms as HTML for the local web chat. Everything is escaped."""

from __future__ import annotations

import re
from html import escape

from bot.core.i18n import Lang, translator
from bot.core.messages import (
    Buttons,
    Divider,
    Facts,
    Form,
    Header,
    Image,
    Message,
    SmallPrint,
    Text,
)

_BOLD = re.compile(r"\*([^*\n]+)\*")
_ITALIC = re.compile(r"(?<![\w])_([^_\n]+)_(?![\w])")
_CODE = re.compile(r"`([^`\n]+)`")


def inline(text: str, markdown: bool = True) -> str:
    """Chat markdown (*bold*, _italic_, `code`) to HTML, after escaping."""
    out = escape(text)
    if markdown:
        out = _CODE.sub(r"<code>\1</code>", out)
        out = _BOLD.sub(r"<strong>\1</strong>", out)
        out = _ITALIC.sub(r"<em>\1</em>", out)
    return out.replace("\n", "<br>")


def render_message(message: Message) -> str:
    html: list[str] = []
    for part in message.parts:
        match part:
            case Header(text=text):
                html.append(f"<h3>{escape(text)}</h3>")
            case Text(text=text, markdown=md):
                html.append(f"<p>{inline(text, md)}</p>")
            case Facts(facts=facts):
                rows = "".join(
                    f"<tr><th>{inline(f.label)}</th><td>{inline(f.value)}</td></tr>" for f in facts
                )
                html.append(f'<table class="facts">{rows}</table>')
            case Buttons(buttons=buttons, label=label, ends=ends):
                block = ['<div class="buttons">']
                if label:
                    block.append(f'<div class="label">{inline(label)}</div>')
                row = "".join(
                    f'<button type="button" class="btn {escape(b.style)}'
                    f'{" selected" if b.selected else ""}" data-action="{escape(b.data)}"'
                    f' aria-pressed="{str(b.selected).lower()}">{escape(b.label)}</button>'
                    for b in buttons
                )
                block.append(f'<div class="row">{row}</div>')
                if ends:
                    block.append(
                        f'<div class="ends"><span>{escape(ends[0])}</span>'
                        f"<span>{escape(ends[1])}</span></div>"
                    )
                block.append("</div>")
                html.append("".join(block))
            case SmallPrint(text=text):
                html.append(f'<p class="context">{inline(text)}</p>')
            case Divider():
                html.append("<hr>")
            case Image(image_id=image_id, alt=alt):
                html.append(
                    f'<img class="chart" src="/images/{escape(image_id)}.png" alt="{escape(alt)}">'
                )
    return "".join(html)


def render_said(text: str) -> str:
    """What a person typed, as they typed it: no markdown of ours applies to their words."""
    return f'<p class="said">{inline(text, markdown=False)}</p>'


def render_form(form: Form, errors: dict[str, str] | None = None, *, lang: Lang = "da") -> str:
    errors = errors or {}
    t = translator(lang)
    html = [
        f'<form class="form" data-form="{escape(form.data)}">',
        f"<h3>{escape(form.title)}</h3>",
    ]
    if form.intro:
        html.append(f'<p class="context">{inline(form.intro)}</p>')
    for field in form.fields:
        name = escape(field.name)
        req = " required" if field.required else ""
        maxlen = f' maxlength="{field.max_length}"' if field.max_length else ""
        initial = escape(field.initial or "")
        ph = f' placeholder="{escape(field.placeholder)}"' if field.placeholder else ""
        html.append(f'<label for="f-{name}">{escape(field.label)}</label>')
        if field.kind == "textarea":
            html.append(
                f'<textarea id="f-{name}" name="{name}"{req}{maxlen}{ph}>{initial}</textarea>'
            )
        elif field.kind == "choice":
            opts = "".join(
                f'<option value="{escape(o.value)}"'
                f"{' selected' if o.value == field.initial else ''}>{escape(o.label)}</option>"
                for o in field.options
            )
            html.append(f'<select id="f-{name}" name="{name}"{req}>{opts}</select>')
        elif field.kind == "checkbox":
            checked = " checked" if field.initial in ("true", "1", "yes") else ""
            html.append(
                f'<input type="checkbox" id="f-{name}" name="{name}" value="true"{checked}>'
            )
        else:
            kind = {"date": "date", "datetime": "datetime-local"}.get(field.kind, "text")
            attrs = f'type="{kind}" id="f-{name}" name="{name}" value="{initial}"'
            html.append(f"<input {attrs}{req}{maxlen}{ph}>")
        if field.max_length and field.kind in ("text", "textarea"):
            # The limit shown as it is reached, never a silent cut (app.js keeps it current).
            used = len(field.initial or "")
            html.append(
                f'<small class="counter" data-for="f-{name}" aria-live="polite">'
                f"{used} / {field.max_length}</small>"
            )
        if field.hint:
            html.append(f'<small class="hint">{inline(field.hint)}</small>')
        if field.name in errors:
            html.append(f'<small class="error">{escape(errors[field.name])}</small>')
    html.append(
        f'<div class="form-actions"><button type="submit" class="btn primary">{escape(form.submit)}'
        f'</button><button type="button" class="btn cancel">{escape(t("localchat.cancel"))}'
        "</button></div></form>"
    )
    return "".join(html)

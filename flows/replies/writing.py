"""What either side writes in a conversation: the one-field form and the checks of its line."""

from __future__ import annotations

from bot.core.events import FormSubmitted
from bot.core.i18n import Translator
from bot.core.messages import Field_, Form, Reply
from bot.core.router import FlowContext
from flows.replies.data import TEXT_MAX
from flows.replies.rules import names_someone


def text_form(data: str, t: Translator, *, title: str, intro: str) -> Form:
    """The one-field form either side writes a line of the conversation in."""
    return Form(
        data=data,
        title=title,
        submit=t("replies.form_submit"),
        intro=intro,
        fields=[
            Field_(name="text", label=t("replies.form_label"), kind="textarea", max_length=TEXT_MAX)
        ],
    )


def written(ctx: FlowContext, event: FormSubmitted, names_key: str) -> str | Reply:
    """The line written in a text form, or the form's error: empty, or naming someone."""
    text = (event.values.get("text") or "").strip()[:TEXT_MAX]
    if not text:
        return Reply(errors={"text": ctx.t("replies.empty")})
    if names_someone(ctx.session, text):
        return Reply(errors={"text": ctx.t(names_key)})
    return text

"""Neutral outbound messages and forms.

Flows build these; adapters render them (Block Kit, Adaptive Cards, HTML). They are pydantic
models because they are stored as JSON in the outbox and must round-trip exactly.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Part(BaseModel):
    model_config = ConfigDict(frozen=True)


class Header(_Part):
    type: Literal["header"] = "header"
    text: str


class Text(_Part):
    """A paragraph. `markdown` allows *bold* and _italic_ in the platform's own dialect."""

    type: Literal["text"] = "text"
    text: str
    markdown: bool = True


class Fact(_Part):
    label: str
    value: str


class Facts(_Part):
    """Label/value pairs (Slack section fields, Teams FactSet, an HTML table)."""

    type: Literal["facts"] = "facts"
    facts: list[Fact]


class Button(_Part):
    label: str
    data: str
    style: Literal["default", "primary", "danger"] = "default"
    selected: bool = False


class Buttons(_Part):
    """A row of buttons; `label` is the line above (e.g. the question), `ends` the scale ends."""

    type: Literal["buttons"] = "buttons"
    buttons: list[Button]
    label: str | None = None
    ends: tuple[str, str] | None = None


class SmallPrint(_Part):
    """Small print under a message."""

    type: Literal["context"] = "context"
    text: str


class Divider(_Part):
    type: Literal["divider"] = "divider"


class Image(_Part):
    """An image kept in our database (charts); adapters upload or link it by `image_id`."""

    type: Literal["image"] = "image"
    image_id: str
    alt: str


Part = Annotated[
    Header | Text | Facts | Buttons | SmallPrint | Divider | Image, Field(discriminator="type")
]


class Message(BaseModel):
    """One chat message. `summary` is the plain-text fallback (notifications, screen readers)."""

    model_config = ConfigDict(frozen=True)

    summary: str
    parts: list[Part] = Field(default_factory=list)


# The most any text field takes: Slack's plain_text_input refuses more, and a channel is no
# place for longer text (a channel post shows a summary and the rest on request).
MAX_TEXT = 3000


class Option(_Part):
    value: str
    label: str


class Field_(_Part):
    """One input of a form."""

    name: str
    label: str
    kind: Literal["text", "textarea", "choice", "checkbox", "date", "datetime"] = "text"
    required: bool = True
    initial: str | None = None
    placeholder: str | None = None
    hint: str | None = None
    options: list[Option] = Field(default_factory=list)
    # The most characters the field takes; every adapter shows it (`limit` below) and the
    # router refuses a longer value that arrives anyway, so nothing is cut silently.
    max_length: int | None = None

    @property
    def limit(self) -> int | None:
        """The limit every adapter shows: the form's, or MAX_TEXT for free text; None for a
        one-line field without one (a date typed as text needs no "at most 3,000")."""
        if self.kind == "textarea" or (self.kind == "text" and self.max_length):
            return min(self.max_length or MAX_TEXT, MAX_TEXT)
        return None


class Form(BaseModel):
    """A form to fill: a Slack modal, an Adaptive Card with inputs, an HTML form."""

    model_config = ConfigDict(frozen=True)

    data: str
    title: str
    submit: str
    fields: list[Field_]
    intro: str | None = None


class Reply(BaseModel):
    """What the adapter does at once, in answer to the person who just acted.

    `update` replaces the message they clicked in; `form` opens a form (Slack modal needs the
    trigger, so this cannot wait for the outbox); `notice` is a private note to them only.
    `transient` is a confirmation shown to them in a way the platform does not keep (a Slack
    ephemeral message, a Teams invoke answer, the local chat's toast): never a stored message,
    so it may say what they chose. Everything else a flow wants said goes through the outbox.
    """

    model_config = ConfigDict(frozen=True)

    update: Message | None = None
    form: Form | None = None
    notice: Message | None = None
    transient: Message | None = None
    # A submitted form that is not accepted: field name -> what is wrong (form stays open).
    errors: dict[str, str] = Field(default_factory=dict)

    @classmethod
    def note(cls, text: str) -> Reply:
        """A private note to the person who acted: the one-line answer most turns give."""
        return cls(notice=Message(summary=text, parts=[Text(text=text)]))

    @classmethod
    def notice_of(cls, summary: str, parts: list[Part]) -> Reply:
        """A private notice of several parts to the person who acted (a list, a view)."""
        return cls(notice=Message(summary=summary, parts=parts))


NO_REPLY = Reply()

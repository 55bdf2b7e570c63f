"""An in-memory platform at our own port, and a chat driver on it for flow tests.

`FakePlatform` implements bot.core.platform.Platform and keeps what the flows send (neutral
messages and forms, bot.core.messages) in memory, per conversation, as the local chat keeps
them in its table. `FakeChat` has the shape of tests/localchat.py's LocalChat (deliver, dm,
messages, click, submit, say) but hands normalised events (bot.core.events) straight to the
real turn handler (bot.app.turns.Core, through the TurnHandler port) and answers with plain
data read from the neutral messages: text, button data, forms. No HTTP and no HTML: those are
the local adapter's, tested on their own (tests/test_browser*.py, test_body_limits.py).

Everything else is real: the router, the flows, the database and the outbox delivery worker,
which sends through this platform. It is a fake at our port, like errbot's TestBot.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

# The local chat's conversation ids (a member's DM, a unit's channel), so that tests address
# conversations as they always have.
from adapters.local.platform import conversation_of
from bot.app.wiring import Bot, build
from bot.core.config import Settings
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
from bot.core.messages import (
    Button,
    Buttons,
    Facts,
    Form,
    Header,
    Image,
    Message,
    Reply,
    SmallPrint,
    Text,
)
from bot.core.platform import Address, TurnHandler
from bot.core.router import command_text, command_word

# Chat markdown as every adapter reads it: *bold*, _italic_, `code` (adapters/local/html.py).
_CODE = re.compile(r"`([^`\n]+)`")
_BOLD = re.compile(r"\*([^*\n]+)\*")
_ITALIC = re.compile(r"(?<![\w])_([^_\n]+)_(?![\w])")


def _words(text: str, markdown: bool = True) -> str:
    """What a reader sees of a text: markdown markers gone, line breaks as spaces."""
    if markdown:
        text = _ITALIC.sub(r"\1", _BOLD.sub(r"\1", _CODE.sub(r"\1", text)))
    return text.replace("\n", " ")


def plain(message: Message) -> str:
    """The words a message shows, part after part (headers, texts, facts, button labels)."""
    out: list[str] = []
    for part in message.parts:
        match part:
            case Header(text=text):
                out.append(text)
            case Text(text=text, markdown=md):
                out.append(_words(text, md))
            case Facts(facts=facts):
                out.extend(f"{_words(f.label)} {_words(f.value)}" for f in facts)
            case Buttons(buttons=buttons, label=label, ends=ends):
                out.extend([_words(label)] if label else [])
                out.extend(b.label for b in buttons)
                out.extend(ends or ())
            case SmallPrint(text=text):
                out.append(_words(text))
            case Image(alt=alt):
                out.append(alt)
    return " ".join(out)


def form_text(form: Form) -> str:
    """The words a form shows: title, intro, each field's label, prefilled text, choices and
    hint, submit."""
    out = [form.title, *([_words(form.intro)] if form.intro else [])]
    for f in form.fields:
        out.append(f.label)
        if f.initial and f.kind in ("text", "textarea", "date", "datetime"):
            out.append(f.initial)
        out.extend(o.label for o in f.options)
        out.extend([_words(f.hint)] if f.hint else [])
    out.append(form.submit)
    return " ".join(out)


def _buttons(message: Message) -> list[Button]:
    return [b for part in message.parts if isinstance(part, Buttons) for b in part.buttons]


@dataclass(frozen=True)
class Shown:
    """One thing shown to a person: a message, a form, or what they typed themselves."""

    text: str
    message: Message | None = None
    form: Form | None = None
    id: int = 0
    mine: bool = False

    @classmethod
    def of(cls, message: Message, id: int = 0) -> Shown:
        return cls(plain(message), message=message, id=id)

    @classmethod
    def of_form(cls, form: Form, id: int = 0) -> Shown:
        return cls(form_text(form), form=form, id=id)

    @property
    def buttons(self) -> list[Button]:
        return _buttons(self.message) if self.message is not None else []

    @property
    def actions(self) -> list[str]:
        """The packed data of every button, in order (what a click sends)."""
        return [b.data for b in self.buttons]

    @property
    def data(self) -> str:
        """A form's packed id (what a submit sends)."""
        assert self.form is not None, self.text
        return self.form.data

    @property
    def values(self) -> dict[str, str]:
        """A form's prefilled values, by field name."""
        assert self.form is not None, self.text
        return {f.name: f.initial for f in self.form.fields if f.initial is not None}

    @property
    def raw(self) -> str:
        """Everything the platform was handed for it (summary, ids in button data): what a
        disclosure check must search, not only the words."""
        shown = self.message if self.message is not None else self.form
        if shown is None:
            return self.text
        return json.dumps(shown.model_dump(mode="json"), ensure_ascii=False)


@dataclass(frozen=True)
class Answer:
    """What the person who acted sees at once (bot.core.messages.Reply, as plain data)."""

    notice: Shown | None = None
    form: Shown | None = None
    toast: Shown | None = None
    errors: dict[str, str] = field(default_factory=dict)
    posted: int | None = None

    @property
    def raw(self) -> str:
        """Everything the person was handed, for disclosure checks (see Shown.raw)."""
        shown = [s.raw for s in (self.notice, self.form, self.toast) if s is not None]
        return "\n".join([*shown, json.dumps(self.errors, ensure_ascii=False)])


@dataclass
class _Kept:
    id: int
    conversation: str
    message: Message | None = None
    form: Form | None = None
    said: str | None = None
    dedupe_key: str | None = None
    version: int = 0

    def shown(self) -> Shown:
        if self.said is not None:
            return Shown(_words(self.said, markdown=False), id=self.id, mine=True)
        if self.form is not None:
            return Shown.of_form(self.form, self.id)
        assert self.message is not None
        return Shown.of(self.message, self.id)


class FakePlatform:
    """The "local" platform, in memory: posts are idempotent by dedupe key, as the local
    chat's are, so the outbox may re-send what it is unsure of."""

    name = "local"
    idempotent_posts = True

    def __init__(self) -> None:
        self.kept: list[_Kept] = []
        self._ids = itertools.count(1)

    def _store(self, conversation: str, *, dedupe_key: str | None, **what: Any) -> _Kept:
        if dedupe_key is not None:
            for row in self.kept:
                if row.dedupe_key == dedupe_key:
                    return row
        row = _Kept(next(self._ids), conversation, dedupe_key=dedupe_key, **what)
        self.kept.append(row)
        return row

    async def post(self, to: Address, message: Message, *, dedupe_key: str) -> MessageRef:
        row = self._store(conversation_of(to), message=message, dedupe_key=dedupe_key)
        return MessageRef("local", row.conversation, str(row.id))

    async def update(self, ref: MessageRef, message: Message) -> None:
        for row in self.kept:
            if row.id == int(ref.message_id):
                row.message, row.version = message, row.version + 1

    async def open_form(self, trigger: str, form: Form, *, to: Address) -> None:
        self._store(conversation_of(to), form=form, dedupe_key=f"form:{trigger}")

    async def find_user(self, email: str) -> str | None:
        return None

    def keep(self, conversation: str, **what: Any) -> int:
        """What happens once, in answer to a person (what they typed, the reply to it)."""
        return self._store(conversation, dedupe_key=None, **what).id

    def conversation(self, conversation: str) -> list[Shown]:
        return [row.shown() for row in self.kept if row.conversation == conversation]


async def deliver_all(bot: Bot) -> int:
    """Run the real outbox delivery until nothing is left; how many messages went out."""
    total = 0
    while sent := await bot.delivery.run_once():
        total += sent
    return total


def _actor(member: int) -> Actor:
    return Actor(platform="local", user_id=str(member))


class FakeChat:
    """Drives the real core as a person in the local chat would, and reads what they see."""

    def __init__(self, bot: Bot, platform: FakePlatform) -> None:
        self.bot = bot
        self.platform = platform
        self.core: TurnHandler = bot.core

    async def deliver(self) -> int:
        """Send everything the outbox holds, through this platform (the worker's job)."""
        return await deliver_all(self.bot)

    async def messages(self, member: int, conversation: str) -> list[Shown]:
        return self.platform.conversation(conversation)

    async def dm(self, member: int) -> list[Shown]:
        return await self.messages(member, f"member:{member}")

    async def _apply(
        self, event: InboundEvent, ref: MessageRef | None = None, *, keep_in: str | None = None
    ) -> Answer:
        reply: Reply = await self.core.handle(event)
        if reply.update is not None and ref is not None:
            await self.platform.update(ref, reply.update)
        posted = None
        if reply.notice is not None and keep_in is not None:
            # Slack and Teams keep the answer to a typed message in the chat.
            posted = self.platform.keep(keep_in, message=reply.notice)
        return Answer(
            notice=Shown.of(reply.notice) if reply.notice is not None else None,
            form=Shown.of_form(reply.form) if reply.form is not None else None,
            toast=Shown.of(reply.transient) if reply.transient is not None else None,
            errors=dict(reply.errors),
            posted=posted,
        )

    async def click(
        self,
        member: int,
        data: str,
        *,
        message_id: int | None = None,
        conversation: str | None = None,
    ) -> Answer:
        where = conversation or f"member:{member}"
        ref = MessageRef("local", where, str(message_id)) if message_id is not None else None
        event = ButtonClicked(
            actor=_actor(member),
            conversation=Conversation("local", where) if ref else None,
            data=data,
            message=ref,
            trigger=f"local:{member}",
        )
        return await self._apply(event, ref)

    async def submit(self, member: int, data: str, values: dict[str, str]) -> Answer:
        event = FormSubmitted(
            actor=_actor(member),
            conversation=Conversation("local", f"member:{member}"),
            data=data,
            values=dict(values),
        )
        return await self._apply(event)

    async def say(self, member: int, text: str) -> Answer:
        """A typed message: kept in the person's DM as theirs, answered there."""
        text = text.strip()
        if not text:
            return Answer()
        where = f"member:{member}"
        self.platform.keep(where, said=text)
        conv = Conversation("local", where)
        event: InboundEvent
        if command_word(text) in self.core.router.commands:
            event = CommandInvoked(
                actor=_actor(member),
                conversation=conv,
                command="",
                text=command_text(text),
                trigger=f"local:{member}",
            )
        else:
            event = MessageReceived(actor=_actor(member), conversation=conv, text=text)
        return await self._apply(event, keep_in=where)


@asynccontextmanager
async def fake_chat(db_url: str, **settings: Any) -> AsyncIterator[FakeChat]:
    """The bot as `medpuls serve` builds it, its local platform swapped for the fake."""
    bot = build(Settings(DATABASE_URL=db_url, **{"MEDPULS_LOCAL_CHAT": True, **settings}))
    platform = FakePlatform()
    # The delivery worker holds the same mapping: it now sends through the fake.
    assert bot.delivery.platforms is bot.platforms
    bot.platforms["local"] = platform
    try:
        yield FakeChat(bot, platform)
    finally:
        bot.db.dispose()

"""Long input (issue 16, point 12): every text field shows its limit, a longer value that
arrives anyway is refused in one line (never cut silently), and a channel post of a long
proposal shows a summary with the whole text on request, to the clicker alone.

Before: the proposal form cut the title at 200 and each text at 3,000 characters without a
word, and the channel post carried all 9,000 characters.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from adapters.slack.blocks import input_block
from adapters.teams.cards import render_form
from bot.core.events import Actor, Conversation, FormSubmitted
from bot.core.i18n import Translator
from bot.core.messages import Buttons, Field_, Form
from flows.agenda import ProposeForm
from flows.full_text import SUMMARY_CHARS, summary
from storage.models import Member, Membership, Proposal, Unit
from tests.cli import cli
from tests.fake_platform import fake_chat
from tests.fakes.bot_connector import FakeBotConnector
from tests.fakes.slack_api import FakeSlack, SlackWorkspace
from tests.teams_support import TeamsBot, fixture, running, teams_settings
from tests.test_agenda_slack import (
    NORD_CHANNEL,
    buttons,
    by_name,
    choice,
    click,
    command,
    posts_to,
    setup,
    submission,
)
from tests.test_agenda_teams_process import PEOPLE, actions_in, as_person

DA = Translator("da")
# 2,900 characters of a real-looking text, its end easy to find.
LONG_ISSUE = (
    "Vi mangler tid til overlevering mellem vagterne, og det går ud over borgerne. " * 37
)[:2880] + " SLUTNINGEN-AF-TEKSTEN"


def _texts(blocks: list[dict[str, Any]]) -> str:
    return " ".join(b["text"]["text"] for b in blocks if b.get("type") == "section" and "text" in b)


# --- the summary ----------------------------------------------------------------------------


def test_a_summary_is_cut_at_a_word_and_says_so() -> None:
    short = summary(LONG_ISSUE)
    assert len(short) <= SUMMARY_CHARS and short.endswith("…")
    assert LONG_ISSUE.startswith(short[:-1])
    assert LONG_ISSUE[len(short) - 1] in " ,."  # the cut falls between words
    assert summary("Kort tekst.") == "Kort tekst."
    unbroken = "x" * 1000
    assert summary(unbroken) == "x" * (SUMMARY_CHARS - 1) + "…"


# --- every form field shows its limit -------------------------------------------------------


def _form(*fields: Field_) -> Form:
    return Form(data=ProposeForm().pack(), title="Forslag", submit="Send", fields=list(fields))


def test_slack_inputs_carry_max_length_and_say_it_in_the_hint() -> None:
    title = input_block(Field_(name="title", label="Titel", max_length=200), "da")
    assert title["element"]["max_length"] == 200
    assert title["hint"]["text"] == "Højst 200 tegn."
    free = input_block(Field_(name="why", label="Hvorfor", kind="textarea", hint="Kort."), "en")
    assert free["element"]["max_length"] == 3000
    assert free["hint"]["text"] == "Kort. At most 3,000 characters."
    date = input_block(Field_(name="d", label="Dato", kind="date"), "da")
    assert "hint" not in date


def test_teams_inputs_carry_max_length_and_say_it_in_the_label() -> None:
    card = render_form(_form(Field_(name="title", label="Titel", max_length=200)), DA)
    [field] = [e for e in card["body"] if e.get("id") == "title"]
    assert field["maxLength"] == 200
    assert field["label"] == "Titel (højst 200 tegn)"
    card = render_form(_form(Field_(name="issue", label="Hvad", kind="textarea")), DA)
    [field] = [e for e in card["body"] if e.get("id") == "issue"]
    assert field["maxLength"] == 3000 and "3.000" in field["label"]


def test_the_neutral_field_gives_every_adapter_the_same_limit() -> None:
    assert Field_(name="a", label="A", max_length=200).limit == 200
    assert Field_(name="a", label="A", kind="textarea").limit == 3000
    assert Field_(name="a", label="A", max_length=10_000).limit == 3000
    assert Field_(name="a", label="A", kind="choice").limit is None
    assert Field_(name="a", label="A").limit is None  # a one-line field with no limit of its own


# --- too long anyway: a one-line error, nothing stored --------------------------------------


@pytest.fixture
async def slack() -> Any:
    async with FakeSlack() as api:
        yield api


async def test_slack_long_proposal_summary_full_text_and_crafted_overflow(
    db_url: str, slack: FakeSlack, tmp_path: Path
) -> None:
    async with SlackWorkspace(db_url, slack) as ws:
        setup(ws, tmp_path)
        anne, lars = by_name(ws, "Anne Hansen"), by_name(ws, "Lars Pedersen")
        assert (await ws.command(command(anne, "forslag"))).status == 200
        await ws.drain()
        opened = slack.calls_to("views.open")[-1]
        blocks = {b["block_id"]: b for b in opened.view()["blocks"] if b["type"] == "input"}
        assert blocks["title"]["element"]["max_length"] == 200
        assert "Højst 200 tegn." in blocks["title"]["hint"]["text"]
        assert "Højst 3.000 tegn." in blocks["issue"]["hint"]["text"]

        # A crafted submission over the limit: an error on the field, no proposal.
        values: dict[str, Any] = {
            "title": "T" * 201,
            "issue": LONG_ISSUE,
            "why": "Det går ud over arbejdsmiljøet",
            "identity": choice("named"),
        }
        refused = await ws.interact(submission(anne, opened, values))
        assert refused.status == 200
        answer = json.loads(refused.text)
        assert answer["response_action"] == "errors"
        assert "201 tegn" in answer["errors"]["title"] and "200" in answer["errors"]["title"]
        with ws.bot.db.session() as s:
            assert s.scalars(select(Proposal)).all() == []

        values["title"] = "Overlevering mellem vagterne"
        sent = await ws.interact(submission(anne, opened, values))
        assert sent.status == 200 and not sent.text, sent.text
        await ws.drain()
        await ws.deliver()
        with ws.bot.db.session() as s:
            stored = s.scalars(select(Proposal)).one()
            assert stored.issue == LONG_ISSUE  # whole, not cut

        [post] = posts_to(slack, NORD_CHANNEL, "Overlevering mellem vagterne")
        shown = _texts(post.blocks())
        assert len(shown) < SUMMARY_CHARS + 50 and "…" in shown
        assert "SLUTNINGEN-AF-TEKSTEN" not in json.dumps(post.args, ensure_ascii=False)
        [full] = [b for b in buttons(post.blocks()) if b["text"]["text"] == DA("forms.show_full")]

        slack.clear()
        assert (await ws.interact(click(lars, post, full, "hjemmeplejen-nord"))).status == 200
        await ws.drain()
        [private] = slack.calls_to("chat.postEphemeral")
        assert private.args["user"] == f"U{lars.id:06d}"
        assert "SLUTNINGEN-AF-TEKSTEN" in json.dumps(private.args, ensure_ascii=False)
        assert not [
            c for c in slack.calls_to("chat.postMessage") if c.args["channel"] == NORD_CHANNEL
        ]


@pytest.fixture
def connector() -> Iterator[FakeBotConnector]:
    fake = FakeBotConnector().start()
    yield fake
    fake.stop()


CHANNEL = "19:team-social@thread.tacv2"


def _member(teams: TeamsBot, name: str) -> Member:
    with teams.bot.db.session() as s:
        found = s.scalars(select(Member).where(Member.name == name)).one()
        s.expunge(found)
        return found


async def test_teams_long_proposal_limits_refusal_summary_and_full_text(
    sqlite_url: str, connector: FakeBotConnector
) -> None:
    assert cli(sqlite_url, "demo", "--no-history")[0] == 0
    async with running(teams_settings(sqlite_url, connector), connector) as teams:
        for name, (teams_id, aad, _) in PEOPLE.items():
            person = _member(teams, name)
            connector.members[teams_id] = {
                "id": teams_id,
                "aadObjectId": aad,
                "email": person.email,
            }
            install = as_person(fixture("installation_update_personal", connector), name)
            assert (await teams.post(install)).status == 200
        inger = _member(teams, "Inger Holm")
        with teams.bot.db.session() as s:
            # Inger's own unit: where her proposal is posted.
            unit = s.scalars(
                select(Unit)
                .join(Membership, Membership.unit_id == Unit.id)
                .where(Membership.member_id == inger.id)
                .order_by(Unit.id)
            ).first()
            assert unit is not None
            unit.teams_channel_id = CHANNEL
            s.commit()
        assert (await teams.post(fixture("conversation_update_team", connector))).ok

        connector.calls.clear()
        message = as_person(fixture("message_personal", connector, id="m-long-1"), "Inger Holm")
        message["text"] = "forslag"
        assert (await teams.post(message)).status == 200
        cards = [c.body for c in connector.activities("send")]
        inputs = [
            e
            for body in cards
            for att in body.get("attachments") or []
            for e in att["content"]["body"]
            if e.get("type") == "Input.Text"
        ]
        title = next(e for e in inputs if e["id"] == "title")
        assert title["maxLength"] == 200 and "(højst 200 tegn)" in title["label"]

        # A crafted invoke with a 3,001-character text: a one-line refusal, nothing stored.
        invoke = as_person(fixture("form_submit_invoke", connector, id="f-long-1"), "Inger Holm")
        invoke["value"]["action"]["data"] = {
            "medpuls_form": ProposeForm().pack(),
            "title": "Overlevering",
            "issue": "x" * 3001,
            "why": "Fordi",
            "identity": "named",
        }
        refused = await teams.post(invoke)
        assert refused.status == 200
        assert "3.001 tegn" in await refused.text()
        with teams.bot.db.session() as s:
            assert s.scalars(select(Proposal)).all() == []

        invoke = as_person(fixture("form_submit_invoke", connector, id="f-long-2"), "Inger Holm")
        invoke["value"]["action"]["data"] = {
            "medpuls_form": ProposeForm().pack(),
            "title": "Overlevering mellem vagterne",
            "issue": LONG_ISSUE,
            "why": "Fordi",
            "identity": "named",
        }
        assert (await teams.post(invoke)).status == 200
        connector.calls.clear()
        await teams.deliver()
        posts = [
            c for c in connector.activities("send") if CHANNEL in json.dumps(c.path + str(c.body))
        ]
        posted = [c for c in posts if "Overlevering mellem vagterne" in json.dumps(c.body)]
        assert posted, [c.path for c in connector.activities("send")]
        text = json.dumps(posted[0].body, ensure_ascii=False)
        assert "SLUTNINGEN-AF-TEKSTEN" not in text and DA("forms.show_full") in text
        [full] = {a for a in actions_in(posted[0].body) if a.startswith("agenda:full|")}

        connector.calls.clear()
        click = as_person(fixture("invoke_card_action", connector, id="f-long-3"), "Bo Dahl")
        click["value"]["action"]["data"] = {"medpuls": full}
        assert (await teams.post(click)).status == 200
        bo_chat = PEOPLE["Bo Dahl"][2]
        private = [c for c in connector.activities("send") if bo_chat in c.path]
        assert private and "SLUTNINGEN-AF-TEKSTEN" in json.dumps(private[0].body)
        assert not [c for c in connector.activities("send") if CHANNEL in c.path]


async def test_local_chat_long_proposal_summary_and_full_text(db_url: str) -> None:
    assert cli(db_url, "demo", "--no-history")[0] == 0
    async with fake_chat(db_url) as chat:
        with chat.bot.db.session() as s:
            anne = s.scalars(select(Member).where(Member.name == "Anne Hansen")).one()
            anne_id = anne.id
        refused = await chat.submit(
            anne_id,
            ProposeForm().pack(),
            {"title": "T" * 201, "issue": "Hvad", "why": "Fordi", "identity": "named"},
        )
        assert "201 tegn" in refused.errors["title"]
        with chat.bot.db.session() as s:
            assert s.scalars(select(Proposal)).all() == []
        done = await chat.submit(
            anne_id,
            ProposeForm().pack(),
            {"title": "Overlevering", "issue": LONG_ISSUE, "why": "Fordi", "identity": "named"},
        )
        assert not done.errors, done
        await chat.deliver()
        with chat.bot.db.session() as s:
            proposal = s.scalars(select(Proposal)).one()
            unit_id = proposal.committee.unit_id
        channels = []
        with chat.bot.db.session() as s:
            for ms in s.scalars(select(Member).where(Member.id == anne_id)).one().memberships:
                channels.append(f"unit:{ms.unit_id}")
        assert unit_id
        posts = [m for c in channels for m in await chat.messages(anne_id, c)]
        text = " ".join(m.raw for m in posts)
        assert "Overlevering" in text and "SLUTNINGEN-AF-TEKSTEN" not in text
        [full] = {a for m in posts for a in m.actions if a.startswith("agenda:full|")}
        shown = await chat.click(anne_id, full, conversation=channels[0])
        assert shown.notice is not None and "SLUTNINGEN-AF-TEKSTEN" in shown.notice.text


def test_a_form_submitted_through_the_core_is_refused_the_same_way(sqlite_url: str) -> None:
    """The check sits in the router: no adapter and no flow can skip it."""
    from bot.app.wiring import build
    from bot.core.config import Settings

    assert cli(sqlite_url, "demo", "--no-history")[0] == 0
    bot = build(Settings(DATABASE_URL=sqlite_url, MEDPULS_LOCAL_CHAT=True))
    try:
        with bot.db.session() as s:
            member_id = s.scalars(select(Member.id).order_by(Member.id)).first()
        reply = bot.core.handle_sync(
            FormSubmitted(
                actor=Actor("local", str(member_id)),
                conversation=Conversation("local", f"member:{member_id}"),
                data=ProposeForm().pack(),
                values={"title": "Kort", "issue": "i", "why": "w" * 3001, "identity": "named"},
            )
        )
        assert list(reply.errors) == ["why"]
        assert reply.errors["why"].count("\n") == 0 and "3.001" in reply.errors["why"]
    finally:
        bot.db.dispose()


def test_a_published_agenda_summarises_a_long_background() -> None:
    """The agenda goes to every unit's channel: a long proposal's background is summarised
    there too, with the same button."""
    from flows.agenda.export import AgendaDocument, AgendaItem, agenda_message

    doc = AgendaDocument(
        title="Dagsorden",
        committee="MED Social og Sundhed",
        facts=[],
        status="Udsendt",
        items=[
            AgendaItem(1, "Kort", background=[("Hvad", "Kort sag")], proposal_id=1),
            AgendaItem(2, "Langt", background=[("Hvad", LONG_ISSUE)], proposal_id=2),
        ],
        decision_placeholder="",
        show_full=DA("forms.show_full"),
    )
    message = agenda_message(doc)
    dumped = message.model_dump_json()
    assert "SLUTNINGEN-AF-TEKSTEN" not in dumped and "Kort sag" in dumped
    shown = [b.data for p in message.parts if isinstance(p, Buttons) for b in p.buttons]
    assert shown == ['agenda:full|{"p":2}']

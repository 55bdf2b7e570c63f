"""Issue 18, point 1: a committee question written in chat joins the rotation only when one
person from each side has approved that very text."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.app.wiring import Bot
from bot.core.events import Actor, ButtonClicked, Conversation, FormSubmitted
from bot.core.messages import Reply
from flows.custom_questions import QuestionApprove, QuestionReject, QuestionsForm
from storage.models import Approval, Committee, Question
from tests.test_governance_bypass import (
    SOCIAL,
    _text,
    give_roles,
    member_id,
    outbox,
    shown,
)
from tests.worlds import demo_bot

bot = pytest.fixture(demo_bot, name="bot")


def submit(bot: Bot, name: str, values: dict[str, str]) -> Reply:
    who = str(member_id(bot, name))
    return bot.core.handle_sync(
        FormSubmitted(
            actor=Actor("local", who),
            conversation=Conversation("local", f"member:{who}"),
            data=QuestionsForm().pack(),
            values=values,
        )
    )


def click(bot: Bot, name: str, data: str) -> str:
    who = str(member_id(bot, name))
    return _text(
        bot.core.handle_sync(ButtonClicked(actor=Actor("local", who), conversation=None, data=data))
    )


def add_question(bot: Bot, name: str, slug: str = "tryghed") -> str:
    with bot.db.session() as s:
        committee = s.scalars(select(Committee).where(Committee.name == "MED Social og Sundhed"))
        committee_id = committee.one().id
    reply = submit(
        bot,
        name,
        {
            "committee": str(committee_id),
            "name": slug,
            "da": "Jeg føler mig tryg på arbejdet.",
            "en": "I feel safe at work.",
            "low_da": "Slet ikke",
            "high_da": "I meget høj grad",
            "low_en": "Not at all",
            "high_en": "To a very high degree",
        },
    )
    assert not reply.errors, reply.errors
    return _text(reply)


def active(bot: Bot, qid: str) -> bool | None:
    with bot.db.session() as s:
        q = s.get(Question, qid)
        return None if q is None else q.active


def test_a_question_from_one_side_waits_for_the_other(bot: Bot) -> None:
    said = add_question(bot, "Inger Holm")
    assert "når en fra den anden side" in said
    assert active(bot, "custom.tryghed") is False
    [ask] = outbox(bot, "questions.approval")
    assert ask.address == str(member_id(bot, "Bo Dahl"))
    _, (approve, reject) = shown(ask)
    assert "Jeg føler mig tryg på arbejdet." in str(ask.payload)
    assert approve.startswith(QuestionApprove.kind) and reject.startswith(QuestionReject.kind)
    # The author cannot be the second signature; an outsider cannot sign at all.
    assert "ikke dig" in click(bot, "Inger Holm", approve)
    assert "ikke dig" in click(bot, "Mette Nielsen", approve)
    assert active(bot, "custom.tryghed") is False
    # A button altered to another text approves nothing.
    forged = QuestionApprove(q="custom.tryghed", h="0" * 16).pack()
    assert "afgjort" in click(bot, "Bo Dahl", forged)
    assert active(bot, "custom.tryghed") is False
    assert "rotationen" in click(bot, "Bo Dahl", approve)
    assert active(bot, "custom.tryghed") is True
    with bot.db.session() as s:
        sides = sorted(a.side for a in s.scalars(select(Approval)))
    assert sides == ["employee", "management"]
    [told] = outbox(bot, "questions.outcome")
    assert told.address == str(member_id(bot, "Inger Holm"))


def test_the_other_side_may_reject_and_the_question_is_gone(bot: Bot) -> None:
    add_question(bot, "Bo Dahl")
    [ask] = outbox(bot, "questions.approval")
    assert ask.address == str(member_id(bot, "Inger Holm"))
    assert "Afvist" in click(bot, "Inger Holm", shown(ask)[1][1])
    assert active(bot, "custom.tryghed") is None
    assert "afgjort" in click(bot, "Inger Holm", shown(ask)[1][0])
    # The same question again starts afresh: Inger's earlier click counts for nothing.
    add_question(bot, "Bo Dahl")
    assert active(bot, "custom.tryghed") is False
    _, again = outbox(bot, "questions.approval")
    assert again.address == str(member_id(bot, "Inger Holm"))
    assert "rotationen" in click(bot, "Inger Holm", shown(again)[1][0])
    assert active(bot, "custom.tryghed") is True


def test_one_person_holding_both_chairs_cannot_add_a_question_alone(bot: Bot) -> None:
    give_roles(bot, "Inger Holm", SOCIAL, "leader;chair;vice_chair")
    give_roles(bot, "Bo Dahl", SOCIAL, "member")
    # She signs once, for one side; nobody else holds the other, so nothing is saved.
    assert "mangler" in add_question(bot, "Inger Holm")
    assert active(bot, "custom.tryghed") is None
    assert outbox(bot, "questions.approval") == []

"""Joint governance of the anonymity thresholds, driven through the real core and CLI."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.app.wiring import Bot
from bot.core.events import Actor, ButtonClicked, CommandInvoked, Conversation
from bot.core.messages import Buttons, Message, Reply
from flows.governance import ThresholdApprove, ThresholdReject
from storage.models import (
    Approval,
    AuditEntry,
    Committee,
    Member,
    OutboxMessage,
    PulseRound,
    ThresholdChange,
    Unit,
)
from tests.cli import cli
from tests.worlds import demo_bot

bot = pytest.fixture(demo_bot, name="bot")

TOP = "Eksempel Kommune"
SOCIAL = f"{TOP}/Social og Sundhed"
NORD = f"{SOCIAL}/Hjemmeplejen Nord"


def member_id(bot: Bot, name: str) -> int:
    with bot.db.session() as s:
        return s.scalars(select(Member.id).where(Member.name == name)).one()


def say(bot: Bot, name: str, text: str) -> str:
    who = str(member_id(bot, name))
    reply = bot.core.handle_sync(
        CommandInvoked(
            actor=Actor("local", who),
            conversation=Conversation("local", f"member:{who}"),
            text=text,
        )
    )
    return _text(reply)


def click(bot: Bot, name: str, data: str) -> str:
    who = str(member_id(bot, name))
    reply = bot.core.handle_sync(
        ButtonClicked(actor=Actor("local", who), conversation=None, data=data)
    )
    return _text(reply)


def _text(reply: Reply) -> str:
    message = reply.notice or reply.update
    assert message is not None
    return " ".join([message.summary, *(getattr(p, "text", "") for p in message.parts)])


def committee(bot: Bot, name: str = "MED Social og Sundhed") -> Committee:
    with bot.db.session() as s:
        return s.scalars(select(Committee).where(Committee.name == name)).one()


def outbox(bot: Bot, purpose: str) -> list[OutboxMessage]:
    with bot.db.session() as s:
        return list(
            s.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.purpose == purpose)
                .order_by(OutboxMessage.id)
            )
        )


def buttons_of(row: OutboxMessage) -> list[str]:
    message = Message.model_validate(row.payload)
    return [b.data for p in message.parts if isinstance(p, Buttons) for b in p.buttons]


def round_threshold(bot: Bot, path: str, *, open_: bool) -> int:
    with bot.db.session() as s:
        unit = s.scalars(select(Unit).where(Unit.path == path)).one()
        r = s.scalars(
            select(PulseRound)
            .where(PulseRound.unit_id == unit.id, PulseRound.closed_at.is_(None) == open_)
            .order_by(PulseRound.id.desc())
        ).first()
        assert r is not None
        return r.min_group_size


def refusals(bot: Bot, action: str) -> list[AuditEntry]:
    with bot.db.session() as s:
        return list(
            s.scalars(
                select(AuditEntry).where(AuditEntry.action == action, AuditEntry.allowed.is_(False))
            )
        )


def test_lowering_takes_both_sides_and_applies_only_to_rounds_opened_after(
    bot: Bot, db_url: str
) -> None:
    url = db_url
    # A round closed and a round open before anything changes.
    assert cli(url, "pulse", "run-now", "--unit", NORD)[0] == 0
    assert cli(url, "pulse", "close-now", "--unit", NORD)[0] == 0
    assert cli(url, "pulse", "run-now", "--unit", NORD)[0] == 0

    # Hoved-MED (Karen chair, Ole vice-chair) may lower for the whole municipality.
    said = say(bot, "Karen Lund", "grænse svar 4")
    assert "sendt til næstformanden" in said
    assert committee(bot, "Hoved-MED").min_group_size is None
    [ask] = outbox(bot, "governance.approval")
    assert ask.address == str(member_id(bot, "Ole Vestergaard"))
    approve, reject = buttons_of(ask)
    assert approve.startswith(ThresholdApprove.kind) and reject.startswith(ThresholdReject.kind)

    # One approval (the requester's own) is not enough, and clicking it again is refused.
    assert "ikke dig" in click(bot, "Karen Lund", approve)
    assert committee(bot, "Hoved-MED").min_group_size is None
    assert outbox(bot, "governance.threshold") == []

    assert "Godkendt" in click(bot, "Ole Vestergaard", approve)
    assert committee(bot, "Hoved-MED").min_group_size == 4
    with bot.db.session() as s:
        change = s.scalars(select(ThresholdChange)).one()
        assert change.effective_at and change.outcome == "in_force"
        signed = s.scalars(select(Approval).order_by(Approval.id)).all()
        assert [(a.member_id, a.side) for a in signed] == [
            (member_id(bot, "Karen Lund"), "management"),
            (member_id(bot, "Ole Vestergaard"), "employee"),
        ]

    # The round that was open keeps its threshold, and so does the closed one.
    assert round_threshold(bot, NORD, open_=True) == 5
    assert round_threshold(bot, NORD, open_=False) == 5
    assert cli(url, "pulse", "close-now", "--unit", NORD)[0] == 0
    assert cli(url, "pulse", "run-now", "--unit", NORD)[0] == 0
    assert round_threshold(bot, NORD, open_=True) == 4

    [announcement] = outbox(bot, "governance.threshold")
    with bot.db.session() as s:
        top = s.scalars(select(Unit).where(Unit.path == TOP)).one()
    assert (announcement.address_kind, announcement.address) == ("unit", str(top.id))
    assert "mindst 4 svar" in Message.model_validate(announcement.payload).summary
    # The requester hears it went through; a second click changes nothing.
    assert len(outbox(bot, "governance.outcome")) == 1
    assert "afgjort" in click(bot, "Ole Vestergaard", approve)
    assert len(outbox(bot, "governance.threshold")) == 1


def test_a_non_chair_cannot_approve_and_the_attempt_is_audited(bot: Bot) -> None:
    say(bot, "Karen Lund", "grænse kommentar 8")
    [ask] = outbox(bot, "governance.approval")
    approve, reject = buttons_of(ask)
    for outsider in ("Mette Nielsen", "Bo Dahl", "Inger Holm"):
        assert "ikke dig" in click(bot, outsider, approve)
        assert "ikke dig" in click(bot, outsider, reject)
    assert committee(bot, "Hoved-MED").min_comment_group_size is None
    assert len(refusals(bot, "threshold.approve")) == 3
    assert len(refusals(bot, "threshold.reject")) == 3


def test_never_below_the_floor(bot: Bot) -> None:
    assert "under 3" in say(bot, "Inger Holm", "grænse svar 2")
    assert "under 5" in say(bot, "Bo Dahl", "grænse kommentar 4")
    assert "under 3" in say(bot, "Inger Holm", "threshold score 0")
    with bot.db.session() as s:
        assert s.scalars(select(ThresholdChange)).all() == []
    assert outbox(bot, "governance.approval") == []


def test_raising_by_one_side_is_immediate_and_announced(bot: Bot, db_url: str) -> None:
    said = say(bot, "Bo Dahl", "grænse svar 7")
    assert "er nu 7" in said
    assert committee(bot).min_group_size == 7
    assert outbox(bot, "governance.approval") == []
    [announcement] = outbox(bot, "governance.threshold")
    assert announcement.address_kind == "unit"
    assert cli(db_url, "pulse", "run-now", "--unit", NORD)[0] == 0
    assert round_threshold(bot, NORD, open_=True) == 7
    # Back down to 6 is lowering again: that takes both.
    assert "sendt til formanden" in say(bot, "Bo Dahl", "grænse svar 6")
    assert committee(bot).min_group_size == 7


def test_rejection_leaves_the_threshold_and_tells_the_requester(bot: Bot) -> None:
    say(bot, "Karen Lund", "grænse svar 4")
    [ask] = outbox(bot, "governance.approval")
    _, reject = buttons_of(ask)
    assert "Afvist" in click(bot, "Ole Vestergaard", reject)
    assert committee(bot, "Hoved-MED").min_group_size is None
    [told] = outbox(bot, "governance.outcome")
    assert told.address == str(member_id(bot, "Karen Lund"))
    with bot.db.session() as s:
        # Kept as rejected, so its id is never handed to a later request.
        assert [c.outcome for c in s.scalars(select(ThresholdChange))] == ["rejected"]


def test_only_chair_and_vice_chair_may_ask_and_that_is_audited(bot: Bot) -> None:
    assert "Kun formand og næstformand" in say(bot, "Mette Nielsen", "grænse svar 4")
    assert len(refusals(bot, "threshold.request")) == 1
    # Karen chairs Hoved-MED: a request is hers to make there, and Ole approves it.
    assert "næstformanden" in say(bot, "Karen Lund", "grænse svar 4")
    [ask] = outbox(bot, "governance.approval")
    assert ask.address == str(member_id(bot, "Ole Vestergaard"))


def test_usage_and_current_thresholds(bot: Bot) -> None:
    text = say(bot, "Inger Holm", "grænse")
    assert "MED Social og Sundhed: tal vises for grupper på mindst 5" in text
    assert "grænse svar 6" in say(bot, "Inger Holm", "grænse svar mange")

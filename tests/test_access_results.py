"""Who sees which results: the results command in the local web chat, its audit, the audit log."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.app.wiring import build
from bot.core.config import Settings
from flows.access import can_view_results
from flows.pulse import answers_key, record_answer
from storage.models import AuditEntry, Member, Participation, PulseRound, Unit
from tests.cli import cli
from tests.fake_platform import fake_chat

TOP = "Eksempel Kommune"
SOCIAL = f"{TOP}/Social og Sundhed"
NORD = f"{SOCIAL}/Hjemmeplejen Nord"
SYD = f"{SOCIAL}/Hjemmeplejen Syd"


def answer_open_rounds(db_url: str, answers: dict[str, list[int]]) -> None:
    """The first n asked in each unit's open round answer every question with these values."""
    bot = build(Settings(DATABASE_URL=db_url))
    with bot.db.session() as s:
        for path, values in answers.items():
            unit = s.scalars(select(Unit).where(Unit.path == path)).one()
            r = s.scalars(
                select(PulseRound).where(
                    PulseRound.unit_id == unit.id, PulseRound.closed_at.is_(None)
                )
            ).one()
            asked = s.scalars(
                select(Participation)
                .where(Participation.round_id == r.id)
                .order_by(Participation.member_id)
            ).all()
            for participation, value in zip(asked, values, strict=False):
                for rq in r.questions:
                    record_answer(
                        s, r, participation, rq.question_id, value, key=answers_key(Settings())
                    )
    bot.db.dispose()


def closed_round(db_url: str, answers: dict[str, list[int]]) -> None:
    assert cli(db_url, "pulse", "run-now", "--unit", SOCIAL)[0] == 0
    answer_open_rounds(db_url, answers)
    assert cli(db_url, "pulse", "close-now", "--unit", SOCIAL)[0] == 0


def ids(session: Session, *names: str) -> list[int]:
    return [session.scalars(select(Member.id).where(Member.name == n)).one() for n in names]


async def test_a_leader_asking_outside_their_subtree_is_refused_and_audited(db_url: str) -> None:
    assert cli(db_url, "demo", "--no-history")[0] == 0
    closed_round(db_url, {NORD: [4, 4, 5, 3, 4, 2], SYD: [3, 3, 4, 4, 5, 5]})
    async with fake_chat(db_url) as chat:
        with chat.bot.db.session() as s:
            [mette] = ids(s, "Mette Nielsen")
            syd = s.scalars(select(Unit).where(Unit.name == "Hjemmeplejen Syd")).one()
        reply = await chat.say(mette, "resultater Hjemmeplejen Syd")
        refused = reply.notice.text
        assert "ikke adgang" in refused and "revisionsloggen" in refused
        assert not re.search(r"\d+ svar", refused)

        reply = await chat.say(mette, f"results {NORD}")
        own = reply.notice.text
        assert "Resultater for Hjemmeplejen Nord" in own
        assert "6 svarede" in own and "6 svar" in own

        with chat.bot.db.session() as s:
            entries = s.scalars(
                select(AuditEntry).where(AuditEntry.actor_id == mette).order_by(AuditEntry.id)
            ).all()
            assert [(e.action, e.subject, e.allowed) for e in entries] == [
                ("results.view", f"unit:{syd.id}", False),
                ("results.view", entries[1].subject, True),
            ]

    code, out = cli(db_url, "audit", "list", "--limit", "5")
    assert code == 0
    assert re.search(rf"Mette Nielsen \(#{mette}\)\tresults.view\tunit:{syd.id}\tREFUSED", out)


async def test_the_gate_withholds_what_would_give_a_small_group_away(db_url: str) -> None:
    assert cli(db_url, "demo", "--no-history")[0] == 0
    # Nord 6, Syd 6, and one of the two in Social og Sundhed itself: 13 in all.
    closed_round(db_url, {NORD: [4] * 6, SYD: [2] * 6, SOCIAL: [5]})
    async with fake_chat(db_url) as chat:
        with chat.bot.db.session() as s:
            [inger] = ids(s, "Inger Holm")
        text = (await chat.say(inger, "resultater Social og Sundhed")).notice.text
    # Nord's and Syd's summaries already showed 6 each; 13 next to them would show the 1.
    assert "13" not in text
    # The same words for both reasons, and where the answers count (issue 17).
    assert re.search(r"Der vises ingen tal for\s+Social og Sundhed\s+alene", text)
    assert "4,0 af 5 · 6 svar" in text and "2,0 af 5 · 6 svar" in text
    assert "5,0" not in text


async def test_the_audit_log_is_for_admins_and_shows_no_answers(db_url: str) -> None:
    assert cli(db_url, "demo", "--no-history")[0] == 0
    closed_round(db_url, {NORD: [1, 2, 3, 4, 5]})
    async with fake_chat(db_url) as chat:
        with chat.bot.db.session() as s:
            mette, karen = ids(s, "Mette Nielsen", "Karen Lund")
        await chat.say(mette, "resultater Hjemmeplejen Syd")
        refused = (await chat.say(mette, "revision")).notice.text
        assert "Kun administratorer" in refused
        log = (await chat.say(karen, "audit")).notice.text
    assert "Mette Nielsen" in log and "results.view" in log and "afvist" in log
    assert "audit.view" in log
    assert "3,0" not in log
    code, out = cli(db_url, "audit", "list", "--since", "2000-01-01")
    assert code == 0 and out.count("audit.view") == 2 and out.count("REFUSED") == 2
    assert cli(db_url, "audit", "list", "--since", "yesterday")[0] == 2


def test_who_may_see_which_units(db_url: str) -> None:
    assert cli(db_url, "demo", "--no-history")[0] == 0
    bot = build(Settings(DATABASE_URL=db_url))
    with bot.db.session() as s:
        units = {u.name: u for u in s.scalars(select(Unit))}
        members = {m.name: m for m in s.scalars(select(Member))}

        def sees(name: str) -> set[str]:
            return {u for u, unit in units.items() if can_view_results(s, members[name], unit)}

        social_tree = {"Social og Sundhed", "Hjemmeplejen Nord", "Hjemmeplejen Syd"}
        assert sees("Mette Nielsen") == {"Hjemmeplejen Nord"}  # leader of a leaf unit
        assert sees("Inger Holm") == social_tree  # leader and chair of Social og Sundhed
        assert sees("Bo Dahl") == social_tree  # vice-chair of its committee
        assert sees("Søren Jensen") == set()  # a member sees no unit's results
        assert sees("Karen Lund") == set(units)  # admin and top leader: all, through the gate
        assert sees("Maria Mortensen") == {"Dagtilbud Solsikken"}
        assert not can_view_results(s, None, units["Hjemmeplejen Nord"])
    bot.db.dispose()

"""GDPR export and erasure through the real CLI, on SQLite and PostgreSQL."""

from __future__ import annotations

import json

from sqlalchemy import func, select

from bot.app.wiring import build
from bot.core.config import Settings
from flows.pulse import answers_key, record_answer
from storage.models import (
    Answer,
    AuditEntry,
    Committee,
    ConversationReference,
    Member,
    Membership,
    Participation,
    Proposal,
    PulseRound,
    RoundResult,
    Support,
    Unit,
    utcnow,
)
from tests.cli import cli

NORD = "Eksempel Kommune/Social og Sundhed/Hjemmeplejen Nord"
EMAIL = "mette.nielsen@eksempel.dk"
COMMENT = "Vi mangler tid til at tale sammen om borgerne"


def _prepare(db_url: str) -> tuple[int, int]:
    """Mette is asked twice and answers once with a comment; she proposes and supports."""
    assert cli(db_url, "demo", "--no-history")[0] == 0
    assert cli(db_url, "pulse", "run-now", "--unit", NORD)[0] == 0
    bot = build(Settings(DATABASE_URL=db_url))
    with bot.db.session() as s:
        mette = s.scalars(select(Member).where(Member.email == EMAIL)).one()
        mette.slack_user_id = "U0METTE"
        r = s.scalars(select(PulseRound)).one()
        for p in s.scalars(select(Participation).where(Participation.round_id == r.id)):
            for rq in r.questions:
                record_answer(s, r, p, rq.question_id, 4, key=answers_key(Settings()))
        s.flush()
        s.scalars(select(Answer)).first().comment = COMMENT  # type: ignore[union-attr]
        committee = s.scalars(select(Committee).where(Committee.name == "Hoved-MED")).one()
        mine = Proposal(
            committee_id=committee.id,
            proposer_id=mette.id,
            title="Flere fælles møder",
            issue="Vi ses for sjældent",
            why="Koordinering",
        )
        other = Proposal(committee_id=committee.id, title="Nye cykler", issue="De gamle er slidte")
        s.add_all([mine, other])
        s.flush()
        s.add(Support(proposal_id=other.id, member_id=mette.id))
        s.add(ConversationReference(platform="slack", key="user:U0METTE", reference={"c": "D1"}))
        s.add(ConversationReference(platform="teams", key=f"member:{mette.id}", reference={}))
        s.add(ConversationReference(platform="teams", key="member:999", reference={}))
        s.add(AuditEntry(at=utcnow(), actor_id=mette.id, action="results.view", subject="unit:3"))
        mette_id, mine_id = mette.id, mine.id
    bot.db.dispose()
    assert cli(db_url, "pulse", "close-now", "--unit", NORD)[0] == 0
    assert cli(db_url, "pulse", "run-now", "--unit", NORD)[0] == 0
    return mette_id, mine_id


def test_export_prints_everything_stored_about_a_person_but_no_answers(db_url: str) -> None:
    mette_id, proposal_id = _prepare(db_url)
    code, out = cli(db_url, "gdpr", "export", "--email", "Mette.Nielsen@eksempel.dk")
    assert code == 0, out
    data = json.loads(out)
    assert data["identity"]["name"] == "Mette Nielsen"
    assert data["identity"]["email"] == EMAIL
    assert data["identity"]["slack_user_id"] == "U0METTE"
    assert data["units"] == [
        {"unit": NORD, "roles": ["leader"], "since": data["units"][0]["since"]}
    ]
    assert [(p["answered"], p["closed_at"] is None) for p in data["participation"]] == [
        (True, False),
        (False, True),
    ]
    assert [p["id"] for p in data["proposals"]] == [proposal_id]
    assert [p["title"] for p in data["supported_proposals"]] == ["Nye cykler"]
    assert [a["action"] for a in data["audit_log"]] == ["results.view"]
    assert sorted(r["key"] for r in data["conversation_references"]) == [
        f"member:{mette_id}",
        "user:U0METTE",
    ]
    # Answers are not linked to her: neither values nor the comment appear.
    assert COMMENT not in out
    assert "value" not in json.dumps(data["participation"])
    assert isinstance(data["answers"], str)


def test_erase_removes_the_identity_and_keeps_anonymous_data(db_url: str) -> None:
    mette_id, proposal_id = _prepare(db_url)
    bot = build(Settings(DATABASE_URL=db_url))
    with bot.db.session() as s:
        answers_before = s.scalar(select(func.count()).select_from(Answer))
        results_before = s.scalar(select(func.count()).select_from(RoundResult))
    code, out = cli(db_url, "gdpr", "erase", "--email", EMAIL)
    assert code == 0, out
    assert f"member {mette_id} erased" in out
    with bot.db.session() as s:
        mette = s.get(Member, mette_id)
        assert mette is not None and mette.erased
        assert (mette.name, mette.email, mette.slack_user_id, mette.teams_user_id) == (
            "—",
            None,
            None,
            None,
        )
        assert s.scalars(select(Membership).where(Membership.member_id == mette_id)).all() == []
        keys = set(s.scalars(select(ConversationReference.key)))
        assert keys == {"member:999"}
        proposal = s.get(Proposal, proposal_id)
        assert proposal is not None
        assert proposal.proposer_id is None and proposal.anonymous
        assert proposal.title == "Flere fælles møder"
        assert s.scalar(select(func.count()).select_from(Answer)) == answers_before
        assert s.scalar(select(func.count()).select_from(RoundResult)) == results_before
        nord = s.scalars(select(Unit).where(Unit.path == NORD)).one()
        assert mette_id not in {
            m
            for (m,) in s.execute(select(Membership.member_id).where(Membership.unit_id == nord.id))
        }
        assert s.scalars(select(AuditEntry).where(AuditEntry.action == "gdpr.erase")).one()
    bot.db.dispose()
    code, out = cli(db_url, "gdpr", "export", "--email", EMAIL)
    assert code == 2 and out.strip() == f"error: no member with e-mail {EMAIL!r}"
    assert cli(db_url, "gdpr", "erase", "--email", EMAIL)[0] == 2


def test_unknown_email_is_one_line_and_exit_2(db_url: str) -> None:
    code, out = cli(db_url, "gdpr", "export", "--email", "nobody@example.dk")
    assert code == 2
    assert out.strip() == "error: no member with e-mail 'nobody@example.dk'"
    assert "Traceback" not in out

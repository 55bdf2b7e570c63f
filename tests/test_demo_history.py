"""`medpuls demo` lives through sixteen weeks, the chart's twelve and four before (issue 17,
point 6): closed rounds made by the pulse flow itself, summaries and ledger entries as real rounds
get them, a meeting held and one to come, and a digest for every leader; run twice, it adds
nothing."""

from __future__ import annotations

import re
from collections import defaultdict

from sqlalchemy import func, select

from storage.db import Database
from storage.models import (
    Answer,
    Meeting,
    Member,
    OutboxMessage,
    Participation,
    Proposal,
    Publication,
    PulseRound,
    RoundResult,
    StoredImage,
    Unit,
)
from tests.cli import cli

SOCIAL = "Eksempel Kommune/Social og Sundhed"


def _counts(db: Database) -> dict[str, int]:
    with db.session() as session:
        return {
            table.__name__: int(session.scalar(select(func.count()).select_from(table)) or 0)
            for table in (PulseRound, Answer, Proposal, Meeting, OutboxMessage, Publication)
        }


def test_the_demo_lives_through_sixteen_weeks_once(db_url: str) -> None:
    """One demo per database (it takes a while): each aspect is checked on it in turn."""
    code, out = cli(db_url, "demo")
    assert code == 0, out
    assert "16 weeks of history: 64 closed rounds" in out
    db = Database(db_url)
    _closed_rounds_made_by_the_pulse_flow(db)
    _nord_is_clearly_falling_on_being_heard(db)
    _the_committee_held_a_meeting_and_has_one_to_come(db)
    _every_leader_has_a_digest_and_its_images_are_stored(db)
    _nobody_is_counted_as_having_read_rules_never_sent(db)
    # Run again: nothing is added.
    before = _counts(db)
    code, out = cli(db_url, "demo")
    assert code == 0 and "already has units" in out
    assert _counts(db) == before
    db.dispose()


def _closed_rounds_made_by_the_pulse_flow(db: Database) -> None:
    with db.session() as session:
        rounds = session.scalars(select(PulseRound).order_by(PulseRound.opened_at)).all()
        assert len(rounds) == 64 and all(r.closed_at is not None for r in rounds)
        # Closed as close_round closes: nonce gone, answers re-keyed at random. (The files'
        # scrub follows; on a busy PostgreSQL it may wait for the scheduler's next tick.)
        assert all(r.nonce is None for r in rounds)
        assert len({r.period for r in rounds}) == 16
        # Every round's summary went to its unit's channel, decided through the ledger.
        summaries = session.scalar(
            select(func.count()).where(OutboxMessage.purpose == "pulse.summary")
        )
        assert summaries == 64
        assert (session.scalar(select(func.count()).select_from(Publication)) or 0) > 0
        # Nobody is linked to an answer: who answered lives only in participation.
        answered = session.scalar(select(func.count()).where(Participation.answered.is_(True)))
        assert answered and answered >= 64 * 2
        # Syd (eight people) and the night team (three) never have five answers: their
        # figures are only ever pooled.
        by_unit: dict[str, list[int]] = defaultdict(list)
        for name, n in session.execute(
            select(Unit.name, func.count())
            .join(PulseRound, PulseRound.unit_id == Unit.id)
            .join(Participation, Participation.round_id == PulseRound.id)
            .where(Participation.answered.is_(True))
            .group_by(PulseRound.id, Unit.name)
        ):
            by_unit[name].append(int(n))
        assert max(by_unit["Hjemmeplejen Syd"]) < 5 and max(by_unit["Hjemmeplejen Nat"]) < 5
        assert min(by_unit["Hjemmeplejen Nord"]) >= 5
    db.dispose()


def _nord_is_clearly_falling_on_being_heard(db: Database) -> None:
    with db.session() as session:
        rows = session.execute(
            select(RoundResult.respondents, RoundResult.value_sum)
            .join(PulseRound, PulseRound.id == RoundResult.round_id)
            .join(Unit, Unit.id == PulseRound.unit_id)
            .where(Unit.name == "Hjemmeplejen Nord", RoundResult.dimension == "justice_voice")
            .order_by(PulseRound.opened_at)
        ).all()
    means = [value_sum / n for n, value_sum in rows]
    assert len(means) >= 2
    # Measured every sixth week: at least ten weeks apart, a fall of over half a step on 1-5.
    assert means[0] - means[-1] >= 0.5, means


def _the_committee_held_a_meeting_and_has_one_to_come(db: Database) -> None:
    with db.session() as session:
        meetings = session.scalars(select(Meeting).order_by(Meeting.starts_at)).all()
        held = [m for m in meetings if m.committee.name == "MED Social og Sundhed"]
        assert len(held) == 2
        past, coming = held
        # Both chairs approved the agenda, so it went out at its release time.
        assert past.published_at is not None and coming.published_at is None
        statuses = sorted(p.status for p in session.scalars(select(Proposal)))
        assert statuses == ["decided", "decided", "new", "on_agenda"]
        decided = session.scalars(select(Proposal).where(Proposal.meeting_id == past.id)).all()
        assert len(decided) == 2 and all(p.decision for p in decided)
    db.dispose()


def _every_leader_has_a_digest_and_its_images_are_stored(db: Database) -> None:
    with db.session() as session:
        digests = session.scalars(
            select(OutboxMessage).where(OutboxMessage.purpose == "digest.leader")
        ).all()
        assert len(digests) == 6
        charts = [
            part["image_id"]
            for row in digests
            for part in (row.payload or {})["parts"]
            if part["type"] == "image"
        ]
        assert charts
        for image_id in charts:
            assert session.get(StoredImage, image_id) is not None
        # The top leader's digest: a chart whose every line has a point in most of the 12
        # weeks (counted in its alt text), and the heat map of the units below.
        top = next(
            row.payload
            for row in digests
            if row.payload and row.payload["parts"][0]["text"].endswith("Eksempel Kommune")
        )
        alts = [p["alt"] for p in top["parts"] if p["type"] == "image"]
        chart = next(a for a in alts if a.startswith("Graf over 12 uger"))
        points = [int(n) for n in re.findall(r"(\d+) punkter?,", chart)]
        assert len(points) == 3 and min(points) >= 8, chart
        assert any(a.startswith("Varmekort") for a in alts)


def _nobody_is_counted_as_having_read_rules_never_sent(db: Database) -> None:
    # The past rounds' DMs are never delivered: the first question a member gets must still
    # carry the rules in full, unless a privacy notice is on its way to them.
    with db.session() as session:
        noticed = {
            int(a)
            for a in session.scalars(
                select(OutboxMessage.address).where(OutboxMessage.purpose == "privacy")
            )
        }
        marked = set(session.scalars(select(Member.id).where(Member.seen_privacy_notice)))
        assert marked <= noticed
        asked = session.scalar(select(func.count()).select_from(Member))
        assert asked and len(marked) < asked


def test_without_history_the_demo_is_only_the_organisation(db_url: str) -> None:
    code, out = cli(db_url, "demo", "--no-history")
    assert code == 0 and out.strip() == "demo municipality loaded"
    db = Database(db_url)
    counts = _counts(db)
    db.dispose()
    assert counts["PulseRound"] == 0 and counts["Proposal"] == 0 and counts["Meeting"] == 1

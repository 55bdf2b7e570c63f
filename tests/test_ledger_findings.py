"""Issue 13's derivations, each tried as the adversary would: a leader, a chair, colleagues who
pool everything they were shown. Each must fail to isolate a group smaller than the threshold.

Findings 1-4 and 6; finding 5 (threshold governance) lives with the governance tests.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.core.config import Settings
from bot.core.messages import Message
from flows.digest import Picture
from flows.privacy import erase_person
from storage.db import Database
from storage.models import OutboxMessage, PulseRound, Unit
from tests.fake_platform import plain
from tests.pulse_world import MONDAY, World, day

Q1 = "trust_vertical.1"
Q2 = "trust_vertical.2"
DIM = "trust_vertical"


def summary_text(session: Session, pulse_round: PulseRound) -> str:
    row = session.scalar(
        select(OutboxMessage).where(OutboxMessage.dedupe_key == f"pulse:{pulse_round.id}:summary")
    )
    assert row is not None and row.payload is not None
    return plain(Message.model_validate(row.payload))


def unit_id(session: Session, path: str) -> int:
    uid = session.scalar(select(Unit.id).where(Unit.path == path))
    assert uid is not None
    return int(uid)


def digest_figure(picture: Picture, uid: int, when: MONDAY.__class__) -> tuple[int, int] | None:
    """(answers, value sum) of the unit's dimension score in the digest, if shown."""
    monday = when.astimezone(Settings().tz).date()
    monday -= monday.resolution * monday.weekday()
    w = picture.week_index(monday)
    tally = picture.shown_tally_of(uid, w, DIM)
    return None if tally is None else (tally.answers, tally.value_sum)


def digest_turnout(picture: Picture, uid: int, when: MONDAY.__class__) -> int | None:
    monday = when.astimezone(Settings().tz).date()
    monday -= monday.resolution * monday.weekday()
    turnout = picture.shown_turnout_of(uid, picture.week_index(monday))
    return None if turnout is None else turnout.answered


# --- finding 1: the digest minus a leaf's summary -----------------------------------------


def test_digest_minus_a_leaf_summary_does_not_give_the_small_team(db_url: str) -> None:
    db = Database(db_url)
    with db.session() as s:
        w = World(s, Settings(DATABASE_URL=db_url))
        w.unit("Omsorg")
        w.unit("Omsorg/A", members=6)
        w.unit("Omsorg/B", members=3)
        a = w.round("Omsorg/A", day(1, 0), {Q1: [5, 5, 4, 4, 4, 4]})
        w.round("Omsorg/B", day(1, 0), {Q1: [1]})
        # What Team A's channel and the leader see of Team A: 6 answers, sum 26.
        assert "6 af 6 svarede" in summary_text(s, a) and "6 svar" in summary_text(s, a)
        picture = w.digest()
        omsorg = unit_id(s, "Omsorg")
        view = w.results("Omsorg")
        assert view is not None
        [question] = view.questions
        shown_omsorg = question.shown.get(omsorg)
    # The adversary subtracts Team A from Omsorg: nothing must be left but Team A itself.
    score = digest_figure(picture, omsorg, day(1, 0))
    assert score is None or score == (6, 26)
    assert digest_turnout(picture, omsorg, day(1, 0)) in (None, 6)
    assert shown_omsorg is None or shown_omsorg.respondents == 6
    db.dispose()


def test_the_audit_log_names_the_rule_never_the_figures(db_url: str) -> None:
    """'Decisions stay explainable': a withheld figure leaves an audit entry with the rule's
    name, the week and the round, and nothing of the figures it was weighed against."""
    from storage.models import AuditEntry

    db = Database(db_url)
    with db.session() as s:
        w = World(s, Settings(DATABASE_URL=db_url))
        w.unit("Team", members=6)
        r = w.round("Team", day(1, 0), {Q1: [5, 5, 4, 4, 4, 4], Q2: [1]})
        summary_text(s, r)
        entries = s.scalars(
            select(AuditEntry).where(AuditEntry.action == "disclosure.withheld")
        ).all()
        assert entries, "a withheld figure must be audited"
        for entry in entries:
            assert entry.detail is not None
            assert entry.detail["rule"] in ("below_threshold", "complementary")
            assert set(entry.detail) == {"rule", "weeks", "rounds"}
            assert r.id in entry.detail["rounds"]
    db.dispose()


# --- finding 2: a dimension score minus a question figure -----------------------------------


def test_dimension_score_minus_a_shown_question_does_not_give_the_withheld_one(
    db_url: str,
) -> None:
    db = Database(db_url)
    with db.session() as s:
        w = World(s, Settings(DATABASE_URL=db_url))
        w.unit("Team", members=6)
        r = w.round("Team", day(1, 0), {Q1: [5, 5, 4, 4, 4, 4], Q2: [1]})
        text = summary_text(s, r)
        assert "6 svar" in text and "For få svar til at vise" in text
        picture = w.digest()
        score = digest_figure(picture, unit_id(s, "Team"), day(1, 0))
    # Dimension (all answers to Q1 and Q2) minus Q1 (shown) would be Q2's single answer.
    assert score is None or score == (6, 26)
    db.dispose()


def test_two_run_now_rounds_in_a_week_do_not_give_the_second(db_url: str) -> None:
    db = Database(db_url)
    with db.session() as s:
        w = World(s, Settings(DATABASE_URL=db_url))
        w.unit("Team", members=6)
        first = w.round("Team", day(1, 0), {Q1: [5, 5, 4, 4, 4, 4]})
        second = w.round("Team", day(1, 2), {Q1: [1]})
        assert "6 svar" in summary_text(s, first)
        assert "For få svarede" in summary_text(s, second)
        picture = w.digest()
        uid = unit_id(s, "Team")
        score = digest_figure(picture, uid, day(1, 0))
        turnout = digest_turnout(picture, uid, day(1, 0))
    assert score is None or score == (6, 26)
    assert turnout is None or turnout == 6
    db.dispose()


def test_committee_questions_do_not_give_a_withheld_answer(db_url: str) -> None:
    db = Database(db_url)
    with db.session() as s:
        w = World(s, Settings(DATABASE_URL=db_url))
        w.unit("Team", members=6)
        committee = w.committee("Team", "Team-MED")
        extra = w.committee_question(committee, "custom.team.1", DIM)
        r = w.round("Team", day(1, 0), {Q1: [5, 5, 4, 4, 4, 4], extra: [None, 1]})
        assert "6 svar" in summary_text(s, r)
        picture = w.digest()
        score = digest_figure(picture, unit_id(s, "Team"), day(1, 0))
    assert score is None or score == (6, 26)
    db.dispose()


# --- finding 3: comment pools ---------------------------------------------------------------


def _posts(session: Session, out: list[object]) -> list[str]:
    texts = []
    for row in session.scalars(select(OutboxMessage)):
        if row.purpose in ("pulse.summary", "pulse.comments") and row.payload:
            texts.append(plain(Message.model_validate(row.payload)))
    for o in out:
        texts.append(plain(Message.model_validate(o.message)))  # type: ignore[attr-defined]
    return texts


def test_pool_never_reposts_comments_a_summary_showed(db_url: str) -> None:
    db = Database(db_url)
    settings = Settings(DATABASE_URL=db_url)
    with db.session() as s:
        w = World(s, settings)
        w.unit("Afd", members=10)
        w.unit("Afd/Lille", members=2)
        talk = {i: f"forælder siger {i}" for i in range(10)}
        # Monday: the parent of ten; its summary shows its comments (nobody else ran yet).
        w.round("Afd", day(1, 0), {Q1: [4] * 10}, comments=talk, hours=24)
        # Thursday, the same week: a child of two, too few for comments of its own.
        w.round(
            "Afd/Lille", day(1, 3), {Q1: [2, 2]}, comments={0: "barn et", 1: "barn to"}, hours=24
        )
        out = w.pooled(day(1, 6))
        posts = _posts(s, out)
    # The pooled post minus the parent's post would be exactly the child's two comments.
    assert not any("barn et" in p or "barn to" in p for p in posts)
    db.dispose()


def test_second_run_now_round_in_a_week_does_not_isolate_its_commenter(db_url: str) -> None:
    db = Database(db_url)
    settings = Settings(DATABASE_URL=db_url)
    with db.session() as s:
        w = World(s, settings)
        w.unit("Team", members=6)
        w.round("Team", day(1, 0), {Q1: [4] * 5}, comments={i: f"første {i}" for i in range(5)})
        w.round("Team", day(1, 2), {Q1: [None] * 5 + [2]}, comments={5: "den ene"})
        out = w.pooled(day(1, 6))
        posts = _posts(s, out)
    assert not any("den ene" in p for p in posts)
    db.dispose()


def test_comment_threshold_counts_people_not_answers(db_url: str) -> None:
    db = Database(db_url)
    settings = Settings(DATABASE_URL=db_url)
    with db.session() as s:
        w = World(s, settings)
        w.unit("Afd")
        w.unit("Afd/Team", members=5)
        for n, weekday in enumerate((0, 2)):
            w.round(
                "Afd/Team",
                day(1, weekday),
                {Q1: [4] * 5},
                comments={i: f"runde {n} person {i}" for i in range(5)},
                min_comment_group_size=10,
                hours=24,
            )
        out = w.pooled(day(1, 6))
        posts = _posts(s, out)
    # Five people twice are five people: under a comment threshold of ten nothing is shown.
    assert not any("person" in p for p in posts)
    db.dispose()


# --- finding 4: comments go where the round's first message said -----------------------------


def test_first_message_says_where_comments_go(db_url: str) -> None:
    db = Database(db_url)
    with db.session() as s:
        w = World(s, Settings(DATABASE_URL=db_url))
        w.unit("Område")
        w.unit("Område/Afd")
        w.unit("Område/Afd/Team", members=3)
        r = w.round("Område/Afd/Team", day(1, 0), {Q1: [4, 4, 4]}, close=False)
        asks = [
            " ".join(plain(Message.model_validate(row.payload)).split())
            for row in s.scalars(
                select(OutboxMessage).where(OutboxMessage.dedupe_key.like(f"pulse:{r.id}:ask:%"))
            )
            if row.payload
        ]
    assert len(asks) == 3
    for text in asks:
        # Before anyone writes a comment: which channels, and that others can read them there.
        assert "kanalen for Team" in text
        assert "Afd" in text and "Område" in text
        assert "uden for Team" in text
    db.dispose()


# --- finding 6: an erased member's name ---------------------------------------------------------


def test_erased_members_name_is_not_shown_in_a_comment(db_url: str) -> None:
    db = Database(db_url)
    with db.session() as s:
        w = World(s, Settings(DATABASE_URL=db_url))
        w.unit("Team", members=6)
        karen = w.member("Team", "Karen Blixen")
        r = w.round(
            "Team", day(1, 0), {Q1: [4] * 6}, comments={0: "Karen Blixen er sød"}, close=False
        )
        erase_person(s, karen.email or "", now=day(1, 1))
        w.close(r, day(1, 2))
        text = summary_text(s, r)
    assert "er sød" in text and "Karen" not in text and "Blixen" not in text
    db.dispose()

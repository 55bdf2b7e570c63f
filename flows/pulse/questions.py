"""Which questions a round asks: the bank in force (flows.question_bank) as rows, plus the own
questions of the committees over the unit, rotated by flows.question_bank.pick_questions."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.core.config import Settings
from bot.core.errors import BankError, InvalidInput
from flows.question_bank import Question as BankQuestion
from flows.question_bank import QuestionBank, default_bank, pick_questions, question_bank
from storage.models import Committee, PulseRound, Question, Unit
from storage.queries import ancestors


def check_question_bank(settings: Settings) -> QuestionBank:
    """Load the bank at start; a broken file stops `serve`/`worker` with file, line and reason."""
    try:
        return question_bank(settings)
    except BankError as err:
        raise InvalidInput(f"question bank: {err}") from None


def sync_bank(session: Session, bank: QuestionBank | None = None) -> int:
    """Make the question bank's questions rows (ids never change; texts may)."""
    bank = bank or default_bank()
    existing = {
        q.id: q for q in session.scalars(select(Question).where(Question.id.in_(list(bank.by_id))))
    }
    added = 0
    for q in bank.questions:
        row = existing.get(q.id)
        if row is None:
            row = Question(id=q.id)
            session.add(row)
            added += 1
        row.dimension = q.dimension
        row.text_da, row.text_en = q.da, q.en
        row.low_da, row.high_da = q.ends("da")
        row.low_en, row.high_en = q.ends("en")
    session.flush()
    return added


def committees_over(session: Session, unit: Unit) -> list[Committee]:
    """The committees whose area includes the unit: its own and those of the units above."""
    unit_ids = [unit.id, *(u.id for u in ancestors(session, unit))]
    return list(session.scalars(select(Committee).where(Committee.unit_id.in_(unit_ids))))


def as_bank_question(row: Question) -> BankQuestion:
    return BankQuestion(
        id=row.id,
        dimension=row.dimension,
        da=row.text_da,
        en=row.text_en,
        low={"da": row.low_da, "en": row.low_en},
        high={"da": row.high_da, "en": row.high_en},
    )


def unit_bank(session: Session, unit: Unit, bank: QuestionBank | None = None) -> QuestionBank:
    """The bank plus the active own questions of every committee whose area includes the unit."""
    bank = bank or default_bank()
    committee_ids = [c.id for c in committees_over(session, unit)]
    if not committee_ids:
        return bank
    own = session.scalars(
        select(Question)
        .where(Question.committee_id.in_(committee_ids), Question.active.is_(True))
        .order_by(Question.id)
    ).all()
    return bank.with_questions(as_bank_question(q) for q in own if q.id not in bank)


def next_questions(
    session: Session,
    unit: Unit,
    count: int,
    bank: QuestionBank | None = None,
    *,
    slot: int | None = None,
) -> list[str]:
    """Rotate through the bank and the committee's own questions: with `slot`, on the
    organisation's shared calendar (issue 17: siblings answer the same dimensions in the same
    week); without it, least recently asked dimensions first. No question twice in a row."""
    bank = bank or default_bank()
    sync_bank(session, bank)
    recent = session.scalars(
        select(PulseRound)
        .where(PulseRound.unit_id == unit.id)
        .order_by(PulseRound.opened_at.desc(), PulseRound.id.desc())
        .limit(30)
    ).all()
    history = [[rq.question_id for rq in r.questions] for r in reversed(recent)]
    inactive = set(session.scalars(select(Question.id).where(Question.active.is_(False))))
    return pick_questions(
        unit_bank(session, unit, bank),
        count=count,
        history=history,
        exclude_inactive=inactive,
        seed=unit.id,
        slot=slot,
    )

"""Closing a round: aggregate in SQL, set who answered, unlink every answer, queue the summary."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from bot.core.i18n import Lang, translator
from bot.core.metrics import METRICS
from bot.core.outbox import queue, to_unit_channel
from flows.pulse.anonymity import mark_answered, unlink_answers
from flows.pulse.keys import SUMMARY, summary_key
from storage.dedupe import forget_processed_events
from storage.models import Answer, PulseRound, RoundResult, utcnow

log = logging.getLogger("medpuls.pulse")


def score(mean: float) -> float:
    """A 1-5 mean on the 0-100 scale."""
    return (mean - 1.0) * 25.0


@dataclass(frozen=True)
class QuestionResult:
    question_id: str
    respondents: int
    mean: float
    favourable: int
    neutral: int
    unfavourable: int


def aggregate(session: Session, round_id: int) -> list[QuestionResult]:
    """Per question figures, computed by the database (GROUP BY), not in Python."""
    rows = session.execute(
        select(
            Answer.question_id,
            func.count(),
            func.sum(Answer.value),
            func.sum(case((Answer.value >= 4, 1), else_=0)),
            func.sum(case((Answer.value == 3, 1), else_=0)),
            func.sum(case((Answer.value <= 2, 1), else_=0)),
        )
        .where(Answer.round_id == round_id)
        .group_by(Answer.question_id)
    ).all()
    return [
        QuestionResult(qid, int(n), float(total) / int(n), int(fav), int(neu), int(unf))
        for qid, n, total, fav, neu, unf in rows
    ]


def close_round(
    session: Session,
    pulse_round: PulseRound,
    *,
    now: dt.datetime,
    default_language: Lang,
    key: bytes,
) -> None:
    """Aggregate, set who answered, unlink every answer, and queue the summary.

    One transaction. The caller runs storage.scrub.scrub_after_close once it has committed,
    so that the old row versions (nonce, keys) leave the database files too.
    """
    if not pulse_round.is_open:
        return
    started = utcnow()
    results = aggregate(session, pulse_round.id)
    dims = {rq.question_id: rq.question.dimension for rq in pulse_round.questions}
    for r in results:
        session.add(
            RoundResult(
                round_id=pulse_round.id,
                question_id=r.question_id,
                dimension=dims.get(r.question_id, ""),
                respondents=r.respondents,
                value_sum=round(r.mean * r.respondents),
                favourable=r.favourable,
                neutral=r.neutral,
                unfavourable=r.unfavourable,
            )
        )
    mark_answered(session, pulse_round, key=key)
    unlink_answers(session, pulse_round.id)
    pulse_round.nonce = None
    pulse_round.closed_at = now
    pulse_round.scrub_pending = True
    # The round's click de-duplication rows go with it (those of the last hour stay until
    # their hour is up: a retried click must still find its row; they name nobody).
    forget_processed_events(session, now)
    session.flush()
    from flows.summary import round_summary  # the summary (issue 6) lives in its own module

    message = round_summary(session, pulse_round, translator(default_language))
    queue(
        session,
        [
            to_unit_channel(
                pulse_round.unit_id,
                summary_key(pulse_round.id),
                message,
                purpose=SUMMARY,
                round_id=pulse_round.id,
            )
        ],
    )
    METRICS.round_seconds.labels(step="close").observe((utcnow() - started).total_seconds())
    log.info("round closed", extra={"round_id": pulse_round.id, "unit": pulse_round.unit_id})

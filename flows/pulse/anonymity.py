"""Where anonymity lives in the rows: answers stored under HMAC(K, round nonce || member id)
while the round is open, who has answered computed from those keys, and at close the flags set
all at once and the answers re-keyed at random (docs/privacy.md)."""

from __future__ import annotations

import hashlib
import hmac
import random
import secrets
from collections.abc import Sequence

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from bot.core.config import Settings
from bot.core.secret_key import PULSE_ANSWERS, subkey
from storage.models import Answer, Participation, PulseRound


def respondent_key(key: bytes, nonce: bytes, member_id: int) -> str:
    """An open round's answer key: HMAC(K, nonce || member id); K = answers_key(settings)."""
    return hmac.new(key, nonce + b"|" + str(member_id).encode(), hashlib.sha256).hexdigest()


def answers_key(settings: Settings) -> bytes:
    """K: the "pulse-answers" subkey of MEDPULS_SECRET_KEY (kept outside the database)."""
    return subkey(settings, PULSE_ANSWERS)


def record_answer(
    session: Session,
    pulse_round: PulseRound,
    participation: Participation,
    question_id: str,
    value: int,
    *,
    key: bytes,
) -> None:
    """Store or replace the member's answer; safe to repeat (a double click stores one).

    Writes the answer row only: `participation.answered` is set at close (close_round)."""
    assert pulse_round.nonce is not None
    rkey = respondent_key(key, pulse_round.nonce, participation.member_id)
    existing = session.get(Answer, (pulse_round.id, question_id, rkey))
    if existing is None:
        session.add(
            Answer(
                round_id=pulse_round.id, question_id=question_id, respondent_key=rkey, value=value
            )
        )
    else:
        existing.value = value


def my_answers(
    session: Session, pulse_round: PulseRound, member_id: int, *, key: bytes
) -> dict[str, int]:
    """The member's answers in an open round (needs K: nobody with the database alone)."""
    assert pulse_round.nonce is not None
    rkey = respondent_key(key, pulse_round.nonce, member_id)
    rows = session.execute(
        select(Answer.question_id, Answer.value).where(
            Answer.round_id == pulse_round.id, Answer.respondent_key == rkey
        )
    )
    return {qid: value for qid, value in rows}


def answered_members(
    session: Session, pulse_round: PulseRound, *, key: bytes, member_ids: Sequence[int] = ()
) -> set[int]:
    """Who has answered (at least one question): from the keys while the round is open, from
    the participation flags once it has closed. `member_ids` narrows the question."""
    if pulse_round.nonce is None:
        flagged = select(Participation.member_id).where(
            Participation.round_id == pulse_round.id, Participation.answered.is_(True)
        )
        if member_ids:
            flagged = flagged.where(Participation.member_id.in_(list(member_ids)))
        return set(session.scalars(flagged))
    keys = set(
        session.scalars(
            select(Answer.respondent_key).where(Answer.round_id == pulse_round.id).distinct()
        )
    )
    if not keys:
        return set()
    asked = list(member_ids) or list(
        session.scalars(
            select(Participation.member_id).where(Participation.round_id == pulse_round.id)
        )
    )
    nonce = pulse_round.nonce
    return {m for m in asked if respondent_key(key, nonce, m) in keys}


# Rows per UPDATE ... IN (...): well under SQLite's limit of bound parameters.
MARK_CHUNK = 5000


def mark_answered(session: Session, pulse_round: PulseRound, *, key: bytes) -> None:
    """Set `answered` for everyone who answered, all in the closing transaction and in random
    order, so neither a transaction id, nor an order, nor a time pairs a flag with an answer."""
    answered = list(answered_members(session, pulse_round, key=key))
    random.SystemRandom().shuffle(answered)
    for start in range(0, len(answered), MARK_CHUNK):
        session.execute(
            update(Participation)
            .where(
                Participation.round_id == pulse_round.id,
                Participation.member_id.in_(answered[start : start + MARK_CHUNK]),
            )
            .values(answered=True)
            .execution_options(synchronize_session=False)
        )


def unlink_answers(session: Session, round_id: int) -> None:
    """Re-key the round's answers at random and re-insert them in random order."""
    rows = session.execute(
        select(Answer.question_id, Answer.value, Answer.comment, Answer.reply_capsule).where(
            Answer.round_id == round_id
        )
    ).all()
    session.execute(delete(Answer).where(Answer.round_id == round_id))
    shuffled = [
        {"question_id": q, "value": v, "comment": c, "reply_capsule": cap} for q, v, c, cap in rows
    ]
    random.SystemRandom().shuffle(shuffled)
    if shuffled:
        session.execute(
            insert(Answer),
            [
                {
                    "round_id": round_id,
                    "respondent_key": secrets.token_hex(16),
                    "hidden": False,
                    **r,
                }
                for r in shuffled
            ],
        )

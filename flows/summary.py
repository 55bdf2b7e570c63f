"""The round summary posted to a unit's channel when its round closes, and pooled comments.

Figures pass the disclosure gate (flows.disclosure.decide): the round's turnout and each
question's figures are shown only for at least the round's `min_group_size` respondents.

Comments (DESIGN.md, anonymity 3) are shown where the group clears the round's
`min_comment_group_size`. A unit under it sends its comments up to the nearest unit that
clears it (flows.disclosure.comment_home), counted over the rounds of the same batch (the same
schedule period, or opened in the same week). A unit's summary shows comments only when they
are its own alone; pooled comments go to the home unit's channel in one message once every
round in the pool has closed (the job below), so nobody can subtract one message from another
to isolate a small group's comments. Comments are scrubbed of names, mentions, addresses and
numbers, shuffled, never timed, and a hidden answer's comment is never shown.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import distinct, func, select
from sqlalchemy.orm import Session

from bot.core.config import Settings
from bot.core.i18n import Translator, translator
from bot.core.messages import (
    Button,
    Buttons,
    Divider,
    Fact,
    Facts,
    Header,
    Message,
    Part,
    SmallPrint,
    Text,
)
from bot.core.outbox import Outgoing, queue, to_unit_channel
from flows.agenda import BringToMed
from flows.disclosure import comment_home
from flows.ledger import cell, decided_before, round_ledger, round_week, turnout_cell
from flows.schedule import DEFAULT_TZ
from flows.scrub import scrub
from flows.summary_comments import (
    comment_cell,
    comments_key,
    current_comments,
    names,
    post_parts,
    recorded_comments,
)
from storage.db import Database
from storage.models import (
    Answer,
    OutboxMessage,
    Participation,
    Publication,
    PulseRound,
    RoundResult,
    Unit,
)

__all__ = ["JOBS", "pooled_comment_messages", "round_summary"]

log = logging.getLogger("medpuls.summary")

# A change of a few points in a small group is noise, not a trend (same as the digests).
TREND_STEP = 3.0
POOL_LOOKBACK = dt.timedelta(days=14)


def score(mean: float) -> float:
    return (mean - 1.0) * 25.0


@dataclass(frozen=True)
class Earlier:
    score: float
    closed: dt.datetime


def _was_shown(session: Session, round_id: int, question_ids: Sequence[str]) -> bool:
    """Whether the ledger shows each question's figure of that round (a change line would
    reveal the earlier figure: now minus the change)."""
    return all(decided_before(session, [cell(round_id, q)]) for q in question_ids)


def _earlier_figures(
    session: Session, pulse_round: PulseRound
) -> tuple[dict[str, Earlier], dict[str, Earlier]]:
    """The last shown figure of each question and of each dimension, from earlier rounds."""
    closed_before = pulse_round.closed_at or pulse_round.closes_at
    rows = session.execute(
        select(RoundResult, PulseRound.closed_at, PulseRound.min_group_size)
        .join(PulseRound, PulseRound.id == RoundResult.round_id)
        .where(
            PulseRound.unit_id == pulse_round.unit_id,
            PulseRound.id != pulse_round.id,
            PulseRound.closed_at.is_not(None),
            PulseRound.closed_at < closed_before,
        )
        .order_by(PulseRound.closed_at.desc())
        .limit(400)
    ).all()
    by_question: dict[str, Earlier] = {}
    per_round_dim: dict[tuple[int, str], list[int]] = defaultdict(lambda: [0, 0])
    closed_of: dict[int, dt.datetime] = {}
    for result, closed, minimum in rows:
        round_id, qid, dim = result.round_id, result.question_id, result.dimension
        n, total = result.respondents, result.value_sum
        if n < minimum or closed is None or not _was_shown(session, round_id, [qid]):
            continue
        if qid not in by_question:
            by_question[qid] = Earlier(score(total / n), closed)
        acc = per_round_dim[(round_id, dim)]
        acc[0] += n
        acc[1] += total
        closed_of[round_id] = closed
    by_dimension: dict[str, Earlier] = {}
    for (round_id, dim), (n, total) in sorted(
        per_round_dim.items(), key=lambda kv: closed_of[kv[0][0]], reverse=True
    ):
        by_dimension.setdefault(dim, Earlier(score(total / n), closed_of[round_id]))
    return by_question, by_dimension


def _change(t: Translator, now: float, before: Earlier | None, tz: dt.tzinfo) -> str | None:
    if before is None:
        return None
    delta = now - before.score
    arrow = "→" if abs(delta) < TREND_STEP else ("↑" if delta > 0 else "↓")
    rounded = round(delta)
    signed = "±0" if rounded == 0 else ("+" if rounded > 0 else "−") + t.number(abs(rounded), 0)
    return t(
        "summary.change",
        arrow=arrow,
        change=signed,
        date=t.date(before.closed.astimezone(tz).date()),
    )


def _bring_to_med(
    pulse_round: PulseRound, question_ids: Sequence[str], t: Translator
) -> Buttons | None:
    """One "Bring to MED" button per shown question: the proposal is pre-filled with it."""
    if not question_ids:
        return None
    return Buttons(
        label=t("summary.bring_to_med_intro"),
        buttons=[
            Button(
                label=t("summary.bring_question", n=i + 1)
                if len(question_ids) > 1
                else t("summary.bring_to_med"),
                data=BringToMed(u=pulse_round.unit_id, q=qid, r=pulse_round.id).pack(),
            )
            for i, qid in enumerate(question_ids)
        ],
    )


def _respondents(session: Session, round_id: int) -> tuple[int, int]:
    answered, asked = session.execute(
        select(
            func.count(Participation.member_id).filter(Participation.answered.is_(True)),
            func.count(Participation.member_id),
        ).where(Participation.round_id == round_id)
    ).one()
    return int(answered or 0), int(asked or 0)


def round_summary(
    session: Session,
    pulse_round: PulseRound,
    t: Translator,
    *,
    tz: dt.tzinfo = DEFAULT_TZ,
    shuffle: random.Random | None = None,
) -> Message:
    """The summary of a closed round for the unit's channel; every figure passes the gate."""
    unit = pulse_round.unit
    threshold = pulse_round.min_group_size
    parts: list[Part] = [Header(text=t("summary.title", unit=unit.name))]
    respondents, asked = _respondents(session, pulse_round.id)
    ledger = round_ledger(session, pulse_round, tz)
    week = round_week(pulse_round.closed_at or pulse_round.closes_at, tz)
    if not ledger.decide("summary", [turnout_cell(pulse_round.id)], week=week).shown:
        ledger.flush()
        text = t("summary.too_few", minimum=threshold)
        parts.append(Text(text=text))
        return Message(summary=text, parts=parts)
    turnout = t("summary.participation", n=respondents, asked=asked)
    parts.append(Text(text=turnout))
    results = {
        r.question_id: r
        for r in session.scalars(select(RoundResult).where(RoundResult.round_id == pulse_round.id))
    }
    earlier_q, earlier_dim = _earlier_figures(session, pulse_round)
    facts: list[Fact] = []
    shown: list[str] = []
    for rq in pulse_round.questions:
        q = rq.question
        label = q.text_en if t.lang == "en" else q.text_da
        r = results.get(rq.question_id)
        figure = [cell(pulse_round.id, rq.question_id)]
        if r is None or not ledger.decide("summary", figure, week=week).shown:
            facts.append(Fact(label=label, value=t("summary.too_few_question")))
            continue
        shown.append(q.id)
        mean = r.value_sum / r.respondents
        lines = [
            t(
                "summary.value",
                mean=t.number(mean),
                score=t.number(score(mean), 0),
                n=r.respondents,
            ),
            t(
                "summary.distribution",
                favourable=t.percent(r.favourable / r.respondents),
                neutral=t.percent(r.neutral / r.respondents),
                unfavourable=t.percent(r.unfavourable / r.respondents),
            ),
        ]
        change = _change(t, score(mean), earlier_q.get(q.id) or earlier_dim.get(q.dimension), tz)
        if change:
            lines.append(change)
        facts.append(Fact(label=label, value="\n".join(lines)))
    ledger.flush()
    parts.extend([Divider(), Facts(facts=facts)])
    parts.extend(_comment_parts(session, pulse_round, t, tz, shuffle))
    button = _bring_to_med(pulse_round, shown, t)
    if button is not None:
        parts.append(button)
    parts.append(SmallPrint(text=t("summary.footer", minimum=threshold)))
    return Message(summary=turnout, parts=parts)


# --- comments -------------------------------------------------------------------------------


def batch_of(pulse_round: PulseRound, tz: dt.tzinfo) -> str:
    """Rounds answered side by side: the same schedule period, or opened in the same week."""
    if pulse_round.period:
        return pulse_round.period
    year, week, _ = pulse_round.opened_at.astimezone(tz).isocalendar()
    return f"{year}-W{week:02d}"


@dataclass(frozen=True)
class Pool:
    home: int | None
    rounds: list[PulseRound]

    def ready(self) -> bool:
        return all(r.closed_at is not None for r in self.rounds)


def comment_pool(session: Session, pulse_round: PulseRound, tz: dt.tzinfo) -> Pool:
    """Where this round's comments are shown, and every round whose comments go there too.

    Units are sized by the distinct people who answered any round of the batch: one person
    answering two rounds is one person (DISCLOSURE.md, "groups are people").
    """
    batch = batch_of(pulse_round, tz)
    opened = pulse_round.opened_at
    nearby = session.scalars(
        select(PulseRound).where(
            PulseRound.opened_at >= opened - dt.timedelta(days=8),
            PulseRound.opened_at <= opened + dt.timedelta(days=8),
        )
    ).all()
    same = [r for r in nearby if batch_of(r, tz) == batch]
    counts: dict[str, int] = defaultdict(int)
    for unit_id, n in session.execute(
        select(PulseRound.unit_id, func.count(distinct(Participation.member_id)))
        .join(PulseRound, PulseRound.id == Participation.round_id)
        .where(
            Participation.round_id.in_([r.id for r in same]),
            Participation.answered.is_(True),
        )
        .group_by(PulseRound.unit_id)
    ):
        counts[str(unit_id)] = int(n)
    parents = {
        str(uid): (None if pid is None else str(pid))
        for uid, pid in session.execute(select(Unit.id, Unit.parent_id))
    }
    minimum = pulse_round.min_comment_group_size

    def home_of(unit_id: int) -> str | None:
        return comment_home(str(unit_id), counts, parents, minimum)

    home = home_of(pulse_round.unit_id)
    if home is None:
        return Pool(None, [])
    return Pool(int(home), [r for r in same if home_of(r.unit_id) == home])


def _comment_week(rounds: Sequence[PulseRound], tz: dt.tzinfo) -> str:
    return round_week(min(r.opened_at for r in rounds), tz)


def comments_shown(session: Session, rounds: Sequence[PulseRound], tz: dt.tzinfo) -> set[int]:
    """Rounds whose comments some post has already shown: they are never shown again, or the
    later post minus the earlier one would isolate the rest."""
    weeks = {round_week(r.opened_at + dt.timedelta(days=d), tz) for r in rounds for d in (-7, 0, 7)}
    wanted = {comment_cell(r.id): r.id for r in rounds}
    shown: set[int] = set()
    for cells in session.scalars(
        select(Publication.cells).where(
            Publication.path == "comments",
            Publication.shown.is_(True),
            Publication.week.in_(sorted(weeks)),
        )
    ):
        shown.update(wanted[c] for figure in cells for c in figure if c in wanted)
    return shown


def _people(session: Session, rounds: Sequence[PulseRound]) -> int:
    """Distinct people who answered any of the rounds."""
    return int(
        session.scalar(
            select(func.count(distinct(Participation.member_id))).where(
                Participation.round_id.in_([r.id for r in rounds]),
                Participation.answered.is_(True),
            )
        )
        or 0
    )


def comment_post(
    session: Session, pool: Pool, minimum: int, tz: dt.tzinfo
) -> tuple[list[PulseRound], int, bool]:
    """The rounds a post of this pool would show (those not shown before), their distinct
    people, and whether that clears the comment threshold."""
    done = comments_shown(session, pool.rounds, tz)
    rest = [r for r in pool.rounds if r.id not in done]
    people = _people(session, rest) if rest else 0
    return rest, people, bool(rest) and people >= minimum


def record_comments(
    session: Session,
    rounds: Sequence[PulseRound],
    people: int,
    shown: bool,
    tz: dt.tzinfo,
    fingerprints: Sequence[str] = (),
) -> None:
    """The publication of these rounds' comments: shown or withheld, and when shown, exactly
    which comments (flows/summary_comments.py)."""
    key = comments_key(rounds)
    if session.scalar(select(Publication.id).where(Publication.key == key)) is not None:
        return
    session.add(
        Publication(
            key=key,
            week=_comment_week(rounds, tz),
            path="comments",
            cells=[sorted(comment_cell(r.id) for r in rounds)],
            people=people,
            shown=shown,
            reason=None if shown else "below_threshold",
            comments=list(fingerprints) if shown else None,
        )
    )
    session.flush()


def _comments(
    session: Session, rounds: Sequence[PulseRound], rng: random.Random
) -> list[tuple[str, str]]:
    """(fingerprint, scrubbed text) of the rounds' comments, shuffled."""
    known = names(session)
    pairs = [
        (f, scrub(text, known))
        for f, text in current_comments(session, [r.id for r in rounds]).items()
    ]
    pairs.sort()  # the shuffle alone decides the order, not the database's
    rng.shuffle(pairs)
    return pairs


def _shown_comments(
    session: Session,
    rounds: Sequence[PulseRound],
    people: int,
    clears: bool,
    tz: dt.tzinfo,
    rng: random.Random,
) -> list[str]:
    """Record the post's publication with the comments it shows; those comments."""
    pairs = _comments(session, rounds, rng) if clears else []
    record_comments(session, rounds, people, clears, tz, [f for f, _ in pairs])
    return [text for _, text in pairs]


def _recorded(session: Session, rounds: Sequence[PulseRound]) -> list[str]:
    publication = session.scalars(
        select(Publication).where(Publication.key == comments_key(rounds))
    ).first()
    return recorded_comments(session, publication) if publication is not None else []


def _comment_parts(
    session: Session,
    pulse_round: PulseRound,
    t: Translator,
    tz: dt.tzinfo,
    rng: random.Random | None,
) -> list[Part]:
    has_comments = session.scalar(
        select(func.count()).where(
            Answer.round_id == pulse_round.id,
            Answer.comment.is_not(None),
            Answer.hidden.is_(False),
        )
    )
    if not has_comments:
        return []
    pool = comment_pool(session, pulse_round, tz)
    if pool.home is None:
        return [SmallPrint(text=t("summary.comments_withheld"))]
    minimum = pulse_round.min_comment_group_size
    own = pool.home == pulse_round.unit_id and [r.id for r in pool.rounds] == [pulse_round.id]
    if pulse_round.id in comments_shown(session, [pulse_round], tz):
        if not own:
            return [SmallPrint(text=t("summary.comments_withheld"))]
        # Built again (another language, a rewrite): the comments recorded at close, no others.
        texts = _recorded(session, [pulse_round])
    elif own:
        rest, people, clears = comment_post(session, pool, minimum, tz)
        texts = _shown_comments(session, rest, people, clears, tz, rng or random.SystemRandom())
        if not clears:
            return [SmallPrint(text=t("summary.comments_withheld"))]
    else:
        home = session.get(Unit, pool.home)
        return [SmallPrint(text=t("summary.comments_pooled_note", unit=home.name if home else ""))]
    date = t.date(pulse_round.opened_at.astimezone(tz).date())
    return [
        Divider(),
        Text(text=t("summary.comments_title", date=date)),
        *post_parts(texts, comments_key([pulse_round]), t),
    ]


def pooled_comment_messages(
    session: Session, settings: Settings, now: dt.datetime
) -> list[Outgoing]:
    """Pooled comments of recently closed rounds whose whole pool has now closed."""
    tz = settings.tz
    with_comments = session.scalars(
        select(PulseRound)
        .where(
            PulseRound.closed_at.is_not(None),
            PulseRound.closed_at >= now - POOL_LOOKBACK,
            PulseRound.id.in_(
                select(Answer.round_id).where(Answer.comment.is_not(None), Answer.hidden.is_(False))
            ),
        )
        .order_by(PulseRound.id)
    ).all()
    out: list[Outgoing] = []
    # Already queued on an earlier tick: skip the scrubbing, not only the insert.
    done = set(
        session.scalars(
            select(OutboxMessage.dedupe_key).where(
                OutboxMessage.dedupe_key.like("summary:comments:%")
            )
        )
    )
    t = translator(settings.language)
    for pulse_round in with_comments:
        pool = comment_pool(session, pulse_round, tz)
        if pool.home is None or not pool.ready():
            continue
        if pool.home == pulse_round.unit_id and [r.id for r in pool.rounds] == [pulse_round.id]:
            continue  # shown in the round's own summary
        key = f"summary:comments:{pool.home}:{batch_of(pulse_round, tz)}"
        if key in done:
            continue
        done.add(key)
        home = session.get(Unit, pool.home)
        if home is None:
            continue
        # Only comments no post has shown yet, from enough distinct people: re-posting shown
        # ones would let a reader subtract the earlier post and isolate the rest.
        rest, people, clears = comment_post(session, pool, pulse_round.min_comment_group_size, tz)
        if not rest:
            continue
        texts = _shown_comments(session, rest, people, clears, tz, random.SystemRandom())
        if not texts:
            continue
        units = sorted({r.unit.name for r in rest})
        date = t.date(min(r.opened_at for r in rest).astimezone(tz).date())
        parts: list[Part] = [
            Header(text=t("summary.pooled_title", unit=home.name)),
            Text(text=t("summary.pooled_intro", units=", ".join(units), date=date)),
            *post_parts(texts, comments_key(rest), t),
            SmallPrint(text=t("summary.pooled_footer")),
        ]
        message = Message(summary=t("summary.pooled_title", unit=home.name), parts=parts)
        out.append(to_unit_channel(home.id, key, message, purpose="pulse.comments"))
    return out


def post_pooled_comments(db: Database, settings: Settings, now: dt.datetime) -> None:
    with db.session() as session:
        added = queue(session, pooled_comment_messages(session, settings, now))
    if added:
        log.info("pooled comments queued", extra={"count": added})


JOBS = [post_pooled_comments]

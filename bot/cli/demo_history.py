"""Sixteen weeks of the demo municipality's past, lived through the real flows.

A newcomer's first screen should show a digest with a trend, a channel summary and an agenda,
and none of those exists without a history. The history here is made the only honest way:
every round is opened by the schedule (flows.pulse.open_scheduled_round), answered one member
and question at a time with the server's key (record_answer) and closed by close_round, each
at the moment it would have happened (`now=`); proposals, triage, approvals and the outcome go
through the same router handlers a chat click reaches. So the anonymity rules, the rotation, the
disclosure ledger and the summaries are the ones a real municipality gets; nothing is written
to a results table directly.

The figures are drawn from a seeded generator, so every demo tells the same story: Hjemmeplejen
Nord steadily loses "at blive hørt" (justice_voice), Hjemmeplejen Syd never has five answers and
the night team has three people, so both are counted with Social og Sundhed, and Dagtilbud
Solsikken slowly gains trust among colleagues.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import Integer, cast, select, update
from sqlalchemy.orm import Session

from bot.core.actions import ActionData
from bot.core.config import Settings
from bot.core.events import Actor, ButtonClicked, FormSubmitted, InboundEvent
from bot.core.i18n import translator
from bot.core.router import FlowContext, Router
from flows.agenda import Approve, ProposeForm, TriageForm, schedule_meeting
from flows.decisions import ApproveMinutes, DecideForm, minutes_of
from flows.pulse import (
    answers_key,
    close_round,
    open_scheduled_round,
    queue_closed_rewrites,
    record_answer,
)
from flows.schedule import ScheduleSpec, next_working_day, opening_time, period_of
from storage.models import (
    Committee,
    Member,
    OutboxMessage,
    Participation,
    Proposal,
    PulseRound,
    Schedule,
)

__all__ = ["WEEKS", "seed_history"]

# The digest's chart shows 12 weeks; four more before them let its first week already carry
# the dimensions measured shortly before (flows.indices), as a running municipality's would.
WEEKS = 16
SEED = 17

# Per unit: the level (0-100) most answers sit around, how many of those asked answer (a
# range drawn each week), and per dimension a start and an end level over the weeks lived.
_FALLING = "justice_voice"


@dataclass(frozen=True)
class _Mood:
    level: float
    answering: tuple[int, int]
    drift: dict[str, tuple[float, float]]

    def level_of(self, dimension: str, week: int) -> float:
        start, end = self.drift.get(dimension, (self.level, self.level))
        return start + (end - start) * week / max(1, WEEKS - 1)


_MOODS = {
    "Hjemmeplejen Nord": _Mood(66, (7, 9), {_FALLING: (82, 22), "trust_vertical": (70, 58)}),
    # Eight people, three or four answers a week, and a night team of three: never five on
    # their own, always counted with Social og Sundhed.
    "Hjemmeplejen Syd": _Mood(58, (3, 4), {}),
    "Hjemmeplejen Nat": _Mood(52, (2, 3), {"trust_vertical": (60, 40)}),
    "Dagtilbud Solsikken": _Mood(70, (5, 6), {"trust_horizontal": (60, 82)}),
}


def _answer(rng: random.Random, level: float) -> int:
    """One answer on the 1-5 scale around `level` (0-100)."""
    mean = 1 + level / 25
    return max(1, min(5, round(rng.gauss(mean, 0.8))))


def _at(day: dt.date, hour: int, tz: dt.tzinfo) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), tzinfo=tz)


def _mondays(now: dt.datetime, tz: dt.tzinfo) -> list[dt.date]:
    """The Mondays of the WEEKS whole weeks before the one holding `now`, oldest first."""
    today = now.astimezone(tz).date()
    this_monday = today - dt.timedelta(days=today.weekday())
    return [this_monday - dt.timedelta(weeks=n) for n in range(WEEKS, 0, -1)]


def _zone(tz: dt.tzinfo) -> ZoneInfo:
    return tz if isinstance(tz, ZoneInfo) else ZoneInfo(str(tz))


def seed_history(session: Session, settings: Settings, router: Router, now: dt.datetime) -> int:
    """Live the demo's last WEEKS weeks; returns how many rounds were closed.

    The caller has just loaded the organisation (bot.demo.load_demo) in this transaction.
    """
    rng = random.Random(SEED)
    key = answers_key(settings)
    tz = settings.tz
    schedules = list(session.scalars(select(Schedule).order_by(Schedule.id)))
    closed = 0
    for week, monday in enumerate(_mondays(now, tz)):
        opened: list[tuple[PulseRound, _Mood]] = []
        for schedule in schedules:
            spec = ScheduleSpec.from_row(schedule)
            at = opening_time(spec, period_of(spec, monday, _zone(tz)), _zone(tz))
            done = open_scheduled_round(session, schedule, now=at, settings=settings)
            if done is None:
                continue
            pulse_round = session.get(PulseRound, done.round_id)
            assert pulse_round is not None
            opened.append((pulse_round, _MOODS[schedule.unit.name]))
        for pulse_round, mood in opened:
            _answer_round(session, pulse_round, mood, week, rng, key)
        for pulse_round, _ in opened:
            close_round(
                session,
                pulse_round,
                now=pulse_round.closes_at,
                default_language=settings.language,
                key=key,
            )
            queue_closed_rewrites(session, pulse_round, settings.language)
            closed += 1
    _meetings(session, settings, router, now)
    _rules_not_yet_read(session)
    return closed


def _rules_not_yet_read(session: Session) -> None:
    """The past rounds' question DMs are never sent (their rounds closed before the bot first
    ran, flows.pulse.round_still_open), so the anonymity rules open_round counted as given were
    not: whoever has no privacy notice on its way gets them in full with their first question,
    as the promise goes."""
    noticed = select(cast(OutboxMessage.address, Integer)).where(
        OutboxMessage.purpose == "privacy", OutboxMessage.address_kind == "member"
    )
    session.execute(
        update(Member)
        .where(Member.seen_privacy_notice.is_(True), Member.id.not_in(noticed))
        .values(seen_privacy_notice=False)
        .execution_options(synchronize_session=False)
    )


def _answer_round(
    session: Session,
    pulse_round: PulseRound,
    mood: _Mood,
    week: int,
    rng: random.Random,
    key: bytes,
) -> None:
    """Some of those asked answer every question of the round, as a click each would."""
    asked = list(
        session.scalars(
            select(Participation)
            .where(Participation.round_id == pulse_round.id)
            .order_by(Participation.member_id)
        )
    )
    low, high = mood.answering
    answering = rng.sample(asked, min(len(asked), rng.randint(low, high)))
    for participation in answering:
        for rq in pulse_round.questions:
            level = mood.level_of(rq.question.dimension, week) + rng.uniform(-4, 4)
            record_answer(
                session, pulse_round, participation, rq.question_id, _answer(rng, level), key=key
            )


# --- the committee's side: a meeting held, one coming, proposals --------------------------


def _member(session: Session, name: str) -> Member:
    return session.scalars(select(Member).where(Member.name == name)).one()


def _act(
    session: Session,
    settings: Settings,
    router: Router,
    who: Member,
    event_of: type[InboundEvent],
    data: ActionData,
    now: dt.datetime,
    values: dict[str, str] | None = None,
) -> None:
    """What a click or a submitted form by `who` at `now` does, through the router."""
    actor = Actor("local", str(who.id))
    if event_of is FormSubmitted:
        event: InboundEvent = FormSubmitted(actor, None, data=data.pack(), values=values or {})
    else:
        event = ButtonClicked(actor, None, data=data.pack())
    ctx = FlowContext(
        session=session,
        settings=settings,
        actor=actor,
        member=who,
        t=translator(settings.language),
        now=now,
    )
    reply = router.dispatch(ctx, event)
    if reply.errors:  # the demo's own data must pass the form's checks
        raise RuntimeError(f"demo history: {data.kind} refused: {reply.errors}")
    session.flush()


_PAST = [
    (
        "Søren Jensen",
        "Faste overleveringer mellem dag- og aftenvagt",
        "Aftenvagten mangler ofte besked om ændringer hos borgerne.",
        "Fejl i medicin og besøg kan undgås med en fast overlevering.",
        "Ti minutters overlevering kl. 15 hver dag.",
        "Forsøg i Hjemmeplejen Nord i tre måneder; evalueres i MED.",
    ),
    (
        "Lone Petersen",
        "Nye tablets til dokumentation",
        "De gamle tablets går ned midt i et besøg.",
        "Dokumentation tager tid fra borgerne.",
        "",
        "Indkøbes til begge distrikter i næste kvartal.",
    ),
]
_COMING = [
    (
        "Hanne Larsen",
        "Bliver vi hørt, før ruterne ændres?",
        "Ruteplanen ændres uden at vi bliver spurgt, og det mærkes hos borgerne.",
        "Pulsmålingen viser, at færre oplever at blive hørt.",
        "En fast runde i teamet, før ruterne lægges om.",
    ),
    (
        "Camilla Johansen",
        "Plads til faglig sparring",
        "Der er ikke tid til at drøfte svære borgerforløb.",
        "Nye kolleger står alene med svære beslutninger.",
        "",
    ),
]


def _propose(
    session: Session,
    settings: Settings,
    router: Router,
    committee: Committee,
    now: dt.datetime,
    texts: tuple[str, ...],
) -> int:
    name, title, issue, why, suggestion = texts[:5]
    values = {"title": title, "issue": issue, "why": why, "suggestion": suggestion}
    who = _member(session, name)
    _act(session, settings, router, who, FormSubmitted, ProposeForm(c=committee.id), now, values)
    return int(
        session.scalars(
            select(Proposal.id).where(Proposal.title == title).order_by(Proposal.id.desc())
        ).first()
        or 0
    )


def _meetings(session: Session, settings: Settings, router: Router, now: dt.datetime) -> None:
    """MED Social og Sundhed: a meeting three weeks ago with two items decided, and the next
    one in three weeks with one item on the agenda and one waiting for the chairs."""
    tz = settings.tz
    committee = session.scalars(
        select(Committee).where(Committee.name == "MED Social og Sundhed")
    ).one()
    chair, vice = _member(session, "Inger Holm"), _member(session, "Bo Dahl")
    today = now.astimezone(tz).date()
    held_at = _at(next_working_day(today - dt.timedelta(weeks=3)), 13, tz)
    past = schedule_meeting(
        session,
        committee,
        held_at,
        now=held_at - dt.timedelta(weeks=5),
        settings=settings,
        place="Sundhedshuset, mødelokale 1",
        by=chair,
    )
    proposed = past.proposal_deadline - dt.timedelta(days=7)
    items = [_propose(session, settings, router, committee, proposed, p) for p in _PAST]
    triaged = past.proposal_deadline + dt.timedelta(hours=2)
    for pid in items:
        form = TriageForm(p=pid, s="agenda")
        values = {"recommendation": "Drøftes og besluttes."}
        _act(session, settings, router, chair, FormSubmitted, form, triaged, values)
    session.refresh(past)
    approve = Approve(m=past.id, v=past.agenda_version)
    _act(session, settings, router, chair, ButtonClicked, approve, triaged)
    _act(session, settings, router, vice, ButtonClicked, approve, past.agenda_release)
    after = held_at + dt.timedelta(hours=3)
    for pid, texts in zip(items, _PAST, strict=True):
        values = {"kind": "adopted", "reason": texts[5], "owner": "Inger Holm"}
        _act(session, settings, router, chair, FormSubmitted, DecideForm(p=pid), after, values)
    minutes = minutes_of(session, past)
    assert minutes is not None
    sign_minutes = ApproveMinutes(m=past.id, v=minutes.version)
    _act(session, settings, router, chair, ButtonClicked, sign_minutes, after)
    next_day = after + dt.timedelta(hours=20)
    _act(session, settings, router, vice, ButtonClicked, sign_minutes, next_day)
    coming_at = _at(next_working_day(today + dt.timedelta(weeks=3)), 13, tz)
    set_at = now - dt.timedelta(weeks=2)
    schedule_meeting(
        session,
        committee,
        coming_at,
        now=set_at,
        settings=settings,
        place="Sundhedshuset, mødelokale 1",
        by=chair,
    )
    first, _waiting = (
        _propose(session, settings, router, committee, set_at + dt.timedelta(days=d), p)
        for d, p in ((3, _COMING[0]), (6, _COMING[1]))
    )
    form = TriageForm(p=first, s="agenda")
    values = {"recommendation": "Sættes på som drøftelse med pulsmålingens tal."}
    _act(session, settings, router, chair, FormSubmitted, form, now - dt.timedelta(days=2), values)

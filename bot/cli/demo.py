"""`medpuls demo`: a small Danish municipality to try the bot with, no platform needed."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.core.config import Settings
from flows.organisation import import_members, import_units
from flows.pulse import sync_bank
from flows.schedule import next_working_day
from storage.db import Database
from storage.models import Committee, Meeting, Member, Schedule, Unit, utcnow

TOP = "Eksempel Kommune"
UNITS = f"""unit_path,slack_channel_id,teams_channel_id,committee
{TOP},,,Hoved-MED
{TOP}/Social og Sundhed,,,MED Social og Sundhed
{TOP}/Social og Sundhed/Hjemmeplejen Nord,,,
{TOP}/Social og Sundhed/Hjemmeplejen Syd,,,
{TOP}/Børn og Unge,,,
{TOP}/Børn og Unge/Dagtilbud Solsikken,,,
"""

NORD = [
    "Mette Nielsen",
    "Søren Jensen",
    "Anne Hansen",
    "Lars Pedersen",
    "Kirsten Andersen",
    "Jens Christensen",
    "Hanne Larsen",
    "Peter Sørensen",
    "Susanne Rasmussen",
    "Niels Jørgensen",
]
SYD = [
    "Lone Petersen",
    "Henrik Madsen",
    "Birgitte Kristensen",
    "Michael Olsen",
    "Charlotte Thomsen",
    "Thomas Poulsen",
    "Camilla Johansen",
    "Rasmus Møller",
]
SOLSIKKEN = [
    "Maria Mortensen",
    "Jesper Knudsen",
    "Louise Jakobsen",
    "Mads Frederiksen",
    "Signe Østergaard",
    "Anders Ægidius",
]
# With the history only: a night team of three, below the threshold on its own, whose answers
# count with Social og Sundhed's; together with Syd's few it keeps Social og Sundhed's figures
# showable beside Nord's (Social og Sundhed minus Nord is then Syd and Nat, five or more).
NAT = ["Jonas Kjær", "Ida Bach", "Emil Friis"]
NAT_UNIT = f"{TOP}/Social og Sundhed/Hjemmeplejen Nat,,,\n"
LEADERS = [
    (f"{TOP}/Social og Sundhed", "Inger Holm", "leader;chair"),
    (f"{TOP}/Social og Sundhed", "Bo Dahl", "rep;vice_chair"),
    (TOP, "Karen Lund", "leader;chair;admin"),
    (TOP, "Ole Vestergaard", "rep;vice_chair"),
]


def _email(name: str) -> str:
    table = str.maketrans({"æ": "ae", "ø": "oe", "å": "aa", "Æ": "Ae", "Ø": "Oe", "Å": "Aa"})
    return name.translate(table).lower().replace(" ", ".") + "@eksempel.dk"


def members_csv(*, night_team: bool = False) -> str:
    lines = ["unit_path,email,name,role,slack_user_id,teams_user_id"]
    social = f"{TOP}/Social og Sundhed"
    teams = [
        (f"{social}/Hjemmeplejen Nord", NORD),
        (f"{social}/Hjemmeplejen Syd", SYD),
        (f"{TOP}/Børn og Unge/Dagtilbud Solsikken", SOLSIKKEN),
    ]
    if night_team:
        teams.append((f"{social}/Hjemmeplejen Nat", NAT))
    for unit, names in teams:
        for i, name in enumerate(names):
            role = "leader" if i == 0 else "member"
            lines.append(f"{unit},{_email(name)},{name},{role},,")
    for unit, name, role in LEADERS:
        lines.append(f"{unit},{_email(name)},{name},{role},,")
    return "\n".join(lines) + "\n"


def load_demo(
    session: Session,
    *,
    now: dt.datetime,
    tz: dt.tzinfo,
    questions_per_round: int = 2,
    night_team: bool = False,
) -> bool:
    """Load the demo organisation; returns False (and changes nothing) if units exist."""
    if session.scalar(select(func.count()).select_from(Unit)):
        return False
    import_units(session, UNITS + (NAT_UNIT if night_team else ""))
    import_members(session, members_csv(night_team=night_team))
    sync_bank(session)
    for unit in session.scalars(select(Unit).where(Unit.path.like(f"{TOP}/%/%"))):
        session.add(
            Schedule(
                unit_id=unit.id,
                cadence="weekly",
                weekday=0,
                local_time="09:00",
                questions_per_round=questions_per_round,
            )
        )
    committee = session.scalars(select(Committee).where(Committee.name == "Hoved-MED")).one()
    local_now = now.astimezone(tz)
    # A working day: never a weekend or a public holiday such as 1 January (issue 18).
    day = next_working_day((local_now + dt.timedelta(days=30)).date())
    starts = dt.datetime.combine(day, dt.time(13, 0), tzinfo=tz)
    session.add(
        Meeting(
            committee_id=committee.id,
            starts_at=starts,
            place="Rådhuset, mødelokale 2",
            proposal_deadline=starts - dt.timedelta(days=committee.proposal_deadline_days),
            agenda_release=starts - dt.timedelta(days=committee.agenda_release_days),
        )
    )
    session.flush()
    return True


def demo_member_count(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(Member)) or 0)


# The demo's rounds ask three questions: the sixteen dimensions come round every six weeks, well
# within the eight weeks a score is carried (flows.indices), so every chart line is unbroken.
DEMO_QUESTIONS = 3


def load_demo_with_history(settings: Settings, *, history: bool) -> str:
    """`medpuls demo`: the organisation and (with `history`) its last weeks, in one
    transaction, so a second run, or a run after a failed one, finds units and does nothing,
    or starts over. Returns the line the command prints."""
    from bot.app.wiring import build_router
    from bot.cli.demo_history import WEEKS, seed_history
    from flows.digest import queue_leader_digests
    from flows.pulse import scrub_closed_rounds

    db = Database(settings.database_url)
    now = utcnow()
    try:
        with db.session() as session:
            count = DEMO_QUESTIONS if history else 2
            if not load_demo(
                session,
                now=now,
                tz=settings.tz,
                questions_per_round=count,
                night_team=history,
            ):
                return "the database already has units; demo not loaded"
            if not history:
                return "demo municipality loaded"
            rounds = seed_history(session, settings, build_router(), now)
            digests = queue_leader_digests(session, settings, now, due_only=False)
        # The closed rounds' old row versions leave the database files, as after any close.
        scrub_closed_rounds(db, settings, now)
    finally:
        db.dispose()
    return (
        f"demo municipality loaded with {WEEKS} weeks of history: {rounds} closed rounds, "
        f"{digests} leader digest(s) queued"
    )

"""The database schema: SQLAlchemy 2 typed models.

Anonymity shapes this file (DESIGN.md, anonymity 2; docs/privacy.md): `Participation` says who
was asked and, once the round has closed, whether they answered; `Answer` holds what was
answered, keyed while the round is open by HMAC(subkey of MEDPULS_SECRET_KEY, round nonce ||
member id), and re-keyed at random and re-inserted in random order when the round closes and
the nonce is destroyed. The key itself is never stored in any table. Neither table has
timestamps or sequential ids.

Tables whose ids appear in buttons or outbox dedupe keys are `sqlite_autoincrement`: SQLite
otherwise hands a deleted row's id to the next row, and a button drawn for the old row would
then act on the new one (issue 13, finding 5).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from sqlalchemy import (
    JSON,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.sql.elements import ColumnElement

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator[dt.datetime]):
    """Aware datetimes in, aware UTC datetimes out, on SQLite as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(
        self, value: dt.datetime | None, dialect: Dialect
    ) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dt.datetime: UtcDateTime, dict[str, Any]: JSON}


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# --- organisation -------------------------------------------------------------------------


class Unit(Base):
    __tablename__ = "units"
    __table_args__ = {"sqlite_autoincrement": True}
    id: Mapped[int] = mapped_column(primary_key=True)
    path: Mapped[str] = mapped_column(String(500), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    slack_channel_id: Mapped[str | None] = mapped_column(String(40))
    teams_channel_id: Mapped[str | None] = mapped_column(String(200))
    parent: Mapped[Unit | None] = relationship(remote_side=[id], back_populates="children")
    children: Mapped[list[Unit]] = relationship(back_populates="parent")


class Committee(Base):
    """A MED committee; its chair and vice-chair are the members with those roles in `unit`.

    It covers its unit and every unit below it.
    """

    __tablename__ = "committees"
    __table_args__ = {"sqlite_autoincrement": True}
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), unique=True)
    # Thresholds in force for the units it covers; None means the installation's setting.
    min_group_size: Mapped[int | None]
    min_comment_group_size: Mapped[int | None]
    proposal_deadline_days: Mapped[int] = mapped_column(default=14)
    agenda_release_days: Mapped[int] = mapped_column(default=7)
    unit: Mapped[Unit] = relationship()


class Member(Base):
    __tablename__ = "members"
    __table_args__ = {"sqlite_autoincrement": True}
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str | None] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    # The language we write in: the person's own choice (`sprog en`), else what their Slack or
    # Teams client last told us, kept so that messages they did not ask for use it too.
    language: Mapped[str | None] = mapped_column(String(5))
    language_chosen: Mapped[bool] = mapped_column(default=False)
    slack_user_id: Mapped[str | None] = mapped_column(String(40), unique=True)
    slack_team_id: Mapped[str | None] = mapped_column(String(40))
    teams_user_id: Mapped[str | None] = mapped_column(String(200), unique=True)
    teams_aad_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    # Pulses paused until (inclusive) this local date: neither asked, reminded nor missing.
    paused_until: Mapped[dt.date | None] = mapped_column(Date)
    # Set when a platform tells us the person cannot be reached (left, blocked the app).
    unreachable: Mapped[str | None] = mapped_column(String(200))
    seen_privacy_notice: Mapped[bool] = mapped_column(default=False)
    erased: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    memberships: Mapped[list[Membership]] = relationship(back_populates="member")


class Membership(Base):
    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("member_id", "unit_id"), {"sqlite_autoincrement": True})
    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    member: Mapped[Member] = relationship(back_populates="memberships")
    unit: Mapped[Unit] = relationship()
    # One row per role, so "who leads" is an exact query (has_role), never a LIKE on a string.
    role_rows: Mapped[list[MembershipRole]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="MembershipRole.role"
    )

    @property
    def role_set(self) -> frozenset[str]:
        return frozenset(r.role for r in self.role_rows)

    @property
    def roles(self) -> str:
        """member, leader, chair, vice_chair, rep, admin; several joined by ";" (as in the CSV)."""
        return ";".join(sorted(self.role_set))

    @roles.setter
    def roles(self, value: str) -> None:
        wanted = {r.strip() for r in value.split(";") if r.strip()}
        # Keep the rows that stay: deleting and re-adding one role would meet the unique key.
        self.role_rows = [r for r in self.role_rows if r.role in wanted] + [
            MembershipRole(role=role) for role in sorted(wanted - self.role_set)
        ]

    @classmethod
    def has_role(cls, role: str) -> ColumnElement[bool]:
        """A WHERE clause: this membership includes `role`."""
        return cls.role_rows.any(MembershipRole.role == role)


class MembershipRole(Base):
    __tablename__ = "membership_roles"
    __table_args__ = (UniqueConstraint("membership_id", "role"), {"sqlite_autoincrement": True})
    id: Mapped[int] = mapped_column(primary_key=True)
    membership_id: Mapped[int] = mapped_column(
        ForeignKey("memberships.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[str] = mapped_column(String(20), index=True)


class ConversationReference(Base):
    """Where we can reach someone or something later (Teams proactive messages, Slack DMs)."""

    __tablename__ = "conversation_refs"
    __table_args__ = (UniqueConstraint("platform", "key"), {"sqlite_autoincrement": True})
    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(String(10))
    # "member:<id>", "user:<platform user id>", "team:<team id>", "channel:<id>"
    key: Mapped[str] = mapped_column(String(300))
    reference: Mapped[dict[str, Any]]
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class SlackInstallation(Base):
    __tablename__ = "slack_installations"
    __table_args__ = (UniqueConstraint("enterprise_id", "team_id"), {"sqlite_autoincrement": True})
    id: Mapped[int] = mapped_column(primary_key=True)
    enterprise_id: Mapped[str | None] = mapped_column(String(40))
    team_id: Mapped[str | None] = mapped_column(String(40))
    data: Mapped[dict[str, Any]]
    installed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


# --- pulse ------------------------------------------------------------------------------


class Question(Base):
    """A pulse question. Bank questions are synced from flows' data files; committees add theirs."""

    __tablename__ = "questions"
    id: Mapped[str] = mapped_column(String(80), primary_key=True)
    dimension: Mapped[str] = mapped_column(String(80))
    text_da: Mapped[str] = mapped_column(Text)
    text_en: Mapped[str] = mapped_column(Text)
    low_da: Mapped[str] = mapped_column(String(80))
    high_da: Mapped[str] = mapped_column(String(80))
    low_en: Mapped[str] = mapped_column(String(80))
    high_en: Mapped[str] = mapped_column(String(80))
    committee_id: Mapped[int | None] = mapped_column(ForeignKey("committees.id"))
    active: Mapped[bool] = mapped_column(default=True)


class Schedule(Base):
    __tablename__ = "schedules"
    __table_args__ = {"sqlite_autoincrement": True}
    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), unique=True)
    cadence: Mapped[str] = mapped_column(String(20), default="weekly")
    weekday: Mapped[int] = mapped_column(default=0)  # Monday = 0
    local_time: Mapped[str] = mapped_column(String(5), default="09:00")
    questions_per_round: Mapped[int] = mapped_column(default=2)
    open_hours: Mapped[int] = mapped_column(default=72)
    reminder_time: Mapped[str] = mapped_column(String(5), default="10:00")
    remind_everyone: Mapped[bool] = mapped_column(default=False)
    active: Mapped[bool] = mapped_column(default=True)
    starts_on: Mapped[dt.date | None] = mapped_column(Date)
    unit: Mapped[Unit] = relationship()


class PulseRound(Base):
    __tablename__ = "pulse_rounds"
    __table_args__ = (UniqueConstraint("schedule_id", "period"), {"sqlite_autoincrement": True})
    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    schedule_id: Mapped[int | None] = mapped_column(ForeignKey("schedules.id"))
    # The schedule period this round serves ("2026-W48"); None for rounds opened by hand.
    period: Mapped[str | None] = mapped_column(String(20))
    opened_at: Mapped[dt.datetime]
    closes_at: Mapped[dt.datetime]
    closed_at: Mapped[dt.datetime | None]
    # Per-round nonce mixed into the answers' keys. Useless without MEDPULS_SECRET_KEY, which
    # never enters the database; set to None when the round closes (flows.pulse.close_round).
    nonce: Mapped[bytes | None] = mapped_column(LargeBinary(64))
    # Closed, but its old row versions may still be in the database files (storage.scrub).
    scrub_pending: Mapped[bool] = mapped_column(default=False)
    min_group_size: Mapped[int]
    min_comment_group_size: Mapped[int]
    unit: Mapped[Unit] = relationship()
    questions: Mapped[list[RoundQuestion]] = relationship(
        order_by="RoundQuestion.position", cascade="all, delete-orphan"
    )

    @property
    def is_open(self) -> bool:
        return self.closed_at is None


class RoundQuestion(Base):
    __tablename__ = "round_questions"
    round_id: Mapped[int] = mapped_column(ForeignKey("pulse_rounds.id"), primary_key=True)
    question_id: Mapped[str] = mapped_column(ForeignKey("questions.id"), primary_key=True)
    position: Mapped[int]
    question: Mapped[Question] = relationship()


class Participation(Base):
    """Who was asked in a round and whether they answered; never what.

    `answered` is set at close only, for everyone at once (flows.pulse.close_round): a flag
    flipped with each answer would share its transaction, and so its timing, with the answer.
    While the round is open the app computes "has answered" from the answers' keys."""

    __tablename__ = "participations"
    round_id: Mapped[int] = mapped_column(ForeignKey("pulse_rounds.id"), primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), primary_key=True)
    answered: Mapped[bool] = mapped_column(default=False)
    reminders_sent: Mapped[int] = mapped_column(default=0)


class Answer(Base):
    """What was answered; no timestamp, no sequential id, no member."""

    __tablename__ = "answers"
    round_id: Mapped[int] = mapped_column(ForeignKey("pulse_rounds.id"), primary_key=True)
    question_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    respondent_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[int]
    comment: Mapped[str | None] = mapped_column(Text)
    hidden: Mapped[bool] = mapped_column(default=False)
    # Where a reply to the comment goes: the author's member id, sealed (AES-GCM, random nonce)
    # under a subkey of MEDPULS_SECRET_KEY, which no table holds (flows/replies/). None when
    # the author switched replies off.
    reply_capsule: Mapped[bytes | None] = mapped_column(LargeBinary(128))


class RoundResult(Base):
    """Aggregates of a closed round per question; kept after raw answers pass retention."""

    __tablename__ = "round_results"
    round_id: Mapped[int] = mapped_column(ForeignKey("pulse_rounds.id"), primary_key=True)
    question_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    dimension: Mapped[str] = mapped_column(String(80))
    respondents: Mapped[int]
    value_sum: Mapped[int]
    favourable: Mapped[int]
    neutral: Mapped[int]
    unfavourable: Mapped[int]


# --- agenda -------------------------------------------------------------------------------


class Meeting(Base):
    __tablename__ = "meetings"
    __table_args__ = {"sqlite_autoincrement": True}
    id: Mapped[int] = mapped_column(primary_key=True)
    committee_id: Mapped[int] = mapped_column(ForeignKey("committees.id"), index=True)
    starts_at: Mapped[dt.datetime]
    place: Mapped[str | None] = mapped_column(String(300))
    proposal_deadline: Mapped[dt.datetime]
    agenda_release: Mapped[dt.datetime]
    # Raised on every change of the agenda; approvals (table approvals) are of one version.
    agenda_version: Mapped[int] = mapped_column(default=1)
    published_at: Mapped[dt.datetime | None]
    committee: Mapped[Committee] = relationship()


class Proposal(Base):
    __tablename__ = "proposals"
    __table_args__ = {"sqlite_autoincrement": True}
    id: Mapped[int] = mapped_column(primary_key=True)
    committee_id: Mapped[int] = mapped_column(ForeignKey("committees.id"), index=True)
    meeting_id: Mapped[int | None] = mapped_column(ForeignKey("meetings.id"), index=True)
    proposer_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    # Shown to the committee in the proposer's name, or "anonymous to the committee".
    anonymous: Mapped[bool] = mapped_column(default=False)
    # A TR/AMR who presents the proposal in their own name.
    presenter_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    title: Mapped[str] = mapped_column(String(200))
    issue: Mapped[str] = mapped_column(Text)
    why: Mapped[str] = mapped_column(Text, default="")
    suggestion: Mapped[str | None] = mapped_column(Text)
    # new, on_agenda, later, merged, answered, declined, decided
    status: Mapped[str] = mapped_column(String(20), default="new")
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("proposals.id"))
    response: Mapped[str | None] = mapped_column(Text)
    recommendation: Mapped[str | None] = mapped_column(Text)
    decision: Mapped[str | None] = mapped_column(Text)
    follow_up_owner: Mapped[str | None] = mapped_column(String(200))
    follow_up_date: Mapped[dt.date | None] = mapped_column(Date)
    position: Mapped[int | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    committee: Mapped[Committee] = relationship()
    meeting: Mapped[Meeting | None] = relationship()


class ProposalAlerts(Base):
    """How a chair or vice-chair hears of new proposals: "each" (a DM per proposal) or "daily"."""

    __tablename__ = "proposal_alerts"
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), primary_key=True)
    mode: Mapped[str] = mapped_column(String(10), default="each")


class Support(Base):
    __tablename__ = "supports"
    proposal_id: Mapped[int] = mapped_column(ForeignKey("proposals.id"), primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), primary_key=True)


class Decision(Base):
    """What a meeting decided on one item (issue 18, point 4): a kind and the reason.

    Recorded by the chair or vice-chair during or after the meeting; it takes effect (the
    proposal closes, moves on or waits) when the minutes it belongs to are approved by both
    sides. `referred_to_id` is the committee a "referred" item goes to (parent or child).
    """

    __tablename__ = "decisions"
    __table_args__ = (
        UniqueConstraint("meeting_id", "proposal_id"),
        {"sqlite_autoincrement": True},
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id"), index=True)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("proposals.id"), index=True)
    # adopted, rejected, postponed, referred, noted
    kind: Mapped[str] = mapped_column(String(12))
    reason: Mapped[str] = mapped_column(Text)
    referred_to_id: Mapped[int | None] = mapped_column(ForeignKey("committees.id"))
    follow_up_owner: Mapped[str | None] = mapped_column(String(200))
    follow_up_date: Mapped[dt.date | None] = mapped_column(Date)
    # The item's place on the agenda when decided: the minutes keep the agenda's order even
    # after a postponed item has moved on to another meeting.
    position: Mapped[int | None]
    recorded_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Minutes(Base):
    """A meeting's minutes (beslutningsprotokol): its decisions, in one numbered version.

    Every change of a decision raises `version`; an approval (table approvals, subject
    "minutes:<meeting>:v<version>") is of one version only, so an edit after one side signed
    voids that signature. `published_at` is set once both sides have approved and the minutes
    went out; after that the decisions are fixed.
    """

    __tablename__ = "minutes"
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id"), primary_key=True)
    version: Mapped[int] = mapped_column(default=1)
    published_at: Mapped[dt.datetime | None]
class MeetingAbsence(Base):
    """A committee member's apologies (afbud) for one meeting; the agenda and minutes list them."""

    __tablename__ = "meeting_absences"
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id"), primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), primary_key=True)
    # The member themselves, or the chair who noted it for them.
    recorded_by: Mapped[int | None] = mapped_column(ForeignKey("members.id"))


# --- the team's action plan, anonymous replies (issue 19) -----------------------------------


class TeamAction(Base):
    """One action in a unit's plan. It names its owner (a member, or None for the whole team)
    and who added it, never anyone's answers; every change is an audit entry."""

    __tablename__ = "team_actions"
    __table_args__ = {"sqlite_autoincrement": True}  # ids in buttons and reminder keys
    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    text: Mapped[str] = mapped_column(Text)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    due_on: Mapped[dt.date] = mapped_column(Date)
    dimension: Mapped[str] = mapped_column(String(80))
    # planned, done, dropped ("continued" is planned again with a new date)
    status: Mapped[str] = mapped_column(String(10), default="planned")
    outcome: Mapped[str | None] = mapped_column(Text)
    reminders_sent: Mapped[int] = mapped_column(default=0)
    # Bumped on every change: the channel's plan post and the owner's messages key on it.
    version: Mapped[int] = mapped_column(default=1)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[dt.datetime | None]
    proposal_id: Mapped[int | None] = mapped_column(ForeignKey("proposals.id"))
    unit: Mapped[Unit] = relationship()


class CommentThread(Base):
    """A conversation on one published comment. It names the replier (a leader or chair) and
    the comment, never the comment's author; no timestamps, a random id."""

    __tablename__ = "comment_threads"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("pulse_rounds.id"), index=True)
    question_id: Mapped[str] = mapped_column(String(80))
    respondent_key: Mapped[str] = mapped_column(String(64))
    replier_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    # open, ended
    status: Mapped[str] = mapped_column(String(10), default="open")
    ended_by: Mapped[str | None] = mapped_column(String(10))


class ThreadMessage(Base):
    """One message of a comment conversation; `side` is "replier" or "author", nothing more."""

    __tablename__ = "thread_messages"
    thread_id: Mapped[str] = mapped_column(ForeignKey("comment_threads.id"), primary_key=True)
    seq: Mapped[int] = mapped_column(primary_key=True)
    side: Mapped[str] = mapped_column(String(10))
    text: Mapped[str] = mapped_column(Text)


# --- governance, digests ------------------------------------------------------------------


class ThresholdChange(Base):
    """A requested change of a committee's thresholds; lowering needs chair and vice-chair."""

    __tablename__ = "threshold_changes"
    # Ids appear in buttons and dedupe keys: never reused, also on SQLite.
    __table_args__ = {"sqlite_autoincrement": True}
    id: Mapped[int] = mapped_column(primary_key=True)
    committee_id: Mapped[int] = mapped_column(ForeignKey("committees.id"))
    kind: Mapped[str] = mapped_column(String(10))  # "score" or "comment"
    value: Mapped[int]
    requested_by: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    effective_at: Mapped[dt.datetime | None]
    # None while waiting; "in_force", "rejected" or "superseded" (kept, so ids stay unique).
    outcome: Mapped[str | None] = mapped_column(String(12))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Approval(Base):
    """One person's approval of one exact thing, signing for one side of the committee.

    `subject` names the thing with everything the approver was shown ("threshold:7:score=4",
    "agenda:3:v2"): an approval of something else, or of an older version, never counts.
    A thing is approved when one person from each side has signed; one person signs once.
    """

    __tablename__ = "approvals"
    __table_args__ = (UniqueConstraint("subject", "member_id"), {"sqlite_autoincrement": True})
    id: Mapped[int] = mapped_column(primary_key=True)
    committee_id: Mapped[int] = mapped_column(ForeignKey("committees.id"), index=True)
    subject: Mapped[str] = mapped_column(String(200), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    side: Mapped[str] = mapped_column(String(12))  # "management" or "employee"
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class HideRequest(Base):
    """A request to keep one comment from publication; it needs one person from each side."""

    __tablename__ = "hide_requests"
    __table_args__ = {"sqlite_autoincrement": True}
    id: Mapped[int] = mapped_column(primary_key=True)
    committee_id: Mapped[int] = mapped_column(ForeignKey("committees.id"))
    # The answer row: its key was re-drawn at random when the round closed; it points to nobody.
    round_id: Mapped[int] = mapped_column(ForeignKey("pulse_rounds.id"))
    question_id: Mapped[str] = mapped_column(String(80))
    respondent_key: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text)
    requested_by: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    # None while waiting; "hidden" or "rejected".
    outcome: Mapped[str | None] = mapped_column(String(12))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Publication(Base):
    """Figures shown (or withheld) by any path: the sets of cells they cover, never a value.

    A cell is a round's turnout ("<round id>:") or a round's answers to one question
    ("<round id>:<question id>"); flows.ledger decides every new figure against all shown ones.
    A row is one figure, or the figures one digest showed for a week and dimension.
    """

    __tablename__ = "publications"
    id: Mapped[int] = mapped_column(primary_key=True)
    # A digest of the sets: the same figures published twice are one row.
    key: Mapped[str] = mapped_column(String(64), unique=True)
    # The local ISO week ("2026-W10") of the figure's rounds: what is loaded to decide the next.
    week: Mapped[str] = mapped_column(String(10), index=True)
    path: Mapped[str] = mapped_column(String(20))
    # One list of cells per figure.
    cells: Mapped[list[list[str]]] = mapped_column(JSON)
    # The fewest people any of its figures covers.
    people: Mapped[int]
    shown: Mapped[bool]
    # Why it was withheld: the rule, never the other figures (flows.disclosure reasons).
    reason: Mapped[str | None] = mapped_column(String(30))
    # A comments post: the fingerprints of exactly the comments it showed, in its order
    # (flows/summary_comments.py), never their text; "show all" shows these and no others.
    comments: Mapped[list[str] | None] = mapped_column(JSON, default=None)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class DigestPreference(Base):
    __tablename__ = "digest_preferences"
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), primary_key=True)
    weekday: Mapped[int] = mapped_column(default=0)
    local_time: Mapped[str] = mapped_column(String(5), default="08:00")
    paused: Mapped[bool] = mapped_column(default=False)


class StoredImage(Base):
    """PNG charts that adapters upload or serve; referenced by `Image.image_id`."""

    __tablename__ = "images"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    png: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


# --- delivery and bookkeeping ---------------------------------------------------------------


# A row's life, as docs/delivery.md draws it: queued pending; claimed by a worker; sending once
# the request is about to leave; then sent, or back to pending (retry), dead (permanent error,
# tries used up) or unknown (the request may have arrived). skipped: no route, or no longer
# wanted. forgotten: an operator settled a dead or unknown row without sending it again.
OutboxStatus = Literal[
    "pending", "claimed", "sending", "sent", "skipped", "dead", "unknown", "forgotten"
]


class OutboxMessage(Base):
    """One outbound message. `dedupe_key` is unique: queueing twice sends once."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_due", "status", "next_attempt_at"),
        {"sqlite_autoincrement": True},
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    op: Mapped[str] = mapped_column(String(10), default="post")  # post, update
    # member, channel, conversation, ref (op=update: "<platform>|<conversation>|<message id>")
    address_kind: Mapped[str] = mapped_column(String(20))
    address: Mapped[str] = mapped_column(String(300))
    platform: Mapped[str | None] = mapped_column(String(10))
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    purpose: Mapped[str] = mapped_column(String(40), default="")
    round_id: Mapped[int | None] = mapped_column(index=True)
    # A reply to the addressee's own action: goes out at any hour (MEDPULS_WORKING_HOURS).
    reply: Mapped[bool] = mapped_column(default=False)
    status: Mapped[OutboxStatus] = mapped_column(String(10), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    claimed_by: Mapped[str | None] = mapped_column(String(80))
    claimed_at: Mapped[dt.datetime | None]
    sent_at: Mapped[dt.datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(500))
    message_ref: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class AuditEntry(Base):
    __tablename__ = "audit_log"
    __table_args__ = {"sqlite_autoincrement": True}
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    action: Mapped[str] = mapped_column(String(60))
    subject: Mapped[str] = mapped_column(String(200), default="")
    allowed: Mapped[bool] = mapped_column(default=True)
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class ProcessedEvent(Base):
    """Inbound deliveries already handled: a keyed hash of the platform's delivery id (never the
    id, the person or the choice; storage/dedupe.py), kept for an hour (DEDUPE_TTL there)."""

    __tablename__ = "processed_events"
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Lease(Base):
    """A named lease (the scheduler's), renewed in short transactions: works behind pgbouncer."""

    __tablename__ = "leases"
    name: Mapped[str] = mapped_column(String(60), primary_key=True)
    holder: Mapped[str] = mapped_column(String(120))
    expires_at: Mapped[dt.datetime]


class RateBucket(Base):
    """A shared rate limit (one platform scope: workspace, tenant, conversation), as GCRA.

    `tat` is the theoretical arrival time (epoch seconds, the database's clock): each send
    reserves the next slot in one short UPDATE, so several workers share the limit without
    session-level locks (works behind a transaction-pooling pgbouncer). A 429 moves `tat` past
    the pause, which every worker then waits out."""

    __tablename__ = "rate_buckets"
    scope: Mapped[str] = mapped_column(String(300), primary_key=True)
    tat: Mapped[float] = mapped_column(Float)


class LocalMessage(Base):
    """Messages shown by the built-in web chat (the local platform's own 'server')."""

    __tablename__ = "local_messages"
    __table_args__ = {"sqlite_autoincrement": True}
    id: Mapped[int] = mapped_column(primary_key=True)
    # "member:<id>" or "channel:<unit id>"
    conversation: Mapped[str] = mapped_column(String(100), index=True)
    dedupe_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    payload: Mapped[dict[str, Any]]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

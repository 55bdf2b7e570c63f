"""Who may see which results, and the audit log of every view (DESIGN.md, anonymity 5).

Leaders see their own unit and the units below it. The chair and vice-chair of a committee see
its unit and the units below it. An admin configures the installation and sees no more results
than the leader of the top unit: gated figures, never an answer. Every view of results, allowed
or refused, is written to the audit log, and the log itself shows who looked, never what was
answered.

Results shown here go through the disclosure gate (flows.disclosure.decide) over the unit and
its direct children, with the figures the channel summaries already published counted as known.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.core.errors import NotAllowed, NotFound, Refused
from bot.core.events import CommandInvoked
from bot.core.i18n import Translator
from bot.core.messages import Divider, Fact, Facts, Header, Message, Reply, SmallPrint, Text
from bot.core.router import FlowContext, Router
from flows.disclosure import Cell, decide
from flows.ledger import Ledger, round_week, turnout_cell
from flows.ledger import cell as ledger_cell
from flows.pooling import standing_words
from flows.schedule import DEFAULT_TZ
from storage.audit import audit_entry
from storage.models import (
    AuditEntry,
    Committee,
    Member,
    Membership,
    Participation,
    PulseRound,
    Question,
    RoundResult,
    Unit,
    utcnow,
)
from storage.queries import subtree, unit_by_path

log = logging.getLogger("medpuls.access")

AUDIT_CHAT_LIMIT = 20
RESULT_ROLES = frozenset({"leader"})
COMMITTEE_ROLES = frozenset({"chair", "vice_chair"})


# --- who sees what --------------------------------------------------------------------------


def _root_of(unit: Unit) -> Unit:
    while unit.parent is not None:
        unit = unit.parent
    return unit


def results_roots(session: Session, member: Member) -> list[Unit]:
    """The units whose subtrees the member may see results for."""
    if member.erased:
        return []
    committee_units = set(session.scalars(select(Committee.unit_id)))
    roots: list[Unit] = []
    memberships = session.scalars(select(Membership).where(Membership.member_id == member.id))
    for ms in memberships:
        roles = ms.role_set
        leads = bool(roles & RESULT_ROLES)
        chairs_committee = bool(roles & COMMITTEE_ROLES) and ms.unit_id in committee_units
        if leads or chairs_committee:
            roots.append(ms.unit)
        if "admin" in roles:
            # No more than the top unit's leader sees: every unit, through the gate.
            roots.append(_root_of(ms.unit))
    return roots


def is_within(unit: Unit, root: Unit) -> bool:
    current: Unit | None = unit
    while current is not None:
        if current.id == root.id:
            return True
        current = current.parent
    return False


def can_view_results(session: Session, member: Member | None, unit: Unit) -> bool:
    if member is None:
        return False
    return any(is_within(unit, root) for root in results_roots(session, member))


def is_admin(session: Session, member: Member | None) -> bool:
    if member is None or member.erased:
        return False
    rows = session.scalars(select(Membership).where(Membership.member_id == member.id))
    return any("admin" in ms.role_set for ms in rows)


def refuse(
    session: Session,
    message: str,
    actor: Member | None,
    action: str,
    subject: str,
    *,
    now: dt.datetime | None = None,
    **detail: Any,
) -> Refused:
    """Audit a refusal and return the error to raise.

    The entry is added to the session, which keeps it if the caller catches the error and
    commits; the error carries a twin for the chat core, which rolls the refused turn back.
    """
    session.add(audit_entry(actor, action, subject, allowed=False, now=now, **detail))
    twin = audit_entry(actor, action, subject, allowed=False, now=now, **detail)
    log.info(
        "refused",
        extra={"member": actor.id if actor else None, "action": action, "subject": subject},
    )
    return Refused(message, twin)


def require_results_access(
    ctx_or_session: FlowContext | Session, member: Member | None, unit: Unit, what: str
) -> None:
    """Raise NotAllowed unless `member` may see `what` for `unit`; audit the outcome either way."""
    if isinstance(ctx_or_session, FlowContext):
        session, now = ctx_or_session.session, ctx_or_session.now
        message = ctx_or_session.t("access.refused", unit=unit.name)
    else:
        session, now, message = ctx_or_session, utcnow(), f"no access to results of {unit.path}"
    subject = f"unit:{unit.id}"
    if not can_view_results(session, member, unit):
        raise refuse(session, message, member, what, subject, now=now, unit=unit.path)
    session.add(audit_entry(member, what, subject, allowed=True, now=now, unit=unit.path))


# --- the results a leader sees --------------------------------------------------------------


@dataclass(frozen=True)
class Figure:
    respondents: int
    mean: float


@dataclass(frozen=True)
class QuestionView:
    question_id: str
    # unit id -> figure, for the unit and its direct children the gate lets out
    shown: dict[int, Figure]


@dataclass(frozen=True)
class ResultsView:
    unit: Unit
    children: list[Unit]
    batch: list[PulseRound]
    questions: list[QuestionView]
    respondents: int | None


def latest_batch(
    session: Session, units: Sequence[Unit], before: dt.datetime | None = None
) -> list[PulseRound]:
    """The closed rounds, anywhere in the organisation, that were opened together (one period,
    or one `run-now`) with the most recent closed round of `units` (opened before `before`)."""
    closed = select(PulseRound).where(PulseRound.closed_at.is_not(None))
    mine = closed.where(PulseRound.unit_id.in_([u.id for u in units]))
    if before is not None:
        mine = mine.where(PulseRound.opened_at < before)
    latest = session.scalars(mine.order_by(PulseRound.opened_at.desc()).limit(1)).first()
    if latest is None:
        return []
    if latest.period is not None:
        together = closed.where(PulseRound.period == latest.period)
    else:
        together = closed.where(
            PulseRound.period.is_(None), PulseRound.opened_at == latest.opened_at
        )
    return list(session.scalars(together.order_by(PulseRound.unit_id)))


def _round_respondents(session: Session, round_ids: Sequence[int]) -> dict[int, int]:
    rows = session.execute(
        select(Participation.round_id, func.count())
        .where(Participation.round_id.in_(round_ids), Participation.answered.is_(True))
        .group_by(Participation.round_id)
    )
    return {rid: int(n) for rid, n in rows}


def _cells_for(units: Sequence[Unit], top: Unit, own: dict[int, int]) -> list[Cell]:
    """Cells of the whole subtree: each unit's total, and its own members as a child cell."""
    parent_of = {u.id: u.parent_id for u in units}
    total = dict.fromkeys(parent_of, 0)
    for uid, n in own.items():
        node: int | None = uid
        while node is not None and node in total:
            total[node] += n
            node = parent_of[node] if node != top.id else None
    cells = []
    for u in units:
        parent = None if u.id == top.id else f"unit:{u.parent_id}"
        cells.append(Cell(f"unit:{u.id}", total[u.id], parent))
        cells.append(Cell(f"own:{u.id}", own.get(u.id, 0), f"unit:{u.id}"))
    return cells


def _published(
    batch: Sequence[PulseRound],
    results: dict[tuple[int, str], RoundResult],
    question_id: str | None,
    respondents: dict[int, int],
) -> set[str]:
    """Keys the channel summaries of these rounds showed: each round's own members' figure."""
    keys = set()
    for r in batch:
        if respondents.get(r.id, 0) < r.min_group_size:
            continue
        if question_id is None:
            keys.add(f"own:{r.unit_id}")
            continue
        res = results.get((r.id, question_id))
        if res is not None and res.respondents >= r.min_group_size:
            keys.add(f"own:{r.unit_id}")
    return keys


def _decide_batch(
    session: Session,
    top: Unit,
    units: Sequence[Unit],
    batch: Sequence[PulseRound],
    history: dict[str | None, set[str]],
) -> tuple[dict[str | None, frozenset[str]], dict[str | None, dict[int, Figure]], int]:
    """Per question (and None for participation): the shown keys and every unit's figure."""
    min_size = max(r.min_group_size for r in batch)
    respondents = _round_respondents(session, [r.id for r in batch])
    results = {
        (res.round_id, res.question_id): res
        for res in session.scalars(
            select(RoundResult).where(RoundResult.round_id.in_([r.id for r in batch]))
        )
    }
    question_ids = sorted({qid for _, qid in results})
    shown: dict[str | None, frozenset[str]] = {}
    figures: dict[str | None, dict[int, Figure]] = {}
    by_unit = {r.unit_id: r for r in batch}
    for qid in [None, *question_ids]:
        own: dict[int, int] = {}
        sums: dict[int, int] = {}
        for uid, r in by_unit.items():
            if qid is None:
                own[uid] = respondents.get(r.id, 0)
                continue
            res = results.get((r.id, qid))
            if res is not None:
                own[uid], sums[uid] = res.respondents, res.value_sum
        cells = _cells_for(units, top, own)
        known = _published(batch, results, qid, respondents) | history.get(qid, set())
        decision = decide(cells, min_size, history=[known])
        shown[qid] = decision.shown
        unit_figures: dict[int, Figure] = {}
        for cell in cells:
            if not cell.key.startswith("unit:") or cell.respondents == 0:
                continue
            uid = int(cell.key.split(":")[1])
            value = sum(sums.get(u.id, 0) for u in subtree_of(units, uid))
            unit_figures[uid] = Figure(cell.respondents, value / cell.respondents)
        figures[qid] = unit_figures
    total = sum(respondents.values())
    return shown, figures, total


def _gate_with_ledger(
    session: Session,
    units: Sequence[Unit],
    batch: Sequence[PulseRound],
    visible: Sequence[Unit],
    shown: dict[str | None, frozenset[str]],
    figures: dict[str | None, dict[int, Figure]],
) -> dict[str | None, frozenset[str]]:
    """The figures this view shows, each decided against everything published (flows.ledger):
    channel summaries, digests and other views, to anyone."""
    closed = [r.closed_at or r.closes_at for r in batch]
    ledger = Ledger(
        session,
        max(r.min_group_size for r in batch),
        since=min(closed),
        until=max(closed),
        tz=DEFAULT_TZ,
    )
    week = round_week(min(closed), DEFAULT_TZ)
    rounds_of_unit: dict[int, list[int]] = {}
    for r in batch:
        rounds_of_unit.setdefault(r.unit_id, []).append(r.id)
    out: dict[str | None, frozenset[str]] = {}
    for qid, keys in shown.items():
        kept = set(keys)
        wanted = [u for u in visible if f"unit:{u.id}" in keys and u.id in figures.get(qid, {})]
        cells_of = {
            u.id: [
                turnout_cell(rid) if qid is None else ledger_cell(rid, qid)
                for v in subtree_of(units, u.id)
                for rid in rounds_of_unit.get(v.id, [])
            ]
            for u in wanted
        }
        for u in sorted(wanted, key=lambda u: len(cells_of[u.id])):
            if not ledger.decide("results", cells_of[u.id], week=week).shown:
                kept.discard(f"unit:{u.id}")
        out[qid] = frozenset(kept)
    ledger.flush()
    return out


def subtree_of(units: Sequence[Unit], unit_id: int) -> list[Unit]:
    children: dict[int | None, list[Unit]] = {}
    for u in units:
        children.setdefault(u.parent_id, []).append(u)
    by_id = {u.id: u for u in units}
    out, stack = [], [by_id[unit_id]]
    while stack:
        current = stack.pop()
        out.append(current)
        stack.extend(children.get(current.id, []))
    return out


def results_view(session: Session, unit: Unit) -> ResultsView | None:
    """The latest closed round's figures for the unit and its children, as the gate allows.

    The gate decides over the whole organisation, not the asked-for subtree: every leader's
    view of a round is then a part of one safe decision, and no two views combine to reveal
    what either withholds.
    """
    batch = latest_batch(session, subtree(session, unit))
    if not batch:
        return None
    top = _root_of(unit)
    units = subtree(session, top)
    # What the previous round let out counts as known now (cross-round suppression).
    previous = latest_batch(session, units, before=min(r.opened_at for r in batch))
    history: dict[str | None, set[str]] = {}
    if previous:
        before, _, _ = _decide_batch(session, top, units, previous, {})
        history = {k: set(v) for k, v in before.items()}
    shown, figures, _ = _decide_batch(session, top, units, batch, history)
    children = [u for u in units if u.parent_id == unit.id]
    visible = [unit, *children]
    shown = _gate_with_ledger(session, units, batch, visible, shown, figures)
    questions = []
    # Questions only other parts of the organisation were asked have nothing to say here.
    for qid in sorted(k for k in shown if k is not None and unit.id in figures[k]):
        questions.append(
            QuestionView(
                qid,
                {
                    u.id: figures[qid][u.id]
                    for u in visible
                    if f"unit:{u.id}" in shown[qid] and u.id in figures[qid]
                },
            )
        )
    part = figures[None].get(unit.id)
    respondents = part.respondents if part and f"unit:{unit.id}" in shown[None] else None
    return ResultsView(unit, children, batch, questions, respondents)


def results_message(view: ResultsView, session: Session, t: Translator) -> Message:
    parts: list[Any] = [Header(text=t("access.results_title", unit=view.unit.name))]
    if view.respondents is None:
        # Where the answers count instead, in the words the closed DM uses (issue 17, point 4).
        minimum = max(r.min_group_size for r in view.batch)
        parts.append(Text(text=standing_words(view.unit, minimum, t)))
    else:
        parts.append(Text(text=t("access.results_respondents", n=view.respondents)))
    texts = {
        q.id: (q.text_en if t.lang == "en" else q.text_da)
        for q in session.scalars(
            select(Question).where(Question.id.in_([qv.question_id for qv in view.questions]))
        )
    }
    for qv in view.questions:
        facts = []
        for u in [view.unit, *view.children]:
            figure = qv.shown.get(u.id)
            value = (
                t("access.results_value", mean=t.number(figure.mean), n=figure.respondents)
                if figure
                else t("common.too_few")
            )
            facts.append(Fact(label=u.name, value=value))
        parts.extend(
            [
                Divider(),
                Text(text=f"*{texts.get(qv.question_id, qv.question_id)}*"),
                Facts(facts=facts),
            ]
        )
    parts.append(SmallPrint(text=t("access.results_note")))
    summary = t("access.results_title", unit=view.unit.name)
    return Message(summary=summary, parts=parts)


def find_unit(session: Session, text: str) -> Unit:
    """A unit by its path, or by its name where that name is unique."""
    text = text.strip()
    unit = unit_by_path(session, text)
    if unit is not None:
        return unit
    named = session.scalars(select(Unit).where(func.lower(Unit.name) == text.lower())).all()
    if len(named) == 1:
        return named[0]
    raise NotFound(text)


def on_results(ctx: FlowContext, event: CommandInvoked) -> Reply:
    t = ctx.t
    if ctx.member is None:
        raise NotAllowed(t("common.unknown_user"))
    argument = event.text.strip().split(maxsplit=1)
    wanted = argument[1] if len(argument) > 1 else ""
    if wanted:
        try:
            unit = find_unit(ctx.session, wanted)
        except NotFound:
            raise NotFound(t("access.no_such_unit", unit=wanted)) from None
    else:
        roots = results_roots(ctx.session, ctx.member)
        if not roots:
            require_results_access(ctx, ctx.member, _any_unit_of(ctx), "results.view")
            raise NotAllowed(t("common.not_allowed"))
        unit = roots[0]
    require_results_access(ctx, ctx.member, unit, "results.view")
    view = results_view(ctx.session, unit)
    if view is None:
        return Reply.note(t("access.no_results", unit=unit.name))
    return Reply(notice=results_message(view, ctx.session, t))


def _any_unit_of(ctx: FlowContext) -> Unit:
    assert ctx.member is not None
    ms = ctx.session.scalars(
        select(Membership).where(Membership.member_id == ctx.member.id)
    ).first()
    if ms is None:
        raise NotAllowed(ctx.t("common.not_allowed"))
    return ms.unit


# --- the audit log, for admins --------------------------------------------------------------


@dataclass(frozen=True)
class AuditLine:
    at: dt.datetime
    actor: str
    action: str
    subject: str
    allowed: bool
    detail: dict[str, Any] | None


def audit_lines(
    session: Session, *, since: dt.datetime | None = None, limit: int = 100
) -> list[AuditLine]:
    """Newest first. Actors are shown by name (or as erased); the log holds no answers."""
    query = select(AuditEntry, Member).outerjoin(Member, Member.id == AuditEntry.actor_id)
    if since is not None:
        query = query.where(AuditEntry.at >= since)
    rows = session.execute(
        query.order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(limit)
    ).all()
    out = []
    for entry, member in rows:
        if member is None:
            actor = "system"
        elif member.erased:
            actor = f"#{member.id} (erased)"
        else:
            actor = f"{member.name} (#{member.id})"
        out.append(
            AuditLine(entry.at, actor, entry.action, entry.subject, entry.allowed, entry.detail)
        )
    return out


def on_audit(ctx: FlowContext, event: CommandInvoked) -> Reply:
    t = ctx.t
    if not is_admin(ctx.session, ctx.member):
        message = t("access.audit_admins_only")
        raise refuse(ctx.session, message, ctx.member, "audit.view", "audit_log", now=ctx.now)
    ctx.session.add(audit_entry(ctx.member, "audit.view", "audit_log", allowed=True, now=ctx.now))
    lines = audit_lines(ctx.session, limit=AUDIT_CHAT_LIMIT)
    tz = ctx.settings.tz
    facts = [
        Fact(
            label=f"{t.date(line.at.astimezone(tz))} {t.time(line.at.astimezone(tz))}",
            value=t(
                "access.audit_line" if line.allowed else "access.audit_line_refused",
                actor=line.actor,
                action=line.action,
                subject=line.subject,
            ),
        )
        for line in lines
    ]
    parts: list[Any] = [Header(text=t.plural("access.audit_title", len(lines)))]
    parts.append(Facts(facts=facts) if facts else Text(text=t("access.audit_empty")))
    return Reply(notice=Message(summary=t.plural("access.audit_title", len(lines)), parts=parts))


def register(router: Router) -> None:
    router.command("resultater", "results")(on_results)
    router.command("revision", "audit")(on_audit)

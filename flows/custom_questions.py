"""A committee's own pulse questions: added from the CLI (flags or a YAML file) or by a form in
chat, stored in the questions table with the committee's id, and rotated into the rounds of
every unit in the committee's area (flows.pulse.unit_bank).

Who may add one: a member with the admin role, or the committee's chair or vice-chair (the
members holding those roles in the committee's unit). From chat, a question joins the rotation
only once one person from each side of the committee has approved it (flows.approvals): the
one who wrote it signs for their side, and the other side is asked by DM with the question's
exact text; the approval is bound to that text.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from bot.core.actions import ActionData
from bot.core.errors import BankError, CannotSign, InvalidInput
from bot.core.events import ButtonClicked, CommandInvoked, FormSubmitted
from bot.core.i18n import Translator, chosen_language, translator
from bot.core.messages import (
    Button,
    Buttons,
    Field_,
    Form,
    Header,
    Message,
    Option,
    Reply,
    SmallPrint,
    Text,
)
from bot.core.outbox import to_member
from bot.core.router import FlowContext, Router
from flows.approvals import is_approved, missing_sides, sign, signatures, who_may_sign
from flows.governance.sides import may_decide, speaking_to, tell, updated
from flows.question_bank import CUSTOM_DIMENSION, custom_question
from storage.models import Approval, Committee, Member, Membership, Question

EDITOR_ROLES = frozenset({"chair", "vice_chair"})


class QuestionsForm(ActionData):
    kind = "questions.form"


class QuestionApprove(ActionData):
    """Approve question `q` with exactly the text whose digest is `h`."""

    kind = "questions.approve"
    q: str
    h: str


class QuestionReject(ActionData):
    kind = "questions.reject"
    q: str
    h: str


def text_digest(q: Question) -> str:
    """A short digest of everything the approver is shown."""
    shown = "\x1f".join(
        (q.id, q.dimension, q.text_da, q.text_en, q.low_da, q.high_da, q.low_en, q.high_en)
    )
    return hashlib.sha256(shown.encode()).hexdigest()[:16]


def question_subject(q: Question) -> str:
    return f"question:{q.id}:{text_digest(q)}"


def add_custom_question(
    session: Session,
    committee: Committee,
    *,
    id: str,
    da: str,
    en: str,
    low: Mapping[str, str],
    high: Mapping[str, str],
    dimension: str = CUSTOM_DIMENSION,
) -> Question:
    """Validate and store a committee's question; InvalidInput says what is wrong."""
    try:
        q = custom_question(id=id, da=da, en=en, low=low, high=high, dimension=dimension)
    except BankError as err:
        raise InvalidInput(str(err)) from None
    if session.get(Question, q.id) is not None:
        raise InvalidInput(f"a question with id {q.id!r} already exists")
    row = Question(
        id=q.id,
        dimension=q.dimension,
        text_da=q.da,
        text_en=q.en,
        low_da=q.low.da,
        high_da=q.high.da,
        low_en=q.low.en,
        high_en=q.high.en,
        committee_id=committee.id,
        active=True,
    )
    session.add(row)
    session.flush()
    return row


def questions_in_file(path: Path) -> list[tuple[int, dict[str, Any]]]:
    """The questions of a YAML file (a list, or `questions:` holding one), with their lines.

    Each item has id, da, en, low {da, en}, high {da, en} and optionally dimension.
    """
    try:
        root = yaml.compose(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark
        where = f":{mark.line + 1}" if mark is not None else ""
        raise InvalidInput(f"{path}{where}: invalid YAML: {err.problem}") from None
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    items_node = root
    if isinstance(data, dict) and isinstance(root, yaml.MappingNode):
        data = data.get("questions")
        items_node = next(
            (v for k, v in root.value if isinstance(k, yaml.ScalarNode) and k.value == "questions"),
            None,
        )
    if not isinstance(data, list) or not isinstance(items_node, yaml.SequenceNode):
        raise InvalidInput(f"{path}:1: expected a list of questions (or `questions:` with one)")
    out: list[tuple[int, dict[str, Any]]] = []
    for item, node in zip(data, items_node.value, strict=True):
        line = int(node.start_mark.line) + 1
        if not isinstance(item, dict):
            raise InvalidInput(f"{path}:{line}: a question must be a mapping")
        out.append((line, item))
    return out


def add_from_file(session: Session, committee: Committee, path: Path) -> list[Question]:
    """Add every question of the file, or none: the first bad one is reported with its line."""
    added = []
    for line, item in questions_in_file(path):
        try:
            added.append(
                add_custom_question(
                    session,
                    committee,
                    id=str(item.get("id") or ""),
                    da=str(item.get("da") or ""),
                    en=str(item.get("en") or ""),
                    low=_ends(item.get("low")),
                    high=_ends(item.get("high")),
                    dimension=str(item.get("dimension") or CUSTOM_DIMENSION),
                )
            )
        except InvalidInput as err:
            raise InvalidInput(f"{path}:{line}: {err}") from None
    return added


def _ends(value: object) -> dict[str, str]:
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}


def committee_questions(session: Session, committee: Committee | None = None) -> list[Question]:
    """Committees' own questions (all, or one committee's), by id."""
    query = select(Question).where(Question.committee_id.is_not(None)).order_by(Question.id)
    if committee is not None:
        query = query.where(Question.committee_id == committee.id)
    return list(session.scalars(query))


def editable_committees(session: Session, member: Member) -> list[Committee]:
    """The committees whose questions the member may add to."""
    memberships = session.scalars(select(Membership).where(Membership.member_id == member.id)).all()
    committees = list(session.scalars(select(Committee).order_by(Committee.name)))
    if any("admin" in ms.role_set for ms in memberships):
        return committees
    led = {ms.unit_id for ms in memberships if ms.role_set & EDITOR_ROLES}
    return [c for c in committees if c.unit_id in led]


# --- chat ---------------------------------------------------------------------------------


FIELDS = ("name", "da", "en", "low_da", "high_da", "low_en", "high_en")
SHORT_LIMITS = {name: 80 for name in FIELDS[3:]}


def question_form(ctx: FlowContext, committees: Sequence[Committee]) -> Form:
    t, da, en = ctx.t, translator("da"), translator("en")
    initial = {
        "low_da": da("pulse.questions_default_low"),
        "high_da": da("pulse.questions_default_high"),
        "low_en": en("pulse.questions_default_low"),
        "high_en": en("pulse.questions_default_high"),
    }
    fields = [
        Field_(
            name="committee",
            label=t("pulse.questions_committee"),
            kind="choice",
            options=[Option(value=str(c.id), label=c.name) for c in committees],
            initial=str(committees[0].id),
        ),
        Field_(
            name="name",
            label=t("pulse.questions_name"),
            hint=t("pulse.questions_name_hint"),
            max_length=60,
        ),
    ]
    for name in FIELDS[1:]:
        long = name in ("da", "en")
        fields.append(
            Field_(
                name=name,
                label=t(f"pulse.questions_{name}"),
                kind="textarea" if long else "text",
                initial=initial.get(name),
                max_length=500 if long else 80,
            )
        )
    return Form(
        data=QuestionsForm().pack(),
        title=t("pulse.questions_title"),
        submit=t("pulse.questions_submit"),
        intro=t("pulse.questions_intro"),
        fields=fields,
    )


def on_questions_command(ctx: FlowContext, event: CommandInvoked) -> Reply:
    if ctx.member is None:
        return Reply.note(ctx.t("common.unknown_user"))
    committees = editable_committees(ctx.session, ctx.member)
    if not committees:
        ctx.audit("questions.form", allowed=False)
        return Reply.note(ctx.t("pulse.questions_not_allowed"))
    return Reply(form=question_form(ctx, committees))


def on_questions_submit(ctx: FlowContext, event: FormSubmitted, data: QuestionsForm) -> Reply:
    if ctx.member is None:
        return Reply.note(ctx.t("common.unknown_user"))
    values = {k: (v or "").strip() for k, v in event.values.items()}
    allowed = {str(c.id): c for c in editable_committees(ctx.session, ctx.member)}
    committee = allowed.get(values.get("committee", ""))
    if committee is None:
        ctx.audit("questions.add", values.get("committee", ""), allowed=False)
        return Reply.note(ctx.t("pulse.questions_not_allowed"))
    name = values.get("name", "").lower().replace(" ", "_")
    qid = f"custom.{name}"
    if ctx.session.get(Question, qid) is not None:
        return Reply(errors={"name": ctx.t("pulse.questions_exists")})
    try:
        add_custom_question(
            ctx.session,
            committee,
            id=qid,
            da=values.get("da", ""),
            en=values.get("en", ""),
            low={"da": values.get("low_da", ""), "en": values.get("low_en", "")},
            high={"da": values.get("high_da", ""), "en": values.get("high_en", "")},
        )
    except InvalidInput as err:
        return Reply(errors={_field_of(str(err)): ctx.t("pulse.questions_invalid", reason=err)})
    row = ctx.session.get(Question, qid)
    assert row is not None
    # Waits, out of the rotation, until both sides have approved this very text.
    row.active = False
    subject = question_subject(row)
    # An administrator outside the committee holds no side: then both sides are asked.
    with contextlib.suppress(CannotSign):
        sign(ctx.session, committee, subject, ctx.member, ctx.now)
    ctx.audit("questions.add", qid, committee=committee.name)
    for side in missing_sides(ctx.session, subject):
        for approver in who_may_sign(ctx.session, committee, side, exclude=[ctx.member.id]):
            t = translator(chosen_language(approver.language, ctx.settings.language))
            ctx.send(
                to_member(
                    approver.id,
                    # The time makes each request's message its own, also for a name reused.
                    f"questions:{qid}:{ctx.now:%Y%m%dT%H%M%S%f}:ask:{approver.id}",
                    approval_message(row, committee, ctx.member, t),
                    purpose="questions.approval",
                )
            )
        if not who_may_sign(ctx.session, committee, side, exclude=[ctx.member.id]):
            raise InvalidInput(ctx.t("pulse.questions_no_side", committee=committee.name))
    return Reply.note(ctx.t("pulse.questions_pending", id=qid, committee=committee.name))


def approval_message(q: Question, committee: Committee, author: Member, t: Translator) -> Message:
    text = t("pulse.questions_ask", author=author.name, committee=committee.name)
    return Message(
        summary=text,
        parts=[
            Header(text=t("pulse.questions_ask_title")),
            Text(text=text),
            Text(text=f"{q.text_da}\n({q.low_da} – {q.high_da})", markdown=False),
            Text(text=f"{q.text_en}\n({q.low_en} – {q.high_en})", markdown=False),
            Buttons(
                buttons=[
                    Button(
                        label=t("pulse.questions_approve"),
                        data=QuestionApprove(q=q.id, h=text_digest(q)).pack(),
                        style="primary",
                    ),
                    Button(
                        label=t("pulse.questions_reject"),
                        data=QuestionReject(q=q.id, h=text_digest(q)).pack(),
                        style="danger",
                    ),
                ]
            ),
            SmallPrint(text=t("pulse.questions_ask_note")),
        ],
    )


def _waiting(ctx: FlowContext, q_id: str, digest: str) -> tuple[Question, Committee] | None:
    """The question as the button showed it, still waiting for approval."""
    q = ctx.session.get(Question, q_id)
    if q is None or q.committee_id is None or q.active or text_digest(q) != digest:
        return None
    if is_approved(ctx.session, question_subject(q)):
        return None
    committee = ctx.session.get(Committee, q.committee_id)
    if committee is None:
        return None
    return q, committee


def _tell_author(ctx: FlowContext, q: Question, committee: Committee, outcome: str) -> None:
    first = signatures(ctx.session, question_subject(q))
    author = ctx.session.get(Member, first[0].member_id) if first else None
    if author is None or author.erased or ctx.member is None or author.id == ctx.member.id:
        return
    text = speaking_to(ctx, author)(
        f"pulse.questions_{outcome}", id=q.id, committee=committee.name, actor=ctx.member.name
    )
    key = f"questions:{q.id}:{ctx.now:%Y%m%dT%H%M%S%f}:{outcome}"
    tell(ctx, author, key, text, purpose="questions.outcome")


def on_question_approve(ctx: FlowContext, event: ButtonClicked, data: QuestionApprove) -> Reply:
    found = _waiting(ctx, data.q, data.h)
    if found is None:
        return updated(ctx.t("pulse.questions_settled"))
    q, committee = found
    if ctx.member is None:
        return Reply.note(ctx.t("common.unknown_user"))
    try:
        sign(ctx.session, committee, question_subject(q), ctx.member, ctx.now)
    except CannotSign:
        ctx.audit("questions.approve", q.id, allowed=False)
        return Reply.note(ctx.t("pulse.questions_not_yours"))
    ctx.audit("questions.approve", q.id, committee=committee.name)
    if not is_approved(ctx.session, question_subject(q)):
        return updated(ctx.t("pulse.questions_pending", id=q.id, committee=committee.name))
    q.active = True
    _tell_author(ctx, q, committee, "approved")
    return updated(ctx.t("pulse.questions_saved", id=q.id, committee=committee.name))


def on_question_reject(ctx: FlowContext, event: ButtonClicked, data: QuestionReject) -> Reply:
    found = _waiting(ctx, data.q, data.h)
    if found is None:
        return updated(ctx.t("pulse.questions_settled"))
    q, committee = found
    subject = question_subject(q)
    if not may_decide(ctx, subject, committee):
        ctx.audit("questions.reject", q.id, allowed=False)
        return Reply.note(ctx.t("pulse.questions_not_yours"))
    ctx.audit("questions.reject", q.id, committee=committee.name)
    _tell_author(ctx, q, committee, "rejected")
    # Never asked, so nothing refers to it: the name is free again, and the signatures of this
    # request go with it (the audit log keeps who did what), so a later question with the same
    # name and text starts from no signatures.
    ctx.session.execute(delete(Approval).where(Approval.subject == subject))
    ctx.session.delete(q)
    return updated(ctx.t("pulse.questions_rejected_here", id=q.id, committee=committee.name))


def _field_of(reason: str) -> str:
    """The form field a validation message is about ("low.en: ..." -> "low_en")."""
    head = reason.split(":", 1)[0].strip()
    if head.startswith(("low.", "high.")):
        return head.replace(".", "_")
    if head in ("da", "en"):
        return head
    return "name"


def register(router: Router) -> None:
    router.command("spørgsmål", "sporgsmal", "questions")(on_questions_command)
    router.form(QuestionsForm, limits={"name": 60, "da": 500, "en": 500} | SHORT_LIMITS)(
        on_questions_submit
    )
    router.action(QuestionApprove)(on_question_approve)
    router.action(QuestionReject)(on_question_reject)

"""Comments in a channel post: what fits, and the rest to whoever asks (issue 16, point 12).

Thirty comments of a thousand characters would not fit a Slack message (3,000 characters a
section, 50 blocks) or a Teams card (about 28 KB), and would fill a channel's screen. So a
post shows the first comments up to POST_CHARS and a button that shows all of them to the
person who clicks, privately.

Anonymity: "all of them" is exactly the set the post's publication recorded when the round
closed, as fingerprints of the answers (round, question, respondent key and the comment's
text), never a set computed again at the click: a comment added or changed after close has no
recorded fingerprint and never appears, a hidden or erased one disappears, and a publication
that was withheld (a group under the comment threshold) shows nothing at all.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.core.actions import ActionData
from bot.core.events import ButtonClicked
from bot.core.i18n import Translator
from bot.core.messages import Button, Buttons, Header, Message, Part, Reply, SmallPrint, Text
from bot.core.router import FlowContext, Router
from flows.scrub import scrub
from storage.models import Answer, Member, Membership, Publication, PulseRound, Unit

# Comment characters a channel post shows before "show all": one Slack section's worth.
POST_CHARS = 2500
# Characters of comments per part of the private view: each part one Slack section.
VIEW_PART_CHARS = 2900
COMMENTS = "#comments"


class ShowComments(ActionData):
    kind = "summary:comments"
    k: str  # the publication's key


def comment_cell(round_id: int) -> str:
    return f"{round_id}:{COMMENTS}"


def comments_key(rounds: Sequence[PulseRound]) -> str:
    """The key of the publication of these rounds' comments (at most 64 characters)."""
    cells = sorted(comment_cell(r.id) for r in rounds)
    key = "comments:" + ",".join(cells)
    if len(key) <= 64:
        return key
    return "comments:" + hashlib.sha256("\n".join(cells).encode()).hexdigest()[:54]


def fingerprint(answer: Answer) -> str:
    """Which answer, with which text: a comment changed since has another fingerprint."""
    fields = (str(answer.round_id), answer.question_id, answer.respondent_key, answer.comment)
    return hashlib.sha256("\x00".join(f or "" for f in fields).encode()).hexdigest()[:24]


def current_comments(session: Session, round_ids: Sequence[int]) -> dict[str, str]:
    """Fingerprint -> raw text of the rounds' shown (not hidden, not blank) comments now."""
    return {
        fingerprint(a): a.comment
        for a in session.scalars(
            select(Answer).where(
                Answer.round_id.in_(round_ids),
                Answer.comment.is_not(None),
                Answer.hidden.is_(False),
            )
        )
        if a.comment and a.comment.strip()
    }


def names(session: Session) -> list[str]:
    # Everyone in the organisation: a comment in one unit often names someone in another.
    return list(session.scalars(select(Member.name).where(Member.erased.is_(False))))


def recorded_comments(session: Session, publication: Publication) -> list[str]:
    """The scrubbed comments the publication recorded, in its order, that still stand as they
    were then; nothing for a withheld one."""
    if not publication.shown or not publication.comments:
        return []
    round_ids = sorted({int(c.split(":", 1)[0]) for cells in publication.cells for c in cells})
    now = current_comments(session, round_ids)
    known = names(session)
    return [scrub(now[f], known) for f in publication.comments if f in now]


def post_parts(texts: Sequence[str], key: str, t: Translator) -> list[Part]:
    """The comments that fit a channel post, and a button for all of them when some do not."""
    shown: list[Part] = []
    used = 0
    for text in texts:
        if shown and used + len(text) > POST_CHARS:
            break
        used += len(text)
        shown.append(Text(text=f"“{text}”", markdown=False))
    rest = len(texts) - len(shown)
    if not rest:
        return shown
    label = t.plural("summary.show_all_comments", len(texts))
    return [
        *shown,
        SmallPrint(text=t.plural("summary.more_comments", rest)),
        Buttons(buttons=[Button(label=label, data=ShowComments(k=key).pack())]),
    ]


def view_parts(texts: Sequence[str]) -> list[Part]:
    """All the comments, a few to a part, so no part is longer than a Slack section."""
    parts: list[Part] = []
    chunk: list[str] = []
    for text in (f"“{c}”" for c in texts):
        if chunk and len("\n\n".join([*chunk, text])) > VIEW_PART_CHARS:
            parts.append(Text(text="\n\n".join(chunk), markdown=False))
            chunk = []
        chunk.append(text)
    if chunk:
        parts.append(Text(text="\n\n".join(chunk), markdown=False))
    return parts


def _may_read(session: Session, member: Member | None, publication: Publication) -> bool:
    """A member of a unit whose channel may have shown the post: one of the rounds' units or
    a unit above them (a pool's home)."""
    if member is None:
        return False
    round_ids = {int(c.split(":", 1)[0]) for cells in publication.cells for c in cells}
    units: set[int] = set()
    for unit in session.scalars(
        select(Unit)
        .join(PulseRound, PulseRound.unit_id == Unit.id)
        .where(PulseRound.id.in_(round_ids))
    ):
        at: Unit | None = unit
        while at is not None and at.id not in units:
            units.add(at.id)
            at = at.parent
    found = session.scalars(
        select(Membership.id).where(
            Membership.member_id == member.id, Membership.unit_id.in_(units)
        )
    ).first()
    return found is not None


def on_show_comments(ctx: FlowContext, event: ButtonClicked, data: ShowComments) -> Reply:
    publication = ctx.session.scalars(
        select(Publication).where(Publication.key == data.k, Publication.path == "comments")
    ).first()
    # Who may read first: an outsider learns nothing, not even whether the comments still stand.
    if publication is not None and not _may_read(ctx.session, ctx.member, publication):
        ctx.audit("summary.comments", publication.key, allowed=False)
        return Reply.note(ctx.t("common.not_allowed"))
    texts = recorded_comments(ctx.session, publication) if publication is not None else []
    if publication is None or not texts:
        return Reply.note(ctx.t("summary.comments_gone"))
    title = ctx.t.plural("summary.all_comments_title", len(texts))
    return Reply(notice=Message(summary=title, parts=[Header(text=title), *view_parts(texts)]))


def register(router: Router) -> None:
    router.action(ShowComments)(on_show_comments)

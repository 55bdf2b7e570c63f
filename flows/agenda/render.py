"""The agenda's texts and messages: dates, references, the call for proposals, the channel post,
and the private notes that tell chairs and proposers what happened, each in their language.

Who is behind a proposal is shown by `shown_as` only: never an anonymous proposer.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.core.config import Settings
from bot.core.i18n import Lang, Translator, chosen_language, translator
from bot.core.messages import Button, Buttons, Header, Message, Part, SmallPrint, Text
from bot.core.outbox import Outgoing, to_member
from flows.agenda import keys
from flows.agenda.actions import Present, ProposeOpen, SupportToggle
from flows.agenda.committees import chairs_of, proposer_side
from flows.agenda.statuses import SUPPORTABLE
from flows.full_text import ShowProposal, summarized
from storage.models import Committee, Meeting, Member, Proposal, Support

# A text in the language of the person it goes to.
TextFor = Callable[[Translator], str]


def speak(member: Member, default: Lang) -> Translator:
    return translator(chosen_language(member.language, default))


def when(t: Translator, value: dt.datetime, tz: dt.tzinfo) -> str:
    local = value.astimezone(tz)
    return t("agenda.when", date=t.date(local.date(), "EEEE d. MMMM y"), time=t.time(local))


def reference(p: Proposal, tz: dt.tzinfo) -> str:
    """ "MED-2026-014": stable, short enough to say aloud at a meeting."""
    return f"MED-{p.created_at.astimezone(tz).year}-{p.id:03d}"


def note(text: str) -> Message:
    """A message of one text: the payload of a private note sent through the outbox (a turn's
    own one-line answer is `Reply.note`)."""
    return Message(summary=text, parts=[Text(text=text)])


def support_count(session: Session, proposal_id: int) -> int:
    return int(session.scalar(select(func.count()).where(Support.proposal_id == proposal_id)) or 0)


def call_message(committee: Committee, meeting: Meeting, t: Translator, tz: dt.tzinfo) -> Message:
    title = t("agenda.call_title", committee=committee.name)
    parts: list[Part] = [
        Header(text=title),
        Text(
            text=t(
                "agenda.call_body",
                committee=committee.name,
                meeting=when(t, meeting.starts_at, tz),
                deadline=when(t, meeting.proposal_deadline, tz),
            )
        ),
        Buttons(
            buttons=[
                Button(
                    label=t("agenda.propose_button"),
                    data=ProposeOpen(c=committee.id).pack(),
                    style="primary",
                )
            ]
        ),
        SmallPrint(text=t("agenda.call_small_print")),
    ]
    return Message(summary=title, parts=parts)


def reminder_message(
    committee: Committee, meeting: Meeting, t: Translator, tz: dt.tzinfo
) -> Message:
    title = t("agenda.reminder_title", committee=committee.name)
    return Message(
        summary=title,
        parts=[
            Header(text=title),
            Text(
                text=t(
                    "agenda.reminder_body",
                    deadline=when(t, meeting.proposal_deadline, tz),
                    meeting=when(t, meeting.starts_at, tz),
                )
            ),
            Buttons(
                buttons=[
                    Button(
                        label=t("agenda.propose_button"), data=ProposeOpen(c=committee.id).pack()
                    )
                ]
            ),
        ],
    )


def proposal_text(p: Proposal, t: Translator) -> str:
    lines = [p.issue, f"_{t('agenda.why_short')}_ {p.why}"]
    if p.suggestion:
        lines.append(f"_{t('agenda.suggestion_short')}_ {p.suggestion}")
    return "\n".join(lines)


def channel_post(session: Session, p: Proposal, t: Translator) -> Message:
    """The post in the proposer's unit channel; the same for everyone who sees it. A long
    proposal shows its start, and the whole to whoever asks (flows/full_text.py)."""
    count = support_count(session, p.id)
    parts: list[Part] = [
        Header(text=p.title),
        *summarized(proposal_text(p, t), t, ShowProposal(p=p.id).pack()),
        SmallPrint(
            text=t(
                "agenda.post_small_print",
                by=shown_as(session, p, t),
                committee=p.committee.name,
                supports=count,
            )
        ),
    ]
    if p.status in SUPPORTABLE:
        parts.append(
            Buttons(
                buttons=[
                    Button(label=t("agenda.support_button"), data=SupportToggle(p=p.id).pack())
                ]
            )
        )
    else:
        parts.append(SmallPrint(text=t(f"agenda.post_status_{p.status}")))
    return Message(summary=t("agenda.post_summary", title=p.title), parts=parts)


def shown_as(session: Session, p: Proposal, t: Translator) -> str:
    """Who the committee and everyone else see behind a proposal: never an anonymous proposer."""
    if p.presenter_id is not None:
        presenter = session.get(Member, p.presenter_id)
        if presenter is not None and not presenter.erased:
            return t("agenda.by_rep", name=presenter.name)
    proposer = session.get(Member, p.proposer_id) if p.proposer_id is not None else None
    if p.anonymous or proposer is None or proposer.erased:
        return t("agenda.by_anonymous")
    return t("agenda.by_named", name=proposer.name)


def rep_request(p: Proposal, t: Translator) -> Message:
    title = t("agenda.rep_title")
    return Message(
        summary=title,
        parts=[
            Header(text=title),
            Text(text=t("agenda.rep_body", committee=p.committee.name)),
            Text(text=f"*{p.title}*\n{proposal_text(p, t)}"),
            Buttons(
                buttons=[
                    Button(
                        label=t("agenda.rep_present"), data=Present(p=p.id).pack(), style="primary"
                    )
                ]
            ),
            SmallPrint(text=t("agenda.rep_small_print")),
        ],
    )


def follow_up_text(t: Translator, p: Proposal) -> str:
    if p.follow_up_date is None and not p.follow_up_owner:
        return ""
    return t(
        "agenda.follow_up_line",
        owner=p.follow_up_owner or t("agenda.follow_up_no_owner"),
        date=t.date(p.follow_up_date, "d. MMMM y") if p.follow_up_date else "-",
    )


def tell_each(
    people: Iterable[Member],
    settings: Settings,
    key_of: Callable[[int], str],
    text: TextFor,
    purpose: str,
) -> list[Outgoing]:
    """A private note to each person, in their own language, under a dedupe key of their own."""
    return [
        to_member(m.id, key_of(m.id), note(text(speak(m, settings.language))), purpose=purpose)
        for m in people
    ]


def tell_chairs(
    session: Session,
    committee: Committee,
    actor: Member,
    settings: Settings,
    key: str,
    text: TextFor,
) -> list[Outgoing]:
    """The other chair(s) see what one of them did."""
    others = [chair for chair in chairs_of(session, committee) if chair.id != actor.id]
    return tell_each(others, settings, lambda m: keys.to_chair(key, m), text, "agenda.chair")


def tell_proposer(
    session: Session, p: Proposal, settings: Settings, key: str, text: TextFor
) -> list[Outgoing]:
    people = proposer_side(session, p)
    return tell_each(people, settings, lambda m: keys.to_proposer(key, m), text, "agenda.proposer")

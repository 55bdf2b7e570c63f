"""What the pulse flow shows: the question DM, the rules of anonymity, the comment form, the
confirmation of a click, and what every DM of a closed round becomes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from bot.core.i18n import Lang, Translator
from bot.core.messages import Button, Buttons, Field_, Form, Header, Message, Part, SmallPrint, Text
from flows.pulse.actions import SCALE, PulseAnswer, PulseCommentForm, PulseCommentOpen, PulseRules
from storage.models import PulseRound, Question, Unit


def question_text(q: Question, lang: Lang) -> tuple[str, str, str]:
    if lang == "en":
        return q.text_en, q.low_en, q.high_en
    return q.text_da, q.low_da, q.high_da


def rules_text(t: Translator, *, minimum: int, parent: str | None) -> str:
    """The rules of anonymity in plain words, for the first DM and on request."""
    rollup = (
        t("pulse.rules_rollup_parent", parent=parent) if parent else t("pulse.rules_rollup_none")
    )
    return t("pulse.rules_body", minimum=minimum, rollup=rollup)


def rules_message(t: Translator, *, minimum: int, parent: str | None) -> Message:
    text = rules_text(t, minimum=minimum, parent=parent)
    return Message(
        summary=t("pulse.rules_title"),
        parts=[Header(text=t("pulse.rules_title")), Text(text=text)],
    )


def comments_where(pulse_round: PulseRound, unit: Unit, t: Translator) -> str:
    """Where this round's comments can be shown: the unit's channel, or pooled in a channel
    above it (flows.disclosure.comment_home goes up to the nearest unit with enough people)."""
    above: list[str] = []
    node = unit.parent
    while node is not None:
        above.append(node.name)
        node = node.parent
    minimum = pulse_round.min_comment_group_size
    if not above:
        return t("pulse.comments_where_top", unit=unit.name, minimum=minimum)
    return t(
        "pulse.comments_where",
        unit=unit.name,
        minimum=minimum,
        above=t("pulse.comments_where_or").join(above),
    )


def ask_message(
    pulse_round: PulseRound,
    unit: Unit,
    questions: Sequence[Question],
    t: Translator,
    *,
    tz: dt.tzinfo,
    rules: bool = False,
    intro: str | None = None,
) -> Message:
    """The DM: each question with a 1-5 row of buttons right in the message.

    `rules` adds the full rules of anonymity (a member's first DM); `intro` replaces the
    opening line (reminders). The message never marks a choice: the platforms keep every
    version of it (exports, eDiscovery), so it is the same for everyone, answered or not, and
    the choice is confirmed only by `answer_noted`, which no platform stores.
    """
    closes = pulse_round.closes_at.astimezone(tz)
    parts: list[object] = [
        Header(text=t("pulse.ask_title")),
        Text(text=intro or t("pulse.ask_intro", unit=unit.name)),
    ]
    if rules:
        parent = unit.parent.name if unit.parent else None
        parts.append(Text(text=rules_text(t, minimum=pulse_round.min_group_size, parent=parent)))
    for q in questions:
        text, low, high = question_text(q, t.lang)
        parts.append(
            Buttons(
                label=text,
                ends=(f"1 = {low}", f"5 = {high}"),
                buttons=[
                    Button(
                        label=str(v),
                        data=PulseAnswer(r=pulse_round.id, q=q.id, v=v).pack(),
                    )
                    for v in SCALE
                ],
            )
        )
    # Where comments go, before anyone writes one: a small unit's comments may be shown in a
    # channel above it, to people outside the unit (issue 13, finding 4).
    parts.append(SmallPrint(text=comments_where(pulse_round, unit, t)))
    parts.append(
        Buttons(
            buttons=[
                Button(
                    label=t("pulse.add_comment"), data=PulseCommentOpen(r=pulse_round.id).pack()
                ),
                Button(label=t("pulse.rules_button"), data=PulseRules(r=pulse_round.id).pack()),
            ]
        )
    )
    parts.append(SmallPrint(text=t("pulse.rules_short", closes=t.weekday_time(closes))))
    return Message(summary=t("pulse.ask_summary", unit=unit.name), parts=parts)


def answer_noted(
    pulse_round: PulseRound, question: Question, value: int, t: Translator, *, tz: dt.tzinfo
) -> Message:
    """The confirmation of one click, for the clicker's eyes only (Reply.transient)."""
    text = t(
        "pulse.answer_noted",
        value=value,
        question=question_text(question, t.lang)[0],
        until=t.weekday_time(pulse_round.closes_at.astimezone(tz)),
    )
    return Message(summary=text, parts=[Text(text=text)])


def comment_form(pulse_round: PulseRound, t: Translator) -> Form:
    return Form(
        data=PulseCommentForm(r=pulse_round.id).pack(),
        title=t("pulse.comment_title"),
        submit=t("pulse.comment_submit"),
        intro=t("pulse.comment_intro"),
        fields=[
            Field_(
                name="comment", label=t("pulse.comment_label"), kind="textarea", max_length=1000
            ),
            # Issue 19: the author's first word on replies is here, and they can say no.
            Field_(
                name="replies",
                label=t("replies.allow_label"),
                kind="checkbox",
                required=False,
                initial="true",
                hint=t("replies.allow_hint"),
            ),
        ],
    )


def note(text: str) -> Message:
    return Message(summary=text, parts=[Text(text=text)])


def closed_message(unit: Unit, t: Translator, standing: str | None = None) -> Message:
    """What every pulse DM of a closed round becomes: no buttons, no choice, and the same text
    for everyone who was asked, so the message no longer says whether they answered, or what.
    `standing` (flows.pooling.standing_text) says where the unit's answers count when its
    figures are not shown alone: the same for the whole unit."""
    parts: list[Part] = [
        Header(text=t("pulse.ask_title")),
        Text(text=t("pulse.closed_body", unit=unit.name)),
    ]
    if standing:
        parts.append(Text(text=standing))
    return Message(summary=t("pulse.closed_summary", unit=unit.name), parts=parts)

"""The digests' messages: a leader's and a committee's, from the picture's shown figures."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from functools import lru_cache

from bot.core.i18n import Lang, Translator, translator
from bot.core.messages import (
    Divider,
    Fact,
    Facts,
    Header,
    Image,
    Message,
    Part,
    SmallPrint,
    Text,
)
from flows.actions import plan_parts
from flows.charts import Series
from flows.digest.figures import (
    TREND_STEP,
    DimensionLine,
    Pipeline,
    UnitPulse,
)
from flows.digest.picture import Picture
from flows.pooling import pooled_parts
from flows.trend_lines import chart_alt, trend_lines
from storage.models import (
    Committee,
    Meeting,
)

# Two thousand digests repeat the same hundred whole numbers and twenty weeks tens of
# thousands of times; Babel formatting each again was a tenth of a run.


@lru_cache(maxsize=1024)
def _formatted_whole(lang: Lang, number: int) -> str:
    return translator(lang).number(number, 0)


@lru_cache(maxsize=1024)
def _formatted_day(lang: Lang, day: dt.date) -> str:
    return translator(lang).date(day)


def _whole(t: Translator, value: float) -> str:
    """t.number(value, 0), formatted once per whole number."""
    if not 0 <= value < 1e9:
        return t.number(value, 0)
    # Babel rounds the decimal shortest repr half to even; a repr ending in .5 is exactly
    # .5 in binary, so Python's round gives the same whole number.
    return _formatted_whole(t.lang, round(value))


def _short_date(t: Translator, day: dt.date) -> str:
    return _formatted_day(t.lang, day)


def _signed(t: Translator, change: float) -> str:
    rounded = round(change)
    if rounded == 0:
        return "±0"
    # A real minus sign: a hyphen before a number is easy to miss on a phone.
    return ("+" if rounded > 0 else "−") + _whole(t, abs(rounded))


def _arrow(change: float | None) -> str:
    if change is None or abs(change) < TREND_STEP:
        return "→"
    return "↑" if change > 0 else "↓"


def _line_value(t: Translator, line: DimensionLine) -> str:
    score = _whole(t, line.score)
    when = _short_date(t, line.measured)
    if line.change is None:
        return t("digest.dimension_first", score=score, date=when)
    return t(
        "digest.dimension_value",
        score=score,
        arrow=_arrow(line.change),
        change=_signed(t, line.change),
        date=when,
    )


def _turnout_text(t: Translator, picture: Picture, pulse: UnitPulse) -> str:
    assert pulse.week is not None
    week = _short_date(t, pulse.week)
    minimum = picture.min_size
    if pulse.turnout is None:
        # The same words for both reasons a figure is withheld, and never "the unit above"
        # where there is none (issue 17).
        if any(line.measured == pulse.week for line in pulse.lines):
            return t("digest.turnout_withheld", week=week)
        parent = picture.units.get(pulse.unit.parent_id or -1)
        if parent is None:
            return t("digest.turnout_hidden_top", week=week, unit=pulse.unit.name, minimum=minimum)
        return t(
            "digest.turnout_hidden",
            week=week,
            unit=pulse.unit.name,
            minimum=minimum,
            parent=parent.name,
        )
    share = pulse.turnout.answered / pulse.turnout.asked if pulse.turnout.asked else 0.0
    return t(
        "digest.turnout",
        n=pulse.turnout.answered,
        asked=pulse.turnout.asked,
        share=t.percent(share),
        week=week,
    )


def _callout(t: Translator, pulse: UnitPulse) -> str | None:
    lowest, drop = pulse.lowest, pulse.biggest_drop
    if lowest is None:
        return None
    low = {"lowest": lowest.label, "low_score": _whole(t, lowest.score)}
    if drop is None or drop.change is None:
        return t("digest.callout_no_drop", **low)
    return t("digest.callout", drop=drop.label, change=_signed(t, drop.change), **low)


def _units_below(t: Translator, picture: Picture, pulse: UnitPulse, lang: Lang) -> list[Part]:
    if pulse.week is None:
        return []
    w = picture.week_index(pulse.week)
    facts: list[Fact] = []
    folded: list[str] = []
    for child_id in picture.children.get(pulse.unit.id, []):
        if (child_id, w) not in picture.turnout:
            continue
        child = picture.pulse(child_id, lang)
        turnout = picture.shown_turnout_of(child_id, w)
        if turnout is None:
            folded.append(child.unit.name)
            continue
        scores = [
            t("digest.unit_score", dimension=line.label, score=_whole(t, line.score))
            for line in child.lines
            if line.measured == pulse.week
        ]
        value = t("digest.unit_turnout", n=turnout.answered, asked=turnout.asked)
        facts.append(Fact(label=child.unit.name, value=" · ".join([value, *scores])))
    parts: list[Part] = []
    if facts or folded:
        parts.append(Text(text=t("digest.units_below", week=_short_date(t, pulse.week))))
    if facts:
        parts.append(Facts(facts=facts))
    if folded:
        parts.append(
            SmallPrint(text=t("digest.folded", units=", ".join(folded), parent=pulse.unit.name))
        )
    return parts


def _pipeline(t: Translator, picture: Picture, unit_id: int) -> list[Part]:
    committee = picture.committee_of(unit_id)
    if committee is None:
        return []
    pipe = picture.pipelines.get(committee.id, Pipeline())
    return [
        Text(
            text=t(
                "digest.pipeline",
                committee=committee.name,
                new=t.plural("digest.pipeline_new", pipe.new),
                on_agenda=pipe.on_agenda,
                awaiting=pipe.awaiting,
            )
        )
    ]


def chart_png(picture: Picture, pulse: UnitPulse, t: Translator) -> bytes | None:
    """The 12-week chart of the unit's indices and the dimension to watch, or None when there
    is nothing to draw (flows.trend_lines)."""
    series, title = chart_of(picture, pulse.unit.id, t)
    return picture.painter(t).png(series, title) if series else None


def chart_of(picture: Picture, unit_id: int, t: Translator) -> tuple[list[Series], str]:
    series = trend_lines(picture, unit_id, t)
    return series, t("charts.title", unit=picture.units[unit_id].name)


def _body(
    t: Translator,
    picture: Picture,
    pulse: UnitPulse,
    image_id: str | None,
    lang: Lang,
) -> list[Part]:
    minimum = picture.min_size
    if not pulse.has_data:
        return [Text(text=t("digest.no_data", unit=pulse.unit.name, minimum=minimum))]
    parts: list[Part] = [Text(text=_turnout_text(t, picture, pulse))]
    if pulse.lines:
        parts.append(
            Facts(facts=[Fact(label=ln.label, value=_line_value(t, ln)) for ln in pulse.lines])
        )
        callout = _callout(t, pulse)
        if callout:
            parts.append(Text(text=callout))
    parts.extend(pooled_parts(picture, pulse.unit.id, t))
    parts.extend(_units_below(t, picture, pulse, lang))
    if image_id is not None:
        lines = trend_lines(picture, pulse.unit.id, t)
        parts.append(Image(image_id=image_id, alt=chart_alt(pulse.unit.name, lines, t)))
    else:
        parts.append(SmallPrint(text=t("digest.no_chart", unit=pulse.unit.name)))
    return parts


def leader_message(
    picture: Picture,
    unit_id: int,
    t: Translator,
    image_id: str | None,
    heat_map: Sequence[Part] = (),
) -> Message:
    pulse = picture.pulse(unit_id, t.lang)
    parts: list[Part] = [Header(text=t("digest.title", unit=pulse.unit.name))]
    parts.extend(_body(t, picture, pulse, image_id, t.lang))
    parts.extend(heat_map)  # flows.heatmap: the units below, side by side
    parts.extend(_action_plan(t, picture, unit_id))
    parts.append(Divider())
    parts.extend(_pipeline(t, picture, unit_id))
    parts.append(SmallPrint(text=t("digest.footer", minimum=picture.min_size)))
    return Message(summary=t("digest.summary", unit=pulse.unit.name), parts=parts)


def _action_plan(t: Translator, picture: Picture, unit_id: int) -> list[Part]:
    """The plan's status and, after each action's date, its dimension's trend. The trend's
    figures are the round's published ones (flows.actions.trend_of, through decide)."""
    lines = picture.plans.get(unit_id, ())
    return [Divider(), *plan_parts(lines, t, picture.bank)] if lines else []


def committee_message(
    picture: Picture,
    committee: Committee,
    meeting: Meeting,
    t: Translator,
    image_id: str | None,
    tz: dt.tzinfo,
) -> Message:
    pulse = picture.pulse(committee.unit_id, t.lang)
    when = t.date(meeting.starts_at.astimezone(tz).date(), "d. MMMM")
    parts: list[Part] = [
        Header(text=t("digest.committee_title", committee=committee.name, date=when))
    ]
    parts.extend(_body(t, picture, pulse, image_id, t.lang))
    parts.append(Divider())
    parts.extend(_pipeline(t, picture, committee.unit_id))
    parts.append(SmallPrint(text=t("digest.committee_footer", minimum=picture.min_size)))
    return Message(
        summary=t("digest.committee_summary", committee=committee.name, date=when), parts=parts
    )

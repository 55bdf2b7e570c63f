"""The pack for the annual work-environment discussion (den årlige arbejdsmiljødrøftelse).

`medpuls report annual --committee NAME --year YYYY --format docx|md` writes it, and a chair or
vice-chair gets it in chat (`årsrapport`, then the year's button). It holds, for the committee's
area: a year of each dimension's shown scores with trend charts, the social-capital and
relational-coordination indices (flows.indices), participation, the comments'
themes where the comment threshold held, the committee's proposals and what became of them, the
units' action plans and their outcomes, and a page of questions for the discussion.

Every figure comes from flows.annual_figures, which lets each one through the ledger first; the
indices are arithmetic on those shown figures only. Charts are drawn here with matplotlib, in
this process (a report is one request, not a digest run).
"""

from __future__ import annotations

import datetime as dt
import io
import uuid
from collections import defaultdict
from collections.abc import Mapping, Sequence

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from sqlalchemy.orm import Session

from bot.core.actions import ActionData
from bot.core.config import Settings
from bot.core.events import ButtonClicked, CommandInvoked
from bot.core.i18n import Lang, Translator
from bot.core.messages import (
    Button,
    Buttons,
    Fact,
    Facts,
    Header,
    Image,
    Message,
    Part,
    Reply,
    SmallPrint,
)
from bot.core.messages import Text as ChatText
from bot.core.router import FlowContext, Router
from flows import documents
from flows.actions import trend_text
from flows.agenda import chaired_by, note
from flows.annual_figures import AreaYear, area_year
from flows.documents import Bullets, Paragraph, Section, Table
from flows.indices import index_points
from flows.question_bank import default_bank
from storage.models import Committee, StoredImage

__all__ = ["FIRST_YEAR", "AnnualReport", "annual_document", "build_report", "register", "years"]

# MEDpuls measured nothing before this year; a report of an earlier one would be empty.
FIRST_YEAR = 2000


def years(now: dt.datetime, tz: dt.tzinfo) -> range:
    """The years a report may be asked for: FIRST_YEAR to this one."""
    return range(FIRST_YEAR, now.astimezone(tz).year + 1)


INDEX_NAMES = ("social_capital", "relational_coordination")


def dimension_label(dimension: str, lang: Lang) -> str:
    dims = default_bank().dimensions
    return dims[dimension].label.get(lang) if dimension in dims else dimension


def index_series(year: AreaYear) -> dict[str, list[float | None]]:
    """The two indices week by week (flows.indices, issue 17), from the shown scores only: a
    dimension's score stands for one rotation, as in the digest. They show nothing new."""
    points = index_points(year.scores, len(year.weeks))
    return {name: list(points[name]) for name in INDEX_NAMES if name in points}


# --- charts -----------------------------------------------------------------------------------


def _png(fig: Figure) -> bytes:
    out = io.BytesIO()
    fig.savefig(out, format="png", dpi=130)
    return out.getvalue()


def _months(ax: Axes, weeks: int, t: Translator, year: int) -> None:
    ticks = [round(m * weeks / 12) for m in range(0, 12, 3)]
    labels = [t.date(dt.date(year, m + 1, 1), "MMM") for m in range(0, 12, 3)]
    ax.set_xticks(ticks, labels, fontsize=7)


def _plot(ax: Axes, values: Sequence[float | None], color: str) -> None:
    points = [(x, v) for x, v in enumerate(values) if v is not None]
    xs, ys = [x for x, _ in points], [v for _, v in points]
    ax.plot(xs, ys, marker="o", markersize=3, linewidth=1.2, color=color)


def dimensions_chart(year: AreaYear, t: Translator) -> bytes | None:
    """Small multiples: one panel per dimension with a shown score, 0-100, over the year."""
    shown = [d for d, values in sorted(year.scores.items()) if any(v is not None for v in values)]
    if not shown:
        return None
    cols = 4
    rows = (len(shown) + cols - 1) // cols
    fig = Figure(figsize=(6.3, 1.55 * rows + 0.2))
    for i, dim in enumerate(shown):
        ax = fig.add_subplot(rows, cols, i + 1)
        _plot(ax, year.scores[dim], "#1f5f8b")
        ax.set_ylim(0, 100)
        ax.set_xlim(-0.5, len(year.weeks) - 0.5)
        ax.set_yticks([0, 50, 100], ["0", "50", "100"], fontsize=7)
        _months(ax, len(year.weeks), t, year.year)
        ax.set_title(dimension_label(dim, t.lang), fontsize=7.5, loc="left")
        ax.grid(axis="y", alpha=0.3)
        ax.spines[["top", "right"]].set_visible(False)
    # Fixed margins: tight_layout draws the whole figure once more to measure it.
    top = 1 - 0.35 / (1.55 * rows + 0.2)
    fig.subplots_adjust(left=0.06, right=0.98, bottom=0.3 / rows, top=top, wspace=0.3, hspace=0.75)
    return _png(fig)


def index_chart(
    series: Mapping[str, Sequence[float | None]], year: AreaYear, t: Translator
) -> bytes | None:
    if not any(v is not None for values in series.values() for v in values):
        return None
    fig = Figure(figsize=(6.3, 2.6))
    ax = fig.add_subplot(1, 1, 1)
    for name, color in zip(INDEX_NAMES, ("#1f5f8b", "#c0504d"), strict=True):
        if name in series:
            _plot(ax, series[name], color)
            ax.lines[-1].set_label(t(f"annual.index_{name}"))
    ax.set_ylim(0, 100)
    ax.set_xlim(-0.5, len(year.weeks) - 0.5)
    _months(ax, len(year.weeks), t, year.year)
    ax.tick_params(axis="y", labelsize=7)
    ax.legend(fontsize=7, frameon=False, loc="lower left")
    ax.grid(axis="y", alpha=0.3)
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout(pad=0.6)
    return _png(fig)


# --- the document -----------------------------------------------------------------------------


def _monthly_turnout(year: AreaYear, t: Translator) -> list[list[str]]:
    """Participation per month: sums of the weeks' shown figures (ISO weeks by their Thursday)."""
    months: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for figure in year.turnout:
        thursday = figure.monday + dt.timedelta(days=3)
        if thursday.year != year.year:
            continue
        months[thursday.month][0] += figure.asked
        months[thursday.month][1] += figure.answered
    return [
        [
            t.date(dt.date(year.year, m, 1), "MMMM"),
            str(answered),
            str(asked),
            t.percent(answered / asked) if asked else "-",
        ]
        for m, (asked, answered) in sorted(months.items())
    ]


def _nothing(year: AreaYear, t: Translator) -> str:
    """Why there is no figure: no rounds at all, or none that could be shown."""
    return t("annual.nothing_shown") if year.rounds else t("annual.no_rounds", year=year.year)


def _signed(change: float) -> str:
    whole = round(change)
    return f"{whole:+d}" if whole else "0"


def _dimension_rows(year: AreaYear, t: Translator) -> list[list[str]]:
    rows = []
    for dim, values in sorted(year.scores.items(), key=lambda kv: dimension_label(kv[0], t.lang)):
        shown = [(year.weeks[w].monday, v) for w, v in enumerate(values) if v is not None]
        if not shown:
            continue
        (first_day, first), (last_day, last) = shown[0], shown[-1]
        change = _signed(last - first) if len(shown) > 1 else "-"
        rows.append(
            [
                dimension_label(dim, t.lang),
                str(len(shown)),
                f"{first:.0f} ({t.date(first_day)})",
                f"{last:.0f} ({t.date(last_day)})",
                change,
            ]
        )
    return rows


def _results_section(year: AreaYear, t: Translator, chart: bytes | None) -> Section:
    rows = _dimension_rows(year, t)
    blocks: list[documents.Block] = [Paragraph(t("annual.results_intro"))]
    if rows:
        header = [t(f"annual.col_{c}") for c in ("dimension", "count", "first", "last", "change")]
        blocks.append(Table(header, rows))
    else:
        blocks.append(Paragraph(_nothing(year, t), emphasis=True))
    if chart is not None:
        blocks.append(documents.Image(chart, caption=t("annual.chart_dimensions")))
    return Section(t("annual.results_title"), blocks)


def _index_section(year: AreaYear, t: Translator) -> Section:
    series = index_series(year)
    chart = index_chart(series, year, t)
    if chart is None:
        return Section(t("annual.index_title"), [Paragraph(t("annual.index_incomplete"))])
    return Section(
        t("annual.index_title"),
        [
            Paragraph(t("annual.index_intro")),
            documents.Image(chart, caption=t("annual.index_title")),
        ],
    )


def _participation_section(year: AreaYear, t: Translator) -> Section:
    rows = _monthly_turnout(year, t)
    if not rows:
        return Section(t("annual.turnout_title"), [Paragraph(_nothing(year, t))])
    header = [t(f"annual.col_{c}") for c in ("month", "answered", "asked", "rate")]
    return Section(
        t("annual.turnout_title"), [Paragraph(t("annual.turnout_intro")), Table(header, rows)]
    )


def _themes_section(year: AreaYear, t: Translator) -> Section:
    if not year.comment_themes:
        return Section(t("annual.themes_title"), [Paragraph(t("annual.themes_none"))])
    rows = [
        [dimension_label(dim, t.lang), str(n)]
        for dim, n in sorted(year.comment_themes.items(), key=lambda kv: (-kv[1], kv[0]))
    ]
    header = [t("annual.col_theme"), t("annual.col_comments")]
    return Section(
        t("annual.themes_title"), [Paragraph(t("annual.themes_intro")), Table(header, rows)]
    )


def _label(t: Translator, key: str, fallback: str) -> str:
    try:
        return t(key)
    except KeyError:
        return fallback


def _proposals_section(year: AreaYear, t: Translator) -> Section:
    if not year.proposals:
        return Section(t("annual.proposals_title"), [Paragraph(t("annual.proposals_none"))])
    rows = [
        [p.title, _label(t, f"home.status_{p.status}", p.status), p.decision or p.response or "-"]
        for p in year.proposals
    ]
    header = [t("annual.col_proposal"), t("annual.col_status"), t("annual.col_decision")]
    return Section(t("annual.proposals_title"), [Table(header, rows)])


def _actions_section(year: AreaYear, t: Translator) -> Section:
    if not year.actions:
        return Section(t("annual.actions_title"), [Paragraph(t("annual.actions_none"))])
    rows = [
        [
            a.unit.name,
            a.text,
            dimension_label(a.dimension, t.lang),
            _label(t, f"actions.status_{a.status}", a.status),
            a.outcome or "-",
            trend_text(year.trends[a.id], t) if a.id in year.trends else "-",
        ]
        for a in year.actions
    ]
    columns = ("unit", "action", "theme", "status", "outcome", "trend")
    header = [t(f"annual.col_{c}") for c in columns]
    return Section(t("annual.actions_title"), [Table(header, rows)])


def _latest(year: AreaYear) -> dict[str, tuple[float, float | None]]:
    """Each dimension's latest shown score, and its change since the first shown one."""
    out: dict[str, tuple[float, float | None]] = {}
    for dim, values in year.scores.items():
        shown = [v for v in values if v is not None]
        if shown:
            out[dim] = (shown[-1], shown[-1] - shown[0] if len(shown) > 1 else None)
    return out


def _questions_section(year: AreaYear, t: Translator) -> Section:
    questions = [t(f"annual.question_{n}") for n in range(1, 7)]
    latest = _latest(year)
    if latest:
        lowest = min(latest, key=lambda d: latest[d][0])
        label = dimension_label(lowest, t.lang)
        questions.append(t("annual.question_lowest", dimension=label))
        dims = default_bank().dimensions
        if lowest in dims:
            questions.extend(dims[lowest].dialogue_questions(t.lang))
    return Section(t("annual.questions_title"), [Bullets(questions)], new_page=True)


def annual_document(
    year: AreaYear, t: Translator, tz: dt.tzinfo, chart: bytes | None
) -> documents.Document:
    committee = year.committee
    return documents.Document(
        title=t("annual.title", year=year.year, committee=committee.name),
        committee=committee.name,
        language=t.lang,
        date=t.date(dt.datetime.now(tz).date(), "d. MMMM y"),
        facts=[
            (t("annual.fact_area"), committee.unit.path),
            (t("annual.fact_period"), t("annual.period", year=year.year)),
            (t("annual.fact_threshold"), t("annual.threshold", n=year.min_size)),
        ],
        attendance=False,
        sections=[
            Section(t("annual.about_title"), [Paragraph(t("annual.about", n=year.min_size))]),
            _results_section(year, t, chart),
            _index_section(year, t),
            _participation_section(year, t),
            _themes_section(year, t),
            _proposals_section(year, t),
            _actions_section(year, t),
            _questions_section(year, t),
        ],
        kind=t("annual.kind"),
    )


class AnnualReport:
    """One committee's year, decided once, written in any format."""

    def __init__(
        self, session: Session, committee: Committee, year: int, settings: Settings, t: Translator
    ) -> None:
        self.figures = area_year(session, committee, year, settings)
        self.chart = dimensions_chart(self.figures, t)
        self.document = annual_document(self.figures, t, settings.tz, self.chart)

    def docx(self) -> bytes:
        return documents.to_docx(self.document)

    def markdown(self) -> str:
        return documents.to_markdown(self.document)


def build_report(
    session: Session, committee: Committee, year: int, settings: Settings, t: Translator
) -> AnnualReport:
    return AnnualReport(session, committee, year, settings, t)


# --- in chat ----------------------------------------------------------------------------------


class AnnualOpen(ActionData):
    kind = "annual.open"
    c: int
    y: int


def _chat_lines(year: AreaYear, t: Translator) -> str:
    latest = _latest(year)
    if not latest:
        return _nothing(year, t)
    lines = []
    for dim in sorted(latest, key=lambda d: dimension_label(d, t.lang)):
        score, change = latest[dim]
        trend = "" if change is None else f" ({_signed(change)})"
        lines.append(f"• {dimension_label(dim, t.lang)}: {score:.0f}{trend}")
    return "\n".join(lines)


def report_message(report: AnnualReport, t: Translator, image_id: str | None) -> Message:
    year = report.figures
    parts: list[Part] = [
        Header(text=report.document.title),
        Facts(facts=[Fact(label=label, value=value) for label, value in report.document.facts]),
        ChatText(text=_chat_lines(year, t)),
    ]
    if image_id is not None:
        parts.append(Image(image_id=image_id, alt=t("annual.chart_dimensions")))
    parts.append(
        ChatText(
            text=t(
                "annual.chat_counts",
                proposals=len(year.proposals),
                actions=len(year.actions),
                themes=len(year.comment_themes),
            )
        )
    )
    questions = next(
        (b for sec in report.document.sections for b in sec.blocks if isinstance(b, Bullets)),
        None,
    )
    if questions is not None:
        bullets = "\n".join(f"• {q}" for q in questions.items)
        parts.append(ChatText(text=f"*{t('annual.questions_title')}*\n{bullets}"))
    command = f'medpuls report annual --committee "{year.committee.name}" --year {year.year}'
    parts.append(SmallPrint(text=t("annual.chat_file", command=command)))
    return Message(summary=report.document.title, parts=parts)


def on_annual_command(ctx: FlowContext, event: CommandInvoked) -> Reply:
    t = ctx.t
    if ctx.member is None:
        return Reply(notice=note(t("common.unknown_user")))
    committees = chaired_by(ctx.session, ctx.member)
    if not committees:
        ctx.audit("annual.view", "menu", allowed=False)
        return Reply(notice=note(t("annual.chairs_only")))
    this_year = ctx.now.astimezone(ctx.settings.tz).year
    parts: list[Part] = [ChatText(text=t("annual.menu"))]
    for committee in committees:
        parts.append(
            Buttons(
                label=committee.name,
                buttons=[
                    Button(
                        label=t("annual.button", year=y),
                        data=AnnualOpen(c=committee.id, y=y).pack(),
                        style="primary" if y == this_year else "default",
                    )
                    for y in (this_year, this_year - 1)
                ],
            )
        )
    return Reply(notice=Message(summary=t("annual.menu"), parts=parts))


def on_annual_open(ctx: FlowContext, event: ButtonClicked, data: AnnualOpen) -> Reply:
    t = ctx.t
    committee = ctx.session.get(Committee, data.c)
    allowed = (
        ctx.member is not None
        and committee is not None
        and any(c.id == data.c for c in chaired_by(ctx.session, ctx.member))
    )
    if not allowed or committee is None:
        ctx.audit("annual.view", f"committee:{data.c}", allowed=False)
        return Reply(notice=note(t("annual.chairs_only")))
    if data.y not in years(ctx.now, ctx.settings.tz):
        return Reply(notice=note(t("annual.bad_year", year=data.y)))
    report = build_report(ctx.session, committee, data.y, ctx.settings, t)
    image_id = None
    if report.chart is not None:
        image_id = uuid.uuid4().hex
        ctx.session.add(StoredImage(id=image_id, png=report.chart))
    ctx.audit("annual.view", f"committee:{committee.id}", year=data.y)
    return Reply(notice=report_message(report, t, image_id))


def register(router: Router) -> None:
    router.command("årsrapport", "arsrapport", "annual")(on_annual_command)
    router.action(AnnualOpen)(on_annual_open)

"""Issue 18, point 8: the annual work-environment discussion, from the CLI and in chat.

Every figure in the report goes through the ledger: a unit under the threshold shows nothing,
and an adversary holding every figure any path published (summaries, digests, this report)
cannot compute any group of fewer than the threshold (the auditor of test_ledger_auditor).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from docx import Document as open_docx
from sqlalchemy import select

from bot.core.config import Settings
from bot.core.i18n import translator
from flows.annual_figures import PATH, AreaYear, year_weeks
from flows.annual_report import AnnualOpen, _index_section, build_report, index_series
from flows.documents import Image as DocImage
from storage.db import Database
from storage.models import Committee, Member, Proposal, Publication, TeamAction, Unit
from storage.queries import unit_by_path
from tests.cli import cli
from tests.fake_platform import fake_chat
from tests.pulse_world import World, day
from tests.rendering import is_a4, pages, render_pdf
from tests.test_documents import keep_png
from tests.test_ledger_auditor import K, exposures

TOP, BIG, SMALL = "Kommune", "Kommune/Plejen", "Kommune/Køkkenet"
QUESTIONS = ("trust_vertical.1", "bonding.1")


# Weeks back from pulse_world.MONDAY, and which units had a round that week.
WEEKS = ((6, (BIG, SMALL)), (5, (BIG,)), (3, (BIG, SMALL)), (2, (BIG,)))


def build_world(s: object, settings: Settings) -> tuple[World, dict[str, frozenset[int]]]:
    """Plejen (8 people) and Køkkenet (3 people) under one committee; rounds over six weeks,
    each week's digest, pooled comments. Returns each cell's respondents, for the auditor."""
    world = World(s, settings)  # type: ignore[arg-type]
    world.unit(TOP)
    world.unit(BIG, members=8)
    world.unit(SMALL, members=3)
    world.committee(TOP, "MED Kommune")
    people: dict[str, frozenset[int]] = {}
    for weeks_back, paths in WEEKS:
        for path in paths:
            members = world.members[path]
            answers = {
                q: [1 + (i + n) % 5 for i in range(len(members))] for n, q in enumerate(QUESTIONS)
            }
            comments = {i: f"Kommentar {i} om ledelsen" for i in range(len(members))}
            r = world.round(path, day(weeks_back, 1), answers, comments=comments, hours=20)
            for q in QUESTIONS:
                people[f"{r.id}:{q}"] = frozenset(m.id for m in members)
            people[f"{r.id}:"] = frozenset(m.id for m in members)
        world.digest(day(weeks_back - 1, 0, hour=7))
    world.pooled(day(1, 0))
    return world, people


def shown_sets(session: object) -> list[frozenset[str]]:
    return [
        frozenset(cells)
        for p in session.scalars(select(Publication).where(Publication.shown.is_(True)))  # type: ignore[attr-defined]
        if p.path != "comments"
        for cells in p.cells
    ]


def test_report_shows_only_what_the_ledger_lets_out_and_nothing_small_is_derivable(
    db_url: str,
) -> None:
    settings = Settings(DATABASE_URL=db_url)
    db = Database(db_url)
    with db.session() as s:
        _, people = build_world(s, settings)
        committee = s.scalars(select(Committee)).one()
        report = build_report(s, committee, 2026, settings, translator("da"))
        figures = report.figures
        # In weeks with Køkkenet's round the area's figure (11 people) minus Plejen's (8,
        # shown in its channel) would give away Køkkenet's 3: withheld. In Plejen's own weeks
        # the area's figure is Plejen's: shown.
        alone = {day(wb, 0).date() for wb, paths in WEEKS if paths == (BIG,)}
        for dim in ("trust_vertical", "bonding"):
            shown = {figures.weeks[w].monday for w, v in enumerate(figures.scores[dim]) if v}
            assert shown == alone, dim
        assert {t.monday for t in figures.turnout} == alone
        assert figures.withheld == 3 * 2  # turnout and two dimensions, in two weeks
        assert figures.comment_themes == {"trust_vertical": 8 * 4}  # Plejen's pools only
        found = next(exposures(shown_sets(s), people), None)
        assert found is None, f"derivable: {sorted(found)}"
        md = report.markdown()
        assert "om ledelsen" not in md  # comments are counted by theme, never quoted
        assert "## Spørgsmål til drøftelsen" in md
        s.rollback()
    db.dispose()


def test_a_committee_under_the_threshold_shows_nothing(db_url: str) -> None:
    settings = Settings(DATABASE_URL=db_url)
    db = Database(db_url)
    with db.session() as s:
        world = World(s, settings)
        world.unit("Lille", members=3)
        committee = world.committee("Lille", "MED Lille")
        people: dict[str, frozenset[int]] = {}
        for weeks_back in (5, 3, 1):
            members = world.members["Lille"]
            answers = {q: [4] * len(members) for q in QUESTIONS}
            r = world.round("Lille", day(weeks_back, 1), answers, comments={0: "hej"}, hours=20)
            for key in (*(f"{r.id}:{q}" for q in QUESTIONS), f"{r.id}:"):
                people[key] = frozenset(m.id for m in members)
        world.pooled(day(0, 0))
        report = build_report(s, committee, 2026, settings, translator("da"))
        figures = report.figures
        assert figures.turnout == [] and figures.comment_themes == {}
        assert all(v is None for values in figures.scores.values() for v in values)
        rows = s.scalars(select(Publication).where(Publication.path == PATH)).all()
        assert rows and not any(p.shown for p in rows)
        assert all(p.people < K for p in rows)
        md = report.markdown()
        assert md.count("Ingen tal kan vises") >= 2
        assert "Ingen kommentarer kunne vises" in md
        assert next(exposures(shown_sets(s), people), None) is None
    db.dispose()


@pytest.fixture
def world_url(db_url: str) -> Iterator[str]:
    settings = Settings(DATABASE_URL=db_url)
    db = Database(db_url)
    with db.session() as s:
        world, _ = build_world(s, settings)
        world.member(TOP, "Karin Formand", roles="leader;chair")
        world.member(TOP, "Vagn Næstformand", roles="rep;vice_chair")
        committee = s.scalars(select(Committee)).one()
        plejen = unit_by_path(s, BIG)
        assert plejen is not None
        s.add(
            Proposal(
                committee_id=committee.id,
                title="Faste pauser",
                issue="Ingen tid til pauser",
                status="decided",
                decision="Faste pauser kl. 10 og 13",
                created_at=day(4, 2),
            )
        )
        s.add(
            TeamAction(
                unit_id=plejen.id,
                text="Tavlemøde hver mandag",
                due_on=day(1, 0).date(),
                dimension="trust_vertical",
                status="done",
                outcome="Holdt hver uge",
                created_at=day(5, 0),
            )
        )
    db.dispose()
    yield db_url


def test_cli_writes_the_report_and_refuses_bad_input(world_url: str, tmp_path: Path) -> None:
    code, out = cli(
        world_url,
        "report",
        "annual",
        "--committee",
        "MED Kommune",
        "--year",
        "2026",
        "--format",
        "md",
        "--out",
        "r.md",
    )
    assert code == 0, out
    assert "figures shown" in out
    md = Path("r.md").read_text(encoding="utf-8")
    assert md.startswith("# Årlig arbejdsmiljødrøftelse 2026: MED Kommune")
    assert "| Faste pauser | Behandlet på mødet. | Faste pauser kl. 10 og 13 |" in md
    assert "| Plejen | Tavlemøde hver mandag | Tillid mellem ledelse og medarbejdere |" in md
    assert "gennemført | Holdt hver uge |" in md
    code, out = cli(
        world_url, "report", "annual", "--committee", "Ukendt", "--year", "2026", "--out", "r.docx"
    )
    assert code == 2 and "unknown committee 'Ukendt'" in out and "Traceback" not in out
    code, out = cli(
        world_url,
        "report",
        "annual",
        "--committee",
        "MED Kommune",
        "--year",
        "1999",
        "--out",
        "r.docx",
    )
    assert code == 2 and "--year must be between" in out
    code, out = cli(
        world_url,
        "report",
        "annual",
        "--committee",
        "MED Kommune",
        "--year",
        "2026",
        "--out",
        "r.docx",
    )
    assert code == 0, out
    docx = Path("r.docx").read_bytes()
    props = open_docx(io.BytesIO(docx)).core_properties
    assert props.author == "MED Kommune" and props.language == "da-DK"
    assert props.title == "Årlig arbejdsmiljødrøftelse 2026: MED Kommune"
    pdf = render_pdf(docx, tmp_path / "pdf", "annual")
    found = pages(pdf)
    assert len(found) >= 2 and all(is_a4(p) for p in found)
    first = " ".join(found[0].text.split())
    assert "Årlig arbejdsmiljødrøftelse 2026: MED Kommune" in first
    assert f"Side 1 af {len(found)}" in first
    assert "Spørgsmål til drøftelsen" in found[-1].text
    if world_url.startswith("sqlite"):
        keep_png(pdf, "annual-report")


async def test_the_chair_gets_the_report_in_chat(world_url: str) -> None:
    async with fake_chat(world_url) as chat:
        with chat.bot.db.session() as s:
            by_name = {m.name: m.id for m in s.scalars(select(Member))}
            committee_id = s.scalars(select(Committee.id)).one()
        chair, staff = by_name["Karin Formand"], by_name["Ansat Nummer1"]
        menu = (await chat.say(chair, "årsrapport")).notice
        opened = AnnualOpen(c=committee_id, y=2026).pack()
        assert opened in menu.actions
        shown = await chat.click(chair, opened)
        text = shown.notice.text
        assert "Årlig arbejdsmiljødrøftelse 2026: MED Kommune" in text
        assert "medpuls report annual" in text
        refused = await chat.say(staff, "årsrapport")
        assert "Kun udvalgets formand og næstformand" in refused.notice.text
        assert "Spørgsmål til drøftelsen" in text
        refused = await chat.click(staff, opened)
        assert "Kun udvalgets formand og næstformand" in refused.notice.text
        # A crafted button: a year out of range, or a committee that does not exist.
        odd = await chat.click(chair, AnnualOpen(c=committee_id, y=1).pack())
        assert "Der kan ikke laves en årsrapport for 1" in odd.notice.text
        odd = await chat.click(chair, AnnualOpen(c=committee_id + 99, y=2026).pack())
        assert "Kun udvalgets formand og næstformand" in odd.notice.text


def test_the_indices_come_from_the_shown_scores_only() -> None:
    weeks = year_weeks(2026, ZoneInfo("Europe/Copenhagen"))
    committee = Committee(name="MED X", unit=Unit(path="X", name="X"))

    def year_with(dims: tuple[str, ...]) -> AreaYear:
        scores: dict[str, list[float | None]] = {d: [None] * len(weeks) for d in dims}
        for d in dims:
            scores[d][10] = 60.0
        return AreaYear(committee, 2026, 5, weeks, scores=scores)

    t = translator("da")
    # Trust, justice and cooperation each shown: a social-capital index, drawn.
    full = year_with(("trust_vertical", "justice_voice", "bonding"))
    assert index_series(full)["social_capital"][10] == 60.0
    assert any(isinstance(b, DocImage) for b in _index_section(full, t).blocks)
    # Justice never shown: no index, nothing drawn, the section says so.
    partial = year_with(("trust_vertical", "bonding"))
    assert all(v is None for v in index_series(partial)["social_capital"])
    blocks = _index_section(partial, t).blocks
    assert not any(isinstance(b, DocImage) for b in blocks)
    assert "Intet indeks kan beregnes" in str(blocks[0])


def test_a_year_without_rounds_says_so(db_url: str) -> None:
    settings = Settings(DATABASE_URL=db_url)
    db = Database(db_url)
    with db.session() as s:
        world = World(s, settings)
        world.unit("Stille", members=9)
        committee = world.committee("Stille", "MED Stille")
        md = build_report(s, committee, 2025, settings, translator("da")).markdown()
        assert md.count("Der var ingen pulsmålinger i området i 2025.") == 2
        assert "for få svar" not in md
    db.dispose()

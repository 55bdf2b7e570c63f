"""Annual report: `medpuls report annual` for the top committee of a 50,000-member municipality.

    python bench/annual_report.py [--teams 2000] [--team-size 25] [--weeks 52] [--database URL]

Seeds the same municipality and year of closed rounds as bench/aggregate.py (104,000 rounds,
2.6 million Participation rows), then builds and writes the annual report (.docx) of the top
committee (everyone) and of one area's committee, for 2025, the year the rounds fall in. What is
timed is what a chair's click or the command does: gather the year's cells, decide each week's
figures against the ledger (and record them), draw the charts, write the Word file. Seeding is
not measured. A second build of the same report is timed too: its figures are then known to
the ledger. The last line holds the figures.
"""

from __future__ import annotations

import argparse
import contextlib
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import select

from bench._common import bench_database
from bench.aggregate import counts, seed

YEAR = 2025


def build(url: str, name: str) -> tuple[float, int, int]:
    """Seconds to build and write the committee's report; figures shown and withheld."""
    from bot.core.config import Settings
    from bot.core.i18n import translator
    from flows.annual_report import build_report
    from storage.db import Database
    from storage.models import Committee

    settings = Settings(DATABASE_URL=url)
    db = Database(url)
    started = time.perf_counter()
    with db.session() as s:
        committee = s.scalars(select(Committee).where(Committee.name == name)).one()
        report = build_report(s, committee, YEAR, settings, translator("da"))
        data = report.docx()
        figures = report.figures
        shown = len(figures.turnout) + sum(
            v is not None for values in figures.scores.values() for v in values
        )
    seconds = time.perf_counter() - started
    db.dispose()
    assert data.startswith(b"PK")
    return seconds, shown, figures.withheld


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--teams", type=int, default=2000)
    parser.add_argument("--team-size", type=int, default=25)
    parser.add_argument("--weeks", type=int, default=52)
    parser.add_argument("--database", metavar="URL", help="a database seeded with --keep")
    args = parser.parse_args()
    with contextlib.nullcontext(args.database) if args.database else bench_database() as url:
        started = time.perf_counter()
        made = counts(url) if args.database else seed(url, args.teams, args.team_size, args.weeks)
        print(f"seeded {made} in {time.perf_counter() - started:.1f} s", flush=True)
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        top = build(url, "MED Bench Kommune")
        print(f"top committee: {top[0]:.2f} s, {top[1]} shown, {top[2]} withheld", flush=True)
        again = build(url, "MED Bench Kommune")
        print(f"top committee again: {again[0]:.2f} s", flush=True)
        area = build(url, "MED Forvaltning 0")
        print(f"area committee: {area[0]:.2f} s, {area[1]} shown, {area[2]} withheld", flush=True)
        rss_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024
    print(
        f"annual_report: members={made['members']} rounds={made['rounds']} "
        f"top_seconds={top[0]:.2f} top_again_seconds={again[0]:.2f} "
        f"area_seconds={area[0]:.2f} shown={top[1]} withheld={top[2]} rss_growth_mb={rss_mb:.0f}",
        flush=True,
    )


if __name__ == "__main__":
    main()

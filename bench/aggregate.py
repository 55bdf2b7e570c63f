"""Aggregate: every leader's weekly digest for a 50,000-member municipality with a year of rounds.

    python bench/aggregate.py [--teams 2000] [--team-size 25] [--weeks 52] [--untraced]
                              [--keep | --database URL]

Seeds a throw-away PostgreSQL database with a municipality tree (top -> 6 areas (forvaltninger)
-> 60 departments -> teams of `--team-size`), a leader for every unit, a committee for the top,
each area and each department, and `--weeks` weekly closed rounds per team of two questions
each: RoundResult rows per question and a Participation row per member asked (2.6 million for
50,000 members over 52 weeks), made by `INSERT ... SELECT generate_series` in the database.
Turnout varies by round; about one round in thirty has fewer than five answers, so the
disclosure decision has small groups to fold and complements to withhold.

Then it runs the scheduler's job, `send_due_digests`, at a frozen Monday 08:00 (local) in a
fresh child process, as the worker would: load the figures, decide what may be shown, build
every leader's message and chart, queue them with the charts and audit rows. Seeding is not
measured. Time and resident-set growth come from one untraced run; the Python heap's peak
(tracemalloc) from a second, traced run of the same job after its rows were removed, because
tracing slows Python code down (`--untraced` leaves that run out). The last line holds the
figures. `--keep` leaves the seeded database in place (its URL is printed) and `--database URL`
measures on such a database again without seeding it (seeding 100,000 members takes minutes).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine, insert, select, text

from bench._common import bench_database
from flows.indices import RELATIONAL_COORDINATION, SOCIAL_CAPITAL

# Monday 2 March 2026, 08:00 in Copenhagen: the leaders' default digest time.
NOW = dt.datetime(2026, 3, 2, 7, 0, tzinfo=dt.UTC)
AREAS = 6
DEPARTMENTS_PER_AREA = 10
# The rotation asks two dimensions a week; each area runs its own schedule, a week apart.
DIMENSIONS = (*(d for group in SOCIAL_CAPITAL.values() for d in group), *RELATIONAL_COORDINATION)
# Which digests read English: every tenth leader (a chart per unit and language).
ENGLISH_EVERY = 10


# Not bench._common.UNIT ("Bench Kommune"): bench/ack.py --with-digest seeds both in one database.
TOP = "Digest Kommune"


def seed(
    url: str, teams: int, team_size: int, weeks: int, now: dt.datetime = NOW
) -> dict[str, int]:
    """The organisation and its year of closed rounds before `now`; returns what was made.

    Its people are p0@bench.invalid... and its rounds' periods start with "bench-", so it can
    share a database with bench._common.seed_unit's m1@bench.invalid... and their rounds."""
    from storage.db import Database
    from storage.models import Committee, Member, Membership, Unit

    db = Database(url)
    with db.session() as s:
        top = Unit(path=TOP, name=TOP)
        s.add(top)
        s.flush()
        areas = [
            Unit(path=f"{top.path}/Forvaltning {a}", name=f"Forvaltning {a}", parent_id=top.id)
            for a in range(AREAS)
        ]
        s.add_all(areas)
        s.flush()
        departments = [
            Unit(path=f"{area.path}/Afdeling {a}.{d}", name=f"Afdeling {a}.{d}", parent_id=area.id)
            for a, area in enumerate(areas)
            for d in range(DEPARTMENTS_PER_AREA)
        ]
        s.add_all(departments)
        s.flush()
        s.execute(
            insert(Unit),
            [
                {
                    "path": f"{dep.path}/Team {i}",
                    "name": f"Team {i}",
                    "parent_id": dep.id,
                }
                for i in range(teams)
                for dep in [departments[i % len(departments)]]
            ],
        )
        heads = [top, *areas, *departments]
        s.add_all(
            Committee(
                name=f"MED {u.name}", unit_id=u.id, min_group_size=None, min_comment_group_size=None
            )
            for u in heads
        )
        # The leaders above the teams are people of their own, not asked in the team rounds.
        s.execute(
            insert(Member),
            [
                {
                    "name": f"Chef {u.id}",
                    "email": f"chef{u.id}@bench.invalid",
                    "language": "en" if i % ENGLISH_EVERY == 0 else "da",
                    "erased": False,
                    "seen_privacy_notice": True,
                    "created_at": now,
                }
                for i, u in enumerate(heads)
            ],
        )
        chefs = {
            email: member_id
            for email, member_id in s.execute(
                select(Member.email, Member.id).where(Member.email.like("chef%"))
            )
        }
        s.add_all(
            Membership(
                member_id=chefs[f"chef{u.id}@bench.invalid"],
                unit_id=u.id,
                roles="leader",
                created_at=now,
            )
            for u in heads
        )
    db.dispose()

    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text(
                """
                CREATE TEMP TABLE bench_teams ON COMMIT DROP AS
                SELECT id AS unit_id, row_number() OVER (ORDER BY id) - 1 AS team
                FROM units WHERE name LIKE 'Team %' AND path LIKE :top
                """
            ),
            {"top": f"{TOP}/%"},
        )
        conn.execute(
            text(
                """
                INSERT INTO members (name, email, language, language_chosen, erased,
                                     seen_privacy_notice, created_at)
                SELECT 'Medarbejder ' || i, 'p' || i || '@bench.invalid',
                       CASE WHEN i % (:size * :every) = 0 THEN 'en' ELSE 'da' END,
                       false, false, true, :now
                FROM generate_series(0, CAST(:teams AS integer) * :size - 1) AS i
                """
            ),
            {"teams": teams, "size": team_size, "every": ENGLISH_EVERY, "now": now},
        )
        # Member i is number i % size of team i / size; number 0 leads the team.
        conn.execute(
            text(
                """
                CREATE TEMP TABLE bench_people ON COMMIT DROP AS
                SELECT m.id AS member_id, t.unit_id, m.i % :size AS pos
                FROM (SELECT id, substring(email from 2 for position('@' in email) - 2)::int AS i
                      FROM members WHERE email LIKE 'p%') m
                JOIN bench_teams t ON t.team = m.i / :size
                """
            ),
            {"size": team_size},
        )
        conn.execute(
            text(
                """
                INSERT INTO memberships (member_id, unit_id, created_at)
                SELECT member_id, unit_id, :now FROM bench_people
                """
            ),
            {"now": now},
        )
        conn.execute(
            text(
                """
                INSERT INTO membership_roles (membership_id, role)
                SELECT ms.id, r.role
                FROM memberships ms
                JOIN bench_people p ON p.member_id = ms.member_id AND p.unit_id = ms.unit_id
                CROSS JOIN (VALUES ('member'), ('leader')) AS r(role)
                WHERE r.role = 'member' OR p.pos = 0
                """
            )
        )
        # Closed on the Friday at 14:00 local (13:00 UTC in winter; near enough all year for
        # a bench) of each of the `weeks` weeks before `now`.
        conn.execute(
            text(
                """
                INSERT INTO pulse_rounds (unit_id, period, opened_at, closes_at, closed_at,
                                          min_group_size, min_comment_group_size,
                                          scrub_pending)
                SELECT t.unit_id, 'bench-' || w,
                       :now - make_interval(days => 7 * w - 4) - interval '2 hours',
                       :now - make_interval(days => 7 * w - 4) + interval '6 hours',
                       :now - make_interval(days => 7 * w - 4) + interval '6 hours',
                       5, 5, false
                FROM bench_teams t, generate_series(1, :weeks) AS w
                """
            ),
            {"now": now, "weeks": weeks},
        )
        # Answers per round: mostly 12..size; one round in thirty under five.
        conn.execute(
            text(
                """
                CREATE TEMP TABLE bench_rounds ON COMMIT DROP AS
                SELECT r.id AS round_id, r.unit_id,
                       substring(r.period from 7)::int AS w,
                       CASE WHEN (r.id * 7919) % 30 = 0 THEN (r.id * 31) % 5
                            ELSE least(:size, 12 + (r.id * 31) % 14) END AS n
                FROM pulse_rounds r WHERE r.period LIKE 'bench-%'
                """
            ),
            {"size": team_size},
        )
        conn.execute(
            text(
                """
                INSERT INTO participations (round_id, member_id, answered, reminders_sent)
                SELECT r.round_id, p.member_id, p.pos < r.n, 0
                FROM bench_rounds r JOIN bench_people p ON p.unit_id = r.unit_id
                """
            )
        )
        conn.execute(
            text(
                """
                INSERT INTO round_results (round_id, question_id, dimension, respondents,
                                           value_sum, favourable, neutral, unfavourable)
                SELECT round_id, dim || '.1', dim, n,
                       4 * fav + 3 * neu + 2 * (n - fav - neu), fav, neu, n - fav - neu
                FROM (
                    SELECT r.round_id, r.n,
                           (CAST(:dims AS text[]))[1 + (2 * (r.w + a.area) + q) % 16] AS dim,
                           r.n * (30 + (r.round_id * 17 + q) % 60) / 100 AS fav,
                           (r.n - r.n * (30 + (r.round_id * 17 + q) % 60) / 100) / 2 AS neu
                    FROM bench_rounds r
                    JOIN units t ON t.id = r.unit_id
                    JOIN units d ON d.id = t.parent_id
                    JOIN (SELECT id, row_number() OVER (ORDER BY id) AS area
                          FROM units WHERE name LIKE 'Forvaltning %') a ON a.id = d.parent_id,
                    generate_series(0, 1) AS q
                    WHERE r.n > 0
                ) x
                """
            ),
            {"dims": list(DIMENSIONS)},
        )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
    engine.dispose()
    return counts(url)


def counts(url: str) -> dict[str, int]:
    """What the database holds (after seed)."""
    engine = create_engine(url)
    with engine.connect() as conn:
        made = {
            name: int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())
            for name, table in (
                ("members", "members"),
                ("units", "units"),
                ("rounds", "pulse_rounds"),
                ("results", "round_results"),
                ("participations", "participations"),
            )
        }
        made["leaders"] = int(
            conn.execute(
                text(
                    "SELECT count(DISTINCT ms.member_id) FROM memberships ms"
                    " JOIN membership_roles r ON r.membership_id = ms.id WHERE r.role = 'leader'"
                )
            ).scalar_one()
        )
    engine.dispose()
    return made


def forget_digests(url: str) -> None:
    """Remove what a run queued and published, so the next run builds every digest again and
    decides every figure as the first run did (nothing published before: the most work)."""
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM publications"))
        conn.execute(text("DELETE FROM outbox WHERE purpose = 'digest.leader'"))
        conn.execute(text("DELETE FROM images"))
        conn.execute(text("DELETE FROM audit_log WHERE action = 'view.digest'"))
    engine.dispose()


class ChildPeaks:
    """The highest resident set (VmHWM) of each child process seen while running.

    Not RUSAGE_CHILDREN: Linux keeps a process's ru_maxrss across exec, so a child started
    from a 200 MB parent reports at least 200 MB however little it uses itself.
    """

    def __init__(self) -> None:
        self.peaks: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def __enter__(self) -> ChildPeaks:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _watch(self) -> None:
        own = Path("/proc/self/cmdline").read_bytes()
        while not self._stop.wait(0.02):
            for tasks in Path("/proc/self/task").glob("*/children"):
                for pid in tasks.read_text().split():
                    try:
                        # Until it execs, a new child shares this process's memory and peak.
                        if Path(f"/proc/{pid}/cmdline").read_bytes() == own:
                            continue
                        status = Path(f"/proc/{pid}/status").read_text()
                    except OSError:
                        continue
                    for line in status.splitlines():
                        if line.startswith("VmHWM:"):
                            kb = int(line.split()[1])
                            self.peaks[int(pid)] = max(self.peaks.get(int(pid), 0), kb)

    @property
    def largest_mb(self) -> float:
        return max(self.peaks.values(), default=0) / 1024


def measure(url: str, traced: bool) -> dict[str, float]:
    """One run of the scheduler's digest job in this (fresh) process."""
    import tracemalloc

    from bot.core.config import Settings
    from flows.digest import send_due_digests
    from storage.db import Database
    from storage.models import OutboxMessage

    settings = Settings(DATABASE_URL=url)
    db = Database(url)
    with db.session() as s:  # connect and load the ORM's mappers before the clock starts
        s.scalar(select(OutboxMessage.id).limit(1))
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if traced:
        tracemalloc.start()
    started = time.perf_counter()
    with ChildPeaks() as children:
        send_due_digests(db, settings, NOW)
    seconds = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1] if traced else 0
    tracemalloc.stop()
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with db.session() as s:
        digests = len(
            s.scalars(
                select(OutboxMessage.id).where(OutboxMessage.purpose == "digest.leader")
            ).all()
        )
    db.dispose()
    return {
        "seconds": seconds,
        "peak_mb": peak / 2**20,
        # The chart process's own peak counts too: it runs alongside until the end.
        "rss_mb": (rss_after - rss_before) / 1024 + children.largest_mb,
        "children_rss_mb": children.largest_mb,
        "digests": digests,
    }


def in_child(url: str, traced: bool) -> dict[str, float]:
    args = [sys.executable, __file__, "--measure", url] + (["--traced"] if traced else [])
    done = subprocess.run(args, check=True, capture_output=True, text=True, env=os.environ.copy())
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--teams", type=int, default=2000)
    parser.add_argument("--team-size", type=int, default=25)
    parser.add_argument("--weeks", type=int, default=52)
    parser.add_argument("--runs", type=int, default=1, help="untraced runs; the best is kept")
    parser.add_argument("--untraced", action="store_true", help="skip the tracemalloc run")
    parser.add_argument("--keep", action="store_true", help="keep the seeded database")
    parser.add_argument("--database", metavar="URL", help="a database seeded with --keep")
    parser.add_argument("--measure", metavar="URL", help=argparse.SUPPRESS)
    parser.add_argument("--traced", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.traced)), flush=True)
        return
    with (
        contextlib.nullcontext(args.database) if args.database else bench_database(args.keep)
    ) as url:
        started = time.perf_counter()
        made = counts(url) if args.database else seed(url, args.teams, args.team_size, args.weeks)
        print(f"seeded {made} in {time.perf_counter() - started:.1f} s: {url}", flush=True)
        timed = []
        for _ in range(args.runs):
            forget_digests(url)
            timed.append(in_child(url, traced=False))
            print(f"untraced run: {timed[-1]}", flush=True)
        best = min(timed, key=lambda r: r["seconds"])
        traced = {"peak_mb": float("nan")}
        if not args.untraced:
            forget_digests(url)
            traced = in_child(url, traced=True)
            print(f"traced run: {traced}", flush=True)
    print(
        f"aggregate: members={made['members']} units={made['units']} "
        f"leaders={made['leaders']} rounds={made['rounds']} "
        f"participations={made['participations']} digests={int(best['digests'])} "
        f"seconds={best['seconds']:.2f} peak_mb={traced['peak_mb']:.0f} "
        f"rss_mb={best['rss_mb']:.0f} (chart process {best['children_rss_mb']:.0f})",
        flush=True,
    )


if __name__ == "__main__":
    main()

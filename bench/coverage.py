"""Coverage: the share of members whose own unit or pooled group shows a figure for each
dimension within 8 weeks (issue 17's acceptance figure).

    python bench/coverage.py [--rule before|after|both] [--teams 2000] [--team-size 25]
                             [--weeks 20] [--answered PERCENT]

The municipality is bench/aggregate.py's (top -> 6 areas -> 60 departments -> teams of
`--team-size`, 50,067 people by default, its answer counts: mostly 12 and more, about one round
in thirty under five), seeded by its `seed`. `--answered PERCENT` draws again who answers: each
member about PERCENT % of rounds, different people each week (small teams with a turnout like
that are where a unit's answers go unseen). Then each team's rounds are given the dimensions
the rule asks, from flows.question_bank.pick_questions itself:

* before: the old rule, the rotation shuffled per unit (`seed=unit id`, no `slot`), and no
  pooling: a member counts only where their own team's figure was shown;
* after: the shared calendar (`slot=flows.schedule.rotation_slot`), and pooling: a member
  also counts where their team's answers were shown pooled with its siblings and parent (the
  parent's figure of that week and dimension, holding the team's round) or over weeks
  (flows.pooling, for a pool holding the dimension).

Figures are what the digest's picture shows (flows.digest.load_picture at aggregate.NOW: the
tree gate and the ledger, pools included). A member is covered for a dimension when one of
those figures holding their team's answers to it was shown in the last 8 weeks. The last line
holds the share over all (member, dimension) pairs.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine, select, text

from bench._common import bench_database
from bench.aggregate import NOW, seed

WINDOW = 8


def _rotation(url: str, rule: str) -> None:
    """Give every team round the two questions the rule asks, keeping its answer counts."""
    from flows.question_bank import default_bank, pick_questions
    from flows.schedule import DEFAULT_TZ, rotation_slot

    bank = default_bank()
    engine = create_engine(url)
    with engine.begin() as conn:
        rounds = conn.execute(
            text(
                "SELECT r.id, r.unit_id, r.closed_at FROM pulse_rounds r "
                "ORDER BY r.unit_id, r.closed_at"
            )
        ).all()
        rows: list[dict[str, object]] = []
        history: dict[int, list[list[str]]] = defaultdict(list)
        for rid, unit_id, closed in rounds:
            if rule == "after":
                day = closed.astimezone(DEFAULT_TZ).date()
                picked = pick_questions(
                    bank, count=2, history=[], slot=rotation_slot("weekly", day)
                )
            else:
                picked = pick_questions(bank, count=2, history=history[unit_id], seed=unit_id)
                history[unit_id].append(picked)
            rows += [
                {"rid": rid, "qid": qid, "dim": bank.by_id[qid].dimension, "q": q}
                for q, qid in enumerate(picked)
            ]
        conn.execute(
            text("CREATE TEMP TABLE cover (rid int, qid text, dim text, q int) ON COMMIT DROP")
        )
        conn.execute(
            text("INSERT INTO cover VALUES (:rid, :qid, :dim, :q)"),
            rows,
        )
        conn.execute(text("DELETE FROM round_results"))
        conn.execute(
            text(
                """
                INSERT INTO round_results (round_id, question_id, dimension, respondents,
                                           value_sum, favourable, neutral, unfavourable)
                SELECT c.rid, c.qid, c.dim, p.n,
                       4 * x.fav + 3 * x.neu + 2 * (p.n - x.fav - x.neu), x.fav, x.neu,
                       p.n - x.fav - x.neu
                FROM cover c
                JOIN (SELECT round_id, count(*) FILTER (WHERE answered) AS n
                      FROM participations GROUP BY round_id) p ON p.round_id = c.rid
                CROSS JOIN LATERAL (
                    SELECT p.n * (30 + (c.rid * 17 + c.q) % 60) / 100 AS fav,
                           (p.n - p.n * (30 + (c.rid * 17 + c.q) % 60) / 100) / 2 AS neu
                ) x
                WHERE p.n > 0
                """
            )
        )
    engine.dispose()


def redraw_answers(url: str, percent: int) -> None:
    """Who answers each round, drawn again: each member answers about `percent` % of rounds,
    a different few each week (a fixed hash of member and round, so runs repeat)."""
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE participations SET answered = "
                "((CAST(member_id AS bigint) * 7919 + CAST(round_id AS bigint) * 104729)"
                " % 100) < :p"
            ),
            {"p": percent},
        )
    engine.dispose()


def coverage(url: str, rule: str) -> tuple[int, int]:
    """(member-dimension pairs covered, all pairs) under the rule."""
    from bot.core.config import Settings
    from flows.digest import load_picture
    from flows.pooling import pool_dimensions
    from flows.question_bank import default_bank
    from storage.db import Database
    from storage.models import Membership, Unit

    dims = [d for d in default_bank().dimensions if d != "custom"]
    pools = pool_dimensions()
    settings = Settings(DATABASE_URL=url)
    db = Database(url)
    with db.session() as s:
        picture = load_picture(s, settings, NOW)
        teams = {
            int(uid): int(n)
            for uid, n in s.execute(
                select(Membership.unit_id, text("count(*)"))
                .join(Unit, Unit.id == Membership.unit_id)
                .where(Unit.name.like("Team %"), Membership.has_role("member"))
                .group_by(Membership.unit_id)
            )
        }
        s.rollback()
    db.dispose()
    last = range(len(picture.weeks) - WINDOW, len(picture.weeks))
    covered = total = 0
    for team, members in teams.items():
        parent = picture.units[team].parent_id
        measured = picture.measured(team)
        for dim in dims:
            total += members
            asked = [w for w in measured.get(dim, ()) if w in last]
            seen = any(picture.shown_tally_of(team, w, dim) for w in asked)
            if not seen and rule == "after":
                seen = any(
                    parent is not None and picture.shown_tally_of(parent, w, dim) for w in asked
                ) or any(
                    w in last
                    for pool, by_week in (
                        (p, picture.pooled.get((team, p), {})) for p in pools if dim in pools[p]
                    )
                    for w in by_week
                )
            covered += members if seen else 0
    return covered, total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rule", choices=("before", "after", "both"), default="both")
    parser.add_argument("--teams", type=int, default=2000)
    parser.add_argument("--team-size", type=int, default=25)
    parser.add_argument("--weeks", type=int, default=20)
    parser.add_argument(
        "--answered",
        type=int,
        metavar="PERCENT",
        help="redraw who answers: each member about PERCENT %% of rounds (default: the seed's)",
    )
    args = parser.parse_args()
    rules = ("before", "after") if args.rule == "both" else (args.rule,)
    shares: dict[str, float] = {}
    for rule in rules:
        with bench_database() as url:
            started = time.perf_counter()
            made = seed(url, args.teams, args.team_size, args.weeks)
            if args.answered is not None:
                redraw_answers(url, args.answered)
            _rotation(url, rule)
            seeded = time.perf_counter() - started
            started = time.perf_counter()
            covered, total = coverage(url, rule)
            shares[rule] = covered / total if total else 0.0
            print(
                f"{rule}: members={made['members']} teams={args.teams} "
                f"covered={covered}/{total} share={shares[rule]:.2%} "
                f"(seeded {seeded:.0f} s, picture {time.perf_counter() - started:.1f} s)",
                flush=True,
            )
    print(
        "coverage: "
        + " ".join(f"{rule}={share:.1%}" for rule, share in shares.items())
        + f" (members with a shown figure per dimension within {WINDOW} weeks; target >= 95%)",
        flush=True,
    )


if __name__ == "__main__":
    main()

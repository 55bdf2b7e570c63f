"""How long reading a team's roster takes: the pages from the fake Bot Connector, the members
matched and their references stored, on a throw-away PostgreSQL database.

    python bench/teams_roster.py [--members 5000] [--team-size 6000]

The team has `--team-size` people, of whom `--members` are MEDpuls members (matched by e-mail);
Teams serves at most 500 a page. The roster is read as when the app is added to the team, then
again (nothing new: the daily refresh). Prints both durations on the last line.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import SECRET_KEY, bench_database, seed_unit
from tests.fakes.bot_connector import FakeBotConnector

APP_ID = "00000000-0000-4000-8000-0000000be4c4"
TEAM = "19:bench-team@thread.tacv2"


def _entry(i: int) -> dict[str, str]:
    return {
        "id": f"29:1bench{i:08d}",
        "objectId": f"00000000-0000-4000-8000-{i:012d}",
        "email": f"m{i}@bench.invalid",
        "userPrincipalName": f"m{i}@bench.invalid",
        "userRole": "user",
    }


async def read(members: int, team_size: int) -> str:
    from adapters.teams.platform import make_teams_platform
    from bot.core.config import Settings
    from storage.db import Database

    fake = FakeBotConnector(keep_calls=False).start()
    fake.rosters[TEAM] = [_entry(i) for i in range(1, team_size + 1)]
    try:
        with bench_database() as url:
            values = {
                "DATABASE_URL": url,
                "MICROSOFT_APP_ID": APP_ID,
                "MICROSOFT_APP_PASSWORD": "bench-secret",
                "MICROSOFT_APP_TYPE": "SingleTenant",
                "MEDPULS_SECRET_KEY": SECRET_KEY,
                **fake.settings(),
            }
            settings = Settings(_env_file=None, **values)  # type: ignore[call-arg]
            db = Database(url)
            seed_unit(db, members, slack=False)
            platform = make_teams_platform(settings, db)
            reference = {
                "serviceUrl": fake.service_url,
                "bot": {"id": f"28:{APP_ID}"},
                "conversation": {"id": TEAM, "tenantId": fake.tenant},
            }
            timings = []
            for _ in range(2):
                started = time.perf_counter()
                count = await platform.read_roster(reference, TEAM)
                timings.append(time.perf_counter() - started)
                assert count == team_size, count
            db.dispose()
    finally:
        fake.stop()
    first, again = timings
    return (
        f"roster of {team_size} ({members} members, {len(fake.roster_queries) // 2} pages): "
        f"first read {first:.2f} s, read again {again:.2f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=5000)
    parser.add_argument("--team-size", type=int, default=6000)
    args = parser.parse_args()
    print(asyncio.run(read(args.members, args.team_size)))


if __name__ == "__main__":
    main()

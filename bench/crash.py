"""Crash safety: kill -9 a real `medpuls worker` during a 10,000-member fan-out, restart it,
and count duplicates and lost messages at the receiving platform.

    python bench/crash.py [--runs 20] [--members 10000] [--kills 2] [--workers 3]

The worker runs as a subprocess on a throw-away PostgreSQL database with the local platform,
whose receiving side (the local_messages table) records every message it is given. Each run
opens a fresh round, kills the worker at random moments (claiming, sending, marking sent: the
kill lands wherever it lands), starts a new one each time, and waits until the outbox has
settled: the dead worker's heartbeat runs out, its claimed rows go back to the queue and its
in-flight ones are re-sent by dedupe key (the local platform declares idempotent posts).
With `--workers K`, K workers share the fan-out (and the rate limit, through PostgreSQL) and each
kill picks one of them at random; the others keep sending while its lease runs out.
Duplicates are conversations that got a run's DM more than once; lost are members asked who
got nothing and whose row is not surfaced as unknown.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func, select, update

from bench._common import SECRET_KEY, UNIT, bench_database, seed_unit

# Beside this Python: a snapshot of the tree (git worktree add) has no .venv of its own, and
# PYTHONPATH picks which tree's code the command runs.
MEDPULS = str(Path(sys.executable).with_name("medpuls"))


def start_worker(url: str) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "MICROSOFT_"))}
    env["DATABASE_URL"] = url
    env["MEDPULS_SECRET_KEY"] = SECRET_KEY
    return subprocess.Popen(
        # The local platform: the bench counts its stored messages (MEDPULS_LOCAL_CHAT=1).
        [MEDPULS, "worker"],
        # Any hour: a round opened after 17:00 Copenhagen time would wait for the morning.
        env={**env, "MEDPULS_LOCAL_CHAT": "1", "MEDPULS_WORKING_HOURS": "always"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def one_run(
    url: str,
    members: list[int],
    kills: int,
    rng: random.Random,
    deadline: float,
    workers: int = 1,
) -> dict[str, int]:
    from bot.core.config import Settings
    from flows.pulse import run_now
    from storage.db import Database
    from storage.models import LocalMessage, OutboxMessage, PulseRound, utcnow

    db = Database(url)
    settings = Settings(DATABASE_URL=url)
    with db.session() as session:
        session.execute(
            update(PulseRound).where(PulseRound.closed_at.is_(None)).values(closed_at=utcnow())
        )
    with db.session() as session:
        [opened] = run_now(session, UNIT, now=utcnow(), settings=settings)
    round_id = opened.round_id

    def settled() -> tuple[int, int]:
        with db.session() as session:
            busy = session.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.round_id == round_id)
                .where(OutboxMessage.status.in_(("pending", "claimed", "sending")))
            )
            done = session.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.round_id == round_id, OutboxMessage.status == "sent")
            )
        return int(busy or 0), int(done or 0)

    pool = [start_worker(url) for _ in range(workers)]
    for _ in range(kills):
        # Kill somewhere in the fan-out: after between 2 % and 80 % has gone out.
        target = rng.uniform(0.02, 0.8) * len(members)
        t0 = time.monotonic()
        while settled()[1] < target and time.monotonic() - t0 < deadline:
            time.sleep(rng.uniform(0.0, 0.05))
        victim = rng.randrange(len(pool))
        pool[victim].send_signal(signal.SIGKILL)
        pool[victim].wait()
        pool[victim] = start_worker(url)
    t0 = time.monotonic()
    while settled()[0] and time.monotonic() - t0 < deadline:
        time.sleep(0.5)
    # Workers that stopped by themselves (one that cannot start counts its members as lost).
    exited = sum(worker.poll() is not None for worker in pool)
    for worker in pool:
        worker.send_signal(signal.SIGINT)
    for worker in pool:
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()

    with db.session() as session:
        per_conversation = dict(
            session.execute(
                select(LocalMessage.conversation, func.count())
                .where(LocalMessage.dedupe_key.like(f"pulse:{round_id}:ask:%"))
                .group_by(LocalMessage.conversation)
            ).all()
        )
        statuses = dict(
            session.execute(
                select(OutboxMessage.status, func.count())
                .where(OutboxMessage.round_id == round_id)
                .group_by(OutboxMessage.status)
            ).all()
        )
        unknown = {
            int(a)
            for a in session.scalars(
                select(OutboxMessage.address).where(
                    OutboxMessage.round_id == round_id, OutboxMessage.status == "unknown"
                )
            )
        }
    db.dispose()
    got = {int(c.split(":")[1]): n for c, n in per_conversation.items()}
    return {
        "duplicates": sum(n - 1 for n in got.values() if n > 1),
        "lost": sum(1 for m in members if m not in got and m not in unknown),
        "unknown": len(unknown),
        "unsettled": sum(statuses.get(s, 0) for s in ("pending", "claimed", "sending")),
        "exited": exited,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--kills", type=int, default=2, help="kill -9s per run")
    parser.add_argument("--workers", type=int, default=1, help="worker processes")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--deadline", type=float, default=240.0, help="per wait (s)")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    from flows.pulse import sync_bank
    from storage.db import Database

    totals = {"duplicates": 0, "lost": 0, "unknown": 0, "unsettled": 0, "exited": 0}
    started = time.monotonic()
    with bench_database() as url:
        db = Database(url)
        members = seed_unit(db, args.members, slack=False)
        with db.session() as session:
            sync_bank(session)
        db.dispose()
        for run in range(1, args.runs + 1):
            result = one_run(url, members, args.kills, rng, args.deadline, args.workers)
            for key, value in result.items():
                totals[key] += value
            print(f"run {run}: " + " ".join(f"{k}={v}" for k, v in result.items()), flush=True)
    print(
        f"crash runs={args.runs} workers={args.workers} members={args.members} "
        + f"kills={args.runs * args.kills} "
        + " ".join(f"{k}={v}" for k, v in totals.items())
        + f" seconds={time.monotonic() - started:.0f}",
        flush=True,
    )


if __name__ == "__main__":
    main()

"""Ack latency: signed button clicks against `medpuls serve`, side by side with a bare Bolt app.

    python bench/ack.py [--clicks 50] [--rounds 10] [--warmup 1] [--no-worker]
                        [--with-digest [--digest-teams 400] [--digest-weeks 20]]

Sets up a pulse round with the real flows on a throw-away PostgreSQL database (a unit of
`--clicks` members, `run_now`, the real delivery loop posting the DMs to the fake Slack Web API),
then starts, each as its own process on 127.0.0.1:
  * the fake Slack Web API (tests/fakes/slack_api.py), which the servers call after the ack,
  * `medpuls serve` itself (DATABASE_URL on the bench database, SLACK_API_URL on the fake),
  * a bare slack_bolt AsyncApp with the same signing secret and one `@app.action(".*")` that
    only calls ack(), behind the same aiohttp adapter functions as ours.
Each round sends one click per member at once (real block_actions payloads for the DMs that were
posted: every member answers the round's first question), the same bodies to both servers from
the same client, and times each request until its response has arrived. Between rounds the
bench waits until MEDpuls has handled every click so far, so each burst starts from quiet.
Afterwards `medpuls serve` is stopped gracefully (it drains its background work), and the
answers are counted: one per member, holding the value of the last round's click.

Prints the aggregate over the measured rounds on the last line, and, since one noisy round can
decide a p99 on a shared machine, the median over the rounds of each round's p99 ratio.

`--with-digest` also seeds a municipality of `--digest-teams` teams of 25 with a leader for
every unit and `--digest-weeks` weeks of closed rounds (bench/aggregate.py's seed, dated before
now), so that the scheduler's weekly digest job, due for every leader, starts under the same
`medpuls serve` a second after its job process is up and runs for minutes while the clicks
arrive (serve runs the scheduler in a child process of its own, bot/app/job_process.py, so the
job never holds the web process's GIL: issue 16, point 2). The job's end is read from serve's
log, which the child writes to too ("leader digests queued"). After the `--rounds` rounds the
bench waits for the job to end and measures `--rounds` more; the last line gives the ratios
over the rounds that ended while the job was running and over those after it. "After" is not
an idle server: the job process's first tick runs every job in turn (on this seed the dialogue
guides before the digest and the committee digests after it take minutes too), so compare with
a run without `--with-digest` as well.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import math
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import ROOT, SECRET_KEY, UNIT, bench_database, seed_unit

# The `medpuls` beside this interpreter: the checkout's .venv, or a shared one with
# PYTHONPATH naming this checkout (its children inherit the environment).
MEDPULS = str(Path(sys.executable).parent / "medpuls")
SECRET = "bench-ack-signing-secret"
TEAM = "T0MEDPULS"
# Every child process and request gives up after this; the bench never hangs.
REQUEST_TIMEOUT = 10.0
# A loaded shared machine (load 30-40) took over 30 s to start serve.
START_TIMEOUT = 120.0
SETTLE_TIMEOUT = 60.0
# What flows.digest logs when the digest job has queued every leader's digest.
DIGEST_DONE = b'"leader digests queued"'


def slack_id(i: int) -> str:
    return f"U{i:08d}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def percentile(values: list[float], share: float) -> float:
    """Nearest rank: the smallest value with at least `share` of the values at or below it."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


# --- the children -------------------------------------------------------------------------------


def serve_fake_slack(members: int) -> None:
    """The fake Slack Web API on a free port; prints its base URL, runs until SIGTERM."""
    from tests.fakes.slack_api import FakeSlack

    async def run() -> None:
        fake = FakeSlack(team_id=TEAM)
        for i in range(1, members + 1):
            fake.add_user(slack_id(i), f"m{i}@bench.invalid", name=f"Medarbejder {i}")
        await fake.start()
        print(fake.api_url, flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        while not stop.is_set():
            # Thousands of calls: the bench counts in the database, not here.
            fake.calls.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0)
        await fake.stop()

    asyncio.run(run())


def serve_bare_bolt(port: int, api_url: str) -> None:
    """The reference: Bolt with one listener that only acknowledges, behind the same adapter."""
    import re

    from aiohttp import web
    from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
    from slack_bolt.async_app import AsyncAck, AsyncApp
    from slack_sdk.web.async_client import AsyncWebClient

    token = "xoxb-fake-bot-token"
    bolt = AsyncApp(
        signing_secret=SECRET, token=token, client=AsyncWebClient(token=token, base_url=api_url)
    )

    @bolt.action(re.compile(".*"))
    async def only_ack(ack: AsyncAck) -> None:
        await ack()

    async def events(request: web.Request) -> web.StreamResponse:
        return await to_aiohttp_response(await bolt.async_dispatch(await to_bolt_request(request)))

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_post("/slack/events", events)
    app.router.add_get("/healthz", healthz)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


# --- the parent -----------------------------------------------------------------------------------


class Child:
    """A process of ours, stopped by its own pid (SIGTERM, then SIGKILL if it will not go)."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.log = log.open("wb")
        self.proc = subprocess.Popen(
            args, env=env, stdout=subprocess.PIPE, stderr=self.log, cwd=ROOT
        )

    def first_line(self) -> str:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().decode().strip()
        if not line:
            raise SystemExit(f"child {self.proc.args!r} did not start (see {self.log.name})")
        return line

    def stop(self, timeout: float = 60.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return int(self.proc.returncode)


def child_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "MICROSOFT_"))}
    env["PYTHONPATH"] = str(ROOT)
    env["MEDPULS_SECRET_KEY"] = SECRET_KEY
    env.update(extra)
    return env


async def wait_ready(session: Any, url: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        try:
            async with session.get(url) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit(f"{url} did not come up within {START_TIMEOUT:.0f} s")
        await asyncio.sleep(0.1)


async def open_round(url: str, members: int) -> tuple[int, list[dict[str, Any]]]:
    """A round opened and delivered with the real flows; the posted DMs (channel, ts, blocks)."""
    from bot.app.wiring import build
    from bot.core.config import Settings
    from flows.pulse import run_now, sync_bank
    from storage.models import utcnow
    from tests.fakes.slack_api import FakeSlack

    async def deliver() -> list[dict[str, Any]]:
        async with FakeSlack(team_id=TEAM) as fake:
            for i in range(1, members + 1):
                fake.add_user(slack_id(i), f"m{i}@bench.invalid")
            bot = build(
                Settings(
                    DATABASE_URL=url,
                    SLACK_BOT_TOKEN=fake.bot_token,
                    SLACK_SIGNING_SECRET=SECRET,
                    SLACK_API_URL=fake.api_url,
                    MEDPULS_WORKING_HOURS="always",
                )
            )
            while await bot.delivery.run_once():
                pass
            bot.db.dispose()
            return [
                {"user": c.args["channel"], **c.result, "blocks": c.blocks()}
                for c in fake.calls_to("chat.postMessage")
            ]

    from storage.db import Database

    db = Database(url)
    seed_unit(db, members)
    # Quiet hours would hold the round's DMs until morning: this bench measures acks, any hour.
    settings = Settings(DATABASE_URL=url, MEDPULS_WORKING_HOURS="always")
    with db.session() as session:
        sync_bank(session)
    with db.session() as session:
        [opened] = run_now(session, UNIT, now=utcnow(), settings=settings)
    db.dispose()
    posts = await deliver()
    return opened.round_id, posts


def answer_buttons(blocks: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    """The first question's buttons of a pulse DM, by the value they answer."""
    first_question: str | None = None
    buttons: dict[int, dict[str, Any]] = {}
    for block in blocks:
        for element in block.get("elements", []) if block["type"] == "actions" else []:
            kind, _, packed = str(element.get("value", "")).partition("|")
            if kind != "pulse.answer":
                continue
            data = json.loads(packed)
            first_question = first_question or data["q"]
            if data["q"] == first_question:
                buttons[int(data["v"])] = element
    return buttons


def click_payload(post: dict[str, Any], button: dict[str, Any], n: int) -> dict[str, Any]:
    """A block_actions payload as Slack sends it when the DM's addressee presses `button`."""
    from tests.fakes.slack_api import fixture

    payload = fixture("block_actions")
    user = post["user"]
    payload["user"] = {"id": user, "username": user.lower(), "name": user.lower(), "team_id": TEAM}
    payload["channel"] = {"id": post["channel"], "name": "directmessage"}
    payload["container"].update(channel_id=post["channel"], message_ts=post["ts"])
    payload["message"]["ts"] = post["ts"]
    payload["message"]["blocks"] = post["blocks"]
    payload["trigger_id"] = f"{int(time.time())}.{n}.{'a' * 32}"
    payload["actions"][0].update(
        action_id=button["action_id"],
        value=button["value"],
        text=button["text"],
        block_id=f"b{n}",
        action_ts=f"{time.time():.6f}{n:06d}",
    )
    return payload


def burst_bodies(posts: list[dict[str, Any]], round_no: int) -> tuple[list[str], list[int]]:
    """One click per member, each on a value that moves with the round: fresh clicks each time."""
    from tests.fakes.slack_api import interaction_body

    bodies, values = [], []
    for i, post in enumerate(posts):
        buttons = answer_buttons(post["blocks"])
        value = sorted(buttons)[(i + round_no) % len(buttons)]
        payload = click_payload(post, buttons[value], round_no * 10_000 + i)
        bodies.append(interaction_body(payload)[0])
        values.append(value)
    return bodies, values


async def burst(session: Any, url: str, bodies: list[str]) -> list[float]:
    """All bodies at once; milliseconds from sending each until its response has arrived."""
    from tests.fakes.slack_api import signed_headers

    # Signed before the burst, so that the client spends the burst sending and receiving.
    signed = [(b, signed_headers(SECRET, b, "application/x-www-form-urlencoded")) for b in bodies]

    async def one(body: str, headers: dict[str, str]) -> float:
        started = time.perf_counter()
        async with session.post(url, data=body.encode(), headers=headers) as resp:
            await resp.read()
            if resp.status != 200:
                raise SystemExit(f"{url} answered {resp.status}")
        return (time.perf_counter() - started) * 1000

    return list(await asyncio.gather(*(one(b, h) for b, h in signed)))


def count_processed(url: str) -> Callable[[], int]:
    from sqlalchemy import func, select

    from storage.db import Database
    from storage.models import ProcessedEvent

    db = Database(url)

    def processed() -> int:
        with db.session() as session:
            return int(
                session.scalar(
                    # Only clicks reach this database; their keys are hashed (bot.core).
                    select(func.count()).select_from(ProcessedEvent)
                )
                or 0
            )

    return processed


async def settle(processed: Callable[[], Awaitable[int]], expected: int) -> None:
    deadline = time.monotonic() + SETTLE_TIMEOUT
    while await processed() < expected:
        if time.monotonic() > deadline:
            raise SystemExit(f"MEDpuls handled {await processed()} of {expected} clicks")
        await asyncio.sleep(0.05)


def recorded(url: str, round_id: int) -> tuple[str, Counter[int]]:
    """The round's answers to its first question, as a count per value (answers are anonymous)."""
    from sqlalchemy import select

    from storage.db import Database
    from storage.models import Answer, RoundQuestion

    db = Database(url)
    with db.session() as session:
        first = session.scalars(
            select(RoundQuestion.question_id)
            .where(RoundQuestion.round_id == round_id)
            .order_by(RoundQuestion.position)
        ).first()
        values = session.scalars(
            select(Answer.value).where(Answer.round_id == round_id, Answer.question_id == first)
        ).all()
    db.dispose()
    return str(first), Counter(int(v) for v in values)


def seed_digest(url: str, teams: int, weeks: int) -> dict[str, int]:
    """An organisation whose leaders are all due this week's digest (rounds before now)."""
    from bench.aggregate import seed

    return seed(url, teams, 25, weeks, now=dt.datetime.now(dt.UTC))


def digest_done(log: Path) -> bool:
    return DIGEST_DONE in log.read_bytes()


def switch_interval(ms: float | None, logs: Path) -> dict[str, str]:
    """An experiment: serve with another GIL switch interval (Python's default is 5 ms), set by
    a sitecustomize module put first on its PYTHONPATH. The loop thread waits up to one
    interval for the GIL each time a job's thread holds it."""
    if ms is None:
        return {}
    site = logs / "site"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text(f"import sys\nsys.setswitchinterval({ms / 1000!r})\n")
    return {"PYTHONPATH": f"{site}{os.pathsep}{ROOT}"}


def ratios(medpuls: list[float], bolt: list[float], per_round: list[float]) -> str:
    if not medpuls:
        return "n=0"
    m99, b99 = percentile(medpuls, 0.99), percentile(bolt, 0.99)
    return (
        f"n={len(medpuls)} medpuls_p50_ms={percentile(medpuls, 0.5):.1f} medpuls_p99_ms={m99:.1f} "
        f"bolt_p50_ms={percentile(bolt, 0.5):.1f} bolt_p99_ms={b99:.1f} "
        f"ratio_p99={m99 / b99:.2f} round_ratio_p99_median={percentile(per_round, 0.5):.2f}"
    )


async def measure(args: argparse.Namespace, url: str, logs: Path) -> str:
    import aiohttp

    seeded: dict[str, int] = {}
    if args.with_digest:
        seeded = await asyncio.to_thread(seed_digest, url, args.digest_teams, args.digest_weeks)
        print(f"seeded for the digest job: {seeded}", flush=True)
    round_id, posts = await open_round(url, args.clicks)
    if len(posts) != args.clicks:
        raise SystemExit(f"{len(posts)} DMs posted for {args.clicks} members")
    fake = Child(
        [sys.executable, __file__, "--serve-fake-slack", str(args.clicks)],
        child_env(),
        logs / "fake_slack.log",
    )
    children = [fake]
    try:
        api_url = fake.first_line()
        medpuls_port, bolt_port = free_port(), free_port()
        medpuls = Child(
            [MEDPULS, "serve", "--host", "127.0.0.1", "--port", str(medpuls_port)],
            child_env(
                DATABASE_URL=url,
                SLACK_BOT_TOKEN="xoxb-fake-bot-token",
                SLACK_SIGNING_SECRET=SECRET,
                SLACK_API_URL=api_url,
                MEDPULS_IN_PROCESS_WORKER="false" if args.no_worker else "true",
                # Neither the digest job nor any send waits for the next working hours.
                MEDPULS_WORKING_HOURS="always",
                **switch_interval(args.switch_interval_ms, logs),
            ),
            logs / "medpuls.log",
        )
        children.append(medpuls)
        bolt = Child(
            [sys.executable, __file__, "--serve-bare-bolt", str(bolt_port), api_url],
            child_env(),
            logs / "bolt.log",
        )
        children.append(bolt)
        targets = {
            "medpuls": f"http://127.0.0.1:{medpuls_port}",
            "bolt": f"http://127.0.0.1:{bolt_port}",
        }
        processed = count_processed(url)
        # Measured rounds by when they ended: while the digest job ran, or after it. Without
        # --with-digest, every round is "after".
        sets: dict[str, dict[str, list[float]]] = {
            kind: {"medpuls": [], "bolt": []} for kind in ("during", "after")
        }
        ratios_of: dict[str, list[float]] = {"during": [], "after": []}
        digest_log = logs / "medpuls.log"
        digest_seconds = math.nan
        after_rounds = args.rounds if args.with_digest else 0
        connector = aiohttp.TCPConnector(limit=0)
        timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

            async def one_round(round_no: int) -> dict[str, list[float]]:
                bodies, values[:] = burst_bodies(posts, round_no)
                # Alternate who goes first, so neither always meets a just-woken peer.
                this_round: dict[str, list[float]] = {}
                order = ["medpuls", "bolt"] if round_no % 2 == 0 else ["bolt", "medpuls"]
                for name in order:
                    this_round[name] = await burst(session, targets[name] + "/slack/events", bodies)
                    if name == "medpuls":
                        handled = len(bodies) * (round_no + 1)
                        await settle(lambda: asyncio.to_thread(processed), handled)
                    await asyncio.sleep(0.2)
                return this_round

            for base in targets.values():
                await wait_ready(session, base + "/healthz")
            ready = time.monotonic()
            values: list[int] = []
            planned = args.warmup + args.rounds
            round_no = 0
            while round_no < planned + after_rounds:
                if round_no == planned:
                    # The digest job's end, then as many rounds again (the tick's later jobs,
                    # committee digests and the rest, may still be running: see the docstring).
                    deadline = time.monotonic() + 900
                    while not digest_done(digest_log) and time.monotonic() < deadline:
                        await asyncio.sleep(0.5)
                this_round = await one_round(round_no)
                running = args.with_digest and not digest_done(digest_log)
                if args.with_digest and not running and math.isnan(digest_seconds):
                    digest_seconds = time.monotonic() - ready
                kind = "during" if running else "after"
                if round_no >= args.warmup:
                    for name in ("medpuls", "bolt"):
                        sets[kind][name].extend(this_round[name])
                    ratios_of[kind].append(
                        percentile(this_round["medpuls"], 0.99)
                        / percentile(this_round["bolt"], 0.99)
                    )
                print(
                    f"round {round_no + 1}{' (warm-up)' if round_no < args.warmup else ''}"
                    f"{' (digest job running)' if running else ''}: "
                    f"medpuls p50/p99 {percentile(this_round['medpuls'], 0.5):.1f}/"
                    f"{percentile(this_round['medpuls'], 0.99):.1f} ms, "
                    f"bolt {percentile(this_round['bolt'], 0.5):.1f}/"
                    f"{percentile(this_round['bolt'], 0.99):.1f} ms",
                    flush=True,
                )
                round_no += 1
        # A graceful stop drains the adapter's background work before the process ends; a job
        # still running in serve's job process is killed after its grace period (10 s).
        stopped = medpuls.stop(timeout=900 if args.with_digest else 60)
        if stopped != 0:
            keep = Path(tempfile.gettempdir()) / f"medpuls_ack_serve_{os.getpid()}.log"
            keep.write_bytes((logs / "medpuls.log").read_bytes())
            raise SystemExit(f"medpuls serve exited with {stopped} (its log: {keep})")
    finally:
        for child in reversed(children):
            child.stop()

    question, counted = recorded(url, round_id)
    handled = await asyncio.to_thread(processed)
    total = args.clicks * (args.warmup + args.rounds + after_rounds)
    expected = Counter(values)
    answers = sum(counted.values())
    print(
        f"clicks handled {handled}/{total}; answers to {question}: {dict(sorted(counted.items()))}"
        f" expected {dict(sorted(expected.items()))}",
        flush=True,
    )
    if handled != total or counted != expected:
        raise SystemExit("answers were lost or doubled")
    if not args.with_digest:
        after = sets["after"]
        return (
            f"ack: {ratios(after['medpuls'], after['bolt'], ratios_of['after'])} "
            f"answers_recorded={answers}"
        )
    if not ratios_of["during"]:
        raise SystemExit(
            f"the digest job ended before any measured round ({digest_seconds:.1f} s after "
            "serve was ready): raise --digest-teams"
        )
    during, after = sets["during"], sets["after"]
    return (
        f"ack with the digest job ({seeded['leaders']} leaders, done {digest_seconds:.1f} s "
        f"after serve was ready): during rounds={len(ratios_of['during'])} "
        f"{ratios(during['medpuls'], during['bolt'], ratios_of['during'])} | "
        f"after rounds={len(ratios_of['after'])} "
        f"{ratios(after['medpuls'], after['bolt'], ratios_of['after'])} | "
        f"answers_recorded={answers}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clicks", type=int, default=50, help="members clicking at once")
    parser.add_argument("--rounds", type=int, default=10, help="measured bursts")
    parser.add_argument("--warmup", type=int, default=1, help="bursts before measuring")
    parser.add_argument(
        "--no-worker", action="store_true", help="serve without the in-process worker"
    )
    parser.add_argument(
        "--with-digest",
        action="store_true",
        help="run the weekly digest job in the same serve process while measuring",
    )
    parser.add_argument(
        "--digest-teams", type=int, default=400, help="teams of 25 for the digest job"
    )
    parser.add_argument(
        "--digest-weeks", type=int, default=20, help="weeks of closed rounds for the digest job"
    )
    parser.add_argument(
        "--switch-interval-ms",
        type=float,
        help="experiment: serve's GIL switch interval (sys.setswitchinterval), default Python's",
    )
    parser.add_argument("--serve-fake-slack", type=int, metavar="MEMBERS", help=argparse.SUPPRESS)
    parser.add_argument(
        "--serve-bare-bolt", nargs=2, metavar=("PORT", "API"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.serve_fake_slack is not None:
        serve_fake_slack(args.serve_fake_slack)
        return
    if args.serve_bare_bolt is not None:
        serve_bare_bolt(int(args.serve_bare_bolt[0]), args.serve_bare_bolt[1])
        return
    if args.with_digest and args.no_worker:
        parser.error("--with-digest needs the in-process worker (leave out --no-worker)")
    with tempfile.TemporaryDirectory(prefix="medpuls_ack_") as logs, bench_database() as url:
        print(asyncio.run(measure(args, url, Path(logs))), flush=True)


if __name__ == "__main__":
    main()

"""`medpuls serve`'s resident set before and after oversized chunked bodies (issue 14.4).

    python bench/body_limits.py [--route slack|teams|local] [--requests 200] [--mib 2]
                                [--concurrency 1] [--src DIR]

Starts `serve` on a free port with SQLite in a temporary directory (Slack and Teams configured
with endpoints nobody answers: every request here is refused before any call out), sends
`--requests` chunked bodies of `--mib` MiB to the route, none of them authenticated, and prints
VmRSS before and after and VmHWM (the peak). `--src` runs another checkout's code (e.g. an
export of main: `git archive main | tar -x -C /tmp/main`) with this venv, for a before/after.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHUNK = 64 * 1024
KEY = "qcBUEt8SQXwZy2tq3Ar7lwE8Q9pu8UWpiqVmvwhX_dQ="  # a throw-away key, only for this bench
ROUTES = {"slack": "/slack/events", "teams": "/api/messages", "local": "/local/api/say"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve_env(route: str, port: int, db: Path, src: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "MICROSOFT_"))}
    env.update(
        PYTHONPATH=str(src),
        DATABASE_URL=f"sqlite:///{db}",
        PORT=str(port),
        MEDPULS_IN_PROCESS_WORKER="false",
    )
    dead = f"http://127.0.0.1:{_free_port()}"
    if route == "local":
        env["MEDPULS_LOCAL_CHAT"] = "1"
    else:
        env.update(
            MEDPULS_SECRET_KEY=KEY,
            SLACK_BOT_TOKEN="xoxb-bench",
            SLACK_SIGNING_SECRET="bench-secret",
            SLACK_API_URL=f"{dead}/api/",
            MICROSOFT_APP_ID="00000000-0000-4000-8000-00000000b07a",
            MICROSOFT_APP_PASSWORD="bench",
            MICROSOFT_APP_TENANT_ID="00000000-0000-4000-8000-0000000000aa",
            CHANNEL_SERVICE=dead,
            TO_CHANNEL_FROM_BOT_LOGIN_URL=f"{dead}/token",
            TO_CHANNEL_FROM_BOT_OAUTH_SCOPE="https://api.botframework.com",
            TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL=f"{dead}/openid",
            TO_BOT_FROM_CHANNEL_TOKEN_ISSUER="https://api.botframework.com",
        )
    return env


def start_serve(env: dict[str, str], src: Path, log: Path) -> subprocess.Popen[bytes]:
    cli = [sys.executable, "-c", "from bot.cli import main; main()"]
    subprocess.run([*cli, "db", "upgrade"], env=env, cwd=src, check=True, capture_output=True)
    return subprocess.Popen(
        [*cli, "serve", "--host", "127.0.0.1"],
        env=env,
        cwd=src,
        stdout=subprocess.DEVNULL,
        stderr=log.open("wb"),
    )


def status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


async def _chunks(total: int) -> AsyncIterator[bytes]:
    sent = 0
    while sent < total:
        sent += CHUNK
        yield b"x" * CHUNK


async def flood(url: str, requests: int, size: int, concurrency: int) -> Counter[str]:
    import aiohttp

    statuses: Counter[str] = Counter()
    gate = asyncio.Semaphore(concurrency)
    headers = {"Content-Type": "application/json"}

    async def one(http: aiohttp.ClientSession) -> None:
        async with gate:
            try:
                async with http.post(url, data=_chunks(size), headers=headers) as resp:
                    await resp.read()
                    statuses[str(resp.status)] += 1
            except aiohttp.ClientError as err:
                statuses[type(err).__name__] += 1

    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as http:
        await asyncio.gather(*(one(http) for _ in range(requests)))
    return statuses


async def wait_up(base: str, proc: subprocess.Popen[bytes]) -> None:
    import aiohttp

    async with aiohttp.ClientSession() as http:
        for _ in range(300):
            if proc.poll() is not None:
                raise SystemExit("serve exited; see its log")
            try:
                async with http.get(f"{base}/healthz") as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise SystemExit("serve did not come up")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--route", choices=sorted(ROUTES), default="slack")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--mib", type=float, default=2.0)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=1, help="floods in a row, RSS after each")
    parser.add_argument("--src", type=Path, default=ROOT)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        port = _free_port()
        env = serve_env(args.route, port, Path(tmp) / "bench.db", args.src.resolve())
        proc = start_serve(env, args.src.resolve(), Path(tmp) / "serve.log")
        base = f"http://127.0.0.1:{port}"
        try:
            asyncio.run(wait_up(base, proc))
            url = base + ROUTES[args.route]
            asyncio.run(flood(url, 5, 1024, 1))  # warm up the handlers
            before = status_kib(proc.pid, "VmRSS")
            started = time.monotonic()
            statuses: Counter[str] = Counter()
            after: list[float] = []
            for _ in range(args.rounds):
                statuses += asyncio.run(
                    flood(url, args.requests, int(args.mib * 1024 * 1024), args.concurrency)
                )
                time.sleep(1)
                after.append(round(status_kib(proc.pid, "VmRSS") / 1024, 1))
            took = time.monotonic() - started
            peak = status_kib(proc.pid, "VmHWM")
        finally:
            proc.terminate()
            proc.wait(timeout=20)
    print(
        json.dumps(
            {
                "route": args.route,
                "requests": args.requests,
                "mib_each": args.mib,
                "concurrency": args.concurrency,
                "statuses": dict(statuses),
                "rss_before_mb": round(before / 1024, 1),
                "rss_after_each_round_mb": after,
                "rss_peak_mb": round(peak / 1024, 1),
                "seconds": round(took, 1),
            }
        )
    )


if __name__ == "__main__":
    main()

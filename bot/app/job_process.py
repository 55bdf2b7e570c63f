"""The scheduler's jobs in a child process of `medpuls serve`, started and supervised by it.

A job (the weekly digest for a municipality) is CPU-bound for seconds to minutes. Run in a
thread of the web process it shares the GIL with the event loop, and every acknowledgement
waits up to a switch interval each time it wants the interpreter back (docs/bench.md, "Acks
while the digest job runs"). In a process of its own it holds its own GIL, and the web process
only answers and delivers. The child is `medpuls worker --jobs-only`: the same scheduler, the
same lease, the same jobs as the Procfile's `worker`, without delivery, which stays in serve
(a reply to a click is sent at once; rows that jobs queue are claimed within a second).

No orphans: serve closes the child's stdin and sends SIGTERM on the way out, and kills it after
`grace` seconds; should serve itself be killed, the child reads end-of-file on its stdin and
stops by itself. A child that dies is started again, waiting longer after each quick death.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
import sys
import time
from collections.abc import Sequence

log = logging.getLogger("medpuls.jobs")

JOBS_COMMAND = (sys.executable, "-m", "bot.cli", "worker", "--jobs-only")
# A child that lived this long was healthy: its next restart waits the shortest time again.
HEALTHY_SECONDS = 60.0
FIRST_BACKOFF = 1.0
LAST_BACKOFF = 60.0


class JobProcess:
    """Keeps one job host child running until `stop()`."""

    def __init__(self, command: Sequence[str] = JOBS_COMMAND, *, grace: float = 10.0) -> None:
        self.command = list(command)
        self.grace = grace
        self.proc: asyncio.subprocess.Process | None = None
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def start(self) -> None:
        self._task = asyncio.create_task(self._supervise())

    async def _spawn(self) -> asyncio.subprocess.Process:
        # stdout and stderr are serve's: the child's JSON log lines go where serve's go.
        proc = await asyncio.create_subprocess_exec(*self.command, stdin=asyncio.subprocess.PIPE)
        log.info("job process started", extra={"worker": f"{socket.gethostname()}:{proc.pid}"})
        return proc

    async def _supervise(self) -> None:
        backoff = FIRST_BACKOFF
        while not self._stopping.is_set():
            started = time.monotonic()
            try:
                self.proc = await self._spawn()
            except OSError:
                log.exception("could not start the job process")
            else:
                code = await self.proc.wait()
                if self._stopping.is_set():
                    return
                log.error("job process exited; starting it again", extra={"reason": f"exit {code}"})
            if time.monotonic() - started >= HEALTHY_SECONDS:
                backoff = FIRST_BACKOFF
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=backoff)
            backoff = min(backoff * 2, LAST_BACKOFF)

    async def stop(self) -> None:
        """Ask the child to stop (its stdin closes, SIGTERM), and kill it after `grace`."""
        self._stopping.set()
        proc = self.proc
        if proc is not None and proc.returncode is None:
            if proc.stdin is not None:
                proc.stdin.close()
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), timeout=self.grace)
            except TimeoutError:
                # A job still running: killing it is harmless (every job is idempotent, its
                # open transaction rolls back, the lease expires on its own).
                log.warning("job process killed after the grace period")
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()
        if self._task is not None:
            await self._task

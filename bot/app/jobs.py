"""What the scheduler runs each tick: every flow module's JOBS (see flows/__init__.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flows import Job as FlowJob
from flows import scheduled_jobs
from storage.models import utcnow

if TYPE_CHECKING:
    from bot.app.scheduler import Job
    from bot.app.wiring import Bot


def all_jobs() -> dict[str, Job]:
    def bind(job: FlowJob) -> Job:
        def run(bot: Bot) -> None:
            job(bot.db, bot.settings, utcnow())

        run.__name__ = job.__name__
        return run

    return {name: bind(job) for name, job in scheduled_jobs().items()}

"""The composition root: settings, storage, flows, platforms, delivery and the scheduler."""

from __future__ import annotations

import datetime as dt
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass, field

from bot.app.delivery import Delivery
from bot.app.turns import Core
from bot.core.config import Settings
from bot.core.platform import Platform
from bot.core.platform_limits import rate_limits
from bot.core.router import Router
from storage.db import Database


def build_router() -> Router:
    """Every flow registers its listeners here; the same router serves every platform."""
    from flows import register_all

    router = Router()
    register_all(router)
    return router


def build_platforms(settings: Settings, db: Database) -> dict[str, Platform]:
    platforms: dict[str, Platform] = {}
    if settings.local_enabled:
        from adapters.local.platform import LocalPlatform

        platforms["local"] = LocalPlatform(db)
    if settings.slack_enabled:
        from adapters.slack.platform import make_slack_platform

        platforms["slack"] = make_slack_platform(settings, db)
    if settings.teams_enabled:
        from adapters.teams.platform import make_teams_platform

        platforms["teams"] = make_teams_platform(settings, db)
    return platforms


@dataclass
class Bot:
    settings: Settings
    db: Database
    core: Core
    platforms: dict[str, Platform]
    delivery: Delivery
    worker_id: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}")


def working_hours(settings: Settings) -> Callable[[dt.datetime], dt.datetime] | None:
    """When delivery may next reach people unasked (MEDPULS_WORKING_HOURS), or None: always."""
    from flows.schedule import next_working_hours

    hours = settings.quiet_hours
    if hours is None:
        return None
    start, end = hours
    return lambda now: next_working_hours(now, start, end, settings.tz)


def build(settings: Settings | None = None) -> Bot:
    settings = settings or Settings()
    from flows.pulse import check_question_bank

    # A broken question bank file stops the start with its file, line and reason.
    check_question_bank(settings)
    db = Database(settings.database_url)
    core = Core(settings, db, build_router())
    platforms = build_platforms(settings, db)
    worker_id = f"{socket.gethostname()}:{os.getpid()}"
    delivery = Delivery(
        db,
        platforms,
        worker_id=worker_id,
        limits=rate_limits(settings),
        language=settings.language,
        working_hours=working_hours(settings),
    )
    core.wake_delivery = delivery.wake
    return Bot(settings, db, core, platforms, delivery, worker_id)

"""Platform-neutral flows: pulse rounds, agenda proposals, digests, and their rules.

Flows receive normalised events (bot.events) through the router and answer with neutral
messages (bot.messages). They never import a platform SDK or an adapter.

Each flow module registers itself: a module-level `register(router)` adds its listeners, and a
module-level `JOBS` list names the functions the scheduler runs each tick, each called as
`job(db, settings, now)` and safe to run twice.
"""

from __future__ import annotations

import datetime as dt
import importlib
import pkgutil
from collections.abc import Callable
from types import ModuleType

from bot.core.config import Settings
from bot.core.router import Router
from storage.db import Database

Job = Callable[[Database, Settings, dt.datetime], None]


def flow_modules() -> list[ModuleType]:
    return [
        importlib.import_module(f"{__name__}.{info.name}")
        for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name)
        if not info.name.startswith("_")
    ]


def register_all(router: Router) -> None:
    for module in flow_modules():
        register = getattr(module, "register", None)
        if callable(register):
            register(router)


def scheduled_jobs() -> dict[str, Job]:
    jobs: dict[str, Job] = {}
    for module in flow_modules():
        for job in getattr(module, "JOBS", ()):
            jobs[f"{module.__name__}.{job.__name__}"] = job
    return jobs

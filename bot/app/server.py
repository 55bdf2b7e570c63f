"""The web process: one aiohttp application holding every route of `medpuls serve`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from aiohttp import web
from prometheus_client import generate_latest

from bot.app.wiring import Bot
from bot.core.metrics import METRICS

log = logging.getLogger("medpuls.server")
BOT_KEY: web.AppKey[Bot] = web.AppKey("bot", Bot)


async def healthz(request: web.Request) -> web.Response:
    bot = request.app[BOT_KEY]
    await asyncio.to_thread(bot.db.engine.connect().close)
    return web.json_response({"ok": True, "platforms": sorted(bot.platforms)})


async def metrics(request: web.Request) -> web.Response:
    bot = request.app[BOT_KEY]
    METRICS.queue_depth.set(await asyncio.to_thread(bot.delivery.queue_depth))
    return web.Response(
        body=generate_latest(METRICS.registry), content_type="text/plain", charset="utf-8"
    )


async def image(request: web.Request) -> web.Response:
    """Chart PNGs by their unguessable id (Teams cards link them; the local chat shows them).

    Not after the retention period, even before the retention job has deleted them.
    """
    from flows.privacy import image_expired
    from storage.models import StoredImage, utcnow

    bot = request.app[BOT_KEY]
    image_id = request.match_info["image_id"]
    months = bot.settings.retention_months

    def load() -> bytes | None:
        if len(image_id) > 40:
            return None
        with bot.db.session() as session:
            row = session.get(StoredImage, image_id)
            if row is None or image_expired(row.created_at, now=utcnow(), months=months):
                return None
            return row.png

    png = await asyncio.to_thread(load)
    if png is None:
        raise web.HTTPNotFound()
    return web.Response(
        body=png, content_type="image/png", headers={"Cache-Control": "private, max-age=86400"}
    )


def build_web_app(bot: Bot, *, background: bool | None = None) -> web.Application:
    """The routes of DESIGN.md; `background` delivers in this process and runs the scheduler's
    jobs in a child process that it supervises (bot/app/job_process.py)."""
    app = web.Application()
    app[BOT_KEY] = bot
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/images/{image_id}.png", image)
    if "local" in bot.platforms:
        from adapters.local.web import mount as mount_local

        mount_local(app, bot.core, bot.platforms["local"])
    if "slack" in bot.platforms:
        from adapters.slack.web import mount as mount_slack

        mount_slack(app, bot.core, bot.platforms["slack"])
    if "teams" in bot.platforms:
        from adapters.teams.web import mount as mount_teams

        mount_teams(app, bot.core, bot.platforms["teams"])
    if background if background is not None else bot.settings.in_process_worker:
        app.cleanup_ctx.append(_background)
    return app


async def _background(app: web.Application) -> AsyncIterator[None]:
    from bot.app.job_process import JobProcess
    from bot.app.worker import run_delivery

    bot = app[BOT_KEY]
    jobs = JobProcess()
    jobs.start()
    stop = asyncio.Event()
    task = asyncio.create_task(run_delivery(bot, stop))
    yield
    stop.set()
    await jobs.stop()
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.wait_for(task, timeout=10)

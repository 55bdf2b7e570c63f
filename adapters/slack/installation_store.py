"""Slack OAuth installations in our database, and a state store that needs no table.

`DbInstallationStore` is slack_sdk's AsyncInstallationStore over storage.models.SlackInstallation:
one row per workspace (or Enterprise Grid org), the latest install wins. Bot tokens only: the
app asks for no user scopes, and the manifest leaves token rotation off, so slack_sdk never makes
the bot-only saves (`async_save_bot`) that rotation needs. Every Slack request is authorised
from the store before it can be acknowledged, so found installations are kept in memory for
`CACHE_SECONDS`; saving or deleting through this store forgets them at once, and another
replica's change is seen within that time.

`SignedStateStore` issues OAuth `state` values signed with the client secret and valid for ten
minutes, so any replica can check them; Bolt also binds the state to the installing browser
with a cookie.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import hmac
import logging
import secrets
import time
from typing import Any

from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore
from slack_sdk.oauth.installation_store.models.bot import Bot
from slack_sdk.oauth.installation_store.models.installation import Installation
from slack_sdk.oauth.state_store.async_state_store import AsyncOAuthStateStore
from sqlalchemy import ColumnElement, delete, select
from sqlalchemy.orm import InstrumentedAttribute

from storage.db import Database
from storage.models import SlackInstallation, utcnow

log = logging.getLogger("medpuls.slack.install")
CACHE_SECONDS = 30.0


def _jsonable(data: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, dt.datetime) else v) for k, v in data.items()}


def _same(column: InstrumentedAttribute[str | None], value: str | None) -> ColumnElement[bool]:
    # SQL's NULL = NULL is not true: a workspace outside Enterprise Grid has no enterprise id.
    return column.is_(None) if value is None else column == value


class DbInstallationStore(AsyncInstallationStore):
    def __init__(self, db: Database) -> None:
        self.db = db
        self._found: dict[tuple[str | None, str | None], tuple[float, dict[str, Any]]] = {}
        self._generation = 0

    @property
    def logger(self) -> logging.Logger:
        return log

    # --- sync work, run in a thread ---------------------------------------------------------

    def _save(self, installation: Installation) -> None:
        data = _jsonable(installation.to_dict_for_copying())
        with self.db.session() as session:
            row = session.scalars(
                select(SlackInstallation).where(
                    _same(SlackInstallation.enterprise_id, installation.enterprise_id),
                    _same(SlackInstallation.team_id, installation.team_id),
                )
            ).first()
            if row is None:
                session.add(
                    SlackInstallation(
                        enterprise_id=installation.enterprise_id,
                        team_id=installation.team_id,
                        data=data,
                        installed_at=utcnow(),
                    )
                )
            else:
                row.data = data
                row.installed_at = utcnow()
        log.info(
            "slack app installed",
            extra={"team": installation.team_id, "platform": "slack"},
        )

    def _find(self, enterprise_id: str | None, team_id: str | None) -> dict[str, Any] | None:
        with self.db.session() as session:
            rows = list(
                session.scalars(
                    select(SlackInstallation).order_by(SlackInstallation.installed_at.desc())
                )
            )
        if team_id is not None:
            exact = [r for r in rows if r.team_id == team_id]
            if exact:
                return exact[0].data
        if enterprise_id is not None:
            # An org-wide install serves every workspace of the org.
            org = [r for r in rows if r.enterprise_id == enterprise_id and r.team_id is None]
            if org:
                return org[0].data
        if team_id is None and enterprise_id is None and rows:
            return rows[0].data
        return None

    def _delete(self, enterprise_id: str | None, team_id: str | None) -> None:
        with self.db.session() as session:
            stmt = delete(SlackInstallation)
            stmt = stmt.where(_same(SlackInstallation.team_id, team_id))
            if enterprise_id is not None:
                stmt = stmt.where(SlackInstallation.enterprise_id == enterprise_id)
            session.execute(stmt)
        log.info("slack installation removed", extra={"team": team_id, "platform": "slack"})

    # --- AsyncInstallationStore ---------------------------------------------------------------

    # --- the cache ----------------------------------------------------------------------------

    async def _find_cached(
        self, enterprise_id: str | None, team_id: str | None
    ) -> dict[str, Any] | None:
        key = (enterprise_id, team_id)
        hit = self._found.get(key)
        if hit is not None and hit[0] > time.monotonic():
            return hit[1]
        generation = self._generation
        data = await asyncio.to_thread(self._find, enterprise_id, team_id)
        # A miss is not kept (a workspace installed through another replica works at once), nor
        # a row read while this store was changing it.
        if data is not None and generation == self._generation:
            self._found[key] = (time.monotonic() + CACHE_SECONDS, data)
        return data

    def _forget(self) -> None:
        self._generation += 1
        self._found.clear()

    async def async_save(self, installation: Installation) -> None:
        self._forget()
        await asyncio.to_thread(self._save, installation)
        self._forget()

    async def async_find_installation(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None = None,
        is_enterprise_install: bool | None = False,
    ) -> Installation | None:
        data = await self._find_cached(enterprise_id, None if is_enterprise_install else team_id)
        if data is None:
            return None
        return Installation(**data)

    async def async_find_bot(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        is_enterprise_install: bool | None = False,
    ) -> Bot | None:
        installation = await self.async_find_installation(
            enterprise_id=enterprise_id,
            team_id=team_id,
            is_enterprise_install=is_enterprise_install,
        )
        if installation is None or not installation.bot_token:
            return None
        return installation.to_bot()

    async def async_delete_bot(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        self._forget()
        await asyncio.to_thread(self._delete, enterprise_id, team_id)
        self._forget()

    async def async_delete_installation(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None = None,
    ) -> None:
        self._forget()
        await asyncio.to_thread(self._delete, enterprise_id, team_id)
        self._forget()


class SignedStateStore(AsyncOAuthStateStore):
    def __init__(self, secret: str, expiration_seconds: int = 600) -> None:
        self._key = hashlib.sha256(("medpuls-oauth-state:" + secret).encode()).digest()
        self.expiration_seconds = expiration_seconds

    @property
    def logger(self) -> logging.Logger:
        return log

    def _sign(self, body: str) -> str:
        mac = hmac.new(self._key, body.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).decode().rstrip("=")

    async def async_issue(self, *args: Any, **kwargs: Any) -> str:
        body = f"{secrets.token_urlsafe(16)}.{int(time.time())}"
        return f"{body}.{self._sign(body)}"

    async def async_consume(self, state: str) -> bool:
        body, _, signature = state.rpartition(".")
        if not body or not hmac.compare_digest(signature, self._sign(body)):
            return False
        _, _, issued = body.rpartition(".")
        return issued.isdigit() and time.time() - int(issued) <= self.expiration_seconds

"""Slack OAuth installations in our database, and a state store signed with the client secret.

`DbInstallationStore` is slack_sdk's AsyncInstallationStore over storage.models.SlackInstallation:
one row per workspace (or Enterprise Grid org), a re-install of the same workspace replaces its
row. Only workspaces allowed by SLACK_ALLOWED_TEAM_IDS / SLACK_ALLOWED_ENTERPRISE_IDS are saved
(any other install is refused, `ForeignWorkspace`) or found (a row of another workspace, say one
stored before the list was narrowed, is ignored). The default installation, used where a
message's workspace is not known, is the earliest one: a new install never takes it over.

Tokens (bot, refresh, user, incoming webhook URL) are sealed with Fernet under a subkey of
MEDPULS_SECRET_KEY (bot/core/sealing.py) in `data["sealed"]`; the rest of the row is in the clear.

Bot tokens only: the app asks for no user scopes, and the manifest leaves token rotation off, so
slack_sdk never makes the bot-only saves (`async_save_bot`) that rotation needs. Every Slack
request is authorised from the store before it can be acknowledged, so found installations are
kept in memory for `CACHE_SECONDS`; saving or deleting through this store forgets them at once,
and another replica's change is seen within that time.

`SignedStateStore` issues OAuth `state` values signed with the client secret and valid for ten
minutes, so any replica can check them; each is consumed once (a row in processed_events), and
Bolt also binds the state to the installing browser with a cookie.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import hmac
import json
import logging
import secrets
import time
from typing import Any

from slack_bolt.error import BoltError
from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore
from slack_sdk.oauth.installation_store.models.bot import Bot
from slack_sdk.oauth.installation_store.models.installation import Installation
from slack_sdk.oauth.state_store.async_state_store import AsyncOAuthStateStore
from sqlalchemy import ColumnElement, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import InstrumentedAttribute

from adapters.slack.tenancy import Workspaces
from bot.core.sealing import Sealer
from storage.db import Database
from storage.models import ProcessedEvent, SlackInstallation, utcnow

log = logging.getLogger("medpuls.slack.install")
CACHE_SECONDS = 30.0
# Installation fields that let their holder act as the app: stored only sealed.
SECRET_FIELDS = (
    "bot_token",
    "bot_refresh_token",
    "user_token",
    "user_refresh_token",
    "incoming_webhook_url",
)
SEALED = "sealed"


class ForeignWorkspace(BoltError):
    """An install from a workspace not on the allow-list; it is not saved.

    The installation is kept on the error (never in its message) so that the install page can
    revoke the token Slack just issued.
    """

    def __init__(self, installation: Installation) -> None:
        super().__init__("installation from a workspace that is not allowed")
        self.installation = installation


def _jsonable(data: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, dt.datetime) else v) for k, v in data.items()}


def _same(column: InstrumentedAttribute[str | None], value: str | None) -> ColumnElement[bool]:
    # SQL's NULL = NULL is not true: a workspace outside Enterprise Grid has no enterprise id.
    return column.is_(None) if value is None else column == value


class DbInstallationStore(AsyncInstallationStore):
    def __init__(self, db: Database, workspaces: Workspaces, sealer: Sealer) -> None:
        self.db = db
        self.workspaces = workspaces
        self.sealer = sealer
        self._found: dict[tuple[str | None, str | None], tuple[float, dict[str, Any]]] = {}
        self._generation = 0

    @property
    def logger(self) -> logging.Logger:
        return log

    # --- sync work, run in a thread ---------------------------------------------------------

    def _seal(self, data: dict[str, Any]) -> dict[str, Any]:
        """`data` with its secrets moved into one sealed value."""
        secret = {k: v for k in SECRET_FIELDS if (v := data.pop(k, None)) is not None}
        data[SEALED] = self.sealer.seal(json.dumps(secret))
        return data

    def _unseal(self, stored: dict[str, Any]) -> dict[str, Any]:
        data = dict(stored)
        sealed = data.pop(SEALED, None)
        if isinstance(sealed, str):
            data.update(json.loads(self.sealer.open(sealed)))
        return data

    def _save(self, installation: Installation) -> None:
        if not self.workspaces.allows(installation.team_id, installation.enterprise_id):
            raise ForeignWorkspace(installation)
        data = self._seal(_jsonable(installation.to_dict_for_copying()))
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

    def _allowed_rows(self) -> list[SlackInstallation]:
        """Allowed installations, earliest first (the first is the default)."""
        with self.db.session() as session:
            rows = list(session.scalars(select(SlackInstallation).order_by(SlackInstallation.id)))
        return [r for r in rows if self.workspaces.allows(r.team_id, r.enterprise_id)]

    def _find(self, enterprise_id: str | None, team_id: str | None) -> dict[str, Any] | None:
        rows = self._allowed_rows()
        if team_id is not None:
            exact = [r for r in rows if r.team_id == team_id]
            if exact:
                return self._unseal(exact[0].data)
        if enterprise_id is not None:
            # An org-wide install serves every workspace of the org.
            org = [r for r in rows if r.enterprise_id == enterprise_id and r.team_id is None]
            if org:
                return self._unseal(org[0].data)
        if team_id is None and enterprise_id is None and rows:
            return self._unseal(rows[0].data)
        return None

    def only_org_install(self) -> tuple[str | None, str | None] | None:
        """(enterprise id, None) of the one allowed org-wide install, if there is exactly one."""
        orgs = [r for r in self._allowed_rows() if r.team_id is None]
        return (orgs[0].enterprise_id, None) if len(orgs) == 1 else None

    def workspaces_installed(self) -> list[tuple[str | None, str | None]]:
        """(enterprise id, team id) of every allowed installation, earliest first."""
        return [(r.enterprise_id, r.team_id) for r in self._allowed_rows()]

    def check_key(self) -> None:
        """Fail at start-up, in one line, when MEDPULS_SECRET_KEY cannot open what is stored
        (a key changed without `medpuls secret-key rotate`), not at every Slack request."""
        with self.db.session() as session:
            stored = list(session.scalars(select(SlackInstallation.data)))
        for data in stored:
            sealed = data.get(SEALED)
            if isinstance(sealed, str):
                self.sealer.open(sealed)

    def reseal_all(self) -> int:
        """Seal every stored installation under the current key (`medpuls secret-key rotate`);
        rows stored before tokens were sealed get sealed too."""
        count = 0
        with self.db.session() as session:
            for row in session.scalars(select(SlackInstallation).with_for_update()):
                data = dict(row.data)
                sealed = data.get(SEALED)
                if isinstance(sealed, str):
                    data[SEALED] = self.sealer.reseal(sealed)
                else:
                    data = self._seal(data)
                row.data = data
                count += 1
        self._forget()
        return count

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
    def __init__(self, secret: str, db: Database, expiration_seconds: int = 600) -> None:
        self._key = hashlib.sha256(("medpuls-oauth-state:" + secret).encode()).digest()
        self.db = db
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

    def _first_use(self, state: str) -> bool:
        key = "slack-oauth-state:" + hashlib.sha256(state.encode()).hexdigest()[:40]
        try:
            with self.db.session() as session:
                if session.get(ProcessedEvent, key) is not None:
                    return False
                session.add(ProcessedEvent(key=key, at=utcnow()))
        except IntegrityError:
            # Another request consumed it at the same moment.
            return False
        return True

    async def async_consume(self, state: str) -> bool:
        body, _, signature = state.rpartition(".")
        if not body or not hmac.compare_digest(signature, self._sign(body)):
            return False
        _, _, issued = body.rpartition(".")
        if not (
            issued.isascii()
            and issued.isdigit()
            and len(issued) <= 12
            and time.time() - int(issued) <= self.expiration_seconds
        ):
            return False
        # A state is good for one install: a replayed callback URL (browser history, a proxy
        # log, a shared link) must not run the exchange again.
        return await asyncio.to_thread(self._first_use, state)

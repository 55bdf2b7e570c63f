"""The Microsoft Teams platform: proactive 1:1 and channel messages, updates, forms as cards.

Teams only lets a bot write to people who have the app installed, through a conversation
reference (service URL, tenant, conversation id) captured from their activities. References
are stored in `ConversationReference` under these keys (platform "teams"):

- `user:<teams user id>` and `user:<aad object id>`: the person's 1:1 conversation
  (or, seen only in a team, a reference to open one from);
- `email:<address>`: the same 1:1 reference, when Teams told us their e-mail;
- `channel:<channel id>`, `team:<team id>`: where the app was added to a team;
- `conv:<conversation id>`: any conversation we posted in, to update a message later.

A member with none of these is reported (`missing_references`, and a permanent
`DeliveryError` with the reason) instead of silently skipped.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from adapters.teams import cards
from adapters.teams.auth import allowed_tenants, config_from
from adapters.teams.connector import BotConnector, Calls, MessageGone
from adapters.teams.normalize import is_personal, reference_keys, reference_of, tenant_of
from bot.config import Settings
from bot.events import MessageRef, PlatformName
from bot.i18n import Translator, language_of, translator
from bot.messages import Form, Message
from bot.platform import Address, DeliveryError
from storage.db import Database
from storage.models import ConversationReference, Member, utcnow

log = logging.getLogger("medpuls.teams")

NOT_INSTALLED = "app not installed for this person"
NOT_IN_TEAM = "app not added to the team of this channel"
EMAIL_CACHE_SIZE = 50_000


class TeamsPlatform:
    name: PlatformName = "teams"

    def __init__(self, settings: Settings, db: Database, connector: BotConnector) -> None:
        self.settings = settings
        self.db = db
        self.connector = connector
        # Activities from any other tenant are refused before anything is read or stored.
        self.tenants = allowed_tenants(settings)
        # Teams user id -> e-mail (None: asked, Teams would not say). One roster call per person.
        self.emails: dict[str, str | None] = {}

    # --- references ---------------------------------------------------------------------

    def load_reference(self, keys: Iterable[str]) -> dict[str, Any] | None:
        wanted = [k for k in keys if k and not k.endswith(":")]
        if not wanted:
            return None
        with self.db.session() as session:
            rows = {
                r.key: r.reference
                for r in session.scalars(
                    select(ConversationReference).where(
                        ConversationReference.platform == "teams",
                        ConversationReference.key.in_(wanted),
                    )
                )
            }
        return next((rows[k] for k in wanted if k in rows), None)

    def channel_reference(self, channel_id: str) -> dict[str, Any] | None:
        """The channel's own reference; else any team's: Teams accepts a post to any channel
        of a team the app is in, with the tenant's service URL (403 if it is not there)."""
        reference = self.load_reference([f"channel:{channel_id}"])
        if reference is not None:
            return reference
        with self.db.session() as session:
            team = session.scalars(
                select(ConversationReference)
                .where(
                    ConversationReference.platform == "teams",
                    ConversationReference.key.like("team:%"),
                )
                .order_by(ConversationReference.updated_at.desc())
                .limit(1)
            ).first()
            if team is None:
                return None
            found = dict(team.reference)
        return {**found, "conversation": {**found.get("conversation", {}), "id": channel_id}}

    def store_reference(
        self, keys: Iterable[str], reference: dict[str, Any], *, personal: bool = True
    ) -> None:
        """Upsert `reference` under each key; a non-personal one never replaces a personal one."""
        keys = [k[:300] for k in keys if k]
        if not keys:
            return
        with self.db.session() as session:
            # Insert-or-skip first: two activities for one person (installationUpdate and
            # conversationUpdate) arrive together and race on the unique (platform, key).
            insert = pg_insert if self.db.is_postgres else sqlite_insert
            now = utcnow()
            session.execute(
                insert(ConversationReference)
                .values(
                    [
                        {"platform": "teams", "key": k, "reference": reference, "updated_at": now}
                        for k in sorted(set(keys))  # one lock order for all
                    ]
                )
                .on_conflict_do_nothing(index_elements=["platform", "key"])
            )
            rows = session.scalars(
                select(ConversationReference)
                .where(
                    ConversationReference.platform == "teams",
                    ConversationReference.key.in_(keys),
                )
                .order_by(ConversationReference.key)
                .with_for_update()
            )
            for row in rows:
                if (personal or not _is_personal_ref(row.reference)) and (
                    row.reference != reference
                ):
                    row.reference = reference
                    row.updated_at = utcnow()

    def forget(self, activity: dict[str, Any]) -> int:
        """The app was uninstalled here: drop the references it left, so this person (or team)
        is reported unreachable (`NOT_INSTALLED`, `missing_references`) instead of written to."""
        conversation_id = str((activity.get("conversation") or {}).get("id") or "")
        keys = [*reference_keys(activity), f"conv:{conversation_id}"]
        with self.db.session() as session:
            for row in session.scalars(
                select(ConversationReference).where(
                    ConversationReference.platform == "teams",
                    ConversationReference.key.like("email:%"),
                )
            ):
                if (row.reference.get("conversation") or {}).get("id") == conversation_id:
                    keys.append(row.key)
            gone = session.execute(
                delete(ConversationReference).where(
                    ConversationReference.platform == "teams",
                    ConversationReference.key.in_([k for k in keys if not k.endswith(":")]),
                )
            )
            return int(getattr(gone, "rowcount", 0) or 0)

    def capture(self, activity: dict[str, Any], email: str | None) -> None:
        """Store where this activity came from, so we can write there later."""
        reference = reference_of(activity)
        conversation_id = str(reference["conversation"].get("id") or "")
        if is_personal(activity):
            keys = reference_keys(activity)
            if email:
                keys.append(f"email:{email.lower()}")
            self.store_reference([*keys, f"conv:{conversation_id}"], reference)
            return
        self.store_reference([*reference_keys(activity), f"conv:{conversation_id}"], reference)
        # Someone we met in a team: enough to open a 1:1 later, never replacing a real one.
        sender = activity.get("from") or {}
        user_keys = [f"user:{sender.get('id', '')}", f"user:{sender.get('aadObjectId') or ''}"]
        if email:
            user_keys.append(f"email:{email.lower()}")
        self.store_reference(
            [k for k in user_keys if not k.endswith(":")], reference, personal=False
        )

    def _translator(self, reference: dict[str, Any]) -> Translator:
        return translator(language_of(reference.get("locale"), self.settings.language))

    def image_url(self, image_id: str) -> str | None:
        base = self.settings.public_url
        return f"{base.rstrip('/')}/images/{image_id}.png" if base else None

    # --- Platform -----------------------------------------------------------------------

    async def post(self, to: Address, message: Message, *, dedupe_key: str) -> MessageRef:
        if to.kind == "channel":
            reference = await asyncio.to_thread(self.channel_reference, to.value)
            if reference is None:
                raise DeliveryError(NOT_IN_TEAM, permanent=True)
            card = cards.render_message(message, self._translator(reference), self.image_url)
            return await self._send(
                reference, to.value, cards.message_activity(card, message.summary), dedupe_key
            )
        reference = await self._person(to)
        card = cards.render_message(message, self._translator(reference), self.image_url)
        return await self._send_to_person(
            reference, cards.message_activity(card, message.summary), dedupe_key
        )

    async def update(self, ref: MessageRef, message: Message) -> None:
        base = ref.conversation_id.split(";", 1)[0]
        reference = await asyncio.to_thread(
            self.load_reference, [f"conv:{ref.conversation_id}", f"conv:{base}"]
        )
        if reference is None:
            raise DeliveryError("no reference for this conversation", permanent=True)
        card = cards.render_message(message, self._translator(reference), self.image_url)
        activity = cards.message_activity(card, message.summary)

        async def call(calls: Calls) -> None:
            await calls.update(ref.conversation_id, ref.message_id, activity)

        try:
            await self.connector.proactive(str(reference["serviceUrl"]), _tenant(reference), call)
        except MessageGone:
            # The closed state of a pulse DM whose card is gone: nothing is left to rewrite.
            log.info("activity to update is gone", extra={"platform": "teams"})

    async def open_form(self, trigger: str, form: Form, *, to: Address) -> None:
        """Teams has no trigger: the form is a card posted to the person."""
        reference = await self._person(to)
        card = cards.render_form(form, self._translator(reference))
        await self._send_to_person(
            reference, cards.message_activity(card, form.title), f"form:{trigger}"
        )

    async def find_user(self, email: str) -> str | None:
        # No directory look-up without Microsoft Graph; people are matched when they write.
        return None

    # --- sending ------------------------------------------------------------------------

    async def _person(self, to: Address) -> dict[str, Any]:
        keys = [f"user:{to.value}"] if to.value else []
        if to.email:
            keys.append(f"email:{to.email.lower()}")
        reference = await asyncio.to_thread(self.load_reference, keys)
        if reference is None:
            log.warning(
                "no conversation reference",
                extra={"platform": "teams", "reason": NOT_INSTALLED, "count": to.member_id},
            )
            raise DeliveryError(NOT_INSTALLED, permanent=True)
        return reference

    async def _send(
        self, reference: dict[str, Any], conversation_id: str, activity: dict[str, Any], key: str
    ) -> MessageRef:
        async def call(calls: Calls) -> str:
            return await calls.send(conversation_id, activity)

        activity_id = await self.connector.proactive(
            str(reference["serviceUrl"]), _tenant(reference), call
        )
        await asyncio.to_thread(self.store_reference, [f"conv:{conversation_id}"], reference)
        log.info(
            "posted",
            extra={
                "platform": "teams",
                "team": _tenant(reference),
                "channel": conversation_id,
                "event": activity_id,
                "purpose": key.split(":", 1)[0],
            },
        )
        return MessageRef("teams", conversation_id, activity_id)

    async def _send_to_person(
        self, reference: dict[str, Any], activity: dict[str, Any], key: str
    ) -> MessageRef:
        if _is_personal_ref(reference):
            return await self._send(reference, str(reference["conversation"]["id"]), activity, key)
        # Met in a team only: open the 1:1 conversation first, then remember it.
        user = reference.get("user") or {}

        async def call(calls: Calls) -> tuple[str, str]:
            conversation_id = await calls.create_personal(
                str(user.get("id")), (reference.get("bot") or {}).get("id")
            )
            return conversation_id, await calls.send(conversation_id, activity)

        conversation_id, activity_id = await self.connector.proactive(
            str(reference["serviceUrl"]), _tenant(reference), call
        )
        personal = {
            **reference,
            "conversation": {
                "id": conversation_id,
                "conversationType": "personal",
                "tenantId": _tenant(reference),
            },
        }
        keys = [f"user:{user.get('id')}", f"conv:{conversation_id}"]
        if user.get("aadObjectId"):
            keys.append(f"user:{user['aadObjectId']}")
        await asyncio.to_thread(self.store_reference, keys, personal)
        return MessageRef("teams", conversation_id, activity_id)

    async def private_conversation(self, activity: dict[str, Any], calls: Calls) -> str:
        """Where a note meant for the person who acted goes: their 1:1, never a channel."""
        conversation_id = str((activity.get("conversation") or {}).get("id", ""))
        if is_personal(activity):
            return conversation_id
        sender = activity.get("from") or {}
        return await calls.create_personal(
            str(sender.get("id")), (activity.get("recipient") or {}).get("id")
        )


def _tenant(reference: dict[str, Any]) -> str | None:
    tenant = (reference.get("conversation") or {}).get("tenantId")
    return str(tenant) if tenant else None


def _is_personal_ref(reference: dict[str, Any]) -> bool:
    return (reference.get("conversation") or {}).get("conversationType") == "personal"


def missing_references(session: Session) -> list[Member]:
    """Members Teams will not let us reach: no 1:1 reference under any of their identities.

    For an admin report: the reason is always that the app is not installed for them (or they
    never opened it); adding the app for them in the Teams admin center fixes it.
    """
    keys = set(
        session.scalars(
            select(ConversationReference.key).where(ConversationReference.platform == "teams")
        )
    )
    missing: list[Member] = []
    for member in session.scalars(
        select(Member).where(Member.erased.is_(False)).order_by(Member.id)
    ):
        candidates = {
            f"user:{member.teams_user_id}" if member.teams_user_id else "",
            f"user:{member.teams_aad_id}" if member.teams_aad_id else "",
            f"email:{member.email.lower()}" if member.email else "",
        } - {""}
        if not candidates & keys:
            missing.append(member)
    return missing


def make_teams_platform(settings: Settings, db: Database) -> TeamsPlatform:
    return TeamsPlatform(settings, db, BotConnector(config_from(settings)))


def activity_tenant(activity: dict[str, Any]) -> str | None:
    return tenant_of(activity)

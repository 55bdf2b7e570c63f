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
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar

from sqlalchemy import delete, false, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from adapters.teams import cards, roster
from adapters.teams.auth import allowed_tenants, config_from
from adapters.teams.connector import BotConnector, Calls, MessageGone
from adapters.teams.normalize import (
    is_personal,
    reference_keys,
    reference_of,
    team_of,
    tenant_of,
)
from bot.core.config import Settings
from bot.core.errors import DeliveryError
from bot.core.events import MessageRef, PlatformName
from bot.core.i18n import Translator, language_of, translator
from bot.core.messages import Form, Message
from bot.core.platform import Address
from storage.db import Database
from storage.models import ConversationReference, Member, utcnow

log = logging.getLogger("medpuls.teams")
T = TypeVar("T")

NOT_INSTALLED = roster.NOT_INSTALLED
NOT_IN_TEAM = "app not added to the team of this channel"
EMAIL_CACHE_SIZE = 50_000
CHANNEL_ASK_SECONDS = 60.0


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
        # Team id -> when its roster was last read (monotonic); channel id -> when we last
        # asked the teams for it.
        self.roster_read: dict[str, float] = {}
        self.channel_asked: dict[str, float] = {}
        # Rosters being read after the activity that asked for them was answered.
        self.background: set[asyncio.Task[None]] = set()

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
        """The reference of the channel's own team: the channel's, else its team's when the
        channel is the team's General (whose id is the team's), else None."""
        found = self.load_reference([f"channel:{channel_id}", f"team:{channel_id}"])
        if found is None:
            return None
        return {**found, "conversation": {**(found.get("conversation") or {}), "id": channel_id}}

    def _teams(self) -> dict[str, dict[str, Any]]:
        """Every team the app is in: team id -> one of its references."""
        with self.db.session() as session:
            return {
                row.key.removeprefix("team:"): dict(row.reference)
                for row in session.scalars(
                    select(ConversationReference).where(
                        ConversationReference.platform == "teams",
                        ConversationReference.key.like("team:%"),
                    )
                )
            }

    async def _find_channel(self, channel_id: str) -> dict[str, Any] | None:
        """A channel no activity came from: ask each team the app is in for its channels
        (at most once a minute per channel), then its own team's reference."""
        reference = await asyncio.to_thread(self.channel_reference, channel_id)
        if reference is not None:
            return reference
        teams = await asyncio.to_thread(self._teams)
        last = self.channel_asked.get(channel_id, -CHANNEL_ASK_SECONDS)
        if time.monotonic() - last >= CHANNEL_ASK_SECONDS:
            self.channel_asked[channel_id] = time.monotonic()
            for team_id, team_ref in teams.items():
                await self.read_channels(team_ref, team_id)
            reference = await asyncio.to_thread(self.channel_reference, channel_id)
        if reference is None and len(teams) == 1:
            # One team only cannot be the wrong one; Teams answers 403 if the channel is not
            # in it.
            [team_ref] = teams.values()
            conversation = {**(team_ref.get("conversation") or {}), "id": channel_id}
            reference = {**team_ref, "conversation": conversation}
        return reference

    async def _proactive(
        self, reference: dict[str, Any], call: Callable[[Calls], Awaitable[T]]
    ) -> T:
        """`call` run against the Bot Connector of the conversation `reference` names."""
        return await self.connector.proactive(
            str(reference["serviceUrl"]), _tenant(reference), call
        )

    async def read_channels(self, reference: dict[str, Any], team_id: str) -> int:
        """Remember which team each of a team's channels belongs to."""

        async def call(calls: Calls) -> list[str]:
            return await calls.team_channels(team_id)

        try:
            channels = await self._proactive(reference, call)
        except DeliveryError as err:
            log.warning("team channels not read", extra={"platform": "teams", "reason": err.reason})
            return 0
        rows = [(f"channel:{c}", roster.team_reference(reference, team_id, c)) for c in channels]
        await asyncio.to_thread(self.store_references, rows, personal=False)
        return len(rows)

    async def read_roster(self, reference: dict[str, Any], team_id: str) -> int:
        """Every member of a team the app is in, a page at a time: a reference to open a 1:1
        with each (roster.py). Returns how many were read; a failure leaves what was read."""
        self.roster_read[team_id] = time.monotonic()

        async def call(calls: Calls) -> int:
            count, token = 0, None
            for _ in range(roster.MAX_ROSTER_PAGES):
                entries, token = await calls.roster_page(team_id, token)
                rows = roster.roster_rows(reference, team_id, entries)
                await asyncio.to_thread(self.keep_people, rows, refused_too=False)
                count += len(entries)
                if token is None:
                    break
            return count

        try:
            count = await self._proactive(reference, call)
        except DeliveryError as err:
            log.warning("team roster not read", extra={"platform": "teams", "reason": err.reason})
            return 0
        log.info("team roster read", extra={"platform": "teams", "count": count})
        return count

    def read_team_later(self, reference: dict[str, Any], team_id: str) -> None:
        """Read the team's roster and channels after the activity is answered: a team of
        thousands is a dozen pages, longer than Teams waits for an answer."""
        self.roster_read[team_id] = time.monotonic()  # asked once, however many activities

        async def read() -> None:
            await self.read_roster(reference, team_id)
            await self.read_channels(reference, team_id)

        task = asyncio.get_running_loop().create_task(read())
        self.background.add(task)
        task.add_done_callback(self.background.discard)

    async def settled(self) -> None:
        """Wait for the rosters being read (tests, and a graceful stop)."""
        while self.background:
            await asyncio.gather(*list(self.background), return_exceptions=True)

    async def read_every_team(self) -> tuple[int, int]:
        """Read the roster and channels of every team the app is in: (teams, people)."""
        teams = await asyncio.to_thread(self._teams)
        people = 0
        for team_id, reference in sorted(teams.items()):
            people += await self.read_roster(reference, team_id)
            await self.read_channels(reference, team_id)
        return len(teams), people

    def roster_due(self, team_id: str, *, arrived: bool = False) -> bool:
        """Whether to read the team's roster now: daily, and when the app arrives (but once
        for its installationUpdate and conversationUpdate, which come together)."""
        last = self.roster_read.get(team_id)
        every = roster.ARRIVAL_SECONDS if arrived else roster.ROSTER_REFRESH_SECONDS
        return last is None or time.monotonic() - last >= every

    def forget_people(self, team_id: str, people: list[dict[str, Any]]) -> None:
        """People who left a team: the team no longer lets the bot open a 1:1 with them."""
        keys = [f"user:{p.get('id')}" for p in people] + [
            f"user:{p['aadObjectId']}" for p in people if p.get("aadObjectId")
        ]
        with self.db.session() as session:
            for row in session.scalars(
                select(ConversationReference).where(
                    ConversationReference.platform == "teams",
                    ConversationReference.key.in_(keys),
                )
            ):
                if roster.of_team(row.reference, team_id):
                    session.delete(row)

    def mark_unreachable(self, member_id: int | None, reason: str) -> None:
        """Teams will not let us write to this member: they are not asked again until a
        roster or an install of theirs shows them (roster.reachable_again)."""
        if member_id is None:
            return
        with self.db.session() as session:
            member = session.get(Member, member_id)
            if member is not None and not member.unreachable:
                member.unreachable = f"{roster.UNREACHABLE_PREFIX}{reason}"[:200]

    def store_reference(
        self, keys: Iterable[str], reference: dict[str, Any], *, personal: bool = True
    ) -> bool:
        """Upsert `reference` under each key; a non-personal one never replaces a personal one."""
        return self.store_references([(k, reference) for k in keys], personal=personal)

    def store_references(self, rows: roster.Rows, *, personal: bool = True) -> bool:
        """Upsert each (key, reference); True when any key is new or now points elsewhere.

        A roster page is 1,500 keys, mostly unchanged: one read finds what is new or changed,
        and only those are written.
        """
        wanted = {k[:300]: ref for k, ref in rows if k}
        if not wanted:
            return False
        with self.db.session() as session:
            stored: dict[str, dict[str, Any]] = dict(
                session.execute(
                    select(ConversationReference.key, ConversationReference.reference).where(
                        ConversationReference.platform == "teams",
                        ConversationReference.key.in_(list(wanted)),
                    )
                )
                .tuples()
                .all()
            )
            new = sorted(set(wanted) - set(stored))  # one lock order for all
            skipped: set[str] = set()
            if new:
                # Insert-or-skip: two activities for one person (installationUpdate and
                # conversationUpdate) arrive together and race on the unique (platform, key).
                insert = pg_insert if self.db.is_postgres else sqlite_insert
                now = utcnow()
                inserted = session.scalars(
                    insert(ConversationReference)
                    .on_conflict_do_nothing(index_elements=["platform", "key"])
                    .returning(ConversationReference.key),
                    [
                        {"platform": "teams", "key": k, "reference": wanted[k], "updated_at": now}
                        for k in new
                    ],
                )
                skipped = set(new) - set(inserted)
            differ = {
                k
                for k, ref in stored.items()
                if ref != wanted[k] and (personal or not _is_personal_ref(ref))
            }
            if differ or skipped:
                # What a racing activity inserted first is compared again, under a lock.
                for row in session.scalars(
                    select(ConversationReference)
                    .where(
                        ConversationReference.platform == "teams",
                        ConversationReference.key.in_(sorted(differ | skipped)),
                    )
                    .order_by(ConversationReference.key)
                    .with_for_update()
                ):
                    reference = wanted[row.key]
                    if (personal or not _is_personal_ref(row.reference)) and (
                        row.reference != reference
                    ):
                        row.reference = reference
                        row.updated_at = utcnow()
        return bool(new or differ)

    def keep_people(self, rows: roster.Rows, *, refused_too: bool) -> None:
        """Store the references of the members among `rows` (a roster's) and let them be
        asked again (roster.members_only, roster.reachable_again)."""
        with self.db.session() as session:
            rows = roster.members_only(session, rows)
        self.store_references(rows, personal=False)
        self.reachable_again([k for k, _ in rows], refused_too=refused_too)

    def reachable_again(self, keys: list[str], *, refused_too: bool = True) -> None:
        """The people behind `keys` can be written to again (roster.reachable_again)."""
        with self.db.session() as session:
            roster.reachable_again(session, keys, refused_too=refused_too)

    def forget(self, activity: dict[str, Any]) -> int:
        """The app was uninstalled here: drop the references it left, so this person (or team)
        is reported unreachable (`NOT_INSTALLED`, `missing_references`) instead of written to."""
        conversation_id = str((activity.get("conversation") or {}).get("id") or "")
        keys = [*reference_keys(activity), f"conv:{conversation_id}"]
        with self.db.session() as session:
            team = team_of(activity)
            for row in session.scalars(
                select(ConversationReference).where(
                    ConversationReference.platform == "teams",
                    or_(
                        ConversationReference.key.like("email:%"),
                        ConversationReference.key.like("user:%") if team else false(),
                        ConversationReference.key.like("channel:%") if team else false(),
                    ),
                )
            ):
                if (row.reference.get("conversation") or {}).get("id") == conversation_id or (
                    team is not None and roster.of_team(row.reference, team)
                ):
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
            # Never on a click: a member row written just before an answer is recorded would
            # sit next to it (PostgreSQL's xmin; docs/privacy.md).
            if not _clicked(activity):
                self.reachable_again(keys)
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
            reference = await self._find_channel(to.value)
            if reference is None:
                raise DeliveryError(NOT_IN_TEAM, permanent=True)
            card = cards.render_message(message, self._translator(reference), self.image_url)
            return await self._send(
                reference, to.value, cards.message_activity(card, message.summary), dedupe_key
            )

        def render(reference: dict[str, Any]) -> dict[str, Any]:
            card = cards.render_message(message, self._translator(reference), self.image_url)
            return cards.message_activity(card, message.summary)

        return await self._deliver_to_person(to, render, dedupe_key)

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
            await self._proactive(reference, call)
        except MessageGone:
            # The closed state of a pulse DM whose card is gone: nothing is left to rewrite.
            log.info("activity to update is gone", extra={"platform": "teams"})

    async def open_form(self, trigger: str, form: Form, *, to: Address) -> None:
        """Teams has no trigger: the form is a card posted to the person."""

        def render(reference: dict[str, Any]) -> dict[str, Any]:
            return cards.message_activity(
                cards.render_form(form, self._translator(reference)), form.title
            )

        await self._deliver_to_person(to, render, f"form:{trigger}")

    async def find_user(self, email: str) -> str | None:
        # No directory look-up without Microsoft Graph; people are matched when they write.
        return None

    # --- sending ------------------------------------------------------------------------

    async def _deliver_to_person(
        self, to: Address, render: Callable[[dict[str, Any]], dict[str, Any]], key: str
    ) -> MessageRef:
        try:
            reference = await self._person(to)
            return await self._send_to_person(reference, render(reference), key)
        except DeliveryError as err:
            if err.permanent:
                # Not asked again round after round (flows/pulse/ skips the unreachable).
                await asyncio.to_thread(self.mark_unreachable, to.member_id, err.reason)
            raise

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

        activity_id = await self._proactive(reference, call)
        await self._remember_sent([f"conv:{conversation_id}"], reference)
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

    async def _remember_sent(self, keys: list[str], reference: dict[str, Any]) -> None:
        """Remember where a message went. It was sent: nothing here may make the outbox think
        otherwise (a failure would park a delivered row as "unknown" or send it twice)."""
        try:
            await asyncio.to_thread(self.store_reference, keys, reference)
        except Exception as err:
            log.warning(
                "reference not stored after a send",
                extra={"platform": "teams", "reason": type(err).__name__},
            )

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

        conversation_id, activity_id = await self._proactive(reference, call)
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
        await self._remember_sent(keys, personal)
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


def _clicked(activity: dict[str, Any]) -> bool:
    return activity.get("type") == "invoke" or isinstance(activity.get("value"), dict)


def _tenant(reference: dict[str, Any]) -> str | None:
    tenant = (reference.get("conversation") or {}).get("tenantId")
    return str(tenant) if tenant else None


def _is_personal_ref(reference: dict[str, Any]) -> bool:
    return (reference.get("conversation") or {}).get("conversationType") == "personal"


def missing_references(session: Session) -> list[Member]:
    """Members Teams will not let us reach: no reference under any of their identities (the
    app is not installed for them and they are in no team the app is in), or Teams refused
    the last message to them (`why_missing` says which).
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
        refused = (member.unreachable or "").startswith(roster.UNREACHABLE_PREFIX)
        if refused or not candidates & keys:
            missing.append(member)
    return missing


def why_missing(member: Member) -> str:
    if (member.unreachable or "").startswith(roster.UNREACHABLE_PREFIX):
        return str(member.unreachable).removeprefix(roster.UNREACHABLE_PREFIX)
    return NOT_INSTALLED


def make_teams_platform(settings: Settings, db: Database) -> TeamsPlatform:
    return TeamsPlatform(settings, db, BotConnector(config_from(settings)))


def activity_tenant(activity: dict[str, Any]) -> str | None:
    return tenant_of(activity)

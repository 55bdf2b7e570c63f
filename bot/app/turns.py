"""The bot core: takes a normalised event, finds the member, runs the flow in one transaction.

Adapters call `Core.handle` and apply the returned `Reply`. De-duplication of retried
deliveries happens here, inside the same transaction as the flow's work: a retried Slack
event or a replayed Teams activity changes nothing twice, and a failed attempt leaves no mark.

The de-duplication row names neither the person nor what they chose: its key is a keyed hash
(a subkey of MEDPULS_SECRET_KEY) of the platform's delivery id, its time is rounded down to the
minute, and it is deleted after DEDUPE_TTL (by every round's close, retention and erasure).
Platforms re-deliver within minutes (Slack: three retries within about five minutes), so an
hour is ample.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.core.config import Settings
from bot.core.errors import MedpulsError, Refused
from bot.core.events import ButtonClicked, FormSubmitted, InboundEvent
from bot.core.i18n import language_of, speaks, translator
from bot.core.messages import NO_REPLY, Reply
from bot.core.router import FlowContext, Router
from bot.core.secret_key import DEDUPE, subkey
from storage.db import Database
from storage.dedupe import dedupe_key
from storage.models import Member, ProcessedEvent, utcnow
from storage.queries import member_by_directory_id, member_by_email, member_by_platform_id

log = logging.getLogger("medpuls.core")


@dataclass
class _PlatformIdChanged(Exception):
    """The member's platform id must be remembered first, in a transaction of its own."""

    member_id: int
    platform: str
    user_id: str
    team_id: str | None


def _bound(member: Member, platform: str) -> bool:
    """Whether an account on `platform` already holds this member."""
    if platform == "slack":
        return member.slack_user_id is not None
    if platform == "teams":
        return member.teams_user_id is not None or member.teams_aad_id is not None
    return False


class Core:
    def __init__(
        self,
        settings: Settings,
        db: Database,
        router: Router,
    ) -> None:
        self.settings = settings
        self.db = db
        self.router = router
        # Set by the delivery loop so that a queued reply goes out without waiting a tick.
        self.wake_delivery: Callable[[], None] = lambda: None

    async def handle(self, event: InboundEvent) -> Reply:
        reply = await asyncio.to_thread(self.handle_sync, event)
        self.wake_delivery()
        return reply

    def handle_sync(self, event: InboundEvent) -> Reply:
        # A unique-key conflict means another delivery got there first: a retried event (the
        # retry then finds its key and is a no-op) or two quick clicks racing to insert the
        # same answer (the retry then updates it). So one more try, and never a lost click.
        remember = True
        for attempt in (1, 2, 3):
            try:
                return self._handle_once(event, remember=remember)
            except _PlatformIdChanged as change:
                remember = False
                self._remember_platform_id(change)
                continue
            except Refused as err:
                # A refusal is audited although the refused turn itself rolls back.
                with self.db.session() as session:
                    session.add(err.audit_entry)
                return Reply.note(str(err))
            except MedpulsError as err:
                return Reply.note(str(err))
            except IntegrityError:
                # No delivery id here: Slack's names the person (and it is a click).
                log.info(
                    "unique-key conflict, trying once more",
                    extra={"platform": event.actor.platform, "retry": attempt},
                )
        return NO_REPLY

    def _handle_once(self, event: InboundEvent, *, remember: bool = True) -> Reply:
        with self.db.session() as session:
            if event.delivery_id and not self._first_delivery(session, event):
                log.info("duplicate delivery ignored", extra={"platform": event.actor.platform})
                return NO_REPLY
            ctx = self._context(session, event, remember=remember)
            return self.router.dispatch(ctx, event)

    def _first_delivery(self, session: Session, event: InboundEvent) -> bool:
        assert event.delivery_id is not None
        key = dedupe_key(subkey(self.settings, DEDUPE), event.actor.platform, event.delivery_id)
        if session.get(ProcessedEvent, key) is not None:
            return False
        # To the minute: the row's time must not pair the click with anything else.
        at = utcnow().replace(second=0, microsecond=0)
        session.add(ProcessedEvent(key=key, at=at))
        session.flush()
        return True

    def _remember_platform_id(self, change: _PlatformIdChanged) -> None:
        """Its own transaction: written together with an answer, the member row's change would
        share the answer's transaction id (PostgreSQL's xmin), a link between the two."""
        values: dict[str, str | None] = (
            {"slack_user_id": change.user_id, "slack_team_id": change.team_id}
            if change.platform == "slack"
            else {"teams_user_id": change.user_id}
        )
        try:
            with self.db.session() as session:
                session.execute(
                    update(Member).where(Member.id == change.member_id).values(**values)
                )
        except IntegrityError:
            # Another member holds that id already; the event is handled without remembering.
            log.info("platform id not remembered: held by another member")

    def _context(self, session: Session, event: InboundEvent, *, remember: bool) -> FlowContext:
        actor = event.actor
        member = member_by_platform_id(session, actor.platform, actor.user_id)
        if member is None and actor.directory_id:
            member = member_by_directory_id(session, actor.directory_id)
        if member is None and actor.email:
            # An e-mail address is not an identity: another workspace or tenant lets anyone put
            # any address on a profile (the "nOAuth" pattern). So it only introduces a member
            # no account on this platform holds yet; from then on only the platform's own ids
            # match, and a second account with the same address is a stranger.
            found = member_by_email(session, actor.email)
            if found is not None and not _bound(found, actor.platform):
                member = found
        if member is not None and member.erased:
            member = None
        clicked = isinstance(event, ButtonClicked | FormSubmitted)
        # Remember the platform id so the next event, and delivery, need no look-up; in a
        # transaction of its own (handle_sync), then this event is handled afresh. Never on a
        # click or a form: a member row written just before an answer (PostgreSQL's xmin one
        # below the answer's) would pair the two as surely as one transaction would.
        if (
            remember
            and not clicked
            and member is not None
            and (
                (actor.platform == "slack" and member.slack_user_id != actor.user_id)
                or (actor.platform == "teams" and member.teams_user_id != actor.user_id)
            )
        ):
            raise _PlatformIdChanged(member.id, actor.platform, actor.user_id, actor.team_id)
        if (
            member is not None
            and actor.platform == "teams"
            and member.teams_aad_id is None
            and actor.directory_id
            and not clicked
        ):
            member.teams_aad_id = actor.directory_id
        if member is not None and actor.locale and not member.language_chosen and not clicked:
            # The client's language, remembered for the messages the person did not ask for.
            # Never on a click: a member row written in the transaction that records an answer
            # would carry that transaction's id, next to the answer's (docs/privacy.md).
            detected = language_of(actor.locale, self.settings.language)
            if member.language != detected:
                member.language = detected
        lang = speaks(member, actor.locale, self.settings.language)
        return FlowContext(
            session=session,
            settings=self.settings,
            actor=actor,
            member=member,
            t=translator(lang),
            now=utcnow(),
        )

"""The local platform: our own tiny chat server. Messages live in the local_messages table,
so a separate worker process can post and the web page still sees them."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import select

from bot.core.events import MessageRef
from bot.core.messages import Form, Message
from bot.core.platform import Address
from storage.db import Database
from storage.models import LocalMessage, utcnow


def conversation_of(to: Address) -> str:
    return f"member:{to.value}" if to.kind == "user" else to.value


class LocalPlatform:
    name = "local"
    # post() returns the earlier message for a repeated dedupe key: bot.delivery may re-send.
    idempotent_posts = True

    def __init__(self, db: Database) -> None:
        self.db = db

    def _store(self, conversation: str, payload: dict[str, Any], dedupe_key: str) -> MessageRef:
        with self.db.session() as session:
            # The outbox may retry a send whose outcome it did not learn; the key makes the
            # second attempt find the first message instead of posting another.
            existing = session.scalars(
                select(LocalMessage).where(LocalMessage.dedupe_key == dedupe_key)
            ).first()
            if existing is None:
                existing = LocalMessage(
                    conversation=conversation, payload=payload, dedupe_key=dedupe_key
                )
                session.add(existing)
                session.flush()
            return MessageRef("local", conversation, str(existing.id))

    def keep(self, conversation: str, payload: dict[str, Any]) -> int:
        """A message that happens once, in answer to the page (what a person typed, the reply
        to it): nothing will send it again, so it needs no dedupe key."""
        with self.db.session() as session:
            row = LocalMessage(conversation=conversation, payload=payload, dedupe_key=None)
            session.add(row)
            session.flush()
            return int(row.id)

    async def post(self, to: Address, message: Message, *, dedupe_key: str) -> MessageRef:
        payload = {"message": message.model_dump(mode="json")}
        return await asyncio.to_thread(self._store, conversation_of(to), payload, dedupe_key)

    def _update(self, ref: MessageRef, message: Message) -> None:
        with self.db.session() as session:
            row = session.get(LocalMessage, int(ref.message_id))
            if row is not None:
                row.payload = {"message": message.model_dump(mode="json")}
                row.updated_at = utcnow()

    async def update(self, ref: MessageRef, message: Message) -> None:
        await asyncio.to_thread(self._update, ref, message)

    async def open_form(self, trigger: str, form: Form, *, to: Address) -> None:
        payload = {"form": form.model_dump(mode="json")}
        await asyncio.to_thread(self._store, conversation_of(to), payload, f"form:{trigger}")

    async def find_user(self, email: str) -> str | None:
        return None

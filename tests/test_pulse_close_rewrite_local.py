"""The local chat keeps its messages in `local_messages`, which `/local/api/messages` serves:
a pulse DM row must never carry an answer. While the round is open the choice is confirmed in a
toast that is not stored; at close every pulse DM row (question and reminders) is rewritten to
one closed state; a late click shows that state in place.

End to end over HTTP against the real web app (tests/localchat.py), the real CLI and outbox.
What a message says is read from the neutral message the local platform stored, never from
the page's HTML; the API is held to serving exactly that stored message (`_dm`).
"""

from __future__ import annotations

import json

from sqlalchemy import select

from adapters.local.html import render_message
from bot.core.messages import Message
from flows.reminders import remind_round, reminder_moments
from storage.models import LocalMessage, OutboxMessage, PulseRound, utcnow
from tests.cli import cli
from tests.fake_platform import Shown
from tests.localchat import LocalChat, local_chat
from tests.test_foundation_e2e import answer_buttons
from tests.worlds import NORD, nord_round

CLOSED = "er lukket, og svarene kan ikke længere ændres"


def _dm_rows(chat_db: object, members: list[int]) -> dict[int, list[LocalMessage]]:
    with chat_db.session() as s:  # type: ignore[attr-defined]
        rows = s.scalars(select(LocalMessage).order_by(LocalMessage.id)).all()
        s.expunge_all()
    return {m: [r for r in rows if r.conversation == f"member:{m}"] for m in members}


async def _dm(chat: LocalChat, member: int) -> list[Shown]:
    """The member's DM as the API serves it, read from the stored neutral messages: each
    served message must be the rendering of its row, so the rows are what the page shows."""
    served = await chat.dm(member)
    rows = {r.id: r for r in _dm_rows(chat.bot.db, [member])[member]}
    shown = []
    for m in served:
        message = Message.model_validate(rows[m["id"]].payload["message"])
        assert m["html"] == render_message(message)
        shown.append(Shown.of(message, m["id"]))
    return shown


async def test_an_answer_shows_in_a_toast_and_no_stored_row_marks_it(db_url: str) -> None:
    members = nord_round(db_url)
    async with local_chat(db_url) as chat:
        await chat.deliver()
        [msg] = await _dm(chat, members[0])
        buttons = answer_buttons(msg.actions)
        question = next(q for q, _ in buttons)
        reply = await chat.click(members[0], buttons[(question, 4)], message_id=msg.id)
        assert "Du svarede 4" in reply["toast"]
        reply = await chat.click(members[0], buttons[(question, 2)], message_id=msg.id)
        assert "Du svarede 2" in reply["toast"]
        # Whoever reads her DM through the API (the local chat has no login) finds no choice.
        [msg] = await _dm(chat, members[0])
        assert not any(b.selected for b in msg.buttons)
        for row in _dm_rows(chat.bot.db, members)[members[0]]:
            assert '"selected": true' not in json.dumps(row.payload)
            assert "Du svarede" not in json.dumps(row.payload, ensure_ascii=False)


async def test_at_close_every_pulse_dm_row_becomes_the_same_closed_message(db_url: str) -> None:
    members = nord_round(db_url)
    async with local_chat(db_url) as chat:
        await chat.deliver()
        for member, value in zip(members[:3], (5, 1, 3), strict=True):
            [msg] = await _dm(chat, member)
            packed = next(p for (_, v), p in answer_buttons(msg.actions).items() if v == value)
            await chat.click(member, packed, message_id=msg.id)
        with chat.bot.db.session() as s:
            pulse_round = s.scalars(select(PulseRound)).one()
            moments = reminder_moments(s, pulse_round, chat.bot.settings.tz)
            assert remind_round(s, pulse_round, now=moments[0], settings=chat.bot.settings)
        await chat.deliver()
        before = _dm_rows(chat.bot.db, members)
        assert all(len(before[m]) == 2 for m in members[3:]), "question and reminder"
        with chat.bot.db.session() as s:
            refs = set(
                s.scalars(
                    select(OutboxMessage.message_ref).where(
                        OutboxMessage.purpose.in_(("pulse.ask", "pulse.remind"))
                    )
                )
            )
        assert refs == {f"local|member:{m}|{row.id}" for m in members for row in before[m]}

        code, out = cli(db_url, "pulse", "close-now", "--unit", NORD)
        assert code == 0, out
        await chat.deliver()
        after = _dm_rows(chat.bot.db, members)
        # Rewritten in place: the same rows, no new message in anyone's DM.
        assert {m: [r.id for r in rows] for m, rows in after.items()} == {
            m: [r.id for r in rows] for m, rows in before.items()
        }
        payloads = {json.dumps(r.payload) for rows in after.values() for r in rows}
        assert len(payloads) == 1, "one closed message for everyone asked"
        [payload] = payloads
        assert CLOSED in json.loads(payload)["message"]["parts"][1]["text"]
        assert "pulse.answer" not in payload and '"buttons"' not in payload
        for m in members:
            for msg in await _dm(chat, m):
                assert CLOSED in msg.text
                assert not answer_buttons(msg.actions)


async def test_a_late_click_on_an_old_copy_shows_the_closed_state_in_place(db_url: str) -> None:
    members = nord_round(db_url)
    async with local_chat(db_url) as chat:
        await chat.deliver()
        [msg] = await _dm(chat, members[1])
        packed = next(iter(answer_buttons(msg.actions).values()))
        # Closed, but the rewrite has not gone out yet: the page still shows live buttons.
        cli(db_url, "pulse", "close-now", "--unit", NORD)
        reply = await chat.click(members[1], packed, message_id=msg.id)
        assert reply == {}, "no note, no toast"
        [msg] = await _dm(chat, members[1])
        assert CLOSED in msg.text
        assert not answer_buttons(msg.actions)


async def test_a_dm_still_on_its_way_at_close_is_rewritten_by_the_scheduler_job(
    db_url: str,
) -> None:
    """The close queues rewrites for the DMs already sent; one whose send is under way at that
    moment lands afterwards, and the scheduler job rewrites it (once). DMs only queued at the
    close are not sent at all."""
    from flows.pulse import rewrite_closed_round_dms

    members = nord_round(db_url)
    async with local_chat(db_url) as chat:
        delivery = chat.bot.delivery
        ready, _ = delivery.prepare(delivery.claim())
        item = next(
            r for r in ready if r.route.address and r.route.address.value == str(members[0])
        )
        assert delivery._mark_sending(item.row_id, "local")  # the request is leaving...
        code, out = cli(db_url, "pulse", "close-now", "--unit", NORD)  # ...as the round closes
        assert code == 0, out
        assert item.route.address is not None
        ref = await chat.bot.platforms["local"].post(
            item.route.address, item.message, dedupe_key=item.dedupe_key
        )
        delivery._sent(item.row_id, f"local|{ref.conversation_id}|{ref.message_id}")
        delivery._step_down()  # the rest of the batch goes back to the queue
        await chat.deliver()
        assert [await chat.dm(m) for m in members[1:]] == [[]] * (len(members) - 1)
        [msg] = await _dm(chat, members[0])
        assert answer_buttons(msg.actions), "landed after the close, with live buttons"

        for _ in range(2):  # two ticks: the second finds nothing left to do
            rewrite_closed_round_dms(chat.bot.db, chat.bot.settings, utcnow())
        await chat.deliver()
        with chat.bot.db.session() as s:
            rewrites = s.scalars(
                select(OutboxMessage).where(OutboxMessage.purpose == "pulse.closed")
            ).all()
        assert [r.status for r in rewrites] == ["sent"]
        [msg] = await _dm(chat, members[0])
        assert CLOSED in msg.text
        assert not answer_buttons(msg.actions)

"""Slack keeps every version of a message it was given (exports, eDiscovery): a pulse DM must
never carry an answer there. While the round is open the choice is confirmed in an ephemeral
message; at close every pulse DM (question and reminders) is rewritten to one closed state.

End to end on the fake Slack Web API (tests/fakes/slack_api.py), through the real CLI, web
app and outbox.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select, update

from flows.reminders import remind_round, reminder_moments
from storage.models import Member, OutboxMessage, PulseRound, utcnow
from tests.fakes.slack_api import Call, FakeSlack, SlackWorkspace
from tests.slack_demo import (
    NORD,
    answer_button,
    buttons,
    cli,
    click,
    question_for,
    question_post,
    round_on_slack,
    slack_fixtures,
    slack_id,
)

CLOSED = "er lukket, og svarene kan ikke længere ændres"


fake, ws = slack_fixtures()


def _marked(blocks: list[dict[str, Any]]) -> list[str]:
    return [e["text"]["text"] for e in buttons(blocks) if e.get("style") == "primary"]


def _pulse_dms(fake: FakeSlack) -> list[Call]:
    return [
        c for c in fake.calls_to("chat.postMessage") if "pulse.answer" in json.dumps(c.blocks())
    ]


async def _remind(ws: SlackWorkspace) -> None:
    """Queue the round's first reminder, at its moment, and send it."""
    with ws.bot.db.session() as s:
        pulse_round = s.scalars(select(PulseRound)).one()
        moments = reminder_moments(s, pulse_round, ws.bot.settings.tz)
        assert moments, "a 72-hour round has a reminder moment"
        assert remind_round(s, pulse_round, now=moments[0], settings=ws.bot.settings) > 0
    await ws.deliver()


async def _answer(ws: SlackWorkspace, member: Member, value: int) -> None:
    post = question_post(ws.fake, member)
    sent = await ws.interact(click(member, post, answer_button(post.blocks(), 0, value)))
    assert sent.status == 200
    await ws.drain()


async def test_an_open_round_keeps_no_marked_choice_in_the_dm_only_an_ephemeral_note(
    ws: SlackWorkspace, fake: FakeSlack
) -> None:
    people = await round_on_slack(ws)
    anne = people[0]
    await _answer(ws, anne, 4)
    await _answer(ws, anne, 2)  # she changes her mind
    # Nothing Slack stores shows her choice: no update of the DM, no marked button.
    for call in fake.calls_to("chat.update") + fake.calls_to("chat.postMessage"):
        assert _marked(call.blocks()) == []
    assert fake.calls_to("chat.update") == []
    # The ephemeral note, in her DM with the app, to her alone.
    notes = fake.calls_to("chat.postEphemeral")
    assert [n.args["user"] for n in notes] == [slack_id(anne.id)] * 2
    dm = question_post(fake, anne).result["channel"]
    assert {n.args["channel"] for n in notes} == {dm}
    assert "Du svarede 4" in notes[0].args["text"]
    assert "Du svarede 2" in notes[1].args["text"]
    assert "indtil runden lukker" in notes[1].args["text"]


async def test_at_close_every_pulse_dm_becomes_the_same_closed_message_without_buttons(
    db_url: str, ws: SlackWorkspace, fake: FakeSlack
) -> None:
    people = await round_on_slack(ws)
    for member, value in zip(people[:3], (5, 1, 3), strict=True):
        await _answer(ws, member, value)
    await _remind(ws)  # the others get a reminder: a second DM with buttons
    dms = _pulse_dms(fake)
    assert len(dms) > len(people), "questions and reminders"
    # The outbox kept where each DM went (channel and ts): what the rewrite needs.
    with ws.bot.db.session() as s:
        refs = {
            r.message_ref
            for r in s.scalars(
                select(OutboxMessage).where(
                    OutboxMessage.purpose.in_(("pulse.ask", "pulse.remind"))
                )
            )
        }
    assert refs == {f"slack|{c.result['channel']}|{c.result['ts']}" for c in dms}

    fake.clear()
    cli(db_url, "pulse", "close-now", "--unit", NORD)
    await ws.deliver()
    updates = fake.calls_to("chat.update")
    assert sorted((u.args["channel"], u.args["ts"]) for u in updates) == sorted(
        (c.result["channel"], c.result["ts"]) for c in dms
    )
    for u in updates:
        assert CLOSED in u.args["text"] or CLOSED in json.dumps(u.blocks(), ensure_ascii=False)
        assert buttons(u.blocks()) == [], "no live buttons after close"
    # The same message for everyone asked, answered or not, reminded or not.
    assert len({json.dumps(u.blocks()) for u in updates}) == 1
    assert len({u.args["text"] for u in updates}) == 1
    # No new message reached anyone in their DM.
    assert not [c for c in fake.calls_to("chat.postMessage") if c.args["channel"][0] in "UD"]

    # Running the catch-up job, or closing again, queues nothing twice.
    from flows.pulse import rewrite_closed_round_dms  # (not on main: imported here)

    with ws.bot.db.session() as s:
        before = len(s.scalars(select(OutboxMessage)).all())
    rewrite_closed_round_dms(ws.bot.db, ws.bot.settings, utcnow())
    cli(db_url, "pulse", "close-now", "--unit", NORD)
    with ws.bot.db.session() as s:
        assert len(s.scalars(select(OutboxMessage)).all()) == before


async def test_the_rewrite_survives_a_lost_connection_and_a_deleted_message_is_a_no_op(
    db_url: str, ws: SlackWorkspace, fake: FakeSlack
) -> None:
    people = await round_on_slack(ws)
    dms = _pulse_dms(fake)
    gone = dms[0].result["ts"]
    fake.fail("chat.update", "message_not_found", when=lambda args: args.get("ts") == gone)
    # The connection drops after Slack read the request: the outcome is unknown, but an
    # update is the same however often it is sent, so it is sent again.
    fake.drop("chat.update", times=2)
    fake.clear()
    cli(db_url, "pulse", "close-now", "--unit", NORD)
    await ws.deliver()
    with ws.bot.db.session() as s:
        # The two dropped ones wait for their next try, not parked as "unknown".
        waiting = s.scalars(
            select(OutboxMessage).where(
                OutboxMessage.purpose == "pulse.closed", OutboxMessage.status != "sent"
            )
        ).all()
        assert [r.status for r in waiting] == ["pending", "pending"]
        s.execute(  # their back-off has passed
            update(OutboxMessage)
            .where(OutboxMessage.status == "pending")
            .values(next_attempt_at=utcnow())
        )
    await ws.deliver()
    with ws.bot.db.session() as s:
        rows = s.scalars(select(OutboxMessage).where(OutboxMessage.purpose == "pulse.closed")).all()
        assert len(rows) == len(dms) and len(people) > 2
        assert {r.status for r in rows} == {"sent"}
        # Nobody is alerted about a message that simply is not there any more.
        assert not s.scalars(
            select(OutboxMessage).where(OutboxMessage.purpose == "delivery.alert")
        ).all()
    updated = {u.args["ts"] for u in fake.calls_to("chat.update") if u.result.get("ok")}
    assert updated == {c.result["ts"] for c in dms} - {gone}


async def test_a_click_on_a_closed_rounds_old_dm_shows_the_closed_state_in_its_place(
    db_url: str, ws: SlackWorkspace, fake: FakeSlack
) -> None:
    bo, post = await question_for(ws, 1)
    cli(db_url, "pulse", "close-now", "--unit", NORD)
    fake.clear()
    # A copy of the old message with live buttons (another device, an export, a client
    # that had not refreshed) is clicked.
    sent = await ws.interact(click(bo, post, answer_button(post.blocks(), 0, 5)))
    assert sent.status == 200
    await ws.drain()
    [update] = fake.calls_to("chat.update")
    assert (update.args["channel"], update.args["ts"]) == (
        post.result["channel"],
        post.result["ts"],
    )
    assert buttons(update.blocks()) == []
    assert CLOSED in json.dumps(update.blocks(), ensure_ascii=False)
    # No new message, no note in the chat.
    assert fake.calls_to("chat.postMessage") == []
    assert fake.calls_to("chat.postEphemeral") == []


async def test_with_several_workspaces_the_rewrite_uses_the_dms_own_workspace_token(
    sqlite_url: str,
) -> None:
    from tests.test_slack_oauth import OAUTH, _install

    fake = FakeSlack(bot_token="xoxb-workspace-a")
    settings = {**OAUTH, "SLACK_ALLOWED_TEAM_IDS": "T0MEDPULS,T0OTHER"}
    async with fake, SlackWorkspace(sqlite_url, fake, **settings) as ws:
        cli(sqlite_url, "demo", "--no-history")
        await _install(ws)  # workspace A
        fake.team_id, fake.bot_token = "T0OTHER", "xoxb-workspace-b"
        await _install(ws)  # workspace B, installed last: the default for posting
        with ws.bot.db.session() as s:
            for member in s.scalars(select(Member)):
                member.slack_user_id, member.slack_team_id = slack_id(member.id), "T0MEDPULS"
                fake.add_user(slack_id(member.id), member.email, team_id="T0MEDPULS")
        cli(sqlite_url, "pulse", "run-now", "--unit", NORD)
        await ws.deliver()
        dms = _pulse_dms(fake)
        assert dms and {c.token for c in dms} == {"xoxb-workspace-a"}
        cli(sqlite_url, "pulse", "close-now", "--unit", NORD)
        await ws.deliver()
        updates = fake.calls_to("chat.update")
        assert len(updates) == len(dms)
        assert {u.token for u in updates} == {"xoxb-workspace-a"}
        assert {u.args["channel"] for u in updates} == {c.result["channel"] for c in dms}


async def test_a_rewrite_left_half_sent_by_a_dead_worker_is_sent_again_not_parked(
    db_url: str, fake: FakeSlack
) -> None:
    from bot.app.delivery import Delivery
    from storage.leases import release_lease

    async with SlackWorkspace(db_url, fake) as ws:
        await round_on_slack(ws)
        dms = _pulse_dms(fake)
        cli(db_url, "pulse", "close-now", "--unit", NORD)
        # A second worker claims the rewrites and dies as the first request leaves: no
        # heartbeat, its rows stuck in "claimed" and one in "sending".
        doomed = Delivery(ws.bot.db, ws.bot.platforms, worker_id="doomed")
        ready, _ = doomed.prepare(doomed.claim())
        assert ready and doomed._mark_sending(ready[0].row_id, "slack")
        release_lease(ws.bot.db, doomed.lease_name, "doomed")  # its heartbeat has run out
        assert ws.bot.delivery.recover().unknown == 0
        with ws.bot.db.session() as s:
            statuses = {
                r.status
                for r in s.scalars(
                    select(OutboxMessage).where(OutboxMessage.purpose == "pulse.closed")
                )
            }
        assert statuses == {"pending"}, "an update is the same however often it is sent"
        fake.clear()
        await ws.deliver()
        assert sorted(u.args["ts"] for u in fake.calls_to("chat.update")) == sorted(
            c.result["ts"] for c in dms
        )

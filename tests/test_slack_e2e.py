"""MEDpuls on Slack end to end: signed requests in, Web API calls out, state in the database.

The bot runs as `medpuls serve` does (bot.app.build + bot.server.build_web_app) on 127.0.0.1;
Slack's Web API is tests/fakes/slack_api.py, a real HTTP server. The demo municipality and
pulse rounds come from the real CLI.
"""

from __future__ import annotations

import json
import time
from typing import Any

from sqlalchemy import func, select

from storage.models import Answer, Member, OutboxMessage, ProcessedEvent
from tests.fakes.slack_api import (
    Call,
    FakeSlack,
    SlackWorkspace,
    fixture,
    interaction_body,
    signed_headers,
)
from tests.slack_demo import (
    NORD,
    answer_button,
    answers,
    buttons,
    cli,
    click,
    demo_on_slack,
    question_for,
    question_post,
    round_on_slack,
    slack_fixtures,
    slack_id,
)

fake, ws = slack_fixtures()


async def test_pulse_questions_go_out_as_dms_with_a_1_to_5_scale(
    ws: SlackWorkspace, fake: FakeSlack
) -> None:
    people = await round_on_slack(ws)
    # No Slack ids in the import: every member was found by e-mail and remembered.
    lookups = {c.args["email"] for c in fake.calls_to("users.lookupByEmail")}
    assert {p.email for p in people} <= lookups
    with ws.bot.db.session() as s:
        known = {m.id: m.slack_user_id for m in s.scalars(select(Member))}
    assert all(known[p.id] == slack_id(p.id) for p in people)
    post = question_post(fake, people[0])
    blocks = post.blocks()
    assert post.args["text"]
    scale = buttons(blocks)
    labels = [e["text"]["text"] for e in scale if e["value"].startswith("pulse.answer|")]
    assert labels[:5] == ["1", "2", "3", "4", "5"]
    ends = [b for b in blocks if b["type"] == "context" and " = " in b["elements"][0]["text"]]
    assert ends, "the scale's ends are labelled"
    assert "conversations.history" not in fake.methods()


async def test_an_answer_is_confirmed_ephemerally_and_a_change_replaces_it(
    ws: SlackWorkspace, fake: FakeSlack
) -> None:
    anne, post = await question_for(ws, 2)
    sent = await ws.interact(click(anne, post, answer_button(post.blocks(), 0, 4)))
    assert sent.status == 200
    await ws.drain()
    # The DM itself is left as it was (Slack would keep a marked button in its copy); the
    # choice is confirmed in an ephemeral message to her alone.
    assert fake.calls_to("chat.update") == []
    [note] = fake.calls_to("chat.postEphemeral")
    assert (note.args["channel"], note.args["user"]) == (
        post.result["channel"],
        slack_id(anne.id),
    )
    assert "Du svarede 4" in note.args["text"]
    assert [v for _, v in answers(ws)] == [4]
    # users.info told the core her e-mail and locale (the core matched her by Slack id).
    info = fake.calls_to("users.info")
    assert info and info[0].args["include_locale"] in ("1", "true", True)

    sent = await ws.interact(click(anne, post, answer_button(post.blocks(), 0, 2)))
    await ws.drain()
    assert [v for _, v in answers(ws)] == [2]
    assert "Du svarede 2" in fake.calls_to("chat.postEphemeral")[-1].args["text"]
    assert fake.calls_to("chat.update") == []


async def test_a_double_click_stores_one_answer_and_a_replay_changes_nothing(
    ws: SlackWorkspace, fake: FakeSlack
) -> None:
    bent, post = await question_for(ws, 3)
    four = answer_button(post.blocks(), 0, 4)
    first = click(bent, post, four)
    body, ctype = interaction_body(first)
    headers = signed_headers(ws.secret, body, ctype)
    await ws.post(body, ctype, headers=headers)
    await ws.interact(click(bent, post, four))  # the second click of a double click
    await ws.drain()
    assert [v for _, v in answers(ws)] == [4]

    await ws.interact(click(bent, post, answer_button(post.blocks(), 0, 1)))
    await ws.drain()
    notes = len(fake.calls_to("chat.postEphemeral"))
    # The first request again, byte for byte, within Slack's five minutes.
    replay = await ws.post(body, ctype, headers=headers)
    await ws.drain()
    assert replay.status == 200
    assert [v for _, v in answers(ws)] == [1]
    assert len(fake.calls_to("chat.postEphemeral")) == notes


async def test_unsigned_badly_signed_and_stale_requests_are_refused_and_change_nothing(
    ws: SlackWorkspace, fake: FakeSlack
) -> None:
    mette, post = await question_for(ws, 0)
    payload = click(mette, post, answer_button(post.blocks(), 0, 5))
    body, ctype = interaction_body(payload)
    fake.clear()

    unsigned = await ws.post(body, ctype, headers={"Content-Type": ctype})
    wrong = await ws.post(body, ctype, secret="not-the-signing-secret")
    stale = await ws.post(body, ctype, timestamp=int(time.time()) - 6 * 60)
    future = await ws.post(body, ctype, timestamp=int(time.time()) + 6 * 60)
    headers = signed_headers(ws.secret, body, ctype)
    tampered = await ws.post(body.replace("5", "1"), ctype, headers=headers)
    home = fixture("app_home_opened")
    unsigned_event = await ws.event(home, headers={"Content-Type": "application/json"})
    await ws.drain()

    statuses = [s.status for s in (unsigned, wrong, stale, future, tampered, unsigned_event)]
    assert statuses == [401] * 6
    assert answers(ws) == []
    assert fake.calls == []
    with ws.bot.db.session() as s:
        assert s.scalar(select(func.count()).select_from(ProcessedEvent)) == 0


async def test_a_comment_goes_through_a_modal(ws: SlackWorkspace, fake: FakeSlack) -> None:
    lars, post = await question_for(ws, 3)
    await ws.interact(click(lars, post, answer_button(post.blocks(), 0, 3)))
    await ws.drain()
    comment = next(e for e in buttons(post.blocks()) if e["value"].startswith("pulse.comment|"))
    opening = click(lars, post, comment)
    await ws.interact(opening)
    await ws.drain()
    [opened] = fake.calls_to("views.open")
    assert opened.args["trigger_id"] == opening["trigger_id"]
    view = opened.view()
    assert view["callback_id"].startswith("medpuls_form:")

    def submission(text: str) -> dict[str, Any]:
        payload = fixture("view_submission")
        payload["user"]["id"] = slack_id(lars.id)
        payload["trigger_id"] = f"{time.time():.6f}.submit"
        payload["view"].update(
            callback_id=view["callback_id"],
            private_metadata=view["private_metadata"],
            state={"values": {"comment": {"value": {"type": "plain_text_input", "value": text}}}},
        )
        return payload

    empty = await ws.interact(submission("   "))
    assert empty.status == 200
    refused = empty.json()
    assert refused["response_action"] == "errors"
    assert set(refused["errors"]) == {"comment"}

    saved = await ws.interact(submission("Vi mangler tid til overlevering"))
    await ws.drain()
    assert saved.status == 200
    assert not saved.text or saved.json() in ({}, None)
    with ws.bot.db.session() as s:
        comments = [a.comment for a in s.scalars(select(Answer)) if a.comment]
    assert comments == ["Vi mangler tid til overlevering"]
    # The thank-you is ephemeral in her DM (the modal was opened from there): a kept
    # message would say that she answered and commented.
    note = fake.calls_to("chat.postEphemeral")[-1]
    assert (note.args["channel"], note.args["user"]) == (
        post.result["channel"],
        slack_id(lars.id),
    )
    assert "kommentar er gemt" in note.args["text"]
    to_her = [
        c for c in fake.calls_to("chat.postMessage") if c.args["channel"] == slack_id(lars.id)
    ]
    assert to_her == [post], "no new message in her DM"


async def test_an_expired_trigger_gets_a_dm_with_a_button_to_try_again(
    ws: SlackWorkspace, fake: FakeSlack
) -> None:
    hanne, post = await question_for(ws, 6)
    comment = next(e for e in buttons(post.blocks()) if e["value"].startswith("pulse.comment|"))
    late = click(hanne, post, comment)
    fake.expire_trigger(late["trigger_id"])
    await ws.interact(late)
    await ws.drain()
    retry_dm = fake.calls_to("chat.postMessage")[-1]
    assert retry_dm.args["channel"] == slack_id(hanne.id)
    [retry] = buttons(retry_dm.blocks())
    assert retry["action_id"] == "medpuls.retry"

    again = click(hanne, Call("chat.postMessage", {}, None, retry_dm.result), retry)
    await ws.interact(again)
    await ws.drain()
    opened = fake.calls_to("views.open")[-1]
    assert opened.args["trigger_id"] == again["trigger_id"]
    assert opened.result["ok"] is True


async def test_app_home_opened_publishes_the_home_view(ws: SlackWorkspace, fake: FakeSlack) -> None:
    anne = demo_on_slack(ws)[2]
    envelope = fixture("app_home_opened")
    envelope["event"]["user"] = slack_id(anne.id)
    assert (await ws.event(envelope)).status == 200
    # Slack delivers an event up to four times; retries carry the same event_id.
    body = json.dumps(envelope)
    headers = {**signed_headers(ws.secret, body, "application/json"), "X-Slack-Retry-Num": "1"}
    assert (await ws.post(body, "application/json", headers=headers)).status == 200
    await ws.drain()
    [published] = fake.calls_to("views.publish")
    assert published.args["user_id"] == slack_id(anne.id)
    view = published.view()
    assert view["type"] == "home" and view["blocks"]


async def test_slash_command_help_answers_privately_in_the_channel(
    ws: SlackWorkspace, fake: FakeSlack
) -> None:
    anne = demo_on_slack(ws)[2]
    fields = fixture("slash_command")
    fields.update(user_id=slack_id(anne.id), text="")
    sent = await ws.command(fields)
    assert sent.status == 200
    await ws.drain()
    [note] = fake.calls_to("chat.postEphemeral")
    assert note.args["channel"] == fields["channel_id"]
    assert note.args["user"] == slack_id(anne.id)

    # In a channel the bot is not in, the answer goes through the response_url.
    fake.fail("chat.postEphemeral", "channel_not_found")
    fields.update(trigger_id="1700000099.1.zz", response_url=fake.response_url("cmd"))
    await ws.command(fields)
    await ws.drain()
    [hook] = fake.calls_to("response_url")
    assert hook.args["response_type"] == "ephemeral"


async def test_a_dm_to_the_bot_is_a_message_and_the_answer_a_dm(
    ws: SlackWorkspace, fake: FakeSlack
) -> None:
    anne = demo_on_slack(ws)[2]
    envelope = fixture("message_im")
    envelope["event"]["user"] = slack_id(anne.id)
    await ws.event(envelope)
    await ws.drain()
    [answer] = fake.calls_to("chat.postMessage")
    assert answer.args["channel"] == slack_id(anne.id)


async def test_the_outbox_waits_out_rate_limits_and_gives_up_on_people_who_left(
    db_url: str, ws: SlackWorkspace, fake: FakeSlack
) -> None:
    people = demo_on_slack(ws)
    gone = people[4]
    fake.users[slack_id(gone.id)].deleted = True
    fake.rate_limit("chat.postMessage", retry_after=1)
    cli(db_url, "pulse", "run-now", "--unit", NORD)
    started = time.monotonic()
    await ws.deliver()
    assert time.monotonic() - started >= 1.0, "Retry-After was waited out"
    with ws.bot.db.session() as s:
        rows = list(s.scalars(select(OutboxMessage)))
        left = s.get(Member, gone.id)
        assert left is not None
        assert left.unreachable
    statuses = sorted(r.status for r in rows)
    # The rate-limited row went out after Retry-After; the person who left is not retried.
    assert statuses.count("dead") == 1
    assert statuses.count("sent") == len(rows) - 1
    limited = [
        c for c in fake.calls_to("chat.postMessage") if c.result.get("error") == "ratelimited"
    ]
    assert len(limited) == 1
    retried = [c for c in fake.calls_to("chat.postMessage") if c.args == limited[0].args]
    assert [c.result["ok"] for c in retried] == [False, True]
    # The deactivated account is found deactivated by e-mail and never written to.
    dm_gone = [
        c for c in fake.calls_to("chat.postMessage") if c.args["channel"] == slack_id(gone.id)
    ]
    assert dm_gone == []


async def test_bad_bytes_or_an_unknown_charset_are_refused_before_the_signature_not_a_500(
    ws: SlackWorkspace, fake: FakeSlack
) -> None:
    """Issue 14.5: malformed bodies get 400/401 before authentication, never a 500."""
    forged = {"X-Slack-Request-Timestamp": str(int(time.time())), "X-Slack-Signature": "v0=0"}
    statuses = []
    for body, ctype in [
        (b"\xff\xfe{", "application/json"),
        (b"{}", "application/json; charset=x-no-such-charset"),
    ]:
        async with ws.http.post(
            ws.url, data=body, headers={**forged, "Content-Type": ctype}
        ) as resp:
            statuses.append(resp.status)
    assert statuses in ([400, 401], [401, 401])
    assert fake.calls == []

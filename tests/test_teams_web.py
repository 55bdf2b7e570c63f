"""POST /api/messages over real HTTP, with tokens signed by the fake Bot Framework's key.

The bot runs with a small router of test actions so these tests pin the adapter's behaviour
(auth, normalisation, replies, references, delivery errors), not a flow's.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import func, select

from adapters.teams.connector import Throttle
from adapters.teams.platform import NOT_INSTALLED, missing_references
from bot.core.actions import ActionData
from bot.core.errors import DeliveryError
from bot.core.events import ButtonClicked, CommandInvoked, FormSubmitted, MemberJoined
from bot.core.messages import Button, Buttons, Field_, Form, Message, Reply, Text
from bot.core.outbox import queue, to_member
from bot.core.platform import Address
from bot.core.router import FlowContext, Router
from storage.models import ConversationReference, Member, OutboxMessage, ProcessedEvent
from tests.fakes.bot_connector import FakeBotConnector
from tests.teams_support import (
    AAD,
    APP_ID,
    USER,
    TeamsBot,
    bot_connector,
    fixture,
    roster_entry,
    running,
    teams_settings,
)

PERSONAL = "a:1PersonalConversationIdFromTeams0123456789"


class AnswerAction(ActionData):
    kind = "test.answer"
    q: str
    v: int


class FormAction(ActionData):
    kind = "test.form"


SEEN: list[Any] = []


def _router() -> Router:
    router = Router()

    @router.action(AnswerAction)
    def answer(ctx: FlowContext, event: ButtonClicked, data: AnswerAction) -> Reply:
        SEEN.append(event)
        buttons = [
            Button(label=str(v), data=AnswerAction(q=data.q, v=v).pack(), selected=v == data.v)
            for v in range(1, 6)
        ]
        return Reply(
            update=Message(
                summary="answered", parts=[Buttons(buttons=buttons, label="Q", ends=("lo", "hi"))]
            )
        )

    @router.form(FormAction)
    def form(ctx: FlowContext, event: FormSubmitted, data: FormAction) -> Reply:
        SEEN.append(event)
        if not event.values.get("title", "").strip():
            return Reply(
                errors={"title": "Give it a title"},
                form=Form(
                    data=data.pack(),
                    title="Proposal",
                    submit="Send",
                    fields=[Field_(name="title", label="Title")],
                ),
            )
        return Reply(notice=Message(summary="Thanks", parts=[Text(text="Thanks")]))

    @router.command("hjælp", "help")
    def help_(ctx: FlowContext, event: CommandInvoked) -> Reply:
        SEEN.append(event)
        return Reply(notice=Message(summary="Help", parts=[Text(text="Help text")]))

    @router.joined
    def joined(ctx: FlowContext, event: MemberJoined) -> Reply:
        SEEN.append(event)
        return Reply()

    return router


@pytest.fixture
def fake() -> Iterator[FakeBotConnector]:
    yield from bot_connector(roster_entry(userPrincipalName="mette.hansen@eksempel.dk"))


@pytest.fixture
async def teams(sqlite_url: str, fake: FakeBotConnector) -> AsyncIterator[TeamsBot]:
    SEEN.clear()
    async with running(teams_settings(sqlite_url, fake), fake, _router()) as bot:
        with bot.bot.db.session() as s:
            s.add(Member(name="Mette Hansen", email="mette.hansen@eksempel.dk"))
        yield bot


def _count(teams: TeamsBot, model: Any) -> int:
    with teams.bot.db.session() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def _keys(teams: TeamsBot) -> set[str]:
    with teams.bot.db.session() as s:
        return set(s.scalars(select(ConversationReference.key)))


# --- authentication ----------------------------------------------------------------------


def _bad_tokens(fake: FakeBotConnector, service_url: str) -> dict[str, str | None]:
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return {
        "none": None,
        "wrong audience": fake.sign(
            audience="11111111-2222-4333-8444-555555555555", service_url=service_url
        ),
        "expired": fake.sign(audience=APP_ID, service_url=service_url, expires_in=-600),
        "unknown key": fake.sign(
            audience=APP_ID, service_url=service_url, key=stranger, kid="stranger"
        ),
        "same kid, other key": fake.sign(audience=APP_ID, service_url=service_url, key=stranger),
        "wrong issuer": fake.sign(
            audience=APP_ID, service_url=service_url, issuer="https://evil.example"
        ),
        "other serviceurl": fake.sign(audience=APP_ID, service_url="https://evil.example/teams/"),
    }


async def test_requests_without_a_valid_token_are_refused_and_nothing_happens(
    teams: TeamsBot, fake: FakeBotConnector
) -> None:
    activity = fixture("invoke_card_action", fake)
    for why, token in _bad_tokens(fake, activity["serviceUrl"]).items():
        response = await teams.post(activity, token=token)
        assert response.status == 401, why
    assert SEEN == []
    assert _count(teams, ProcessedEvent) == 0
    assert _count(teams, ConversationReference) == 0
    assert fake.calls == []


async def test_a_valid_token_is_accepted(teams: TeamsBot, fake: FakeBotConnector) -> None:
    response = await teams.post(fixture("message_personal", fake))
    assert response.status == 200
    assert isinstance(SEEN[0], CommandInvoked)


# --- card actions --------------------------------------------------------------------------


async def test_invoke_answers_with_the_refreshed_card_and_a_replay_changes_nothing(
    teams: TeamsBot, fake: FakeBotConnector
) -> None:
    activity = fixture("invoke_card_action", fake)
    response = await teams.post(activity)
    assert response.status == 200
    body = await response.json()
    assert body["statusCode"] == 200
    assert body["type"] == "application/vnd.microsoft.card.adaptive"
    card = body["value"]
    assert card["version"] == "1.5"
    [event] = SEEN
    assert isinstance(event, ButtonClicked)
    assert event.data == AnswerAction(q="trust_1", v=4).pack()
    assert event.inputs == {"comment": ""}
    assert event.message is not None and event.message.message_id == "1732439600000"
    assert event.actor.directory_id == AAD
    assert event.actor.email == "mette.hansen@eksempel.dk"
    actions = [a for e in card["body"] if e["type"] == "ActionSet" for a in e["actions"]]
    selected = [a for a in actions if a.get("style") == "positive"]
    assert [a["data"]["medpuls"] for a in selected] == [AnswerAction(q="trust_1", v=4).pack()]

    again = await teams.post(activity)
    assert again.status == 200
    assert len(SEEN) == 1, "a replayed activity must not run the handler again"
    assert _count(teams, ProcessedEvent) == 1


async def test_action_submit_fallback_updates_the_clicked_card(
    teams: TeamsBot, fake: FakeBotConnector
) -> None:
    response = await teams.post(fixture("submit_message", fake))
    assert response.status == 200
    [event] = SEEN
    assert isinstance(event, ButtonClicked)
    assert event.inputs == {"comment": "Mere tid til kerneopgaven"}
    [update] = fake.activities("update")
    assert update.path == f"/teams/v3/conversations/{PERSONAL}/activities/1732439600000"
    assert update.authorization and update.authorization.startswith("Bearer bot-token-")
    card = update.body["attachments"][0]["content"]
    assert card["type"] == "AdaptiveCard"


async def test_form_errors_come_back_on_the_card_and_a_good_form_gets_a_notice(
    teams: TeamsBot, fake: FakeBotConnector
) -> None:
    bad = fixture("form_submit_invoke", fake)
    bad["value"]["action"]["data"]["title"] = "  "
    body = await (await teams.post(bad)).json()
    texts = [e.get("text") for e in body["value"]["body"]]
    assert "Give it a title" in texts
    assert isinstance(SEEN[0], FormSubmitted)

    good = fixture("form_submit_invoke", fake, id="f:another")
    body = await (await teams.post(good)).json()
    assert body["type"] == "application/vnd.microsoft.activity.message"
    event = SEEN[1]
    assert isinstance(event, FormSubmitted)
    assert event.values == {
        "title": "Bedre kaffe",
        "anonymous": "true",
        "meeting": "2025-12-04T13:30",
    }
    [notice] = fake.activities("send")
    assert notice.path == f"/teams/v3/conversations/{PERSONAL}/activities"


async def test_channel_mention_is_stripped_and_the_note_goes_to_the_person_privately(
    teams: TeamsBot, fake: FakeBotConnector
) -> None:
    response = await teams.post(
        fixture("message_channel_mention", fake, text="<at>MEDpuls</at> help")
    )
    assert response.status == 200
    [event] = SEEN
    assert isinstance(event, CommandInvoked) and event.text == "help"
    create = [c for c in fake.calls if c.path == "/teams/v3/conversations"]
    assert create and create[0].body["members"] == [{"id": USER}]
    [note] = fake.activities("send")
    assert note.path == f"/teams/v3/conversations/a:1personal-{USER}/activities"
    assert "19:" not in note.path, "a private notice must never be posted in the channel"


# --- references ---------------------------------------------------------------------------


async def test_install_and_every_turn_store_references(
    teams: TeamsBot, fake: FakeBotConnector
) -> None:
    await teams.post(fixture("installation_update_personal", fake))
    assert isinstance(SEEN[-1], MemberJoined)
    keys = _keys(teams)
    assert {
        f"user:{USER}",
        f"user:{AAD}",
        f"conv:{PERSONAL}",
        "email:mette.hansen@eksempel.dk",
    } <= keys
    with teams.bot.db.session() as s:
        ref = s.scalars(
            select(ConversationReference).where(ConversationReference.key == f"user:{USER}")
        ).one()
        assert ref.platform == "teams"
        assert ref.reference["serviceUrl"] == fake.service_url
        assert ref.reference["conversation"]["tenantId"] == fake.tenant
        member = s.scalars(select(Member)).one()
        assert member.teams_user_id == USER, "matched by e-mail, the Teams id is remembered"

    await teams.post(fixture("conversation_update_team", fake))
    assert {"channel:19:team-social@thread.tacv2", "team:19:team-social@thread.tacv2"} <= _keys(
        teams
    )


# --- proactive delivery -------------------------------------------------------------------


async def test_proactive_post_and_update_use_the_stored_reference(
    teams: TeamsBot, fake: FakeBotConnector
) -> None:
    await teams.post(fixture("installation_update_personal", fake))
    fake.calls.clear()
    message = Message(summary="Pulse", parts=[Text(text="Hello *there*")])
    ref = await teams.platform.post(Address("user", USER), message, dedupe_key="k1")
    assert ref.conversation_id == PERSONAL
    [sent] = fake.activities("send")
    assert sent.path == f"/teams/v3/conversations/{PERSONAL}/activities"
    content = sent.body["attachments"][0]["content"]
    assert content["body"][0]["text"] == "Hello **there**"
    assert any(r["scope"] == "https://api.botframework.com/.default" for r in fake.token_requests)

    by_email = await teams.platform.post(
        Address("user", "", email="Mette.Hansen@eksempel.dk"), message, dedupe_key="k2"
    )
    assert by_email.conversation_id == PERSONAL

    await teams.platform.update(ref, message)
    [update] = fake.activities("update")
    assert update.path.endswith(f"/activities/{ref.message_id}")


async def test_a_person_met_only_in_a_team_gets_a_new_one_to_one_conversation(
    teams: TeamsBot, fake: FakeBotConnector
) -> None:
    await teams.post(fixture("message_channel_mention", fake, text="hello"))
    fake.calls.clear()
    ref = await teams.platform.post(
        Address("user", USER), Message(summary="x", parts=[Text(text="x")]), dedupe_key="k"
    )
    assert ref.conversation_id == f"a:1personal-{USER}"
    assert fake.calls[0].path == "/teams/v3/conversations"


async def test_no_reference_is_a_permanent_error_and_shows_in_the_admin_report(
    teams: TeamsBot, fake: FakeBotConnector
) -> None:
    with pytest.raises(DeliveryError) as caught:
        await teams.platform.post(
            Address("user", "29:nobody", email="nobody@eksempel.dk"),
            Message(summary="x", parts=[]),
            dedupe_key="k",
        )
    assert caught.value.permanent and caught.value.reason == NOT_INSTALLED
    with teams.bot.db.session() as s:
        assert [m.email for m in missing_references(s)] == ["mette.hansen@eksempel.dk"]
    await teams.post(fixture("installation_update_personal", fake))
    with teams.bot.db.session() as s:
        assert missing_references(s) == []


@pytest.mark.parametrize(
    ("status", "retry_after"), [(429, 2.5), (429, None), (412, None), (502, None), (504, 1.0)]
)
async def test_throttling_and_gateway_errors_are_retryable(
    teams: TeamsBot, fake: FakeBotConnector, status: int, retry_after: float | None
) -> None:
    await teams.post(fixture("installation_update_personal", fake))
    fake.fail_next(status, retry_after=retry_after)
    with pytest.raises(DeliveryError) as caught:
        await teams.platform.post(Address("user", USER), Message(summary="x"), dedupe_key="k")
    err = caught.value
    assert not err.permanent and not err.unknown_outcome
    assert err.retry_after == retry_after
    assert str(status) in err.reason


async def test_connection_lost_after_sending_is_an_unknown_outcome(
    teams: TeamsBot, fake: FakeBotConnector
) -> None:
    await teams.post(fixture("installation_update_personal", fake))
    fake.fail_next(500, drop_connection=True)
    with pytest.raises(DeliveryError) as caught:
        await teams.platform.post(Address("user", USER), Message(summary="x"), dedupe_key="k")
    assert caught.value.unknown_outcome


async def test_outbox_delivery_waits_out_a_429_then_sends_once(
    teams: TeamsBot, fake: FakeBotConnector
) -> None:
    await teams.post(fixture("installation_update_personal", fake))
    with teams.bot.db.session() as s:
        member = s.scalars(select(Member)).one()
        queue(s, [to_member(member.id, "test:1", Message(summary="Hi", parts=[Text(text="Hi")]))])
    fake.calls.clear()
    fake.fail_next(429, retry_after=0)
    await teams.deliver()
    with teams.bot.db.session() as s:
        row = s.scalars(select(OutboxMessage)).one()
        assert row.status in ("pending", "sent")
        if row.status == "pending":
            assert row.attempts == 0, "a rate limit does not use up a try"
    await teams.deliver()
    with teams.bot.db.session() as s:
        row = s.scalars(select(OutboxMessage)).one()
        assert row.status == "sent" and row.message_ref and row.message_ref.startswith("teams|")
    assert len(fake.activities("send")) == 2  # the refused one and the delivered one


async def test_throttle_spaces_calls_per_key() -> None:
    import time

    throttle = Throttle(rate=50.0)
    start = time.monotonic()
    for _ in range(11):
        await throttle.acquire("conversation")
    assert time.monotonic() - start >= 0.19
    start = time.monotonic()
    for key in range(10):
        await throttle.acquire(f"other-{key}")
    assert time.monotonic() - start < 0.1


async def test_channel_posts_use_the_team_reference_and_fail_permanently_without_one(
    teams: TeamsBot, fake: FakeBotConnector
) -> None:
    message = Message(summary="Summary", parts=[Text(text="Resultat")])
    with pytest.raises(DeliveryError) as caught:
        await teams.platform.post(
            Address("channel", "19:other@thread.tacv2"), message, dedupe_key="c"
        )
    assert caught.value.permanent
    await teams.post(fixture("conversation_update_team", fake))
    fake.calls.clear()
    ref = await teams.platform.post(
        Address("channel", "19:other@thread.tacv2"), message, dedupe_key="c"
    )
    assert ref.conversation_id == "19:other@thread.tacv2"
    [sent] = fake.activities("send")
    assert sent.path == "/teams/v3/conversations/19:other@thread.tacv2/activities"

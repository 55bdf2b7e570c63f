"""SlackPlatform against the fake Web API: what the outbox gets back for each kind of failure."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from adapters.slack.platform import SlackPlatform, make_slack_platform
from bot.core.config import Settings
from bot.core.errors import DeliveryError, MedpulsError
from bot.core.messages import Image, Message, Text
from bot.core.platform import Address, Platform
from storage.db import Database
from storage.models import Member, StoredImage
from tests.fakes.slack_api import FakeSlack

HELLO = Message(summary="Hej", parts=[Text(text="Hej med dig")])


@pytest.fixture
async def fake() -> Any:
    async with FakeSlack() as api:
        yield api


@pytest.fixture
def db(sqlite_url: str) -> Any:
    database = Database(sqlite_url)
    yield database
    database.dispose()


def _platform(fake: FakeSlack, db: Database, **kw: Any) -> SlackPlatform:
    settings = Settings(
        DATABASE_URL=db.url,
        SLACK_BOT_TOKEN=fake.bot_token,
        SLACK_SIGNING_SECRET="s3cret",
        SLACK_API_URL=fake.api_url,
        **kw,
    )
    return make_slack_platform(settings, db)


def _member(db: Database, email: str, slack_user_id: str | None = None) -> int:
    with db.session() as s:
        m = Member(email=email, name=email.split("@")[0], slack_user_id=slack_user_id)
        s.add(m)
        s.flush()
        return m.id


def test_start_refuses_an_empty_signing_secret(db: Database) -> None:
    for secret in (None, "", "   "):
        settings = Settings(
            DATABASE_URL=db.url, SLACK_BOT_TOKEN="xoxb-1", SLACK_SIGNING_SECRET=secret
        )
        with pytest.raises(MedpulsError, match="SLACK_SIGNING_SECRET"):
            make_slack_platform(settings, db)


def test_oauth_needs_both_client_id_and_secret(db: Database) -> None:
    settings = Settings(DATABASE_URL=db.url, SLACK_CLIENT_ID="1.2", SLACK_SIGNING_SECRET="s")
    with pytest.raises(MedpulsError, match="SLACK_CLIENT_SECRET"):
        make_slack_platform(settings, db)


async def test_it_is_a_platform_and_posts_a_dm_to_the_user_id(
    fake: FakeSlack, db: Database
) -> None:
    platform = _platform(fake, db)
    assert isinstance(platform, Platform)
    fake.add_user("U1", "anne@eksempel.dk")
    ref = await platform.post(Address("user", "U1"), HELLO, dedupe_key="k1")
    [call] = fake.calls
    assert call.method == "chat.postMessage"
    assert call.args["channel"] == "U1"
    assert call.token == fake.bot_token
    assert (ref.conversation_id, ref.message_id) == (call.result["channel"], call.result["ts"])
    assert "conversations.open" not in fake.methods()


async def test_a_member_without_slack_id_is_found_by_email_and_remembered(
    fake: FakeSlack, db: Database
) -> None:
    platform = _platform(fake, db)
    fake.add_user("U7", "bo@eksempel.dk")
    member_id = _member(db, "bo@eksempel.dk")
    await platform.post(
        Address("user", "", email="bo@eksempel.dk", member_id=member_id), HELLO, dedupe_key="k"
    )
    # auth.test: once per process, to know the token's own workspace (Slack Connect guests).
    assert fake.methods() == ["users.lookupByEmail", "auth.test", "chat.postMessage"]
    assert fake.calls[-1].args["channel"] == "U7"
    with db.session() as s:
        assert s.get(Member, member_id).slack_user_id == "U7"  # type: ignore[union-attr]
    assert await platform.find_user("nobody@eksempel.dk") is None


async def test_nobody_with_that_email_is_permanent_and_marks_the_member(
    fake: FakeSlack, db: Database
) -> None:
    platform = _platform(fake, db)
    member_id = _member(db, "ghost@eksempel.dk")
    with pytest.raises(DeliveryError) as err:
        await platform.post(
            Address("user", "", email="ghost@eksempel.dk", member_id=member_id),
            HELLO,
            dedupe_key="k",
        )
    assert err.value.permanent
    with db.session() as s:
        assert s.get(Member, member_id).unreachable  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "error", ["user_not_found", "account_inactive", "cannot_dm_bot", "user_disabled"]
)
async def test_a_person_who_left_is_marked_unreachable_and_not_retried(
    fake: FakeSlack, db: Database, error: str
) -> None:
    platform = _platform(fake, db)
    member_id = _member(db, "left@eksempel.dk", "U9")
    fake.fail("chat.postMessage", error)
    with pytest.raises(DeliveryError) as err:
        await platform.post(Address("user", "U9", member_id=member_id), HELLO, dedupe_key="k")
    assert err.value.permanent and not err.value.unknown_outcome
    with db.session() as s:
        assert error in (s.get(Member, member_id).unreachable or "")  # type: ignore[union-attr]


@pytest.mark.parametrize("error", ["channel_not_found", "not_in_channel", "is_archived"])
async def test_a_channel_we_cannot_post_to_is_permanent(
    fake: FakeSlack, db: Database, error: str
) -> None:
    platform = _platform(fake, db)
    fake.fail("chat.postMessage", error)
    with pytest.raises(DeliveryError) as err:
        await platform.post(Address("channel", "C1"), HELLO, dedupe_key="k")
    assert err.value.permanent


async def test_429_on_a_post_goes_back_to_the_outbox_with_retry_after(
    fake: FakeSlack, db: Database
) -> None:
    platform = _platform(fake, db)
    fake.rate_limit("chat.postMessage", retry_after=17)
    with pytest.raises(DeliveryError) as err:
        await platform.post(Address("channel", "C1"), HELLO, dedupe_key="k")
    assert err.value.retry_after == 17
    assert not err.value.permanent
    # slack_sdk did not retry the post by itself.
    assert len(fake.calls_to("chat.postMessage")) == 1


async def test_429_on_a_read_is_waited_out(fake: FakeSlack, db: Database) -> None:
    platform = _platform(fake, db)
    fake.add_user("U1", "anne@eksempel.dk", locale="en-GB")
    fake.rate_limit("users.info", retry_after=1)
    info = await platform.user_info("U1")
    assert info is not None and info.email == "anne@eksempel.dk" and info.locale == "en-GB"
    assert len(fake.calls_to("users.info")) == 2
    # Cached: the next click asks Slack nothing.
    assert await platform.user_info("U1") == info
    assert len(fake.calls_to("users.info")) == 2


async def test_a_connection_lost_after_sending_is_an_unknown_outcome_not_a_resend(
    fake: FakeSlack, db: Database
) -> None:
    platform = _platform(fake, db)
    fake.drop("chat.postMessage")
    with pytest.raises(DeliveryError) as err:
        await platform.post(Address("channel", "C1"), HELLO, dedupe_key="k")
    assert err.value.unknown_outcome
    assert len(fake.calls_to("chat.postMessage")) == 1


async def test_charts_are_uploaded_with_files_upload_v2(fake: FakeSlack, db: Database) -> None:
    platform = _platform(fake, db)
    png = b"\x89PNG\r\n\x1a\n" + b"x" * 100
    with db.session() as s:
        s.add(StoredImage(id="chart1", png=png))
    message = Message(
        summary="Resultat", parts=[Text(text="6 svar"), Image(image_id="chart1", alt="Graf")]
    )
    await platform.post(Address("channel", "C1"), message, dedupe_key="k")
    assert fake.methods() == [
        "chat.postMessage",
        "files.getUploadURLExternal",
        "upload",
        "files.completeUploadExternal",
    ]
    assert list(fake.uploads.values()) == [png]
    complete = fake.calls_to("files.completeUploadExternal")[0]
    assert complete.args["channel_id"] == "C1"


async def test_update_replaces_the_message(fake: FakeSlack, db: Database) -> None:
    platform = _platform(fake, db)
    ref = await platform.post(Address("channel", "C1"), HELLO, dedupe_key="k")
    await platform.update(ref, Message(summary="Nyt", parts=[Text(text="Opdateret")]))
    [call] = fake.calls_to("chat.update")
    assert (call.args["channel"], call.args["ts"]) == (ref.conversation_id, ref.message_id)


async def test_tokens_never_reach_the_logs(
    fake: FakeSlack, db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    platform = _platform(fake, db)
    fake.add_user("U1", "anne@eksempel.dk")
    fake.fail("chat.postMessage", "invalid_blocks")
    with pytest.raises(DeliveryError):
        await platform.post(Address("user", "U1"), HELLO, dedupe_key="k")
    await platform.post(Address("user", "U1"), HELLO, dedupe_key="k2")
    assert caplog.records, "slack_sdk logs at DEBUG"
    assert fake.bot_token not in caplog.text
    assert "xoxb-" not in caplog.text

"""On Teams (the fake Bot Connector at the network boundary): "svar", the reply card, the same
card to everyone asked, the author alone opening it, the author's answer reaching the leader;
and the rows the conversation adds set the author apart from nobody."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import select

from bot.core.secret_key import generate_secret_key
from flows.replies import seal_author
from storage.models import Answer
from tests.fakes.bot_connector import FakeBotConnector
from tests.teams_support import bot_connector, card_data, fixture, running, teams_settings
from tests.test_actions_teams import body, sent_to
from tests.test_digest_data import Org, weeks_ago
from tests.test_replies_chat import ANSWER, COMMENT, REPLY, assert_unlinked, dump, new_rows

ANSWERS = {"bonding.1": [4] * 11, "rc_timely.1": [2] * 11}
_ids = iter(range(1, 10**6))


fake = pytest.fixture(bot_connector, name="fake")


def person(member_id: int) -> tuple[str, str, str]:
    """A Teams user id, AAD object id and 1:1 conversation id for a member."""
    return (
        f"29:1User{member_id:035d}",
        f"00000000-0000-4000-8000-{member_id:012d}",
        f"a:1Personal{member_id:020d}",
    )


def as_member(member_id: int, activity: dict[str, Any]) -> dict[str, Any]:
    user, aad, personal = person(member_id)
    activity["from"] = {"id": user, "aadObjectId": aad, "name": f"m{member_id}"}
    activity["conversation"] = {**activity["conversation"], "id": personal}
    return activity


async def test_a_reply_and_an_answer_over_teams(db_url: str, fake: FakeBotConnector) -> None:
    settings = teams_settings(db_url, fake, MEDPULS_SECRET_KEY=generate_secret_key())
    async with running(settings, fake) as teams:
        with teams.bot.db.session() as s:
            org = Org(s)
            org.unit("K", members=11)
            leader = org.leader("K", "Lene Leder")
            people = [(m.id, str(m.email)) for m in org.members["K"]]
            everyone = [*people, (leader.id, str(leader.email))]
            leader_id = leader.id
            org.round("K", weeks_ago(0), ANSWERS, comments=[COMMENT])
            [row] = s.scalars(select(Answer).where(Answer.comment == COMMENT)).all()
            author = people[3][0]
            row.reply_capsule = seal_author(teams.bot.settings, author)
        for member_id, email in everyone:
            user, aad, _ = person(member_id)
            fake.members[user] = {"id": user, "aadObjectId": aad, "email": email}
            installed = as_member(member_id, fixture("installation_update_personal", fake))
            assert (await teams.post(installed)).ok
        await teams.deliver()
        fake.calls.clear()
        before = dump(teams)

        async def click(member_id: int, data: str) -> None:
            invoke = as_member(
                member_id,
                fixture("invoke_card_action", fake, id=f"f:r{next(_ids)}", replyToId="x"),
            )
            invoke["value"]["action"]["data"] = {"medpuls": data}
            assert (await teams.post(invoke)).status == 200

        async def submit(member_id: int, form: str, values: dict[str, str]) -> None:
            invoke = as_member(
                member_id, fixture("form_submit_invoke", fake, id=f"f:r{next(_ids)}")
            )
            invoke["value"]["action"]["data"] = {"medpuls_form": form, **values}
            assert (await teams.post(invoke)).status == 200

        def chat_of(member_id: int) -> list[Any]:
            return sent_to(fake, person(member_id)[2])

        message = as_member(leader_id, fixture("message_personal", fake, id="m-svar"))
        message["text"] = "svar"
        assert (await teams.post(message)).ok
        listing = chat_of(leader_id)[-1]
        assert COMMENT in body(listing)
        [start] = [d for d in card_data(listing) if d.startswith("replies.start|")]
        await click(leader_id, start)
        [form] = card_data(chat_of(leader_id)[-1], "medpuls_form")
        await submit(leader_id, form, {"text": REPLY})
        await teams.deliver()

        notices = {m: chat_of(m)[-1] for m, _ in people}
        assert len({json.dumps(n.body["attachments"]) for n in notices.values()}) == 1
        [read] = [d for d in card_data(notices[author]) if d.startswith("replies.read|")]
        other = people[0][0]
        await click(other, read)
        assert "ikke er din" in body(chat_of(other)[-1])
        await click(author, read)
        view = chat_of(author)[-1]
        assert REPLY in body(view) and COMMENT in body(view)
        [answer_open] = [d for d in card_data(view) if d.startswith("replies.answer_open|")]
        await click(author, answer_open)
        [form] = card_data(chat_of(author)[-1], "medpuls_form")
        await submit(author, form, {"text": ANSWER})
        await teams.deliver()
        to_leader = body(chat_of(leader_id)[-1])
        assert ANSWER in to_leader and "Forfatteren til kommentaren har svaret" in to_leader

        after = dump(teams)
        with teams.bot.db.session() as s:
            capsule = s.scalars(select(Answer.reply_capsule).where(Answer.comment == COMMENT)).one()
        assert capsule is not None
        secrets = [COMMENT, REPLY, ANSWER, capsule.hex()]
        rest = [m for m, _ in people if m not in (author, other)]
        assert_unlinked(new_rows(before, after), author, rest, secrets)

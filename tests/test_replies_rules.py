"""When a reply would reveal the author, or may not be sent, it is refused with a plain reason:
a unit below the comment threshold, a hidden comment, replies switched off, a reply that names
someone, someone who is neither the unit's leader nor the committee's chair, no secret key."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from bot.core.secret_key import generate_secret_key
from flows.privacy import export_person
from flows.replies import ReplyEnd, ReplyStart, seal_author
from storage.models import Answer, AuditEntry, CommentThread, Committee, Member, utcnow
from tests.fake_platform import fake_chat
from tests.test_digest_data import Org, weeks_ago
from tests.test_replies_chat import flat

ANSWERS = {"bonding.1": [4] * 11, "rc_timely.1": [2] * 11}
SMALL = {"bonding.1": [4] * 6, "rc_timely.1": [2] * 6}


def _start(answer: Answer) -> str:
    return ReplyStart(r=answer.round_id, q=answer.question_id, k=answer.respondent_key).pack()


async def test_refusals_each_with_a_plain_reason(db_url: str) -> None:
    async with fake_chat(db_url, MEDPULS_SECRET_KEY=generate_secret_key()) as chat:
        settings = chat.bot.settings
        with chat.bot.db.session() as s:
            org = Org(s)
            area = org.unit("Område")
            org.unit("Område/K", members=11)
            org.unit("Område/S", members=6)
            leader = org.leader("Område/K", "Lene Leder").id
            small_leader = org.leader("Område/S", "Sune Leder").id
            chair = org.member(area, "Carl Formand", roles="chair").id
            s.add(Committee(name="Områdets MED", unit_id=area.id))
            member = org.members["Område/K"][0].id
            closed = weeks_ago(0)
            org.round(
                "Område/K",
                closed,
                ANSWERS,
                comments=["Vi mangler tid", "Ingen svar tak"],
                hidden=["Skjult kommentar"],
                min_comment_group_size=10,
            )
            org.round("Område/S", closed, SMALL, comments=["Lille team"], min_comment_group_size=10)
            rows = {
                a.comment: a for a in s.scalars(select(Answer).where(Answer.comment.is_not(None)))
            }
            for text in ("Vi mangler tid", "Skjult kommentar", "Lille team"):
                rows[text].reply_capsule = seal_author(settings, member)
            starts = {text: _start(a) for text, a in rows.items()}

        async def click(who: int, data: str) -> str:
            reply = await chat.click(who, data)
            return flat(reply.notice) if reply.notice is not None else reply.form.text

        assert "færre svar end grænsen" in await click(small_leader, starts["Lille team"])
        assert "skjult af udvalget" in await click(leader, starts["Skjult kommentar"])
        assert "slået svar fra" in await click(leader, starts["Ingen svar tak"])
        assert "Kun en leder" in await click(member, starts["Vi mangler tid"])
        # A leader of another unit is not the leader here.
        assert "Kun en leder" in await click(small_leader, starts["Vi mangler tid"])
        # The chair of the committee over the unit may reply.
        assert "Anonymt svar" in await click(chair, starts["Vi mangler tid"])

        # The list shows what may be answered, and says why the small unit's may not.
        listed = await chat.say(small_leader, "svar")
        assert "færre svar end grænsen" in flat(listed.notice)
        assert not [a for a in listed.notice.actions if a.startswith("replies.start|")]
        listed = await chat.say(leader, "svar")
        assert "slået svar fra" in flat(listed.notice)
        assert "Skjult kommentar" not in flat(listed.notice)
        assert len([a for a in listed.notice.actions if a.startswith("replies.start|")]) == 1

        # The chair sees the comments shown to the committee, with the same buttons and reasons.
        listed = await chat.say(chair, "svar")
        assert "Områdets MED · K" in flat(listed.notice)
        assert "Lille team" not in flat(listed.notice)  # not shown to the committee at all
        assert [a for a in listed.notice.actions if a.startswith("replies.start|")] == [
            starts["Vi mangler tid"]
        ]

        # A reply that names someone, by name or by e-mail, is refused on the form.
        opened = await chat.click(leader, starts["Vi mangler tid"])
        for text in ("Tak, Carl Formand ser på det", "Skriv til m3@eksempel.dk"):
            named = await chat.submit(leader, opened.form.data, {"text": text})
            assert "nævner en person" in named.errors["text"]
        # A good reply goes; the leader ends the conversation; the author can then add nothing.
        await chat.submit(leader, opened.form.data, {"text": "Tak, vi tager det op"})
        await chat.deliver()
        [notice] = [
            m
            for m in await chat.dm(member)
            if any(a.startswith("replies.read|") for a in m.actions)
        ]
        view = await chat.click(member, notice.actions[0])
        answer_open, _end, _off = view.notice.actions
        with chat.bot.db.session() as s:
            [thread] = s.scalars(select(CommentThread)).all()
            end = ReplyEnd(t=thread.id).pack()
        assert "ikke er din" in flat((await chat.click(small_leader, end)).notice)
        assert "afsluttet" in flat((await chat.click(leader, end)).notice)
        assert "afsluttet" in flat((await chat.click(member, answer_open)).notice)
        with chat.bot.db.session() as s:
            assert s.scalars(select(CommentThread.ended_by)).one() == "replier"
            # The replier's export holds their conversation; the author's holds nothing of it.
            leader_mail = s.scalars(select(Member.email).where(Member.id == leader)).one()
            author_mail = s.scalars(select(Member.email).where(Member.id == member)).one()
            mine = export_person(s, str(leader_mail), now=utcnow())
            theirs = export_person(s, str(author_mail), now=utcnow())
        assert mine["comment_replies"][0]["your_messages"] == ["Tak, vi tager det op"]
        assert theirs["comment_replies"] == []
        assert "Tak, vi tager det op" not in json.dumps(theirs, ensure_ascii=False, default=str)
        with chat.bot.db.session() as s:
            refused = s.scalars(
                select(AuditEntry).where(
                    AuditEntry.action == "reply.start", AuditEntry.allowed.is_(False)
                )
            ).all()
        assert len(refused) == 5


async def test_without_the_secret_key_replies_are_off_and_say_so(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MEDPULS_SECRET_KEY")  # tests/conftest.py sets one for every test
    async with fake_chat(db_url) as chat:
        with chat.bot.db.session() as s:
            org = Org(s)
            org.unit("K", members=11)
            leader = org.leader("K", "Lene Leder").id
            org.round("K", weeks_ago(0), ANSWERS, comments=["Vi mangler tid"])
            [row] = s.scalars(select(Answer).where(Answer.comment.is_not(None))).all()
            assert seal_author(chat.bot.settings, leader) is None
            start = _start(row)
        listed = await chat.say(leader, "svar")
        assert "MEDPULS_SECRET_KEY mangler" in flat(listed.notice)
        reply = await chat.click(leader, start)
        assert "MEDPULS_SECRET_KEY mangler" in flat(reply.notice)

"""A chair's view of comments: only groups that clear the threshold, scrubbed; hiding is audited."""

from __future__ import annotations

import json

from sqlalchemy import select

from bot.app import build
from bot.config import Settings
from flows.pulse import answers_key, record_answer, respondent_key
from storage.models import Answer, AuditEntry, Member, Participation, PulseRound, Unit
from tests.localchat import actions, cli, local_chat, text_of

SOCIAL = "Eksempel Kommune/Social og Sundhed"
NORD = f"{SOCIAL}/Hjemmeplejen Nord"
SYD = f"{SOCIAL}/Hjemmeplejen Syd"
COMMENTS = {
    NORD: [
        "Søren Jensen hjælper altid, ring 20 30 40 50",
        "For lidt tid til borgerne",
        "Godt team",
    ],
    SYD: ["Ingen tager telefonen om fredagen"],
}


def prepare(db_url: str) -> None:
    assert cli(db_url, "demo")[0] == 0
    assert cli(db_url, "pulse", "run-now", "--unit", SOCIAL)[0] == 0
    bot = build(Settings(DATABASE_URL=db_url))
    with bot.db.session() as s:
        for path, answered in ((NORD, 10), (SYD, 6)):
            unit = s.scalars(select(Unit).where(Unit.path == path)).one()
            r = s.scalars(select(PulseRound).where(PulseRound.unit_id == unit.id)).one()
            asked = s.scalars(
                select(Participation)
                .where(Participation.round_id == r.id)
                .order_by(Participation.member_id)
            ).all()[:answered]
            for i, p in enumerate(asked):
                for rq in r.questions:
                    record_answer(s, r, p, rq.question_id, 4, key=answers_key(bot.settings))
                s.flush()
                if i < len(COMMENTS[path]):
                    assert r.nonce is not None
                    key = respondent_key(answers_key(bot.settings), r.nonce, p.member_id)
                    first = s.scalars(select(Answer).where(Answer.respondent_key == key)).first()
                    assert first is not None
                    first.comment = COMMENTS[path][i]
    bot.db.dispose()
    assert cli(db_url, "pulse", "close-now", "--unit", SOCIAL)[0] == 0


async def test_chair_sees_cleared_comments_scrubbed_and_hides_one(db_url: str) -> None:
    prepare(db_url)
    async with local_chat(db_url) as chat:
        with chat.bot.db.session() as s:
            inger, bo, mette = (
                s.scalars(select(Member.id).where(Member.name == n)).one()
                for n in ("Inger Holm", "Bo Dahl", "Mette Nielsen")
            )
        reply = await chat.say(inger, "kommentarer")
        html = reply["notice"]
        text = text_of(html)
        assert "For lidt tid til borgerne" in text and "Godt team" in text
        assert "Søren" not in text and "Jensen" not in text and "20 30 40 50" not in text
        # Syd's 6 answers do not clear 10, and nothing above pools them high enough.
        assert "fredagen" not in text
        hides = [a for a in actions(html) if a.startswith("governance.hide|")]
        assert len(hides) == 3
        target = next(a for a in hides if "Godt team" in _comment_of(chat, a))

        # Neither a member nor the vice-chair may hide; both attempts are audited.
        assert "Kun formanden" in text_of((await chat.click(mette, target))["notice"])
        assert "Kun formanden" in text_of((await chat.say(bo, "kommentarer"))["notice"])
        assert await chat.click(inger, target) == {}
        after = text_of((await chat.say(inger, "kommentarer"))["notice"])
        assert "Godt team" not in after and "For lidt tid" in after
        assert "1 kommentar(er) er skjult" in after

        with chat.bot.db.session() as s:
            hidden = s.scalars(select(Answer).where(Answer.hidden.is_(True))).all()
            assert [a.comment for a in hidden] == ["Godt team"]
            entries = s.scalars(select(AuditEntry).where(AuditEntry.action == "comment.hide")).all()
            assert sorted((e.actor_id, e.allowed) for e in entries) == sorted(
                [(mette, False), (inger, True)]
            )
            # The audit log holds which round and question, never the comment itself.
            assert all("Godt team" not in json.dumps(e.detail) for e in entries)


def _comment_of(chat, packed: str) -> str:  # type: ignore[no-untyped-def]
    data = json.loads(packed.split("|", 1)[1])
    with chat.bot.db.session() as s:
        answer = s.get(Answer, (data["r"], data["q"], data["k"]))
        return answer.comment or ""

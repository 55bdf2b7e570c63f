"""A chair's view of comments: only groups that clear the threshold, scrubbed; hiding is audited."""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import select

from bot.app.wiring import build
from bot.core.config import Settings
from flows.governance import HideApprove, HideReject, forget_expired_hide_requests
from flows.pulse import answers_key, record_answer, respondent_key
from storage.models import (
    Answer,
    Approval,
    AuditEntry,
    HideRequest,
    Member,
    Participation,
    PulseRound,
    Unit,
)
from tests.cli import cli
from tests.fake_platform import fake_chat

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
    assert cli(db_url, "demo", "--no-history")[0] == 0
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
    async with fake_chat(db_url) as chat:
        with chat.bot.db.session() as s:
            inger, bo, mette = (
                s.scalars(select(Member.id).where(Member.name == n)).one()
                for n in ("Inger Holm", "Bo Dahl", "Mette Nielsen")
            )
        reply = await chat.say(inger, "kommentarer")
        listing = reply.notice
        text = listing.text
        assert "For lidt tid til borgerne" in text and "Godt team" in text
        assert "Søren" not in text and "Jensen" not in text and "20 30 40 50" not in text
        # Syd's 6 answers do not clear 10, and nothing above pools them high enough.
        assert "fredagen" not in text
        hides = [a for a in listing.actions if a.startswith("governance.hide|")]
        assert len(hides) == 3
        target = next(a for a in hides if "Godt team" in _comment_of(chat, a))

        # Neither a member nor the vice-chair may hide; both attempts are audited.
        assert "Kun formanden" in (await chat.click(mette, target)).notice.text
        assert "Kun formanden" in (await chat.say(bo, "kommentarer")).notice.text
        # The chair alone hides nothing: she gives a reason, and the vice-chair is asked.
        form = await chat.click(inger, target)
        submit = form.form.data
        assert "reason" in (await chat.submit(inger, submit, {"reason": " "})).errors
        sent = (await chat.submit(inger, submit, {"reason": "Nævner en borger"})).notice.text
        assert "sendt til næstformanden" in sent
        still = (await chat.say(inger, "kommentarer")).notice.text
        assert "Godt team" in still and "Venter på svar fra medarbejdersiden" in still
        # No second request for the same comment while the first waits.
        again = await chat.submit(inger, submit, {"reason": "Igen"})
        assert "Venter på svar" in again.notice.text
        await chat.deliver()
        [ask] = [m for m in await chat.dm(bo) if "Nævner en borger" in m.text]
        assert "Godt team" in ask.text and "Inger Holm" in ask.text
        approve, keep = ask.actions
        assert approve.startswith(HideApprove.kind) and keep.startswith(HideReject.kind)
        # The requester cannot be the second signature.
        assert "ikke dig" in (await chat.click(inger, approve)).notice.text
        assert "Godt team" in (await chat.say(inger, "kommentarer")).notice.text
        await chat.click(bo, approve, message_id=ask.id)
        after = (await chat.say(inger, "kommentarer")).notice.text
        assert "Godt team" not in after and "For lidt tid" in after
        assert "1 kommentar er skjult" in after
        await chat.deliver()
        assert "Bo Dahl har godkendt" in "\n".join(m.text for m in await chat.dm(inger))

        with chat.bot.db.session() as s:
            hidden = s.scalars(select(Answer).where(Answer.hidden.is_(True))).all()
            assert [a.comment for a in hidden] == ["Godt team"]
            entries = s.scalars(
                select(AuditEntry).where(AuditEntry.action.like("comment.hide%"))
            ).all()
            assert sorted((e.action, e.actor_id, e.allowed) for e in entries) == sorted(
                [
                    ("comment.hide", mette, False),
                    ("comment.hide_request", inger, True),
                    ("comment.hide", inger, False),
                    ("comment.hide", bo, True),
                ]
            )
            # The audit log holds which round and question, never the comment itself.
            assert all("Godt team" not in json.dumps(e.detail) for e in entries)


async def test_the_vice_chair_may_keep_a_comment_the_chair_wants_hidden(db_url: str) -> None:
    prepare(db_url)
    async with fake_chat(db_url) as chat:
        with chat.bot.db.session() as s:
            inger, bo = (
                s.scalars(select(Member.id).where(Member.name == n)).one()
                for n in ("Inger Holm", "Bo Dahl")
            )
        listing = (await chat.say(inger, "kommentarer")).notice
        target = next(a for a in listing.actions if a.startswith("governance.hide|"))
        form = await chat.click(inger, target)
        await chat.submit(inger, form.form.data, {"reason": "For personlig"})
        await chat.deliver()
        [ask] = [m for m in await chat.dm(bo) if "For personlig" in m.text]
        _, keep = ask.actions
        await chat.click(bo, keep, message_id=ask.id)
        with chat.bot.db.session() as s:
            assert s.scalars(select(Answer).where(Answer.hidden.is_(True))).all() == []
        await chat.deliver()
        told = "\n".join(m.text for m in await chat.dm(inger))
        assert "Bo Dahl har sagt nej" in told


def _comment_of(chat, packed: str) -> str:  # type: ignore[no-untyped-def]
    data = json.loads(packed.split("|", 1)[1])
    with chat.bot.db.session() as s:
        answer = s.get(Answer, (data["r"], data["q"], data["k"]))
        return answer.comment or ""


async def test_a_hide_request_and_its_reason_go_with_the_rounds_answers(db_url: str) -> None:
    prepare(db_url)
    async with fake_chat(db_url) as chat:
        with chat.bot.db.session() as s:
            inger = s.scalars(select(Member.id).where(Member.name == "Inger Holm")).one()
        listing = (await chat.say(inger, "kommentarer")).notice
        target = next(a for a in listing.actions if a.startswith("governance.hide|"))
        form = await chat.click(inger, target)
        await chat.submit(inger, form.form.data, {"reason": "Nævner Søren"})
        settings = chat.bot.settings
        with chat.bot.db.session() as s:
            closed = max(r.closed_at for r in s.scalars(select(PulseRound)) if r.closed_at)
        forget_expired_hide_requests(chat.bot.db, settings, closed + dt.timedelta(days=30))
        with chat.bot.db.session() as s:
            assert len(s.scalars(select(HideRequest)).all()) == 1
        later = closed + dt.timedelta(days=31 * (settings.retention_months + 1))
        forget_expired_hide_requests(chat.bot.db, settings, later)
        forget_expired_hide_requests(chat.bot.db, settings, later)
        with chat.bot.db.session() as s:
            assert s.scalars(select(HideRequest)).all() == []
            assert s.scalars(select(Approval).where(Approval.subject.like("hide:%"))).all() == []

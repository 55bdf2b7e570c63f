"""Anonymous replies to a comment, end to end over the local chat: the leader's reply reaches
the comment's author, the author's answer reaches the leader, either side can end it; and a
dump of the database (every table, and the SQLite file's raw bytes) before and after the
conversation holds nothing that tells the author apart from anyone else asked in the round."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import make_url

from bot.core.config import Settings
from bot.core.secret_key import generate_secret_key
from flows.pulse import close_now, run_now
from flows.replies import open_capsule, seal_author
from storage.models import Answer, AuditEntry, Base, CommentThread, Member, utcnow
from tests.fake_platform import FakeChat, Shown, fake_chat
from tests.test_digest_data import Org

COMMENT = "Overleveringen om eftermiddagen er for kort til at nå det hele"
REPLY = "Tak for kommentaren. Hvad ville gøre overleveringen lettere for dig?"
ANSWER = "Et fast tidspunkt og en skriftlig huskeliste ville hjælpe meget"
REPLY_2 = "Godt forslag, vi prøver det fra næste uge"
# Columns that change with the clock or a counter, not with who is who.
VOLATILE = {
    "id",
    "created_at",
    "updated_at",
    "next_attempt_at",
    "sent_at",
    "claimed_at",
    "claimed_by",
    "message_ref",
    "at",
    "attempts",
    "status",
    # A shared rate limit's next free slot (PostgreSQL): a clock value per conversation.
    "tat",
}


def flat(shown: Shown) -> str:
    return " ".join(shown.text.split())


def dump(chat: Any) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table, bytes as hex."""
    out: dict[str, list[dict[str, Any]]] = {}
    with chat.bot.db.session() as s:
        for table in Base.metadata.sorted_tables:
            rows = []
            for row in s.execute(select(table)).mappings():
                rows.append(
                    {k: (v.hex() if isinstance(v, bytes) else v) for k, v in dict(row).items()}
                )
            out[table.name] = rows
    return out


def as_text(row: dict[str, Any]) -> str:
    return json.dumps(row, default=str, ensure_ascii=False, sort_keys=True)


def mentions(table: str, row: dict[str, Any], member: int) -> bool:
    """Does the row point at this member (a member column, an address, a key, a conversation)?"""
    for key, value in row.items():
        own = key not in ("round_id", "question_id", "unit_id", "thread_id")
        if key.endswith("_id") and own and value == member:
            return True
    if table == "outbox" and row["address_kind"] == "member" and row["address"] == str(member):
        return True
    text = as_text(row)
    # (Not "m7@…": e-mail addresses are not member ids.)
    return re.search(rf"(member:|:m){member}\b(?!@)", text) is not None


def profile(dumped: dict[str, list[dict[str, Any]]], member: int) -> list[str]:
    """The member's rows with their own id blanked out and the clock columns dropped."""
    rows = []
    for table, table_rows in dumped.items():
        if table in (
            "members",
            "memberships",
            "membership_roles",
            "participations",
            "conversation_refs",
        ):
            continue
        for row in table_rows:
            if mentions(table, row, member):
                kept = {k: v for k, v in row.items() if k not in VOLATILE}
                text = as_text(kept)
                text = re.sub(rf"member:{member}\b", "member:X", text)
                # Dedupe keys end in the member's id ("pulse:1:ask:7", "replies:..:m7").
                text = re.sub(rf'(:m?){member}"', r'\1X"', text)
                text = text.replace(f'"address": "{member}"', '"address": "X"')
                # The closed-state rewrite of a DM names that DM (message id, outbox id).
                text = re.sub(r"(member:X\|)\d+", r"\1N", text)
                text = re.sub(r"(pulse:\d+:closed:)\d+", r"\1N", text)
                rows.append(f"{table} {text}")
    return sorted(rows)


def new_rows(
    before: dict[str, list[dict[str, Any]]], after: dict[str, list[dict[str, Any]]]
) -> dict[str, list[dict[str, Any]]]:
    seen = {t: {as_text(r) for r in rows} for t, rows in before.items()}
    return {t: [r for r in rows if as_text(r) not in seen[t]] for t, rows in after.items()}


def sqlite_bytes(chat: FakeChat, db_url: str) -> bytes:
    """The file's bytes, free pages included, after the write-ahead log is folded in."""
    with chat.bot.db.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    path = Path(str(make_url(db_url).database))
    return b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists())


def windows(blob: bytes, needle: str, width: int = 200) -> Iterable[bytes]:
    raw = needle.encode()
    start = blob.find(raw)
    while start != -1:
        yield blob[max(0, start - width) : start + len(raw) + width]
        start = blob.find(raw, start + 1)


def assert_unlinked(
    dumped: dict[str, list[dict[str, Any]]], author: int, others: list[int], secrets: list[str]
) -> None:
    # No row that holds the comment or the conversation's words points at any member but the
    # replier: the words are stored apart from every person.
    for table, rows in dumped.items():
        for row in rows:
            text = as_text(row)
            if any(s in text for s in secrets):
                for m in [author, *others]:
                    assert not mentions(table, row, m), (table, row)
    # Everything that does point at the author, the author shares with everyone else asked.
    mine = profile(dumped, author)
    for other in others:
        assert profile(dumped, other) == mine


async def test_a_reply_reaches_the_author_and_back_and_the_database_cannot_tell_who(
    db_url: str,
) -> None:
    key = generate_secret_key()
    async with fake_chat(db_url, MEDPULS_SECRET_KEY=key) as chat:
        with chat.bot.db.session() as s:
            org = Org(s)
            org.unit("K", members=11)
            leader = org.leader("K", "Lene Leder")
            people = [m.id for m in org.members["K"]]
            leader_id = leader.id
            run_now(s, "K", now=utcnow(), settings=chat.bot.settings)
        await chat.deliver()
        author, others = people[4], [p for p in people if p != people[4]]
        for member in people:
            [ask] = await chat.dm(member)
            answer = next(a for a in ask.actions if a.startswith("pulse.answer|"))
            await chat.click(member, answer, message_id=ask.id)
        # The comment form says replies are possible, and they are on unless unticked.
        [ask] = await chat.dm(author)
        comment = next(a for a in ask.actions if a.startswith("pulse.comment|"))
        opened = await chat.click(author, comment, message_id=ask.id)
        assert "Lederen må svare mig anonymt" in opened.form.text
        assert opened.form.values["replies"] == "true"
        saved = await chat.submit(author, opened.form.data, {"comment": COMMENT, "replies": "true"})
        assert "Lederen kan svare på din kommentar" in flat(saved.toast)
        with chat.bot.db.session() as s:
            close_now(s, "K", now=utcnow(), settings=chat.bot.settings)
        await chat.deliver()
        before = dump(chat)
        raw_before = sqlite_bytes(chat, db_url) if db_url.startswith("sqlite") else b""

        # The leader lists the comments and replies to one; a reply naming someone is refused.
        listed = await chat.say(leader_id, "svar")
        assert COMMENT in listed.notice.text
        [start] = [a for a in listed.notice.actions if a.startswith("replies.start|")]
        # A member of the unit who is no leader may not reply.
        refused = await chat.click(others[0], start)
        assert "Kun en leder" in flat(refused.notice)
        opened = await chat.click(leader_id, start)
        named = await chat.submit(leader_id, opened.form.data, {"text": "Ansat K 4, kom forbi"})
        assert "nævner en person" in named.errors["text"]
        sent = await chat.submit(leader_id, opened.form.data, {"text": REPLY})
        assert "kun forfatteren kan åbne svaret" in flat(sent.notice)
        await chat.deliver()

        # Everyone asked gets the same notice; only the author can open it.
        notices = {}
        for member in people:
            [notice] = [
                m
                for m in await chat.dm(member)
                if any(a.startswith("replies.read|") for a in m.actions)
            ]
            notices[member] = notice
        assert len({n.raw for n in notices.values()}) == 1
        [read] = notices[author].actions
        not_mine = await chat.click(others[0], read, message_id=notices[others[0]].id)
        assert "ikke er din" in flat(not_mine.notice) and REPLY not in not_mine.notice.raw
        mine = await chat.click(author, read, message_id=notices[author].id)
        assert REPLY in flat(mine.notice) and COMMENT in flat(mine.notice)
        answer_open, _end, _off = mine.notice.actions

        # The author answers back: it reaches the leader without a name.
        opened = await chat.click(author, answer_open, message_id=notices[author].id)
        await chat.submit(author, opened.form.data, {"text": ANSWER})
        await chat.deliver()
        to_leader = flat((await chat.dm(leader_id))[-1])
        assert "Forfatteren til kommentaren har svaret (anonymt)" in to_leader
        assert ANSWER in to_leader and REPLY in to_leader
        assert "Ansat K 4" not in to_leader

        # The leader writes again; the author ends the conversation; it accepts nothing more.
        [again, _] = (await chat.dm(leader_id))[-1].actions
        opened = await chat.click(leader_id, again)
        await chat.submit(leader_id, opened.form.data, {"text": REPLY_2})
        await chat.deliver()
        [latest] = [
            m
            for m in await chat.dm(author)
            if any(a.startswith("replies.read|") for a in m.actions)
        ][-1:]
        mine = await chat.click(author, latest.actions[0], message_id=latest.id)
        assert REPLY_2 in flat(mine.notice)
        _open, end, _off = mine.notice.actions
        ended = await chat.click(author, end, message_id=latest.id)
        assert "Samtalen er afsluttet" in flat(ended.notice)
        await chat.deliver()
        assert "Forfatteren har afsluttet samtalen" in flat((await chat.dm(leader_id))[-1])
        refused = await chat.click(author, answer_open)
        assert "afsluttet" in flat(refused.notice)

        after = dump(chat)
        with chat.bot.db.session() as s:
            [thread] = s.scalars(select(CommentThread)).all()
            [row] = s.scalars(select(Answer).where(Answer.comment == COMMENT)).all()
            thread_id, comment_key, capsule = thread.id, row.respondent_key, row.reply_capsule
            author_audit = [
                a.actor_id
                for a in s.scalars(
                    select(AuditEntry).where(AuditEntry.action.in_(["reply.answer", "reply.end"]))
                )
            ]
        assert author_audit == [None, None]
        assert capsule is not None and open_capsule(chat.bot.settings, capsule) == author
        # Another key (the database alone) opens nothing.
        stranger = Settings(DATABASE_URL=db_url, MEDPULS_SECRET_KEY=generate_secret_key())
        assert open_capsule(stranger, capsule) is None
        # Sealing is randomised: the same author's capsules are never equal.
        assert seal_author(chat.bot.settings, author) != seal_author(chat.bot.settings, author)

        secrets = [COMMENT, REPLY, ANSWER, REPLY_2, comment_key, capsule.hex()]
        # others[0] tried to reply (an audited refusal of their own): compare with the rest.
        asked = others[1:]
        assert_unlinked(before, author, asked, secrets)
        assert_unlinked(after, author, asked, secrets)
        # What the conversation added: nothing that sets the author apart either.
        added = new_rows(before, after)
        # (The notice naming the thread is in every asked member's DM, the same for all.)
        assert_unlinked(added, author, asked, secrets)
        assert profile(added, author) == profile(added, others[1]) != []

        if db_url.startswith("sqlite"):
            raw_after = sqlite_bytes(chat, db_url)
            with chat.bot.db.session() as s:
                who = s.get(Member, author)
                assert who is not None
                marks = [
                    re.escape(x).encode() + rb"\b"
                    for x in (f"member:{author}", who.name, str(who.email))
                ]
            for raw in (raw_before, raw_after):
                for words in (COMMENT, REPLY, ANSWER, REPLY_2):
                    for window in windows(raw, words):
                        assert not any(re.search(m, window) for m in marks), words
            # Each asked member's copy of the notice is in the file: the author's copy is one
            # of many alike.
            for m in people:
                assert re.search(rf"replies:{thread_id}:1:m{m}\b".encode(), raw_after)

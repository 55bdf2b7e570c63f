"""After a round closes, nothing stored or logged links an answer to a member.

We know the truth (the test decides who answers what, in which order) and play the attacker
with the whole database: every column of `answers` joined against every column of the tables
that name members, the answers' physical row order, and the keys.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
from typing import Any

import pytest
import time_machine
from sqlalchemy import inspect, select, text

from bot.app.wiring import Bot
from bot.core.messages import Message, Text
from bot.core.outbox import queue, to_unit_channel
from flows.pulse import answers_key, close_due_rounds, open_due_rounds, respondent_key
from storage.models import PulseRound
from tests.stored_values import stored_values
from tests.test_pulse_support import (
    answer,
    local,
    make_bot,
    organisation,
    schedule,
    submit,
)

RESPONDENTS = 8
# The order members answer in: neither member order nor its reverse.
ANSWERING_ORDER = [3, 0, 6, 1, 7, 4, 2, 5]
MEMBER_TABLES = {
    "participations": "member_id",
    "members": "id",
    "outbox": "address",
    "audit_log": "actor_id",
    "processed_events": None,
}


def dump(bot: Bot) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table, in physical order (no ORDER BY)."""
    with bot.db.session() as s:
        names = inspect(s.get_bind()).get_table_names()
        return {
            name: [dict(r._mapping) for r in s.execute(text(f'SELECT * FROM "{name}"'))]
            for name in names
            if name != "alembic_version"
        }


def run_round(bot: Bot, week: int, members: list[int], secrets: list[bytes]) -> int:
    monday = local(2026, 3, 2, 9) + dt.timedelta(weeks=week)
    with time_machine.travel(monday, tick=False):
        open_due_rounds(bot.db, bot.settings, dt.datetime.now(dt.UTC))
    with bot.db.session() as s:
        r = s.scalars(select(PulseRound).where(PulseRound.closed_at.is_(None))).one()
        round_id, questions = r.id, [rq.question_id for rq in r.questions]
        assert r.nonce is not None
        secrets.append(r.nonce)
    from flows.pulse import PulseCommentForm

    with time_machine.travel(monday + dt.timedelta(hours=1), tick=False):
        for position in ANSWERING_ORDER:
            member = members[position]
            answer(bot, member, round_id, questions[0], 1 + (position + week) % 5)
            answer(bot, member, round_id, questions[1], 5 - (position % 5))
            submit(bot, member, PulseCommentForm(r=round_id).pack(), {"comment": f"nr {position}"})
    with time_machine.travel(monday + dt.timedelta(days=3, minutes=1), tick=False):
        close_due_rounds(bot.db, bot.settings, dt.datetime.now(dt.UTC))
    return round_id


@pytest.fixture
def three_rounds(db_url: str, caplog: pytest.LogCaptureFixture) -> Any:
    bot = make_bot(db_url)
    # Ten members of the top unit come first, and five channel messages: ids of members and
    # outbox rows then never equal an answer value (1-5), so a coincidence of small integers
    # cannot pass for a link (or hide one).
    unit_id, members = organisation(bot, members=RESPONDENTS, extra_first=10)
    with bot.db.session() as s:
        note = Message(summary="x", parts=[Text(text="x")])
        queue(s, [to_unit_channel(unit_id, f"filler:{i}", note) for i in range(5)])
    schedule(bot, unit_id, starts_on=dt.date(2026, 3, 1), open_hours=72, questions_per_round=2)
    secrets: list[bytes] = []
    caplog.set_level(logging.DEBUG)
    rounds = [run_round(bot, week, members, secrets) for week in range(3)]
    yield bot, members, rounds, secrets, list(caplog.records)
    bot.db.dispose()


def truth(members: list[int]) -> dict[str, int]:
    """The comment each respondent wrote -> the respondent (the test's own knowledge)."""
    return {f"nr {p}": members[p] for p in range(RESPONDENTS)}


def member_of(table: str, row: dict[str, Any]) -> int | None:
    column = MEMBER_TABLES[table]
    if column is None or row.get(column) is None:
        return None
    if table == "outbox" and row["address_kind"] != "member":
        return None
    return int(row[column])


def test_answers_have_no_id_no_time_and_no_member_column(three_rounds: Any) -> None:
    bot = three_rounds[0]
    with bot.db.session() as s:
        columns = {c["name"] for c in inspect(s.get_bind()).get_columns("answers")}
        keys = inspect(s.get_bind()).get_foreign_keys("answers")
    # reply_capsule: the comment author's id sealed under MEDPULS_SECRET_KEY (flows/replies/),
    # unreadable with the database alone; tests/test_replies_chat.py holds that line.
    assert columns == {
        "round_id",
        "question_id",
        "respondent_key",
        "value",
        "comment",
        "hidden",
        "reply_capsule",
    }
    assert [k["referred_table"] for k in keys] == ["pulse_rounds"]


def test_no_join_on_any_column_singles_out_the_member_who_answered(three_rounds: Any) -> None:
    bot, members, rounds, _, _ = three_rounds
    tables = dump(bot)
    for round_id in rounds:
        who = truth(members)
        answers = [
            a for a in tables["answers"] if a["round_id"] == round_id and a["comment"] is not None
        ]
        assert len(answers) == RESPONDENTS
        for a in answers:
            true_member = who[a["comment"]]
            for column, value in a.items():
                for table in MEMBER_TABLES:
                    for other_column in tables[table][0] if tables[table] else ():
                        joined = {
                            member_of(table, row)
                            for row in tables[table]
                            if row[other_column] is not None
                            and str(row[other_column]) == str(value)
                        } - {None}
                        narrows = 0 < len(joined) < RESPONDENTS
                        assert not (narrows and true_member in joined), (
                            f"answers.{column} = {table}.{other_column} links a member"
                        )


def test_stored_order_is_neither_answering_nor_member_order(three_rounds: Any) -> None:
    bot, _, rounds, _, _ = three_rounds
    tables = dump(bot)
    orders = []
    for round_id in rounds:
        stored = [
            int(a["comment"].split()[1])
            for a in tables["answers"]
            if a["round_id"] == round_id and a["comment"] is not None
        ]
        assert sorted(stored) == list(range(RESPONDENTS))
        assert stored != ANSWERING_ORDER
        assert stored != sorted(stored)
        orders.append(stored)
    # Shuffled afresh at each close, not in one fixed permutation a reader could learn.
    assert len({tuple(o) for o in orders}) == len(orders)


def test_respondent_keys_match_no_hmac_under_any_stored_or_former_secret(
    three_rounds: Any,
) -> None:
    bot, _, rounds, secrets, _ = three_rounds
    tables = dump(bot)
    assert all(r["nonce"] is None for r in tables["pulse_rounds"])
    binary, elsewhere = stored_values(tables)
    candidates = set(secrets) | binary | {value.encode() for value in elsewhere}
    everyone = [int(m["id"]) for m in tables["members"]]
    # The attacker also holds the server's key here (not only the database): after close,
    # even that must not give any answer back.
    answers = answers_key(bot.settings)
    forged = {
        hmac.new(key, str(m).encode(), hashlib.sha256).hexdigest()
        for key in candidates
        for m in everyone
    } | {respondent_key(answers, nonce, m) for nonce in candidates for m in everyone}
    keys = {a["respondent_key"] for a in tables["answers"] if a["round_id"] in rounds}
    assert len(keys) == len([a for a in tables["answers"] if a["round_id"] in rounds])
    assert not keys & forged
    assert not keys & elsewhere
    assert not any(k in v for k in keys for v in elsewhere)


def test_logs_never_put_a_member_next_to_an_answer(three_rounds: Any) -> None:
    _, _, _, secrets, records = three_rounds
    assert records, "the round should have logged something"
    standard = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}
    for record in records:
        extras = {k: v for k, v in record.__dict__.items() if k not in standard}
        line = record.getMessage() + " " + " ".join(f"{k}={v}" for k, v in extras.items())
        assert "pulse.answer|" not in line
        assert not any(secret.hex() in line for secret in secrets)
        names = set(extras)
        if names & {"member", "member_id", "user", "user_id", "actor"}:
            assert not names & {"value", "answer", "score", "comment"}, line

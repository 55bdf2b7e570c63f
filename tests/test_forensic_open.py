"""Issue 12 while a round is open: whoever holds only the database (a DBA, a backup, a restored
dump) cannot link an answer to a person, by key, by flag, or by transaction id.

The attacker knows how MEDpuls computes keys (the code is open) and takes every value stored
anywhere in the database as a candidate secret. What the attacker lacks is MEDPULS_SECRET_KEY,
which lives in the environment only.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import hashlib
import hmac
import os
from typing import Any

import pytest
from sqlalchemy import inspect, select, text

from bot.app.wiring import Bot
from bot.core.events import Actor, ButtonClicked, Conversation
from bot.core.secret_key import derive_key, parse_secret_key
from flows.pulse import PulseAnswer
from storage.models import Member
from tests.stored_values import stored_values
from tests.test_pulse_support import (
    answer,
    make_bot,
    open_first_round,
    organisation,
    schedule,
)

MEMBERS = 6


def open_round(db_url: str) -> tuple[Bot, list[int], int, list[str]]:
    bot = make_bot(db_url)
    unit_id, members = organisation(bot, members=MEMBERS, extra_first=2)
    schedule(bot, unit_id, starts_on=dt.date(2026, 3, 1), open_hours=72, questions_per_round=2)
    round_id, questions = open_first_round(bot)
    return bot, members, round_id, questions


def every_value(bot: Bot) -> dict[str, list[dict[str, Any]]]:
    with bot.db.session() as s:
        names = inspect(s.get_bind()).get_table_names()
        return {
            n: [dict(r) for r in s.execute(text(f'SELECT * FROM "{n}"')).mappings()] for n in names
        }


def candidates(tables: dict[str, list[dict[str, Any]]]) -> set[bytes]:
    """Every stored value, as bytes, and hex-decoded where it is hex: a would-be secret."""
    binary, other = stored_values(tables)
    found = binary | {value.encode() for value in other}
    for value in other:
        with contextlib.suppress(ValueError):
            found.add(bytes.fromhex(value))
    return found


def test_while_open_no_value_in_the_database_computes_any_members_answer_key(
    db_url: str,
) -> None:
    bot, members, round_id, (q1, q2) = open_round(db_url)
    for i, m in enumerate(members):
        answer(bot, m, round_id, q1, 1 + i % 5)
        answer(bot, m, round_id, q2, 5 - i % 5)
    tables = every_value(bot)
    keys = {a["respondent_key"] for a in tables["answers"]}
    assert len(keys) == MEMBERS
    found = candidates(tables)
    everyone = [int(m["id"]) for m in tables["members"]]
    ids = [str(m).encode() for m in everyone]
    # HMAC(secret, member) as before, HMAC(value, value || member) for any pair of stored
    # values (the nonce among them), with and without a separator.
    forged = {hmac.new(c, m, hashlib.sha256).hexdigest() for c in found for m in ids}
    forged |= {
        hmac.new(k, n + sep + m, hashlib.sha256).hexdigest()
        for k in found
        for n in found
        if len(n) >= 16
        for sep in (b"", b"|", b":")
        for m in ids
    }
    assert not keys & forged, "the database alone gives an answer back to its author"
    # And the server's key is nowhere in the database, in any form.
    server = parse_secret_key(os.environ["MEDPULS_SECRET_KEY"])
    forms = {server, server.hex().encode(), base64.urlsafe_b64encode(server).rstrip(b"=")}
    forms |= {derive_key(server, p) for p in ("pulse-answers", "dedupe")}
    assert not any(f in c for f in forms for c in found)
    bot.db.dispose()


def test_while_open_answering_changes_no_row_that_names_a_member(db_url: str) -> None:
    """No "answered" flag, no member row touched: the rows naming people are the same whether
    or not, and whenever, they answered."""
    bot, members, round_id, (q1, _) = open_round(db_url)
    naming = ("participations", "members", "memberships", "outbox", "audit_log")
    before = {t: rows for t, rows in every_value(bot).items() if t in naming}
    for m in members[:3]:
        answer(bot, m, round_id, q1, 4)
    after = {t: rows for t, rows in every_value(bot).items() if t in naming}
    for table in naming:
        assert sorted(map(repr, before[table])) == sorted(map(repr, after[table])), table
    bot.db.dispose()


@pytest.mark.postgres
def test_while_open_no_answer_shares_a_transaction_with_a_row_naming_a_member(
    postgres_url: str,
) -> None:
    """PostgreSQL's xmin says which transaction wrote a row version: an answer written with a
    participation flag, or with (or right after) the member's newly learnt platform id, pairs
    the two."""
    bot, members, round_id, (q1, q2) = open_round(postgres_url)
    with bot.db.session() as s:
        rows_before = set(s.execute(text("SELECT id, xmin::text FROM members")).tuples())
    for i, m in enumerate(members):
        # A Slack click from someone whose Slack id we do not know yet: found by e-mail.
        with bot.db.session() as s:
            email = s.scalars(select(Member.email).where(Member.id == m)).one()
        who = Actor(platform="slack", user_id=f"UXMIN{m:05d}", team_id="T1", email=email)
        for q, v in ((q1, 1 + i % 5), (q2, 3)):
            bot.core.handle_sync(
                ButtonClicked(
                    who,
                    Conversation("slack", f"D{m:08d}"),
                    data=PulseAnswer(r=round_id, q=q, v=v).pack(),
                    delivery_id=f"17724420{m:02d}.{q[-2:]}:UXMIN{m:05d}",
                )
            )
    with bot.db.session() as s:
        # Not even in a transaction of its own right before the answer's (xmin one below):
        # a click writes no member row; the Slack id is remembered from a later message.
        rows_after = set(s.execute(text("SELECT id, xmin::text FROM members")).tuples())
        assert rows_after == rows_before
        answers = set(s.scalars(text("SELECT xmin::text FROM answers")))
        assert len(answers) >= MEMBERS
        for table in ("participations", "members", "memberships", "outbox", "audit_log"):
            shared = answers & set(s.scalars(text(f'SELECT xmin::text FROM "{table}"')))
            assert not shared, f"an answer and a {table} row were written together"
    bot.db.dispose()

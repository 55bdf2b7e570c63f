"""Issue 12, the forensic read: after a round closes, the database files hold nothing that
links a person to an answer.

The attacker here has everything the test has: the rows of every table, the raw bytes of the
SQLite file and its `-wal`, PostgreSQL's relation pages (pageinspect, every block of every
table, index and TOAST table), and, since we record them as the app computes them, every
nonce, key and de-duplication key that existed while the round was open, and the server's
MEDPULS_SECRET_KEY too. Six members answer, change answers, comment and have clicks
re-delivered; the round closes the way the scheduler closes it (close_due_rounds, which runs
the maintenance too). Then none of those secrets may be found, in any form, anywhere.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import os
import time
from pathlib import Path
from typing import Any

import time_machine
from sqlalchemy import create_engine, inspect, select, text, update
from sqlalchemy.exc import DBAPIError

from bot.app.wiring import Bot
from bot.core.events import Actor, ButtonClicked, Conversation, FormSubmitted
from bot.core.secret_key import derive_key, parse_secret_key
from flows import pulse
from flows.pulse import PulseAnswer, PulseCommentForm, close_due_rounds, open_due_rounds
from storage.models import Member, Participation, PulseRound
from tests.test_pulse_support import local, make_bot, organisation, schedule

RESPONDENTS = 6
ORDER = [4, 1, 5, 0, 3, 2]  # the order members first answer in
_clicks = iter(range(1, 10**6))


def slack_id(member_id: int) -> str:
    return f"UFORENSIC{member_id:04d}"


def slack_delivery(member_id: int, action: int) -> str:
    """A delivery id as detailed as a platform could make it: time, person and button."""
    n = next(_clicks)
    return f"1772442000.{n:06d}:{slack_id(member_id)}:medpuls.b{action}"


class Round:
    """Drives one round over Slack-shaped events straight into the core, recording every
    secret the app computes while the round is open."""

    def __init__(self, bot: Bot, members: list[int]) -> None:
        self.bot, self.members = bot, members
        self.deliveries: list[str] = []
        self.dedupe_keys: set[str] = set()
        self.answer_keys: set[str] = set()
        self.nonces: set[bytes] = set()
        with bot.db.session() as s:
            for m in members:
                s.execute(update(Member).where(Member.id == m).values(slack_user_id=slack_id(m)))

    def event(self, member: int, data: str, action: int, *, form: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
        delivery = slack_delivery(member, action)
        self.deliveries.append(delivery)
        actor = Actor(platform="slack", user_id=slack_id(member), team_id="TFORENSIC")
        where = Conversation("slack", f"D{member:08d}")
        if form is not None:
            return FormSubmitted(actor, where, data=data, values=form, delivery_id=delivery)
        return ButtonClicked(actor, where, data=data, delivery_id=delivery)

    def handle(self, event: Any, times: int = 1) -> None:
        for _ in range(times):  # a platform re-delivering the same event
            self.bot.core.handle_sync(event)
        self.record()

    def answer(self, member: int, round_id: int, question: str, value: int, times: int = 1) -> None:
        data = PulseAnswer(r=round_id, q=question, v=value).pack()
        self.handle(self.event(member, data, value), times)

    def record(self) -> None:
        """What an attacker copying the database right now would find."""
        with self.bot.db.session() as s:
            for row in s.execute(text("SELECT * FROM pulse_rounds")).mappings():
                self.nonces |= {bytes(v) for v in row.values() if isinstance(v, bytes | memoryview)}
            self.answer_keys |= set(s.scalars(text("SELECT respondent_key FROM answers")))
            self.dedupe_keys |= set(s.scalars(text("SELECT key FROM processed_events")))


def run(db_url: str) -> tuple[Bot, Round, int]:
    bot = make_bot(db_url)
    unit_id, members = organisation(bot, members=RESPONDENTS, extra_first=3)
    schedule(bot, unit_id, starts_on=dt.date(2026, 3, 1), open_hours=72, questions_per_round=2)
    game = Round(bot, members)
    monday = local(2026, 3, 2, 9)
    with time_machine.travel(monday, tick=False):
        open_due_rounds(bot.db, bot.settings, dt.datetime.now(dt.UTC))
    with bot.db.session() as s:
        r = s.scalars(select(PulseRound).where(PulseRound.closed_at.is_(None))).one()
        round_id, (q1, q2) = r.id, [rq.question_id for rq in r.questions]
    game.record()
    assert game.nonces, "the open round has a nonce"
    with time_machine.travel(monday + dt.timedelta(hours=1), tick=False):
        for i, position in enumerate(ORDER):
            member = members[position]
            game.answer(member, round_id, q1, 1 + position % 5, times=4)  # 4x re-delivery
            game.answer(member, round_id, q2, 5 - position % 5)
            game.answer(member, round_id, q2, 5 - position % 5)  # a double click
            game.handle(
                game.event(
                    member, PulseCommentForm(r=round_id).pack(), 0, form={"comment": f"nr {i}"}
                )
            )
    with time_machine.travel(monday + dt.timedelta(days=1), tick=False):
        for position in ORDER[:3]:  # changed minds, a day later
            game.answer(members[position], round_id, q1, 3)
    with time_machine.travel(monday + dt.timedelta(days=3, minutes=1), tick=False):
        close_due_rounds(bot.db, bot.settings, dt.datetime.now(dt.UTC))
    # The scheduler's next ticks run every job of the pulse flow: the close's maintenance is
    # among them, and is retried should another session's old snapshot have been in its way
    # (other tests and sessions share this PostgreSQL server, and may hold a transaction for
    # minutes; alone, as in CI, the close's own scrub is enough).
    deadline = time.monotonic() + 900
    minute = 2
    while scrub_pending(bot) and time.monotonic() < deadline:
        with time_machine.travel(monday + dt.timedelta(days=3, minutes=minute), tick=False):
            for job in pulse.JOBS:
                job(bot.db, bot.settings, dt.datetime.now(dt.UTC))
        minute += 1
    assert not scrub_pending(bot), "an old transaction kept the closed round's rows for 15 min"
    with bot.db.session() as s:
        flags = s.execute(select(Participation.member_id, Participation.answered)).tuples()
        assert {m for m, answered in flags if answered} == set(members)
    return bot, game, round_id


def scrub_pending(bot: Bot) -> bool:
    with bot.db.session() as s:
        row = s.execute(text("SELECT * FROM pulse_rounds")).mappings().first()
        return bool(row and row.get("scrub_pending"))


def needles(bot: Bot, game: Round) -> dict[str, bytes]:
    """Every secret of the open round, in each form it could be stored in."""
    found: dict[str, bytes] = {}
    server = parse_secret_key(os.environ["MEDPULS_SECRET_KEY"])  # tests/conftest.py sets it
    purposes = ("pulse-answers", "dedupe")
    secrets = {"server key": server, **{p: derive_key(server, p) for p in purposes}}
    for name, raw in secrets.items():
        found[name] = raw
        found[f"{name} (hex)"] = raw.hex().encode()
        found[f"{name} (base64)"] = base64.urlsafe_b64encode(raw).rstrip(b"=")
    for nonce in game.nonces:
        found[f"nonce {nonce.hex()[:8]}"] = nonce
        found[f"nonce {nonce.hex()[:8]} (hex)"] = nonce.hex().encode()
    for k in game.answer_keys:
        found[f"open-round key {k[:8]}"] = k.encode()
        found[f"open-round key {k[:8]} (raw)"] = bytes.fromhex(k)
    for k in game.dedupe_keys:
        found[f"dedupe key {k[:10]}"] = k.encode()
    for d in game.deliveries:
        found[f"delivery id {d}"] = d.encode()
        found[f"delivery time {d}"] = d.split(":")[0].encode()
    # The old scheme's keys (HMAC(nonce, member)) must not be there either.
    for nonce in game.nonces:
        for m in game.members:
            old = hmac.new(nonce, str(m).encode(), hashlib.sha256).hexdigest()
            found[f"old-scheme key of {m}"] = old.encode()
    return found


def table_rows(bot: Bot) -> dict[str, list[dict[str, Any]]]:
    with bot.db.session() as s:
        names = inspect(s.get_bind()).get_table_names()
        return {
            n: [dict(r) for r in s.execute(text(f'SELECT * FROM "{n}"')).mappings()] for n in names
        }


def assert_tables_clean(bot: Bot, game: Round, found: dict[str, bytes]) -> None:
    for table, rows in table_rows(bot).items():
        for row in rows:
            for column, value in row.items():
                if value is None:
                    continue
                blob = (
                    bytes(value) if isinstance(value, bytes | memoryview) else str(value).encode()
                )
                for name, needle in found.items():
                    assert needle not in blob, f"{name} in {table}.{column}"
    rows = table_rows(bot)
    # No processed-event row names a member (nor, being hashed, anything at all) ...
    for row in rows["processed_events"]:
        assert not any(slack_id(m) in row["key"] for m in game.members)
        assert row["key"] not in game.dedupe_keys
    # ... and no row pairs a member with a value: only participations name members next to the
    # round, and they say "answered", nothing more.
    assert set(rows["participations"][0]) == {"round_id", "member_id", "answered", "reminders_sent"}


def raw_sqlite(url: str) -> bytes:
    path = Path(url.removeprefix("sqlite:///"))
    blob = path.read_bytes()
    wal = path.with_name(path.name + "-wal")
    return blob + (wal.read_bytes() if wal.exists() else b"")


def _pageinspect(conn: Any) -> None:
    for _ in range(3):  # parallel tests may race to create it
        try:
            conn.execute(text("CREATE EXTENSION IF NOT EXISTS pageinspect SCHEMA public"))
            return
        except DBAPIError:
            continue


def raw_postgres(url: str) -> dict[str, bytes]:
    """Every block of every table, index and TOAST table of the test's schema."""
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    pages: dict[str, bytes] = {}
    try:
        with engine.connect() as conn:
            _pageinspect(conn)
            relations = conn.execute(
                text(
                    "SELECT c.oid::regclass::text FROM pg_class c "
                    "JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'i') "
                    "UNION SELECT t.oid::regclass::text FROM pg_class c "
                    "JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "JOIN pg_class t ON t.oid = c.reltoastrelid "
                    "WHERE n.nspname = current_schema() "
                    "UNION SELECT i.indexrelid::regclass::text FROM pg_class c "
                    "JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "JOIN pg_index i ON i.indrelid = c.reltoastrelid "
                    "WHERE n.nspname = current_schema()"
                )
            ).scalars()
            for rel in list(relations):
                blocks = conn.execute(
                    text(
                        "SELECT pg_relation_size(CAST(:r AS regclass)) / "
                        "current_setting('block_size')::int"
                    ),
                    {"r": rel},
                ).scalar_one()
                pages[rel] = b"".join(
                    bytes(
                        conn.execute(
                            text("SELECT public.get_raw_page(:r, :b)"), {"r": rel, "b": b}
                        ).scalar_one()
                    )
                    for b in range(int(blocks))
                )
    finally:
        engine.dispose()
    return pages


def test_after_close_no_row_of_any_table_holds_an_open_round_secret_or_a_click(
    db_url: str,
) -> None:
    bot, game, _ = run(db_url)
    assert_tables_clean(bot, game, needles(bot, game))
    bot.db.dispose()


def test_after_close_no_raw_byte_of_the_database_holds_an_open_round_secret(db_url: str) -> None:
    bot, game, _ = run(db_url)
    found = needles(bot, game)
    # Copied while the app still runs (its connections open): closing the last connection
    # would checkpoint the WAL by itself, which a copy taken by an attacker does not wait for.
    if db_url.startswith("sqlite"):
        files = {"sqlite file and -wal": raw_sqlite(db_url)}
    else:
        files = raw_postgres(db_url)
        assert {"answers", "pulse_rounds", "processed_events"} <= set(files)
    bot.db.dispose()
    for where, blob in files.items():
        for name, needle in found.items():
            assert needle not in blob, f"{name} in the raw bytes of {where}"

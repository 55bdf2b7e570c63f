"""Retention of raw answers (frozen clock), the privacy notice, and this domain's texts."""

from __future__ import annotations

import datetime as dt
import re
import string
import tomllib
from pathlib import Path

import pytest
import time_machine
from sqlalchemy import func, select

from bot.app.wiring import build
from bot.core.config import Settings
from bot.core.events import Actor, CommandInvoked, Conversation, MemberJoined, MessageReceived
from bot.core.i18n import LOCALES
from flows.privacy import apply_retention, months_before
from flows.pulse import answers_key, record_answer
from storage.models import Answer, Member, OutboxMessage, Participation, PulseRound, RoundResult
from tests.cli import cli

NORD = "Eksempel Kommune/Social og Sundhed/Hjemmeplejen Nord"
CLOSED = dt.datetime(2026, 3, 31, 12, 0, tzinfo=dt.UTC)


def _closed_round_with_answers(db_url: str) -> None:
    with time_machine.travel(CLOSED - dt.timedelta(days=3), tick=False):
        assert cli(db_url, "demo", "--no-history")[0] == 0
        assert cli(db_url, "pulse", "run-now", "--unit", NORD)[0] == 0
        bot = build(Settings(DATABASE_URL=db_url))
        with bot.db.session() as s:
            r = s.scalars(select(PulseRound)).one()
            for p in s.scalars(select(Participation)):
                for rq in r.questions:
                    record_answer(s, r, p, rq.question_id, 3, key=answers_key(Settings()))
            s.flush()
            s.scalars(select(Answer)).first().comment = "Travlt"  # type: ignore[union-attr]
        bot.db.dispose()
    with time_machine.travel(CLOSED, tick=False):
        assert cli(db_url, "pulse", "close-now", "--unit", NORD)[0] == 0


def test_answers_go_after_the_retention_period_and_aggregates_stay(db_url: str) -> None:
    _closed_round_with_answers(db_url)
    settings = Settings(DATABASE_URL=db_url, MEDPULS_RETENTION_MONTHS=24)
    bot = build(settings)

    def counts() -> tuple[int, int]:
        with bot.db.session() as s:
            return (
                int(s.scalar(select(func.count()).select_from(Answer)) or 0),
                int(s.scalar(select(func.count()).select_from(RoundResult)) or 0),
            )

    answers, results = counts()
    assert answers == 20 and results == 2
    for moment in (
        dt.datetime(2027, 3, 31, 12, 0, tzinfo=dt.UTC),
        dt.datetime(2028, 3, 31, 11, 59, tzinfo=dt.UTC),  # a minute short of 24 months
    ):
        with time_machine.travel(moment, tick=False):
            apply_retention(bot.db, settings, dt.datetime.now(dt.UTC))
        assert counts() == (answers, results)
    with time_machine.travel(dt.datetime(2028, 3, 31, 12, 1, tzinfo=dt.UTC), tick=False):
        apply_retention(bot.db, settings, dt.datetime.now(dt.UTC))
        apply_retention(bot.db, settings, dt.datetime.now(dt.UTC))  # twice is harmless
    assert counts() == (0, results)
    bot.db.dispose()


def test_the_job_is_scheduled() -> None:
    from flows import scheduled_jobs

    assert scheduled_jobs()["flows.privacy.apply_retention"] is apply_retention


@pytest.mark.parametrize(
    ("moment", "months", "expected"),
    [
        ("2028-03-31", 24, "2026-03-31"),
        ("2026-03-31", 1, "2026-02-28"),
        ("2028-03-31", 1, "2028-02-29"),
        ("2026-01-15", 1, "2025-12-15"),
        ("2026-01-15", 13, "2024-12-15"),
    ],
)
def test_months_before(moment: str, months: int, expected: str) -> None:
    at = dt.datetime.fromisoformat(moment).replace(tzinfo=dt.UTC)
    assert months_before(at, months).date().isoformat() == expected


def _notices(bot_db_url: str) -> list[OutboxMessage]:
    bot = build(Settings(DATABASE_URL=bot_db_url))
    with bot.db.session() as s:
        rows = list(s.scalars(select(OutboxMessage).where(OutboxMessage.purpose == "privacy")))
    bot.db.dispose()
    return rows


def test_notice_on_first_contact_once_and_on_request(db_url: str) -> None:
    assert cli(db_url, "demo", "--no-history")[0] == 0
    bot = build(Settings(DATABASE_URL=db_url, MEDPULS_MIN_GROUP_SIZE=6))
    with bot.db.session() as s:
        mette = s.scalars(select(Member).where(Member.name == "Mette Nielsen")).one()
        bo = s.scalars(select(Member).where(Member.name == "Bo Dahl")).one()
        bo.language = "en"
    actor = Actor("local", str(mette.id))
    conv = Conversation("local", f"member:{mette.id}")
    bot.core.handle_sync(MemberJoined(actor=actor, conversation=conv))
    bot.core.handle_sync(MemberJoined(actor=actor, conversation=conv))
    bot.core.handle_sync(MessageReceived(actor=actor, conversation=conv, text="hej"))
    [notice] = _notices(db_url)
    assert notice.address == str(mette.id)
    assert "mindst 6 svar" in str(notice.payload)
    # Whoever writes first gets it too, in their language.
    bo_actor = Actor("local", str(bo.id))
    bot.core.handle_sync(MessageReceived(actor=bo_actor, conversation=conv, text="hello"))
    assert len(_notices(db_url)) == 2
    assert "at least 6 answers" in str(_notices(db_url)[1].payload)
    reply = bot.core.handle_sync(CommandInvoked(actor=actor, conversation=conv, text="privatliv"))
    assert reply.notice is not None and "anonyme" in str(reply.notice.parts)
    reply = bot.core.handle_sync(CommandInvoked(actor=bo_actor, conversation=conv, text="privacy"))
    assert reply.notice is not None and reply.notice.summary.startswith("How MEDpuls")
    bot.db.dispose()


@pytest.mark.parametrize("domain", ["access", "governance", "privacy"])
def test_both_languages_have_the_same_keys_and_placeholders(domain: str) -> None:
    def load(lang: str) -> dict[str, set[str]]:
        with (LOCALES / lang / f"{domain}.toml").open("rb") as fh:
            data = tomllib.load(fh)
        flat: dict[str, str] = {}

        def walk(prefix: str, node: dict[str, object]) -> None:
            # Plural forms are dotted keys ("hidden_count.one"): tomllib nests them.
            for k, v in node.items():
                if isinstance(v, dict):
                    walk(f"{prefix}{k}.", v)
                else:
                    flat[f"{prefix}{k}"] = str(v)

        walk("", data)
        return {k: {f for _, f, _, _ in string.Formatter().parse(v) if f} for k, v in flat.items()}

    assert load("da") == load("en")


def test_privacy_document_has_both_languages() -> None:
    doc = (Path(__file__).parents[1] / "docs" / "privacy.md").read_text(encoding="utf-8")
    assert re.search(r"^## Dansk", doc, re.M) and re.search(r"^## English", doc, re.M)
    assert "MEDPULS_RETENTION_MONTHS" in doc

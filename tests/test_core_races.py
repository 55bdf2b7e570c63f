"""Concurrent deliveries: a retried event runs once, racing clicks are never lost."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import func, select

from bot.app.wiring import build
from bot.core.config import Settings
from bot.core.events import Actor, ButtonClicked
from flows.pulse import PulseAnswer
from storage.models import Answer, Participation, ProcessedEvent, PulseRound
from tests.cli import cli
from tests.test_foundation_e2e import NORD


def _setup(db_url: str) -> tuple[object, int, int, str]:
    cli(db_url, "demo", "--no-history")
    cli(db_url, "pulse", "run-now", "--unit", NORD)
    bot = build(Settings(DATABASE_URL=db_url))
    with bot.db.session() as s:
        r = s.scalars(select(PulseRound)).one()
        member = s.scalars(select(Participation.member_id)).first()
        assert member is not None
        return bot, r.id, member, r.questions[0].question_id


def test_racing_clicks_store_one_answer_and_none_is_lost(db_url: str) -> None:
    bot, round_id, member, question = _setup(db_url)

    def click(value: int) -> bool:
        event = ButtonClicked(
            actor=Actor("local", str(member)),
            conversation=None,
            data=PulseAnswer(r=round_id, q=question, v=value).pack(),
            delivery_id=f"click-{value}",
        )
        return bot.core.handle_sync(event).transient is not None  # type: ignore[attr-defined]

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(click, [1, 2, 3, 4, 5, 1, 2, 3]))
    # Values 1-3 were sent twice with the same delivery id: those repeats are no-ops.
    assert results.count(True) == 5
    with bot.db.session() as s:  # type: ignore[attr-defined]
        assert s.scalar(select(func.count()).select_from(Answer)) == 1
        assert s.scalar(select(func.count()).select_from(ProcessedEvent)) == 5
    bot.db.dispose()  # type: ignore[attr-defined]

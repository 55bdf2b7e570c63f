"""Issue 18, point 2: the chair hears of a new proposal at once, with the triage buttons in the
message, or in one daily bundle if she chooses; an anonymous proposer stays anonymous."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from bot.core.config import Settings
from flows.agenda import Triage
from flows.agenda.alerts import AlertMode, send_bundles
from tests.fake_platform import fake_chat
from tests.test_agenda_e2e import (
    TZ,
    Org,
    hides,
    last_outbox_id,
    outbox_since,
    proposal_by_title,
    propose,
)
from tests.worlds import agenda_demo

demo = pytest.fixture(agenda_demo, name="demo")


def alerts_to(rows: list[tuple[str, str, str]]) -> list[int]:
    return sorted(int(a) for p, k, a in rows if p == "agenda.alert" and k == "member")


async def test_each_new_proposal_reaches_both_chairs_with_triage_buttons(
    db_url: str, demo: Org
) -> None:
    soeren, inger, bo = demo["Søren Jensen"], demo["Inger Holm"], demo["Bo Dahl"]
    async with fake_chat(db_url) as chat:
        before = last_outbox_id(chat.bot.db)
        await propose(chat, soeren, title="Tunge løft", identity="anonymous")
        assert alerts_to(outbox_since(chat.bot.db, before)) == sorted([inger, bo])
        await chat.deliver()
        [alert] = [m for m in await chat.dm(inger) if "Nyt forslag" in m.text]
        assert "Tunge løft" in alert.text and "Anonymt forslag" in alert.text
        hides(soeren, demo, alert)
        p = proposal_by_title(chat.bot.db, "Tunge løft")
        put = Triage(p=p.id, s="agenda").pack()
        assert put in alert.actions
        # Triage straight from the message.
        form = await chat.click(inger, put, message_id=alert.id)
        await chat.submit(inger, form.form.data, {"recommendation": "der købes løftere"})
        assert proposal_by_title(chat.bot.db, "Tunge løft").status == "on_agenda"


async def test_a_chair_who_chooses_a_daily_bundle_gets_one_message_at_eight(
    db_url: str, demo: Org
) -> None:
    anne, soeren, inger, bo = (
        demo["Anne Hansen"],
        demo["Søren Jensen"],
        demo["Inger Holm"],
        demo["Bo Dahl"],
    )
    settings = Settings(DATABASE_URL=db_url)
    async with fake_chat(db_url) as chat:
        db = chat.bot.db
        chosen = await chat.click(inger, AlertMode(m="daily").pack())
        assert "én gang om dagen" in chosen.notice.text
        refused = await chat.click(anne, AlertMode(m="daily").pack())
        assert "Kun udvalgets formand" in refused.notice.text
        before = last_outbox_id(db)
        await propose(chat, anne, title="Faste pauser")
        await propose(chat, soeren, title="Tunge løft", identity="anonymous")
        # Bo still hears of each at once; Inger waits for her bundle.
        assert alerts_to(outbox_since(db, before)) == [bo, bo]
        tomorrow = dt.datetime.now(TZ).date() + dt.timedelta(days=1)
        at_seven = dt.datetime.combine(tomorrow, dt.time(7, 59), tzinfo=TZ)
        send_bundles(db, settings, at_seven)
        assert alerts_to(outbox_since(db, before)) == [bo, bo]
        at_eight = at_seven + dt.timedelta(minutes=1)
        send_bundles(db, settings, at_eight)
        send_bundles(db, settings, at_eight + dt.timedelta(minutes=5))
        assert alerts_to(outbox_since(db, before)) == sorted([bo, bo, inger])
        with time_machine.travel(at_eight, tick=True):
            await chat.deliver()
        [bundle] = [m for m in await chat.dm(inger) if "Nye forslag" in m.text]
        text = bundle.text
        assert "Faste pauser" in text and "Tunge løft" in text and "(2)" in text
        hides(soeren, demo, bundle)
        assert AlertMode(m="each").pack() in bundle.actions
        # The next day's bundle holds nothing old.
        send_bundles(db, settings, at_eight + dt.timedelta(days=1))
        assert alerts_to(outbox_since(db, before)) == sorted([bo, bo, inger])

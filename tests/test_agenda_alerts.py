"""Issue 18, point 2: the chair hears of a new proposal at once, with the triage buttons in the
message, or in one daily bundle if she chooses; an anonymous proposer stays anonymous."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
import time_machine

from bot.core.config import Settings
from flows.agenda import Triage
from flows.agenda.alerts import AlertMode, send_bundles
from tests.localchat import actions, local_chat, text_of
from tests.test_agenda_e2e import (
    TZ,
    Org,
    cli,
    form_data,
    hides,
    last_outbox_id,
    meeting_day,
    outbox_since,
    proposal_by_title,
    propose,
    set_meeting,
)


@pytest.fixture
def demo(db_url: str) -> Iterator[Org]:
    assert cli(db_url, "demo", "--no-history")[0] == 0
    set_meeting(db_url, meeting_day())
    yield Org(db_url)


def alerts_to(rows: list[tuple[str, str, str]]) -> list[int]:
    return sorted(int(a) for p, k, a in rows if p == "agenda.alert" and k == "member")


async def test_each_new_proposal_reaches_both_chairs_with_triage_buttons(
    db_url: str, demo: Org
) -> None:
    soeren, inger, bo = demo["Søren Jensen"], demo["Inger Holm"], demo["Bo Dahl"]
    async with local_chat(db_url) as chat:
        before = last_outbox_id(chat.bot.db)
        await propose(chat, soeren, title="Tunge løft", identity="anonymous")
        assert alerts_to(outbox_since(chat.bot.db, before)) == sorted([inger, bo])
        await chat.deliver()
        [alert] = [m for m in await chat.dm(inger) if "Nyt forslag" in m["html"]]
        assert "Tunge løft" in text_of(alert["html"]) and "Anonymt forslag" in text_of(
            alert["html"]
        )
        hides(soeren, demo, alert["html"])
        p = proposal_by_title(chat.bot.db, "Tunge løft")
        put = Triage(p=p.id, s="agenda").pack()
        assert put in actions(alert["html"])
        # Triage straight from the message.
        form = await chat.click(inger, put, message_id=alert["id"])
        await chat.submit(inger, form_data(form["form"]), {"recommendation": "der købes løftere"})
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
    async with local_chat(db_url) as chat:
        db = chat.bot.db
        chosen = await chat.click(inger, AlertMode(m="daily").pack())
        assert "én gang om dagen" in text_of(chosen["notice"])
        refused = await chat.click(anne, AlertMode(m="daily").pack())
        assert "Kun udvalgets formand" in text_of(refused["notice"])
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
        [bundle] = [m for m in await chat.dm(inger) if "Nye forslag" in m["html"]]
        text = text_of(bundle["html"])
        assert "Faste pauser" in text and "Tunge løft" in text and "(2)" in text
        hides(soeren, demo, bundle["html"])
        assert AlertMode(m="each").pack() in actions(bundle["html"])
        # The next day's bundle holds nothing old.
        send_bundles(db, settings, at_eight + dt.timedelta(days=1))
        assert alerts_to(outbox_since(db, before)) == sorted([bo, bo, inger])

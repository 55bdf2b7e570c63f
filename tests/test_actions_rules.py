"""The action plan's rules: working hours on Danish working days, when reminders may go, and
continued / dropped with a line, audited, over the local chat."""

from __future__ import annotations

import time_machine
from sqlalchemy import select

from flows.actions import in_working_hours, next_working_moment, reminder_slots
from flows.privacy import export_person
from storage.models import AuditEntry, Member, OutboxMessage, TeamAction, utcnow
from tests.fake_platform import fake_chat
from tests.test_actions_chat import CPH, add_action, cph, setup_org, tick


def test_working_hours_are_0730_to_1700_on_danish_working_days() -> None:
    assert not in_working_hours(cph("2026-03-16", "07:29"), CPH)
    assert in_working_hours(cph("2026-03-16", "07:30"), CPH)
    assert in_working_hours(cph("2026-03-16", "16:59"), CPH)
    assert not in_working_hours(cph("2026-03-16", "17:00"), CPH)
    assert not in_working_hours(cph("2026-03-14", "10:00"), CPH)  # Saturday
    assert not in_working_hours(cph("2026-04-03", "10:00"), CPH)  # Langfredag
    assert not in_working_hours(cph("2026-06-05", "10:00"), CPH)  # Grundlovsdag
    # Summer time: 07:30 in Copenhagen is 05:30 UTC.
    assert in_working_hours(cph("2026-06-08", "07:30"), CPH)


def test_a_moment_outside_waits_for_the_next_working_morning() -> None:
    # Friday evening -> Monday 07:30; Skærtorsdag (Easter) -> the Tuesday after 2. påskedag.
    assert next_working_moment(cph("2026-03-13", "17:00"), CPH) == cph("2026-03-16", "07:30")
    assert next_working_moment(cph("2026-04-02", "09:00"), CPH) == cph("2026-04-07", "07:30")
    assert next_working_moment(cph("2026-03-16", "06:00"), CPH) == cph("2026-03-16", "07:30")
    assert next_working_moment(cph("2026-03-16", "10:00"), CPH) == cph("2026-03-16", "10:00")
    # Two reminders: five days and one day before, at 09:00, moved into working hours.
    assert reminder_slots(cph("2026-03-19", "00:00").astimezone(CPH).date(), CPH) == [
        cph("2026-03-16", "07:30"),
        cph("2026-03-18", "09:00"),
    ]


async def test_continued_gets_a_new_date_and_fresh_reminders_dropped_ends_it(
    db_url: str,
) -> None:
    async with fake_chat(db_url) as chat:
        ids = setup_org(chat.bot.db)
        with time_machine.travel(cph("2026-03-05", "13:00"), tick=False):
            await add_action(
                chat, ids.leader, "Kort morgenmøde", str(ids.owner), "2026-03-10", "bonding"
            )
            await add_action(
                chat, ids.leader, "Ny vagtplan", str(ids.owner), "2026-03-10", "rc_timely"
            )
        await chat.deliver()
        assert await tick(chat, cph("2026-03-10", "08:00")) == 2
        dues = [m for m in await chat.dm(ids.owner) if "Hvordan gik det?" in m.text]
        first, second = sorted(dues, key=lambda m: "Kort morgenmøde" not in m.text)
        with time_machine.travel(cph("2026-03-10", "09:00"), tick=False):
            _, continued, _ = first.actions
            opened = await chat.click(ids.owner, continued)
            # A new date must come after today, and a line on what happened is required.
            bad = await chat.submit(
                ids.owner, opened.form.data, {"outcome": "", "date": "2026-03-09"}
            )
            assert set(bad.errors) == {"outcome", "date"}
            await chat.submit(
                ids.owner, opened.form.data, {"outcome": "Halvvejs", "date": "2026-03-20"}
            )
            _, _, dropped = second.actions
            opened = await chat.click(ids.owner, dropped)
            await chat.submit(ids.owner, opened.form.data, {"outcome": "Ikke muligt nu"})
            # A dropped action cannot be marked again.
            again = await chat.click(ids.owner, dropped)
            assert "allerede droppet" in again.notice.text
        await chat.deliver()
        # The continued action's reminders start over for the new date.
        assert await tick(chat, cph("2026-03-16", "07:30")) == 1
        with chat.bot.db.session() as s:
            rows = {a.text: a for a in s.scalars(select(TeamAction))}
            assert rows["Kort morgenmøde"].status == "planned"
            assert str(rows["Kort morgenmøde"].due_on) == "2026-03-20"
            assert rows["Ny vagtplan"].status == "dropped"
            assert rows["Ny vagtplan"].outcome == "Ikke muligt nu"
            keys = list(
                s.scalars(
                    select(OutboxMessage.dedupe_key).where(
                        OutboxMessage.purpose == "actions.reminder"
                    )
                )
            )
            assert any(k.endswith(f"2026-03-20:r1:m{ids.owner}") for k in keys)
            audit = [
                (a.action, (a.detail or {}).get("due"))
                for a in s.scalars(select(AuditEntry).where(AuditEntry.action.like("action.%")))
            ]
        with chat.bot.db.session() as s:
            owner = s.get(Member, ids.owner)
            assert owner is not None
            exported = export_person(s, str(owner.email), now=utcnow())
        assert sorted(a["text"] for a in exported["actions"]) == ["Kort morgenmøde", "Ny vagtplan"]
        assert ("action.continued", "2026-03-20") in audit
        assert ("action.dropped", None) in audit

"""Issue 18 over the fake Bot Connector (Teams): proposals → both chairs hear at once with
triage buttons → triage from that card → both sides approve the agenda (one person each) →
publish now → after the meeting a decision per item → both sides approve the minutes → the
minutes in every served unit's channel and the parent committee's → proposer and supporter
told the reason."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import pytest
import time_machine
from sqlalchemy import select

from bot.core.events import Actor, ButtonClicked, Conversation, FormSubmitted
from flows.agenda import ProposeForm, SupportToggle, TriageForm
from flows.decisions import DecideForm
from storage.models import Meeting, Member, OutboxMessage, Proposal, Unit
from tests.cli import cli
from tests.fakes.bot_connector import FakeBotConnector
from tests.teams_support import TeamsBot, fixture, running, teams_settings
from tests.test_agenda_e2e import meeting_day

SOCIAL = "MED Social og Sundhed"
PEOPLE = {
    "Inger Holm": ("29:1IngerTeamsId", "1c1c1c1c-0000-4000-8000-000000000001", "a:1Inger"),
    "Bo Dahl": ("29:1BoTeamsId", "1c1c1c1c-0000-4000-8000-000000000002", "a:1Bo"),
    "Anne Hansen": ("29:1AnneTeamsId", "1c1c1c1c-0000-4000-8000-000000000003", "a:1Anne"),
    "Hanne Larsen": ("29:1HanneTeamsId", "1c1c1c1c-0000-4000-8000-000000000004", "a:1Hanne"),
}
CHAIRS = ("Inger Holm", "Bo Dahl")
# Hoved-MED's unit (the parent committee's) and the three units MED Social serves.
CHANNELS = {
    "Eksempel Kommune": "19:top@thread.tacv2",
    "Eksempel Kommune/Social og Sundhed": "19:social@thread.tacv2",
    "Eksempel Kommune/Social og Sundhed/Hjemmeplejen Nord": "19:nord@thread.tacv2",
    "Eksempel Kommune/Social og Sundhed/Hjemmeplejen Syd": "19:syd@thread.tacv2",
}


@pytest.fixture
def fake() -> Iterator[FakeBotConnector]:
    connector = FakeBotConnector().start()
    yield connector
    connector.stop()


def member(teams: TeamsBot, name: str) -> Member:
    with teams.bot.db.session() as s:
        found = s.scalars(select(Member).where(Member.name == name)).one()
        s.expunge(found)
        return found


def as_person(activity: dict[str, Any], name: str) -> dict[str, Any]:
    teams_id, aad, conversation = PEOPLE[name]
    activity["from"] = {"id": teams_id, "aadObjectId": aad, "name": name}
    activity["conversation"] = {**activity["conversation"], "id": conversation}
    return activity


def actions_in(body: Any) -> list[str]:
    """Every packed action in a card or activity, wherever it is nested."""
    found: list[str] = []
    if isinstance(body, dict):
        value = body.get("medpuls")
        if isinstance(value, str):
            found.append(value)
        for v in body.values():
            found.extend(actions_in(v))
    elif isinstance(body, list):
        for v in body:
            found.extend(actions_in(v))
    return found


def sent_to(fake: FakeBotConnector, name: str, needle: str) -> list[Any]:
    conversation = PEOPLE[name][2]
    return [
        c
        for c in fake.activities("send")
        if conversation in c.path and needle in json.dumps(c.body, ensure_ascii=False)
    ]


async def invoke(teams: TeamsBot, name: str, data: str, n: int) -> dict[str, Any]:
    activity = as_person(fixture("invoke_card_action", teams.fake, id=f"f:{n}"), name)
    activity["value"]["action"]["data"] = {"medpuls": data}
    response = await teams.post(activity)
    assert response.status == 200
    return dict(await response.json())


def local(person: Member) -> tuple[Actor, Conversation]:
    return Actor("local", str(person.id)), Conversation("local", f"member:{person.id}")


async def submit(teams: TeamsBot, name: str, form: str, values: dict[str, str], n: int) -> None:
    activity = as_person(fixture("form_submit_invoke", teams.fake, id=f"s:{n}"), name)
    activity["value"]["action"]["data"] = {"medpuls_form": form, **values}
    response = await teams.post(activity)
    assert response.status == 200
    assert "Attention" not in await response.text()


async def test_chair_notified_triage_both_approve_publish_now_decide_and_minutes_on_teams(
    sqlite_url: str, fake: FakeBotConnector
) -> None:
    assert cli(sqlite_url, "demo", "--no-history")[0] == 0
    starts = meeting_day()
    when = f"{starts:%Y-%m-%dT%H:%M}"
    assert cli(sqlite_url, "meeting", "add", "--committee", SOCIAL, "--date", when)[0] == 0
    async with running(teams_settings(sqlite_url, fake), fake) as teams:
        for name, (teams_id, aad, _) in PEOPLE.items():
            person = member(teams, name)
            fake.members[teams_id] = {"id": teams_id, "aadObjectId": aad, "email": person.email}
            install = as_person(fixture("installation_update_personal", fake), name)
            assert (await teams.post(install)).status == 200
        assert (await teams.post(fixture("conversation_update_team", fake))).ok
        with teams.bot.db.session() as s:
            for unit in s.scalars(select(Unit).where(Unit.path.in_(CHANNELS))):
                unit.teams_channel_id = CHANNELS[unit.path]
        soeren, anne = member(teams, "Søren Jensen"), member(teams, "Anne Hansen")
        # Søren proposes anonymously (through the local chat; the chairs are on Teams); Anne
        # in her name.
        for person, title, identity in (
            (soeren, "Tunge løft", "anonymous"),
            (anne, "Faste pauser", "named"),
        ):
            actor, conversation = local(person)
            reply = teams.bot.core.handle_sync(
                FormSubmitted(
                    actor=actor,
                    conversation=conversation,
                    data=ProposeForm().pack(),
                    values={
                        "title": title,
                        "issue": "Vi løfter for tungt",
                        "why": "Ryggene",
                        "identity": identity,
                    },
                )
            )
            assert not reply.errors, reply.errors
        with teams.bot.db.session() as s:
            pauser = s.scalars(select(Proposal).where(Proposal.title == "Faste pauser")).one()
        # Hanne backs Anne's proposal (its post's "Støt" button).
        actor, conversation = local(member(teams, "Hanne Larsen"))
        teams.bot.core.handle_sync(
            ButtonClicked(
                actor=actor, conversation=conversation, data=SupportToggle(p=pauser.id).pack()
            )
        )
        fake.calls.clear()
        await teams.deliver()
        for name in CHAIRS:
            [alert] = sent_to(fake, name, "Tunge løft")
            assert soeren.name not in json.dumps(alert.body, ensure_ascii=False)
        with teams.bot.db.session() as s:
            p = s.scalars(select(Proposal).where(Proposal.title == "Tunge løft")).one()
        later = next(
            a
            for a in actions_in(sent_to(fake, "Inger Holm", "Tunge løft")[0].body)
            if a.startswith("agenda.triage|") and json.loads(a.split("|", 1)[1])["s"] == "later"
        )
        await invoke(teams, "Inger Holm", later, 1)
        with teams.bot.db.session() as s:
            assert s.get(Proposal, p.id).status == "later"  # type: ignore[union-attr]
        # Bo puts Anne's proposal on the agenda from his card (the form's submit).
        await submit(
            teams,
            "Bo Dahl",
            TriageForm(p=pauser.id, s="agenda").pack(),
            {"recommendation": "der indføres faste pauser"},
            1,
        )

        # Each side approves from its list; the second approval offers "Publish now".
        publish_now: list[str] = []
        for n, name in enumerate(CHAIRS, start=2):
            fake.calls.clear()
            message = as_person(fixture("message_personal", fake, id=f"m{n}"), name)
            message["text"] = "dagsorden"
            assert (await teams.post(message)).status == 200
            # A card carries each action twice (Action.Execute and its Submit fallback).
            [approve] = {
                a
                for c in sent_to(fake, name, "agenda.approve|")
                for a in actions_in(c.body)
                if a.startswith("agenda.approve|")
            }
            fake.calls.clear()
            body = await invoke(teams, name, approve, n * 10)
            await teams.deliver()
            publish_now = [
                a
                for a in actions_in(body) + actions_in([c.body for c in fake.activities("send")])
                if a.startswith("agenda.publish_now|")
            ]
            # One side's approval is not enough to publish.
            assert bool(publish_now) == (name == "Bo Dahl")
        await invoke(teams, "Bo Dahl", publish_now[0], 99)
        with teams.bot.db.session() as s:
            published = s.scalars(
                select(OutboxMessage).where(OutboxMessage.purpose == "agenda.published")
            ).all()
        assert published

        # After the meeting Inger records the decision from her card's form.
        with teams.bot.db.session() as s:
            starts = s.get(Meeting, pauser.meeting_id).starts_at  # type: ignore[union-attr]
        with time_machine.travel(starts + dt.timedelta(hours=3), tick=True):
            reason = "Faste pauser kl. 10 og 14 fra 1. marts."
            await submit(
                teams,
                "Inger Holm",
                DecideForm(p=pauser.id).pack(),
                {"kind": "adopted", "reason": reason},
                2,
            )
            # Each side approves the minutes from its own list, once.
            for n, name in enumerate(CHAIRS, start=5):
                fake.calls.clear()
                message = as_person(fixture("message_personal", fake, id=f"mm{n}"), name)
                message["text"] = "dagsorden"
                assert (await teams.post(message)).status == 200
                [approve] = {
                    a
                    for c in sent_to(fake, name, "minutes.approve|")
                    for a in actions_in(c.body)
                    if a.startswith("minutes.approve|")
                }
                await invoke(teams, name, approve, n * 100)
            fake.calls.clear()
            await teams.deliver()
        for channel in CHANNELS.values():
            [posted] = [
                c
                for c in fake.activities("send")
                if channel in c.path
                and "Beslutningsprotokol" in json.dumps(c.body, ensure_ascii=False)
            ]
            assert reason in json.dumps(posted.body, ensure_ascii=False)
        assert sent_to(fake, "Anne Hansen", f"Begrundelse: {reason}")
        [told] = sent_to(fake, "Hanne Larsen", "som du støttede")
        assert f"Begrundelse: {reason}" in json.dumps(told.body, ensure_ascii=False)

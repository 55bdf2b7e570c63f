"""Texts that do not leak where they came from (issue 16, point 9).

Before: the Teams privacy notice sent people to "docs/privacy.md" (a path in our repository),
the Teams help card told them to type "/med forslag i Slack", four quotation styles were in use,
counts read "kommentar(er)", and a round opened at night closed at 00:37.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from collections.abc import Iterator
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy import select

from bot.app.delivery_alerts import alert_message
from bot.core.i18n import LANGUAGES, Lang, Translator, catalogue
from bot.core.router import Router, command_word
from flows import register_all
from flows.schedule import ScheduleSpec, closes_at, is_working_day
from storage.models import Member, PulseRound
from tests.cli import cli
from tests.fake_platform import fake_chat
from tests.fakes.bot_connector import FakeBotConnector
from tests.fakes.slack_api import FakeSlack, SlackWorkspace, fixture
from tests.slack_demo import everyone_on_slack as _everyone_on_slack
from tests.slack_demo import slack_id
from tests.teams_support import fixture as teams_fixture
from tests.teams_support import running, teams_settings

CPH = ZoneInfo("Europe/Copenhagen")
DA, EN = Translator("da"), Translator("en")
NORD = "Eksempel Kommune/Social og Sundhed/Hjemmeplejen Nord"
_ids = itertools.count(1)


def _texts(lang: Lang) -> Iterator[tuple[str, str]]:
    yield from catalogue(lang).items()


# --- the catalogues -------------------------------------------------------------------------


def test_danish_texts_quote_only_with_guillemets() -> None:
    """»…« is Danish; “…”, „…“, "…", «…» and '…' are not."""
    wrong = re.compile(r"[\"“”„‘’‚]|(?<![\w}])'\w")
    bad = [(key, text) for key, text in _texts("da") if wrong.search(text)]
    assert bad == []
    assert [key for key, text in _texts("da") if not _guillemets_pair(text)] == []


def _guillemets_pair(text: str) -> bool:
    """Every » opens a quotation that a « closes (not «…», the French way round)."""
    marks = re.sub(r"[^»«]", "", text)
    return re.fullmatch(r"(?:»«)*", marks) is not None


def test_english_texts_quote_with_curly_quotes_or_not_at_all() -> None:
    wrong = re.compile(r"[\"„‚«»]|(?<![\w}])'\w")
    assert [(key, text) for key, text in _texts("en") if wrong.search(text)] == []


@pytest.mark.parametrize("lang", LANGUAGES)
def test_no_bracketed_pseudo_plurals(lang: Lang) -> None:
    """ "runde(r)", "kommentar(er)", "message(s)": counts go through Translator.plural."""
    pseudo = re.compile(r"\w\((?:e|r|er|s|es|et|ne|en|n)\)")
    assert [(key, text) for key, text in _texts(lang) if pseudo.search(text)] == []


@pytest.mark.parametrize("lang", LANGUAGES)
def test_no_repository_paths_in_texts(lang: Lang) -> None:
    """People cannot open a path in our repository; they get the text itself."""
    path = re.compile(r"docs/|\b[\w/]+\.(?:md|py|toml|txt)\b")
    assert [(key, text) for key, text in _texts(lang) if path.search(text)] == []


@pytest.mark.parametrize("lang", LANGUAGES)
def test_no_text_names_a_platform_its_reader_may_not_use(lang: Lang) -> None:
    """Only Slack's own texts may say Slack, only Teams' own Teams."""
    for key, text in _texts(lang):
        own_slack = key.startswith("slack.") or key.endswith(".slack")
        own_teams = key.startswith("teams.") or key.endswith(".teams")
        assert own_slack or "Slack" not in text, key
        assert own_teams or "Teams" not in text, key
        assert own_slack or "/med" not in text, key


_DANISH_COMMANDS = {
    "forslag", "hjem", "puls", "dagsorden", "handling", "svar", "sprog", "privatliv", "hjælp",
    "overblik", "genoptag", "resultater", "møde", "grænse", "frister", "kommentarer",
    "spørgsmål", "forslagsbesked", "revision", "tid",
}  # fmt: skip


def _commands_in(text: str) -> list[str]:
    return [c for c in re.findall(r"`([^`]+)`", text) if not c.startswith("medpuls ")]


def test_english_texts_name_english_commands() -> None:
    """Not "type `forslag`" in English help: every command an English text shows is English."""
    for key, text in _texts("en"):
        for typed in _commands_in(text):
            assert not set(typed.lower().split()) & _DANISH_COMMANDS, (key, typed)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_command_a_text_shows_is_one_the_bot_knows(lang: Lang) -> None:
    router = Router()
    register_all(router)
    for key, text in _texts(lang):
        for typed in _commands_in(text):
            # `/med` is Slack's slash command; `--again` an option of the operator's CLI.
            if typed.strip() == "/med" or typed.startswith("--"):
                continue
            assert command_word(typed) in router.commands, (key, typed)


def test_danish_texts_say_indtil_for_until() -> None:
    """ "du kan ændre det til lørdag" reads as "change it to Saturday"."""
    assert [k for k, text in _texts("da") if re.search(r"ændre \w+ til \{", text)] == []
    assert "indtil runden lukker" in DA("pulse.answer_noted", value=3, question="q", until="x")


def test_counts_read_right_in_both_languages() -> None:
    one = alert_message(DA, dead=1, unknown=2)
    text = " ".join(getattr(p, "text", "") for p in one.parts)
    assert "1 besked kunne ikke leveres" in text and "2 beskeder er måske nået frem" in text
    text = " ".join(getattr(p, "text", "") for p in alert_message(EN, dead=2, unknown=1).parts)
    assert "2 messages could not be delivered" in text and "1 message may or may not" in text
    assert DA.plural("governance.hidden_count", 1).startswith("1 kommentar er skjult")
    assert EN.plural("governance.hidden_count", 3).startswith("3 comments are hidden")
    assert DA.plural("agenda.deadline_hint", 1) == "Tom: 1 dag før mødet."
    assert DA.plural("digest.pipeline_new", 1) == "1 nyt forslag"
    assert (
        DA.plural("governance.days", 1) == "1 dag" and EN.plural("governance.days", 10) == "10 days"
    )
    assert DA.plural("access.audit_title", 1) == "Revisionslog: den seneste hændelse"


# --- help and privacy, as each platform shows them ------------------------------------------


def _dm(member_id: int, text: str) -> dict[str, Any]:
    envelope = fixture("message_im")
    n = next(_ids)
    envelope["event"].update(user=slack_id(member_id), text=text, ts=f"1700000200.{n:06d}")
    envelope["event"]["client_msg_id"] = f"texts-{n}"
    envelope["event_id"] = f"Ev0TEXTS{n:05d}"
    return envelope


def _someone(session_factory: Any) -> int:
    with session_factory() as s:
        member_id = s.scalars(select(Member.id).order_by(Member.id)).first()
        assert member_id is not None
        return member_id


async def test_slack_help_names_the_slash_command_and_not_teams(db_url: str) -> None:
    async with FakeSlack() as slack, SlackWorkspace(db_url, slack) as ws:
        cli(db_url, "demo", "--no-history")
        _everyone_on_slack(ws)
        member = _someone(ws.bot.db.session)
        assert (await ws.event(_dm(member, "hjælp"))).status == 200
        await ws.drain()
        said = " ".join(str(c.args) for c in slack.calls_to("chat.postMessage"))
        assert "/med forslag" in said
        assert "Teams" not in said and "docs/" not in said


@pytest.fixture
def connector() -> Iterator[FakeBotConnector]:
    fake = FakeBotConnector().start()
    yield fake
    fake.stop()


TEAMS_ID = "29:1TextsTeamsUserId0000000000000000000000000"
AAD = "5b4a3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d"
CONVERSATION = "a:1TextsPersonalConversation"


def _from_person(activity: dict[str, Any]) -> dict[str, Any]:
    activity["from"] = {"id": TEAMS_ID, "aadObjectId": AAD, "name": "Medarbejder"}
    activity["conversation"] = {**activity["conversation"], "id": CONVERSATION}
    activity["id"] = f"1700001{next(_ids):06d}"
    return activity


async def test_teams_privacy_notice_and_help_speak_of_teams_only(
    sqlite_url: str, connector: FakeBotConnector
) -> None:
    assert cli(sqlite_url, "demo", "--no-history")[0] == 0
    async with running(teams_settings(sqlite_url, connector), connector) as teams:
        with teams.bot.db.session() as s:
            email = s.scalars(select(Member.email).order_by(Member.id)).first()
        connector.members[TEAMS_ID] = {"id": TEAMS_ID, "aadObjectId": AAD, "email": email}
        install = _from_person(teams_fixture("installation_update_personal", connector))
        assert (await teams.post(install)).status == 200
        await teams.deliver()
        welcome = " ".join(str(c.body) for c in connector.activities("send"))
        assert DA("privacy.title") in welcome
        assert "docs/" not in welcome and ".md" not in welcome
        connector.calls.clear()
        message = _from_person(teams_fixture("message_personal", connector, text="hjælp"))
        assert (await teams.post(message)).status == 200
        await teams.deliver()
        help_card = " ".join(str(c.body) for c in connector.activities("send"))
        assert DA("help.title") in help_card
        assert "Slack" not in help_card and "/med" not in help_card
        assert DA("help.where.teams") in help_card


async def test_the_local_chat_help_names_no_platform(db_url: str) -> None:
    assert cli(db_url, "demo", "--no-history")[0] == 0
    async with fake_chat(db_url) as chat:
        member = _someone(chat.bot.db.session)
        said = (await chat.say(member, "help")).notice.text
        assert DA("help.title") in said or EN("help.title") in said
        for leak in ("Slack", "Teams", "/med", "docs/"):
            assert leak not in said


# --- rounds close in working hours ----------------------------------------------------------


def at(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=CPH)


HOURS = (dt.time(7, 30), dt.time(17, 0))


@pytest.mark.parametrize(
    ("opened", "open_hours", "expected"),
    [
        (at(2026, 11, 30, 9), 72, at(2026, 12, 3, 9)),  # in hours already: unchanged
        (at(2026, 12, 2, 0, 37), 72, at(2026, 12, 7, 7, 30)),  # Sat 00:37: Monday morning
        (at(2026, 12, 1, 0, 37), 72, at(2026, 12, 4, 7, 30)),  # Fri 00:37: that morning
        (at(2026, 12, 3, 15, 0), 3, at(2026, 12, 4, 7, 30)),  # 18:00: the next morning
        (at(2026, 12, 21, 16, 0), 48, at(2026, 12, 23, 16, 0)),  # a Wednesday afternoon
        (at(2026, 12, 21, 18, 0), 48, at(2026, 12, 28, 7, 30)),  # Dec 24-27 are closed
    ],
)
def test_a_round_closes_within_working_hours(
    opened: dt.datetime, open_hours: int, expected: dt.datetime
) -> None:
    spec = ScheduleSpec(open_hours=open_hours)
    closing = closes_at(opened, spec, CPH, hours=HOURS)
    assert closing == expected
    assert is_working_day(closing.date())
    assert HOURS[0] <= closing.time() < HOURS[1]
    assert closing >= opened + dt.timedelta(hours=open_hours)  # never shorter than asked


def test_without_working_hours_a_round_keeps_its_length() -> None:
    """MEDPULS_WORKING_HOURS=always (a night-shift workplace): any hour is a working hour."""
    spec = ScheduleSpec(open_hours=72)
    assert closes_at(at(2026, 12, 2, 0, 37), spec, CPH) == at(2026, 12, 5, 0, 37)


def test_run_now_at_night_closes_on_a_working_day_hour(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEDPULS_WORKING_HOURS", "07:30-17:00")
    assert cli(db_url, "demo", "--no-history")[0] == 0
    with time_machine.travel(at(2026, 12, 2, 0, 37), tick=False):
        code, output = cli(db_url, "pulse", "run-now", "--unit", NORD)
        assert code == 0, output
    from storage.db import Database

    db = Database(db_url)
    try:
        with db.session() as s:
            rounds = list(s.scalars(select(PulseRound)))
            assert rounds
            for r in rounds:
                local = r.closes_at.astimezone(CPH)
                assert is_working_day(local.date())
                assert dt.time(7, 30) <= local.time() < dt.time(17, 0), local
    finally:
        db.dispose()

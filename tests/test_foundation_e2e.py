"""The walking skeleton end to end: demo, run-now, answers in the local chat, close-now."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable

import pytest
from sqlalchemy import func, select

from bot.app.wiring import build
from bot.core.config import Settings
from bot.core.messages import Message
from flows.pulse import PulseAnswer
from storage.models import Answer, LocalMessage, Member, OutboxMessage, Unit
from tests.cli import cli
from tests.fake_platform import Answer as ChatAnswer
from tests.fake_platform import Shown, fake_chat
from tests.localchat import local_chat
from tests.worlds import NORD, nord_members, nord_round

# The browser tests' name for it.
_nord_members = nord_members


def answer_buttons(actions: Iterable[str]) -> dict[tuple[str, int], str]:
    """(question id, value) -> packed action, read off a message's buttons."""
    out = {}
    for packed in actions:
        if packed.startswith("pulse.answer|"):
            data = json.loads(packed.split("|", 1)[1])
            out[(data["q"], data["v"])] = packed
    return out


async def _answer(chat, member: int, values: list[int]) -> None:  # type: ignore[no-untyped-def]
    [msg] = await chat.dm(member)
    buttons = answer_buttons(msg.actions)
    questions = sorted({q for q, _ in buttons}, key=lambda q: list(buttons).index((q, 1)))
    for question, value in zip(questions, values, strict=False):
        reply = await chat.click(member, buttons[(question, value)], message_id=msg.id)
        assert reply.notice is None


async def test_six_answer_one_changes_and_the_channel_shows_n_and_averages(db_url: str) -> None:
    assert cli(db_url, "demo", "--no-history")[0] == 0
    code, out = cli(db_url, "pulse", "run-now", "--unit", NORD)
    assert code == 0, out
    unit_id, members = _nord_members(db_url)
    assert len(members) == 10
    async with fake_chat(db_url) as chat:
        assert await chat.deliver() == 10
        # Six answer both questions; the first of them changes the first answer from 1 to 5.
        scores = [[1, 2], [4, 4], [3, 3], [5, 4], [4, 2], [3, 5]]
        for member, values in zip(members, scores, strict=False):
            await _answer(chat, member, values)
        [msg] = await chat.dm(members[0])
        reply = await chat.click(
            members[0], list(answer_buttons(msg.actions).values())[4], message_id=msg.id
        )
        # The choice shows in a toast the server does not keep; the stored DM marks nothing.
        assert "Du svarede 5" in reply.toast.text
        [msg] = await chat.dm(members[0])
        assert not any(b.selected for b in msg.buttons)

        code, out = cli(db_url, "pulse", "close-now", "--unit", NORD)
        assert code == 0, out
        await chat.deliver()
        [summary] = await chat.messages(members[1], f"unit:{unit_id}")
        text = summary.text
    assert "6 af 10 svarede" in text
    # Question 1: 5, 4, 3, 5, 4, 3 -> 4.0 (score 75); question 2: 2, 4, 3, 4, 2, 5 -> 3.3 (58).
    assert "4,0 af 5 (score 75)" in text
    assert "3,3 af 5 (score 58)" in text
    assert text.count("6 svar") == 2


async def test_four_respondents_show_no_figure(db_url: str) -> None:
    members = nord_round(db_url)
    unit_id, _ = nord_members(db_url)
    async with fake_chat(db_url) as chat:
        await chat.deliver()
        for member in members[:4]:
            await _answer(chat, member, [5, 5])
        cli(db_url, "pulse", "close-now", "--unit", NORD)
        await chat.deliver()
        [summary] = await chat.messages(members[0], f"unit:{unit_id}")
    text = summary.text
    assert "For få svarede" in text
    assert not re.search(r"\d+ af \d+", text)
    assert "score" not in text


async def test_click_on_a_closed_round_is_refused_politely_and_changes_nothing(db_url: str) -> None:
    members = nord_round(db_url)
    async with fake_chat(db_url) as chat:
        await chat.deliver()
        [msg] = await chat.dm(members[0])
        packed = next(iter(answer_buttons(msg.actions).values()))
        cli(db_url, "pulse", "close-now", "--unit", NORD)
        reply = await chat.click(members[0], packed, message_id=msg.id)
        # The old message shows the closed state in its place; no note, no new message.
        assert reply.notice is None
        [msg] = await chat.dm(members[0])
        assert "er lukket" in msg.text
        assert not answer_buttons(msg.actions)
        with chat.bot.db.session() as s:
            assert s.scalar(select(func.count()).select_from(Answer)) == 0


async def test_click_by_a_member_who_was_not_asked_is_refused(db_url: str) -> None:
    members = nord_round(db_url)
    async with fake_chat(db_url) as chat:
        await chat.deliver()
        [msg] = await chat.dm(members[0])
        packed = next(iter(answer_buttons(msg.actions).values()))
        with chat.bot.db.session() as s:
            outsider = s.scalars(select(Member).where(Member.id.not_in(members))).first()
            assert outsider is not None
        reply = await chat.click(outsider.id, packed)
        assert "ikke spurgt" in reply.notice.text
        with chat.bot.db.session() as s:
            assert s.scalar(select(func.count()).select_from(Answer)) == 0


async def test_the_local_chat_refuses_a_click_in_someone_elses_conversation(db_url: str) -> None:
    """The local adapter's own guard, over HTTP: the button is read from the message the
    local platform stored (its neutral payload), not from the page."""
    members = nord_round(db_url)
    async with local_chat(db_url) as chat:
        await chat.deliver()
        [msg] = await chat.dm(members[0])
        with chat.bot.db.session() as s:
            payload = s.get(LocalMessage, msg["id"]).payload  # type: ignore[union-attr]
            outsider = s.scalars(select(Member).where(Member.id.not_in(members))).first()
            assert outsider is not None
        [packed, *_] = Shown.of(Message.model_validate(payload["message"])).actions
        r = await chat.http.post(
            "/local/api/click",
            json={
                "member": outsider.id,
                "data": packed,
                "message_id": msg["id"],
                "conversation": f"member:{members[0]}",
            },
        )
        assert r.status_code == 403
        with chat.bot.db.session() as s:
            assert s.scalar(select(func.count()).select_from(Answer)) == 0


async def test_double_click_and_forged_data_store_one_answer(db_url: str) -> None:
    members = nord_round(db_url)
    async with fake_chat(db_url) as chat:
        await chat.deliver()
        [msg] = await chat.dm(members[0])
        packed = answer_buttons(msg.actions)
        q, v = next(iter(packed))
        await chat.click(members[0], packed[(q, v)], message_id=msg.id)
        await chat.click(members[0], packed[(q, v)], message_id=msg.id)
        round_id = json.loads(packed[(q, v)].split("|", 1)[1])["r"]
        for forged in (
            PulseAnswer(r=round_id, q=q, v=9).pack(),
            PulseAnswer(r=round_id, q="nope.1", v=3).pack(),
            "pulse.answer|{not json",
            "unknown.kind|{}",
        ):
            assert (await chat.click(members[0], forged, message_id=msg.id)) == ChatAnswer()
        with chat.bot.db.session() as s:
            assert s.scalar(select(func.count()).select_from(Answer)) == 1


def test_unknown_unit_path_is_one_line_and_exit_2(db_url: str) -> None:
    cli(db_url, "demo", "--no-history")
    code, out = cli(db_url, "pulse", "run-now", "--unit", "Eksempel Kommune/Findes Ikke")
    assert code == 2
    assert out.strip() == "error: unknown unit path 'Eksempel Kommune/Findes Ikke'"
    assert "Traceback" not in out


def test_malformed_csv_row_reports_its_line_and_writes_nothing(db_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    units = tmp_path / "units.csv"
    units.write_text(
        "unit_path,slack_channel_id,teams_channel_id,committee\n"
        "Kommune,C1,,Hoved-MED\nKommune/Skole,C2,,\nKommune//Tom,,,\n"
    )
    code, out = cli(db_url, "org", "import-units", str(units))
    assert code == 2
    assert "row 4, column unit_path" in out and "nothing was written" in out
    members = tmp_path / "members.csv"
    members.write_text(
        "unit_path,email,name,role,slack_user_id,teams_user_id\nKommune,a@x.dk,Anne,member,,\n"
    )
    assert cli(db_url, "org", "import-members", str(members))[0] == 2  # unit unknown: none made
    bot = build(Settings(DATABASE_URL=db_url))
    with bot.db.session() as s:
        assert s.scalar(select(func.count()).select_from(Unit)) == 0
        assert s.scalar(select(func.count()).select_from(Member)) == 0
    bot.db.dispose()


def test_imports_are_idempotent_and_bad_roles_name_the_line(db_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    units = tmp_path / "units.csv"
    units.write_text(
        "unit_path,slack_channel_id,teams_channel_id,committee\nKommune/Skole,C2,,Skole-MED\n"
    )
    members = tmp_path / "members.csv"
    members.write_text(
        "unit_path,email,name,role,slack_user_id,teams_user_id\n"
        "Kommune/Skole,Anne@X.dk,Anne Ø,leader;chair,U1,\n"
        "Kommune/Skole,bo@x.dk,Bo,member,,\n"
    )
    assert (
        cli(db_url, "org", "import-units", str(units))[1].strip()
        == "units: 1 created, 0 updated, 0 unchanged"
    )
    assert "2 created" in cli(db_url, "org", "import-members", str(members))[1]
    assert (
        cli(db_url, "org", "import-units", str(units))[1].strip()
        == "units: 0 created, 0 updated, 1 unchanged"
    )
    assert (
        "0 created, 0 updated, 2 unchanged" in cli(db_url, "org", "import-members", str(members))[1]
    )
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "unit_path,email,name,role,slack_user_id,teams_user_id\n"
        "Kommune/Skole,c@x.dk,C,member,,\nKommune/Skole,d@x.dk,D,boss,,\n"
    )
    code, out = cli(db_url, "org", "import-members", str(bad))
    assert code == 2 and "row 3, column role" in out and "boss" in out
    bot = build(Settings(DATABASE_URL=db_url))
    with bot.db.session() as s:
        assert s.scalar(select(func.count()).select_from(Member)) == 2
        assert s.scalar(select(func.count()).select_from(OutboxMessage)) == 0
    bot.db.dispose()


@pytest.mark.parametrize("path", ["/healthz", "/metrics", "/"])
async def test_serve_routes_answer(sqlite_url: str, path: str) -> None:
    async with local_chat(sqlite_url) as chat:
        r = await chat.http.get(path)
    assert r.status_code == 200


def test_settings_and_database_errors_are_one_line(tmp_path) -> None:  # type: ignore[no-untyped-def]
    fresh = f"sqlite:///{tmp_path}/fresh.db"
    code, out = cli(fresh, "demo", "--no-history", MEDPULS_MIN_GROUP_SIZE="2")
    assert code == 2
    assert out.strip() == (
        "error: setting MEDPULS_MIN_GROUP_SIZE: Value error, "
        "MEDPULS_MIN_GROUP_SIZE may not be below 3"
    )
    code, out = cli(f"sqlite:///{tmp_path}/never-migrated.db", "pulse", "run-now", "--unit", "A")
    assert code == 2
    assert out.startswith("error: database: no such table") and out.count("\n") == 1

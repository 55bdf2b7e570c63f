"""Pulse in chat and at the command line: rules, pause, committee questions, late joiners,
changed answers, scores, and a broken question bank at start."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import time_machine
from sqlalchemy import select

from bot.app.wiring import Bot
from bot.core.messages import Buttons, Message
from flows.custom_questions import QuestionsForm
from flows.organisation import import_members
from flows.pulse import close_due_rounds, open_due_rounds
from flows.scores import dimension_scores, question_scores
from storage.models import Member, OutboxMessage, Participation, PulseRound, RoundResult
from tests.cli import cli
from tests.test_pulse_support import (
    UNIT,
    answer,
    click,
    local,
    make_bot,
    organisation,
    say,
    schedule,
    submit,
    text_of,
)


def week_round(bot: Bot, week: int) -> tuple[int, list[str]]:
    """The week's round, opened on Monday 09:00 (Tuesday after a holiday)."""
    for day in (0, 1):
        when = local(2026, 3, 2 + day, 9) + dt.timedelta(weeks=week)
        with time_machine.travel(when, tick=False):
            open_due_rounds(bot.db, bot.settings, dt.datetime.now(dt.UTC))
    with bot.db.session() as s:
        r = s.scalars(select(PulseRound).order_by(PulseRound.id.desc())).first()
        assert r is not None and r.closed_at is None
        return r.id, [rq.question_id for rq in r.questions]


def close_week(bot: Bot, week: int) -> None:
    when = local(2026, 3, 6, 9, 1) + dt.timedelta(weeks=week)
    with time_machine.travel(when, tick=False):
        close_due_rounds(bot.db, bot.settings, dt.datetime.now(dt.UTC))


def setup(db_url: str, members: int = 6) -> tuple[Bot, int, list[int]]:
    bot = make_bot(db_url)
    unit_id, m = organisation(bot, members=members)
    schedule(bot, unit_id, starts_on=dt.date(2026, 3, 1), questions_per_round=2)
    return bot, unit_id, m


def asks(bot: Bot, member: int) -> list[str]:
    with bot.db.session() as s:
        return [
            str(r.payload)
            for r in s.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.purpose == "pulse.ask", OutboxMessage.address == str(member))
                .order_by(OutboxMessage.id)
            )
        ]


def test_the_first_dm_tells_the_rules_and_later_ones_offer_them_on_a_button(db_url: str) -> None:
    bot, _, m = setup(db_url)
    week_round(bot, 0)
    close_week(bot, 0)
    week_round(bot, 1)
    first, second = asks(bot, m[0])
    assert "sikkerhedskopi" in first and "mindst 5" in first and "*Kommune*" in first
    assert "sikkerhedskopi" not in second
    assert "pulse.rules|" in second
    with bot.db.session() as s:
        assert all(x.seen_privacy_notice for x in s.scalars(select(Member).where(Member.id.in_(m))))
    with time_machine.travel(local(2026, 3, 10, 12), tick=False):
        for words in ("puls regler", "pulse rules"):
            assert "mindst 5" in text_of(say(bot, m[0], words))
        rules_button = [p for p in second.split("'data': '") if p.startswith("pulse.rules|")]
        from tests.test_pulse_support import click

        assert "mindst 5" in text_of(click(bot, m[0], rules_button[0].split("'")[0]))
    bot.db.dispose()


def test_pause_resume_and_the_status_buttons(db_url: str) -> None:
    bot, _, m = setup(db_url)
    with time_machine.travel(local(2026, 2, 27, 12), tick=False):
        status = say(bot, m[0], "puls")
        assert "pulse.pause|" in str(status.notice)
        assert say(bot, m[0], "puls pause").form is not None
        assert "kan jeg ikke læse" in text_of(say(bot, m[0], "puls pause hurtigst muligt"))
        assert "fremtiden" in text_of(say(bot, m[0], "puls pause 2026-01-02"))
        from flows.pause import PulsePauseForm

        bad = submit(bot, m[1], PulsePauseForm().pack(), {"until": "2031-01-01"})
        assert "until" in bad.errors
        assert "Pause til og med" in text_of(say(bot, m[0], "puls pause 9. marts"))
        ok = submit(bot, m[1], PulsePauseForm().pack(), {"until": "2026-03-03"})
        assert not ok.errors
        assert "pulse.resume|" in str(say(bot, m[0], "puls").notice)
    week_round(bot, 0)
    with bot.db.session() as s:
        asked = set(s.scalars(select(Participation.member_id)))
    assert m[0] not in asked and m[1] not in asked
    with time_machine.travel(local(2026, 3, 4, 12), tick=False):
        assert "Velkommen tilbage" in text_of(say(bot, m[0], "puls genoptag"))
        assert "ingen pause" in text_of(say(bot, m[1], "puls resume"))  # ended yesterday
    bot.db.dispose()


def test_a_member_who_joins_mid_round_is_asked_from_the_next_round(db_url: str) -> None:
    bot, _, _ = setup(db_url)
    round_id, questions = week_round(bot, 0)
    with bot.db.session() as s:
        import_members(
            s,
            f"unit_path,email,name,role,slack_user_id,teams_user_id\n{UNIT},ny@k.dk,Ny,member,,\n",
        )
        newcomer = s.scalars(select(Member.id).where(Member.email == "ny@k.dk")).one()
    with time_machine.travel(local(2026, 3, 2, 12), tick=False):
        assert "ikke spurgt" in text_of(answer(bot, newcomer, round_id, questions[0], 4))
    close_week(bot, 0)
    next_round, _ = week_round(bot, 1)
    with bot.db.session() as s:
        assert s.get(Participation, (round_id, newcomer)) is None
        assert s.get(Participation, (next_round, newcomer)) is not None
    bot.db.dispose()


def test_a_changed_answer_replaces_the_earlier_one_in_the_aggregate(db_url: str) -> None:
    bot, _, m = setup(db_url)
    round_id, questions = week_round(bot, 0)
    with time_machine.travel(local(2026, 3, 2, 10), tick=False):
        for member in m[:5]:
            answer(bot, member, round_id, questions[0], 3)
        answer(bot, m[0], round_id, questions[0], 1)
        answer(bot, m[0], round_id, questions[0], 5)  # changed twice: only the last counts
    close_week(bot, 0)
    with time_machine.travel(local(2026, 3, 6, 12), tick=False):
        late = answer(bot, m[5], round_id, questions[0], 1)
    assert "er lukket" in text_of(late)
    with bot.db.session() as s:
        result = s.get(RoundResult, (round_id, questions[0]))
        assert result is not None
        assert (result.respondents, result.value_sum) == (5, 17)
        assert (result.favourable, result.neutral, result.unfavourable) == (1, 4, 0)
    bot.db.dispose()


def test_scores_per_dimension_with_change_and_participation(db_url: str) -> None:
    bot, unit_id, m = setup(db_url)
    dims = []
    for week, value in ((0, 3), (1, 4)):
        round_id, questions = week_round(bot, week)
        with time_machine.travel(local(2026, 3, 2, 10) + dt.timedelta(weeks=week), tick=False):
            for member in m[:5]:
                for q in questions:
                    answer(bot, member, round_id, q, value)
        close_week(bot, week)
        dims.append(questions)
    with bot.db.session() as s:
        by_dimension = {d.key: d for d in dimension_scores(s, [unit_id])}
        by_question = {q.key: q for q in question_scores(s, [unit_id])}
    latest = by_question[dims[1][0]]
    assert latest.mean == 75.0 and latest.favourable == 1.0 and latest.respondents == 5
    assert latest.participation == 5 / 6
    assert all(d.mean in (50.0, 75.0) for d in by_dimension.values())
    assert by_question[dims[0][0]].mean == 50.0 and by_question[dims[0][0]].change is None
    bot.db.dispose()


def test_committee_questions_from_chat_and_cli_join_the_rotation(db_url: str) -> None:
    bot, _, m = setup(db_url)
    with bot.db.session() as s:
        # A question from chat needs one person from each side (issue 18): add a vice-chair.
        import_members(s, "unit_path,email,name,role\nKommune,vice@k.dk,Næstformand,vice_chair\n")
    with bot.db.session() as s:
        chair = s.scalars(select(Member.id).where(Member.email == "chair@k.dk")).one()
        vice = s.scalars(select(Member.id).where(Member.email == "vice@k.dk")).one()
    denied = say(bot, m[0], "spørgsmål")
    assert "Kun administratorer" in text_of(denied)
    form = say(bot, chair, "spørgsmål").form
    assert form is not None
    committee = next(f for f in form.fields if f.name == "committee").options[0].value
    values = {f.name: f.initial or "" for f in form.fields} | {
        "committee": committee,
        "name": "tryghed",
        "da": "Jeg føler mig tryg på arbejdet.",
        "en": "",
    }
    assert "en" in submit(bot, chair, QuestionsForm().pack(), values).errors
    values["en"] = "I feel safe at work."
    assert "custom.tryghed" in text_of(submit(bot, chair, QuestionsForm().pack(), values))
    with bot.db.session() as s:
        [ask] = s.scalars(
            select(OutboxMessage).where(OutboxMessage.purpose == "questions.approval")
        )
        parts = Message.model_validate(ask.payload).parts
        approve = next(b.data for p in parts if isinstance(p, Buttons) for b in p.buttons)
    assert "rotationen" in text_of(click(bot, vice, approve))
    assert "name" in submit(bot, chair, QuestionsForm().pack(), values).errors
    assert submit(bot, m[0], QuestionsForm().pack(), values | {"name": "x"}).notice is not None

    code, out = cli(
        db_url, "questions", "add", "--committee", "Hoved-MED", "--id", "custom.pauser",
        "--da", "Jeg kan holde de pauser, jeg har brug for.",
        "--en", "I can take the breaks I need.",
    )  # fmt: skip
    assert code == 0, out
    code, out = cli(db_url, "questions", "list", "--committee", "Hoved-MED")
    assert "custom.tryghed" in out and "custom.pauser" in out
    asked: set[str] = set()
    for week in range(20):  # 17 dimensions, two a round: the custom one comes twice
        _, questions = week_round(bot, week)
        asked |= set(questions)
        close_week(bot, week)
    assert {"custom.tryghed", "custom.pauser"} <= asked
    bot.db.dispose()


def test_schedule_cli_sets_the_schedule_and_rejects_bad_input(db_url: str) -> None:
    bot, _, _ = setup(db_url)
    code, out = cli(
        db_url, "pulse", "schedule", "--unit", UNIT, "--cadence", "biweekly", "--weekday",
        "tue", "--time", "08:30", "--questions", "3", "--open-hours", "48", "--reminder",
        "13:00", "--remind-everyone",
    )  # fmt: skip
    assert code == 0, out
    code, out = cli(db_url, "pulse", "schedule", "--unit", UNIT, "--time", "25:00")
    assert code == 2 and "local_time" in out and "Traceback" not in out
    from storage.models import Schedule

    with bot.db.session() as s:
        row = s.scalars(select(Schedule)).one()
        assert (row.cadence, row.weekday, row.local_time, row.questions_per_round) == (
            "biweekly", 1, "08:30", 3,
        )  # fmt: skip
        assert (row.open_hours, row.reminder_time, row.remind_everyone) == (48, "13:00", True)
    bot.db.dispose()


def test_a_broken_question_bank_file_stops_the_start_with_file_line_and_reason(
    db_url: str, tmp_path: Path
) -> None:
    bank = tmp_path / "bank"
    bank.mkdir()
    (bank / "mine.yaml").write_text(
        "dimensions:\n"
        "  - id: trust\n"
        "    group: social_capital\n"
        "    label: {da: Tillid, en: Trust}\n"
        "questions:\n"
        "  - id: trust.1\n"
        "    dimension: trust\n"
        "    da: Jeg stoler på min leder.\n"
        "    low: {da: Uenig, en: Disagree}\n"
        "    high: {da: Enig, en: Agree}\n",
        encoding="utf-8",
    )
    for command in ("worker", "serve"):
        code, out = cli(
            db_url, command, MEDPULS_QUESTION_BANK_DIR=str(bank), MEDPULS_LOCAL_CHAT="1"
        )
        assert code == 2
        [line] = out.strip().splitlines()
        assert "mine.yaml:6:" in line and "English text ('en') is missing" in line
        assert "Traceback" not in out

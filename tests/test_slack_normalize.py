"""Recorded Slack payload shapes (adapters/slack/fixtures) to neutral events."""

from __future__ import annotations

import json
from zoneinfo import ZoneInfo

from adapters.slack import normalize
from adapters.slack.blocks import FormOrigin
from bot.core.events import (
    ButtonClicked,
    CommandInvoked,
    FormSubmitted,
    MemberJoined,
    MessageReceived,
    MessageRef,
)
from tests.fakes.slack_api import fixture

CPH = ZoneInfo("Europe/Copenhagen")


def test_block_actions_is_a_button_click_on_a_message() -> None:
    found = normalize.block_action(fixture("block_actions"))
    assert found is not None
    event, origin = found
    assert isinstance(event, ButtonClicked)
    assert event.data == "pulse.answer|{}"
    assert event.actor.user_id == "U0ANNE" and event.actor.team_id == "T0MEDPULS"
    assert event.message == MessageRef("slack", "D0ANNE", "1700000000.000100")
    assert event.trigger and event.trigger == origin.trigger_id
    # Not the action_id: buttons are numbered per message, so it would name the choice.
    assert event.delivery_id == "1700000001.222222:U0ANNE"
    assert event.conversation is not None and event.conversation.is_direct
    assert origin.response_url and not origin.is_ephemeral


def test_a_replay_has_the_same_delivery_id_and_a_second_click_another() -> None:
    payload = fixture("block_actions")
    again = normalize.block_action(fixture("block_actions"))
    payload["actions"][0]["action_ts"] = "1700000001.999999"
    second = normalize.block_action(payload)
    first = normalize.block_action(fixture("block_actions"))
    assert first and again and second
    assert first[0].delivery_id == again[0].delivery_id != second[0].delivery_id


def test_view_submission_gives_field_values_and_the_packed_form() -> None:
    payload = fixture("view_submission")
    payload["view"]["private_metadata"] = FormOrigin(
        data="agenda.propose|{}", channel_id="C1", message_ts="1.2"
    ).dump()
    payload["view"]["state"]["values"].update(
        {
            "anonymous": {"value": {"type": "checkboxes", "selected_options": [{"value": "true"}]}},
            "committee": {"value": {"type": "static_select", "selected_option": {"value": "7"}}},
            "date": {"value": {"type": "datepicker", "selected_date": "2026-12-01"}},
            "at": {"value": {"type": "datetimepicker", "selected_date_time": 1764583200}},
            "empty": {"value": {"type": "plain_text_input", "value": None}},
        }
    )
    event, origin = normalize.view_submission(payload, CPH)
    assert isinstance(event, FormSubmitted)
    assert event.data == "agenda.propose|{}"
    assert event.values == {
        "comment": "Godt samarbejde",
        "anonymous": "true",
        "committee": "7",
        "date": "2026-12-01",
        "at": "2025-12-01T11:00",
        "empty": "",
    }
    assert event.message == MessageRef("slack", "C1", "1.2")
    assert event.delivery_id == f"view:{payload['trigger_id']}"
    assert origin.kind == "view_submission"


def test_slash_command_keeps_the_text_for_the_router() -> None:
    event, origin = normalize.slash_command(fixture("slash_command"))
    assert isinstance(event, CommandInvoked)
    assert (event.command, event.text) == ("/med", "forslag")
    assert event.trigger == fixture("slash_command")["trigger_id"]
    assert event.conversation is not None and not event.conversation.is_direct
    assert origin.response_url


def test_shortcuts_are_the_forslag_command() -> None:
    found = normalize.shortcut(fixture("shortcut"))
    assert found is not None
    assert (found[0].command, found[0].text) == ("forslag", "")
    found = normalize.shortcut(fixture("message_action"))
    assert found is not None
    event, origin = found
    assert origin.response_url and origin.channel_id == "C0HJEMPLEJE"
    assert event.command == "forslag"
    assert event.text == "Vi mangler en fast procedure for overlevering mellem vagter"
    assert event.trigger
    unknown = fixture("shortcut")
    unknown["callback_id"] = "someone_elses"
    assert normalize.shortcut(unknown) is None


def test_events() -> None:
    home = normalize.event_callback(fixture("app_home_opened"))
    assert home is not None
    assert isinstance(home[0], CommandInvoked) and home[0].command == "home"
    assert home[0].delivery_id == "Ev0HOME0001"
    messages_tab = fixture("app_home_opened")
    messages_tab["event"]["tab"] = "messages"
    assert normalize.event_callback(messages_tab) is None

    dm = normalize.event_callback(fixture("message_im"))
    assert dm is not None
    assert isinstance(dm[0], MessageReceived) and dm[0].text == "hjælp"
    own = fixture("message_im")
    own["event"]["bot_id"] = "B0MEDBOT"
    assert normalize.event_callback(own) is None
    edited = fixture("message_im")
    edited["event"]["subtype"] = "message_changed"
    assert normalize.event_callback(edited) is None

    joined = normalize.event_callback(fixture("member_joined_channel"))
    assert joined is not None
    assert isinstance(joined[0], MemberJoined)
    assert joined[0].reference["channel_id"] == "C0HJEMPLEJE"


def test_the_retry_button_repeats_the_original_interaction() -> None:
    click = normalize.block_action(fixture("block_actions"))
    assert click is not None
    payload = fixture("block_actions")
    payload["actions"][0].update(
        action_id="medpuls.retry", value=normalize.retry_value(click[0]) or ""
    )
    again = normalize.retry_click(payload)
    assert again is not None
    assert isinstance(again[0], ButtonClicked) and again[0].data == "pulse.answer|{}"

    command, _ = normalize.slash_command(fixture("slash_command"))
    payload["actions"][0]["value"] = normalize.retry_value(command) or ""
    again = normalize.retry_click(payload)
    assert again is not None
    assert isinstance(again[0], CommandInvoked)
    assert (again[0].command, again[0].text) == ("/med", "forslag")
    assert json.loads(payload["actions"][0]["value"])["c"] == "/med"

"""Recorded Teams activities (adapters/teams/fixtures) to normalised events."""

from __future__ import annotations

import pytest

from adapters.teams.normalize import classify, reference_keys, reference_of
from bot.core.events import (
    ButtonClicked,
    CommandInvoked,
    FormSubmitted,
    MemberJoined,
    MessageReceived,
    OtherEvent,
)
from tests.teams_support import AAD, USER, fixture


def test_personal_command_word() -> None:
    event = classify(fixture("message_personal"))
    assert isinstance(event, CommandInvoked)
    assert event.command == "" and event.text == "hjælp"
    assert event.delivery_id == "1732439523123"
    assert event.actor.directory_id == AAD and event.actor.locale == "da-DK"
    assert event.conversation is not None and event.conversation.is_direct


def test_channel_mention_is_stripped() -> None:
    event = classify(fixture("message_channel_mention"))
    assert isinstance(event, CommandInvoked)
    assert event.text == "forslag Bedre kaffe i frokoststuen"
    assert event.conversation is not None and not event.conversation.is_direct


def test_plain_message_is_a_message() -> None:
    event = classify(fixture("message_personal", text="Hvornår er næste møde?"))
    assert isinstance(event, MessageReceived) and event.text == "Hvornår er næste møde?"


def test_invoke_and_submit_give_the_same_button_click() -> None:
    invoke = classify(fixture("invoke_card_action"))
    submit = classify(fixture("submit_message"))
    for event in (invoke, submit):
        assert isinstance(event, ButtonClicked)
        assert event.data.startswith("test.answer|")
        assert event.message is not None and event.message.message_id == "1732439600000"
        assert "medpuls" not in event.inputs
    assert isinstance(submit, ButtonClicked) and submit.inputs == {
        "comment": "Mere tid til kerneopgaven"
    }
    assert isinstance(invoke, ButtonClicked) and invoke.delivery_id == "f:8416502931225710211"


def test_form_submit_joins_date_and_time() -> None:
    event = classify(fixture("form_submit_invoke"))
    assert isinstance(event, FormSubmitted)
    assert event.data == "test.form|{}"
    assert event.values == {
        "title": "Bedre kaffe",
        "anonymous": "true",
        "meeting": "2025-12-04T13:30",
    }


@pytest.mark.parametrize("name", ["installation_update_personal", "conversation_update_team"])
def test_installs_are_member_joined_with_a_reference(name: str) -> None:
    event = classify(fixture(name))
    assert isinstance(event, MemberJoined)
    assert event.reference["serviceUrl"] == "https://smba.trafficmanager.net/emea/"
    assert event.reference["conversation"]["tenantId"] == "9e8d7c6b-5a49-4382-9170-6f5e4d3c2b1a"


def test_reference_keys_and_channel_reference_points_at_the_channel() -> None:
    assert reference_keys(fixture("message_personal")) == [f"user:{USER}", f"user:{AAD}"]
    channel = fixture("message_channel_mention")
    assert reference_keys(channel) == [
        "channel:19:hjemmeplejen-nord@thread.tacv2",
        "team:19:team-social@thread.tacv2",
    ]
    assert reference_of(channel)["conversation"]["id"] == "19:hjemmeplejen-nord@thread.tacv2"
    assert "name" not in reference_of(channel)["user"]


def test_unknown_and_uninstall_activities() -> None:
    assert classify(fixture("installation_update_personal", action="remove")) is None
    other = classify(fixture("invoke_card_action", name="composeExtension/query"))
    assert isinstance(other, OtherEvent)
    foreign = fixture("submit_message", value={"something": "else"})
    assert isinstance(classify(foreign), OtherEvent)

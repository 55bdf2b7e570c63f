"""Neutral messages and forms as Adaptive Cards: version, actions, size limit."""

from __future__ import annotations

import json

from adapters.teams.cards import (
    MAX_MESSAGE_BYTES,
    message_activity,
    render_form,
    render_message,
    size_of,
)
from bot.core import messages as msg
from bot.core.i18n import translator

DA = translator("da")
EN = translator("en")


def _actions(card: dict) -> list[dict]:  # type: ignore[type-arg]
    return [a for e in card["body"] if e["type"] == "ActionSet" for a in e["actions"]]


def test_pulse_question_card() -> None:
    buttons = [
        msg.Button(label=str(v), data=f"pulse.answer|{v}", selected=v == 3) for v in range(1, 6)
    ]
    message = msg.Message(
        summary="Ugens puls",
        parts=[
            msg.Header(text="Ugens puls"),
            msg.Buttons(
                buttons=buttons, label="Jeg har *tillid* til ledelsen", ends=("Uenig", "Enig")
            ),
            msg.Divider(),
            msg.SmallPrint(text="Anonymt"),
        ],
    )
    card = render_message(message, DA)
    assert card["type"] == "AdaptiveCard" and card["version"] == "1.5"
    assert card["fallbackText"] == "Ugens puls"
    texts = json.dumps(card, ensure_ascii=False)
    assert "Jeg har **tillid** til ledelsen" in texts and "Uenig" in texts and "Enig" in texts
    actions = _actions(card)
    assert [a["type"] for a in actions] == ["Action.Execute"] * 5
    for action in actions:
        assert action["fallback"]["type"] == "Action.Submit"
        assert action["fallback"]["data"] == action["data"]
    assert [a.get("style") for a in actions] == [None, None, "positive", None, None]
    assert actions[2]["data"] == {"medpuls": "pulse.answer|3"}
    assert card["body"][-1]["separator"] is True


def test_image_is_linked_by_public_url_and_facts_are_a_factset() -> None:
    message = msg.Message(
        summary="Resultat",
        parts=[
            msg.Facts(facts=[msg.Fact(label="Tillid", value="4,1")]),
            msg.Image(image_id="abc", alt="Graf"),
        ],
    )
    card = render_message(message, DA, lambda i: f"https://medpuls.example/images/{i}.png")
    assert card["body"][0] == {"type": "FactSet", "facts": [{"title": "Tillid", "value": "4,1"}]}
    assert card["body"][1]["url"] == "https://medpuls.example/images/abc.png"
    assert card["body"][1]["altText"] == "Graf"
    no_url = render_message(message, DA)
    assert no_url["body"][1]["type"] == "TextBlock"


def test_huge_messages_are_trimmed_under_28_kb_with_a_count() -> None:
    facts = [msg.Fact(label=f"Forslag {i}", value="x" * 120) for i in range(600)]
    message = msg.Message(
        summary="Digest",
        parts=[
            msg.Header(text="Ugens overblik"),
            msg.Facts(facts=facts),
            msg.Buttons(buttons=[msg.Button(label="Åbn", data="a|{}")]),
        ],
    )
    for t, word in ((DA, "mere"), (EN, "more")):
        card = render_message(message, t)
        activity = message_activity(card, message.summary)
        assert size_of(activity) < MAX_MESSAGE_BYTES
        last = card["body"][-1]["text"]
        assert last.startswith("… ") and word in last
        shown = len(card["body"][1]["facts"])
        assert str(600 - shown) in last
        assert _actions(card), "the buttons survive trimming"


def test_one_enormous_text_is_cut() -> None:
    card = render_message(msg.Message(summary="x", parts=[msg.Text(text="ord " * 20_000)]), EN)
    assert size_of(card) < MAX_MESSAGE_BYTES
    assert card["body"][0]["text"].endswith("…")


def test_form_card_inputs_and_errors() -> None:
    form = msg.Form(
        data="agenda.propose|{}",
        title="Foreslå et punkt",
        submit="Send",
        intro="Til Hoved-MED",
        fields=[
            msg.Field_(name="title", label="Overskrift", max_length=200, placeholder="Kort"),
            msg.Field_(
                name="issue", label="Sagen", kind="textarea", hint="Hvad drejer det sig om?"
            ),
            msg.Field_(
                name="who",
                label="Hvem",
                kind="choice",
                options=[msg.Option(value="me", label="Mig")],
            ),
            msg.Field_(name="anonymous", label="Anonymt", kind="checkbox", required=False),
            msg.Field_(name="when", label="Hvornår", kind="datetime", initial="2025-12-04T13:30"),
        ],
    )
    card = render_form(form, DA, errors={"title": "Skal udfyldes"}, values={"title": ""})
    by_id = {e.get("id"): e for e in card["body"] if "id" in e}
    assert by_id["title"]["type"] == "Input.Text" and by_id["title"]["maxLength"] == 200
    assert by_id["issue"]["isMultiline"] is True
    assert by_id["who"]["choices"] == [{"title": "Mig", "value": "me"}]
    assert by_id["anonymous"]["type"] == "Input.Toggle"
    assert by_id["when__date"]["value"] == "2025-12-04" and by_id["when__time"]["value"] == "13:30"
    assert any(e.get("color") == "Attention" and e["text"] == "Skal udfyldes" for e in card["body"])
    [submit] = _actions(card)
    assert submit["data"] == {"medpuls_form": "agenda.propose|{}"}
    assert submit["fallback"]["type"] == "Action.Submit"

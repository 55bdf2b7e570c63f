"""Block Kit rendering stays within Slack's limits, whatever a flow hands it."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.slack import blocks
from adapters.slack.blocks import FormOrigin, render_home, render_message, render_modal
from bot.core import messages as msg


def _check_limits(rendered: list[dict[str, object]], max_blocks: int) -> None:
    """Every limit Slack enforces on what we render, checked on the JSON we would send."""
    assert len(rendered) <= max_blocks
    for block in rendered:
        kind = block["type"]
        if kind == "header":
            assert 1 <= len(block["text"]["text"]) <= 150  # type: ignore[index]
        if kind == "section":
            if "text" in block:
                assert 1 <= len(block["text"]["text"]) <= 3000  # type: ignore[index]
            for field in block.get("fields", []):  # type: ignore[attr-defined]
                assert len(field["text"]) <= 2000
            assert len(block.get("fields", [])) <= 10  # type: ignore[arg-type]
        if kind == "actions":
            elements = block["elements"]
            assert 1 <= len(elements) <= 25  # type: ignore[arg-type]
            ids = [e["action_id"] for e in elements]  # type: ignore[attr-defined]
            assert len(set(ids)) == len(ids)
            for e in elements:  # type: ignore[attr-defined]
                assert len(e["text"]["text"]) <= 75
                assert len(e["value"]) <= 2000
                assert len(e["action_id"]) <= 255
        if kind == "context":
            assert len(block["elements"]) <= 10  # type: ignore[arg-type]
        if kind == "input":
            element = block["element"]
            assert len(element.get("options", [])) <= 100  # type: ignore[attr-defined]
            for option in element.get("options", []):  # type: ignore[attr-defined]
                assert len(option["text"]["text"]) <= 75
                assert len(option["value"]) <= 150


def _scale(selected: int | None = None) -> msg.Buttons:
    return msg.Buttons(
        label="Jeg kan regne med min nærmeste leder",
        ends=("Helt uenig", "Helt enig"),
        buttons=[
            msg.Button(label=str(v), data=f'pulse.answer|{{"v":{v}}}', selected=v == selected)
            for v in range(1, 6)
        ],
    )


def test_a_pulse_question_is_a_row_of_five_buttons_with_labelled_ends() -> None:
    rendered = render_message(msg.Message(summary="Ugens puls", parts=[_scale(selected=4)]))
    section, actions, ends = rendered.blocks
    assert section["text"]["text"] == "Jeg kan regne med min nærmeste leder"
    assert [e["text"]["text"] for e in actions["elements"]] == ["1", "2", "3", "4", "5"]
    assert [e.get("style") for e in actions["elements"]] == [None, None, None, "primary", None]
    assert actions["elements"][0]["value"] == 'pulse.answer|{"v":1}'
    assert all(e["action_id"].startswith("medpuls.") for e in actions["elements"])
    assert ends["elements"][0]["text"] == "1 = Helt uenig   ·   5 = Helt enig"
    assert rendered.text == "Ugens puls"


def test_slack_control_characters_are_escaped() -> None:
    rendered = render_message(
        msg.Message(summary="a < b & c", parts=[msg.Text(text="<@U123> & co")])
    )
    assert rendered.blocks[0]["text"]["text"] == "&lt;@U123&gt; &amp; co"
    assert rendered.text == "a &lt; b &amp; c"


def test_a_long_text_is_split_over_sections_not_cut() -> None:
    paragraph = "Ord " * 400  # 1,600 characters
    text = "\n\n".join([paragraph] * 5)
    rendered = render_message(msg.Message(summary="lang", parts=[msg.Text(text=text)]))
    assert len(rendered.blocks) >= 3
    _check_limits(rendered.blocks, 50)
    joined = " ".join(b["text"]["text"] for b in rendered.blocks)
    assert joined.split() == text.split()
    assert not rendered.truncated


def test_too_many_blocks_end_in_and_n_more_in_the_right_language() -> None:
    parts = [msg.Text(text=f"Forslag {i}") for i in range(80)]
    da = render_message(msg.Message(summary="triage", parts=list(parts)), lang="da")
    assert len(da.blocks) == 50
    assert da.blocks[-1]["elements"][0]["text"] == "… og 31 mere"
    assert da.truncated
    en = render_message(msg.Message(summary="triage", parts=list(parts)), lang="en")
    assert en.blocks[-1]["elements"][0]["text"] == "… and 31 more"


def test_long_labels_are_cut_with_an_ellipsis() -> None:
    message = msg.Message(
        summary="x",
        parts=[
            msg.Header(text="H" * 400),
            msg.Buttons(buttons=[msg.Button(label="B" * 200, data="x|{}")]),
            msg.Facts(facts=[msg.Fact(label="L", value="V" * 5000)] * 23),
            msg.SmallPrint(text="C" * 5000),
            msg.Divider(),
        ],
    )
    rendered = render_message(message)
    _check_limits(rendered.blocks, 50)
    assert rendered.blocks[0]["text"]["text"].endswith("…")
    # 23 facts: three sections of at most ten fields.
    assert sum(1 for b in rendered.blocks if "fields" in b) == 3


def test_more_than_25_buttons_make_several_action_rows() -> None:
    row = msg.Buttons(buttons=[msg.Button(label=str(i), data=f'x|{{"i":{i}}}') for i in range(60)])
    rendered = render_message(msg.Message(summary="x", parts=[row]))
    _check_limits(rendered.blocks, 50)
    assert [len(b["elements"]) for b in rendered.blocks] == [25, 25, 10]
    ids = [e["action_id"] for b in rendered.blocks for e in b["elements"]]
    assert len(set(ids)) == 60


def test_images_are_not_blocks_but_uploads() -> None:
    message = msg.Message(
        summary="x", parts=[msg.Text(text="a"), msg.Image(image_id="img1", alt="Graf")]
    )
    rendered = render_message(message)
    assert [b["type"] for b in rendered.blocks] == ["section"]
    assert [i.image_id for i in rendered.images] == ["img1"]


def test_home_view_allows_100_blocks() -> None:
    parts = [msg.Text(text=f"Linje {i}") for i in range(150)]
    view = render_home(msg.Message(summary="x", parts=list(parts)), lang="en")
    assert view["type"] == "home"
    assert len(view["blocks"]) == 100
    assert view["blocks"][-1]["elements"][0]["text"] == "… and 51 more"


def _form(**kw: object) -> msg.Form:
    fields = kw.pop(
        "fields",
        [
            msg.Field_(name="title", label="Overskrift", max_length=200),
            msg.Field_(name="issue", label="Hvad drejer det sig om?", kind="textarea"),
            msg.Field_(name="anonymous", label="Anonym", kind="checkbox", hint="Vis ikke mit navn"),
            msg.Field_(
                name="committee",
                label="Udvalg",
                kind="choice",
                options=[msg.Option(value="1", label="Hoved-MED")],
                initial="1",
            ),
            msg.Field_(name="when", label="Dato", kind="date", required=False),
        ],
    )
    return msg.Form(
        data='agenda.propose|{"c":1}', title="Forslag til MED", submit="Send", fields=fields, **kw
    )  # type: ignore[arg-type]


def test_a_form_is_a_modal_carrying_its_data() -> None:
    origin = FormOrigin(data='agenda.propose|{"c":1}', channel_id="C1", message_ts="1.2")
    view = render_modal(_form(intro="Skriv dit forslag"), origin)
    assert view["type"] == "modal"
    assert view["callback_id"] == "medpuls_form:agenda.propose"
    assert FormOrigin.load(view["private_metadata"]) == origin
    assert view["title"]["text"] == "Forslag til MED"
    assert view["close"]["text"] == "Annuller"
    intro, *inputs = view["blocks"]
    assert intro["text"]["text"] == "Skriv dit forslag"
    assert [b["block_id"] for b in inputs] == ["title", "issue", "anonymous", "committee", "when"]
    assert inputs[0]["element"]["max_length"] == 200
    assert inputs[1]["element"]["multiline"] is True
    assert inputs[2]["element"]["type"] == "checkboxes"
    assert inputs[3]["element"]["initial_option"]["value"] == "1"
    assert inputs[4]["optional"] is True


def test_a_modal_title_is_cut_to_24_characters_and_options_to_100() -> None:
    many = [msg.Option(value=f"v{i}", label=f"Enhed nummer {i}") for i in range(250)]
    form = _form(fields=[msg.Field_(name="unit", label="Enhed", kind="choice", options=many)])
    form = form.model_copy(update={"title": "Forslag til MED-udvalgets næste møde"})
    view = render_modal(form, FormOrigin(data=form.data), lang="en")
    assert len(view["title"]["text"]) == 24
    assert view["title"]["text"].endswith("…")
    options = view["blocks"][0]["element"]["options"]
    assert len(options) == 100
    assert options[-1]["text"]["text"] == "… and 151 more"
    _check_limits(view["blocks"], 100)


def test_a_modal_with_too_many_fields_still_fits() -> None:
    fields = [msg.Field_(name=f"f{i}", label=f"Felt {i}") for i in range(130)]
    view = render_modal(_form(fields=fields), FormOrigin(data="x|{}"))
    _check_limits(view["blocks"], 100)
    assert view["blocks"][-1]["elements"][0]["text"] == "… og 31 mere"


def test_private_metadata_never_exceeds_3000_characters() -> None:
    origin = FormOrigin(data="x|{}", channel_id="C1", response_url="https://h/" + "r" * 4000)
    text = origin.dump()
    assert len(text) <= 3000
    assert json.loads(text)["d"] == "x|{}"


_parts = st.one_of(
    st.builds(msg.Header, text=st.text(min_size=0, max_size=400)),
    st.builds(msg.Text, text=st.text(min_size=0, max_size=9000)),
    st.builds(msg.SmallPrint, text=st.text(max_size=4000)),
    st.builds(
        msg.Facts,
        facts=st.lists(
            st.builds(msg.Fact, label=st.text(max_size=50), value=st.text(max_size=3000)),
            max_size=30,
        ),
    ),
    st.builds(
        msg.Buttons,
        buttons=st.lists(
            st.builds(msg.Button, label=st.text(max_size=120), data=st.text(max_size=255)),
            min_size=1,
            max_size=40,
        ),
        label=st.none() | st.text(max_size=4000),
    ),
    st.just(msg.Divider()),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(_parts, max_size=70))
def test_any_message_renders_within_the_limits(parts: list[object]) -> None:
    rendered = render_message(msg.Message(summary="s", parts=parts))  # type: ignore[arg-type]
    _check_limits(rendered.blocks, blocks.MAX_MESSAGE_BLOCKS)
    assert len(rendered.text) <= blocks.MAX_FALLBACK_TEXT

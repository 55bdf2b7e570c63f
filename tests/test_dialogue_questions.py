"""The team dialogue's open questions live in the question bank files, beside the items."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.core.errors import BankError
from flows.question_bank import DIALOGUE_MAX, DIALOGUE_MIN, load_bank

_DIM = """\
dimensions:
  - id: alpha
    group: social_capital
    label: {da: Alfa, en: Alpha}
"""
_QUESTIONS = """\
questions:
  - id: alpha.1
    dimension: alpha
    da: Spørgsmål?
    en: Question?
    low: {da: Lav, en: Low}
    high: {da: Høj, en: High}
"""


def _bank(tmp_path: Path, dialogue: str) -> Path:
    path = tmp_path / "bank.yaml"
    path.write_text(_DIM + dialogue + _QUESTIONS, encoding="utf-8")
    return path


def _items(count: int) -> str:
    lines = ["    dialogue:"]
    for n in range(count):
        lines += [f"      - da: Hvornår {n}?", f"        en: When {n}?"]
    return "\n".join(lines) + "\n"


def test_every_shipped_dimension_has_two_or_three_dialogue_questions_in_both_languages() -> None:
    bank = load_bank()
    for dim in bank.dimensions.values():
        assert DIALOGUE_MIN <= len(dim.dialogue) <= DIALOGUE_MAX, dim.id
        da, en = dim.dialogue_questions("da"), dim.dialogue_questions("en")
        assert len(da) == len(en) == len(dim.dialogue)
        for da_text, en_text in zip(da, en, strict=True):
            assert da_text.endswith("?") and en_text.endswith("?"), dim.id
            assert da_text != en_text


def test_the_issue_example_for_justice_is_shipped() -> None:
    dim = load_bank().dimensions["justice_conflicts"]
    assert (
        "Hvornår har du sidst oplevet, at en beslutning blev truffet på en måde, du kunne forstå?"
        in dim.dialogue_questions("da")
    )


def test_an_edited_file_is_what_the_bank_serves(tmp_path: Path) -> None:
    bank = load_bank([_bank(tmp_path, _items(3))])
    assert bank.dimensions["alpha"].dialogue_questions("en") == ("When 0?", "When 1?", "When 2?")


def test_dialogue_may_be_left_out(tmp_path: Path) -> None:
    assert load_bank([_bank(tmp_path, "")]).dimensions["alpha"].dialogue == ()


@pytest.mark.parametrize("count", [1, 4])
def test_wrong_number_of_dialogue_questions_names_file_and_line(tmp_path: Path, count: int) -> None:
    with pytest.raises(BankError) as info:
        load_bank([_bank(tmp_path, _items(count))])
    message = str(info.value)
    assert message.startswith(f"{tmp_path / 'bank.yaml'}:6: dimensions[0].dialogue: ")
    assert f"2-3 dialogue questions, not {count}" in message


def test_missing_english_dialogue_text_names_its_line(tmp_path: Path) -> None:
    text = "    dialogue:\n      - da: Hvornår?\n        en: When?\n      - da: Hvorfor?\n"
    with pytest.raises(BankError) as info:
        load_bank([_bank(tmp_path, text)])
    assert str(info.value) == (
        f"{tmp_path / 'bank.yaml'}:8: dimensions[0].dialogue[1].en: English text ('en') is missing"
    )

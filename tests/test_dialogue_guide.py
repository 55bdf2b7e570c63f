"""The leader's dialogue guide: two strongest and two weakest dimensions from shown figures only,
each with the bank's open questions, in Danish and English."""

from __future__ import annotations

import io

import docx
from docx.oxml.ns import qn

from bot.core.i18n import translator
from flows.dialogue import build_guide, dialogue_guide, shown_dimension_scores
from flows.dialogue_export import guide_docx
from flows.question_bank import default_bank
from storage.db import Database
from tests.fake_platform import plain
from tests.test_digest_data import Org, weeks_ago


def _labels(lang: str, *dims: str) -> list[str]:
    bank = default_bank()
    return [bank.dimensions[d].label.get("da" if lang == "da" else "en") for d in dims]


def test_guide_picks_two_strongest_and_two_weakest_with_their_questions(db_url: str) -> None:
    db = Database(db_url)
    with db.session() as s:
        org = Org(s)
        org.unit("K", members=10)
        r = org.round(
            "K",
            weeks_ago(1),
            {
                "trust_vertical.1": [5, 5, 5, 5, 4, 5],
                "bonding.1": [4, 4, 4, 4, 4, 4],
                "linking.1": [3, 3, 3, 3, 3, 3],
                "justice_conflicts.1": [2, 2, 2, 1, 2, 2],
                "rc_timely.1": [1, 1, 1, 1, 2, 1],
                # Four answers: below the threshold, so it may not take part in the ranking
                # (it would otherwise be the weakest of all).
                "justice_voice.1": [1, 1, 1, 1],
            },
        )
        scores = shown_dimension_scores(s, r)
        da = plain(dialogue_guide(s, r, translator("da")))
        en = plain(dialogue_guide(s, r, translator("en")))
    assert [x.dimension for x in scores] == [
        "trust_vertical",
        "bonding",
        "linking",
        "justice_conflicts",
        "rc_timely",
    ]
    strong, weak = da.split("Det kan vi arbejde med")
    for label in _labels("da", "trust_vertical", "bonding"):
        assert label in strong
    for label in _labels("da", "rc_timely", "justice_conflicts"):
        assert label in weak
    for label in _labels("da", "linking", "justice_voice"):
        assert label not in da
    assert "en beslutning blev truffet på en måde, du kunne forstå?" in weak
    assert "When did you last see a decision made in a way you could understand?" in en
    assert "Det lykkes for os" in strong
    db.dispose()


def test_guide_says_too_few_when_nothing_may_be_shown(db_url: str) -> None:
    db = Database(db_url)
    with db.session() as s:
        org = Org(s)
        org.unit("K", members=8)
        r = org.round("K", weeks_ago(1), {"trust_vertical.1": [1, 2, 1, 2], "bonding.1": [5] * 4})
        assert shown_dimension_scores(s, r) == []
        text = plain(dialogue_guide(s, r, translator("da")))
    assert "for få viste resultater" in text
    for label in _labels("da", "trust_vertical", "bonding"):
        assert label not in text
    db.dispose()


def test_docx_export_is_one_a4_page_in_danish(db_url: str) -> None:
    db = Database(db_url)
    with db.session() as s:
        org = Org(s)
        org.unit("K", members=10)
        r = org.round(
            "K",
            weeks_ago(1),
            {
                "justice_distribution.1": [5] * 6,
                "justice_conflicts.1": [4] * 6,
                "trust_vertical.1": [2] * 6,
                "rc_timely.1": [1] * 6,
            },
        )
        guide = build_guide(s, r, translator("da"))
    document = docx.Document(io.BytesIO(guide_docx(guide)))
    section = document.sections[0]
    assert (round(section.page_width.mm), round(section.page_height.mm)) == (210, 297)
    lang = document.styles["Normal"].element.rPr.find(qn("w:lang"))
    assert lang.get(qn("w:val")) == "da-DK"
    assert document.core_properties.language == "da-DK"
    text = "\n".join(p.text for p in document.paragraphs)
    assert guide.title in text and "*" not in text
    assert "Hvem får de svære opgaver hos os, og hvordan bliver det besluttet?" in text
    # One page: the largest guide (four dimensions with three questions each) stays within a
    # line budget that fits 257 mm of 10.5 pt text with headings.
    assert len(document.paragraphs) <= 24
    assert all(len(p.text) <= 200 for p in document.paragraphs)
    db.dispose()

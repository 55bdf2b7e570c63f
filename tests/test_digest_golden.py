"""Golden files of the rendered digest (local HTML, Slack blocks, Teams card), da and en.

Regenerate after an intended change with MEDPULS_UPDATE_GOLDEN=1 and review the diff.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import time_machine

from adapters.local.html import render_message as render_html
from adapters.slack.blocks import render_message as render_slack
from adapters.teams.cards import render_message as render_teams
from bot.core.config import Settings
from bot.core.i18n import Lang, translator
from bot.core.messages import Message
from flows.digest import leader_message, load_picture
from storage.db import Database
from storage.models import Committee, Meeting, Proposal
from tests.test_digest_data import MONDAY, Org, weeks_ago

GOLDEN = Path(__file__).parent / "golden"
SOCIAL = "Eksempel Kommune/Social og Sundhed"


def fixed_digest(db_url: str, lang: Lang) -> Message:
    """A leader's digest over fixed data: three units below, one too small to show alone."""
    db = Database(db_url)
    with db.session() as s:
        org = Org(s)
        org.unit("Eksempel Kommune")
        org.unit(SOCIAL)
        org.unit(f"{SOCIAL}/Hjemmeplejen Nord", members=10)
        org.unit(f"{SOCIAL}/Hjemmeplejen Syd", members=8)
        org.unit(f"{SOCIAL}/Natholdet", members=3)
        plan = [
            (9, "trust_vertical.1", [4, 4, 3, 5, 4, 3, 4], [3, 4, 4, 3, 2, 3], [2, 3]),
            (7, "justice_voice.1", [3, 3, 4, 2, 3, 4, 3], [4, 4, 5, 3, 4], [4, 4]),
            (5, "trust_vertical.2", [5, 4, 4, 5, 4, 4, 3, 4], [3, 3, 4, 2, 3, 4], [3]),
            (3, "justice_voice.2", [2, 3, 2, 3, 3, 2, 4], [3, 3, 2, 3, 4], [2, 2]),
            (1, "trust_vertical.1", [4, 5, 4, 4, 5, 4, 4, 3], [2, 3, 3, 2, 3, 3], [4, 4]),
            (1, "bonding.1", [4, 4, 4, 5, 3, 4, 4, 4], [4, 3, 4, 4, 3, 3], [5, 5]),
        ]
        for ago, qid, nord, syd, nat in plan:
            when = weeks_ago(ago)
            org.round(f"{SOCIAL}/Hjemmeplejen Nord", when, {qid: nord})
            org.round(f"{SOCIAL}/Hjemmeplejen Syd", when, {qid: syd})
            org.round(f"{SOCIAL}/Natholdet", when, {qid: nat})
        committee = Committee(name="MED Social og Sundhed", unit_id=org.units[SOCIAL].id)
        s.add(committee)
        s.flush()
        meeting = Meeting(
            committee_id=committee.id,
            starts_at=MONDAY.replace(day=1, month=2),
            proposal_deadline=MONDAY.replace(day=1, month=1),
            agenda_release=MONDAY.replace(day=20, month=1),
        )
        s.add(meeting)
        s.flush()
        for status, meeting_id in (("new", None), ("new", None), ("on_agenda", meeting.id)):
            s.add(
                Proposal(
                    committee_id=committee.id,
                    meeting_id=meeting_id,
                    title="Forslag",
                    issue="Noget",
                    status=status,
                )
            )
        s.flush()
        picture = load_picture(s, Settings(DATABASE_URL=db_url), MONDAY)
        message = leader_message(picture, org.units[SOCIAL].id, translator(lang), "golden-chart")
    db.dispose()
    return message


def _check(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("MEDPULS_UPDATE_GOLDEN") == "1":
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"{path} missing: run with MEDPULS_UPDATE_GOLDEN=1"
    assert text == path.read_text(encoding="utf-8"), f"{name} differs from its golden file"


def _json(payload: object) -> str:
    return json.dumps(payload, ensure_ascii=False, indent=2, sort_keys=True) + "\n"


@pytest.mark.parametrize("lang", ["da", "en"])
def test_rendered_digest_matches_golden_files(sqlite_url: str, lang: Lang) -> None:
    with time_machine.travel(MONDAY, tick=False):
        message = fixed_digest(sqlite_url, lang)
    _check(f"digest_{lang}.html", render_html(message) + "\n")
    slack = render_slack(message, lang=lang)
    _check(
        f"digest_{lang}.slack.json",
        _json(
            {
                "text": slack.text,
                "blocks": slack.blocks,
                "images": [i.model_dump() for i in slack.images],
            }
        ),
    )
    card = render_teams(
        message, translator(lang), lambda image_id: f"https://medpuls.example/images/{image_id}.png"
    )
    _check(f"digest_{lang}.teams.json", _json(card))


def test_the_same_data_gives_the_same_digest_on_postgres(db_url: str) -> None:
    with time_machine.travel(MONDAY, tick=False):
        message = fixed_digest(db_url, "da")
    assert render_html(message) + "\n" == (GOLDEN / "digest_da.html").read_text(encoding="utf-8")

"""The heat map of units × dimensions in a leader's digest (issue 17, point 7): only figures the
digest's gate and ledger let through, blank cells for the rest, said in a legend; one map per
unit with units below it, none for a leader of one unit; delivered as the digest chart is."""

from __future__ import annotations

import io
import json
import re

import time_machine
from PIL import Image as PILImage
from sqlalchemy import select

from adapters.local.html import render_message as local_html
from adapters.slack.blocks import render_message as slack_blocks
from adapters.teams.cards import render_message as teams_card
from bot.core.config import Settings
from bot.core.i18n import translator
from bot.core.messages import Image, Message, SmallPrint
from flows.digest import queue_leader_digests
from flows.heatmap import HeatMap, HeatRow, colour, heatmap_png, rows_below
from storage.db import Database
from storage.models import OutboxMessage, StoredImage
from tests.test_digest_data import MONDAY, Org, weeks_ago

Q = "trust_vertical.1"
VOICE = "justice_voice.1"


def _digests(db: Database) -> dict[int, Message]:
    with db.session() as s:
        rows = s.scalars(select(OutboxMessage).where(OutboxMessage.purpose == "digest.leader"))
        return {int(o.address): Message.model_validate(o.payload) for o in rows}


def _heat(message: Message) -> Image | None:
    return next(
        (p for p in message.parts if isinstance(p, Image) and p.alt.startswith("Varmekort")),
        None,
    )


def test_small_units_are_blank_cells_and_the_parent_shows_what_the_digest_shows(
    db_url: str,
) -> None:
    db = Database(db_url)
    with db.session() as s:
        org = Org(s)
        for path, people in (
            ("Kommune", 0),
            ("Kommune/Social", 0),
            ("Kommune/Social/Lille", 4),
            ("Kommune/Social/Stor", 6),
            ("Kommune/Social/Mellem", 7),
        ):
            org.unit(path, members=people)
        social = org.leader("Kommune/Social", "Inger Holm")
        small = org.leader("Kommune/Social/Lille", "Lise Lille")
        org.round("Kommune/Social/Lille", weeks_ago(1), {Q: [1, 1, 1, 1]})
        org.round("Kommune/Social/Stor", weeks_ago(1), {Q: [5] * 6, VOICE: [4] * 6})
        org.round("Kommune/Social/Mellem", weeks_ago(1), {Q: [3] * 7, VOICE: [2] * 7})
        ids = social.id, small.id
    settings = Settings(DATABASE_URL=db_url)
    with time_machine.travel(MONDAY, tick=False), db.session() as s:
        assert queue_leader_digests(s, settings, MONDAY, due_only=False) == 2
    digests = _digests(db)
    social_digest, small_digest = (digests[i] for i in ids)
    heat = _heat(social_digest)
    assert heat is not None and _heat(small_digest) is None
    # "...: 4 enheder og 2 dimensioner. Lavest pr. enhed: Social: X 50; .... Uden tal: Lille."
    lowest, _, blank = heat.alt.split("Lavest pr. enhed: ", 1)[1].partition(" Uden tal: ")
    rows = dict(row.split(": ", 1) for row in lowest.rstrip(".").split("; "))
    # The small unit's four never appear; the parent's lowest is the figure its digest shows.
    assert "Lille" in blank and "Lille" not in rows
    dimension, score = rows["Social"].rsplit(" ", 1)
    social_text = " ".join(p.model_dump_json() for p in social_digest.parts)
    assert re.search(rf"{dimension}\",\"value\":\"{score}\b", social_text), rows
    # The legend says what a blank cell means, in the message as well as in the picture.
    legend = social_digest.parts[social_digest.parts.index(heat) + 1]
    assert isinstance(legend, SmallPrint) and "tomt felt" in legend.text.lower()
    with db.session() as s:
        stored = s.get(StoredImage, heat.image_id)
        assert stored is not None
        assert PILImage.open(io.BytesIO(stored.png)).size[0] == 900
    db.dispose()


def test_blank_cells_are_white_and_shown_cells_carry_their_colour() -> None:
    t = translator("da")
    heat = HeatMap(
        title="Social: enheder og dimensioner",
        dimensions=[("a", "At blive hørt"), ("b", "Tillid mellem kolleger")],
        rows=[HeatRow("Social", 0, {"a": 20.0, "b": 80.0}), HeatRow("Lille", 1, {})],
        legend=t("heatmap.legend", weeks=12, minimum=5),
    )
    image = PILImage.open(io.BytesIO(heatmap_png(heat))).convert("RGB")
    colours = set(image.getdata())

    def near(target: tuple[int, int, int]) -> bool:  # stored with a 64-colour palette
        return any(sum(abs(a - b) for a, b in zip(c, target, strict=True)) < 24 for c in colours)

    assert near(colour(20.0)) and near(colour(80.0)) and near((255, 255, 255))
    # A middling score is grey, never the white of a blank cell.
    assert max(colour(50.0)) < 230
    assert heat.cells() == 2
    # Low is orange, high is blue, the middle a light grey.
    low, mid, high = colour(0), colour(50), colour(100)
    assert low[0] > low[2] and high[2] > high[0] and min(mid) > 200 - 10


def test_a_big_unit_keeps_its_nearest_levels() -> None:
    children: dict[int | None, list[int]] = {1: [2, 3], 2: [4, 5], 3: [6, 7]}
    assert rows_below(1, children) == [(1, 0), (2, 1), (4, 2), (5, 2), (3, 1), (6, 2), (7, 2)]
    assert rows_below(1, children, max_rows=4) == [(1, 0), (2, 1), (3, 1)]
    assert rows_below(4, children) == [(4, 0)]


def test_every_platform_gets_the_map_as_an_image_with_its_words() -> None:
    message = Message(
        summary="Ugens pulsoverblik",
        parts=[
            Image(image_id="h1", alt="Varmekort, Social: Lille: ingen tal"),
            SmallPrint(text="Et tomt felt: for få svar"),
        ],
    )
    html = local_html(message)
    assert (
        '<img class="chart" src="/images/h1.png" alt="Varmekort, Social: Lille: ingen tal"' in html
    )
    card = teams_card(
        message, translator("da"), lambda i: f"https://medpuls.example/images/{i}.png"
    )
    images = [e for e in card["body"] if e.get("type") == "Image"]
    assert images and images[0]["altText"].startswith("Varmekort")
    rendered = slack_blocks(message)
    assert [i.image_id for i in rendered.images] == ["h1"]
    assert any("tomt felt" in str(b) for b in rendered.blocks)


async def test_slack_gets_an_image_block_where_it_can_fetch_the_map(sqlite_url: str) -> None:
    """With a public address Slack shows the map in the message (an image block, its alt text
    as the words); without one it is uploaded beside the message, as charts always were."""
    from adapters.slack.platform import SlackPlatform, make_slack_platform
    from bot.core.platform import Address
    from tests.fakes.slack_api import FakeSlack

    db = Database(sqlite_url)
    with db.session() as s:
        s.add(StoredImage(id="heat1", png=b"\x89PNG\r\n\x1a\n" + b"x" * 100))
    message = Message(
        summary="Ugens pulsoverblik",
        parts=[
            Image(image_id="heat1", alt="Varmekort, Social: 3 enheder. Uden tal: Lille."),
            SmallPrint(text="Et tomt felt: for få svar"),
        ],
    )
    async with FakeSlack() as fake:

        def platform(public_url: str | None = None) -> SlackPlatform:
            settings = Settings(
                DATABASE_URL=db.url,
                SLACK_BOT_TOKEN=fake.bot_token,
                SLACK_SIGNING_SECRET="s3cret",
                SLACK_API_URL=fake.api_url,
                MEDPULS_PUBLIC_URL=public_url,
            )
            return make_slack_platform(settings, db)

        public = platform("https://medpuls.example/")
        await public.post(Address("channel", "C1"), message, dedupe_key="k1")
        assert fake.methods() == ["chat.postMessage"]
        blocks = fake.calls_to("chat.postMessage")[0].args["blocks"]
        if isinstance(blocks, str):
            blocks = json.loads(blocks)
        [image] = [b for b in blocks if b["type"] == "image"]
        assert image["image_url"] == "https://medpuls.example/images/heat1.png"
        assert image["alt_text"].startswith("Varmekort, Social")
        private = platform()
        await private.post(Address("channel", "C1"), message, dedupe_key="k2")
        assert "files.completeUploadExternal" in fake.methods()
    db.dispose()

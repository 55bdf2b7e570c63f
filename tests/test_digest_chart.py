"""The trend chart as an image: size, pixels, one line per dimension; no data, no chart."""

from __future__ import annotations

import datetime as dt
import io

from matplotlib.lines import Line2D
from PIL import Image as PILImage
from sqlalchemy import select

from bot.core.config import Settings
from bot.core.i18n import translator
from bot.core.messages import Image, Text
from flows.charts import HEIGHT_PX, PALETTE, WIDTH_PX, Series, png_of, trend_figure
from flows.digest import chart_png, leader_message, load_picture, queue_leader_digests
from storage.db import Database
from storage.models import StoredImage
from tests.test_digest_data import MONDAY, Org, weeks_ago

WEEKS = [dt.date(2026, 1, 5) + dt.timedelta(weeks=i) for i in range(12)]
SERIES = [
    Series("Tillid", [60, 62, None, 65, 70, None, 68, 66, 64, 70, 72, 75]),
    Series("Retfærdighed", [None, 40, 42, None, 45, 44, 43, None, 50, 52, None, 55]),
    Series("Samarbejde", [80, None, None, 78, None, None, 82, None, None, 85, None, None]),
]


def _hex(rgb: tuple[int, ...]) -> str:
    return "#{:02X}{:02X}{:02X}".format(*rgb[:3])


def test_one_line_per_dimension_and_a_phone_sized_png() -> None:
    fig = trend_figure(WEEKS, SERIES, translator("da"), "Hjemmeplejen Nord")
    lines = [a for a in fig.axes[0].get_children() if isinstance(a, Line2D) and len(a.get_xdata())]
    assert [ln.get_label() for ln in lines] == ["Tillid", "Retfærdighed", "Samarbejde"]
    assert len({ln.get_color() for ln in lines}) == 3
    # Only measured weeks are drawn: nothing is invented for the gaps.
    assert [len(ln.get_xdata()) for ln in lines] == [10, 8, 4]
    png = png_of(fig)
    image = PILImage.open(io.BytesIO(png)).convert("RGB")
    assert image.size == (WIDTH_PX, HEIGHT_PX)
    colours = {_hex(c) for _, c in image.getcolors(maxcolors=WIDTH_PX * HEIGHT_PX) or []}
    assert {PALETTE[0], PALETTE[1], PALETTE[2]} <= colours
    assert PALETTE[3] not in colours
    non_white = sum(1 for p in image.getdata() if p != (255, 255, 255))
    assert non_white > WIDTH_PX * HEIGHT_PX * 0.02


def test_digest_chart_is_stored_and_a_unit_without_data_gets_a_message(db_url: str) -> None:
    db = Database(db_url)
    settings = Settings(DATABASE_URL=db_url)
    with db.session() as s:
        org = Org(s)
        org.unit("K")
        org.unit("K/Med", members=6, leader="Mette")
        org.unit("K/Uden", members=6, leader="Ulla")
        for ago in (3, 2, 1):
            org.round("K/Med", weeks_ago(ago), {"bonding.1": [4, 4, 5, 3, 4, 4]})
        picture = load_picture(s, settings, MONDAY)
        t = translator("en")
        with_data = picture.pulse(org.units["K/Med"].id, "en")
        png = chart_png(picture, with_data, t)
        assert png is not None and png.startswith(b"\x89PNG")
        empty = picture.pulse(org.units["K/Uden"].id, "en")
        assert chart_png(picture, empty, t) is None
        message = leader_message(picture, empty.unit.id, t, None)
        assert not any(isinstance(p, Image) for p in message.parts)
        texts = " ".join(p.text for p in message.parts if isinstance(p, Text))
        assert "There are no results to show for Uden yet" in texts
    with db.session() as s:
        assert queue_leader_digests(s, settings, MONDAY, due_only=False) == 2
    with db.session() as s:
        [stored] = s.scalars(select(StoredImage)).all()
        assert len(stored.id) == 32 and int(stored.id, 16) >= 0
        assert PILImage.open(io.BytesIO(stored.png)).size == (WIDTH_PX, HEIGHT_PX)
    db.dispose()

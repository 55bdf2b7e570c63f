"""What was made faster still decides and draws the same.

The disclosure decision is compared with its earlier, unmemoised version (kept in
tests/data/disclosure_reference.py) on random trees with random history; the fast chart painter
is compared pixel by pixel with matplotlib's full drawing of the same figure.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import io
import random
import sys
from types import ModuleType

from PIL import Image, ImageChops

from bot.core.i18n import translator
from flows.charts import (
    HEIGHT_PX,
    PALETTE,
    WIDTH_PX,
    Series,
    TrendPainter,
    plot_box,
    png_of,
    trend_figure,
)
from flows.disclosure import Cell, decide
from tests.test_digest_chart import SERIES, WEEKS


def _reference() -> ModuleType:
    path = __file__.rsplit("/", 1)[0] + "/data/disclosure_reference.py"
    spec = importlib.util.spec_from_file_location("disclosure_reference", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # Dataclasses look their module up while the class is made.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _random_tree(rng: random.Random) -> list[Cell]:
    cells = [Cell("k0", 0, None)]
    sizes = {"k0": 0}
    for i in range(1, rng.randint(2, 40)):
        parent = rng.choice(list(sizes))
        cells.append(Cell(f"k{i}", 0, parent))
        sizes[f"k{i}"] = 0
    # Counts bottom-up so that children never hold more than their parent.
    own = {c.key: rng.choice([0, 0, 1, 2, 3, 4, 5, 6, 8, 12, 20]) for c in cells}
    total = dict(own)
    for c in reversed(cells):
        if c.parent is not None:
            total[c.parent] += total[c.key]
    return [Cell(c.key, total[c.key], c.parent) for c in cells]


def test_the_memoised_decision_equals_the_earlier_one_on_random_trees() -> None:
    reference = _reference()
    rng = random.Random(20260302)
    for _ in range(400):
        cells = _random_tree(rng)
        keys = [c.key for c in cells]
        history = [set(rng.sample(keys, rng.randint(0, len(keys)))) for _ in range(2)]
        min_size = rng.choice([3, 5, 7])
        new = decide(cells, min_size, history=history)
        old = reference.decide(
            [reference.Cell(c.key, c.respondents, c.parent) for c in cells],
            min_size,
            history=history,
        )
        assert new.shown == old.shown, cells
        assert dict(new.withheld) == dict(old.withheld), cells


def _rgb(png: bytes) -> Image.Image:
    return Image.open(io.BytesIO(png)).convert("RGB")


def test_the_painter_draws_what_matplotlib_draws() -> None:
    t = translator("da")
    title = "Hjemmeplejen Nord: score pr. dimension, 12 uger"
    full = _rgb(png_of(trend_figure(WEEKS, SERIES, t, title)))
    fast = _rgb(TrendPainter(WEEKS, t).png(SERIES, title))
    assert fast.size == full.size == (WIDTH_PX, HEIGHT_PX)
    differ = ImageChops.difference(full, fast).convert("L").point(lambda v: 255 if v > 60 else 0)
    # Only the edges of the lines, which the painter does not anti-alias.
    assert (differ.histogram()[255] / (WIDTH_PX * HEIGHT_PX)) < 0.02
    colours = {"#{:02X}{:02X}{:02X}".format(*c) for _, c in fast.getcolors(1 << 16) or []}
    assert {PALETTE[0], PALETTE[1], PALETTE[2], "#FFFFFF"} <= colours
    assert PALETTE[3] not in colours


def test_charts_sharing_a_frame_differ_only_where_they_should() -> None:
    painter = TrendPainter(WEEKS, translator("en"))
    first = _rgb(painter.png(SERIES, "Team A"))
    other = [Series(s.label, [None if v is None else 100 - v for v in s.scores]) for s in SERIES]
    second = _rgb(painter.png(other, "Team B"))
    again = _rgb(painter.png(SERIES, "Team A"))
    assert ImageChops.difference(first, again).getbbox() is None
    changed = ImageChops.difference(first, second).getbbox()
    assert changed is not None
    # The week labels and the legend below the plot are the frame's, shared by both.
    plot_bottom = HEIGHT_PX * (1 - plot_box(len(SERIES))[1])
    assert changed[3] < plot_bottom + 12


def test_a_painter_keeps_weeks_without_a_figure_empty() -> None:
    weeks = [dt.date(2026, 1, 5) + dt.timedelta(weeks=i) for i in range(12)]
    nothing_measured = [Series("Tillid", [None] * 12)]
    painter = TrendPainter(weeks, translator("da"))
    empty = _rgb(painter.png(nothing_measured, "T"))
    assert not {PALETTE[0]} & {
        "#{:02X}{:02X}{:02X}".format(*c)
        for _, c in empty.crop((0, 0, WIDTH_PX, int(HEIGHT_PX * 0.55))).getcolors(1 << 16) or []
    }

"""A heat map of units × dimensions for a leader of several units, as a PNG and as text.

One look shows where a leader's units stand on every dimension, and which of them is pulling
away from the rest. The cells are the digest's own figures (flows.digest.Picture: the latest
score each unit shows for each dimension in the chart's weeks), which the tree gate and the
publication ledger (flows.ledger) decided for the whole organisation before any digest was
built; so the map shows nothing a digest did not already publish. A unit whose figure may not be
shown (too few answered, or it would open a difference) and a dimension not asked in the weeks
shown both leave a blank cell, and the legend under the map says so.

Drawn with Pillow in this process, a few milliseconds a map: a weekly run draws one for every
unit with units below it, hundreds in a big municipality, where matplotlib would take a tenth of
a second each. The colours run from orange (low) through light grey to blue (high), a
diverging scale that reads the same with the common colour-vision deficiencies.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from PIL import Image as PILImage
from PIL import ImageDraw, ImageFont
from sqlalchemy import insert
from sqlalchemy.orm import Session

from bot.core.i18n import Translator
from bot.core.messages import Image, Part, SmallPrint
from storage.models import StoredImage

if TYPE_CHECKING:
    from flows.digest import Picture

__all__ = [
    "HeatMap",
    "HeatMaps",
    "HeatRow",
    "heatmap_of",
    "heatmap_png",
]

WIDTH_PX = 900
_MARGIN = 16
_ROW_PX = 40
_LABEL_PX = 280
_TITLE_PT = 24
_TEXT_PT = 16
_CELL_PT = 15
# More rows would not read on a phone: a big unit shows its nearest units below it.
MAX_ROWS = 24

# Orange (low) to blue (high) through a light grey: Okabe-Ito's vermillion and blue ends.
_LOW = (213, 94, 0)
_MID = (218, 218, 218)
_HIGH = (0, 114, 178)
_BLANK = (255, 255, 255)
_GRID = (200, 200, 200)
_INK = (20, 20, 20)


@dataclass(frozen=True)
class HeatRow:
    """One unit's row: its name (indented by depth below the leader's unit) and its shown
    scores by dimension id; a dimension missing from `scores` is a blank cell."""

    name: str
    depth: int
    scores: Mapping[str, float]


@dataclass(frozen=True)
class HeatMap:
    title: str
    dimensions: Sequence[tuple[str, str]]  # (id, label), in column order
    rows: Sequence[HeatRow]
    legend: str

    def cells(self) -> int:
        return sum(1 for row in self.rows for d, _ in self.dimensions if d in row.scores)


@cache
def _font(size: int) -> ImageFont.FreeTypeFont:
    import matplotlib  # for its bundled DejaVu Sans: the charts' font, with æ, ø and å

    path = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
    return ImageFont.truetype(str(path), size=round(size * 100 / 72))


def colour(score: float) -> tuple[int, int, int]:
    """The cell colour of a 0-100 score."""
    x = min(100.0, max(0.0, score)) / 50 - 1  # -1 (0) .. 0 (50) .. 1 (100)
    end = _HIGH if x >= 0 else _LOW
    share = abs(x)
    return (
        round(_MID[0] + (end[0] - _MID[0]) * share),
        round(_MID[1] + (end[1] - _MID[1]) * share),
        round(_MID[2] + (end[2] - _MID[2]) * share),
    )


def _ink_on(fill: tuple[int, int, int]) -> tuple[int, int, int]:
    luminance = 0.2126 * fill[0] + 0.7152 * fill[1] + 0.0722 * fill[2]
    return (255, 255, 255) if luminance < 128 else _INK


def _wrap(text: str, font: ImageFont.FreeTypeFont, width: int) -> list[str]:
    lines: list[str] = []
    for paragraph in text.split("\n"):
        line = ""
        for word in paragraph.split():
            candidate = f"{line} {word}".strip()
            if line and font.getlength(candidate) > width:
                lines.append(line)
                line = word
            else:
                line = candidate
        lines.append(line)
    return lines


def _fit(text: str, font: ImageFont.FreeTypeFont, width: float) -> str:
    if font.getlength(text) <= width:
        return text
    while text and font.getlength(text + "…") > width:
        text = text[:-1]
    return text + "…"


# Every map repeats the same few headings and the numbers 0-100: each is rendered once.
@cache
def _heading(label: str, room: int) -> PILImage.Image:
    """A column heading turned to read upwards, as a mask, cut to `room` pixels."""
    font = _font(_TEXT_PT)
    text = _fit(label, font, room)
    strip = PILImage.new("L", (round(font.getlength(text)) + 2, round(_TEXT_PT * 100 / 72 * 1.3)))
    ImageDraw.Draw(strip).text((0, 0), text, font=font, fill=255)
    return strip.rotate(90, expand=True)


@cache
def _figure(number: int) -> PILImage.Image:
    """A cell's number as a mask, cropped to its ink."""
    font = _font(_CELL_PT)
    mask = PILImage.new("L", (60, 40))
    ImageDraw.Draw(mask).text((30, 20), str(number), font=font, fill=255, anchor="mm")
    return mask.crop(mask.getbbox())


def heatmap_png(heat: HeatMap) -> bytes:
    """The map as a PNG: a title, rotated column headings, one row per unit, the legend."""
    title_font, text_font = _font(_TITLE_PT), _font(_TEXT_PT)
    columns = len(heat.dimensions)
    cell_w = (WIDTH_PX - 2 * _MARGIN - _LABEL_PX) // max(1, columns)
    head_h = round(max((text_font.getlength(label) for _, label in heat.dimensions), default=0))
    head_h = min(head_h, 380) + 12
    title_h = round(_TITLE_PT * 100 / 72) + 20
    legend_lines = _wrap(heat.legend, text_font, WIDTH_PX - 2 * _MARGIN)
    line_h = round(_TEXT_PT * 100 / 72 * 1.3)
    top = _MARGIN + title_h + head_h
    height = top + _ROW_PX * len(heat.rows) + 20 + 28 + line_h * len(legend_lines) + _MARGIN
    image = PILImage.new("RGB", (WIDTH_PX, height), _BLANK)
    draw = ImageDraw.Draw(image)
    draw.text(
        (_MARGIN, _MARGIN),
        _fit(heat.title, title_font, WIDTH_PX - 2 * _MARGIN),
        font=title_font,
        fill=_INK,
    )
    left = _MARGIN + _LABEL_PX
    for i, (_, label) in enumerate(heat.dimensions):
        turned = _heading(label, head_h - 12)
        x = left + i * cell_w + (cell_w - turned.width) // 2
        image.paste(_INK, (x, top - 8 - turned.height), turned)
    for r, row in enumerate(heat.rows):
        y = top + r * _ROW_PX
        name = _fit("  " * row.depth + row.name, text_font, _LABEL_PX - 8)
        draw.text((_MARGIN, y + _ROW_PX // 2), name, font=text_font, fill=_INK, anchor="lm")
        for i, (dim, _) in enumerate(heat.dimensions):
            box = (left + i * cell_w, y, left + (i + 1) * cell_w, y + _ROW_PX)
            score = row.scores.get(dim)
            fill = _BLANK if score is None else colour(score)
            draw.rectangle(box, fill=fill, outline=_GRID)
            if score is not None:
                mask = _figure(round(score))
                at = (
                    (box[0] + box[2] - mask.width) // 2,
                    (box[1] + box[3] - mask.height) // 2,
                )
                image.paste(_ink_on(fill), at, mask)
    y = top + _ROW_PX * len(heat.rows) + 20
    _scale(draw, (_MARGIN, y), text_font)
    y += 28
    for line in legend_lines:
        draw.text((_MARGIN, y), line, font=text_font, fill=_INK)
        y += line_h
    out = io.BytesIO()
    # A map is drawn and stored for every unit with units below it, every week: 64 colours
    # (the cells' and the text's edges) and fast compression keep it small and quick.
    palette = image.quantize(colors=64, method=PILImage.Quantize.FASTOCTREE)
    palette.save(out, format="PNG", compress_level=1)
    return out.getvalue()


def _scale(draw: ImageDraw.ImageDraw, at: tuple[int, int], font: ImageFont.FreeTypeFont) -> None:
    """The colour scale: 0, 50 and 100 under a strip of their colours, and a blank box."""
    x, y = at
    draw.text((x, y + 10), "0", font=font, fill=_INK, anchor="lm")
    x += 16
    for step in range(0, 101, 5):
        draw.rectangle((x, y, x + 10, y + 20), fill=colour(step))
        x += 10
    draw.text((x + 6, y + 10), "100", font=font, fill=_INK, anchor="lm")


# --- from the digest's figures ---------------------------------------------------------------


def _new_id() -> str:
    return uuid.uuid4().hex


@dataclass
class HeatMaps:
    """The maps of one digest run: one per unit and language, drawn once and shared by every
    leader of that unit, stored with the run's messages (`write`). Ids of their own, never the
    charts': an image id is the image's only name in the message."""

    image_ids: Callable[[], str] = _new_id
    pngs: dict[str, bytes] = field(default_factory=dict)
    made: dict[tuple[int, str], list[Part]] = field(default_factory=dict)

    def parts(
        self,
        unit_id: int,
        t: Translator,
        build: Callable[[], HeatMap | None],
    ) -> list[Part]:
        """The map's image and its legend as text, or nothing (one unit, or no figure)."""
        key = (unit_id, t.lang)
        if key not in self.made:
            heat = build()
            if heat is None or len(heat.rows) < 2 or not heat.cells():
                self.made[key] = []
            else:
                image_id = self.image_ids()
                self.pngs[image_id] = heatmap_png(heat)
                self.made[key] = [
                    Image(image_id=image_id, alt=alt_text(heat, t)),
                    SmallPrint(text=heat.legend),
                ]
        return self.made[key]

    def write(self, session: Session, now: object) -> None:
        if self.pngs:
            session.execute(
                insert(StoredImage),
                [{"id": i, "png": png, "created_at": now} for i, png in self.pngs.items()],
            )
            self.pngs = {}


def alt_text(heat: HeatMap, t: Translator) -> str:
    """What the map shows, in words, for a screen reader and where images are not shown: its
    size, each unit's lowest figure, and the units without figures (the map has every cell)."""
    lowest = []
    blank = []
    labels = dict(heat.dimensions)
    for row in heat.rows:
        shown = [(score, d) for d, score in row.scores.items() if d in labels]
        if not shown:
            blank.append(row.name)
            continue
        score, dim = min(shown)
        lowest.append(
            t("heatmap.alt_lowest", unit=row.name, dimension=labels[dim], score=t.number(score, 0))
        )
    text = t(
        "heatmap.alt",
        title=heat.title,
        units=t.plural("heatmap.units", len(heat.rows)),
        dimensions=t.plural("heatmap.dimensions", len(heat.dimensions)),
        lowest="; ".join(lowest),
    )
    if blank:
        text += " " + t("heatmap.alt_blank", units=", ".join(blank))
    # Slack's limit for alt text; the map itself holds every cell.
    return text[:2000]


def rows_below(
    unit_id: int,
    children: Mapping[int | None, Sequence[int]],
    max_rows: int = MAX_ROWS,
) -> list[tuple[int, int]]:
    """The unit and the units below it as (unit id, depth), depth first, cut at `max_rows`: a
    big unit keeps its nearest levels (all children before any grandchild is dropped)."""
    levels: list[list[tuple[int, int, int]]] = [[(unit_id, 0, 0)]]
    while True:
        below = [
            (child, depth + 1, parent)
            for parent, depth, _ in levels[-1]
            for child in children.get(parent, ())
        ]
        if not below or sum(map(len, levels)) + len(below) > max_rows:
            break
        levels.append(below)
    kept = {u for level in levels for u, _, _ in level}
    out: list[tuple[int, int]] = []

    def walk(u: int, depth: int) -> None:
        out.append((u, depth))
        for child in children.get(u, ()):
            if child in kept:
                walk(child, depth + 1)

    walk(unit_id, 0)
    return out


def dimension_columns(
    rows: Iterable[HeatRow], order: Sequence[tuple[str, str]]
) -> list[tuple[str, str]]:
    """The dimensions, in the bank's order, that at least one row shows."""
    shown = {d for row in rows for d in row.scores}
    return [(d, label) for d, label in order if d in shown]


def heatmap_of(picture: Picture, unit_id: int, t: Translator) -> HeatMap | None:
    """The map of the unit and the units below it, from the digest's shown figures only (each
    unit's latest shown score per dimension in the chart's weeks); None for a unit alone."""
    placed = rows_below(unit_id, picture.children)
    if len(placed) < 2:
        return None
    rows = []
    for u, depth in placed:
        pulse = picture.pulse(u, t.lang)
        rows.append(
            HeatRow(
                picture.units[u].name,
                depth,
                {line.dimension: line.score for line in pulse.lines},
            )
        )
    order = [(d.id, d.label.get(t.lang)) for d in picture.bank.dimensions.values()]
    return HeatMap(
        title=t("heatmap.title", unit=picture.units[unit_id].name),
        dimensions=dimension_columns(rows, order),
        rows=rows,
        legend=t("heatmap.legend", weeks=len(picture.shown_weeks), minimum=picture.min_size),
    )

"""Trend charts for digests: one line per dimension over the weeks, as a PNG.

Drawn with matplotlib's Agg backend (no display, no GUI toolkit) on a figure sized for a phone
screen: a chat client shows it about 360-400 points wide, so the text is large and the legend
sits under the plot instead of on top of the lines. Questions rotate, so a dimension is measured
only some weeks: its line joins the weeks it has a figure for. Weeks without one (not asked, or
withheld by the disclosure gate) get no marker, so nothing is drawn that was not measured.

A weekly digest draws a chart for every unit a leader reads, two thousand of them in a big
municipality, and matplotlib takes over 100 ms a chart. `TrendPainter` therefore has matplotlib
draw what the charts of one digest week, language and legend share (axes, grid, week labels,
legend) once, as a palette image, and then adds each chart's lines, markers and title with
Pillow and writes an 8-bit palette PNG: about a millisecond and a half a chart. It lays out
exactly as `trend_figure`; only the lines lose matplotlib's anti-aliasing. `ChartProcess` does
the Pillow part in a child interpreter, so a big digest run uses the machine's second core.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import math
import pickle
import queue
import struct
import subprocess
import sys
import threading
import zlib
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING

from PIL import Image, ImageDraw, ImageFont

# ChartProcess's child loads this file under this name to paint with Pillow alone: matplotlib
# would cost it some 80 MB. Everyone else imports matplotlib here, not in their first chart.
_CHILD_MODULE = "medpuls_chart_child"
if __name__ != _CHILD_MODULE:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

if TYPE_CHECKING:
    from bot.core.i18n import Translator

__all__ = [
    "HEIGHT_PX",
    "PALETTE",
    "WIDTH_PX",
    "ChartProcess",
    "Series",
    "TrendPainter",
    "plot_box",
    "png_of",
    "trend_figure",
]

WIDTH_PX = 900
HEIGHT_PX = 700
_DPI = 100
_LINE_WIDTH_PT = 3
_MARKER_PT = 8
_TITLE_PT = 18
# Colour-blind safe (Okabe-Ito, then Tol's muted): readable on light and dark chat themes.
PALETTE = (
    "#0072B2",
    "#D55E00",
    "#009E73",
    "#CC79A7",
    "#E69F00",
    "#56B4E9",
    "#332288",
    "#882255",
    "#117733",
    "#999933",
    "#AA4499",
    "#44AA99",
    "#661100",
    "#6699CC",
    "#888888",
    "#000000",
)


@dataclass(frozen=True)
class Series:
    """One dimension's scores (0-100) per week; None where nothing may be shown."""

    label: str
    scores: Sequence[float | None]


def trend_figure(
    weeks: Sequence[dt.date], series: Sequence[Series], t: Translator, title: str
) -> Figure:
    """The figure, not yet drawn; callers that only want bytes use png_of."""
    fig = Figure(figsize=(WIDTH_PX / _DPI, HEIGHT_PX / _DPI), dpi=_DPI)
    ax = fig.add_axes(plot_box(len(series)))
    xs = list(range(len(weeks)))
    for i, s in enumerate(series):
        points = [(x, v) for x, v in zip(xs, s.scores, strict=True) if v is not None]
        ax.plot(
            [x for x, _ in points],
            [v for _, v in points],
            color=PALETTE[i % len(PALETTE)],
            linewidth=_LINE_WIDTH_PT,
            marker="o",
            markersize=_MARKER_PT,
            label=s.label,
        )
    ax.set_ylim(0, 100)
    ax.set_xlim(-0.5, len(weeks) - 0.5)
    ax.set_yticks([0, 25, 50, 75, 100])
    step = 2 if len(weeks) > 6 else 1
    ax.set_xticks(xs[::step], [t.date(w) for w in weeks][::step], fontsize=14)
    ax.tick_params(axis="y", labelsize=14)
    ax.grid(axis="y", alpha=0.3)
    ax.spines[["top", "right"]].set_visible(False)
    ax.set_title(title, fontsize=_TITLE_PT, loc="left")
    if series:
        fig.legend(
            loc="lower left",
            bbox_to_anchor=(0.02, 0.0),
            ncols=1 if len(series) <= 6 else 2,
            fontsize=13 if len(series) <= 6 else 11,
            frameon=False,
        )
    return fig


def plot_box(lines: int) -> tuple[float, float, float, float]:
    """The plot's place on the figure: above a one-column legend as tall as it needs (a few
    lines leave the plot most of the height), or above the two-column legend of many."""
    if lines > 6:
        return (0.1, 0.42, 0.86, 0.5)
    bottom = 0.12 + 0.045 * lines
    return (0.1, bottom, 0.86, 0.92 - bottom)


def png_of(fig: Figure) -> bytes:
    out = io.BytesIO()
    fig.savefig(out, format="png", dpi=_DPI)
    return out.getvalue()


def _px(points: float) -> float:
    return points * _DPI / 72


def _chart_palette() -> list[tuple[int, int, int]]:
    """White, 63 greys, and each line colour blended into white at four strengths: enough for
    matplotlib's anti-aliased text, grid and legend to keep their look in an 8-bit PNG."""
    colours = [(255, 255, 255)]
    # Pillow matches colours to a palette at 6 bits a channel: no grey may share white's bucket,
    # or the background turns grey.
    colours += [(v, v, v) for v in range(0, 252, 4)]
    for hex_colour in PALETTE:
        red, green, blue = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
        for strength in (1.0, 0.75, 0.5, 0.25):
            colours.append(
                (
                    round(red * strength + 255 * (1 - strength)),
                    round(green * strength + 255 * (1 - strength)),
                    round(blue * strength + 255 * (1 - strength)),
                )
            )
    return colours


_COLOURS = _chart_palette()
_FLAT_PALETTE = [c for rgb in _COLOURS for c in rgb]
# Palette index of a line colour at full strength; greys start at 1, colours after them.
_FIRST_COLOUR = 1 + 63
# Title text is black: anti-aliasing coverage a (0-255) is the grey 255 - a, or white.
_GREY_OF_COVERAGE = [0 if a < 4 else 1 + min(62, round((255 - a) / 4)) for a in range(256)]


def _font_path() -> Path:
    return Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"


def _title_font(path: Path | str) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(path), size=round(_px(_TITLE_PT)))


# Distinct legends seen in one digest run are few (the rotation's dimensions, a few gaps).
_FRAMES_KEPT = 64


@dataclass(frozen=True)
class _Frame:
    """What every chart with one legend shares, and where its data lands in pixels."""

    # The rows above static_from, where each chart draws, one column wider than the chart:
    # column 0 stays palette index 0, which is also PNG's "no filter" byte, so the image's raw
    # bytes are the PNG's scanlines without any copying.
    image: Image.Image
    # Rows from here down (week labels, legend) are the same in every chart with this frame;
    # they are compressed once.
    static_from: int
    static_length: int
    static_deflated: bytes
    static_adler: int
    xs: tuple[float, ...]  # pixel columns in `image`, the filter column included
    y0: float  # the pixel row of score 0
    y_per_point: float  # rows per score point (negative: up)
    title_x: int
    title_baseline: int


class TrendPainter:
    """Trend charts for one digest week and language, drawn fast (see the module docstring)."""

    def __init__(self, weeks: Sequence[dt.date], t: Translator) -> None:
        self.weeks = list(weeks)
        self.t = t
        self._frames: OrderedDict[tuple[str, ...], _Frame] = OrderedDict()
        self._font = _title_font(_font_path())

    def png(self, series: Sequence[Series], title: str) -> bytes:
        frame = self._frame(tuple(s.label for s in series))
        return _paint(frame, self._font, [s.scores for s in series], title)

    def _frame(self, labels: tuple[str, ...]) -> _Frame:
        if labels in self._frames:
            self._frames.move_to_end(labels)
            return self._frames[labels]
        empty = [Series(label, [None] * len(self.weeks)) for label in labels]
        fig = trend_figure(self.weeks, empty, self.t, "")
        canvas = FigureCanvasAgg(fig)
        canvas.draw()  # type: ignore[no-untyped-call]
        pixels = canvas.buffer_rgba()  # type: ignore[no-untyped-call]
        rgb = Image.frombuffer("RGBA", canvas.get_width_height(), pixels).convert("RGB")
        palette = Image.new("P", (1, 1))
        palette.putpalette(_FLAT_PALETTE)
        image = Image.new("P", (WIDTH_PX + 1, HEIGHT_PX), 0)
        image.putpalette(_FLAT_PALETTE)
        image.paste(rgb.quantize(palette=palette, dither=Image.Dither.NONE), (1, 0))
        ax = fig.axes[0]
        to_px = ax.transData.transform
        xs = tuple(1 + float(to_px((x, 0))[0]) for x in range(len(self.weeks)))
        # Display coordinates count up from the bottom; image rows count down from the top.
        y0 = HEIGHT_PX - float(to_px((0, 0))[1])
        y100 = HEIGHT_PX - float(to_px((0, 100))[1])
        box = ax.get_window_extent()
        # Below the lowest marker nothing changes from chart to chart.
        radius = (_px(_MARKER_PT) + _px(1.0)) / 2
        static_from = min(HEIGHT_PX, math.ceil(y0 + radius + _px(_LINE_WIDTH_PT)) + 1)
        static_rows = image.tobytes()[static_from * (WIDTH_PX + 1) :]
        frame = _Frame(
            image=image.crop((0, 0, WIDTH_PX + 1, static_from)),
            static_from=static_from,
            static_length=len(static_rows),
            # Once per frame, so worth the best compression: smaller images to store.
            static_deflated=_deflate(static_rows, zlib.Z_FINISH, level=9),
            static_adler=zlib.adler32(static_rows),
            xs=xs,
            y0=y0,
            y_per_point=(y100 - y0) / 100,
            title_x=1 + round(box.x0),
            title_baseline=round(HEIGHT_PX - box.y1 - _px(matplotlib.rcParams["axes.titlepad"])),
        )
        self._frames[labels] = frame
        if len(self._frames) > _FRAMES_KEPT:
            self._frames.popitem(last=False)
        return frame


def _paint(
    frame: _Frame,
    font: ImageFont.FreeTypeFont,
    series: Sequence[Sequence[float | None]],
    title: str,
) -> bytes:
    """One chart's lines, markers and title on its frame, as PNG bytes (Pillow only)."""
    image = frame.image.copy()
    draw = ImageDraw.Draw(image)
    width = round(_px(_LINE_WIDTH_PT))
    # Marker diameter plus its edge line, as matplotlib draws it.
    radius = (_px(_MARKER_PT) + _px(1.0)) / 2
    for i, scores in enumerate(series):
        colour = _FIRST_COLOUR + 4 * (i % len(PALETTE))
        points = [
            (frame.xs[x], frame.y0 + v * frame.y_per_point)
            for x, v in enumerate(scores)
            if v is not None
        ]
        if len(points) > 1:
            draw.line(points, fill=colour, width=width, joint="curve")
        for x, y in points:
            draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=colour)
    _paint_title(image, frame, font, title)
    return _png(image, frame)


def _paint_title(
    image: Image.Image, frame: _Frame, font: ImageFont.FreeTypeFont, title: str
) -> None:
    ascent, descent = font.getmetrics()
    top = frame.title_baseline - ascent
    coverage = Image.new("L", (WIDTH_PX - frame.title_x, ascent + descent), 0)
    ImageDraw.Draw(coverage).text((0, ascent), title, font=font, fill=255, anchor="ls")
    greys = Image.frombytes("P", coverage.size, coverage.point(_GREY_OF_COVERAGE).tobytes())
    inked = coverage.point([0] + [255] * 255)
    image.paste(greys, (frame.title_x, top), inked)


def _deflate(data: bytes | memoryview, flush: int, level: int = 1) -> bytes:
    # Raw deflate of runs only: a chart is mostly runs of one colour, so this is smaller than
    # level 1's matching and faster. A full flush ends on a byte boundary with nothing
    # referring back, so the frame's precompressed rows may follow it.
    squeeze = zlib.compressobj(level, zlib.DEFLATED, -15, 8, zlib.Z_RLE)
    return squeeze.compress(data) + squeeze.flush(flush)


def _adler32_joined(first: int, second: int, second_length: int) -> int:
    """The Adler-32 of two byte strings joined, from theirs (zlib's adler32_combine, which
    Python does not expose): the static rows' checksum is then computed once per frame."""
    base = 65521
    low_1, high_1 = first & 0xFFFF, first >> 16
    low_2, high_2 = second & 0xFFFF, second >> 16
    low = (low_1 + low_2 - 1) % base
    high = (high_1 + high_2 + second_length * (low_1 - 1)) % base
    return (high << 16) | low


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


_HEAD = (
    b"\x89PNG\r\n\x1a\n"
    + _chunk(b"IHDR", struct.pack(">IIBBBBB", WIDTH_PX, HEIGHT_PX, 8, 3, 0, 0, 0))
    + _chunk(b"PLTE", bytes(_FLAT_PALETTE))
)
_TAIL = _chunk(b"IEND", b"")


def _png(image: Image.Image, frame: _Frame) -> bytes:
    """An 8-bit palette PNG of the chart, reusing the frame's compressed static rows."""
    rows = image.tobytes()
    checksum = _adler32_joined(zlib.adler32(rows), frame.static_adler, frame.static_length)
    stream = (
        b"\x78\x01"  # zlib header: deflate, 32 KiB window, fastest
        + _deflate(rows, zlib.Z_FULL_FLUSH)
        + frame.static_deflated
        + struct.pack(">I", checksum)
    )
    return _HEAD + _chunk(b"IDAT", stream) + _TAIL


# --- painting in a child process ------------------------------------------------------------

# The child loads this file on its own (not the flows package, whose imports would cost it tens
# of megabytes) and paints until its input ends: when the parent closes it, or dies.
_CHILD = """
import importlib.util, sys
spec = importlib.util.spec_from_file_location(sys.argv[2], sys.argv[1])
module = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = module
spec.loader.exec_module(module)
module._serve(sys.argv[3])
"""

# Charts per request batch: a thread switch per chart cost more than the chart.
_BATCH = 32

_FrameState = tuple[bytes, int, int, bytes, int, tuple[float, ...], float, float, int, int]


def _frame_state(frame: _Frame) -> _FrameState:
    """The frame as plain values: the child must not need this module's classes to unpickle."""
    return (
        frame.image.tobytes(),
        frame.static_from,
        frame.static_length,
        frame.static_deflated,
        frame.static_adler,
        frame.xs,
        frame.y0,
        frame.y_per_point,
        frame.title_x,
        frame.title_baseline,
    )


def _frame_of(state: _FrameState) -> _Frame:
    pixels, static_from, length, deflated, adler, xs, y0, per_point, title_x, baseline = state
    image = Image.frombytes("P", (WIDTH_PX + 1, static_from), pixels)
    image.putpalette(_FLAT_PALETTE)
    return _Frame(image, static_from, length, deflated, adler, xs, y0, per_point, title_x, baseline)


def _serve(font_path: str) -> None:
    font = _title_font(font_path)
    frames: dict[int, _Frame] = {}
    requests, replies = sys.stdin.buffer, sys.stdout.buffer
    while True:
        try:
            batch = pickle.load(requests)
        except EOFError:
            return
        done: list[tuple[int, bytes | None, str | None]] = []
        for request in batch:
            if request[0] == "frame":
                frames[request[1]] = _frame_of(request[2])
                continue
            _, job, frame_number, series, title = request
            try:
                done.append((job, _paint(frames[frame_number], font, series, title), None))
            except Exception as err:  # the parent reports it with the chart's digest
                done.append((job, None, type(err).__name__))
        pickle.dump(done, replies, protocol=pickle.HIGHEST_PROTOCOL)
        replies.flush()


class ChartProcess:
    """Paints TrendPainter charts in a child interpreter, on another core than the caller.

    The caller's painter still draws each frame (matplotlib, once per legend) and sends it
    over; the child only needs Pillow, so it adds some 30 MB. A child process, not a fork: the
    worker and the web app run threads, which a fork would copy in whatever state they are in.
    Use it as a context manager: the child is ended on the way out, and ends by itself if the
    parent dies (its input closes).
    """

    def __init__(self) -> None:
        self._child = subprocess.Popen(
            [sys.executable, "-c", _CHILD, __file__, _CHILD_MODULE, str(_font_path())],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        assert self._child.stdin is not None and self._child.stdout is not None
        self._requests: IO[bytes] = self._child.stdin
        self._replies: IO[bytes] = self._child.stdout
        self._pending: dict[int, Future[bytes]] = {}
        self._lock = threading.Lock()
        # Frames sent, by identity; kept referenced so an identity is never reused.
        self._frames: dict[int, tuple[int, _Frame]] = {}
        self._jobs = 0
        # Requests go in batches (_BATCH), through a queue and a thread of their own: writing
        # straight into the pipe would stall the caller whenever the child is a pipe's worth
        # of charts behind.
        self._batch: list[object] = []
        self._outbox: queue.SimpleQueue[list[object] | None] = queue.SimpleQueue()
        self._writer = threading.Thread(target=self._write, name="chart-requests", daemon=True)
        self._reader = threading.Thread(target=self._read, name="chart-replies", daemon=True)
        self._writer.start()
        self._reader.start()

    def __enter__(self) -> ChartProcess:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def submit(self, painter: TrendPainter, series: Sequence[Series], title: str) -> Future[bytes]:
        """The chart painter.png(series, title) would draw, drawn in the child; sent with the
        next batch, so flush() before waiting for it."""
        frame = painter._frame(tuple(s.label for s in series))
        sent = self._frames.get(id(frame))
        if sent is None:
            sent = (len(self._frames), frame)
            self._frames[id(frame)] = sent
            self._send(("frame", sent[0], _frame_state(frame)))
        self._jobs += 1
        drawn: Future[bytes] = Future()
        with self._lock:
            self._pending[self._jobs] = drawn
        self._send(("paint", self._jobs, sent[0], [tuple(s.scores) for s in series], title))
        return drawn

    def _send(self, request: object) -> None:
        self._batch.append(request)
        if len(self._batch) >= _BATCH:
            self.flush()

    def flush(self) -> None:
        """Send the requests not sent yet."""
        if self._batch:
            self._outbox.put(self._batch)
            self._batch = []

    def _write(self) -> None:
        try:
            while (request := self._outbox.get()) is not None:
                pickle.dump(request, self._requests, protocol=pickle.HIGHEST_PROTOCOL)
                if self._outbox.empty():
                    self._requests.flush()
        except OSError:  # the child is gone; the reader fails what is pending
            pass
        with contextlib.suppress(OSError):  # the child may already be gone
            self._requests.close()

    def _read(self) -> None:
        while True:
            try:
                done = pickle.load(self._replies)
            except (EOFError, OSError, pickle.UnpicklingError):
                break
            for job, png, error in done:
                with self._lock:
                    drawn = self._pending.pop(job)
                if png is None:
                    drawn.set_exception(RuntimeError(f"chart not painted: {error}"))
                else:
                    drawn.set_result(png)
        with self._lock:
            left, self._pending = list(self._pending.values()), {}
        for drawn in left:
            drawn.set_exception(RuntimeError("chart process ended"))

    def close(self) -> None:
        self.flush()
        self._outbox.put(None)
        self._writer.join()
        try:
            self._child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._child.kill()
            self._child.wait()
        self._reader.join()
        self._replies.close()

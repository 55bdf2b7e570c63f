"""Charts painted in the child process are the painter's own, byte for byte; a chart the child
cannot paint fails only its own future; the child is gone once closed."""

from __future__ import annotations

import pytest

from bot.core.i18n import translator
from flows.charts import ChartProcess, Series, TrendPainter
from tests.test_digest_chart import SERIES, WEEKS


def test_the_child_paints_what_the_painter_paints() -> None:
    painter = TrendPainter(WEEKS, translator("da"))
    charts = [
        (SERIES, "Hjemmeplejen Nord: score pr. dimension, 12 uger"),
        (SERIES[:2], "Team 7: score pr. dimension, 12 uger"),
        (SERIES[1:], "Rådhuset: score pr. dimension, 12 uger"),
    ] * 30
    with ChartProcess() as process:
        drawn = [process.submit(painter, series, title) for series, title in charts]
        process.flush()
        pngs = [d.result(timeout=60) for d in drawn]
    assert pngs == [painter.png(series, title) for series, title in charts]
    assert process._child.poll() is not None


def test_a_chart_the_child_cannot_paint_fails_alone() -> None:
    painter = TrendPainter(WEEKS, translator("en"))
    too_long = [Series("Trust", [50.0] * (len(WEEKS) + 3))]
    with ChartProcess() as process:
        broken = process.submit(painter, too_long, "Broken")
        fine = process.submit(painter, SERIES, "Fine")
        process.flush()
        with pytest.raises(RuntimeError, match="IndexError"):
            broken.result(timeout=60)
        assert fine.result(timeout=60) == painter.png(SERIES, "Fine")
    assert process._child.poll() is not None

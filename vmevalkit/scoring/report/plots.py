"""The plots of a report, drawn with PIL: per scorer, a heatmap of its headline dimension by model and domain
(``heatmap_<scorer>.png``) and a bar chart of its mean and confidence interval per model (``bars_<scorer>.png``)."""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from vmevalkit.scoring.report.data import ReportConfig, ReportGeneration, ScorerInfo
from vmevalkit.scoring.report.tables import Metrics, Row, counted_values

# Layout of the plots, in pixels. Labels longer than their room are cut with an ellipsis, so an image's size
# depends only on how many rows and columns it has (heatmap_size, bar_chart_size).
LABEL_W = 240  # the model names on the left
TITLE_H = 58
CELL_W, CELL_H = 150, 44
HEADER_H = 34  # the domain names above the heatmap
LEGEND_H = 60
MIN_W = 520
BAR_PLOT_W, BAR_ROW_H, AXIS_H, VALUE_W = 520, 40, 46, 170
FONT_SIZE, SMALL_FONT_SIZE, TITLE_FONT_SIZE = 15, 13, 17

WHITE, INK, GRID, EMPTY = (255, 255, 255), (30, 30, 30), (215, 218, 222), (236, 237, 239)
BAR_COLOUR = (52, 110, 168)
# Viridis at 0, 1/4, 1/2, 3/4 and 1: perceptually ordered, readable in grey, safe for colour-blind readers.
VIRIDIS = ((68, 1, 84), (59, 82, 139), (33, 145, 140), (94, 201, 98), (253, 231, 37))

Colour = tuple[int, int, int]
Font = ImageFont.ImageFont | ImageFont.FreeTypeFont


@lru_cache(maxsize=8)
def _font(size: int) -> Font:
    # Pillow's bundled font: no system font is needed, and the images look the same everywhere.
    return ImageFont.load_default(size=size)


def value_colour(value: float, low: float, high: float) -> Colour:
    """The viridis colour of ``value`` on the scale [low, high] (linear between the five anchors)."""
    t = 0.0 if high <= low else min(max((value - low) / (high - low), 0.0), 1.0)
    position = t * (len(VIRIDIS) - 1)
    i = min(int(position), len(VIRIDIS) - 2)
    f = position - i
    a, b = VIRIDIS[i], VIRIDIS[i + 1]
    return (round(a[0] + (b[0] - a[0]) * f), round(a[1] + (b[1] - a[1]) * f), round(a[2] + (b[2] - a[2]) * f))


def _fit(draw: ImageDraw.ImageDraw, text: str, font: Font, width: float) -> str:
    if draw.textlength(text, font=font) <= width:
        return text
    while text and draw.textlength(text + "…", font=font) > width:
        text = text[:-1]
    return text + "…"


def _text(
    draw: ImageDraw.ImageDraw,
    xy: tuple[float, float],
    text: str,
    font: Font,
    fill: Colour = INK,
    anchor: str = "la",
    width: float | None = None,
) -> None:
    draw.text(xy, _fit(draw, text, font, width) if width else text, font=font, fill=fill, anchor=anchor)


def _plot_number(value: float, unit: bool) -> str:
    # ASCII only in the plots: Pillow's bundled font has no dashes. Two decimals on [0, 1], as rates read.
    if not math.isfinite(value):
        return "n/a"
    return f"{value:.2f}" if unit else f"{value:.3g}"


def heatmap_size(n_rows: int, n_cols: int) -> tuple[int, int]:
    return max(MIN_W, LABEL_W + n_cols * CELL_W + 16), TITLE_H + HEADER_H + n_rows * CELL_H + LEGEND_H


def heatmap_cell_box(row: int, col: int) -> tuple[int, int, int, int]:
    """The cell of (row, col) in a heatmap, as (x0, y0, x1, y1), inclusive."""
    x0, y0 = LABEL_W + col * CELL_W, TITLE_H + HEADER_H + row * CELL_H
    return x0, y0, x0 + CELL_W - 1, y0 + CELL_H - 1


def draw_heatmap(
    title: str,
    subtitle: str,
    rows: Sequence[str],
    cols: Sequence[str],
    values: dict[tuple[str, str], float],
    unit: bool,
) -> Image.Image:
    """A rows x cols grid coloured by value, each cell labelled; [0, 1] on a fixed scale, others min to max."""
    image = Image.new("RGB", heatmap_size(len(rows), len(cols)), WHITE)
    draw = ImageDraw.Draw(image)
    font, small, big = _font(FONT_SIZE), _font(SMALL_FONT_SIZE), _font(TITLE_FONT_SIZE)
    _text(draw, (16, 12), title, big, width=image.width - 32)
    _text(draw, (16, 36), subtitle, small, fill=(90, 90, 90), width=image.width - 32)
    present = [v for v in values.values() if math.isfinite(v)]
    low, high = (0.0, 1.0) if unit or not present else (min(present), max(present))
    for c, col in enumerate(cols):
        x0, _, x1, _ = heatmap_cell_box(0, c)
        _text(draw, ((x0 + x1) / 2, TITLE_H + HEADER_H / 2), col, font, anchor="mm", width=CELL_W - 8)
    for r, row in enumerate(rows):
        _, y0, _, y1 = heatmap_cell_box(r, 0)
        _text(draw, (16, (y0 + y1) / 2), row, font, anchor="lm", width=LABEL_W - 28)
        for c, col in enumerate(cols):
            x0, y0, x1, y1 = heatmap_cell_box(r, c)
            value = values.get((row, col), math.nan)
            fill = value_colour(value, low, high) if math.isfinite(value) else EMPTY
            draw.rectangle((x0, y0, x1, y1), fill=fill, outline=WHITE, width=1)
            # dark text on light cells, white on dark ones (ITU-R BT.601 luma)
            ink = INK if 0.299 * fill[0] + 0.587 * fill[1] + 0.114 * fill[2] > 140 else WHITE
            _text(draw, ((x0 + x1) / 2, (y0 + y1) / 2), _plot_number(value, unit), font, fill=ink, anchor="mm")
    # the colour scale, under the grid
    top = TITLE_H + HEADER_H + len(rows) * CELL_H + 18
    left, width = LABEL_W, max(len(cols) * CELL_W, 200)
    for x in range(width):
        draw.line(
            (left + x, top, left + x, top + 12), fill=value_colour(low + (high - low) * x / (width - 1), low, high)
        )
    _text(draw, (left, top + 16), _plot_number(low, unit), small)
    _text(draw, (left + width, top + 16), _plot_number(high, unit), small, anchor="ra")
    _text(draw, (16, top), "colour scale", small, fill=(90, 90, 90))
    return image


def bar_chart_size(n_rows: int) -> tuple[int, int]:
    return LABEL_W + BAR_PLOT_W + VALUE_W, TITLE_H + n_rows * BAR_ROW_H + AXIS_H


@dataclass(frozen=True)
class Bar:
    label: str
    mean: float
    ci_low: float
    ci_high: float
    note: str = ""  # written after the value, e.g. "n=6, 1 failed"


def draw_bar_chart(title: str, subtitle: str, bars: Sequence[Bar], unit: bool) -> Image.Image:
    """One horizontal bar per row, from 0 to its mean, with a whisker from ci_low to ci_high."""
    image = Image.new("RGB", bar_chart_size(len(bars)), WHITE)
    draw = ImageDraw.Draw(image)
    font, small, big = _font(FONT_SIZE), _font(SMALL_FONT_SIZE), _font(TITLE_FONT_SIZE)
    _text(draw, (16, 12), title, big, width=image.width - 32)
    _text(draw, (16, 36), subtitle, small, fill=(90, 90, 90), width=image.width - 32)
    present = [v for bar in bars for v in (bar.mean, bar.ci_low, bar.ci_high) if math.isfinite(v)]
    low, high = 0.0, 1.0
    if not unit and present:
        low, high = min(0.0, *present), max(present)
        high = high + 0.05 * (high - low) if high > low else low + 1.0
    top, bottom = TITLE_H, TITLE_H + len(bars) * BAR_ROW_H

    def x_of(value: float) -> float:
        return LABEL_W + (value - low) / (high - low) * (BAR_PLOT_W - 20)

    for i in range(5):  # grid lines and tick labels
        tick = low + (high - low) * i / 4
        x = x_of(tick)
        draw.line((x, top, x, bottom), fill=GRID)
        _text(draw, (x, bottom + 8), _plot_number(tick, unit), small, anchor="ma")
    for r, bar in enumerate(bars):
        y0 = top + r * BAR_ROW_H
        centre = y0 + BAR_ROW_H / 2
        _text(draw, (16, centre), bar.label, font, anchor="lm", width=LABEL_W - 28)
        right = x_of(0.0)
        if math.isfinite(bar.mean):
            end = x_of(bar.mean)  # bars grow from 0, to the left for a negative mean
            draw.rectangle((min(right, end), y0 + 9, max(right, end), y0 + BAR_ROW_H - 9), fill=BAR_COLOUR)
            right = max(right, end)
        if math.isfinite(bar.ci_low) and math.isfinite(bar.ci_high):
            a, b = x_of(bar.ci_low), x_of(bar.ci_high)
            draw.line((a, centre, b, centre), fill=INK, width=2)
            draw.line((a, centre - 7, a, centre + 7), fill=INK, width=2)
            draw.line((b, centre - 7, b, centre + 7), fill=INK, width=2)
            right = max(right, b)
        label = f"{_plot_number(bar.mean, unit)}  {bar.note}".strip()
        _text(draw, (right + 8, centre), label, small, anchor="lm", width=image.width - right - 12)
    draw.line((x_of(0.0), top, x_of(0.0), bottom), fill=INK)
    return image


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def domain_means(
    generations: Sequence[ReportGeneration], scorer: ScorerInfo, models: Sequence[str]
) -> dict[tuple[str, str], float]:
    """(model, domain) -> mean of the scorer's headline dimension, by the same rule as the tables."""
    means: dict[tuple[str, str], float] = {}
    for model in models:
        for domain in sorted({g.domain for g in generations}):
            members = [g for g in generations if g.model == model and g.domain == domain]
            if members:
                _, values = counted_values(members, scorer, scorer.headline)
                means[(model, domain)] = float(np.mean(values)) if values else math.nan
    return means


def _float(row: Row | None, key: str) -> float:
    value = row.get(key) if row is not None else None
    return math.nan if value is None else float(value)


def plot_scorer(
    generations: Sequence[ReportGeneration], metrics: Metrics, scorer: ScorerInfo, config: ReportConfig
) -> dict[str, Image.Image]:
    """``heatmap_<scorer>.png`` and ``bars_<scorer>.png`` of the scorer's headline dimension."""
    dimension = scorer.headline
    unit = dimension in scorer.unit_dimensions
    rule = "failures count as 0" if unit else "mean over scored generations; failures not included"
    models = metrics.ranked_models(scorer)
    domains = sorted({g.domain for g in generations if g.model in models})
    heatmap = draw_heatmap(
        f"{scorer.name}: {dimension} by model and domain",
        f"mean per cell ({rule})",
        models,
        domains,
        domain_means(generations, scorer, models),
        unit,
    )
    bars = []
    for model in models:
        row = metrics.headline(scorer, model)
        note = f"n={row['n_generations']}" + (f", {row['n_failed']} failed" if row["n_failed"] else "") if row else ""
        bars.append(Bar(model, _float(row, "mean"), _float(row, "ci_low"), _float(row, "ci_high"), note))
    chart = draw_bar_chart(
        f"{scorer.name}: {dimension} per model",
        f"mean with {config.confidence:.0%} bootstrap interval ({rule})",
        bars,
        unit,
    )
    return {f"heatmap_{scorer.name}.png": heatmap, f"bars_{scorer.name}.png": chart}

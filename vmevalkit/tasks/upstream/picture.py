"""Finding an upstream task's grid in its first frame: the outer border, evenly spaced lines, cell interiors.

Upstream draws its grids with matplotlib (a maze with maze-dataset's ``MazePlot``, a sudoku with ``axhline``
and ``axvline``), saved with ``bbox_inches='tight'``, so the grid's place and size in the picture are known
only from the picture: the box around its ink (every channel dark: black walls and lines, never the green
agent, the brown flag pole, the red flag or the blue digits), the outer border's thickness, and lines evenly
spaced between the border's centres. A cell's *interior* keeps a margin from every line, so the lines'
antialiased edges and the faint grey strips maze-dataset draws where a wall is open stay outside it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from vmevalkit.tasks.render import Box

# A pixel is ink (a wall, a grid line) when each of its channels is below this.
DARK = 96
# The outer border must be ink over this share of its length: otherwise the picture shows no closed grid.
BORDER_INK = 0.9
# Fewest pixels a cell's interior may have on a side for its looks to be told apart.
MIN_INTERIOR = 8
# An inner line is found where this share of the grid's extent is ink (a maze's inner line may be mostly open).
MIN_LINE_INK = 0.1


def load_picture(path: Path) -> np.ndarray:
    """``path`` as an HxWx3 uint8 array, transparency flattened onto white as the importer does."""
    try:
        with Image.open(path) as image:
            rgba = image.convert("RGBA")
    except (OSError, UnidentifiedImageError) as exc:
        raise ValueError(f"cannot read the task's picture {path.name} ({exc}); re-import the task") from exc
    white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    return np.asarray(Image.alpha_composite(white, rgba).convert("RGB"), dtype=np.uint8)


def ink(picture: np.ndarray) -> np.ndarray:
    """Where ``picture`` is dark in every channel: walls and grid lines."""
    mask: np.ndarray = np.all(picture < DARK, axis=-1)
    return mask


def band(centre: float, thickness: float) -> slice:
    """The pixels within a quarter of ``thickness`` of a line's ``centre`` (at least one pixel)."""
    start = round(centre - thickness / 4 - 0.5)
    return slice(start, max(start + 1, round(centre + thickness / 4 - 0.5) + 1))


@dataclass(frozen=True)
class Grid:
    """A ``rows`` x ``cols`` grid of evenly spaced lines; line ``k``'s centre is ``left + k * pitch_x``."""

    rows: int
    cols: int
    left: float
    top: float
    pitch_x: float
    pitch_y: float
    border: int  # the outer border's thickness in pixels (the larger of its two directions)
    margin: int  # pixels kept between a line's centre and a cell's interior

    def line_x(self, k: int) -> float:
        return self.left + k * self.pitch_x

    def line_y(self, k: int) -> float:
        return self.top + k * self.pitch_y

    def interior(self, row: int, col: int) -> Box:
        """The cell's pixels away from its lines, inclusive as ``render.Box``."""
        x0 = math.ceil(self.line_x(col) + self.margin - 0.5)
        x1 = math.floor(self.line_x(col + 1) - self.margin - 0.5)
        y0 = math.ceil(self.line_y(row) + self.margin - 0.5)
        y1 = math.floor(self.line_y(row + 1) - self.margin - 0.5)
        return x0, y0, x1, y1

    def centre(self, row: int, col: int) -> tuple[float, float]:
        return self.left + (col + 0.5) * self.pitch_x, self.top + (row + 0.5) * self.pitch_y


def _run(line: np.ndarray) -> int:
    """Length of the run of True at the start of ``line``."""
    misses = np.flatnonzero(~line)
    return int(misses[0]) if len(misses) else len(line)


def _lines(counts: np.ndarray, start: int, border: int, cells: int, extent: int) -> tuple[float, float]:
    """``(centre of line 0, pitch)`` along one axis, fitted to the borders' and the inner lines' centres.

    ``counts`` is the ink per pixel column (or row) of the grid's box, which starts at pixel ``start``;
    ``border`` is the outer border's thickness. Each inner line is found near where even spacing puts it, as
    the centre of the ink there (a maze's inner line may be mostly open; one with no ink is left out). A
    matplotlib axes clips its outer lines to their inner half (upstream's sudoku): a border thinner than the
    inner lines is such a half, and the line's centre is the border's outer edge.
    """
    end = start + len(counts)  # one past the last pixel
    pitch = (len(counts) - border) / cells
    centres: list[tuple[int, float]] = []
    widths: list[int] = []
    for k in range(1, cells):
        guess = border / 2 + k * pitch
        lo, hi = max(0, round(guess - pitch / 6)), min(len(counts), round(guess + pitch / 6) + 1)
        window = counts[lo:hi]
        if window.size == 0 or window.max() < MIN_LINE_INK * extent:
            continue
        strong = window >= window.max() / 2
        where = np.arange(lo, hi)[strong] + 0.5  # a pixel's centre
        centres.append((k, start + float((where * window[strong]).sum() / window[strong].sum())))
        widths.append(int(strong.sum()))
    clipped = bool(widths) and border < 0.75 * float(np.median(widths))
    first, last = (float(start), float(end)) if clipped else (start + border / 2, end - border / 2)
    points = [(0, first), *centres, (cells, last)]
    slope, intercept = np.polyfit([k for k, _ in points], [centre for _, centre in points], 1)
    return float(intercept), float(slope)


def find_grid(picture: np.ndarray, rows: int, cols: int, what: str) -> Grid:
    """The ``rows`` x ``cols`` grid ``picture`` shows; ValueError naming ``what`` when it shows none."""
    dark = ink(picture)
    ys, xs = np.nonzero(dark)
    if len(xs) == 0:
        raise ValueError(f"the first frame shows no {what}: it has no dark lines; re-import the task's first_frame.png")
    x0, x1, y0, y1 = int(xs.min()), int(xs.max()), int(ys.min()), int(ys.max())
    # Thickness of the left and top border, measured across the first cell, away from any inner line.
    thick_x = _run(dark[y0 + (y1 - y0) // (2 * rows), x0:])
    thick_y = _run(dark[y0:, x0 + (x1 - x0) // (2 * cols)])
    box = dark[y0 : y1 + 1, x0 : x1 + 1]
    left, pitch_x = _lines(box.sum(axis=0), x0, thick_x, cols, y1 - y0 + 1)
    top, pitch_y = _lines(box.sum(axis=1), y0, thick_y, rows, x1 - x0 + 1)
    border = max(thick_x, thick_y)
    margin = math.ceil(max(border, min(pitch_x, pitch_y) / 16) / 2) + 2
    grid = Grid(rows, cols, left, top, pitch_x, pitch_y, border, margin)

    cell = grid.interior(0, 0)
    if min(cell[2] - cell[0], cell[3] - cell[1]) + 1 < MIN_INTERIOR:
        raise ValueError(f"the first frame's {what} is too small to read ({x1 - x0 + 1}x{y1 - y0 + 1} pixels)")
    # The border as drawn (its visible ink), not as fitted: a clipped border's centre lies on its outer edge.
    across, down = slice(x0, x1 + 1), slice(y0, y1 + 1)
    sides = (
        dark[band(y0 + thick_y / 2, thick_y), across],
        dark[band(y1 + 1 - thick_y / 2, thick_y), across],
        dark[down, band(x0 + thick_x / 2, thick_x)],
        dark[down, band(x1 + 1 - thick_x / 2, thick_x)],
    )
    if min(side.mean() for side in sides) < BORDER_INK:
        raise ValueError(
            f"the first frame shows no {what} of {rows}x{cols} cells with a closed dark border; "
            "the task's first_frame.png must be the picture upstream generated"
        )
    return grid

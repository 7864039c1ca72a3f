"""Drawing helpers shared by the grid-based task domains.

Every frame is drawn with flat colours and without antialiasing: shapes use
PIL's plain (aliased) primitives and text is drawn in 1-bit font mode. That
keeps frames identical from run to run and lets a verifier read a frame's state
back by sampling pixels at positions computed from the task's render geometry.

Geometry convention (stored in each task's ``metadata["render"]``): cell
``(row, col)`` covers the pixels ``x in [ox + col*cs, ox + (col+1)*cs)`` and
``y in [oy + row*cs, oy + (row+1)*cs)`` where ``[ox, oy]`` is ``grid_origin``
and ``cs`` is ``cell_size``. Colours are ``[r, g, b]`` lists.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFont

Color = tuple[int, int, int]
Box = tuple[int, int, int, int]  # x0, y0, x1, y1, inclusive as PIL draws rectangles

FRAME_SIZE = 512  # every shipped domain renders square 512x512 RGB frames
GRID_MARGIN = 32  # free border around every grid, so thick outer lines stay inside the frame


def color(value: Sequence[int]) -> Color:
    """A metadata colour (a JSON list) as the tuple PIL expects."""
    r, g, b = value
    return int(r), int(g), int(b)


def grid_layout(rows: int, cols: int, margin: int = GRID_MARGIN) -> tuple[list[int], int]:
    """``(grid_origin, cell_size)`` of the largest square-celled grid centred in the frame."""
    cell_size = (FRAME_SIZE - 2 * margin) // max(rows, cols)
    origin = [(FRAME_SIZE - cols * cell_size) // 2, (FRAME_SIZE - rows * cell_size) // 2]
    return origin, cell_size


def cell_box(origin: Sequence[int], cell_size: int, row: int, col: int, inset: int = 0) -> Box:
    """Pixel box of cell ``(row, col)``, shrunk by ``inset`` on every side."""
    x0 = origin[0] + col * cell_size
    y0 = origin[1] + row * cell_size
    return x0 + inset, y0 + inset, x0 + cell_size - 1 - inset, y0 + cell_size - 1 - inset


def cell_center(origin: Sequence[int], cell_size: int, row: int, col: int) -> tuple[int, int]:
    return origin[0] + col * cell_size + cell_size // 2, origin[1] + row * cell_size + cell_size // 2


def line_span(position: int, thickness: int) -> tuple[int, int]:
    """Inclusive pixel range of a line ``thickness`` wide centred on grid coordinate ``position``."""
    start = position - thickness // 2
    return start, start + thickness - 1


def new_frame(background: Color) -> tuple[Image.Image, ImageDraw.ImageDraw]:
    image = Image.new("RGB", (FRAME_SIZE, FRAME_SIZE), background)
    draw = ImageDraw.Draw(image)
    draw.fontmode = "1"  # no antialiased glyph edges: text pixels are exactly the text colour
    return image, draw


@lru_cache(maxsize=16)
def font(size: int) -> ImageFont.FreeTypeFont:
    # Pillow's bundled default font: no font file to ship, same glyphs everywhere Pillow is.
    loaded = ImageFont.load_default(size=size)
    if not isinstance(loaded, ImageFont.FreeTypeFont):  # Pillow without FreeType: bitmap font ignores size
        raise RuntimeError("rendering digits needs Pillow built with FreeType support")
    return loaded


def draw_centered_text(draw: ImageDraw.ImageDraw, center: tuple[int, int], text: str, size: int, fill: Color) -> None:
    draw.text(center, text, fill=fill, font=font(size), anchor="mm")


def to_array(image: Image.Image) -> np.ndarray:
    """A frame as the HxWx3 uint8 array render_solution() returns."""
    frame: np.ndarray = np.array(image.convert("RGB"), dtype=np.uint8)  # a copy, writable
    return frame

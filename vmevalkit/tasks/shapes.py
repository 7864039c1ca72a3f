"""Coloured shapes shared by the abstraction domains that reason over symbols (raven, pattern_continuation).

A *symbol* is a shape in a colour, named by the string ``"<colour> <shape>"`` ("red circle"); ``EMPTY`` names a
place that holds none. Symbols are what those domains' regions are read as, so every pair must be told apart
after a crf 35 re-encode, a 360p downscale and noise: the shapes are big and solid, differ over at least a fifth
of their box (a circle and a square, the closest pair, differ by the square's four corners), and the colours
differ strongly in hue and brightness.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from PIL import ImageDraw

from vmevalkit.tasks.render import Box, color

EMPTY = "empty"
SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "diamond", "cross")
PALETTE: dict[str, list[int]] = {
    "red": [220, 30, 30],
    "blue": [30, 70, 230],
    "green": [20, 160, 50],
    "orange": [245, 165, 0],
    "purple": [150, 40, 190],
}


def symbol(colour: str, shape: str) -> str:
    return f"{colour} {shape}"


def split_symbol(name: str) -> tuple[str, str]:
    """``(colour, shape)`` of a symbol's name."""
    colour, shape = name.split(" ")
    return colour, shape


def all_symbols(palette: Mapping[str, Sequence[int]], shapes: Sequence[str]) -> list[str]:
    """Every symbol a task's regions can be read as: each shape in each colour of its palette."""
    return [symbol(colour, shape) for colour in palette for shape in shapes]


def draw_shape(draw: ImageDraw.ImageDraw, box: Box, shape: str, fill: Sequence[int]) -> None:
    """A solid ``shape`` filling the square ``box`` (inclusive corners), without antialiasing."""
    x0, y0, x1, y1 = box
    cx, cy = (x0 + x1) // 2, (y0 + y1) // 2
    ink = color(fill)
    if shape == "circle":
        draw.ellipse(box, fill=ink)
    elif shape == "square":
        draw.rectangle(box, fill=ink)
    elif shape == "triangle":
        draw.polygon([(cx, y0), (x1, y1), (x0, y1)], fill=ink)
    elif shape == "diamond":
        draw.polygon([(cx, y0), (x1, cy), (cx, y1), (x0, cy)], fill=ink)
    elif shape == "cross":
        arm = (x1 - x0 + 1) // 6  # half the bar width: bars a third of the box wide
        draw.rectangle((cx - arm, y0, cx + arm, y1), fill=ink)
        draw.rectangle((x0, cy - arm, x1, cy + arm), fill=ink)
    else:
        raise ValueError(f"unknown shape '{shape}'; known: {', '.join(SHAPES)}")


def draw_symbol(draw: ImageDraw.ImageDraw, box: Box, name: str, palette: Mapping[str, Sequence[int]]) -> None:
    """The symbol ``name`` in ``box``; ``EMPTY`` draws nothing."""
    if name == EMPTY:
        return
    colour, shape = split_symbol(name)
    draw_shape(draw, box, shape, palette[colour])

"""Symmetry: colour the missing cells so a picture becomes mirror-symmetric across a thick axis.

A square grid is split by a thick mirror line through its middle. The given half (left of a vertical axis, or
above a horizontal one) holds a random pattern of coloured cells; the other half shows only some of their mirror
images. The task is to colour the missing mirror cells, one cell per step, until the whole picture is symmetric.

Generation: a fixed number of the given half's cells are coloured (rng-chosen cells and colours from the task's
colours), the mirrored grid is the answer, and a few of the mirrored coloured cells are left out of the first
frame. The keyframes colour those cells one at a time in row-major order. Harder levels have a bigger grid, more
colours and more missing cells; on hard the axis may also be horizontal.

Metadata (besides the common keys):
    size           side of the grid in cells (even)
    axis           "vertical" (given half on the left) or "horizontal" (given half on top)
    colors_used    colour names the pattern uses (a subset of PALETTE)
    givens         the first frame's grid, ``size`` rows of labels: "empty" or a colour name
    solution_grid  the symmetric grid the task must end on
    solution       fills in row-major order, each ``[row, col, colour]``
    num_steps      ``len(solution)``, the missing cells (>= 2)
    render         grid_origin, cell_size, grid_line, axis_thickness, colors (background, empty, grid_line,
                   axis, and one entry per PALETTE colour)
"""

from __future__ import annotations

import random
from collections.abc import Hashable, Sequence
from typing import Any, ClassVar

import numpy as np
from PIL import Image

from vmevalkit.tasks.base import GeneratedTask, TaskDomain
from vmevalkit.tasks.reading import RegionReader
from vmevalkit.tasks.render import cell_box, color, grid_layout, line_span, new_frame, to_array
from vmevalkit.tasks.verifier import State, StateVerifier

EMPTY = "empty"
# Flat colours that stay far apart in every channel pair after compression (red/yellow differ by 160 in green).
PALETTE: dict[str, list[int]] = {
    "red": [220, 40, 40],
    "blue": [30, 90, 220],
    "green": [30, 160, 60],
    "yellow": [240, 200, 0],
}
COLORS: dict[str, list[int]] = {
    "background": [255, 255, 255],
    EMPTY: [245, 245, 245],
    "grid_line": [150, 150, 150],
    "axis": [20, 20, 20],
    **PALETTE,
}
# Per difficulty: grid side, colours used, coloured cells in the given half (range), missing cells (range).
LEVELS: dict[str, dict[str, Any]] = {
    "easy": {"size": 4, "colors": 1, "coloured": (4, 5), "missing": (2, 3)},
    "medium": {"size": 6, "colors": 2, "coloured": (8, 10), "missing": (4, 5)},
    "hard": {"size": 8, "colors": 3, "coloured": (13, 16), "missing": (6, 8)},
}

Grid = list[list[str]]


def mirror(row: int, col: int, size: int, axis: str) -> tuple[int, int]:
    """The cell that ``(row, col)`` maps to across the axis."""
    return (row, size - 1 - col) if axis == "vertical" else (size - 1 - row, col)


def in_given_half(row: int, col: int, size: int, axis: str) -> bool:
    return (col if axis == "vertical" else row) < size // 2


def draw_symmetry(metadata: dict[str, Any], grid: Grid) -> Image.Image:
    """The grid's cells in their colours, thin grid lines, and the thick mirror axis on top."""
    spec = metadata["render"]
    size, axis = metadata["size"], metadata["axis"]
    origin, cs = spec["grid_origin"], spec["cell_size"]
    colors = {k: color(v) for k, v in spec["colors"].items()}
    image, draw = new_frame(colors["background"])
    for r, row in enumerate(grid):
        for c, label in enumerate(row):
            draw.rectangle(cell_box(origin, cs, r, c), fill=colors[label])
    ox, oy = origin
    x_end, y_end = ox + size * cs, oy + size * cs
    for i in range(size + 1):
        y0, y1 = line_span(oy + i * cs, spec["grid_line"])
        draw.rectangle((ox, y0, x_end, y1), fill=colors["grid_line"])
        x0, x1 = line_span(ox + i * cs, spec["grid_line"])
        draw.rectangle((x0, oy, x1, y_end), fill=colors["grid_line"])
    half = size // 2 * cs
    if axis == "vertical":  # the axis overhangs the grid a little, so it reads as a mirror, not a grid line
        x0, x1 = line_span(ox + half, spec["axis_thickness"])
        draw.rectangle((x0, oy - cs // 4, x1, y_end + cs // 4), fill=colors["axis"])
    else:
        y0, y1 = line_span(oy + half, spec["axis_thickness"])
        draw.rectangle((ox - cs // 4, y0, x_end + cs // 4, y1), fill=colors["axis"])
    return image


def _grid_with(givens: Grid, fills: Sequence[Sequence[Any]]) -> Grid:
    grid = [row[:] for row in givens]
    for r, c, label in fills:
        grid[r][c] = label
    return grid


class SymmetryVerifier(StateVerifier):
    """The grid must end equal to the symmetric solution; the given half never changes; cells of the other half
    are coloured one at a time and a coloured cell never changes. A wrongly coloured cell is a legal move that
    leaves the picture unsolved."""

    domain: ClassVar[str] = "symmetry"
    puzzle: ClassVar[str] = "grid"

    def build_reader(self) -> RegionReader:
        size = self.metadata["size"]
        spec = self.metadata["render"]
        cells = [(r, c) for r in range(size) for c in range(size)]
        boxes = [cell_box(spec["grid_origin"], spec["cell_size"], r, c) for r, c in cells]
        # Every cell empty, then every cell in each palette colour: a colour outside the task's own still reads.
        renders = []
        for label in (EMPTY, *PALETTE):
            grid = [[label] * size for _ in range(size)]
            renders.append((to_array(draw_symmetry(self.metadata, grid)), [label] * len(cells)))
        return RegionReader(boxes, renders)

    def initial_state(self) -> State:
        return tuple(label for row in self.metadata["givens"] for label in row)

    def solved_state(self) -> State:
        return tuple(label for row in self.metadata["solution_grid"] for label in row)

    def state(self, labels: Sequence[Hashable | None]) -> State | None:
        return tuple(labels)

    def _where(self, index: int) -> str:
        row, col = divmod(index, self.metadata["size"])
        return f"row {row + 1}, column {col + 1}"

    def move_error(self, before: State, after: State) -> str | None:
        size, axis = self.metadata["size"], self.metadata["axis"]
        changed = [i for i, (a, b) in enumerate(zip(before, after, strict=True)) if a != b]
        for i in changed:
            row, col = divmod(i, size)
            if in_given_half(row, col, size, axis):
                return f"the given cell at {self._where(i)} changes from {before[i]} to {after[i]}"
        for i in changed:
            if before[i] != EMPTY:
                change = "erased" if after[i] == EMPTY else f"recoloured {after[i]}"
                return f"the {before[i]} cell at {self._where(i)} is {change}"
        if len(changed) > 1:
            return f"{len(changed)} cells are coloured at once; the task colours one cell at a time"
        return None

    def end_error(self, state: State) -> str:
        missing = sum(1 for got, right in zip(state, self.solved, strict=True) if got == EMPTY and right != EMPTY)
        wrong = sum(1 for got, right in zip(state, self.solved, strict=True) if got != right and got != EMPTY)
        return f"the picture is not symmetric: {missing} cell(s) still missing and {wrong} wrongly coloured"


class SymmetryDomain(TaskDomain):
    name: ClassVar[str] = "symmetry"
    description: ClassVar[str] = (
        "Colour the missing cells of a grid, one per step, so the picture is mirror-symmetric across a thick axis."
    )
    category: ClassVar[str] = "abstraction"
    rubric: ClassVar[str] = (
        "The puzzle: a square grid of light grey cells, some coloured (red, blue, green or yellow), split in two "
        "halves by a thick black mirror line. One half (left, or top) is complete; the other half shows only some "
        "of its mirror images. A correct solution: the missing cells of the incomplete half are coloured, one cell "
        "at a time, until every cell equals the colour of its mirror cell across the line. Illegal: a cell of the "
        "complete half changes; a coloured cell changes colour or is erased; several cells are coloured at once; "
        "the grid or the mirror line changes."
    )
    verifier_class: ClassVar[type[StateVerifier]] = SymmetryVerifier

    def generate_one(self, rng: random.Random, task_id: str, seed: int, difficulty: str) -> GeneratedTask:
        level = LEVELS[difficulty]
        size: int = level["size"]
        axis = rng.choice(["vertical", "horizontal"]) if difficulty == "hard" else "vertical"
        colors_used = sorted(rng.sample(sorted(PALETTE), level["colors"]))
        half = [(r, c) for r in range(size) for c in range(size) if in_given_half(r, c, size, axis)]
        coloured = rng.sample(half, rng.randint(*level["coloured"]))
        # Each colour appears at least once; the rest are drawn freely.
        labels = colors_used + [rng.choice(colors_used) for _ in range(len(coloured) - len(colors_used))]
        rng.shuffle(labels)

        solution_grid = [[EMPTY] * size for _ in range(size)]
        for (r, c), label in zip(coloured, labels, strict=True):
            mr, mc = mirror(r, c, size, axis)
            solution_grid[r][c] = solution_grid[mr][mc] = label
        mirrored = sorted(mirror(r, c, size, axis) for r, c in coloured)
        missing = sorted(rng.sample(mirrored, rng.randint(*level["missing"])))  # row-major order
        givens = [row[:] for row in solution_grid]
        for r, c in missing:
            givens[r][c] = EMPTY
        fills = [[r, c, solution_grid[r][c]] for r, c in missing]

        origin, cell_size = grid_layout(size, size)
        metadata: dict[str, Any] = {
            "domain": self.name,
            "category": self.category,
            "task_id": task_id,
            "seed": seed,
            "difficulty": difficulty,
            "size": size,
            "axis": axis,
            "colors_used": colors_used,
            "givens": givens,
            "solution_grid": solution_grid,
            "solution": fills,
            "num_steps": len(fills),
            "render": {
                "grid_origin": origin,
                "cell_size": cell_size,
                "grid_line": max(2, cell_size // 24),
                "axis_thickness": max(8, cell_size // 6),
                "colors": {k: list(v) for k, v in COLORS.items()},
            },
        }
        side = "right" if axis == "vertical" else "bottom"
        given_side = "left" if axis == "vertical" else "top"
        prompt = (
            f"The thick black line is a mirror. Colour the missing cells on the {side} of the line so that the whole "
            f"picture becomes mirror-symmetric across it, one cell at a time. Do not change the {given_side} half "
            "or any cell that is already coloured."
        )
        return GeneratedTask(
            task_id=task_id,
            domain=self.name,
            prompt=prompt,
            first_frame=draw_symmetry(metadata, givens),
            final_frame=draw_symmetry(metadata, solution_grid),
            metadata=metadata,
        )

    def render_solution(self, metadata: dict[str, Any]) -> list[np.ndarray]:
        fills = metadata["solution"]
        givens = metadata["givens"]
        return [to_array(draw_symmetry(metadata, _grid_with(givens, fills[:k]))) for k in range(len(fills) + 1)]

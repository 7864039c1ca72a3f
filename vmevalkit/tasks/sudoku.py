"""Sudoku: fill a small sudoku so every row, column and box holds each digit once.

A full grid is filled by randomized backtracking, then cells are emptied one by
one (in random order) while the puzzle keeps exactly one solution, until the
difficulty's number of blanks is reached. Given digits are drawn in black,
filled-in digits in blue; the keyframes fill one blank at a time in row-major
order.

Metadata (besides the common keys):
    box_size       side of a box in cells (2: a 4x4 sudoku with 2x2 boxes)
    size           side of the grid in cells, ``box_size ** 2``; digits are 1..size
    givens         the first frame's grid, ``size`` rows, 0 = blank
    solution_grid  the unique completed grid
    solution       fills in row-major order, each ``[row, col, digit]``
    num_steps      ``len(solution)``, the number of blanks
    render         grid_origin, cell_size, thin_line, thick_line, font_size, colors
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from PIL import Image

from vmevalkit.tasks.base import GeneratedTask, TaskDomain
from vmevalkit.tasks.reading import RegionReader
from vmevalkit.tasks.render import (
    cell_box,
    cell_center,
    color,
    draw_centered_text,
    grid_layout,
    line_span,
    new_frame,
    to_array,
)
from vmevalkit.tasks.sudoku_rules import SudokuRules
from vmevalkit.tasks.upstream import sudoku as upstream
from vmevalkit.tasks.verifier import State, StateVerifier

Grid = list[list[int]]  # rows of digits, 0 = blank

BLANK_FRACTION = {"easy": 0.375, "medium": 0.5, "hard": 0.625}  # 6, 8, 10 blanks on a 4x4 grid
COLORS = {
    "background": [255, 255, 255],
    "grid_line": [0, 0, 0],
    "given": [0, 0, 0],
    "filled": [30, 90, 220],
}
MAX_ATTEMPTS = 100  # fresh full grids tried before giving up on reaching the blank count


def candidates(grid: Grid, row: int, col: int, box: int) -> list[int]:
    size = box * box
    used = set(grid[row]) | {grid[r][col] for r in range(size)}
    br, bc = row - row % box, col - col % box
    used |= {grid[r][c] for r in range(br, br + box) for c in range(bc, bc + box)}
    return [d for d in range(1, size + 1) if d not in used]


def fill_grid(rng: random.Random, box: int) -> Grid:
    """A random complete grid: row-major backtracking trying digits in rng-shuffled order."""
    size = box * box
    grid = [[0] * size for _ in range(size)]

    def place(index: int) -> bool:
        if index == size * size:
            return True
        r, c = divmod(index, size)
        options = candidates(grid, r, c, box)
        rng.shuffle(options)
        for digit in options:
            grid[r][c] = digit
            if place(index + 1):
                return True
        grid[r][c] = 0
        return False

    place(0)
    return grid


def count_solutions(grid: Grid, box: int, limit: int = 2) -> int:
    """Solutions of ``grid``, counted up to ``limit`` (2 is enough to tell unique from not)."""
    grid = [row[:] for row in grid]
    size = box * box

    def search() -> int:
        # Branch on the blank with the fewest candidates: keeps 9x9 searches small.
        best: tuple[int, int, list[int]] | None = None
        for r in range(size):
            for c in range(size):
                if grid[r][c] == 0:
                    options = candidates(grid, r, c, box)
                    if best is None or len(options) < len(best[2]):
                        best = (r, c, options)
        if best is None:
            return 1
        r, c, options = best
        found = 0
        for digit in options:
            grid[r][c] = digit
            found += search()
            if found >= limit:
                break
        grid[r][c] = 0
        return found

    return search()


def make_puzzle(rng: random.Random, box: int, blanks: int) -> tuple[Grid, Grid]:
    """``(givens, solution_grid)`` with exactly ``blanks`` empty cells and a unique solution."""
    size = box * box
    for _ in range(MAX_ATTEMPTS):
        solution = fill_grid(rng, box)
        givens = [row[:] for row in solution]
        cells = [(r, c) for r in range(size) for c in range(size)]
        rng.shuffle(cells)
        removed = 0
        for r, c in cells:
            if removed == blanks:
                break
            givens[r][c] = 0
            if count_solutions(givens, box) == 1:
                removed += 1
            else:
                givens[r][c] = solution[r][c]
        if removed == blanks:
            return givens, solution
    raise RuntimeError(f"no {size}x{size} sudoku with {blanks} blanks and a unique solution in {MAX_ATTEMPTS} attempts")


def draw_sudoku(metadata: dict[str, Any], fills: list[list[int]]) -> Image.Image:
    """The givens in the given colour plus ``fills`` (``[row, col, digit]``) in the filled colour."""
    spec = metadata["render"]
    box, size = metadata["box_size"], metadata["size"]
    origin, cs = spec["grid_origin"], spec["cell_size"]
    colors = {k: color(v) for k, v in spec["colors"].items()}
    image, draw = new_frame(colors["background"])

    # Grid lines, thick on box boundaries, each centred on its grid coordinate.
    extent = line_span(origin[0], spec["thick_line"])[0], line_span(origin[0] + size * cs, spec["thick_line"])[1]
    extent_y = line_span(origin[1], spec["thick_line"])[0], line_span(origin[1] + size * cs, spec["thick_line"])[1]
    for i in range(size + 1):
        thickness = spec["thick_line"] if i % box == 0 else spec["thin_line"]
        y0, y1 = line_span(origin[1] + i * cs, thickness)
        draw.rectangle((extent[0], y0, extent[1], y1), fill=colors["grid_line"])
        x0, x1 = line_span(origin[0] + i * cs, thickness)
        draw.rectangle((x0, extent_y[0], x1, extent_y[1]), fill=colors["grid_line"])

    for r, row in enumerate(metadata["givens"]):
        for c, digit in enumerate(row):
            if digit:
                draw_centered_text(draw, cell_center(origin, cs, r, c), str(digit), spec["font_size"], colors["given"])
    for r, c, digit in fills:
        draw_centered_text(draw, cell_center(origin, cs, r, c), str(digit), spec["font_size"], colors["filled"])
    return image


class SudokuVerifier(SudokuRules):
    """The grid must end equal to the solution; givens never change; digits are filled in one at a time and
    never erased or changed. Ink colour is not judged: a digit is a digit, black or blue."""

    domain: ClassVar[str] = "sudoku"
    puzzle: ClassVar[str] = "grid"

    def build_reader(self) -> RegionReader:
        size = self.metadata["size"]
        spec = self.metadata["render"]
        cells = [(r, c) for r in range(size) for c in range(size)]
        boxes = [cell_box(spec["grid_origin"], spec["cell_size"], r, c) for r, c in cells]
        empty = [[0] * size for _ in range(size)]
        renders = [(to_array(draw_sudoku({**self.metadata, "givens": empty}, [])), [0] * len(cells))]
        # Shifted rows of 1..size: each cell shows each digit in one of them, as a given (black) and as a fill.
        for shift in range(size):
            digits = [(r + c + shift) % size + 1 for r, c in cells]
            grid = [digits[r * size : (r + 1) * size] for r in range(size)]
            fills = [[r, c, d] for (r, c), d in zip(cells, digits, strict=True)]
            black = to_array(draw_sudoku({**self.metadata, "givens": grid}, []))
            blue = to_array(draw_sudoku({**self.metadata, "givens": empty}, fills))
            renders += [(black, digits), (blue, digits)]  # the same digit in either ink: one label
        return RegionReader(boxes, renders)

    def initial_state(self) -> State:
        return tuple(digit for row in self.metadata["givens"] for digit in row)

    def solved_state(self) -> State:
        return tuple(digit for row in self.metadata["solution_grid"] for digit in row)

    @property
    def grid_size(self) -> int:
        return int(self.metadata["size"])


class SudokuDomain(TaskDomain):
    name: ClassVar[str] = "sudoku"
    description: ClassVar[str] = (
        "Complete a 4x4 sudoku (2x2 boxes; 9x9 with box_size=3) with a unique solution, one digit at a time."
    )
    category: ClassVar[str] = "abstraction"
    difficulties: ClassVar[tuple[str, ...]] = tuple(BLANK_FRACTION)  # easy, medium, hard
    rubric: ClassVar[str] = (
        "The puzzle: a sudoku grid with given digits in black and empty cells. A correct solution: every "
        "empty cell holds a blue digit, so that each row, each column and each box contains every digit "
        "exactly once, filled in one cell at a time. Illegal: a black (given) digit changes, moves or "
        "disappears; a digit breaks the rules; many cells fill at once; the grid changes."
    )
    verifier_class: ClassVar[type[StateVerifier]] = SudokuVerifier

    def verifier(self, metadata: dict[str, Any], task_dir: Path | None = None) -> StateVerifier:
        """Ours from the metadata; an imported upstream task's from its pictures too (``tasks/upstream/``)."""
        if upstream.is_upstream(metadata):
            return upstream.UpstreamSudokuVerifier(metadata, task_dir)
        return super().verifier(metadata)

    def __init__(self, box_size: int = 2) -> None:
        if box_size not in (2, 3):  # 4x4 and 9x9: larger grids take minutes to prove their solution unique
            raise ValueError(f"sudoku box_size must be 2 (a 4x4 grid) or 3 (9x9), not {box_size!r}")
        self.box_size = box_size

    def generate_one(self, rng: random.Random, task_id: str, seed: int, difficulty: str) -> GeneratedTask:
        box = self.box_size
        size = box * box
        givens, solution_grid = make_puzzle(rng, box, round(BLANK_FRACTION[difficulty] * size * size))
        fills = [[r, c, solution_grid[r][c]] for r in range(size) for c in range(size) if givens[r][c] == 0]

        origin, cell_size = grid_layout(size, size)
        metadata: dict[str, Any] = {
            "domain": self.name,
            "category": self.category,
            "task_id": task_id,
            "seed": seed,
            "difficulty": difficulty,
            "box_size": box,
            "size": size,
            "givens": givens,
            "solution_grid": solution_grid,
            "solution": fills,
            "num_steps": len(fills),
            "render": {
                "grid_origin": origin,
                "cell_size": cell_size,
                "thin_line": max(2, cell_size // 40),
                "thick_line": max(4, cell_size // 16),
                "font_size": cell_size * 11 // 20,
                "colors": {k: list(v) for k, v in COLORS.items()},
            },
        }
        prompt = (
            f"Fill every empty cell of this {size}x{size} sudoku with a digit from 1 to {size} so that each row, "
            f"each column and each {box}x{box} box contains every digit exactly once. Write the new digits in blue, "
            "one cell at a time, and leave the black digits unchanged."
        )
        return GeneratedTask(
            task_id=task_id,
            domain=self.name,
            prompt=prompt,
            first_frame=draw_sudoku(metadata, []),
            final_frame=draw_sudoku(metadata, fills),
            metadata=metadata,
        )

    def render_solution(self, metadata: dict[str, Any]) -> list[np.ndarray]:
        fills = metadata["solution"]
        return [to_array(draw_sudoku(metadata, fills[:k])) for k in range(len(fills) + 1)]

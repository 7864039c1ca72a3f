"""Connect four: drop the one red disc that wins at once, and show it falling into place.

A 7x6 board (blue frame, round holes) holds red and yellow discs. Red is to move and has exactly ONE column in
which a dropped disc completes four in a row (across, down or diagonally). The solution shows that disc
entering the top row of its column and falling one cell per keyframe until it rests.

How a task is made: a random game is played from the empty board (red first, colours alternating, each drop
into a random column that is not full) up to a number of discs that grows with difficulty. The position is
kept when nobody has won on the way, red (to move: the counts are equal) has exactly one winning column, the
winning disc falls at least one cell (so its drop takes two or more steps), and, for hard tasks, red also has a
*decoy*: an open cell that would complete four for red but cannot be played yet (nothing under it). Yellow
may have its own threats; red wins first. Otherwise a new game is played.

Metadata (besides the common keys):
    rows, cols       6 and 7
    board            ``rows`` strings of ``cols`` characters, top row first: "." empty, "R" red, "Y" yellow
    moves            the columns (0-based) of the random game that made ``board``, red first
    winning_column   the column (0-based) of red's only winning drop
    landing_row      the row (0-based from the top) where that disc comes to rest (>= 1)
    decoys           ``[row, col]`` open cells that would complete four for red but are not playable yet
    solution         the falling disc's cells, ``[row, winning_column]`` for row 0 .. landing_row
    num_steps        ``len(solution)``: the disc appears (one step), then falls one cell per step
    render           grid_origin, cell_size, disc_inset, frame_pad, colors
"""

from __future__ import annotations

import random
from collections.abc import Hashable, Sequence
from typing import Any, ClassVar

import numpy as np
from PIL import Image

from vmevalkit.tasks.base import GeneratedTask, TaskDomain
from vmevalkit.tasks.reading import RegionReader
from vmevalkit.tasks.render import cell_box, color, grid_layout, new_frame, to_array
from vmevalkit.tasks.verifier import State, StateVerifier

Cell = tuple[int, int]
Grid = list[list[str]]  # rows of "." / "R" / "Y", top row first

ROWS, COLS = 6, 7
# Discs on the board before red's winning drop (always even: red and yellow have dropped alike).
DISCS = {"easy": (6, 10), "medium": (12, 16), "hard": (18, 24)}
LABELS = {".": "empty", "R": "red", "Y": "yellow"}
COLORS = {
    "background": [240, 240, 240],
    "frame": [25, 70, 190],
    "empty": [255, 255, 255],
    "red": [215, 25, 25],
    "yellow": [250, 205, 0],
}
PROMPT = (
    "Connect four: red is to move. Exactly one column lets red complete four red discs in a row (across, down "
    "or diagonally) with a single drop. Drop one red disc into that column: show it entering the top of the "
    "column and falling one cell at a time until it rests on the disc below it or on the bottom."
)
# The four directions a line of four can run in: across, down, and both diagonals.
LINES: tuple[Cell, ...] = ((0, 1), (1, 0), (1, 1), (1, -1))


def landing_row(grid: Grid, col: int) -> int | None:
    """The lowest empty row of ``col`` (0 = top), or None when the column is full."""
    for row in range(ROWS - 1, -1, -1):
        if grid[row][col] == ".":
            return row
    return None


def completes_four(grid: Grid, row: int, col: int, disc: str) -> bool:
    """Whether a ``disc`` at ``(row, col)`` would make four (or more) of its colour in a line through it."""
    for dr, dc in LINES:
        run = 1
        for sign in (1, -1):
            r, c = row + sign * dr, col + sign * dc
            while 0 <= r < ROWS and 0 <= c < COLS and grid[r][c] == disc:
                run += 1
                r, c = r + sign * dr, c + sign * dc
        if run >= 4:
            return True
    return False


def random_game(rng: random.Random, discs: int) -> tuple[Grid, list[int]] | None:
    """A random game of ``discs`` drops, red first; None when someone wins on the way."""
    grid: Grid = [["."] * COLS for _ in range(ROWS)]
    moves: list[int] = []
    for turn in range(discs):
        disc = "R" if turn % 2 == 0 else "Y"
        col = rng.choice([c for c in range(COLS) if grid[0][c] == "."])
        row = landing_row(grid, col)
        assert row is not None  # the column was chosen among those not full
        if completes_four(grid, row, col, disc):
            return None
        grid[row][col] = disc
        moves.append(col)
    return grid, moves


def red_wins(grid: Grid) -> list[Cell]:
    """The cells where a red drop, played now, completes four."""
    wins = []
    for col in range(COLS):
        row = landing_row(grid, col)
        if row is not None and completes_four(grid, row, col, "R"):
            wins.append((row, col))
    return wins


def red_decoys(grid: Grid) -> list[Cell]:
    """Open cells that would complete four for red but float: the cell below is still empty."""
    return [
        (row, col)
        for row in range(ROWS - 1)
        for col in range(COLS)
        if grid[row][col] == "." and grid[row + 1][col] == "." and completes_four(grid, row, col, "R")
    ]


def make_position(rng: random.Random, difficulty: str) -> tuple[Grid, list[int], Cell, list[Cell]]:
    """A random position where red has exactly one winning drop that falls at least one cell."""
    low, high = DISCS[difficulty]
    while True:
        game = random_game(rng, 2 * rng.randint(low // 2, high // 2))
        if game is None:
            continue
        grid, moves = game
        wins = red_wins(grid)
        if len(wins) != 1 or wins[0][0] == 0:
            continue
        decoys = red_decoys(grid)
        if difficulty == "hard" and not decoys:
            continue
        return grid, moves, wins[0], decoys


def _grid_from(metadata: dict[str, Any]) -> Grid:
    return [list(row) for row in metadata["board"]]


def draw_board(metadata: dict[str, Any], grid: Grid) -> Image.Image:
    """The blue board with a disc (or an empty hole) in every cell."""
    spec = metadata["render"]
    colors = {name: color(rgb) for name, rgb in spec["colors"].items()}
    (ox, oy), cs, pad = spec["grid_origin"], spec["cell_size"], spec["frame_pad"]
    image, draw = new_frame(colors["background"])
    draw.rectangle((ox - pad, oy - pad, ox + COLS * cs - 1 + pad, oy + ROWS * cs - 1 + pad), fill=colors["frame"])
    for row in range(ROWS):
        for col in range(COLS):
            fill = colors[LABELS[grid[row][col]]]
            draw.ellipse(cell_box(spec["grid_origin"], cs, row, col, spec["disc_inset"]), fill=fill)
    return image


def _with_disc(grid: Grid, cell: Cell | None) -> Grid:
    out = [row[:] for row in grid]
    if cell is not None:
        out[cell[0]][cell[1]] = "R"
    return out


def _where(cell: Cell) -> str:
    return f"row {cell[0] + 1} (from the top) of column {cell[1] + 1}"


class ConnectFourVerifier(StateVerifier):
    """One red disc enters the top of a column and falls one cell per step; it must rest on the winning cell."""

    domain: ClassVar[str] = "connect_four"
    puzzle: ClassVar[str] = "board"

    def build_reader(self) -> RegionReader:
        spec = self.metadata["render"]
        boxes = [cell_box(spec["grid_origin"], spec["cell_size"], r, c) for r in range(ROWS) for c in range(COLS)]
        # The board all empty, all red and all yellow: every hole is seen with every label.
        renders = [
            (to_array(draw_board(self.metadata, [[code] * COLS for _ in range(ROWS)])), [label] * (ROWS * COLS))
            for code, label in LABELS.items()
        ]
        return RegionReader(boxes, renders)

    def initial_state(self) -> State:
        return tuple(LABELS[code] for row in self.metadata["board"] for code in row)

    def solved_state(self) -> State:
        row, col = self.metadata["landing_row"], self.metadata["winning_column"]
        cells = list(self.initial_state())
        cells[row * COLS + col] = "red"
        return tuple(cells)

    def state(self, labels: Sequence[Hashable | None]) -> State | None:
        return tuple(labels)

    def board_error(self, state: State) -> str | None:
        """Why ``state`` is not the task's board plus at most one new red disc, or None."""
        added = []
        for index, (was, now) in enumerate(zip(self.initial, state, strict=True)):
            if was == now:
                continue
            cell = divmod(index, COLS)
            if was != "empty":
                return f"the {was} disc in {_where(cell)} changes or vanishes (it shows {now})"
            if now != "red":
                return f"a {now} disc appears in {_where(cell)}; only one red disc may be played"
            added.append(cell)
        if len(added) > 1:
            return f"{len(added)} red discs are on the board at once; only one red disc may be played"
        return None

    def disc(self, state: State) -> Cell | None:
        """The new red disc's cell in a state that passed board_error, or None before it is played."""
        for index, (was, now) in enumerate(zip(self.initial, state, strict=True)):
            if was != now:
                row, col = divmod(index, COLS)
                return row, col
        return None

    def move_error(self, before: State, after: State) -> str | None:
        error = self.board_error(after)
        if error is not None:
            return error
        if self.board_error(before) is not None:
            return "the board is put back from an altered position, which no drop does"
        old, new = self.disc(before), self.disc(after)
        if new is None:
            return f"the red disc in {_where(old)} vanishes" if old is not None else None
        if old is None:
            if new[0] != 0:
                return f"the red disc appears in {_where(new)}, not in the top row: it must enter from the top"
            return None
        if new[1] != old[1]:
            return f"the red disc moves sideways from {_where(old)} to {_where(new)}"
        if new[0] < old[0]:
            return f"the red disc rises from {_where(old)} to {_where(new)}"
        if new[0] > old[0] + 1:
            return f"the red disc jumps from {_where(old)} to {_where(new)}, skipping cells instead of falling one"
        return None

    def end_error(self, state: State) -> str:
        error = self.board_error(state)
        if error is not None:
            return f"the board ends altered: {error}"
        cell = self.disc(state)
        if cell is None:
            return "no red disc is played"
        row, col = cell
        if row + 1 < ROWS and state[(row + 1) * COLS + col] == "empty":
            return f"the red disc ends in mid-air in {_where(cell)}"
        return f"the red disc ends in column {col + 1}, which does not win"


class ConnectFourDomain(TaskDomain):
    name: ClassVar[str] = "connect_four"
    description: ClassVar[str] = "Drop the one red disc that completes four in a row and show it falling into place."
    category: ClassVar[str] = "games"
    rubric: ClassVar[str] = (
        "The puzzle: a connect-four board (blue frame, 7 columns by 6 rows of round holes) with red and yellow "
        "discs; red is to move and exactly one column lets red complete four red discs in a row (across, down "
        "or diagonally). A correct solution: one red disc appears in the top row of that column and falls one "
        "cell at a time until it rests on the disc below it (or on the bottom), completing four in a row. "
        "Illegal: the disc appears part-way down a column or skips cells as it falls, moves sideways or up, "
        "or vanishes; more than one disc is added; a yellow disc is added; any disc already on the board "
        "moves, changes colour or disappears."
    )
    verifier_class: ClassVar[type[StateVerifier]] = ConnectFourVerifier

    def generate_one(self, rng: random.Random, task_id: str, seed: int, difficulty: str) -> GeneratedTask:
        grid, moves, (row, col), decoys = make_position(rng, difficulty)
        origin, cell_size = grid_layout(ROWS, COLS)
        metadata: dict[str, Any] = {
            "domain": self.name,
            "category": self.category,
            "task_id": task_id,
            "seed": seed,
            "difficulty": difficulty,
            "rows": ROWS,
            "cols": COLS,
            "board": ["".join(line) for line in grid],
            "moves": moves,
            "winning_column": col,
            "landing_row": row,
            "decoys": [list(cell) for cell in decoys],
            "solution": [[r, col] for r in range(row + 1)],
            "num_steps": row + 1,
            "render": {
                "grid_origin": origin,
                "cell_size": cell_size,
                "disc_inset": max(4, cell_size // 10),  # disc = cell box shrunk by this; the rest is frame
                "frame_pad": cell_size // 4,  # the blue frame reaches this far past the holes
                "colors": {k: list(v) for k, v in COLORS.items()},
            },
        }
        return GeneratedTask(
            task_id=task_id,
            domain=self.name,
            prompt=PROMPT,
            first_frame=draw_board(metadata, grid),
            final_frame=draw_board(metadata, _with_disc(grid, (row, col))),
            metadata=metadata,
        )

    def render_solution(self, metadata: dict[str, Any]) -> list[np.ndarray]:
        grid = _grid_from(metadata)
        cells: list[Cell | None] = [None, *((int(r), int(c)) for r, c in metadata["solution"])]
        return [to_array(draw_board(metadata, _with_disc(grid, cell))) for cell in cells]

"""Sliding puzzle: put the eight numbered tiles of a 3x3 board back in order.

A task starts from the solved board (1..8 row by row, blank bottom right) and
makes a number of random legal moves, never undoing the previous one. The
solution is a shortest move sequence back, found by BFS (a 3x3 board has only
181,440 reachable states, and scrambles are at most 14 moves deep). Each
keyframe shows the board after one more tile has slid into the blank.

Metadata (besides the common keys):
    size             board side in tiles (3)
    tiles            the first frame's board, ``size`` rows of tile numbers, 0 = blank
    scramble_length  random moves made from the solved board (an upper bound on num_steps)
    solution         tile numbers in the order they slide into the blank
    num_steps        ``len(solution)``; BFS makes it the fewest moves that solve the board
    render           grid_origin, cell_size, tile_inset, font_size, colors
                     (colors.tiles maps each tile number, as a string, to its fill colour;
                     the blank shows colors.board)
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Hashable, Sequence
from typing import Any, ClassVar

import numpy as np
from PIL import Image

from vmevalkit.tasks.base import GeneratedTask, TaskDomain
from vmevalkit.tasks.reading import RegionReader
from vmevalkit.tasks.render import (
    GRID_MARGIN,
    cell_box,
    cell_center,
    color,
    draw_centered_text,
    grid_layout,
    new_frame,
    to_array,
)
from vmevalkit.tasks.verifier import State, StateVerifier

Board = tuple[int, ...]  # row-major tile numbers, 0 = blank

SIZE = 3
SOLVED: Board = (*range(1, SIZE * SIZE), 0)
SCRAMBLE_LENGTHS = {"easy": (6, 8), "medium": (9, 11), "hard": (12, 14)}
COLORS: dict[str, Any] = {
    "background": [245, 245, 245],
    "board": [60, 60, 60],
    "tile_text": [255, 255, 255],
    # A distinct flat colour per tile, so a verifier can read the board by sampling
    # one pixel per cell instead of recognising digits.
    "tiles": {
        "1": [215, 40, 60],
        "2": [235, 120, 30],
        "3": [180, 140, 0],
        "4": [40, 150, 60],
        "5": [0, 115, 190],
        "6": [120, 50, 170],
        "7": [200, 40, 170],
        "8": [0, 125, 125],
    },
}
PROMPT = (
    "Slide the numbered tiles, one tile at a time into the empty space, until they read 1 to 8 in order "
    "from left to right and top to bottom, with the empty space in the bottom-right corner. "
    "Only a tile next to the empty space can move."
)
DIRECTIONS = ((-1, 0), (1, 0), (0, -1), (0, 1))  # fixed order: with the rng it fixes every choice


def blank_neighbours(board: Board, size: int = SIZE) -> list[int]:
    """Indices of the tiles that can slide into the blank, in a fixed order."""
    r, c = divmod(board.index(0), size)
    return [(r + dr) * size + c + dc for dr, dc in DIRECTIONS if 0 <= r + dr < size and 0 <= c + dc < size]


def slide(board: Board, tile: int, size: int = SIZE) -> Board:
    """The board after ``tile`` slides into the blank; ValueError if it is not next to it."""
    index = board.index(tile)
    if tile == 0 or index not in blank_neighbours(board, size):
        raise ValueError(f"tile {tile} is not next to the blank")
    cells = list(board)
    blank = board.index(0)
    cells[blank], cells[index] = tile, 0
    return tuple(cells)


def scramble(rng: random.Random, moves: int) -> Board:
    board, previous_blank = SOLVED, -1
    for _ in range(moves):
        # Never move the tile that just moved straight back: that would waste the move.
        options = [i for i in blank_neighbours(board) if i != previous_blank]
        previous_blank = board.index(0)
        board = slide(board, board[rng.choice(options)])
    return board


def solve(board: Board) -> list[int]:
    """A shortest list of tile moves from ``board`` to SOLVED, by breadth-first search."""
    parents: dict[Board, tuple[Board, int] | None] = {board: None}
    queue = deque([board])
    while queue:
        state = queue.popleft()
        if state == SOLVED:
            moves: list[int] = []
            while (step := parents[state]) is not None:
                state, tile = step[0], step[1]
                moves.append(tile)
            return moves[::-1]
        for index in blank_neighbours(state):
            nxt = slide(state, state[index])
            if nxt not in parents:
                parents[nxt] = (state, state[index])
                queue.append(nxt)
    raise ValueError(f"board {board} cannot be solved")


def draw_board(metadata: dict[str, Any], board: Board) -> Image.Image:
    spec = metadata["render"]
    size, cs, inset = metadata["size"], spec["cell_size"], spec["tile_inset"]
    origin = spec["grid_origin"]
    colors = spec["colors"]
    image, draw = new_frame(color(colors["background"]))
    # The board frame reaches halfway into the margin; empty cells show it through.
    pad = GRID_MARGIN // 2
    draw.rectangle(
        (origin[0] - pad, origin[1] - pad, origin[0] + size * cs - 1 + pad, origin[1] + size * cs - 1 + pad),
        fill=color(colors["board"]),
    )
    for index, tile in enumerate(board):
        if tile == 0:
            continue
        r, c = divmod(index, size)
        draw.rectangle(cell_box(origin, cs, r, c, inset), fill=color(colors["tiles"][str(tile)]))
        draw_centered_text(
            draw, cell_center(origin, cs, r, c), str(tile), spec["font_size"], color(colors["tile_text"])
        )
    return image


def _board_from(metadata: dict[str, Any]) -> Board:
    return tuple(tile for row in metadata["tiles"] for tile in row)


class SlidingPuzzleVerifier(StateVerifier):
    """The board must end solved; every change is one tile sliding into the adjacent empty slot."""

    domain: ClassVar[str] = "sliding_puzzle"
    puzzle: ClassVar[str] = "board"

    def build_reader(self) -> RegionReader:
        size = self.metadata["size"]
        spec = self.metadata["render"]
        boxes = [cell_box(spec["grid_origin"], spec["cell_size"], *divmod(i, size)) for i in range(size * size)]
        # Rotations of 0..8 over the slots: each slot shows each tile (and the blank, 0) in one of them.
        tiles = size * size
        boards = [tuple((i + shift) % tiles for i in range(tiles)) for shift in range(tiles)]
        renders = [(to_array(draw_board(self.metadata, board)), list(board)) for board in boards]
        return RegionReader(boxes, renders)

    def initial_state(self) -> State:
        return tuple(tile for row in self.metadata["tiles"] for tile in row)

    def solved_state(self) -> State:
        tiles = self.metadata["size"] ** 2
        return (*range(1, tiles), 0)

    def state(self, labels: Sequence[Hashable | None]) -> State | None:
        return tuple(label for label in labels if isinstance(label, int))

    def move_error(self, before: State, after: State) -> str | None:
        size = self.metadata["size"]
        tiles = sorted(self.initial)
        if sorted(after) != tiles:
            return "the board no longer holds each tile once (tiles appear, vanish or repeat)"
        if sorted(before) != tiles:  # after an illegal move that broke the board: mending it is no slide either
            return "the board is rebuilt from one that did not hold each tile once"
        if after in {slide(before, before[i], size) for i in blank_neighbours(before, size)}:
            return None
        moved = sorted(str(tile) for tile in set(before) - {0} if before.index(tile) != after.index(tile))
        if len(moved) == 1:
            return f"tile {moved[0]} jumps into the empty slot from a slot that is not next to it"
        return f"tiles {', '.join(moved)} move at once, not one tile sliding into the empty slot"

    def end_error(self, state: State) -> str:
        wrong = sum(tile != goal for tile, goal in zip(state, self.solved, strict=True) if tile)
        return f"the board ends unsolved, {wrong} tile(s) out of place"


class SlidingPuzzleDomain(TaskDomain):
    name: ClassVar[str] = "sliding_puzzle"
    description: ClassVar[str] = "Slide the tiles of a scrambled 3x3 puzzle back into order 1..8, one move at a time."
    category: ClassVar[str] = "ordering"
    difficulties: ClassVar[tuple[str, ...]] = tuple(SCRAMBLE_LENGTHS)  # easy, medium, hard
    rubric: ClassVar[str] = (
        "The puzzle: a 3x3 sliding puzzle with eight numbered, coloured tiles and one empty slot. A correct "
        "solution: the final board reads 1 to 8 from left to right and top to bottom, with the empty slot in "
        "the bottom-right corner. Legal moves: one tile next to the empty slot slides into it, one tile at a "
        "time. Illegal: two tiles swap places; a tile jumps, changes its number or colour, appears or "
        "disappears."
    )
    verifier_class: ClassVar[type[StateVerifier]] = SlidingPuzzleVerifier

    def generate_one(self, rng: random.Random, task_id: str, seed: int, difficulty: str) -> GeneratedTask:
        scramble_length = rng.randint(*SCRAMBLE_LENGTHS[difficulty])
        board = scramble(rng, scramble_length)
        while board == SOLVED:  # a scramble can walk a full cycle back home; draw another
            board = scramble(rng, scramble_length)
        solution = solve(board)

        origin, cell_size = grid_layout(SIZE, SIZE)
        metadata: dict[str, Any] = {
            "domain": self.name,
            "category": self.category,
            "task_id": task_id,
            "seed": seed,
            "difficulty": difficulty,
            "size": SIZE,
            "tiles": [list(board[r * SIZE : (r + 1) * SIZE]) for r in range(SIZE)],
            "scramble_length": scramble_length,
            "solution": solution,
            "num_steps": len(solution),
            "render": {
                "grid_origin": origin,
                "cell_size": cell_size,
                "tile_inset": max(3, cell_size // 30),  # tile = cell box shrunk by this; the gap shows the board
                "font_size": cell_size // 2,
                "colors": {
                    "background": list(COLORS["background"]),
                    "board": list(COLORS["board"]),
                    "tile_text": list(COLORS["tile_text"]),
                    "tiles": {k: list(v) for k, v in COLORS["tiles"].items()},
                },
            },
        }
        return GeneratedTask(
            task_id=task_id,
            domain=self.name,
            prompt=PROMPT,
            first_frame=draw_board(metadata, board),
            final_frame=draw_board(metadata, self._boards(metadata)[-1]),
            metadata=metadata,
        )

    @staticmethod
    def _boards(metadata: dict[str, Any]) -> list[Board]:
        boards = [_board_from(metadata)]
        for tile in metadata["solution"]:
            boards.append(slide(boards[-1], tile, metadata["size"]))
        return boards

    def render_solution(self, metadata: dict[str, Any]) -> list[np.ndarray]:
        return [to_array(draw_board(metadata, board)) for board in self._boards(metadata)]

"""Connect four: positions replayed from their games, the one winning drop re-derived, frames read back, cheats caught.

The checks here scan every window of four cells on the board with their own loop (not the domain's
``completes_four``), and replay the recorded game with their own gravity rule, so a bug in the generator cannot
hide itself.
"""

from __future__ import annotations

import json
from itertools import product
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from domain_videos import score_frames

from vmevalkit.tasks import get_domain
from vmevalkit.tasks.base import GeneratedTask
from vmevalkit.tasks.connect_four import ConnectFourVerifier, draw_board

SEEDS = (0, 1, 2)
COUNT = 8
TASK_SUCCESS, END_STATE, PROCESS = 0, 1, 2
ROWS, COLS = 6, 7


def all_tasks() -> list[GeneratedTask]:
    domain = get_domain("connect_four")
    return [task for seed in SEEDS for task in domain.generate(COUNT, seed=seed)]


def windows() -> list[list[tuple[int, int]]]:
    """Every line of four cells on a 6x7 board."""
    found = []
    for r, c in product(range(ROWS), range(COLS)):
        for dr, dc in ((0, 1), (1, 0), (1, 1), (-1, 1)):
            cells = [(r + k * dr, c + k * dc) for k in range(4)]
            if all(0 <= y < ROWS and 0 <= x < COLS for y, x in cells):
                found.append(cells)
    return found


WINDOWS = windows()


def has_four(board: list[list[str]], disc: str) -> bool:
    return any(all(board[r][c] == disc for r, c in line) for line in WINDOWS)


def replay(moves: list[int]) -> list[list[str]]:
    """The board after dropping discs into ``moves`` columns, red first, asserting nobody wins on the way."""
    board = [["."] * COLS for _ in range(ROWS)]
    for turn, col in enumerate(moves):
        rows = [r for r in range(ROWS) if board[r][col] == "."]
        assert rows, f"column {col} is full"
        board[max(rows)][col] = "RY"[turn % 2]
        assert not has_four(board, "R") and not has_four(board, "Y"), "a game must not be won on the way"
    return board


def test_positions_are_legal_and_red_has_exactly_one_winning_drop() -> None:
    seen = set()
    for task in all_tasks():
        md = task.metadata
        seen.add(md["difficulty"])
        board = replay(md["moves"])
        assert ["".join(row) for row in board] == md["board"]
        discs = len(md["moves"])
        assert discs % 2 == 0, "equal counts: red is to move"
        assert discs in {"easy": range(6, 11), "medium": range(12, 17), "hard": range(18, 25)}[md["difficulty"]]
        wins = []
        for col in range(COLS):
            rows = [r for r in range(ROWS) if board[r][col] == "."]
            if rows:
                trial = [row[:] for row in board]
                trial[max(rows)][col] = "R"
                if has_four(trial, "R"):
                    wins.append((max(rows), col))
        assert wins == [(md["landing_row"], md["winning_column"])], f"{md['task_id']}: winning drops {wins}"
        assert md["landing_row"] >= 1
        assert md["solution"] == [[r, md["winning_column"]] for r in range(md["landing_row"] + 1)]
        assert md["num_steps"] == len(md["solution"]) >= 2
        for r, c in md["decoys"]:  # an open red four-cell that floats: a trap for a guess by pattern alone
            assert board[r][c] == "." and board[r + 1][c] == "."
            trial = [row[:] for row in board]
            trial[r][c] = "R"
            assert has_four(trial, "R")
        if md["difficulty"] == "hard":
            assert md["decoys"], f"{md['task_id']}: a hard task has a decoy"
    assert seen == {"easy", "medium", "hard"}


def test_each_solution_step_reads_back_as_its_state() -> None:
    domain = get_domain("connect_four")
    for task in all_tasks()[:6]:
        md = json.loads(json.dumps(task.metadata))
        verifier = ConnectFourVerifier(md)
        states = verifier.read_states(np.stack(domain.render_solution(md)))
        board = [list(row) for row in md["board"]]
        expected = []
        for cell in [None, *md["solution"]]:
            grid = [row[:] for row in board]
            if cell is not None:
                grid[cell[0]][cell[1]] = "R"
            expected.append(tuple({".": "empty", "R": "red", "Y": "yellow"}[x] for row in grid for x in row))
        assert states == expected
        assert states[-1] == verifier.solved


def grid_with(md: dict[str, Any], *discs: tuple[int, int, str]) -> list[list[str]]:
    grid = [list(row) for row in md["board"]]
    for r, c, disc in discs:
        grid[r][c] = disc
    return grid


def score_grids(task: GeneratedTask, grids: list[list[list[str]]], folder: Path) -> tuple[np.ndarray, dict[str, Any]]:
    """Draw each grid with the domain's renderer and score the video (each held 4 frames) with task-verifier."""
    return score_frames(task, [np.asarray(draw_board(task.metadata, grid)) for grid in grids], folder, hold=4)


@pytest.fixture(scope="module")
def deep_task() -> GeneratedTask:
    """A task whose winning disc falls at least two cells, so there is a cell to skip."""
    return next(task for task in all_tasks() if task.metadata["landing_row"] >= 2)


def test_a_disc_that_appears_mid_column_or_skips_cells_is_caught(deep_task: GeneratedTask, tmp_path: Path) -> None:
    md = deep_task.metadata
    col, land = md["winning_column"], md["landing_row"]
    falling = [grid_with(md, (r, col, "R")) for r in range(land + 1)]
    # The disc appears one cell below the top, then falls legally to the winning cell.
    scores, detail = score_grids(deep_task, [grid_with(md), *falling[1:]], tmp_path)
    assert scores[END_STATE] == 1.0 and scores[TASK_SUCCESS] == 0.0
    assert "not in the top row" in detail["reason"]
    # It enters at the top, then drops two cells at once.
    scores, detail = score_grids(deep_task, [grid_with(md), falling[0], *falling[2:]], tmp_path)
    assert scores[END_STATE] == 1.0 and scores[TASK_SUCCESS] == 0.0
    assert "skipping cells" in detail["reason"]


def test_a_losing_column_a_yellow_disc_or_a_moved_disc_fail(deep_task: GeneratedTask, tmp_path: Path) -> None:
    md = deep_task.metadata
    board = md["board"]
    other = next(c for c in range(COLS) if c != md["winning_column"] and board[1][c] == ".")
    land = max(r for r in range(ROWS) if board[r][other] == ".")
    # A legal fall in a column that does not win.
    scores, detail = score_grids(deep_task, [grid_with(md, (r, other, "R")) for r in range(land + 1)], tmp_path)
    assert scores[PROCESS] == 1.0 and scores[END_STATE] == 0.0
    assert "does not win" in detail["reason"]
    # A yellow disc falls into the winning column instead.
    col, win = md["winning_column"], md["landing_row"]
    scores, detail = score_grids(deep_task, [grid_with(md, (r, col, "Y")) for r in range(win + 1)], tmp_path)
    assert scores[TASK_SUCCESS] == 0.0 and "a yellow disc appears" in detail["reason"]
    # The right disc lands, but a disc already on the board is recoloured on the way.
    r0, c0 = next((r, c) for r, c in product(range(ROWS), range(COLS)) if board[r][c] == "Y")
    falling = [grid_with(md, (r, col, "R")) for r in range(win + 1)]
    falling[-1][r0][c0] = "R"
    scores, detail = score_grids(deep_task, falling, tmp_path)
    assert scores[TASK_SUCCESS] == 0.0 and "the yellow disc" in detail["reason"]


def test_move_rule_names_the_cheat(deep_task: GeneratedTask) -> None:
    md = deep_task.metadata
    verifier = ConnectFourVerifier(md)
    col = md["winning_column"]

    def state(*discs: tuple[int, int, str]) -> tuple[str, ...]:
        labels = {".": "empty", "R": "red", "Y": "yellow"}
        return tuple(labels[x] for row in grid_with(md, *discs) for x in row)

    top, next_down = state((0, col, "R")), state((1, col, "R"))
    assert verifier.move_error(verifier.initial, top) is None
    assert verifier.move_error(top, next_down) is None
    assert "rises" in (verifier.move_error(next_down, top) or "")
    assert "vanishes" in (verifier.move_error(top, verifier.initial) or "")
    side = (col + 1) % COLS if md["board"][0][(col + 1) % COLS] == "." else (col - 1) % COLS
    assert "sideways" in (verifier.move_error(top, state((0, side, "R"))) or "")
    assert "2 red discs" in (verifier.move_error(top, state((0, col, "R"), (0, side, "R"))) or "")
    assert "mid-air" in verifier.end_error(top)

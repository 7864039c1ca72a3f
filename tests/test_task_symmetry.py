"""Symmetry domain: the answer is checked by code written apart from the generator, every difficulty is reachable
and harder, the rendered steps read back as their states, and the verifier names the cheats a video can make.
"""

from __future__ import annotations

from functools import cache
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from domain_videos import score_frames

from vmevalkit.tasks import get_domain
from vmevalkit.tasks.base import GeneratedTask
from vmevalkit.tasks.symmetry import SymmetryVerifier, draw_symmetry

SEEDS = (0, 1, 2)
PER_SEED = 8
TASK_SUCCESS, END_STATE, PROCESS = 0, 1, 2


@cache
def generated(seed: int, count: int = PER_SEED, difficulty: str | None = None) -> tuple[GeneratedTask, ...]:
    return tuple(get_domain("symmetry").generate(count, seed=seed, difficulty=difficulty))


def all_tasks() -> list[GeneratedTask]:
    return [task for seed in SEEDS for task in generated(seed)]


def reflected(row: int, col: int, size: int, axis: str) -> tuple[int, int]:
    # Written apart from symmetry.mirror: a vertical axis swaps columns, a horizontal one swaps rows.
    if axis == "horizontal":
        return size - 1 - row, col
    assert axis == "vertical"
    return row, size - 1 - col


def test_the_answer_is_symmetric_keeps_the_givens_and_is_reached_one_cell_at_a_time() -> None:
    for task in all_tasks():
        md = task.metadata
        size, axis = md["size"], md["axis"]
        givens, answer = md["givens"], md["solution_grid"]
        for r in range(size):
            for c in range(size):
                mr, mc = reflected(r, c, size, axis)
                assert answer[r][c] == answer[mr][mc], f"{md['task_id']}: not symmetric at {(r, c)}"
                assert givens[r][c] in ("empty", answer[r][c])
                given_half = c < size // 2 if axis == "vertical" else r < size // 2
                if given_half:
                    assert givens[r][c] == answer[r][c]
        # Replay the fills: each colours one empty cell of the other half with the answer's colour, row-major.
        grid = [row[:] for row in givens]
        cells = []
        for r, c, label in md["solution"]:
            assert grid[r][c] == "empty" and label != "empty"
            grid[r][c] = label
            cells.append((r, c))
        assert grid == answer
        assert cells == sorted(cells)
        assert md["num_steps"] == len(md["solution"]) >= 2
        present = sum(1 for r in range(size) for c in range(size) if givens[r][c] != "empty")
        coloured = sum(1 for r in range(size) for c in range(size) if answer[r][c] != "empty")
        assert coloured // 2 < present < coloured, "some mirrored cells are given, some missing"
        assert set(md["colors_used"]) == {label for row in answer for label in row} - {"empty"}


def test_every_difficulty_is_reachable_and_harder() -> None:
    by_level: dict[str, list[dict[str, Any]]] = {"easy": [], "medium": [], "hard": []}
    for task in all_tasks():
        by_level[task.metadata["difficulty"]].append(task.metadata)
    assert all(by_level.values()), {k: len(v) for k, v in by_level.items()}
    assert {md["size"] for md in by_level["easy"]} == {4}
    assert {md["size"] for md in by_level["medium"]} == {6}
    assert {md["size"] for md in by_level["hard"]} == {8}
    assert max(md["num_steps"] for md in by_level["easy"]) < min(md["num_steps"] for md in by_level["medium"])
    assert max(md["num_steps"] for md in by_level["medium"]) < min(md["num_steps"] for md in by_level["hard"])
    assert {len(md["colors_used"]) for md in by_level["easy"]} == {1}
    assert {md["axis"] for md in by_level["easy"] + by_level["medium"]} == {"vertical"}
    hard = generated(0, 12, "hard")
    assert {task.metadata["axis"] for task in hard} == {"vertical", "horizontal"}


def test_every_rendered_step_reads_back_as_its_state() -> None:
    domain = get_domain("symmetry")
    for task in generated(0, 6):
        md = task.metadata
        verifier = SymmetryVerifier(md)
        grid = [row[:] for row in md["givens"]]
        expected = [tuple(label for row in grid for label in row)]
        for r, c, label in md["solution"]:
            grid[r][c] = label
            expected.append(tuple(label for row in grid for label in row))
        keyframes = np.stack(domain.render_solution(md))
        assert verifier.read_states(keyframes) == expected
        for before, after in pairwise(expected):
            assert verifier.move_error(before, after) is None


def score_video(tmp_path: Path, task: GeneratedTask, grids: list[list[list[str]]], name: str) -> tuple[Any, Any]:
    """Draw ``grids`` with the domain's renderer (each held 8 frames) and score the video with task-verifier."""
    frames = [np.asarray(draw_symmetry(task.metadata, grid)) for grid in grids]
    return score_frames(task, frames, tmp_path, hold=8, name=name, without_final_frame=True)


def steps(task: GeneratedTask) -> list[list[list[str]]]:
    grid = [row[:] for row in task.metadata["givens"]]
    out = [[row[:] for row in grid]]
    for r, c, label in task.metadata["solution"]:
        grid[r][c] = label
        out.append([row[:] for row in grid])
    return out


@pytest.fixture(scope="module")
def task() -> GeneratedTask:
    return generated(0, 1, "medium")[0]


def test_the_verifier_catches_a_changed_given_cell(tmp_path: Path, task: GeneratedTask) -> None:
    grids = steps(task)
    r = next(r for r in range(6) if grids[-1][r][0] == "empty")
    cheat = [row[:] for row in grids[-1]]
    cheat[r][0] = cheat[r][5] = "red" if task.metadata["colors_used"][0] != "red" else "blue"
    scores, detail = score_video(tmp_path, task, [*grids, cheat], "given")
    assert scores[TASK_SUCCESS] == 0.0 and scores[PROCESS] < 1.0
    assert f"the given cell at row {r + 1}, column 1 changes from empty to" in detail["reason"]


def test_the_verifier_catches_two_cells_at_once_and_a_recolouring(tmp_path: Path, task: GeneratedTask) -> None:
    grids = steps(task)
    at_once = [grids[0], grids[2], *grids[3:]]  # the first two fills in one step
    scores, detail = score_video(tmp_path, task, at_once, "two")
    assert scores[TASK_SUCCESS] == 0.0 and scores[END_STATE] == 1.0
    assert "2 cells are coloured at once; the task colours one cell at a time" in detail["reason"]

    r, c, label = task.metadata["solution"][0]
    other = next(name for name in ("red", "blue", "green", "yellow") if name != label)
    wrong = [row[:] for row in grids[1]]
    wrong[r][c] = other
    recoloured = [grids[0], wrong, *grids[1:]]
    scores, detail = score_video(tmp_path, task, recoloured, "recolour")
    assert scores[TASK_SUCCESS] == 0.0
    assert f"the {other} cell at row {r + 1}, column {c + 1} is recoloured {label}" in detail["reason"]


def test_a_wrong_colour_is_a_legal_move_that_leaves_the_picture_unsolved(tmp_path: Path, task: GeneratedTask) -> None:
    grids = steps(task)
    r, c, label = task.metadata["solution"][-1]
    other = next(name for name in ("red", "blue", "green", "yellow") if name != label)
    last = [row[:] for row in grids[-1]]
    last[r][c] = other
    scores, detail = score_video(tmp_path, task, [*grids[:-1], last], "wrong")
    assert scores[PROCESS] == 1.0 and scores[END_STATE] == 0.0
    assert "0 cell(s) still missing and 1 wrongly coloured" in detail["reason"]

"""Lights out: solutions checked by an independent replay and light chasing, frames read back, cheats caught.

Minimality is checked by "light chasing", not by the domain's GF(2) elimination: choose the presses of the top
row (2**size ways), then every light left on in a row can only be switched off by pressing the cell below it,
which fixes every other press; a choice solves the board when the bottom row ends dark. That enumerates every
solution, so the fewest presses among them must equal ``num_steps``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from itertools import product
from pathlib import Path
from typing import Any

import numpy as np
from domain_videos import score_frames

from vmevalkit.tasks import get_domain
from vmevalkit.tasks.base import GeneratedTask
from vmevalkit.tasks.lights_out import PROMPT, LightsOutVerifier, draw_lights

SEEDS = (0, 1, 2)
COUNT = 8
TASK_SUCCESS, END_STATE, PROCESS = 0, 1, 2


def all_tasks() -> list[GeneratedTask]:
    domain = get_domain("lights_out")
    return [task for seed in SEEDS for task in domain.generate(COUNT, seed=seed)]


def pressed(grid: np.ndarray, r: int, c: int) -> np.ndarray:
    """The grid after pressing (r, c): a plus-shaped toggle, clipped at the edges."""
    out: np.ndarray = grid.copy()
    for dr, dc in ((0, 0), (-1, 0), (1, 0), (0, -1), (0, 1)):
        if 0 <= r + dr < len(grid) and 0 <= c + dc < len(grid):
            out[r + dr, c + dc] ^= 1
    return out


def fewest_presses(grid: np.ndarray) -> int:
    size, best = len(grid), None
    for top in product((0, 1), repeat=size):
        board, count = grid.copy(), 0
        for c in range(size):
            if top[c]:
                board, count = pressed(board, 0, c), count + 1
        for r in range(1, size):
            for c in range(size):
                if board[r - 1, c]:
                    board, count = pressed(board, r, c), count + 1
        if not board.any() and (best is None or count < best):
            best = count
    assert best is not None, "the board cannot be switched off"
    return best


def test_solutions_switch_every_light_off_in_the_fewest_presses() -> None:
    for task in all_tasks():
        md = task.metadata
        grid = np.array(md["lights"], dtype=np.uint8)
        assert grid.shape == (md["size"], md["size"]) and grid.any()
        cells = [tuple(cell) for cell in md["solution"]]
        assert cells == sorted(set(cells)), "distinct presses in row-major order"
        for r, c in cells:
            grid = pressed(grid, r, c)
        assert not grid.any(), f"{md['task_id']}: lights stay on"
        assert md["num_steps"] == len(cells) == fewest_presses(np.array(md["lights"], dtype=np.uint8))
        assert len(cells) <= md["presses"]


def test_difficulty_sets_grid_size_and_presses() -> None:
    sizes: dict[str, set[int]] = {}
    for task in all_tasks():
        md = task.metadata
        sizes.setdefault(md["difficulty"], set()).add(md["size"])
        assert md["num_steps"] >= {"easy": 2, "medium": 3, "hard": 4}[md["difficulty"]]
    assert sizes == {"easy": {3}, "medium": {4}, "hard": {5}}


def test_each_solution_step_reads_back_as_its_grid() -> None:
    domain = get_domain("lights_out")
    for task in all_tasks()[:8]:
        md = json.loads(json.dumps(task.metadata))
        verifier = LightsOutVerifier(md)
        states = verifier.read_states(np.stack(domain.render_solution(md)))
        grid = np.array(md["lights"], dtype=np.uint8)
        expected = [tuple(grid.flatten().tolist())]
        for r, c in md["solution"]:
            grid = pressed(grid, r, c)
            expected.append(tuple(grid.flatten().tolist()))
        assert states == expected


def test_move_rule_names_the_cheat() -> None:
    md = next(t for t in all_tasks() if t.metadata["size"] == 5).metadata
    verifier = LightsOutVerifier(md)
    off = np.zeros((5, 5), dtype=np.uint8)

    def flat(grid: np.ndarray) -> tuple[int, ...]:
        return tuple(grid.flatten().tolist())

    assert verifier.move_error(flat(off), flat(pressed(off, 2, 2))) is None
    assert verifier.move_error(flat(off), flat(pressed(off, 0, 4))) is None  # a corner toggles three lights
    single = off.copy()
    single[1, 1] = 1
    assert "only the light at [1, 1] toggles" in (verifier.move_error(flat(off), flat(single)) or "")
    two = pressed(pressed(off, 0, 0), 4, 4)
    assert "not one press" in (verifier.move_error(flat(off), flat(two)) or "")
    diagonal = off.copy()
    for r, c in ((1, 1), (0, 0), (2, 2), (0, 2), (2, 0)):
        diagonal[r, c] = 1
    assert "not one press" in (verifier.move_error(flat(off), flat(diagonal)) or "")


def score_grids(md: dict[str, Any], grids: Sequence[np.ndarray], folder: Path) -> tuple[np.ndarray, dict[str, Any]]:
    """Draw each grid with the domain's renderer, encode a real mp4 and score it with task-verifier."""
    frames = [np.asarray(draw_lights(md, grid.flatten().tolist())) for grid in grids]
    task = GeneratedTask(
        task_id=md["task_id"],
        domain="lights_out",
        prompt=PROMPT,
        first_frame=draw_lights(md, grids[0].flatten().tolist()),
        final_frame=draw_lights(md, grids[-1].flatten().tolist()),
        metadata=md,
    )
    return score_frames(task, frames, folder, hold=4)


def test_cheats_in_real_videos_are_caught(tmp_path: Path) -> None:
    task = next(t for t in all_tasks() if t.metadata["num_steps"] >= 3)
    md = task.metadata
    grids = [np.array(md["lights"], dtype=np.uint8)]
    for r, c in md["solution"]:
        grids.append(pressed(grids[-1], r, c))
    scores, detail = score_grids(md, grids, tmp_path)
    assert scores[TASK_SUCCESS] == 1.0 and detail["moves"] == md["num_steps"], detail["reason"]
    # Two presses shown at once.
    scores, detail = score_grids(md, grids[:1] + grids[2:], tmp_path)
    assert scores[END_STATE] == 1.0 and scores[TASK_SUCCESS] == 0.0
    assert "not one press" in detail["reason"]
    # Lights switched off one by one, each on its own.
    singles = [grids[0]]
    for r, c in zip(*np.nonzero(grids[0]), strict=True):
        grid = singles[-1].copy()
        grid[r, c] = 0
        singles.append(grid)
    scores, detail = score_grids(md, singles, tmp_path)
    assert scores[END_STATE] == 1.0 and scores[PROCESS] == 0.0
    assert "only the light at" in detail["reason"]

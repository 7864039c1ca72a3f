"""Sokoban: solutions checked by an independent replay and BFS, frames read back, and cheats caught in real videos.

The checks here move the player over a character map of the room (``#`` wall, ``.`` floor) with their own push
rule and their own breadth-first search, not the domain's ``apply_move`` / ``solve``, so a bug there cannot hide
itself.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from domain_videos import score_frames

from vmevalkit.tasks import get_domain
from vmevalkit.tasks.base import GeneratedTask
from vmevalkit.tasks.sokoban import PROMPT, SokobanVerifier, draw_level, labels_of

SEEDS = (0, 1, 2)
COUNT = 8
TASK_SUCCESS, END_STATE, PROCESS = 0, 1, 2
Cell = tuple[int, int]
Boxes = frozenset[Cell]
STEP = {"U": (-1, 0), "D": (1, 0), "L": (0, -1), "R": (0, 1)}


def all_tasks() -> list[GeneratedTask]:
    domain = get_domain("sokoban")
    return [task for seed in SEEDS for task in domain.generate(COUNT, seed=seed)]


def room(md: dict[str, Any]) -> list[str]:
    """The room as rows of '#' and '.', border included (row and column 0 are the top and left border)."""
    n = md["size"]
    walls = {tuple(w) for w in md["walls"]}
    return [
        "".join("#" if not (0 < r <= n and 0 < c <= n) or (r - 1, c - 1) in walls else "." for c in range(n + 2))
        for r in range(n + 2)
    ]


def push(grid: list[str], player: tuple[int, int], boxes: Boxes, move: str) -> tuple[Cell, Boxes]:
    """One move in map coordinates, asserting it is legal."""
    dr, dc = STEP[move]
    to = (player[0] + dr, player[1] + dc)
    assert grid[to[0]][to[1]] == ".", f"walks into a wall at {to}"
    if to in boxes:
        beyond = (to[0] + dr, to[1] + dc)
        assert grid[beyond[0]][beyond[1]] == "." and beyond not in boxes, f"box at {to} is blocked"
        boxes = (boxes - {to}) | {beyond}
    return to, boxes


def shifted(cells: list[list[int]]) -> Boxes:
    return frozenset((r + 1, c + 1) for r, c in cells)


def fewest_moves(md: dict[str, Any], limit: int) -> int | None:
    """Plain BFS over (player, boxes) without any pruning, up to ``limit`` moves."""
    grid = room(md)
    goal = shifted(md["targets"])
    start = ((md["player"][0] + 1, md["player"][1] + 1), shifted(md["boxes"]))
    seen, frontier = {start}, [start]
    for depth in range(limit + 1):
        if any(boxes == goal for _, boxes in frontier):
            return depth
        nxt = []
        for player, boxes in frontier:
            for move in STEP:
                try:
                    state = push(grid, player, boxes, move)
                except AssertionError:
                    continue
                if state not in seen:
                    seen.add(state)
                    nxt.append(state)
        frontier = nxt
    return None


def test_solutions_are_legal_solving_and_shortest() -> None:
    for task in all_tasks():
        md = task.metadata
        grid = room(md)
        player, boxes = (md["player"][0] + 1, md["player"][1] + 1), shifted(md["boxes"])
        targets = shifted(md["targets"])
        assert len(boxes) == len(targets) and boxes != targets and player not in boxes
        assert all(grid[r][c] == "." for r, c in boxes | targets | {player})
        for move in md["solution"]:
            player, boxes = push(grid, player, boxes, move)
        assert boxes == targets, f"{md['task_id']}: the solution leaves a target without a box"
        assert md["num_steps"] == len(md["solution"]) >= 4
        assert fewest_moves(md, md["num_steps"]) == md["num_steps"], f"{md['task_id']}: a shorter solution exists"


def test_difficulty_sets_room_size_boxes_and_length() -> None:
    seen: dict[str, set[tuple[int, int]]] = {}
    for task in all_tasks():
        md = task.metadata
        seen.setdefault(md["difficulty"], set()).add((md["size"], len(md["boxes"])))
        assert md["num_steps"] >= {"easy": 4, "medium": 6, "hard": 8}[md["difficulty"]]
    assert {d: {size for size, _ in s} for d, s in seen.items()} == {"easy": {5}, "medium": {6}, "hard": {7}}
    assert {boxes for _, boxes in seen["easy"]} == {1} and {boxes for _, boxes in seen["hard"]} == {2}


def test_each_solution_step_reads_back_as_its_state() -> None:
    domain = get_domain("sokoban")
    for task in all_tasks()[:6]:
        md = json.loads(json.dumps(task.metadata))
        verifier = SokobanVerifier(md)
        states = verifier.read_states(np.stack(domain.render_solution(md)))
        grid = room(md)
        player, boxes = (md["player"][0] + 1, md["player"][1] + 1), shifted(md["boxes"])
        expected = []
        for move in [None, *md["solution"]]:
            if move:
                player, boxes = push(grid, player, boxes, move)
            expected.append(((player[0] - 1, player[1] - 1), tuple(sorted((r - 1, c - 1) for r, c in boxes))))
        assert states == expected
        assert verifier.is_solved(states[-1]) and not verifier.is_solved(states[0])


# A hand-made room: box at [2, 2], target at [2, 4], player at [2, 1]; a wall block at [0, 0].
LEVEL: dict[str, Any] = {
    "domain": "sokoban",
    "category": "spatial_planning",
    "task_id": "sokoban_0001",
    "seed": 0,
    "difficulty": "easy",
    "size": 5,
    "walls": [[0, 0]],
    "targets": [[2, 4]],
    "boxes": [[2, 2]],
    "player": [2, 1],
    "solution": ["R", "R"],
    "num_steps": 2,
}


@pytest.fixture(scope="module")
def level() -> dict[str, Any]:
    render = next(t for t in all_tasks() if t.metadata["size"] == 5).metadata["render"]
    return {**LEVEL, "render": render}


def test_move_rule_names_the_cheat(level: dict[str, Any]) -> None:
    verifier = SokobanVerifier(level)
    box = ((2, 2),)
    assert verifier.move_error(((2, 1), box), ((1, 1), box)) is None  # a plain step
    assert verifier.move_error(((2, 1), box), ((2, 2), ((2, 3),))) is None  # a push
    assert "jumps" in (verifier.move_error(((2, 1), box), ((2, 3), box)) or "")
    pull = verifier.move_error(((2, 3), box), ((2, 4), ((2, 3),)))
    assert "moves although the player does not walk into it" in (pull or "")
    assert "into a wall" in (verifier.move_error(((2, 3), ((2, 4),)), ((2, 4), ((1, 1),))) or "")
    two = ((2, 2), (2, 3))
    assert "into another box" in (verifier.move_error(((2, 1), two), ((2, 2), ((2, 3), (2, 4)))) or "")
    assert "appears or disappears" in (verifier.move_error(((2, 1), box), ((1, 1), ())) or "")
    assert "stands still" in (verifier.move_error(((2, 1), box), ((2, 1), ((3, 2),))) or "")


def score_states(
    md: dict[str, Any], states: Sequence[tuple[Cell, tuple[Cell, ...]]], folder: Path
) -> tuple[np.ndarray, dict[str, Any]]:
    """Draw each state with the domain's renderer, encode a real mp4 and score it with task-verifier."""
    frames = [np.asarray(draw_level(md, labels_of(md, p, b))) for p, b in states]
    task = GeneratedTask(
        task_id=md["task_id"],
        domain="sokoban",
        prompt=PROMPT,
        first_frame=draw_level(md, labels_of(md, *states[0])),
        final_frame=draw_level(md, labels_of(md, *states[-1])),
        metadata=md,
    )
    return score_frames(task, frames, folder, hold=4)


def test_cheats_in_real_videos_are_caught(level: dict[str, Any], tmp_path: Path) -> None:
    legal = [((2, 1), ((2, 2),)), ((2, 2), ((2, 3),)), ((2, 3), ((2, 4),))]
    scores, detail = score_states(level, legal, tmp_path)
    assert scores[TASK_SUCCESS] == 1.0 and detail["moves"] == 2, detail["reason"]
    # The box slides onto the target by itself while the player waits.
    alone = [((2, 1), ((2, 2),)), ((2, 1), ((2, 3),)), ((2, 1), ((2, 4),))]
    scores, detail = score_states(level, alone, tmp_path)
    assert scores[END_STATE] == 1.0 and scores[TASK_SUCCESS] == 0.0
    assert "stands still" in detail["reason"]
    # The player walks round the box and pulls it: boxes are only pushed.
    pull = [((2, 1), ((2, 2),)), ((1, 1), ((2, 2),)), ((1, 2), ((2, 2),)), ((1, 3), ((2, 2),))]
    pull += [((2, 3), ((2, 2),)), ((2, 4), ((2, 3),))]
    scores, detail = score_states(level, pull, tmp_path)
    assert scores[PROCESS] < 1.0 and "moves although the player does not walk into it" in detail["reason"]
    # The player pushes the box two cells in one step.
    jump = [((2, 1), ((2, 2),)), ((2, 3), ((2, 4),))]
    scores, detail = score_states(level, jump, tmp_path)
    assert scores[END_STATE] == 1.0 and scores[TASK_SUCCESS] == 0.0 and "jumps" in detail["reason"]

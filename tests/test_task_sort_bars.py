"""Sort bars: solutions checked by an independent replay and search, frames read back, cheats caught.

The shortest-solution check here is a breadth-first search over rows, not the domain's inversion count, so a
bug in the domain's bubble sort cannot hide itself.
"""

from __future__ import annotations

from collections import deque
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
from domain_videos import score_frames

from vmevalkit.models.baselines import spread_keyframes
from vmevalkit.tasks import get_domain
from vmevalkit.tasks.base import GeneratedTask
from vmevalkit.tasks.sort_bars import EMPTY, SortBarsVerifier, draw_bars

DOMAIN = "sort_bars"
SEEDS = (0, 1, 2)
PER_SEED = 8
TASK_SUCCESS, END_STATE, PROCESS = 0, 1, 2  # TaskVerifier.dimensions


@cache
def tasks(seed: int) -> tuple[GeneratedTask, ...]:
    return tuple(get_domain(DOMAIN).generate(PER_SEED, seed=seed))


def all_tasks() -> list[GeneratedTask]:
    return [task for seed in SEEDS for task in tasks(seed)]


def swap_checked(row: tuple[int, ...], left: int, right: int) -> tuple[int, ...]:
    assert 0 <= left and right == left + 1 and right < len(row), f"slots {left} and {right} are not neighbours"
    out = list(row)
    out[left], out[right] = out[right], out[left]
    return tuple(out)


def fewest_swaps(start: tuple[int, ...]) -> int:
    goal = tuple(sorted(start))
    seen = {start: 0}
    queue = deque([start])
    while queue:
        row = queue.popleft()
        if row == goal:
            return seen[row]
        for left in range(len(row) - 1):
            nxt = swap_checked(row, left, left + 1)
            if nxt not in seen:
                seen[nxt] = seen[row] + 1
                queue.append(nxt)
    raise AssertionError(f"{start} cannot be sorted")


def test_solutions_are_legal_shortest_and_sort_the_row() -> None:
    for task in all_tasks():
        md = task.metadata
        row = tuple(md["bars"])
        assert sorted(row) == list(range(1, md["num_bars"] + 1))
        heights = [md["heights"][str(bar)] for bar in sorted(row)]
        assert heights == sorted(set(heights)), "heights are distinct and grow with the rank"
        assert len({tuple(rgb) for rgb in md["render"]["colors"]["bars"].values()}) == md["num_bars"]
        start = row
        for left, right in md["solution"]:
            row = swap_checked(row, left, right)
        assert list(row) == sorted(row)
        inverted = sum(a > b for i, a in enumerate(start) for b in start[i + 1 :])
        assert md["num_steps"] == len(md["solution"]) == inverted >= 2
        assert fewest_swaps(start) == md["num_steps"], f"{md['task_id']}: a shorter solution exists"


def test_every_difficulty_is_reached_and_harder_means_more_bars_and_swaps() -> None:
    by_level: dict[str, list[dict[str, Any]]] = {}
    for task in all_tasks():
        by_level.setdefault(task.metadata["difficulty"], []).append(task.metadata)
    assert {level: {md["num_bars"] for md in mds} for level, mds in by_level.items()} == {
        "easy": {4},
        "medium": {5},
        "hard": {6},
    }
    mean = {level: np.mean([md["num_steps"] for md in mds]) for level, mds in by_level.items()}
    assert mean["easy"] < mean["medium"] < mean["hard"]


def test_each_rendered_step_reads_back_as_its_row() -> None:
    domain = get_domain(DOMAIN)
    for task in tasks(0):
        md = task.metadata
        verifier = SortBarsVerifier(md)
        row = tuple(md["bars"])
        expected = [row]
        for left, right in md["solution"]:
            row = swap_checked(row, left, right)
            expected.append(row)
        states = verifier.read_states(np.stack(domain.render_solution(md)))
        assert states == expected
        assert states[0] == verifier.initial and states[-1] == verifier.solved


def test_move_rules_name_what_is_wrong() -> None:
    md = next(task.metadata for task in all_tasks() if task.metadata["num_bars"] == 5)
    error = SortBarsVerifier(md).move_error
    start = (3, 5, 1, 2, 4)
    assert error(start, (5, 3, 1, 2, 4)) is None
    assert error(start, (3, 5, 1, 4, 2)) is None
    assert error(start, (3, 4, 1, 2, 5)) == "bars 5 and 4 swap, but slots 2 and 5 are not neighbours"
    assert error(start, (5, 1, 3, 2, 4)) == "bars 3, 5, 1 move at once, not two neighbouring bars swapping"
    assert error(start, (3, 5, EMPTY, 2, 4)) == "bar 1 vanishes"
    assert error(start, (3, 5, 1, 2, 2)) == "bar 2 appears 2 times"
    assert error((3, 5, EMPTY, 2, 4), start) == "the row is rebuilt from one that did not hold each bar once"


def test_a_video_that_swaps_distant_bars_or_drops_one_fails(tmp_path: Path) -> None:
    task = next(t for t in all_tasks() if t.metadata["num_bars"] == 6)
    md = task.metadata
    keyframes = get_domain(DOMAIN).render_solution(md)
    row = list(md["bars"])
    far = list(row)
    far[0], far[-1] = far[-1], far[0]  # the two end bars trade places across the row
    jump = np.asarray(draw_bars(md, far))
    frames = spread_keyframes(keyframes[:1], 8) + [jump] * 8 + spread_keyframes(keyframes, 48)
    scores, details = score_frames(task, frames, tmp_path, name="far", without_final_frame=True)
    assert scores[TASK_SUCCESS] == 0.0 and scores[END_STATE] == 1.0 and scores[PROCESS] < 1.0
    assert f"bars {row[0]} and {row[-1]} swap, but slots 1 and 6 are not neighbours" in details["reason"]
    assert details["first_violation_frame"] == 8

    gone = list(row)
    gone[2] = EMPTY
    frames = (
        spread_keyframes(keyframes[:1], 8) + [np.asarray(draw_bars(md, gone))] * 8 + spread_keyframes(keyframes, 48)
    )
    scores, details = score_frames(task, frames, tmp_path, name="gone", without_final_frame=True)
    assert scores[TASK_SUCCESS] == 0.0 and f"bar {row[2]} vanishes" in details["reason"]

"""Tower of Hanoi: solutions checked by an independent replay and search, frames read back, cheats caught.

The rule check and the breadth-first search here work on pegs as lists of discs, not on the domain's
disc-to-peg assignments, so a bug in the domain's solver cannot hide itself.
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
from vmevalkit.tasks.tower_of_hanoi import EMPTY, TowerOfHanoiVerifier, draw_hanoi

DOMAIN = "tower_of_hanoi"
SEEDS = (0, 1, 2)
PER_SEED = 8
TASK_SUCCESS, END_STATE, PROCESS = 0, 1, 2  # TaskVerifier.dimensions
Pegs = tuple[tuple[int, ...], ...]  # per peg, discs from the bottom up


@cache
def tasks(seed: int) -> tuple[GeneratedTask, ...]:
    return tuple(get_domain(DOMAIN).generate(PER_SEED, seed=seed))


def all_tasks() -> list[GeneratedTask]:
    return [task for seed in SEEDS for task in tasks(seed)]


def move_checked(pegs: Pegs, source: int, dest: int) -> Pegs:
    """The pegs after the top disc of ``source`` goes onto ``dest``; AssertionError for an illegal move."""
    assert source != dest and pegs[source], f"no disc to take from peg {source} in {pegs}"
    disc = pegs[source][-1]
    assert not pegs[dest] or pegs[dest][-1] > disc, f"disc {disc} onto a smaller disc in {pegs}"
    out = [list(peg) for peg in pegs]
    out[dest].append(out[source].pop())
    return tuple(tuple(peg) for peg in out)


def fewest_moves(start: Pegs, goal: Pegs) -> int:
    seen = {start: 0}
    queue = deque([start])
    while queue:
        pegs = queue.popleft()
        if pegs == goal:
            return seen[pegs]
        for source in range(3):
            for dest in range(3):
                if source != dest and pegs[source] and (not pegs[dest] or pegs[dest][-1] > pegs[source][-1]):
                    nxt = move_checked(pegs, source, dest)
                    if nxt not in seen:
                        seen[nxt] = seen[pegs] + 1
                        queue.append(nxt)
    raise AssertionError(f"{goal} cannot be reached from {start}")


def goal_of(md: dict[str, Any]) -> Pegs:
    return tuple(tuple(range(md["num_discs"], 0, -1)) if p == md["target_peg"] else () for p in range(3))


def slot_labels(pegs: Pegs, discs: int) -> tuple[object, ...]:
    return tuple(peg[level] if level < len(peg) else EMPTY for peg in pegs for level in range(discs))


def test_solutions_are_legal_shortest_and_end_on_the_target_peg() -> None:
    for task in all_tasks():
        md = task.metadata
        pegs: Pegs = tuple(tuple(peg) for peg in md["pegs"])
        assert sorted(d for peg in pegs for d in peg) == list(range(1, md["num_discs"] + 1))
        assert all(list(peg) == sorted(peg, reverse=True) for peg in pegs), "the start is a legal position"
        start = pegs
        for disc, source, dest in md["solution"]:
            assert pegs[source] and pegs[source][-1] == disc, f"{md['task_id']}: disc {disc} is not on top"
            pegs = move_checked(pegs, source, dest)
        assert pegs == goal_of(md)
        assert md["num_steps"] == len(md["solution"]) >= 2
        assert fewest_moves(start, goal_of(md)) == md["num_steps"], f"{md['task_id']}: a shorter solution exists"


def test_every_difficulty_is_reached_and_harder_means_more_discs_and_moves() -> None:
    by_level: dict[str, list[dict[str, Any]]] = {}
    for task in all_tasks():
        by_level.setdefault(task.metadata["difficulty"], []).append(task.metadata)
    assert sorted(by_level) == ["easy", "hard", "medium"]
    assert {level: {md["num_discs"] for md in mds} for level, mds in by_level.items()} == {
        "easy": {3},
        "medium": {4},
        "hard": {5},
    }
    mean = {level: np.mean([md["num_steps"] for md in mds]) for level, mds in by_level.items()}
    assert mean["easy"] < mean["medium"] < mean["hard"]
    assert {md["target_peg"] for md in by_level["hard"] + by_level["medium"] + by_level["easy"]} == {0, 1, 2}


def test_each_rendered_step_reads_back_as_its_position() -> None:
    domain = get_domain(DOMAIN)
    for task in tasks(0):
        md = task.metadata
        verifier = TowerOfHanoiVerifier(md)
        pegs: Pegs = tuple(tuple(peg) for peg in md["pegs"])
        expected = [slot_labels(pegs, md["num_discs"])]
        for _, source, dest in md["solution"]:
            pegs = move_checked(pegs, source, dest)
            expected.append(slot_labels(pegs, md["num_discs"]))
        states = verifier.read_states(np.stack(domain.render_solution(md)))
        assert states == expected
        assert states[0] == verifier.initial and states[-1] == verifier.solved


def test_move_rules_name_what_is_wrong() -> None:
    md = next(task.metadata for task in all_tasks() if task.metadata["num_discs"] == 4)
    verifier = TowerOfHanoiVerifier(md)

    def error(before: Pegs, after: Pegs) -> str | None:
        return verifier.move_error(slot_labels(before, 4), slot_labels(after, 4))

    start: Pegs = ((4, 3), (2, 1), ())
    assert error(start, ((4, 3, 1), (2,), ())) is None
    assert error(start, ((4, 3), (2,), (1,))) is None
    assert error(start, ((4,), (2, 1), (3,))) is None
    assert error(start, ((4,), (2, 1, 3), ())) == "disc 3 is put on the smaller disc 1 on peg B"
    assert error(start, ((4, 3, 1), (), (2,))) == "discs 1, 2 move at once, not one disc at a time"
    assert error(start, ((4, 3), (2,), ())) == "disc 1 vanishes"
    assert error(start, ((4, 3, 1), (2, 1), ())) == "disc 1 appears 2 times"
    # A floating disc, read from a frame, is caught as such, however it got there.
    floating = list(slot_labels(start, 4))
    floating[4], floating[6] = EMPTY, 2  # disc 2 lifted to peg B's third level; disc 1 stays on level 1
    assert verifier.move_error(slot_labels(start, 4), tuple(floating)) == "disc 1 floats above an empty slot on peg B"


def test_a_video_that_puts_a_disc_on_a_smaller_one_fails(tmp_path: Path) -> None:
    task = next(t for t in all_tasks() if t.metadata["num_discs"] == 3 and t.metadata["num_steps"] >= 3)
    md = task.metadata
    keyframes = get_domain(DOMAIN).render_solution(md)
    # The position after the first legal move, then the widest free top disc dropped onto a narrower top disc.
    pegs: Pegs = tuple(tuple(peg) for peg in md["pegs"])
    disc, source, dest = md["solution"][0]
    pegs = move_checked(pegs, source, dest)
    tops = sorted((peg[-1], index) for index, peg in enumerate(pegs) if peg)
    (small, small_peg), (big, big_peg) = tops[0], tops[-1]
    cheat = [list(peg) for peg in pegs]
    cheat[small_peg].append(cheat[big_peg].pop())
    bad = np.asarray(draw_hanoi(md, slot_labels(tuple(tuple(p) for p in cheat), md["num_discs"])))
    frames = spread_keyframes(keyframes[:2], 16) + [bad] * 8 + spread_keyframes(keyframes[1:], 32)
    scores, details = score_frames(task, frames, tmp_path, name="smaller", without_final_frame=True)
    assert scores[TASK_SUCCESS] == 0.0 and scores[END_STATE] == 1.0 and scores[PROCESS] < 1.0
    assert f"disc {big} is put on the smaller disc {small} on peg {'ABC'[small_peg]}" in details["reason"]

    # The other moves skipped in one cut (two or more remain): several discs move at once.
    frames = spread_keyframes(keyframes[:2], 16) + spread_keyframes(keyframes[-1:], 16)
    scores, details = score_frames(task, frames, tmp_path, name="cut", without_final_frame=True)
    assert scores[TASK_SUCCESS] == 0.0 and scores[END_STATE] == 1.0 and "move at once" in details["reason"]

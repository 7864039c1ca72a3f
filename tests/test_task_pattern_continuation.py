"""Pattern continuation: the filled sequence continues the shown one (checked here by finding the shortest
cycle of the given slots, independently of the generator), every difficulty is reachable and harder, the
frames read back as their states, and videos drawn with the domain's own renderer that cheat (a given slot
changes, slots fill at once, a slot is skipped, the wrong symbol) are caught by ``task-verifier`` with the
right reason."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np
import pytest
from domain_videos import video_item

from vmevalkit.scoring.base import ScoreItem
from vmevalkit.scoring.verifiers import TaskVerifier
from vmevalkit.tasks import get_domain
from vmevalkit.tasks.base import GeneratedTask
from vmevalkit.tasks.pattern_continuation import draw_slots
from vmevalkit.tasks.render import to_array

SEEDS = (0, 1, 2)
PER_SEED = 8
HOLD = 3  # frames each drawn state is shown in a cheat video
EMPTY = "empty"


@cache
def tasks(seed: int) -> tuple[GeneratedTask, ...]:
    return tuple(get_domain("pattern_continuation").generate(PER_SEED, seed=seed))


def all_tasks() -> list[GeneratedTask]:
    return [task for seed in SEEDS for task in tasks(seed)]


def shortest_cycle(shown: list[str]) -> int:
    """The smallest p for which every shown symbol equals the one p slots before it."""
    return next(p for p in range(1, len(shown)) if all(shown[i] == shown[i - p] for i in range(p, len(shown))))


def test_the_filled_slots_continue_the_shown_sequence_one_slot_at_a_time() -> None:
    for task in all_tasks():
        md = task.metadata
        shown = md["givens"]
        period = shortest_cycle(shown)
        assert period == md["period"] and len(shown) >= 2 * period, "at least two full cycles are shown"
        slots = [*shown, *[EMPTY] * md["blanks"]]
        for step, (index, name) in enumerate(md["solution"]):
            assert index == len(shown) + step and slots[index] == EMPTY, "the leftmost empty slot, each step"
            assert name == slots[index - period]
            slots[index] = name
        assert EMPTY not in slots and slots == md["sequence"]
        assert md["num_steps"] == md["blanks"] >= 2


def test_every_difficulty_is_reached_and_harder_levels_have_longer_cycles_and_more_blanks() -> None:
    levels = {(t.metadata["difficulty"], t.metadata["period"], t.metadata["num_steps"]) for t in all_tasks()}
    assert levels == {("easy", 2, 2), ("medium", 3, 3), ("hard", 4, 4)}
    for task in all_tasks():
        if task.metadata["difficulty"] == "hard":  # shape and colour both vary
            cycle = [name.split(" ") for name in task.metadata["cycle"]]
            assert len({colour for colour, _ in cycle}) >= 2 and len({shape for _, shape in cycle}) >= 2


def test_each_solution_step_reads_back_as_its_state() -> None:
    domain = get_domain("pattern_continuation")
    for task in tasks(0)[:4]:
        verifier = domain.verifier(task.metadata)
        states = verifier.read_states(np.stack(domain.render_solution(task.metadata)))
        md = task.metadata
        slots = [*md["givens"], *[EMPTY] * md["blanks"]]
        expected = [tuple(slots)]
        for index, name in md["solution"]:
            slots[index] = name
            expected.append(tuple(slots))
        assert states == expected


def cheat_video(task: GeneratedTask, steps: list[list[str]], folder: Path) -> ScoreItem:
    """A video of the drawn states ``steps`` (one label per slot), scored as a model's output of ``task``."""
    frames = [to_array(draw_slots(task.metadata, slots)) for slots in steps]
    return video_item(task, frames, folder, hold=HOLD, model="cheat", crf=30)


@pytest.fixture(scope="module")
def task() -> GeneratedTask:
    return next(t for t in all_tasks() if t.metadata["difficulty"] == "medium")


def filled(task: GeneratedTask, fills: list[str]) -> list[str]:
    md = task.metadata
    return [*md["givens"], *fills, *[EMPTY] * (md["blanks"] - len(fills))]


def answers(task: GeneratedTask) -> list[str]:
    return [name for _, name in task.metadata["solution"]]


def test_a_changed_given_slot_is_caught(tmp_path: Path, task: GeneratedTask) -> None:
    first = filled(task, [])
    tampered = [EMPTY, *first[1:]]
    steps = [first, tampered, filled(task, answers(task)[:1])]
    verdict = TaskVerifier().verdict(cheat_video(task, steps, tmp_path))
    assert not verdict.passed
    assert f"the given {first[0]} in slot 1 changes to empty" in verdict.reason, verdict.reason


def test_slots_filled_at_once_are_caught(tmp_path: Path, task: GeneratedTask) -> None:
    steps = [filled(task, []), filled(task, answers(task))]
    verdict = TaskVerifier().verdict(cheat_video(task, steps, tmp_path))
    assert verdict.end_state == 1.0 and verdict.process < 1.0
    assert "3 slots change at once" in verdict.reason, verdict.reason


def test_a_skipped_slot_is_caught(tmp_path: Path, task: GeneratedTask) -> None:
    first, second, third = answers(task)
    skipping = filled(task, [])
    skipping[len(task.metadata["givens"]) + 1] = second
    steps = [filled(task, []), skipping, filled(task, [first, second]), filled(task, [first, second, third])]
    verdict = TaskVerifier().verdict(cheat_video(task, steps, tmp_path))
    assert verdict.end_state == 1.0 and not verdict.passed
    given = len(task.metadata["givens"])
    assert f"slot {given + 2} is filled while slot {given + 1} is still empty" in verdict.reason, verdict.reason


def test_a_wrong_symbol_is_a_legal_move_but_a_wrong_answer(tmp_path: Path, task: GeneratedTask) -> None:
    right = answers(task)
    colour, shape = right[0].split(" ")
    wrong = f"{colour} {next(s for s in task.metadata['render']['shapes'] if s != shape)}"
    steps = [filled(task, [])] + [filled(task, [wrong, *right[1:]][:k]) for k in (1, 2, 3)]
    verdict = TaskVerifier().verdict(cheat_video(task, steps, tmp_path))
    assert verdict.process == 1.0 and verdict.end_state == 0.0 and verdict.moves == 3
    given = len(task.metadata["givens"])
    assert f"slot {given + 1} holds a {wrong} where the pattern gives a {right[0]}" in verdict.reason, verdict.reason

"""Raven matrices: the answer follows from the eight given panels by rules worked out here independently of
the generator, every difficulty is reachable, the frames read back as their states, and videos drawn with
the domain's own renderer that cheat (a given panel changes, shapes appear at once, a place is skipped, the
wrong shape) are caught by ``task-verifier`` with the right reason."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from domain_videos import video_item

from vmevalkit.scoring.base import ScoreItem
from vmevalkit.scoring.verifiers import TaskVerifier
from vmevalkit.tasks import get_domain
from vmevalkit.tasks.base import GeneratedTask
from vmevalkit.tasks.raven import draw_raven, initial_slots
from vmevalkit.tasks.render import to_array

SEEDS = (0, 1, 2)
PER_SEED = 8
HOLD = 3  # frames each drawn state is shown in a cheat video


@cache
def tasks(seed: int) -> tuple[GeneratedTask, ...]:
    return tuple(get_domain("raven").generate(PER_SEED, seed=seed))


def all_tasks() -> list[GeneratedTask]:
    return [task for seed in SEEDS for task in tasks(seed)]


def row_values(panels: list[list[Any]], attribute: int) -> list[list[Any]]:
    return [[panel[attribute] for panel in row] for row in panels]


def infer_answer(panels: list[list[Any]]) -> tuple[list[Any], int]:
    """The bottom-right panel ``[count, colour, shape]`` from the eight others, and how many attributes vary.

    Each attribute's rule is recognised from the two complete rows and applied to the bottom row; exactly one
    rule must fit, else the matrix would have no single answer."""
    answer: list[Any] = []
    varying = 0
    for attribute in range(3):  # count, colour, shape
        rows = row_values(panels, attribute)
        top, bottom = rows[:2], rows[2][:2]
        fits: dict[str, Any] = {}
        if all(len(set(row)) == 1 for row in top) and bottom[0] == bottom[1]:
            fits["constant"] = bottom[0]
        if attribute == 0 and all(row[1] == row[0] + 1 and row[2] == row[0] + 2 for row in top):
            if bottom[1] == bottom[0] + 1:
                fits["progression"] = bottom[0] + 2
        if attribute == 1 and top[0] == top[1] and len(set(top[0])) == 3 and bottom == top[0][:2]:
            fits["column colours"] = top[0][2]
        if attribute == 2 and all(len(set(row)) == 3 and set(row) == set(top[0]) for row in top):
            missing = set(top[0]) - set(bottom)
            if len(missing) == 1 and len(set(bottom)) == 2:
                fits["distribution"] = missing.pop()
        assert len(fits) == 1, (attribute, rows, fits)
        ((rule, value),) = fits.items()
        varying += rule != "constant"
        answer.append(value)
    return answer, varying


def test_the_answer_follows_from_the_given_panels_and_the_solution_draws_it_shape_by_shape() -> None:
    for task in all_tasks():
        md = task.metadata
        answer, varying = infer_answer(md["panels"])
        assert answer == md["answer"] == md["panels"][2][2]
        assert varying == {"easy": 1, "medium": 2, "hard": 3}[md["difficulty"]]
        count, colour, shape = answer
        assert 2 <= count <= 4 and md["num_steps"] == count
        # Replay: one shape per step, into the answer's places in reading order, each the answer's symbol.
        places = ["empty"] * 4
        for step, (place, name) in enumerate(md["solution"]):
            assert place == step and places[place] == "empty"
            assert name == f"{colour} {shape}"
            places[place] = name
        assert places == [f"{colour} {shape}"] * count + ["empty"] * (4 - count)
        for row in md["panels"]:
            for panel_count, _, _ in row:
                assert 1 <= panel_count <= 4


def test_every_difficulty_is_reached() -> None:
    assert {task.metadata["difficulty"] for task in all_tasks()} == {"easy", "medium", "hard"}


def test_each_solution_step_reads_back_as_its_state() -> None:
    domain = get_domain("raven")
    for task in tasks(0)[:4]:
        verifier = domain.verifier(task.metadata)
        frames = np.stack(domain.render_solution(task.metadata))
        states = verifier.read_states(frames)
        slots = initial_slots(task.metadata)
        expected = [tuple(slots)]
        for place, name in task.metadata["solution"]:
            slots[32 + place] = name
            expected.append(tuple(slots))
        assert states == expected
        assert states[0] == verifier.initial and states[-1] == verifier.solved


def cheat_video(task: GeneratedTask, steps: list[list[str]], folder: Path) -> ScoreItem:
    """A video of the drawn states ``steps`` (36 place labels each), scored as a model's output of ``task``."""
    frames = [to_array(draw_raven(task.metadata, slots)) for slots in steps]
    return video_item(task, frames, folder, hold=HOLD, model="cheat", crf=30)


def with_answer(md: dict[str, Any], places: list[str]) -> list[str]:
    return initial_slots(md)[:32] + places


@pytest.fixture(scope="module")
def task() -> GeneratedTask:
    return next(t for t in all_tasks() if t.metadata["num_steps"] == 3)


def right(task: GeneratedTask) -> str:
    return str(task.metadata["solution"][0][1])


def test_a_changed_given_panel_is_caught(tmp_path: Path, task: GeneratedTask) -> None:
    md = task.metadata
    first = initial_slots(md)
    tampered = list(first)
    tampered[0] = "empty"  # the top-left panel loses its first shape
    steps = [first, tampered, with_answer(md, [right(task), "empty", "empty", "empty"])]
    verdict = TaskVerifier().verdict(cheat_video(task, steps, tmp_path))
    assert not verdict.passed
    assert "top-left place of the given panel in row 1, column 1 changes" in verdict.reason, verdict.reason


def test_shapes_drawn_at_once_are_caught(tmp_path: Path, task: GeneratedTask) -> None:
    md = task.metadata
    steps = [initial_slots(md), with_answer(md, [right(task)] * 3 + ["empty"])]
    verdict = TaskVerifier().verdict(cheat_video(task, steps, tmp_path))
    assert verdict.end_state == 1.0 and verdict.process < 1.0
    assert "3 places of the answer panel change at once" in verdict.reason, verdict.reason


def test_a_skipped_place_is_caught(tmp_path: Path, task: GeneratedTask) -> None:
    md = task.metadata
    sym = right(task)
    steps = [
        initial_slots(md),
        with_answer(md, [sym, "empty", "empty", "empty"]),
        with_answer(md, [sym, "empty", sym, "empty"]),
        with_answer(md, [sym, sym, sym, "empty"]),
    ]
    verdict = TaskVerifier().verdict(cheat_video(task, steps, tmp_path))
    assert not verdict.passed
    assert "bottom-left place of the answer panel while the top-right place" in verdict.reason, verdict.reason


def test_a_wrong_shape_is_a_legal_move_but_a_wrong_answer(tmp_path: Path, task: GeneratedTask) -> None:
    md = task.metadata
    colour, shape = right(task).split(" ")
    other = next(s for s in md["render"]["shapes"] if s != shape)
    wrong = f"{colour} {other}"
    steps = [initial_slots(md)] + [with_answer(md, [wrong] * k + ["empty"] * (4 - k)) for k in (1, 2, 3)]
    verdict = TaskVerifier().verdict(cheat_video(task, steps, tmp_path))
    assert verdict.process == 1.0 and verdict.end_state == 0.0 and verdict.moves == 3
    assert f"ends holding {wrong}" in verdict.reason and f"3 x {right(task)}" in verdict.reason, verdict.reason

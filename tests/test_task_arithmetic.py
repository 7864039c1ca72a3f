"""Arithmetic domain: the sum is checked by a column addition written apart from the generator, every difficulty
is reachable and harder, every digit reads back after crf 35 + 360p + noise, and the verifier names the cheats a
video can make (a digit out of order, two at once, a changed addend, a wrong digit).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from domain_videos import score_frames
from PIL import Image

from vmevalkit.tasks import get_domain
from vmevalkit.tasks.arithmetic import ArithmeticVerifier, draw_addition
from vmevalkit.tasks.base import GeneratedTask
from vmevalkit.video import read_frames, write_video

SEEDS = (0, 1, 2)
PER_SEED = 8
TASK_SUCCESS, END_STATE, PROCESS = 0, 1, 2


@cache
def generated(seed: int, count: int = PER_SEED, difficulty: str | None = None) -> tuple[GeneratedTask, ...]:
    return tuple(get_domain("arithmetic").generate(count, seed=seed, difficulty=difficulty))


def all_tasks() -> list[GeneratedTask]:
    return [task for seed in SEEDS for task in generated(seed)]


def column_sum(numbers: list[int]) -> tuple[str, int]:
    """The sum as a digit string, by school column addition over the decimal strings, and its carry count."""
    width = max(len(str(n)) for n in numbers)
    padded = [str(n).rjust(width, "0") for n in numbers]
    digits, carry, carried = [], 0, 0
    for col in range(width - 1, -1, -1):
        column = sum(int(p[col]) for p in padded) + carry
        digits.append(str(column % 10))
        carry = column // 10
        carried += carry != 0
    if carry:
        digits.append(str(carry))
    return "".join(reversed(digits)), carried


def test_the_sum_is_right_and_written_right_to_left_one_digit_per_step() -> None:
    for task in all_tasks():
        md = task.metadata
        written, _ = column_sum(md["addends"])
        assert str(md["total"]) == written
        assert md["width"] == len(written) >= 2
        boxes = [box for box, _ in md["solution"]]
        assert boxes == list(range(len(written) - 1, -1, -1)), "ones first, then leftwards"
        assert "".join(str(digit) for _, digit in sorted(md["solution"])) == written
        assert md["num_steps"] == len(md["solution"]) == len(written)


def test_every_difficulty_is_reachable_and_harder() -> None:
    forms: dict[str, set[tuple[int, int]]] = {"easy": set(), "medium": set(), "hard": set()}
    steps: dict[str, list[int]] = {"easy": [], "medium": [], "hard": []}
    for task in [*all_tasks(), *generated(0, 16, "hard")]:
        md = task.metadata
        level = md["difficulty"]
        lengths = {len(str(n)) for n in md["addends"]}
        assert len(lengths) == 1, "addends of one task have the same number of digits"
        forms[level].add((len(md["addends"]), lengths.pop()))
        steps[level].append(md["num_steps"])
        carries = column_sum(md["addends"])[1]
        assert carries >= {"easy": 0, "medium": 1, "hard": 2}[level], md["addends"]
    assert forms == {"easy": {(2, 2)}, "medium": {(2, 3)}, "hard": {(3, 3), (2, 4)}}
    assert set(steps["easy"]) <= {2, 3} and set(steps["medium"]) <= {3, 4} and set(steps["hard"]) <= {4, 5}
    assert np.mean(steps["easy"]) < np.mean(steps["medium"]) < np.mean(steps["hard"])
    for task in all_tasks():
        assert task.metadata["render"]["font_size"] >= 48


def answer_steps(md: dict[str, Any]) -> list[tuple[Any, ...]]:
    answer: list[Any] = ["blank"] * md["width"]
    out = [tuple(answer)]
    for box, digit in md["solution"]:
        answer[box] = digit
        out.append(tuple(answer))
    return out


def test_every_rendered_step_reads_back_as_its_state() -> None:
    domain = get_domain("arithmetic")
    for task in generated(0, 6):
        md = task.metadata
        verifier = ArithmeticVerifier(md)
        givens = tuple(int(d) for n in md["addends"] for d in str(n))
        expected = [(answer, givens) for answer in answer_steps(md)]
        assert verifier.read_states(np.stack(domain.render_solution(md))) == expected
        for before, after in zip(expected, expected[1:], strict=False):
            assert verifier.move_error(before, after) is None


def degrade(frames: list[np.ndarray], path: Path) -> np.ndarray:
    """Noise, 360p and crf 35 together, as the validity battery's 'all'."""
    rng = np.random.default_rng(3)
    noisy = [np.clip(f + rng.normal(0.0, 10.0, f.shape), 0, 255).astype(np.uint8) for f in frames]
    small = [np.asarray(Image.fromarray(f).resize((360, 360), Image.Resampling.BILINEAR)) for f in noisy]
    write_video(small, path, crf=35)
    return np.stack(list(read_frames(path)))


def test_every_digit_reads_as_itself_after_compression_downscale_and_noise(tmp_path: Path) -> None:
    # The smallest digits (hard, five boxes) and the largest (easy): 1/7, 3/8 and 6/8/9 must stay apart.
    for task in (generated(0, 4, "hard")[0], generated(0, 4, "easy")[0]):
        md = task.metadata
        width = md["width"]
        frames = [np.asarray(draw_addition(md, (d,) * width)) for d in range(10) for _ in range(4)]
        read = ArithmeticVerifier(md).read_states(degrade(frames, tmp_path / f"{task.task_id}.mp4"))
        for d in range(10):
            for state in read[4 * d : 4 * d + 4]:
                assert state is not None and state[0] == (d,) * width, (md["task_id"], d, state)


@pytest.fixture(scope="module")
def task() -> GeneratedTask:
    return next(t for t in generated(0, 8, "medium") if t.metadata["width"] == 4)


def frames_of(md: dict[str, Any], answers: list[tuple[Any, ...]]) -> list[np.ndarray]:
    return [np.asarray(draw_addition(md, answer)) for answer in answers]


def test_a_digit_written_left_of_a_blank_is_illegal(tmp_path: Path, task: GeneratedTask) -> None:
    md = task.metadata
    total = [int(d) for d in str(md["total"])]
    left_first = [("blank",) * 4, ("blank", "blank", total[2], "blank"), tuple(total)]
    scores, detail = score_frames(task, frames_of(md, left_first), tmp_path, hold=8, without_final_frame=True)
    assert scores[TASK_SUCCESS] == 0.0 and scores[END_STATE] == 1.0
    assert "the tens digit is written while the ones digit is still blank" in detail["reason"]


def test_two_digits_at_once_and_an_overwritten_digit_are_illegal(tmp_path: Path, task: GeneratedTask) -> None:
    md = task.metadata
    steps = answer_steps(md)
    scores, detail = score_frames(
        task, frames_of(md, [steps[0], steps[2], *steps[3:]]), tmp_path, hold=8, without_final_frame=True
    )
    assert scores[TASK_SUCCESS] == 0.0
    assert "2 answer digits appear at once; the sum is written one digit per step" in detail["reason"]

    ones = steps[1][3]
    wrong = (*steps[1][:3], (ones + 1) % 10)
    scores, detail = score_frames(
        task, frames_of(md, [steps[0], wrong, *steps[1:]]), tmp_path, hold=8, without_final_frame=True
    )
    assert scores[TASK_SUCCESS] == 0.0
    assert f"the answer's ones digit {(ones + 1) % 10} is changed to {ones}" in detail["reason"]


def test_a_changed_addend_is_illegal(tmp_path: Path, task: GeneratedTask) -> None:
    md = task.metadata
    givens: list[Any] = [int(d) for n in md["addends"] for d in str(n)]
    givens[0] = "blank"  # the first number's hundreds digit disappears at the end
    final = answer_steps(md)[-1]
    frames = [*frames_of(md, answer_steps(md)), np.asarray(draw_addition(md, final, givens))]
    scores, detail = score_frames(task, frames, tmp_path, hold=8, without_final_frame=True)
    assert scores[TASK_SUCCESS] == 0.0
    first = md["addends"][0]
    assert f"the hundreds digit {str(first)[0]} of the first number {first} is erased" in detail["reason"]


def test_a_wrong_digit_is_legal_but_the_answer_fails(tmp_path: Path, task: GeneratedTask) -> None:
    md = task.metadata
    steps = answer_steps(md)
    lead = steps[-1][0]
    wrong = ((lead % 9) + 1, *steps[-1][1:])  # another non-zero leading digit
    scores, detail = score_frames(task, frames_of(md, [*steps[:-1], wrong]), tmp_path, hold=8, without_final_frame=True)
    assert scores[PROCESS] == 1.0 and scores[END_STATE] == 0.0
    shown = "".join(str(d) for d in wrong)
    assert f"the answer reads {shown}, not {md['total']}" in detail["reason"]

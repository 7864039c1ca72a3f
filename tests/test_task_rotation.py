"""Mental rotation: shapes, solutions checked by an independent replay, readable angles, and cheats caught.

The solution check turns the cells with its own rule (a point rotation about the bounding box's centre, written
here with complex numbers) instead of the domain's quarter-turn helper, so a bug there cannot hide itself.
"""

from __future__ import annotations

import json
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from domain_videos import score_frames
from PIL import ImageDraw

from vmevalkit.tasks import get_domain
from vmevalkit.tasks.base import GeneratedTask
from vmevalkit.tasks.rotation import ANGLES, RotationVerifier, draw_rotation, draw_shape

SEEDS = (0, 1, 2)
COUNT = 8
TASK_SUCCESS, END_STATE, PROCESS = 0, 1, 2


def all_tasks() -> list[GeneratedTask]:
    domain = get_domain("rotation")
    return [task for seed in SEEDS for task in domain.generate(COUNT, seed=seed)]


def cell_set(cells: list[list[int]], quarter_turns: int = 0, mirror: bool = False) -> frozenset[complex]:
    """The cells' centres as complex numbers, turned clockwise on screen, translated to touch 0: a shape's key."""
    points = [complex(c + 0.5, r + 0.5) for r, c in cells]  # x = column, y = row (down)
    if mirror:
        points = [complex(-p.real, p.imag) for p in points]
    points = [p * (1j**quarter_turns) for p in points]  # times i: clockwise when y points down
    x0, y0 = min(p.real for p in points), min(p.imag for p in points)
    return frozenset(complex(round(p.real - x0), round(p.imag - y0)) for p in points)


def connected(cells: list[list[int]]) -> bool:
    todo, seen = [tuple(cells[0])], {tuple(cells[0])}
    taken = {tuple(c) for c in cells}
    while todo:
        r, c = todo.pop()
        for n in ((r - 1, c), (r + 1, c), (r, c - 1), (r, c + 1)):
            if n in taken and n not in seen:
                seen.add(n)
                todo.append(n)
    return seen == taken


def test_shapes_are_connected_asymmetric_and_chiral() -> None:
    for task in all_tasks():
        cells = task.metadata["cells"]
        assert (
            len({tuple(c) for c in cells})
            == len(cells)
            == {"easy": 5, "medium": 6, "hard": 7}[task.metadata["difficulty"]]
        )
        assert connected(cells)
        turns = [cell_set(cells, k) for k in range(4)]
        assert len(set(turns)) == 4, f"{task.task_id}: a turn maps the shape onto itself"
        assert all(cell_set(cells, k, mirror=True) not in turns for k in range(4)), f"{task.task_id}: achiral"


def test_solution_turns_clockwise_45_degrees_per_step_to_the_target() -> None:
    seen = set()
    for task in all_tasks():
        md = task.metadata
        seen.add(md["difficulty"])
        angle = md["start_angle"]
        assert md["solution"][0] == angle and angle in range(0, 360, 45)
        for before, after in pairwise(md["solution"]):
            assert after == (before + 45) % 360
        turned = 45 * md["num_steps"]
        assert turned == {"easy": 90, "medium": 180, "hard": 270}[md["difficulty"]]
        assert md["target_angle"] == md["solution"][-1] == (md["start_angle"] + turned) % 360
        assert len(md["solution"]) == md["num_steps"] + 1
        assert "clockwise" in task.prompt and md["direction"] == "clockwise"
    assert seen == {"easy", "medium", "hard"}


def test_the_shape_fits_the_work_area_and_the_panel_is_outside_it() -> None:
    for task in all_tasks()[:8]:
        md = task.metadata
        spec = md["render"]
        x0, y0, x1, y1 = spec["work_area"]
        px0, py0, px1, py1 = spec["panel"]
        assert py1 < y0 or px1 < x0, "the reference panel must not be inside the region read"
        shape = np.array(spec["colors"]["shape"])
        for angle in ANGLES:
            frame = np.asarray(draw_rotation(md, angle))
            ys, xs = np.nonzero((frame == shape).all(axis=-1))
            inside = (xs >= x0) & (xs <= x1) & (ys >= y0) & (ys <= y1)
            in_panel = (xs >= px0) & (xs <= px1) & (ys >= py0) & (ys <= py1)
            assert (inside | in_panel).all(), f"{task.task_id} at {angle}: shape pixels outside the work area"
            assert inside.sum() > 4 * in_panel.sum(), "the work-area shape is the big one"


def test_the_eight_angles_look_far_apart_where_the_reader_compares_them() -> None:
    for task in all_tasks()[::4]:
        verifier = RotationVerifier(task.metadata)
        region = verifier.reader.regions[0]
        assert sorted(int(str(label)) for label in region.labels) == list(ANGLES)
        spacing = region.spacing[np.isfinite(region.spacing)]
        # Mean squared difference over the pixels that change: a shape that moves changes most of them.
        assert spacing.min() > 2000, f"{task.task_id}: two angles look alike ({spacing.min():.0f})"


def test_each_solution_step_reads_back_as_its_angle() -> None:
    domain = get_domain("rotation")
    for task in all_tasks()[:6]:
        md = json.loads(json.dumps(task.metadata))
        verifier = RotationVerifier(md)
        states = verifier.read_states(np.stack(domain.render_solution(md)))
        assert states == [(angle,) for angle in md["solution"]]


def test_move_rule_names_the_cheat() -> None:
    md = next(task for task in all_tasks() if task.metadata["difficulty"] == "hard").metadata
    verifier = RotationVerifier(md)
    assert verifier.move_error((0,), (45,)) is None
    assert verifier.move_error((315,), (0,)) is None
    assert "counter-clockwise" in (verifier.move_error((45,), (0,)) or "")
    assert "rotates by 135 degrees at once" in (verifier.move_error((0,), (135,)) or "")
    assert "rotates by 90 degrees at once" in (verifier.move_error((270,), (0,)) or "")


def mirrored_frame(md: dict[str, Any], angle: int) -> np.ndarray:
    """The task's frame with the work-area shape flipped left-right: the mirror cheat."""
    image = draw_rotation(md, angle)
    spec = md["render"]
    draw = ImageDraw.Draw(image)
    draw.rectangle(spec["work_area"], fill=tuple(spec["colors"]["work_area"]))
    mirror = [[r, max(c for _, c in md["cells"]) - c] for r, c in md["cells"]]
    frame = (*spec["colors"]["frame"],)
    draw_shape(draw, mirror, angle, spec["center"], spec["cell_size"], tuple(spec["colors"]["shape"]), frame, 4)
    return np.asarray(image)


@pytest.fixture(scope="module")
def hard_task() -> GeneratedTask:
    return next(task for task in all_tasks() if task.metadata["difficulty"] == "hard")


def test_a_jump_and_a_counter_clockwise_turn_are_caught_in_a_real_video(
    hard_task: GeneratedTask, tmp_path: Path
) -> None:
    md = hard_task.metadata
    steps = [np.asarray(draw_rotation(md, angle)) for angle in md["solution"]]
    # Three steps at once in the middle: 135 degrees in one move.
    scores, detail = score_frames(hard_task, steps[:2] + steps[4:], tmp_path, hold=4)
    assert scores[END_STATE] == 1.0 and scores[TASK_SUCCESS] == 0.0
    assert "rotates by 135 degrees at once" in detail["reason"]
    # The short way round: counter-clockwise 90 degrees in two legal-sized steps, ending on the target.
    start = md["start_angle"]
    ccw = [np.asarray(draw_rotation(md, (start - 45 * k) % 360)) for k in range(3)]
    scores, detail = score_frames(hard_task, ccw, tmp_path, hold=4)
    assert scores[END_STATE] == 1.0 and scores[PROCESS] == 0.0
    assert "turns counter-clockwise" in detail["reason"]


def test_a_mirrored_answer_does_not_solve_it(hard_task: GeneratedTask, tmp_path: Path) -> None:
    md = hard_task.metadata
    frames = [np.asarray(draw_rotation(md, angle)) for angle in md["solution"][:-1]]
    frames.append(mirrored_frame(md, md["target_angle"]))
    scores, detail = score_frames(hard_task, frames, tmp_path, hold=4)
    assert scores[END_STATE] == 0.0 and scores[TASK_SUCCESS] == 0.0, detail["reason"]


def test_a_different_shape_is_not_read_as_this_task() -> None:
    first, second = all_tasks()[:2]
    verifier = RotationVerifier(first.metadata)
    other = np.stack([np.asarray(draw_rotation(second.metadata, angle)) for angle in ANGLES])
    assert all(state is None for state in verifier.read_states(other))

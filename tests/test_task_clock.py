"""Clock: solutions checked by an independent replay in minutes, the 48 times told apart, and cheats caught.

The replay counts in minutes since 12:00 and derives each hand's angle itself (6 degrees per minute for the
minute hand, 0.5 for the hour hand), rather than reusing the domain's quarter-hour arithmetic.
"""

from __future__ import annotations

import json
import re
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest
from domain_videos import score_frames
from PIL import Image, ImageDraw, ImageOps

from vmevalkit.tasks import get_domain
from vmevalkit.tasks.base import GeneratedTask
from vmevalkit.tasks.clock import ClockVerifier, draw_clock, hand_polygon
from vmevalkit.tasks.reading import RegionReader

SEEDS = (0, 1, 2)
COUNT = 8
TASK_SUCCESS, END_STATE, PROCESS = 0, 1, 2
RANGES = {"easy": range(2, 4), "medium": range(4, 7), "hard": range(7, 13)}


def all_tasks() -> list[GeneratedTask]:
    domain = get_domain("clock")
    return [task for seed in SEEDS for task in domain.generate(COUNT, seed=seed)]


def minutes_of(text: str) -> int:
    hours, minutes = (int(part) for part in text.split(":"))
    return (hours % 12) * 60 + minutes


def prompt_minutes(prompt: str) -> int:
    """The forward move the prompt asks for, read from its words."""
    match = re.search(r"time (?:(\d+) hours? ?)?(?:(\d+) minutes )?later", prompt)
    assert match, prompt
    return int(match.group(1) or 0) * 60 + int(match.group(2) or 0)


def test_solution_moves_forward_15_minutes_per_step_to_what_the_prompt_asks() -> None:
    seen = set()
    for task in all_tasks():
        md = task.metadata
        seen.add(md["difficulty"])
        minutes = [q * 15 for q in md["solution"]]
        assert minutes[0] == minutes_of(md["start_time"])
        for before, after in pairwise(minutes):
            assert (after - before) % 720 == 15
        assert minutes[-1] == minutes_of(md["target_time"])
        assert md["num_steps"] in RANGES[md["difficulty"]] and len(md["solution"]) == md["num_steps"] + 1
        assert (minutes_of(md["start_time"]) + prompt_minutes(task.prompt)) % 720 == minutes_of(md["target_time"])
        assert ("mirror" in task.prompt) == md["mirrored"]
        assert not (md["difficulty"] == "easy" and md["mirrored"])
    assert seen == {"easy", "medium", "hard"}


def pixel_at(frame: np.ndarray, center: tuple[int, int], degrees: float, distance: int) -> list[int]:
    """The colour ``distance`` px out from the centre at ``degrees`` clockwise from 12."""
    theta = np.radians(degrees)
    x, y = center[0] + distance * np.sin(theta), center[1] - distance * np.cos(theta)
    return [int(v) for v in frame[round(y), round(x)]]


def test_the_hands_point_where_the_time_says() -> None:
    domain = get_domain("clock")
    checked_hour = 0
    for task in all_tasks()[:8]:
        md = task.metadata
        spec = md["render"]
        center = (spec["center"][0], spec["center"][1])
        for quarter, frame in zip(md["solution"], domain.render_solution(md), strict=True):
            if md["mirrored"]:
                frame = frame[:, ::-1]  # undo the mirror: the replay reads a plain clock
            minutes = quarter * 15
            minute_angle, hour_angle = minutes * 6 % 360, minutes * 0.5
            tip = spec["minute_hand"]["length"] - 8
            assert pixel_at(frame, center, minute_angle, tip) == spec["colors"]["minute_hand"]
            gap = abs((minute_angle - hour_angle + 180) % 360 - 180)
            if gap > 15:  # the minute hand lies on top: check the hour hand where it is not covered
                tip = spec["hour_hand"]["length"] - 8
                assert pixel_at(frame, center, hour_angle, tip) == spec["colors"]["hour_hand"]
                assert pixel_at(frame, center, minute_angle, tip + 30) != spec["colors"]["hour_hand"]
                checked_hour += 1
    assert checked_hour > 20


def test_the_48_times_are_told_apart_after_degradation() -> None:
    """Every look, re-encoded at crf 35, shrunk to 360p and noised, reads back as its own time."""
    task = next(t for t in all_tasks() if t.metadata["mirrored"])
    md = task.metadata
    verifier = ClockVerifier(md)
    region = verifier.reader.regions[0]
    assert sorted(int(str(label)) for label in region.labels) == list(range(48))
    rng = np.random.default_rng(3)
    frames = []
    for quarter in range(48):
        frame = np.asarray(draw_clock(md, quarter)).astype(np.float32)
        small = Image.fromarray(np.clip(frame + rng.normal(0, 10, frame.shape), 0, 255).astype(np.uint8))
        frames.append(np.asarray(small.resize((360, 360), Image.Resampling.BILINEAR)))
    assert verifier.read_states(np.stack(frames)) == [(q,) for q in range(48)]
    assert isinstance(verifier.reader, RegionReader)


def test_each_solution_step_reads_back_as_its_time() -> None:
    domain = get_domain("clock")
    for task in all_tasks()[:6]:
        md = json.loads(json.dumps(task.metadata))
        verifier = ClockVerifier(md)
        assert verifier.read_states(np.stack(domain.render_solution(md))) == [(q,) for q in md["solution"]]


def test_move_rule_names_the_cheat() -> None:
    verifier = ClockVerifier(all_tasks()[0].metadata)
    assert verifier.move_error((47,), (0,)) is None  # 11:45 -> 12:00
    back, jump = verifier.move_error((5,), (4,)), verifier.move_error((4,), (6,))
    assert back == "the clock goes back 15 minutes from 1:15 to 1:00; it only moves forward"
    assert jump == "the clock jumps 30 minutes at once from 1:00 to 1:30; it moves 15 minutes per step"
    assert "jumps 1 hour 15 minutes at once" in (verifier.move_error((46,), (3,)) or "")


@pytest.fixture(scope="module")
def hard_task() -> GeneratedTask:
    return next(task for task in all_tasks() if task.metadata["difficulty"] == "hard")


def test_a_30_minute_jump_and_a_step_back_are_caught_in_a_real_video(hard_task: GeneratedTask, tmp_path: Path) -> None:
    md = hard_task.metadata
    steps = [np.asarray(draw_clock(md, quarter)) for quarter in md["solution"]]
    scores, detail = score_frames(hard_task, steps[:2] + steps[3:], tmp_path, hold=4)
    assert scores[END_STATE] == 1.0 and scores[TASK_SUCCESS] == 0.0
    assert "jumps 30 minutes at once" in detail["reason"]
    wobble = steps[:3] + [steps[1]] + steps[2:]
    scores, detail = score_frames(hard_task, wobble, tmp_path, hold=4)
    assert scores[END_STATE] == 1.0 and scores[PROCESS] < 1.0
    assert "goes back 15 minutes" in detail["reason"]


def test_a_minute_hand_moved_without_the_hour_hand_is_not_the_answer(hard_task: GeneratedTask, tmp_path: Path) -> None:
    """The last frame turns only the minute hand to the target; the hour hand stays where it started."""
    md = hard_task.metadata
    spec = md["render"]
    frames = [np.asarray(draw_clock(md, q)) for q in md["solution"][:-1]]
    image = draw_clock({**md, "mirrored": False}, md["start"])
    draw = ImageDraw.Draw(image)
    minute, hour = spec["minute_hand"], spec["hour_hand"]
    center = spec["center"]
    draw.polygon(
        hand_polygon(center, md["start"] % 4 * 90, minute["length"], minute["tail"], minute["width"]),
        fill=tuple(spec["colors"]["face"]),
    )
    draw.polygon(
        hand_polygon(center, md["start"] * 7.5, hour["length"], hour["tail"], hour["width"]),
        fill=tuple(spec["colors"]["hour_hand"]),
    )
    draw.polygon(
        hand_polygon(center, md["target"] % 4 * 90, minute["length"], minute["tail"], minute["width"]),
        fill=tuple(spec["colors"]["minute_hand"]),
    )
    x, y, hub = center[0], center[1], spec["hub"]
    draw.ellipse((x - hub, y - hub, x + hub, y + hub), fill=tuple(spec["colors"]["hub"]))
    frames.append(np.asarray(ImageOps.mirror(image) if md["mirrored"] else image))
    scores, detail = score_frames(hard_task, frames, tmp_path, hold=4)
    assert scores[END_STATE] == 0.0 and scores[TASK_SUCCESS] == 0.0, detail["reason"]

"""task-verifier scores imported upstream VMEvalKit mirror clocks (issue 14, point 2): the real time by the hands.

The fixtures follow upstream's format (hokindeng/VMEvalKit ``vmevalkit/tasks/mirror_clock_task/
mirror_clock_reasoning.py``): ``question_metadata.json`` holds only ``original_time``, ``time_delta``,
``future_time``, ``difficulty`` and ``task_type``, kept verbatim by the importer with ``domain`` "clock" and
``source_domain`` "mirror_clock" added. The pictures are drawn in ``ClockRenderer``'s layout (500x500 white,
a radius-200 dial outlined #333333, the numbers at 0.75 of the radius in Pillow's default font as on a machine
without Helvetica, or at size 36 as a stand-in for macOS's Helvetica 36, a #666666 minute hand 6 px wide to 0.7
of the radius, a #333333 hour hand 8 px wide to 0.5 of it); the first frame flipped left to right. Videos are
real mp4 files scored through ``TaskVerifier``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont
from test_upstream_verifiers import score as score_videos

from vmevalkit.models.baselines import OracleSolutionService
from vmevalkit.scoring.verifiers import load_verifier
from vmevalkit.tasks import get_domain
from vmevalkit.tasks.loader import load_tasks
from vmevalkit.tasks.upstream.clock import UpstreamClockVerifier

ORIGINAL, FUTURE = 10 * 60 + 47, 12 * 60 + 25  # 10:47 plus 1 hour 38 minutes (12:25: minutes past 10:47, for sweeps)
DUE = FUTURE % 720  # 12:25 as a state: minutes since 12:00


def draw_upstream_clock(
    minutes: int, mirrored: bool = False, font_size: int | None = None, numbers: bool = True
) -> np.ndarray:
    """The clock at ``minutes`` since 12:00 as upstream's ClockRenderer(500) draws it, flipped when ``mirrored``."""
    size, centre = 500, 250
    radius = int(size * 0.4)
    image = Image.new("RGB", (size, size), "white")
    draw = ImageDraw.Draw(image)
    box = [centre - radius, centre - radius, centre + radius, centre + radius]
    draw.ellipse(box, outline="#333333", width=4, fill="#ffffff")
    font = ImageFont.load_default() if font_size is None else ImageFont.load_default(size=font_size)
    for hour in range(1, 13) if numbers else ():
        angle = math.radians(90 - hour * 30)
        x = centre + int(radius * 0.75 * math.cos(angle))
        y = centre - int(radius * 0.75 * math.sin(angle))
        left, top, right, bottom = draw.textbbox((0, 0), str(hour), font=font)
        draw.text((x - (right - left) // 2, y - (bottom - top) // 2), str(hour), fill="#333333", font=font)
    draw.ellipse([centre - 8, centre - 8, centre + 8, centre + 8], fill="#333333")
    hours, rest = divmod(minutes % 720, 60)
    for degrees, length, width, ink in (
        (rest * 6, int(radius * 0.7), 6, "#666666"),  # the minute hand first, the hour hand over it
        (hours * 30 + rest * 0.5, int(radius * 0.5), 8, "#333333"),
    ):
        theta = math.radians(degrees - 90)
        end = (centre + int(length * math.cos(theta)), centre + int(length * math.sin(theta)))
        draw.line([centre, centre, *end], fill=ink, width=width)
    flipped = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT) if mirrored else image
    return np.asarray(flipped)


def clock_metadata(original: int = ORIGINAL, delta: int = FUTURE - ORIGINAL) -> dict[str, Any]:
    """Upstream's question_metadata.json for ``original`` plus ``delta`` minutes, as the importer keeps it."""
    future = original + delta

    def time(minutes: int) -> dict[str, Any]:
        hours, rest = divmod(minutes, 60)
        return {"hours": hours % 24, "minutes": rest, "formatted": f"{hours % 12 or 12}:{rest:02d}"}

    return {
        "original_time": time(original),
        "time_delta": {"hours": delta // 60, "minutes": delta % 60, "formatted": f"{delta // 60} h {delta % 60} min"},
        "future_time": time(future),
        "difficulty": "hard",
        "task_type": "mirror_with_future_prediction",
        "domain": "clock",
        "source_domain": "mirror_clock",
        "source_format": "vmevalkit",
        "source_path": "mirror_clock_task/mirror_clock_0034",
    }


def write_task(root: Path, metadata: dict[str, Any], first: np.ndarray, final: np.ndarray | None) -> Path:
    folder = root / "questions" / "clock_task" / "mirror_clock_0034"
    folder.mkdir(parents=True)
    Image.fromarray(first).save(folder / "first_frame.png")
    if final is not None:
        Image.fromarray(final).save(folder / "final_frame.png")
    (folder / "prompt.txt").write_text("This is a mirrored clock. If the original clock moves forward by ...")
    (folder / "question_metadata.json").write_text(json.dumps(metadata, indent=2), encoding="utf-8")
    return folder


@pytest.fixture
def clock_task(tmp_path: Path) -> Path:
    first, final = draw_upstream_clock(ORIGINAL, mirrored=True), draw_upstream_clock(FUTURE)
    return write_task(tmp_path, clock_metadata(), first, final)


def score(task: Path, videos: dict[str, list[np.ndarray]], folder: Path, crf: int = 17) -> dict[str, Any]:
    """TaskVerifier's (scores, details) per video name, each a real mp4 (test_upstream_verifiers.score)."""
    return score_videos(task, "clock", videos, folder, crf=crf)


def sweep(start: int, end: int, step: int) -> list[np.ndarray]:
    """The plain clock from ``start`` forward to ``end`` in ``step``-minute steps, each held two frames."""
    times = [*range(start, end, step), end]
    return [draw_upstream_clock(minutes) for minutes in times for _ in range(2)]


def oracle(end: int = FUTURE) -> list[np.ndarray]:
    """Mirrored at the original time, un-mirrored, then the hands swept forward 10 minutes a step."""
    mirrored, final = draw_upstream_clock(ORIGINAL, mirrored=True), draw_upstream_clock(end)
    return [mirrored] * 3 + sweep(ORIGINAL, end, 10) + [final] * 2


@pytest.mark.parametrize("font_size", [None, 36])
def test_every_time_reads_back_mirrored_or_plain(tmp_path: Path, font_size: int | None) -> None:
    first, final = draw_upstream_clock(ORIGINAL, True, font_size), draw_upstream_clock(FUTURE, False, font_size)
    task = write_task(tmp_path, clock_metadata(), first, final)
    verifier = load_verifier(task, "clock")
    assert isinstance(verifier, UpstreamClockVerifier)
    assert verifier.read_states(np.stack([first, final])) == [(True, ORIGINAL), (False, DUE)]
    times = range(3, 720, 41)  # arbitrary minutes, every hour of the dial
    frames = [draw_upstream_clock(t, mirrored, font_size) for t in times for mirrored in (True, False)]
    labels = [labels[0] for labels in verifier.reader.read(np.stack(frames))]
    assert [verifier.state([label]) for label in labels] == [(m, t) for t in times for m in (True, False)]
    # The hands are read by angle to well under a minute: the real time, not just the nearest one.
    assert max(abs(label[1] - t) for label, t in zip(labels[1::2], times, strict=True)) < 0.25  # type: ignore[index]


def test_oracle_passes_and_static_jump_backward_and_wrong_end_fail(clock_task: Path, tmp_path: Path) -> None:
    mirrored = draw_upstream_clock(ORIGINAL, mirrored=True)
    plain = draw_upstream_clock(ORIGINAL)
    final = draw_upstream_clock(FUTURE)
    videos = {
        "oracle": oracle(),
        "static": [mirrored] * 12,
        "jump": [mirrored] * 6 + [final] * 6,
        "backward": [mirrored] * 3 + [plain] * 2 + sweep(ORIGINAL, ORIGINAL - 40, -10)[2:] + [final] * 2,
        "wrong_end": oracle(end=FUTURE + 10),
        "mirror_again": [mirrored] * 3 + [plain] * 3 + [mirrored] * 3 + [plain] * 2 + sweep(ORIGINAL, FUTURE, 10),
    }
    results = score(clock_task, videos, tmp_path)
    o, o_details = results["oracle"]
    assert o.tolist() == [1.0, 1.0, 1.0], o_details["reason"]
    assert o_details["moves"] == 11  # the un-mirroring, then ten steps of at most 10 minutes
    s, s_details = results["static"]
    assert s.tolist() == [0.0, 0.0, 1.0]
    assert s_details["reason"] == "the clock ends still mirrored (at 10:47); it must end un-mirrored"
    j, j_details = results["jump"]
    assert j.tolist() == [0.0, 1.0, 0.0]
    assert "un-mirrored and its time changes at once from 10:47 to 12:25" in j_details["reason"]
    b, b_details = results["backward"]
    assert b[0] == 0.0 and b[2] < 1.0
    assert "the clock goes back 10 minutes from 10:47 to 10:37" in b_details["reason"]
    w, w_details = results["wrong_end"]
    assert w.tolist() == [0.0, 0.0, 1.0]
    assert w_details["reason"] == "the clock ends at 12:35, not at 12:25 (within 2 minutes)"
    a, a_details = results["mirror_again"]
    assert a[0] == 0.0 and a[2] < 1.0
    assert "turns back into its mirror image (from 10:47 to 10:47)" in a_details["reason"]


def test_oracle_still_passes_at_crf_35(clock_task: Path, tmp_path: Path) -> None:
    scores, details = score(clock_task, {"crf35": oracle()}, tmp_path, crf=35)["crf35"]
    assert scores.tolist() == [1.0, 1.0, 1.0], details["reason"]


def test_a_picture_without_a_clock_numbers_or_the_time_is_not_scored_and_says_why(tmp_path: Path) -> None:
    blank = np.full((500, 500, 3), 255, dtype=np.uint8)
    no_clock = write_task(tmp_path / "a", clock_metadata(), blank, draw_upstream_clock(FUTURE))
    scores, details = score(no_clock, {"oracle": oracle()}, tmp_path)["oracle"]
    assert np.isnan(scores).all()
    assert "first_frame.png shows no clock face (a closed dark circle)" in details["reason"]
    assert "re-import the task with 'vmevalkit tasks import'" in details["reason"]

    other = write_task(tmp_path / "b", clock_metadata(), draw_upstream_clock(3 * 60, True), draw_upstream_clock(FUTURE))
    scores, details = score(other, {"oracle": oracle()}, tmp_path)["oracle"]
    assert np.isnan(scores).all()
    assert "first_frame.png shows 3:00 in the mirror, not 10:47 as its metadata says" in details["reason"]

    bare = [draw_upstream_clock(ORIGINAL, True, numbers=False), draw_upstream_clock(FUTURE, numbers=False)]
    numberless = write_task(tmp_path / "c", clock_metadata(), *bare)
    scores, details = score(numberless, {"oracle": oracle()}, tmp_path)["oracle"]
    assert np.isnan(scores).all()
    assert "a mirrored face cannot be told from a plain one" in details["reason"]


def test_without_a_final_frame_the_plain_face_is_the_first_frame_mirrored_back(tmp_path: Path) -> None:
    task = write_task(tmp_path, clock_metadata(), draw_upstream_clock(ORIGINAL, mirrored=True), None)
    verifier = load_verifier(task, "clock")
    frames = np.stack([draw_upstream_clock(ORIGINAL, mirrored=True), draw_upstream_clock(FUTURE)])
    assert verifier.read_states(frames) == [(True, ORIGINAL), (False, DUE)]


def test_dispatch_keeps_our_own_clocks_and_asks_for_the_folder_for_upstream() -> None:
    domain = get_domain("clock")
    ours = next(domain.generate(1, seed=3))
    assert type(domain.verifier(ours.metadata)).__name__ == "ClockVerifier"
    with pytest.raises(ValueError, match="give the task folder"):
        domain.verifier(clock_metadata())


def test_the_oracle_baseline_sweeps_the_hands_on_the_task_own_face(clock_task: Path, tmp_path: Path) -> None:
    """oracle-solution lays out the steps (un-mirror, then 10 minutes a keyframe) on the first frame's face."""
    (task,) = load_tasks(clock_task.parents[1]).tasks
    frames, method = OracleSolutionService("oracle-solution").render(task, duration=2.0)
    assert method == "task_pictures"
    assert np.array_equal(frames[0], draw_upstream_clock(ORIGINAL, mirrored=True))
    # The redrawn plain face at the future time is upstream's own final frame, but for a few edge pixels.
    assert (np.abs(frames[-1].astype(int) - draw_upstream_clock(FUTURE)).max(axis=-1) > 60).mean() < 0.002
    (value, detail) = score(task.path, {"oracle": frames}, tmp_path)["oracle"]
    assert list(value) == [1.0, 1.0, 1.0], detail
    assert detail["moves"] == 11

"""Validity evidence for every task domain, through the real baselines, real mp4 files and ``task-verifier``.

For each registered domain, on freshly built tasks:

- ``oracle-solution`` passes; ``static-first-frame`` and ``shortcut-cut`` fail ``task_success``;
- the oracle's video still passes after re-encoding at crf 35, downscaling to 360p and mild Gaussian noise,
  each on its own and all three combined;
- the oracle video of *another* task of the same domain fails;
- nothing reads ``final_frame.png`` (it is deleted before scoring);
- a video of another size, length or frame rate gets a score or NaN with a reason, never an exception.

A new domain is covered by being registered in ``vmevalkit.tasks.DOMAINS``.

The baselines' videos are as short as lets every step be seen: each state of the solution is held for at least
``HOLD`` frames (the least a 4 s video gave before: tower_of_hanoi's 31 states in 64 frames), and a video has at
least ``MIN_FRAMES`` (2 s at the baselines' 16 fps, the length the odd-video test already used). The oracle must
still show one legal move per step, so no step can be lost to the shorter video. Each oracle video is decoded
once, and its noisy frames are shared by the "noise" and the combined perturbation (the same seeded fields both
drew before).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vmevalkit.runner.registry import build_wrapper
from vmevalkit.scoring.base import ScoreItem, checked_scores
from vmevalkit.scoring.verifiers import TaskVerifier
from vmevalkit.tasks import DOMAINS
from vmevalkit.tasks.loader import Task, load_tasks
from vmevalkit.tasks.writer import build_dataset
from vmevalkit.video import read_frames, write_video

ALL_DOMAINS = sorted(DOMAINS)
TASK_SUCCESS, END_STATE, PROCESS = 0, 1, 2  # TaskVerifier.dimensions
NOISE_SIGMA = 10.0  # mild: grey levels of standard deviation, on 0..255
NOISE_FIELDS = 7  # distinct noise fields, cycled over a video's frames (prime: no beat with a keyframe's length)
PERTURBATIONS = ("crf35", "360p", "noise", "all")
SEED = 4242
TASKS_PER_DOMAIN = 3  # one per difficulty where a domain has three
FPS = 16  # the baselines' frame rate
HOLD = 2  # frames each state of a solution is shown, at least
MIN_FRAMES = 32  # frames in a baseline's video, at least


def build(tmp_path: Path, domain: str) -> list[Task]:
    build_dataset(tmp_path / "questions", domains=[domain], per_domain=TASKS_PER_DOMAIN, seed=SEED)
    tasks = load_tasks(tmp_path / "questions").tasks
    assert len(tasks) == TASKS_PER_DOMAIN, "every generated task loads as a valid task"
    return tasks


def duration(task: Task) -> float:
    """Seconds of video that show each of the task's ``num_steps + 1`` states for ``HOLD`` frames or more."""
    return max(MIN_FRAMES, HOLD * (task.metadata["num_steps"] + 1)) / FPS


def generate(model: str, task: Task, out: Path, duration: float) -> Path:
    wrapper = build_wrapper(model, output_dir=out)
    extra = {"task": task} if wrapper.requires_ground_truth else {}
    video = out / model / f"{task.task_id}.mp4"
    result = wrapper.generate(task.first_frame, task.prompt, duration=duration, output_filename=video, **extra)
    assert result.success, result.error
    return video


def item(task: Task, video: Path) -> ScoreItem:
    return ScoreItem(
        generation_dir=video.parent,
        model="m",
        task_id=task.task_id,
        domain=task.domain,
        video_path=video,
        prompt=task.prompt,
        first_frame=task.first_frame,
        task_dir=task.path,
    )


def score(items: list[ScoreItem]) -> tuple[np.ndarray, list[dict]]:
    scorer = TaskVerifier()
    return checked_scores(scorer, items, scorer.score_batch(items))


def perturb(video: Path, out: Path) -> dict[str, Path]:
    """The video after each degradation on its own and all three combined (in the order a pipeline would apply
    them), by kind of PERTURBATIONS, written as ``out-<kind>.mp4``."""
    rng = np.random.default_rng(7)
    clean = list(read_frames(video))
    # A bank of independent noise fields, cycled over the frames: drawing one per frame cost seconds a video.
    bank = [NOISE_SIGMA * rng.standard_normal(clean[0].shape, dtype=np.float32) for _ in range(NOISE_FIELDS)]
    noisy = [np.clip(f + bank[i % NOISE_FIELDS], 0, 255).astype(np.uint8) for i, f in enumerate(clean)]

    def at_360p(frames: list[np.ndarray]) -> list[np.ndarray]:
        height, width = frames[0].shape[:2]
        size = (round(width * 360 / height) // 2 * 2, 360)
        return [np.asarray(Image.fromarray(f).resize(size, Image.Resampling.BILINEAR)) for f in frames]

    frames = {"crf35": (clean, 35), "360p": (at_360p(clean), 17), "noise": (noisy, 17), "all": (at_360p(noisy), 35)}
    assert set(frames) == set(PERTURBATIONS)
    return {
        kind: Path(write_video(frames[kind][0], out.with_name(f"{out.name}-{kind}.mp4"), crf=frames[kind][1]).path)
        for kind in PERTURBATIONS
    }


@pytest.mark.parametrize("domain", ALL_DOMAINS)
def test_baselines_and_degraded_oracles(tmp_path: Path, domain: str) -> None:
    tasks = build(tmp_path, domain)
    videos = tmp_path / "videos"
    oracle = [generate("oracle-solution", t, videos, duration(t)) for t in tasks]
    static = [generate("static-first-frame", t, videos, duration(t)) for t in tasks]
    shortcut = [generate("shortcut-cut", t, videos, duration(t)) for t in tasks]
    for task in tasks:  # the verifier sees the video and the task's metadata, never the answer image
        (task.path / "final_frame.png").unlink()

    scores, details = score([item(t, v) for t, v in zip(tasks, oracle, strict=True)])
    assert (scores == 1.0).all(), [d["reason"] for d in details]
    assert [d["moves"] for d in details] == [t.metadata["num_steps"] for t in tasks], "one legal move per step"

    scores, details = score([item(t, v) for t, v in zip(tasks + tasks, static + shortcut, strict=True)])
    assert (scores[:, TASK_SUCCESS] == 0.0).all(), [d["reason"] for d in details]
    assert (scores[: len(tasks), END_STATE] == 0.0).all(), "a static video never shows the answer"
    assert (scores[len(tasks) :, PROCESS] < 1.0).all(), "the cut to the answer is an illegal jump"

    degraded = [
        item(task, path)
        for task, video in zip(tasks, oracle, strict=True)
        for path in perturb(video, tmp_path / task.task_id).values()
    ]
    scores, details = score(degraded)
    failed = [(i.video_path.name, d["reason"]) for i, d, s in zip(degraded, details, scores, strict=True) if s[0] != 1]
    assert not failed, failed

    # Each task's oracle, scored against the next task of the domain: a different task's answer fails.
    swapped = [item(t, v) for t, v in zip(tasks, oracle[1:] + oracle[:1], strict=True)]
    scores, details = score(swapped)
    assert (scores[:, TASK_SUCCESS] == 0.0).all(), [d["reason"] for d in details]


@pytest.mark.parametrize("domain", ALL_DOMAINS)
def test_odd_videos_get_a_score_or_nan_with_a_reason(tmp_path: Path, domain: str) -> None:
    task = build(tmp_path, domain)[0]
    frames = list(read_frames(generate("oracle-solution", task, tmp_path / "videos", 2.0)))
    wide = [np.asarray(Image.fromarray(f).resize((426, 240), Image.Resampling.BILINEAR)) for f in frames]
    odd = {
        "wide_240p": write_video(wide, tmp_path / "wide.mp4", fps=24).path,
        "one_frame": write_video(frames[-1:], tmp_path / "one.mp4").path,
        "three_frames_5fps": write_video(frames[::15], tmp_path / "three.mp4", fps=5).path,
        "tiny_64px": write_video(
            [np.asarray(Image.fromarray(f).resize((64, 64))) for f in frames], tmp_path / "tiny.mp4"
        ).path,
        "grey_noise": write_video(
            [np.random.default_rng(i).integers(0, 256, (200, 300, 3), dtype=np.uint8) for i in range(8)],
            tmp_path / "noise.mp4",
        ).path,
    }
    items = [item(task, Path(path)) for path in odd.values()]
    scores, details = score(items)
    for name, row, detail in zip(odd, scores, details, strict=True):
        assert isinstance(detail.get("reason"), str) and detail["reason"], name
        assert np.isnan(row).all() or ((row >= 0) & (row <= 1)).all(), (name, row)
    assert scores[list(odd).index("grey_noise"), TASK_SUCCESS] == 0.0, "noise never passes"

"""Score drawn frames as a model's video of one generated task, the way `vmevalkit score` does.

The per-domain tests (tests/test_task_*.py) check that the task-verifier catches each cheat in a *real*
video: the task is written to a questions folder as `vmevalkit tasks build` would, the frames drawn
with the domain's renderer are encoded to an mp4 (compression included), and TaskVerifier scores it
through the same contract check the runner uses. One copy of that path here keeps the domains' tests
about their domain, and keeps them scoring videos the same way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from vmevalkit.scoring.base import ScoreItem, checked_scores
from vmevalkit.scoring.verifiers import TaskVerifier
from vmevalkit.tasks.base import GeneratedTask
from vmevalkit.tasks.loader import FINAL_FRAME, FIRST_FRAME
from vmevalkit.tasks.writer import write_task
from vmevalkit.video import write_video

Frame = np.ndarray | Image.Image


def video_item(
    task: GeneratedTask,
    frames: Sequence[Frame],
    folder: Path,
    *,
    hold: int = 1,
    name: str | None = None,
    model: str = "m",
    crf: int = 17,
    without_final_frame: bool = False,
) -> ScoreItem:
    """Write ``task`` under ``folder/questions`` and ``frames`` (each shown ``hold`` times) as ``folder/<name>.mp4``.

    ``name`` defaults to one not yet used in ``folder``, so a test can score several videos in one folder.
    ``without_final_frame`` removes the task's final_frame.png, to show the verifier reads the metadata only.
    """
    task_dir = write_task(task, folder / "questions")
    if without_final_frame:
        (task_dir / FINAL_FRAME).unlink()
    if name is None:
        name = f"{task.task_id}-{len(list(folder.glob('*.mp4')))}"
    video = folder / f"{name}.mp4"
    write_video([frame for frame in frames for _ in range(hold)], video, crf=crf)
    return ScoreItem(
        generation_dir=folder,
        model=model,
        task_id=task.task_id,
        domain=task.domain,
        video_path=video,
        prompt=task.prompt,
        first_frame=task_dir / FIRST_FRAME,
        task_dir=task_dir,
    )


def score_items(items: Sequence[ScoreItem]) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """TaskVerifier's ``[N, K]`` scores and per-item details for ``items``, checked as the runner checks them."""
    scorer = TaskVerifier()
    return checked_scores(scorer, items, scorer.score_batch(list(items)))


def score_videos(
    task: GeneratedTask, videos: Mapping[str, Sequence[Frame]], folder: Path, *, without_final_frame: bool = False
) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """Score several videos of ``task`` in one batch, one row each in ``videos``' order; each is its own model."""
    items = [
        video_item(task, frames, folder, name=name, model=name, without_final_frame=without_final_frame)
        for name, frames in videos.items()
    ]
    return score_items(items)


def score_frames(
    task: GeneratedTask,
    frames: Sequence[Frame],
    folder: Path,
    *,
    hold: int = 1,
    name: str | None = None,
    without_final_frame: bool = False,
) -> tuple[np.ndarray, dict[str, Any]]:
    """The task-verifier's scores row and details for ``frames`` as one video of ``task`` (see ``video_item``)."""
    item = video_item(task, frames, folder, hold=hold, name=name, without_final_frame=without_final_frame)
    scores, details = score_items([item])
    return scores[0], details[0]

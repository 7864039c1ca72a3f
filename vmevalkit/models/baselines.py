"""Builtin baselines: no GPU, no key, no download.

``static-first-frame`` is the floor (nothing moves); ``oracle-solution`` is the
ceiling (the task's correct solution, drawn step by step by the task's own
domain). A scorer that cannot tell them apart is not measuring reasoning.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from vmevalkit.models.base import GenerationResult, ModelWrapper
from vmevalkit.video import VideoInfo, as_rgb_array, write_video


def frame_count(duration: float, fps: int) -> int:
    return max(2, round(duration * fps))


def spread_keyframes(keyframes: list[np.ndarray], total: int) -> list[np.ndarray]:
    """Show each keyframe for an equal share of ``total`` frames, first and last included.

    A solution with more steps than ``total`` keeps every step (the video runs
    longer than asked) rather than skipping moves, which would look like teleporting.
    """
    k = len(keyframes)
    if k >= total:
        return list(keyframes)
    return [keyframes[i * k // total] for i in range(total)]


def cross_fade(first: np.ndarray, last: np.ndarray, total: int) -> list[np.ndarray]:
    a, b = first.astype(np.float32), last.astype(np.float32)
    return [np.rint(a + (b - a) * (i / (total - 1))).astype(np.uint8) for i in range(total)]


class StaticFirstFrameService:
    def __init__(self, model: str, fps: int = 16) -> None:
        self.model = model
        self.fps = fps

    def render(self, image_path: Path, duration: float) -> list[np.ndarray]:
        with Image.open(image_path) as im:
            frame = as_rgb_array(im)
        return [frame] * frame_count(duration, self.fps)


class OracleSolutionService:
    def __init__(self, model: str, fps: int = 16) -> None:
        self.model = model
        self.fps = fps

    def render(self, task: Any, duration: float) -> tuple[list[np.ndarray], str]:
        """Frames of the correct solution, and how they were made ("solution" or "cross-fade")."""
        from vmevalkit.tasks import DOMAINS, get_domain

        total = frame_count(duration, self.fps)
        if task.domain in DOMAINS and "solution" in task.metadata:
            keyframes = get_domain(task.domain).render_solution(task.metadata)
            return spread_keyframes(keyframes, total), "solution"
        if task.final_frame is None:
            raise ValueError(f"task {task.task_id} has neither a renderable solution nor a final_frame.png")
        with Image.open(task.first_frame) as a, Image.open(task.final_frame) as b:
            first, last = as_rgb_array(a), as_rgb_array(b.resize(a.size) if b.size != a.size else b)
        return cross_fade(first, last, total), "cross-fade"


def _video_result(model: str, info: VideoInfo, **metadata: Any) -> GenerationResult:
    return GenerationResult(
        success=True,
        video_path=info.path,
        model=model,
        status="completed",
        metadata={"video": info.model_dump(exclude={"path"}), **metadata},
    )


class StaticFirstFrameWrapper(ModelWrapper):
    service: StaticFirstFrameService

    def _generate(
        self, image_path: Path, text_prompt: str, duration: float, output_path: Path, **kwargs: Any
    ) -> GenerationResult:
        info = write_video(self.service.render(image_path, duration), output_path, fps=self.service.fps)
        return _video_result(self.model, info)


class OracleSolutionWrapper(ModelWrapper):
    requires_ground_truth = True  # it draws the answer: the only model that may see it
    service: OracleSolutionService

    def _generate(
        self, image_path: Path, text_prompt: str, duration: float, output_path: Path, **kwargs: Any
    ) -> GenerationResult:
        task = kwargs.get("task")
        if task is None:
            raise ValueError("oracle-solution needs the task (the runner passes it as task=...)")
        frames, method = self.service.render(task, duration)
        info = write_video(frames, output_path, fps=self.service.fps)
        return _video_result(self.model, info, oracle_method=method, solution_steps=task.metadata.get("num_steps"))

"""Builtin baselines: no GPU, no key, no download.

``static-first-frame`` is the floor (nothing moves); ``oracle-solution`` is the
ceiling (the task's correct solution, drawn step by step by the task's own
domain). A scorer that cannot tell them apart is not measuring reasoning.
``shortcut-cut`` holds the first frame, then cuts straight to the answer: right
end state, no process. A scorer that ranks it with the oracle only looks at the
last frame.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from vmevalkit.models.base import GenerationResult, ModelWrapper
from vmevalkit.video import VideoInfo, as_rgb_array, read_frames, write_video


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


def resample_frames(frames: np.ndarray, total: int) -> list[np.ndarray]:
    """``total`` frames picked evenly from ``frames`` (first and last kept): a shipped video at our duration and fps."""
    n = len(frames)
    return [frames[round(i * (n - 1) / (total - 1))] for i in range(total)]


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
        """Frames of the correct solution, and how they were made.

        "solution": drawn step by step by the task's own domain; "ground_truth_video": the task's shipped
        ``ground_truth.mp4`` resampled to ``duration`` at our fps; "task_pictures": an imported task's steps laid
        out with looks cut from its own pictures (``TaskDomain.solution_from_pictures``); "cross-fade": first to
        final frame."""
        from vmevalkit.tasks import DOMAINS, get_domain

        total = frame_count(duration, self.fps)
        video = getattr(task, "ground_truth_video", None)
        if task.domain in DOMAINS and "solution" in task.metadata:
            try:
                keyframes = get_domain(task.domain).render_solution(task.metadata)
            except Exception:
                # An imported task may carry an upstream "solution" our domain cannot draw: its video still can.
                if video is None:
                    raise
            else:
                return spread_keyframes(keyframes, total), "solution"
        if video is not None:
            return self._from_video(task, video, total), "ground_truth_video"
        if task.domain in DOMAINS:
            try:
                drawn = get_domain(task.domain).solution_from_pictures(task.metadata, task.path)
            except (KeyError, TypeError, ValueError):
                drawn = None  # pictures its verifier cannot read: the cross-fade below still answers
            if drawn:
                return spread_keyframes(drawn, total), "task_pictures"
        if task.final_frame is None:
            raise ValueError(f"task {task.task_id} has neither a renderable solution nor a final_frame.png")
        with Image.open(task.first_frame) as a, Image.open(task.final_frame) as b:
            first, last = as_rgb_array(a), as_rgb_array(b.resize(a.size) if b.size != a.size else b)
        return cross_fade(first, last, total), "cross-fade"

    @staticmethod
    def _from_video(task: Any, video: Path, total: int) -> list[np.ndarray]:
        """The shipped video's frames at the first frame's size (the video is what the task says is correct)."""
        with Image.open(task.first_frame) as im:
            size = im.size
        frames = resample_frames(read_frames(video), total)
        if frames[0].shape[1::-1] == size:
            return frames
        resized: list[np.ndarray] = []
        for frame in frames:
            with Image.fromarray(frame) as im:
                resized.append(as_rgb_array(im.resize(size)))
        return resized


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
    requires_ground_truth = True  # it draws the answer: only baselines may see it
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


class ShortcutCutService:
    def __init__(self, model: str, fps: int = 16) -> None:
        self.model = model
        self.fps = fps

    def render(self, task: Any, duration: float) -> tuple[list[np.ndarray], str]:
        """The first frame for the first half, the answer for the rest, and where the answer came from."""
        total = frame_count(duration, self.fps)
        with Image.open(task.first_frame) as im:
            first = as_rgb_array(im)
        answer, source = self._answer(task, size=(first.shape[1], first.shape[0]))
        # A hard cut, no in-between frame: the answer appears without a single move being shown.
        cut = total // 2
        return [first] * cut + [answer] * (total - cut), source

    @staticmethod
    def _answer(task: Any, size: tuple[int, int]) -> tuple[np.ndarray, str]:
        from vmevalkit.tasks import DOMAINS, get_domain

        if task.final_frame is not None:
            with Image.open(task.final_frame) as im:
                return as_rgb_array(im.resize(size) if im.size != size else im), "final_frame"
        if task.domain in DOMAINS and "solution" in task.metadata:
            solved = get_domain(task.domain).render_solution(task.metadata)[-1]
            with Image.fromarray(solved) as im:
                return as_rgb_array(im.resize(size) if im.size != size else im), "solution"
        raise ValueError(
            f"task {task.task_id} has neither a final_frame.png nor a renderable solution: "
            "shortcut-cut has no answer to cut to"
        )


class ShortcutCutWrapper(ModelWrapper):
    requires_ground_truth = True  # it cuts to the answer: only baselines may see it
    service: ShortcutCutService

    def _generate(
        self, image_path: Path, text_prompt: str, duration: float, output_path: Path, **kwargs: Any
    ) -> GenerationResult:
        task = kwargs.get("task")
        if task is None:
            raise ValueError("shortcut-cut needs the task (the runner passes it as task=...)")
        frames, source = self.service.render(task, duration)
        info = write_video(frames, output_path, fps=self.service.fps)
        return _video_result(self.model, info, answer_source=source)

"""``trajectory-match``: how closely a video follows the task's own solution video (``ground_truth.mp4``).

Some tasks ship a video of the correct solution (upstream VMEvalKit and VBVR tasks; ``vmevalkit tasks import`` keeps
it, and the run folder's ``question/`` holds a copy). This scorer compares the whole course of a generated video with
it, not only its last frame, so a video that cuts straight to the answer, or walks the path backwards, scores below
one that walks it as the solution does, at whatever speed.

How:

1. Both videos are decoded frame by frame; each frame becomes a small grayscale picture (``FEATURE_SIZE`` squared,
   ITU-R BT.601 luma, area-averaged), so the two videos need not share a size, and the encoder's pixel noise is
   averaged away. The reduced frames are sampled evenly to at most ``frames`` (32), first and last kept.
2. Every frame is measured by its change from the solution's first frame: ``c = frame - gt[0]``. Why: the puzzles
   are sparse pictures, so a raw pixel distance is dominated by the background every frame shares, and a video that
   does nothing would sit within a few percent of the solution (the trap whole-frame SSIM fell into in frame-match
   version 1). Measured by their changes, only the moves count.
3. Two frames' similarity is ``s = (2 <c_a, c_b> + C) / (|c_a|^2 + |c_b|^2 + C)``, the form of SSIM's luminance
   term applied to the change pictures as vectors (means over the pixels; ``C = STABILITY``, SSIM's C1, in squared
   grey levels): 1 for the same change, near 0 for a change against none (a static frame against a moved one), about
   0.5 for two positions of one moving piece (both share its leaving the start), negative for opposite changes,
   clipped to 0 (a move the other way is no better than none). ``C`` keeps two "no change" frames, which differ
   only by encoder noise, at about 1.
4. Dynamic time warping aligns the two sampled sequences with cost ``1 - s``: monotone, steps (1, 0), (0, 1) and
   (1, 1), both ends anchored (first with first, last with last), so speed and length do not matter but order
   does: the reversed walk, whose frames are the same set, cannot pair them in order.

Dimensions, both in [0, 1]:

- ``trajectory_similarity``: the mean ``s`` along the warping path (1 minus the mean aligned cost). A mean rather
  than a sum, so a longer video is not penalised for its length.
- ``end_similarity``: ``s`` of the two last frames (did the video end where the solution ends).

A task that ships no ``ground_truth.mp4`` scores NaN with that reason, as does a video (or a ground-truth video)
that does not decode. The scorer sees the solution video only because it declares ``ground_truth_video`` in its
inputs; it reads neither ``final_frame.png`` nor the solution metadata.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from PIL import Image

from vmevalkit.scoring.base import UNIT_RANGE, Range, ScoreBatch, ScoreItem, Scorer, score_each
from vmevalkit.scoring.frame_match import luma
from vmevalkit.video import VideoError

FEATURE_SIZE = 64
DEFAULT_FRAMES = 32
# SSIM's C1 ((0.01 * 255)^2) in squared grey levels: two frames that both barely change (encoder noise, averaged
# down by the reduction) stay near 1 (0.999 for a re-encoded walk), while one maze move (about 115 in mean squared
# change at 64x64) against none scores 0.05. SSIM's larger C2 left that at 0.34 and the static video at 0.26 (0.09).
STABILITY = (0.01 * 255.0) ** 2
NO_GROUND_TRUTH = "the task ships no ground_truth.mp4"


def reduced_frames(path: Path, size: int = FEATURE_SIZE) -> np.ndarray:
    """Every frame of the video at ``path`` as a ``size x size`` float luma picture: ``[N, size, size]``.

    Decoded one frame at a time and reduced at once, so a long high-resolution video never sits in memory whole.
    """
    import av

    try:
        container = av.open(str(path), mode="r")
    except (av.error.FFmpegError, OSError) as exc:
        raise VideoError(f"cannot open video {path}: {exc}") from exc
    reduced: list[np.ndarray] = []
    with container:
        if not container.streams.video:
            raise VideoError(f"{path} has no video stream")
        try:
            for frame in container.decode(video=0):
                grey = Image.fromarray(luma(frame.to_ndarray(format="rgb24")).astype(np.float32), mode="F")
                reduced.append(np.asarray(grey.resize((size, size), Image.Resampling.BOX), dtype=np.float64))
        except av.error.FFmpegError as exc:
            raise VideoError(f"cannot decode {path}: {exc}") from exc
    if not reduced:
        raise VideoError(f"{path} decodes to no frames")
    return np.stack(reduced)


def sample_evenly(frames: np.ndarray, at_most: int) -> np.ndarray:
    """At most ``at_most`` frames picked evenly, the first and the last always among them."""
    n = len(frames)
    if n <= at_most:
        return frames
    if at_most == 1:
        return frames[-1:]
    return frames[[round(i * (n - 1) / (at_most - 1)) for i in range(at_most)]]


def similarity_matrix(changes_a: np.ndarray, changes_b: np.ndarray) -> np.ndarray:
    """``s`` (module docstring, step 3) of every pair of change pictures: ``[len(a), len(b)]`` in [0, 1]."""
    a = changes_a.reshape(len(changes_a), -1)
    b = changes_b.reshape(len(changes_b), -1)
    pixels = a.shape[1]
    cross = (a @ b.T) / pixels
    energy_a = np.einsum("ij,ij->i", a, a) / pixels
    energy_b = np.einsum("ij,ij->i", b, b) / pixels
    s = (2.0 * cross + STABILITY) / (energy_a[:, None] + energy_b[None, :] + STABILITY)
    return np.asarray(np.clip(s, 0.0, 1.0))


def dtw_path(cost: np.ndarray) -> list[tuple[int, int]]:
    """The monotone warping path of least total ``cost`` from (0, 0) to (n - 1, m - 1), steps (1,0), (0,1), (1,1)."""
    n, m = cost.shape
    total = np.full((n + 1, m + 1), np.inf)
    total[0, 0] = 0.0
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            total[i, j] = cost[i - 1, j - 1] + min(total[i - 1, j - 1], total[i - 1, j], total[i, j - 1])
    path = [(n - 1, m - 1)]
    i, j = n, m
    while (i, j) != (1, 1):
        # Ties prefer the diagonal: the shortest of the equally good paths.
        steps = ((total[i - 1, j - 1], i - 1, j - 1), (total[i - 1, j], i - 1, j), (total[i, j - 1], i, j - 1))
        _, i, j = min(steps, key=lambda step: step[0])
        path.append((i - 1, j - 1))
    return path[::-1]


def compare_trajectories(video: np.ndarray, truth: np.ndarray) -> tuple[float, float, int]:
    """(trajectory_similarity, end_similarity, path length) of two reduced, sampled frame sequences."""
    start = truth[0]
    s = similarity_matrix(video - start, truth - start)
    path = dtw_path(1.0 - s)
    trajectory = float(np.mean([s[i, j] for i, j in path]))
    return trajectory, float(s[-1, -1]), len(path)


class TrajectoryMatch(Scorer):
    """A video's course against the task's ``ground_truth.mp4``: aligned by dynamic time warping (module docstring)."""

    name: ClassVar[str] = "trajectory-match"
    version: ClassVar[str] = "1"
    dimensions: ClassVar[tuple[str, ...]] = ("trajectory_similarity", "end_similarity")
    inputs: ClassVar[frozenset[str]] = frozenset({"video", "ground_truth_video"})
    ranges: ClassVar[dict[str, Range]] = {"trajectory_similarity": UNIT_RANGE, "end_similarity": UNIT_RANGE}

    def __init__(self, checkpoint: str | None = None, device: str | None = None, frames: int = DEFAULT_FRAMES) -> None:
        # A bad value is a TypeError, as a bad keyword is, so the loader reports it as one usage line.
        if isinstance(frames, bool) or not isinstance(frames, int) or frames < 2:
            raise TypeError(f"frames must be a whole number of at least 2 (frames sampled per video), got {frames!r}")
        super().__init__(checkpoint=checkpoint, device=device)
        self.frames = frames

    def score_batch(self, items: Sequence[ScoreItem], **kwargs: Any) -> ScoreBatch:
        if kwargs:
            raise TypeError(f"trajectory-match takes no score_batch options, got {sorted(kwargs)}")
        # One unreadable video or image gives NaN for that item; the rest of the batch is scored.
        return score_each(items, len(self.dimensions), self._score_one, (VideoError, OSError, ValueError))

    def _score_one(self, item: ScoreItem) -> tuple[list[float], dict[str, Any]]:
        truth_path = item.ground_truth_video
        if truth_path is None:
            return [math.nan, math.nan], {"error": NO_GROUND_TRUTH}
        try:
            truth_all = reduced_frames(truth_path)
        except VideoError as exc:
            raise VideoError(f"ground_truth.mp4 cannot be used: {exc}") from exc
        video_all = reduced_frames(item.video_path)
        video, truth = sample_evenly(video_all, self.frames), sample_evenly(truth_all, self.frames)
        trajectory, end, steps = compare_trajectories(video, truth)
        detail = {
            "frames": len(video_all),
            "ground_truth_frames": len(truth_all),
            "sampled": [len(video), len(truth)],
            "path_length": steps,
        }
        return [trajectory, end], detail

"""``frame-match``: how close a video's last frame is to the expected final frame, and its first frame to the input.

Four dimensions per video:

- ``final_ssim``, ``final_psnr``: the video's last frame against the task's ``final_frame.png`` (the answer);
- ``first_ssim``, ``first_psnr``: the video's first frame against ``first_frame.png`` (did the model keep the
  picture it was given, or start from something else).

Both are computed on luma (ITU-R BT.601: Y = 0.299 R + 0.587 G + 0.114 B, as floats), after fitting the video
frame to the reference image's size. SSIM follows Wang et al. (2004): an 11x11 Gaussian window with sigma 1.5,
K1 = 0.01, K2 = 0.03, dynamic range 255, averaged over every position where the window fits. PSNR is
``10 log10(255^2 / MSE)``; identical images (MSE 0) would be infinite, so PSNR is capped at ``PSNR_CAP_DB``
(100 dB, far above what any lossy video reaches) to keep every score a finite number.

A pixel-level match is a weak judge of reasoning: a video that cuts straight to the answer scores as well as one
that solves the task. It is shipped as a reference point next to the task verifiers, not instead of them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from PIL import Image

from vmevalkit.scoring.base import Range, ScoreBatch, ScoreItem, Scorer
from vmevalkit.video import VideoError, as_rgb_array

PSNR_CAP_DB = 100.0
SSIM_WINDOW = 11
SSIM_SIGMA = 1.5
SSIM_K1, SSIM_K2 = 0.01, 0.03
DATA_RANGE = 255.0
LUMA_WEIGHTS = np.array([0.299, 0.587, 0.114])


def luma(rgb: np.ndarray) -> np.ndarray:
    """An ``HxWx3`` RGB array as ``HxW`` float64 luma in [0, 255] (no rounding, unlike PIL's "L" mode)."""
    return np.asarray(np.asarray(rgb[..., :3], dtype=np.float64) @ LUMA_WEIGHTS)


def gaussian_kernel(size: int = SSIM_WINDOW, sigma: float = SSIM_SIGMA) -> np.ndarray:
    """A normalised 1-D Gaussian of ``size`` taps; SSIM's 2-D window is its outer product with itself."""
    offsets = np.arange(size, dtype=np.float64) - (size - 1) / 2
    kernel = np.exp(-(offsets**2) / (2 * sigma**2))
    return np.asarray(kernel / kernel.sum())


def _filter_valid(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    # The 2-D Gaussian is separable: filter the rows, then the columns. "valid" positions only (the window
    # never hangs over the border), as in Wang et al.'s reference code, so no padding choice biases the edges.
    k = len(kernel)
    rows = np.lib.stride_tricks.sliding_window_view(image, k, axis=0) @ kernel
    return np.asarray(np.lib.stride_tricks.sliding_window_view(rows, k, axis=1) @ kernel)


def ssim(a: np.ndarray, b: np.ndarray, data_range: float = DATA_RANGE) -> float:
    """Mean structural similarity of two same-sized 2-D images (1.0 for identical images)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 2:
        raise ValueError(f"ssim needs two 2-D images of the same size, got {a.shape} and {b.shape}")
    if min(a.shape) < 1:
        raise ValueError(f"ssim needs non-empty images, got {a.shape}")
    # An image smaller than the window still gets a score: the window shrinks to fit (odd, so it has a centre).
    size = min(SSIM_WINDOW, *a.shape)
    size -= 1 - size % 2
    kernel = gaussian_kernel(size, SSIM_SIGMA)
    mu_a, mu_b = _filter_valid(a, kernel), _filter_valid(b, kernel)
    var_a = _filter_valid(a * a, kernel) - mu_a**2
    var_b = _filter_valid(b * b, kernel) - mu_b**2
    cov = _filter_valid(a * b, kernel) - mu_a * mu_b
    c1, c2 = (SSIM_K1 * data_range) ** 2, (SSIM_K2 * data_range) ** 2
    ssim_map = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
    return float(ssim_map.mean())


def psnr(a: np.ndarray, b: np.ndarray, data_range: float = DATA_RANGE, cap: float = PSNR_CAP_DB) -> float:
    """Peak signal-to-noise ratio in dB, at most ``cap`` (identical images give exactly ``cap``)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"psnr needs two images of the same size, got {a.shape} and {b.shape}")
    mse = float(np.mean((a - b) ** 2))
    if mse == 0.0:
        return cap
    return min(cap, 10.0 * math.log10(data_range**2 / mse))


def fit_to(frame: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, str]:
    """``frame`` (HxWx3) at ``size`` (width, height), and how: "same", "cropped" or "resized".

    Our mp4 writer pads odd-sized pictures by one edge pixel (yuv420p needs even sizes); that padding is cropped
    off rather than resampled, so a faithful video of an odd-sized image is not blurred by the comparison.
    """
    width, height = size
    h, w = frame.shape[:2]
    if (w, h) == (width, height):
        return frame, "same"
    if 0 <= w - width <= 1 and 0 <= h - height <= 1:
        return frame[:height, :width], "cropped"
    resized = Image.fromarray(np.ascontiguousarray(frame)).resize((width, height), Image.Resampling.BICUBIC)
    return np.asarray(resized), "resized"


def first_and_last_frames(path: Path) -> tuple[np.ndarray, np.ndarray, int]:
    """The first and last decoded frames of a video and the frame count, decoding one frame at a time.

    Streaming keeps memory flat: a long high-resolution video is never held in memory all at once.
    """
    import av

    try:
        container = av.open(str(path), mode="r")
    except (av.error.FFmpegError, OSError) as exc:
        raise VideoError(f"cannot open video {path}: {exc}") from exc
    first: np.ndarray | None = None
    last: Any = None
    count = 0
    with container:
        if not container.streams.video:
            raise VideoError(f"{path} has no video stream")
        try:
            for frame in container.decode(video=0):
                if first is None:
                    first = frame.to_ndarray(format="rgb24")
                last, count = frame, count + 1
        except av.error.FFmpegError as exc:
            raise VideoError(f"cannot decode {path}: {exc}") from exc
    if first is None:
        raise VideoError(f"{path} decodes to no frames")
    return first, last.to_ndarray(format="rgb24"), count


def _read_image(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return as_rgb_array(im)


def compare(frame: np.ndarray, reference: np.ndarray) -> tuple[float, float, str]:
    """SSIM and PSNR of a video frame against a reference image (the frame is fitted to the reference's size)."""
    fitted, fit = fit_to(frame, (reference.shape[1], reference.shape[0]))
    a, b = luma(fitted), luma(reference)
    return ssim(a, b), psnr(a, b), fit


class FrameMatch(Scorer):
    """SSIM and PSNR of the last frame against the expected final frame, and of the first frame against the input."""

    name: ClassVar[str] = "frame-match"
    version: ClassVar[str] = "1"
    dimensions: ClassVar[tuple[str, ...]] = ("final_ssim", "final_psnr", "first_ssim", "first_psnr")
    inputs: ClassVar[frozenset[str]] = frozenset({"video", "first_frame", "final_frame"})
    # SSIM is a correlation-like index in [-1, 1]; PSNR is in dB, from 0 (the largest error) to the cap.
    ranges: ClassVar[dict[str, Range]] = {
        "final_ssim": (-1.0, 1.0),
        "final_psnr": (0.0, PSNR_CAP_DB),
        "first_ssim": (-1.0, 1.0),
        "first_psnr": (0.0, PSNR_CAP_DB),
    }

    def __init__(self, checkpoint: str | None = None, device: str | None = None) -> None:
        # No options: an unknown constructor keyword is a mistake worth an error, not silently kept.
        super().__init__(checkpoint=checkpoint, device=device)

    def score_batch(self, items: Sequence[ScoreItem], **kwargs: Any) -> ScoreBatch:
        if kwargs:
            raise TypeError(f"frame-match takes no score_batch options, got {sorted(kwargs)}")
        scores = np.full((len(items), len(self.dimensions)), np.nan)
        details: list[dict[str, Any]] = []
        for row, item in enumerate(items):
            # One unreadable video or image gives NaN for that item; the rest of the batch is scored.
            try:
                scores[row], detail = self._score_one(item)
            except (VideoError, OSError, ValueError) as exc:
                detail = {"error": f"{type(exc).__name__}: {exc}"}
            details.append(detail)
        return ScoreBatch(scores=scores, details=details)

    def _score_one(self, item: ScoreItem) -> tuple[list[float], dict[str, Any]]:
        first, last, count = first_and_last_frames(item.video_path)
        first_ssim, first_psnr, first_fit = compare(first, _read_image(item.first_frame))
        detail: dict[str, Any] = {"frames": count, "video_size": [first.shape[1], first.shape[0]]}
        detail["first_frame_fit"] = first_fit
        if item.final_frame is None:
            # Tasks may ship without an answer image: the final comparison is undefined, not zero.
            detail["final"] = "not scored: the task has no final_frame.png"
            return [math.nan, math.nan, first_ssim, first_psnr], detail
        final_ssim, final_psnr, final_fit = compare(last, _read_image(item.final_frame))
        detail["final_frame_fit"] = final_fit
        return [final_ssim, final_psnr, first_ssim, first_psnr], detail

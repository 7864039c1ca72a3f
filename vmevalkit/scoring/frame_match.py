"""``frame-match``: how close a video's last frame is to the expected final frame, and its first frame to the input.

Four dimensions per video:

- ``final_ssim``, ``final_psnr``: the video's last frame against the task's ``final_frame.png`` (the answer);
- ``first_ssim``, ``first_psnr``: the video's first frame against ``first_frame.png`` (did the model keep the
  picture it was given, or start from something else).

Two ways to compare the last frame (the constructor's ``region``; ``--scorer-init-kwargs-json '{"region": ...}'``):

- ``"changed"`` (the default): only where the task's answer differs from its input. The change mask holds the
  pixels where ``first_frame.png`` and ``final_frame.png`` differ by more than ``CHANGE_THRESHOLD`` levels in any
  RGB channel, grown by ``margin_px`` (1.5% of the shorter side, at least SSIM's half window). SSIM is averaged
  over the windows centred in that mask and PSNR over its pixels, on R, G and B (the mean of the three channels'
  SSIM). Why: the puzzles are sparse, so a video that does nothing already matches most of the whole frame (final
  SSIM 0.85-0.99 on the shipped domains against the oracle's 0.999); and many answers are a change of colour at
  nearly the same brightness (symmetry's yellow on light grey), which luma alone hardly sees. A faithful yuv420p
  video scores about 0.9 rather than 1 here, as the encoder halves the colour resolution at the edges that change.
  When the two task images are identical there is nothing to localise: the whole frame is compared, and the
  details say so.
- ``"whole"``: the whole frame, on luma, exactly as version 1 scored it.

The first frame is always compared whole, on luma: the model should keep all of the picture it was given.

Luma is ITU-R BT.601 (Y = 0.299 R + 0.587 G + 0.114 B, as floats); every comparison first fits the video frame to
the reference image's size. SSIM follows Wang et al. (2004): an 11x11 Gaussian window with sigma 1.5, K1 = 0.01,
K2 = 0.03, dynamic range 255, averaged over every position where the window fits. PSNR is
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

from vmevalkit.scoring.base import Range, ScoreBatch, ScoreItem, Scorer, score_each
from vmevalkit.video import VideoError, as_rgb_array

PSNR_CAP_DB = 100.0
SSIM_WINDOW = 11
SSIM_SIGMA = 1.5
SSIM_K1, SSIM_K2 = 0.01, 0.03
DATA_RANGE = 255.0
LUMA_WEIGHTS = np.array([0.299, 0.587, 0.114])
REGIONS = ("changed", "whole")
# A pixel belongs to the change when some RGB channel moves by more than this between the task's two images:
# above the faint anti-aliasing and resampling differences of a re-saved image, far below any drawn change.
CHANGE_THRESHOLD = 16
# The mask grows by this share of the frame's shorter side (8 px at 512), and never by less than SSIM's half
# window, so every window that overlaps a changed pixel is counted, with a few pixels' slack for an answer drawn
# slightly off place. Larger margins only add windows no change reaches, which pull every video towards 1
# (the least oracle-static SSIM gap on the shipped domains: 0.33 at 0 px, 0.26 at 8 px, 0.17 at 15 px).
MARGIN_FRACTION = 0.015


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


def _ssim_map(a: np.ndarray, b: np.ndarray, data_range: float) -> tuple[np.ndarray, int]:
    """SSIM at every position where the window fits, and the window's half width (the map's offset in the image)."""
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
    return ssim_map, size // 2


def ssim(a: np.ndarray, b: np.ndarray, data_range: float = DATA_RANGE) -> float:
    """Mean structural similarity of two same-sized 2-D images (1.0 for identical images)."""
    return float(_ssim_map(a, b, data_range)[0].mean())


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


def margin_px(height: int, width: int) -> int:
    """How far the change mask grows: ``MARGIN_FRACTION`` of the shorter side, at least SSIM's half window."""
    return max(SSIM_WINDOW // 2, round(MARGIN_FRACTION * min(height, width)))


def change_mask(first: np.ndarray, final: np.ndarray, threshold: int = CHANGE_THRESHOLD) -> np.ndarray:
    """``HxW`` booleans: where two same-sized RGB images differ by more than ``threshold`` in some channel."""
    if first.shape != final.shape:
        raise ValueError(f"change_mask needs two images of the same size, got {first.shape} and {final.shape}")
    diff = np.abs(np.asarray(first[..., :3], dtype=np.int16) - np.asarray(final[..., :3], dtype=np.int16))
    return np.asarray(diff.max(axis=-1) > threshold)


def dilate(mask: np.ndarray, radius: int) -> np.ndarray:
    """``mask`` grown by ``radius`` pixels in every direction (a square neighbourhood), same size as ``mask``."""
    if radius <= 0:
        return np.array(mask, dtype=bool)
    window = 2 * radius + 1
    padded = np.pad(mask, radius)
    rows = np.lib.stride_tricks.sliding_window_view(padded, window, axis=0).any(axis=-1)
    return np.asarray(np.lib.stride_tricks.sliding_window_view(rows, window, axis=1).any(axis=-1))


def region_ssim(a: np.ndarray, b: np.ndarray, mask: np.ndarray, data_range: float = DATA_RANGE) -> tuple[float, int]:
    """SSIM of two ``HxWxC`` images over the windows centred in ``mask``, averaged over the channels.

    Returns the value and how many window positions it averages. Where no window that fits is centred in the mask
    (a mask along the border of a tiny image), every window around the mask counts: a score, never a mean of nothing.
    """
    # Only the mask's bounding box and a half window around it can reach a counted window: the rest of the frame is
    # cropped off first (the same values, a fraction of the work on a sparse change). A crop smaller than the window
    # would shrink the window, so it is kept whole then.
    rows, cols = np.nonzero(mask)
    if rows.size:
        half = SSIM_WINDOW // 2
        top, left = max(0, int(rows.min()) - half), max(0, int(cols.min()) - half)
        bottom, right = min(mask.shape[0], int(rows.max()) + half + 1), min(mask.shape[1], int(cols.max()) + half + 1)
        if min(bottom - top, right - left) >= SSIM_WINDOW:
            a, b, mask = a[top:bottom, left:right], b[top:bottom, left:right], mask[top:bottom, left:right]
    channels = [_ssim_map(a[..., c], b[..., c], data_range) for c in range(a.shape[-1])]
    offset = channels[0][1]
    mean_map = np.mean([m for m, _ in channels], axis=0)
    height, width = mean_map.shape
    centred = mask[offset : offset + height, offset : offset + width]
    if not centred.any():
        return float(mean_map.mean()), int(mean_map.size)
    return float(mean_map[centred].mean()), int(centred.sum())


def region_psnr(
    a: np.ndarray, b: np.ndarray, mask: np.ndarray, data_range: float = DATA_RANGE, cap: float = PSNR_CAP_DB
) -> float:
    """PSNR over the pixels of ``mask`` (every channel of each), at most ``cap``."""
    if not mask.any():
        raise ValueError("region_psnr needs a mask with at least one pixel")
    diff = np.asarray(a, dtype=np.float64)[mask] - np.asarray(b, dtype=np.float64)[mask]
    mse = float(np.mean(diff**2))
    if mse == 0.0:
        return cap
    return min(cap, 10.0 * math.log10(data_range**2 / mse))


def compare_region(
    frame: np.ndarray, first: np.ndarray, final: np.ndarray
) -> tuple[float, float, str, dict[str, Any] | None]:
    """Region-aware SSIM and PSNR of a video frame against ``final``, and how it fitted; the mask's facts.

    The mask is where ``first`` (the task's input) and ``final`` (its answer) differ. ``None`` in place of the facts
    means the two images are identical: then the comparison is the whole frame's, exactly as ``compare`` does it.
    """
    size = (final.shape[1], final.shape[0])
    first_fitted, _ = fit_to(first, size)
    changed = change_mask(first_fitted, final)
    if not changed.any():
        ssim_value, psnr_value, fit = compare(frame, final)
        return ssim_value, psnr_value, fit, None
    margin = margin_px(final.shape[0], final.shape[1])
    mask = dilate(changed, margin)
    fitted, fit = fit_to(frame, size)
    a = np.asarray(fitted[..., :3], dtype=np.float64)
    b = np.asarray(final[..., :3], dtype=np.float64)
    ssim_value, windows = region_ssim(a, b, mask)
    facts = {
        "changed_pixels": int(changed.sum()),
        "mask_pixels": int(mask.sum()),
        "mask_fraction": round(float(mask.mean()), 4),
        "margin_px": margin,
        "threshold": CHANGE_THRESHOLD,
        "ssim_windows": windows,
    }
    return ssim_value, region_psnr(a, b, mask), fit, facts


class FrameMatch(Scorer):
    """SSIM and PSNR of the last frame against the expected final frame, and of the first frame against the input."""

    name: ClassVar[str] = "frame-match"
    # 2: the last frame is compared over the change mask by default (version 1 compared the whole frame on luma).
    version: ClassVar[str] = "2"
    dimensions: ClassVar[tuple[str, ...]] = ("final_ssim", "final_psnr", "first_ssim", "first_psnr")
    inputs: ClassVar[frozenset[str]] = frozenset({"video", "first_frame", "final_frame"})
    # SSIM is a correlation-like index in [-1, 1]; PSNR is in dB, from 0 (the largest error) to the cap.
    ranges: ClassVar[dict[str, Range]] = {
        "final_ssim": (-1.0, 1.0),
        "final_psnr": (0.0, PSNR_CAP_DB),
        "first_ssim": (-1.0, 1.0),
        "first_psnr": (0.0, PSNR_CAP_DB),
    }

    def __init__(self, checkpoint: str | None = None, device: str | None = None, region: str = "changed") -> None:
        # One option; an unknown constructor keyword is a mistake worth an error, not silently kept. A bad value is
        # a TypeError, as a bad keyword is, so the loader reports it as one line naming the choices.
        if region not in REGIONS:
            raise TypeError(f"region must be one of {', '.join(map(repr, REGIONS))}, got {region!r}")
        super().__init__(checkpoint=checkpoint, device=device)
        self.region = region

    def score_batch(self, items: Sequence[ScoreItem], **kwargs: Any) -> ScoreBatch:
        if kwargs:
            raise TypeError(f"frame-match takes no score_batch options, got {sorted(kwargs)}")
        # One unreadable video or image gives NaN for that item; the rest of the batch is scored.
        return score_each(items, len(self.dimensions), self._score_one, (VideoError, OSError, ValueError))

    def _score_one(self, item: ScoreItem) -> tuple[list[float], dict[str, Any]]:
        first, last, count = first_and_last_frames(item.video_path)
        first_reference = _read_image(item.first_frame)
        first_ssim, first_psnr, first_fit = compare(first, first_reference)
        detail: dict[str, Any] = {"frames": count, "video_size": [first.shape[1], first.shape[0]]}
        detail["first_frame_fit"] = first_fit
        if item.final_frame is None:
            # Tasks may ship without an answer image: the final comparison is undefined, not zero.
            detail["final"] = "not scored: the task has no final_frame.png"
            return [math.nan, math.nan, first_ssim, first_psnr], detail
        final = _read_image(item.final_frame)
        detail["region"] = self.region
        if self.region == "whole":
            final_ssim, final_psnr, final_fit = compare(last, final)
            detail["final_region"] = "whole"
        else:
            final_ssim, final_psnr, final_fit, mask = compare_region(last, first_reference, final)
            if mask is None:
                detail["final_region"] = "whole"
                detail["final_region_note"] = (
                    "first_frame.png and final_frame.png do not differ: nothing to localise, the whole frame "
                    "was compared on luma"
                )
            else:
                detail["final_region"] = "changed"
                detail["mask"] = mask
        detail["final_frame_fit"] = final_fit
        return [final_ssim, final_psnr, first_ssim, first_psnr], detail

"""Reading a task's state back from a video frame, region by region, with the domain's own renderer.

Every domain's state is a tuple of labels, one per *region* of the frame (a maze cell with or without the dot,
a sudoku cell with its digit, a peg slot with its disc, a clock face with its hands' time). The domain draws
every look a region can have; a region's look depends on its own label only, and regions do not overlap. A
frame is resized to the task's frame geometry (at ``1 / COARSE`` of its size, where the renders are shrunk
alike) and each region is compared with its looks over the pixels where the looks differ (the disc, the tile,
the glyph: the rest carries no information and would only dilute the difference).

The rule. Let ``d_s`` be the mean squared difference between the frame's region and look ``s``, and
``D(s, t)`` the mean squared difference between looks ``s`` and ``t``. The region is read as its nearest look
``a`` only when, for every look ``b`` with another label,

- ``d_b - d_a >= MARGIN * D(a, b)`` (MARGIN 0.3): the frame is clearly on ``a``'s side of the line between the
  two looks. A blend ``(1 - f) a + f b`` (a cross-fade, a dot half-way between two cells) gives exactly
  ``(1 - 2 f) D(a, b)``, so blends from 35% to 65% are read as nothing at all rather than as a wrong state;
  and since the nearest look is ``a``, two labels can never both be accepted: a read is unambiguous;
- ``d_a <= NEAR * D(a, b)`` (NEAR 0.5): the region looks like one of the puzzle's looks at all, not like an
  unrelated picture that merely happens to be nearer one look than another.

Why squared differences: noise that is independent of the picture (sensor-like Gaussian noise, the dither
of a re-encode) adds the same amount to every ``d_s`` in expectation, so the *difference* of two distances is
untouched by it. A mean absolute difference grows with the noise towards every look alike and runs out of
margin: measured on the oracle's 4x4 sudoku videos re-encoded at crf 35, the worst digit was 0.40 of the way to
another look under the old absolute rule (over its 0.35 limit: "the last frame shows no grid"), and with
mild noise and 360p on top 0.57; under this rule the same cells keep a margin of 0.82 and 0.78 (limit 0.3).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np
from PIL import Image

from vmevalkit.tasks.render import Box

# The frame must be clearly on the nearest look's side of the line to every look with another label: blends of
# two looks from 35% to 65% are read as nothing (see the module docstring).
MARGIN = 0.3
# ... and at most this far (in squared difference, relative to the spacing of the looks) from the nearest look.
NEAR = 0.5
# Frames are compared with the renders at 1/COARSE of the task's frame size (see RegionReader).
COARSE = 4
# Pixels compared per region at most (see RegionLooks).
MAX_REGION_PIXELS = 4096


class RegionLooks:
    """Every look one region can have, as the renderer draws it, restricted to the pixels where looks differ.

    Each look carries the label a reader returns for it; several looks may share a label (a digit written in
    black or in blue is the same digit), and only looks with different labels need telling apart.
    """

    def __init__(self, box: Box, looks: Sequence[tuple[Hashable, np.ndarray]]) -> None:
        if len({label for label, _ in looks}) < 2:
            raise ValueError(f"a region needs looks with at least two labels to be read, got {[la for la, _ in looks]}")
        self.box = box
        self.labels = [label for label, _ in looks]
        patches = np.stack([patch for _, patch in looks]).astype(np.float32)  # [S, h, w, 3]
        # Only pixels where some look differs from another tell looks apart.
        mask = (patches.max(axis=0) != patches.min(axis=0)).any(axis=-1)
        # Large flat areas (a whole coloured tile) are thinned to a regular lattice of about MAX_REGION_PIXELS:
        # thousands of pixels average compression noise away as well as tens of thousands do, at a tenth the cost.
        step = int(np.ceil(np.sqrt(mask.sum() / MAX_REGION_PIXELS)))
        lattice = np.zeros_like(mask)
        lattice[::step, ::step] = True
        self.mask = mask & lattice
        self.templates = patches[:, self.mask].reshape(len(looks), -1)  # [S, M*3]
        self.norms = (self.templates**2).sum(axis=1)  # [S]
        self.size = self.templates.shape[1]
        spacing = self._squared(self.templates)  # [S, S]: D(s, t)
        other = np.array([[la != lb for lb in self.labels] for la in self.labels])
        self.other = other
        # D(s, t) for the looks t that must be told from s; inf elsewhere so they never bind.
        self.spacing = np.where(other, spacing, np.inf)

    def _squared(self, pixels: np.ndarray) -> np.ndarray:
        """Mean squared difference of each row of ``pixels`` ([N, M*3]) to each look: [N, S]."""
        cross = pixels @ self.templates.T
        distances: np.ndarray = ((pixels**2).sum(axis=1)[:, None] - 2 * cross + self.norms[None, :]) / self.size
        clipped: np.ndarray = np.maximum(distances, 0.0)  # rounding can dip a zero distance just below 0
        return clipped

    def read(self, frames: np.ndarray) -> list[Hashable | None]:
        """The label each of ``frames`` (``[N, H, W, 3]``) shows in this region, or None where it is unclear."""
        x0, y0, x1, y1 = self.box
        pixels = frames[:, y0 : y1 + 1, x0 : x1 + 1][:, self.mask].reshape(len(frames), -1).astype(np.float32)
        distances = self._squared(pixels)  # [N, S]
        best = distances.argmin(axis=1)
        rows = np.arange(len(frames))
        nearest = distances[rows, best]  # d_a
        spacing = self.spacing[best]  # [N, S]: D(a, b), inf where b shares a's label
        margin_ok = (distances - nearest[:, None] >= MARGIN * spacing - 1e-6) | ~self.other[best]
        near_ok = nearest <= NEAR * spacing.min(axis=1)
        accepted = margin_ok.all(axis=1) & near_ok
        return [self.labels[s] if ok else None for s, ok in zip(best.tolist(), accepted.tolist(), strict=True)]


class RegionReader:
    """Reads every region of a frame. Built from renders of the task, each with the label its regions show.

    Frames and renders are compared at ``1 / COARSE`` of the task's frame size: a frame of any size is resized
    straight to that size, as the renders are, so the sub-pixel blur that resizing and compression leave on thin
    strokes (a digit's glyph) averages out, while what tells looks apart (a disc, a tile's colour, a digit's
    shape) stays. Every region must be seen with at least two labels across the renders.
    """

    def __init__(self, boxes: Sequence[Box], renders: Sequence[tuple[np.ndarray, Sequence[Hashable]]]) -> None:
        height, width = renders[0][0].shape[:2]
        self.size = (max(1, width // COARSE), max(1, height // COARSE))  # PIL order: (width, height)
        coarse_renders = [(self.shrink(image), labels) for image, labels in renders]
        self.regions = []
        for index, box in enumerate(boxes):
            x0, y0, x1, y1 = self.coarse_box(box)
            looks: dict[tuple[Hashable, bytes], np.ndarray] = {}
            for image, labels in coarse_renders:
                patch = image[y0 : y1 + 1, x0 : x1 + 1]
                looks.setdefault((labels[index], patch.tobytes()), patch)  # each distinct look once
            self.regions.append(RegionLooks((x0, y0, x1, y1), [(label, patch) for (label, _), patch in looks.items()]))

    @staticmethod
    def coarse_box(box: Box) -> Box:
        # Outward rounding: a region keeps every coarse pixel it touches (neighbours may share an edge pixel).
        x0, y0, x1, y1 = box
        return x0 // COARSE, y0 // COARSE, (x1 + COARSE) // COARSE - 1, (y1 + COARSE) // COARSE - 1

    def shrink(self, frame: np.ndarray) -> np.ndarray:
        """One frame of any size (RGB, or grey / RGBA as decoders may give) at the comparison size."""
        image = Image.fromarray(np.ascontiguousarray(frame)).convert("RGB")
        return np.asarray(image if image.size == self.size else image.resize(self.size, Image.Resampling.BILINEAR))

    def read(self, frames: np.ndarray) -> list[list[Hashable | None]]:
        """Per frame, the label of every region (None for a region that cannot be read)."""
        small = np.stack([self.shrink(frame) for frame in frames])
        per_region = [region.read(small) for region in self.regions]
        return [list(labels) for labels in zip(*per_region, strict=True)]

"""Upstream VMEvalKit's Raven matrices: the eight given panels and the answer's shapes, read from every frame.

Upstream (hokindeng/VMEvalKit ``vmevalkit/tasks/raven_task/rpm_generator.py``, ``RPMPuzzleGenerator``) draws a
3x3 matrix of 150-pixel tiles (450x450 RGB), each tile outlined by a one-pixel black rectangle (so the inner
lines are two pixels wide), holding one to three black outline shapes (circle, square, triangle, diamond,
cross, star; some filled light grey). The first frame leaves the bottom-right tile empty but for a small grey
"?"; the final frame shows the complete matrix.

**Where the answer comes from.** Upstream's metadata (``raven_data``) holds only a rule's name and the seed of
upstream's generator: no panel and no answer. So the answer's look is taken from the task's ``final_frame.png``:
this verifier trusts the task's final frame as its answer key, as frame-match does. A task whose final frame is
wrong is judged against that wrong answer; one without a final frame cannot be judged at all.

The grid is found from its ink (``picture.find_grid``). Regions (``reading.RegionReader``), each with its looks:

- each given panel's interior: ``given`` (as the first frame shows it), ``blank`` (plain paper), ``smudged``;
- each *shape* of the answer: the final frame's bottom-right panel is split into connected components of ink
  (components whose padded boxes touch are one shape), each read in its padded box as ``blank`` (the first
  frame's patch, "?" included, or plain paper), ``drawn`` (the final frame's patch) or ``smudged``;
- the rest of the answer panel (outside the shapes' boxes): ``clean`` or ``smudged``.

A ``smudged`` look is its region's reference look darkened evenly by ``SMUDGE`` levels. It is there because a
reader compares only the pixels where a region's looks differ: with it every pixel of every panel counts, and a
region is read only while its squared difference from the nearest look stays under half that look's distance to
the smudged one (``reading.NEAR``). So ink added anywhere (a wrong shape where the answer's belongs, a shape beside
the answer, a given panel redrawn) leaves the region unreadable: the frame is skipped, and a video that ends so
ends unsolved ("the last frame shows no matrix"). Thin ink spread all over a region reads as ``smudged``.
Measured on upstream-like 450x450 pictures: a stray cross or diamond puts the rest of the answer panel at 0.70 to
0.96 of that distance (limit 0.5), and two diamonds drawn where two crosses belong read as neither.

The rules are our raven's (``tasks/raven.py``), with upstream's answer: the given panels never change; the
answer's shapes appear one at a time, in any order, and never vanish or change; the "?" may vanish before or
with the first shape. Anything else drawn in the answer panel is a legal move (only the end judges it wrong,
as in our raven) but may not be erased. The task is solved when the answer panel shows every answer shape and
nothing else: a wrong shape in the answer panel ends unsolved, whether it reads as ``smudged`` or not at all.
A given panel erased reads ``blank``: an illegal move. A change that is undone before the video ends leaves only
skipped frames, as every reader skips what it cannot read.

Limitation: an answer of one shape has no steps to see, so a jump-cut to the final frame cannot be told from
drawing that shape; only answers of two shapes or more catch it. In upstream's generator that is the number
progression and combination rules (two shapes in the answer); its shape progression, rotation and fill rules
answer with one shape. A final frame whose shapes touch (their padded boxes overlap) counts them as one.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from vmevalkit.tasks.loader import FINAL_FRAME, FIRST_FRAME
from vmevalkit.tasks.reading import RegionLooks, RegionReader
from vmevalkit.tasks.render import Box
from vmevalkit.tasks.upstream.picture import Grid, find_grid, load_picture
from vmevalkit.tasks.verifier import State, StateVerifier

ANSWER = (2, 2)  # the bottom-right panel
GIVENS = [(r, c) for r in range(3) for c in range(3) if (r, c) != ANSWER]
# A pixel of the final frame's answer panel is a shape's ink when a channel differs from paper by more than this.
INK_DIFFERENCE = 48
# Fewer ink pixels than this make a speck, not a shape: it stays part of the rest of the panel.
MIN_SHAPE_PIXELS = 12
# Paper kept around a shape's ink in its box: more than a reader's coarse pixel and its filter reach, so that
# the rest of the panel's pixels never see the shape's ink.
SHAPE_PAD = 6
# A region's "smudged" look: its reference darkened by this many levels (of 255) all over.
SMUDGE = 24.0
# A given panel of the final frame may differ from the first frame's by this much (mean absolute, per channel).
SAME_PANEL = 4.0


def is_upstream(metadata: Mapping[str, Any]) -> bool:
    """Whether ``metadata`` is an upstream raven's: a rule's name and seed, no panels."""
    return "panels" not in metadata and "raven_data" in metadata


def _patch(picture: np.ndarray, box: Box) -> np.ndarray:
    x0, y0, x1, y1 = box
    return picture[y0 : y1 + 1, x0 : x1 + 1]


def _components(mask: np.ndarray) -> list[np.ndarray]:
    """The 8-connected components of ``mask``, each as an array of its (y, x) pixels."""
    seen = np.zeros_like(mask)
    height, width = mask.shape
    found = []
    for y, x in zip(*np.nonzero(mask), strict=True):
        if seen[y, x]:
            continue
        seen[y, x] = True
        stack, pixels = [(int(y), int(x))], []
        while stack:
            py, px = stack.pop()
            pixels.append((py, px))
            for ny in range(max(0, py - 1), min(height, py + 2)):
                for nx in range(max(0, px - 1), min(width, px + 2)):
                    if mask[ny, nx] and not seen[ny, nx]:
                        seen[ny, nx] = True
                        stack.append((ny, nx))
        found.append(np.array(pixels))
    return found


def _overlap(a: Box, b: Box) -> bool:
    return a[0] <= b[2] and b[0] <= a[2] and a[1] <= b[3] and b[1] <= a[3]


def shape_boxes(panel: np.ndarray, paper: np.ndarray, offset: tuple[int, int]) -> list[Box]:
    """The padded boxes of the shapes in ``panel`` (a patch whose top-left pixel is ``offset``), reading order.

    Components whose padded boxes overlap are merged into one shape, so that shapes' regions never overlap.
    """
    height, width = panel.shape[:2]
    mask = np.abs(panel.astype(np.int16) - paper.astype(np.int16)).max(axis=-1) > INK_DIFFERENCE
    boxes: list[Box] = []
    for pixels in _components(mask):
        if len(pixels) < MIN_SHAPE_PIXELS:
            continue
        (y0, x0), (y1, x1) = (int(v) for v in pixels.min(axis=0)), (int(v) for v in pixels.max(axis=0))
        pad = SHAPE_PAD
        boxes.append((max(0, x0 - pad), max(0, y0 - pad), min(width - 1, x1 + pad), min(height - 1, y1 + pad)))
    merged = True
    while merged:
        merged = False
        for i in range(len(boxes)):
            for j in range(i + 1, len(boxes)):
                if _overlap(boxes[i], boxes[j]):
                    a, b = boxes[i], boxes.pop(j)
                    boxes[i] = (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))
                    merged = True
                    break
            if merged:
                break
    ox, oy = offset
    return sorted((x0 + ox, y0 + oy, x1 + ox, y1 + oy) for x0, y0, x1, y1 in sorted(boxes, key=lambda b: (b[1], b[0])))


def _smudged(picture: np.ndarray, box: Box) -> np.ndarray:
    """``picture`` with ``box`` darkened evenly by SMUDGE levels (ink already darker stays black)."""
    image: np.ndarray = picture.copy()
    x0, y0, x1, y1 = box
    image[y0 : y1 + 1, x0 : x1 + 1] = np.clip(image[y0 : y1 + 1, x0 : x1 + 1].astype(np.float32) - SMUDGE, 0, 255)
    return image


def _where(panel: tuple[int, int]) -> str:
    return f"the given panel in row {panel[0] + 1}, column {panel[1] + 1}"


class UpstreamRavenVerifier(StateVerifier):
    """An imported upstream Raven matrix: given panels from its first frame, the answer from its final frame."""

    domain: ClassVar[str] = "raven"
    puzzle: ClassVar[str] = "matrix"

    def __init__(self, metadata: dict[str, Any], task_dir: Path | None) -> None:
        if task_dir is None:
            raise ValueError("an upstream raven is read with looks cut from its frames: give the task folder")
        folder = Path(task_dir)
        self.first = load_picture(folder / FIRST_FRAME)
        self.grid = find_grid(self.first, 3, 3, "3x3 Raven matrix")
        if not (folder / FINAL_FRAME).is_file():
            raise ValueError(
                f"the task has no {FINAL_FRAME}: an upstream raven's metadata holds no answer, so the answer is "
                "read from its final frame; re-import the task with its final frame"
            )
        self.final = load_picture(folder / FINAL_FRAME)
        self._check_final()
        self.given_boxes = [self.grid.interior(*panel) for panel in GIVENS]
        self.panel_box = self.grid.interior(*ANSWER)
        interiors = np.concatenate([_patch(self.first, box).reshape(-1, 3) for box in self.given_boxes])
        self.paper = np.median(interiors, axis=0).astype(np.uint8)
        self.shape_boxes = shape_boxes(_patch(self.final, self.panel_box), self.paper, self.panel_box[:2])
        if not self.shape_boxes:
            raise ValueError(
                f"the {FINAL_FRAME}'s bottom-right panel shows no shape: it holds the answer of an upstream raven; "
                "re-import the task with the final frame upstream generated"
            )
        super().__init__(metadata)

    def _check_final(self) -> None:
        """The final frame must be the first frame's matrix, completed: same grid, same given panels."""
        what = f"the {FINAL_FRAME} is not the first frame's matrix completed"
        if self.final.shape != self.first.shape:
            raise ValueError(
                f"{what}: it is {self.final.shape[1]}x{self.final.shape[0]} pixels, the first frame "
                f"{self.first.shape[1]}x{self.first.shape[0]}"
            )
        grid = find_grid(self.final, 3, 3, "3x3 Raven matrix")
        if abs(grid.left - self.grid.left) > 1 or abs(grid.top - self.grid.top) > 1 or not _same_pitch(grid, self.grid):
            raise ValueError(f"{what}: its grid lies elsewhere")
        for panel in GIVENS:
            box = self.grid.interior(*panel)
            change = np.abs(_patch(self.final, box).astype(np.float32) - _patch(self.first, box)).mean()
            if change > SAME_PANEL:
                raise ValueError(f"{what}: {_where(panel)} differs")

    def build_reader(self) -> RegionReader:
        paper = np.broadcast_to(self.paper, self.first.shape).copy()
        # The rest of the answer panel: the final frame's shapes inside their boxes in every look, so that only
        # pixels outside them are compared.
        outside = np.ones(self.first.shape[:2], dtype=bool)
        outside[: self.panel_box[1]] = outside[self.panel_box[3] + 1 :] = False
        outside[:, : self.panel_box[0]] = outside[:, self.panel_box[2] + 1 :] = False
        for x0, y0, x1, y1 in self.shape_boxes:
            outside[y0 : y1 + 1, x0 : x1 + 1] = False
        rest_first = self.final.copy()
        rest_first[outside] = self.first[outside]
        rest_smudged = self.final.copy()
        rest_smudged[outside] = np.clip(self.final[outside].astype(np.float32) - SMUDGE, 0, 255)

        looks: list[tuple[Box, list[tuple[str, np.ndarray]]]] = []
        for box in self.given_boxes:
            looks.append((box, [("given", self.first), ("blank", paper), ("smudged", _smudged(self.first, box))]))
        for box in self.shape_boxes:
            shape_looks = [("blank", self.first), ("blank", paper), ("drawn", self.final)]
            looks.append((box, [*shape_looks, ("smudged", _smudged(paper, box))]))
        looks.append((self.panel_box, [("clean", self.final), ("clean", rest_first), ("smudged", rest_smudged)]))
        return _LookReader(self.first, looks)

    def solution_keyframes(self) -> list[np.ndarray]:
        """The first frame, then the answer's shapes drawn one at a time in reading order (for the oracle).

        Each shape's pixels are the final frame's, in its padded box; a shape not drawn yet is plain paper, and
        the rest of the answer panel is the final frame's from the first shape on, so the "?" goes with it. The
        last keyframe is the first frame's matrix with the final frame's answer panel: the solved state.
        """
        x0, y0, x1, y1 = self.panel_box
        image = self.first.copy()
        image[y0 : y1 + 1, x0 : x1 + 1] = self.final[y0 : y1 + 1, x0 : x1 + 1]
        for bx0, by0, bx1, by1 in self.shape_boxes:
            image[by0 : by1 + 1, bx0 : bx1 + 1] = self.paper
        frames = [self.first]
        for bx0, by0, bx1, by1 in self.shape_boxes:
            image[by0 : by1 + 1, bx0 : bx1 + 1] = self.final[by0 : by1 + 1, bx0 : bx1 + 1]
            frames.append(image.copy())
        return frames

    def initial_state(self) -> State:
        return ("given",) * len(GIVENS) + ("blank",) * len(self.shape_boxes) + ("clean",)

    def solved_state(self) -> State:
        return ("given",) * len(GIVENS) + ("drawn",) * len(self.shape_boxes) + ("clean",)

    def state(self, labels: Sequence[Hashable | None]) -> State | None:
        return tuple(labels)

    def _name(self, index: int) -> str:
        """What region ``index`` of the answer panel (0 = its first shape) is, in words."""
        if index == len(self.shape_boxes):
            return "the answer panel outside the answer's shapes"
        x0, y0, x1, y1 = self.shape_boxes[index]
        return f"the answer's shape {index + 1} of {len(self.shape_boxes)} (pixels {x0}..{x1} x {y0}..{y1})"

    def move_error(self, before: State, after: State) -> str | None:
        changed = [i for i, (a, b) in enumerate(zip(before, after, strict=True)) if a != b]
        for i in changed:
            if i < len(GIVENS):
                change = {"blank": "erased", "smudged": "drawn over"}.get(str(after[i]), f"turned {after[i]}")
                return f"{_where(GIVENS[i])} is {change}; the given panels must stay as they are"
        answer = [i - len(GIVENS) for i in changed]
        if len(answer) > 1:
            return f"{len(answer)} parts of the answer panel change at once; draw one shape per step"
        (i,) = answer
        was, now = before[len(GIVENS) + i], after[len(GIVENS) + i]
        if was == "drawn":
            return f"{self._name(i)} {'vanishes' if now == 'blank' else 'is drawn over'} after it was drawn"
        if was == "smudged":
            change = "is erased" if now in ("blank", "clean") else "turns into the answer's shape"
            return f"the ink drawn in {self._name(i)} {change}; what is drawn stays"
        return None

    def end_error(self, state: State) -> str:
        givens = [panel for panel, label in zip(GIVENS, state, strict=False) if label != "given"]
        if givens:
            return f"{_where(givens[0])} ends changed"
        answer = state[len(GIVENS) :]
        shapes = answer[:-1]
        problems = []
        if "smudged" in answer:
            problems.append("ink that is not the answer's shapes")
        missing = sum(label == "blank" for label in shapes)
        if missing:
            problems.append(f"{missing} of its {len(shapes)} shapes not drawn")
        return "the answer panel ends with " + " and ".join(problems) + " (the answer is the task's final frame)"


def _same_pitch(a: Grid, b: Grid) -> bool:
    return abs(a.pitch_x - b.pitch_x) <= 1 and abs(a.pitch_y - b.pitch_y) <= 1


class _LookReader(RegionReader):
    """A reader built from each region's own looks (whole pictures, each cut to the region's box).

    Our regions overlap (the rest of the answer panel contains the shapes' boxes), so each region's looks are
    given apart from the others' rather than as renders of the whole frame: the rest's looks share the shapes'
    pixels, and so never compare them.
    """

    def __init__(self, picture: np.ndarray, looks: Sequence[tuple[Box, Sequence[tuple[str, np.ndarray]]]]) -> None:
        super().__init__([], [(picture, [])])
        shrunk: dict[int, np.ndarray] = {}
        for box, images in looks:
            x0, y0, x1, y1 = self.coarse_box(box)
            patches: dict[tuple[str, bytes], np.ndarray] = {}
            for label, image in images:
                if id(image) not in shrunk:  # the same picture serves several regions: shrink it once
                    shrunk[id(image)] = self.shrink(image)
                small = shrunk[id(image)]
                patch = small[y0 : y1 + 1, x0 : x1 + 1]
                patches.setdefault((label, patch.tobytes()), patch)
            self.regions.append(RegionLooks((x0, y0, x1, y1), [(label, p) for (label, _), p in patches.items()]))

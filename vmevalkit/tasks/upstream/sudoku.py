"""Upstream VMEvalKit's 3x3 sudoku: every cell's digit read from every frame, with looks cut from the task's frames.

Upstream (hokindeng/VMEvalKit ``vmevalkit/tasks/sudoku_task/sudoku_reasoning.py``, ``Simple3x3SudokuGenerator``)
picks one of the twelve 3x3 Latin squares (each row and column holds 1, 2 and 3 once; there are no boxes) and
blanks cells (one, at every difficulty). ``create_board_image`` draws it with matplotlib: black lines
(``linewidth=2``), every digit bold and blue (``fontsize=24``), a blank cell filled light grey (``alpha=0.3``),
saved at 150 dpi (about 885x885 pixels). The final frame is the solution, every cell a blue digit on white.
The metadata keeps the grid flat, row-major: ``puzzle_array`` (``null`` for a blank) and ``solution_array``.

The grid is found from its ink (``picture.find_grid``). Each digit's look is cut from a cell of the first frame
that shows it as a given, or else of the final frame, where ``solution_array`` says which digit a cell shows;
a blank's look is the first frame's grey cell, or plain paper. A digit may also be written over the grey, so
that look is made too (the digit's ink recovered from its coverage over white, laid on the grey). Ink colour
is not judged. The rules are our sudoku's (``tasks/sudoku.py``): givens never change, digits are filled one
cell at a time and never changed, and the grid must end equal to ``solution_array``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from vmevalkit.tasks.loader import FINAL_FRAME, FIRST_FRAME
from vmevalkit.tasks.reading import RegionReader
from vmevalkit.tasks.render import Box
from vmevalkit.tasks.sudoku_rules import SudokuRules
from vmevalkit.tasks.upstream.picture import Grid, find_grid, load_picture
from vmevalkit.tasks.verifier import State


def is_upstream(metadata: Mapping[str, Any]) -> bool:
    """Whether ``metadata`` is an upstream sudoku's: flat arrays, no grid of givens."""
    return "givens" not in metadata and "puzzle_array" in metadata


def _digits(values: Any, size: int, key: str, blanks: bool) -> tuple[int, ...]:
    digits = []
    for value in values:
        if value is None and blanks:
            digits.append(0)
        elif isinstance(value, int) and 1 <= value <= size:
            digits.append(value)
        else:
            raise ValueError(f"{key} holds {value!r}: a {size}x{size} sudoku's cells hold 1..{size}")
    return tuple(digits)


class UpstreamSudokuVerifier(SudokuRules):
    """An imported upstream sudoku: its looks from its frames, our sudoku's rules."""

    domain: ClassVar[str] = "sudoku"
    puzzle: ClassVar[str] = "grid"

    def __init__(self, metadata: dict[str, Any], task_dir: Path | None) -> None:
        if task_dir is None:
            raise ValueError("an upstream sudoku is read with looks cut from its frames: give the task folder")
        puzzle, solution = list(metadata["puzzle_array"]), list(metadata["solution_array"])
        self.size = math.isqrt(len(puzzle))
        if self.size < 2 or self.size**2 != len(puzzle) or len(solution) != len(puzzle):
            raise ValueError(
                f"puzzle_array ({len(puzzle)} cells) and solution_array ({len(solution)}) are not one square grid"
            )
        self.givens = _digits(puzzle, self.size, "puzzle_array", blanks=True)
        self.answer = _digits(solution, self.size, "solution_array", blanks=False)
        wrong = [i for i, (g, a) in enumerate(zip(self.givens, self.answer, strict=True)) if g and g != a]
        if wrong:
            raise ValueError(f"puzzle_array and solution_array disagree at {self._where(wrong[0])}")
        self.task_dir = Path(task_dir)
        super().__init__(metadata)

    @property
    def grid_size(self) -> int:
        return self.size

    def _frame(self, name: str) -> tuple[np.ndarray, Grid] | None:
        path = self.task_dir / name
        if not path.is_file():
            return None
        picture = load_picture(path)
        return picture, find_grid(picture, self.size, self.size, "sudoku grid")

    def build_reader(self) -> RegionReader:
        first = self._frame(FIRST_FRAME)
        if first is None:
            raise ValueError(f"the task has no {FIRST_FRAME}: an upstream sudoku is read with looks cut from it")
        picture, grid = first
        cells = [(r, c) for r in range(self.size) for c in range(self.size)]
        interiors = [grid.interior(r, c) for r, c in cells]
        # One patch size for every cell (interiors differ by a pixel), centred in the cell's interior.
        height = min(y1 - y0 for _, y0, _, y1 in interiors) + 1
        width = min(x1 - x0 for x0, _, x1, _ in interiors) + 1
        boxes: list[Box] = []
        for x0, y0, x1, y1 in interiors:
            left, top = x0 + (x1 - x0 + 1 - width) // 2, y0 + (y1 - y0 + 1 - height) // 2
            boxes.append((left, top, left + width - 1, top + height - 1))

        digits = self._digit_looks(picture, grid, boxes)
        blank = [i for i, digit in enumerate(self.givens) if digit == 0]
        paper = np.median(digits[1].reshape(-1, 3), axis=0)  # a digit's cell is mostly paper
        grey = _cut(picture, boxes[blank[0]]).astype(np.float32) if blank else None

        looks: list[dict[int, np.ndarray]] = [{0: np.broadcast_to(paper, (height, width, 3)), **digits}]
        if grey is not None:
            looks.append({0: grey, **{d: _over(patch, paper, grey) for d, patch in digits.items()}})
        self.first, self.boxes, self.blank_looks = picture, boxes, looks[-1]
        renders = []
        for ground in looks:
            grids = [[0] * len(cells)] + [[(r + c + k) % self.size + 1 for r, c in cells] for k in range(self.size)]
            for labels in grids:
                image = picture.copy()
                for box, label in zip(boxes, labels, strict=True):
                    x0, y0, x1, y1 = box
                    image[y0 : y1 + 1, x0 : x1 + 1] = np.clip(np.rint(ground[label]), 0, 255).astype(np.uint8)
                renders.append((image, labels))
        return RegionReader(boxes, renders)

    def _digit_looks(self, picture: np.ndarray, grid: Grid, boxes: Sequence[Box]) -> dict[int, np.ndarray]:
        """Each digit's cell as a frame shows it: from a given in the first frame, else from the final frame."""
        looks = {d: _cut(picture, boxes[self.givens.index(d)]) for d in set(self.givens) - {0}}
        missing = set(range(1, self.size + 1)) - set(looks)
        final = self._frame(FINAL_FRAME) if missing else None
        for digit in sorted(missing):
            if final is None:
                raise ValueError(
                    f"the digit {digit} is not among the first frame's givens and the task has no {FINAL_FRAME} "
                    "to cut it from: re-import the task with its final frame"
                )
            frame, final_grid = final
            index = self.answer.index(digit)
            cell = divmod(index, self.size)
            # The same patch, placed by the final frame's own grid (the two pictures may differ in size).
            (fx, fy), (ix, iy) = final_grid.interior(*cell)[:2], grid.interior(*cell)[:2]
            x0, y0, x1, y1 = boxes[index]
            dx, dy = fx - ix, fy - iy
            looks[digit] = _cut(frame, (x0 + dx, y0 + dy, x1 + dx, y1 + dy))
        return {digit: patch.astype(np.float32) for digit, patch in looks.items()}

    def solution_keyframes(self) -> list[np.ndarray]:
        """The first frame, then each blank filled with its answer digit, in reading order (for the oracle)."""
        image, frames = self.first.copy(), [self.first]
        for index, (given, digit) in enumerate(zip(self.givens, self.answer, strict=True)):
            if given == 0:
                x0, y0, x1, y1 = self.boxes[index]
                image[y0 : y1 + 1, x0 : x1 + 1] = np.clip(np.rint(self.blank_looks[digit]), 0, 255).astype(np.uint8)
                frames.append(image.copy())
        return frames

    def initial_state(self) -> State:
        return self.givens

    def solved_state(self) -> State:
        return self.answer


def _cut(picture: np.ndarray, box: Box) -> np.ndarray:
    x0, y0, x1, y1 = box
    if x0 < 0 or y0 < 0 or y1 >= picture.shape[0] or x1 >= picture.shape[1]:
        raise ValueError("the sudoku's cells lie partly outside the final frame: it is not the first frame's grid")
    return picture[y0 : y1 + 1, x0 : x1 + 1]


def _over(patch: np.ndarray, paper: np.ndarray, ground: np.ndarray) -> np.ndarray:
    """A digit drawn on ``paper`` redrawn on ``ground``: each pixel's ink coverage kept, the paper swapped."""
    depth = (paper - patch).max(axis=-1)  # how far each pixel is from paper, towards the ink
    coverage = np.clip(depth / max(float(depth.max()), 1.0), 0.0, 1.0)[..., None]
    redrawn: np.ndarray = patch + (1.0 - coverage) * (ground - paper)
    return redrawn

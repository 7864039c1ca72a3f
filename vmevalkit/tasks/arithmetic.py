"""Arithmetic: finish a written column addition, one digit of the sum per step, from right to left.

The frame shows the addends right-aligned in fixed digit columns, a plus sign, a thick rule under them and a row
of empty answer boxes, one per digit of the sum. The task is to write the sum's digits into the boxes the way
column addition is done: the ones first, then the tens, and so on leftwards, one digit per step.

Generation: the addends are drawn uniformly from the level's digit range until the addition has the level's
minimum number of carries (counted column by column). Easy adds two 2-digit numbers, medium two 3-digit numbers
(at least one carry), hard either three 3-digit numbers or two 4-digit numbers (at least two carries). The sum
always has at least two digits. Digits are large (>= 48 px at 512) and drawn bold (the 1-bit glyph stamped at
every offset of a small disc) so that 1 and 7, 3 and 8, or 6, 8 and 9 stay apart after compression.

Metadata (besides the common keys):
    addends      the numbers added, top to bottom
    total        their sum; the answer row has ``len(str(total))`` boxes
    width        digit columns (``len(str(total))``); column 0 of the layout holds the plus sign
    solution     the digits in the order they are written, each ``[box, digit]``, box 0 the leftmost answer box
    num_steps    ``len(solution)``, the digits of the sum
    render       grid_origin, cell_size (of the layout's rows: addends then the answer; columns: sign then
                 digits), font_size, bold, box_inset, box_line, rule_thickness, colors
"""

from __future__ import annotations

import random
from collections.abc import Hashable, Sequence
from functools import lru_cache
from typing import Any, ClassVar

import numpy as np
from PIL import Image, ImageDraw

from vmevalkit.tasks.base import FRAME_SIZE, GeneratedTask, TaskDomain
from vmevalkit.tasks.reading import RegionReader
from vmevalkit.tasks.render import (
    GRID_MARGIN,
    Box,
    Color,
    cell_box,
    cell_center,
    color,
    font,
    line_span,
    new_frame,
    to_array,
)
from vmevalkit.tasks.verifier import State, StateVerifier

BLANK = "blank"
MAX_CELL = 112  # easy layouts would otherwise get 150 px digits; this keeps the three levels alike in look
COLORS = {
    "background": [255, 255, 255],
    "given": [0, 0, 0],
    "answer": [30, 90, 220],
    "box": [140, 140, 140],
    "rule": [0, 0, 0],
}
# Per difficulty: the addend forms ((count, digits) choices) and the fewest carries the addition must have.
LEVELS: dict[str, dict[str, Any]] = {
    "easy": {"forms": [(2, 2)], "carries": 0},
    "medium": {"forms": [(2, 3)], "carries": 1},
    "hard": {"forms": [(3, 3), (2, 4)], "carries": 2},
}
MAX_DRAWS = 1000  # additions drawn before giving up on the carry count (never reached in practice)
PLACES = ("ones", "tens", "hundreds", "thousands", "ten-thousands")
ORDINALS = ("first", "second", "third")
Answer = tuple[Hashable, ...]  # per answer box, left to right: a digit or BLANK


def carries(addends: Sequence[int]) -> int:
    """Columns whose sum carries into the next column."""
    count, carry, rest = 0, 0, list(addends)
    while any(rest) or carry:
        column = sum(n % 10 for n in rest) + carry
        carry = column // 10
        count += carry > 0
        rest = [n // 10 for n in rest]
    return count


def _layout(rows: int, cols: int) -> tuple[list[int], int]:
    cell = min(MAX_CELL, (FRAME_SIZE - 2 * GRID_MARGIN) // max(rows, cols))
    return [(FRAME_SIZE - cols * cell) // 2, (FRAME_SIZE - rows * cell) // 2], cell


@lru_cache(maxsize=64)
def _bold_glyph(text: str, size: int, radius: int) -> Image.Image:
    """A 1-bit mask of ``text`` centred in a ``2 size`` square, stamped at every offset within a disc of
    ``radius``: a bold glyph with no antialiased (grey) edge. Cached: stamping costs ~30 glyph draws."""
    mask = Image.new("1", (2 * size, 2 * size), 0)
    draw = ImageDraw.Draw(mask)
    draw.fontmode = "1"
    for dx in range(-radius, radius + 1):
        for dy in range(-radius, radius + 1):
            if dx * dx + dy * dy <= radius * radius:
                draw.text((size + dx, size + dy), text, fill=1, font=font(size), anchor="mm")
    return mask


def _bold_text(image: Image.Image, center: tuple[int, int], text: str, spec: dict[str, Any], fill: Color) -> None:
    size = spec["font_size"]
    mask = _bold_glyph(text, size, spec["bold"])
    x0, y0 = center[0] - size, center[1] - size
    image.paste(fill, (x0, y0, x0 + 2 * size, y0 + 2 * size), mask)


def addend_cells(metadata: dict[str, Any]) -> list[tuple[int, int, int]]:
    """``(row, col, digit)`` of every addend digit, row by row, left to right (col 0 is the sign column)."""
    width = metadata["width"]
    cells = []
    for row, number in enumerate(metadata["addends"]):
        digits = str(number)
        cells += [(row, width - len(digits) + 1 + i, int(d)) for i, d in enumerate(digits)]
    return cells


def draw_addition(metadata: dict[str, Any], answer: Answer, givens: Sequence[Hashable] | None = None) -> Image.Image:
    """The addition with ``answer`` in its boxes; ``givens`` (per addend cell: digit or BLANK) defaults to the
    addends themselves (the verifier also draws them blank, so a given that disappears is seen)."""
    spec = metadata["render"]
    origin, cs = spec["grid_origin"], spec["cell_size"]
    colors = {k: color(v) for k, v in spec["colors"].items()}
    rows, width = len(metadata["addends"]), metadata["width"]
    image, draw = new_frame(colors["background"])

    cells = addend_cells(metadata)
    shown = [digit for _, _, digit in cells] if givens is None else list(givens)
    for (row, col, _), label in zip(cells, shown, strict=True):
        if label != BLANK:
            _bold_text(image, cell_center(origin, cs, row, col), str(label), spec, colors["given"])
    _bold_text(image, cell_center(origin, cs, rows - 1, 0), "+", spec, colors["given"])
    y0, y1 = line_span(origin[1] + rows * cs, spec["rule_thickness"])
    draw.rectangle((origin[0], y0, origin[0] + (width + 1) * cs - 1, y1), fill=colors["rule"])
    for box, label in enumerate(answer):
        draw.rectangle(
            cell_box(origin, cs, rows, box + 1, spec["box_inset"]), outline=colors["box"], width=spec["box_line"]
        )
        if label != BLANK:
            _bold_text(image, cell_center(origin, cs, rows, box + 1), str(label), spec, colors["answer"])
    return image


def _answer_steps(metadata: dict[str, Any]) -> list[Answer]:
    answer: list[Hashable] = [BLANK] * metadata["width"]
    steps = [tuple(answer)]
    for box, digit in metadata["solution"]:
        answer[box] = digit
        steps.append(tuple(answer))
    return steps


class ArithmeticVerifier(StateVerifier):
    """The answer row must end equal to the sum; its digits are written one per step, each into the rightmost
    blank box, and never changed; the addends never change. A wrong digit is a legal move (the end state fails)."""

    domain: ClassVar[str] = "arithmetic"
    puzzle: ClassVar[str] = "addition"

    def build_reader(self) -> RegionReader:
        md = self.metadata
        spec, rows, width = md["render"], len(md["addends"]), md["width"]
        cells = addend_cells(md)
        boxes: list[Box] = [cell_box(spec["grid_origin"], spec["cell_size"], rows, b + 1) for b in range(width)]
        boxes += [cell_box(spec["grid_origin"], spec["cell_size"], r, c) for r, c, _ in cells]
        givens: list[Hashable] = [digit for _, _, digit in cells]
        # Every answer box shows every digit (the addends in place), and once everything is blank.
        renders: list[tuple[np.ndarray, list[Hashable]]] = []
        for d in range(10):
            renders.append((to_array(draw_addition(md, (d,) * width)), [d] * width + givens))
        blank: list[Hashable] = [BLANK] * len(cells)
        renders.append((to_array(draw_addition(md, (BLANK,) * width, blank)), [BLANK] * width + blank))
        return RegionReader(boxes, renders)

    def initial_state(self) -> State:
        return (BLANK,) * self.metadata["width"], tuple(digit for _, _, digit in addend_cells(self.metadata))

    def solved_state(self) -> State:
        givens = tuple(digit for _, _, digit in addend_cells(self.metadata))
        return tuple(int(d) for d in str(self.metadata["total"])), givens

    def state(self, labels: Sequence[Hashable | None]) -> State | None:
        width = self.metadata["width"]
        return tuple(labels[:width]), tuple(labels[width:])

    def _place(self, box: int) -> str:
        return PLACES[self.metadata["width"] - 1 - box]

    def move_error(self, before: State, after: State) -> str | None:
        (answer_before, givens_before), (answer_after, givens_after) = before, after
        cells = addend_cells(self.metadata)
        for (row, col, _), was, now in zip(cells, givens_before, givens_after, strict=True):
            if was != now:
                number = self.metadata["addends"][row]
                place = PLACES[self.metadata["width"] - col]
                change = "erased" if now == BLANK else f"changed to {now}"
                return f"the {place} digit {was} of the {ORDINALS[row]} number {number} is {change}"
        changed = [b for b, (was, now) in enumerate(zip(answer_before, answer_after, strict=True)) if was != now]
        for b in changed:
            if answer_before[b] != BLANK:
                change = "erased" if answer_after[b] == BLANK else f"changed to {answer_after[b]}"
                return f"the answer's {self._place(b)} digit {answer_before[b]} is {change}"
        if len(changed) > 1:
            return f"{len(changed)} answer digits appear at once; the sum is written one digit per step"
        rightmost = max(b for b, label in enumerate(answer_before) if label == BLANK)
        if changed[0] != rightmost:
            return (
                f"the {self._place(changed[0])} digit is written while the {self._place(rightmost)} digit is still "
                "blank; column addition goes from right to left"
            )
        return None

    def end_error(self, state: State) -> str:
        answer, givens = state
        if givens != self.initial[1]:
            return "the addends no longer show the task's numbers"
        written = "".join("_" if label == BLANK else str(label) for label in answer)
        return f"the answer reads {written}, not {self.metadata['total']}"


class ArithmeticDomain(TaskDomain):
    name: ClassVar[str] = "arithmetic"
    description: ClassVar[str] = (
        "Finish a written column addition: write the sum's digits one per step, from right to left."
    )
    category: ClassVar[str] = "counting_arithmetic"
    rubric: ClassVar[str] = (
        "The puzzle: a written column addition; two or three numbers in black digits, right-aligned, a plus "
        "sign, a thick line under them and a row of empty boxes for the answer. A correct solution: the digits "
        "of the sum appear in blue in the boxes one at a time, starting with the rightmost box (the ones) and "
        "moving left, until the row reads the correct sum. Illegal: a black digit changes or disappears; a written "
        "digit changes or is erased; several digits appear at once; a box is filled while a box to its right is "
        "still empty."
    )
    verifier_class: ClassVar[type[StateVerifier]] = ArithmeticVerifier

    def generate_one(self, rng: random.Random, task_id: str, seed: int, difficulty: str) -> GeneratedTask:
        level = LEVELS[difficulty]
        count, digits = rng.choice(level["forms"])
        for _ in range(MAX_DRAWS):  # a few draws at most: most additions of these sizes carry often enough
            addends = [rng.randint(10 ** (digits - 1), 10**digits - 1) for _ in range(count)]
            if carries(addends) >= level["carries"]:
                break
        else:
            raise RuntimeError(f"no {difficulty} addition with {level['carries']} carries in {MAX_DRAWS} draws")
        total = sum(addends)
        width = len(str(total))
        solution = [[box, int(str(total)[box])] for box in reversed(range(width))]

        origin, cell_size = _layout(count + 1, width + 1)
        font_size = cell_size * 3 // 4
        metadata: dict[str, Any] = {
            "domain": self.name,
            "category": self.category,
            "task_id": task_id,
            "seed": seed,
            "difficulty": difficulty,
            "addends": addends,
            "total": total,
            "width": width,
            "solution": solution,
            "num_steps": len(solution),
            "render": {
                "grid_origin": origin,
                "cell_size": cell_size,
                "font_size": font_size,
                "bold": max(2, font_size // 24),
                "box_inset": max(3, cell_size // 14),
                "box_line": 3,
                "rule_thickness": max(6, cell_size // 12),
                "colors": {k: list(v) for k, v in COLORS.items()},
            },
        }
        prompt = (
            "Solve this written addition. Write the digits of the sum in blue into the empty boxes under the line, "
            "one digit at a time, starting with the rightmost box and moving left, as in column addition. "
            "Do not change the numbers above the line."
        )
        steps = _answer_steps(metadata)
        return GeneratedTask(
            task_id=task_id,
            domain=self.name,
            prompt=prompt,
            first_frame=draw_addition(metadata, steps[0]),
            final_frame=draw_addition(metadata, steps[-1]),
            metadata=metadata,
        )

    def render_solution(self, metadata: dict[str, Any]) -> list[np.ndarray]:
        return [to_array(draw_addition(metadata, answer)) for answer in _answer_steps(metadata)]

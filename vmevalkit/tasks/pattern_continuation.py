"""Pattern continuation: fill the empty slots at the end of a repeating sequence of coloured shapes.

Rows of slots (2 rows of 4, 3 of 4, 3 of 5), read left to right, top row first, show a sequence that repeats
a cycle of ``period`` symbols (a symbol is a shape in a colour, "red circle"); the last ``blanks`` slots are
empty. The cycle is drawn from the rng with exactly that minimal period, and at least two full cycles are shown:

- easy:   period 2, 2 blanks, 8 slots; one attribute varies (the shape, the colour, or both in lockstep);
- medium: period 3, 3 blanks, 12 slots; as easy, and a cycle may repeat a value (circle, circle, square);
- hard:   period 4, 4 blanks, 15 slots; shape and colour vary independently with cycles of 2 or 4, at least
  one of them 4 long (red circle, blue circle, red square, blue triangle).

The solution writes one symbol per step into the leftmost empty slot. A wrong symbol is a legal move (only the
end state is judged); changing a given slot, filling two slots at once, filling a slot while one before it is
still empty, or erasing or changing a filled slot is not.

Metadata (besides the common keys):
    period, blanks   the cycle's length and the number of empty slots
    rows, cols       slot layout; slot ``i`` is at row ``i // cols``, column ``i % cols``
    varying          "shape", "colour", "both" (in lockstep) or "independent" (hard)
    cycle            the ``period`` symbols that repeat
    sequence         every slot's symbol in the answer
    givens           the first ``len(sequence) - blanks`` symbols, shown in the first frame
    solution         the fills, each ``[slot, symbol]``, left to right
    num_steps        ``blanks``
    render           grid_origin, cell_size, slot_line, shape_inset, shapes, palette, colors
"""

from __future__ import annotations

import random
from collections.abc import Hashable, Sequence
from typing import Any, ClassVar

import numpy as np
from PIL import Image

from vmevalkit.tasks.base import GeneratedTask, TaskDomain
from vmevalkit.tasks.reading import RegionReader
from vmevalkit.tasks.render import Box, cell_box, color, grid_layout, new_frame, to_array
from vmevalkit.tasks.shapes import EMPTY, PALETTE, SHAPES, all_symbols, draw_symbol, symbol
from vmevalkit.tasks.verifier import State, StateVerifier

# period, blanks, slots, slots per row. Hard rows are 5 long so that a cycle of 4 does not line up with the
# columns (the answer is not just the symbol above it).
LEVELS = {"easy": (2, 2, 8, 4), "medium": (3, 3, 12, 4), "hard": (4, 4, 15, 5)}
MARGIN = 16
COLORS = {"background": [255, 255, 255], "slot": [150, 150, 150]}
PROMPT = (
    "The slots, read left to right along each row from the top row down, show a repeating sequence of "
    "coloured shapes, and the last slots are empty. Continue the sequence: fill the empty slots one at a time, "
    "always the leftmost empty slot next, with the shape and colour that keep the pattern going. Leave the "
    "filled slots unchanged."
)


def minimal_period(values: Sequence[str]) -> int:
    """The shortest p such that ``values`` is a cycle of its first p values repeated."""
    n = len(values)
    return next(p for p in range(1, n + 1) if n % p == 0 and list(values) == list(values[:p]) * (n // p))


def draw_cycle(rng: random.Random, options: Sequence[str], period: int) -> list[str]:
    """``period`` values drawn from ``options`` whose minimal period is exactly ``period`` (repeats allowed)."""
    while True:
        cycle = [rng.choice(options) for _ in range(period)]
        if minimal_period(cycle) == period:
            return cycle


def make_cycle(rng: random.Random, difficulty: str) -> tuple[str, list[str]]:
    """``(varying, cycle)``: which attributes vary and the cycle of symbols, with minimal period as the level's."""
    period = LEVELS[difficulty][0]
    shapes, colours = list(SHAPES), sorted(PALETTE)
    if difficulty == "hard":
        shape_period, colour_period = rng.choice(((4, 2), (2, 4), (4, 4)))
        shape_cycle = draw_cycle(rng, shapes, shape_period)
        colour_cycle = draw_cycle(rng, colours, colour_period)
        return "independent", [symbol(colour_cycle[i % colour_period], shape_cycle[i % shape_period]) for i in range(4)]
    varying = rng.choice(("shape", "colour", "both"))
    if varying == "shape":
        colour = rng.choice(colours)
        return varying, [symbol(colour, shape) for shape in draw_cycle(rng, shapes, period)]
    if varying == "colour":
        shape = rng.choice(shapes)
        return varying, [symbol(colour, shape) for colour in draw_cycle(rng, colours, period)]
    # Both change together: distinct shapes paired with distinct colours.
    return varying, [symbol(c, s) for c, s in zip(rng.sample(colours, period), rng.sample(shapes, period), strict=True)]


def slot_box(spec: dict[str, Any], cols: int, index: int) -> Box:
    return cell_box(spec["grid_origin"], spec["cell_size"], *divmod(index, cols))


def draw_slots(metadata: dict[str, Any], slots: Sequence[str]) -> Image.Image:
    """Every slot's outline and the symbols ``slots`` (one label per slot, ``EMPTY`` for none)."""
    spec = metadata["render"]
    colors = {k: color(v) for k, v in spec["colors"].items()}
    image, draw = new_frame(colors["background"])
    line, inset = spec["slot_line"], spec["shape_inset"]
    for index, label in enumerate(slots):
        x0, y0, x1, y1 = slot_box(spec, metadata["cols"], index)
        # The outline lies outside the symbol's box and never changes: it shows where the empty slots are.
        draw.rectangle((x0 + 2, y0 + 2, x1 - 2, y1 - 2), outline=colors["slot"], width=line)
        draw_symbol(draw, (x0 + inset, y0 + inset, x1 - inset, y1 - inset), label, spec["palette"])
    return image


class PatternContinuationVerifier(StateVerifier):
    """Every slot must end holding the sequence's symbol; given slots never change; the empty slots are filled
    one per step, leftmost first, and never erased or changed. A wrong symbol is a legal move: only the end
    state says it was wrong."""

    domain: ClassVar[str] = "pattern_continuation"
    puzzle: ClassVar[str] = "sequence"

    def build_reader(self) -> RegionReader:
        spec, cols = self.metadata["render"], self.metadata["cols"]
        count = len(self.metadata["sequence"])
        boxes = [slot_box(spec, cols, i) for i in range(count)]
        # Every slot, given or empty, is read as any symbol or empty: a given that changes is named as such.
        looks = [EMPTY, *all_symbols(spec["palette"], spec["shapes"])]
        renders = [(to_array(draw_slots(self.metadata, [label] * count)), [label] * count) for label in looks]
        return RegionReader(boxes, renders)

    def initial_state(self) -> State:
        return (*self.metadata["givens"], *[EMPTY] * self.metadata["blanks"])

    def solved_state(self) -> State:
        return tuple(self.metadata["sequence"])

    def state(self, labels: Sequence[Hashable | None]) -> State | None:
        return tuple(labels)

    def move_error(self, before: State, after: State) -> str | None:
        changed = [i for i, (a, b) in enumerate(zip(before, after, strict=True)) if a != b]
        given = len(self.metadata["givens"])
        for i in changed:
            if i < given:
                return f"the given {before[i]} in slot {i + 1} changes to {after[i]}; the shown sequence must stay"
        if len(changed) > 1:
            return f"{len(changed)} slots change at once; fill one slot per step"
        (i,) = changed
        if before[i] != EMPTY:
            change = "erased" if after[i] == EMPTY else f"changed to a {after[i]}"
            return f"the {before[i]} in slot {i + 1} is {change}"
        first_empty = next(j for j in range(given, len(before)) if before[j] == EMPTY)
        if i != first_empty:
            return f"slot {i + 1} is filled while slot {first_empty + 1} is still empty; fill the leftmost empty slot"
        return None

    def end_error(self, state: State) -> str:
        empty = sum(1 for label in state if label == EMPTY)
        wrong = [
            f"slot {i + 1} holds a {label} where the pattern gives a {right}"
            for i, (label, right) in enumerate(zip(state, self.solved, strict=True))
            if label not in (EMPTY, right)
        ]
        return "; ".join([f"{empty} slot(s) end empty"] * bool(empty) + wrong[:1]) or "the sequence ends wrong"


class PatternContinuationDomain(TaskDomain):
    name: ClassVar[str] = "pattern_continuation"
    description: ClassVar[str] = (
        "Continue a repeating sequence of coloured shapes (period 2 to 4) into its empty slots, one slot at a time."
    )
    category: ClassVar[str] = "abstraction"
    rubric: ClassVar[str] = (
        "The puzzle: rows of slots, read left to right along each row from the top row down, showing a "
        "sequence of coloured shapes that repeats a short cycle; the last slots are empty. A correct solution: "
        "every empty slot ends holding the shape in the colour that continues the cycle, filled one slot at a "
        "time, leftmost empty slot first. Illegal: a shown shape changes, moves or disappears; several slots "
        "fill at once; a slot is filled while one before it is still empty; a filled shape is erased or changed."
    )
    verifier_class: ClassVar[type[StateVerifier]] = PatternContinuationVerifier

    def generate_one(self, rng: random.Random, task_id: str, seed: int, difficulty: str) -> GeneratedTask:
        period, blanks, count, cols = LEVELS[difficulty]
        varying, cycle = make_cycle(rng, difficulty)
        sequence = [cycle[i % period] for i in range(count)]
        rows = count // cols
        origin, cell_size = grid_layout(rows, cols, margin=MARGIN)
        given = count - blanks
        metadata: dict[str, Any] = {
            "domain": self.name,
            "category": self.category,
            "task_id": task_id,
            "seed": seed,
            "difficulty": difficulty,
            "period": period,
            "blanks": blanks,
            "rows": rows,
            "cols": cols,
            "varying": varying,
            "cycle": cycle,
            "sequence": sequence,
            "givens": sequence[:given],
            "solution": [[i, sequence[i]] for i in range(given, count)],
            "num_steps": blanks,
            "render": {
                "grid_origin": origin,
                "cell_size": cell_size,
                "slot_line": 3,
                "shape_inset": cell_size // 7,
                "shapes": list(SHAPES),
                "palette": {k: list(v) for k, v in PALETTE.items()},
                "colors": {k: list(v) for k, v in COLORS.items()},
            },
        }
        return GeneratedTask(
            task_id=task_id,
            domain=self.name,
            prompt=PROMPT,
            first_frame=draw_slots(metadata, sequence[:given] + [EMPTY] * blanks),
            final_frame=draw_slots(metadata, sequence),
            metadata=metadata,
        )

    def render_solution(self, metadata: dict[str, Any]) -> list[np.ndarray]:
        slots = [*metadata["givens"], *[EMPTY] * metadata["blanks"]]
        frames = [to_array(draw_slots(metadata, slots))]
        for index, name in metadata["solution"]:
            slots[index] = name
            frames.append(to_array(draw_slots(metadata, slots)))
        return frames

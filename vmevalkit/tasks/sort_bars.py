"""Sort bars: order a row of bars from shortest to tallest by swapping two neighbouring bars at a time.

N vertical bars of distinct heights stand in N slots on a baseline; each bar has its own colour (the colours
are dealt to the bars at random per task, so colour says nothing about order). A task starts from a random
order with at least a floor of inversions (pairs of bars in the wrong order). The solution is bubble sort's
sequence of adjacent swaps: each swap removes exactly one inversion, so its length is the number of
inversions, the fewest adjacent swaps that sort the row. Each keyframe shows the row after one more swap.

The verifier reads every slot as the bar in it (its height rank, 1 = shortest) or ``"empty"``. A slot's look is
its bar alone: bars keep well clear of the slot's sides, and the baseline below the slots never changes.

Metadata (besides the common keys):
    num_bars   bars in the row
    bars       the first frame's row, left to right, as height ranks 1 (shortest) .. num_bars (tallest)
    heights    bar height in pixels by rank (as a string)
    solution   swaps in order, each ``[left_slot, right_slot]`` (0-based neighbours)
    num_steps  ``len(solution)``, the number of inversions of ``bars``
    render     grid_origin (top-left of the slots), cell_size (slot width), slot_height, bar_width,
               baseline_height, colors (bars by rank, as a string)
"""

from __future__ import annotations

import random
from collections.abc import Hashable, Sequence
from typing import Any, ClassVar

import numpy as np
from PIL import Image

from vmevalkit.tasks.base import FRAME_SIZE, GeneratedTask, TaskDomain
from vmevalkit.tasks.reading import RegionReader
from vmevalkit.tasks.render import Box, color, new_frame, to_array
from vmevalkit.tasks.verifier import State, StateVerifier

EMPTY = "empty"  # the label of a slot without a bar
BARS = {"easy": 4, "medium": 5, "hard": 6}
# Fewest swaps a task needs: with more bars, a higher floor keeps the levels apart in length too.
MIN_INVERSIONS = {"easy": 2, "medium": 4, "hard": 6}

# Geometry (pixels of the 512x512 frame). Slots are a multiple of 4 wide and start on a multiple of 4, and a bar
# keeps at least 12 px from its slot's sides, so the 1/4-scale reader never sees a neighbour's bar in a slot.
ROW_WIDTH = 448  # at most; the slot width is rounded down to a multiple of 4
BASELINE_Y = 408  # first pixel row of the baseline, right under the slots
BASELINE_HEIGHT = 12
HEIGHTS = (64, 320)  # shortest and tallest bar
SLOT_TOP_GAP = 16  # free pixels above the tallest bar in a slot
MIN_SIDE_GAP = 12
COLORS: dict[str, Any] = {
    "background": [255, 255, 255],
    "baseline": [60, 60, 60],
}
# Strong, mutually distinct bar colours, none grey (the baseline's); dealt to the bars at random per task.
PALETTE = (
    [220, 30, 30],
    [245, 140, 0],
    [30, 160, 60],
    [30, 80, 230],
    [150, 40, 190],
    [0, 170, 200],
)
PROMPT = (
    "Sort the bars by height so they grow from the shortest on the left to the tallest on the right. "
    "Swap two neighbouring bars at a time; no other move is allowed."
)


def inversions(row: Sequence[int]) -> int:
    return sum(a > b for i, a in enumerate(row) for b in row[i + 1 :])


def bubble_swaps(row: Sequence[int]) -> list[int]:
    """Left slots of bubble sort's adjacent swaps, in order; there are exactly ``inversions(row)`` of them."""
    bars, swaps = list(row), []
    for end in range(len(bars) - 1, 0, -1):
        for left in range(end):
            if bars[left] > bars[left + 1]:
                bars[left], bars[left + 1] = bars[left + 1], bars[left]
                swaps.append(left)
    return swaps


def slot_box(spec: dict[str, Any], slot: int) -> Box:
    ox, oy = spec["grid_origin"]
    x0 = ox + slot * spec["cell_size"]
    return x0, oy, x0 + spec["cell_size"] - 1, oy + spec["slot_height"] - 1


def draw_bars(metadata: dict[str, Any], row: Sequence[Hashable]) -> Image.Image:
    """The baseline with the bars of ``row`` (ranks or EMPTY, left to right); any row can be drawn."""
    spec = metadata["render"]
    colors = spec["colors"]
    image, draw = new_frame(color(colors["background"]))
    ox, oy = spec["grid_origin"]
    bottom = oy + spec["slot_height"]  # the baseline's first row
    right = ox + len(row) * spec["cell_size"] - 1
    draw.rectangle((ox, bottom, right, bottom + spec["baseline_height"] - 1), fill=color(colors["baseline"]))
    side = (spec["cell_size"] - spec["bar_width"]) // 2
    for slot, bar in enumerate(row):
        if bar == EMPTY:
            continue
        x0, _, x1, _ = slot_box(spec, slot)
        top = bottom - metadata["heights"][str(bar)]
        draw.rectangle((x0 + side, top, x1 - side, bottom - 1), fill=color(colors["bars"][str(bar)]))
    return image


class SortBarsVerifier(StateVerifier):
    """The row must end shortest to tallest; each change swaps the bars of two neighbouring slots."""

    domain: ClassVar[str] = "sort_bars"
    puzzle: ClassVar[str] = "bars"

    def __init__(self, metadata: dict[str, Any]) -> None:
        self.count = int(metadata["num_bars"])
        super().__init__(metadata)

    def build_reader(self) -> RegionReader:
        spec = self.metadata["render"]
        boxes = [slot_box(spec, slot) for slot in range(self.count)]
        # Rotations of the sorted row (each slot sees every bar once) and the empty row.
        rows: list[list[Hashable]] = [
            [(slot + shift) % self.count + 1 for slot in range(self.count)] for shift in range(self.count)
        ]
        rows.append([EMPTY] * self.count)
        return RegionReader(boxes, [(to_array(draw_bars(self.metadata, row)), row) for row in rows])

    def initial_state(self) -> State:
        return tuple(self.metadata["bars"])

    def solved_state(self) -> State:
        return tuple(range(1, self.count + 1))

    def state(self, labels: Sequence[Hashable | None]) -> State | None:
        return tuple(labels)

    def _count_error(self, state: State) -> str | None:
        for bar in range(1, self.count + 1):
            seen = state.count(bar)
            if seen > 1:
                return f"bar {bar} appears {seen} times"
            if seen == 0:
                return f"bar {bar} vanishes"
        return None

    def move_error(self, before: State, after: State) -> str | None:
        broken = self._count_error(after)
        if broken is not None:
            return broken
        if self._count_error(before) is not None:  # after an illegal move that broke the row: mending it is no swap
            return "the row is rebuilt from one that did not hold each bar once"
        changed = [slot for slot in range(self.count) if before[slot] != after[slot]]
        if len(changed) == 2:  # both rows hold each bar once: two changed slots exchanged their bars
            left, right = changed
            if right == left + 1:
                return None
            return (
                f"bars {before[left]} and {before[right]} swap, but slots {left + 1} and {right + 1} are not neighbours"
            )
        bars = ", ".join(str(before[slot]) for slot in changed)
        return f"bars {bars} move at once, not two neighbouring bars swapping"

    def end_error(self, state: State) -> str:
        if self._count_error(state) is not None:
            return f"the row ends without each bar once: {self._count_error(state)}"
        wrong = inversions([int(bar) for bar in state])
        return f"the bars end out of order: {wrong} pair(s) of bars are still the wrong way round"


class SortBarsDomain(TaskDomain):
    name: ClassVar[str] = "sort_bars"
    description: ClassVar[str] = "Sort a row of bars from shortest to tallest by swapping neighbouring bars."
    category: ClassVar[str] = "ordering"
    rubric: ClassVar[str] = (
        "The puzzle: a row of coloured vertical bars of different heights standing on a dark baseline. A "
        "correct solution: the bars end ordered from the shortest on the left to the tallest on the right. "
        "Legal moves: two neighbouring bars swap places, one swap at a time. Illegal: two bars that are not "
        "neighbours swap; several bars move at once; a bar vanishes, appears twice, or changes its height or "
        "colour; the baseline changes."
    )
    verifier_class: ClassVar[type[StateVerifier]] = SortBarsVerifier

    def generate_one(self, rng: random.Random, task_id: str, seed: int, difficulty: str) -> GeneratedTask:
        count = BARS[difficulty]
        row = list(range(1, count + 1))
        while inversions(row) < MIN_INVERSIONS[difficulty]:
            rng.shuffle(row)
        palette = rng.sample(PALETTE, count)
        swaps = bubble_swaps(row)

        pitch = ROW_WIDTH // count // 4 * 4
        low, high = HEIGHTS
        slot_height = high + SLOT_TOP_GAP
        metadata: dict[str, Any] = {
            "domain": self.name,
            "category": self.category,
            "task_id": task_id,
            "seed": seed,
            "difficulty": difficulty,
            "num_bars": count,
            "bars": row,
            "heights": {str(r): low + (high - low) * (r - 1) // (count - 1) for r in range(1, count + 1)},
            "solution": [[left, left + 1] for left in swaps],
            "num_steps": len(swaps),
            "render": {
                "grid_origin": [(FRAME_SIZE - count * pitch) // 2, BASELINE_Y - slot_height],
                "cell_size": pitch,
                "slot_height": slot_height,
                "bar_width": pitch - 2 * max(MIN_SIDE_GAP, pitch // 5),
                "baseline_height": BASELINE_HEIGHT,
                "colors": {
                    **{k: list(v) for k, v in COLORS.items()},
                    "bars": {str(r): list(palette[r - 1]) for r in range(1, count + 1)},
                },
            },
        }
        rows = self._rows(metadata)
        return GeneratedTask(
            task_id=task_id,
            domain=self.name,
            prompt=PROMPT,
            first_frame=draw_bars(metadata, rows[0]),
            final_frame=draw_bars(metadata, rows[-1]),
            metadata=metadata,
        )

    @staticmethod
    def _rows(metadata: dict[str, Any]) -> list[list[Hashable]]:
        """The first row and the row after each swap of the solution."""
        rows: list[list[Hashable]] = [list(metadata["bars"])]
        for left, right in metadata["solution"]:
            if right != left + 1:
                raise ValueError(f"solution swaps slots {left} and {right}, which are not neighbours")
            row = list(rows[-1])
            row[left], row[right] = row[right], row[left]
            rows.append(row)
        return rows

    def render_solution(self, metadata: dict[str, Any]) -> list[np.ndarray]:
        return [to_array(draw_bars(metadata, row)) for row in self._rows(metadata)]

"""Counting: put coins into a tray's slots until it holds exactly the target number of coins.

The picture shows a target number N (a big black number in a box at the top) and below it a tray of round slots
(grey circle outlines), some of which may already hold a coin (a filled amber disc). The task: add coins, one per
step, until the tray holds exactly N coins. Counting the coins already there is part of the task.

Generation: the tray size, N and the number of coins already in the tray follow the difficulty (``LEVELS``); the
prefilled slots are a random sample. The keyframes add the missing ``N - prefilled`` coins (always >= 2) one at a
time into the empty slots in reading order (row by row, left to right), so the rendered solution is unique.

Any end state with exactly N coins that keeps the starting coins answers the prompt, which only asks for N coins:
``CountingVerifier.is_solved`` accepts all of them, not only the reading-order fill. A move adds exactly one coin
anywhere; a coin never disappears or moves, the target number never changes, and no coin is added once the tray
holds N (an extra coin can never be part of an answer).

Metadata (besides the common keys):
    rows, cols   tray size in slots
    target       N, the number of coins the tray must end with
    prefilled    ``[row, col]`` slots that hold a coin in the first frame, sorted
    solution     ``[row, col]`` slots filled in order (reading order among the empty slots)
    num_steps    ``len(solution)``, i.e. ``target - len(prefilled)``
    render       grid_origin and cell_size (the tray), slot_radius, slot_outline, coin_radius, target_box,
                 target_outline, font_size, colors
"""

from __future__ import annotations

import random
from collections.abc import Hashable, Sequence
from typing import Any, ClassVar

import numpy as np
from PIL import Image

from vmevalkit.tasks.base import FRAME_SIZE, GeneratedTask, TaskDomain
from vmevalkit.tasks.reading import RegionReader
from vmevalkit.tasks.render import Box, cell_box, cell_center, color, draw_centered_text, new_frame, to_array
from vmevalkit.tasks.verifier import State, StateVerifier

Slot = tuple[int, int]

# rows, cols, target range (inclusive), prefilled range (inclusive)
LEVELS = {
    "easy": (2, 4, (2, 5), (0, 1)),
    "medium": (3, 4, (4, 8), (0, 2)),
    "hard": (4, 4, (7, 12), (1, 4)),
}
MAX_TARGET = max(high for _, _, (_, high), _ in LEVELS.values())  # the reader knows every number up to this
TARGET_BOX = [161, 12, 351, 136]  # x0, y0, x1, y1 of the box around the number
TRAY_TOP = 156  # the tray fills the frame below this, with GRID_MARGIN-like borders
TRAY_MARGIN = 32
MAX_CELL = 96  # small trays keep slots of this size instead of growing
COLORS = {
    "background": [255, 255, 255],
    "target_box": [0, 0, 0],
    "target_text": [0, 0, 0],
    "slot": [120, 120, 120],
    "coin": [225, 140, 0],
}


def tray_layout(rows: int, cols: int) -> tuple[list[int], int]:
    """``(grid_origin, cell_size)`` of the tray, centred in the frame below the target box."""
    cell = min((FRAME_SIZE - 2 * TRAY_MARGIN) // cols, (FRAME_SIZE - TRAY_MARGIN // 2 - TRAY_TOP) // rows, MAX_CELL)
    height = FRAME_SIZE - TRAY_MARGIN // 2 - TRAY_TOP
    return [(FRAME_SIZE - cols * cell) // 2, TRAY_TOP + (height - rows * cell) // 2], cell


def reading_order_fill(rows: int, cols: int, prefilled: set[Slot], target: int) -> list[Slot]:
    """The empty slots that get the missing coins: the first ``target - len(prefilled)`` in reading order."""
    empty = [(r, c) for r in range(rows) for c in range(cols) if (r, c) not in prefilled]
    return empty[: target - len(prefilled)]


def _disc(center: tuple[int, int], radius: int) -> Box:
    x, y = center
    return x - radius, y - radius, x + radius, y + radius


def draw_tray(metadata: dict[str, Any], coins: Sequence[Sequence[int]], target: int | None = None) -> Image.Image:
    """The target box showing ``target`` (the task's own by default) and the tray with a coin in each of ``coins``."""
    spec = metadata["render"]
    colors = {k: color(v) for k, v in spec["colors"].items()}
    origin, cs = spec["grid_origin"], spec["cell_size"]
    image, draw = new_frame(colors["background"])
    x0, y0, x1, y1 = spec["target_box"]
    draw.rectangle((x0, y0, x1, y1), outline=colors["target_box"], width=spec["target_outline"])
    number = metadata["target"] if target is None else target
    middle = ((x0 + x1 + 1) // 2, (y0 + y1 + 1) // 2)
    draw_centered_text(draw, middle, str(number), spec["font_size"], colors["target_text"])
    for r in range(metadata["rows"]):
        for c in range(metadata["cols"]):
            center = cell_center(origin, cs, r, c)
            draw.ellipse(_disc(center, spec["slot_radius"]), outline=colors["slot"], width=spec["slot_outline"])
    for r, c in coins:
        draw.ellipse(_disc(cell_center(origin, cs, r, c), spec["coin_radius"]), fill=colors["coin"])
    return image


class CountingVerifier(StateVerifier):
    """The tray must end with exactly the target number of coins, the starting coins among them; coins are added
    one per step and never removed; the target number never changes.

    The state is ``(target, coins)``: the number read in the box and one 0/1 per slot in reading order.
    """

    domain: ClassVar[str] = "counting"
    puzzle: ClassVar[str] = "tray"

    def build_reader(self) -> RegionReader:
        rows, cols = self.metadata["rows"], self.metadata["cols"]
        spec = self.metadata["render"]
        slots = [(r, c) for r in range(rows) for c in range(cols)]
        x0, y0, x1, y1 = spec["target_box"]
        inner = spec["target_outline"] + 2  # the number's region: inside the box's (static) outline
        boxes = [(x0 + inner, y0 + inner, x1 - inner, y1 - inner)]
        boxes += [cell_box(spec["grid_origin"], spec["cell_size"], r, c) for r, c in slots]
        # Every number the reader knows, once each; every slot with a coin (odd numbers) and without (even ones).
        renders = []
        for number in range(1, MAX_TARGET + 1):
            full = number % 2 == 1
            image = draw_tray(self.metadata, slots if full else [], target=number)
            renders.append((to_array(image), [number] + ["coin" if full else "empty"] * len(slots)))
        return RegionReader(boxes, renders)

    def initial_state(self) -> State:
        prefilled = {tuple(slot) for slot in self.metadata["prefilled"]}
        return self._state_of(prefilled)

    def solved_state(self) -> State:
        filled = {tuple(slot) for slot in self.metadata["prefilled"] + self.metadata["solution"]}
        return self._state_of(filled)

    def _state_of(self, filled: set[Any]) -> State:
        rows, cols = self.metadata["rows"], self.metadata["cols"]
        return self.metadata["target"], tuple(int((r, c) in filled) for r in range(rows) for c in range(cols))

    def state(self, labels: Sequence[Hashable | None]) -> State | None:
        number, *slots = labels
        return number, tuple(int(label == "coin") for label in slots)

    def _where(self, index: int) -> str:
        row, col = divmod(index, self.metadata["cols"])
        return f"row {row + 1}, column {col + 1}"

    def is_solved(self, state: State | None) -> bool:
        # Any N coins that keep the starting ones answer the prompt, not only the reading-order fill.
        if state is None:
            return False
        number, coins = state
        kept = all(now >= then for now, then in zip(coins, self.initial[1], strict=True))
        return bool(number == self.metadata["target"] and sum(coins) == self.metadata["target"] and kept)

    def move_error(self, before: State, after: State) -> str | None:
        if before[0] != after[0]:
            return f"the target number changes from {before[0]} to {after[0]}"
        pairs = list(zip(before[1], after[1], strict=True))
        gone = [i for i, (a, b) in enumerate(pairs) if a and not b]
        if gone:
            return f"the coin in {self._where(gone[0])} disappears ({len(gone)} coin(s) removed); coins are only added"
        added = [i for i, (a, b) in enumerate(pairs) if b and not a]
        if len(added) > 1:
            return f"{len(added)} coins appear at once; the task adds one coin per step"
        if sum(before[1]) >= self.metadata["target"]:
            return (
                f"a coin is added in {self._where(added[0])} although the tray already holds "
                f"{sum(before[1])} coins, the target {self.metadata['target']}"
            )
        return None

    def end_error(self, state: State) -> str:
        number, coins = state
        target = self.metadata["target"]
        if number != target:
            return f"the last frame shows the target {number}, not {target}"
        pairs = enumerate(zip(coins, self.initial[1], strict=True))
        missing = [self._where(i) for i, (now, then) in pairs if then > now]
        if sum(coins) == target and missing:
            return f"the tray holds {target} coins but the starting coin(s) in {'; '.join(missing)} are gone"
        return f"the tray ends with {sum(coins)} coins, not {target}"


class CountingDomain(TaskDomain):
    name: ClassVar[str] = "counting"
    description: ClassVar[str] = (
        "Add coins to a tray of slots, one per step, until it holds exactly the number shown at the top."
    )
    category: ClassVar[str] = "counting_arithmetic"
    rubric: ClassVar[str] = (
        "The puzzle: a big number N in a box at the top and, below it, a tray of round slots drawn as grey circles; "
        "some slots may already hold a coin (a filled amber disc). A correct solution: coins are added one at a time "
        "into empty slots until the tray holds exactly N coins, counting the coins that were already there. "
        "Illegal: several coins appear at once; a coin disappears or moves; more than N coins end up in the tray; "
        "the number N or the tray changes."
    )
    verifier_class: ClassVar[type[StateVerifier]] = CountingVerifier

    def generate_one(self, rng: random.Random, task_id: str, seed: int, difficulty: str) -> GeneratedTask:
        rows, cols, (low, high), (few, many) = LEVELS[difficulty]
        target = rng.randint(low, high)
        count = rng.randint(few, min(many, target - 2))  # at least two coins left to add
        slots = [(r, c) for r in range(rows) for c in range(cols)]
        prefilled = set(rng.sample(slots, count))
        fill = reading_order_fill(rows, cols, prefilled, target)

        origin, cell = tray_layout(rows, cols)
        slot_radius = cell * 2 // 5
        metadata: dict[str, Any] = {
            "domain": self.name,
            "category": self.category,
            "task_id": task_id,
            "seed": seed,
            "difficulty": difficulty,
            "rows": rows,
            "cols": cols,
            "target": target,
            "prefilled": sorted([r, c] for r, c in prefilled),
            "solution": [[r, c] for r, c in fill],
            "num_steps": len(fill),
            "render": {
                "grid_origin": origin,
                "cell_size": cell,
                "slot_radius": slot_radius,
                "slot_outline": 5,
                "coin_radius": slot_radius - 7,  # inside the outline, which never changes
                "target_box": TARGET_BOX,
                "target_outline": 6,
                "font_size": 96,
                "colors": {k: list(v) for k, v in COLORS.items()},
            },
        }
        prompt = (
            f"Put coins into the empty round slots of the tray, one coin at a time, until the tray holds exactly "
            f"{target} coins in all, the number shown at the top. Count the coins already in the tray. "
            "Do not remove or move any coin."
        )
        return GeneratedTask(
            task_id=task_id,
            domain=self.name,
            prompt=prompt,
            first_frame=draw_tray(metadata, metadata["prefilled"]),
            final_frame=draw_tray(metadata, metadata["prefilled"] + metadata["solution"]),
            metadata=metadata,
        )

    def render_solution(self, metadata: dict[str, Any]) -> list[np.ndarray]:
        start, fill = metadata["prefilled"], metadata["solution"]
        return [to_array(draw_tray(metadata, start + fill[:k])) for k in range(len(fill) + 1)]

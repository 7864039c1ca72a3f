"""Lights out: press lights until every light of the grid is off.

Pressing a light toggles it and its up, down, left and right neighbours. On 4x4 and 5x5 grids not every pattern
of lights can be switched off (the press-to-toggle matrix is singular over GF(2)), so a task starts from the
all-off grid and presses a few random distinct cells: the board is reachable by construction. The solution is
the smallest set of presses that switches it off: one solution by Gaussian elimination over GF(2), then the
lightest of it plus each combination of the null space (16 on 4x4, 4 on 5x5, 1 on 3x3). Presses commute, so the
keyframes press the solution's cells in row-major order, one press per keyframe.

Metadata (besides the common keys):
    size        cells per side
    lights      the first frame's grid, ``size`` rows of 0 (off) / 1 (on)
    presses     how many random presses made the board (an upper bound on num_steps)
    solution    the cells to press, ``[row, col]``, in row-major order
    num_steps   ``len(solution)``, the fewest presses that switch every light off
    render      grid_origin, cell_size, light_inset, colors
"""

from __future__ import annotations

import random
from collections.abc import Hashable, Sequence
from typing import Any, ClassVar

import numpy as np
from PIL import Image

from vmevalkit.tasks.base import GeneratedTask, TaskDomain
from vmevalkit.tasks.reading import RegionReader
from vmevalkit.tasks.render import GRID_MARGIN, cell_box, color, grid_layout, new_frame, to_array
from vmevalkit.tasks.verifier import State, StateVerifier

SIZES = {"easy": 3, "medium": 4, "hard": 5}
# Random presses that make the board, and the fewest presses a kept board needs: more for harder levels.
PRESSES = {"easy": (2, 4), "medium": (3, 6), "hard": (4, 8)}
MIN_STEPS = {"easy": 2, "medium": 3, "hard": 4}
MAX_ATTEMPTS = 200
COLORS = {
    "background": [245, 245, 245],
    "board": [25, 25, 25],
    "on": [255, 215, 0],
    "off": [85, 85, 85],
}
PROMPT = (
    "Lights out: yellow squares are lights that are on, grey squares are off. Pressing a light toggles it and "
    "the lights directly above, below, left and right of it. Press one light at a time until every light is off."
)


def press_mask(index: int, size: int) -> int:
    """The lights (bits, row-major) that pressing cell ``index`` toggles."""
    r, c = divmod(index, size)
    mask = 1 << index
    for dr, dc in ((-1, 0), (1, 0), (0, -1), (0, 1)):
        if 0 <= r + dr < size and 0 <= c + dc < size:
            mask |= 1 << ((r + dr) * size + c + dc)
    return mask


def min_presses(board: int, size: int) -> int:
    """The fewest presses (a bit set of cells) that switch ``board`` off; ValueError when none does.

    Solves ``A x = board`` over GF(2) by Gauss-Jordan elimination (A is symmetric: press j toggles light i
    exactly when press i toggles light j), then tries ``x`` plus every combination of the null space.
    """
    n = size * size
    # Row i: which presses toggle light i (bits 0..n-1), and light i's state (bit n).
    rows = [press_mask(i, size) | (((board >> i) & 1) << n) for i in range(n)]
    pivots: list[int] = []  # pivot column of each reduced row, in order
    rank = 0
    for col in range(n):
        found = next((i for i in range(rank, n) if rows[i] >> col & 1), None)
        if found is None:
            continue
        rows[rank], rows[found] = rows[found], rows[rank]
        for i in range(n):
            if i != rank and rows[i] >> col & 1:
                rows[i] ^= rows[rank]
        pivots.append(col)
        rank += 1
    if any(rows[i] >> n & 1 for i in range(rank, n)):
        raise ValueError("this board cannot be switched off")
    particular = 0
    for i, col in enumerate(pivots):
        if rows[i] >> n & 1:
            particular |= 1 << col
    # Each free column f gives a null vector: f itself plus the pivots whose rows contain f.
    free = [col for col in range(n) if col not in pivots]
    null = []
    for f in free:
        vector = 1 << f
        for i, col in enumerate(pivots):
            if rows[i] >> f & 1:
                vector |= 1 << col
        null.append(vector)
    best = particular
    for combo in range(1, 1 << len(null)):
        x = particular
        for k, vector in enumerate(null):
            if combo >> k & 1:
                x ^= vector
        # Fewest presses; among equals, the smallest bit set, so the choice is fixed.
        if (x.bit_count(), x) < (best.bit_count(), best):
            best = x
    return best


def make_board(rng: random.Random, difficulty: str) -> tuple[int, int, list[int]]:
    """``(board, presses made, solution cells)`` with at least the difficulty's number of solution presses."""
    size = SIZES[difficulty]
    for _ in range(MAX_ATTEMPTS):
        count = rng.randint(*PRESSES[difficulty])
        board = 0
        for index in rng.sample(range(size * size), count):
            board ^= press_mask(index, size)
        solution = min_presses(board, size)
        if solution.bit_count() >= MIN_STEPS[difficulty]:
            return board, count, [i for i in range(size * size) if solution >> i & 1]
    raise RuntimeError(f"no {difficulty} lights-out board found in {MAX_ATTEMPTS} attempts")


def boards(metadata: dict[str, Any]) -> list[tuple[int, ...]]:
    """The grid (row-major 0/1) before the first press and after each press of the solution."""
    size = metadata["size"]
    grid = [light for row in metadata["lights"] for light in row]
    states = [tuple(grid)]
    for r, c in metadata["solution"]:
        for i in range(size * size):
            if press_mask(r * size + c, size) >> i & 1:
                grid[i] ^= 1
        states.append(tuple(grid))
    return states


def draw_lights(metadata: dict[str, Any], lights: Sequence[int]) -> Image.Image:
    spec = metadata["render"]
    colors = {k: color(v) for k, v in spec["colors"].items()}
    size, origin, cs = metadata["size"], spec["grid_origin"], spec["cell_size"]
    image, draw = new_frame(colors["background"])
    pad = GRID_MARGIN // 2
    draw.rectangle(
        (origin[0] - pad, origin[1] - pad, origin[0] + size * cs - 1 + pad, origin[1] + size * cs - 1 + pad),
        fill=colors["board"],
    )
    for index, light in enumerate(lights):
        r, c = divmod(index, size)
        draw.rectangle(cell_box(origin, cs, r, c, spec["light_inset"]), fill=colors["on" if light else "off"])
    return image


class LightsOutVerifier(StateVerifier):
    """Every light must end off; each change is exactly one press: a cell and its 4 neighbours toggle."""

    domain: ClassVar[str] = "lights_out"
    puzzle: ClassVar[str] = "grid of lights"

    def __init__(self, metadata: dict[str, Any]) -> None:
        size = metadata["size"]
        self.size = size
        self.masks = {press_mask(i, size): divmod(i, size) for i in range(size * size)}
        super().__init__(metadata)

    def build_reader(self) -> RegionReader:
        size, spec = self.size, self.metadata["render"]
        cells = size * size
        boxes = [cell_box(spec["grid_origin"], spec["cell_size"], *divmod(i, size)) for i in range(cells)]
        renders = [(to_array(draw_lights(self.metadata, [light] * cells)), [light] * cells) for light in (0, 1)]
        return RegionReader(boxes, renders)

    def initial_state(self) -> State:
        return tuple(light for row in self.metadata["lights"] for light in row)

    def solved_state(self) -> State:
        return tuple(0 for _ in range(self.size * self.size))

    def state(self, labels: Sequence[Hashable | None]) -> State | None:
        return tuple(1 if label == 1 else 0 for label in labels)

    def move_error(self, before: State, after: State) -> str | None:
        toggled = 0
        for i, (a, b) in enumerate(zip(before, after, strict=True)):
            if a != b:
                toggled |= 1 << i
        if toggled in self.masks:
            return None
        cells = [list(divmod(i, self.size)) for i in range(self.size**2) if toggled >> i & 1]
        if len(cells) == 1:
            return f"only the light at {cells[0]} toggles; a press also toggles its neighbours"
        return (
            f"the lights at {', '.join(map(str, cells))} toggle at once, which is not one press "
            "(a press toggles one light and its up, down, left and right neighbours)"
        )

    def end_error(self, state: State) -> str:
        return f"the grid ends with {sum(state)} light(s) still on"


class LightsOutDomain(TaskDomain):
    name: ClassVar[str] = "lights_out"
    description: ClassVar[str] = "Switch off every light of a 3x3 to 5x5 lights-out grid, one press at a time."
    category: ClassVar[str] = "spatial_planning"
    rubric: ClassVar[str] = (
        "The puzzle: a square grid of lights on a black board; yellow squares are on, grey squares are off. A "
        "correct solution: every light ends off (grey). Legal moves: one press at a time; a press toggles the "
        "pressed light and its up, down, left and right neighbours (on becomes off, off becomes on), and no "
        "other light. Illegal: a single light toggles alone, lights toggle in a pattern that is not one press "
        "(two presses at once, a diagonal neighbour), the grid changes size, or lights appear or vanish."
    )
    verifier_class: ClassVar[type[StateVerifier]] = LightsOutVerifier

    def generate_one(self, rng: random.Random, task_id: str, seed: int, difficulty: str) -> GeneratedTask:
        size = SIZES[difficulty]
        board, presses, solution = make_board(rng, difficulty)
        origin, cell_size = grid_layout(size, size)
        metadata: dict[str, Any] = {
            "domain": self.name,
            "category": self.category,
            "task_id": task_id,
            "seed": seed,
            "difficulty": difficulty,
            "size": size,
            "lights": [[board >> (r * size + c) & 1 for c in range(size)] for r in range(size)],
            "presses": presses,
            "solution": [list(divmod(i, size)) for i in solution],
            "num_steps": len(solution),
            "render": {
                "grid_origin": origin,
                "cell_size": cell_size,
                "light_inset": max(4, cell_size // 16),  # the board shows between the lights
                "colors": {k: list(v) for k, v in COLORS.items()},
            },
        }
        states = boards(metadata)
        return GeneratedTask(
            task_id=task_id,
            domain=self.name,
            prompt=PROMPT,
            first_frame=draw_lights(metadata, states[0]),
            final_frame=draw_lights(metadata, states[-1]),
            metadata=metadata,
        )

    def render_solution(self, metadata: dict[str, Any]) -> list[np.ndarray]:
        return [to_array(draw_lights(metadata, grid)) for grid in boards(metadata)]

"""Tower of Hanoi: stack every disc on the marked target peg, one disc at a time, never on a smaller disc.

Three pegs stand on bases; the target peg's base is green, the others grey. Discs are flat bars of distinct
widths and colours (disc 1 the narrowest). A task starts from a random legal position (each disc on a random
peg, the pegs' discs stacked largest at the bottom), or now and then from the classic tower on another peg.
Every legal position of ``n`` discs is one assignment of discs to pegs, so the ``3 ** n`` positions are searched
breadth first from the goal (once per disc count and target, cached); the solution walks down that distance
field, one disc from the top of one peg to the top of another per keyframe, and is a shortest one.

The verifier reads every (peg, level) slot as a disc number or ``"empty"``: a disc is a bar of fixed height
inside its slot, and the pole behind it is the same in every look, so a slot's look depends on its own disc
only.

Metadata (besides the common keys):
    num_discs    discs in the task, numbered 1 (narrowest) .. num_discs (widest)
    target_peg   peg (0, 1, 2 = A, B, C from the left) that must hold the whole tower at the end
    pegs         the first frame's position: per peg, its disc numbers from the bottom up
    solution     moves, each ``[disc, from_peg, to_peg]``
    num_steps    ``len(solution)``, the fewest moves that build the tower on the target peg
    render       grid_origin (top-left of the slot area), cell_size (a level's height), column_width,
                 slot_width, disc_height, disc_widths (by disc number, as a string), pole_width, pole_top,
                 base_height, label_size, colors (discs by disc number, as a string)
"""

from __future__ import annotations

import json
import random
from collections import deque
from collections.abc import Hashable, Sequence
from functools import lru_cache
from typing import Any, ClassVar

import numpy as np
from PIL import Image, ImageDraw

from vmevalkit.tasks.base import GeneratedTask, TaskDomain
from vmevalkit.tasks.reading import RegionReader
from vmevalkit.tasks.render import Box, color, draw_centered_text, new_frame, to_array
from vmevalkit.tasks.verifier import State, StateVerifier

Assignment = tuple[int, ...]  # the peg of each disc, disc 1 first: one legal position
Move = tuple[int, int, int]  # disc, from_peg, to_peg

EMPTY = "empty"  # the label of a slot without a disc
PEGS = 3
PEG_NAMES = "ABC"
DISCS = {"easy": 3, "medium": 4, "hard": 5}
# Fewest moves a task needs: more discs and a higher floor make the levels really differ in length.
MIN_STEPS = {"easy": 2, "medium": 5, "hard": 9}
CLASSIC_SHARE = 0.2  # share of tasks that start from the whole tower on one non-target peg
MAX_DRAWS = 200  # random positions drawn before falling back to the classic start

# Geometry (pixels of the 512x512 frame). Slot boxes sit on multiples of 4 and a disc keeps 8 px from its slot's
# top and bottom, so the 1/4-scale reader never sees a neighbouring slot's disc in a slot.
LEVEL = 56  # a level's height (cell_size)
COLUMN = 168  # pitch of the pegs
SLOT_WIDTH = 160
LEFT = 8  # left edge of peg A's slots
BASE_TOP = 400  # the bases start right under level 0
BASE_HEIGHT = 24
DISC_HEIGHT = 40
DISC_WIDTHS = (48, 144)  # narrowest and widest disc
POLE_WIDTH = 12
LABEL_SIZE = 44
COLORS: dict[str, Any] = {
    "background": [255, 255, 255],
    "pole": [90, 90, 90],
    "base": [170, 170, 170],
    "target": [30, 170, 60],
    "label": [0, 0, 0],
    # Strong colours with no green (the target's) and no grey (the pole's), by disc number.
    "discs": {
        "1": [220, 30, 30],
        "2": [245, 140, 0],
        "3": [30, 80, 230],
        "4": [150, 40, 190],
        "5": [0, 170, 200],
    },
}
PROMPT = (
    "Move the whole stack of discs onto the peg with the green base, ending with the discs ordered from the "
    "widest at the bottom to the narrowest at the top. Move one disc at a time: take the top disc of a peg and "
    "put it on another peg, either an empty one or on top of a wider disc. Never put a disc on a narrower one."
)


# --------------------------------------------------------------------------- rules and solver


def legal_moves(position: Assignment) -> list[tuple[int, int]]:
    """``(disc, to_peg)`` of every legal move, in a fixed order: pegs' tops are their narrowest discs."""
    tops: dict[int, int] = {}
    for disc in range(len(position), 0, -1):  # widest first: the last one written on a peg is its top
        tops[position[disc - 1]] = disc
    moves = []
    for peg in range(PEGS):
        if peg not in tops:
            continue
        disc = tops[peg]
        for to in range(PEGS):
            if to != peg and (to not in tops or tops[to] > disc):
                moves.append((disc, to))
    return moves


def moved(position: Assignment, disc: int, to: int) -> Assignment:
    return position[: disc - 1] + (to,) + position[disc:]


@lru_cache(maxsize=16)
def distances_to_tower(discs: int, target: int) -> dict[Assignment, int]:
    """Fewest moves from every legal position to the tower on ``target`` (BFS from it: moves are reversible)."""
    goal = (target,) * discs
    distance = {goal: 0}
    queue = deque([goal])
    while queue:
        position = queue.popleft()
        for disc, to in legal_moves(position):
            nxt = moved(position, disc, to)
            if nxt not in distance:
                distance[nxt] = distance[position] + 1
                queue.append(nxt)
    return distance


def solve(position: Assignment, target: int) -> list[Move]:
    """A shortest move list from ``position`` to the tower on ``target``: each move goes one step closer."""
    distance = distances_to_tower(len(position), target)
    moves: list[Move] = []
    while distance[position]:
        disc, to = next(
            (d, t) for d, t in legal_moves(position) if distance[moved(position, d, t)] == distance[position] - 1
        )
        moves.append((disc, position[disc - 1], to))
        position = moved(position, disc, to)
    return moves


def stacks(position: Assignment) -> list[list[int]]:
    """Per peg, its discs from the bottom (widest) up."""
    return [[d for d in range(len(position), 0, -1) if position[d - 1] == peg] for peg in range(PEGS)]


def slots_of(pegs: Sequence[Sequence[int]], discs: int) -> tuple[Hashable, ...]:
    """The slot labels of a position, peg by peg, each peg bottom level first."""
    return tuple(peg[level] if level < len(peg) else EMPTY for peg in pegs for level in range(discs))


# --------------------------------------------------------------------------- drawing


def slot_box(spec: dict[str, Any], discs: int, peg: int, level: int) -> Box:
    """Pixel box of the slot at ``level`` (0 = bottom) of ``peg``."""
    ox, oy = spec["grid_origin"]
    x0 = ox + peg * spec["column_width"]
    y1 = oy + discs * spec["cell_size"] - level * spec["cell_size"] - 1
    return x0, y1 - spec["cell_size"] + 1, x0 + spec["slot_width"] - 1, y1


def draw_stand(metadata: dict[str, Any]) -> Image.Image:
    """What never changes: the bases (the target's green), the poles and the peg letters.

    Cached by the task's render settings: the letters' text is the slow part of a frame, and a task's frames
    (and the verifier's renders) all share one stand.
    """
    return _stand(json.dumps(metadata["render"], sort_keys=True), metadata["num_discs"], metadata["target_peg"]).copy()


@lru_cache(maxsize=32)
def _stand(render: str, discs: int, target: int) -> Image.Image:
    spec = json.loads(render)
    colors = spec["colors"]
    image, draw = new_frame(color(colors["background"]))
    ox, oy = spec["grid_origin"]
    base_top = oy + discs * spec["cell_size"]
    for peg in range(PEGS):
        x0 = ox + peg * spec["column_width"]
        centre = x0 + spec["slot_width"] // 2
        base = colors["target"] if peg == target else colors["base"]
        base_box = (x0, base_top, x0 + spec["slot_width"] - 1, base_top + spec["base_height"] - 1)
        draw.rectangle(base_box, fill=color(base))
        half = spec["pole_width"] // 2
        draw.rectangle((centre - half, spec["pole_top"], centre + half - 1, base_top - 1), fill=color(colors["pole"]))
        label_y = base_top + spec["base_height"] + spec["label_size"] // 2 + 8
        draw_centered_text(draw, (centre, label_y), PEG_NAMES[peg], spec["label_size"], color(colors["label"]))
    return image


def draw_hanoi(metadata: dict[str, Any], slots: Sequence[Hashable]) -> Image.Image:
    """The pegs with ``slots`` (labels peg by peg, bottom level first) filled; any arrangement can be drawn."""
    spec = metadata["render"]
    colors = spec["colors"]
    discs = metadata["num_discs"]
    image = draw_stand(metadata)
    draw = ImageDraw.Draw(image)
    inset = (spec["cell_size"] - spec["disc_height"]) // 2
    for index, label in enumerate(slots):
        if label == EMPTY:
            continue
        peg, level = divmod(index, discs)
        x0, y0, x1, y1 = slot_box(spec, discs, peg, level)
        half = spec["disc_widths"][str(label)] // 2
        centre = (x0 + x1 + 1) // 2
        fill = color(colors["discs"][str(label)])
        draw.rectangle((centre - half, y0 + inset, centre + half - 1, y1 - inset), fill=fill)
    return image


# --------------------------------------------------------------------------- verifier


class TowerOfHanoiVerifier(StateVerifier):
    """The tower must end on the target peg; each change moves one top disc onto an empty peg or a wider disc."""

    domain: ClassVar[str] = "tower_of_hanoi"
    puzzle: ClassVar[str] = "pegs"

    def __init__(self, metadata: dict[str, Any]) -> None:
        self.discs = int(metadata["num_discs"])
        super().__init__(metadata)

    def build_reader(self) -> RegionReader:
        spec = self.metadata["render"]
        boxes = [slot_box(spec, self.discs, peg, level) for peg in range(PEGS) for level in range(self.discs)]
        # Every slot filled with one label at a time (positions no game reaches, which is fine: a slot's look
        # depends on its own label only), so each slot is seen with every disc and empty.
        labels: list[Hashable] = [*range(1, self.discs + 1), EMPTY]
        renders = []
        for label in labels:
            slots = [label] * len(boxes)
            renders.append((to_array(draw_hanoi(self.metadata, slots)), slots))
        return RegionReader(boxes, renders)

    def initial_state(self) -> State:
        return slots_of(self.metadata["pegs"], self.discs)

    def solved_state(self) -> State:
        pegs: list[list[int]] = [[] for _ in range(PEGS)]
        pegs[self.metadata["target_peg"]] = list(range(self.discs, 0, -1))
        return slots_of(pegs, self.discs)

    def state(self, labels: Sequence[Hashable | None]) -> State | None:
        return tuple(labels)

    def _columns(self, state: State) -> list[list[Hashable]]:
        return [list(state[peg * self.discs : (peg + 1) * self.discs]) for peg in range(PEGS)]

    def _places(self, state: State) -> dict[Hashable, tuple[int, int]]:
        return {label: divmod(index, self.discs) for index, label in enumerate(state) if label != EMPTY}

    def _count_error(self, state: State) -> str | None:
        for disc in range(1, self.discs + 1):
            seen = state.count(disc)
            if seen > 1:
                return f"disc {disc} appears {seen} times"
            if seen == 0:
                return f"disc {disc} vanishes"
        return None

    def move_error(self, before: State, after: State) -> str | None:
        broken = self._count_error(after)
        if broken is not None:
            return broken
        if self._count_error(before) is not None:  # after an illegal move that broke the set: mending it is no move
            return "the pegs are rebuilt from a position that did not hold each disc once"
        for peg, column in enumerate(self._columns(after)):
            for level in range(1, self.discs):
                if column[level] != EMPTY and column[level - 1] == EMPTY:
                    return f"disc {column[level]} floats above an empty slot on peg {PEG_NAMES[peg]}"
        was, now = self._places(before), self._places(after)
        moving = sorted(disc for disc in range(1, self.discs + 1) if was[disc] != now[disc])
        if len(moving) > 1:
            return f"discs {', '.join(map(str, moving))} move at once, not one disc at a time"
        disc = moving[0]
        (source, level), (dest, new_level) = was[disc], now[disc]
        if source == dest:
            return f"disc {disc} moves up or down peg {PEG_NAMES[source]} instead of to another peg"
        above = self._columns(before)[source][level + 1 : level + 2]
        if above and above[0] != EMPTY:
            return f"disc {disc} is taken from under disc {above[0]} on peg {PEG_NAMES[source]}"
        below = self._columns(after)[dest][new_level - 1] if new_level else EMPTY
        if isinstance(below, int) and below < disc:
            return f"disc {disc} is put on the smaller disc {below} on peg {PEG_NAMES[dest]}"
        return None

    def end_error(self, state: State) -> str:
        target = self.metadata["target_peg"]
        there = sum(label != EMPTY for label in self._columns(state)[target])
        return f"the tower is unfinished: {there} of {self.discs} discs stand on the target peg {PEG_NAMES[target]}"


# --------------------------------------------------------------------------- domain


class TowerOfHanoiDomain(TaskDomain):
    name: ClassVar[str] = "tower_of_hanoi"
    description: ClassVar[str] = (
        "Move every disc onto the green-based peg, one top disc at a time, never onto a smaller disc."
    )
    category: ClassVar[str] = "spatial_planning"
    rubric: ClassVar[str] = (
        "The puzzle: three pegs A, B and C on bases, the target peg's base green and the others grey, with "
        "coloured discs of different widths stacked on them. A correct solution: every disc ends on the "
        "green-based peg, widest at the bottom and narrowest at the top. Legal moves: one disc at a time is "
        "lifted from the top of a peg and put on another peg, on an empty base or on a wider disc. Illegal: a "
        "disc is put on a narrower disc; a disc is taken from under another; two discs move at once; a disc "
        "floats above an empty slot, vanishes, appears, changes colour or width; the pegs or bases change."
    )
    verifier_class: ClassVar[type[StateVerifier]] = TowerOfHanoiVerifier

    def generate_one(self, rng: random.Random, task_id: str, seed: int, difficulty: str) -> GeneratedTask:
        discs = DISCS[difficulty]
        target = rng.randrange(PEGS)
        distance = distances_to_tower(discs, target)
        classic = rng.random() < CLASSIC_SHARE
        start: Assignment | None = None
        for _ in range(0 if classic else MAX_DRAWS):
            draw = tuple(rng.randrange(PEGS) for _ in range(discs))
            if distance[draw] >= MIN_STEPS[difficulty]:
                start = draw
                break
        if start is None:
            start = (rng.choice([peg for peg in range(PEGS) if peg != target]),) * discs
        solution = solve(start, target)

        low, high = DISC_WIDTHS
        widths = {str(d): (low + (high - low) * (d - 1) // (discs - 1)) // 2 * 2 for d in range(1, discs + 1)}
        top = BASE_TOP - discs * LEVEL
        metadata: dict[str, Any] = {
            "domain": self.name,
            "category": self.category,
            "task_id": task_id,
            "seed": seed,
            "difficulty": difficulty,
            "num_discs": discs,
            "target_peg": target,
            "pegs": stacks(start),
            "solution": [list(move) for move in solution],
            "num_steps": len(solution),
            "render": {
                "grid_origin": [LEFT, top],
                "cell_size": LEVEL,
                "column_width": COLUMN,
                "slot_width": SLOT_WIDTH,
                "disc_height": DISC_HEIGHT,
                "disc_widths": widths,
                "pole_width": POLE_WIDTH,
                "pole_top": top - 24,
                "base_height": BASE_HEIGHT,
                "label_size": LABEL_SIZE,
                "colors": {
                    **{k: list(v) for k, v in COLORS.items() if k != "discs"},
                    "discs": {str(d): list(COLORS["discs"][str(d)]) for d in range(1, discs + 1)},
                },
            },
        }
        frames = self._positions(metadata)
        return GeneratedTask(
            task_id=task_id,
            domain=self.name,
            prompt=PROMPT,
            first_frame=draw_hanoi(metadata, frames[0]),
            final_frame=draw_hanoi(metadata, frames[-1]),
            metadata=metadata,
        )

    @staticmethod
    def _positions(metadata: dict[str, Any]) -> list[tuple[Hashable, ...]]:
        """Slot labels of the first position and after each move of the solution."""
        pegs = [list(peg) for peg in metadata["pegs"]]
        positions = [slots_of(pegs, metadata["num_discs"])]
        for disc, source, dest in metadata["solution"]:
            if not pegs[source] or pegs[source][-1] != disc:
                raise ValueError(f"solution moves disc {disc}, which is not on top of peg {PEG_NAMES[source]}")
            pegs[dest].append(pegs[source].pop())
            positions.append(slots_of(pegs, metadata["num_discs"]))
        return positions

    def render_solution(self, metadata: dict[str, Any]) -> list[np.ndarray]:
        return [to_array(draw_hanoi(metadata, slots)) for slots in self._positions(metadata)]

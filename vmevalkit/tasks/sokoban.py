"""Sokoban: walk the player around a walled room, pushing every box onto a target.

A level is a square room of floor cells (5x5, 6x6 or 7x7 inside a one-cell wall border) with a few wall blocks
inside. It is made by reverse play: the boxes start on their targets and the player walks about at random,
often *pulling* the box behind it, so the level is always solvable. A breadth-first search over (player, boxes)
states then finds the fewest player moves that solve it; a level is kept when that number lies in its
difficulty's range. Each keyframe shows the player one cell further, pushing a box when it walks into one.

Cells are ``[row, col]`` of the room's inside, ``0 .. size - 1``; the border walls sit at ``-1`` and ``size``.

Metadata (besides the common keys):
    size        cells per side of the room's inside
    walls       wall blocks inside the room, ``[row, col]``, sorted (the border is always wall)
    targets     target cells, sorted
    boxes       the first frame's box cells, sorted
    player      the first frame's player cell
    solution    the player's moves, each "U", "D", "L" or "R"
    num_steps   ``len(solution)``; the fewest moves that put a box on every target
    render      grid_origin (of inside cell [0, 0]), cell_size, box_inset, mark_inset, player_inset, colors
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Hashable, Sequence
from typing import Any, ClassVar

import numpy as np
from PIL import Image

from vmevalkit.tasks.base import GeneratedTask, TaskDomain
from vmevalkit.tasks.reading import RegionReader
from vmevalkit.tasks.render import cell_box, color, grid_layout, new_frame, to_array
from vmevalkit.tasks.verifier import State, StateVerifier

Cell = tuple[int, int]
Boxes = tuple[Cell, ...]  # sorted

SIZES = {"easy": 5, "medium": 6, "hard": 7}  # inside cells per side
BOX_COUNTS = {"easy": (1, 1), "medium": (1, 2), "hard": (2, 2)}
INNER_WALLS = {"easy": (0, 2), "medium": (1, 3), "hard": (2, 4)}
# Fewest player moves a kept level needs: at least 4 everywhere, more for harder levels; the upper bound keeps
# the BFS and the video short.
MOVES = {"easy": (4, 12), "medium": (6, 18), "hard": (8, 24)}
REVERSE_STEPS = 40  # random (pulling) player moves of the reverse play
MAX_ATTEMPTS = 500
COLORS = {
    "background": [255, 255, 255],
    "wall": [60, 60, 70],
    "floor": [235, 228, 210],
    "target": [30, 170, 60],
    "box": [150, 85, 30],
    "player": [30, 80, 220],
}
DIRECTIONS: dict[str, Cell] = {"U": (-1, 0), "D": (1, 0), "L": (0, -1), "R": (0, 1)}  # fixed order
LABELS = ("floor", "target", "box", "box_on_target", "player", "player_on_target")
PROMPT = (
    "Sokoban: the blue disc is the player, brown squares are boxes, green squares are targets and dark cells "
    "are walls. Move the player one cell at a time (up, down, left or right) until every target holds a box. "
    "Walking into a box pushes it one cell further; a box cannot be pulled, pushed into a wall or into "
    "another box."
)


def _step(cell: Cell, d: Cell, times: int = 1) -> Cell:
    return cell[0] + d[0] * times, cell[1] + d[1] * times


def live_cells(floor: frozenset[Cell], targets: frozenset[Cell]) -> frozenset[Cell]:
    """Cells from which a box can still be pushed onto some target (others are dead ends for a box).

    Found backwards from the targets: a box at ``x`` reaches a live ``x + d`` when the player can stand at
    ``x - d``.
    """
    live = set(targets)
    queue = deque(targets)
    while queue:
        y = queue.popleft()
        for d in DIRECTIONS.values():
            x, player = _step(y, d, -1), _step(y, d, -2)
            if x in floor and player in floor and x not in live:
                live.add(x)
                queue.append(x)
    return frozenset(live)


def solve(
    floor: frozenset[Cell], targets: frozenset[Cell], player: Cell, boxes: Boxes, max_moves: int
) -> list[str] | None:
    """The fewest player moves that put a box on every target (BFS over player and boxes), or None within
    ``max_moves``."""
    live = live_cells(floor, targets)
    # Per floor cell and direction: the cell walked to and the cell beyond (None off the floor), looked up once.
    ahead = {
        (cell, name): (_step(cell, d) if _step(cell, d) in floor else None, _step(cell, d, 2))
        for cell in floor
        for name, d in DIRECTIONS.items()
    }
    start = (player, boxes)
    parents: dict[tuple[Cell, Boxes], tuple[tuple[Cell, Boxes], str] | None] = {start: None}
    frontier = [start]
    for _ in range(max_moves + 1):
        nxt_frontier = []
        for state in frontier:
            where, on = state
            if frozenset(on) == targets:
                moves: list[str] = []
                while (link := parents[state]) is not None:
                    state, move = link
                    moves.append(move)
                return moves[::-1]
            for name in DIRECTIONS:
                to, beyond = ahead[where, name]
                if to is None:
                    continue
                if to in on:
                    if beyond not in live or beyond in on:
                        continue
                    new_boxes = tuple(sorted(beyond if b == to else b for b in on))
                else:
                    new_boxes = on
                new = (to, new_boxes)
                if new not in parents:
                    parents[new] = (state, name)
                    nxt_frontier.append(new)
        frontier = nxt_frontier
    return None


def apply_move(floor: frozenset[Cell], player: Cell, boxes: Boxes, move: str) -> tuple[Cell, Boxes]:
    """The state after one player move; ValueError when the move is illegal."""
    d = DIRECTIONS[move]
    to = _step(player, d)
    if to not in floor:
        raise ValueError(f"the player at {list(player)} walks into a wall")
    if to in boxes:
        beyond = _step(to, d)
        if beyond not in floor or beyond in boxes:
            raise ValueError(f"the box at {list(to)} is blocked")
        boxes = tuple(sorted(beyond if b == to else b for b in boxes))
    return to, boxes


def _connected(floor: set[Cell]) -> bool:
    start = next(iter(floor))
    seen = {start}
    queue = deque([start])
    while queue:
        cell = queue.popleft()
        for d in DIRECTIONS.values():
            n = _step(cell, d)
            if n in floor and n not in seen:
                seen.add(n)
                queue.append(n)
    return len(seen) == len(floor)


def make_level(rng: random.Random, difficulty: str) -> dict[str, Any]:
    """Walls, targets, boxes, player and the optimal solution of one level, by reverse play and BFS."""
    size = SIZES[difficulty]
    low, high = MOVES[difficulty]
    inside = [(r, c) for r in range(size) for c in range(size)]
    for _ in range(MAX_ATTEMPTS):
        walls = set(rng.sample(inside, rng.randint(*INNER_WALLS[difficulty])))
        floor_set = {cell for cell in inside if cell not in walls}
        if not _connected(floor_set):
            continue
        floor = frozenset(floor_set)
        cells = sorted(floor)
        targets = rng.sample(cells, rng.randint(*BOX_COUNTS[difficulty]))
        boxes = set(targets)
        player = rng.choice([cell for cell in cells if cell not in boxes])
        for _ in range(REVERSE_STEPS):  # reverse play: walk, often pulling the box behind the player
            d = DIRECTIONS[rng.choice("UDLR")]
            to, behind = _step(player, d), _step(player, d, -1)
            if to not in floor or to in boxes:
                continue
            if behind in boxes and rng.random() < 0.75:
                boxes.remove(behind)
                boxes.add(player)
            player = to
        if boxes == set(targets):
            continue
        start_boxes = tuple(sorted(boxes))
        solution = solve(floor, frozenset(targets), player, start_boxes, high)
        if solution is None or len(solution) < low:
            continue
        return {
            "size": size,
            "walls": sorted([list(cell) for cell in walls]),
            "targets": sorted([list(cell) for cell in targets]),
            "boxes": [list(cell) for cell in start_boxes],
            "player": list(player),
            "solution": solution,
        }
    raise RuntimeError(f"no {difficulty} sokoban level found in {MAX_ATTEMPTS} attempts")


def floor_of(metadata: dict[str, Any]) -> frozenset[Cell]:
    walls = {tuple(cell) for cell in metadata["walls"]}
    size = metadata["size"]
    return frozenset((r, c) for r in range(size) for c in range(size) if (r, c) not in walls)


def labels_of(metadata: dict[str, Any], player: Cell, boxes: Boxes) -> dict[Cell, str]:
    """Every floor cell's label in a state."""
    targets = {tuple(cell) for cell in metadata["targets"]}
    labels = {}
    for cell in floor_of(metadata):
        kind = "player" if cell == player else "box" if cell in boxes else "floor"
        if cell in targets:
            kind = "target" if kind == "floor" else f"{kind}_on_target"
        labels[cell] = kind
    return labels


def draw_level(metadata: dict[str, Any], labels: dict[Cell, str]) -> Image.Image:
    """The room with each floor cell drawn as its label says; walls and border never change."""
    spec = metadata["render"]
    colors = {k: color(v) for k, v in spec["colors"].items()}
    origin, cs, size = spec["grid_origin"], spec["cell_size"], metadata["size"]
    image, draw = new_frame(colors["background"])
    for r in range(-1, size + 1):
        for c in range(-1, size + 1):
            if (r, c) not in labels:
                draw.rectangle(cell_box(origin, cs, r, c), fill=colors["wall"])
    for (r, c), label in labels.items():
        draw.rectangle(cell_box(origin, cs, r, c), fill=colors["floor"])
        on_target = label == "target" or label.endswith("_on_target")
        if label.startswith("box"):
            draw.rectangle(cell_box(origin, cs, r, c, spec["box_inset"]), fill=colors["box"])
        elif on_target:
            draw.rectangle(cell_box(origin, cs, r, c, spec["mark_inset"]), fill=colors["target"])
        if label == "box_on_target":  # the target shows through the box's middle
            draw.rectangle(cell_box(origin, cs, r, c, spec["box_mark_inset"]), fill=colors["target"])
        if label.startswith("player"):
            draw.ellipse(cell_box(origin, cs, r, c, spec["player_inset"]), fill=colors["player"])
    return image


def replay(metadata: dict[str, Any]) -> list[tuple[Cell, Boxes]]:
    """Every state of the solution, the first frame's first."""
    floor = floor_of(metadata)
    player: Cell = (metadata["player"][0], metadata["player"][1])
    boxes: Boxes = tuple(sorted((r, c) for r, c in metadata["boxes"]))
    states = [(player, boxes)]
    for move in metadata["solution"]:
        player, boxes = apply_move(floor, player, boxes, move)
        states.append((player, boxes))
    return states


class SokobanVerifier(StateVerifier):
    """Every target must end holding a box; each change is the player stepping to a neighbouring floor cell,
    pushing the one box it walks into one cell further onto free floor; nothing else moves."""

    domain: ClassVar[str] = "sokoban"
    puzzle: ClassVar[str] = "room"

    def __init__(self, metadata: dict[str, Any]) -> None:
        self.floor = floor_of(metadata)
        self.cells = sorted(self.floor)  # region order
        self.targets = frozenset((r, c) for r, c in metadata["targets"])
        super().__init__(metadata)

    def build_reader(self) -> RegionReader:
        spec = self.metadata["render"]
        boxes = [cell_box(spec["grid_origin"], spec["cell_size"], r, c) for r, c in self.cells]
        # Three renders (every cell empty, every cell a box, every cell the player): each cell shows each of its
        # looks once, and a cell's look depends on its own label alone.
        renders = []
        for kind in ("floor", "box", "player"):
            labels = {}
            for cell in self.cells:
                on_target = cell in self.targets
                labels[cell] = ("target" if kind == "floor" else f"{kind}_on_target") if on_target else kind
            renders.append((to_array(draw_level(self.metadata, labels)), [labels[cell] for cell in self.cells]))
        return RegionReader(boxes, renders)

    def initial_state(self) -> State:
        return replay({**self.metadata, "solution": []})[0]

    def solved_state(self) -> State:
        return replay(self.metadata)[-1]

    def state(self, labels: Sequence[Hashable | None]) -> State | None:
        players = [cell for cell, label in zip(self.cells, labels, strict=True) if str(label).startswith("player")]
        if len(players) != 1:  # no player, or two: not a position
            return None
        boxes = tuple(cell for cell, label in zip(self.cells, labels, strict=True) if str(label).startswith("box"))
        return players[0], boxes

    def is_solved(self, state: State | None) -> bool:
        return state is not None and frozenset(state[1]) == self.targets

    def move_error(self, before: State, after: State) -> str | None:
        (p0, boxes0), (p1, boxes1) = before, after
        count = None
        if len(boxes1) != len(boxes0):
            count = f"a box appears or disappears ({len(boxes1)} boxes instead of {len(boxes0)})"
        if p0 == p1:
            return count or "a box moves while the player stands still"
        d = (p1[0] - p0[0], p1[1] - p0[1])
        if abs(d[0]) + abs(d[1]) != 1:
            return f"the player jumps from {list(p0)} to {list(p1)}, which is not a neighbouring cell"
        if p1 in boxes0:  # the player walks into a box: a push
            beyond = _step(p1, d)
            if beyond not in self.floor:
                return f"the player pushes the box at {list(p1)} into a wall"
            if beyond in boxes0:
                return f"the player pushes the box at {list(p1)} into another box"
            if boxes1 != tuple(sorted(beyond if b == p1 else b for b in boxes0)):
                return count or f"the boxes do not end where pushing the box at {list(p1)} puts it ({list(beyond)})"
            return None
        if boxes1 != boxes0:
            if count:
                return count
            moved = sorted(set(boxes0) - set(boxes1))[0]
            return f"the box at {list(moved)} moves although the player does not walk into it (boxes are only pushed)"
        return None

    def end_error(self, state: State) -> str:
        empty = sorted(self.targets - set(state[1]))
        return f"the room ends with {len(empty)} target(s) without a box, e.g. {list(empty[0])}"


class SokobanDomain(TaskDomain):
    name: ClassVar[str] = "sokoban"
    description: ClassVar[str] = "Push every box onto a target in a small walled room, one player step at a time."
    category: ClassVar[str] = "spatial_planning"
    rubric: ClassVar[str] = (
        "The puzzle: a Sokoban room seen from above: dark wall cells around and inside a floor of light cells, "
        "brown square boxes, green square targets and a blue disc (the player). A correct solution: the player "
        "walks one cell at a time (up, down, left or right) and every target ends holding a box (a box on a "
        "target shows green in its middle). Legal moves: the player steps onto a free neighbouring floor cell, "
        "or walks into a box and pushes it one cell further onto free floor. Illegal: the player jumps, walks "
        "through a wall or a box; a box is pulled, moves on its own, is pushed into a wall or another box, or "
        "two boxes move at once; boxes, targets or walls appear, vanish or move."
    )
    verifier_class: ClassVar[type[StateVerifier]] = SokobanVerifier

    def generate_one(self, rng: random.Random, task_id: str, seed: int, difficulty: str) -> GeneratedTask:
        level = make_level(rng, difficulty)
        size = level["size"]
        origin, cell_size = grid_layout(size + 2, size + 2)  # the border wall is part of the picture
        metadata: dict[str, Any] = {
            "domain": self.name,
            "category": self.category,
            "task_id": task_id,
            "seed": seed,
            "difficulty": difficulty,
            **level,
            "num_steps": len(level["solution"]),
            "render": {
                "grid_origin": [origin[0] + cell_size, origin[1] + cell_size],  # inside cell [0, 0]
                "cell_size": cell_size,
                "box_inset": cell_size // 10,  # box: a square almost filling its cell
                "box_mark_inset": cell_size // 4,  # the target showing through a box's middle
                "mark_inset": cell_size // 8,  # target: a green square
                "player_inset": cell_size // 5,  # player: a disc, smaller than the target square
                "colors": {k: list(v) for k, v in COLORS.items()},
            },
        }
        states = replay(metadata)
        return GeneratedTask(
            task_id=task_id,
            domain=self.name,
            prompt=PROMPT,
            first_frame=draw_level(metadata, labels_of(metadata, *states[0])),
            final_frame=draw_level(metadata, labels_of(metadata, *states[-1])),
            metadata=metadata,
        )

    def render_solution(self, metadata: dict[str, Any]) -> list[np.ndarray]:
        return [to_array(draw_level(metadata, labels_of(metadata, p, b))) for p, b in replay(metadata)]

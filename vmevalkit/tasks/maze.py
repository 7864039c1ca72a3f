"""Maze: move a green dot through a perfect maze to a red square.

The maze is a grid of cells carved by a randomized depth-first backtracker, so
every two cells are joined by exactly one corridor path. The solution is the
BFS shortest path of cells from the start to the goal, and the keyframes show
the dot one cell further along that path each time.

Metadata (besides the common keys):
    rows, cols   grid size in cells
    passages     open walls, each ``[[r1, c1], [r2, c2]]`` for two adjacent cells,
                 sorted; every other side between cells, and the outer border, is a wall
    start, goal  ``[row, col]`` cells
    solution     the path as ``[row, col]`` cells, start first, goal last
    num_steps    moves along the path (``len(solution) - 1``)
    render       grid_origin, cell_size, wall_thickness, agent_inset, goal_inset, colors
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Hashable, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from PIL import Image

from vmevalkit.tasks.base import GeneratedTask, TaskDomain
from vmevalkit.tasks.reading import RegionReader
from vmevalkit.tasks.render import cell_box, color, grid_layout, line_span, new_frame, to_array
from vmevalkit.tasks.upstream import maze as upstream
from vmevalkit.tasks.verifier import State, StateVerifier

Cell = tuple[int, int]

SIZES = {"easy": 5, "medium": 6, "hard": 7}  # cells per side
COLORS = {
    "background": [255, 255, 255],
    "wall": [30, 30, 30],
    "agent": [30, 170, 60],
    "goal": [220, 40, 40],
}
PROMPT = (
    "The green dot must travel through the maze's open corridors to the red square without crossing any wall. "
    "Show it moving one cell at a time until it sits on the red square."
)
# Fixed neighbour order (up, down, left, right): with the rng it fixes every choice.
DIRECTIONS: tuple[Cell, ...] = ((-1, 0), (1, 0), (0, -1), (0, 1))


def _neighbours(cell: Cell, rows: int, cols: int) -> list[Cell]:
    r, c = cell
    return [(r + dr, c + dc) for dr, dc in DIRECTIONS if 0 <= r + dr < rows and 0 <= c + dc < cols]


def carve_maze(rng: random.Random, rows: int, cols: int) -> set[frozenset[Cell]]:
    """Open passages of a perfect maze made by an iterative randomized backtracker."""
    start = (rng.randrange(rows), rng.randrange(cols))
    visited = {start}
    stack = [start]
    passages: set[frozenset[Cell]] = set()
    while stack:
        cell = stack[-1]
        unvisited = [n for n in _neighbours(cell, rows, cols) if n not in visited]
        if not unvisited:
            stack.pop()
            continue
        nxt = rng.choice(unvisited)
        passages.add(frozenset((cell, nxt)))
        visited.add(nxt)
        stack.append(nxt)
    return passages


def bfs_parents(start: Cell, rows: int, cols: int, passages: set[frozenset[Cell]]) -> dict[Cell, Cell | None]:
    """BFS tree over open passages; a cell's distance is its depth in this tree."""
    parents: dict[Cell, Cell | None] = {start: None}
    queue = deque([start])
    while queue:
        cell = queue.popleft()
        for n in _neighbours(cell, rows, cols):
            if n not in parents and frozenset((cell, n)) in passages:
                parents[n] = cell
                queue.append(n)
    return parents


def shortest_path(start: Cell, goal: Cell, rows: int, cols: int, passages: set[frozenset[Cell]]) -> list[Cell]:
    parents = bfs_parents(start, rows, cols, passages)
    path = [goal]
    while path[-1] != start:
        parent = parents[path[-1]]
        if parent is None:  # unreachable: only the start has no parent
            raise ValueError(f"no path from {start} to {goal}")
        path.append(parent)
    return path[::-1]


def _passages_from(metadata: dict[str, Any]) -> set[frozenset[Cell]]:
    return {frozenset((tuple(a), tuple(b))) for a, b in metadata["passages"]}


def draw_maze(metadata: dict[str, Any], agent: Cell) -> Image.Image:
    """The maze with the goal marker and the agent at ``agent`` (drawn over the goal when there)."""
    spec = metadata["render"]
    colors = {k: color(v) for k, v in spec["colors"].items()}
    ox, oy = spec["grid_origin"]
    cs, wall = spec["cell_size"], spec["wall_thickness"]
    rows, cols = metadata["rows"], metadata["cols"]
    passages = _passages_from(metadata)
    image, draw = new_frame(colors["background"])

    gr, gc = metadata["goal"]
    draw.rectangle(cell_box(spec["grid_origin"], cs, gr, gc, spec["goal_inset"]), fill=colors["goal"])

    # A wall segment runs along one cell side and overhangs by half its thickness
    # at both ends, so walls meeting at a corner join without gaps.
    for r in range(rows + 1):  # horizontal lines: the top side of row r
        y0, y1 = line_span(oy + r * cs, wall)
        for c in range(cols):
            if 0 < r < rows and frozenset(((r - 1, c), (r, c))) in passages:
                continue
            draw.rectangle(
                (line_span(ox + c * cs, wall)[0], y0, line_span(ox + (c + 1) * cs, wall)[1], y1), fill=colors["wall"]
            )
    for c in range(cols + 1):  # vertical lines: the left side of column c
        x0, x1 = line_span(ox + c * cs, wall)
        for r in range(rows):
            if 0 < c < cols and frozenset(((r, c - 1), (r, c))) in passages:
                continue
            draw.rectangle(
                (x0, line_span(oy + r * cs, wall)[0], x1, line_span(oy + (r + 1) * cs, wall)[1]), fill=colors["wall"]
            )

    draw.ellipse(cell_box(spec["grid_origin"], cs, agent[0], agent[1], spec["agent_inset"]), fill=colors["agent"])
    return image


class MazeVerifier(StateVerifier):
    """The dot must reach the goal; it steps only to a neighbouring cell, through an open passage."""

    domain: ClassVar[str] = "maze"
    puzzle: ClassVar[str] = "maze"

    def __init__(self, metadata: dict[str, Any]) -> None:
        self.passages = {frozenset((tuple(a), tuple(b))) for a, b in metadata["passages"]}
        super().__init__(metadata)

    def build_reader(self) -> RegionReader:
        rows, cols = self.metadata["rows"], self.metadata["cols"]
        spec = self.metadata["render"]
        cells = [(r, c) for r in range(rows) for c in range(cols)]
        boxes = [cell_box(spec["grid_origin"], spec["cell_size"], r, c) for r, c in cells]
        # The maze with the dot in each cell: every cell is seen with the dot once and without it in the others.
        renders = [
            (to_array(draw_maze(self.metadata, dot)), ["dot" if cell == dot else "empty" for cell in cells])
            for dot in cells
        ]
        return RegionReader(boxes, renders)

    def initial_state(self) -> State:
        return tuple(self.metadata["start"])

    def solved_state(self) -> State:
        return tuple(self.metadata["goal"])

    def state(self, labels: Sequence[Hashable | None]) -> State | None:
        dots = [index for index, label in enumerate(labels) if label == "dot"]
        if len(dots) != 1:  # no dot, or two: not a position
            return None
        row, col = divmod(dots[0], int(self.metadata["cols"]))
        return row, col

    def move_error(self, before: State, after: State) -> str | None:
        if abs(before[0] - after[0]) + abs(before[1] - after[1]) != 1:
            return f"the dot jumps from {list(before)} to {list(after)}, which is not a neighbouring cell"
        if frozenset((before, after)) not in self.passages:
            return f"the dot crosses the wall between {list(before)} and {list(after)}"
        return None

    def end_error(self, state: State) -> str:
        return f"the dot ends on {list(state)}, not on the goal {list(self.solved)}"


class MazeDomain(TaskDomain):
    name: ClassVar[str] = "maze"
    description: ClassVar[str] = "Move a green dot through a perfect maze to the red square along open corridors."
    category: ClassVar[str] = "spatial_planning"
    difficulties: ClassVar[tuple[str, ...]] = tuple(SIZES)  # easy, medium, hard
    rubric: ClassVar[str] = (
        "The puzzle: a maze with black walls on white, a green dot (the agent) and a red square (the goal). A "
        "correct solution: the green dot travels along the open corridors, one cell at a time, and ends on "
        "the red square. Illegal: the dot crosses or passes through a wall, skips cells, or leaves the maze; "
        "the walls or the red square move, appear or disappear."
    )
    verifier_class: ClassVar[type[StateVerifier]] = MazeVerifier

    def verifier(self, metadata: dict[str, Any], task_dir: Path | None = None) -> StateVerifier:
        """Ours from the metadata; an imported upstream task's from its pictures too (``tasks/upstream/``)."""
        if upstream.is_upstream(metadata):
            return upstream.UpstreamMazeVerifier(metadata, task_dir)
        return super().verifier(metadata)

    def generate_one(self, rng: random.Random, task_id: str, seed: int, difficulty: str) -> GeneratedTask:
        rows = cols = SIZES[difficulty]
        passages = carve_maze(rng, rows, cols)

        start = (rng.randrange(rows), rng.randrange(cols))
        # The goal is drawn from the farther half of the maze (by corridor distance),
        # so no task is solved in a move or two.
        depth: dict[Cell, int] = {}
        for cell, parent in bfs_parents(start, rows, cols, passages).items():  # BFS order: parents come first
            depth[cell] = 0 if parent is None else depth[parent] + 1
        threshold = max(1, (max(depth.values()) + 1) // 2)
        goal = rng.choice(sorted(cell for cell, d in depth.items() if d >= threshold))
        path = shortest_path(start, goal, rows, cols, passages)

        origin, cell_size = grid_layout(rows, cols)
        metadata: dict[str, Any] = {
            "domain": self.name,
            "category": self.category,
            "task_id": task_id,
            "seed": seed,
            "difficulty": difficulty,
            "rows": rows,
            "cols": cols,
            "passages": sorted(sorted([list(a), list(b)]) for a, b in passages),
            "start": list(start),
            "goal": list(goal),
            "solution": [list(cell) for cell in path],
            "num_steps": len(path) - 1,
            "render": {
                "grid_origin": origin,
                "cell_size": cell_size,
                "wall_thickness": max(4, cell_size // 12),
                "agent_inset": cell_size // 5,  # agent: a disc inside the cell box shrunk by this
                "goal_inset": cell_size // 8,  # goal: a square, slightly larger than the disc
                "colors": {k: list(v) for k, v in COLORS.items()},
            },
        }
        return GeneratedTask(
            task_id=task_id,
            domain=self.name,
            prompt=PROMPT,
            first_frame=draw_maze(metadata, start),
            final_frame=draw_maze(metadata, goal),
            metadata=metadata,
        )

    def render_solution(self, metadata: dict[str, Any]) -> list[np.ndarray]:
        return [to_array(draw_maze(metadata, (r, c))) for r, c in metadata["solution"]]

"""Upstream VMEvalKit's maze: walls, start and end read from the first frame, the green dot from every frame.

Upstream (hokindeng/VMEvalKit ``vmevalkit/tasks/maze_task/maze_reasoning.py``, ``MazeTaskGenerator``) carves a
square maze with maze-dataset's Kruskal generator and draws it with maze-dataset's ``MazePlot`` (black walls
on white, a faint grey strip where a wall is open), then a green dot (``#22c55e``, white edge) on the agent's
cell and a red flag (a brown pole, a ``#ef4444`` triangle) on the end cell, saved at about 500x500 pixels. Its
metadata (``question_metadata.json``, e.g. Video-Reason/VBVR-EvalKit ``paper/assets/maze_task``) keeps only
``maze_size`` ``[rows, cols]``, ``start_pos`` and ``end_pos`` as ``[row, col]`` and ``solution_length`` (the
shortest path's cells, start and end included): no walls.

So the walls are read from the first frame: the grid is found from its ink (``picture.find_grid``), and the
side between two neighbouring cells is a wall where its middle half is mostly ink. The dot and the flag are
found by colour, and must be where ``start_pos`` and ``end_pos`` say; the walls must give a shortest path of
``solution_length`` cells. A misread picture is refused, never judged.

Every cell's looks are cut from the first frame: empty (the cell as drawn; the start cell as plain paper) and
with the dot (the dot's pixels from the start cell pasted at the cell's centre, over the flag on the end
cell). The rules are ours (``tasks/maze.py``): the dot steps to a neighbouring cell through an open side, and
the task is solved when it sits on the end cell.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from vmevalkit.tasks.loader import FIRST_FRAME
from vmevalkit.tasks.reading import RegionReader
from vmevalkit.tasks.render import Box
from vmevalkit.tasks.upstream.picture import Grid, band, find_grid, ink, load_picture
from vmevalkit.tasks.verifier import State, StateVerifier

Cell = tuple[int, int]

# A side between two cells is a wall when this share of its middle half is ink.
WALL_INK = 0.5
# The dot is green (#22c55e) and the flag red (#ef4444): a pixel is one of them when that channel leads the
# other two by this much (the brown pole, 139/69/19, leads by 70 in red: not enough to count as the flag).
COLOUR_LEAD = 80
# Fewest such pixels that make a marker (the dot is about 25 pixels across, the flag's triangle larger).
MIN_MARKER_PIXELS = 20
# A pixel belongs to the dot when it differs from the paper by more than this in some channel...
SPRITE_DIFFERENCE = 24
# ... or lies within this many pixels of one that does (its antialiased rim).
SPRITE_GROW = 2


def is_upstream(metadata: Mapping[str, Any]) -> bool:
    """Whether ``metadata`` is an upstream maze's: a size and no walls."""
    return "passages" not in metadata and "maze_size" in metadata


def _cell(value: Any, rows: int, cols: int, key: str) -> Cell:
    row, col = (int(v) for v in value)
    if not (0 <= row < rows and 0 <= col < cols):
        raise ValueError(f"{key} {[row, col]} lies outside the {rows}x{cols} maze")
    return row, col


def _neighbours(cell: Cell, rows: int, cols: int) -> list[Cell]:
    r, c = cell
    steps = ((-1, 0), (1, 0), (0, -1), (0, 1))
    return [(r + dr, c + dc) for dr, dc in steps if 0 <= r + dr < rows and 0 <= c + dc < cols]


def shortest_path(start: Cell, end: Cell, rows: int, cols: int, passages: set[frozenset[Cell]]) -> list[Cell] | None:
    """The cells of a shortest path from ``start`` to ``end`` through open sides (both included), or None."""
    came_from: dict[Cell, Cell | None] = {start: None}
    queue = deque([start])
    while queue:
        cell = queue.popleft()
        if cell == end:
            path: list[Cell] = []
            at: Cell | None = end
            while at is not None:
                path.append(at)
                at = came_from[at]
            return path[::-1]
        for n in _neighbours(cell, rows, cols):
            if n not in came_from and frozenset((cell, n)) in passages:
                came_from[n] = cell
                queue.append(n)
    return None


def read_walls(picture: np.ndarray, grid: Grid) -> set[frozenset[Cell]]:
    """The open sides between neighbouring cells, as the picture draws them."""
    dark = ink(picture)
    passages: set[frozenset[Cell]] = set()
    for r in range(grid.rows):
        for c in range(grid.cols):
            if c + 1 < grid.cols:  # the vertical side on the right of (r, c)
                ys = slice(round(grid.line_y(r) + grid.pitch_y / 4), round(grid.line_y(r + 1) - grid.pitch_y / 4))
                if dark[ys, band(grid.line_x(c + 1), grid.border)].mean() < WALL_INK:
                    passages.add(frozenset(((r, c), (r, c + 1))))
            if r + 1 < grid.rows:  # the horizontal side below (r, c)
                xs = slice(round(grid.line_x(c) + grid.pitch_x / 4), round(grid.line_x(c + 1) - grid.pitch_x / 4))
                if dark[band(grid.line_y(r + 1), grid.border), xs].mean() < WALL_INK:
                    passages.add(frozenset(((r, c), (r + 1, c))))
    return passages


def _patch(picture: np.ndarray, box: Box) -> np.ndarray:
    x0, y0, x1, y1 = box
    return picture[y0 : y1 + 1, x0 : x1 + 1]


def _marker_cell(picture: np.ndarray, boxes: Sequence[Box], channel: int) -> int | None:
    """The cell (row-major index) with most pixels whose ``channel`` leads the others, or None when none has."""
    counts = []
    for box in boxes:
        patch = _patch(picture, box).astype(np.int16)
        others = np.delete(patch, channel, axis=-1).max(axis=-1)
        counts.append(int((patch[..., channel] - others >= COLOUR_LEAD).sum()))
    best = int(np.argmax(counts))
    return best if counts[best] >= MIN_MARKER_PIXELS else None


def _grown(mask: np.ndarray, by: int) -> np.ndarray:
    grown: np.ndarray = mask.copy()
    for dy in range(-by, by + 1):
        for dx in range(-by, by + 1):
            grown |= np.roll(np.roll(mask, dy, axis=0), dx, axis=1)
    return grown


class UpstreamMazeVerifier(StateVerifier):
    """An imported upstream maze: its walls and markers from its first frame, our maze's rules."""

    domain: ClassVar[str] = "maze"
    puzzle: ClassVar[str] = "maze"

    def __init__(self, metadata: dict[str, Any], task_dir: Path | None) -> None:
        if task_dir is None:
            raise ValueError("an upstream maze's walls are read from its first_frame.png: give the task folder")
        self.rows, self.cols = (int(v) for v in metadata["maze_size"])
        self.picture = load_picture(Path(task_dir) / FIRST_FRAME)
        self.grid = find_grid(self.picture, self.rows, self.cols, "maze")
        self.cells = [(r, c) for r in range(self.rows) for c in range(self.cols)]
        self.boxes = [self.grid.interior(r, c) for r, c in self.cells]
        self.passages = read_walls(self.picture, self.grid)
        self.start, self.end = self._markers(metadata)
        self.path = shortest_path(self.start, self.end, self.rows, self.cols, self.passages) or []
        found = len(self.path) or None
        expected = metadata.get("solution_length")
        if found is None or (expected is not None and found != int(expected)):
            raise ValueError(
                f"the walls read from the first frame give {'no path' if found is None else f'a path of {found} cells'}"
                f" from {list(self.start)} to {list(self.end)}, but solution_length is {expected}: the picture is not "
                "the maze its metadata describes"
            )
        super().__init__(metadata)

    def _markers(self, metadata: Mapping[str, Any]) -> tuple[Cell, Cell]:
        """The dot's and the flag's cells, read by colour and checked against ``start_pos`` and ``end_pos``."""
        dot, flag = _marker_cell(self.picture, self.boxes, 1), _marker_cell(self.picture, self.boxes, 0)
        if dot is None or flag is None:
            missing = "green dot" if dot is None else "red flag"
            raise ValueError(f"the first frame shows no {missing} in any cell of the {self.rows}x{self.cols} maze")
        start, end = self.cells[dot], self.cells[flag]
        for key, seen in (("start_pos", start), ("end_pos", end)):
            if key in metadata and _cell(metadata[key], self.rows, self.cols, key) != seen:
                raise ValueError(f"{key} is {list(metadata[key])} but the first frame shows it on {list(seen)}")
        return start, end

    def _renders(self) -> list[np.ndarray]:
        """The first frame with the dot moved to each cell in turn (row-major)."""
        index = self.cells.index(self.start)
        interiors = np.concatenate([_patch(self.picture, box).reshape(-1, 3) for box in self.boxes])
        paper = np.median(interiors, axis=0).astype(np.uint8)
        box = self.boxes[index]
        sprite = _patch(self.picture, box).copy()
        mask = _grown((np.abs(sprite.astype(np.int16) - paper).max(axis=-1) > SPRITE_DIFFERENCE), SPRITE_GROW)
        base = self.picture.copy()
        _patch(base, box)[mask] = paper  # the start cell, empty
        sx, sy = self.grid.centre(*self.start)
        height, width = base.shape[:2]
        renders = []
        for cell in self.cells:
            cx, cy = self.grid.centre(*cell)
            dx, dy = round(cx - sx), round(cy - sy)
            image = base.copy()
            x0, y0, x1, y1 = box[0] + dx, box[1] + dy, box[2] + dx, box[3] + dy
            if x0 < 0 or y0 < 0 or x1 >= width or y1 >= height:
                raise ValueError(f"the maze's cell {list(cell)} lies partly outside the first frame")
            image[y0 : y1 + 1, x0 : x1 + 1][mask] = sprite[mask]
            renders.append(image)
        return renders

    def build_reader(self) -> RegionReader:
        self.dot_on = self._renders()  # the first frame with the dot on each cell, row-major
        renders = [
            (image, ["dot" if other == cell else "empty" for other in self.cells])
            for cell, image in zip(self.cells, self.dot_on, strict=True)
        ]
        return RegionReader(self.boxes, renders)

    def solution_keyframes(self) -> list[np.ndarray]:
        """The dot on each cell of the shortest path through open sides, start to flag (for the oracle)."""
        return [self.dot_on[self.cells.index(cell)] for cell in self.path]

    def initial_state(self) -> State:
        return self.start

    def solved_state(self) -> State:
        return self.end

    def state(self, labels: Sequence[Hashable | None]) -> State | None:
        dots = [index for index, label in enumerate(labels) if label == "dot"]
        return self.cells[dots[0]] if len(dots) == 1 else None  # no dot, or two: not a position

    def move_error(self, before: State, after: State) -> str | None:
        if abs(before[0] - after[0]) + abs(before[1] - after[1]) != 1:
            return f"the green dot jumps from {list(before)} to {list(after)}, which is not a neighbouring cell"
        if frozenset((before, after)) not in self.passages:
            return f"the green dot crosses the wall between {list(before)} and {list(after)}"
        return None

    def end_error(self, state: State) -> str:
        return f"the green dot ends on {list(state)}, not on the red flag's cell {list(self.solved)}"

"""``task-verifier``: a programmatic judge per task domain, of the end state and of the process.

For every shipped domain (maze, sliding puzzle, sudoku) the verifier reads the puzzle's state from every frame
of the generated video and checks it against the task's rules, which it takes from ``question_metadata.json``
alone (never from ``final_frame.png``):

- ``end_state``: 1 when the video's last frame shows the solved puzzle, else 0;
- ``process``: the share of the video's moves that are legal (1 when no move breaks a rule): a maze dot steps
  to a neighbouring cell through an open passage, a sliding tile moves into the adjacent empty slot, a sudoku
  fills one blank cell at a time and never changes a digit already there. Moves are counted between
  consecutive *different* states, starting from the task's initial state, so a video that never moves has
  made no illegal move (it fails on its end state instead). A video in which no frame shows the puzzle
  gets 0;
- ``task_success``: 1 only when both are perfect: the puzzle is solved by legal moves.

Reading a frame. The domain's own renderer draws every look a cell can have (the maze cell with and without
the dot, each tile in each slot, each digit in each sudoku cell, in black and in blue, and blank). A frame is
resized to the task's frame geometry (at a quarter of its size, where the renders are shrunk alike: see
``GridReader``) and compared cell by cell with those looks by the mean absolute difference over the pixels
where the looks differ (the disc, the tile, the glyphs: the rest of the cell carries no information and would
only dilute the difference). A cell is read as its nearest look only when that look is much nearer than any
look with another label: its distance must be at most ``ACCEPT_FRACTION`` (0.35) of the distance between that
look and the nearest look with another label. Why that is robust:

- H.264 compression and resizing change a cell by a few grey levels, while two looks of a cell differ by tens
  to a hundred (a green disc on white, a red tile against a blue one, a digit against another or against a
  blank). Measured on the oracle's videos of the shipped tasks, the worst cell is 0.15 of the way to another
  look at the writer's default quality (crf 17), 0.16 at 832x480, 0.24 at crf 28 or at 320x320, 0.25 at
  480x480 with crf 28 (the sudoku's thin blue digits are always the tightest case; maze and sliding puzzle
  stay under 0.1); only below about 256x256 does the margin run out;
- a frame caught between two looks (a cross-fade, a dot half-way between two cells, a tile mid-slide) is a
  blend; a 50/50 blend is exactly half-way (0.5) from both looks, so any blend from 35% to 65% is read as
  nothing at all instead of as a wrong state;
- as 0.35 < 0.5, two looks with different labels can never both be accepted (the distance is a metric): a
  read is unambiguous.

A frame in which any cell cannot be read shows no state; it is skipped. A rule is judged between the states
that are read, so a dot that disappears and reappears three cells away still counts as a jump.

A video that cannot be decoded, or a task whose domain has no verifier, scores NaN with the reason in its
details: NaN means "not scored", never "failed".
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from PIL import Image

from vmevalkit.scoring.base import UNIT_RANGE, Range, ScoreBatch, ScoreItem, Scorer
from vmevalkit.tasks.loader import METADATA
from vmevalkit.tasks.maze import draw_maze
from vmevalkit.tasks.render import Box, cell_box, to_array
from vmevalkit.tasks.sliding_puzzle import blank_neighbours, draw_board, slide
from vmevalkit.tasks.sudoku import draw_sudoku
from vmevalkit.video import VideoError, read_frames

# A cell is read as its nearest look only within this fraction of the distance from that look to the nearest
# look with another label. Below 0.5, so two labels can never both match; well above compression noise, and
# it turns blends of two looks away (see the module docstring).
ACCEPT_FRACTION = 0.35

# Frames are compared with the renders at 1/COARSE of the task's frame size (see GridReader).
COARSE = 4
# Pixels compared per cell at most (see CellLooks).
MAX_CELL_PIXELS = 4096

State = tuple[int, ...]  # a puzzle state: the dot's (row, col), the board's tiles, the grid's digits


# --- reading the cells of a frame ---------------------------------------------------------------------------------


class CellLooks:
    """Every look one grid cell can have, as the renderer draws it, restricted to the pixels where looks differ.

    Each look carries the label a reader returns for it; several looks may share a label (a digit written in
    black or in blue is the same digit), and only looks with different labels need telling apart.
    """

    def __init__(self, box: Box, looks: Sequence[tuple[Hashable, np.ndarray]]) -> None:
        if len({label for label, _ in looks}) < 2:
            raise ValueError(f"a cell needs looks with at least two labels to be read, got {[la for la, _ in looks]}")
        self.box = box
        self.labels = [label for label, _ in looks]
        patches = np.stack([patch for _, patch in looks]).astype(np.int16)  # [S, h, w, 3]
        # Only pixels where some look differs from another tell looks apart.
        mask = (patches.max(axis=0) != patches.min(axis=0)).any(axis=-1)
        # Large flat areas (a whole coloured tile) are thinned to a regular lattice of about MAX_CELL_PIXELS:
        # thousands of pixels average compression noise away as well as tens of thousands do, at a tenth the cost.
        step = int(np.ceil(np.sqrt(mask.sum() / MAX_CELL_PIXELS)))
        lattice = np.zeros_like(mask)
        lattice[::step, ::step] = True
        self.mask = mask & lattice
        self.templates = patches[:, self.mask]  # [S, M, 3]
        # How near a frame's cell must be to look s to be read as its label: a fraction of the distance from s to
        # the nearest look with another label (looks sharing a label need not be told apart).
        spacing = np.array([[self._distance(a, b) for b in self.templates] for a in self.templates])
        other_label = np.array([[la != lb for lb in self.labels] for la in self.labels])
        self.accept = ACCEPT_FRACTION * np.where(other_label, spacing, np.inf).min(axis=1)  # [S]

    @staticmethod
    def _distance(a: np.ndarray, b: np.ndarray) -> float:
        return float(np.abs(a - b).mean())

    def read(self, frames: np.ndarray) -> list[Hashable | None]:
        """The label each of ``frames`` (``[N, H, W, 3]``) shows in this cell, or None where it is unclear."""
        x0, y0, x1, y1 = self.box
        patches = frames[:, y0 : y1 + 1, x0 : x1 + 1][:, self.mask].astype(np.int16)  # [N, M, 3]
        distances = np.stack([np.abs(patches - t).mean(axis=(1, 2)) for t in self.templates], axis=1)  # [N, S]
        best = distances.argmin(axis=1)
        return [self.labels[s] if distances[n, s] <= self.accept[s] else None for n, s in enumerate(best.tolist())]


class GridReader:
    """Reads every cell of a frame. Built from renders of the task, each with the label its cells show.

    Frames and renders are compared at ``1 / COARSE`` of the task's frame size: a frame of any size is resized
    straight to that size, as the renders are, so the sub-pixel blur that resizing and compression leave on thin
    strokes (a digit's glyph) averages out, while what tells looks apart (a disc, a tile's colour, a digit's
    shape) stays.
    """

    def __init__(self, boxes: Sequence[Box], renders: Sequence[tuple[np.ndarray, Sequence[Hashable]]]) -> None:
        height, width = renders[0][0].shape[:2]
        self.size = (max(1, width // COARSE), max(1, height // COARSE))  # PIL order: (width, height)
        coarse_renders = [(self.shrink(image), labels) for image, labels in renders]
        self.cells = []
        for index, box in enumerate(boxes):
            x0, y0, x1, y1 = self.coarse_box(box)
            looks: dict[tuple[Hashable, bytes], np.ndarray] = {}
            for image, labels in coarse_renders:
                patch = image[y0 : y1 + 1, x0 : x1 + 1]
                looks.setdefault((labels[index], patch.tobytes()), patch)  # each distinct look once
            self.cells.append(CellLooks((x0, y0, x1, y1), [(label, patch) for (label, _), patch in looks.items()]))

    @staticmethod
    def coarse_box(box: Box) -> Box:
        # Outward rounding: a cell keeps every coarse pixel it touches (neighbours may share an edge pixel).
        x0, y0, x1, y1 = box
        return x0 // COARSE, y0 // COARSE, (x1 + COARSE) // COARSE - 1, (y1 + COARSE) // COARSE - 1

    def shrink(self, frame: np.ndarray) -> np.ndarray:
        """One frame of any size at the comparison size (the task's frame size over COARSE)."""
        image = Image.fromarray(frame)
        return np.asarray(image if image.size == self.size else image.resize(self.size, Image.Resampling.BILINEAR))

    def read(self, frames: np.ndarray) -> list[list[Hashable | None]]:
        """Per frame, the label of every cell (None for a cell that cannot be read)."""
        small = np.stack([self.shrink(frame) for frame in frames])
        per_cell = [cell.read(small) for cell in self.cells]
        return [list(labels) for labels in zip(*per_cell, strict=True)]


# --- one verifier per domain --------------------------------------------------------------------------------------


class PuzzleVerifier(ABC):
    """A domain's rules over states, and how to read a state from a frame's cell labels."""

    domain: ClassVar[str]
    puzzle: ClassVar[str]  # what the frames must show, for reasons: "maze", "board", "grid"

    def __init__(self, metadata: dict[str, Any]) -> None:
        self.metadata = metadata
        self.reader = self.build_reader()
        self.initial, self.solved = self.initial_state(), self.solved_state()

    @abstractmethod
    def build_reader(self) -> GridReader: ...

    @abstractmethod
    def initial_state(self) -> State: ...

    @abstractmethod
    def solved_state(self) -> State: ...

    @abstractmethod
    def state(self, labels: Sequence[Hashable | None]) -> State | None:
        """The state a frame shows, from its cell labels; None when it shows none."""

    @abstractmethod
    def move_error(self, before: State, after: State) -> str | None:
        """Why going from ``before`` to ``after`` breaks the rules, or None for a legal move."""

    @abstractmethod
    def end_error(self, state: State) -> str:
        """Why ``state`` (not the solved one) is not the answer."""

    def read_states(self, frames: np.ndarray) -> list[State | None]:
        return [None if None in labels else self.state(labels) for labels in self.reader.read(frames)]


class MazeVerifier(PuzzleVerifier):
    """The dot must reach the goal; it steps only to a neighbouring cell, through an open passage."""

    domain: ClassVar[str] = "maze"
    puzzle: ClassVar[str] = "maze"

    def __init__(self, metadata: dict[str, Any]) -> None:
        self.passages = {frozenset((tuple(a), tuple(b))) for a, b in metadata["passages"]}
        super().__init__(metadata)

    def build_reader(self) -> GridReader:
        rows, cols = self.metadata["rows"], self.metadata["cols"]
        spec = self.metadata["render"]
        cells = [(r, c) for r in range(rows) for c in range(cols)]
        boxes = [cell_box(spec["grid_origin"], spec["cell_size"], r, c) for r, c in cells]
        # The maze with the dot in each cell: every cell is seen with the dot once and without it in the others.
        renders = [
            (to_array(draw_maze(self.metadata, dot)), ["dot" if cell == dot else "empty" for cell in cells])
            for dot in cells
        ]
        return GridReader(boxes, renders)

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


class SlidingPuzzleVerifier(PuzzleVerifier):
    """The board must end solved; every change is one tile sliding into the adjacent empty slot."""

    domain: ClassVar[str] = "sliding_puzzle"
    puzzle: ClassVar[str] = "board"

    def build_reader(self) -> GridReader:
        size = self.metadata["size"]
        spec = self.metadata["render"]
        boxes = [cell_box(spec["grid_origin"], spec["cell_size"], *divmod(i, size)) for i in range(size * size)]
        # Rotations of 0..8 over the slots: each slot shows each tile (and the blank, 0) in one of them.
        tiles = size * size
        boards = [tuple((i + shift) % tiles for i in range(tiles)) for shift in range(tiles)]
        renders = [(to_array(draw_board(self.metadata, board)), list(board)) for board in boards]
        return GridReader(boxes, renders)

    def initial_state(self) -> State:
        return tuple(tile for row in self.metadata["tiles"] for tile in row)

    def solved_state(self) -> State:
        tiles = self.metadata["size"] ** 2
        return (*range(1, tiles), 0)

    def state(self, labels: Sequence[Hashable | None]) -> State | None:
        return tuple(label for label in labels if isinstance(label, int))

    def move_error(self, before: State, after: State) -> str | None:
        size = self.metadata["size"]
        tiles = sorted(self.initial)
        if sorted(after) != tiles:
            return "the board no longer holds each tile once (tiles appear, vanish or repeat)"
        if sorted(before) != tiles:  # after an illegal move that broke the board: mending it is no slide either
            return "the board is rebuilt from one that did not hold each tile once"
        if after in {slide(before, before[i], size) for i in blank_neighbours(before, size)}:
            return None
        moved = sorted(str(tile) for tile in set(before) - {0} if before.index(tile) != after.index(tile))
        if len(moved) == 1:
            return f"tile {moved[0]} jumps into the empty slot from a slot that is not next to it"
        return f"tiles {', '.join(moved)} move at once, not one tile sliding into the empty slot"

    def end_error(self, state: State) -> str:
        wrong = sum(tile != goal for tile, goal in zip(state, self.solved, strict=True) if tile)
        return f"the board ends unsolved, {wrong} tile(s) out of place"


class SudokuVerifier(PuzzleVerifier):
    """The grid must end equal to the solution; givens never change; digits are filled in one at a time and
    never erased or changed. Ink colour is not judged: a digit is a digit, black or blue."""

    domain: ClassVar[str] = "sudoku"
    puzzle: ClassVar[str] = "grid"

    def build_reader(self) -> GridReader:
        size = self.metadata["size"]
        spec = self.metadata["render"]
        cells = [(r, c) for r in range(size) for c in range(size)]
        boxes = [cell_box(spec["grid_origin"], spec["cell_size"], r, c) for r, c in cells]
        empty = [[0] * size for _ in range(size)]
        renders = [(to_array(draw_sudoku({**self.metadata, "givens": empty}, [])), [0] * len(cells))]
        # Shifted rows of 1..size: each cell shows each digit in one of them, as a given (black) and as a fill.
        for shift in range(size):
            digits = [(r + c + shift) % size + 1 for r, c in cells]
            grid = [digits[r * size : (r + 1) * size] for r in range(size)]
            fills = [[r, c, d] for (r, c), d in zip(cells, digits, strict=True)]
            black = to_array(draw_sudoku({**self.metadata, "givens": grid}, []))
            blue = to_array(draw_sudoku({**self.metadata, "givens": empty}, fills))
            renders += [(black, digits), (blue, digits)]  # the same digit in either ink: one label
        return GridReader(boxes, renders)

    def initial_state(self) -> State:
        return tuple(digit for row in self.metadata["givens"] for digit in row)

    def solved_state(self) -> State:
        return tuple(digit for row in self.metadata["solution_grid"] for digit in row)

    def state(self, labels: Sequence[Hashable | None]) -> State | None:
        return tuple(label for label in labels if isinstance(label, int))

    def _where(self, index: int) -> str:
        row, col = divmod(index, self.metadata["size"])
        return f"row {row + 1}, column {col + 1}"

    def move_error(self, before: State, after: State) -> str | None:
        changed = [i for i, (a, b) in enumerate(zip(before, after, strict=True)) if a != b]
        for i in changed:
            if before[i]:
                kind = "given" if self.initial[i] else "placed"
                change = "erased" if after[i] == 0 else f"changed to {after[i]}"
                return f"the {kind} digit {before[i]} at {self._where(i)} is {change}"
        if len(changed) > 1:
            return f"{len(changed)} digits appear at once; the task fills one cell at a time"
        return None

    def end_error(self, state: State) -> str:
        blank = sum(1 for digit in state if digit == 0)
        wrong = sum(1 for digit, right in zip(state, self.solved, strict=True) if digit and digit != right)
        return f"the grid ends with {blank} blank and {wrong} wrong cell(s)"


VERIFIERS: dict[str, type[PuzzleVerifier]] = {
    "maze": MazeVerifier,
    "sliding_puzzle": SlidingPuzzleVerifier,
    "sudoku": SudokuVerifier,
}


# --- judging a video ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    end_state: float
    process: float
    reason: str
    frames: int  # frames in the video
    frames_read: int  # frames that show a state
    moves: int  # legal moves seen
    violations: int  # illegal moves seen
    first_violation_frame: int | None

    @property
    def passed(self) -> bool:
        return self.end_state == 1.0 and self.process == 1.0

    def details(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "reason": self.reason,
            "first_violation_frame": self.first_violation_frame,
            "frames": self.frames,
            "frames_read": self.frames_read,
            "moves": self.moves,
            "violations": self.violations,
        }


def judge(verifier: PuzzleVerifier, frames: np.ndarray) -> Verdict:
    """Read every frame's state, then judge each change of state and the last frame."""
    states = verifier.read_states(frames)
    read = [(index, state) for index, state in enumerate(states) if state is not None]

    current, moves, violations = verifier.initial, 0, 0
    first_violation: tuple[int, str] | None = None
    for index, state in read:
        if state == current:
            continue
        error = verifier.move_error(current, state)
        if error is None:
            moves += 1
        else:
            violations += 1
            first_violation = first_violation or (index, error)
        current = state  # judge what follows from where the video is now, legal or not

    last = states[-1]
    end_state = 1.0 if last == verifier.solved else 0.0
    if not read:
        process = 0.0  # nothing shown is no process at all, not a flawless one
    else:
        process = 1.0 if moves + violations == 0 else moves / (moves + violations)

    problems = []
    if not read:
        problems.append(f"no frame shows the task's {verifier.puzzle} as the task's renderer draws it")
    elif first_violation is not None:
        index, error = first_violation
        problems.append(f"frame {index}: {error} ({violations} illegal of {moves + violations} moves)")
    if read and end_state != 1.0:
        problems.append(verifier.end_error(last) if last is not None else f"the last frame shows no {verifier.puzzle}")
    reason = "; ".join(problems) or f"solved in {moves} legal moves"
    return Verdict(
        end_state=end_state,
        process=process,
        reason=reason,
        frames=len(states),
        frames_read=len(read),
        moves=moves,
        violations=violations,
        first_violation_frame=first_violation[0] if first_violation else None,
    )


# --- the scorer ---------------------------------------------------------------------------------------------------


class Unscorable(Exception):
    """An item the verifier cannot judge (no verifier for its domain, no task, unreadable task): scored NaN."""


class TaskVerifier(Scorer):
    """Judges each video by its domain's rules: solved end state, legal process, and both (``task_success``).

    Sees the video and the task's metadata (``inputs``: video, task); never the expected final frame.
    """

    name: ClassVar[str] = "task-verifier"
    version: ClassVar[str] = "1"
    dimensions: ClassVar[tuple[str, ...]] = ("task_success", "end_state", "process")
    inputs: ClassVar[frozenset[str]] = frozenset({"video", "task"})
    pass_dimension: ClassVar[str | None] = "task_success"
    ranges: ClassVar[dict[str, Range]] = dict.fromkeys(dimensions, UNIT_RANGE)

    def score_batch(self, items: Sequence[ScoreItem], **kwargs: Any) -> ScoreBatch:
        scores = np.full((len(items), len(self.dimensions)), np.nan)
        details: list[dict[str, Any]] = []
        verifiers: dict[Path, PuzzleVerifier] = {}  # one per task: every model's video of a task shares it
        for row, item in enumerate(items):
            try:
                verdict = self.verdict(item, verifiers)
            except Unscorable as exc:
                details.append({"passed": None, "reason": f"not scored: {exc}"})
            except VideoError as exc:
                details.append({"passed": None, "reason": f"not scored: the video cannot be read: {exc}"})
            except Exception as exc:  # one bad item never kills a batch: it is not scored, and says why
                details.append({"passed": None, "reason": f"not scored: {type(exc).__name__}: {exc}"})
            else:
                scores[row] = (1.0 if verdict.passed else 0.0, verdict.end_state, verdict.process)
                details.append(verdict.details())
        return ScoreBatch(scores=scores, details=details)

    def verdict(self, item: ScoreItem, verifiers: dict[Path, PuzzleVerifier] | None = None) -> Verdict:
        """The verdict on one item (``verifiers``: a cache of built verifiers by task folder)."""
        if item.domain not in VERIFIERS:
            raise Unscorable(f"no verifier for domain '{item.domain}' (task-verifier knows: {', '.join(VERIFIERS)})")
        if item.task_dir is None:
            raise Unscorable("the task folder was not given: task-verifier needs its declared input 'task'")
        verifiers = {} if verifiers is None else verifiers
        if item.task_dir not in verifiers:
            verifiers[item.task_dir] = load_verifier(item.task_dir, item.domain)
        return judge(verifiers[item.task_dir], read_frames(item.video_path))


def load_verifier(task_dir: Path, domain: str) -> PuzzleVerifier:
    """The verifier of the task in ``task_dir``, built from its question_metadata.json alone."""
    path = Path(task_dir) / METADATA
    try:
        metadata = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise Unscorable(f"cannot read the task's rules from {path}: {exc}") from exc
    found = metadata.get("domain") if isinstance(metadata, dict) else None
    if found != domain:
        raise Unscorable(f"{path} describes a '{found}' task, not a '{domain}' task")
    try:
        return VERIFIERS[domain](metadata)
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise Unscorable(
            f"{path} lacks what the {domain} verifier needs ({type(exc).__name__}: {exc}); "
            "rebuild the task with 'vmevalkit tasks build'"
        ) from exc

"""Upstream VMEvalKit's chess mate in one: the 64 squares read from every frame, with looks cut from the task's frames.

Upstream (hokindeng/VMEvalKit ``vmevalkit/tasks/chess_task/chess_reasoning.py``) builds positions from mate
templates (back-rank mates, queen corner mates, rook and knight mates, some with black to move, and their mirror
images): kings, pawns standing as blockers, and one queen, rook or knight (a bishop or king is allowed here too)
that mates in one. Its metadata keeps the position as ``chess_data.initial_fen`` (the side to move is the FEN's)
and the answers as ``mate_moves``, SAN strings any one of which is right (``["Ra8#"]``). The first frame shows
the FEN, the final frame the position after ``mate_moves[0]``, both drawn by python-chess ``chess.svg.board``
(400x400 with a dark margin holding the coordinates, #ffce9e and #d18b47 squares) or, without cairosvg, by a
Pillow fallback (400x400 without margin, squares 50 px, Unicode chess glyphs with a one-pixel outline); white is
always at the bottom.

The board is found in the first frame without knowing which of the two drew it: its two most common colours are
the squares (the lighter one is a8's), the box around them is the board, cut into 8x8 squares that must
alternate. The FEN says what each square holds, so every look is cut from the task's own frames: an empty light
and an empty dark square, and each piece on the square colour it stands on (from the first frame, and from the
final frame for the mover on its mating square). A piece seen on one square colour only is laid on the other
(its pixels that differ from the first ground kept, the rest the other ground). A picture that does not show the
FEN's position is refused with one reason, never judged.

The state is the 64 squares (``"empty"`` or a piece code: ``"wR"``, ``"bP"``), as in our ``chess_mate``. Rules:

- the video starts at ``initial_fen``'s position;
- exactly one piece leaves its square, a piece of the side to move, and it is the mover of one of ``mate_moves``
  (judged at the end: the end must be the position after one of them, ``is_solved`` accepts any);
- a queen, rook or bishop is seen on every square of its line in order, one square at a time, never back, never
  off its line, never through a piece (pawns block like any piece): our ``chess_mate``'s slide
  (``ChessRules.move_error`` in ``tasks/chess_rules.py``);
- a knight's or a king's move is one step: nothing is drawn between its squares, so there is nothing in between
  to check (a limitation: a knight may be seen to glide through other squares' pictures, which are then unread
  frames, not moves);
- a captured piece vanishes only when the mover lands on its square; no other square changes.

So a static video fails (its end is not a mate), a jump-cut of a rook from a1 to a8 fails (a slide of seven
squares in one step), and a rook gliding square by square passes: frames where it straddles two squares are read
as no state and skipped. Pawn moves, castling and promotion never appear upstream; a SAN this module cannot
resolve (those, or one that fits no piece) is refused with a ValueError, so the task is not scored.

The same looks lay out the oracle's solution (``solution_keyframes``): the first frame as stored, then the mover
of ``mate_moves[0]`` on each square of its path, each square redrawn whole, so the oracle baseline passes.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from vmevalkit.tasks.chess_rules import (
    KNIGHT,
    NAMES,
    RAYS,
    SIZE,
    Board,
    ChessRules,
    Move,
    Square,
    piece_name,
    play,
    slide_path,
    square_name,
    targets,
)
from vmevalkit.tasks.loader import FINAL_FRAME, FIRST_FRAME
from vmevalkit.tasks.reading import RegionReader
from vmevalkit.tasks.render import Box
from vmevalkit.tasks.upstream.picture import load_picture
from vmevalkit.tasks.verifier import State

EMPTY = "empty"
# Each of the two square colours must cover this share of the first frame (upstream's: about 40% each).
MIN_SQUARE_SHARE = 0.05
# A pixel is of a square's colour when no channel differs from it by more than this (the board's antialiased edge
# too, never the margin's dark grey or its light letters).
SQUARE_TOLERANCE = 48
# A pixel column or row belongs to the board when this share of the largest column's square-coloured pixels is.
BOARD_LINE = 0.3
# Pixels kept between a square's edge and the patch that is read of it.
INSET = 2
# A square shows a piece when more than this share of its patch differs from its colour; empty when less than
# EMPTY_SHARE does (a pawn, the smallest piece, covers about a fifth of its square).
PIECE_SHARE = 0.04
EMPTY_SHARE = 0.02
# A pixel belongs to a piece when it differs from the square's colour by more than this in some channel.
PIECE_DIFFERENCE = 40
ONE_STEP = {"N": KNIGHT, "K": tuple((dr, dc) for dr in (-1, 0, 1) for dc in (-1, 0, 1) if (dr, dc) != (0, 0))}
SAN = re.compile(r"^([KQRBN])([a-h])?([1-8])?(x)?([a-h][1-8])[+#]?[!?]*$")


def is_upstream(metadata: Mapping[str, Any]) -> bool:
    """Whether ``metadata`` is an upstream chess task's: a FEN and SAN answers, not our pieces and move."""
    data = metadata.get("chess_data")
    return "pieces" not in metadata and isinstance(data, Mapping) and "initial_fen" in data


def parse_fen(fen: str) -> tuple[Board, str]:
    """The pieces (codes as ours: ``"wK"``, ``"bP"``) and the side to move (``"w"`` / ``"b"``) of ``fen``."""
    fields = str(fen).split()
    ranks = fields[0].split("/") if fields else []
    if len(ranks) != SIZE or len(fields) < 2 or fields[1] not in ("w", "b"):
        raise ValueError(f"initial_fen {fen!r} is not a FEN (8 ranks, then 'w' or 'b' to move)")
    board: Board = {}
    for row, rank in enumerate(ranks):
        col = 0
        for char in rank:
            if char.isdigit():
                col += int(char)
            elif char.upper() in "KQRBNP" and col < SIZE:
                board[(row, col)] = ("w" if char.isupper() else "b") + char.upper()
                col += 1
            else:
                raise ValueError(f"initial_fen {fen!r}: rank {SIZE - row} holds {char!r} or more than 8 squares")
        if col != SIZE:
            raise ValueError(f"initial_fen {fen!r}: rank {SIZE - row} has {col} squares, not 8")
    for side in ("w", "b"):
        if list(board.values()).count(side + "K") != 1:
            raise ValueError(f"initial_fen {fen!r} must hold one king of each side")
    return board, fields[1]


def resolve_san(board: Board, side: str, san: str) -> Move:
    """The ``(from, to)`` squares of the piece move ``san`` by ``side``; ValueError for what upstream never plays."""
    found = SAN.match(str(san).strip())
    if found is None:
        raise ValueError(
            f"mate move {san!r} cannot be resolved: only piece moves (K Q R B N) are judged, "
            "never pawn moves, castling or promotion"
        )
    kind, file, rank, _, to_name = found.groups()
    to = (SIZE - int(to_name[1]), "abcdefgh".index(to_name[0]))
    movers = [
        square
        for square, code in sorted(board.items())
        if code == side + kind
        and to in targets(board, square)
        and (file is None or square[1] == "abcdefgh".index(file))
        and (rank is None or square[0] == SIZE - int(rank))
    ]
    if len(movers) != 1:
        what = "no" if not movers else f"{len(movers)}"
        raise ValueError(f"mate move {san!r}: {what} {piece_name(side + kind)}s can go to {to_name}")
    return movers[0], to


def _patch(picture: np.ndarray, box: Box) -> np.ndarray:
    x0, y0, x1, y1 = box
    if x0 < 0 or y0 < 0 or y1 >= picture.shape[0] or x1 >= picture.shape[1]:
        raise ValueError("the final frame is smaller than the first: it does not show the first frame's board")
    return picture[y0 : y1 + 1, x0 : x1 + 1]


class BoardPicture:
    """Where a picture draws its 8x8 board: two square colours, the board's box, every square's patch."""

    def __init__(self, picture: np.ndarray) -> None:
        pixels = picture.reshape(-1, 3).astype(np.int64)
        keys = (pixels[:, 0] << 16) | (pixels[:, 1] << 8) | pixels[:, 2]
        values, counts = np.unique(keys, return_counts=True)
        order = np.argsort(-counts)[:2]
        if len(order) < 2 or counts[order[1]] < MIN_SQUARE_SHARE * len(keys):
            raise ValueError("the first frame shows no chess board: it has no two colours of squares")
        colours = [np.array([(v >> 16) & 255, (v >> 8) & 255, v & 255]) for v in values[order].tolist()]
        self.light, self.dark = sorted(colours, key=lambda rgb: -int(rgb.sum()))

        near = np.zeros(picture.shape[:2], dtype=bool)
        for rgb in (self.light, self.dark):
            near |= np.abs(picture.astype(np.int16) - rgb).max(axis=-1) <= SQUARE_TOLERANCE
        cols, rows = near.sum(axis=0), near.sum(axis=1)
        xs, ys = np.flatnonzero(cols >= BOARD_LINE * cols.max()), np.flatnonzero(rows >= BOARD_LINE * rows.max())
        self.left, self.top = float(xs[0]), float(ys[0])
        self.pitch_x, self.pitch_y = (xs[-1] + 1 - xs[0]) / SIZE, (ys[-1] + 1 - ys[0]) / SIZE
        if min(self.pitch_x, self.pitch_y) < 4 * INSET + 8:
            raise ValueError(f"the first frame's chess board is too small to read ({self.pitch_x * SIZE:.0f} pixels)")

        interiors = [self._interior(r, c) for r in range(SIZE) for c in range(SIZE)]
        width = min(x1 - x0 for x0, _, x1, _ in interiors) + 1
        height = min(y1 - y0 for _, y0, _, y1 in interiors) + 1
        self.boxes: list[Box] = []
        for x0, y0, x1, y1 in interiors:
            left, top = x0 + (x1 - x0 + 1 - width) // 2, y0 + (y1 - y0 + 1 - height) // 2
            self.boxes.append((left, top, left + width - 1, top + height - 1))
        self._check_alternation(picture)

    def _interior(self, row: int, col: int) -> Box:
        x0 = math.ceil(self.left + col * self.pitch_x + INSET)
        x1 = math.floor(self.left + (col + 1) * self.pitch_x - INSET) - 1
        y0 = math.ceil(self.top + row * self.pitch_y + INSET)
        y1 = math.floor(self.top + (row + 1) * self.pitch_y - INSET) - 1
        return x0, y0, x1, y1

    def square(self, index: int) -> Box:
        """The whole of square ``index``, its edge included (a piece drawn to the edge is covered by it)."""
        x0 = math.ceil(self.left + (index % SIZE) * self.pitch_x)
        y0 = math.ceil(self.top + (index // SIZE) * self.pitch_y)
        x1 = math.ceil(self.left + (index % SIZE + 1) * self.pitch_x) - 1
        y1 = math.ceil(self.top + (index // SIZE + 1) * self.pitch_y) - 1
        return x0, y0, x1, y1

    def ground(self, index: int) -> np.ndarray:
        """The colour of square ``index`` (row-major from a8, which is light)."""
        row, col = divmod(index, SIZE)
        return self.light if (row + col) % 2 == 0 else self.dark

    def coverage(self, picture: np.ndarray, index: int) -> float:
        """The share of square ``index``'s patch that differs from its colour: a piece's size, 0 when empty."""
        patch = _patch(picture, self.boxes[index]).astype(np.int16)
        return float((np.abs(patch - self.ground(index)).max(axis=-1) > PIECE_DIFFERENCE).mean())

    def _check_alternation(self, picture: np.ndarray) -> None:
        for index, box in enumerate(self.boxes):
            patch = _patch(picture, box).astype(np.int16)
            own = (np.abs(patch - self.ground(index)).max(axis=-1) <= SQUARE_TOLERANCE).mean()
            other = self.dark if self.ground(index) is self.light else self.light
            if own < 0.3 or (np.abs(patch - other).max(axis=-1) <= SQUARE_TOLERANCE).mean() > 0.05:
                raise ValueError(
                    "the first frame shows no 8x8 board of alternating squares (a8 light): "
                    f"{square_name(divmod(index, 8))} is not of its colour; "
                    "the task's first_frame.png must be the picture upstream generated"
                )


class UpstreamChessVerifier(ChessRules):
    """An imported upstream mate in one: its looks from its frames, its answers from ``mate_moves``."""

    domain: ClassVar[str] = "chess_mate"
    puzzle: ClassVar[str] = "board"

    def __init__(self, metadata: dict[str, Any], task_dir: Path | None) -> None:
        if task_dir is None:
            raise ValueError("an upstream chess task is read with looks cut from its frames: give the task folder")
        data = metadata["chess_data"]
        self.board, self.side = parse_fen(data["initial_fen"])
        sans = metadata.get("mate_moves", data.get("mate_moves"))
        if not isinstance(sans, list) or not sans:
            raise ValueError("the task names no mate_moves: an upstream chess task is judged against them")
        self.answers = [resolve_san(self.board, self.side, san) for san in sans]
        self.sans = [str(san) for san in sans]
        self.task_dir = Path(task_dir)
        super().__init__(metadata)

    # ------------------------------------------------------------ reading

    def _position(self, board: Board) -> State:
        return tuple(board.get(divmod(i, SIZE), EMPTY) for i in range(SIZE * SIZE))

    def _looks(self) -> tuple[np.ndarray, BoardPicture, dict[tuple[str, str], np.ndarray]]:
        """The first frame, where its board lies, and every look: ``(code or "empty", "light" / "dark")`` ->
        the patch read of a square, cut from the task's frames (a piece seen on one colour only laid on the other)."""
        path = self.task_dir / FIRST_FRAME
        if not path.is_file():
            raise ValueError(f"the task has no {FIRST_FRAME}: an upstream chess task is read with looks cut from it")
        picture = load_picture(path)
        geometry = BoardPicture(picture)
        looks: dict[tuple[str, str], np.ndarray] = {}
        frames = [(FIRST_FRAME, picture, self._position(self.board))]
        final_path = self.task_dir / FINAL_FRAME
        if final_path.is_file():
            frames.append((FINAL_FRAME, load_picture(final_path), self._position(play(self.board, self.answers[0]))))
        for name, image, position in frames:
            for index, label in enumerate(position):
                share = geometry.coverage(image, index)
                where = square_name(divmod(index, SIZE))
                if label == EMPTY and share > EMPTY_SHARE:
                    raise ValueError(f"the {name} shows a piece on {where}, where the task's position has none")
                if label != EMPTY and share < PIECE_SHARE:
                    raise ValueError(
                        f"the {name} shows no piece on {where}, where the task's position has the {piece_name(label)}"
                    )
                looks.setdefault((str(label), _shade(index)), _patch(image, geometry.boxes[index]).copy())
        for shade in ("light", "dark"):
            if (EMPTY, shade) not in looks:  # a full board: the square's plain colour
                size = _patch(picture, geometry.boxes[0]).shape
                ground = geometry.light if shade == "light" else geometry.dark
                looks[(EMPTY, shade)] = np.broadcast_to(ground.astype(np.uint8), size).copy()
        for code in sorted({code for code, _ in looks} - {EMPTY}):
            for shade, other in (("light", "dark"), ("dark", "light")):
                if (code, shade) not in looks:
                    looks[(code, shade)] = _laid_on(looks[(code, other)], looks[(EMPTY, other)], looks[(EMPTY, shade)])
        return picture, geometry, looks

    def build_reader(self) -> RegionReader:
        picture, geometry, looks = self._looks()
        base = picture.copy()
        for index in range(SIZE * SIZE):  # the whole square its colour, pieces and all cleared
            x0, y0, x1, y1 = geometry.square(index)
            base[y0 : y1 + 1, x0 : x1 + 1] = geometry.ground(index)
        renders = []
        for label in [EMPTY, *sorted({code for code, _ in looks} - {EMPTY})]:
            image = base.copy()
            for index, (x0, y0, x1, y1) in enumerate(geometry.boxes):
                image[y0 : y1 + 1, x0 : x1 + 1] = looks[(label, _shade(index))]
            renders.append((image, [label] * (SIZE * SIZE)))
        return RegionReader(geometry.boxes, renders)

    def solution_keyframes(self) -> list[np.ndarray]:
        """The first frame as stored, then the mover of ``mate_moves[0]`` on each square of its path in turn (for
        the oracle): a slider on every square of its line, a knight or king on its target at once; a captured
        piece goes only when the mover lands on it. Each square is redrawn whole (its colour, then the look this
        verifier reads there), so the last keyframe reads as the solved position."""
        picture, geometry, looks = self._looks()
        start, target = self.answers[0]
        code = self.board[start]
        path = [target] if code[1] in ONE_STEP else slide_path(start, target)
        image, frames = picture.copy(), [picture]
        at = start
        for square in path:
            for index, label in ((at[0] * SIZE + at[1], EMPTY), (square[0] * SIZE + square[1], code)):
                x0, y0, x1, y1 = geometry.square(index)
                image[y0 : y1 + 1, x0 : x1 + 1] = geometry.ground(index)
                bx0, by0, bx1, by1 = geometry.boxes[index]
                image[by0 : by1 + 1, bx0 : bx1 + 1] = looks[(label, _shade(index))]
            frames.append(image.copy())
            at = square
        return frames

    # ------------------------------------------------------------ rules

    def initial_state(self) -> State:
        return self._position(self.board)

    def solved_state(self) -> State:
        return self._position(play(self.board, self.answers[0]))

    def is_solved(self, state: State | None) -> bool:
        return any(state == self._position(play(self.board, move)) for move in self.answers)

    def displacement(self, state: State) -> tuple[Square, Square] | None | str:
        """``(start, square)`` of the one piece of the side to move that left its square along its lines; None
        when nothing moved; otherwise why ``state`` is no such position (a string)."""
        moved = self.one_move(state)
        if moved is None or isinstance(moved, str):
            return moved
        start, square, code, was = moved
        mover = "white" if self.side == "w" else "black"
        if code[0] != self.side:
            return f"the {piece_name(code)} moves, but {mover} is to move"
        if start not in {move[0] for move in self.answers}:
            return f"the {piece_name(code)} on {square_name(start)} moves; it gives no mate ({', '.join(self.sans)})"
        if was != EMPTY and str(was)[0] == self.side:
            return f"the {piece_name(code)} lands on its own {piece_name(str(was))} on {square_name(square)}"
        step = (square[0] - start[0], square[1] - start[1])
        if code[1] in ONE_STEP:
            if step not in ONE_STEP[code[1]]:
                return (
                    f"the {piece_name(code)} goes from {square_name(start)} to {square_name(square)}, "
                    f"which is no {NAMES[code[1]]}'s move"
                )
            return start, square
        dr, dc = step
        if not (dr == 0 or dc == 0 or abs(dr) == abs(dc)) or (_unit(dr), _unit(dc)) not in RAYS.get(code[1], ()):
            return f"the {piece_name(code)} goes from {square_name(start)} to {square_name(square)}, off its lines"
        for passed in slide_path(start, square)[:-1]:
            blocker = self.initial[passed[0] * SIZE + passed[1]]
            if blocker != EMPTY:
                return f"the {piece_name(code)} passes through the {piece_name(str(blocker))} on {square_name(passed)}"
        return start, square

    def move_error(self, before: State, after: State) -> str | None:
        """A knight's or king's move is one step (nothing to see between); a slider's is our chess_mate's slide."""
        new = self.displacement(after)
        if isinstance(new, tuple) and str(self.initial[new[0][0] * SIZE + new[0][1]])[1] in ONE_STEP:
            old = self.displacement(before)
            if old is None:
                return None
            if isinstance(old, tuple):
                code = str(after[new[1][0] * SIZE + new[1][1]])
                return (
                    f"the {piece_name(code)} goes on from {square_name(old[1])} to {square_name(new[1])}: "
                    "a mate in one is one move"
                )
        return super().move_error(before, after)

    def end_error(self, state: State) -> str:
        moved = self.displacement(state)
        answers = ", ".join(self.sans)
        if isinstance(moved, str):
            return f"the board ends altered: {moved}"
        if moved is None:
            return f"no piece moves; the mate is {answers}"
        start, square = moved
        code = str(state[square[0] * SIZE + square[1]])
        return (
            f"the {piece_name(code)} ends on {square_name(square)} (from {square_name(start)}), "
            f"which is not the mate ({answers})"
        )


def _shade(index: int) -> str:
    """Square ``index``'s colour (row-major from a8, which is light)."""
    return "light" if sum(divmod(index, SIZE)) % 2 == 0 else "dark"


def _unit(value: int) -> int:
    return (value > 0) - (value < 0)


def _laid_on(patch: np.ndarray, ground: np.ndarray, other: np.ndarray) -> np.ndarray:
    """A piece seen on ``ground`` laid on ``other``: its pixels that differ from ``ground`` kept, the rest swapped."""
    piece = np.abs(patch.astype(np.int16) - ground.astype(np.int16)).max(axis=-1) > PIECE_DIFFERENCE / 2
    laid: np.ndarray = np.where(piece[..., None], patch, other).astype(np.uint8)
    return laid

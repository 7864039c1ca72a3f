"""Chess on an 8x8 board: squares, pieces, moves, and the rules of one piece sliding to give mate.

Shared by our ``chess_mate`` domain (which draws its own boards) and the verifier of imported upstream chess
tasks (``tasks/upstream/chess.py``, which reads upstream's pictures): one statement of the geometry and of the
slide rules, whatever draws the board. A verifier built on ``ChessRules`` supplies its reader and its initial
and solved states; the state is the 64 squares in reading order (``"empty"`` or a piece code like ``"wR"``).

Squares are ``(row, col)`` with row 0 the top (rank 8) and col 0 file a; messages name them in algebraic
notation ("e4").
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import ClassVar

from vmevalkit.tasks.verifier import State, StateVerifier

Square = tuple[int, int]  # (row, col); row 0 is rank 8
Board = dict[Square, str]  # square -> piece code
Move = tuple[Square, Square]

SIZE = 8
ORTHOGONAL: tuple[Square, ...] = ((-1, 0), (1, 0), (0, -1), (0, 1))
DIAGONAL: tuple[Square, ...] = ((-1, -1), (-1, 1), (1, -1), (1, 1))
KNIGHT: tuple[Square, ...] = ((-2, -1), (-2, 1), (-1, -2), (-1, 2), (1, -2), (1, 2), (2, -1), (2, 1))
RAYS: dict[str, tuple[Square, ...]] = {"Q": ORTHOGONAL + DIAGONAL, "R": ORTHOGONAL, "B": DIAGONAL}
NAMES = {"K": "king", "Q": "queen", "R": "rook", "B": "bishop", "N": "knight", "P": "pawn"}  # pawns: upstream's


def square_name(square: Square) -> str:
    return f"{'abcdefgh'[square[1]]}{SIZE - square[0]}"


def parse_square(name: str) -> Square:
    return SIZE - int(name[1]), "abcdefgh".index(name[0])


def piece_name(code: str) -> str:
    return f"{'white' if code[0] == 'w' else 'black'} {NAMES[code[1]]}"


def inside(r: int, c: int) -> bool:
    return 0 <= r < SIZE and 0 <= c < SIZE


def attacked(board: Board, square: Square, by: str) -> bool:
    """Whether a piece of colour ``by`` ("w" / "b") attacks ``square``, looking outward from the square."""
    r, c = square
    for dr, dc in KNIGHT:
        if board.get((r + dr, c + dc)) == by + "N":
            return True
    for rays, sliders in ((ORTHOGONAL, "QR"), (DIAGONAL, "QB")):
        for dr, dc in rays:
            y, x, dist = r + dr, c + dc, 1
            while inside(y, x):
                code = board.get((y, x))
                if code is not None:
                    if code[0] == by and (code[1] in sliders or (code[1] == "K" and dist == 1)):
                        return True
                    break
                y, x, dist = y + dr, x + dc, dist + 1
    return False


def king_square(board: Board, side: str) -> Square:
    return next(square for square, code in board.items() if code == side + "K")


def in_check(board: Board, side: str) -> bool:
    return attacked(board, king_square(board, side), "b" if side == "w" else "w")


def targets(board: Board, square: Square) -> list[Square]:
    """Squares the piece on ``square`` can move to, ignoring whether its own king is left in check."""
    code = board[square]
    side, kind = code[0], code[1]
    r, c = square
    found: list[Square] = []
    if kind in ("K", "N"):
        steps = KNIGHT if kind == "N" else ORTHOGONAL + DIAGONAL
        for dr, dc in steps:
            to = (r + dr, c + dc)
            if inside(*to) and board.get(to, "x")[0] != side:
                found.append(to)
        return found
    for dr, dc in RAYS[kind]:
        y, x = r + dr, c + dc
        while inside(y, x):
            code_there = board.get((y, x))
            if code_there is None:
                found.append((y, x))
            else:
                if code_there[0] != side:
                    found.append((y, x))
                break
            y, x = y + dr, x + dc
    return found


def play(board: Board, move: Move) -> Board:
    after = dict(board)
    after[move[1]] = after.pop(move[0])
    return after


def has_legal_move(board: Board, side: str) -> bool:
    """Whether ``side`` has any legal move (stops at the first one found)."""
    for square in [s for s, code in board.items() if code[0] == side]:
        for to in targets(board, square):
            if board.get(to, "")[1:] != "K" and not in_check(play(board, (square, to)), side):
                return True
    return False


def slide_path(start: Square, end: Square) -> list[Square]:
    """The squares from ``start`` (excluded) to ``end`` (included) along a straight or diagonal line."""
    dr, dc = end[0] - start[0], end[1] - start[1]
    steps = max(abs(dr), abs(dc))
    ur, uc = (dr > 0) - (dr < 0), (dc > 0) - (dc < 0)
    return [(start[0] + k * ur, start[1] + k * uc) for k in range(1, steps + 1)]


class ChessRules(StateVerifier):
    """One white queen, rook or bishop slides one square per step along one line; the end must be the mate."""

    domain: ClassVar[str] = "chess_mate"
    puzzle: ClassVar[str] = "board"

    def state(self, labels: Sequence[Hashable | None]) -> State | None:
        return tuple(labels)

    def one_move(self, state: State) -> tuple[Square, Square, str, str] | None | str:
        """``(start, square, piece, what was on square)`` when ``state`` is the initial position with one piece moved
        from ``start`` to ``square`` (on an empty square or a capture); None when nothing moved; otherwise why it
        is no such position (a string). Whose move and along which lines is the caller's rule."""
        changed = [divmod(i, SIZE) for i, (a, b) in enumerate(zip(self.initial, state, strict=True)) if a != b]
        if not changed:
            return None
        names = ", ".join(square_name(s) for s in changed)
        if len(changed) != 2:
            return f"{len(changed)} squares change at once ({names}): only one piece may move, one square a step"
        at = {s: (str(self.initial[s[0] * SIZE + s[1]]), str(state[s[0] * SIZE + s[1]])) for s in changed}
        left = [s for s in changed if at[s][0] != "empty" and at[s][1] == "empty"]
        if len(left) != 1:
            return f"the squares {names} change, but no piece simply leaves its square"
        start = left[0]
        code = at[start][0]
        (square,) = [s for s in changed if s != start]
        was, now = at[square]
        if now != code:
            what = "the empty square" if was == "empty" else f"the {piece_name(was)}"
            return (
                f"the {piece_name(code)} leaves {square_name(start)}, and {what} on {square_name(square)} "
                f"turns into a {piece_name(now)}"
            )
        return start, square, code, was

    def displacement(self, state: State) -> tuple[Square, Square] | None | str:
        """``(start, square)`` of the one white slider moved from its square along a clear line; None when
        nothing moved; otherwise why ``state`` is no such position (a string)."""
        moved = self.one_move(state)
        if moved is None or isinstance(moved, str):
            return moved
        start, square, code, was = moved
        if code[0] != "w":
            return f"the {piece_name(code)} moves, but white is to move"
        if code[1] not in RAYS:
            return f"the {piece_name(code)} moves; the mate is given by a sliding piece (queen, rook or bishop)"
        if was != "empty" and was[0] == "w":
            return f"the {piece_name(code)} lands on its own {piece_name(was)} on {square_name(square)}"
        dr, dc = square[0] - start[0], square[1] - start[1]
        straight = dr == 0 or dc == 0
        if not (straight or abs(dr) == abs(dc)) or (straight and code[1] == "B") or (not straight and code[1] == "R"):
            return f"the {piece_name(code)} goes from {square_name(start)} to {square_name(square)}, off its lines"
        for passed in slide_path(start, square)[:-1]:
            blocker = self.initial[passed[0] * SIZE + passed[1]]
            if blocker != "empty":
                return f"the {piece_name(code)} passes through the {piece_name(blocker)} on {square_name(passed)}"
        return start, square

    def move_error(self, before: State, after: State) -> str | None:
        new = self.displacement(after)
        if isinstance(new, str):
            return new
        old = self.displacement(before)
        if isinstance(old, str):
            return "the board is put back from an altered position, which no slide does"
        if new is None:
            if old is not None:
                return f"the {piece_name(before[old[1][0] * SIZE + old[1][1]])} jumps back to {square_name(old[0])}"
            return None
        start, square = new
        code = after[square[0] * SIZE + square[1]]
        if old is None:
            if max(abs(square[0] - start[0]), abs(square[1] - start[1])) != 1:
                return (
                    f"the {piece_name(code)} jumps from {square_name(start)} to {square_name(square)} at once; "
                    "it must slide one square at a time"
                )
            return None
        if old[0] != start:
            return f"a second piece moves: the {piece_name(code)} leaves {square_name(start)}"
        previous = old[1]
        path, before_path = slide_path(start, square), slide_path(start, previous)
        if path[0] != before_path[0]:  # the first square out of ``start`` fixes the line and its direction
            return (
                f"the {piece_name(code)} changes direction: from {square_name(previous)} it goes to "
                f"{square_name(square)}, off the line it was sliding along"
            )
        steps = len(path) - len(before_path)
        if steps < 0:
            return f"the {piece_name(code)} slides back from {square_name(previous)} to {square_name(square)}"
        if steps > 1:
            return (
                f"the {piece_name(code)} jumps from {square_name(previous)} to {square_name(square)}, "
                f"{steps} squares in one step, instead of sliding one square at a time"
            )
        return None

    def end_error(self, state: State) -> str:
        moved = self.displacement(state)
        if isinstance(moved, str):
            return f"the board ends altered: {moved}"
        if moved is None:
            return "no piece moves"
        start, square = moved
        code = state[square[0] * SIZE + square[1]]
        return f"the {piece_name(code)} ends on {square_name(square)} (from {square_name(start)}), which is not mate"

"""Chess mate in one: white to move has exactly one mating move, a queen, rook or bishop sliding two squares or more.

Pieces are drawn as big letters in discs (K Q R B N; white: a white disc with a black letter, black: a black disc
with a white letter) on a green and tan 8x8 board, white at the bottom. There are no pawns, so no castling, en
passant or promotion. The solution shows the mating piece sliding along its line one square per keyframe until
it stands on the mating square (capturing a black piece there, if one stands on it).

How a task is made: the black king is placed (mostly on an edge, where mates happen), the white king near it,
then the other pieces of the difficulty's material on random free squares. The position is kept when it is
legal with white to move (no king in check), white has exactly one move that checkmates (found by trying every
legal white move with the small move generator below), that move is made by a queen, rook or bishop travelling
at least two squares, and the position has at least the difficulty's number of *decoy* checks (checking moves
that do not mate). Otherwise new squares are drawn.

Squares are ``(row, col)`` with row 0 the top (rank 8) and col 0 file a; metadata names them in algebraic
notation ("e4").

Metadata (besides the common keys):
    pieces       ``{square: code}`` for every piece, codes "wK", "wQ", "wR", "wB", "wN", "bK", "bR", "bB", "bN"
    move         the mating move: ``{"piece": code, "from": square, "to": square, "capture": code or None}``
    decoy_checks the other checking moves, as ``"from-to"`` strings (none of them mates)
    solution     the squares the mating piece stands on after each step, as ``[row, col]``, the target last
    num_steps    ``len(solution)``: the squares travelled (>= 2)
    render       grid_origin, cell_size, disc_inset, outline, font_size, stroke, label_size, colors
"""

from __future__ import annotations

import json
import random
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from PIL import Image, ImageDraw

from vmevalkit.tasks.base import GeneratedTask, TaskDomain
from vmevalkit.tasks.chess_rules import (
    DIAGONAL,
    KNIGHT,
    ORTHOGONAL,
    RAYS,
    SIZE,
    Board,
    ChessRules,
    Move,
    Square,
    has_legal_move,
    in_check,
    king_square,
    parse_square,
    play,
    slide_path,
    square_name,
    targets,
)
from vmevalkit.tasks.chess_rules import inside as _inside
from vmevalkit.tasks.reading import RegionReader
from vmevalkit.tasks.render import cell_box, cell_center, color, grid_layout, new_frame, to_array
from vmevalkit.tasks.render import font as load_font
from vmevalkit.tasks.upstream import chess as upstream
from vmevalkit.tasks.verifier import State, StateVerifier

# White's pieces besides the king, black's besides the king, and the decoy checks a position must offer.
MATERIAL: dict[str, dict[str, Any]] = {
    "easy": {"white": [("Q", "R")], "black": [], "decoys": 0},
    "medium": {"white": [("Q", "R", "B"), ("R", "B", "N")], "black": [("R", "B", "N")], "decoys": 1},
    "hard": {
        "white": [("Q", "R", "B"), ("R", "B", "N"), ("R", "B", "N")],
        "black": [("R", "B", "N"), ("R", "B", "N")],
        "decoys": 3,
    },
}
COLORS = {
    "background": [250, 250, 250],
    "light": [232, 200, 120],
    "dark": [95, 150, 85],
    "white_piece": [255, 255, 255],
    "black_piece": [20, 20, 20],
    "label": [60, 60, 60],
}
PROMPT = (
    "Chess, white to move: find the one move that checkmates black at once. White pieces are white discs with "
    "black letters, black pieces are black discs with white letters (K king, Q queen, R rook, B bishop, "
    "N knight); white plays up the board. The mate is given by a queen, rook or bishop: show that piece sliding "
    "along its line one square at a time until it reaches the mating square, and nothing else moving."
)


def _free(rng: random.Random, board: Board) -> Square:
    while True:
        square = divmod(rng.randrange(SIZE * SIZE), SIZE)
        if square not in board:
            return square


def draw_position(rng: random.Random, difficulty: str) -> Board:
    """Random squares for the difficulty's material: the black king mostly on an edge, the white king near it."""
    material = MATERIAL[difficulty]
    if rng.random() < 0.85:
        along = rng.randrange(SIZE)
        bk = [(0, along), (SIZE - 1, along), (along, 0), (along, SIZE - 1)][rng.randrange(4)]
    else:
        bk = divmod(rng.randrange(SIZE * SIZE), SIZE)
    board: Board = {bk: "bK"}
    while True:  # two or three squares from the black king (the kings may not touch), often facing it
        if rng.random() < 0.5:
            wk = (bk[0] + rng.choice((-2, 0, 2)), bk[1] + rng.choice((-2, 0, 2)))
        else:
            wk = (bk[0] + rng.randint(-3, 3), bk[1] + rng.randint(-3, 3))
        if _inside(*wk) and max(abs(wk[0] - bk[0]), abs(wk[1] - bk[1])) >= 2:
            break
    board[wk] = "wK"
    for side in ("white", "black"):
        for kinds in material[side]:
            board[_free(rng, board)] = side[0] + rng.choice(kinds)
    return board


def check_candidates(board: Board) -> tuple[dict[str, set[Square]], set[Square]]:
    """Where each white piece kind would give direct check, and the white pieces that would uncover one.

    Both come from rays and knight jumps out of the black king's square; they let ``mates_and_checks`` skip
    the moves that cannot check before playing them (every candidate is still verified by ``in_check``).
    """
    r, c = king_square(board, "b")
    direct: dict[str, set[Square]] = {"Q": set(), "R": set(), "B": set(), "N": set(), "K": set()}
    direct["N"] = {(r + dr, c + dc) for dr, dc in KNIGHT if _inside(r + dr, c + dc)}
    uncovering: set[Square] = set()
    for rays, kinds in ((ORTHOGONAL, "QR"), (DIAGONAL, "QB")):
        for dr, dc in rays:
            y, x = r + dr, c + dc
            first: Square | None = None
            while _inside(y, x):
                code = board.get((y, x))
                if first is None:
                    for kind in kinds:
                        direct[kind].add((y, x))
                if code is not None:
                    if first is not None:
                        if code[0] == "w" and code[1] in kinds and board[first][0] == "w":
                            uncovering.add(first)
                        break
                    first = (y, x)
                y, x = y + dr, x + dc
    return direct, uncovering


def mates_and_checks(board: Board) -> tuple[list[Move], list[Move]]:
    """White's mating moves and its other checking moves."""
    mates: list[Move] = []
    checks: list[Move] = []
    direct, uncovering = check_candidates(board)
    for square in sorted(s for s, code in board.items() if code[0] == "w"):
        for to in targets(board, square):
            if board.get(to, "")[1:] == "K" or (to not in direct[board[square][1]] and square not in uncovering):
                continue
            after = play(board, (square, to))
            # Only checking moves can mate: the cheap test first, white's own safety next, replies last.
            if not in_check(after, "b") or in_check(after, "w"):
                continue
            (checks if has_legal_move(after, "b") else mates).append((square, to))
    return mates, checks


def make_position(rng: random.Random, difficulty: str) -> tuple[Board, Move, list[Move]]:
    while True:
        board = draw_position(rng, difficulty)
        if in_check(board, "b") or in_check(board, "w"):
            continue
        mates, checks = mates_and_checks(board)
        if len(mates) != 1 or len(checks) < MATERIAL[difficulty]["decoys"]:
            continue
        start, end = mates[0]
        if board[start][1] in RAYS and len(slide_path(start, end)) >= 2:
            return board, mates[0], checks


def _board_from(metadata: dict[str, Any]) -> Board:
    return {parse_square(name): code for name, code in metadata["pieces"].items()}


@lru_cache(maxsize=8)
def _empty_board(spec_json: str) -> Image.Image:
    """The board without pieces: squares, and file and rank names outside them (static, never in a square)."""
    spec = json.loads(spec_json)
    colors = {name: color(rgb) for name, rgb in spec["colors"].items()}
    origin, cs = spec["grid_origin"], spec["cell_size"]
    image, draw = new_frame(colors["background"])
    label_font = load_font(spec["label_size"])
    for i in range(SIZE):
        x, y = cell_center(origin, cs, SIZE - 1, i)[0], origin[1] + SIZE * cs + origin[1] // 2
        draw.text((x, y), "abcdefgh"[i], fill=colors["label"], font=label_font, anchor="mm")
        x, y = origin[0] // 2, cell_center(origin, cs, i, 0)[1]
        draw.text((x, y), str(SIZE - i), fill=colors["label"], font=label_font, anchor="mm")
    for r in range(SIZE):
        for c in range(SIZE):
            draw.rectangle(cell_box(origin, cs, r, c), fill=colors["light" if (r + c) % 2 == 0 else "dark"])
    return image


@lru_cache(maxsize=64)
def _piece_tile(spec_json: str, code: str, shade: str) -> Image.Image:
    """One square of colour ``shade`` ("light" / "dark") holding ``code``'s lettered disc."""
    spec = json.loads(spec_json)
    colors = {name: color(rgb) for name, rgb in spec["colors"].items()}
    cs, inset = spec["cell_size"], spec["disc_inset"]
    image, draw = new_frame(colors[shade])
    image = image.crop((0, 0, cs, cs))
    draw = ImageDraw.Draw(image)
    draw.fontmode = "1"  # no antialiased glyph edges, as new_frame sets
    disc, letter = ("white_piece", "black_piece") if code[0] == "w" else ("black_piece", "white_piece")
    # A black rim keeps a white disc apart from the light square under it.
    draw.ellipse(cell_box((0, 0), cs, 0, 0, inset), fill=colors["black_piece"])
    draw.ellipse(cell_box((0, 0), cs, 0, 0, inset + spec["outline"]), fill=colors[disc])
    draw.text(
        cell_center((0, 0), cs, 0, 0),
        code[1],
        fill=colors[letter],
        font=load_font(spec["font_size"]),
        anchor="mm",
        stroke_width=spec["stroke"],  # bold letters: thick strokes survive compression and downscaling
        stroke_fill=colors[letter],
    )
    return image


def draw_board(metadata: dict[str, Any], board: Board) -> Image.Image:
    """The board with a lettered disc for each piece (both drawn once per geometry, then pasted)."""
    spec = metadata["render"]
    key = json.dumps(spec, sort_keys=True)
    origin, cs = spec["grid_origin"], spec["cell_size"]
    image = _empty_board(key).copy()
    for (r, c), code in board.items():
        image.paste(_piece_tile(key, code, "light" if (r + c) % 2 == 0 else "dark"), cell_box(origin, cs, r, c)[:2])
    return image


class ChessMateVerifier(ChessRules):
    """One white queen, rook or bishop slides one square per step along one line; the end must be the mate."""

    domain: ClassVar[str] = "chess_mate"
    puzzle: ClassVar[str] = "board"

    def build_reader(self) -> RegionReader:
        spec = self.metadata["render"]
        squares = [(r, c) for r in range(SIZE) for c in range(SIZE)]
        boxes = [cell_box(spec["grid_origin"], spec["cell_size"], r, c) for r, c in squares]
        # Helper boards: every square holding the same piece, once per piece code of the task, and the empty
        # board: every square is seen with every label.
        codes = sorted(set(self.metadata["pieces"].values()))
        renders = [(to_array(draw_board(self.metadata, {})), ["empty"] * len(squares))]
        renders += [(to_array(draw_board(self.metadata, dict.fromkeys(squares, code))), [code] * 64) for code in codes]
        return RegionReader(boxes, renders)

    def initial_state(self) -> State:
        board = _board_from(self.metadata)
        return tuple(board.get((r, c), "empty") for r in range(SIZE) for c in range(SIZE))

    def solved_state(self) -> State:
        move = self.metadata["move"]
        cells = list(self.initial_state())
        start, end = parse_square(move["from"]), parse_square(move["to"])
        cells[end[0] * SIZE + end[1]] = cells[start[0] * SIZE + start[1]]
        cells[start[0] * SIZE + start[1]] = "empty"
        return tuple(cells)


class ChessMateDomain(TaskDomain):
    name: ClassVar[str] = "chess_mate"
    description: ClassVar[str] = "White to move mates in one: slide the queen, rook or bishop square by square."
    category: ClassVar[str] = "games"
    rubric: ClassVar[str] = (
        "The puzzle: a chess board (green and tan squares, files a-h, ranks 1-8, white at the bottom) with pieces "
        "drawn as lettered discs: white pieces are white discs with black letters, black pieces black discs with "
        "white letters (K king, Q queen, R rook, B bishop, N knight). White is to move and has exactly one move "
        "that checkmates, made by a queen, rook or bishop. A correct solution: that piece slides along its line "
        "(rook: straight, bishop: diagonal, queen: either) one square at a time, through empty squares, to the "
        "mating square, capturing a black piece only on that last square. Illegal: the piece jumps several "
        "squares at once, changes direction, moves back or passes through a piece; another piece moves; a "
        "piece appears, vanishes or changes."
    )
    verifier_class: ClassVar[type[StateVerifier]] = ChessMateVerifier

    def verifier(self, metadata: dict[str, Any], task_dir: Path | None = None) -> StateVerifier:
        """Ours from the metadata; an imported upstream task's from its pictures too (``tasks/upstream/chess.py``)."""
        if upstream.is_upstream(metadata):
            return upstream.UpstreamChessVerifier(metadata, task_dir)
        return super().verifier(metadata)

    def generate_one(self, rng: random.Random, task_id: str, seed: int, difficulty: str) -> GeneratedTask:
        board, (start, end), checks = make_position(rng, difficulty)
        path = slide_path(start, end)
        origin, cell_size = grid_layout(SIZE, SIZE)
        metadata: dict[str, Any] = {
            "domain": self.name,
            "category": self.category,
            "task_id": task_id,
            "seed": seed,
            "difficulty": difficulty,
            "pieces": {square_name(s): code for s, code in sorted(board.items())},
            "move": {
                "piece": board[start],
                "from": square_name(start),
                "to": square_name(end),
                "capture": board.get(end),
            },
            "decoy_checks": [f"{square_name(a)}-{square_name(b)}" for a, b in checks],
            "solution": [list(s) for s in path],
            "num_steps": len(path),
            "render": {
                "grid_origin": origin,
                "cell_size": cell_size,
                "disc_inset": 2,  # disc = square shrunk by this; its rim is `outline` wide
                "outline": 3,
                "font_size": cell_size * 3 // 4,
                "stroke": 2,
                "label_size": 20,
                "colors": {k: list(v) for k, v in COLORS.items()},
            },
        }
        return GeneratedTask(
            task_id=task_id,
            domain=self.name,
            prompt=PROMPT,
            first_frame=draw_board(metadata, board),
            final_frame=draw_board(metadata, play(board, (start, end))),
            metadata=metadata,
        )

    def render_solution(self, metadata: dict[str, Any]) -> list[np.ndarray]:
        board = _board_from(metadata)
        start = parse_square(metadata["move"]["from"])
        frames = [to_array(draw_board(metadata, board))]
        for r, c in metadata["solution"]:
            # Each step: the piece one square further; a black piece on the target is captured on the last step.
            step = {s: code for s, code in board.items() if s != start}
            step[(int(r), int(c))] = board[start]
            frames.append(to_array(draw_board(metadata, step)))
        return frames

"""Chess mate in one: the one mate re-derived by brute force, frames read back, and cheats caught in real videos.

The mate check here is written independently of the domain's move generator: a piece attacks a square when the
square lies on one of its lines (or jumps) with every square between empty, tried for all 64 squares, so a bug
in the generator's ray walking cannot hide itself.
"""

from __future__ import annotations

import json
from itertools import product
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from domain_videos import score_frames

from vmevalkit.tasks import get_domain
from vmevalkit.tasks.base import GeneratedTask
from vmevalkit.tasks.chess_mate import ChessMateVerifier, draw_board

SEEDS = (0, 1, 2)
COUNT = 8
TASK_SUCCESS, END_STATE, PROCESS = 0, 1, 2
Sq = tuple[int, int]


def all_tasks() -> list[GeneratedTask]:
    domain = get_domain("chess_mate")
    return [task for seed in SEEDS for task in domain.generate(COUNT, seed=seed)]


def sq(name: str) -> Sq:
    return 8 - int(name[1]), "abcdefgh".index(name[0])


def attacks(board: dict[Sq, str], frm: Sq, to: Sq) -> bool:
    kind = board[frm][1]
    dr, dc = to[0] - frm[0], to[1] - frm[1]
    if (dr, dc) == (0, 0):
        return False
    if kind == "K":
        return max(abs(dr), abs(dc)) == 1
    if kind == "N":
        return sorted((abs(dr), abs(dc))) == [1, 2]
    straight, diagonal = dr == 0 or dc == 0, abs(dr) == abs(dc)
    if not ((kind in "QR" and straight) or (kind in "QB" and diagonal)):
        return False
    n = max(abs(dr), abs(dc))
    return all((frm[0] + k * dr // n, frm[1] + k * dc // n) not in board for k in range(1, n))


def checked(board: dict[Sq, str], side: str) -> bool:
    king = next(s for s, code in board.items() if code == side + "K")
    return any(code[0] != side and attacks(board, s, king) for s, code in board.items())


def moves(board: dict[Sq, str], side: str) -> list[tuple[Sq, Sq]]:
    found = []
    for frm, code in board.items():
        if code[0] != side:
            continue
        for to in product(range(8), range(8)):
            there = board.get(to)
            if not attacks(board, frm, to) or (there is not None and (there[0] == side or there[1] == "K")):
                continue
            after = {s: c for s, c in board.items() if s != frm} | {to: code}
            if not checked(after, side):
                found.append((frm, to))
    return found


def test_white_has_exactly_one_mate_and_it_is_a_long_slide() -> None:
    seen = set()
    for task in all_tasks():
        md = task.metadata
        seen.add(md["difficulty"])
        board = {sq(name): code for name, code in md["pieces"].items()}
        assert sorted(c for c in board.values() if c[1] == "K") == ["bK", "wK"]
        assert not checked(board, "b") and not checked(board, "w"), "a legal position with white to move"
        mates: list[tuple[Sq, Sq]] = []
        checks: list[tuple[Sq, Sq]] = []
        for frm, to in moves(board, "w"):
            after = {s: c for s, c in board.items() if s != frm} | {to: board[frm]}
            if checked(after, "b"):
                (checks if moves(after, "b") else mates).append((frm, to))
        move = md["move"]
        assert mates == [(sq(move["from"]), sq(move["to"]))], f"{md['task_id']}: mates {mates}"
        assert move["piece"] == board[sq(move["from"])] and move["piece"] in ("wQ", "wR", "wB")
        assert move["capture"] == board.get(sq(move["to"]))
        names = "abcdefgh"
        named = {f"{names[a[1]]}{8 - a[0]}-{names[b[1]]}{8 - b[0]}" for a, b in checks}
        assert set(md["decoy_checks"]) == named
        assert len(checks) >= {"easy": 0, "medium": 1, "hard": 3}[md["difficulty"]]
        white = len([c for c in board.values() if c[0] == "w"])
        black = len([c for c in board.values() if c[0] == "b"])
        assert (white, black) == {"easy": (2, 1), "medium": (3, 2), "hard": (4, 3)}[md["difficulty"]]
        # The solution: one square per step along the line, through empty squares, ending on the target.
        start, target = sq(move["from"]), sq(move["to"])
        path = [tuple(s) for s in md["solution"]]
        assert path[-1] == target and md["num_steps"] == len(path) >= 2
        step = ((target[0] > start[0]) - (target[0] < start[0]), (target[1] > start[1]) - (target[1] < start[1]))
        assert path == [(start[0] + k * step[0], start[1] + k * step[1]) for k in range(1, len(path) + 1)]
        assert all(s not in board for s in path[:-1])
    assert seen == {"easy", "medium", "hard"}


def state_of(md: dict[str, Any], board: dict[Sq, str]) -> tuple[str, ...]:
    return tuple(board.get((r, c), "empty") for r in range(8) for c in range(8))


def board_of(md: dict[str, Any]) -> dict[Sq, str]:
    return {sq(name): code for name, code in md["pieces"].items()}


def moved(md: dict[str, Any], frm: Sq, to: Sq) -> dict[Sq, str]:
    board = board_of(md)
    code = board.pop(frm)
    board[to] = code
    return board


def test_each_solution_step_reads_back_as_its_state() -> None:
    domain = get_domain("chess_mate")
    for task in all_tasks()[:6]:
        md = json.loads(json.dumps(task.metadata))
        verifier = ChessMateVerifier(md)
        states = verifier.read_states(np.stack(domain.render_solution(md)))
        start = sq(md["move"]["from"])
        expected = [state_of(md, board_of(md))]
        expected += [state_of(md, moved(md, start, (r, c))) for r, c in md["solution"]]
        assert states == expected
        assert states[-1] == verifier.solved


def score_boards(task: GeneratedTask, boards: list[dict[Sq, str]], folder: Path) -> tuple[np.ndarray, dict[str, Any]]:
    """Draw each board with the domain's renderer and score the video (each held 4 frames) with task-verifier."""
    return score_frames(task, [np.asarray(draw_board(task.metadata, board)) for board in boards], folder, hold=4)


@pytest.fixture(scope="module")
def long_task() -> GeneratedTask:
    """A task whose mating slide is at least three squares long, so there are squares to skip."""
    return next(task for task in all_tasks() if task.metadata["num_steps"] >= 3)


def test_a_jump_to_the_mate_is_caught_in_a_real_video(long_task: GeneratedTask, tmp_path: Path) -> None:
    md = long_task.metadata
    start = sq(md["move"]["from"])
    steps = [moved(md, start, (r, c)) for r, c in md["solution"]]
    # One square, then the rest of the way at once.
    scores, detail = score_boards(long_task, [board_of(md), steps[0], steps[-1]], tmp_path)
    assert scores[END_STATE] == 1.0 and scores[TASK_SUCCESS] == 0.0
    assert "instead of sliding one square at a time" in detail["reason"]
    # A legal first square, and the video stops there: legal moves, but no mate.
    scores, detail = score_boards(long_task, [board_of(md), steps[0]], tmp_path)
    assert scores[PROCESS] == 1.0 and scores[END_STATE] == 0.0
    assert "which is not mate" in detail["reason"]


def test_another_piece_moving_or_a_piece_vanishing_is_caught(long_task: GeneratedTask, tmp_path: Path) -> None:
    md = long_task.metadata
    start = sq(md["move"]["from"])
    steps = [moved(md, start, (r, c)) for r, c in md["solution"]]
    black = next(s for s, code in board_of(md).items() if code == "bK")
    # The right slide, but the black king vanishes on the way.
    gone = [{s: c for s, c in board.items() if s != black} for board in steps]
    scores, detail = score_boards(long_task, [board_of(md), *gone], tmp_path)
    assert scores[TASK_SUCCESS] == 0.0 and "3 squares change at once" in detail["reason"]


def test_move_rule_names_the_cheat() -> None:
    task = next(t for t in all_tasks() if t.metadata["num_steps"] >= 3 and t.metadata["difficulty"] != "easy")
    md = task.metadata
    verifier = ChessMateVerifier(md)
    board = board_of(md)
    start = sq(md["move"]["from"])
    path = [tuple(s) for s in md["solution"]]
    one, two = state_of(md, moved(md, start, path[0])), state_of(md, moved(md, start, path[1]))
    assert verifier.move_error(verifier.initial, one) is None
    assert verifier.move_error(one, two) is None
    assert "slides back" in (verifier.move_error(two, one) or "")
    assert "jumps back" in (verifier.move_error(one, verifier.initial) or "")
    assert "at once" in (verifier.move_error(verifier.initial, two) or "")
    # The black king steps to a free neighbour: black does not move.
    black = next(s for s, code in board.items() if code == "bK")
    free = next(
        (black[0] + dr, black[1] + dc)
        for dr, dc in product((-1, 0, 1), repeat=2)
        if 0 <= black[0] + dr < 8 and 0 <= black[1] + dc < 8 and (black[0] + dr, black[1] + dc) not in board
    )
    assert "white is to move" in (verifier.move_error(verifier.initial, state_of(md, moved(md, black, free))) or "")
    # A knight or the white king moves: the mate is a slide.
    white_king = next(s for s, code in board.items() if code == "wK")
    step = next(
        (white_king[0] + dr, white_king[1] + dc)
        for dr, dc in product((-1, 0, 1), repeat=2)
        if 0 <= white_king[0] + dr < 8
        and 0 <= white_king[1] + dc < 8
        and (white_king[0] + dr, white_king[1] + dc) not in board
    )
    assert "sliding piece" in (verifier.move_error(verifier.initial, state_of(md, moved(md, white_king, step))) or "")
    # The slider turns off its line after one square.
    off = next(
        (path[0][0] + dr, path[0][1] + dc)
        for dr, dc in product((-1, 0, 1), repeat=2)
        if (dr, dc) != (0, 0)
        and 0 <= path[0][0] + dr < 8
        and 0 <= path[0][1] + dc < 8
        and (path[0][0] + dr, path[0][1] + dc) not in board
        and (path[0][0] + dr, path[0][1] + dc) not in path
        and (path[0][0] + dr, path[0][1] + dc) != start
    )
    error = verifier.move_error(one, state_of(md, moved(md, start, off))) or ""
    assert "changes direction" in error or "off its lines" in error, error
    assert "no piece moves" in verifier.end_error(verifier.initial)


def test_sliding_through_a_piece_is_named() -> None:
    found = 0
    for task in all_tasks():
        md = task.metadata
        verifier = ChessMateVerifier(md)
        board = board_of(md)
        start = sq(md["move"]["from"])
        lines = {"wQ": [(a, b) for a, b in product((-1, 0, 1), repeat=2) if (a, b) != (0, 0)]}
        lines["wR"] = [(a, b) for a, b in lines["wQ"] if 0 in (a, b)]
        lines["wB"] = [(a, b) for a, b in lines["wQ"] if 0 not in (a, b)]
        for dr, dc in lines[board[start]]:
            cells = [(start[0] + k * dr, start[1] + k * dc) for k in range(1, 8)]
            cells = [(r, c) for r, c in cells if 0 <= r < 8 and 0 <= c < 8]
            hit = next((i for i, cell in enumerate(cells) if cell in board), None)
            if hit is None or hit + 1 >= len(cells) or cells[hit + 1] in board:
                continue
            error = verifier.move_error(verifier.initial, state_of(md, moved(md, start, cells[hit + 1]))) or ""
            assert "passes through the" in error, error
            found += 1
    assert found >= 3

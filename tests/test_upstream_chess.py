"""task-verifier scores imported upstream VMEvalKit chess tasks (mate in one), never NaN for a readable task.

The fixtures follow upstream's format: the metadata as hokindeng/VMEvalKit writes it
(``paper/video-models-start-to-solve/assets/chess_task/question_metadata.json``: ``chess_data.initial_fen``,
``mate_moves`` as SAN), kept verbatim by the importer with ``domain`` set to ``chess_mate``; the pictures laid
out as upstream's ``chess_reasoning.py`` lays them out, in both of its layouts: python-chess ``chess.svg.board``
through cairosvg (400x400, a #212121 margin of 15 pixels with light coordinate letters, a 370-pixel board of
#ffce9e and #d18b47 squares) and its Pillow fallback (400x400, 50-pixel squares of (240, 217, 181) and
(181, 136, 99), no margin). python-chess, cairosvg and the DejaVu fonts with chess glyphs are not available
here, so pieces are drawn as simple distinct shapes (svg layout: white shapes with a black rim, black ones with
a white rim) or as Pillow's default-font letters with a one-pixel outline (the fallback's glyphs). The verifier
cuts its looks from each task's own frames, so it does not depend on how a piece is drawn. Videos are real mp4
files: a piece *glides* between squares (sub-square positions, some frames straddling two squares).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont
from test_upstream_verifiers import score as score_videos

from vmevalkit.models.baselines import OracleSolutionService
from vmevalkit.scoring.verifiers import load_verifier
from vmevalkit.tasks import get_domain
from vmevalkit.tasks.chess_mate import ChessMateVerifier
from vmevalkit.tasks.loader import load_tasks
from vmevalkit.tasks.upstream.chess import BoardPicture, UpstreamChessVerifier, parse_fen, resolve_san
from vmevalkit.video import read_frames, write_video

Piece = tuple[str, float, float]  # FEN letter, row (0 = rank 8), column (0 = file a); fractional while gliding

SVG: dict[str, Any] = {"margin": 15, "pitch": 46.25, "light": (255, 206, 158), "dark": (209, 139, 71)}
PIL_FALLBACK: dict[str, Any] = {"margin": 0, "pitch": 50.0, "light": (240, 217, 181), "dark": (181, 136, 99)}
BACK_RANK = "2k5/1pppp3/8/8/8/8/8/R6K w - - 0 1"  # upstream's chess_0002: Ra8#
SMOTHERED = "6rk/6pp/8/6N1/8/8/8/7K w - - 0 1"  # Nf7#
BLACK_TO_MOVE = "r6K/8/6k1/8/8/8/8/8 b - - 0 1"  # upstream's "Black rook mate": Ra7#


def pieces_of(fen: str) -> list[Piece]:
    board, _ = parse_fen(fen)
    return [(code[1] if code[0] == "w" else code[1].lower(), float(r), float(c)) for (r, c), code in board.items()]


def _shape(draw: ImageDraw.ImageDraw, letter: str, cx: float, cy: float, size: float) -> None:
    """python-chess's svg layout: one distinct shape per kind, white with a black rim or black with a white rim."""
    fill, rim = ((250, 250, 250), (0, 0, 0)) if letter.isupper() else ((0, 0, 0), (255, 255, 255))
    s = size * 0.36
    kind = letter.upper()
    if kind == "K":
        draw.ellipse((cx - s, cy - s * 0.6, cx + s, cy + s), fill=fill, outline=rim, width=2)
        draw.rectangle((cx - 2, cy - s, cx + 2, cy - s * 0.2), fill=rim)
    elif kind == "Q":
        draw.polygon([(cx - s, cy + s), (cx - s, cy - s), (cx, cy), (cx + s, cy - s), (cx + s, cy + s)], fill=fill)
        draw.line([(cx - s, cy + s), (cx - s, cy - s), (cx, cy), (cx + s, cy - s), (cx + s, cy + s)], fill=rim, width=2)
    elif kind == "R":
        draw.rectangle((cx - s * 0.8, cy - s, cx + s * 0.8, cy + s), fill=fill, outline=rim, width=2)
    elif kind == "B":
        draw.polygon([(cx, cy - s), (cx + s * 0.8, cy + s), (cx - s * 0.8, cy + s)], fill=fill, outline=rim)
    elif kind == "N":
        corners = [(cx - s, cy - s), (cx + s, cy - s), (cx + s, cy - s * 0.2), (cx, cy - s * 0.2), (cx, cy + s)]
        draw.polygon([*corners, (cx - s, cy + s)], fill=fill, outline=rim)
    else:  # a pawn: a small disc
        draw.ellipse((cx - s * 0.5, cy - s * 0.5, cx + s * 0.5, cy + s * 0.8), fill=fill, outline=rim, width=2)


def draw_upstream_chess(pieces: list[Piece], layout: dict[str, Any]) -> Image.Image:
    """A 400x400 RGBA board as upstream draws it in ``layout``, each piece at its (possibly fractional) square."""
    margin, pitch = layout["margin"], layout["pitch"]
    image = Image.new("RGBA", (400, 400), (33, 33, 33, 255) if margin else (255, 255, 255, 255))
    draw = ImageDraw.Draw(image)
    if margin:
        small = ImageFont.load_default(size=11)
        for i in range(8):
            centre = margin + (i + 0.5) * pitch
            for x, y, text in ((centre, 7.5, "abcdefgh"[i]), (centre, 392.5, "abcdefgh"[i])):
                draw.text((x, y), text, fill=(229, 229, 229), font=small, anchor="mm")
            for x in (7.5, 392.5):
                draw.text((x, centre), str(8 - i), fill=(229, 229, 229), font=small, anchor="mm")
    for r in range(8):
        for c in range(8):
            box = (margin + c * pitch, margin + r * pitch, margin + (c + 1) * pitch - 1, margin + (r + 1) * pitch - 1)
            draw.rectangle(box, fill=layout["light" if (r + c) % 2 == 0 else "dark"])
    font = ImageFont.load_default(size=40)
    for letter, row, col in pieces:
        cx, cy = margin + (col + 0.5) * pitch, margin + (row + 0.5) * pitch
        if margin:
            _shape(draw, letter, cx, cy, pitch)
            continue
        fill, outline = ((245, 245, 245), (0, 0, 0)) if letter.isupper() else ((20, 20, 20), (255, 255, 255))
        for dx in (-1, 0, 1):
            for dy in (-1, 0, 1):
                if dx or dy:
                    draw.text((cx + dx, cy + dy), letter.upper(), fill=outline, font=font, anchor="mm")
        draw.text((cx, cy), letter.upper(), fill=fill, font=font, anchor="mm")
    return image


def rgb(image: Image.Image) -> np.ndarray:
    """A picture as the importer stores it: flattened onto white (400x400 needs no padding)."""
    white = Image.new("RGBA", image.size, (255, 255, 255, 255))
    return np.asarray(Image.alpha_composite(white, image).convert("RGB"))


def metadata(fen: str, mates: list[str]) -> dict[str, Any]:
    return {  # upstream's chess task pair, as create_chess_task_pair writes it
        "id": "chess_0002",
        "prompt": "White can deliver checkmate in one move. Show the winning move.",
        "first_image_path": "chess_task/chess_0002/first_frame.png",
        "final_image_path": "chess_task/chess_0002/final_frame.png",
        "task_category": "Chess",
        "chess_data": {
            "generation_method": "mate_in_1_templates",
            "initial_fen": fen,
            "mate_moves": mates,
            "pattern_tags": ["test"],
        },
        "difficulty": "easy",
        "side_to_move": "white" if fen.split()[1] == "w" else "black",
        "mate_moves": mates,
        "pattern_description": "test position",
        "created_at": "2025-10-15T22:14:39.728913Z",
        "domain": "chess",
    }


def glide(fen: str, frm: tuple[int, int], to: tuple[int, int], substeps: int = 3) -> list[list[Piece]]:
    """Positions of the piece on ``frm`` moving straight to ``to`` in ``substeps`` pieces of a square each step."""
    pieces = pieces_of(fen)
    mover = next(p for p in pieces if (p[1], p[2]) == frm)
    rest = [p for p in pieces if (p[1], p[2]) not in (frm, to)]
    target = [p for p in pieces if (p[1], p[2]) == to]
    squares = max(abs(to[0] - frm[0]), abs(to[1] - frm[1]))
    positions = []
    for k in range(squares * substeps + 1):
        f = k / (squares * substeps)
        at = (mover[0], frm[0] + f * (to[0] - frm[0]), frm[1] + f * (to[1] - frm[1]))
        positions.append(rest + ([] if k == squares * substeps else target) + [at])
    return positions


def write_task(root: Path, fen: str, mates: list[str], layout: dict[str, Any], final: list[Piece]) -> Path:
    folder = root / "questions" / "chess_mate_task" / "chess_0002"
    folder.mkdir(parents=True)
    Image.fromarray(rgb(draw_upstream_chess(pieces_of(fen), layout))).save(folder / "first_frame.png")
    Image.fromarray(rgb(draw_upstream_chess(final, layout))).save(folder / "final_frame.png")
    meta = {**metadata(fen, mates), "domain": "chess_mate", "source_domain": "chess", "source_format": "vmevalkit"}
    (folder / "prompt.txt").write_text(meta["prompt"], encoding="utf-8")  # as the importer writes it
    (folder / "question_metadata.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")
    return folder


def video(positions: list[list[Piece]], layout: dict[str, Any], hold: int = 3) -> list[np.ndarray]:
    frames = [rgb(draw_upstream_chess(p, layout)) for p in positions]
    return [frames[0]] * hold + frames + [frames[-1]] * hold


def score(task: Path, videos: dict[str, list[np.ndarray]], folder: Path, crf: int = 17) -> dict[str, Any]:
    """TaskVerifier's (scores, details) per video name, each a real mp4 (test_upstream_verifiers.score)."""
    return score_videos(task, "chess_mate", videos, folder, crf=crf)


A1, A8, A7 = (7, 0), (0, 0), (1, 0)


@pytest.fixture
def back_rank(tmp_path: Path) -> Path:
    return write_task(tmp_path, BACK_RANK, ["Ra8#"], SVG, glide(BACK_RANK, A1, A8)[-1])


@pytest.mark.parametrize("layout", [SVG, PIL_FALLBACK], ids=["svg", "pil_fallback"])
def test_the_board_is_found_in_both_upstream_layouts(layout: dict[str, Any], tmp_path: Path) -> None:
    task = write_task(tmp_path, BACK_RANK, ["Ra8#"], layout, glide(BACK_RANK, A1, A8)[-1])
    first = np.asarray(Image.open(task / "first_frame.png"))
    geometry = BoardPicture(first)
    assert (geometry.left, geometry.top) == (layout["margin"], layout["margin"])
    assert geometry.pitch_x == pytest.approx(layout["pitch"], abs=0.2)
    assert tuple(geometry.light) == layout["light"] and tuple(geometry.dark) == layout["dark"]
    verifier = load_verifier(task, "chess_mate")
    assert isinstance(verifier, UpstreamChessVerifier)
    final = np.asarray(Image.open(task / "final_frame.png"))
    assert verifier.read_states(np.stack([first, final])) == [verifier.initial, verifier.solved]
    assert verifier.initial[7 * 8] == "wR" and verifier.initial[1 * 8 + 1] == "bP"


def test_a_gliding_rook_passes_and_static_jump_cut_and_wrong_square_fail(back_rank: Path, tmp_path: Path) -> None:
    oracle = video(glide(BACK_RANK, A1, A8), SVG)
    start, end = oracle[0], oracle[-1]
    short = video(glide(BACK_RANK, A1, A7), SVG)  # a7: a rook move that is no mate
    # Kh1-g1: the king is seen on a dark square only here (its look there is laid from its light one).
    king = video(glide(BACK_RANK, (7, 7), (7, 6)), SVG)
    results = score(
        back_rank,
        {"oracle": oracle, "static": [start] * 12, "jump": [start] * 6 + [end] * 6, "short": short, "king": king},
        tmp_path,
    )
    o, o_details = results["oracle"]
    assert o.tolist() == [1.0, 1.0, 1.0], o_details["reason"]
    assert o_details["moves"] == 7  # a1 -> a8 seen square by square
    assert o_details["frames_read"] < o_details["frames"]  # frames straddling two squares are not read
    s, s_details = results["static"]
    assert s.tolist() == [0.0, 0.0, 1.0]
    assert s_details["reason"] == "no piece moves; the mate is Ra8#"
    j, j_details = results["jump"]
    assert j.tolist() == [0.0, 1.0, 0.0]
    assert "the white rook jumps from a1 to a8 at once" in j_details["reason"]
    w, w_details = results["short"]
    assert w.tolist() == [0.0, 0.0, 1.0]
    assert "the white rook ends on a7 (from a1), which is not the mate (Ra8#)" in w_details["reason"]
    k, k_details = results["king"]
    assert k.tolist() == [0.0, 0.0, 0.0]
    assert "frame 6: the white king on h1 moves; it gives no mate (Ra8#)" in k_details["reason"]


def test_the_gliding_rook_still_passes_after_a_crf_35_reencode(back_rank: Path, tmp_path: Path) -> None:
    write_video(video(glide(BACK_RANK, A1, A8), SVG), tmp_path / "first.mp4")
    reencoded = list(read_frames(tmp_path / "first.mp4"))
    scores, details = score(back_rank, {"crf35": reencoded}, tmp_path, crf=35)["crf35"]
    assert scores.tolist() == [1.0, 1.0, 1.0], details["reason"]


def test_black_to_move_in_the_pil_fallback_layout(tmp_path: Path) -> None:
    """Black's rook a8-a7 mates (one square, the rook seen on a dark square only in the final frame)."""
    task = write_task(tmp_path, BLACK_TO_MOVE, ["Ra7#"], PIL_FALLBACK, glide(BLACK_TO_MOVE, A8, A7)[-1])
    oracle = video(glide(BLACK_TO_MOVE, A8, A7, substeps=4), PIL_FALLBACK)
    moved_king = [p for p in pieces_of(BLACK_TO_MOVE) if p[0] != "K"] + [("K", 1.0, 7.0)]  # white's Kh8-h7
    wrong_side = video([pieces_of(BLACK_TO_MOVE), moved_king], PIL_FALLBACK)
    results = score(task, {"oracle": oracle, "white": wrong_side}, tmp_path)
    o, o_details = results["oracle"]
    assert o.tolist() == [1.0, 1.0, 1.0], o_details["reason"]
    w, w_details = results["white"]
    assert w[0] == 0.0 and w[2] == 0.0
    assert "the white king moves, but black is to move" in w_details["reason"]


def test_a_knight_mates_in_one_step(tmp_path: Path) -> None:
    g5 = (3.0, 6.0)
    after = [p for p in pieces_of(SMOTHERED) if (p[1], p[2]) != g5] + [("N", 1.0, 5.0)]
    task = write_task(tmp_path, SMOTHERED, ["Nf7#"], SVG, after)
    start = rgb(draw_upstream_chess(pieces_of(SMOTHERED), SVG))
    end = rgb(draw_upstream_chess(after, SVG))
    astray = [p for p in pieces_of(SMOTHERED) if (p[1], p[2]) != g5] + [("N", 2.0, 4.0)]
    results = score(
        task,
        {"oracle": [start] * 6 + [end] * 6, "astray": [start] * 6 + [rgb(draw_upstream_chess(astray, SVG))] * 6},
        tmp_path,
    )
    o, o_details = results["oracle"]
    assert o.tolist() == [1.0, 1.0, 1.0], o_details["reason"]
    assert o_details["moves"] == 1
    a, a_details = results["astray"]
    assert a.tolist() == [0.0, 0.0, 1.0]  # a knight's move, but not the mate
    assert "the white knight ends on e6 (from g5), which is not the mate (Nf7#)" in a_details["reason"]


def test_an_unreadable_picture_is_not_scored_and_says_why(tmp_path: Path) -> None:
    task = write_task(tmp_path, BACK_RANK, ["Ra8#"], SVG, glide(BACK_RANK, A1, A8)[-1])
    Image.new("RGB", (400, 400), (255, 255, 255)).save(task / "first_frame.png")
    start = rgb(draw_upstream_chess(pieces_of(BACK_RANK), SVG))
    scores, details = score(task, {"oracle": [start] * 4}, tmp_path)["oracle"]
    assert np.isnan(scores).all()
    assert "the first frame shows no chess board" in details["reason"]


def test_a_picture_of_another_position_is_not_scored_and_says_why(tmp_path: Path) -> None:
    fen = "2k5/2ppp3/8/8/8/8/8/1R5K w - - 0 1"  # no pawn on b7 and the rook on b1; the pictures differ
    task = write_task(tmp_path, BACK_RANK, ["Ra8#"], SVG, glide(BACK_RANK, A1, A8)[-1])
    meta = json.loads((task / "question_metadata.json").read_text(encoding="utf-8"))
    meta["chess_data"]["initial_fen"], meta["mate_moves"] = fen, ["Rb8#"]
    (task / "question_metadata.json").write_text(json.dumps(meta), encoding="utf-8")
    scores, details = score(task, {"v": [rgb(draw_upstream_chess(pieces_of(BACK_RANK), SVG))] * 4}, tmp_path)["v"]
    assert np.isnan(scores).all()
    assert "the first_frame.png shows a piece on b7, where the task's position has none" in details["reason"]


def test_mate_moves_are_resolved_from_san_and_what_upstream_never_plays_is_refused() -> None:
    board, side = parse_fen(BACK_RANK)
    assert resolve_san(board, side, "Ra8#") == (A1, A8)
    assert resolve_san(*parse_fen(SMOTHERED), "Nf7#") == ((3, 6), (1, 5))
    for san in ("O-O", "a4", "e8=Q#"):
        with pytest.raises(ValueError, match="cannot be resolved"):
            resolve_san(board, side, san)
    with pytest.raises(ValueError, match="no white queens can go to a8"):
        resolve_san(board, side, "Qa8#")


def test_dispatch_keeps_our_own_chess_mate_tasks_and_asks_for_the_folder_for_upstream() -> None:
    domain = get_domain("chess_mate")
    ours = next(domain.generate(1, seed=3))
    assert type(domain.verifier(ours.metadata)) is ChessMateVerifier
    with pytest.raises(ValueError, match="give the task folder"):
        domain.verifier(metadata(BACK_RANK, ["Ra8#"]))


# ---------------------------------------------------------------- the oracle baseline on imported tasks


@pytest.mark.parametrize("mate", ["rook", "knight", "capture"])
def test_oracle_walks_the_mover_square_by_square_with_looks_cut_from_the_task_pictures(
    tmp_path: Path, mate: str
) -> None:
    """With no ground_truth.mp4, oracle-solution plays the verifier's keyframes rather than cross-fading: the rook
    on each of a2..a8 in turn (seven moves, a captured rook gone only as it lands), the knight straight onto f7
    (one), so it passes the task's verifier."""
    if mate == "rook":
        fen, sans, moves = BACK_RANK, ["Ra8#"], 7
        folder = write_task(tmp_path, fen, sans, SVG, glide(fen, A1, A8)[-1])
    elif mate == "knight":
        fen, sans, moves = SMOTHERED, ["Nf7#"], 1
        folder = write_task(tmp_path, fen, sans, PIL_FALLBACK, glide(fen, (3, 6), (1, 5))[-1])
    else:  # Rxa8#: the black rook stays on a8 until the white one lands there
        fen, sans, moves = "r1k5/1pppp3/8/8/8/8/8/R6K w - - 0 1", ["Rxa8#"], 7
        folder = write_task(tmp_path, fen, sans, SVG, glide(fen, A1, A8)[-1])
    (task,) = load_tasks(tmp_path / "questions").tasks
    assert task.path == folder
    frames, method = OracleSolutionService("oracle-solution").render(task, duration=2.0)
    assert method == "task_pictures"
    assert np.array_equal(frames[0], np.asarray(Image.open(task.first_frame).convert("RGB")))
    verifier = load_verifier(folder, "chess_mate")
    assert verifier.read_states(np.stack([frames[0], frames[-1]])) == [verifier.initial, verifier.solved]
    value, detail = score(folder, {"oracle": frames}, tmp_path)["oracle"]
    assert value.tolist() == [1.0, 1.0, 1.0], detail["reason"]
    assert detail["moves"] == moves

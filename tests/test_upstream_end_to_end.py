"""Upstream-format tasks through the whole pipeline, as a user runs it: ``vmevalkit tasks import`` ->
``examples/generate_videos.py`` (the three baselines) -> ``examples/score_videos.py`` (task-verifier,
frame-match) -> ``examples/report.py``, each a real subprocess.

The source is laid out as the public VMEvalKit's ``create_dataset.py`` writes it (one folder per question with
``first_frame.png``, ``final_frame.png``, ``prompt.txt``, ``question_metadata.json``), the pictures drawn as its
generators draw them (see test_upstream_verifiers.py). The maze ships a ``ground_truth.mp4`` of the dot walking
the path, so ``oracle-solution`` plays it; the sudoku ships none, so the oracle fills its blank with the digit's
look cut from the task's own pictures.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from conftest import REPO, cli_env, run_generate
from PIL import Image, ImageDraw
from test_upstream_chess import BACK_RANK, SVG, draw_upstream_chess, glide, pieces_of
from test_upstream_chess import metadata as chess_metadata
from test_upstream_clock import FUTURE, ORIGINAL, clock_metadata, draw_upstream_clock
from test_upstream_raven import MATRIX, draw_upstream_raven, raven_metadata
from test_upstream_verifiers import (
    SNAKE,
    SUDOKU_PUZZLE,
    SUDOKU_SOLUTION,
    draw_upstream_maze,
    draw_upstream_sudoku,
    maze_metadata,
    rotation_metadata,
    sudoku_metadata,
)

from vmevalkit.video import write_video

BASELINES = ("oracle-solution", "shortcut-cut", "static-first-frame")
# How oracle-solution makes each imported task's video: the maze ships a ground_truth.mp4; the others are laid
# out step by step with looks cut from the task's own pictures; upstream rotation keeps no voxels to draw.
ORACLE_METHOD = {
    "maze": "ground_truth_video",
    "sudoku": "task_pictures",
    "chess_mate": "task_pictures",
    "raven": "task_pictures",
    "clock": "task_pictures",
    "rotation": "cross-fade",
}
STEPPED = ("chess_mate", "raven", "clock")  # several steps to see: the cut fails, as the static video does


def write_question(src: Path, domain: str, metadata: dict[str, Any], first: Image.Image, final: Image.Image) -> Path:
    folder = src / f"{domain}_task" / metadata["id"]
    folder.mkdir(parents=True)
    first.save(folder / "first_frame.png")  # RGBA and odd-sized (500x499), as upstream saves them
    final.save(folder / "final_frame.png")
    (folder / "prompt.txt").write_text(metadata["prompt"], encoding="utf-8")
    (folder / "question_metadata.json").write_text(json.dumps(metadata, indent=2), encoding="utf-8")
    return folder


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], cwd=cwd, env=cli_env(), capture_output=True, text=True, timeout=600)


def test_upstream_tasks_import_generate_score_and_report(tmp_path: Path) -> None:
    src = tmp_path / "upstream"
    maze = write_question(src, "maze", maze_metadata(), draw_upstream_maze((0, 0)), draw_upstream_maze((2, 2)))
    walk = [draw_upstream_maze(cell).convert("RGB") for cell in SNAKE for _ in range(4)]
    write_video([frame.crop((0, 0, 500, 498)) for frame in walk], maze / "ground_truth.mp4", fps=8)
    sudoku = sudoku_metadata(SUDOKU_PUZZLE)
    sudoku["id"] = "sudoku_0000"
    write_question(src, "sudoku", sudoku, draw_upstream_sudoku(SUDOKU_PUZZLE), draw_upstream_sudoku(SUDOKU_SOLUTION))

    chess = chess_metadata(BACK_RANK, ["Ra8#"])
    final_position = glide(BACK_RANK, (7, 0), (0, 0))[-1]
    write_question(
        src, "chess", chess, draw_upstream_chess(pieces_of(BACK_RANK), SVG), draw_upstream_chess(final_position, SVG)
    )
    write_question(
        src,
        "raven",
        raven_metadata(),
        draw_upstream_raven(MATRIX[:8] + [[]], question=True),
        draw_upstream_raven(MATRIX),
    )
    clock = {k: v for k, v in clock_metadata().items() if not k.startswith(("domain", "source_"))}  # upstream's keys
    clock_first = Image.fromarray(draw_upstream_clock(ORIGINAL, mirrored=True))
    clock_folder = write_question(
        src,
        "mirror_clock",
        {**clock, "id": "mirror_clock_0034", "prompt": "This is a mirrored clock."},
        clock_first,
        Image.fromarray(draw_upstream_clock(FUTURE)),
    )
    (clock_folder / "question_metadata.json").write_text(json.dumps(clock, indent=2))  # upstream writes no id
    sculpture = [Image.new("RGB", (400, 400), "white") for _ in range(2)]
    for image, box in zip(sculpture, ((150, 150, 250, 250), (140, 160, 260, 240)), strict=True):
        ImageDraw.Draw(image).rectangle(box, fill=(80, 120, 200))
    write_question(src, "rotation", rotation_metadata(), *sculpture)

    imported = run(
        "-m", "vmevalkit", "tasks", "import", "--format", "vmevalkit", str(src), "--questions-dir", "q", cwd=tmp_path
    )
    assert imported.returncode == 0, imported.stdout + imported.stderr
    generated = run_generate("--model", *BASELINES, "--questions-dir", "q", "--no-progress", cwd=tmp_path)
    assert generated.returncode == 0, generated.stdout + generated.stderr
    scored = run(str(REPO / "examples" / "score_videos.py"), "--scorer", "task-verifier", "frame-match", cwd=tmp_path)
    assert scored.returncode == 0, scored.stdout + scored.stderr
    reported = run(str(REPO / "examples" / "report.py"), cwd=tmp_path)
    assert reported.returncode == 0, reported.stdout + reported.stderr

    experiment = tmp_path / "data" / "outputs" / "pilot"
    scores: dict[tuple[str, str, str], dict[str, Any]] = {}
    for path in experiment.glob("*/*_task/*/*/scores/*.json"):
        model, domain_folder = path.relative_to(experiment).parts[:2]
        scores[(model, domain_folder.removesuffix("_task"), path.stem)] = json.loads(path.read_text())
    verdict = {key: record["dimensions"] for key, record in scores.items() if key[2] == "task-verifier"}
    unscored = {key for key, v in verdict.items() if v["task_success"] is None}
    assert {domain for _, domain, _ in unscored} <= {"rotation"}, verdict  # scored, never NaN, but for rotation
    for domain, method in ORACLE_METHOD.items():
        record = next(experiment.glob(f"oracle-solution/{domain}_task/*/*/metadata.json")).read_text()
        assert f'"oracle_method": "{method}"' in record, domain

    # Several steps to see: the oracle's steps pass; the cut reaches the answer but shows no legal way there.
    for domain in STEPPED:
        assert verdict[("oracle-solution", domain, "task-verifier")]["task_success"] == 1.0, domain
        assert verdict[("shortcut-cut", domain, "task-verifier")]["end_state"] == 1.0, domain
        assert verdict[("shortcut-cut", domain, "task-verifier")]["task_success"] == 0.0, domain
        assert verdict[("static-first-frame", domain, "task-verifier")]["end_state"] == 0.0, domain
    # Upstream rotation: no verifier can read a 3D orbit whose voxels are not kept; the score says which can.
    rotation = scores[("oracle-solution", "rotation", "task-verifier")]
    assert "frame-match" in json.dumps(rotation), rotation

    # The maze: the oracle plays the shipped walk and passes; the cut and the static video fail.
    assert verdict[("oracle-solution", "maze", "task-verifier")]["task_success"] == 1.0
    assert verdict[("shortcut-cut", "maze", "task-verifier")]["end_state"] == 1.0
    assert verdict[("shortcut-cut", "maze", "task-verifier")]["task_success"] == 0.0
    assert verdict[("static-first-frame", "maze", "task-verifier")]["end_state"] == 0.0
    oracle_record = next(experiment.glob("oracle-solution/maze_task/*/*/metadata.json")).read_text()
    assert '"oracle_method": "ground_truth_video"' in oracle_record
    # The sudoku: upstream's 3x3 sudokus have one blank, so the whole solution is one digit appearing. The
    # oracle's filling and the shortcut's cut both show exactly that one legal move and pass; only the static
    # video fails. (A one-step task cannot tell a cut from a solution: our own domains take two steps or more.)
    for model in ("oracle-solution", "shortcut-cut"):
        assert verdict[(model, "sudoku", "task-verifier")]["task_success"] == 1.0, model
    assert verdict[("static-first-frame", "sudoku", "task-verifier")]["end_state"] == 0.0
    oracle_record = next(experiment.glob("oracle-solution/sudoku_task/*/*/metadata.json")).read_text()
    assert '"oracle_method": "task_pictures"' in oracle_record

    # frame-match, region-aware: the static video scores clearly below the oracle on both. Measured margins: maze
    # 0.31, sudoku 0.15 (its one changed cell is a digit on what was a light grey blank: a small change mask).
    match = {key: record["dimensions"] for key, record in scores.items() if key[2] == "frame-match"}
    for domain in ORACLE_METHOD:
        oracle = match[("oracle-solution", domain, "frame-match")]
        static = match[("static-first-frame", domain, "frame-match")]
        assert oracle["final_ssim"] - static["final_ssim"] >= 0.1, (domain, oracle, static)

    with open(experiment / "report" / "metrics_detail.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert {row["domain"] for row in rows if row["grouping"] == "domain"} == set(ORACLE_METHOD)

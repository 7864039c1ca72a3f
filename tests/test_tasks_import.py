"""``vmevalkit tasks import``: task sets in the public upstream layouts land in ours, and the oracle uses their
``ground_truth.mp4``.

Fixtures are built here, in each layout exactly as its writer produces it:
- upstream VMEvalKit per-question folders: hokindeng/VMEvalKit ``vmevalkit/runner/create_dataset.py``
  (``generate_domain_to_folders``: first_frame.png, final_frame.png, prompt.txt, question_metadata.json
  written with ``json.dump(pair, f, indent=2, default=str)``);
- upstream VMEvalKit flat output: ``vmevalkit/tasks/sudoku_task/sudoku_reasoning.py`` (``<id>_first.png``,
  ``<id>_final.png``, ``sudoku_3x3_dataset.json`` with ``{"name", "description", "pairs", "metadata"}``, the
  3x3 grids flat with ``null`` for blanks);
- VBVR data factory: VBVR-DataFactory ``core/output_writer.py`` (first_frame.png, final_frame.png, prompt.txt,
  ground_truth.mp4, metadata.json with ``json.dumps(metadata, ensure_ascii=False, indent=2)``);
- VBVR-Bench-Data: ``<split>/<generator>/<index>/`` (first_frame.png, final_frame.png, ground_truth.mp4,
  prompt.txt) as lmms-eval ``tasks/vbvr/utils.py`` reads it, with an index whose rows name those files.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import cli_env, run_generate
from PIL import Image

from vmevalkit.tasks.importers import ImportLayoutError, import_tasks
from vmevalkit.tasks.loader import load_tasks
from vmevalkit.video import read_frames, write_video


def png(
    path: Path, size: tuple[int, int] = (32, 24), color: tuple[int, ...] = (200, 30, 30), mode: str = "RGB"
) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, color).save(path)


def ramp_video(path: Path, size: tuple[int, int] = (32, 24), frames: int = 9) -> None:
    """A real mp4 whose frames go from black to white: which frame the oracle took is readable from its level."""
    w, h = size
    write_video([np.full((h, w, 3), round(255 * i / (frames - 1)), np.uint8) for i in range(frames)], path, fps=8)


def upstream_folders(src: Path) -> None:
    """hokindeng/VMEvalKit create_dataset.py: one folder per question, the pair as question_metadata.json."""
    for i in range(2):
        q = src / "maze_task" / f"maze_{i:04d}"
        png(q / "first_frame.png")
        png(q / "final_frame.png", color=(30, 30, 200))
        (q / "prompt.txt").write_text("Move the green dot from start to the red flag destination.")
        pair = {
            "id": f"maze_{i:04d}",
            "prompt": "Move the green dot from start to the red flag destination.",
            "first_image_path": f"maze_task/maze_{i:04d}/first_frame.png",
            "final_image_path": f"maze_task/maze_{i:04d}/final_frame.png",
            "task_category": "Irregular",
            "maze_data": {"generation_method": "kruskal_algorithm", "solution_length": 7},
            "difficulty": "easy",
            "maze_size": [3, 3],
            "start_pos": [0, 0],
            "end_pos": [2, 2],
            "solution_length": 7,
            "shape_type": "",
            "created_at": "2025-01-01T00:00:00",
            "domain": "maze",
        }
        (q / "question_metadata.json").write_text(json.dumps(pair, indent=2, default=str))
    ramp_video(src / "maze_task" / "maze_0001" / "ground_truth.mp4")
    chess = src / "chess_task" / "chess_0000"
    png(chess / "first_frame.png", size=(31, 23), color=(10, 200, 10, 0), mode="RGBA")  # transparent, odd-sized
    (chess / "prompt.txt").write_text("White to move and checkmate.")
    (chess / "question_metadata.json").write_text(json.dumps({"id": "chess_0000", "domain": "chess"}, indent=2))


def upstream_flat(src: Path) -> None:
    """sudoku_reasoning.py: <id>_first.png / <id>_final.png and the dataset JSON with the pairs."""
    folder = src / "sudoku_task"
    puzzle, solution = [1, None, 3, 2, 3, None, None, 1, 2], [1, 2, 3, 2, 3, 1, 3, 1, 2]
    pairs = []
    for task_id in ("sudoku_3x3_0000", "sudoku_3x3_0001"):
        png(folder / f"{task_id}_first.png", size=(33, 33))
        png(folder / f"{task_id}_final.png", size=(33, 33), color=(0, 0, 255))
        pairs.append(
            {
                "id": task_id,
                "prompt": "Solve this easy 3x3 Sudoku puzzle.",
                "first_image_path": f"tmpdir/{task_id}_first.png",
                "final_image_path": f"tmpdir/{task_id}_final.png",
                "task_category": "Sudoku",
                "difficulty": "easy",
                "sudoku_data": {"puzzle": puzzle, "solution": solution, "difficulty_level": 0, "num_given": 6},
                "puzzle_array": puzzle,
                "solution_array": solution,
                "num_given": 6,
                "created_at": "2025-01-01T00:00:00",
            }
        )
    dataset = {"name": "3x3 Sudoku Reasoning Dataset", "description": "d", "pairs": pairs, "metadata": {}}
    (folder / "sudoku_3x3_dataset.json").write_text(json.dumps(dataset, indent=2))


def datafactory(src: Path) -> None:
    """VBVR-DataFactory core/output_writer.py."""
    for i in range(2):
        t = src / "shape_matching_task" / f"shape_matching_{i:04d}"
        png(t / "first_frame.png")
        png(t / "final_frame.png", color=(255, 255, 0))
        (t / "prompt.txt").write_text("Move each shape into its matching outline.")
        (t / "metadata.json").write_text(
            json.dumps({"shapes": ["circle", "星"], "seed": i}, ensure_ascii=False, indent=2)
        )
    ramp_video(src / "shape_matching_task" / "shape_matching_0000" / "ground_truth.mp4")


def bench(src: Path) -> None:
    """VBVR-Bench-Data: <split>/<generator>/<index>/ and an index naming the files by relative path."""
    rows = []
    for split, generator in (
        ("In-Domain_50", "G-13_grid_number_sequence_data-generator"),
        ("Out-of-Domain_50", "O-4_x_data-generator"),
    ):
        t = src / split / generator / "00000"
        png(t / "first_frame.png")
        png(t / "final_frame.png", color=(0, 255, 0))
        (t / "prompt.txt").write_text("Complete the sequence.")
        ramp_video(t / "ground_truth.mp4")
        base = f"{split}/{generator}/00000"
        rows.append(
            {
                "first_frame_path": f"{base}/first_frame.png",
                "prompt_path": f"{base}/prompt.txt",
                "ground_truth_video_path": f"{base}/ground_truth.mp4",
                "prompt": "Complete the sequence.",
                "first_image": "iVBORw0KGgo=",
            }
        )
    # The index's name and fields: Video-Reason/VBVR-EvalKit README ("VBVR-Bench.json: prompts, first frames
    # (base64), GT paths").
    (src / "VBVR-Bench.json").write_text(json.dumps(rows))


def test_upstream_vmevalkit_folders_and_flat(tmp_path: Path) -> None:
    src, dst = tmp_path / "src", tmp_path / "q"
    upstream_folders(src)
    upstream_flat(src)
    report = import_tasks(src, "vmevalkit", dst)
    assert sorted((d, t) for d, t, _ in report.imported) == [
        ("chess_mate", "chess_0000"),
        ("maze", "maze_0000"),
        ("maze", "maze_0001"),
        ("sudoku", "sudoku_3x3_0000"),
        ("sudoku", "sudoku_3x3_0001"),
    ]
    assert report.with_video == 1 and not report.skipped
    tasks = {t.task_id: t for t in load_tasks(dst).tasks}
    maze = tasks["maze_0000"].metadata
    assert maze["maze_size"] == [3, 3] and maze["maze_data"]["solution_length"] == 7, "upstream fields kept as they are"
    assert (maze["domain"], maze["source_domain"], maze["source_format"]) == ("maze", "maze", "vmevalkit")
    assert maze["source_path"] == "maze_task/maze_0000"
    chess = tasks["chess_0000"]
    assert chess.domain == "chess_mate" and chess.metadata["source_domain"] == "chess"
    sudoku = tasks["sudoku_3x3_0000"]
    assert sudoku.metadata["puzzle_array"] == [1, None, 3, 2, 3, None, None, 1, 2]
    assert sudoku.prompt == "Solve this easy 3x3 Sudoku puzzle." and sudoku.final_frame is not None
    assert tasks["maze_0001"].ground_truth_video == dst / "maze_task" / "maze_0001" / "ground_truth.mp4"
    assert tasks["maze_0000"].ground_truth_video is None


def test_rgba_flattened_on_white_and_odd_sizes_padded(tmp_path: Path) -> None:
    src, dst = tmp_path / "src", tmp_path / "q"
    upstream_folders(src)
    upstream_flat(src)
    import_tasks(src, "vmevalkit", dst)
    with Image.open(dst / "chess_mate_task" / "chess_0000" / "first_frame.png") as im:
        assert (im.mode, im.size) == ("RGB", (32, 24))
        assert im.getpixel((0, 0)) == (255, 255, 255), "a fully transparent pixel is white, not its hidden colour"
    with Image.open(dst / "sudoku_task" / "sudoku_3x3_0000" / "first_frame.png") as im:
        assert im.size == (34, 34) and im.getpixel((33, 33)) == (200, 30, 30), "padded with edge pixels"


def test_vbvr_datafactory(tmp_path: Path) -> None:
    src, dst = tmp_path / "src", tmp_path / "q"
    datafactory(src)
    report = import_tasks(src, "vbvr-datafactory", dst)
    assert len(report.imported) == 2 and report.with_video == 1
    task = next(t for t in load_tasks(dst).tasks if t.task_id == "shape_matching_0000")
    assert task.domain == "shape_matching" and task.metadata["shapes"] == ["circle", "星"]
    assert task.metadata["source_format"] == "vbvr-datafactory" and task.ground_truth_video is not None


def test_vbvr_bench(tmp_path: Path) -> None:
    src, dst = tmp_path / "src", tmp_path / "q"
    bench(src)
    report = import_tasks(src, "vbvr-bench", dst)
    assert sorted(t for _, t, _ in report.imported) == ["G-13_grid_number_sequence_00000", "O-4_x_00000"]
    task = next(t for t in load_tasks(dst).tasks if t.domain == "G-13_grid_number_sequence")
    assert task.metadata["vbvr_split"] == "In-Domain_50" and task.metadata["vbvr_index"] == "00000"
    assert task.metadata["ground_truth_video_path"].endswith("00000/ground_truth.mp4"), "index row kept"
    assert "first_image" not in task.metadata, "the index's base64 copy of the first frame is not kept"
    assert task.ground_truth_video is not None


def test_unknown_layout_names_the_expected_one_and_the_fitting_format(tmp_path: Path) -> None:
    src = tmp_path / "src"
    bench(src)
    with pytest.raises(ImportLayoutError) as caught:
        import_tasks(src, "vmevalkit", tmp_path / "q")
    assert "<domain>_task" in str(caught.value) and "--format vbvr-bench" in str(caught.value)
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "notes.txt").write_text("x")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "vmevalkit",
            "tasks",
            "import",
            "--format",
            "vbvr-bench",
            "junk",
            "--questions-dir",
            "q",
        ],
        cwd=tmp_path,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "<split>/<generator>/<index>/" in result.stderr and "Known formats" in result.stderr
    assert not (tmp_path / "q").exists() or not any((tmp_path / "q").iterdir())


def test_a_broken_task_is_skipped_with_its_reason_and_the_rest_import(tmp_path: Path) -> None:
    src, dst = tmp_path / "src", tmp_path / "q"
    datafactory(src)
    bad = src / "shape_matching_task" / "shape_matching_0002"
    bad.mkdir()
    (bad / "first_frame.png").write_bytes(b"not a png")
    (bad / "prompt.txt").write_text("x")
    no_prompt = src / "shape_matching_task" / "shape_matching_0003"
    png(no_prompt / "first_frame.png")
    report = import_tasks(src, "vbvr-datafactory", dst)
    assert len(report.imported) == 2
    reasons = {s.name: s.reason for s in report.skipped}
    assert "not a readable image" in reasons["shape_matching_0002"]
    assert "no prompt" in reasons["shape_matching_0003"]
    assert not (dst / "shape_matching_task" / "shape_matching_0002").exists()
    assert not [p for p in (dst / "shape_matching_task").iterdir() if p.name.startswith(".")], "no staging left"


def test_rerun_imports_nothing_new_and_says_so(tmp_path: Path) -> None:
    src = tmp_path / "src"
    upstream_folders(src)
    args = [
        sys.executable,
        "-m",
        "vmevalkit",
        "tasks",
        "import",
        "--format",
        "vmevalkit",
        "src",
        "--questions-dir",
        "q",
    ]
    first = subprocess.run(args, cwd=tmp_path, env=cli_env(), capture_output=True, text=True, timeout=60)
    assert first.returncode == 0, first.stderr
    assert "imported maze/maze_0000" in first.stdout and "imported 3 tasks (1 with ground_truth.mp4)" in first.stdout
    before = {p: p.stat().st_mtime_ns for p in (tmp_path / "q").rglob("*")}
    second = subprocess.run(args, cwd=tmp_path, env=cli_env(), capture_output=True, text=True, timeout=60)
    assert second.returncode == 0
    assert "nothing new to import: 3 tasks already in q" in second.stdout
    assert {p: p.stat().st_mtime_ns for p in (tmp_path / "q").rglob("*")} == before


def test_import_then_baselines_oracle_uses_ground_truth_video(tmp_path: Path) -> None:
    src, dst = tmp_path / "src", tmp_path / "q"
    upstream_folders(src)
    import_tasks(src, "vmevalkit", dst)
    result = run_generate(
        "--model",
        "oracle-solution",
        "static-first-frame",
        "--questions-dir",
        str(dst),
        "--domain",
        "maze",
        "--output-dir",
        "o",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    methods = {}
    for meta in (tmp_path / "o").rglob("metadata.json"):
        record = json.loads(meta.read_text())
        if "oracle-solution" in meta.parts:
            methods[meta.parent.parent.name] = json.dumps(record)
            video = next(meta.parent.rglob("*.mp4"))
            if meta.parent.parent.name == "maze_0001":
                frames = read_frames(video)
                levels = frames.reshape(len(frames), -1).mean(axis=1)
                assert levels[0] < 20 and levels[-1] > 235, "the shipped video's first and last frames"
                assert np.all(np.diff(levels) >= -3), "its order kept"
    assert set(methods) == {"maze_0000", "maze_0001"}
    assert '"oracle_method": "ground_truth_video"' in methods["maze_0001"]
    assert '"oracle_method": "cross-fade"' in methods["maze_0000"], "no video shipped: the cross-fade as before"


def test_a_ground_truth_video_that_does_not_decode_is_left_out_with_a_note(tmp_path: Path) -> None:
    from vmevalkit.cli.tasks import video_problem

    src, dst = tmp_path / "src", tmp_path / "q"
    datafactory(src)
    (src / "shape_matching_task" / "shape_matching_0001" / "ground_truth.mp4").write_bytes(b"\x00" * 64)
    report = import_tasks(src, "vbvr-datafactory", dst, check_video=video_problem)
    assert len(report.imported) == 2 and report.with_video == 1
    assert len(report.notes) == 1 and report.notes[0].startswith("shape_matching/shape_matching_0001: ground_truth.mp4")
    assert not (dst / "shape_matching_task" / "shape_matching_0001" / "ground_truth.mp4").exists()


def test_a_ground_truth_video_outside_the_questions_dir_makes_the_task_invalid(tmp_path: Path) -> None:
    src, dst = tmp_path / "src", tmp_path / "q"
    upstream_folders(src)
    import_tasks(src, "vmevalkit", dst)
    outside = tmp_path / "elsewhere.mp4"
    ramp_video(outside)
    (dst / "maze_task" / "maze_0000" / "ground_truth.mp4").symlink_to(outside)
    task_set = load_tasks(dst)
    problem = next(p for p in task_set.problems if p.task_id == "maze_0000")
    assert "ground_truth.mp4 resolves outside the questions directory" in problem.reason

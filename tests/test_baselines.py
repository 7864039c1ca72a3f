"""The builtin baselines write real mp4 files with the frames they promise."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vmevalkit.models.base import DEFAULT_SEED
from vmevalkit.runner.registry import build_wrapper
from vmevalkit.tasks.loader import load_tasks
from vmevalkit.video import probe_video, read_frames


def png(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"), dtype=np.int16)


def mean_abs(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


def test_static_first_frame_holds_the_first_frame(questions: Path, tmp_path: Path) -> None:
    task = load_tasks(questions, task_ids=["maze_0001"]).tasks[0]
    wrapper = build_wrapper("static-first-frame", output_dir=tmp_path)
    result = wrapper.generate(task.first_frame, task.prompt, duration=2.0, output_filename="static.mp4")
    assert result.success, result.error
    assert result.status == "completed" and result.model == "static-first-frame"
    assert set(result.model_dump()) == {
        "success",
        "video_path",
        "error",
        "duration_seconds",
        "generation_id",
        "model",
        "status",
        "metadata",
    }
    info = probe_video(tmp_path / "static.mp4")
    assert info.codec == "h264" and info.frame_count == 32 and info.fps == 16
    frames = read_frames(tmp_path / "static.mp4")
    first = png(task.first_frame)
    assert all(mean_abs(f, first) < 3 for f in frames)


@pytest.mark.parametrize("task_id", ["maze_0001", "sliding_puzzle_0002", "sudoku_0003"])
def test_oracle_starts_at_the_first_frame_and_ends_at_the_answer(questions: Path, tmp_path: Path, task_id: str) -> None:
    task = load_tasks(questions, task_ids=[task_id]).tasks[0]
    wrapper = build_wrapper("oracle-solution", output_dir=tmp_path)
    result = wrapper.generate(task.first_frame, task.prompt, duration=4.0, output_filename="oracle.mp4", task=task)
    assert result.success, result.error
    assert result.metadata["oracle_method"] == "solution"
    frames = read_frames(tmp_path / "oracle.mp4")
    steps = task.metadata["num_steps"]
    assert len(frames) == max(64, steps + 1)
    first, final = png(task.first_frame), png(task.final_frame)
    assert mean_abs(frames[0], first) < 3 and mean_abs(frames[-1], final) < 3
    # and not trivially: the ends are told apart by a wide margin
    assert mean_abs(frames[-1], final) < 0.5 * mean_abs(frames[-1], first)
    assert mean_abs(frames[0], first) < 0.5 * mean_abs(frames[0], final)
    # every step of the solution is shown: the video changes at least `steps` times
    changes = sum(mean_abs(a, b) > 0.05 for a, b in zip(frames, frames[1:], strict=False))
    assert changes >= steps


def test_oracle_cross_fades_where_a_task_has_no_solution(questions: Path, tmp_path: Path) -> None:
    custom = questions / "custom_task" / "custom_0001"
    shutil.copytree(questions / "sliding_puzzle_task" / "sliding_puzzle_0001", custom)
    (custom / "question_metadata.json").write_text("{}")
    task = load_tasks(questions, domains=["custom"]).tasks[0]
    result = build_wrapper("oracle-solution", output_dir=tmp_path).generate(
        task.first_frame, task.prompt, duration=1.0, output_filename="fade.mp4", task=task
    )
    assert result.success and result.metadata["oracle_method"] == "cross-fade"
    frames = read_frames(tmp_path / "fade.mp4")
    assert len(frames) == 16
    assert mean_abs(frames[0], png(task.first_frame)) < 3 and mean_abs(frames[-1], png(task.final_frame)) < 3
    middle = mean_abs(frames[8], png(task.first_frame))
    assert 5 < middle < mean_abs(png(task.final_frame), png(task.first_frame))


def test_generate_returns_failures_instead_of_raising(questions: Path, tmp_path: Path) -> None:
    oracle = build_wrapper("oracle-solution", output_dir=tmp_path)
    task = load_tasks(questions, task_ids=["maze_0001"]).tasks[0]
    no_task = oracle.generate(task.first_frame, task.prompt, output_filename="a.mp4")
    assert not no_task.success and no_task.status == "failed" and "needs the task" in no_task.error
    missing = build_wrapper("static-first-frame", output_dir=tmp_path).generate(tmp_path / "nope.png", "prompt")
    assert not missing.success and "input image not found" in missing.error
    bad = build_wrapper("static-first-frame", output_dir=tmp_path).generate(task.first_frame, "p", duration=-1)
    assert not bad.success and "duration must be positive" in bad.error
    assert not list(tmp_path.glob("*.mp4"))


def test_seed_defaults_to_a_fixed_value(questions: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log = tmp_path / "calls.jsonl"
    monkeypatch.setenv("VMK_CALL_LOG", str(log))
    wrapper = build_wrapper("test-probe", output_dir=tmp_path)
    task = load_tasks(questions, task_ids=["maze_0001"]).tasks[0]
    out = tmp_path / "m" / "maze_task" / "maze_0001" / "r" / "video" / "v.mp4"
    assert wrapper.generate(task.first_frame, task.prompt, output_filename=out).success
    assert wrapper.generate(task.first_frame, task.prompt, output_filename=out, seed=7).success
    import json

    seeds = [json.loads(line)["seed"] for line in log.read_text().splitlines()]
    assert seeds == [DEFAULT_SEED, 7]

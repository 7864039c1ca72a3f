"""InferenceRunner in-process: layout, resume, retries, failure isolation, no answer leakage."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vmevalkit.runner.inference import InferenceRunner
from vmevalkit.runner.records import read_record
from vmevalkit.tasks.loader import load_tasks


def make_runner(tmp_path: Path, **kwargs) -> InferenceRunner:
    return InferenceRunner(output_dir=tmp_path / "outputs", experiment="exp", duration=1.0, **kwargs)


def test_one_self_contained_folder_per_generation(questions: Path, tmp_path: Path) -> None:
    tasks = load_tasks(questions, limit_per_domain=1).tasks
    summary = make_runner(tmp_path).run(["static-first-frame", "oracle-solution"], tasks)
    assert summary.completed == 6 and summary.failed == 0
    for model in ("static-first-frame", "oracle-solution"):
        for task in tasks:
            task_dir = tmp_path / "outputs" / "exp" / model / f"{task.domain}_task" / task.task_id
            (run_dir,) = list(task_dir.iterdir())
            record = read_record(run_dir)
            assert record is not None and record.status == "completed" and record.attempts == 1
            assert record.model == model and record.task_id == task.task_id and record.seed == 42
            assert (run_dir / record.video).is_file() and record.video.startswith("video/")
            assert record.video_info.frame_count >= 16 and record.video_info.path == record.video
            question = sorted(p.name for p in (run_dir / "question").iterdir())
            assert question == ["final_frame.png", "first_frame.png", "prompt.txt", "question_metadata.json"]
            assert (run_dir / "question" / "prompt.txt").read_bytes() == (task.path / "prompt.txt").read_bytes()
            assert not [p for p in run_dir.rglob(".*tmp-*")]
            assert str(tmp_path) not in (run_dir / "metadata.json").read_text(), "metadata must not hold absolute paths"


def test_second_run_does_nothing_and_changes_nothing(questions: Path, tmp_path: Path) -> None:
    tasks = load_tasks(questions, domains=["maze"]).tasks
    make_runner(tmp_path).run(["static-first-frame"], tasks)
    files = {p: p.stat().st_mtime_ns for p in (tmp_path / "outputs").rglob("*") if p.is_file()}
    plan = make_runner(tmp_path).plan(["static-first-frame"], tasks)
    assert [item.state for item in plan] == ["completed"] * 4
    summary = make_runner(tmp_path).run(["static-first-frame"], tasks)
    assert (summary.completed, summary.skipped) == (0, 4)
    assert files == {p: p.stat().st_mtime_ns for p in (tmp_path / "outputs").rglob("*") if p.is_file()}


def test_changing_seed_or_prompt_makes_a_new_generation(questions: Path, tmp_path: Path) -> None:
    tasks = load_tasks(questions, task_ids=["maze_0001"]).tasks
    make_runner(tmp_path).run(["static-first-frame"], tasks)
    assert make_runner(tmp_path, seed=7).run(["static-first-frame"], tasks).completed == 1
    (questions / "maze_task" / "maze_0001" / "prompt.txt").write_text("A different instruction.\n")
    tasks = load_tasks(questions, task_ids=["maze_0001"]).tasks
    assert make_runner(tmp_path).run(["static-first-frame"], tasks).completed == 1
    assert len(list((tmp_path / "outputs" / "exp" / "static-first-frame" / "maze_task" / "maze_0001").iterdir())) == 3


def test_failures_are_recorded_and_retried_only_on_request(
    questions: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tasks = load_tasks(questions, domains=["maze"]).tasks
    monkeypatch.setenv("VMK_FAIL_TASKS", "maze_0002,maze_0004")
    first = make_runner(tmp_path).run(["test-probe"], tasks)
    assert (first.completed, first.failed) == (2, 2)
    failures = dict(first.models["test-probe"].failures)
    assert failures == {"maze_0002": "planned failure for maze_0002", "maze_0004": "planned failure for maze_0004"}
    failed_dir = make_runner(tmp_path).plan(["test-probe"], tasks)[1].run_dir
    record = read_record(failed_dir)
    assert record.status == "failed" and record.video is None and record.error == "planned failure for maze_0002"
    assert not list(failed_dir.rglob("*.mp4"))

    monkeypatch.delenv("VMK_FAIL_TASKS")
    again = make_runner(tmp_path).run(["test-probe"], tasks)
    assert (again.completed, again.failed, again.models["test-probe"].skipped_failed) == (0, 0, 2)
    retried = make_runner(tmp_path, retry_failed=True).run(["test-probe"], tasks)
    assert (retried.completed, retried.failed, retried.models["test-probe"].skipped_done) == (2, 0, 2)
    record = read_record(failed_dir)
    assert record.status == "completed" and record.attempts == 2 and record.error is None


@pytest.mark.parametrize(
    ("model", "error"),
    [
        ("test-raise", "RuntimeError: the model blew up"),
        ("test-broken-setup", "model could not start: RuntimeError: weights are corrupt"),
        ("test-missing-video", "video check failed"),
        ("test-corrupt-video", "video check failed"),
    ],
)
def test_a_broken_model_fails_its_jobs_and_others_still_run(
    questions: Path, tmp_path: Path, model: str, error: str
) -> None:
    tasks = load_tasks(questions, domains=["sudoku"], limit_per_domain=2).tasks
    summary = make_runner(tmp_path).run([model, "static-first-frame"], tasks)
    assert summary.models[model].failed == 2
    assert all(error in message for _, message in summary.models[model].failures)
    assert summary.models["static-first-frame"].completed == 2
    for item in make_runner(tmp_path).plan([model], tasks):
        record = read_record(item.run_dir)
        assert record.status == "failed" and error in record.error
        assert not list(item.run_dir.rglob("*.mp4")), "a failed generation keeps no video"


def test_only_the_oracle_sees_the_answer(questions: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log = tmp_path / "calls.jsonl"
    monkeypatch.setenv("VMK_CALL_LOG", str(log))
    tasks = load_tasks(questions, limit_per_domain=1).tasks
    make_runner(tmp_path).run(["test-probe"], tasks)
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(calls) == 3 and all(call["kwargs"] == ["seed"] for call in calls)


def test_dry_plan_touches_nothing(questions: Path, tmp_path: Path) -> None:
    plan = make_runner(tmp_path).plan(["static-first-frame", "oracle-solution"], load_tasks(questions).tasks)
    assert len(plan) == 24 and {item.state for item in plan} == {None}
    assert not (tmp_path / "outputs").exists()

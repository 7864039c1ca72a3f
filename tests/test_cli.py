"""The command line as a user runs it: real subprocesses, exit codes, messages."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from conftest import cli_env, run_generate

from vmevalkit.runner.records import read_record


def test_default_baselines_run_then_resume(questions: Path, tmp_path: Path) -> None:
    args = ("--model", "static-first-frame", "--task-id", "maze_0001", "maze_0002", "--questions-dir", str(questions))
    first = run_generate(*args, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    videos = sorted((tmp_path / "data" / "outputs" / "pilot" / "static-first-frame").rglob("*.mp4"))
    assert [v.parent.parent.parent.name for v in videos] == ["maze_0001", "maze_0002"]
    assert sorted(tmp_path.rglob("*.mp4")) == videos, "each video is written once, in its generation folder"
    second = run_generate(*args, cwd=tmp_path)
    assert second.returncode == 0
    assert "skipping 2 generation(s) already done" in second.stdout
    assert not [line for line in second.stdout.splitlines() if line.startswith("completed ")]


def test_failed_generations_give_exit_1_until_retried(questions: Path, tmp_path: Path) -> None:
    args = ("--model", "test-probe", "--domain", "sudoku", "--questions-dir", str(questions), "--output-dir", "o")
    failing = run_generate(*args, cwd=tmp_path, VMK_FAIL_TASKS="sudoku_0002")
    assert failing.returncode == 1
    assert "failed: test-probe sudoku_0002: planned failure for sudoku_0002" in failing.stderr
    still = run_generate(*args, cwd=tmp_path)
    assert still.returncode == 1, "a failed generation left in the experiment keeps the exit code non-zero"
    assert "use --retry-failed" in still.stdout
    retried = run_generate(*args, "--retry-failed", cwd=tmp_path)
    assert retried.returncode == 0, retried.stdout + retried.stderr
    run_dirs = [m.parent for m in (tmp_path / "o").rglob("metadata.json")]
    assert len(run_dirs) == 4 and all(read_record(d).status == "completed" for d in run_dirs)


def test_usage_errors_exit_2_with_the_fix(questions: Path, tmp_path: Path) -> None:
    q = ("--questions-dir", str(questions))
    unknown = run_generate("--model", "oracle-soluton", *q, cwd=tmp_path)
    assert unknown.returncode == 2 and "did you mean: oracle-solution" in unknown.stderr
    task = run_generate("--model", "oracle-solution", "--task-id", "maze_9999", *q, cwd=tmp_path)
    assert task.returncode == 2 and "task 'maze_9999' not found" in task.stderr
    no_model = run_generate(*q, cwd=tmp_path)
    assert no_model.returncode == 2 and "--list-models" in no_model.stderr
    no_dir = run_generate("--model", "oracle-solution", "--questions-dir", "missing", cwd=tmp_path)
    assert no_dir.returncode == 2 and "vmevalkit tasks build" in no_dir.stderr
    bad_limit = run_generate("--model", "oracle-solution", "--limit-per-domain", "0", *q, cwd=tmp_path)
    assert bad_limit.returncode == 2 and "--limit-per-domain: must be at least 1" in bad_limit.stderr
    bad_duration = run_generate("--model", "oracle-solution", "--duration", "0", *q, cwd=tmp_path)
    assert bad_duration.returncode == 2 and "--duration: must be positive" in bad_duration.stderr
    assert not (tmp_path / "data" / "outputs").exists(), "nothing runs when the command line is wrong"


def test_invalid_tasks_are_reported_and_the_rest_run(questions: Path, tmp_path: Path) -> None:
    (questions / "maze_task" / "maze_0003" / "first_frame.png").write_bytes(b"garbage")
    result = run_generate(
        "--model",
        "static-first-frame",
        "--domain",
        "maze",
        "--questions-dir",
        str(questions),
        "--output-dir",
        "o",
        cwd=tmp_path,
    )
    assert result.returncode == 1  # exit 0 means every selected generation completed; an invalid task is not
    assert "skipped task maze_0003" in result.stderr and "first_frame.png is not a readable image" in result.stderr
    assert "1 invalid task(s) skipped" in result.stderr
    assert len(list((tmp_path / "o").rglob("*.mp4"))) == 3


def test_dry_run_prints_the_plan_and_writes_nothing(questions: Path, tmp_path: Path) -> None:
    result = run_generate(
        "--model",
        "oracle-solution",
        "static-first-frame",
        "--limit-per-domain",
        "2",
        "--questions-dir",
        str(questions),
        "--dry-run",
        cwd=tmp_path,
    )
    assert result.returncode == 0
    assert "plan: 12 generations over 6 tasks" in result.stdout
    assert not (tmp_path / "data").exists()


def test_list_models_and_console_script(tmp_path: Path) -> None:
    listed = run_generate("--list-models", cwd=tmp_path)
    assert listed.returncode == 0 and "oracle-solution" in listed.stdout and "static-first-frame" in listed.stdout
    models = subprocess.run(
        [sys.executable, "-m", "vmevalkit", "models", "--json", "--kind", "builtin"],
        cwd=tmp_path,
        env=cli_env(),
        capture_output=True,
        text=True,
        check=True,
    )
    rows = {row["name"]: row for row in json.loads(models.stdout)}
    assert rows["oracle-solution"] == {
        "name": "oracle-solution",
        "family": "baselines",
        "kind": "builtin",
        "installed": True,
        "key_set": None,
        "description": rows["oracle-solution"]["description"],
        "retired": None,
    }


def test_tasks_build_and_list(tmp_path: Path) -> None:
    def vmevalkit(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "vmevalkit.cli.main", *args],
            cwd=tmp_path,
            env=cli_env(),
            capture_output=True,
            text=True,
        )

    built = vmevalkit("tasks", "build", "--questions-dir", "q", "--domain", "maze", "--per-domain", "3", "--seed", "5")
    assert built.returncode == 0, built.stderr
    assert sorted(p.name for p in (tmp_path / "q" / "maze_task").iterdir()) == ["maze_0001", "maze_0002", "maze_0003"]
    unknown = vmevalkit("tasks", "build", "--questions-dir", "q2", "--domain", "sudoku", "mazes")
    assert not (tmp_path / "q2").exists()
    assert unknown.returncode == 2 and "unknown task domain 'mazes' (did you mean: maze?)" in unknown.stderr
    listed = vmevalkit("tasks", "--questions-dir", "q", "list")
    assert listed.returncode == 0 and "maze" in listed.stdout and "3" in listed.stdout
    generated = run_generate("--model", "oracle-solution", "--questions-dir", "q", cwd=tmp_path)
    assert generated.returncode == 0, generated.stderr


def test_experiment_names_cannot_escape_the_output_dir(questions: Path, tmp_path: Path) -> None:
    for name in ("../escape", "a/b", ".hidden"):
        result = run_generate(
            "--model", "oracle-solution", "--experiment", name, "--questions-dir", str(questions), cwd=tmp_path
        )
        assert result.returncode == 2 and "must be a plain folder name" in result.stderr
    assert not list(tmp_path.rglob("*.mp4"))


def test_console_script_is_installed(tmp_path: Path) -> None:
    script = Path(sys.executable).parent / "vmevalkit"
    assert script.is_file(), "pip install -e . installs the 'vmevalkit' console script"
    for command in ([str(script)], [sys.executable, "-m", "vmevalkit"]):
        result = subprocess.run(
            [*command, "models", "--json"], cwd=tmp_path, env=cli_env(), capture_output=True, text=True
        )
        assert result.returncode == 0, result.stderr
        assert "static-first-frame" in {row["name"] for row in json.loads(result.stdout)}
    bare = subprocess.run([str(script)], cwd=tmp_path, env=cli_env(), capture_output=True, text=True)
    assert bare.returncode == 2 and "generate" in bare.stdout

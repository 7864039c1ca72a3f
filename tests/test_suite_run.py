"""``vmevalkit run SUITE``: from a suite file to a ranked result, resumably (issue 15, point 2).

Each run is a real ``vmevalkit run`` process, which runs ``vmevalkit generate``, ``score`` and ``report`` as its own
children. The suite: two generated tasks of each of two domains, the three baselines, task-verifier, and criteria
that rank the oracle first. Resuming is checked after a SIGKILL of the whole process group in each stage: the
second run ends with the same leaderboard an uninterrupted run gives, and a third run does nothing.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import cli_env

SUITE = """
name = "tiny"
version = "1"
description = "two tasks of two domains, the three baselines"
duration = 1.0

[[datasets]]
kind = "generated"
domains = ["maze", "sudoku"]
count = 2
seed = 3

[[models]]
name = "oracle-solution"

[[models]]
name = "shortcut-cut"

[[models]]
name = "static-first-frame"

[[scorers]]
name = "task-verifier"

[[criteria]]
name = "success"
metric = "task-verifier.task_success"
goal = "max"
weight = 2
threshold = 0.5

[[criteria]]
name = "end"
metric = "task-verifier.end_state"
aggregate = "success_rate"
goal = "max"

[[criteria]]
name = "cheat_gap"
expr = "end - success"
goal = "min"
weight = 1

[bootstrap]
samples = 200
"""
MODELS = ("oracle-solution", "shortcut-cut", "static-first-frame")
GENERATIONS = 4 * len(MODELS)


def vmevalkit(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vmevalkit", *args], cwd=cwd, env=cli_env(), capture_output=True, text=True, timeout=600
    )


def run_suite(tmp_path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return vmevalkit("run", str(tmp_path / "tiny.toml"), "--output-dir", str(tmp_path / "out"), *extra, cwd=tmp_path)


def suite_dir(tmp_path: Path) -> Path:
    return tmp_path / "out" / "suite-tiny" / "suite"


def ranking(tmp_path: Path) -> list[tuple[str, int, float, dict[str, float | None]]]:
    data = json.loads((suite_dir(tmp_path) / "result.json").read_text())
    return [
        (row["model"], row["rank"], row["composite"], {k: v["value"] for k, v in row["criteria"].items()})
        for row in data["leaderboard"]["models"]
    ]


def snapshot(tmp_path: Path) -> dict[str, int]:
    """Every file the runs wrote, by its modification time: a run that does nothing changes none."""
    root = tmp_path / "out"
    return {str(p.relative_to(root)): p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()}


@pytest.fixture
def suite(tmp_path: Path) -> Path:
    (tmp_path / "tiny.toml").write_text(SUITE)
    return tmp_path


def test_a_suite_runs_from_generation_to_a_ranked_result_and_a_second_run_does_nothing(suite: Path) -> None:
    planned = run_suite(suite, "--dry-run")
    assert planned.returncode == 0, planned.stderr
    assert f"total: {GENERATIONS} generations, 0 done, {GENERATIONS} to run, about $0.00" in planned.stdout
    assert not (suite / "out" / "suite-tiny" / "oracle-solution").exists(), "a dry run generates nothing"

    done = run_suite(suite)
    assert done.returncode == 0, done.stdout + done.stderr
    for stage in ("generate", "score", "report"):
        assert f"$ vmevalkit {stage}" in done.stdout
    rows = ranking(suite)
    # By hand (weights 2, 1, 1): the oracle (1 + 1 + 1 for the gap's min goal at 0) scores 4/4; the cut gets only
    # `end` (1/4); the static video only the gap, 0 (1/4): a tie, sharing rank 2, listed by name.
    assert [(model, rank, composite) for model, rank, composite, _ in rows] == [
        ("oracle-solution", 1, 1.0),
        ("shortcut-cut", 2, 0.25),
        ("static-first-frame", 2, 0.25),
    ]
    oracle, cut, static = (values for _, _, _, values in rows)
    assert oracle == {"success": 1.0, "end": 1.0, "cheat_gap": 0.0}
    assert cut["success"] == 0.0 and cut["end"] == 1.0 and cut["cheat_gap"] == 1.0  # right end, no legal way there
    assert static["end"] == 0.0
    metrics = json.loads((suite_dir(suite) / "metrics.json").read_text())
    assert metrics["oracle-solution"]["criteria.success"] == 1.0 and metrics["oracle-solution"]["rank"] == 1
    assert (suite / "out" / "suite-tiny" / "report" / "report.html").is_file()
    header = (suite_dir(suite) / "leaderboard.csv").read_text().splitlines()[0]
    assert header.startswith("rank,model,composite,ci_low,ci_high,success,end,cheat_gap")

    before = snapshot(suite)
    again = run_suite(suite)
    assert again.returncode == 0, again.stderr
    assert "nothing to do: every stage is done" in again.stdout
    assert "$ vmevalkit" not in again.stdout, "no child command runs when every stage is done"
    assert snapshot(suite) == before

    replanned = run_suite(suite, "--dry-run")
    assert f"total: {GENERATIONS} generations, {GENERATIONS} done, 0 to run" in replanned.stdout


@pytest.mark.parametrize("stage", ["generate", "score", "report"])
def test_a_sigkill_in_any_stage_resumes_to_the_same_result(suite: Path, stage: str) -> None:
    """Killed (the whole process group, children too) as soon as the stage's command starts: the next run finishes
    the suite, and its leaderboard is the one an uninterrupted run gives."""
    process = subprocess.Popen(
        [sys.executable, "-m", "vmevalkit", "run", str(suite / "tiny.toml"), "--output-dir", str(suite / "out")],
        cwd=suite,
        env=cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    assert process.stdout is not None
    seen = []
    for line in process.stdout:
        seen.append(line)
        if line.startswith(f"$ vmevalkit {stage}"):
            os.killpg(process.pid, signal.SIGKILL)
            break
    process.wait(timeout=120)
    assert process.returncode == -signal.SIGKILL, "".join(seen)
    assert not (suite_dir(suite) / "result.json").exists()

    resumed = run_suite(suite)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    rows = ranking(suite)
    assert [model for model, *_ in rows] == list(MODELS)
    assert rows[0][3] == {"success": 1.0, "end": 1.0, "cheat_gap": 0.0}
    assert rows[1][3]["success"] == 0.0 and rows[2][3]["end"] == 0.0
    finished = run_suite(suite)
    assert "nothing to do: every stage is done" in finished.stdout, finished.stdout


def test_a_bad_suite_is_one_error_line_with_the_field_and_exit_2(tmp_path: Path) -> None:
    (tmp_path / "bad.toml").write_text(SUITE.replace('goal = "min"', 'goal = "smallest"'))
    done = vmevalkit("run", str(tmp_path / "bad.toml"), "--output-dir", str(tmp_path / "out"), cwd=tmp_path)
    assert done.returncode == 2
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "criteria[2].goal" in lines[0], done.stderr
    assert not (tmp_path / "out").exists()
    unknown = vmevalkit("run", "no-such-benchmark", cwd=tmp_path)
    assert unknown.returncode == 2 and "no-such-benchmark" in unknown.stderr


def test_the_readme_suite_is_a_valid_suite(tmp_path: Path) -> None:
    """The suite file the README shows loads as it is written (a README example that does not run is a bug)."""
    from conftest import REPO

    from vmevalkit.suites.schema import load_suite

    readme = (REPO / "README.md").read_text()
    block = readme.split("```toml\n# my_suite.toml\n", 1)[1].split("```", 1)[0]
    (tmp_path / "my_suite.toml").write_text(block)
    loaded = load_suite(tmp_path / "my_suite.toml")
    assert [m.name for m in loaded.suite.models] == ["oracle-solution", "static-first-frame"]
    assert [c.name for c in loaded.suite.criteria] == ["success", "cheat_gap", "end"]


def test_mlflow_logs_the_suite_run_and_its_metrics_equal_metrics_json(suite: Path) -> None:
    """``--mlflow`` without MLFLOW_TRACKING_URI: the SQLite store beside the outputs gets a parent run and one
    nested run per model whose metrics are exactly metrics.json's; a second run logs nothing new."""
    from mlflow.tracking import MlflowClient  # the suites extra, which the README's test command installs

    done = run_suite(suite, "--mlflow")
    assert done.returncode == 0, done.stdout + done.stderr
    store = suite / "out" / "mlflow.db"
    assert store.is_file() and "mlflow: run" in done.stdout
    client = MlflowClient(tracking_uri=f"sqlite:///{store}")
    experiment = client.get_experiment_by_name("suite-tiny")
    assert experiment is not None
    runs = client.search_runs([experiment.experiment_id])
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = {r.data.params["model"]: r for r in runs if r.data.tags.get("mlflow.parentRunId")}
    assert len(parents) == 1 and set(children) == set(MODELS)
    metrics = json.loads((suite_dir(suite) / "metrics.json").read_text())
    for model, run in children.items():
        assert run.data.metrics == pytest.approx(metrics[model]), model
    again = run_suite(suite, "--mlflow")
    assert again.returncode == 0, again.stderr
    assert len(client.search_runs([experiment.experiment_id])) == len(runs)


def test_the_shipped_quick_benchmark_runs_and_ranks_the_oracle_first(tmp_path: Path) -> None:
    """``vmevalkit run quick``, by name, as the README says a new user runs it: no key, no GPU, no download."""
    done = vmevalkit("run", "quick", "--output-dir", str(tmp_path / "out"), cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    data = json.loads((tmp_path / "out" / "suite-quick" / "suite" / "result.json").read_text())
    ranked = [(row["model"], row["rank"]) for row in data["leaderboard"]["models"]]
    assert ranked[0] == ("oracle-solution", 1) and ranked[-1][0] == "static-first-frame", ranked
    assert data["suite"]["name"] == "quick" and len(data["suite"]["content_hash"]) == 64

"""Scorers written for CMI-RewardBench's ``--model_class_path`` contract run unchanged (issue 14, point 7).

The plug-ins (tests/plugins/vmk_test_cmi*.py) follow CMI-RewardBench's README and core/model_abc.py; they run
through ``examples/score_videos.py`` as a user runs it, with CMI's own flag names, over real baseline videos.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import vmk_test_cmi
from conftest import REPO, cli_env

from vmevalkit.runner.inference import InferenceRunner
from vmevalkit.scoring.base import ScorerContractError, load_scorer_class
from vmevalkit.scoring.build import build_scorer
from vmevalkit.scoring.cmi_adapter import CMI_DIMENSIONS, CmiScorer, follows_cmi
from vmevalkit.scoring.runner import ScoringRunner, find_generations, read_score, score_path
from vmevalkit.tasks.loader import load_tasks

BASELINES = ["static-first-frame", "oracle-solution"]
CMI_KEYS = {"audio", "text", "lyrics", "ref_audio"}  # BenchmarkBatchInput.to_dict() in CMI's core/model_abc.py


def make_experiment(questions: Path, root: Path) -> Path:
    """Both baselines on two tasks: four real mp4s with their metadata.json files, under <root>/outputs/exp."""
    tasks = load_tasks(questions, task_ids=["maze_0001", "sudoku_0001"]).tasks
    runner = InferenceRunner(output_dir=root / "outputs", experiment="exp", duration=1.0)
    assert runner.run(BASELINES, tasks).completed == 4
    return runner.experiment_dir


def run_script(script: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(REPO / "examples" / script), *args],
        cwd=cwd,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=240,
    )


COMMON = ("--output-dir", "outputs", "--experiment", "exp", "--no-progress")


def test_a_cmi_scorer_runs_unchanged_with_cmi_flags(questions: Path, tmp_path: Path) -> None:
    experiment = make_experiment(questions, tmp_path)
    log = tmp_path / "calls.jsonl"
    args = (
        "--model_class_path",
        "vmk_test_cmi:CustomRewardModel",
        "-c",
        "weights/model.safetensors",
        "--device",
        "cpu",
        "--model_init_kwargs_json",
        json.dumps({"sr": 16000, "log": str(log)}),
        "--model_score_kwargs_json",
        '{"my_flag": true}',
        "--batch_size",
        "3",
        "--max_dur",
        "30",
        *COMMON,
    )
    done = run_script("score_videos.py", *args, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr

    calls = [json.loads(line) for line in log.read_text().splitlines()]
    assert calls[0]["init"] == {
        "checkpoint": "weights/model.safetensors",
        "config": None,
        "device": "cpu",
        "mode": "final",
        "sr": 16000,
    }
    batches = [c for c in calls if "batch" in c]
    assert [len(b["batch"]) for b in batches] == [3, 1] and [b["batch_size"] for b in batches] == [3, 1]
    assert {b["max_dur"] for b in batches} == {30.0} and all(b["kwargs"] == {"my_flag": True} for b in batches)
    for item in (one for b in batches for one in b["batch"]):
        assert CMI_KEYS <= set(item) and item["lyrics"] == ""
        assert item["audio"].endswith(".mp4") and Path(item["audio"]).is_file() and item["text"]
        assert item["ref_audio"].endswith("first_frame.png") and item["final_frame"] is None, "no answer leaks"

    generations = find_generations(experiment)
    for generation in generations:
        record = read_score(score_path(generation.run_dir, "vmk_test_cmi.CustomRewardModel"))
        assert record is not None and record.error is None
        assert list(record.dimensions) == list(CMI_DIMENSIONS) and record.dimensions["alignment"] == 1.0
        assert record.dimensions["musicality"] == pytest.approx(generation.video_path.stat().st_size / 1024)  # type: ignore[union-attr]
        assert record.scorer_class == "vmk_test_cmi:CustomRewardModel"
        assert record.config["contract"] == "cmi" and record.config["max_dur"] == 30.0
        assert record.config["checkpoint"] == "weights/model.safetensors"

    again = run_script("score_videos.py", *args, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert not [line for line in again.stdout.splitlines() if line.startswith("scored ")], "all up to date"
    other = run_script("score_videos.py", *args[: -len(COMMON) - 1], "60", *COMMON, cwd=tmp_path)
    assert len([line for line in other.stdout.splitlines() if line.startswith("scored ")]) == 4, "max_dur resumes"

    report = run_script("report.py", *COMMON[:4], cwd=tmp_path)
    assert report.returncode == 0, report.stdout + report.stderr
    summary = (experiment / "report" / "metrics_summary.csv").read_text()
    assert "vmk_test_cmi.CustomRewardModel" in summary and "musicality" in summary


def test_a_constructor_error_is_one_usage_line(questions: Path, tmp_path: Path) -> None:
    experiment = make_experiment(questions, tmp_path)
    done = run_script(
        "score_videos.py", "--model_class_path", "vmk_test_cmi:RefusingModel", "-c", "w.pt", *COMMON, cwd=tmp_path
    )
    assert done.returncode == 2, done.stdout + done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("error: ") and "Traceback" not in done.stderr
    assert "vmk_test_cmi:RefusingModel(checkpoint) failed: ValueError: config.yaml not found next to w.pt" in line
    assert not list(experiment.rglob("scores/*.json"))

    unweighted = run_script(
        "score_videos.py", "--model_class_path", "vmk_test_cmi:RefusingModel", *COMMON, cwd=tmp_path
    )
    assert unweighted.returncode == 2
    assert "vmk_test_cmi:RefusingModel needs a checkpoint: pass --checkpoint PATH" in unweighted.stderr

    catalog = run_script("score_videos.py", "--scorer", "frame-match", "--max_dur", "5", *COMMON, cwd=tmp_path)
    assert catalog.returncode == 2 and "--max-dur applies to --scorer-class-path plug-ins" in catalog.stderr


def test_two_classes_of_one_name_write_two_score_files(questions: Path, tmp_path: Path) -> None:
    experiment = make_experiment(questions, tmp_path)
    for path in ("vmk_test_cmi:Twin", "vmk_test_cmi_other:Twin"):
        done = run_script("score_videos.py", "--model_class_path", path, *COMMON, cwd=tmp_path)
        assert done.returncode == 0, done.stdout + done.stderr
    for generation in find_generations(experiment):
        names = sorted(p.name for p in (generation.run_dir / "scores").glob("*.json"))
        assert names == ["vmk_test_cmi.Twin.json", "vmk_test_cmi_other.Twin.json"]
        first = read_score(score_path(generation.run_dir, "vmk_test_cmi.Twin"))
        second = read_score(score_path(generation.run_dir, "vmk_test_cmi_other.Twin"))
        assert first is not None and second is not None
        assert (first.dimensions["alignment"], second.dimensions["alignment"]) == (1.0, 2.0)


# -- the adapter, in process ------------------------------------------------------------


class Ours:
    dimensions = ("x",)

    def score_batch(self, items: list[Any]) -> Any:
        return np.zeros((len(items), 1))


class Plain:
    """CMI-shaped but with nothing that marks it: only --scorer-contract cmi makes it one."""

    def __init__(self, **kwargs: Any) -> None:
        self.kwargs = kwargs

    def score_batch(self, inputs: list[Any], **kwargs: Any) -> Any:
        return np.asarray([[len(x.to_dict()["text"]), kwargs["max_dur"]] for x in inputs])


def test_the_contract_is_detected_or_told() -> None:
    assert follows_cmi(vmk_test_cmi.CustomRewardModel) and follows_cmi(vmk_test_cmi.Twin)
    assert not follows_cmi(Ours) and not follows_cmi(Plain)
    assert not isinstance(build_scorer(Ours), CmiScorer)
    with pytest.raises(ScorerContractError, match="--scorer-contract cmi"):
        build_scorer(Plain)
    told = build_scorer(Plain, checkpoint="w.pt", device="cpu", contract="cmi", max_dur=7)
    assert isinstance(told, CmiScorer) and told.inner.kwargs == {"checkpoint": "w.pt", "device": "cpu"}
    with pytest.raises(ScorerContractError, match="--max-dur apply to CMI-RewardBench scorers"):
        build_scorer(Ours, max_dur=7)
    with pytest.raises(ScorerContractError, match="unknown scorer contract 'cmo'"):
        build_scorer(Ours, contract="cmo")


def test_declared_dimensions_and_keyword_only_inputs(questions: Path, tmp_path: Path) -> None:
    generations = find_generations(make_experiment(questions, tmp_path))
    three = build_scorer(load_scorer_class("vmk_test_cmi:ThreeColumns"))
    with pytest.raises(ScorerContractError, match=r"expected \(4, 2\).*--scorer-dimensions"):
        ScoringRunner(three).run(generations)
    named = build_scorer(load_scorer_class("vmk_test_cmi:ThreeColumns"), dimensions=["a", "b", "c"], max_dur=9)
    assert ScoringRunner(named).run(generations).scored == 4
    record = read_score(score_path(generations[0].run_dir, "vmk_test_cmi.ThreeColumns"))
    assert record is not None and record.dimensions == {"a": 0.25, "b": 0.5, "c": 9.0}

    keyword = build_scorer(load_scorer_class("vmk_test_cmi:KeywordInputs"))
    assert ScoringRunner(keyword, batch_size=3).run(generations).scored == 4
    batch_sizes = [read_score(score_path(g.run_dir, "vmk_test_cmi.KeywordInputs")) for g in generations]
    assert [r.dimensions["alignment"] for r in batch_sizes if r] == [3.0, 3.0, 3.0, 1.0]
    assert {r.dimensions["musicality"] for r in batch_sizes if r} == {120.0}, "CMI-RewardBench's default max_dur"

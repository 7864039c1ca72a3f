"""The shipped local scorers end to end: installer, tiny checkpoints, the score CLI, real workers in a real venv.

``setup/install_model.sh clip-score --tiny --validate`` builds a scorer's own virtualenv for real, builds its tiny
checkpoint and scores two baseline videos through its worker. Every other family then runs through the score CLI
on its tiny checkpoint in the shared test venv (each scorer pins the generators' stack minus diffusers; a test in
test_local_models.py holds them to it). The families' own details are tested in tests/test_scorer_<family>.py.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import MODEL_CACHE, REPO, ModelVenv, cli_env, make_fake_venv

from vmevalkit.runner.inference import InferenceRunner
from vmevalkit.scoring.catalog import all_scorers
from vmevalkit.scoring.local.tiny import family_class
from vmevalkit.scoring.runner import load_catalog_scorer, read_score
from vmevalkit.scoring.SCORER_CATALOG import AVAILABLE_SCORERS
from vmevalkit.tasks.loader import load_tasks

LOCAL_SCORERS = sorted(name for name, entry in AVAILABLE_SCORERS.items() if entry["kind"] == "local")
INSTALLED = "clip-score"  # the one scorer whose venv the tests build with its own installer


@pytest.fixture(scope="session")
def clip_venv() -> subprocess.CompletedProcess[str]:
    envs, weights = MODEL_CACHE / "envs", MODEL_CACHE / "weights"
    return subprocess.run(
        ["bash", str(REPO / "setup" / "install_model.sh"), INSTALLED, "--tiny", "--validate"],
        env=cli_env(VMEVALKIT_ENVS_DIR=str(envs), VMEVALKIT_WEIGHTS_DIR=str(weights), VMEVALKIT_PYTHON=sys.executable),
        capture_output=True,
        text=True,
        timeout=1800,
    )


def test_install_builds_the_scorer_venv_and_validates_it_on_a_tiny_checkpoint(clip_venv) -> None:
    out = clip_venv.stdout + clip_venv.stderr
    assert clip_venv.returncode == 0, out[-4000:]
    assert f"{INSTALLED}: validation passed" in clip_venv.stdout
    # Both baselines were scored through the worker, with every dimension reported.
    for model in ("oracle-solution", "static-first-frame"):
        assert f"{INSTALLED} on {model} maze_0001: clip_score=" in clip_venv.stdout
    stamp = json.loads((MODEL_CACHE / "envs" / INSTALLED / ".vmevalkit-install.json").read_text())
    assert stamp["model"] == INSTALLED
    assert (MODEL_CACHE / "weights" / "tiny" / INSTALLED / "config.json").is_file()


def test_every_local_scorer_entry_names_a_family_a_wrapper_and_pinned_weights() -> None:
    from vmevalkit.models.local.weights import get_pin
    from vmevalkit.scoring.local.model import LocalScorerModel
    from vmevalkit.utils.imports import load_object

    assert {"clip-score", "videoscore", "videoreward", "vlm-judge-qwen"} <= set(LOCAL_SCORERS)
    for name in LOCAL_SCORERS:
        entry = AVAILABLE_SCORERS[name]
        cls = family_class(name)
        assert issubclass(cls, LocalScorerModel) and cls.dimensions, name
        assert load_object(entry["wrapper_class"]).__name__ == "LocalScorer"
        pin = get_pin(entry["args"]["checkpoint"])
        assert pin.repo_id == entry["model"], f"{name}: the catalog and checkpoints.toml name the same repo"


def test_a_local_scorer_that_is_not_installed_is_refused_with_the_command(tmp_path: Path) -> None:
    from vmevalkit.scoring.local.wrapper import LocalScorerNotReady

    for name in LOCAL_SCORERS:
        with pytest.raises(LocalScorerNotReady, match=rf"run bash setup/install_model.sh {name}$"):
            load_catalog_scorer(name)


@pytest.fixture
def experiment(questions: Path, tmp_path: Path) -> Path:
    tasks = load_tasks(questions, task_ids=["maze_0001"]).tasks
    runner = InferenceRunner(output_dir=tmp_path / "outputs", experiment="exp", duration=1.0)
    assert runner.run(["oracle-solution", "static-first-frame"], tasks).completed == 2
    return runner.experiment_dir


@pytest.mark.parametrize("name", LOCAL_SCORERS)
def test_score_cli_runs_each_local_scorer_on_its_tiny_checkpoint(
    model_venv: ModelVenv, experiment: Path, tmp_path: Path, name: str
) -> None:
    checkpoint = tmp_path / "tiny"
    built = subprocess.run(
        [str(model_venv.python), "-m", "vmevalkit.models.local.tiny", name, str(checkpoint)],
        env={"PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert built.returncode == 0, built.stderr[-3000:]
    envs = tmp_path / "envs"
    make_fake_venv(envs, name, python=model_venv.python)  # envs/<name>/bin/python runs the shared test venv
    done = subprocess.run(
        [sys.executable, str(REPO / "examples" / "score_videos.py"), "--scorer", name, "--no-progress"]
        + ["--output-dir", str(tmp_path / "outputs"), "--experiment", "exp", "--checkpoint", str(checkpoint)]
        + ["--scorer-init-kwargs-json", json.dumps(family_class(name).tiny_args)],
        cwd=tmp_path,
        env=cli_env(VMEVALKIT_ENVS_DIR=str(envs), VMEVALKIT_LOCAL_GPUS="cpu"),
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    records = [read_score(p) for p in sorted(experiment.rglob(f"scores/{name}.json"))]
    assert len(records) == 2
    for record in records:
        assert record is not None and record.error is None
        assert list(record.dimensions) == list(family_class(name).dimensions)
        assert record.config["weights"] == f"dir:{checkpoint}"
        assert record.details, "every local scorer explains each score"
        values = [v for v in record.dimensions.values() if v is not None]
        assert all(math.isfinite(v) for v in values)
        if not values:  # a random-weight judge writes no verdict: NaN, and the details say why
            assert any("reply" in key or "error" in key or "reason" in key for key in record.details), record.details
    assert all_scorers()[name]["kind"] == "local"

"""The shipped local scorers end to end: installer, tiny checkpoints, the score CLI, real workers in a real venv.

``setup/install_model.sh clip-score --tiny`` builds a scorer's own virtualenv for real (the session fixture
``scorer_venv``); ``--validate`` then scores two baseline videos through its worker. Every local scorer pins exactly
the same packages (checked below), so that venv is each scorer's venv: every family runs through the score CLI on
its tiny checkpoint in it. The families' own details are tested in tests/test_scorer_<family>.py.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, VENV_SCORER, ModelVenv, cli_env, make_fake_venv, pins, stack_of

from vmevalkit.runner.inference import InferenceRunner
from vmevalkit.runner.registry import all_scorers
from vmevalkit.runner.SCORER_CATALOG import AVAILABLE_SCORERS
from vmevalkit.scoring.runner import load_catalog_scorer, read_score
from vmevalkit.tasks.loader import load_tasks

LOCAL_SCORERS = sorted(name for name, entry in AVAILABLE_SCORERS.items() if entry["kind"] == "local")


def family_class(name: str) -> type:
    """The scorer model class of a shipped local scorer."""
    from vmevalkit.utils.imports import load_object

    cls: type = load_object(AVAILABLE_SCORERS[name]["service"])
    return cls


def test_install_validates_the_scorer_venv_on_a_tiny_checkpoint(scorer_venv: ModelVenv, tmp_path: Path) -> None:
    own = scorer_venv.with_weights(tmp_path / "weights")
    done = subprocess.run(
        ["bash", str(REPO / "setup" / "install_model.sh"), scorer_venv.name, "--tiny", "--validate"],
        env=own.install_env(),
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    assert "virtualenv up to date" in done.stdout, "the session fixture built it; a re-run installs nothing"
    assert f"{scorer_venv.name}: validation passed" in done.stdout
    # Both baselines were scored through the worker, with every dimension reported.
    for model in ("oracle-solution", "static-first-frame"):
        assert f"{scorer_venv.name} on {model} maze_0001: clip_score=" in done.stdout
    stamp = json.loads((scorer_venv.envs_dir / scorer_venv.name / ".vmevalkit-install.json").read_text())
    assert stamp["model"] == scorer_venv.name
    assert (own.tiny_checkpoint / "config.json").is_file()
    # The scorer venv holds no diffusers: the scorer families need none of it.
    probe = "import importlib.util as u; print(u.find_spec('diffusers') is None, u.find_spec('transformers') is None)"
    found = subprocess.run([str(scorer_venv.python), "-c", probe], capture_output=True, text=True).stdout.split()
    assert found == ["True", "False"]


def test_every_local_scorer_pins_the_same_packages() -> None:
    # One stack and no setup of its own: what lets one scorer venv stand for all.
    assert len({tuple(pins(name)) for name in LOCAL_SCORERS}) == 1, "one scorer venv must stand for all"
    assert {stack_of(name) for name in LOCAL_SCORERS} == {stack_of(VENV_SCORER)}


def test_every_local_scorer_entry_names_a_family_a_wrapper_and_pinned_weights() -> None:
    from vmevalkit.scoring.local.model import LocalScorerModel
    from vmevalkit.utils.imports import load_object
    from vmevalkit.workers.weights import get_pin

    assert {"clip-score", "videoscore", "videoreward", "vlm-judge-qwen"} <= set(LOCAL_SCORERS)
    for name in LOCAL_SCORERS:
        entry = AVAILABLE_SCORERS[name]
        cls = family_class(name)
        assert issubclass(cls, LocalScorerModel) and cls.dimensions, name
        assert load_object(entry["wrapper"]).__name__ == "LocalScorer"
        pin = get_pin(entry["args"]["checkpoint"])
        assert pin.repo_id == entry["model"], f"{name}: the catalog and checkpoints.toml name the same repo"


def test_a_misspelt_or_bad_option_is_refused_before_anything_runs() -> None:
    from vmevalkit.scoring.base import ScorerContractError

    with pytest.raises(ScorerContractError, match="scorer 'clip-score': bad option: .*framez"):
        load_catalog_scorer("clip-score", {"framez": 3})
    with pytest.raises(ScorerContractError, match="scorer 'videoscore': bad option: .*max_frames"):
        load_catalog_scorer("videoscore", {"max_frames": 0})


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
    scorer_venv: ModelVenv, experiment: Path, tmp_path: Path, name: str
) -> None:
    checkpoint = tmp_path / "tiny"
    built = subprocess.run(
        [str(scorer_venv.python), "-m", "vmevalkit", "local", "tiny", name, str(checkpoint)],
        env={"PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert built.returncode == 0, built.stderr[-3000:]
    envs = tmp_path / "envs"
    make_fake_venv(envs, name, python=scorer_venv.python)  # envs/<name>/bin/python: the scorer venv's Python
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
        if name == "vlm-judge-qwen":  # a random-weight judge writes no verdict: NaN, and the details say why
            assert not values and "reason" in record.details, record.details
        else:  # a reward model scores every dimension (overall included), random weights or not
            assert len(values) == len(record.dimensions) and all(math.isfinite(v) for v in values), record
    assert all_scorers()[name]["kind"] == "local"

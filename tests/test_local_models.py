"""The open-source generators on tiny random checkpoints, in a real virtualenv built by the installer.

The venv comes from ``setup/install_model.sh ltx-video --tiny`` (the session fixture ``model_venv``);
every family's production class loads a tiny checkpoint built by its own ``build_tiny`` and
generates frames on the CPU; the CLI runs a real diffusers model through a persistent worker.
"""

from __future__ import annotations

import hashlib
import json
import platform
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import (
    PLUGINS,
    REPO,
    SETUP,
    VENV_MODEL,
    VENV_SCORER,
    ModelVenv,
    cli_env,
    make_fake_venv,
    own_setup,
    pins,
    run_generate,
    setup_table,
    stack_constraints,
    stack_of,
    stack_pins,
)

from vmevalkit.runner.MODEL_CATALOG import AVAILABLE_MODELS
from vmevalkit.runner.records import read_record
from vmevalkit.runner.SCORER_CATALOG import AVAILABLE_SCORERS
from vmevalkit.video import probe_video, read_frames

LOCAL = {name: entry for name, entry in AVAILABLE_MODELS.items() if entry["kind"] == "local"}
LOCAL_SCORERS = {name: entry for name, entry in AVAILABLE_SCORERS.items() if entry["kind"] == "local"}
LOCAL_NAMES = set(LOCAL) | set(LOCAL_SCORERS)
EXACT_PIN = r"[A-Za-z0-9_.-]+==[0-9][A-Za-z0-9.]*"


def _key(pin: str) -> str:
    """A pin's package name as pip compares them (case, '-' and '_' alike)."""
    return pin.split("==")[0].lower().replace("_", "-")


def _sh(script: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``script`` in bash after sourcing setup/lib/common.sh: the installer's own helpers."""
    return subprocess.run(
        ["bash", "-c", f'source "{SETUP}/lib/common.sh"; {script}'],
        env=cli_env(**env),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_every_local_catalog_entry_has_exactly_one_stack_and_setup_knows_no_other() -> None:
    listed = [model for model, _ in setup_table()]
    assert sorted(listed) == sorted(set(listed)), "setup/models.txt lists a model twice: give it one stack"
    assert set(listed) == LOCAL_NAMES, "setup/models.txt lists exactly the catalogs' local models and scorers"
    for model in LOCAL_NAMES:
        assert (SETUP / "stacks" / f"{stack_of(model)}.txt").is_file(), model
    # A model's own setup only ever replaces the stack of a model the setup knows.
    own = {script.parent.name for script in (SETUP / "models").glob("*/setup.sh")}
    assert own <= LOCAL_NAMES


def test_every_stack_is_a_requirements_file_of_exact_pins_within_its_constraints() -> None:
    stacks = {stack for _, stack in setup_table()}
    assert {path.stem for path in (SETUP / "stacks").glob("*.txt")} == stacks, "a stack no model installs"
    for stack in stacks:
        constraints = stack_constraints(stack).read_text()
        constrained = {_key(line): line.split("==")[1] for line in constraints.splitlines() if "==" in line}
        assert stack_pins(stack), stack
        for pin in stack_pins(stack):
            assert re.fullmatch(EXACT_PIN, pin), f"{stack}: {pin!r} is not an exact pin"
            # The constraints pin the stack's own packages at the same versions, or pip could not satisfy both.
            assert constrained.get(_key(pin)) == pin.split("==")[1], f"{stack}: {pin} vs its constraints file"
        assert len({_key(pin) for pin in stack_pins(stack)}) == len(stack_pins(stack)), f"{stack}: a package twice"


def test_the_installer_reads_the_table_and_stacks_as_the_tests_do() -> None:
    for stack in {stack for _, stack in setup_table()}:
        done = _sh(f"vmk_stack_pins {stack} && vmk_stack_constraints {stack}")
        assert done.returncode == 0, done.stderr
        *shell_pins, constraints = done.stdout.splitlines()
        assert shell_pins == stack_pins(stack)
        assert Path(constraints) == stack_constraints(stack)
    for model in LOCAL_NAMES:
        assert _sh(f"vmk_model_stack {model}").stdout.strip() == stack_of(model)
    unknown = _sh("vmk_model_stack no-such-model")
    assert unknown.returncode == 1
    assert "'no-such-model' is not in setup/models.txt: add 'no-such-model STACK' there" in unknown.stderr


def test_install_model_lists_every_local_model_and_refuses_any_other() -> None:
    usage = subprocess.run(["bash", str(SETUP / "install_model.sh"), "--help"], capture_output=True, text=True)
    assert usage.returncode == 0
    listed = usage.stdout.split("Local models and scorers:\n", 1)[1].split()
    assert listed == sorted(listed) and set(listed) == LOCAL_NAMES
    unknown = subprocess.run(
        ["bash", str(SETUP / "install_model.sh"), "no-such-model", "svd"], capture_output=True, text=True
    )
    assert unknown.returncode == 2 and unknown.stdout == ""
    assert unknown.stderr.startswith("error unknown local model 'no-such-model'; local models: ")
    assert set(unknown.stderr.split("local models: ", 1)[1].split()) == LOCAL_NAMES


def _stamped_venv(envs: Path, model: str) -> None:
    """A venv as install_model.sh left it: its stamp holds the sha256 of the pins (one a line, in order), the
    constraints file and the host Python version. Stamps written before the stacks existed hold the same.

    Its Python only fails: an installer that wrongly finds it out of date must fail the test, not pip install
    the stack into the Python running the tests."""
    python = envs / model / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text('#!/bin/sh\necho "fake venv: the installer tried to run its Python: $*" >&2\nexit 97\n')
    python.chmod(0o755)
    constraints = stack_constraints(stack_of(model)).read_bytes()
    digest = hashlib.sha256(
        "".join(f"{pin}\n" for pin in pins(model)).encode() + constraints + f"{platform.python_version()}\n".encode()
    ).hexdigest()
    stamp = {"model": model, "pins_sha256": digest, "python": platform.python_version()}
    (envs / model / ".vmevalkit-install.json").write_text(json.dumps(stamp))


def test_a_venv_whose_pins_are_unchanged_is_not_rebuilt(tmp_path: Path) -> None:
    envs = tmp_path / "envs"
    for model in (VENV_MODEL, VENV_SCORER):
        _stamped_venv(envs, model)
    done = subprocess.run(
        ["bash", str(SETUP / "install_model.sh"), VENV_MODEL, VENV_SCORER, "--no-weights"],
        env=cli_env(VMEVALKIT_ENVS_DIR=str(envs), VMEVALKIT_PYTHON=sys.executable, VMEVALKIT_USE_UV="0"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    for model in (VENV_MODEL, VENV_SCORER):
        assert f"{model}: virtualenv up to date ({envs / model})" in done.stdout


def test_a_models_own_setup_replaces_its_stacks(tmp_path: Path) -> None:
    setup = tmp_path / "repo" / "setup"
    shutil.copytree(SETUP, setup)
    own = setup / "models" / "svd" / "setup.sh"
    own.parent.mkdir(parents=True, exist_ok=True)
    own.write_text('echo "svd: own setup, given $1"\n')
    stray = setup / "models" / "not-in-the-table" / "setup.sh"
    stray.parent.mkdir(parents=True)
    stray.write_text("echo should not run\n")
    envs = tmp_path / "envs"
    _stamped_venv(envs, VENV_MODEL)
    env = cli_env(VMEVALKIT_ENVS_DIR=str(envs), VMEVALKIT_PYTHON=sys.executable, VMEVALKIT_USE_UV="0")
    done = subprocess.run(
        ["bash", str(setup / "install_model.sh"), "svd", VENV_MODEL, "--no-weights"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "svd: own setup, given svd" in done.stdout
    assert f"{VENV_MODEL}: virtualenv up to date" in done.stdout  # the stack's setup, as before
    # The table, not a folder under models/, says which models exist.
    stray_run = subprocess.run(
        ["bash", str(setup / "install_model.sh"), "not-in-the-table"], env=env, capture_output=True, text=True
    )
    assert stray_run.returncode == 2 and "unknown local model 'not-in-the-table'" in stray_run.stderr


def test_docs_models_table_matches_the_catalog() -> None:
    from vmevalkit.cli.local_status import models_table

    docs = (REPO / "docs" / "LOCAL_MODELS.md").read_text()
    table = docs.split("a test keeps it current -->\n", 1)[1].split("\n<!-- /models-table -->", 1)[0]
    assert table == models_table(), "regenerate it: vmevalkit local status --markdown-table"
    for name in LOCAL:
        assert f"`{name}`" in table


def test_local_models_share_one_pinned_stack() -> None:
    # What lets one venv test every family; a model that needs other pins (another stack, or a setup of its own)
    # gets its own test venv in tests/conftest.py too.
    for model in LOCAL:
        assert stack_of(model) == stack_of(VENV_MODEL) and own_setup(model) is None, model
    # Every local scorer pins that stack minus diffusers: the same venv runs the scorer families' tests.
    for scorer in LOCAL_SCORERS:
        assert stack_of(scorer) == stack_of(VENV_SCORER) and own_setup(scorer) is None, scorer
    generators, scorers = stack_pins(stack_of(VENV_MODEL)), stack_pins(stack_of(VENV_SCORER))
    assert [pin for pin in generators if _key(pin) != "diffusers"] == scorers


def test_install_is_idempotent_and_isolated(model_venv: ModelVenv) -> None:
    stamp = json.loads((model_venv.envs_dir / "ltx-video" / ".vmevalkit-install.json").read_text())
    assert stamp["model"] == "ltx-video"
    freeze = subprocess.run(
        [str(model_venv.python), "-m", "pip", "freeze"], capture_output=True, text=True, check=True
    ).stdout
    installed = {
        line.split("==")[0].lower().replace("_", "-"): line.split("==")[1]
        for line in freeze.splitlines()
        if "==" in line
    }
    for pin in pins("ltx-video"):
        name, version = pin.split("==")
        assert installed[name.lower().replace("_", "-")].split("+")[0] == version, pin
    again = subprocess.run(
        ["bash", str(SETUP / "install_model.sh"), "ltx-video", "--no-weights"],
        env=model_venv.install_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert again.returncode == 0, again.stderr
    assert "virtualenv up to date" in again.stdout and "creating" not in again.stdout
    # The main environment got nothing from the model's install.
    probe = "import importlib.util as u; print(u.find_spec('diffusers') is None and u.find_spec('torch') is None)"
    assert subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True).stdout.strip() == "True"


@pytest.mark.parametrize("service", sorted({entry["service"] for entry in LOCAL.values()}))
def test_every_family_loads_its_tiny_checkpoint_with_the_production_class(
    model_venv: ModelVenv, tmp_path: Path, service: str
) -> None:
    done = subprocess.run(
        [str(model_venv.python), "-m", "vmevalkit", "local", "tiny", service, str(tmp_path / "tiny"), "--check"],
        env={"PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    module, _, cls_name = service.partition(":")
    small = _tiny_settings(model_venv, service)
    assert result == {
        "frames": small["num_frames"],
        "height": small["height"],
        "width": small["width"],
        "dtype": "uint8",
    }
    assert (tmp_path / "tiny" / "model_index.json").is_file()


def _tiny_settings(model_venv: ModelVenv, service: str) -> dict:
    code = (
        "import json, sys; from vmevalkit.workers.tiny import service_class;"
        "print(json.dumps(service_class(sys.argv[1]).tiny_settings))"
    )
    out = subprocess.run(
        [str(model_venv.python), "-c", code, service], env={"PYTHONPATH": str(REPO)}, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def tiny_run_env(model_venv: ModelVenv, questions: Path, **extra: str) -> dict[str, str]:
    return {
        "VMEVALKIT_ENVS_DIR": str(model_venv.envs_dir),
        "VMEVALKIT_WEIGHTS_DIR": str(model_venv.weights_dir),
        "VMEVALKIT_QUESTIONS_DIR": str(questions),
        "VMEVALKIT_LOCAL_GPUS": "cpu",
        **extra,
    }


def test_generate_videos_runs_ltx_on_its_tiny_checkpoint_through_one_worker(
    model_venv: ModelVenv, tmp_path: Path, questions: Path
) -> None:
    done = run_generate(
        "--model",
        "ltx-video",
        "--checkpoint",
        str(model_venv.tiny_checkpoint),
        "--limit-per-domain",
        "1",
        "--duration",
        "0.5",
        "--param",
        "width=32",
        "--param",
        "height=32",
        "--param",
        "steps=2",
        "--output-dir",
        str(tmp_path / "out"),
        "--no-progress",
        cwd=tmp_path,
        timeout=600,
        **tiny_run_env(model_venv, questions),
    )
    assert done.returncode == 0, done.stdout + done.stderr
    found = [read_record(meta.parent) for meta in (tmp_path / "out").rglob("metadata.json")]
    assert len(found) == 3 and all(r.status == "completed" for r in found)
    pids = {r.result.metadata["worker"]["pid"] for r in found}
    assert len(pids) == 1  # loaded once, served all three
    for record in found:
        video = next((tmp_path / "out").rglob(f"ltx-video_{record.task_id}.mp4"))
        info = probe_video(video)
        assert (info.frame_count, info.width, info.height) == (9, 32, 32)  # 0.5 s at 24 fps = 12 -> nearest 8k+1 = 9
        assert read_frames(video).std() > 1  # random weights still draw a picture, not a flat frame
        assert record.result.metadata["worker"]["versions"]["diffusers"] == "0.42.1"
        assert record.checkpoint == f"dir:{model_venv.tiny_checkpoint}"


def test_prompt_reaches_a_real_pipeline_verbatim(model_venv: ModelVenv, tmp_path: Path, questions: Path) -> None:
    # test-ltx-recording is LTX's production class with call_kwargs recording what the pipeline receives.
    envs = tmp_path / "envs"
    make_fake_venv(envs, "test-ltx-recording", python=model_venv.python)
    nasty = 'Say "hi"\nthen `$(touch /tmp/pwned)`; print(\'x\')\n\t{"json": [1]} \\ ünï 🧩'
    (questions / "maze_task" / "maze_0001" / "prompt.txt").write_text(nasty)
    log = tmp_path / "calls.jsonl"
    done = run_generate(
        "--model",
        "test-ltx-recording",
        "--checkpoint",
        str(model_venv.tiny_checkpoint),
        "--task-id",
        "maze_0001",
        "--duration",
        "0.5",
        "--param",
        "width=32",
        "--param",
        "height=32",
        "--param",
        "steps=2",
        "--output-dir",
        str(tmp_path / "out"),
        "--no-progress",
        cwd=tmp_path,
        timeout=600,
        **{
            **tiny_run_env(model_venv, questions),
            "VMEVALKIT_ENVS_DIR": str(envs),
            "VMK_CALL_LOG": str(log),
            "PYTHONPATH": str(PLUGINS),
        },
    )
    assert done.returncode == 0, done.stdout + done.stderr
    (call,) = [json.loads(line) for line in log.read_text().splitlines()]
    assert call["prompt"] == nasty
    (record,) = [read_record(m.parent) for m in (tmp_path / "out").rglob("metadata.json")]
    assert record.result.metadata["prompt_sha256"] == hashlib.sha256(nasty.encode()).hexdigest()


def test_install_validate_on_a_tiny_checkpoint(model_venv: ModelVenv, tmp_path: Path) -> None:
    done = subprocess.run(
        ["bash", str(SETUP / "install_model.sh"), "ltx-video", "--tiny", "--validate"],
        env=model_venv.with_weights(tmp_path / "weights").install_env(),
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ltx-video: validation passed" in done.stdout
    assert re.search(r"ltx-video: \d+ frames \d+x\d+ on cpu", done.stdout)


def test_list_shows_installed_and_missing_models(model_venv: ModelVenv) -> None:
    done = subprocess.run(
        ["bash", str(SETUP / "install_model.sh"), "--list"],
        env=model_venv.install_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    # Two lines a model (and wrapped next steps, indented): a model's row is its lines joined.
    rows: dict[str, str] = {}
    for line in done.stdout.splitlines()[2:]:
        if line.startswith(" "):
            last = list(rows)[-1]
            rows[last] += " " + line.strip()
        elif line.split():
            rows[line.split()[0]] = line
    assert max(len(line) for line in done.stdout.splitlines()) <= 80
    assert set(LOCAL) <= set(rows)  # plus the extra catalogs' local models (here: the test ones)
    assert rows["ltx-video"].split()[1] == "yes"
    assert "not installed: run bash setup/install_model.sh svd" in rows["svd"]
    assert "Scorer 'videoscore' is not installed: run bash setup/install_model.sh videoscore" in rows["videoscore"]

"""The open-source generators on tiny random checkpoints, in a real virtualenv built by the installer.

The venv comes from ``setup/install_model.sh ltx-video --tiny`` (the session fixture ``model_venv``);
every family's production class loads a tiny checkpoint built by its own ``build_tiny`` and
generates frames on the CPU; the CLI runs a real diffusers model through a persistent worker.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import PLUGINS, REPO, ModelVenv, make_fake_venv, run_generate

from vmevalkit.runner.MODEL_CATALOG import AVAILABLE_MODELS
from vmevalkit.runner.records import read_record
from vmevalkit.runner.SCORER_CATALOG import AVAILABLE_SCORERS
from vmevalkit.video import probe_video, read_frames

LOCAL = {name: entry for name, entry in AVAILABLE_MODELS.items() if entry["kind"] == "local"}
LOCAL_SCORERS = {name: entry for name, entry in AVAILABLE_SCORERS.items() if entry["kind"] == "local"}
SETUP = REPO / "setup"


def pins(model: str) -> list[str]:
    text = (SETUP / "models" / model / "setup.sh").read_text()
    block = re.search(r"PINS=\((.*?)\)", text, re.S)
    assert block, f"setup/models/{model}/setup.sh declares no PINS"
    return block.group(1).split()


def test_every_local_model_and_scorer_has_an_installer_with_exact_pins() -> None:
    installers = {p.parent.name for p in (SETUP / "models").glob("*/setup.sh")}
    assert installers == set(LOCAL) | set(LOCAL_SCORERS)
    for model in installers:
        assert pins(model), model
        assert all(re.fullmatch(r"[A-Za-z0-9_.-]+==[0-9][A-Za-z0-9.]*", pin) for pin in pins(model)), model


def test_docs_models_table_matches_the_catalog() -> None:
    from vmevalkit.cli.local_status import models_table

    docs = (REPO / "docs" / "LOCAL_MODELS.md").read_text()
    table = docs.split("a test keeps it current -->\n", 1)[1].split("\n<!-- /models-table -->", 1)[0]
    assert table == models_table(), "regenerate it: python -m vmevalkit.cli.local_status --markdown-table"
    for name in LOCAL:
        assert f"`{name}`" in table


def test_local_models_share_one_pinned_stack() -> None:
    # What lets one venv test every family; a model that needs other pins gets its own venv here too.
    assert len({tuple(pins(model)) for model in LOCAL}) == 1
    # Every local scorer pins that stack minus diffusers: the same venv runs the scorer families' tests.
    stack = set(pins("ltx-video"))
    for scorer in LOCAL_SCORERS:
        assert set(pins(scorer)) <= stack and "diffusers" not in " ".join(pins(scorer)), scorer


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
        [str(model_venv.python), "-m", "vmevalkit.workers.tiny", service, str(tmp_path / "tiny"), "--check"],
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


def test_install_validate_on_a_tiny_checkpoint(model_venv: ModelVenv) -> None:
    done = subprocess.run(
        ["bash", str(SETUP / "install_model.sh"), "ltx-video", "--tiny", "--validate"],
        env=model_venv.install_env(),
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
    rows = {line.split()[0]: line for line in done.stdout.splitlines()[1:]}
    assert set(LOCAL) <= set(rows)  # plus the extra catalogs' local models (here: the test ones)
    assert rows["ltx-video"].split()[1] == "yes"
    assert "not installed: run bash setup/install_model.sh svd" in rows["svd"]
    assert "Scorer 'videoscore' is not installed: run bash setup/install_model.sh videoscore" in rows["videoscore"]

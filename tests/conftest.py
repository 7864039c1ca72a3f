"""Shared fixtures. Every test runs in its own temp working directory with a
clean environment: no developer .env, no VMEVALKIT_* settings from the shell."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PLUGINS = Path(__file__).resolve().parent / "plugins"
SAMPLE = REPO / "data" / "questions"
# The runner, scorer and report tests were written against the shipped sample's first three domains (12 tasks);
# they test mechanics, not domains, and copy only these. Every domain is covered by test_domain_validity.py and,
# through the README's main command over the whole sample, by test_quickstart_domains.py.
CORE_DOMAINS = ("maze", "sliding_puzzle", "sudoku")
TEST_CATALOG = "vmk_test_models:MODELS"
# Chromium in the browser tests (the report's screenshot, Playwright on the annotation page): no sandbox (CI runs
# as root), no first-run work, no background connections to a network that refuses them.
CHROMIUM_FLAGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)

if str(PLUGINS) not in sys.path:
    sys.path.insert(0, str(PLUGINS))


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    from vmevalkit.settings import get_settings

    for key in list(os.environ):
        if key.startswith(("VMEVALKIT_", "VMK_")):
            monkeypatch.delenv(key)
    monkeypatch.setenv("VMEVALKIT_EXTRA_CATALOGS", TEST_CATALOG)
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def copy_sample(dest: Path, domains: tuple[str, ...] = CORE_DOMAINS) -> Path:
    """A private copy of the shipped sample's tasks of ``domains``."""
    for domain in domains:
        shutil.copytree(SAMPLE / f"{domain}_task", dest / f"{domain}_task")
    return dest


@pytest.fixture
def questions(tmp_path: Path) -> Path:
    """A private copy of the shipped sample's core domains (CORE_DOMAINS)."""
    return copy_sample(tmp_path / "questions")


def cli_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VMEVALKIT_", "VMK_"))}
    env["PYTHONPATH"] = os.pathsep.join([str(PLUGINS), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["VMEVALKIT_EXTRA_CATALOGS"] = TEST_CATALOG
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def generate_cmd(*args: str) -> list[str]:
    return [sys.executable, str(REPO / "examples" / "generate_videos.py"), *args]


def run_generate(*args: str, cwd: Path, timeout: float = 240, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        generate_cmd(*args), cwd=cwd, env=cli_env(**env), capture_output=True, text=True, timeout=timeout
    )


def run_score(*args: str, cwd: Path, env: dict[str, str], timeout: float = 240) -> subprocess.CompletedProcess[str]:
    """``examples/score_videos.py ARGS`` as a user runs it, with exactly ``env``."""
    return subprocess.run(
        [sys.executable, str(REPO / "examples" / "score_videos.py"), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="session")
def video_bytes(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A small real mp4 that fake providers serve as their result (encoded once per test run)."""
    from fakes.server import make_video_bytes

    return make_video_bytes(tmp_path_factory.mktemp("video"))


def make_fake_venv(envs: Path, name: str, python: Path | str = sys.executable) -> Path:
    """envs/<name>/bin/python: a launcher for ``python``, plus the stamp a finished install leaves."""
    launcher = envs / name / "bin" / "python"
    launcher.parent.mkdir(parents=True)
    launcher.write_text(f'#!/bin/sh\nexec "{python}" "$@"\n')
    launcher.chmod(0o755)
    (envs / name / ".vmevalkit-install.json").write_text(json.dumps({"model": name}))
    return launcher


# --- one real model virtualenv per test run, shared by every test that needs diffusers ---------------

MODEL_CACHE = REPO / ".cache" / "test-models"
# Every local model installs the diffusers stack (setup/models.txt; tests/test_local_models.py checks it), so one
# real venv, built by the real installer, serves the tests of every family.
VENV_MODEL = "ltx-video"
# Likewise every local scorer installs the scorers stack (the same minus diffusers): one scorer venv serves every
# scorer family.
VENV_SCORER = "clip-score"
SETUP = REPO / "setup"


def setup_table() -> list[tuple[str, str]]:
    """setup/models.txt as data: one (model, stack) row per line, comments dropped (as install_model.sh reads it)."""
    rows = []
    for line in (SETUP / "models.txt").read_text().splitlines():
        words = line.split("#", 1)[0].split()
        if words:
            assert len(words) == 2, f"setup/models.txt: {line!r} is not 'MODEL STACK'"
            rows.append((words[0], words[1]))
    return rows


def stack_of(model: str) -> str:
    """The stack ``model`` installs; it must be listed exactly once."""
    stacks = [stack for name, stack in setup_table() if name == model]
    assert len(stacks) == 1, f"setup/models.txt lists {model!r} {len(stacks)} times: give it exactly one stack"
    return stacks[0]


def stack_requirements(stack: str) -> list[str]:
    """The lines of setup/stacks/<stack>.txt that say something, as a requirements-file reader sees them."""
    text = (SETUP / "stacks" / f"{stack}.txt").read_text()
    return [line.split("#", 1)[0].strip() for line in text.splitlines() if line.split("#", 1)[0].strip()]


def stack_pins(stack: str) -> list[str]:
    return [line for line in stack_requirements(stack) if not line.startswith("-")]


def stack_constraints(stack: str) -> Path:
    """The constraints file named by the stack's one ``-c FILE`` line (relative to setup/stacks/, as pip reads it)."""
    options = [line for line in stack_requirements(stack) if line.startswith("-")]
    assert len(options) == 1 and options[0].startswith("-c "), f"setup/stacks/{stack}.txt: one '-c FILE' line only"
    return (SETUP / "stacks" / options[0][3:].strip()).resolve()


def own_setup(model: str) -> Path | None:
    """setup/models/<model>/setup.sh, which install_model.sh runs instead of the stack's setup, if there is one."""
    script = SETUP / "models" / model / "setup.sh"
    return script if script.is_file() else None


def pins(model: str) -> list[str]:
    """The exact pins of ``model``'s venv: its stack's (a model with a setup of its own has pins the tests can't
    read, so it gets no shared test venv)."""
    assert own_setup(model) is None, f"{model} has its own setup.sh: give its tests a venv of their own"
    return stack_pins(stack_of(model))


class ModelVenv:
    def __init__(self, envs_dir: Path, weights_dir: Path, name: str = VENV_MODEL) -> None:
        self.envs_dir, self.weights_dir, self.name = envs_dir, weights_dir, name
        self.python = envs_dir / name / "bin" / "python"
        self.tiny_checkpoint = weights_dir / "tiny" / name

    def install_env(self, **extra: str) -> dict[str, str]:
        return cli_env(
            VMEVALKIT_ENVS_DIR=str(self.envs_dir),
            VMEVALKIT_WEIGHTS_DIR=str(self.weights_dir),
            VMEVALKIT_PYTHON=sys.executable,
            **extra,
        )

    def with_weights(self, weights_dir: Path) -> ModelVenv:
        """The same venv with weights (and tiny checkpoints) of its own: a test that runs ``--tiny`` rebuilds the
        tiny checkpoint, which must not vanish under the tests of another worker that use the shared one."""
        return ModelVenv(self.envs_dir, weights_dir, self.name)


def venv_code_env() -> dict[str, str]:
    """The environment for running this checkout's code with a model or scorer venv's Python."""
    return {**os.environ, "PYTHONPATH": str(REPO)}


def tiny_scorer_check(venv: ModelVenv, service: str, checkpoint: Path) -> dict:
    """``python -m vmevalkit local tiny SERVICE CHECKPOINT --check`` in ``venv``: build the tiny checkpoint,
    load it with the production ``setup()`` on the CPU, score two videos; returns its JSON result."""
    done = subprocess.run(
        [str(venv.python), "-m", "vmevalkit", "local", "tiny", service, str(checkpoint), "--check"],
        env=venv_code_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="session")
def model_venv() -> ModelVenv:
    """envs/ltx-video built by ``setup/install_model.sh ltx-video --tiny`` (idempotent: kept between runs
    under .cache/, so only the first run of a checkout pays for the install)."""
    return _installed(ModelVenv(MODEL_CACHE / "envs", MODEL_CACHE / "weights", VENV_MODEL))


@pytest.fixture(scope="session")
def scorer_venv() -> ModelVenv:
    """envs/clip-score built by ``setup/install_model.sh clip-score --tiny``: the venv every local scorer family's
    tests run in (each scorer pins exactly the same packages)."""
    return _installed(ModelVenv(MODEL_CACHE / "envs", MODEL_CACHE / "weights", VENV_SCORER))


def _installed(venv: ModelVenv) -> ModelVenv:
    # Tests run in parallel processes (pytest-xdist): one builds the venv while the others wait on this lock,
    # then skip the installer: it would find the venv up to date but rebuild the tiny checkpoint, deleting it
    # under the first worker's running tests. The run's id marks a venv installed by this run.
    MODEL_CACHE.mkdir(parents=True, exist_ok=True)
    run_id = os.environ.get("PYTEST_XDIST_TESTRUNUID", "")
    marker = MODEL_CACHE / f".{venv.name}.installed-by-run"
    with open(MODEL_CACHE / f".{venv.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if run_id and marker.is_file() and marker.read_text() == run_id:
            return venv
        done = subprocess.run(
            ["bash", str(REPO / "setup" / "install_model.sh"), venv.name, "--tiny"],
            env=venv.install_env(),
            capture_output=True,
            text=True,
            timeout=1800,
        )
        assert done.returncode == 0, f"install_model.sh failed:\n{done.stdout}\n{done.stderr}"
        marker.write_text(run_id)
    return venv

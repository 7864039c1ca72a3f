"""Shared fixtures. Every test runs in its own temp working directory with a
clean environment: no developer .env, no VMEVALKIT_* settings from the shell."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PLUGINS = Path(__file__).resolve().parent / "plugins"
SAMPLE = REPO / "data" / "questions"
TEST_CATALOG = "vmk_test_models:MODELS"

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


@pytest.fixture
def questions(tmp_path: Path) -> Path:
    """A private copy of the shipped sample dataset."""
    dest = tmp_path / "questions"
    shutil.copytree(SAMPLE, dest)
    return dest


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


@pytest.fixture(scope="session")
def video_bytes(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A small real mp4 that fake providers serve as their result (encoded once per test run)."""
    from fakes.server import make_video_bytes

    return make_video_bytes(tmp_path_factory.mktemp("video"))

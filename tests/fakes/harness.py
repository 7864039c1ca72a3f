"""Running the real CLI against fake provider servers, and checking what it left behind."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from conftest import cli_env, generate_cmd

# Fast polling and backoff, so fault-injection tests run in seconds; the code paths are the real ones.
FAST = {
    "VMEVALKIT_POLL_INTERVAL_S": "0.02",
    "VMEVALKIT_API_RETRY_BASE_DELAY_S": "0.01",
    "VMEVALKIT_API_RETRIES": "4",
    "VMEVALKIT_JOB_TIMEOUT_S": "60",
}


def api_env(**extra: str) -> dict[str, str]:
    return cli_env(**{**FAST, **extra})


def run_cli(*args: str, cwd: Path, env: dict[str, str], timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(generate_cmd(*args), cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def records(out: Path) -> dict[str, dict[str, Any]]:
    """metadata.json of every generation under ``out``, by task id."""
    found = {}
    for meta in out.rglob("metadata.json"):
        record = json.loads(meta.read_text())
        found[record["task_id"]] = record
    return found


def assert_no_secret(secret: str, root: Path, *texts: str) -> None:
    """The secret appears in no file under ``root`` (text or binary) and in none of ``texts``."""
    needle = secret.encode()
    for path in root.rglob("*"):
        if path.is_file():
            assert needle not in path.read_bytes(), f"secret leaked into {path}"
    for text in texts:
        assert secret not in text, "secret leaked into output"

"""The "may exist" window covers only the time a submit request is in flight (issue 10, item 2).

The real CLI is killed with SIGKILL. Killed while it waits out a 429 (no job was made), a re-run
submits normally; killed while the provider holds the submit request, a re-run reports that the
job may exist, unless the provider can find it again.
"""

from __future__ import annotations

import json
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import generate_cmd
from fakes.families import FAMILIES, Running
from fakes.harness import records, run_cli
from fakes.server import Fault


@pytest.fixture
def runway(video_bytes: bytes) -> Iterator[Running]:
    running = FAMILIES["runway"].start(video_bytes)
    yield running
    running.stop()


@pytest.fixture
def kling(video_bytes: bytes) -> Iterator[Running]:
    running = FAMILIES["kling"].start(video_bytes)
    yield running
    running.stop()


def states(out: Path) -> dict[str, dict[str, Any]]:
    """provider_state of every generation on record, read as the killed process left it."""
    found = {}
    for meta in out.rglob("metadata.json"):
        try:
            record = json.loads(meta.read_text())
        except (OSError, ValueError):
            continue
        found[record["task_id"]] = record.get("provider_state") or {}
    return found


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.01)


def start(family: Running, tmp_path: Path, questions: Path, *args: str) -> subprocess.Popen[bytes]:
    out = tmp_path / "out"
    command = generate_cmd(*family.model, *args, "--questions-dir", str(questions), "--output-dir", str(out))
    return subprocess.Popen(command, cwd=tmp_path, env=family.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def kill(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.communicate()


def test_a_kill_during_the_backoff_after_a_429_leaves_nothing_in_doubt(
    tmp_path: Path, questions: Path, runway: Running
) -> None:
    # The first submits are refused with a long Retry-After: their generations wait in backoff (and
    # the pause holds back the others), with no job made. Runway cannot look a job up, so a
    # "may exist" record could only end in a failure.
    runway.api.inject("submit", Fault.rate_limited("30"), Fault.rate_limited("30"))
    out = tmp_path / "out"
    proc = start(runway, tmp_path, questions, "--domain", "maze", "--no-progress")
    try:
        wait_until(lambda: any(n == "submit" and s == "429" for n, s, _ in runway.api.log), "no 429 was sent")
        # Once the 429 is handled, no generation may still say that its job may exist (a 429 also
        # pauses the provider, so the others wait before sending, not in flight).
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            current = states(out)
            if current and not any(s.get("submitting") for s in current.values()):
                break
            time.sleep(0.01)
    finally:
        kill(proc)
    refused = [json.loads(req.body)["promptImage"] for n, s, req in runway.api.log if n == "submit" and s == "429"]
    made = [job.request["promptImage"] for job in runway.api.jobs.values()]
    assert refused and not set(refused) & set(made), "killed in the backoff: the refused generations made no job"
    in_doubt = [task for task, state in states(out).items() if state.get("submitting")]
    assert in_doubt == [], "a generation waiting out a 429 is on record as 'may exist'"

    runway.api.faults.clear()  # a 429 the killed run never got to
    rerun = run_cli(
        *runway.model,
        "--domain",
        "maze",
        "--questions-dir",
        str(questions),
        "--output-dir",
        str(out),
        cwd=tmp_path,
        env=runway.env,
    )
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    final = records(out)
    assert sorted(final) == ["maze_0001", "maze_0002", "maze_0003", "maze_0004"]
    assert all(r["status"] == "completed" for r in final.values()), [r["error"] for r in final.values()]
    images = [job.request["promptImage"] for job in runway.api.jobs.values()]
    assert len(images) == 4 and len(set(images)) == 4, "exactly one job per generation"


@pytest.mark.parametrize("family_name", ["runway", "kling"])
def test_a_kill_while_the_submit_is_in_flight_is_reported_unless_the_job_is_found(
    tmp_path: Path, questions: Path, family_name: str, request: pytest.FixtureRequest
) -> None:
    family: Running = request.getfixturevalue(family_name)
    release = threading.Event()
    family.api.inject("submit", Fault.hold(release))
    out = tmp_path / "out"
    proc = start(family, tmp_path, questions, "--task-id", "maze_0001", "--no-progress")
    try:
        wait_until(lambda: len(family.api.held) == 1, "the submit did not arrive")
        assert states(out)["maze_0001"].get("submitting") is True, "in flight: the job may exist"
    finally:
        kill(proc)
    release.set()  # the provider goes on with the request it received: the job exists
    wait_until(lambda: len(family.api.jobs) == 1, "the held submit made no job")
    (job_id,) = family.api.jobs

    rerun = run_cli(
        *family.model,
        "--task-id",
        "maze_0001",
        "--questions-dir",
        str(questions),
        "--output-dir",
        str(out),
        cwd=tmp_path,
        env=family.env,
    )
    record = records(out)["maze_0001"]
    assert len(family.submits()) == 1, "never submitted a second time"
    if family.recovers:  # Kling finds the task by its external_task_id
        assert rerun.returncode == 0, rerun.stdout + rerun.stderr
        assert record["status"] == "completed" and record["result"]["generation_id"] == job_id
    else:
        assert rerun.returncode == 1
        assert record["status"] == "failed" and record["error"].startswith("AmbiguousSubmission: ")
        assert "may exist and be billed" in record["error"] and "--retry-failed" in record["error"]

"""A submit that may have reached the provider is never sent again blindly (issue 10, item 1).

Every provider family against fakes that *create the job* and then stall past the client's read
timeout, drop the connection, or answer 502 like a gateway: exactly one job exists at the
provider; the generation either completed with that job (the provider could find it again) or
failed as an ambiguous submission; a plain re-run sends nothing; ``--retry-failed`` submits once.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from subprocess import CompletedProcess

import pytest
from fakes.families import FAMILIES, Running
from fakes.harness import records, run_cli
from fakes.server import Fault

TASK = "maze_0001"
FAULTS = {
    "stall-after-create": lambda: Fault.stall_after(4.0),  # the client's read timeout is 1 s
    "drop-after-create": Fault.drop_after,
    "gateway-502-after-create": lambda: Fault.status_after(502, {"error": "Bad Gateway"}),
}


@pytest.fixture(params=sorted(FAMILIES))
def family(request: pytest.FixtureRequest, video_bytes: bytes) -> Iterator[Running]:
    running = FAMILIES[request.param].start(video_bytes)
    yield running
    running.stop()


def generate(
    tmp_path: Path, questions: Path, family: Running, *args: str, tasks: tuple[str, ...] = (TASK,)
) -> CompletedProcess[str]:
    env = {**family.env, "VMEVALKIT_REQUEST_TIMEOUT_S": "1"}
    out = tmp_path / "out"
    common = ("--task-id", *tasks, "--questions-dir", str(questions), "--output-dir", str(out), "--no-progress")
    return run_cli(*family.model, *common, *args, cwd=tmp_path, env=env)


def test_a_submit_that_made_a_job_is_never_sent_twice(tmp_path: Path, questions: Path, family: Running) -> None:
    """One run, three generations, each submit meeting one of the faults (stall, drop, 502) after the job
    was created: three runs of the CLI cover the three faults, where one run per fault would take nine."""
    tasks = tuple(f"maze_000{i}" for i in (1, 2, 3))
    family.api.inject("submit", *(FAULTS[name]() for name in sorted(FAULTS)))
    first = generate(tmp_path, questions, family, tasks=tasks)
    assert len(family.api.jobs) == 3, "the fake created each job before its fault"
    assert not family.api.faults.get("submit"), "each of the three submits met its fault"
    assert len(family.submits()) == 3, "each submit was sent once"
    found = records(tmp_path / "out")
    assert sorted(found) == list(tasks)
    if family.recovers:
        assert first.returncode == 0, first.stdout + first.stderr
        job_ids = sorted(record["result"]["generation_id"] for record in found.values())
        assert job_ids == sorted(family.api.jobs), "each job was found again and polled: its own, once"
        assert all(record["status"] == "completed" for record in found.values())
    else:
        assert first.returncode == 1
        for record in found.values():
            assert record["status"] == "failed"
            error = record["error"]
            assert error.startswith("AmbiguousSubmission: ") and family.name in error
            assert "may exist and be billed" in error and "--retry-failed" in error and "dashboard" in error
            assert record["provider_state"]["submitting"] is True, "the record shows the job may exist"

    rerun = generate(tmp_path, questions, family, tasks=tasks)
    assert rerun.returncode == (0 if family.recovers else 1)
    assert len(family.submits()) == 3, "a plain re-run sends nothing"
    assert len(family.api.jobs) == 3

    if not family.recovers:
        retried = generate(tmp_path, questions, family, "--retry-failed", tasks=tasks)
        assert retried.returncode == 0, retried.stdout + retried.stderr
        assert len(family.submits()) == 6, "--retry-failed submits each exactly once more"
        assert len(family.api.jobs) == 6
        assert all(record["status"] == "completed" for record in records(tmp_path / "out").values())


def test_refusals_and_rate_limits_prove_no_job_and_are_retried_or_final(
    tmp_path: Path, questions: Path, family: Running
) -> None:
    # A 429 made no job: sent again after the wait. A 400 made no job either: final, not ambiguous.
    family.api.inject("submit", Fault.rate_limited("0"), Fault.rate_limited("0"))
    done = generate(tmp_path, questions, family)
    assert done.returncode == 0, done.stdout + done.stderr
    assert len(family.submits()) == 3 and len(family.api.jobs) == 1
    family.api.inject("submit", Fault.http(400, {"error": "invalid input"}))
    refused = generate(tmp_path, questions, family, tasks=("maze_0002",))
    assert refused.returncode == 1
    error = records(tmp_path / "out")["maze_0002"]["error"]
    assert "AmbiguousSubmission" not in error and "HTTP 400" in error
    assert records(tmp_path / "out")["maze_0002"]["provider_state"] == {}, "nothing may exist"

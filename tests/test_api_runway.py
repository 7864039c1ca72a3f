"""Runway end to end: the real CLI against a fake Runway speaking its documented API."""

from __future__ import annotations

import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import generate_cmd
from fakes.harness import api_env, assert_no_secret, records, run_cli
from fakes.runway import KEY, FakeCdn, FakeRunway
from fakes.server import Fault

from vmevalkit.video import probe_video

MODEL = ("--model", "runway-gen4-turbo")


@pytest.fixture
def cdn(video_bytes: bytes) -> Iterator[FakeCdn]:
    with FakeCdn(video_bytes) as server:
        yield server


@pytest.fixture
def runway(video_bytes: bytes, cdn: FakeCdn) -> Iterator[FakeRunway]:
    with FakeRunway(video_bytes, cdn=cdn) as server:
        yield server


def env_for(runway: FakeRunway, **extra: str) -> dict[str, str]:
    return api_env(**{"RUNWAYML_BASE_URL": runway.base_url, "RUNWAYML_API_SECRET": KEY, **extra})


def generate(tmp_path: Path, questions: Path, runway: FakeRunway, *args: str, **env: str):
    return run_cli(
        *MODEL,
        "--questions-dir",
        str(questions),
        "--output-dir",
        str(tmp_path / "out"),
        "--no-progress",
        *args,
        cwd=tmp_path,
        env=env_for(runway, **env),
    )


def test_success_end_to_end(tmp_path: Path, questions: Path, runway: FakeRunway, cdn: FakeCdn) -> None:
    result = generate(tmp_path, questions, runway, "--domain", "maze", "--seed", "7")
    assert result.returncode == 0, result.stderr
    found = records(tmp_path / "out")
    assert sorted(found) == ["maze_0001", "maze_0002", "maze_0003", "maze_0004"]
    for task_id, record in found.items():
        assert record["status"] == "completed"
        assert record["duration"] == 5  # the model's default, not the builtins' 4 s
        meta = record["result"]["metadata"]
        assert meta["provider"] == "runway" and record["result"]["generation_id"] == meta["job_id"]
        assert record["provider_state"]["job_id"] == meta["job_id"]
        prep = meta["input_preparation"]
        assert prep["aspect_ratio"] == "960:960" and prep["canvas_size"] == [960, 960]  # square task, square ratio
        assert prep["pad_color"] == [255, 255, 255]
        video = tmp_path / "out" / "pilot" / "runway-gen4-turbo" / "maze_task" / task_id
        assert probe_video(next(video.rglob("*.mp4"))).frame_count == 8
    submits = runway.calls("submit")
    assert len(submits) == 4
    body = submits[0].json()
    assert body["model"] == "gen4_turbo" and body["duration"] == 5 and body["seed"] == 7
    assert body["promptImage"].startswith("data:image/png;base64,")
    assert "maze" in body["promptText"]
    # The key goes to Runway only: never to the CDN that serves the results.
    assert len(cdn.calls("download")) == 4
    assert all("authorization" not in req.headers for req in cdn.calls("download"))
    assert_no_secret(KEY, tmp_path / "out", result.stdout, result.stderr)
    assert "estimated spend of this run: $1.00" in result.stdout  # 4 videos x 5 s x $0.05


def test_transient_faults_end_in_success(tmp_path: Path, questions: Path, runway: FakeRunway, cdn: FakeCdn) -> None:
    runway.inject(
        "submit", Fault.rate_limited("0"), Fault.rate_limited("0")
    )  # only answers that prove no job was made are sent again (test_submit_recovery.py)
    runway.inject("poll", Fault.http(502), Fault.drop(), Fault.rate_limited("0"))
    cdn.inject("download", Fault.truncate(), Fault.http(500))
    result = generate(tmp_path, questions, runway, "--domain", "sudoku", "--limit-per-domain", "2")
    assert result.returncode == 0, result.stdout + result.stderr
    assert {r["status"] for r in records(tmp_path / "out").values()} == {"completed"}
    accepted = [status for name, status, _ in runway.log if name == "submit" and status == "200"]
    assert len(accepted) == 2, "each job was created exactly once despite the retries"
    assert not list((tmp_path / "out").rglob(".*tmp-*")), "the truncated download left nothing behind"


def test_permanent_failure_is_recorded_with_the_provider_reason(
    tmp_path: Path, questions: Path, runway: FakeRunway
) -> None:
    runway.job_defaults = {"outcome": "failed", "failure": "Input image flagged by moderation"}
    result = generate(tmp_path, questions, runway, "--task-id", "maze_0001")
    assert result.returncode == 1
    record = records(tmp_path / "out")["maze_0001"]
    assert record["status"] == "failed"
    assert "Input image flagged by moderation (SAFETY.INPUT.IMAGE)" in record["error"]
    assert record["provider_state"]["job_id"] == "task-0001"
    assert not list((tmp_path / "out").rglob("*.mp4"))


def test_rejected_input_is_a_clear_failure(tmp_path: Path, questions: Path, runway: FakeRunway) -> None:
    runway.inject("submit", Fault.http(400, {"error": "promptText is too long"}))
    result = generate(tmp_path, questions, runway, "--task-id", "maze_0001")
    assert result.returncode == 1
    error = records(tmp_path / "out")["maze_0001"]["error"]
    assert "HTTP 400" in error and "promptText is too long" in error
    assert len(runway.calls("submit")) == 1, "a 4xx is not retried"


def test_wrong_key_is_reported_without_echoing_it(tmp_path: Path, questions: Path, runway: FakeRunway) -> None:
    wrong = "rw-wrong-secret-000000000000000"
    env = env_for(runway, RUNWAYML_API_SECRET=wrong)
    result = run_cli(
        *MODEL,
        "--task-id",
        "maze_0001",
        "--questions-dir",
        str(questions),
        "--output-dir",
        str(tmp_path / "out"),
        cwd=tmp_path,
        env=env,
    )
    assert result.returncode == 1
    assert "HTTP 401" in records(tmp_path / "out")["maze_0001"]["error"]
    assert_no_secret(wrong, tmp_path / "out", result.stdout, result.stderr)


def test_constraints_are_checked_before_any_request(tmp_path: Path, questions: Path, runway: FakeRunway) -> None:
    bad_duration = generate(tmp_path, questions, runway, "--duration", "4")
    assert bad_duration.returncode == 2
    assert "model 'runway-gen4-turbo' makes videos of 5, 10 s, not 4 s: pass --duration 5" in bad_duration.stderr
    bad_ratio = generate(tmp_path, questions, runway, "--param", "aspect_ratio=21:9")
    assert bad_ratio.returncode == 2 and "takes aspect ratios" in bad_ratio.stderr
    unknown = generate(tmp_path, questions, runway, "--param", "colour=red")
    assert unknown.returncode == 2 and "no selected model accepts --param colour" in unknown.stderr
    assert runway.log == [], "nothing was sent"


def test_retired_model_says_so(tmp_path: Path, questions: Path, runway: FakeRunway) -> None:
    env = env_for(runway)
    del env["RUNWAYML_BASE_URL"]  # Runway's own host, which no longer serves gen3a_turbo
    result = run_cli("--model", "runway-gen3a-turbo", "--questions-dir", str(questions), cwd=tmp_path, env=env)
    assert result.returncode == 2
    assert "Model 'runway-gen3a-turbo' is retired by its provider" in result.stderr
    assert runway.log == []


def test_missing_key_skips_that_model_and_the_others_run(tmp_path: Path, questions: Path, runway: FakeRunway) -> None:
    env = env_for(runway)
    del env["RUNWAYML_API_SECRET"]
    result = run_cli(
        *MODEL,
        "static-first-frame",
        "--domain",
        "maze",
        "--questions-dir",
        str(questions),
        "--output-dir",
        str(tmp_path / "out"),
        cwd=tmp_path,
        env=env,
    )
    assert result.returncode == 1
    assert "Set RUNWAYML_API_SECRET in .env to use runway-gen4-turbo" in result.stderr
    assert len(list((tmp_path / "out").rglob("*.mp4"))) == 4  # the baseline ran
    assert runway.log == []


def test_a_provider_that_is_down_does_not_stop_the_others(tmp_path: Path, questions: Path, runway: FakeRunway) -> None:
    runway.inject("submit", *[Fault.http(503)] * 40)
    result = run_cli(
        *MODEL,
        "oracle-solution",
        "--domain",
        "sliding_puzzle",
        "--questions-dir",
        str(questions),
        "--output-dir",
        str(tmp_path / "out"),
        cwd=tmp_path,
        env=env_for(runway),
    )
    assert result.returncode == 1
    by_model: dict[str, list[str]] = {}
    for meta in (tmp_path / "out").rglob("metadata.json"):
        record = __import__("json").loads(meta.read_text())
        by_model.setdefault(record["model"], []).append(record["status"])
    assert by_model["oracle-solution"] == ["completed"] * 4
    assert by_model["runway-gen4-turbo"] == ["failed"] * 4


def test_dry_run_prints_the_estimated_cost(tmp_path: Path, questions: Path, runway: FakeRunway) -> None:
    result = generate(tmp_path, questions, runway, "--duration", "10", "--dry-run")
    assert result.returncode == 0
    assert "estimated cost of new paid jobs: $6.00" in result.stdout  # 12 x 10 s x $0.05
    assert runway.log == []


def test_max_cost_stops_new_submissions(tmp_path: Path, questions: Path, runway: FakeRunway) -> None:
    result = generate(tmp_path, questions, runway, "--max-cost", "0.75")  # three 5 s videos at $0.25
    assert result.returncode == 1
    assert len(runway.calls("submit")) == 3
    assert "9 generation(s) not submitted: --max-cost reached" in result.stderr
    assert sum(r["status"] == "completed" for r in records(tmp_path / "out").values()) == 3


def test_timeout_cancels_the_job(tmp_path: Path, questions: Path, runway: FakeRunway) -> None:
    runway.job_defaults = {"hold": threading.Event()}  # never finishes
    result = generate(tmp_path, questions, runway, "--task-id", "maze_0001", VMEVALKIT_JOB_TIMEOUT_S="0.5")
    assert result.returncode == 1
    record = records(tmp_path / "out")["maze_0001"]
    assert "JobTimeout" in record["error"] and "not finished after 0.5 s" in record["error"]
    assert runway.jobs["task-0001"].cancelled and len(runway.calls("cancel")) == 1


def test_sigkill_mid_batch_then_rerun_never_submits_twice(tmp_path: Path, questions: Path, runway: FakeRunway) -> None:
    hold = threading.Event()
    runway.job_defaults = {"hold": hold}
    out = tmp_path / "out"
    args = (*MODEL, "--questions-dir", str(questions), "--output-dir", str(out), "--no-progress")
    proc = subprocess.Popen(
        generate_cmd(*args), cwd=tmp_path, env=env_for(runway), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 60
        while len(runway.jobs) < 6:  # jobs submitted and being polled
            assert time.monotonic() < deadline, "jobs were not submitted"
            time.sleep(0.01)
        deadline = time.monotonic() + 60
        while sum(bool(r["provider_state"].get("job_id")) for r in records(out).values()) < 6:
            assert time.monotonic() < deadline, "job ids were not recorded"
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.communicate()
    before = records(out)
    submitted_before = {
        t: r["provider_state"]["job_id"] for t, r in before.items() if r["provider_state"].get("job_id")
    }
    # Killed between "about to submit" and "job id recorded": the job may exist and be billed, and
    # Runway takes no idempotency key, so these are reported, never submitted a second time.
    in_doubt = {t for t, r in before.items() if r["provider_state"].get("submitting")} - set(submitted_before)
    hold.set()  # the provider finishes the jobs while nobody is watching
    result = run_cli(*args, cwd=tmp_path, env=env_for(runway))
    assert result.returncode == (1 if in_doubt else 0), result.stderr
    final = records(out)
    assert len(final) == 12
    for task_id, record in final.items():
        if task_id in in_doubt:
            assert record["status"] == "failed" and "AmbiguousSubmission" in record["error"]
            assert "--retry-failed" in record["error"]
        else:
            assert record["status"] == "completed", record["error"]
    images = [job.request["promptImage"] for job in runway.jobs.values()]
    assert len(images) == len(set(images)), "no task was submitted twice"
    assert len(runway.jobs) >= 12 - len(in_doubt)
    for task_id, job_id in submitted_before.items():
        assert final[task_id]["result"]["generation_id"] == job_id
        assert final[task_id]["result"]["metadata"]["resumed"] is True

"""MiniMax end to end: the real CLI against a fake MiniMax speaking its documented three-hop API."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from subprocess import CompletedProcess

import pytest
from fakes.harness import api_env, assert_no_secret, records, run_cli
from fakes.minimax import KEY, FakeMiniMax, FakeMiniMaxCdn, envelope
from fakes.server import Fault

from vmevalkit.video import probe_video

MODEL = ("--model", "minimax-hailuo-2-3")


@pytest.fixture
def cdn(video_bytes: bytes) -> Iterator[FakeMiniMaxCdn]:
    with FakeMiniMaxCdn(video_bytes) as server:
        yield server


@pytest.fixture
def minimax(video_bytes: bytes, cdn: FakeMiniMaxCdn) -> Iterator[FakeMiniMax]:
    with FakeMiniMax(video_bytes, cdn=cdn) as server:
        yield server


def generate(tmp_path: Path, questions: Path, minimax: FakeMiniMax, *args: str, **env: str) -> CompletedProcess[str]:
    return run_cli(
        *MODEL,
        "--questions-dir",
        str(questions),
        "--output-dir",
        str(tmp_path / "out"),
        "--no-progress",
        *args,
        cwd=tmp_path,
        env=api_env(**{"MINIMAX_BASE_URL": minimax.base_url, "MINIMAX_API_KEY": KEY, **env}),
    )


def test_success_end_to_end(tmp_path: Path, questions: Path, minimax: FakeMiniMax, cdn: FakeMiniMaxCdn) -> None:
    result = generate(tmp_path, questions, minimax, "--domain", "maze")
    assert result.returncode == 0, result.stderr
    found = records(tmp_path / "out")
    assert sorted(found) == ["maze_0001", "maze_0002", "maze_0003", "maze_0004"]
    for task_id, record in found.items():
        assert record["status"] == "completed"
        assert record["duration"] == 6  # the model's default
        meta = record["result"]["metadata"]
        assert meta["provider"] == "minimax" and meta["provider_status"] == "Success"
        assert record["provider_state"]["job_id"] == meta["job_id"] == record["result"]["generation_id"]
        prep = meta["input_preparation"]
        assert prep["aspect_ratio"] == "1:1" and prep["canvas_size"] == [768, 768]  # 768p canvas for a square task
        video = tmp_path / "out" / "pilot" / "minimax-hailuo-2-3" / "maze_task" / task_id
        assert probe_video(next(video.rglob("*.mp4"))).frame_count == 8
    body = minimax.calls("submit")[0].json()
    assert set(body) == {"model", "prompt", "first_frame_image", "duration", "resolution", "prompt_optimizer"}
    assert body["model"] == "MiniMax-Hailuo-2.3" and body["duration"] == 6 and body["resolution"] == "768P"
    assert body["prompt_optimizer"] is False, "the optimizer would rewrite the task's prompt"
    assert body["first_frame_image"].startswith("data:image/png;base64,") and "maze" in body["prompt"]
    # Three hops per job: query until Success, then the file API for the download URL.
    assert len(minimax.calls("file")) == 4
    assert all(req.query["task_id"].startswith("task-") for req in minimax.calls("poll"))
    assert len(cdn.calls("download")) == 4
    assert all("authorization" not in req.headers for req in cdn.calls("download")), "the key went to the CDN"
    assert_no_secret(KEY, tmp_path / "out", result.stdout, result.stderr)
    assert "estimated spend of this run: $1.34" in result.stdout  # 4 videos x 6 s x $0.056


def test_rate_limit_in_a_200_body_is_retried(tmp_path: Path, questions: Path, minimax: FakeMiniMax) -> None:
    # MiniMax reports its rate limit as HTTP 200 with base_resp 1002, not as a 429.
    minimax.inject("submit", Fault.http(200, envelope(1002, "rate limit", task_id="")))
    result = generate(tmp_path, questions, minimax, "--task-id", "maze_0001")
    assert result.returncode == 0, result.stdout + result.stderr
    assert records(tmp_path / "out")["maze_0001"]["status"] == "completed"
    assert len(minimax.calls("submit")) == 2 and len(minimax.jobs) == 1


def test_transient_faults_end_in_success(
    tmp_path: Path, questions: Path, minimax: FakeMiniMax, cdn: FakeMiniMaxCdn
) -> None:
    busy = Fault.http(200, envelope(1002, "rate limit", task_id=""))
    minimax.inject(
        "submit", Fault.rate_limited("0"), busy
    )  # only answers that prove no job was made are sent again (test_submit_recovery.py)
    minimax.inject("poll", Fault.http(502), Fault.drop(), Fault.http(200, envelope(1000, "unknown error")))
    minimax.inject("file", Fault.http(503), Fault.http(200, envelope(1024, "internal error")))
    cdn.inject("download", Fault.truncate(), Fault.http(500))
    result = generate(tmp_path, questions, minimax, "--domain", "sudoku", "--limit-per-domain", "2")
    assert result.returncode == 0, result.stdout + result.stderr
    assert {r["status"] for r in records(tmp_path / "out").values()} == {"completed"}
    assert len(minimax.jobs) == 2, "each task was created exactly once despite the retries"
    assert len(minimax.calls("submit")) == 4
    assert not list((tmp_path / "out").rglob(".*tmp-*")), "the truncated download left nothing behind"


def test_failed_task_is_recorded_with_the_provider_reason(
    tmp_path: Path, questions: Path, minimax: FakeMiniMax
) -> None:
    minimax.job_defaults = {"outcome": "failed", "failure": "output new_sensitive"}
    result = generate(tmp_path, questions, minimax, "--task-id", "maze_0001")
    assert result.returncode == 1
    record = records(tmp_path / "out")["maze_0001"]
    assert record["status"] == "failed"
    assert "task-0001 failed" in record["error"] and "MiniMax error 1027: output new_sensitive" in record["error"]
    assert record["provider_state"]["job_id"] == "task-0001"
    assert minimax.calls("file") == [] and not list((tmp_path / "out").rglob("*.mp4"))


def test_sensitive_input_is_a_permanent_failure(tmp_path: Path, questions: Path, minimax: FakeMiniMax) -> None:
    minimax.inject("submit", Fault.http(200, envelope(1026, "input new_sensitive", task_id="")))
    result = generate(tmp_path, questions, minimax, "--task-id", "maze_0001")
    assert result.returncode == 1
    record = records(tmp_path / "out")["maze_0001"]
    assert record["status"] == "failed"
    assert "ProviderJobFailed" in record["error"] and "MiniMax error 1026: input new_sensitive" in record["error"]
    assert record["result"]["metadata"]["permanent"] is True
    assert len(minimax.calls("submit")) == 1, "a content refusal is not retried"


def test_invalid_parameters_are_a_clear_failure(tmp_path: Path, questions: Path, minimax: FakeMiniMax) -> None:
    minimax.inject("submit", Fault.http(200, envelope(2013, "invalid params, prompt too long", task_id="")))
    result = generate(tmp_path, questions, minimax, "--task-id", "maze_0001")
    assert result.returncode == 1
    error = records(tmp_path / "out")["maze_0001"]["error"]
    assert "MiniMaxError" in error and "MiniMax error 2013: invalid params, prompt too long" in error
    assert len(minimax.calls("submit")) == 1


def test_http_4xx_is_not_retried(tmp_path: Path, questions: Path, minimax: FakeMiniMax) -> None:
    minimax.inject("submit", Fault.http(413, {"error": "request entity too large"}))
    result = generate(tmp_path, questions, minimax, "--task-id", "maze_0001")
    assert result.returncode == 1
    assert "HTTP 413" in records(tmp_path / "out")["maze_0001"]["error"]
    assert len(minimax.calls("submit")) == 1


def test_wrong_key_is_reported_without_echoing_it(tmp_path: Path, questions: Path, minimax: FakeMiniMax) -> None:
    wrong = "mm-wrong-secret-000000000000000"
    result = generate(tmp_path, questions, minimax, "--task-id", "maze_0001", MINIMAX_API_KEY=wrong)
    assert result.returncode == 1
    error = records(tmp_path / "out")["maze_0001"]["error"]
    assert "MiniMax error 1004" in error and "check MINIMAX_API_KEY" in error
    assert minimax.jobs == {}
    assert_no_secret(wrong, tmp_path / "out", result.stdout, result.stderr)


def test_1080p_is_six_seconds_only(tmp_path: Path, questions: Path, minimax: FakeMiniMax) -> None:
    result = generate(
        tmp_path, questions, minimax, "--task-id", "maze_0001", "--duration", "10", "--param", "resolution=1080p"
    )
    assert result.returncode == 1
    assert "makes 1080P videos of 6 s only" in records(tmp_path / "out")["maze_0001"]["error"]
    assert minimax.log == [], "nothing was sent"
    bad_duration = generate(tmp_path, questions, minimax, "--duration", "5")
    assert bad_duration.returncode == 2 and "makes videos of 6, 10 s, not 5 s" in bad_duration.stderr

"""Replicate end to end: the real CLI against a fake Replicate speaking its documented predictions API."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from subprocess import CompletedProcess

import pytest
from fakes.harness import api_env, assert_no_secret, records, run_cli
from fakes.replicate import KEY, FakeReplicate, FakeReplicateDelivery
from fakes.server import Fault

from vmevalkit.video import probe_video

MODEL = ("--model", "replicate-kling-v2-1")


@pytest.fixture
def delivery(video_bytes: bytes) -> Iterator[FakeReplicateDelivery]:
    with FakeReplicateDelivery(video_bytes) as server:
        yield server


@pytest.fixture
def replicate(video_bytes: bytes, delivery: FakeReplicateDelivery) -> Iterator[FakeReplicate]:
    with FakeReplicate(video_bytes, cdn=delivery) as server:
        yield server


def generate(
    tmp_path: Path, questions: Path, replicate: FakeReplicate, *args: str, **env: str
) -> CompletedProcess[str]:
    model = () if "--model" in args else MODEL
    return run_cli(
        *model,
        "--questions-dir",
        str(questions),
        "--output-dir",
        str(tmp_path / "out"),
        "--no-progress",
        *args,
        cwd=tmp_path,
        env=api_env(**{"REPLICATE_BASE_URL": replicate.base_url, "REPLICATE_API_TOKEN": KEY, **env}),
    )


def test_success_end_to_end(
    tmp_path: Path, questions: Path, replicate: FakeReplicate, delivery: FakeReplicateDelivery
) -> None:
    result = generate(tmp_path, questions, replicate, "--domain", "maze")
    assert result.returncode == 0, result.stderr
    found = records(tmp_path / "out")
    assert sorted(found) == ["maze_0001", "maze_0002", "maze_0003", "maze_0004"]
    for task_id, record in found.items():
        assert record["status"] == "completed" and record["duration"] == 5
        meta = record["result"]["metadata"]
        assert meta["provider"] == "replicate" and meta["provider_status"] == "succeeded"
        assert record["provider_state"]["job_id"] == meta["job_id"] == record["result"]["generation_id"]
        assert meta["input_preparation"]["canvas_size"] == [720, 720]
        video = tmp_path / "out" / "pilot" / "replicate-kling-v2-1" / "maze_task" / task_id
        assert probe_video(next(video.rglob("*.mp4"))).frame_count == 8
    submit = replicate.calls("submit")[0]
    assert submit.path == "/v1/models/kwaivgi/kling-v2.1/predictions"
    assert "prefer" not in submit.headers, "video predictions run for minutes: poll, don't hold the request open"
    inputs = submit.json()["input"]
    assert set(inputs) == {"prompt", "start_image", "duration", "mode"}
    assert inputs["duration"] == 5 and inputs["mode"] == "standard"  # 720p is Kling's standard mode
    assert inputs["start_image"].startswith("data:image/png;base64,") and "maze" in inputs["prompt"]
    assert all(req.path.startswith("/v1/predictions/pred-") for req in replicate.calls("poll"))
    # Outputs are on replicate.delivery: the token never goes there.
    assert len(delivery.calls("download")) == 4
    assert all("authorization" not in req.headers for req in delivery.calls("download"))
    assert_no_secret(KEY, tmp_path / "out", result.stdout, result.stderr)
    assert "estimated spend of this run: $1.00" in result.stdout  # 4 videos x 5 s x $0.05


def test_each_model_gets_its_own_input_fields(tmp_path: Path, questions: Path, replicate: FakeReplicate) -> None:
    models = (
        "replicate-hailuo-02",
        "replicate-seedance-1-pro",
        "replicate-pixverse-v4-5",
        "replicate-wan-2-2-i2v-fast",
    )
    result = generate(tmp_path, questions, replicate, "--model", *models, "--task-id", "maze_0001", "--seed", "7")
    assert result.returncode == 0, result.stdout + result.stderr
    bodies = {req.path.split("/")[4]: req.json()["input"] for req in replicate.calls("submit")}
    for inputs in bodies.values():
        assert inputs.pop("prompt")
    assert bodies["hailuo-02"].pop("first_frame_image").startswith("data:image/png;base64,")
    assert bodies["hailuo-02"] == {"duration": 6, "resolution": "768p", "prompt_optimizer": False}
    assert bodies["seedance-1-pro"].pop("image").startswith("data:image/png;base64,")
    assert bodies["seedance-1-pro"] == {"duration": 5, "resolution": "1080p", "seed": 7}
    assert bodies["pixverse-v4.5"].pop("image").startswith("data:image/png;base64,")
    assert bodies["pixverse-v4.5"] == {"duration": 5, "quality": "540p", "aspect_ratio": "1:1", "seed": 7}
    assert bodies["wan-2.2-i2v-fast"].pop("image").startswith("data:image/png;base64,")
    assert bodies["wan-2.2-i2v-fast"] == {"num_frames": 81, "frames_per_second": 16, "resolution": "480p", "seed": 7}
    assert {r["status"] for r in records(tmp_path / "out").values()} == {"completed"}


def test_transient_faults_end_in_success(
    tmp_path: Path, questions: Path, replicate: FakeReplicate, delivery: FakeReplicateDelivery
) -> None:
    throttled = {"detail": "Request was throttled. Expected available in 1 second.", "status": 429}
    replicate.inject(
        "submit", Fault.http(429, throttled, Retry_After="0")
    )  # only answers that prove no job was made are sent again (test_submit_recovery.py)
    replicate.inject("poll", Fault.http(502), Fault.drop(), Fault.rate_limited("0"))
    delivery.inject("download", Fault.truncate(), Fault.http(500))
    result = generate(tmp_path, questions, replicate, "--domain", "sudoku", "--limit-per-domain", "2")
    assert result.returncode == 0, result.stdout + result.stderr
    assert {r["status"] for r in records(tmp_path / "out").values()} == {"completed"}
    assert len(replicate.jobs) == 2, "each prediction was created exactly once despite the retries"
    assert not list((tmp_path / "out").rglob(".*tmp-*")), "the truncated download left nothing behind"


def test_failed_prediction_is_recorded_with_the_provider_reason(
    tmp_path: Path, questions: Path, replicate: FakeReplicate
) -> None:
    reason = "The input or output was flagged as sensitive. Please try again with different inputs. (E005)"
    replicate.job_defaults = {"outcome": "failed", "failure": reason}
    result = generate(tmp_path, questions, replicate, "--task-id", "maze_0001")
    assert result.returncode == 1
    record = records(tmp_path / "out")["maze_0001"]
    assert record["status"] == "failed"
    assert "pred-0001 failed" in record["error"] and reason in record["error"]
    assert record["provider_state"]["job_id"] == "pred-0001"
    assert not list((tmp_path / "out").rglob("*.mp4"))


def test_rejected_input_is_a_clear_failure(tmp_path: Path, questions: Path, replicate: FakeReplicate) -> None:
    # Extras the catalog declares reach the model's input (the fake checks them against its schema).
    result = generate(tmp_path, questions, replicate, "--task-id", "maze_0001", "--param", "negative_prompt=blur")
    assert result.returncode == 0, result.stderr
    replicate.inject("submit", Fault.http(422, {"title": "Input validation failed", "detail": "mode: bad value"}))
    result = generate(tmp_path, questions, replicate, "--task-id", "maze_0002")
    assert result.returncode == 1
    error = records(tmp_path / "out")["maze_0002"]["error"]
    assert "HTTP 422" in error and "Input validation failed" in error
    assert len(replicate.calls("submit")) == 2, "a 4xx is not retried"
    assert replicate.calls("submit")[0].json()["input"]["negative_prompt"] == "blur"


def test_wrong_key_is_reported_without_echoing_it(tmp_path: Path, questions: Path, replicate: FakeReplicate) -> None:
    wrong = "r8_wrong_token_000000000000000000"
    result = generate(tmp_path, questions, replicate, "--task-id", "maze_0001", REPLICATE_API_TOKEN=wrong)
    assert result.returncode == 1
    error = records(tmp_path / "out")["maze_0001"]["error"]
    assert "HTTP 401" in error and "You did not pass a valid authentication token" in error
    assert replicate.jobs == {}
    assert_no_secret(wrong, tmp_path / "out", result.stdout, result.stderr)


def test_timeout_cancels_the_prediction(tmp_path: Path, questions: Path, replicate: FakeReplicate) -> None:
    replicate.job_defaults = {"hold": threading.Event()}  # never finishes
    result = generate(tmp_path, questions, replicate, "--task-id", "maze_0001", VMEVALKIT_JOB_TIMEOUT_S="0.5")
    assert result.returncode == 1
    assert "not finished after 0.5 s" in records(tmp_path / "out")["maze_0001"]["error"]
    assert [req.path for req in replicate.calls("cancel")] == ["/v1/predictions/pred-0001/cancel"]
    assert replicate.jobs["pred-0001"].cancelled


def test_statuses_and_outputs_are_read_as_documented() -> None:
    from vmevalkit.models.providers.replicate import ReplicateService

    service = ReplicateService("kwaivgi/kling-v2.1")
    assert service.status({"status": "starting"}).state == "queued"  # a cold boot is not an error
    aborted = service.status({"status": "aborted", "error": None})
    assert aborted.state == "failed" and aborted.error is not None and "deadline" in aborted.error
    listed = service.status({"status": "succeeded", "output": ["https://replicate.delivery/a.mp4"]})
    assert listed.state == "succeeded" and listed.video_url == "https://replicate.delivery/a.mp4"
    assert service.status({"status": "canceled"}).state == "cancelled"

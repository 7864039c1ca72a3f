"""fal.ai end to end: the real CLI against a fake fal queue speaking its documented API."""

from __future__ import annotations

import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from subprocess import CompletedProcess
from urllib.parse import urlsplit

import pytest
from conftest import generate_cmd
from fakes.fal import KEY, FakeFal, FakeFalCdn
from fakes.harness import api_env, assert_no_secret, records, run_cli
from fakes.server import Fault

from vmevalkit.video import probe_video

MODEL = ("--model", "fal-kling-v2-1-standard")


@pytest.fixture
def cdn(video_bytes: bytes) -> Iterator[FakeFalCdn]:
    with FakeFalCdn(video_bytes) as server:
        yield server


@pytest.fixture
def fal(video_bytes: bytes, cdn: FakeFalCdn) -> Iterator[FakeFal]:
    with FakeFal(video_bytes, cdn=cdn) as server:
        yield server


def env_for(fal: FakeFal, **extra: str) -> dict[str, str]:
    return api_env(**{"FAL_BASE_URL": fal.base_url, "FAL_KEY": KEY, **extra})


def generate(tmp_path: Path, questions: Path, fal: FakeFal, *args: str, **env: str) -> CompletedProcess[str]:
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
        env=env_for(fal, **env),
    )


def test_success_end_to_end(tmp_path: Path, questions: Path, fal: FakeFal, cdn: FakeFalCdn) -> None:
    result = generate(tmp_path, questions, fal, "--domain", "maze")
    assert result.returncode == 0, result.stderr
    found = records(tmp_path / "out")
    assert sorted(found) == ["maze_0001", "maze_0002", "maze_0003", "maze_0004"]
    for task_id, record in found.items():
        assert record["status"] == "completed" and record["duration"] == 5
        meta = record["result"]["metadata"]
        assert meta["provider"] == "fal" and meta["provider_status"] == "COMPLETED"
        assert record["provider_state"]["job_id"] == meta["job_id"] == record["result"]["generation_id"]
        assert meta["input_preparation"]["canvas_size"] == [720, 720]  # letterboxed at the model's 720p
        video = tmp_path / "out" / "pilot" / "fal-kling-v2-1-standard" / "maze_task" / task_id
        assert probe_video(next(video.rglob("*.mp4"))).frame_count == 8
    submit = fal.calls("submit")[0]
    assert submit.path == "/fal-ai/kling-video/v2.1/standard/image-to-video"
    body = submit.json()
    assert set(body) == {"prompt", "image_url", "duration"} and body["duration"] == "5"  # fal's enum is a string
    assert body["image_url"].startswith("data:image/png;base64,") and "maze" in body["prompt"]
    # Status and result are fetched at the URLs fal returned: the app path, without the model's subpath.
    returned = fal.jobs[next(iter(fal.jobs))]
    assert {req.path for req in fal.calls("poll")} >= {f"/fal-ai/kling-video/requests/{returned.id}/status"}
    assert urlsplit(fal.urls("fal-ai/kling-video", returned.id)["status_url"]).path in {
        req.path for req in fal.calls("poll")
    }
    assert len(fal.calls("result")) == 4 and len(cdn.calls("download")) == 4
    assert all("authorization" not in req.headers for req in cdn.calls("download")), "the key went to the CDN"
    assert_no_secret(KEY, tmp_path / "out", result.stdout, result.stderr)
    assert "estimated spend of this run: $1.12" in result.stdout  # 4 videos x 5 s x $0.056


def test_each_model_gets_its_own_input_fields(tmp_path: Path, questions: Path, fal: FakeFal) -> None:
    models = ("fal-hailuo-02-standard", "fal-seedance-1-pro", "fal-pixverse-v4-5", "fal-wan-2-1-i2v")
    result = generate(tmp_path, questions, fal, "--model", *models, "--task-id", "maze_0001", "--seed", "7")
    assert result.returncode == 0, result.stdout + result.stderr
    bodies = {req.path: req.json() for req in fal.calls("submit")}
    for body in bodies.values():
        assert body.pop("image_url").startswith("data:image/png;base64,") and body.pop("prompt")
    assert bodies == {
        "/fal-ai/minimax/hailuo-02/standard/image-to-video": {"duration": "6", "prompt_optimizer": False},
        "/fal-ai/bytedance/seedance/v1/pro/image-to-video": {"duration": "5", "resolution": "720p", "seed": 7},
        "/fal-ai/pixverse/v4.5/image-to-video": {"duration": "5", "resolution": "720p", "seed": 7},
        "/fal-ai/wan-i2v": {"num_frames": 81, "frames_per_second": 16, "resolution": "720p", "seed": 7},
    }
    apps = {req.path.split("/requests/")[0] for req in fal.calls("poll")}
    assert apps == {"/fal-ai/minimax", "/fal-ai/bytedance", "/fal-ai/pixverse", "/fal-ai/wan-i2v"}
    assert {r["status"] for r in records(tmp_path / "out").values()} == {"completed"}


def test_transient_faults_end_in_success(tmp_path: Path, questions: Path, fal: FakeFal, cdn: FakeFalCdn) -> None:
    fal.inject(
        "submit", Fault.rate_limited("0"), Fault.rate_limited("0")
    )  # only answers that prove no job was made are sent again (test_submit_recovery.py)
    fal.inject("poll", Fault.http(502), Fault.drop(), Fault.rate_limited("0"))
    fal.inject("result", Fault.http(500), Fault.drop())
    cdn.inject("download", Fault.truncate(), Fault.http(500))
    result = generate(tmp_path, questions, fal, "--domain", "sudoku", "--limit-per-domain", "2")
    assert result.returncode == 0, result.stdout + result.stderr
    assert {r["status"] for r in records(tmp_path / "out").values()} == {"completed"}
    assert len(fal.jobs) == 2, "each request was queued exactly once despite the retries"
    assert not list((tmp_path / "out").rglob(".*tmp-*")), "the truncated download left nothing behind"


def test_completed_with_an_error_is_a_failure_with_fals_reason(
    tmp_path: Path, questions: Path, fal: FakeFal, cdn: FakeFalCdn
) -> None:
    fal.job_defaults = {"outcome": "failed", "failure": "The input image was flagged by the content checker"}
    result = generate(tmp_path, questions, fal, "--task-id", "maze_0001")
    assert result.returncode == 1
    record = records(tmp_path / "out")["maze_0001"]
    assert record["status"] == "failed"
    assert "completed with an error" in record["error"]
    assert "The input image was flagged by the content checker (content_policy_violation)" in record["error"]
    assert record["result"]["metadata"]["permanent"] is True
    assert record["provider_state"]["job_id"] == "req-0001"
    assert len(fal.calls("result")) == 1, "a 422 result is final, not retried"
    assert cdn.log == [] and not list((tmp_path / "out").rglob("*.mp4"))


def test_rejected_input_is_a_clear_failure(tmp_path: Path, questions: Path, fal: FakeFal) -> None:
    detail = [
        {"loc": ["body", "prompt"], "msg": "ensure this value has at most 2500 characters", "type": "value_error"}
    ]
    fal.inject("submit", Fault.http(422, {"detail": detail}))
    result = generate(tmp_path, questions, fal, "--task-id", "maze_0001")
    assert result.returncode == 1
    error = records(tmp_path / "out")["maze_0001"]["error"]
    assert "HTTP 422" in error and "at most 2500 characters" in error
    assert len(fal.calls("submit")) == 1, "a 4xx is not retried"


def test_wrong_key_is_reported_without_echoing_it(tmp_path: Path, questions: Path, fal: FakeFal) -> None:
    wrong = "fal-wrong-key-id:000000000000000"
    result = generate(tmp_path, questions, fal, "--task-id", "maze_0001", FAL_KEY=wrong)
    assert result.returncode == 1
    assert "HTTP 401" in records(tmp_path / "out")["maze_0001"]["error"]
    assert fal.jobs == {}
    assert_no_secret(wrong, tmp_path / "out", result.stdout, result.stderr)


def test_timeout_cancels_the_request(tmp_path: Path, questions: Path, fal: FakeFal) -> None:
    fal.job_defaults = {"hold": threading.Event()}  # never finishes
    result = generate(tmp_path, questions, fal, "--task-id", "maze_0001", VMEVALKIT_JOB_TIMEOUT_S="0.5")
    assert result.returncode == 1
    assert "not finished after 0.5 s" in records(tmp_path / "out")["maze_0001"]["error"]
    cancels = fal.calls("cancel")
    assert [req.path for req in cancels] == ["/fal-ai/kling-video/requests/req-0001/cancel"]
    assert cancels[0].method == "PUT" and fal.jobs["req-0001"].cancelled


def test_killed_run_resumes_from_the_request_id_alone(tmp_path: Path, questions: Path, fal: FakeFal) -> None:
    hold = threading.Event()
    fal.job_defaults = {"hold": hold}
    out = tmp_path / "out"
    args = (*MODEL, "--domain", "maze", "--questions-dir", str(questions), "--output-dir", str(out), "--no-progress")
    proc = subprocess.Popen(
        generate_cmd(*args), cwd=tmp_path, env=env_for(fal), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 60
        while sum(bool(r["provider_state"].get("job_id")) for r in records(out).values()) < 4:
            assert time.monotonic() < deadline, "request ids were not recorded"
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    hold.set()  # the requests complete while nobody is watching
    result = run_cli(*args, cwd=tmp_path, env=env_for(fal))
    assert result.returncode == 0, result.stderr
    final = records(out)
    assert {r["status"] for r in final.values()} == {"completed"} and len(fal.jobs) == 4, "nothing queued twice"
    assert all(r["result"]["metadata"]["resumed"] is True for r in final.values())


def test_app_paths_and_error_bodies() -> None:
    from vmevalkit.models.providers.fal import app_path, error_detail

    assert app_path("fal-ai/kling-video/v2.1/standard/image-to-video") == "fal-ai/kling-video"
    assert app_path("fal-ai/wan-i2v") == "fal-ai/wan-i2v"
    assert app_path("workflows/someone/my-flow/sub") == "workflows/someone/my-flow"
    assert error_detail({"detail": "Request timed out", "error_type": "request_timeout"}) == (
        "Request timed out (request_timeout)"
    )
    assert error_detail({"detail": [{"loc": ["body"], "msg": "bad", "type": "x"}]}) == "bad (x)"

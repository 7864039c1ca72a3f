"""WaveSpeedAI end to end: the real CLI against a fake WaveSpeed speaking its documented API."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from fakes.harness import api_env, assert_no_secret, records, run_cli
from fakes.server import Fault
from fakes.wavespeed import KEY, FakeWaveSpeed, FakeWaveSpeedCdn

from vmevalkit.video import probe_video

WAN21 = ("--model", "wavespeed-wan-2-1-i2v-480p")


@pytest.fixture
def cdn(video_bytes: bytes) -> Iterator[FakeWaveSpeedCdn]:
    with FakeWaveSpeedCdn(video_bytes) as server:
        yield server


@pytest.fixture
def wavespeed(video_bytes: bytes, cdn: FakeWaveSpeedCdn) -> Iterator[FakeWaveSpeed]:
    with FakeWaveSpeed(video_bytes, cdn=cdn) as server:
        yield server


def generate(
    tmp_path: Path, questions: Path, server: FakeWaveSpeed, *args: str, key: str = KEY
) -> subprocess.CompletedProcess[str]:
    env = api_env(WAVESPEED_BASE_URL=server.base_url, WAVESPEED_API_KEY=key)
    return run_cli(
        *args,
        "--questions-dir",
        str(questions),
        "--output-dir",
        str(tmp_path / "out"),
        "--no-progress",
        cwd=tmp_path,
        env=env,
    )


def accepted_submits(server: FakeWaveSpeed) -> int:
    return sum(1 for name, status, _ in server.log if name == "submit" and status == "200")


def test_wan21_success_end_to_end(
    tmp_path: Path, questions: Path, wavespeed: FakeWaveSpeed, cdn: FakeWaveSpeedCdn
) -> None:
    result = generate(tmp_path, questions, wavespeed, *WAN21, "--domain", "maze", "--limit-per-domain", "2")
    assert result.returncode == 0, result.stdout + result.stderr
    found = records(tmp_path / "out")
    assert sorted(found) == ["maze_0001", "maze_0002"]
    for task_id, record in found.items():
        assert record["status"] == "completed" and record["duration"] == 5
        meta = record["result"]["metadata"]
        assert meta["provider"] == "wavespeed" and meta["provider_status"] == "completed"
        assert record["provider_state"]["job_id"] == meta["job_id"] == record["result"]["generation_id"]
        # A square puzzle letterboxed onto the exact 832x480 canvas WAN 2.1 renders.
        assert meta["input_preparation"]["canvas_size"] == [832, 480]
        video = tmp_path / "out" / "pilot" / "wavespeed-wan-2-1-i2v-480p" / "maze_task" / task_id
        assert probe_video(next(video.rglob("*.mp4"))).frame_count == 8

    # The first frame went through WaveSpeed's own upload, as a multipart PNG with the key.
    uploads = wavespeed.calls("upload")
    assert len(uploads) == 2
    filename, content_type, data = uploads[0].multipart()["file"]
    assert content_type == "image/png" and data.startswith(b"\x89PNG") and filename == "first_frame.png"
    body = wavespeed.calls("submit")[0].json()
    image = body.pop("image")
    assert image.startswith(f"{cdn.base_url}/media/upload-")
    assert cdn.media[image.rsplit("/", 1)[1]][:4] == b"\x89PNG"
    assert "maze" in body.pop("prompt")
    assert body == {"duration": 5, "seed": 42, "size": "832*480"}
    assert wavespeed.calls("submit")[0].path == "/api/v3/wavespeed-ai/wan-2.1/i2v-480p"
    # Results come from the CDN, which never sees the key.
    assert len(cdn.calls("download")) == 2
    assert all("authorization" not in req.headers for _, _, req in cdn.log)
    assert_no_secret(KEY, tmp_path / "out", result.stdout, result.stderr)
    assert "estimated spend of this run: $0.40" in result.stdout  # 2 videos x 5 s x $0.04


def test_veo_and_wan22_bodies_follow_their_schemas(tmp_path: Path, questions: Path, wavespeed: FakeWaveSpeed) -> None:
    veo = generate(
        tmp_path,
        questions,
        wavespeed,
        "--model",
        "wavespeed-veo-3-1",
        "wavespeed-wan-2-2-i2v-720p",
        "--task-id",
        "sudoku_0001",
        "--seed",
        "3000000000",
        "--param",
        "negative_prompt=blurry",
    )
    assert veo.returncode == 0, veo.stdout + veo.stderr
    bodies = {req.path: req.json() for req in wavespeed.calls("submit")}
    veo_body = bodies["/api/v3/google/veo3.1/image-to-video"]
    assert {k: v for k, v in veo_body.items() if k not in ("image", "prompt")} == {
        "duration": 8,
        "seed": 3000000000 % 2**31,  # folded into the documented -1..2147483647
        "aspect_ratio": "16:9",
        "resolution": "720p",
        "generate_audio": False,  # WaveSpeed would add (and bill) audio unless told not to
        "negative_prompt": "blurry",
    }
    wan_body = bodies["/api/v3/wavespeed-ai/wan-2.2/i2v-720p"]
    assert {k: v for k, v in wan_body.items() if k not in ("image", "prompt")} == {
        "duration": 5,
        "seed": 3000000000 % 2**31,
        "negative_prompt": "blurry",
    }


def test_transient_faults_end_in_success(
    tmp_path: Path, questions: Path, wavespeed: FakeWaveSpeed, cdn: FakeWaveSpeedCdn
) -> None:
    wavespeed.inject("upload", Fault.http(500), Fault.drop())
    # Only answers that prove no prediction was made are sent again: a 429, or its code in the envelope.
    slow_down = Fault.http(200, {"code": 429, "message": "slow down", "data": None})
    wavespeed.inject("submit", Fault.rate_limited("0"), slow_down)
    wavespeed.inject("poll", Fault.http(503), Fault.drop(), Fault.rate_limited("0"))
    cdn.inject("download", Fault.truncate(), Fault.http(500))
    result = generate(tmp_path, questions, wavespeed, *WAN21, "--domain", "sudoku", "--limit-per-domain", "2")
    assert result.returncode == 0, result.stdout + result.stderr
    assert {r["status"] for r in records(tmp_path / "out").values()} == {"completed"}
    assert len(wavespeed.jobs) == 2, "each prediction was created exactly once despite the retries"
    assert not list((tmp_path / "out").rglob(".*tmp-*"))


def test_failed_prediction_is_recorded_with_its_error(
    tmp_path: Path, questions: Path, wavespeed: FakeWaveSpeed
) -> None:
    wavespeed.job_defaults = {"outcome": "failed", "failure": "NSFW content detected in the input image"}
    result = generate(tmp_path, questions, wavespeed, *WAN21, "--task-id", "maze_0001")
    assert result.returncode == 1
    record = records(tmp_path / "out")["maze_0001"]
    assert record["status"] == "failed"
    assert "failed: NSFW content detected in the input image" in record["error"]
    assert record["provider_state"]["job_id"] == "pred-0001"
    assert not list((tmp_path / "out").rglob("*.mp4"))


def test_rejected_request_is_a_clear_failure(tmp_path: Path, questions: Path, wavespeed: FakeWaveSpeed) -> None:
    wavespeed.inject("submit", Fault.http(400, {"code": 400, "message": "prompt is too long", "data": None}))
    result = generate(tmp_path, questions, wavespeed, *WAN21, "--task-id", "maze_0001")
    assert result.returncode == 1
    error = records(tmp_path / "out")["maze_0001"]["error"]
    assert "HTTP 400" in error and "prompt is too long" in error
    assert len(wavespeed.calls("submit")) == 1, "a 4xx is not retried"


def test_error_code_inside_http_200_is_an_error(tmp_path: Path, questions: Path, wavespeed: FakeWaveSpeed) -> None:
    # The envelope's own code says what happened, whatever the HTTP status.
    wavespeed.inject("submit", Fault.http(200, {"code": 400, "message": "duration must be 5 or 8", "data": None}))
    result = generate(tmp_path, questions, wavespeed, *WAN21, "--task-id", "maze_0001")
    assert result.returncode == 1
    assert "wavespeed error 400: duration must be 5 or 8" in records(tmp_path / "out")["maze_0001"]["error"]
    assert wavespeed.jobs == {}


def test_wrong_key_is_reported_without_echoing_it(tmp_path: Path, questions: Path, wavespeed: FakeWaveSpeed) -> None:
    wrong = "ws-wrong-key-0000000000000000"
    result = generate(tmp_path, questions, wavespeed, *WAN21, "--task-id", "maze_0001", key=wrong)
    assert result.returncode == 1
    error = records(tmp_path / "out")["maze_0001"]["error"]
    assert "HTTP 401" in error and "invalid API key" in error
    assert wavespeed.calls("submit") == [], "nothing is submitted when the upload is refused"
    assert_no_secret(wrong, tmp_path / "out", result.stdout, result.stderr)


def test_constraints_are_checked_before_any_request(tmp_path: Path, questions: Path, wavespeed: FakeWaveSpeed) -> None:
    wan22 = generate(tmp_path, questions, wavespeed, "--model", "wavespeed-wan-2-2-i2v-480p", "--duration", "6")
    assert wan22.returncode == 2 and "makes videos of 5, 8 s, not 6 s" in wan22.stderr
    veo = generate(tmp_path, questions, wavespeed, "--model", "wavespeed-veo-3-1", "--param", "resolution=4k")
    assert veo.returncode == 2 and "takes resolutions 720p, 1080p" in veo.stderr
    assert wavespeed.log == []

"""Google Veo end to end: the real CLI against a fake Gemini API (predictLongRunning, operations, files)."""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fakes.gemini_veo import KEY, FakeGemini, FakeStorage
from fakes.harness import api_env, assert_no_secret, records, run_cli
from fakes.server import Fault
from PIL import Image

from vmevalkit.video import probe_video

MODEL = ("--model", "veo-3.0-generate")


@pytest.fixture
def storage(video_bytes: bytes) -> Iterator[FakeStorage]:
    with FakeStorage(video_bytes) as server:
        yield server


@pytest.fixture
def gemini(video_bytes: bytes, storage: FakeStorage) -> Iterator[FakeGemini]:
    with FakeGemini(video_bytes, storage=storage) as server:
        yield server


def env_for(gemini: FakeGemini, **extra: str) -> dict[str, str]:
    return api_env(**{"GEMINI_BASE_URL": gemini.base_url, "GEMINI_API_KEY": KEY, **extra})


def generate(tmp_path: Path, questions: Path, gemini: FakeGemini, *args: str, model=MODEL, **env: str):
    return run_cli(
        *model,
        "--questions-dir",
        str(questions),
        "--output-dir",
        str(tmp_path / "out"),
        "--no-progress",
        *args,
        cwd=tmp_path,
        env=env_for(gemini, **env),
    )


def sent_image(body: dict[str, Any]) -> tuple[str, tuple[int, int]]:
    image = body["instances"][0]["image"]
    with Image.open(io.BytesIO(base64.b64decode(image["bytesBase64Encoded"]))) as im:
        return image["mimeType"], im.size


def test_success_end_to_end(tmp_path: Path, questions: Path, gemini: FakeGemini, storage: FakeStorage) -> None:
    result = generate(tmp_path, questions, gemini, "--domain", "maze", "--seed", "7")
    assert result.returncode == 0, result.stdout + result.stderr
    found = records(tmp_path / "out")
    assert sorted(found) == ["maze_0001", "maze_0002", "maze_0003", "maze_0004"]
    for task_id, record in found.items():
        assert record["status"] == "completed"
        assert record["duration"] == 8  # the model's default
        meta = record["result"]["metadata"]
        assert meta["provider"] == "gemini" and meta["provider_status"] == "done"
        assert meta["job_id"].startswith("models/veo-3.0-generate-001/operations/op-")
        assert record["provider_state"]["job_id"] == meta["job_id"] == record["result"]["generation_id"]
        assert meta["request"]["seed"] is None and meta["request"]["resolution"] == "720p"
        prep = meta["input_preparation"]
        assert prep["aspect_ratio"] == "16:9" and prep["canvas_size"] == [1280, 720]
        video = tmp_path / "out" / "pilot" / "veo-3.0-generate" / "maze_task" / task_id
        assert probe_video(next(video.rglob("*.mp4"))).frame_count == 8
    submits = gemini.calls("submit")
    assert len(submits) == 4 and submits[0].path == "/v1beta/models/veo-3.0-generate-001:predictLongRunning"
    body = submits[0].json()
    assert "maze" in body["instances"][0]["prompt"].lower()
    assert sent_image(body) == ("image/png", (1280, 720))
    # No seed although --seed was given: the Gemini API takes none.
    assert body["parameters"] == {"aspectRatio": "16:9", "durationSeconds": 8, "resolution": "720p", "sampleCount": 1}
    assert all(req.path.startswith("/v1beta/models/veo-3.0-generate-001/operations/") for req in gemini.calls("poll"))
    # The key goes to the API host's file endpoint; its redirect target, the storage host, never sees it.
    assert len(gemini.calls("file")) == 4 and all(r.headers["x-goog-api-key"] == KEY for r in gemini.calls("file"))
    assert len(storage.calls("download")) == 4
    assert all("x-goog-api-key" not in r.headers and "authorization" not in r.headers for _, _, r in storage.log)
    assert_no_secret(KEY, tmp_path / "out", result.stdout, result.stderr)
    assert "estimated spend of this run: $12.80" in result.stdout  # 4 videos x 8 s x $0.40


def test_transient_faults_end_in_success(
    tmp_path: Path, questions: Path, gemini: FakeGemini, storage: FakeStorage
) -> None:
    gemini.inject(
        "submit", Fault.rate_limited("0"), Fault.rate_limited("0")
    )  # only answers that prove no job was made are sent again (test_submit_recovery.py)
    gemini.inject("poll", Fault.http(502), Fault.drop(), Fault.rate_limited("0"))
    # The file endpoint and its redirect to storage are one download: one retry budget (4 attempts) for both hops.
    gemini.inject("file", Fault.http(500), Fault.rate_limited("0"))
    storage.inject("download", Fault.truncate(), Fault.http(500))
    result = generate(tmp_path, questions, gemini, "--domain", "sudoku", "--limit-per-domain", "2")
    assert result.returncode == 0, result.stdout + result.stderr
    assert {r["status"] for r in records(tmp_path / "out").values()} == {"completed"}
    accepted = [status for name, status, _ in gemini.log if name == "submit" and status == "200"]
    assert len(accepted) == 2, "each operation was started exactly once despite the retries"
    assert not list((tmp_path / "out").rglob(".*tmp-*")), "the truncated download left nothing behind"


def test_operation_error_is_recorded_with_google_message(tmp_path: Path, questions: Path, gemini: FakeGemini) -> None:
    gemini.job_defaults = {"outcome": "failed", "failure": "The input image violates the usage guidelines."}
    result = generate(tmp_path, questions, gemini, "--task-id", "maze_0001")
    assert result.returncode == 1
    record = records(tmp_path / "out")["maze_0001"]
    assert record["status"] == "failed"
    assert "The input image violates the usage guidelines. (code 3)" in record["error"]
    assert record["provider_state"]["job_id"] == "models/veo-3.0-generate-001/operations/op-0001"
    assert gemini.calls("file") == [] and not list((tmp_path / "out").rglob("*.mp4"))


def test_safety_filtered_video_is_a_failure_with_the_reason(
    tmp_path: Path, questions: Path, gemini: FakeGemini
) -> None:
    gemini.failure_kind = "rai"
    reason = "Your current safety settings for person generation prevented the video from being generated."
    gemini.job_defaults = {"outcome": "failed", "failure": reason}
    result = generate(tmp_path, questions, gemini, "--task-id", "maze_0001")
    assert result.returncode == 1
    record = records(tmp_path / "out")["maze_0001"]
    assert record["status"] == "failed" and f"filtered by Google's safety filters: {reason}" in record["error"]
    assert gemini.calls("file") == []


def test_rejected_request_is_a_clear_failure(tmp_path: Path, questions: Path, gemini: FakeGemini) -> None:
    gemini.inject(
        "submit",
        Fault.http(400, {"error": {"code": 400, "message": "The prompt is too long.", "status": "INVALID_ARGUMENT"}}),
    )
    result = generate(tmp_path, questions, gemini, "--task-id", "maze_0001")
    assert result.returncode == 1
    error = records(tmp_path / "out")["maze_0001"]["error"]
    assert "HTTP 400" in error and "The prompt is too long." in error
    assert len(gemini.calls("submit")) == 1, "a 4xx is not retried"


def test_wrong_key_is_reported_without_echoing_it(tmp_path: Path, questions: Path, gemini: FakeGemini) -> None:
    wrong = "AIzaSyWrong-00000000000000000000000000"
    result = generate(tmp_path, questions, gemini, "--task-id", "maze_0001", GEMINI_API_KEY=wrong)
    assert result.returncode == 1
    error = records(tmp_path / "out")["maze_0001"]["error"]
    assert "HTTP 400" in error and "API key not valid" in error  # Google answers a bad key with 400
    assert_no_secret(wrong, tmp_path / "out", result.stdout, result.stderr)


def test_file_served_by_the_api_host_itself(tmp_path: Path, questions: Path, video_bytes: bytes) -> None:
    """No redirect: the bytes come from the API host, to the key, and the framework downloads them there."""
    with FakeGemini(video_bytes, storage=None) as gemini:
        result = generate(tmp_path, questions, gemini, "--task-id", "maze_0001")
    assert result.returncode == 0, result.stdout + result.stderr
    files = gemini.calls("file")
    assert len(files) == 1, "fetched once: the download itself (no separate look for a redirect)"
    assert all(r.headers["x-goog-api-key"] == KEY and r.query == {"alt": "media"} for r in files)


def test_veo_2_sends_no_resolution_and_passes_extras(tmp_path: Path, questions: Path, gemini: FakeGemini) -> None:
    result = generate(
        tmp_path,
        questions,
        gemini,
        "--task-id",
        "maze_0001",
        "--duration",
        "5",
        "--param",
        "aspect_ratio=9:16",
        "--param",
        "negative_prompt=blurry, text",
        "--param",
        "person_generation=dont_allow",
        model=("--model", "veo-2.0-generate"),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    (submit,) = gemini.calls("submit")
    assert submit.path == "/v1beta/models/veo-2.0-generate-001:predictLongRunning"
    body = submit.json()
    assert body["parameters"] == {
        "aspectRatio": "9:16",
        "durationSeconds": 5,
        "sampleCount": 1,
        "negativePrompt": "blurry, text",
        "personGeneration": "dont_allow",
    }
    mime, (width, height) = sent_image(body)
    assert mime == "image/png" and abs(width / height - 9 / 16) < 0.01


def test_veo_3_1_at_1080p(tmp_path: Path, questions: Path, gemini: FakeGemini) -> None:
    result = generate(
        tmp_path,
        questions,
        gemini,
        "--task-id",
        "maze_0001",
        "--param",
        "resolution=1080p",
        model=("--model", "veo-3.1-fast-generate"),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    (submit,) = gemini.calls("submit")
    assert submit.path == "/v1beta/models/veo-3.1-fast-generate-preview:predictLongRunning"
    assert submit.json()["parameters"]["resolution"] == "1080p"
    assert sent_image(submit.json()) == ("image/png", (1920, 1080))


def test_constraints_are_checked_before_any_request(tmp_path: Path, questions: Path, gemini: FakeGemini) -> None:
    bad = generate(tmp_path, questions, gemini, "--duration", "5")
    assert bad.returncode == 2 and "makes videos of 4, 6, 8 s, not 5 s" in bad.stderr
    ratio = generate(tmp_path, questions, gemini, "--param", "aspect_ratio=1:1")
    assert ratio.returncode == 2 and "takes aspect ratios" in ratio.stderr
    assert gemini.log == []


def test_retired_ids_are_refused_at_googles_own_host(tmp_path: Path, questions: Path, gemini: FakeGemini) -> None:
    env = env_for(gemini)
    del env["GEMINI_BASE_URL"]  # Google's own host, which no longer serves Veo 2 and 3.0
    result = run_cli(*MODEL, "--questions-dir", str(questions), "--dry-run", cwd=tmp_path, env=env)
    assert result.returncode == 2
    assert "Model 'veo-3.0-generate' is retired by its provider: Google shut veo-3.0-generate-001 down" in result.stderr
    assert "can be used by setting GEMINI_BASE_URL" in result.stderr
    current = run_cli(
        "--model", "veo-3.1-generate", "--questions-dir", str(questions), "--dry-run", cwd=tmp_path, env=env
    )
    assert current.returncode == 0, current.stderr
    assert gemini.log == []

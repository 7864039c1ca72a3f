"""OpenAI Sora 2 end to end: the real CLI against a fake OpenAI Videos API."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fakes.harness import api_env, assert_no_secret, records, run_cli
from fakes.openai_sora import KEY, FakeOpenAIVideos
from fakes.server import Fault
from PIL import Image

from vmevalkit.video import probe_video

MODEL = ("--model", "openai-sora-2")


@pytest.fixture
def openai(video_bytes: bytes) -> Iterator[FakeOpenAIVideos]:
    with FakeOpenAIVideos(video_bytes) as server:
        yield server


def env_for(openai: FakeOpenAIVideos, **extra: str) -> dict[str, str]:
    # The SDK convention: OPENAI_BASE_URL includes the version, and the provider's paths are relative to it.
    return api_env(**{"OPENAI_BASE_URL": f"{openai.base_url}/v1", "OPENAI_API_KEY": KEY, **extra})


def generate(tmp_path: Path, questions: Path, openai: FakeOpenAIVideos, *args: str, model=MODEL, **env: str):
    return run_cli(
        *model,
        "--questions-dir",
        str(questions),
        "--output-dir",
        str(tmp_path / "out"),
        "--no-progress",
        *args,
        cwd=tmp_path,
        env=env_for(openai, **env),
    )


def image_size(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as image:
        return image.size


def test_success_end_to_end(tmp_path: Path, questions: Path, openai: FakeOpenAIVideos) -> None:
    result = generate(tmp_path, questions, openai, "--domain", "maze", "--seed", "7")
    assert result.returncode == 0, result.stdout + result.stderr
    found = records(tmp_path / "out")
    assert sorted(found) == ["maze_0001", "maze_0002", "maze_0003", "maze_0004"]
    for task_id, record in found.items():
        assert record["status"] == "completed"
        assert record["duration"] == 4  # the model's default
        meta = record["result"]["metadata"]
        assert meta["provider"] == "openai" and meta["provider_status"] == "completed"
        assert record["result"]["generation_id"] == meta["job_id"] == record["provider_state"]["job_id"]
        assert meta["request"]["seed"] is None  # Sora takes no seed: none is sent, none recorded
        prep = meta["input_preparation"]
        assert prep["aspect_ratio"] == "1280:720" and prep["canvas_size"] == [1280, 720]
        video = tmp_path / "out" / "pilot" / "openai-sora-2" / "maze_task" / task_id
        assert probe_video(next(video.rglob("*.mp4"))).frame_count == 8
    submits = openai.calls("submit")
    assert len(submits) == 4
    fields = submits[0].multipart()
    text = {name: data.decode() for name, (filename, _, data) in fields.items() if filename is None}
    assert {k: text[k] for k in ("model", "seconds", "size")} == {"model": "sora-2", "seconds": "4", "size": "1280x720"}
    assert "maze" in text["prompt"].lower() and "seed" not in text
    filename, content_type, image = fields["input_reference"]
    assert filename == "first_frame.png" and content_type == "image/png" and image_size(image) == (1280, 720)
    # The video comes from the API itself, authenticated, under the /v1 prefix of OPENAI_BASE_URL.
    downloads = openai.calls("download")
    assert len(downloads) == 4 and all(r.path.startswith("/v1/videos/video-") for r in downloads)
    assert all(r.headers["authorization"] == f"Bearer {KEY}" for r in downloads)
    assert_no_secret(KEY, tmp_path / "out", result.stdout, result.stderr)
    assert "estimated spend of this run: $1.60" in result.stdout  # 4 videos x 4 s x $0.10


def test_transient_faults_end_in_success(tmp_path: Path, questions: Path, openai: FakeOpenAIVideos) -> None:
    openai.inject(
        "submit", Fault.rate_limited("0"), Fault.rate_limited("0")
    )  # only answers that prove no job was made are sent again (test_submit_recovery.py)
    openai.inject("poll", Fault.http(502), Fault.drop(), Fault.rate_limited("0"))
    openai.inject("download", Fault.truncate(), Fault.http(500))
    result = generate(tmp_path, questions, openai, "--domain", "sudoku", "--limit-per-domain", "2")
    assert result.returncode == 0, result.stdout + result.stderr
    assert {r["status"] for r in records(tmp_path / "out").values()} == {"completed"}
    accepted = [req for name, status, req in openai.log if name == "submit" and status == "200"]
    assert len(accepted) == 2, "each job was created exactly once despite the retries"
    # Each accepted retry carried the whole multipart body again, image included.
    assert all(image_size(req.multipart()["input_reference"][2]) == (1280, 720) for req in accepted)
    assert not list((tmp_path / "out").rglob(".*tmp-*")), "the truncated download left nothing behind"


def test_failed_video_is_recorded_with_openai_reason(tmp_path: Path, questions: Path, openai: FakeOpenAIVideos) -> None:
    openai.job_defaults = {"outcome": "failed", "failure": "The input image was blocked by our moderation system"}
    result = generate(tmp_path, questions, openai, "--task-id", "maze_0001")
    assert result.returncode == 1
    record = records(tmp_path / "out")["maze_0001"]
    assert record["status"] == "failed"
    assert "The input image was blocked by our moderation system (moderation_blocked)" in record["error"]
    assert record["provider_state"]["job_id"] == "video-0001"
    assert openai.calls("download") == [] and not list((tmp_path / "out").rglob("*.mp4"))


def test_rejected_request_is_a_clear_failure(tmp_path: Path, questions: Path, openai: FakeOpenAIVideos) -> None:
    openai.inject(
        "submit",
        Fault.http(400, {"error": {"message": "Your prompt is too long", "type": "invalid_request_error"}}),
    )
    result = generate(tmp_path, questions, openai, "--task-id", "maze_0001")
    assert result.returncode == 1
    error = records(tmp_path / "out")["maze_0001"]["error"]
    assert "HTTP 400" in error and "Your prompt is too long" in error
    assert len(openai.calls("submit")) == 1, "a 4xx is not retried"


def test_wrong_key_is_reported_without_echoing_it(tmp_path: Path, questions: Path, openai: FakeOpenAIVideos) -> None:
    wrong = "sk-proj-wrong-000000000000000000"
    result = generate(tmp_path, questions, openai, "--task-id", "maze_0001", OPENAI_API_KEY=wrong)
    assert result.returncode == 1
    error = records(tmp_path / "out")["maze_0001"]["error"]
    assert "HTTP 401" in error and "invalid_api_key" in error
    assert_no_secret(wrong, tmp_path / "out", result.stdout, result.stderr)


def test_the_fake_refuses_an_image_of_another_size(openai: FakeOpenAIVideos) -> None:
    """The size check that makes the success tests meaningful: OpenAI's 400 for a mismatched reference."""
    buffer = io.BytesIO()
    Image.new("RGB", (1280, 720)).save(buffer, format="PNG")
    response = httpx.post(
        f"{openai.base_url}/v1/videos",
        headers={"Authorization": f"Bearer {KEY}"},
        data={"model": "sora-2", "prompt": "p", "seconds": "4", "size": "720x1280"},
        files={"input_reference": ("f.png", buffer.getvalue(), "image/png")},
    )
    assert response.status_code == 400
    assert response.json()["error"]["message"] == "Inpaint image must match the requested width and height"


def test_portrait_and_pro_hd_sizes(tmp_path: Path, questions: Path, openai: FakeOpenAIVideos) -> None:
    portrait = generate(tmp_path, questions, openai, "--task-id", "maze_0001", "--param", "aspect_ratio=720:1280")
    assert portrait.returncode == 0, portrait.stdout + portrait.stderr
    hd = generate(
        tmp_path,
        questions,
        openai,
        "--task-id",
        "maze_0002",
        "--duration",
        "8",
        model=("--model", "openai-sora-2-pro-hd"),
    )
    assert hd.returncode == 0, hd.stdout + hd.stderr
    first, second = (req.multipart() for req in openai.calls("submit"))
    assert first["size"][2] == b"720x1280" and image_size(first["input_reference"][2]) == (720, 1280)
    assert second["model"][2] == b"sora-2-pro" and second["seconds"][2] == b"8"
    # A square task picks the first of the two large sizes; the image is built at exactly that size.
    assert second["size"][2] == b"1792x1024" and image_size(second["input_reference"][2]) == (1792, 1024)
    assert "estimated spend of this run: $4.00" in hd.stdout  # 8 s x $0.50


def test_constraints_are_checked_before_any_request(tmp_path: Path, questions: Path, openai: FakeOpenAIVideos) -> None:
    bad = generate(tmp_path, questions, openai, "--duration", "5")
    assert bad.returncode == 2 and "makes videos of 4, 8, 12 s, not 5 s" in bad.stderr
    ratio = generate(tmp_path, questions, openai, "--param", "aspect_ratio=1792:1024")  # a pro-only size
    assert ratio.returncode == 2 and "takes aspect ratios" in ratio.stderr
    assert openai.log == []


def test_poll_hint_is_honoured(tmp_path: Path, questions: Path, openai: FakeOpenAIVideos) -> None:
    # With a 10-minute poll interval the job would hit its 60 s deadline unless openai-poll-after-ms is used.
    openai.poll_after_ms = "0"
    openai.job_defaults = {"polls_to_finish": 4}
    result = generate(tmp_path, questions, openai, "--task-id", "maze_0001", VMEVALKIT_POLL_INTERVAL_S="600")
    assert result.returncode == 0, result.stdout + result.stderr
    assert records(tmp_path / "out")["maze_0001"]["result"]["metadata"]["polls"] == 4


def test_timeout_deletes_the_video(tmp_path: Path, questions: Path, openai: FakeOpenAIVideos) -> None:
    openai.job_defaults = {"hold": threading.Event()}  # never finishes
    result = generate(tmp_path, questions, openai, "--task-id", "maze_0001", VMEVALKIT_JOB_TIMEOUT_S="0.5")
    assert result.returncode == 1
    assert "not finished after 0.5 s" in records(tmp_path / "out")["maze_0001"]["error"]
    assert [req.path for req in openai.calls("cancel")] == ["/v1/videos/video-0001"]

"""Luma end to end: the real CLI against a fake Dream Machine API, its CDN, and a fake image bucket.

Luma takes the input image only as a URL it fetches itself, so these runs use the
test image host ``vmk_test_hosts:FakeBucketHost``: the CLI uploads the prepared
frame to a fake bucket and the fake Luma downloads it from there.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from fakes.harness import api_env, assert_no_secret, records, run_cli
from fakes.luma import KEY, FakeBucket, FakeLuma, LumaCdn
from fakes.server import Fault

from vmevalkit.models.api.inputs import prepare_image
from vmevalkit.video import probe_video

RAY2 = ("--model", "luma-ray-2")
BUCKET_HOST = "vmk_test_hosts:FakeBucketHost"


@pytest.fixture
def servers(video_bytes: bytes) -> Iterator[tuple[FakeLuma, LumaCdn, FakeBucket]]:
    cdn = LumaCdn(video_bytes).start()
    bucket = FakeBucket().start()
    luma = FakeLuma(video_bytes, cdn=cdn).start()
    yield luma, cdn, bucket
    # Stopped side by side: each shutdown waits for its server's poll loop.
    stopping = [threading.Thread(target=server.stop) for server in (luma, cdn, bucket)]
    for thread in stopping:
        thread.start()
    for thread in stopping:
        thread.join()


@pytest.fixture
def luma(servers: tuple[FakeLuma, LumaCdn, FakeBucket]) -> FakeLuma:
    return servers[0]


@pytest.fixture
def cdn(servers: tuple[FakeLuma, LumaCdn, FakeBucket]) -> LumaCdn:
    return servers[1]


@pytest.fixture
def bucket(servers: tuple[FakeLuma, LumaCdn, FakeBucket]) -> FakeBucket:
    return servers[2]


def env_for(luma: FakeLuma, bucket: FakeBucket, **extra: str) -> dict[str, str]:
    return api_env(
        **{
            "LUMA_BASE_URL": luma.base_url,
            "LUMA_API_KEY": KEY,
            "VMEVALKIT_IMAGE_HOST": BUCKET_HOST,
            "VMK_FAKE_BUCKET_URL": bucket.base_url,
            **extra,
        }
    )


def generate(tmp_path: Path, questions: Path, luma: FakeLuma, bucket: FakeBucket, *args: str, **env: str):
    return run_cli(
        *(args if "--model" in args else (*RAY2, *args)),
        "--questions-dir",
        str(questions),
        "--output-dir",
        str(tmp_path / "out"),
        "--no-progress",
        cwd=tmp_path,
        env=env_for(luma, bucket, **env),
    )


def test_success_end_to_end(tmp_path: Path, questions: Path, luma: FakeLuma, cdn: LumaCdn, bucket: FakeBucket) -> None:
    result = generate(tmp_path, questions, luma, bucket, "--domain", "maze")
    assert result.returncode == 0, result.stdout + result.stderr
    found = records(tmp_path / "out")
    assert sorted(found) == ["maze_0001", "maze_0002", "maze_0003", "maze_0004"]
    for task_id, record in found.items():
        assert record["status"] == "completed"
        assert record["duration"] == 5
        meta = record["result"]["metadata"]
        assert meta["provider"] == "luma" and record["result"]["generation_id"] == meta["job_id"]
        assert meta["provider_status"] == "completed"
        assert meta["request"]["resolution"] == "720p" and meta["request"]["params"] == {"loop": False}
        prep = meta["input_preparation"]
        assert prep["aspect_ratio"] == "1:1" and prep["canvas_size"] == [720, 720]
        video = tmp_path / "out" / "pilot" / "luma-ray-2" / "maze_task" / task_id
        assert probe_video(next(video.rglob("*.mp4"))).frame_count == 8

    submits = luma.calls("submit")
    assert len(submits) == 4
    body = submits[0].json()
    url = body["keyframes"]["frame0"]["url"]
    assert body == {
        "model": "ray-2",
        "prompt": body["prompt"],
        "keyframes": {"frame0": {"type": "image", "url": url}},
        "aspect_ratio": "1:1",
        "duration": "5s",
        "loop": False,
        "resolution": "720p",
    }, "exactly the documented fields: no invented prompt-enhancement flag, loop sent as false"
    assert "maze" in body["prompt"].lower()
    assert url.startswith(f"{bucket.base_url}/bucket/") and url.endswith(".png")

    # Luma fetched, from the host's URL, exactly the frame the CLI prepared for this task.
    task_id = next(t for t, r in found.items() if r["result"]["generation_id"] == "gen-0001")
    source = questions / "maze_task" / task_id / "first_frame.png"
    expected = prepare_image(source, "1:1", short_side=720, image_format="PNG").data
    assert luma.fetched["gen-0001"] == expected
    assert len(bucket.calls("upload")) == 4 and len(luma.fetched) == 4
    assert all(req.headers.get("content-type") == "image/png" for req in bucket.calls("upload"))

    # The key goes to Luma only: never to its CDN, never to the image bucket.
    assert len(cdn.calls("download")) == 4
    for req in cdn.calls("download") + bucket.calls("upload") + bucket.calls("object"):
        assert "authorization" not in req.headers
    assert_no_secret(KEY, tmp_path / "out", result.stdout, result.stderr)
    # The image URL may be a credential (a presigned URL): it is not written anywhere either.
    assert_no_secret(f"{bucket.base_url}/bucket/", tmp_path / "out", result.stdout, result.stderr)
    assert "estimated spend of this run: $2.83" in result.stdout  # 4 videos x 5 s x $0.1416


def test_flash_model_with_every_option(tmp_path: Path, questions: Path, luma: FakeLuma, bucket: FakeBucket) -> None:
    args = ("--model", "luma-ray-flash-2", "--task-id", "sudoku_0001", "--duration", "9")
    params = ("--param", "loop=true", "--param", "resolution=540p", "--param", "aspect_ratio=16:9")
    result = generate(tmp_path, questions, luma, bucket, *args, *params)
    assert result.returncode == 0, result.stdout + result.stderr
    body = luma.calls("submit")[0].json()
    assert body["model"] == "ray-flash-2" and body["duration"] == "9s" and body["loop"] is True
    assert body["resolution"] == "540p" and body["aspect_ratio"] == "16:9"
    prep = records(tmp_path / "out")["sudoku_0001"]["result"]["metadata"]["input_preparation"]
    assert prep["canvas_size"] == [960, 540]  # the square frame letterboxed to 16:9 at 540p
    assert "estimated spend of this run: $0.25" in result.stdout  # 9 s x $0.0273, the 540p rate


def test_transient_faults_end_in_success(
    tmp_path: Path, questions: Path, luma: FakeLuma, cdn: LumaCdn, bucket: FakeBucket
) -> None:
    luma.inject(
        "submit", Fault.rate_limited("0"), Fault.rate_limited("0")
    )  # only answers that prove no job was made are sent again (test_submit_recovery.py)
    luma.inject("poll", Fault.http(502), Fault.drop(), Fault.rate_limited("0"))
    cdn.inject("download", Fault.truncate(), Fault.http(500))
    result = generate(tmp_path, questions, luma, bucket, "--domain", "sudoku", "--limit-per-domain", "2")
    assert result.returncode == 0, result.stdout + result.stderr
    assert {r["status"] for r in records(tmp_path / "out").values()} == {"completed"}
    created = [status for name, status, _ in luma.log if name == "submit" and status == "201"]
    assert len(created) == 2, "each generation was created exactly once despite the retries"
    assert len(bucket.calls("upload")) == 2, "each image was uploaded once, before the submit retries"
    assert not list((tmp_path / "out").rglob(".*tmp-*")), "the truncated download left nothing behind"


def test_permanent_failure_is_recorded_with_the_provider_reason(
    tmp_path: Path, questions: Path, luma: FakeLuma, bucket: FakeBucket
) -> None:
    luma.job_defaults = {"outcome": "failed", "failure": "Advanced prompt moderation failed"}
    result = generate(tmp_path, questions, luma, bucket, "--task-id", "maze_0001")
    assert result.returncode == 1
    record = records(tmp_path / "out")["maze_0001"]
    assert record["status"] == "failed"
    assert "luma job gen-0001 failed: Advanced prompt moderation failed" in record["error"]
    assert record["provider_state"]["job_id"] == "gen-0001"
    assert not list((tmp_path / "out").rglob("*.mp4"))


def test_an_image_luma_cannot_fetch_fails_the_generation(
    tmp_path: Path, questions: Path, luma: FakeLuma, bucket: FakeBucket
) -> None:
    bucket.inject("object", Fault.http(403, {"error": "AccessDenied"}))  # e.g. an expired presigned URL
    result = generate(tmp_path, questions, luma, bucket, "--task-id", "maze_0001")
    assert result.returncode == 1
    assert "Failed to read user input frames" in records(tmp_path / "out")["maze_0001"]["error"]
    assert len(bucket.calls("object")) == 1 and "gen-0001" not in luma.fetched


def test_rejected_input_is_a_clear_failure(tmp_path: Path, questions: Path, luma: FakeLuma, bucket: FakeBucket) -> None:
    luma.inject("submit", Fault.http(400, {"detail": "Prompt is too long, maximum length is 5000 characters"}))
    result = generate(tmp_path, questions, luma, bucket, "--task-id", "maze_0001")
    assert result.returncode == 1
    error = records(tmp_path / "out")["maze_0001"]["error"]
    assert "HTTP 400" in error and "Prompt is too long" in error
    assert len(luma.calls("submit")) == 1, "a 4xx is not retried"


def test_wrong_key_is_reported_without_echoing_it(
    tmp_path: Path, questions: Path, luma: FakeLuma, bucket: FakeBucket
) -> None:
    wrong = "luma-wrong-key-000000000000000"
    result = generate(tmp_path, questions, luma, bucket, "--task-id", "maze_0001", LUMA_API_KEY=wrong)
    assert result.returncode == 1
    assert "HTTP 401" in records(tmp_path / "out")["maze_0001"]["error"]
    assert luma.jobs == {}
    assert_no_secret(wrong, tmp_path / "out", result.stdout, result.stderr)


def test_without_an_image_host_nothing_is_submitted(
    tmp_path: Path, questions: Path, luma: FakeLuma, bucket: FakeBucket
) -> None:
    env = env_for(luma, bucket)
    del env["VMEVALKIT_IMAGE_HOST"]  # the default: data-url, which Luma does not accept
    out = tmp_path / "out"
    args = (*RAY2, "--task-id", "maze_0001", "--questions-dir", str(questions), "--output-dir", str(out))
    result = run_cli(*args, cwd=tmp_path, env=env)
    # Caught before any work starts, like a missing key, with the fix in the message.
    assert result.returncode == 2
    assert "Model 'luma-ray-2' needs its input image at a public URL" in result.stderr
    assert "VMEVALKIT_IMAGE_HOST=s3" in result.stderr and "VMEVALKIT_S3_BUCKET" in result.stderr
    assert records(out) == {}
    assert luma.log == [] and bucket.log == [], "nothing was sent anywhere"


def test_constraints_are_checked_before_any_request(
    tmp_path: Path, questions: Path, luma: FakeLuma, bucket: FakeBucket
) -> None:
    bad_duration = generate(tmp_path, questions, luma, bucket, "--duration", "10")
    assert bad_duration.returncode == 2
    assert "model 'luma-ray-2' makes videos of 5, 9 s, not 10 s: pass --duration 5" in bad_duration.stderr
    bad_resolution = generate(tmp_path, questions, luma, bucket, "--param", "resolution=4k")
    assert bad_resolution.returncode == 2 and "takes resolutions 540p, 720p, 1080p" in bad_resolution.stderr
    no_such_flag = generate(tmp_path, questions, luma, bucket, "--param", "enhance_prompt=false")
    assert no_such_flag.returncode == 2 and "no selected model accepts --param enhance_prompt" in no_such_flag.stderr
    assert luma.log == [] and bucket.log == []


def test_dry_run_prices_both_models(tmp_path: Path, questions: Path, luma: FakeLuma, bucket: FakeBucket) -> None:
    args = ("--model", "luma-ray-2", "luma-ray-flash-2", "--domain", "maze", "--duration", "9", "--dry-run")
    result = generate(tmp_path, questions, luma, bucket, *args)
    assert result.returncode == 0, result.stderr
    assert "estimated cost of new paid jobs: $6.85" in result.stdout  # 4 x 9 s x ($0.1416 + $0.0487)
    assert luma.log == [] and bucket.log == []


def test_timeout_deletes_the_generation(tmp_path: Path, questions: Path, luma: FakeLuma, bucket: FakeBucket) -> None:
    luma.job_defaults = {"hold": threading.Event()}  # stays "dreaming"
    result = generate(tmp_path, questions, luma, bucket, "--task-id", "maze_0001", VMEVALKIT_JOB_TIMEOUT_S="0.5")
    assert result.returncode == 1
    record = records(tmp_path / "out")["maze_0001"]
    assert "JobTimeout" in record["error"] and "not finished after 0.5 s (last status: dreaming)" in record["error"]
    assert luma.jobs["gen-0001"].cancelled and len(luma.calls("cancel")) == 1

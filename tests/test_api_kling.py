"""Kling end to end: the real CLI against a fake Kling that verifies its JWTs, in both auth modes."""

from __future__ import annotations

import base64
import io
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from fakes.harness import api_env, assert_no_secret, records, run_cli
from fakes.kling import (
    ACCESS_KEY,
    API_KEY,
    SECRET_KEY,
    FakeKling,
    FakeKlingCdn,
    jwt_claims,
    verify_jwt,
)
from fakes.server import Fault
from PIL import Image

from vmevalkit.models.providers import kling
from vmevalkit.settings import get_settings
from vmevalkit.video import probe_video

MODEL = ("--model", "kling-v2-1-std")
KLING_ENV = ("KLING_ACCESS_KEY", "KLING_SECRET_KEY", "KLING_API_KEY")


@pytest.fixture
def cdn(video_bytes: bytes) -> Iterator[FakeKlingCdn]:
    with FakeKlingCdn(video_bytes) as server:
        yield server


@pytest.fixture
def fake(video_bytes: bytes, cdn: FakeKlingCdn) -> Iterator[FakeKling]:
    with FakeKling(video_bytes, cdn=cdn) as server:
        yield server


def generate(
    tmp_path: Path, questions: Path, server: FakeKling, *args: str, **keys: str
) -> subprocess.CompletedProcess[str]:
    keys = keys or {"KLING_ACCESS_KEY": ACCESS_KEY, "KLING_SECRET_KEY": SECRET_KEY}
    env = api_env(KLING_BASE_URL=server.base_url, **keys)
    for name in KLING_ENV:  # only the keys this test gives, whatever the shell holds
        if name not in keys:
            env.pop(name, None)
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


def test_signed_token_success_end_to_end(tmp_path: Path, questions: Path, fake: FakeKling, cdn: FakeKlingCdn) -> None:
    result = generate(tmp_path, questions, fake, *MODEL, "--domain", "maze", "--limit-per-domain", "2")
    assert result.returncode == 0, result.stdout + result.stderr
    found = records(tmp_path / "out")
    assert sorted(found) == ["maze_0001", "maze_0002"]
    for task_id, record in found.items():
        assert record["status"] == "completed" and record["duration"] == 5
        meta = record["result"]["metadata"]
        assert meta["provider"] == "kling" and meta["provider_status"] == "succeed"
        assert meta["request"]["params"] == {"mode": "std"}
        assert meta["input_preparation"]["canvas_size"] == [720, 720]  # square task, Kling's 1:1
        video = tmp_path / "out" / "pilot" / "kling-v2-1-std" / "maze_task" / task_id
        assert probe_video(next(video.rglob("*.mp4"))).frame_count == 8

    submit = fake.calls("submit")[0]
    body = submit.json()
    image = body.pop("image")
    with Image.open(io.BytesIO(base64.b64decode(image, validate=True))) as im:  # raw base64, no data: prefix
        assert (im.format, im.size) == ("PNG", (720, 720))
    assert "maze" in body.pop("prompt")
    external = body.pop("external_task_id")
    assert body == {"model_name": "kling-v2-1", "duration": "5", "mode": "std"}
    assert external in {r["provider_state"]["idempotency_key"] for r in found.values()}

    # Every request carried a JWT the fake verified: HS256, iss = access key, 30 minutes of validity.
    token = submit.headers["authorization"].removeprefix("Bearer ")
    claims = jwt_claims(token)
    assert claims["iss"] == ACCESS_KEY and claims["exp"] - claims["nbf"] == 1805
    assert len(fake.calls("poll")) >= 2
    # Neither the secret key nor any token reaches the output, and the CDN never sees a token.
    assert all("authorization" not in req.headers for _, _, req in cdn.log) and len(cdn.calls("download")) == 2
    for secret in (SECRET_KEY, ACCESS_KEY, *set(fake.tokens)):
        assert_no_secret(secret, tmp_path / "out", result.stdout, result.stderr)
    assert "estimated spend of this run: $0.56" in result.stdout  # 2 videos x 5 s x $0.056


def test_plain_bearer_key_works_instead_of_the_key_pair(tmp_path: Path, questions: Path, fake: FakeKling) -> None:
    result = generate(
        tmp_path,
        questions,
        fake,
        "--model",
        "kling-v1-6-pro",
        "--task-id",
        "maze_0001",
        "--param",
        "cfg_scale=0.7",
        KLING_API_KEY=API_KEY,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert {req.headers["authorization"] for req in fake.calls("submit") + fake.calls("poll")} == {f"Bearer {API_KEY}"}
    body = fake.calls("submit")[0].json()
    assert (body["model_name"], body["mode"], body["cfg_scale"]) == ("kling-v1-6", "pro", 0.7)
    assert_no_secret(API_KEY, tmp_path / "out", result.stdout, result.stderr)


def test_wrong_secret_key_is_refused_and_never_echoed(tmp_path: Path, questions: Path, fake: FakeKling) -> None:
    wrong = "kl-secret-wrong-000000000000"
    result = generate(
        tmp_path, questions, fake, *MODEL, "--task-id", "maze_0001", KLING_ACCESS_KEY=ACCESS_KEY, KLING_SECRET_KEY=wrong
    )
    assert result.returncode == 1
    error = records(tmp_path / "out")["maze_0001"]["error"]
    assert "HTTP 401" in error and '"code": 1000' in error and "Authentication failed" in error
    assert fake.jobs == {}
    for secret in (wrong, *fake.tokens):
        assert_no_secret(secret, tmp_path / "out", result.stdout, result.stderr)


def test_failed_task_is_recorded_with_the_provider_reason(tmp_path: Path, questions: Path, fake: FakeKling) -> None:
    fake.job_defaults = {"outcome": "failed", "failure": "Failure to pass the risk control system"}
    result = generate(tmp_path, questions, fake, *MODEL, "--task-id", "maze_0001")
    assert result.returncode == 1
    record = records(tmp_path / "out")["maze_0001"]
    assert record["status"] == "failed"
    assert "task-0001 failed: Failure to pass the risk control system" in record["error"]
    assert record["provider_state"]["job_id"] == "task-0001"


def test_error_code_inside_http_200_fails_the_job(tmp_path: Path, questions: Path, fake: FakeKling) -> None:
    # Kling's service code decides, not the HTTP status: code 1301 (content policy) with HTTP 200.
    policy = {"code": 1301, "message": "Trigger the content security policy", "request_id": "r-1", "data": None}
    fake.inject("submit", Fault.http(200, policy))
    result = generate(tmp_path, questions, fake, *MODEL, "--task-id", "maze_0001")
    assert result.returncode == 1
    assert "kling error 1301: Trigger the content security policy" in records(tmp_path / "out")["maze_0001"]["error"]
    assert len(fake.calls("submit")) == 1 and fake.jobs == {}


def test_account_problems_sent_as_429_are_not_retried(tmp_path: Path, questions: Path, fake: FakeKling) -> None:
    exhausted = {"code": 1102, "message": "Resource pack exhausted", "request_id": "r-3", "data": None}
    fake.inject("submit", Fault.http(429, exhausted))
    result = generate(tmp_path, questions, fake, *MODEL, "--task-id", "maze_0001")
    assert result.returncode == 1
    assert "kling error 1102: Resource pack exhausted (HTTP 429)" in records(tmp_path / "out")["maze_0001"]["error"]
    assert len(fake.calls("submit")) == 1, "no retry, no pause"


def test_rejected_body_is_a_clear_failure(tmp_path: Path, questions: Path, fake: FakeKling) -> None:
    invalid = {"code": 1201, "message": "prompt cannot exceed 2500 characters", "request_id": "r-2", "data": None}
    fake.inject("submit", Fault.http(400, invalid))
    result = generate(tmp_path, questions, fake, *MODEL, "--task-id", "maze_0001")
    assert result.returncode == 1
    error = records(tmp_path / "out")["maze_0001"]["error"]
    assert "HTTP 400" in error and "cannot exceed 2500 characters" in error
    assert len(fake.calls("submit")) == 1, "a 4xx is not retried"


def test_transient_faults_end_in_success(tmp_path: Path, questions: Path, fake: FakeKling, cdn: FakeKlingCdn) -> None:
    too_fast = {"code": 1302, "message": "API request is too fast", "request_id": "r-3", "data": None}
    # A 500 or a dropped connection may hide a task: Kling finds none by its external_task_id, so the
    # submit is sent again (with the same id).
    fake.inject("submit", Fault.http(429, too_fast, Retry_After="0"), Fault.http(500), Fault.drop())
    busy = {"code": 5001, "message": "Server temporarily unavailable", "request_id": "r-4", "data": None}
    fake.inject("poll", Fault.http(502), Fault.drop(), Fault.http(200, busy))  # a transient code inside HTTP 200
    cdn.inject("download", Fault.truncate(), Fault.http(500))
    result = generate(tmp_path, questions, fake, *MODEL, "--domain", "sudoku", "--limit-per-domain", "2")
    assert result.returncode == 0, result.stdout + result.stderr
    assert {r["status"] for r in records(tmp_path / "out").values()} == {"completed"}
    accepted = [status for name, status, _ in fake.log if name == "submit" and status == "200"]
    assert len(accepted) == 2, "each task was created exactly once despite the retries"


def test_keys_are_required_before_any_request(tmp_path: Path, questions: Path, fake: FakeKling) -> None:
    result = generate(tmp_path, questions, fake, *MODEL, KLING_ACCESS_KEY=ACCESS_KEY)
    assert result.returncode == 2
    assert "Set KLING_SECRET_KEY (or KLING_API_KEY) in .env to use kling-v2-1-std" in result.stderr
    master = generate(tmp_path, questions, fake, "--model", "kling-v2-1-master", "--param", "cfg_scale=0.5")
    assert master.returncode == 2 and "no selected model accepts --param cfg_scale" in master.stderr
    assert fake.log == []


def test_token_is_renewed_before_it_expires(monkeypatch: pytest.MonkeyPatch) -> None:
    """ApiHttp reads the auth headers per request: a token is reused while fresh and renewed once it ages."""
    monkeypatch.setenv("KLING_ACCESS_KEY", ACCESS_KEY)
    monkeypatch.setenv("KLING_SECRET_KEY", SECRET_KEY)
    clock = [1_800_000_000.0]
    monkeypatch.setattr(kling, "_now", lambda: clock[0])
    service = kling.KlingService("kling-v2-1", mode="std")
    settings = get_settings()
    first = service.auth_headers(settings)["Authorization"].removeprefix("Bearer ")
    assert verify_jwt(first, clock[0]) is None
    assert service.auth_headers(settings) == {"Authorization": f"Bearer {first}"}  # still fresh: reused

    clock[0] += 25 * 60  # 5 minutes of validity left: too little for a request and its retries
    renewed = service.auth_headers(settings)["Authorization"].removeprefix("Bearer ")
    assert renewed != first and verify_jwt(renewed, clock[0] + 20 * 60) is None
    late = verify_jwt(first, clock[0] + 20 * 60)
    assert late is not None and late.status == 401 and late.json["code"] == 1004  # Kling's "expired"
    assert {first, renewed} <= set(service.secrets(settings))

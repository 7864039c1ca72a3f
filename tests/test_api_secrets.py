"""Provider text is scrubbed of secrets before it reaches a record, a log or the terminal (issue 10, item 3).

Every family's fake echoes the secrets it was sent (keys, Kling's signed tokens) in every text of
every answer, status words and error messages included: a job that never finishes (its status word
is not one the provider documents) times out, and a refused submit fails. Nothing under the output
folder, and nothing the CLI prints, holds a secret.
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fakes.families import FAMILIES, Running
from fakes.harness import assert_no_secret, records, run_cli
from fakes.server import FakeServer, Fault, Request, Response
from PIL import Image

from vmevalkit.models.api.jobs import JobTimeout
from vmevalkit.models.api.provider import ApiProvider, JobStatus, ProviderJobFailed, VideoRequest
from vmevalkit.models.api.wrapper import ApiModelWrapper, failure_from
from vmevalkit.utils.http import ApiHttp, HttpCall


@pytest.fixture(params=sorted(FAMILIES))
def family(request: pytest.FixtureRequest, video_bytes: bytes) -> Iterator[Running]:
    running = FAMILIES[request.param].start(video_bytes)
    yield running
    running.stop()


def test_echoed_secrets_reach_no_file_and_no_output(tmp_path: Path, questions: Path, family: Running) -> None:
    family.echo_secrets()
    family.api.job_defaults = {"hold": threading.Event()}  # never finishes: the run ends in a JobTimeout
    family.api.inject("submit", Fault.http(400, {"error": "invalid input", "detail": "rejected"}))
    out = tmp_path / "out"
    env = {**family.env, "VMEVALKIT_JOB_TIMEOUT_S": "1"}
    args = ("--task-id", "maze_0001", "maze_0002", "--questions-dir", str(questions), "--output-dir", str(out))
    result = run_cli(*family.model, *args, cwd=tmp_path, env=env)
    assert result.returncode == 1
    found = records(out)
    errors = sorted(str(r["error"]) for r in found.values())
    assert [r["status"] for r in found.values()] == ["failed", "failed"], errors
    assert any("HTTP 400" in e for e in errors), errors  # the refused submit, its echo masked
    assert any("JobTimeout" in e for e in errors), errors  # the job whose status was never understood
    assert all("***" in e for e in errors if "HTTP 400" in e), errors
    secrets = family.secrets()
    assert len(secrets) >= 1
    for secret in secrets:
        assert_no_secret(secret, out, result.stdout, result.stderr)


KEY = "sk-secret-echo-test-0123456789abcdef"


class Echoing(FakeServer):
    """Answers a submit with a job id, and a poll with a finished job whose every text holds the key."""

    def __init__(self, video: bytes) -> None:
        super().__init__(video)
        self.route("submit", "POST", r"/jobs", lambda req, m: Response(json={"id": "job-1", "note": KEY}))
        self.route("poll", "GET", r"/jobs/job-1", self.poll)
        self.route("video", "GET", r"/video\.mp4", self.serve_video)
        self.word = f"finished {KEY}"

    def poll(self, req: Request, match: re.Match[str]) -> Response:
        return Response(json={"status": self.word, "message": f"done for {KEY}", "url": "/video.mp4"})


class EchoProvider(ApiProvider):
    """Takes the poll's status word as is: a finished job's word (and so provider_status) holds the key."""

    name = "echo"
    base_url_env = "VMK_ECHO_BASE_URL"
    default_base_url = "http://127.0.0.1:9"

    def submit(self, request: VideoRequest) -> HttpCall:
        return HttpCall("POST", "/jobs", json={"prompt": request.prompt})

    def job_id(self, body: Any) -> str:
        return str(body["id"])

    def poll(self, job_id: str) -> HttpCall:
        return HttpCall("GET", f"/jobs/{job_id}")

    def status(self, body: Any) -> JobStatus:
        word = str(body["status"])
        state = "succeeded" if word.startswith("finished") else "failed" if word.startswith("failed") else "running"
        return JobStatus(state, raw=word, video_url=body["url"], error=body["message"], extra={"note": body})


def generate(server: Echoing, tmp_path: Path, timeout: float = 5) -> Any:
    image = tmp_path / "first.png"
    Image.new("RGB", (64, 64), "white").save(image)
    wrapper = ApiModelWrapper("m", EchoProvider("m"))
    settings = type("S", (), {"poll_interval_s": 0.01, "job_timeout_s": timeout, "image_host": "data-url"})()

    async def go() -> Any:
        async with httpx.AsyncClient(timeout=5) as client:
            # The provider's own secrets are passed as extras; an unrelated name shows env values count too.
            http = ApiHttp(client, provider="echo", base_url=server.base_url, auth_headers={}, secrets=(KEY,))
            return await wrapper.generate_async(
                http,
                image_path=image,
                prompt="p",
                duration=4,
                output_path=tmp_path / "v.mp4",
                seed=None,
                params={},
                settings=settings,  # type: ignore[arg-type]
            )

    return asyncio.run(go())


def test_provider_status_in_the_result_is_scrubbed(tmp_path: Path, video_bytes: bytes) -> None:
    with Echoing(video_bytes) as server:
        result = generate(server, tmp_path)
    assert result.success and result.metadata["provider_status"] == "finished ***"
    assert KEY not in repr(result.model_dump())


@pytest.mark.parametrize("word", ["failed", "working"])
def test_errors_leaving_the_api_layer_are_scrubbed(tmp_path: Path, video_bytes: bytes, word: str) -> None:
    with Echoing(video_bytes) as server:
        server.word = f"{word} {KEY}"
        with pytest.raises((ProviderJobFailed, JobTimeout)) as caught:
            generate(server, tmp_path, timeout=0.3)
    assert KEY not in str(caught.value) and "***" in str(caught.value)
    assert KEY not in (failure_from("m", caught.value, {}).error or "")


def test_a_secret_named_variable_is_scrubbed_wherever_it_comes_from(
    tmp_path: Path, video_bytes: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = "another-provider-token-9f8e7d6c5b4a"
    monkeypatch.setenv("SOME_OTHER_PROVIDER_API_TOKEN", other)
    with Echoing(video_bytes) as server:
        server.word = f"working {other}"
        with pytest.raises(JobTimeout) as caught:
            generate(server, tmp_path, timeout=0.3)
    assert other not in str(caught.value)

"""The submit rule of ``jobs`` answer by answer, in process, against a real local server (issue 10, items 1-2).

What ``provider_state`` says after each outcome is the point: ``submitting`` only while a request
is in flight or after one whose outcome is unknown, ``{}`` as soon as an answer proves no job.
"""

from __future__ import annotations

import asyncio
import re
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fakes.server import FakeServer, Fault, Request, Response
from PIL import Image

from vmevalkit.models.api.inputs import prepare_image
from vmevalkit.models.api.jobs import AmbiguousSubmission, run_job
from vmevalkit.models.api.provider import ApiProvider, JobStatus, SubmitAttempt, VideoRequest
from vmevalkit.utils.http import ApiHttp, HttpCall, HttpStatusError, NotSent, RetryPolicy, TransientHttpError


class Jobs(FakeServer):
    def __init__(self, video: bytes) -> None:
        super().__init__(video)
        self.route("submit", "POST", r"/jobs", self.create)
        self.route("find", "GET", r"/jobs/by-key/(?P<key>[^/]+)", self.by_key)
        self.route("poll", "GET", r"/jobs/(?P<id>[^/]+)", lambda req, m: Response(json={"status": "done"}))
        self.route("video", "GET", r"/video\.mp4", self.serve_video)

    def create(self, req: Request, match: re.Match[str]) -> Response:
        job = self.new_job(req.json())
        return Response(json={"id": job.id})

    def by_key(self, req: Request, match: re.Match[str]) -> Response:
        found = [j.id for j in self.jobs.values() if j.request.get("key") == match["key"]]
        return Response(json={"id": found[0]}) if found else Response(404, {"error": "no such job"})


class Provider(ApiProvider):
    name = "rules"
    base_url_env = "VMK_RULES_BASE_URL"
    default_base_url = "http://127.0.0.1:9"

    def submit(self, request: VideoRequest) -> HttpCall:
        return HttpCall("POST", "/jobs", json={"key": request.idempotency_key})

    def job_id(self, body: Any) -> str:
        return str(body["id"])

    def poll(self, job_id: str) -> HttpCall:
        return HttpCall("GET", f"/jobs/{job_id}")

    def status(self, body: Any) -> JobStatus:
        return JobStatus("succeeded", raw="done", video_url="/video.mp4")


class Finding(Provider):
    """Finds a job by the key sent with it; a 404 proves there is none."""

    finds_jobs = True

    async def find_job(self, http: Any, attempt: SubmitAttempt) -> tuple[Any, str | None]:
        try:
            body = (await http.send(HttpCall("GET", f"/jobs/by-key/{attempt.key}"))).json()
        except HttpStatusError:
            return "absent", None
        return "found", str(body["id"])


@pytest.fixture
def server(video_bytes: bytes) -> Iterator[Jobs]:
    with Jobs(video_bytes) as s:
        yield s


def submit(base: str, tmp_path: Path, provider: ApiProvider | None = None, timeout: float = 5) -> tuple[Any, list]:
    image = tmp_path / "i.png"
    Image.new("RGB", (16, 16)).save(image)
    request = VideoRequest(model_id="m", prompt="p", image=prepare_image(image, "1:1"), duration=4, aspect_ratio="1:1")
    saved: list[dict[str, Any]] = []

    async def go() -> Any:
        async with httpx.AsyncClient(timeout=httpx.Timeout(timeout, connect=1)) as client:
            http = ApiHttp(client, provider="rules", base_url=base, auth_headers={}, retry=RetryPolicy(3, 0.01))
            return await run_job(
                provider or Provider("m"),
                http,
                request,
                dest=tmp_path / "v.mp4",
                state={},
                save_state=saved.append,
                poll_interval=0.01,
                timeout=5,
            )

    try:
        return asyncio.run(go()), saved
    except Exception as exc:
        return exc, saved


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_request_that_never_left_is_sent_again_and_leaves_nothing_in_doubt(tmp_path: Path) -> None:
    outcome, saved = submit(f"http://127.0.0.1:{free_port()}", tmp_path)  # nothing listens: connection refused
    assert isinstance(outcome, NotSent)
    marks = [s for s in saved if s.get("submitting")]
    assert len(marks) == 3, "three attempts, each marked right before it went out"
    assert saved[-1] == {} and all(s == {} for s in saved[1::2]), "cleared after each, before the backoff"


@pytest.mark.parametrize(
    "fault",
    [
        Fault.http(502),
        Fault.http(504),
        Fault.http(500),
        Fault.http(409, {"error": "conflict"}),
        Fault.http(200, {"no": "id"}),
        Fault.drop(),
        Fault.drop_after(),
        Fault.stall_after(2),
    ],
    ids=["502", "504", "500", "409", "2xx-without-id", "drop", "drop-after", "stall-after"],
)
def test_an_ambiguous_answer_is_never_resent(tmp_path: Path, server: Jobs, fault: Fault) -> None:
    server.inject("submit", fault)
    outcome, saved = submit(server.base_url, tmp_path, timeout=0.5)
    assert isinstance(outcome, AmbiguousSubmission), outcome
    assert "may exist and be billed" in str(outcome) and "--retry-failed" in str(outcome)
    assert len(server.calls("submit")) == 1
    assert saved[-1]["submitting"] is True, "the record says the job may exist"


def test_a_non_json_success_is_ambiguous(tmp_path: Path, server: Jobs) -> None:
    server.route("text", "POST", r"/jobs", lambda req, m: Response(body=b"<html>ok</html>", content_type="text/html"))
    server.routes.insert(0, server.routes.pop())  # answers before the JSON route
    outcome, saved = submit(server.base_url, tmp_path)
    assert isinstance(outcome, AmbiguousSubmission)
    assert saved[-1]["submitting"] is True


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
def test_a_refusal_is_final_and_proves_no_job(tmp_path: Path, server: Jobs, status: int) -> None:
    server.inject("submit", Fault.http(status, {"error": "refused"}))
    outcome, saved = submit(server.base_url, tmp_path)
    assert isinstance(outcome, HttpStatusError) and outcome.status_code == status
    assert saved[-1] == {} and len(server.calls("submit")) == 1


def test_a_429_is_waited_out_and_cleared_before_the_wait(tmp_path: Path, server: Jobs) -> None:
    server.inject("submit", Fault.rate_limited("0"), Fault.rate_limited("0"))
    outcome, saved = submit(server.base_url, tmp_path)
    assert outcome.job_id == "job-0001" and len(server.calls("submit")) == 3
    assert [bool(s.get("submitting")) for s in saved[:5]] == [True, False, True, False, True]
    assert saved[1] == {} and saved[3] == {}
    assert saved[-1]["job_id"] == "job-0001" and "submitting" not in saved[-1]


@pytest.mark.parametrize("fault", [Fault.drop_after(), Fault.http(503), Fault.drop()], ids=["made", "503", "dropped"])
def test_where_the_provider_can_look_the_job_is_found_or_proven_absent(
    tmp_path: Path, server: Jobs, fault: Fault
) -> None:
    server.inject("submit", fault)
    outcome, saved = submit(server.base_url, tmp_path, Finding("m"))
    assert not isinstance(outcome, Exception), outcome
    assert len(server.jobs) == 1, "one job, whether found again or made by a second submit"
    made_before = fault.kind == "drop_after"
    assert len(server.calls("submit")) == (1 if made_before else 2)
    assert outcome.job_id == next(iter(server.jobs))
    keys = {s.get("idempotency_key") for s in saved if s}
    assert len(keys) == 1, "the same key on every attempt"


def test_an_idempotency_key_makes_a_resend_safe(tmp_path: Path, server: Jobs) -> None:
    class Keyed(Provider):
        idempotency_header = "Idempotency-Key"

    server.inject("submit", Fault.http(502))
    outcome, saved = submit(server.base_url, tmp_path, Keyed("m"))
    assert not isinstance(outcome, Exception), outcome
    sent = server.calls("submit")
    assert len(sent) == 2 and sent[0].headers["idempotency-key"] == sent[1].headers["idempotency-key"]


def test_transient_errors_other_than_submits_are_still_retried(tmp_path: Path, server: Jobs) -> None:
    server.inject("poll", Fault.http(502), Fault.drop())
    outcome, _ = submit(server.base_url, tmp_path)
    assert not isinstance(outcome, (TransientHttpError, AmbiguousSubmission)), outcome
    assert len(server.calls("submit")) == 1

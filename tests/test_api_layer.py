"""The shared HTTP job layer, piece by piece, against a real local server."""

from __future__ import annotations

import asyncio
import email.utils
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from fakes.server import FakeServer, Fault, Request, Response
from PIL import Image

from vmevalkit.models.api.inputs import closest_aspect_ratio, prepare_image
from vmevalkit.models.api.jobs import AmbiguousSubmission, decodable_video, poll_delay, run_job
from vmevalkit.models.api.provider import ApiProvider, JobStatus, VideoRequest
from vmevalkit.utils.http import (
    ApiHttp,
    HttpCall,
    HttpStatusError,
    ProviderLimiter,
    RetryPolicy,
    TransientHttpError,
    parse_retry_after,
)

KEY = "layer-test-key-123456789"


class Echo(FakeServer):
    """Records every request; answers JSON, or a video."""

    def __init__(self, video: bytes) -> None:
        super().__init__(video)
        self.route("echo", "POST", r"/echo", self.echo)
        self.route("video", "GET", r"/video\.mp4", self.serve_video)
        self.route("text", "GET", r"/not-a-video", lambda req, m: Response(body=b"<html>", content_type="text/html"))

    def echo(self, req: Request, match: re.Match[str]) -> Response:
        return Response(json={"auth": req.headers.get("authorization"), "size": len(req.body)})


@pytest.fixture
def video(video_bytes: bytes) -> bytes:
    return video_bytes


@pytest.fixture
def server(video: bytes) -> Iterator[Echo]:
    with Echo(video) as s:
        yield s


def run(coro: Any) -> Any:
    return asyncio.run(coro)


async def with_http(base: str, fn: Any, **kwargs: Any) -> Any:
    async with httpx.AsyncClient(timeout=5) as client:
        http = ApiHttp(
            client,
            provider="test",
            base_url=base,
            auth_headers={"Authorization": f"Bearer {KEY}"},
            retry=RetryPolicy(attempts=4, base_delay=0.01),
            secrets=(KEY,),
            **kwargs,
        )
        return await fn(http)


def test_parse_retry_after_forms() -> None:
    assert parse_retry_after({"Retry-After": "3"}) == 3
    assert parse_retry_after({"retry-after-ms": "1500", "Retry-After": "9"}) == 1.5
    now = time.time()
    date = email.utils.formatdate(now + 30, usegmt=True)
    assert 25 <= parse_retry_after({"Retry-After": date}, now=now) <= 31
    assert parse_retry_after({"Retry-After": "soon"}) is None and parse_retry_after({}) is None


def test_poll_delay_prefers_the_providers_hint() -> None:
    assert poll_delay({"openai-poll-after-ms": "250"}, 10) == 0.25
    assert poll_delay({"Retry-After": "2"}, 10) == 2
    delays = {poll_delay({}, 10) for _ in range(20)}
    assert all(8 <= d <= 12 for d in delays) and len(delays) > 1, "jittered around the interval"


def test_multipart_bodies_are_rebuilt_for_every_retry(server: Echo) -> None:
    server.inject("echo", Fault.http(500), Fault.drop(), Fault.rate_limited("0"))
    payload = b"x" * 5000
    call = HttpCall("POST", "/echo", data={"model": "m"}, files=(("input_reference", ("a.png", payload, "image/png")),))
    body = run(with_http(server.base_url, lambda http: http.send_json(call)))
    attempts = server.calls("echo")
    assert len(attempts) == 4
    sizes = {len(req.body) for req in attempts}
    assert len(sizes) == 1 and sizes.pop() > 5000, "every attempt carried the whole multipart body"
    assert all(req.multipart()["input_reference"][2] == payload for req in attempts)
    assert body["auth"] == f"Bearer {KEY}"


def test_client_errors_are_not_retried_and_name_no_secret(server: Echo) -> None:
    server.inject("echo", Fault.http(422, {"error": f"bad input; you sent key {KEY}"}))
    with pytest.raises(HttpStatusError) as caught:
        run(with_http(server.base_url, lambda http: http.send(HttpCall("POST", "/echo", json={}))))
    assert caught.value.status_code == 422 and "HTTP 422" in str(caught.value)
    assert KEY not in str(caught.value) and "***" in str(caught.value)
    assert len(server.calls("echo")) == 1


def test_transient_errors_give_up_after_the_attempts(server: Echo) -> None:
    server.inject("echo", *[Fault.http(503)] * 10)
    with pytest.raises(TransientHttpError, match="HTTP 503"):
        run(with_http(server.base_url, lambda http: http.send(HttpCall("POST", "/echo", json={}))))
    assert len(server.calls("echo")) == 4


def test_429s_do_not_use_up_the_attempts_of_other_errors(server: Echo) -> None:
    # 4 attempts: three 5xx/drops may fail and the fourth still be tried, however many 429s came between.
    server.inject(
        "echo",
        Fault.rate_limited("0"),
        Fault.http(500),
        Fault.rate_limited("0"),
        Fault.drop(),
        Fault.rate_limited("0"),
        Fault.http(503),
    )
    body = run(with_http(server.base_url, lambda http: http.send_json(HttpCall("POST", "/echo", json={}))))
    assert body["auth"] == f"Bearer {KEY}"
    assert len(server.calls("echo")) == 7


def test_a_429_pauses_every_request_to_that_provider(server: Echo) -> None:
    server.inject("echo", Fault.rate_limited("0.3"))
    limiter = ProviderLimiter(10)

    async def two_requests(http: ApiHttp) -> list[float]:
        async def one() -> float:
            await http.send(HttpCall("POST", "/echo", json={}))
            return time.monotonic()

        started = time.monotonic()
        first = asyncio.create_task(one())
        await asyncio.sleep(0.1)  # the second request starts while the provider asked for a pause
        second = asyncio.create_task(one())
        return [t - started for t in await asyncio.gather(first, second)]

    run(with_http(server.base_url, two_requests, limiter=limiter))
    statuses = [status for name, status, _ in server.log]
    assert statuses == ["429", "200", "200"], "the second request waited for the pause instead of hitting the 429"


def test_keys_go_only_to_the_providers_own_host(server: Echo, video: bytes) -> None:
    with Echo(video) as other:
        call = HttpCall("POST", f"{other.base_url}/echo", json={}, authenticated=True)
        body = run(with_http(server.base_url, lambda http: http.send_json(call)))
    assert body["auth"] is None
    # A full URL on the provider's own host carries the key, as a path does.
    own = HttpCall("POST", f"{server.base_url}/echo", json={})
    assert run(with_http(server.base_url, lambda http: http.send_json(own)))["auth"] == f"Bearer {KEY}"


def test_download_is_validated_and_atomic(server: Echo, tmp_path: Path) -> None:
    server.inject("video", Fault.truncate(), Fault.http(500))
    dest = tmp_path / "v" / "out.mp4"
    info = run(
        with_http(
            server.base_url, lambda http: http.download(HttpCall("GET", "/video.mp4"), dest, decodable_video(dest))
        )
    )
    assert info.frame_count == 8 and dest.read_bytes() == server.video_bytes
    assert [s for n, s, _ in server.log if n == "video"] == ["200 truncated", "500", "200"]
    bad = tmp_path / "bad.mp4"
    with pytest.raises(TransientHttpError, match="not a decodable video"):
        run(
            with_http(
                server.base_url, lambda http: http.download(HttpCall("GET", "/not-a-video"), bad, decodable_video(bad))
            )
        )
    assert not bad.exists() and not list(tmp_path.rglob(".*tmp-*"))


def test_prepare_image_letterboxes_without_touching_the_source(tmp_path: Path) -> None:
    source = tmp_path / "in.png"
    arr = np.full((300, 200, 3), 250, np.uint8)
    arr[100:200, 50:150] = (0, 0, 255)
    Image.fromarray(arr).save(source)
    before = source.read_bytes()
    prepared = prepare_image(source, "16:9", short_side=720)
    assert source.read_bytes() == before
    p = prepared.preparation
    assert p.canvas_size == (1280, 720) and p.scaled_size == (480, 720) and p.offset == (400, 0)
    assert p.pad_color == (250, 250, 250)
    out = np.asarray(Image.open(__import__("io").BytesIO(prepared.data)))
    assert out.shape == (720, 1280, 3) and tuple(out[10, 10]) == (250, 250, 250)
    assert prepared.data_url().startswith("data:image/png;base64,")
    assert closest_aspect_ratio(512, 512, ["16:9", "9:16", "1:1"]) == "1:1"
    assert closest_aspect_ratio(512, 512, ["1280:720", "720:1280"]) == "1280:720"
    pixel = prepare_image(source, "1280:720")
    assert pixel.preparation.canvas_size == (1280, 720)


class _Provider(ApiProvider):
    name = "fake"
    base_url_env = "VMK_FAKE_BASE_URL"
    default_base_url = "http://127.0.0.1:9"

    def submit(self, request: VideoRequest) -> HttpCall:
        return HttpCall("POST", "/echo", json={"prompt": request.prompt})

    def job_id(self, body: Any) -> str:
        return "job-1"

    def poll(self, job_id: str) -> HttpCall:
        return HttpCall("POST", "/echo", json={})

    def status(self, body: Any) -> JobStatus:
        return JobStatus("succeeded", raw="done", video_url="/video.mp4")


def _request(tmp_path: Path) -> VideoRequest:
    image = tmp_path / "i.png"
    Image.new("RGB", (16, 16)).save(image)
    return VideoRequest(model_id="m", prompt="p", image=prepare_image(image, "1:1"), duration=4, aspect_ratio="1:1")


def test_an_interrupted_submit_is_not_repeated_without_an_idempotency_key(server: Echo, tmp_path: Path) -> None:
    saved: list[dict[str, Any]] = []

    async def go(http: ApiHttp) -> Any:
        return await run_job(
            _Provider("m"),
            http,
            _request(tmp_path),
            dest=tmp_path / "v.mp4",
            state={"submitting": True, "idempotency_key": "k1"},
            save_state=saved.append,
            poll_interval=0.01,
            timeout=5,
        )

    with pytest.raises(AmbiguousSubmission, match="may exist and be billed"):
        run(with_http(server.base_url, go))
    assert server.log == [] and saved == []


def test_with_an_idempotency_key_the_same_key_is_sent_again(server: Echo, tmp_path: Path) -> None:
    class Keyed(_Provider):
        idempotency_header = "Idempotency-Key"

    saved: list[dict[str, Any]] = []

    async def go(http: ApiHttp) -> Any:
        return await run_job(
            Keyed("m"),
            http,
            _request(tmp_path),
            dest=tmp_path / "v.mp4",
            state={"submitting": True, "idempotency_key": "k1"},
            save_state=saved.append,
            poll_interval=0.01,
            timeout=5,
        )

    outcome = run(with_http(server.base_url, go))
    assert outcome.job_id == "job-1" and outcome.video.frame_count == 8
    assert server.calls("echo")[0].headers["idempotency-key"] == "k1"
    assert {k: saved[0][k] for k in ("provider", "submitting", "idempotency_key")} == {
        "provider": "fake",
        "submitting": True,
        "idempotency_key": "k1",
    }
    assert saved[1]["job_id"] == "job-1" and saved[1]["idempotency_key"] == "k1"


def test_redirects_never_carry_keys_to_another_host(server: Echo, video: bytes) -> None:
    class Redirector(Echo):
        def __init__(self, video: bytes, target: str) -> None:
            super().__init__(video)
            self.route("hop", "GET", r"/hop", lambda req, m: Response(302, body=b"", headers={"Location": target}))

    async def fetch(http: ApiHttp) -> Any:
        return (await http.send(HttpCall("GET", "/hop"))).json()

    async def with_key_header(base: str) -> Any:
        async with httpx.AsyncClient(timeout=5) as client:
            http = ApiHttp(client, provider="t", base_url=base, auth_headers={"x-goog-api-key": KEY})
            return await fetch(http)

    with Echo(video) as other:
        other.route("echo-get", "GET", r"/echo", lambda req, m: Response(json=dict(req.headers)))
        with Redirector(video, f"{other.base_url}/echo") as hop:
            seen = run(with_key_header(hop.base_url))
    assert "x-goog-api-key" not in seen, "the key stayed home"
    with Redirector(video, "/echo-here") as hop:
        hop.route("here", "GET", r"/echo-here", lambda req, m: Response(json=dict(req.headers)))
        seen = run(with_key_header(hop.base_url))
    assert seen["x-goog-api-key"] == KEY, "a redirect within the provider's host keeps it"

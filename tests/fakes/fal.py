"""A fake fal.ai queue: submit, status, result and cancel per request, and a separate media CDN.

Shapes follow https://docs.fal.ai/model-apis/model-endpoints/queue and https://docs.fal.ai/errors.
A request's status and result live under its *app* (the model id without its subpath), and a
request that errored is still COMPLETED: its result URL answers with the error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from fakes.server import FakeServer, Request, Response

KEY = "fal-test-key-id:9c2e7a41d0b35f68"
STATUS = {"queued": "IN_QUEUE", "running": "IN_PROGRESS", "succeeded": "COMPLETED", "failed": "COMPLETED"}


@dataclass(frozen=True)
class Schema:
    """What one model's input accepts: required fields, allowed fields, enum values."""

    app: str
    required: tuple[str, ...]
    allowed: frozenset[str]
    enums: dict[str, tuple[Any, ...]] = field(default_factory=dict)


SCHEMAS = {
    "fal-ai/kling-video/v2.1/standard/image-to-video": Schema(
        "fal-ai/kling-video",
        ("prompt", "image_url"),
        frozenset({"prompt", "image_url", "duration", "negative_prompt", "cfg_scale"}),
        {"duration": ("5", "10")},
    ),
    "fal-ai/minimax/hailuo-02/standard/image-to-video": Schema(
        "fal-ai/minimax",
        ("prompt", "image_url"),
        frozenset({"prompt", "image_url", "duration", "prompt_optimizer"}),
        {"duration": ("6", "10"), "prompt_optimizer": (True, False)},
    ),
    "fal-ai/bytedance/seedance/v1/pro/image-to-video": Schema(
        "fal-ai/bytedance",
        ("prompt", "image_url"),
        frozenset({"prompt", "image_url", "duration", "resolution", "seed", "camera_fixed", "enable_safety_checker"}),
        {"duration": ("5", "10"), "resolution": ("480p", "720p", "1080p")},
    ),
    "fal-ai/pixverse/v4.5/image-to-video": Schema(
        "fal-ai/pixverse",
        ("prompt", "image_url"),
        frozenset({"prompt", "image_url", "duration", "resolution", "seed", "negative_prompt", "style"}),
        {"duration": ("5", "8"), "resolution": ("360p", "540p", "720p", "1080p")},
    ),
    "fal-ai/wan-i2v": Schema(
        "fal-ai/wan-i2v",
        ("prompt", "image_url"),
        frozenset(
            {"prompt", "image_url", "num_frames", "frames_per_second", "resolution", "seed", "negative_prompt"}
            | {"num_inference_steps", "guide_scale", "enable_safety_checker"}
        ),
        {"num_frames": tuple(range(81, 101)), "frames_per_second": tuple(range(5, 25)), "resolution": ("480p", "720p")},
    ),
}


class FakeFal(FakeServer):
    def __init__(self, video_bytes: bytes, cdn: FakeServer) -> None:
        super().__init__(video_bytes)
        self.cdn = cdn  # results are files on fal's media CDN, another host
        requests = r"/(?P<app>.+)/requests/(?P<id>[^/]+)"
        self.route("poll", "GET", requests + "/status", self.get_status)
        self.route("cancel", "PUT", requests + "/cancel", self.cancel)
        self.route("result", "GET", requests, self.get_result)
        self.route("submit", "POST", r"/(?P<model>.+)", self.submit)

    @staticmethod
    def unauthorized(req: Request) -> Response | None:
        if req.headers.get("authorization") != f"Key {KEY}":
            return Response(401, {"detail": "Unauthorized: invalid or missing credentials"})
        return None

    def urls(self, app: str, request_id: str) -> dict[str, str]:
        base = f"{self.base_url}/{app}/requests/{request_id}"
        return {"response_url": base, "status_url": f"{base}/status", "cancel_url": f"{base}/cancel"}

    def submit(self, req: Request, match: re.Match[str]) -> Response:
        if (denied := self.unauthorized(req)) is not None:
            return denied
        schema = SCHEMAS.get(match["model"])
        if schema is None:
            return Response(404, {"detail": f"Application '{match['model']}' not found"})
        body = req.json()
        errors = [{"loc": ["body", name], "msg": "field required", "type": "missing"} for name in schema.required]
        errors = [e for e in errors if e["loc"][1] not in body]
        errors += [
            {"loc": ["body", k], "msg": "extra fields not permitted", "type": "extra_forbidden"}
            for k in sorted(set(body) - schema.allowed)
        ]
        errors += [
            {"loc": ["body", k], "msg": f"value is not one of {list(values)}", "type": "enum"}
            for k, values in schema.enums.items()
            if k in body and body[k] not in values
        ]
        if not str(body.get("image_url", "")).startswith(("data:image/", "https://", "http://")):
            errors.append({"loc": ["body", "image_url"], "msg": "invalid image url", "type": "value_error"})
        if errors:
            return Response(422, {"detail": errors})
        job = self.new_job(body, prefix="req")
        job.request = {"app": schema.app, "input": body}
        return Response(json={"request_id": job.id, **self.urls(schema.app, job.id)})

    def find(self, match: re.Match[str]) -> Any:
        job = self.jobs.get(match["id"])
        if job is None or job.request["app"] != match["app"]:
            return None
        return job

    def get_status(self, req: Request, match: re.Match[str]) -> Response:
        if (denied := self.unauthorized(req)) is not None:
            return denied
        job = self.find(match)
        if job is None:
            return Response(404, {"detail": "Request not found"})
        state = job.advance()
        if state == "cancelled":
            # fal has no cancelled status: a cancelled request completes, its result is the error
            job.outcome, state = "failed", "failed"
        body: dict[str, Any] = {"status": STATUS[state], **self.urls(job.request["app"], job.id)}
        if state == "queued":
            body["queue_position"] = 0
        else:
            body["logs"] = None
        if body["status"] == "COMPLETED":
            body["metrics"] = {"inference_time": 1.5}
        return Response(json=body)

    def get_result(self, req: Request, match: re.Match[str]) -> Response:
        if (denied := self.unauthorized(req)) is not None:
            return denied
        job = self.find(match)
        if job is None:
            return Response(404, {"detail": "Request not found"})
        if job.polls < job.polls_to_finish and not job.cancelled:
            return Response(400, {"detail": "Request is still in progress"})
        if job.outcome == "failed" or job.cancelled:
            detail = [{"loc": ["body"], "msg": job.failure, "type": "content_policy_violation"}]
            return Response(422, {"detail": detail}, headers={"X-Fal-Retryable": "false"})
        url = f"{self.cdn.base_url}/files/{job.id}.mp4"
        return Response(json={"video": {"url": url, "content_type": "video/mp4", "file_size": len(self.video_bytes)}})

    def cancel(self, req: Request, match: re.Match[str]) -> Response:
        if (denied := self.unauthorized(req)) is not None:
            return denied
        job = self.find(match)
        if job is None:
            return Response(404, {"detail": "Request not found"})
        job.cancelled = True
        return Response(202, {"status": "CANCELLATION_REQUESTED"})


class FakeFalCdn(FakeServer):
    """Serves result files without authentication; records what it was sent."""

    def __init__(self, video_bytes: bytes) -> None:
        super().__init__(video_bytes)
        self.route("download", "GET", r"/files/(?P<id>[^/]+)\.mp4", self.serve_video)

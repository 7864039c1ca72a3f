"""A fake Replicate predictions API for official models, and a separate replicate.delivery file host.

Shapes follow https://replicate.com/docs/reference/http and
https://replicate.com/docs/topics/predictions: prediction objects with ``urls.get`` /
``urls.cancel``, statuses starting/processing/succeeded/failed/canceled, problem-details errors.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from fakes.server import FakeJob, FakeServer, Request, Response, iso

KEY = "r8_test_token_5d1f0b7e93a2c4680ff"
STATUS = {
    "queued": "starting",
    "running": "processing",
    "succeeded": "succeeded",
    "failed": "failed",
    "cancelled": "canceled",
}


@dataclass(frozen=True)
class Schema:
    """What one model's input accepts (from its API page): required and allowed fields, enum values."""

    required: tuple[str, ...]
    allowed: frozenset[str]
    enums: dict[str, tuple[Any, ...]] = field(default_factory=dict)


SCHEMAS = {
    "kwaivgi/kling-v2.1": Schema(
        ("prompt", "start_image"),
        frozenset({"prompt", "start_image", "end_image", "mode", "duration", "negative_prompt"}),
        {"mode": ("standard", "pro"), "duration": (5, 10)},
    ),
    "minimax/hailuo-02": Schema(
        ("prompt",),
        frozenset({"prompt", "first_frame_image", "last_frame_image", "duration", "resolution", "prompt_optimizer"}),
        {"duration": (6, 10), "resolution": ("512p", "768p", "1080p"), "prompt_optimizer": (True, False)},
    ),
    "bytedance/seedance-1-pro": Schema(
        ("prompt",),
        frozenset({"prompt", "image", "last_frame_image", "duration", "resolution", "aspect_ratio", "fps"})
        | {"camera_fixed", "seed"},
        {"duration": tuple(range(2, 13)), "resolution": ("480p", "1080p"), "fps": (24,)},
    ),
    "pixverse/pixverse-v4.5": Schema(
        ("prompt",),
        frozenset({"prompt", "image", "last_frame_image", "quality", "aspect_ratio", "duration", "motion_mode"})
        | {"negative_prompt", "seed", "style", "effect"},
        {
            "quality": ("360p", "540p", "720p", "1080p"),
            "aspect_ratio": ("16:9", "9:16", "1:1"),
            "duration": (5, 8),
            "motion_mode": ("normal", "smooth"),
        },
    ),
    "wan-video/wan-2.2-i2v-fast": Schema(
        ("prompt", "image"),
        frozenset({"prompt", "image", "last_image", "num_frames", "resolution", "frames_per_second", "seed"})
        | {"go_fast", "interpolate_output", "sample_shift", "disable_safety_checker"},
        {"num_frames": tuple(range(81, 122)), "resolution": ("480p", "720p"), "frames_per_second": tuple(range(5, 31))},
    ),
}
IMAGE_FIELDS = ("start_image", "first_frame_image", "image")


def problem(status: int, title: str, detail: str) -> Response:
    return Response(status, {"title": title, "detail": detail, "status": status})


class FakeReplicate(FakeServer):
    def __init__(self, video_bytes: bytes, cdn: FakeServer) -> None:
        super().__init__(video_bytes)
        self.cdn = cdn  # outputs are served from replicate.delivery, another host
        self.route("submit", "POST", r"/v1/models/(?P<owner>[^/]+)/(?P<name>[^/]+)/predictions", self.create)
        self.route("list", "GET", r"/v1/predictions", self.list_predictions)
        self.route("poll", "GET", r"/v1/predictions/(?P<id>[^/]+)", self.get)
        self.route("cancel", "POST", r"/v1/predictions/(?P<id>[^/]+)/cancel", self.cancel)

    @staticmethod
    def unauthorized(req: Request) -> Response | None:
        if req.headers.get("authorization") != f"Bearer {KEY}":
            return problem(401, "Unauthenticated", "You did not pass a valid authentication token")
        return None

    def prediction(self, job: FakeJob, state: str) -> dict[str, Any]:
        base = f"{self.base_url}/v1/predictions/{job.id}"
        body: dict[str, Any] = {
            "id": job.id,
            "model": job.request["model"],
            "version": "hidden",
            "input": job.request["input"],
            "logs": "",
            "output": None,
            "error": None,
            "status": STATUS[state],
            "created_at": iso(job.created_at),
            "data_removed": False,
            "urls": {"get": base, "cancel": f"{base}/cancel"},
        }
        if state == "succeeded":
            body["output"] = f"{self.cdn.base_url}/xezq/{job.id}/output.mp4"
            body["metrics"] = {"predict_time": 42.0}
        if state == "failed":
            body["error"] = job.failure
        return body

    def create(self, req: Request, match: re.Match[str]) -> Response:
        if (denied := self.unauthorized(req)) is not None:
            return denied
        model = f"{match['owner']}/{match['name']}"
        schema = SCHEMAS.get(model)
        if schema is None:
            return problem(404, "Model not found", f"The requested model {model} does not exist")
        payload = req.json()
        inputs = payload.get("input") if isinstance(payload, dict) else None
        if set(payload or {}) - {"input", "webhook", "webhook_events_filter"} or not isinstance(inputs, dict):
            return problem(422, "Invalid request", "the body must be {input: {...}}")
        problems = [f"{name}: required" for name in schema.required if name not in inputs]
        problems += [f"{name}: unexpected field" for name in sorted(set(inputs) - schema.allowed)]
        problems += [
            f"{name}: {inputs[name]!r} is not one of {list(values)}"
            for name, values in schema.enums.items()
            if name in inputs and inputs[name] not in values
        ]
        image = next((inputs[f] for f in IMAGE_FIELDS if f in inputs), "")
        if not str(image).startswith(("data:image/", "https://", "http://")):
            problems.append("image: must be a URL or a data URI")
        if problems:
            return problem(422, "Input validation failed", "; ".join(problems))
        job = self.new_job({"model": model, "input": inputs}, prefix="pred")
        return Response(201, self.prediction(job, "queued"))

    page_size = 100

    def list_predictions(self, req: Request, match: re.Match[str]) -> Response:
        """predictions.list: newest first, ``created_after`` honoured, a ``next`` cursor URL per page."""
        if (denied := self.unauthorized(req)) is not None:
            return denied
        after = req.query.get("created_after")
        since = datetime.fromisoformat(after.replace("Z", "+00:00")).timestamp() if after else 0.0
        with self.lock:
            jobs = sorted((j for j in self.jobs.values() if j.created_at >= since), key=lambda j: -j.created_at)
        start = int(req.query.get("cursor", "0"))
        page = jobs[start : start + self.page_size]
        following = None
        if start + self.page_size < len(jobs):
            query = urlencode({**req.query, "cursor": str(start + self.page_size)})
            following = f"{self.base_url}/v1/predictions?{query}"
        results = [self.prediction(j, "queued") for j in page]
        return Response(json={"next": following, "previous": None, "results": results})

    def get(self, req: Request, match: re.Match[str]) -> Response:
        if (denied := self.unauthorized(req)) is not None:
            return denied
        job = self.jobs.get(match["id"])
        if job is None:
            return problem(404, "Not found", "The requested resource could not be found")
        return Response(json=self.prediction(job, job.advance()))

    def cancel(self, req: Request, match: re.Match[str]) -> Response:
        if (denied := self.unauthorized(req)) is not None:
            return denied
        job = self.jobs.get(match["id"])
        if job is None:
            return problem(404, "Not found", "The requested resource could not be found")
        job.cancelled = True
        return Response(json=self.prediction(job, "cancelled"))


class FakeReplicateDelivery(FakeServer):
    """Serves prediction outputs without authentication; records what it was sent."""

    def __init__(self, video_bytes: bytes) -> None:
        super().__init__(video_bytes)
        self.route("download", "GET", r"/xezq/(?P<id>[^/]+)/output\.mp4", self.serve_video)

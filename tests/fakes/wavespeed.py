"""A fake WaveSpeedAI API: submit, result and media upload as documented at https://wavespeed.ai/docs.

Every answer uses WaveSpeed's envelope ``{code, message, data}``. Uploaded images and finished videos
are served by a separate fake CDN (the real API returns CloudFront/cdn URLs), which must never see the key.
The error bodies keep the same envelope with the HTTP status as ``code``, as the docs' response table
describes ``code``; WaveSpeed does not publish the exact error messages, so those are ours.
"""

from __future__ import annotations

import re
from typing import Any

from fakes.server import FakeServer, Request, Response

KEY = "ws-test-key-5d1c9e7a3b2f4068"
STATUS = {
    "queued": "created",
    "running": "processing",
    "succeeded": "completed",
    "failed": "failed",
    "cancelled": "failed",  # WaveSpeed documents no cancel state
}
# The fields each model's documented schema takes, and the values it allows (None: any value).
WAN_21 = {
    "image": None,
    "prompt": None,
    "negative_prompt": None,
    "num_inference_steps": None,
    "guidance_scale": None,
    "flow_shift": None,
    "seed": None,
}
SCHEMAS: dict[str, dict[str, Any]] = {
    "wavespeed-ai/wan-2.1/i2v-480p": {**WAN_21, "size": {"832*480", "480*832"}, "duration": set(range(5, 11))},
    "wavespeed-ai/wan-2.1/i2v-720p": {**WAN_21, "size": {"1280*720", "720*1280"}, "duration": set(range(5, 11))},
    "wavespeed-ai/wan-2.2/i2v-480p": {
        "image": None,
        "prompt": None,
        "negative_prompt": None,
        "last_image": None,
        "duration": {5, 8},
        "seed": None,
    },
    "google/veo3.1/image-to-video": {
        "image": None,
        "prompt": None,
        "last_image": None,
        "aspect_ratio": {"16:9", "9:16"},
        "duration": {4, 6, 8},
        "resolution": {"720p", "1080p"},
        "generate_audio": {True, False},
        "negative_prompt": None,
        "seed": None,
    },
}
SCHEMAS["wavespeed-ai/wan-2.2/i2v-720p"] = SCHEMAS["wavespeed-ai/wan-2.2/i2v-480p"]
SCHEMAS["google/veo3.1-fast/image-to-video"] = SCHEMAS["google/veo3.1/image-to-video"]


def envelope(data: Any, code: int = 200, message: str = "success") -> dict[str, Any]:
    return {"code": code, "message": message, "data": data}


class FakeWaveSpeedCdn(FakeServer):
    """Serves uploaded media and generated videos without authentication; records what it was sent."""

    def __init__(self, video_bytes: bytes) -> None:
        super().__init__(video_bytes)
        self.media: dict[str, bytes] = {}
        self.route("media", "GET", r"/media/(?P<name>[^/]+)", self.serve_media)
        self.route("download", "GET", r"/outputs/(?P<id>[^/]+)\.mp4", self.serve_video)

    def serve_media(self, req: Request, match: re.Match[str]) -> Response:
        data = self.media.get(match["name"])
        if data is None:
            return Response(404, {"error": "not found"})
        return Response(body=data, content_type="image/png")


class FakeWaveSpeed(FakeServer):
    def __init__(self, video_bytes: bytes, cdn: FakeWaveSpeedCdn) -> None:
        super().__init__(video_bytes)
        self.cdn = cdn
        # Upload first: the submit pattern would match its path too.
        self.route("upload", "POST", r"/api/v3/media/upload/binary", self.upload)
        self.route("submit", "POST", r"/api/v3/(?P<model>.+)", self.create)
        self.route("poll", "GET", r"/api/v3/predictions/(?P<id>[^/]+)/result", self.result)

    @staticmethod
    def unauthorized(req: Request) -> Response | None:
        if req.headers.get("authorization") != f"Bearer {KEY}":
            return Response(401, envelope(None, 401, "Unauthorized: invalid API key"))
        return None

    def upload(self, req: Request, match: re.Match[str]) -> Response:
        if (denied := self.unauthorized(req)) is not None:
            return denied
        fields = req.multipart()
        if "file" not in fields:
            return Response(400, envelope(None, 400, "file is required"))
        filename, content_type, data = fields["file"]
        if not content_type.startswith("image/") or not data:
            return Response(400, envelope(None, 400, "unsupported file"))
        name = f"upload-{len(self.cdn.media) + 1:04d}-{filename}"
        self.cdn.media[name] = data
        url = f"{self.cdn.base_url}/media/{name}"
        return Response(json=envelope({"type": "image", "download_url": url, "filename": filename, "size": len(data)}))

    def create(self, req: Request, match: re.Match[str]) -> Response:
        if (denied := self.unauthorized(req)) is not None:
            return denied
        model = match["model"]
        schema = SCHEMAS.get(model)
        if schema is None:
            return Response(404, envelope(None, 404, f"model {model} not found"))
        body = req.json()
        problems = [f"unknown field {k}" for k in body if k not in schema]
        problems += [f"{k} is required" for k in ("image", "prompt") if not body.get(k)]
        for name, allowed in schema.items():
            if allowed is not None and name in body and body[name] not in allowed:
                problems.append(f"{name} {body[name]!r} is not one of {sorted(allowed, key=str)}")
        if not str(body.get("image", "")).startswith(f"{self.cdn.base_url}/media/"):
            problems.append("image must be a URL from the media upload")
        if problems:
            return Response(400, envelope(None, 400, "; ".join(problems)))
        job = self.new_job({"model": model, **body}, prefix="pred")
        return Response(json=envelope(self.prediction(job.id, model, "created")))

    def prediction(self, job_id: str, model: str, status: str, **extra: Any) -> dict[str, Any]:
        return {
            "id": job_id,
            "model": model,
            "outputs": [],
            "urls": {"get": f"{self.base_url}/api/v3/predictions/{job_id}/result"},
            "has_nsfw_contents": [],
            "status": status,
            "created_at": "2026-11-23T00:00:00.000Z",
            "error": "",
            "timings": {"inference": 0},
            **extra,
        }

    def result(self, req: Request, match: re.Match[str]) -> Response:
        if (denied := self.unauthorized(req)) is not None:
            return denied
        job = self.jobs.get(match["id"])
        if job is None:
            return Response(404, envelope(None, 404, "prediction not found"))
        state = job.advance()
        extra: dict[str, Any] = {}
        if state == "succeeded":
            extra = {"outputs": [f"{self.cdn.base_url}/outputs/{job.id}.mp4"], "has_nsfw_contents": [False]}
        if state in ("failed", "cancelled"):
            extra = {"error": job.failure}
        return Response(json=envelope(self.prediction(job.id, job.request["model"], STATUS[state], **extra)))

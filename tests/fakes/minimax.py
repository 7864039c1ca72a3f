"""A fake MiniMax video API: create task, query task, retrieve file, and a separate file CDN.

Shapes follow https://platform.minimax.io/docs/api-reference/video-generation-i2v,
-query, file-management-retrieve and errorcode: errors come back as HTTP 200 with a
non-zero ``base_resp.status_code`` (1004 for a bad key, 2013 for invalid parameters).
"""

from __future__ import annotations

import re
from typing import Any

from fakes.server import FakeServer, Request, Response

KEY = "mm-test-secret-4b8e1d9a7c3f2e60"
STATUS = {
    "queued": "Queueing",
    "running": "Processing",
    "succeeded": "Success",
    "failed": "Fail",
    "cancelled": "Fail",  # MiniMax has no cancel endpoint and no cancelled state
}
# model -> resolution -> durations, from the image-to-video reference's tables.
MODELS: dict[str, dict[str, tuple[int, ...]]] = {
    "MiniMax-Hailuo-2.3": {"768P": (6, 10), "1080P": (6,)},
    "MiniMax-Hailuo-2.3-Fast": {"768P": (6, 10), "1080P": (6,)},
    "MiniMax-Hailuo-02": {"512P": (6, 10), "768P": (6, 10), "1080P": (6,)},
    "I2V-01": {"720P": (6,)},
    "I2V-01-live": {"720P": (6,)},
    "I2V-01-Director": {"720P": (6,)},
}
FIELDS = {"model", "prompt", "first_frame_image", "duration", "resolution", "prompt_optimizer", "fast_pretreatment"}


def envelope(code: int = 0, message: str = "success", **fields: Any) -> dict[str, Any]:
    return {**fields, "base_resp": {"status_code": code, "status_msg": message}}


class FakeMiniMax(FakeServer):
    def __init__(self, video_bytes: bytes, cdn: FakeServer) -> None:
        super().__init__(video_bytes)
        self.cdn = cdn  # download URLs point at another host, like MiniMax's object storage
        self.route("submit", "POST", r"/v1/video_generation", self.create)
        self.route("poll", "GET", r"/v1/query/video_generation", self.query)
        self.route("file", "GET", r"/v1/files/retrieve", self.retrieve)

    @staticmethod
    def unauthorized(req: Request) -> Response | None:
        if req.headers.get("authorization") != f"Bearer {KEY}":
            return Response(json=envelope(1004, "not authorized / token not match group / cookie is missing"))
        return None

    def create(self, req: Request, match: re.Match[str]) -> Response:
        if (denied := self.unauthorized(req)) is not None:
            return denied
        body = req.json()
        problems = []
        if unknown := sorted(set(body) - FIELDS):
            problems.append(f"unknown fields {unknown}")
        resolutions = MODELS.get(body.get("model"), {})
        if not resolutions:
            problems.append(f"model {body.get('model')!r} is not an image-to-video model")
        if not str(body.get("first_frame_image", "")).startswith(("data:image/", "https://", "http://")):
            problems.append("first_frame_image must be a URL or a base64 data URL")
        if not isinstance(body.get("prompt"), str) or len(body["prompt"]) > 2000:
            problems.append("prompt must be a string of at most 2000 characters")
        if not isinstance(body.get("prompt_optimizer", False), bool):
            problems.append("prompt_optimizer must be a boolean")
        durations = resolutions.get(body.get("resolution", "768P"), ())
        if not durations:
            problems.append(f"resolution {body.get('resolution')!r} is not offered by this model")
        elif body.get("duration") not in durations:
            problems.append(f"duration {body.get('duration')!r} is not offered at this resolution")
        if problems:
            return Response(json=envelope(2013, "invalid params, " + "; ".join(problems), task_id=""))
        job = self.new_job(body, prefix="task")
        return Response(json=envelope(task_id=job.id))

    def query(self, req: Request, match: re.Match[str]) -> Response:
        if (denied := self.unauthorized(req)) is not None:
            return denied
        job = self.jobs.get(req.query.get("task_id", ""))
        if job is None:
            return Response(json=envelope(2013, "invalid params, task_id not found"))
        state = job.advance()
        task: dict[str, Any] = {"task_id": job.id, "status": STATUS[state]}
        if state == "succeeded":
            return Response(json=envelope(**task, file_id=f"9{job.id[-4:]}", video_width=768, video_height=768))
        if state == "failed":
            return Response(json=envelope(1027, job.failure, **task, file_id=""))
        return Response(json=envelope(**task, file_id=""))

    def retrieve(self, req: Request, match: re.Match[str]) -> Response:
        if (denied := self.unauthorized(req)) is not None:
            return denied
        file_id = req.query.get("file_id", "")
        job = next((j for j in self.jobs.values() if f"9{j.id[-4:]}" == file_id), None)
        if job is None:
            return Response(json=envelope(2013, "invalid params, file not found"))
        file = {
            "file_id": int(file_id),
            "bytes": len(self.video_bytes),
            "created_at": 1700469398,
            "filename": "output_aigc.mp4",
            "purpose": "video_generation",
            "download_url": f"{self.cdn.base_url}/files/{job.id}.mp4?Expires=1700470000&Signature=fake",
        }
        return Response(json=envelope(file=file))


class FakeMiniMaxCdn(FakeServer):
    """Serves result files without authentication; records what it was sent."""

    def __init__(self, video_bytes: bytes) -> None:
        super().__init__(video_bytes)
        self.route("download", "GET", r"/files/(?P<id>[^/]+)\.mp4", self.serve_video)

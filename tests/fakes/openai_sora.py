"""A fake OpenAI Videos API (Sora 2): the documented endpoints, multipart body, statuses and error shape.

Served under ``/v1`` like api.openai.com, so tests set ``OPENAI_BASE_URL`` to ``<fake>/v1``
as the OpenAI SDK convention has it. The fake parses the multipart body the way the API
does and refuses an ``input_reference`` whose pixel size differs from ``size`` with the
API's own message. Every poll answer carries ``openai-poll-after-ms``.
"""

from __future__ import annotations

import io
import re

from PIL import Image

from fakes.server import FakeServer, Request, Response

KEY = "sk-proj-test-5f1c9a7e3b2d4c60a8e1"
SIZES = {
    "sora-2": {"1280x720", "720x1280"},
    "sora-2-pro": {"1280x720", "720x1280", "1792x1024", "1024x1792"},
}
SECONDS = {"4", "8", "12"}
IMAGE_TYPES = {"image/jpeg", "image/png", "image/webp"}
STATUS = {"queued": "queued", "running": "in_progress", "succeeded": "completed", "failed": "failed"}


def openai_error(status: int, message: str, type_: str = "invalid_request_error", code: str | None = None) -> Response:
    """OpenAI's error envelope: {"error": {"message", "type", "param", "code"}}."""
    return Response(status, {"error": {"message": message, "type": type_, "param": None, "code": code}})


class FakeOpenAIVideos(FakeServer):
    def __init__(self, video_bytes: bytes) -> None:
        super().__init__(video_bytes)
        self.poll_after_ms = "10"  # the hint sent with every poll answer
        self.route("submit", "POST", r"/v1/videos", self.create)
        self.route("poll", "GET", r"/v1/videos/(?P<id>[^/]+)", self.retrieve)
        self.route("download", "GET", r"/v1/videos/(?P<id>[^/]+)/content", self.content)
        self.route("cancel", "DELETE", r"/v1/videos/(?P<id>[^/]+)", self.delete)

    @staticmethod
    def unauthorized(req: Request) -> Response | None:
        auth = req.headers.get("authorization", "")
        if auth == f"Bearer {KEY}":
            return None
        given = auth.removeprefix("Bearer ")
        # Like OpenAI: the message shows the start and the last four characters of the key it got.
        shown = f"{given[:3]}{'*' * 12}{given[-4:]}" if len(given) > 8 else "(none)"
        return openai_error(
            401,
            f"Incorrect API key provided: {shown}. You can find your API key at "
            "https://platform.openai.com/account/api-keys.",
            code="invalid_api_key",
        )

    def video(self, job_id: str, state: str) -> dict[str, object]:
        job = self.jobs[job_id]
        body: dict[str, object] = {
            "id": job.id,
            "object": "video",
            "model": job.request["model"],
            "status": STATUS[state],
            "progress": {"queued": 0, "running": 50}.get(state, 100),
            "created_at": 1795000000,
            "seconds": job.request["seconds"],
            "size": job.request["size"],
            "completed_at": None,
            "expires_at": None,
            "error": None,
            "remixed_from_video_id": None,
        }
        if state == "succeeded":
            body.update(completed_at=1795000100, expires_at=1795003700)
        if state == "failed":
            body["error"] = {"code": "moderation_blocked", "message": job.failure}
        return body

    def create(self, req: Request, match: re.Match[str]) -> Response:
        if (denied := self.unauthorized(req)) is not None:
            return denied
        if not req.headers.get("content-type", "").startswith("multipart/form-data"):
            return openai_error(400, "Expected multipart/form-data")
        fields = req.multipart()
        text = {name: data.decode() for name, (filename, _, data) in fields.items() if filename is None}
        model = text.get("model", "sora-2")
        if model not in SIZES:
            return openai_error(400, f"Invalid value: '{model}'. Supported values are: 'sora-2' and 'sora-2-pro'.")
        if not text.get("prompt"):
            return openai_error(400, "Missing required parameter: 'prompt'.")
        if text.get("seconds", "4") not in SECONDS:
            return openai_error(400, f"Invalid value: '{text['seconds']}'. Supported values are: '4', '8', '12'.")
        size = text.get("size", "720x1280")
        if size not in SIZES[model]:
            return openai_error(400, f"Invalid value: '{size}' is not a supported size for {model}.")
        if "input_reference" in fields:
            filename, content_type, data = fields["input_reference"]
            if filename is None or content_type not in IMAGE_TYPES:
                return openai_error(400, f"Invalid file type {content_type!r} for 'input_reference'.")
            with Image.open(io.BytesIO(data)) as image:
                if f"{image.width}x{image.height}" != size:
                    return openai_error(400, "Inpaint image must match the requested width and height")
        request = {**text, "seconds": text.get("seconds", "4"), "size": size, "model": model}
        request["image"] = fields.get("input_reference", (None, "", b""))[2]
        job = self.new_job(request, prefix="video")
        return Response(json=self.video(job.id, "queued"))

    def retrieve(self, req: Request, match: re.Match[str]) -> Response:
        if (denied := self.unauthorized(req)) is not None:
            return denied
        job = self.jobs.get(match["id"])
        if job is None or job.cancelled:
            return openai_error(404, f"Video with id '{match['id']}' not found.", code="video_not_found")
        state = job.advance()
        return Response(json=self.video(job.id, state), headers={"openai-poll-after-ms": self.poll_after_ms})

    def content(self, req: Request, match: re.Match[str]) -> Response:
        if (denied := self.unauthorized(req)) is not None:
            return denied
        job = self.jobs.get(match["id"])
        if job is None or job.cancelled or job.outcome != "succeeded":
            return openai_error(404, f"Video with id '{match['id']}' not found.", code="video_not_found")
        return Response(body=self.video_bytes, content_type="video/mp4")

    def delete(self, req: Request, match: re.Match[str]) -> Response:
        if (denied := self.unauthorized(req)) is not None:
            return denied
        job = self.jobs.get(match["id"])
        if job is None:
            return openai_error(404, f"Video with id '{match['id']}' not found.", code="video_not_found")
        job.cancelled = True
        return Response(json={"id": job.id, "object": "video.deleted", "deleted": True})

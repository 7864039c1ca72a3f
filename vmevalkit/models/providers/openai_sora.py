"""OpenAI Sora 2 image-to-video through the Videos API (sora-2, sora-2-pro).

API references:
  https://developers.openai.com/api/reference/resources/videos   (Videos API reference)
  https://developers.openai.com/api/docs/guides/video-generation (guide: models, sizes, image reference)
  https://github.com/openai/openai-python                         (official SDK generated from OpenAI's spec:
                                                                    src/openai/resources/videos.py,
                                                                    src/openai/types/video.py, video_size.py,
                                                                    video_seconds.py, video_create_error.py)

  POST   /videos               multipart/form-data: model, prompt, seconds ("4"|"8"|"12"),
                               size ("1280x720"|"720x1280"|"1792x1024"|"1024x1792"), input_reference (file)
                               -> Video {id, object: "video", status, progress, ...}
  GET    /videos/{id}          Video {status: queued|in_progress|completed|failed, progress (0-100),
                               error: {code, message}}; the response may carry ``openai-poll-after-ms``
  GET    /videos/{id}/content  the MP4 (authenticated, same host)
  DELETE /videos/{id}          removes the video from OpenAI's storage

Every request carries ``Authorization: Bearer <OPENAI_API_KEY>``.

Paths are relative to ``OPENAI_BASE_URL``, which follows the OpenAI SDK convention and
*includes* the version (default ``https://api.openai.com/v1``), so a gateway that serves
the same Videos API under another prefix works by setting that one variable.

The image reference has to be exactly the requested ``size`` in pixels (a mismatch is a
400: "Inpaint image must match the requested width and height"). The catalog therefore
gives the sizes as pixel ratios ("1280:720"): the shared letterboxing step then builds a
canvas of exactly that size, and ``size`` is the same two numbers joined by "x".

OpenAI shut its hosted Videos API and the Sora 2 models down on September 24, 2026 (the
guide says no replacement API exists). The provider stays complete because gateways and
other hosts serve the same ``/videos`` API: point ``OPENAI_BASE_URL`` at one of them.

Not used: ``remix_video_id`` and ``character_ids`` (other features), and an idempotency
key (the Videos API documents none).

A job whose submit answer was lost is not looked for. GET /videos lists videos (``after``, ``limit``,
``order``: SDK src/openai/resources/videos.py ``list``), and a Video carries its ``prompt``, ``model``,
``size``, ``seconds`` and ``created_at`` (src/openai/types/video.py), but not the input image: tasks of
one domain share a prompt, so a listed video cannot be told apart from another task's. Such a submit
is reported as ambiguous (``jobs``), never sent twice. Sora takes no seed. DELETE is the only way the API
offers to stop a job; the docs do not say it halts a render that is still running, so the
timeout path sends it as a best effort.
"""

from __future__ import annotations

from typing import Any

from vmevalkit.models.api.provider import ApiProvider, JobState, JobStatus, VideoRequest
from vmevalkit.settings import Settings
from vmevalkit.utils.http import ApiError, HttpCall

VIDEOS = "/videos"
STATES: dict[str, JobState] = {
    "queued": "queued",  # waiting for capacity: not an error
    "in_progress": "running",
    "completed": "succeeded",
    "failed": "failed",
}


def size_of(aspect_ratio: str) -> str:
    """The catalog's pixel ratio ("1280:720") as the API's ``size`` ("1280x720")."""
    width, _, height = aspect_ratio.partition(":")
    if not (width.isdigit() and height.isdigit()):
        # The catalog lists pixel sizes only; anything else would build a canvas of the wrong size.
        raise ApiError(f"openai needs a pixel size such as 1280:720, not {aspect_ratio!r}")
    return f"{width}x{height}"


class OpenAISoraService(ApiProvider):
    name = "openai"
    base_url_env = "OPENAI_BASE_URL"
    default_base_url = "https://api.openai.com/v1"  # with the version, as the OpenAI SDK has it
    key_env = ("OPENAI_API_KEY",)
    image_format = "PNG"  # lossless: the first frame is the task's state; JPEG, PNG and WebP are accepted

    def auth_headers(self, settings: Settings) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key('OPENAI_API_KEY', settings)}"}

    def submit(self, request: VideoRequest) -> HttpCall:
        extension = request.image.mime_type.split("/")[-1]
        fields = {
            "model": request.model_id,
            "prompt": request.prompt,
            "seconds": f"{request.duration:g}",  # a string enum: "4", "8", "12"
            "size": size_of(request.aspect_ratio),
        }
        # Multipart as data: ApiHttp rebuilds the body for every retry, so a resent submit is complete.
        image = ("input_reference", (f"first_frame.{extension}", request.image.data, request.image.mime_type))
        return HttpCall("POST", VIDEOS, data=fields, files=(image,))

    def job_id(self, body: Any) -> str:
        return str(body["id"])

    def poll(self, job_id: str) -> HttpCall:
        return HttpCall("GET", f"{VIDEOS}/{job_id}")

    def status(self, body: Any) -> JobStatus:
        raw = str(body.get("status") or "")
        error = None
        if raw == "failed":
            detail = body.get("error") or {}
            message = detail.get("message") or "OpenAI gave no error message"
            error = f"{message} ({detail.get('code') or 'no code'})"
        progress = body.get("progress")
        return JobStatus(
            STATES.get(raw, "running"),  # an undocumented status is not a verdict: keep polling
            raw=raw,
            error=error,
            progress=progress / 100 if isinstance(progress, (int, float)) else None,  # OpenAI counts 0-100
        )

    async def video_call(self, http: Any, job_id: str, status: JobStatus) -> HttpCall:
        # No result URL: the API serves the MP4 itself, on its own host, to the same key.
        return HttpCall("GET", f"{VIDEOS}/{job_id}/content")

    def cancel(self, job_id: str) -> HttpCall:
        return HttpCall("DELETE", f"{VIDEOS}/{job_id}")

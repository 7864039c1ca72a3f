"""Luma Dream Machine image-to-video (Ray 2 and Ray Flash 2).

API references:
  https://docs.lumalabs.ai/docs/video-generation   (requests, image-to-video with keyframes)
  https://docs.lumalabs.ai/docs/errors             (request errors and ``failure_reason`` values)
  https://github.com/lumalabs/lumaai-python        (official SDK generated from Luma's OpenAPI spec:
                                                    src/lumaai/types/generation_create_params.py,
                                                    src/lumaai/types/generation.py, api.md)

  POST   /dream-machine/v1/generations       {model, prompt, keyframes: {frame0: {type: "image", url}},
                                              aspect_ratio, resolution, duration: "5s"|"9s", loop} -> Generation
  GET    /dream-machine/v1/generations/{id}  Generation {id, state: queued|dreaming|completed|failed,
                                              failure_reason, assets: {video, image, progress_video}}
  DELETE /dream-machine/v1/generations/{id}  deletes the generation: the only way the API offers to stop one

Every request carries ``Authorization: Bearer <LUMA_API_KEY>``.

The input image must be a URL Luma's servers can fetch: the docs say "You should
upload and use your own cdn image urls, currently this is the only way to pass
an image", so data URIs are not accepted and an image host has to be configured
(``VMEVALKIT_IMAGE_HOST=s3`` or a plugin host). If Luma cannot fetch it, the
generation fails afterwards with ``failure_reason`` "Failed to read user input frames".

The prompt is sent verbatim. The Dream Machine API has no prompt-enhancement
switch (the SDK's create parameters are model, prompt, aspect_ratio, duration,
resolution, loop, keyframes, concepts, callback_url, generation_type), so there
is no flag to turn off. ``loop`` (last frame blended into the first) is sent
explicitly, false unless ``--param loop=true``, because a looping video would
have to end where it started and so could not show a task being solved.
"""

from __future__ import annotations

from typing import Any

from vmevalkit.models.api.http import ApiError, HttpCall
from vmevalkit.models.api.provider import ApiProvider, JobState, JobStatus, VideoRequest
from vmevalkit.models.api.wrapper import ApiModelWrapper
from vmevalkit.settings import Settings

GENERATIONS = "/dream-machine/v1/generations"
STATES: dict[str, JobState] = {
    "queued": "queued",
    "dreaming": "running",  # Luma's word for "generating"
    "completed": "succeeded",
    "failed": "failed",
}
TRUE_WORDS = ("1", "true", "yes", "on")


def _flag(value: Any) -> bool:
    # --param values arrive JSON-decoded (loop=true -> True); accept a spelled-out word as well.
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in TRUE_WORDS


class LumaService(ApiProvider):
    name = "luma"
    base_url_env = "LUMA_BASE_URL"
    default_base_url = "https://api.lumalabs.ai"
    key_env = ("LUMA_API_KEY",)
    needs_image_url = True
    accepts_data_url = False  # "currently this is the only way to pass an image": a URL Luma can fetch
    image_format = "PNG"  # lossless: the first frame is the task's state, compression must not blur it

    def auth_headers(self, settings: Settings) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key('LUMA_API_KEY', settings)}"}

    def submit(self, request: VideoRequest) -> HttpCall:
        if not request.image_url:
            # Unreachable through the wrapper (it uploads first); never fall back to a data URI Luma rejects.
            raise ApiError("luma needs the input image as a URL, and none was prepared")
        body: dict[str, Any] = {
            "model": request.model_id,
            "prompt": request.prompt,
            "keyframes": {"frame0": {"type": "image", "url": request.image_url}},
            "aspect_ratio": request.aspect_ratio,
            "duration": f"{request.duration:g}s",  # the API takes "5s" / "9s", not a number
            "loop": _flag(request.params.get("loop", False)),
        }
        if request.resolution:
            body["resolution"] = request.resolution
        return HttpCall("POST", GENERATIONS, json=body)

    def job_id(self, body: Any) -> str:
        return str(body["id"])

    def poll(self, job_id: str) -> HttpCall:
        return HttpCall("GET", f"{GENERATIONS}/{job_id}")

    def status(self, body: Any) -> JobStatus:
        raw = str(body.get("state") or "")
        assets = body.get("assets") or {}
        error = None
        if raw == "failed":
            error = str(body.get("failure_reason") or "Luma gave no failure_reason")
        return JobStatus(
            STATES.get(raw, "running"),  # an undocumented state is not a verdict: keep polling
            raw=raw,
            video_url=assets.get("video") if raw == "completed" else None,
            error=error,
        )

    def cancel(self, job_id: str) -> HttpCall:
        return HttpCall("DELETE", f"{GENERATIONS}/{job_id}")


class LumaWrapper(ApiModelWrapper):
    service: LumaService

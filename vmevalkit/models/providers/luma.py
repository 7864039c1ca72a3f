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
  GET    /dream-machine/v1/generations?limit=&offset=
                                             {generations: [Generation], count, has_more, limit, offset}
                                             (SDK api.md "list", types/generation_list_response.py); each
                                             Generation echoes its ``request`` and has ``created_at``

Every request carries ``Authorization: Bearer <LUMA_API_KEY>``.

The input image must be a URL Luma's servers can fetch: the docs say "You should
upload and use your own cdn image urls, currently this is the only way to pass
an image", so data URIs are not accepted and an image host has to be configured
(``VMEVALKIT_IMAGE_HOST=s3`` or a plugin host). If Luma cannot fetch it, the
generation fails afterwards with ``failure_reason`` "Failed to read user input frames".

Finding a job whose submit answer was lost. Luma documents no idempotency key and takes no
client-supplied id, but the list endpoint returns each generation with the request that made it
(SDK types/generation.py: ``request`` with model, prompt, keyframes, aspect_ratio, duration,
resolution, loop). ``find_job`` pages through the first 500 generations of the list (whose order
the docs do not state; a page older than the submit ends the search) and takes the one whose
request matches what was submitted, field for field, keyframe URL included (a fresh upload per
submit, so another task cannot match), created no earlier than the submit (less a clock margin).
No match is no proof (a list may lag): the generation is then reported as ambiguous.

The prompt is sent verbatim. The Dream Machine API has no prompt-enhancement
switch (the SDK's create parameters are model, prompt, aspect_ratio, duration,
resolution, loop, keyframes, concepts, callback_url, generation_type), so there
is no flag to turn off. ``loop`` (last frame blended into the first) is sent
explicitly, false unless ``--param loop=true``, because a looping video would
have to end where it started and so could not show a task being solved.
"""

from __future__ import annotations

from typing import Any

from vmevalkit.models.api.provider import (
    CLOCK_SKEW_S,
    ApiProvider,
    Found,
    JobState,
    JobStatus,
    SubmitAttempt,
    VideoRequest,
    digest,
    epoch,
)
from vmevalkit.settings import Settings
from vmevalkit.utils.http import ApiError, ApiHttp, HttpCall

GENERATIONS = "/dream-machine/v1/generations"
STATES: dict[str, JobState] = {
    "queued": "queued",
    "dreaming": "running",  # Luma's word for "generating"
    "completed": "succeeded",
    "failed": "failed",
}
TRUE_WORDS = ("1", "true", "yes", "on")
# The request fields that identify a submit in the list's echo of it (the SDK's create parameters we send).
FINGERPRINT_FIELDS = ("model", "prompt", "keyframes", "aspect_ratio", "duration", "resolution", "loop")
LIST_PAGE = 100
LIST_PAGES = 5  # the newest 500 generations: a lost submit is looked for right after it, or on the next run


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
    finds_jobs = True  # in the list of generations, by the request each one echoes (module docstring)

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

    @staticmethod
    def _fingerprint_of(request: Any) -> str | None:
        if not isinstance(request, dict):
            return None
        return digest({name: request.get(name) for name in FINGERPRINT_FIELDS})

    def fingerprint(self, call: HttpCall) -> str | None:
        return self._fingerprint_of(call.json)

    async def find_job(self, http: ApiHttp, attempt: SubmitAttempt) -> tuple[Found, str | None]:
        if not attempt.fingerprint:
            return "unknown", None
        since = attempt.started_at - CLOCK_SKEW_S
        for page in range(LIST_PAGES):
            params = {"limit": str(LIST_PAGE), "offset": str(page * LIST_PAGE)}
            body = (await http.send(HttpCall("GET", GENERATIONS, params=params))).json()
            generations = [g for g in body.get("generations") or [] if isinstance(g, dict)]
            for generation in generations:
                created = epoch(generation.get("created_at"))
                if created is not None and created < since:
                    continue
                if generation.get("id") and self._fingerprint_of(generation.get("request")) == attempt.fingerprint:
                    return "found", str(generation["id"])
            older = [epoch(g.get("created_at")) for g in generations]
            if not body.get("has_more") or not generations or all(t is not None and t < since for t in older):
                break  # a page wholly older than the submit: further pages hold nothing newer
        return "unknown", None

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

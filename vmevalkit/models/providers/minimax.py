"""MiniMax Hailuo image-to-video, through MiniMax's own API (MiniMax-Hailuo-2.3, -2.3-Fast, -02, I2V-01...).

API reference (platform.minimax.io):
  https://platform.minimax.io/docs/api-reference/video-generation-intro  (the three steps)
  https://platform.minimax.io/docs/api-reference/video-generation-i2v    (create task)
  https://platform.minimax.io/docs/api-reference/video-generation-query  (query task)
  https://platform.minimax.io/docs/api-reference/file-management-retrieve (file -> download_url)
  https://platform.minimax.io/docs/api-reference/errorcode               (base_resp status codes)

  POST /v1/video_generation          {model, prompt, first_frame_image, duration, resolution, prompt_optimizer}
                                      -> {task_id, base_resp: {status_code, status_msg}}
  GET  /v1/query/video_generation?task_id=...
                                      -> {task_id, status: Preparing|Queueing|Processing|Success|Fail,
                                          file_id, video_width, video_height, base_resp}
  GET  /v1/files/retrieve?file_id=... -> {file: {file_id, bytes, filename, purpose, download_url}, base_resp}

Every request carries ``Authorization: Bearer <MINIMAX_API_KEY>``. ``first_frame_image``
takes a public URL or a base64 data URL. The output video keeps the aspect ratio of the
first frame, so there is no ratio field: the wrapper's letterboxing chooses it.

MiniMax reports most errors as HTTP 200 with a non-zero ``base_resp.status_code``. Those
are handled twice: ``check`` (run by the shared layer inside its retry loop) raises the transient ones (rate
limit, timeouts, internal errors) as retryable, like a 429 or a 5xx, and turns what remains
into a clear error. MiniMax documents no idempotency key and no cancel
endpoint for video tasks. On a submit, a ``base_resp`` error means no task was made (there is no
``task_id``): the rate limit (1002) is waited out, the permanent codes fail, and the other transient
codes (1000, 1001, 1024, 1033) leave the task in doubt, like an HTTP 5xx.

A job whose submit answer was lost is not looked for: the create call takes no client-supplied id,
and the task list (https://platform.minimax.io/docs/api-reference/video-generation-v2-list,
GET /v2/query/video_generation?page_num&page_size) is not documented, in what was read, to return
the inputs that would tell one task's video from another's. Such a submit is reported as ambiguous.
"""

from __future__ import annotations

from typing import Any

from vmevalkit.models.api.provider import ApiProvider, JobState, JobStatus, ProviderJobFailed, VideoRequest
from vmevalkit.settings import Settings
from vmevalkit.utils.http import ApiError, HttpCall, TransientHttpError

STATES: dict[str, JobState] = {
    "Preparing": "queued",
    "Queueing": "queued",
    "Processing": "running",
    "Success": "succeeded",
    "Fail": "failed",
}

# base_resp.status_code values, from the error-code page. Those whose documented remedy
# is "please retry your requests later" are transient; everything else (1004 bad key,
# 1008 no balance, 2013 invalid parameters, 2049 invalid key, ...) fails the same way
# again and is permanent.
RATE_LIMITED = 1002
TRANSIENT_CODES = {
    1000: "unknown error",
    1001: "request timeout",
    RATE_LIMITED: "rate limit",
    1024: "internal error",
    1033: "system error",
}
# The provider refused the content itself: a final verdict on this job, not a bug of ours.
SENSITIVE_CODES = {1026: "input flagged as sensitive", 1027: "output flagged as sensitive"}
AUTH_CODES = (1004, 2049)


class MiniMaxError(ApiError):
    """A permanent error MiniMax reported inside an HTTP 200 (bad key, no balance, invalid input)."""


def base_resp(body: Any) -> tuple[int, str]:
    """``(status_code, status_msg)`` of a MiniMax response; ``(0, "")`` when it has none."""
    resp = body.get("base_resp") if isinstance(body, dict) else None
    if not isinstance(resp, dict):
        return 0, ""
    try:
        code = int(resp.get("status_code") or 0)
    except (TypeError, ValueError):
        code = -1
    return code, str(resp.get("status_msg") or "")


def describe(code: int, message: str) -> str:
    known = TRANSIENT_CODES.get(code) or SENSITIVE_CODES.get(code)
    text = message or known or "no message"
    return f"MiniMax error {code}: {text}"


class MiniMaxService(ApiProvider):
    name = "minimax"
    base_url_env = "MINIMAX_BASE_URL"
    default_base_url = "https://api.minimax.io"
    key_env = ("MINIMAX_API_KEY",)

    def auth_headers(self, settings: Settings) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key('MINIMAX_API_KEY', settings)}"}

    def submit(self, request: VideoRequest) -> HttpCall:
        body: dict[str, Any] = {
            "model": request.model_id,
            "prompt": request.prompt,
            "first_frame_image": request.image_url or request.image.data_url(),
            "duration": int(request.duration),
            # The optimizer rewrites the prompt; an evaluation must send the task's own words.
            "prompt_optimizer": False,
        }
        if request.resolution:
            body["resolution"] = request.resolution.upper()  # the catalog says "768p", MiniMax "768P"
        if body.get("resolution") == "1080P" and body["duration"] != 6:
            # Documented for every model that offers 1080P; the catalog cannot tie durations to resolutions.
            raise MiniMaxError(f"{request.model_id} makes 1080P videos of 6 s only: pass --duration 6")
        # Catalog defaults and --param extras (e.g. fast_pretreatment) go in as documented fields.
        body.update(request.params)
        return HttpCall("POST", "/v1/video_generation", json=body)

    def job_id(self, body: Any) -> str:
        return str(body.get("task_id") or "")

    def poll(self, job_id: str) -> HttpCall:
        return HttpCall("GET", "/v1/query/video_generation", params={"task_id": job_id})

    def check(self, body: Any) -> None:
        code, message = base_resp(body)
        if code == 0:
            return
        if isinstance(body, dict) and body.get("status") == "Fail":
            return  # a failed task: ``status`` reports it, with this code as the reason
        if code in TRANSIENT_CODES:
            raise TransientHttpError(describe(code, message), status_code=429 if code == RATE_LIMITED else None)
        if code in SENSITIVE_CODES:
            raise ProviderJobFailed(describe(code, message))
        hint = " (check MINIMAX_API_KEY)" if code in AUTH_CODES else ""
        raise MiniMaxError(describe(code, message) + hint)

    def status(self, body: Any) -> JobStatus:
        raw = str(body.get("status", ""))
        error = None
        if raw == "Fail":
            code, message = base_resp(body)
            error = describe(code, message) if code else "MiniMax reported the task as Fail without a reason"
        file_id = body.get("file_id")
        return JobStatus(
            STATES.get(raw, "running"),
            raw=raw,
            error=error,
            extra={"file_id": str(file_id)} if file_id else {},
        )

    async def video_call(self, http: Any, job_id: str, status: JobStatus) -> HttpCall:
        """Third hop: the finished task names a file; the file API gives its download URL."""
        file_id = status.extra.get("file_id")
        if not file_id:
            raise ProviderJobFailed(f"{self.name} reported success for task {job_id} but gave no file_id")
        body = await http.send_json(HttpCall("GET", "/v1/files/retrieve", params={"file_id": file_id}))
        self.check(body)
        url = (body.get("file") or {}).get("download_url")
        if not url:
            raise ProviderJobFailed(f"{self.name} file {file_id} of task {job_id} has no download_url")
        # The download URL is a signed link on MiniMax's storage host: the key stays home.
        return HttpCall("GET", url)  # ApiHttp adds the key only on the provider's own host

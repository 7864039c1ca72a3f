"""Kling AI image-to-video (kling-v1-6 ... kling-v3), through Kling's own API.

API reference: https://app.klingai.com/global/dev/document-api (General Information, Image to Video)
  POST /v1/videos/image2video            {model_name, image, prompt, negative_prompt, cfg_scale, mode,
                                          duration: "5" | "10" | ..., external_task_id}
                                         -> {code, message, request_id, data: {task_id, task_status}}
  GET  /v1/videos/image2video/{task_id}  data: {task_status: submitted|processing|succeed|failed,
                                               task_status_msg, task_result: {videos: [{id, url, duration}]}}
Every answer carries a service ``code``: 0 is success, anything else an error even when the HTTP
status is 200 (``check``). ``image`` is a URL or raw base64 *without* a ``data:`` prefix; we send base64.
There is no cancel endpoint. Results live on Kling's CDN for 30 days and are fetched without the key.
Error codes (same page, "Error Code"): 1302 is the rate limit and 1303 the concurrency limit of the
resource pack (both "try again later": treated like a 429); 404 with 1203 is "resource does not exist".

Finding a job whose submit answer was lost. ``external_task_id`` is the client's own task id: Kling
keeps it "unique per user" and the single-task query takes it instead of ``task_id`` ("Query Task
(Single)": the path parameter is the task_id or the external_task_id, choose one). Every submit sends
the generation's key as ``external_task_id``, so ``find_job`` asks GET /v1/videos/image2video/{key}:
a task is the job (recovered, polled, never submitted twice); a 404 proves there is none, and the
submit is sent again with the same ``external_task_id``, which Kling would refuse if a task with it
existed after all. Kling's own API offers no idempotency header.

Authentication (same page, "API Authentication"): ``Authorization: Bearer <token>``, where the token is
a JWT (RFC 7519) signed HS256 with the secret key, claims ``iss`` = access key, ``exp`` = now + 1800,
``nbf`` = now - 5 (the documented example). It is signed here with hmac/hashlib: no JWT dependency.
Gateways that sell Kling access hand out a plain bearer key instead: KLING_API_KEY is sent as is.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

from vmevalkit.models.api.provider import (
    ApiProvider,
    Found,
    JobState,
    JobStatus,
    SubmitAttempt,
    VideoRequest,
)
from vmevalkit.settings import Settings
from vmevalkit.utils.http import ApiError, ApiHttp, HttpCall, HttpStatusError, MissingKeyError, TransientHttpError
from vmevalkit.utils.redact import register_secret

STATES: dict[str, JobState] = {
    "submitted": "queued",
    "processing": "running",
    "succeed": "succeeded",  # sic: Kling's word
    "failed": "failed",
}
# Service codes worth waiting out (rate limit, concurrency of the resource pack, server trouble);
# the rest (1000-1004 authentication, 1100-1103 account, 1200-1203 parameters, 1300/1301 policy)
# would be answered the same way again.
TRANSIENT_CODES = {1302, 1303, 5000, 5001, 5002}
RATE_LIMIT_CODES = {1302, 1303}  # "too many requests" / "over the resource pack's concurrency": nothing made
PERMANENT_HTTP_CODES = {1100, 1101, 1102, 1103, 1304}  # account and allowlist problems sent as HTTP 429
# Optional body fields passed through from the catalog's args and --param (the catalog decides which
# ones a model takes: kling-v2.x models do not support cfg_scale, master models have no mode).
PASSTHROUGH = ("mode", "negative_prompt", "cfg_scale")
TOKEN_TTL_S = 1800  # the documented lifetime
# A token is replaced once it has less than this left: enough for one request's retries, whose
# rate-limit budget is 600 s (RetryPolicy.rate_limit_budget_s).
TOKEN_REFRESH_MARGIN_S = 600


def _now() -> float:
    return time.time()


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def encode_jwt(access_key: str, secret_key: str, now: float) -> str:
    """Kling's API token: an HS256 JWT with iss = access key, valid from 5 s ago for TOKEN_TTL_S."""
    header = {"alg": "HS256", "typ": "JWT"}
    claims = {"iss": access_key, "exp": int(now) + TOKEN_TTL_S, "nbf": int(now) - 5}
    segments = [_b64url(json.dumps(part, separators=(",", ":")).encode()) for part in (header, claims)]
    signing_input = ".".join(segments).encode("ascii")
    signature = hmac.new(secret_key.encode(), signing_input, hashlib.sha256).digest()
    return f"{signing_input.decode('ascii')}.{_b64url(signature)}"


class KlingService(ApiProvider):
    name = "kling"
    base_url_env = "KLING_BASE_URL"
    default_base_url = "https://api-singapore.klingai.com"  # the global endpoint (api.klingai.com moved here)
    key_env = ("KLING_ACCESS_KEY", "KLING_SECRET_KEY", "KLING_API_KEY")
    image_format = "PNG"  # Kling takes .jpg/.jpeg/.png
    finds_jobs = True  # by external_task_id (module docstring)

    def __init__(self, model: str, **args: Any) -> None:
        super().__init__(model, **args)
        self._token: str | None = None
        self._token_exp = 0.0
        self._issued: list[str] = []  # every token handed out, so messages can be scrubbed of them

    # -- authentication -------------------------------------------------------------

    @staticmethod
    def _signs_tokens(settings: Settings) -> bool:
        # The access + secret key pair is Kling's own scheme and wins when both ways are configured.
        return settings.has_secret("KLING_ACCESS_KEY") and settings.has_secret("KLING_SECRET_KEY")

    def _jwt(self, settings: Settings) -> str:
        now = _now()
        if self._token is None or self._token_exp - now < TOKEN_REFRESH_MARGIN_S:
            self._token = encode_jwt(
                self.key("KLING_ACCESS_KEY", settings), self.key("KLING_SECRET_KEY", settings), now
            )
            self._token_exp = int(now) + TOKEN_TTL_S
            self._issued.append(self._token)
            register_secret(self._token)  # scrubbed wherever it might be echoed, from now on
        return self._token

    def auth_headers(self, settings: Settings) -> dict[str, str]:
        if self._signs_tokens(settings):
            return {"Authorization": f"Bearer {self._jwt(settings)}"}
        if settings.has_secret("KLING_API_KEY"):
            return {"Authorization": f"Bearer {self.key('KLING_API_KEY', settings)}"}
        raise MissingKeyError(
            "Set KLING_ACCESS_KEY and KLING_SECRET_KEY (or KLING_API_KEY) in .env to use kling models"
        )

    def secrets(self, settings: Settings) -> tuple[str, ...]:
        return (*super().secrets(settings), *self._issued)

    # -- the job --------------------------------------------------------------------------

    def submit(self, request: VideoRequest) -> HttpCall:
        body: dict[str, Any] = {
            "model_name": self.model,
            "image": request.image.base64(),  # raw base64: Kling rejects a data: prefix
            "prompt": request.prompt,
            "duration": str(int(request.duration)),  # an enum of strings: "5", "10", ...
        }
        body.update({k: request.params[k] for k in PASSTHROUGH if k in request.params})
        if request.idempotency_key:
            # Kling keeps it unique per account and finds tasks by it (GET .../image2video/{external_task_id}):
            # a task whose id was lost in a crash can still be traced from the key in provider_state.
            body["external_task_id"] = request.idempotency_key
        return HttpCall("POST", "/v1/videos/image2video", json=body)

    def job_id(self, body: Any) -> str:
        return str((body.get("data") or {}).get("task_id") or "")

    async def find_job(self, http: ApiHttp, attempt: SubmitAttempt) -> tuple[Found, str | None]:
        """The task submitted with ``external_task_id`` = the attempt's key (module docstring)."""
        try:
            response = await http.send(HttpCall("GET", f"/v1/videos/image2video/{attempt.key}"))
        except HttpStatusError as exc:
            return ("absent", None) if exc.status_code == 404 else ("unknown", None)
        data = response.json().get("data") or {}
        told = (data.get("task_info") or {}).get("external_task_id")
        if data.get("task_id") and told in (None, attempt.key):
            return "found", str(data["task_id"])
        return "unknown", None

    def poll(self, job_id: str) -> HttpCall:
        return HttpCall("GET", f"/v1/videos/image2video/{job_id}")

    def status(self, body: Any) -> JobStatus:
        data = body.get("data") or {}
        raw = str(data.get("task_status", ""))
        videos = (data.get("task_result") or {}).get("videos") or []
        error = None
        if raw == "failed":
            error = str(data.get("task_status_msg") or "no reason given")
        return JobStatus(
            STATES.get(raw, "running"),
            raw=raw,
            video_url=str(videos[0]["url"]) if videos and videos[0].get("url") else None,
            error=error,
        )

    def check(self, body: Any) -> None:
        if not isinstance(body, dict):
            raise TransientHttpError("kling answered with something that is not its JSON envelope")
        code = body.get("code", 0)
        if code == 0:
            return
        message = f"kling error {code}: {body.get('message') or 'no message'} (request {body.get('request_id')})"
        if code in TRANSIENT_CODES:
            raise TransientHttpError(message, status_code=429 if code in RATE_LIMIT_CODES else None)
        raise ApiError(message)

    def classify_error(self, status_code: int, body: Any) -> None:
        # Kling answers HTTP 429 for account problems too (1100-1103: arrears, resource pack used up
        # or expired; 1304: IP not on the allowlist). Waiting does not fix those: fail at once
        # instead of retrying for minutes and pausing every Kling job.
        code = body.get("code") if isinstance(body, dict) else None
        if code in PERMANENT_HTTP_CODES:
            raise ApiError(f"kling error {code}: {body.get('message') or 'no message'} (HTTP {status_code})")

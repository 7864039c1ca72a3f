"""Runway image-to-video (gen4_turbo and any other ``image_to_video`` model).

API reference: https://docs.dev.runwayml.com/api/
  POST   /v1/image_to_video   {model, promptImage, promptText, ratio, duration, seed} -> {"id"}
  GET    /v1/tasks/{id}       {status: PENDING|THROTTLED|RUNNING|SUCCEEDED|FAILED|CANCELLED,
                               output: [url], failure, failureCode}
  DELETE /v1/tasks/{id}       cancels a running task
Every request carries ``Authorization: Bearer <RUNWAYML_API_SECRET>`` and the
``X-Runway-Version`` header. ``promptImage`` may be a data URI.

A job whose submit answer was lost cannot be found again: the API has no idempotency key, takes no
client-supplied id or metadata, and offers no way to list tasks (the official SDK's endpoint list,
github.com/runwayml/sdk-python api.md, has only GET and DELETE /v1/tasks/{id} for tasks). Such a
submit is reported as ambiguous (``jobs``), never sent twice.
"""

from __future__ import annotations

from typing import Any

from vmevalkit.models.api.provider import ApiProvider, JobState, JobStatus, VideoRequest
from vmevalkit.settings import Settings
from vmevalkit.utils.http import HttpCall

API_VERSION = "2024-11-06"
STATES: dict[str, JobState] = {
    "PENDING": "queued",
    "THROTTLED": "queued",  # Runway is holding the task back for the account's concurrency: not an error
    "RUNNING": "running",
    "SUCCEEDED": "succeeded",
    "FAILED": "failed",
    "CANCELLED": "cancelled",
}


class RunwayService(ApiProvider):
    name = "runway"
    base_url_env = "RUNWAYML_BASE_URL"
    default_base_url = "https://api.dev.runwayml.com"
    key_env = ("RUNWAYML_API_SECRET",)

    def auth_headers(self, settings: Settings) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self.key('RUNWAYML_API_SECRET', settings)}",
            "X-Runway-Version": API_VERSION,
        }

    def submit(self, request: VideoRequest) -> HttpCall:
        body: dict[str, Any] = {
            "model": request.model_id,
            "promptImage": request.image_url or request.image.data_url(),
            "promptText": request.prompt,
            "ratio": request.aspect_ratio,
            "duration": int(request.duration),
        }
        if request.seed is not None:
            body["seed"] = request.seed % 2**32  # Runway takes 0..4294967295
        return HttpCall("POST", "/v1/image_to_video", json=body)

    def job_id(self, body: Any) -> str:
        return str(body["id"])

    def poll(self, job_id: str) -> HttpCall:
        return HttpCall("GET", f"/v1/tasks/{job_id}")

    def status(self, body: Any) -> JobStatus:
        raw = str(body.get("status", ""))
        output = body.get("output") or []
        error = None
        if raw in ("FAILED", "CANCELLED"):
            error = f"{body.get('failure') or raw} ({body.get('failureCode') or 'no code'})"
        return JobStatus(
            STATES.get(raw, "running"),
            raw=raw,
            video_url=output[0] if output else None,
            error=error,
            progress=body.get("progress"),
        )

    def cancel(self, job_id: str) -> HttpCall:
        return HttpCall("DELETE", f"/v1/tasks/{job_id}")

"""fal.ai image-to-video models (Kling, Hailuo, Seedance, PixVerse, Wan...) through fal's queue API.

API reference: https://docs.fal.ai/model-apis/model-endpoints/queue (also docs.fal.ai/model-endpoints/queue)
  POST {base}/{model_id}                           the model's JSON input
                                                   -> {request_id, status_url, response_url, cancel_url}
  GET  {base}/{app}/requests/{request_id}/status   -> {status: IN_QUEUE|IN_PROGRESS|COMPLETED, queue_position}
  GET  {base}/{app}/requests/{request_id}          -> the model's output, e.g. {video: {url}}
  PUT  {base}/{app}/requests/{request_id}/cancel   cancels a request that has not started
Every request carries ``Authorization: Key <FAL_KEY>``. ``{app}`` is the model id without
its subpath ("fal-ai/kling-video" for "fal-ai/kling-video/v2.1/standard/image-to-video"):
the docs say the subpath is used to submit "but not when getting request status or results".
Errors: https://docs.fal.ai/errors (model errors: ``{"detail": [{loc, msg, type}]}``) and
https://docs.fal.ai/documentation/model-apis/request-errors (``{"detail": str, "error_type"}``).
Model inputs: each model's page, https://fal.ai/models/<model_id>/api (llms.txt).

Two fal specifics:
- COMPLETED does not mean success: a request that errored is COMPLETED too, and its
  result URL then answers with the error. The result fetch is an extra hop in
  ``video_call``, which turns that error into a failed job with fal's reason.
- The job id is fal's ``request_id`` alone. The status, result and cancel URLs that fal
  returns are exactly the documented ``{app}/requests/{request_id}[...]`` paths, so they
  are rebuilt from the catalog's model id (known to this service) and the request id:
  a resumed job needs nothing but the id, and a gateway in ``FAL_BASE_URL`` keeps working.

Model inputs differ per model (``image_url`` vs other names, duration as "5" or as a
frame count, ...): the catalog entry's ``args`` describe them, see ``FalInputs``.
fal documents no idempotency key. Input images: fal's CDN page
(https://docs.fal.ai/documentation/model-apis/fal-cdn) says "some models also accept data
URIs", URLs work with every model. By default the image travels inline as a data URI (the
``data-url`` image host); set ``VMEVALKIT_IMAGE_HOST=s3`` to send a presigned URL instead.
fal's own CDN upload is not used: it lives on other hosts (rest.alpha.fal.ai, v3.fal.media),
and the key only ever goes to the queue host.

A job whose submit answer was lost is not looked for: the queue API documents no idempotency key,
takes no client-supplied id, and has no endpoint on the queue host that lists requests (the request
id comes only from the submit answer). Such a submit is reported as ambiguous (``jobs``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from vmevalkit.models.api.model_inputs import ModelInputs
from vmevalkit.models.api.provider import ApiProvider, JobState, JobStatus, ProviderJobFailed, VideoRequest
from vmevalkit.settings import Settings
from vmevalkit.utils.http import HttpCall, HttpStatusError

STATES: dict[str, JobState] = {
    "IN_QUEUE": "queued",  # waiting for a runner: not an error
    "IN_PROGRESS": "running",
    "COMPLETED": "succeeded",  # maybe with an error: the result fetch tells (see ``video_call``)
}
# Namespaced app ids have three leading segments ("workflows/<owner>/<app>"), as in fal's clients.
APP_NAMESPACES = ("workflows", "comfy")


@dataclass(frozen=True)
class FalInputs(ModelInputs):
    image_field: str = "image_url"
    duration_format: str = "string"  # fal's video models mostly take "5", "10"


def app_path(model_id: str) -> str:
    """The app a model id belongs to: where its requests' status and results live."""
    parts = model_id.strip("/").split("/")
    keep = 3 if parts[0] in APP_NAMESPACES else 2
    return "/".join(parts[:keep])


def error_detail(body: Any) -> str:
    """fal's reason from an error body: model errors list ``{msg, type}``, request errors a string."""
    if not isinstance(body, dict):
        return ""
    detail = body.get("detail")
    if isinstance(detail, list):
        parts = [f"{d.get('msg', '')} ({d.get('type', 'error')})" for d in detail if isinstance(d, dict)]
        return "; ".join(parts)
    if detail:
        kind = body.get("error_type")
        return f"{detail} ({kind})" if kind else str(detail)
    return ""


class FalService(ApiProvider):
    name = "fal"
    base_url_env = "FAL_BASE_URL"
    default_base_url = "https://queue.fal.run"
    key_env = ("FAL_KEY",)
    # Ask the configured image host for the image's URL; the default host answers with a data URI.
    needs_image_url = True
    accepts_data_url = True

    def __init__(self, model: str, inputs: dict[str, Any] | None = None, **args: Any) -> None:
        # ``inputs`` maps our request onto the model's field names; other args are model inputs.
        super().__init__(model, **args)
        self.inputs = FalInputs(**(inputs or {}))

    def auth_headers(self, settings: Settings) -> dict[str, str]:
        return {"Authorization": f"Key {self.key('FAL_KEY', settings)}"}

    def requests_path(self, job_id: str) -> str:
        return f"/{app_path(self.model)}/requests/{job_id}"

    def submit(self, request: VideoRequest) -> HttpCall:
        image = request.image_url or request.image.data_url()
        return HttpCall("POST", f"/{request.model_id.strip('/')}", json=self.inputs.build(request, image))

    def job_id(self, body: Any) -> str:
        return str(body.get("request_id") or "")

    def poll(self, job_id: str) -> HttpCall:
        return HttpCall("GET", f"{self.requests_path(job_id)}/status")

    def status(self, body: Any) -> JobStatus:
        raw = str(body.get("status", ""))
        position = body.get("queue_position")
        return JobStatus(
            STATES.get(raw, "running"),
            raw=raw,
            extra={"queue_position": position} if position is not None else {},
        )

    async def video_call(self, http: Any, job_id: str, status: JobStatus) -> HttpCall:
        """Fetch the result: the video URL on success, fal's error when the request failed."""
        try:
            result = await http.send_json(HttpCall("GET", self.requests_path(job_id)))
        except HttpStatusError as exc:  # 4xx: the request errored (validation, content policy, ...)
            reason = error_detail(exc.body) or str(exc)
            raise ProviderJobFailed(f"fal request {job_id} completed with an error: {http.scrub(reason)}") from None
        video = result.get("video") if isinstance(result, dict) else None
        url = video.get("url") if isinstance(video, dict) else None
        if not url:
            raise ProviderJobFailed(f"fal request {job_id} completed without a video in its result")
        # Results live on fal's CDN (fal.media), another host: no key there.
        return HttpCall("GET", url)  # ApiHttp adds the key only on the provider's own host

    def cancel(self, job_id: str) -> HttpCall:
        return HttpCall("PUT", f"{self.requests_path(job_id)}/cancel")

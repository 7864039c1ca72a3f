"""Replicate image-to-video models (Kling, Hailuo, Seedance, PixVerse, Wan...) through its predictions API.

API reference: https://replicate.com/docs/reference/http
  POST /v1/models/{owner}/{name}/predictions  {input: {...}}  (official models: no version hash)
                                              -> prediction {id, status, output, error, urls: {get, cancel}}
  GET  /v1/predictions/{id}                   -> the prediction
  POST /v1/predictions/{id}/cancel
  GET  /v1/predictions?created_after=...      -> {next, previous, results: [prediction]}, newest first, 100 a
                                              page, each with its ``model``, ``input`` and ``created_at``
                                              (predictions.list in the reference; ``created_after`` as in
                                              the official SDK, github.com/replicate/replicate-python-beta,
                                              src/replicate/types/prediction_list_params.py)
Statuses (https://replicate.com/docs/topics/predictions/lifecycle): starting (waiting for a
worker, maybe a cold boot), processing, succeeded, failed, canceled, and aborted (the
deadline passed before it started). Every request carries ``Authorization: Bearer
<REPLICATE_API_TOKEN>``; errors are problem details ``{title, detail, status}``.

``output`` is a URL on replicate.delivery (or a list of them): another host, fetched
without the token. File inputs may be URLs or data URIs
(https://replicate.com/docs/topics/predictions/input-files; data URIs are recommended below
1 MB, and a letterboxed puzzle frame is far smaller): the configured image host decides,
a data URI by default, a presigned URL with ``VMEVALKIT_IMAGE_HOST=s3``. We poll instead of sending ``Prefer: wait``:
video models run for minutes, past its 60 s cap. Replicate documents no idempotency key.

Finding a job whose submit answer was lost: ``find_job`` lists the predictions created since the
submit (less a clock margin) and takes the one with the same model and exactly the same ``input``
(the image included: a data URI or a fresh URL per submit, so another task cannot match). No match
is no proof (for a data URL input "Replicate will not store it", says the SDK's
src/replicate/types/models/prediction_create_params.py, so a listed input may lack it): the
generation is then reported as ambiguous.

Model inputs differ per model (``start_image``, ``first_frame_image``, ``image``; ``mode``
or ``quality`` for the resolution; a frame count for Wan): the catalog entry's ``args``
describe them, see ``ReplicateInputs``; the field names come from each model's API page,
https://replicate.com/<owner>/<name>/api.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from vmevalkit.models.api.model_inputs import ModelInputs
from vmevalkit.models.api.provider import (
    CLOCK_SKEW_S,
    ApiProvider,
    Found,
    JobState,
    JobStatus,
    SubmitAttempt,
    VideoRequest,
    digest,
)
from vmevalkit.settings import Settings
from vmevalkit.utils.http import ApiHttp, HttpCall

STATES: dict[str, JobState] = {
    "starting": "queued",  # waiting for a worker (cold boot): not an error
    "processing": "running",
    "succeeded": "succeeded",
    "failed": "failed",
    "canceled": "cancelled",
    "aborted": "failed",  # never started: its deadline passed in the queue
}


LIST_PAGES = 5  # 500 predictions created since the submit: more than any run makes in that time
MODEL_PATH = re.compile(r"^/v1/models/(?P<model>[^/]+/[^/]+)/predictions$")


@dataclass(frozen=True)
class ReplicateInputs(ModelInputs):
    image_field: str = "image"
    duration_format: str = "int"


def first_url(output: Any) -> str | None:
    """A prediction's video: ``output`` is a URL, or a list of URLs for some models."""
    if isinstance(output, str):
        return output
    if isinstance(output, list):
        return next((item for item in output if isinstance(item, str)), None)
    return None


class ReplicateService(ApiProvider):
    name = "replicate"
    base_url_env = "REPLICATE_BASE_URL"
    default_base_url = "https://api.replicate.com"
    key_env = ("REPLICATE_API_TOKEN",)
    # Ask the configured image host for the image's URL; the default host answers with a data URI.
    needs_image_url = True
    accepts_data_url = True
    finds_jobs = True  # in the list of predictions, by model and input (module docstring)

    def __init__(self, model: str, inputs: dict[str, Any] | None = None, **args: Any) -> None:
        # ``inputs`` maps our request onto the model's field names; other args are model inputs.
        super().__init__(model, **args)
        self.inputs = ReplicateInputs(**(inputs or {}))

    def auth_headers(self, settings: Settings) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key('REPLICATE_API_TOKEN', settings)}"}

    def submit(self, request: VideoRequest) -> HttpCall:
        image = request.image_url or request.image.data_url()
        body = {"input": self.inputs.build(request, image)}
        return HttpCall("POST", f"/v1/models/{request.model_id}/predictions", json=body)

    def job_id(self, body: Any) -> str:
        return str(body.get("id") or "")

    def fingerprint(self, call: HttpCall) -> str | None:
        match = MODEL_PATH.match(call.url)
        if match is None or not isinstance(call.json, dict):
            return None
        return digest({"model": match["model"], "input": call.json.get("input")})

    async def find_job(self, http: ApiHttp, attempt: SubmitAttempt) -> tuple[Found, str | None]:
        if not attempt.fingerprint:
            return "unknown", None
        since = datetime.fromtimestamp(attempt.started_at - CLOCK_SKEW_S, timezone.utc)
        call: HttpCall | None = HttpCall(
            "GET", "/v1/predictions", params={"created_after": since.isoformat().replace("+00:00", "Z")}
        )
        for _ in range(LIST_PAGES):
            if call is None:
                break
            body = (await http.send(call)).json()
            for prediction in body.get("results") or []:
                if not isinstance(prediction, dict) or not prediction.get("id"):
                    continue
                seen = digest({"model": prediction.get("model"), "input": prediction.get("input")})
                if seen == attempt.fingerprint:
                    return "found", str(prediction["id"])
            following = body.get("next")
            call = HttpCall("GET", str(following)) if following else None  # the cursor URL, on the API host
        return "unknown", None

    def poll(self, job_id: str) -> HttpCall:
        # The documented path, the same as ``urls.get``: rebuilt from the id, so a resumed job needs only that.
        return HttpCall("GET", f"/v1/predictions/{job_id}")

    def status(self, body: Any) -> JobStatus:
        raw = str(body.get("status", ""))
        state = STATES.get(raw, "running")
        error = None
        if state in ("failed", "cancelled"):
            error = body.get("error") or ("aborted: its deadline passed before it started" if raw == "aborted" else raw)
        return JobStatus(state, raw=raw, video_url=first_url(body.get("output")), error=str(error) if error else None)

    def cancel(self, job_id: str) -> HttpCall:
        return HttpCall("POST", f"/v1/predictions/{job_id}/cancel")

"""WaveSpeedAI image-to-video: WAN 2.1 and 2.2 (480p, 720p) and Google Veo 3.1, one API for all of them.

API reference (one envelope ``{code, message, data}`` for every endpoint, ``code`` 200 on success):
  https://wavespeed.ai/docs/submit-task
      POST /api/v3/{model id}                  JSON body per model -> data: {id, status: "created", urls: {get}}
  https://wavespeed.ai/docs/get-result, https://wavespeed.ai/docs/shared/submit-response
      GET  /api/v3/predictions/{id}/result     data: {status: created|processing|completed|failed,
                                                      outputs: [url], error, has_nsfw_contents, timings}
  https://wavespeed.ai/docs/docs-common-api/media-upload
      POST /api/v3/media/upload/binary         multipart "file" -> data: {type, download_url, filename, size}
Every request carries ``Authorization: Bearer <WAVESPEED_API_KEY>``. The official SDK
(github.com/WaveSpeedAI/wavespeed-python, src/wavespeed/api/client.py) uses exactly these three
endpoints, the ``/result`` form of the poll URL included (the newer docs page also shows it without).

Model schemas (the fields this module sends, and nothing else):
  https://wavespeed.ai/docs/docs-api/wavespeed-ai/wan-2.1-i2v-480p (and .../wan-2.1-i2v-720p)
      image, prompt, negative_prompt, size ("832*480" | "480*832"; "1280*720" | "720*1280"),
      num_inference_steps, duration (integer 5-10), guidance_scale, flow_shift, seed (-1..2147483647)
  https://wavespeed.ai/docs/docs-api/wavespeed-ai/wan-2.2-i2v-480p (and .../wan-2.2-i2v-720p)
      image, prompt, negative_prompt, last_image, duration (5 or 8), seed; no size: the video takes
      the image's aspect ratio
  google/veo3.1/image-to-video and google/veo3.1-fast/image-to-video
      image, prompt, last_image, aspect_ratio (16:9, 9:16), duration (4, 6, 8), resolution (720p, 1080p),
      generate_audio (true unless sent), negative_prompt, seed (-1..2147483647). The Veo 3.1 page
      (https://wavespeed.ai/docs/docs-api/google/google-veo3.1-image-to-video) was not retrievable here;
      these fields come from WaveSpeed's own Veo 3.1 skill (github.com/WaveSpeedAI/agent-skills,
      skills/wavespeed-veo-31-fast/SKILL.md) and agree with the public clients that call the endpoint.
WaveSpeed's guides pass ``image`` as a URL and say to upload a local file first, so the first frame goes
through WaveSpeed's own media upload and its ``download_url`` is what we submit.

A job whose submit answer was lost is not looked for. The prediction history
(https://wavespeed.ai/docs/docs-common-api/predictions: POST /api/v3/predictions {page, page_size,
model, created_after}) lists id, model, status, outputs and created_at, but not the inputs, so a
listed prediction cannot be told apart from another task's of the same model; no idempotency key
or client id is documented. Such a submit is reported as ambiguous (``jobs``), never sent twice.
"""

from __future__ import annotations

from typing import Any

from vmevalkit.models.api.inputs import PreparedImage
from vmevalkit.models.api.provider import ApiProvider, JobState, JobStatus, VideoRequest
from vmevalkit.settings import Settings
from vmevalkit.utils.http import ApiError, ApiHttp, HttpCall, TransientHttpError

STATES: dict[str, JobState] = {
    "created": "queued",  # received and waiting for a worker
    "processing": "running",
    "completed": "succeeded",
    "failed": "failed",
}
# Optional schema fields passed through from the catalog's args and --param, when given. Which of
# them a model accepts is the catalog's business (its constraints.params); the rest never get here.
PASSTHROUGH = (
    "negative_prompt",
    "num_inference_steps",
    "guidance_scale",
    "flow_shift",
    "generate_audio",
)
OK = 200  # the envelope's success code


class WaveSpeedService(ApiProvider):
    name = "wavespeed"
    base_url_env = "WAVESPEED_BASE_URL"
    default_base_url = "https://api.wavespeed.ai"
    key_env = ("WAVESPEED_API_KEY",)
    needs_image_url = True  # the image field is a URL; upload_image provides one
    accepts_data_url = False

    def auth_headers(self, settings: Settings) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key('WAVESPEED_API_KEY', settings)}"}

    async def upload_image(self, http: ApiHttp, image: PreparedImage) -> str:
        extension = image.mime_type.split("/")[-1]
        upload = ("file", (f"first_frame.{extension}", image.data, image.mime_type))
        body = await http.send_json(HttpCall("POST", "/api/v3/media/upload/binary", files=(upload,)))
        self.check(body)
        url = (body.get("data") or {}).get("download_url")
        if not url:
            raise ApiError("wavespeed accepted the image upload but returned no download_url")
        return str(url)

    def submit(self, request: VideoRequest) -> HttpCall:
        if not request.image_url:
            raise ApiError("wavespeed needs the first frame as a URL, and none was uploaded")
        body: dict[str, Any] = {
            "image": request.image_url,
            "prompt": request.prompt,
            "duration": int(request.duration),
        }
        if request.seed is not None:
            body["seed"] = request.seed % 2**31  # every schema takes -1..2147483647 (-1 = random)
        if "/wan-2.1/" in self.model:
            # WAN 2.1 renders at a fixed size; the catalog's pixel ratios ("832:480") are exactly those sizes.
            body["size"] = request.aspect_ratio.replace(":", "*")
        if self.model.startswith("google/veo"):
            body["aspect_ratio"] = request.aspect_ratio
            if request.resolution:
                body["resolution"] = request.resolution
        body.update({k: request.params[k] for k in PASSTHROUGH if k in request.params})
        return HttpCall("POST", f"/api/v3/{self.model}", json=body)

    def job_id(self, body: Any) -> str:
        return str((body.get("data") or {}).get("id") or "")

    def poll(self, job_id: str) -> HttpCall:
        return HttpCall("GET", f"/api/v3/predictions/{job_id}/result")

    def status(self, body: Any) -> JobStatus:
        data = body.get("data") or {}
        raw = str(data.get("status", ""))
        outputs = data.get("outputs") or []
        error = None
        if raw == "failed":
            error = str(data.get("error") or "no reason given")
        return JobStatus(
            STATES.get(raw, "running"),
            raw=raw,
            video_url=str(outputs[0]) if outputs else None,
            error=error,
        )

    def check(self, body: Any) -> None:
        # The envelope repeats the status in "code"; anything but 200 is an error even inside an HTTP 200.
        if not isinstance(body, dict):
            raise TransientHttpError("wavespeed answered with something that is not its JSON envelope")
        code = body.get("code", OK)
        if code == OK:
            return
        message = f"wavespeed error {code}: {body.get('message') or 'no message'}"
        if isinstance(code, int) and (code == 429 or code >= 500):
            raise TransientHttpError(message, status_code=code)
        raise ApiError(message)

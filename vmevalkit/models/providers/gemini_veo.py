"""Google Veo image-to-video through the Gemini API (Veo 2, Veo 3, Veo 3 Fast, Veo 3.1, Veo 3.1 Fast).

API references:
  https://ai.google.dev/gemini-api/docs/video        (Generate videos with Veo in the Gemini API: REST
                                                      example, parameters, model versions)
  https://ai.google.dev/gemini-api/docs/pricing      (per-second prices)
  https://ai.google.dev/gemini-api/docs/changelog    (deprecations and shutdowns)
  https://github.com/googleapis/python-genai         (Google's SDK; google/genai/models.py holds the exact
                                                      Gemini API ("mldev") wire mapping of generate_videos)

  POST {base}/v1beta/models/{model}:predictLongRunning
       {instances: [{prompt, image: {bytesBase64Encoded, mimeType}}],
        parameters: {aspectRatio, durationSeconds, resolution, sampleCount, negativePrompt, personGeneration}}
       -> a long-running operation {name: "models/{model}/operations/{id}"}
  GET  {base}/v1beta/{operation name}
       -> {name, done, error: {code, message}, response: {generateVideoResponse: {
           generatedSamples: [{video: {uri}}], raiMediaFilteredCount, raiMediaFilteredReasons}}}
  GET  {video uri}  (https://generativelanguage.googleapis.com/v1beta/files/{id}:download?alt=media) with the key

Every request carries ``x-goog-api-key: <GEMINI_API_KEY>``. The base URL has no version
(``GEMINI_BASE_URL``, default ``https://generativelanguage.googleapis.com``); paths add ``/v1beta``.

What the Gemini API does not take, per the SDK's mapping (it raises "... parameter is not
supported in Gemini API"): ``seed``, ``generateAudio``, ``fps``. So no seed is sent (the
catalog says seed: false) and Veo 3.x always renders its sound. An operation runs to the
end; the Gemini API documents no cancel for it, so a timeout cannot stop one.

A job whose submit answer was lost is not looked for: the Gemini API documents no idempotency key or
client-supplied id for ``predictLongRunning``, and although operations of a model can be listed
(v1beta.models.operations, https://ai.google.dev/api/all-methods), an operation carries its name and,
once done, its result, not the request that started it. Such a submit is reported as ambiguous.

Failures arrive inside HTTP 200: ``done: true`` with ``error`` (a google.rpc.Status), or
``done: true`` with a response whose samples were removed by the responsible-AI filters
(``raiMediaFilteredCount`` / ``raiMediaFilteredReasons``). Both become a failed job with
Google's words.

The download. The video ``uri`` is on the API's own host, and the file endpoint wants the
key; the official REST example fetches it with ``curl -L``, i.e. it may answer with a
redirect to where the bytes are stored. ApiHttp follows redirects hop by hop and adds the
key only on the API's own host, so ``x-goog-api-key`` never reaches the storage host
(httpx alone would keep it across a cross-host redirect).

Google shut ``veo-2.0-generate-001``, ``veo-3.0-generate-001`` and ``veo-3.0-fast-generate-001``
down on the Gemini API on June 30, 2026 (changelog, June 15, 2026), and the Veo 3.1 preview
ids on October 22, 2026 (third-party notices citing the deprecations page; not read there).
The ids keep working wherever ``GEMINI_BASE_URL`` points at a host that still serves them.
"""

from __future__ import annotations

from typing import Any

from vmevalkit.models.api.provider import ApiProvider, JobStatus, ProviderJobFailed, VideoRequest
from vmevalkit.settings import Settings
from vmevalkit.utils.http import HttpCall

API = "/v1beta"
# --param name -> Gemini API parameter, passed through when given (the SDK's negative_prompt, person_generation)
PASSTHROUGH = {"negative_prompt": "negativePrompt", "person_generation": "personGeneration"}


class GeminiVeoService(ApiProvider):
    name = "gemini"
    base_url_env = "GEMINI_BASE_URL"
    default_base_url = "https://generativelanguage.googleapis.com"
    key_env = ("GEMINI_API_KEY",)
    image_format = "PNG"  # lossless: the first frame is the task's state

    def auth_headers(self, settings: Settings) -> dict[str, str]:
        return {"x-goog-api-key": self.key("GEMINI_API_KEY", settings)}

    def submit(self, request: VideoRequest) -> HttpCall:
        instance = {
            "prompt": request.prompt,
            "image": {"bytesBase64Encoded": request.image.base64(), "mimeType": request.image.mime_type},
        }
        parameters: dict[str, Any] = {
            "aspectRatio": request.aspect_ratio,
            "durationSeconds": int(request.duration),  # an integer, as the SDK sends it
            "sampleCount": 1,  # one video per task; the default, sent explicitly since every sample is billed
        }
        if request.resolution:  # Veo 3 and later; Veo 2 takes none (its catalog entry lists no resolutions)
            parameters["resolution"] = request.resolution
        parameters.update({PASSTHROUGH[k]: v for k, v in request.params.items() if k in PASSTHROUGH})
        body = {"instances": [instance], "parameters": parameters}
        return HttpCall("POST", f"{API}/models/{request.model_id}:predictLongRunning", json=body)

    def job_id(self, body: Any) -> str:
        return str(body.get("name") or "")  # "models/{model}/operations/{id}": the whole name is the handle

    def poll(self, job_id: str) -> HttpCall:
        return HttpCall("GET", f"{API}/{job_id}")

    def status(self, body: Any) -> JobStatus:
        if not body.get("done"):  # proto3 JSON leaves "done": false out
            return JobStatus("running", raw="running")
        error = body.get("error")
        if error:
            return JobStatus(
                "failed", raw="done", error=f"{error.get('message') or 'no message'} (code {error.get('code', '?')})"
            )
        result = (body.get("response") or {}).get("generateVideoResponse") or {}
        samples = result.get("generatedSamples") or []
        uri = ((samples[0] if samples else {}).get("video") or {}).get("uri")
        if uri:
            return JobStatus("succeeded", raw="done", video_url=str(uri))
        reasons = result.get("raiMediaFilteredReasons") or []
        if reasons or result.get("raiMediaFilteredCount"):
            why = "; ".join(str(r) for r in reasons) or "no reason given"
            return JobStatus("failed", raw="done: filtered", error=f"filtered by Google's safety filters: {why}")
        return JobStatus("failed", raw="done", error="the operation finished without a video")

    async def video_call(self, http: Any, job_id: str, status: JobStatus) -> HttpCall:
        """The file uri, fetched with the key: ApiHttp sends it to Google's API host only and follows
        the redirect to storage hop by hop, without the key (module docstring)."""
        if not status.video_url:
            raise ProviderJobFailed(f"gemini operation {job_id} finished without a video uri")
        return HttpCall("GET", status.video_url)

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

Failures arrive inside HTTP 200: ``done: true`` with ``error`` (a google.rpc.Status), or
``done: true`` with a response whose samples were removed by the responsible-AI filters
(``raiMediaFilteredCount`` / ``raiMediaFilteredReasons``). Both become a failed job with
Google's words.

The download. The video ``uri`` is on the API's own host, and the file endpoint wants the
key; the official REST example fetches it with ``curl -L``, i.e. it may answer with a
redirect to where the bytes are stored. ApiHttp sends auth headers only to the base URL's
host, but its client follows redirects, and httpx drops only ``Authorization`` on a
cross-host redirect, not ``x-goog-api-key``: the key would travel to the redirect target.
So ``video_call`` asks for the file itself without following redirects, sending the key
to the API host only, and hands the framework the final location, unauthenticated when it
is another host (a pre-signed storage URL needs no key).

Google shut ``veo-2.0-generate-001``, ``veo-3.0-generate-001`` and ``veo-3.0-fast-generate-001``
down on the Gemini API on June 30, 2026 (changelog, June 15, 2026), and the Veo 3.1 preview
ids on October 22, 2026 (third-party notices citing the deprecations page; not read there).
The ids keep working wherever ``GEMINI_BASE_URL`` points at a host that still serves them.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from vmevalkit.models.api.http import (
    ApiError,
    HttpCall,
    HttpStatusError,
    TransientHttpError,
    parse_retry_after,
)
from vmevalkit.models.api.provider import ApiProvider, JobStatus, ProviderJobFailed, VideoRequest
from vmevalkit.models.api.wrapper import ApiModelWrapper
from vmevalkit.settings import Settings, get_settings

API = "/v1beta"
# --param name -> Gemini API parameter, passed through when given (the SDK's negative_prompt, person_generation)
PASSTHROUGH = {"negative_prompt": "negativePrompt", "person_generation": "personGeneration"}
REDIRECTS = (301, 302, 303, 307, 308)
MAX_HOPS = 5


class GeminiVeoService(ApiProvider):
    name = "gemini"
    base_url_env = "GEMINI_BASE_URL"
    default_base_url = "https://generativelanguage.googleapis.com"
    key_env = ("GEMINI_API_KEY",)
    image_format = "PNG"  # lossless: the first frame is the task's state

    def __init__(self, model: str, **args: Any) -> None:
        super().__init__(model, **args)
        self._settings: Settings | None = None  # the settings auth_headers was given, for the download hop

    def auth_headers(self, settings: Settings) -> dict[str, str]:
        self._settings = settings
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
        """The final location of the file, the key having gone to the API host only (module docstring)."""
        url = status.video_url
        if not url:
            raise ProviderJobFailed(f"gemini operation {job_id} finished without a video uri")
        for _ in range(MAX_HOPS):
            if not self.is_own_host(http.base_url, url):
                return HttpCall("GET", url, authenticated=False)  # storage or CDN: never the key
            target = await self._redirect_target(http, http.url(url))
            if target is None:
                return HttpCall("GET", url)  # served by the API host itself, with the key
            url = target
        raise ApiError(f"gemini file for operation {job_id}: more than {MAX_HOPS} redirects")

    async def _redirect_target(self, http: Any, url: str) -> str | None:
        """GET ``url`` on the API host without following redirects: where it redirects to, else None.

        Network errors, 5xx and 429 are retried as ApiHttp retries them. A 200 is closed unread:
        the framework then downloads it, with its truncation and decoding checks.
        """
        client: httpx.AsyncClient = http.client
        headers = self.auth_headers(self._settings or get_settings())
        where = f"gemini GET {httpx.URL(url).path}"
        error = TransientHttpError(f"{where}: not attempted")
        for attempt in range(http.retry.attempts):
            if attempt:
                backoff = min(http.retry.max_delay, http.retry.base_delay * 2 ** (attempt - 1))
                hinted = error.retry_after
                await asyncio.sleep(backoff if hinted is None else min(hinted, http.retry.max_delay))
            await http.limiter.wait_if_paused()
            try:
                response = await client.send(
                    client.build_request("GET", url, headers=headers), stream=True, follow_redirects=False
                )
            except httpx.TransportError as exc:
                error = TransientHttpError(f"{where}: network error: {type(exc).__name__}")
                continue
            code = response.status_code
            try:
                if code in REDIRECTS and "location" in response.headers:
                    return str(response.url.join(response.headers["location"]))
                if code < 400:
                    return None
                await response.aread()  # a short error document
                detail = f"{where}: HTTP {code} {http.scrub(response.text[:300])}".strip()
            finally:
                await response.aclose()
            if code in (408, 429) or code >= 500:
                error = TransientHttpError(detail, retry_after=parse_retry_after(response.headers), status_code=code)
                if code == 429:
                    http.limiter.pause(error.retry_after if error.retry_after is not None else http.retry.base_delay)
                continue
            raise HttpStatusError(detail, code)
        raise error


class GeminiVeoWrapper(ApiModelWrapper):
    service: GeminiVeoService

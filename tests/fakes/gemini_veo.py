"""A fake Gemini API for Veo: predictLongRunning, operations, the file download, Google's error shape.

Like generativelanguage.googleapis.com: the key travels in ``x-goog-api-key``; a wrong key
is an HTTP 400 ``API_KEY_INVALID`` and a missing one a 403; operations are polled by name
until ``done``; a finished operation names the video by a ``files/{id}:download?alt=media``
uri on the API host, which answers with a redirect to a fake storage host (set
``storage=None`` to have the API host serve the bytes itself).
"""

from __future__ import annotations

import base64
import io
import re
from typing import Any

from PIL import Image

from fakes.server import FakeServer, Request, Response

KEY = "AIzaSyTest-0123456789abcdefghijklmnopqr"
DURATIONS = {
    "veo-2.0-generate-001": {5, 6, 8},
    "veo-3.0-generate-001": {4, 6, 8},
    "veo-3.0-fast-generate-001": {4, 6, 8},
    "veo-3.1-generate-preview": {4, 6, 8},
    "veo-3.1-fast-generate-preview": {4, 6, 8},
}
RATIOS = {"16:9": 16 / 9, "9:16": 9 / 16}
PARAMETERS = {"aspectRatio", "durationSeconds", "resolution", "sampleCount", "negativePrompt", "personGeneration"}


def google_error(code: int, status: str, message: str, reason: str | None = None) -> Response:
    """Google's error envelope: {"error": {"code", "message", "status", "details"}}."""
    error: dict[str, Any] = {"code": code, "message": message, "status": status}
    if reason:
        error["details"] = [
            {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": reason, "domain": "googleapis.com"}
        ]
    return Response(code, {"error": error})


class FakeStorage(FakeServer):
    """Where the file endpoint redirects to: pre-signed, no key wanted (and none may arrive)."""

    def __init__(self, video_bytes: bytes) -> None:
        super().__init__(video_bytes)
        self.route("download", "GET", r"/signed/(?P<id>[^/]+)\.mp4", self.serve_video)


class FakeGemini(FakeServer):
    def __init__(self, video_bytes: bytes, storage: FakeServer | None = None) -> None:
        super().__init__(video_bytes)
        self.storage = storage
        self.failure_kind = "error"  # how a failed job ends: "error" (operation error) or "rai" (filtered)
        self.route("submit", "POST", r"/v1beta/models/(?P<model>[^/:]+):predictLongRunning", self.create)
        self.route("poll", "GET", r"/v1beta/models/(?P<model>[^/:]+)/operations/(?P<id>[^/]+)", self.operation)
        self.route("file", "GET", r"/v1beta/files/(?P<id>[^/:]+):download", self.file)

    @staticmethod
    def unauthorized(req: Request) -> Response | None:
        key = req.headers.get("x-goog-api-key")
        if key == KEY:
            return None
        if not key:
            return google_error(403, "PERMISSION_DENIED", "Method doesn't allow unregistered callers.")
        return google_error(
            400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key.", "API_KEY_INVALID"
        )

    def create(self, req: Request, match: re.Match[str]) -> Response:
        if (denied := self.unauthorized(req)) is not None:
            return denied
        model = match["model"]
        if model not in DURATIONS:
            return google_error(404, "NOT_FOUND", f"models/{model} is not found for API version v1beta.")
        body = req.json()
        problems = self.problems(model, body)
        if problems:
            return google_error(400, "INVALID_ARGUMENT", "; ".join(problems))
        job = self.new_job({"model": model, **body}, prefix="op")
        return Response(json={"name": f"models/{model}/operations/{job.id}"})

    @staticmethod
    def problems(model: str, body: dict[str, Any]) -> list[str]:
        instances = body.get("instances")
        if not isinstance(instances, list) or len(instances) != 1:
            return ["instances must hold one instance"]
        instance, parameters = instances[0], body.get("parameters") or {}
        problems = [f"Invalid JSON payload received. Unknown name {k!r}" for k in set(parameters) - PARAMETERS]
        if not instance.get("prompt"):
            problems.append("prompt is required")
        image = instance.get("image") or {}
        try:
            with Image.open(io.BytesIO(base64.b64decode(image.get("bytesBase64Encoded", ""), validate=True))) as im:
                kind, width, height = f"image/{im.format.lower()}", im.width, im.height
        except Exception:
            return [*problems, "image.bytesBase64Encoded is not a base64 encoded image"]
        if image.get("mimeType") != kind:
            problems.append(f"image.mimeType {image.get('mimeType')!r} does not match the image ({kind})")
        ratio = parameters.get("aspectRatio", "16:9")
        if ratio not in RATIOS:
            problems.append(f"aspectRatio {ratio!r} is not supported")
        elif abs(width / height - RATIOS[ratio]) > 0.01:
            problems.append(f"the {width}x{height} image does not have the {ratio} aspect ratio")
        duration = parameters.get("durationSeconds", 8)
        if not isinstance(duration, int) or duration not in DURATIONS[model]:
            problems.append(f"durationSeconds {duration!r} is out of range for {model}")
        resolution = parameters.get("resolution")
        if resolution is not None and (model.startswith("veo-2") or resolution not in ("720p", "1080p")):
            problems.append(f"resolution {resolution!r} is not supported by {model}")
        if parameters.get("sampleCount", 1) != 1:
            problems.append("sampleCount must be 1 in these tests")
        return problems

    def operation(self, req: Request, match: re.Match[str]) -> Response:
        if (denied := self.unauthorized(req)) is not None:
            return denied
        job = self.jobs.get(match["id"])
        name = f"models/{match['model']}/operations/{match['id']}"
        if job is None or job.request["model"] != match["model"]:
            return google_error(404, "NOT_FOUND", f"Operation {name} not found.")
        state = job.advance()
        if state in ("queued", "running"):
            return Response(json={"name": name})  # proto3 JSON: "done": false is left out
        result: dict[str, Any] = {"name": name, "done": True}
        if state == "failed" and self.failure_kind == "error":
            result["error"] = {"code": 3, "message": job.failure}
            return Response(json=result)
        response: dict[str, Any] = {}
        if state == "failed":  # filtered by the responsible-AI checks: no samples, the reasons instead
            response = {"raiMediaFilteredCount": 1, "raiMediaFilteredReasons": [job.failure]}
        else:
            uri = f"{self.base_url}/v1beta/files/{job.id}:download?alt=media"
            response = {"generatedSamples": [{"video": {"uri": uri}}]}
        result["response"] = {
            "@type": "type.googleapis.com/google.ai.generativelanguage.v1beta.PredictLongRunningResponse",
            "generateVideoResponse": response,
        }
        return Response(json=result)

    def file(self, req: Request, match: re.Match[str]) -> Response:
        if (denied := self.unauthorized(req)) is not None:
            return denied
        if req.query.get("alt") != "media" or match["id"] not in self.jobs:
            return google_error(404, "NOT_FOUND", f"File {match['id']} not found.")
        if self.storage is None:
            return Response(body=self.video_bytes, content_type="video/mp4")
        location = f"{self.storage.base_url}/signed/{match['id']}.mp4?X-Goog-Signature=abc123"
        return Response(302, body=b"", headers={"Location": location}, content_type="text/html")

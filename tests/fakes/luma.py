"""A fake Luma Dream Machine API, its result CDN, and a fake bucket for input images.

Endpoints, fields and states as documented (https://docs.lumalabs.ai/docs/video-generation,
https://docs.lumalabs.ai/docs/errors, and the official SDK's generated types in
lumalabs/lumaai-python). Like the real service, the fake fetches the keyframe
image URL itself; when it cannot, the generation fails with "Failed to read user
input frames". Error bodies use ``{"detail": ...}``: the Dream Machine docs list
the messages but not the envelope, and ``detail`` is what Luma's newer API documents.
"""

from __future__ import annotations

import re
import urllib.error
import urllib.request
from typing import Any

from fakes.server import FakeJob, FakeServer, Request, Response, iso

KEY = "luma-test-key-5d1e8a9b3c7f2e60"
STATE = {"queued": "queued", "running": "dreaming", "succeeded": "completed", "failed": "failed"}
MODELS = {"ray-1-6", "ray-2", "ray-flash-2"}
RATIOS = {"1:1", "16:9", "9:16", "4:3", "3:4", "21:9", "9:21"}
RESOLUTIONS = {"540p", "720p", "1080p", "4k"}
DURATIONS = {"5s", "9s"}
# The create parameters the SDK knows. The real API may ignore others; the fake rejects them,
# so an invented field (say, a prompt-enhancement flag) fails the tests instead of passing silently.
FIELDS = {
    "model",
    "prompt",
    "aspect_ratio",
    "callback_url",
    "concepts",
    "duration",
    "generation_type",
    "keyframes",
    "loop",
    "resolution",
}


class FakeLuma(FakeServer):
    def __init__(self, video_bytes: bytes, cdn: FakeServer | None = None) -> None:
        super().__init__(video_bytes)
        self.cdn = cdn  # Luma serves results from storage.cdn-luma.com, not the API host
        self.fetched: dict[str, bytes] = {}  # job id -> the keyframe image bytes Luma fetched
        self.route("submit", "POST", r"/dream-machine/v1/generations", self.create)
        self.route("list", "GET", r"/dream-machine/v1/generations", self.list_generations)
        self.route("poll", "GET", r"/dream-machine/v1/generations/(?P<id>[^/]+)", self.get_generation)
        self.route("cancel", "DELETE", r"/dream-machine/v1/generations/(?P<id>[^/]+)", self.delete_generation)
        self.route("download", "GET", r"/dream_machine/(?P<id>[^/]+)/video\.mp4", self.serve_video)

    @staticmethod
    def unauthorized(req: Request) -> Response | None:
        if req.headers.get("authorization") != f"Bearer {KEY}":
            return Response(401, {"detail": "Invalid API key"})
        return None

    def problems(self, body: Any) -> list[str]:
        if not isinstance(body, dict):
            return ["request body must be a JSON object"]
        problems = [f"unknown field {name!r}" for name in sorted(set(body) - FIELDS)]
        if body.get("model") not in MODELS:
            problems.append(f"model {body.get('model')!r} is invalid")
        prompt = body.get("prompt")
        if not isinstance(prompt, str) or len(prompt) < 3:
            problems.append("Prompt is too short, minimum length is 3 characters")
        elif len(prompt) > 5000:
            problems.append("Prompt is too long, maximum length is 5000 characters")
        frame0 = (body.get("keyframes") or {}).get("frame0") or {}
        if frame0.get("type") != "image" or not str(frame0.get("url", "")).startswith(("http://", "https://")):
            problems.append("keyframes.frame0 must be {type: image, url: <http(s) URL>}")
        if body.get("aspect_ratio") not in RATIOS:
            problems.append(f"aspect_ratio {body.get('aspect_ratio')!r} is invalid")
        if body.get("resolution") not in RESOLUTIONS:
            problems.append(f"resolution {body.get('resolution')!r} is invalid")
        if body.get("duration") not in DURATIONS:
            problems.append(f"duration {body.get('duration')!r} is invalid")
        if not isinstance(body.get("loop"), bool):
            problems.append("loop must be a boolean")
        return problems

    def fetch_keyframe(self, job: FakeJob, url: str) -> None:
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                self.fetched[job.id] = response.read()
        except (urllib.error.URLError, OSError):
            job.outcome, job.failure = "failed", "Failed to read user input frames"

    def generation(self, job: FakeJob, state: str) -> dict[str, Any]:
        body = job.request
        generation: dict[str, Any] = {
            "id": job.id,
            "generation_type": "video",
            "state": state,
            "failure_reason": job.failure if state == "failed" else None,
            "created_at": iso(job.created_at),
            "assets": None,
            "model": body["model"],
            "request": body,
        }
        if state == "completed":
            host = (self.cdn or self).base_url
            generation["assets"] = {
                "video": f"{host}/dream_machine/{job.id}/video.mp4",
                "image": f"{host}/dream_machine/{job.id}/video_0_thumb.jpg",
            }
        return generation

    def create(self, req: Request, match: re.Match[str]) -> Response:
        if (denied := self.unauthorized(req)) is not None:
            return denied
        body = req.json()
        if problems := self.problems(body):
            return Response(400, {"detail": "; ".join(problems)})
        job = self.new_job(body, prefix="gen")
        self.fetch_keyframe(job, body["keyframes"]["frame0"]["url"])
        return Response(201, self.generation(job, "queued"))

    def list_generations(self, req: Request, match: re.Match[str]) -> Response:
        """GET /generations?limit=&offset=: newest first, each generation as GET returns it (no poll counted)."""
        if (denied := self.unauthorized(req)) is not None:
            return denied
        limit, offset = int(req.query.get("limit", "10")), int(req.query.get("offset", "0"))
        with self.lock:
            jobs = sorted(self.jobs.values(), key=lambda j: j.created_at, reverse=True)
        page = [self.generation(j, "queued") for j in jobs[offset : offset + limit] if not j.cancelled]
        more = offset + limit < len(jobs)
        return Response(
            json={"generations": page, "count": len(page), "has_more": more, "limit": limit, "offset": offset}
        )

    def get_generation(self, req: Request, match: re.Match[str]) -> Response:
        if (denied := self.unauthorized(req)) is not None:
            return denied
        job = self.jobs.get(match["id"])
        if job is None or job.cancelled:  # a deleted generation is gone
            return Response(404, {"detail": "Generation not found"})
        return Response(json=self.generation(job, STATE[job.advance()]))

    def delete_generation(self, req: Request, match: re.Match[str]) -> Response:
        if (denied := self.unauthorized(req)) is not None:
            return denied
        job = self.jobs.get(match["id"])
        if job is None or job.cancelled:
            return Response(404, {"detail": "Generation not found"})
        job.cancelled = True
        return Response(204, body=b"", content_type="text/plain")


class LumaCdn(FakeServer):
    """Serves result files without authentication; records what it was sent."""

    def __init__(self, video_bytes: bytes) -> None:
        super().__init__(video_bytes)
        self.route("download", "GET", r"/dream_machine/(?P<id>[^/]+)/video\.mp4", self.serve_video)


class FakeBucket(FakeServer):
    """An object store for input images: PUT stores the bytes, GET serves them back."""

    def __init__(self) -> None:
        super().__init__(b"")
        self.objects: dict[str, tuple[bytes, str]] = {}
        self.route("upload", "PUT", r"/bucket/(?P<key>[^/]+)", self.upload)
        self.route("object", "GET", r"/bucket/(?P<key>[^/]+)", self.serve_object)

    def upload(self, req: Request, match: re.Match[str]) -> Response:
        with self.lock:
            self.objects[match["key"]] = (req.body, req.headers.get("content-type", "application/octet-stream"))
        return Response(200, body=b"", content_type="text/plain")

    def serve_object(self, req: Request, match: re.Match[str]) -> Response:
        found = self.objects.get(match["key"])
        if found is None:
            return Response(404, body=b"NoSuchKey", content_type="text/plain")
        return Response(body=found[0], content_type=found[1])

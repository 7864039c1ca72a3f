"""A fake Runway API: the documented endpoints and task statuses (https://docs.dev.runwayml.com/api/)."""

from __future__ import annotations

import re

from fakes.server import FakeServer, Request, Response

KEY = "rw-test-secret-7f3a9c1e5b2d4f60"
STATUS = {
    "queued": "PENDING",
    "running": "RUNNING",
    "succeeded": "SUCCEEDED",
    "failed": "FAILED",
    "cancelled": "CANCELLED",
}
RATIOS = {"1280:720", "720:1280", "1104:832", "832:1104", "960:960", "1584:672"}


class FakeRunway(FakeServer):
    def __init__(self, video_bytes: bytes, cdn: FakeServer | None = None) -> None:
        super().__init__(video_bytes)
        self.cdn = cdn  # results are served from another host, like Runway's CDN
        self.route("submit", "POST", r"/v1/image_to_video", self.create)
        self.route("poll", "GET", r"/v1/tasks/(?P<id>[^/]+)", self.get_task)
        self.route("cancel", "DELETE", r"/v1/tasks/(?P<id>[^/]+)", self.delete_task)
        self.route("download", "GET", r"/files/(?P<id>[^/]+)\.mp4", self.serve_video)

    @staticmethod
    def unauthorized(req: Request) -> Response | None:
        if req.headers.get("authorization") != f"Bearer {KEY}":
            return Response(401, {"error": "Invalid API key"})
        if req.headers.get("x-runway-version") != "2024-11-06":
            return Response(400, {"error": "X-Runway-Version header is required"})
        return None

    def create(self, req: Request, match: re.Match[str]) -> Response:
        if (denied := self.unauthorized(req)) is not None:
            return denied
        body = req.json()
        problems = []
        if not str(body.get("promptImage", "")).startswith(("data:image/", "https://", "http://")):
            problems.append("promptImage must be a URL or data URI")
        if body.get("ratio") not in RATIOS:
            problems.append(f"ratio {body.get('ratio')!r} is invalid")
        if body.get("duration") not in (5, 10):
            problems.append("duration must be 5 or 10")
        if problems:
            return Response(400, {"error": "; ".join(problems)})
        job = self.new_job(body, prefix="task")
        return Response(json={"id": job.id})

    def get_task(self, req: Request, match: re.Match[str]) -> Response:
        if (denied := self.unauthorized(req)) is not None:
            return denied
        job = self.jobs.get(match["id"])
        if job is None:
            return Response(404, {"error": "Task not found"})
        state = job.advance()
        task = {"id": job.id, "status": STATUS[state], "createdAt": "2026-11-23T00:00:00Z"}
        if state == "succeeded":
            host = (self.cdn or self).base_url
            task["output"] = [f"{host}/files/{job.id}.mp4?token=signed"]
        if state == "failed":
            task.update(failure=job.failure, failureCode="SAFETY.INPUT.IMAGE")
        if state == "running":
            task["progress"] = 0.5
        return Response(json=task)

    def delete_task(self, req: Request, match: re.Match[str]) -> Response:
        if (denied := self.unauthorized(req)) is not None:
            return denied
        job = self.jobs.get(match["id"])
        if job is None:
            return Response(404, {"error": "Task not found"})
        job.cancelled = True
        return Response(204, body=b"", content_type="text/plain")


class FakeCdn(FakeServer):
    """Serves result files without authentication; records what it was sent."""

    def __init__(self, video_bytes: bytes) -> None:
        super().__init__(video_bytes)
        self.route("download", "GET", r"/files/(?P<id>[^/]+)\.mp4", self.serve_video)

"""A fake Kling API: image2video create and query, with Kling's JWT authentication checked for real.

Documented at https://app.klingai.com/global/dev/document-api: every answer is ``{code, message,
request_id, data}``; a token is an HS256 JWT signed with the secret key (iss = access key, exp, nbf),
refused with HTTP 401 and service codes 1000-1004. Results are served from a separate fake CDN, like
Kling's, which must never see a token. A task is queried by its ``task_id`` or by the
``external_task_id`` it was created with, which must be unique per account.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import io
import json
import re
import time
import uuid
from collections.abc import Callable
from typing import Any

from PIL import Image

from fakes.server import FakeServer, Request, Response

ACCESS_KEY = "kl-access-2b7f0c9d1e4a"
SECRET_KEY = "kl-secret-8e3d5a1c7f9b4d20"
API_KEY = "kl-gateway-key-4c6e8a0b2d1f"
STATUS = {
    "queued": "submitted",
    "running": "processing",
    "succeeded": "succeed",
    "failed": "failed",
    "cancelled": "failed",  # Kling documents no cancel
}
MODELS = {
    "kling-v1-6",
    "kling-v2-master",
    "kling-v2-1",
    "kling-v2-1-master",
    "kling-v2-5-turbo",
    "kling-v3",
}
FIELDS = {"model_name", "image", "prompt", "negative_prompt", "cfg_scale", "mode", "duration", "external_task_id"}


def answer(code: int, message: str, data: Any = None, status: int = 200) -> Response:
    return Response(status, {"code": code, "message": message, "request_id": str(uuid.uuid4()), "data": data})


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def jwt_claims(token: str) -> dict[str, Any]:
    """The payload of a JWT, unverified (for tests to look at)."""
    claims: dict[str, Any] = json.loads(_unb64url(token.split(".")[1]))
    return claims


def verify_jwt(token: str, now: float, access_key: str = ACCESS_KEY, secret_key: str = SECRET_KEY) -> Response | None:
    """None when the token is good; else Kling's 401 answer, with the documented service code."""
    try:
        header_b64, payload_b64, signature_b64 = token.split(".")
        header = json.loads(_unb64url(header_b64))
        claims = json.loads(_unb64url(payload_b64))
        signature = _unb64url(signature_b64)
    except (ValueError, binascii.Error):
        return answer(1002, "Authorization is invalid", status=401)
    if header.get("alg") != "HS256" or header.get("typ") != "JWT":
        return answer(1002, "Authorization is invalid", status=401)
    expected = hmac.new(secret_key.encode(), f"{header_b64}.{payload_b64}".encode(), hashlib.sha256).digest()
    if not hmac.compare_digest(signature, expected) or claims.get("iss") != access_key:
        return answer(1000, "Authentication failed", status=401)
    if not isinstance(claims.get("nbf"), int) or claims["nbf"] > now:
        return answer(1003, "Authorization is not yet valid", status=401)
    if not isinstance(claims.get("exp"), int) or claims["exp"] <= now:
        return answer(1004, "Authorization has expired", status=401)
    return None


class FakeKlingCdn(FakeServer):
    """Serves generated videos without authentication; records what it was sent."""

    def __init__(self, video_bytes: bytes) -> None:
        super().__init__(video_bytes)
        self.route("download", "GET", r"/kcdn/(?P<id>[^/]+)\.mp4", self.serve_video)


class FakeKling(FakeServer):
    def __init__(self, video_bytes: bytes, cdn: FakeKlingCdn, clock: Callable[[], float] = time.time) -> None:
        super().__init__(video_bytes)
        self.cdn = cdn
        self.clock = clock
        self.tokens: list[str] = []  # every bearer value presented, for leak checks
        self.route("submit", "POST", r"/v1/videos/image2video", self.create)
        self.route("poll", "GET", r"/v1/videos/image2video/(?P<id>[^/]+)", self.query)

    def unauthorized(self, req: Request) -> Response | None:
        value = req.headers.get("authorization", "")
        if not value:
            return answer(1001, "Authorization is empty", status=401)
        if not value.startswith("Bearer "):
            return answer(1002, "Authorization is invalid", status=401)
        token = value.removeprefix("Bearer ")
        self.tokens.append(token)
        if token == API_KEY:  # a gateway's plain bearer key
            return None
        return verify_jwt(token, self.clock())

    def create(self, req: Request, match: re.Match[str]) -> Response:
        if (denied := self.unauthorized(req)) is not None:
            return denied
        body = req.json()
        problems = [f"unknown field {k}" for k in body if k not in FIELDS]
        model = body.get("model_name")
        if model not in MODELS:
            return answer(1203, f"model {model!r} does not exist", status=404)
        durations = {str(d) for d in range(3, 16)} if model == "kling-v3" else {"5", "10"}
        if body.get("duration") not in durations:
            problems.append(f"duration must be one of {sorted(durations, key=int)} as a string")
        if "mode" in body and (body["mode"] not in ("std", "pro") or model.endswith("master")):
            problems.append(f"mode {body['mode']!r} is invalid for {model}")
        if "cfg_scale" in body and model.startswith("kling-v2"):
            problems.append("kling-v2.x models do not support cfg_scale")
        problems += self.image_problems(str(body.get("image", "")))
        external = body.get("external_task_id")
        if external and self.find(external) is not None:
            problems.append(f"external_task_id {external} already exists")
        if problems:
            return answer(1201, "; ".join(problems), status=400)
        job = self.new_job(body, prefix="task")
        data = {
            "task_id": job.id,
            "task_info": {"external_task_id": body.get("external_task_id")},
            "task_status": "submitted",
            "created_at": 1722769557708,
            "updated_at": 1722769557708,
        }
        return answer(0, "SUCCEED", data)

    @staticmethod
    def image_problems(image: str) -> list[str]:
        if image.startswith("data:"):
            return ["image must be raw base64, without a data: prefix"]
        try:
            with Image.open(io.BytesIO(base64.b64decode(image, validate=True))) as im:
                width, height, fmt = im.width, im.height, im.format
        except (ValueError, binascii.Error, OSError):
            return ["image is neither a URL nor base64 of an image"]
        problems = [] if fmt in ("PNG", "JPEG") else [f"image format {fmt} is not supported"]
        if min(width, height) < 300 or not 1 / 2.5 <= width / height <= 2.5:
            problems.append(f"image {width}x{height} is under 300 px or outside 1:2.5-2.5:1")
        return problems

    def find(self, task_or_external_id: str) -> Any:
        """The task with this task_id, or else with this external_task_id (either may be queried)."""
        with self.lock:
            found = self.jobs.get(task_or_external_id)
            if found is None:
                found = next(
                    (j for j in self.jobs.values() if j.request.get("external_task_id") == task_or_external_id), None
                )
        return found

    def query(self, req: Request, match: re.Match[str]) -> Response:
        if (denied := self.unauthorized(req)) is not None:
            return denied
        job = self.find(match["id"])
        if job is None:
            return answer(1203, "task does not exist", status=404)
        state = job.advance()
        data: dict[str, Any] = {
            "task_id": job.id,
            "task_status": STATUS[state],
            "task_status_msg": "",
            "task_info": {"external_task_id": job.request.get("external_task_id")},
            "task_result": {},
            "created_at": 1722769557708,
            "updated_at": 1722769557708,
        }
        if state == "succeeded":
            url = f"{self.cdn.base_url}/kcdn/{job.id}.mp4"
            data["task_result"] = {"videos": [{"id": f"video-{job.id}", "url": url, "duration": "5.1"}]}
            data["final_unit_deduction"] = "1"
        if state in ("failed", "cancelled"):
            data["task_status_msg"] = job.failure
        return answer(0, "SUCCEED", data)

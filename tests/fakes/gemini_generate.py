"""A fake Gemini API ``generateContent``, as a video judge uses it: the documented request and response shapes.

Like generativelanguage.googleapis.com: the key travels in ``x-goog-api-key`` (a wrong key is an HTTP 400
``API_KEY_INVALID``, a missing one a 403). The request is checked the way a proto3 JSON parser reads it: field
names in lowerCamelCase or their original snake_case, unknown names refused ("Invalid JSON payload received.
Unknown name ..."), ``inlineData.data`` valid base64, a ``video/mp4`` blob a decodable video, ``videoMetadata.fps``
in (0, 24], ``generationConfig.temperature`` in [0, 2].

What the model answers: the next of ``replies`` (a string is the candidate's text; ``{"block_reason": "SAFETY"}``
blocks the prompt: no candidates, ``promptFeedback.blockReason`` set; ``{"finish_reason": "SAFETY"}`` stops the
candidate without content), else the toy judge of ``fakes.openai_chat`` over every frame of the video it was sent.

``echo_key`` sends the key back in every text field of every answer (error messages, the response id, the model
version, the block reason, the finish message, the reply, inside a verdict's rationale), as ``fakes.openai_chat``.
"""

from __future__ import annotations

import base64
import io
import itertools
import re
from typing import Any

import numpy as np

from fakes.gemini_veo import KEY, google_error
from fakes.openai_chat import echo_into, judge_frames
from fakes.server import FakeServer, Request, Response

PART_FIELDS = {"text", "inlineData", "inline_data", "videoMetadata", "video_metadata", "thought"}
CONFIG_FIELDS = {
    "temperature",
    "topP",
    "topK",
    "candidateCount",
    "maxOutputTokens",
    "responseMimeType",
    "responseSchema",
    "stopSequences",
    "seed",
}
MIME_TYPES = {"image/png", "image/jpeg", "image/webp", "video/mp4", "video/webm", "video/mpeg"}


def field(obj: dict[str, Any], camel: str) -> Any:
    """A proto3 JSON field under its lowerCamelCase name or its original snake_case one."""
    snake = re.sub(r"(?<!^)([A-Z])", r"_\1", camel).lower()
    return obj.get(camel, obj.get(snake))


def video_frames(data: bytes) -> list[np.ndarray]:
    import av

    with av.open(io.BytesIO(data), mode="r") as container:
        return [f.to_ndarray(format="rgb24").astype(np.float64) for f in container.decode(video=0)]


class FakeGeminiGenerate(FakeServer):
    def __init__(self, video_bytes: bytes = b"") -> None:
        super().__init__(video_bytes)
        self.replies: list[Any] = []
        self.echo_key = False  # send the key back in every text field (see the module docstring)
        self._ids = itertools.count(1)
        self.route("generate", "POST", r"/v1beta/models/(?P<model>[^/:]+):generateContent", self.generate)

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

    def generate(self, req: Request, match: re.Match[str]) -> Response:
        response = self._generate(req, match)
        key = req.headers.get("x-goog-api-key", "")
        if self.echo_key and key and isinstance(response.json, dict):
            fields = ("responseId", "modelVersion", "blockReason", "finishMessage", "message", "status", "reason")
            response.json = echo_into(response.json, key, fields, texts=("text",))
        return response

    @staticmethod
    def blobs(body: dict[str, Any]) -> list[tuple[str, bytes]]:
        """(mime type, bytes) of every inline blob of the first user turn, in order."""
        found = []
        for part in body["contents"][0]["parts"]:
            blob = field(part, "inlineData")
            if blob is not None:
                found.append((field(blob, "mimeType"), base64.b64decode(blob["data"])))
        return found

    def problems(self, body: Any) -> list[str]:
        if not isinstance(body, dict):
            return ["Invalid JSON payload received."]
        problems = [
            f"Invalid JSON payload received. Unknown name {k!r}: Cannot find field."
            for k in set(body)
            - {
                "contents",
                "systemInstruction",
                "system_instruction",
                "generationConfig",
                "generation_config",
                "safetySettings",
                "safety_settings",
            }
        ]
        contents = body.get("contents")
        if not isinstance(contents, list) or not contents:
            return [*problems, "* GenerateContentRequest.contents: contents is not specified"]
        system = field(body, "systemInstruction")
        turns = [("systemInstruction", system)] if system is not None else []
        turns += [(f"contents[{i}]", c) for i, c in enumerate(contents)]
        for where, content in turns:
            if content.get("role", "user") not in ("user", "model"):
                problems.append(f"{where}.role must be 'user' or 'model', got {content.get('role')!r}")
            parts = content.get("parts")
            if not isinstance(parts, list) or not parts:
                problems.append(f"* {where}.parts: contents.parts must not be empty.")
                continue
            for j, part in enumerate(parts):
                problems += self.part_problems(f"{where}.parts[{j}]", part)
        config = field(body, "generationConfig") or {}
        problems += [
            f"Invalid JSON payload received. Unknown name {k!r} at 'generation_config'"
            for k in set(config) - CONFIG_FIELDS
        ]
        temperature = config.get("temperature", 1)
        if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or not 0 <= temperature <= 2:
            problems.append(f"generation_config.temperature {temperature!r} is out of range [0, 2]")
        mime = config.get("responseMimeType")
        if mime is not None and mime not in ("text/plain", "application/json", "text/x.enum"):
            problems.append(f"response_mime_type {mime!r} is not supported")
        return problems

    @staticmethod
    def part_problems(where: str, part: dict[str, Any]) -> list[str]:
        problems = [f"Invalid JSON payload received. Unknown name {k!r} at '{where}'" for k in set(part) - PART_FIELDS]
        data_fields = [k for k in ("text", "inlineData", "inline_data") if k in part]
        if len(data_fields) != 1:
            return [*problems, f"{where} must hold exactly one of text or inline_data, got {data_fields}"]
        blob = field(part, "inlineData")
        if blob is None:
            return problems
        mime = field(blob, "mimeType")
        if mime not in MIME_TYPES:
            problems.append(f"{where}.inline_data.mime_type {mime!r} is not supported")
        try:
            data = base64.b64decode(blob.get("data", ""), validate=True)
        except ValueError:
            return [*problems, f"{where}.inline_data.data is not valid base64"]
        if mime == "video/mp4":
            try:
                if not video_frames(data):
                    raise ValueError("no frames")
            except Exception as exc:
                problems.append(f"{where}: the video could not be processed ({type(exc).__name__})")
        metadata = field(part, "videoMetadata")
        if metadata is not None:
            fps = metadata.get("fps")
            if not isinstance(fps, (int, float)) or not 0 < fps <= 24:
                problems.append(f"{where}.video_metadata.fps {fps!r} must be in (0, 24]")
        return problems

    def _generate(self, req: Request, match: re.Match[str]) -> Response:
        if (denied := self.unauthorized(req)) is not None:
            return denied
        body = req.json()
        if problems := self.problems(body):
            return google_error(400, "INVALID_ARGUMENT", "; ".join(problems))
        usage = {"promptTokenCount": 2000, "candidatesTokenCount": 40, "totalTokenCount": 2040}
        reply = self.replies.pop(0) if self.replies else None
        if reply is None:
            videos = [data for mime, data in self.blobs(body) if mime == "video/mp4"]
            reply = judge_frames(video_frames(videos[0]))
        if isinstance(reply, dict) and "block_reason" in reply:
            feedback = {"blockReason": reply["block_reason"], "safetyRatings": []}
            return Response(json={"promptFeedback": feedback, "usageMetadata": usage, "modelVersion": match["model"]})
        candidate: dict[str, Any] = {"index": 0}
        if isinstance(reply, str):
            candidate.update(content={"parts": [{"text": reply}], "role": "model"}, finishReason="STOP")
        else:
            candidate["finishReason"] = reply["finish_reason"]
            candidate["finishMessage"] = f"The candidate was stopped: {reply['finish_reason']}."
        return Response(
            json={
                "candidates": [candidate],
                "usageMetadata": usage,
                "modelVersion": match["model"],
                "responseId": f"resp-{next(self._ids):04d}",
            }
        )

    def requests(self) -> list[dict[str, Any]]:
        return [req.json() for name, status, req in self.log if name == "generate" and status == "200"]

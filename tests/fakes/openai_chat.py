"""A fake OpenAI-compatible Chat Completions API, as a vision judge is served (OpenAI, vLLM, SGLang, lmdeploy).

Served under ``/v1`` like api.openai.com, so tests set ``OPENAI_BASE_URL`` to ``<fake>/v1``. The fake checks a
request the way the API does: the Bearer key (OpenAI's 401 otherwise; ``require_key=False`` plays a keyless
self-hosted server), the message roles and content parts, every ``image_url`` a base64 ``data:`` URL of a real
PNG or JPEG, ``temperature`` in [0, 2], and OpenAI's JSON-mode rule (``response_format: json_object`` needs the
word "json" in the messages). ``reject_response_format`` plays a server without a JSON mode.

``echo_key`` plays a careless or hostile server: the key it was sent comes back in every text field of every answer
(the error messages, the id, the model name, the refusal, the reply, and inside a verdict's rationale, so that the
verdict still parses), so tests can check that no key the judge hears back reaches a score file, the cache or a log.

What the judge answers: the next of ``replies`` (a string is the message content; ``{"refusal": text}`` sets
``message.refusal``; ``{"finish_reason": "content_filter"}`` withholds the content), else ``judge_frames()``: a toy
judge that actually looks at the frames it was sent. It counts the changes between consecutive frames: none is a video
that never moves (all 0); one is a cut straight to the end (end state 1, no process); more is a step-by-step
solution (all 1). Crude, but it only gets the baselines right if the frames come from the video in order.
"""

from __future__ import annotations

import base64
import io
import itertools
import json
import re
import time
from typing import Any

import numpy as np
from PIL import Image

from fakes.openai_sora import KEY, openai_error
from fakes.server import FakeServer, Request, Response

DATA_URL = re.compile(r"data:image/(?P<kind>png|jpeg);base64,(?P<data>.+)", re.DOTALL)
# Two frames differ when some 16x16 block's mean grey level moved by more than CHANGE: a maze dot, a tile or one
# sudoku digit moves a block by 40 to 170 levels, compression noise by under 5 (measured on the baselines' videos).
BLOCK = 16
CHANGE = 20.0


def echo_into(reply: dict[str, Any], key: str, fields: tuple[str, ...], texts: tuple[str, ...] = ()) -> Any:
    """``reply`` (parsed JSON) with ``key`` added to every string under a name in ``fields``, and, in a string under
    a name in ``texts`` that holds a JSON object, to each of that object's strings (a verdict stays a verdict)."""

    def walk(value: Any, name: str = "") -> Any:
        if isinstance(value, dict):
            return {k: walk(v, k) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v, name) for v in value]
        if isinstance(value, str) and name in texts:
            try:
                inner = json.loads(value)
            except ValueError:
                return f"{value} (key {key})"
            if isinstance(inner, dict):
                return json.dumps({k: f"{v} (key {key})" if isinstance(v, str) else v for k, v in inner.items()})
            return f"{value} (key {key})"
        if isinstance(value, str) and name in fields:
            return f"{value} (key {key})"
        return value

    return walk(reply)


def verdict(task_success: int, end_state: float, process: float, rationale: str) -> str:
    return json.dumps(
        {"task_success": task_success, "end_state": end_state, "process": process, "rationale": rationale}
    )


def decode_image(url: str) -> np.ndarray:
    match = DATA_URL.fullmatch(url)
    if match is None:
        raise ValueError("image_url must be a data:image/png or data:image/jpeg base64 URL")
    raw = base64.b64decode(match["data"], validate=True)
    with Image.open(io.BytesIO(raw)) as image:
        if image.format.lower() != match["kind"]:
            raise ValueError(f"the data URL says image/{match['kind']} but holds a {image.format} image")
        return np.asarray(image.convert("RGB"), dtype=np.float64)


def block_means(frame: np.ndarray) -> np.ndarray:
    height, width = frame.shape[0] // BLOCK * BLOCK, frame.shape[1] // BLOCK * BLOCK
    grey = frame[:height, :width].mean(axis=2)
    return grey.reshape(height // BLOCK, BLOCK, width // BLOCK, BLOCK).mean(axis=(1, 3))


def judge_frames(frames: list[np.ndarray]) -> str:
    """The toy judge (see the module docstring) over the video's frames, in order."""
    means = [block_means(frame) for frame in frames]
    changes = sum(a.shape != b.shape or float(np.abs(a - b).max()) > CHANGE for a, b in itertools.pairwise(means))
    if changes == 0:
        return verdict(0, 0.0, 0.0, "Nothing moves: the last frame is the input image.")
    if changes == 1:
        return verdict(0, 1.0, 0.0, "The video cuts from the puzzle straight to a solved picture.")
    return verdict(1, 1.0, 1.0, f"The puzzle is solved step by step over {changes} visible moves.")


class FakeOpenAIChat(FakeServer):
    def __init__(self, video_bytes: bytes = b"", require_key: bool = True) -> None:
        super().__init__(video_bytes)
        self.require_key = require_key
        self.reject_response_format = False
        self.echo_key = False  # send the key back in every text field (see the module docstring)
        self.replies: list[Any] = []
        self.fail_prompts: set[str] = set()  # a request whose messages mention one of these answers HTTP 500
        # Concurrency probe: a request waits until hold_until requests are in flight together, or until the last of
        # `expected` requests has arrived (it has no one left to wait for); hold_s only bounds a broken client.
        self.hold_until = 0
        self.expected = 0
        self.hold_s = 5.0
        self.in_flight = 0
        self.arrivals = 0
        self.max_in_flight = 0
        self._ids = itertools.count(1)
        self.route("chat", "POST", r"/v1/chat/completions", self.create)

    def unauthorized(self, req: Request) -> Response | None:
        if not self.require_key:
            return None
        auth = req.headers.get("authorization", "")
        if auth == f"Bearer {KEY}":
            return None
        given = auth.removeprefix("Bearer ")
        shown = f"{given[:3]}{'*' * 12}{given[-4:]}" if len(given) > 8 else "(none)"
        if self.echo_key:
            shown = given
        return openai_error(401, f"Incorrect API key provided: {shown}.", code="invalid_api_key")

    @staticmethod
    def images(body: dict[str, Any]) -> list[np.ndarray]:
        """Every image of the first user message, in order (the input image first, then the video's frames)."""
        user = next(m for m in body["messages"] if m["role"] == "user")
        return [decode_image(p["image_url"]["url"]) for p in user["content"] if p["type"] == "image_url"]

    def problems(self, body: Any) -> list[str]:
        if not isinstance(body, dict):
            return ["the body must be a JSON object"]
        problems = []
        if not isinstance(body.get("model"), str) or not body["model"]:
            problems.append("you must provide a model parameter")
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            return [*problems, "'messages' must be a non-empty array"]
        for i, message in enumerate(messages):
            if message.get("role") not in ("system", "user", "assistant"):
                problems.append(f"messages[{i}].role {message.get('role')!r} is not one of system, user, assistant")
            content = message.get("content")
            if isinstance(content, str):
                continue
            if not isinstance(content, list) or message.get("role") == "assistant":
                problems.append(f"messages[{i}].content must be a string or an array of content parts")
                continue
            for j, part in enumerate(content):
                if part.get("type") == "text" and isinstance(part.get("text"), str):
                    continue
                if part.get("type") == "image_url":
                    try:
                        decode_image(part["image_url"]["url"])
                    except Exception as exc:
                        problems.append(f"messages[{i}].content[{j}]: invalid image: {exc}")
                    continue
                problems.append(f"messages[{i}].content[{j}] has an unknown type {part.get('type')!r}")
        temperature = body.get("temperature", 1)
        if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or not 0 <= temperature <= 2:
            problems.append(f"Invalid 'temperature': {temperature!r}")
        fmt = body.get("response_format")
        if fmt is not None:
            if fmt.get("type") not in ("text", "json_object", "json_schema"):
                problems.append(f"Invalid 'response_format.type': {fmt.get('type')!r}")
            elif fmt["type"] == "json_object" and "json" not in json.dumps(messages).lower():
                problems.append(
                    "'messages' must contain the word 'json' in some form, to use 'response_format' of type "
                    "'json_object'."
                )
        return problems

    def create(self, req: Request, match: re.Match[str]) -> Response:
        response = self._create(req)
        key = req.headers.get("authorization", "").removeprefix("Bearer ")
        if self.echo_key and key and isinstance(response.json, dict):
            fields = ("id", "model", "system_fingerprint", "refusal", "message", "code")
            response.json = echo_into(response.json, key, fields, texts=("content",))
        return response

    def _create(self, req: Request) -> Response:
        if (denied := self.unauthorized(req)) is not None:
            return denied
        body = req.json()
        if self.reject_response_format and isinstance(body, dict) and "response_format" in body:
            return openai_error(400, "response_format is not supported by this server")
        if problems := self.problems(body):
            return openai_error(400, "; ".join(problems))
        if any(prompt in json.dumps(body["messages"]) for prompt in self.fail_prompts):
            return openai_error(500, "The server had an error while processing your request.", "server_error")
        self._wait_for_company()
        try:
            reply = self.replies.pop(0) if self.replies else judge_frames(self.images(body)[1:])
        finally:
            with self.lock:
                self.in_flight -= 1
        message: dict[str, Any] = {"role": "assistant", "content": None, "refusal": None}
        finish = "stop"
        if isinstance(reply, str):
            message["content"] = reply
        elif "refusal" in reply:
            message["refusal"] = reply["refusal"]
        else:
            finish = reply["finish_reason"]
        return Response(
            json={
                "id": f"chatcmpl-{next(self._ids):04d}",
                "object": "chat.completion",
                "created": 1795000000,
                "model": body["model"],
                "system_fingerprint": "fp_fake",
                "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
                "usage": {"prompt_tokens": 1000, "completion_tokens": 40, "total_tokens": 1040},
            }
        )

    def _wait_for_company(self) -> None:
        with self.lock:
            self.in_flight += 1
            self.arrivals += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        deadline = time.monotonic() + self.hold_s
        while (
            self.hold_until
            and self.in_flight < self.hold_until
            and self.arrivals < self.expected
            and time.monotonic() < deadline
        ):
            time.sleep(0.005)
        with self.lock:
            self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def requests(self) -> list[dict[str, Any]]:
        """The JSON bodies of every chat request that reached the handler (faults excluded)."""
        return [req.json() for name, status, req in self.log if name == "chat" and status == "200"]

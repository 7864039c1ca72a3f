"""``vlm-judge-openai`` and ``vlm-judge-gemini``: a vision-language model judges each video against a rubric.

Both judges see what the video model was given and what it made, never the answer: the task's instruction, the
input image (``first_frame.png``) and the video (``inputs`` = video, prompt, first_frame). They score three
dimensions, defined by the rubric below (``RUBRIC_VERSION``):

- ``end_state`` (0..1): how much of the required final state the last frame shows, for the same puzzle;
- ``process`` (0..1): how much of the way there the video shows as visible, legal, one-step moves (a video that
  never changes, or one that cuts to the answer, shows none);
- ``task_success`` (0 or 1): the correct final state, reached by legal visible moves, with no cheating.

The rubric is written per task domain (maze, sliding puzzle, sudoku; a generic one for any other domain) and names
the cheats a judge must catch: teleporting, changing the givens, cutting or fading to the answer.

How a video reaches the judge:

- ``vlm-judge-openai`` (``OpenAIJudge``): any OpenAI-compatible Chat Completions endpoint, hosted GPT models or a
  vLLM / SGLang / lmdeploy server running Qwen2.5-VL or InternVL. The video is sent as ``frames`` frames sampled
  evenly from first to last, plus the input image, each a base64 ``data:`` URL in an ``image_url`` content part.
  (Servers cap the images per request: raise vLLM's ``--limit-mm-per-prompt`` to at least ``frames`` + 1 images.)
- ``vlm-judge-gemini`` (``GeminiJudge``): the Gemini API's ``generateContent``, with the mp4 itself inline.

Replies. The judge is asked for one JSON object ``{"task_success", "end_state", "process", "rationale"}`` at
temperature 0, with the API's JSON mode where it has one (never relied on: servers without it still work). The
reply is parsed strictly (``parse_verdict``); a reply that does not parse is sent back once with the reason and a
request for the JSON alone; a second bad reply scores NaN with both reasons in the details. A refusal (OpenAI's
``message.refusal`` or ``finish_reason: "content_filter"``, Gemini's ``promptFeedback.blockReason`` or a safety
``finishReason``) scores NaN with the judge's reason, and is not asked again.

Concurrency. The items of one ``score_batch`` call are judged at once, at most ``max_concurrency`` requests in
flight (``asyncio`` over one ``httpx.AsyncClient``); the scoring runner hands over ``--batch-size`` items at a time,
so a batch size at least as large as ``max_concurrency`` keeps every slot busy.

Failures. 429s and 5xx are retried by the shared HTTP layer (``ApiHttp``: backoff, ``Retry-After``, a pause of every
request to the provider after a 429). A request that still fails (or a missing key) raises from ``score_batch``
after the rest of the batch is judged and cached, so the scoring runner retries the items one by one: the judged
ones come from the cache for free, and the failed one gets an error score file that the next run redoes.

Cache. Every verdict (refusals and unparseable replies included: they were paid for) is stored in
``<cache_dir>/<key[:2]>/<key>.json``, written atomically. The key is the SHA-256 of the judge, its model, the rubric
version, the full instruction text (rubric, domain and prompt), the SHA-256 of the video and of the input image, and
the media settings (frames sent, image size and format; Gemini's sampling rate). The same video judged again, in
another experiment or after a crash, costs nothing. ``cache_dir`` defaults to ``<output dir>/.judge-cache``, where
the output dir is the one holding the video's experiment (``VMEVALKIT_OUTPUT_DIR`` for items outside that layout).

Keys are read from the environment or ``.env`` (``OPENAI_API_KEY``; ``GEMINI_API_KEY`` or ``GOOGLE_API_KEY``) when
the first request is needed and sent only in the request header. Whatever the judge sends back (a rationale, a
refusal, an unusable reply, an error body) may echo a key: every verdict's details pass
``vmevalkit.utils.redact.scrub_data`` before they are cached or returned, cache entries are scrubbed again when read
(entries written before this rule), and the exceptions ``score_batch`` raises are scrubbed too. Keys never reach a
score file, the cache or a log. A judge on a self-hosted server without a key (``base_url`` or
``OPENAI_BASE_URL`` set to it) sends no ``Authorization`` header.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
from abc import abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

import httpx
import numpy as np

from vmevalkit.scoring.base import PUBLIC_INPUTS, UNIT_RANGE, Range, ScoreBatch, ScoreItem, Scorer
from vmevalkit.scoring.judge_rubric import (  # noqa: F401  (re-exported: the judges' public names)
    DIMENSIONS,
    GENERIC_RUBRIC,
    REPAIR_REQUEST,
    REPLY_FIELDS,
    REPLY_FORMAT,
    ROLE,
    RUBRIC_VERSION,
    SCALE,
    ImageFormat,
    Verdict,
    VerdictError,
    b64,
    domain_rubrics,
    encode_image,
    file_sha256,
    parse_verdict,
    read_input_image,
    rubric_for,
    sample_indices,
    sampled_frames,
)
from vmevalkit.settings import Settings, get_settings
from vmevalkit.utils.atomic import atomic_write_json
from vmevalkit.utils.http import (
    ApiError,
    ApiHttp,
    HttpCall,
    HttpStatusError,
    MissingKeyError,
    ProviderLimiter,
    RetryPolicy,
)
from vmevalkit.utils.redact import scrub, scrub_data
from vmevalkit.video import VideoError, probe_video

# Bump when the rubric or the reply format changes meaning: it is the scorers' ``version`` (old score files are
# redone) and part of the cache key (old verdicts are not reused).
CACHE_DIR_NAME = ".judge-cache"
CACHE_SCHEMA_VERSION = 1


class JudgeOptionError(TypeError):
    """A bad constructor option. A TypeError, so that loading the scorer (``build_scorer``) reports it as a usage
    error naming the option, as it does an unknown keyword."""


# -- the conversation -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Turn:
    """One message after the first: the judge's bad reply ("assistant") or our request to repair it ("user")."""

    role: Literal["user", "assistant"]
    text: str


@dataclass(frozen=True)
class Reply:
    """A judge's answer: its text, or why it refused (then ``text`` is empty)."""

    text: str = ""
    refusal: str | None = None


@dataclass
class Media:
    """What the judge is shown, already in the provider's own part format, and how it was made (for details)."""

    parts: list[dict[str, Any]]
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class Outcome:
    """A verdict (or NaN) for one item, with its details; ``error`` set when no verdict could be had."""

    scores: list[float]
    detail: dict[str, Any]
    error: BaseException | None = None


def _nan() -> list[float]:
    return [math.nan] * len(DIMENSIONS)


# -- the judge, shared by both providers ------------------------------------------------------------------------------


class VlmJudge(Scorer):
    """A rubric judge behind an HTTP API: concurrent requests, strict replies with one repair, a verdict cache.

    Subclasses say where the API is (``base_url_env``, ``default_base_url``, ``key_envs``) and how to build the
    media, the request and read the reply.
    """

    version: ClassVar[str] = RUBRIC_VERSION
    dimensions: ClassVar[tuple[str, ...]] = DIMENSIONS
    inputs: ClassVar[frozenset[str]] = PUBLIC_INPUTS  # video, prompt, first_frame: never the answer
    pass_dimension: ClassVar[str | None] = "task_success"
    ranges: ClassVar[dict[str, Range]] = dict.fromkeys(DIMENSIONS, UNIT_RANGE)

    provider: ClassVar[str]
    base_url_env: ClassVar[str]
    default_base_url: ClassVar[str]
    key_envs: ClassVar[tuple[str, ...]]
    default_model: ClassVar[str]

    def __init__(
        self,
        model: str | None = None,
        *,
        cache_dir: str | Path | None = None,
        max_concurrency: int | None = None,
        base_url: str | None = None,
        request_timeout_s: float | None = None,
    ) -> None:
        """``model``: the judge model's name as the API knows it. ``max_concurrency``: requests in flight at once
        (default ``VMEVALKIT_PROVIDER_CONCURRENCY``). ``base_url``: overrides the provider's ``*_BASE_URL``
        variable. ``request_timeout_s``: per request (default ``VMEVALKIT_REQUEST_TIMEOUT_S``)."""
        super().__init__()
        self.model = model or self.default_model
        if not isinstance(self.model, str) or not self.model.strip():
            raise JudgeOptionError(f"{self.name}: model must be a model name, got {model!r}")
        if max_concurrency is not None and max_concurrency < 1:
            raise JudgeOptionError(f"{self.name}: max_concurrency must be at least 1, got {max_concurrency}")
        if request_timeout_s is not None and request_timeout_s <= 0:
            raise JudgeOptionError(f"{self.name}: request_timeout_s must be positive, got {request_timeout_s}")
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self.max_concurrency = max_concurrency
        self.base_url = base_url
        self.request_timeout_s = request_timeout_s

    # -- provider hooks ------------------------------------------------------------------------------------------

    @abstractmethod
    def media_config(self) -> dict[str, Any]:
        """The settings that change what the judge is shown (part of the cache key)."""

    @abstractmethod
    def build_media(self, item: ScoreItem) -> Media:
        """The input image and the video, as the provider's parts (runs in a worker thread)."""

    @abstractmethod
    def request(self, system: str, user_text: str, media: Media, turns: Sequence[Turn]) -> HttpCall:
        """The HTTP request for the conversation so far."""

    @abstractmethod
    def read_reply(self, body: Any) -> Reply:
        """The judge's text or refusal in a successful response."""

    @abstractmethod
    def auth_headers(self, key: str | None) -> dict[str, str]:
        """The headers that carry the key (none for a keyless server)."""

    def too_large(self, item: ScoreItem) -> str | None:
        """Why this item cannot be sent at all (then it scores NaN without a request), or None."""
        return None

    async def ask(self, http: ApiHttp, call: HttpCall) -> Reply:
        return self.read_reply(await http.send_json(call))

    # -- configuration -------------------------------------------------------------------------------------------

    def resolved_base_url(self, settings: Settings) -> str:
        return (self.base_url or settings.value(self.base_url_env) or self.default_base_url).rstrip("/")

    def api_key(self, settings: Settings, base_url: str) -> str | None:
        """The first key set among ``key_envs``; required only for the provider's own hosted API."""
        for name in self.key_envs:
            secret = settings.secret(name)
            if secret is not None:
                return secret.get_secret_value()
        if base_url == self.default_base_url.rstrip("/"):
            names = " or ".join(self.key_envs)
            raise MissingKeyError(
                f"Set {names} in .env to use {self.name} (or point {self.base_url_env} at a server that needs none)"
            )
        return None  # a self-hosted server without authentication

    def cache_root(self, item: ScoreItem, settings: Settings) -> Path:
        if self.cache_dir is not None:
            return self.cache_dir
        # <output>/<experiment>/<model>/<domain>_task/<task_id>/<run_id>: the cache sits next to the experiments,
        # shared by all of them.
        parents = item.generation_dir.parents
        if len(parents) > 4 and parents[1].name == f"{item.domain}_task":
            return parents[4] / CACHE_DIR_NAME
        return Path(settings.output_dir) / CACHE_DIR_NAME

    def user_text(self, item: ScoreItem) -> str:
        return f"The instruction the video model was given:\n{item.prompt}"

    def cache_key(self, item: ScoreItem) -> tuple[str, dict[str, Any]]:
        """The verdict cache key of an item, and what it was made from (stored in the entry, for audits)."""
        instructions = rubric_for(item.domain) + "\n\n" + self.user_text(item)
        fields = {
            "judge": self.name,
            "model": self.model,
            "rubric_version": RUBRIC_VERSION,
            "domain": item.domain,
            "prompt": item.prompt,
            "instructions_sha256": hashlib.sha256(instructions.encode()).hexdigest(),
            "video_sha256": file_sha256(item.video_path),
            "first_frame_sha256": file_sha256(item.first_frame),
            "media": self.media_config(),
        }
        key = hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()
        return key, fields

    # -- scoring -------------------------------------------------------------------------------------------------

    def score_batch(self, items: Sequence[ScoreItem], **kwargs: Any) -> ScoreBatch:
        if kwargs:
            raise TypeError(
                f"{self.name} takes no score_batch options, got {sorted(kwargs)}: "
                "pass them to the constructor (--scorer-init-kwargs-json)"
            )
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(self.score_batch_async(items))
        raise RuntimeError(f"{self.name}.score_batch() runs its own event loop: await score_batch_async() instead")

    async def score_batch_async(self, items: Sequence[ScoreItem]) -> ScoreBatch:
        """Judge every item concurrently; raises (after caching the rest) if any request failed."""
        settings = get_settings()
        base_url = self.resolved_base_url(settings)
        limiter = ProviderLimiter(self.max_concurrency or settings.provider_concurrency)
        timeout_s = self.request_timeout_s or settings.request_timeout_s
        keys: list[str | None] = [None]  # read once, when the first item misses the cache

        def key() -> str | None:
            if keys[0] is None:
                keys[0] = self.api_key(settings, base_url) or ""
            return keys[0] or None

        async with httpx.AsyncClient(timeout=httpx.Timeout(timeout_s, connect=min(10.0, timeout_s))) as client:
            http = ApiHttp(
                client,
                provider=self.name,
                base_url=base_url,
                auth_headers=lambda: self.auth_headers(key()),
                limiter=limiter,
                retry=RetryPolicy(attempts=settings.api_retries, base_delay=settings.api_retry_base_delay_s),
                secrets=lambda: tuple(k for k in keys if k),
            )
            # Items with the same cache key (the same video, prompt and input image) are judged once.
            running: dict[str, asyncio.Task[Outcome]] = {}

            async def one(item: ScoreItem) -> Outcome:
                try:
                    cache_key, fields = await asyncio.to_thread(self.cache_key, item)
                except (OSError, ValueError) as exc:
                    return Outcome(_nan(), {"reason": f"cannot read the inputs: {type(exc).__name__}: {exc}"})
                if cache_key not in running:
                    path = self.cache_root(item, settings) / cache_key[:2] / f"{cache_key}.json"
                    running[cache_key] = asyncio.ensure_future(self._judge_cached(http, key, item, path, fields))
                outcome = await running[cache_key]
                return Outcome(list(outcome.scores), {**outcome.detail, "cache_key": cache_key}, outcome.error)

            results = await asyncio.gather(*(one(item) for item in items), return_exceptions=True)

        used = tuple(k for k in keys if k)
        # Anything but an API failure (a bug, an interrupt) is raised as it is, once every request has ended.
        for result in results:
            if isinstance(result, BaseException):
                raise scrubbed_exception(result, used)
        outcomes = [r for r in results if isinstance(r, Outcome)]
        failures = [o.error for o in outcomes if o.error is not None]
        if failures:
            if len(items) == 1:
                raise scrubbed_exception(failures[0], used)
            # The runner retries item by item: those judged here come from the cache, only the failures are sent.
            first = scrub(str(failures[0]), used)
            raise ApiError(f"{len(failures)} of {len(items)} judge requests failed (the rest are cached): {first}")
        return ScoreBatch(
            scores=np.array([o.scores for o in outcomes], dtype=np.float64),
            details=[scrub_data(o.detail, used) for o in outcomes],
        )

    async def _judge_cached(
        self, http: ApiHttp, key: Callable[[], str | None], item: ScoreItem, path: Path, fields: dict[str, Any]
    ) -> Outcome:
        cached = read_cache_entry(path)
        if cached is not None:
            return Outcome(cached[0], {**cached[1], "cached": True})
        if (problem := self.too_large(item)) is not None:
            return Outcome(_nan(), {"judge_model": self.model, "reason": problem})  # never sent: not cached
        used: str | None = None
        try:
            used = key()  # a missing key fails here, before any work, with a message naming the variable
            async with http.limiter.slots:
                outcome = await self._judge(http, item)
        except ApiError as exc:
            error = scrubbed_exception(exc, (used,) if used else ())
            return Outcome(_nan(), {"judge_model": self.model, "reason": str(error)}, error=error)
        except (OSError, VideoError) as exc:
            return Outcome(_nan(), {"judge_model": self.model, "reason": f"cannot read the inputs: {exc}"})
        # What the judge said may echo the key: scrubbed before it is cached or returned.
        detail = scrub_data(outcome.detail, (used,) if used else ())
        write_cache_entry(path, fields, outcome.scores, detail)
        return Outcome(outcome.scores, {**detail, "cached": False})

    async def _judge(self, http: ApiHttp, item: ScoreItem) -> Outcome:
        system, user_text = rubric_for(item.domain), self.user_text(item)
        media = await asyncio.to_thread(self.build_media, item)
        detail: dict[str, Any] = {"judge_model": self.model, **media.detail}
        turns: list[Turn] = []
        reasons: list[str] = []
        for attempt in range(2):  # the first reply, then at most one repair
            reply = await self.ask(http, self.request(system, user_text, media, turns))
            if reply.refusal is not None:
                return Outcome(_nan(), {**detail, "reason": reply.refusal, "repaired": attempt > 0})
            try:
                verdict = parse_verdict(reply.text)
            except VerdictError as exc:
                reasons.append(str(exc))
                detail["reply_excerpt" if attempt == 0 else "repair_reply_excerpt"] = _excerpt(reply.text)
                turns = [Turn("assistant", reply.text), Turn("user", REPAIR_REQUEST.format(reason=exc))]
                continue
            return Outcome(verdict.scores(), {**detail, "rationale": verdict.rationale, "repaired": attempt > 0})
        reason = f"the judge's reply was unusable twice: {reasons[0]}; after the repair request: {reasons[1]}"
        return Outcome(_nan(), {**detail, "reason": reason, "repaired": False})


def scrubbed_exception(exc: BaseException, secrets: Sequence[str] = ()) -> BaseException:
    """``exc`` with every secret scrubbed from its message (its ``args``) and from a provider ``body`` it carries.

    Changed in place, so its type (and ``status_code``, ``retry_after``) is kept for whoever catches it; its
    cause and context are dropped, as they may hold the unscrubbed text."""
    exc.args = tuple(scrub(a, secrets) if isinstance(a, str) else a for a in exc.args)
    if isinstance(getattr(exc, "body", None), (str, dict, list)):
        exc.body = scrub_data(exc.body, secrets)  # type: ignore[attr-defined]
    exc.__cause__ = exc.__context__ = None
    exc.__suppress_context__ = True
    return exc


def _excerpt(text: str, limit: int = 300) -> str:
    flat = " ".join(text.split())
    return flat[:limit] + ("..." if len(flat) > limit else "")


# -- the cache --------------------------------------------------------------------------------------------------------


def read_cache_entry(path: Path) -> tuple[list[float], dict[str, Any]] | None:
    """The scores (NaN for null) and details of a cached verdict, or None when absent or unreadable.

    The details are scrubbed of secrets: an entry written before judges' replies were scrubbed may hold a key."""
    try:
        entry = json.loads(path.read_text(encoding="utf-8"))
        if entry.get("schema") != CACHE_SCHEMA_VERSION:
            return None
        scores = [math.nan if entry["scores"][d] is None else float(entry["scores"][d]) for d in DIMENSIONS]
        detail = entry["detail"]
        if not isinstance(detail, dict):
            return None
        return scores, scrub_data(detail)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None  # a damaged entry is judged again and rewritten


def write_cache_entry(path: Path, fields: dict[str, Any], scores: list[float], detail: dict[str, Any]) -> None:
    """Store a verdict; every string in it (the prompt in ``fields``, the judge's words in ``detail``) scrubbed."""
    entry = {
        "schema": CACHE_SCHEMA_VERSION,
        "key_fields": fields,
        "scores": {d: (v if math.isfinite(v) else None) for d, v in zip(DIMENSIONS, scores, strict=True)},
        "detail": detail,
    }
    atomic_write_json(path, scrub_data(entry))


# -- OpenAI-compatible Chat Completions -------------------------------------------------------------------------------


class OpenAIJudge(VlmJudge):
    """``vlm-judge-openai``: evenly sampled frames and the input image through Chat Completions.

    API references:
      https://platform.openai.com/docs/api-reference/chat/create   (request and ChatCompletion response)
      https://platform.openai.com/docs/guides/vision               (image_url content parts, base64 data URLs)
      https://platform.openai.com/docs/guides/structured-outputs   (JSON mode: response_format json_object; the
                                                                    messages must ask for JSON themselves)
      https://docs.vllm.ai/en/latest/features/multimodal_inputs.html  (vLLM's OpenAI-compatible server: image_url
                                                                    parts, base64 data URLs, --limit-mm-per-prompt)
      https://docs.sglang.io/basic_usage/openai_api_vision.html    (SGLang: the same API for Qwen2.5-VL)
      https://lmdeploy.readthedocs.io/en/latest/multi_modal/internvl.html  (lmdeploy api_server for InternVL)

      POST {OPENAI_BASE_URL}/chat/completions   (the base includes /v1, as the OpenAI SDK has it)
           {model, temperature: 0, response_format: {type: "json_object"},
            messages: [{role: "system", content: rubric},
                       {role: "user", content: [{type: "text", text}, {type: "image_url",
                                                 image_url: {url: "data:image/png;base64,..."}}, ...]},
                       ({role: "assistant", content: bad reply}, {role: "user", content: repair request})]}
           -> {choices: [{message: {role, content, refusal}, finish_reason: "stop"|"length"|"content_filter"}]}

    Every request carries ``Authorization: Bearer <OPENAI_API_KEY>`` (none for a keyless self-hosted server).
    A server that rejects ``response_format`` (HTTP 400/422 naming it) is asked again without it, and is not sent
    it again by this scorer: the strict parser and the repair request do not depend on it.
    """

    name: ClassVar[str] = "vlm-judge-openai"
    provider: ClassVar[str] = "openai"
    base_url_env: ClassVar[str] = "OPENAI_BASE_URL"
    default_base_url: ClassVar[str] = "https://api.openai.com/v1"
    key_envs: ClassVar[tuple[str, ...]] = ("OPENAI_API_KEY",)
    default_model: ClassVar[str] = "gpt-4o-mini"

    def __init__(
        self,
        model: str | None = None,
        *,
        frames: int = 8,
        max_side: int = 768,
        image_format: ImageFormat = "png",
        json_mode: bool = True,
        max_tokens: int | None = None,
        cache_dir: str | Path | None = None,
        max_concurrency: int | None = None,
        base_url: str | None = None,
        request_timeout_s: float | None = None,
    ) -> None:
        """``frames``: sampled from the video, first and last included (the input image is sent besides).
        ``max_side``: images are shrunk to at most this many pixels on their longer side (768 is the short side
        OpenAI's high-detail mode scales to). ``image_format``: "png" (lossless, default) or "jpeg" (smaller).
        ``json_mode``: send ``response_format: json_object``. ``max_tokens``: a reply length cap, not sent when
        None (o-series and newer OpenAI models refuse ``max_tokens``)."""
        super().__init__(
            model,
            cache_dir=cache_dir,
            max_concurrency=max_concurrency,
            base_url=base_url,
            request_timeout_s=request_timeout_s,
        )
        if not isinstance(frames, int) or frames < 2:
            raise JudgeOptionError(f"{self.name}: frames must be at least 2 (the first and the last), got {frames!r}")
        if not isinstance(max_side, int) or max_side < 16:
            raise JudgeOptionError(f"{self.name}: max_side must be at least 16 pixels, got {max_side!r}")
        if image_format not in ("png", "jpeg"):
            raise JudgeOptionError(f"{self.name}: image_format must be 'png' or 'jpeg', got {image_format!r}")
        if max_tokens is not None and max_tokens < 1:
            raise JudgeOptionError(f"{self.name}: max_tokens must be at least 1, got {max_tokens}")
        self.frames, self.max_side, self.image_format = frames, max_side, image_format
        self.json_mode, self.max_tokens = json_mode, max_tokens

    def auth_headers(self, key: str | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {key}"} if key else {}

    def media_config(self) -> dict[str, Any]:
        return {"frames": self.frames, "max_side": self.max_side, "image_format": self.image_format}

    def _image_part(self, data: bytes) -> dict[str, Any]:
        return {"type": "image_url", "image_url": {"url": f"data:image/{self.image_format};base64,{b64(data)}"}}

    def build_media(self, item: ScoreItem) -> Media:
        frames, count, fps = sampled_frames(item.video_path, self.frames)
        parts: list[dict[str, Any]] = [
            {"type": "text", "text": "The input image the video model was given:"},
            self._image_part(read_input_image(item.first_frame, self.max_side, self.image_format)),
            {
                "type": "text",
                "text": f"{len(frames)} frames sampled evenly from its video ({count} frames), first to last:",
            },
        ]
        for number, (index, frame) in enumerate(frames, start=1):
            when = f", {index / fps:.2f} s" if fps else ""
            parts.append({"type": "text", "text": f"Frame {number} of {len(frames)} (frame {index}{when}):"})
            parts.append(self._image_part(encode_image(frame, self.max_side, self.image_format)))
        return Media(parts, {"frames_sent": len(frames), "video_frames": count})

    def request(self, system: str, user_text: str, media: Media, turns: Sequence[Turn]) -> HttpCall:
        messages: list[dict[str, Any]] = [
            {"role": "system", "content": system},
            {"role": "user", "content": [{"type": "text", "text": user_text}, *media.parts]},
            *({"role": turn.role, "content": turn.text} for turn in turns),
        ]
        body: dict[str, Any] = {"model": self.model, "messages": messages, "temperature": 0}
        if self.json_mode:
            body["response_format"] = {"type": "json_object"}
        if self.max_tokens is not None:
            body["max_tokens"] = self.max_tokens
        return HttpCall("POST", "chat/completions", json=body)

    async def ask(self, http: ApiHttp, call: HttpCall) -> Reply:
        try:
            return await super().ask(http, call)
        except HttpStatusError as exc:
            if not (self.json_mode and exc.status_code in (400, 422) and "response_format" in str(exc)):
                raise
        # This server has no JSON mode: ask without it, now and for the rest of this scorer's life.
        self.json_mode = False
        body = {k: v for k, v in call.json.items() if k != "response_format"}
        return await super().ask(http, HttpCall(call.method, call.url, json=body))

    def read_reply(self, body: Any) -> Reply:
        choices = body.get("choices") if isinstance(body, dict) else None
        if not choices or not isinstance(choices[0], dict):
            return Reply("")  # no answer at all: treated as an unusable reply (repaired once)
        choice = choices[0]
        message = choice.get("message")
        if not isinstance(message, dict):
            return Reply("")
        if message.get("refusal"):
            return Reply(refusal=f"the judge refused: {message['refusal']}")
        if choice.get("finish_reason") == "content_filter":
            return Reply(
                refusal="the reply was withheld by the provider's content filter (finish_reason content_filter)"
            )
        content = message.get("content")
        if isinstance(content, list):  # some servers answer with content parts
            content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
        return Reply(content if isinstance(content, str) else "")


# -- Gemini generateContent -------------------------------------------------------------------------------------------

# Candidate.finishReason values that mean the reply was stopped for its content: a refusal, not a format problem.
GEMINI_REFUSALS = frozenset({"SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY"})
GEMINI_MAX_FPS = 24.0  # VideoMetadata.fps is in (0, 24]


class GeminiJudge(VlmJudge):
    """``vlm-judge-gemini``: the mp4 itself and the input image through the Gemini API's generateContent.

    API references:
      https://ai.google.dev/api/generate-content                 (generateContent request, GenerateContentResponse:
                                                                  candidates[].finishReason, promptFeedback.blockReason)
      https://ai.google.dev/gemini-api/docs/video-understanding  (inline video data for small files; the default
                                                                  sampling of 1 frame per second; videoMetadata.fps)
      https://ai.google.dev/gemini-api/docs/structured-output    (generationConfig.responseMimeType application/json)
      https://ai.google.dev/api                                  (the x-goog-api-key header)

      POST {GEMINI_BASE_URL}/v1beta/models/{model}:generateContent
           {systemInstruction: {parts: [{text: rubric}]},
            contents: [{role: "user", parts: [{text}, {inlineData: {mimeType: "image/png", data}}, {text},
                                              {inlineData: {mimeType: "video/mp4", data}, videoMetadata: {fps}}]},
                       ({role: "model", parts: [{text: bad reply}]}, {role: "user", parts: [{text: repair}]})],
            generationConfig: {temperature: 0, responseMimeType: "application/json"}}
           -> {candidates: [{content: {parts: [{text}], role: "model"}, finishReason}],
               promptFeedback: {blockReason}}   (no candidates when the prompt itself was blocked)

    The key (``GEMINI_API_KEY``, else ``GOOGLE_API_KEY``) travels in ``x-goog-api-key``. The base URL has no
    version (``GEMINI_BASE_URL``, default ``https://generativelanguage.googleapis.com``); paths add ``/v1beta``.

    Inline data is for small requests: a video whose request would exceed ``max_request_mb`` (20 MB by default,
    the limit the video guide gives for inline data; base64 counts 4/3 of the file) scores NaN with the reason,
    unsent (the Files API upload is not implemented). Gemini samples a video at 1 frame per second unless told
    otherwise, which would show a 2-second puzzle video as two frames: ``fps`` is set so that about ``frames``
    frames are seen (at most 24 per second), or given explicitly.
    """

    name: ClassVar[str] = "vlm-judge-gemini"
    provider: ClassVar[str] = "gemini"
    base_url_env: ClassVar[str] = "GEMINI_BASE_URL"
    default_base_url: ClassVar[str] = "https://generativelanguage.googleapis.com"
    key_envs: ClassVar[tuple[str, ...]] = ("GEMINI_API_KEY", "GOOGLE_API_KEY")
    default_model: ClassVar[str] = "gemini-2.5-flash"

    def __init__(
        self,
        model: str | None = None,
        *,
        frames: int = 16,
        fps: float | None = None,
        max_side: int = 768,
        max_request_mb: float = 20.0,
        json_mode: bool = True,
        cache_dir: str | Path | None = None,
        max_concurrency: int | None = None,
        base_url: str | None = None,
        request_timeout_s: float | None = None,
    ) -> None:
        """``frames``: about how many frames Gemini should sample from the video (sets ``fps`` from the video's
        length). ``fps``: a fixed sampling rate instead, in (0, 24]. ``max_side``: the input image's longest side.
        ``max_request_mb``: the inline request size limit. ``json_mode``: send ``responseMimeType``."""
        super().__init__(
            model,
            cache_dir=cache_dir,
            max_concurrency=max_concurrency,
            base_url=base_url,
            request_timeout_s=request_timeout_s,
        )
        if not isinstance(frames, int) or frames < 2:
            raise JudgeOptionError(f"{self.name}: frames must be at least 2, got {frames!r}")
        if fps is not None and not 0 < fps <= GEMINI_MAX_FPS:
            raise JudgeOptionError(f"{self.name}: fps must be in (0, {GEMINI_MAX_FPS:g}], got {fps}")
        if not isinstance(max_side, int) or max_side < 16:
            raise JudgeOptionError(f"{self.name}: max_side must be at least 16 pixels, got {max_side!r}")
        if max_request_mb <= 0:
            raise JudgeOptionError(f"{self.name}: max_request_mb must be positive, got {max_request_mb}")
        self.frames, self.fps, self.max_side = frames, fps, max_side
        self.max_request_mb, self.json_mode = max_request_mb, json_mode

    def auth_headers(self, key: str | None) -> dict[str, str]:
        return {"x-goog-api-key": key} if key else {}

    def media_config(self) -> dict[str, Any]:
        return {"frames": self.frames, "fps": self.fps, "max_side": self.max_side, "image_format": "png"}

    def too_large(self, item: ScoreItem) -> str | None:
        size = item.video_path.stat().st_size
        encoded = 4 * math.ceil(size / 3)
        limit = self.max_request_mb * 1024 * 1024
        if encoded > limit:
            return (
                f"the video is {size / 1e6:.1f} MB ({encoded / 1e6:.1f} MB as base64), over the "
                f"{self.max_request_mb:g} MB inline request limit (max_request_mb); uploads are not implemented"
            )
        return None

    def sampling_fps(self, item: ScoreItem) -> float:
        if self.fps is not None:
            return self.fps
        duration = probe_video(item.video_path).duration_seconds
        if duration <= 0:
            return GEMINI_MAX_FPS
        return round(min(GEMINI_MAX_FPS, max(1.0, self.frames / duration)), 3)

    def build_media(self, item: ScoreItem) -> Media:
        fps = self.sampling_fps(item)
        parts: list[dict[str, Any]] = [
            {"text": "The input image the video model was given:"},
            {
                "inlineData": {
                    "mimeType": "image/png",
                    "data": b64(read_input_image(item.first_frame, self.max_side, "png")),
                }
            },
            {"text": "The video it made:"},
            {
                "inlineData": {"mimeType": "video/mp4", "data": b64(item.video_path.read_bytes())},
                "videoMetadata": {"fps": fps},
            },
        ]
        return Media(parts, {"video_fps_sampled": fps})

    def request(self, system: str, user_text: str, media: Media, turns: Sequence[Turn]) -> HttpCall:
        contents: list[dict[str, Any]] = [
            {"role": "user", "parts": [{"text": user_text}, *media.parts]},
            *({"role": "model" if t.role == "assistant" else "user", "parts": [{"text": t.text}]} for t in turns),
        ]
        config: dict[str, Any] = {"temperature": 0}
        if self.json_mode:
            config["responseMimeType"] = "application/json"
        body = {"systemInstruction": {"parts": [{"text": system}]}, "contents": contents, "generationConfig": config}
        return HttpCall("POST", f"v1beta/models/{self.model}:generateContent", json=body)

    def read_reply(self, body: Any) -> Reply:
        if not isinstance(body, dict):
            return Reply("")
        block = (body.get("promptFeedback") or {}).get("blockReason")
        if block:
            return Reply(refusal=f"the request was blocked (promptFeedback.blockReason {block})")
        candidates = body.get("candidates") or []
        if not candidates or not isinstance(candidates[0], dict):
            return Reply("")
        candidate = candidates[0]
        reason = candidate.get("finishReason")
        if reason in GEMINI_REFUSALS:
            return Reply(refusal=f"the reply was stopped for its content (finishReason {reason})")
        parts = (candidate.get("content") or {}).get("parts") or []
        # Thinking models may add thought summaries as parts marked "thought": they are not the answer.
        return Reply("".join(p.get("text", "") for p in parts if isinstance(p, dict) and not p.get("thought")))

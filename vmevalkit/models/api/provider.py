"""What a provider module describes, and the wrapper every API model shares.

A provider is a *service* class: it names its base URL variable and keys, and
turns a ``VideoRequest`` into ``HttpCall``s and provider JSON into a
``JobStatus``. It sends nothing itself; ``jobs.run_job`` does, through
``ApiHttp``, with the same retries, polling and download for every provider.

A provider also says how a job can be found again when the answer to its submit
was lost (``find_job``: by a client-supplied id, or in a list by what was sent),
and which HTTP statuses of a submit prove that no job was made
(``not_created_statuses``). See ``jobs`` for the rule that uses them.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Literal

from vmevalkit.models.api.inputs import PreparedImage
from vmevalkit.settings import Settings, get_settings
from vmevalkit.utils.http import ApiError, HttpCall, MissingKeyError

JobState = Literal["queued", "running", "succeeded", "failed", "cancelled"]
# What a lookup for a job with a lost submit answer found: the job, proof that none exists, or neither.
Found = Literal["found", "absent", "unknown"]
# Submit statuses that mean "refused, nothing was created" for every provider (RFC 9110 client errors
# about the request itself, and 429). Other 4xx (408, 409, ...) and every 5xx are ambiguous.
NOT_CREATED = frozenset({400, 401, 402, 403, 404, 405, 411, 413, 414, 415, 422, 429, 431})
# A provider's clock and ours may disagree: a job made by our submit may carry an earlier time.
CLOCK_SKEW_S = 300.0


class ProviderJobFailed(ApiError):
    """The provider finished the job as failed (moderation, invalid input, ...): final."""


@dataclass(frozen=True)
class JobStatus:
    state: JobState
    raw: str = ""  # the provider's own status word, for metadata
    video_url: str | None = None
    error: str | None = None
    progress: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # e.g. a file id for a further hop

    @property
    def done(self) -> bool:
        return self.state in ("succeeded", "failed", "cancelled")


@dataclass(frozen=True)
class VideoRequest:
    """Everything a provider needs for one video. Holds no key."""

    model_id: str
    prompt: str
    image: PreparedImage
    duration: float
    aspect_ratio: str
    seed: int | None = None  # None when the model takes no seed
    resolution: str | None = None
    image_url: str | None = None  # set when the provider needs a URL rather than inline data
    params: dict[str, Any] = field(default_factory=dict)  # provider-specific, from the catalog and --param
    idempotency_key: str | None = None


@dataclass(frozen=True)
class SubmitAttempt:
    """What identifies one submit whose answer was lost, for ``ApiProvider.find_job``. Holds no secret."""

    key: str  # the idempotency key / client-supplied id sent with it
    fingerprint: str | None  # ``ApiProvider.fingerprint`` of the submit call
    started_at: float  # wall-clock time (epoch seconds) when the request went out


def digest(value: Any) -> str:
    """A stable sha256 of JSON-like data: what a fingerprint is made of (no URL or key in clear)."""
    return hashlib.sha256(json.dumps(value, sort_keys=True, separators=(",", ":"), default=str).encode()).hexdigest()


def epoch(value: Any) -> float | None:
    """A provider's timestamp (ISO 8601, or Unix seconds / milliseconds) as epoch seconds."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value) / (1000 if value > 1e11 else 1)
    if isinstance(value, str) and value:
        text = value.strip().replace("Z", "+00:00")
        if "." in text:  # Python < 3.11 parses exactly 3 or 6 fractional digits; providers send 1 to 9
            head, _, tail = text.partition(".")
            digits = len(tail) - len(tail.lstrip("0123456789"))
            text = f"{head}.{tail[:digits][:6].ljust(6, '0')}{tail[digits:]}"
        try:
            return datetime.fromisoformat(text).timestamp()
        except ValueError:
            return None
    return None


class ApiProvider:
    """Base class of provider descriptions. Subclasses set the class attributes and build calls."""

    name: ClassVar[str]
    base_url_env: ClassVar[str]  # e.g. "RUNWAYML_BASE_URL": gateways, proxies and tests override it
    default_base_url: ClassVar[str]
    key_env: ClassVar[tuple[str, ...]] = ()  # keys read for authentication
    needs_image_url: ClassVar[bool] = False  # True when the API takes an image URL, not inline data
    accepts_data_url: ClassVar[bool] = True  # whether that URL may be a data: URL
    idempotency_header: ClassVar[str | None] = None  # sent on submit where the API documents one
    not_created_statuses: ClassVar[frozenset[int]] = NOT_CREATED  # submit statuses that prove no job was made
    finds_jobs: ClassVar[bool] = False  # True when ``find_job`` can look for a job with a lost submit answer
    image_format: ClassVar[str] = "PNG"

    def __init__(self, model: str, **args: Any) -> None:
        self.model = model
        self.args = args  # catalog defaults, e.g. {"enhance_prompt": False}

    # -- configuration ----------------------------------------------------------

    def base_url(self, settings: Settings | None = None) -> str:
        settings = settings or get_settings()
        return (settings.value(self.base_url_env) or self.default_base_url).rstrip("/")

    def key(self, name: str, settings: Settings | None = None) -> str:
        secret = (settings or get_settings()).secret(name)
        if secret is None:
            raise MissingKeyError(f"Set {name} in .env to use {self.name} models")
        return secret.get_secret_value()

    def auth_headers(self, settings: Settings) -> dict[str, str]:
        """Headers that authenticate a request; sent only to the provider's own host."""
        return {}

    def secrets(self, settings: Settings) -> tuple[str, ...]:
        """Every secret value this provider uses, so messages can be scrubbed of them."""
        values = (settings.secret(k) for k in self.key_env)
        return tuple(v.get_secret_value() for v in values if v is not None)

    # -- the job, as HTTP calls -------------------------------------------------------

    async def upload_image(self, http: Any, image: PreparedImage) -> str | None:
        """The provider's own upload endpoint, where it has one: returns a URL for the image."""
        return None

    def submit(self, request: VideoRequest) -> HttpCall:
        raise NotImplementedError

    def job_id(self, body: Any) -> str:
        """The job id in the submit response."""
        raise NotImplementedError

    def poll(self, job_id: str) -> HttpCall:
        raise NotImplementedError

    def status(self, body: Any) -> JobStatus:
        """Read the poll response. Queued and throttled are states, not errors."""
        raise NotImplementedError

    async def video_call(self, http: Any, job_id: str, status: JobStatus) -> HttpCall:
        """The request that downloads the finished video (override for multi-hop APIs)."""
        if not status.video_url:
            raise ProviderJobFailed(f"{self.name} reported success for job {job_id} but gave no video URL")
        return HttpCall("GET", status.video_url)  # ApiHttp adds the key only on the provider's own host

    def fingerprint(self, call: HttpCall) -> str | None:
        """A digest of what a submit sends, for ``find_job`` to recognise the job in a list
        (the submit body may hold a presigned URL: only its digest is recorded)."""
        return None

    async def find_job(self, http: Any, attempt: SubmitAttempt) -> tuple[Found, str | None]:
        """Look for the job a submit may have made although its answer was lost.

        ``("found", job_id)``; ``("absent", None)`` only where the API's answer proves that no
        such job exists (then the submit is sent again, with the same key); ``("unknown", None)``
        otherwise. Only reads: never submits. Providers that can look set ``finds_jobs``.
        """
        return "unknown", None

    def cancel(self, job_id: str) -> HttpCall | None:
        """How to cancel a job, where the API allows it."""
        return None

    def check(self, body: Any) -> None:
        """Raise for errors that arrive inside a successful HTTP response (e.g. MiniMax's base_resp).

        Runs inside the retry loop: raise ``TransientHttpError`` to retry (status_code=429 also
        pauses the provider), another ``ApiError`` to fail. On a submit, a 429 or a permanent
        ``ApiError`` says the job was not created; any other transient error leaves it in doubt.
        """

    def classify_error(self, status_code: int, body: Any) -> None:
        """Override the default reading of an HTTP error (429/5xx retried, other 4xx final).

        E.g. an HTTP 429 that means "out of credit" is final: raise ``HttpStatusError`` or
        ``ApiError``. Return to keep the default.
        """


def run_coroutine(coro: Any) -> Any:
    """Run ``coro`` to completion from synchronous code (a wrapper's ``generate``)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    raise RuntimeError("call generate_async() from async code; generate() is for synchronous callers")

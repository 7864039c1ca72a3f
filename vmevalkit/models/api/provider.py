"""What a provider module describes, and the wrapper every API model shares.

A provider is a *service* class: it names its base URL variable and keys, and
turns a ``VideoRequest`` into ``HttpCall``s and provider JSON into a
``JobStatus``. It sends nothing itself; ``jobs.run_job`` does, through
``ApiHttp``, with the same retries, polling and download for every provider.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from vmevalkit.models.api.http import ApiError, HttpCall
from vmevalkit.models.api.inputs import PreparedImage
from vmevalkit.settings import Settings, get_settings

JobState = Literal["queued", "running", "succeeded", "failed", "cancelled"]


class MissingKeyError(ApiError):
    """A key the provider needs is not set. The message names it, never a value."""


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


class ApiProvider:
    """Base class of provider descriptions. Subclasses set the class attributes and build calls."""

    name: ClassVar[str]
    base_url_env: ClassVar[str]  # e.g. "RUNWAYML_BASE_URL": gateways, proxies and tests override it
    default_base_url: ClassVar[str]
    key_env: ClassVar[tuple[str, ...]] = ()  # keys read for authentication
    needs_image_url: ClassVar[bool] = False  # True when the API takes an image URL, not inline data
    accepts_data_url: ClassVar[bool] = True  # whether that URL may be a data: URL
    idempotency_header: ClassVar[str | None] = None  # sent on submit where the API documents one
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

    def cancel(self, job_id: str) -> HttpCall | None:
        """How to cancel a job, where the API allows it."""
        return None

    def check(self, body: Any) -> None:
        """Raise for errors that arrive inside a successful HTTP response (e.g. MiniMax's base_resp).

        Runs inside the retry loop: raise ``TransientHttpError`` to retry (status_code=429 also
        pauses the provider), another ``ApiError`` to fail.
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

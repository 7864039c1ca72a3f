"""One HTTP client for every provider: timeouts, retries, rate limits, downloads.

Retries are declared once (tenacity): exponential backoff with jitter on
network errors, 5xx and 429, honouring ``Retry-After`` / ``retry-after-ms``.
A 429 also pauses every request to that provider for the time it asked, so a
rate limit slows the provider down instead of failing jobs. Requests are
described by ``HttpCall`` and rebuilt for every attempt, multipart included.

Those retries are for requests that are safe to repeat (polls, lookups,
downloads, uploads). A submit creates a paid job, so it is sent with
``send_once`` and ``jobs`` decides from the error what may follow: ``NotSent``
says the request provably never left this machine (connect, DNS, TLS or pool
errors), so sending it again cannot make a second job.

Every text a provider sends back passes ``scrub`` (``vmevalkit.utils.redact``)
before it goes into an error message.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar

import httpx
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception

from vmevalkit.utils.atomic import atomic_path
from vmevalkit.utils.redact import scrub, scrub_data

MAX_REDIRECTS = 5
ABSOLUTE_URL = ("http://", "https://")  # a call's url starting so is used as is; any other is a path on base_url

T = TypeVar("T")

# (field name, (filename, bytes, content type)) — httpx's multipart "files" shape
MultipartFile = tuple[str, tuple[str, bytes, str]]


@dataclass(frozen=True)
class HttpCall:
    """A request as data: safe to rebuild and resend on every retry. Never holds a key."""

    method: str
    url: str
    json: Any = None
    data: Mapping[str, str] | None = None
    files: tuple[MultipartFile, ...] = ()
    params: Mapping[str, str] | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    authenticated: bool = True  # False for pre-signed result URLs on other hosts


class ApiError(RuntimeError):
    """Base of every error the API layer raises. Messages never contain secrets."""

    permanent = True


class MissingKeyError(ApiError):
    """A key the provider needs is not set. The message names it, never a value."""


class BadDownload(Exception):
    """Raised by a download's ``check``: the file is complete but not what was asked for (says why)."""


class TransientHttpError(ApiError):
    """A failure worth retrying: network trouble, 5xx, 429, a truncated body."""

    permanent = False

    def __init__(self, message: str, retry_after: float | None = None, status_code: int | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.status_code = status_code


class NotSent(TransientHttpError):
    """The request never reached the provider (no connection was made): sending it again is safe."""


class HttpStatusError(ApiError):
    """A 4xx the provider will answer the same way again (bad input, bad key, not found)."""

    def __init__(self, message: str, status_code: int, body: Any = None) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.body = body


def parse_retry_after(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds to wait, from ``retry-after-ms`` or ``Retry-After`` (seconds or an HTTP date)."""
    lowered = {k.lower(): v for k, v in headers.items()}
    with contextlib.suppress(ValueError):
        if "retry-after-ms" in lowered:
            return max(0.0, float(lowered["retry-after-ms"]) / 1000)
    value = lowered.get("retry-after")
    if value is None:
        return None
    with contextlib.suppress(ValueError):
        return max(0.0, float(value))
    with contextlib.suppress(TypeError, ValueError):
        when = email.utils.parsedate_to_datetime(value).timestamp()
        return max(0.0, when - (time.time() if now is None else now))
    return None


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:  # not JSON (or empty): hooks see None
        return None


def _excerpt(response: httpx.Response, limit: int = 300) -> str:
    with contextlib.suppress(Exception):
        text = response.text.strip().replace("\n", " ")
        return text[:limit] + ("..." if len(text) > limit else "")
    return ""


@dataclass
class RetryPolicy:
    attempts: int = 5  # for 5xx and network errors
    base_delay: float = 1.0
    max_delay: float = 60.0
    # 429s do not use up attempts: they are retried until this many seconds have passed.
    rate_limit_budget_s: float = 600.0


class ProviderLimiter:
    """Per-provider concurrency and a shared pause after a 429."""

    def __init__(self, max_in_flight: int) -> None:
        self.slots = asyncio.Semaphore(max_in_flight)
        self.paused_until = 0.0

    def pause(self, seconds: float) -> None:
        self.paused_until = max(self.paused_until, time.monotonic() + seconds)

    async def wait_if_paused(self) -> None:
        while (delay := self.paused_until - time.monotonic()) > 0:
            await asyncio.sleep(delay)


class ApiHttp:
    """Sends ``HttpCall``s for one provider through a shared ``httpx.AsyncClient``."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        provider: str,
        base_url: str,
        auth_headers: Mapping[str, str] | Callable[[], Mapping[str, str]],
        limiter: ProviderLimiter | None = None,
        retry: RetryPolicy | None = None,
        secrets: tuple[str, ...] | Callable[[], tuple[str, ...]] = (),
        check: Callable[[Any], None] | None = None,
        classify: Callable[[int, Any], None] | None = None,
    ) -> None:
        """``auth_headers`` and ``secrets`` may be callables, read per request: tokens that expire
        (Kling's JWTs) are renewed and scrubbed. ``check(body)`` runs on every successful JSON
        response and ``classify(status, body)`` on every error response, both inside the retry
        loop: raising ``TransientHttpError`` there retries (status 429 also pauses the provider),
        raising another ``ApiError`` fails for good, returning falls through to the defaults.
        """
        self.client = client
        self.provider = provider
        self.base_url = base_url.rstrip("/")
        self._auth_headers = auth_headers
        self.limiter = limiter or ProviderLimiter(1_000_000)
        self.retry = retry or RetryPolicy()
        self._secrets = secrets
        self._check = check
        self._classify_hook = classify

    def url(self, path_or_url: str) -> str:
        if path_or_url.startswith(ABSOLUTE_URL):
            return path_or_url
        return f"{self.base_url}/{path_or_url.lstrip('/')}"

    def _secret_values(self) -> tuple[str, ...]:
        return self._secrets() if callable(self._secrets) else self._secrets

    def scrub(self, text: str) -> str:
        """Remove any secret from a provider's text before it can reach a log, a record or the terminal:
        every secret-named variable of the environment and ``.env``, run-time tokens, and this provider's keys."""
        return scrub(text, self._secret_values())

    def scrub_data(self, value: Any) -> Any:
        """``scrub`` for parsed JSON: every string in it."""
        return scrub_data(value, self._secret_values())

    @cached_property
    def _own_netloc(self) -> bytes:
        # Parsed on first use, then kept: the host of every absolute URL and redirect is compared with it.
        return httpx.URL(self.base_url).netloc

    def _is_own_host(self, url: str) -> bool:
        return httpx.URL(url).netloc == self._own_netloc

    def _build(self, call: HttpCall) -> httpx.Request:
        url = self.url(call.url)
        # Keys go only to the provider's own host: never to a CDN or a presigned result URL. A path
        # (the common case: every submit and poll) is joined to the base URL, so it needs no parsing.
        own_host = not call.url.startswith(ABSOLUTE_URL) or self._is_own_host(url)
        auth = self._auth_headers() if callable(self._auth_headers) else self._auth_headers
        headers = {**(auth if call.authenticated and own_host else {}), **call.headers}
        return self.client.build_request(
            call.method,
            url,
            json=call.json,
            data=dict(call.data) if call.data is not None else None,
            files=list(call.files) or None,
            params=dict(call.params) if call.params is not None else None,
            headers=headers,
        )

    def _where(self, call: HttpCall) -> str:
        return f"{self.provider} {call.method} {httpx.URL(self.url(call.url)).path}"

    def _classify(self, call: HttpCall, response: httpx.Response, stream: bool) -> None:
        body = None if stream else _json_or_none(response)
        if response.status_code < 400:
            if self._check is not None and body is not None:
                self._run_hook(call, self._check, body)
            return
        if self._classify_hook is not None and not stream:
            self._run_hook(call, self._classify_hook, response.status_code, body)
        where = self._where(call)
        detail = self.scrub(_excerpt(response))
        if response.status_code == 429 or response.status_code >= 500 or response.status_code == 408:
            raise TransientHttpError(
                f"{where}: HTTP {response.status_code} {detail}".strip(),
                retry_after=parse_retry_after(response.headers),
                status_code=response.status_code,
            )
        raise HttpStatusError(f"{where}: HTTP {response.status_code} {detail}".strip(), response.status_code, body)

    def _run_hook(self, call: HttpCall, hook: Callable[..., None], *args: Any) -> None:
        """A provider hook; its errors are named after the request and scrubbed of secrets."""
        try:
            hook(*args)
        except TransientHttpError as exc:
            raise TransientHttpError(
                self.scrub(f"{self._where(call)}: {exc}"), retry_after=exc.retry_after, status_code=exc.status_code
            ) from None
        except ApiError as exc:
            raise type(exc)(self.scrub(str(exc))) from None

    def backoff(self, attempt_number: int, exc: BaseException | None) -> float:
        """Seconds before the next attempt: the provider's ``Retry-After`` when it sent one, else
        exponential backoff with full jitter, which spreads retries of many jobs apart."""
        if isinstance(exc, TransientHttpError) and exc.retry_after is not None:
            return min(exc.retry_after, self.retry.max_delay)
        ceiling = min(self.retry.max_delay, self.retry.base_delay * 2 ** (attempt_number - 1))
        return random.uniform(0, ceiling)

    def _wait(self, state: RetryCallState) -> float:
        return self.backoff(state.attempt_number, state.outcome.exception() if state.outcome else None)

    def _stop(self, started: float) -> Any:
        # Counted here, not with tenacity's attempt number, which counts the 429s too: a 429 must not
        # use up an attempt that a later 5xx or dropped connection needs.
        failures = 0

        def stop(state: RetryCallState) -> bool:
            nonlocal failures
            exc = state.outcome.exception() if state.outcome else None
            if isinstance(exc, TransientHttpError) and exc.status_code == 429:
                return time.monotonic() - started > self.retry.rate_limit_budget_s
            failures += 1
            return failures >= self.retry.attempts

        return stop

    async def _send_following_redirects(self, call: HttpCall, stream: bool) -> httpx.Response:
        """Send, following redirects by hand: httpx keeps custom key headers (``x-goog-api-key``)
        across hosts, so every hop is rebuilt by ``_build``, which adds keys for the own host only."""
        current = call
        for _ in range(MAX_REDIRECTS + 1):
            try:
                response = await self.client.send(self._build(current), stream=stream, follow_redirects=False)
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                # No connection was made (refused, DNS, TLS handshake, no free connection): nothing was sent.
                raise NotSent(f"{self.provider} {call.method}: not sent: {type(exc).__name__}") from None
            except httpx.TransportError as exc:  # read/write timeouts, resets, dropped connections
                raise TransientHttpError(
                    f"{self.provider} {call.method}: network error: {type(exc).__name__}"
                ) from None
            location = response.headers.get("location")
            if not (response.is_redirect and location):
                return response
            await response.aclose()
            target = str(response.url.join(location))
            same_host = self._is_own_host(target)
            keeps_body = response.status_code in (307, 308)
            current = replace(
                current,
                method=current.method if keeps_body else "GET",
                url=target,
                params=None,  # already part of the location
                json=current.json if keeps_body else None,
                data=current.data if keeps_body else None,
                files=current.files if keeps_body else (),
                headers=current.headers if same_host else {},
            )
        raise TransientHttpError(f"{self._where(call)}: more than {MAX_REDIRECTS} redirects")

    async def _attempt(
        self, call: HttpCall, stream: bool, before_send: Callable[[], None] | None = None
    ) -> httpx.Response:
        await self.limiter.wait_if_paused()
        if before_send is not None:
            before_send()  # after any pause: right before the request goes out
        response = await self._send_following_redirects(call, stream)
        try:
            self._classify(call, response, stream)
        except TransientHttpError as exc:
            if exc.status_code == 429:
                self.limiter.pause(exc.retry_after if exc.retry_after is not None else self.retry.base_delay)
            await response.aclose()
            raise
        except ApiError:
            await response.aclose()
            raise
        return response

    def _retrying(self) -> AsyncRetrying:
        return AsyncRetrying(
            retry=retry_if_exception(lambda e: isinstance(e, TransientHttpError)),
            wait=self._wait,
            stop=self._stop(time.monotonic()),
            reraise=True,
        )

    async def send(self, call: HttpCall) -> httpx.Response:
        """Send with retries; returns a successful (< 400), fully read response."""
        async for attempt in self._retrying():
            with attempt:
                response = await self._attempt(call, stream=False)
        return response

    async def send_once(self, call: HttpCall, before_send: Callable[[], None] | None = None) -> httpx.Response:
        """Send once, without retrying: for requests that create something (a submit). Waits out a
        429 pause of the provider first, then calls ``before_send`` right before the request goes out.

        Raises what ``send`` would retry or fail on, for the caller to judge: ``NotSent`` (nothing
        left this machine), ``TransientHttpError`` (429, 5xx, a network error after connecting, or
        a transient error in the body), ``HttpStatusError`` (other 4xx) or another ``ApiError``.
        """
        return await self._attempt(call, stream=False, before_send=before_send)

    async def send_json(self, call: HttpCall) -> Any:
        response = await self.send(call)
        try:
            return response.json()
        except ValueError:
            raise TransientHttpError(
                f"{self.provider}: response is not JSON: {self.scrub(_excerpt(response))}"
            ) from None

    async def download(self, call: HttpCall, dest: Path, check: Callable[[Path], T]) -> T:
        """Stream a file into ``dest`` atomically; ``check`` (run in a worker thread, before the file is moved
        into place) reads the complete file and returns what it found, or raises ``BadDownload``: a file that
        is cut short or fails the check is downloaded again, and never left at ``dest``."""
        async for attempt in self._retrying():
            with attempt:
                return await self._download_once(call, dest, check)
        raise AssertionError("unreachable")  # pragma: no cover - tenacity re-raises

    async def _download_once(self, call: HttpCall, dest: Path, check: Callable[[Path], T]) -> T:
        response = await self._attempt(call, stream=True)
        with atomic_path(dest) as tmp:
            received = 0
            try:
                with open(tmp, "wb") as fh:
                    async for chunk in response.aiter_bytes():
                        fh.write(chunk)
                        received += len(chunk)
            except httpx.TransportError as exc:
                raise TransientHttpError(f"{self.provider}: download broke off: {type(exc).__name__}") from None
            finally:
                await response.aclose()
            expected = response.headers.get("content-length")
            if expected is not None and expected.isdigit() and received != int(expected):
                raise TransientHttpError(f"{self.provider}: download truncated ({received} of {expected} bytes)")
            try:
                return await asyncio.to_thread(check, tmp)  # e.g. a full video decode: off the event loop
            except BadDownload as exc:
                raise TransientHttpError(f"{self.provider}: downloaded file {exc}") from None

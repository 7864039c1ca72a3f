"""One paid job, from submit to a video on disk, resumable after a crash.

The order of writes is what prevents double billing. ``provider_state`` (saved
into ``metadata.json`` at once) says where a generation's paid job stands:

  1. Right before each submit request goes out (after any rate-limit pause),
     it records ``submitting: true``, the key sent with the request
     (idempotency key or client-supplied id), a fingerprint of what is sent and
     when it went out. ``submitting`` is on record only while a submit request
     is in flight, or after one whose outcome is unknown.
  2. The moment the provider answers with a job id, it records the job id and
     drops ``submitting``. A run that finds a job id polls that job; it never
     submits again.
  3. An answer that proves no job was made clears the record (``{}``) before
     anything else happens, a backoff sleep included, so a run killed while it
     waits submits normally next time. Such answers: a failure before the
     request left this machine (connect, DNS, TLS, pool timeout: retried with
     backoff), a rate limit (429, or the provider's rate-limit code in the body:
     retried after the wait it asks for), and a refusal (a status the provider
     lists in ``not_created_statuses``, 400/401/403/404/422 and the like, or a
     permanent error the provider reports in the body: final).
  4. Any other outcome is an ambiguous submission: the request may have reached
     the provider and made a job (a read timeout, a connection dropped after
     the request was sent, a 5xx from the provider or its gateway, a 2xx that is
     not JSON or has no job id). It is never sent again blindly. The provider
     looks for the job (``find_job``: its idempotency key, a client-supplied id,
     or a list matched against what was sent). Found, the job id is recorded
     (step 2) and polled. Proven absent (or the provider honours the idempotency
     key, so the same key cannot make a second job), the submit is sent again.
     Otherwise the generation fails with ``AmbiguousSubmission``, keeping
     ``submitting`` in its record: a plain re-run skips it, and only
     ``--retry-failed`` submits it anew.
A run that finds ``submitting: true`` without a job id (the previous run died
with a submit in flight) starts at step 4's lookup, before any submit.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from vmevalkit.models.api.provider import (
    ApiProvider,
    Found,
    JobStatus,
    ProviderJobFailed,
    SubmitAttempt,
    VideoRequest,
    epoch,
)
from vmevalkit.utils.http import (
    ApiError,
    ApiHttp,
    BadDownload,
    HttpCall,
    HttpStatusError,
    NotSent,
    TransientHttpError,
    parse_retry_after,
)
from vmevalkit.video import VideoError, VideoInfo, probe_video

# Looks for a job with a lost submit answer, a poll interval apart: a list may show a new job late.
RECOVERY_LOOKUPS = 3
SubmitFailure = Literal["not_sent", "rate_limited", "refused", "ambiguous"]


class AmbiguousSubmission(ApiError):
    """A submit may have made a paid job, and the provider could not tell whether it did."""


class JobTimeout(ApiError):
    """The job did not finish before the deadline (it was cancelled where the API allows)."""


class _NoJobId(ApiError):
    """The provider accepted a submit (2xx) but its answer names no job."""


@dataclass(frozen=True)
class JobOutcome:
    job_id: str
    video: VideoInfo
    status: JobStatus
    resumed: bool
    polls: int


def poll_delay(headers: Mapping[str, str], interval: float, jitter: float = 0.2) -> float:
    """Seconds until the next poll: the provider's hint when it sends one, else the interval with jitter."""
    lowered = {k.lower(): v for k, v in headers.items()}
    with contextlib.suppress(ValueError):
        if "openai-poll-after-ms" in lowered:
            return max(0.0, float(lowered["openai-poll-after-ms"]) / 1000)
    hinted = parse_retry_after(headers)
    if hinted is not None:
        return hinted
    return interval * random.uniform(1 - jitter, 1 + jitter)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _scrubbed(http: ApiHttp, status: JobStatus) -> JobStatus:
    """A poll answer with every provider text scrubbed (the video URL is used, never recorded).

    One ``scrub_data`` over all three: the known secrets are gathered once per poll, not once per text."""
    raw, error, extra = http.scrub_data([status.raw, status.error, status.extra])
    return replace(status, raw=raw, error=error, extra=extra)


async def run_job(
    provider: ApiProvider,
    http: ApiHttp,
    request: VideoRequest,
    *,
    dest: Path,
    state: Mapping[str, Any],
    save_state: Callable[[dict[str, Any]], None],
    poll_interval: float,
    timeout: float,
) -> JobOutcome:
    """Submit (or resume) one job, poll it to the end, and download its video to ``dest``."""
    job_id: str | None = state.get("job_id")
    resumed = job_id is not None
    if job_id is None:
        job_id = await _submit(provider, http, request, state, save_state, poll_interval)

    deadline = time.monotonic() + timeout
    polls = 0
    delay = min(poll_interval, 1.0)  # a first look soon: fast jobs and resumed jobs may be done
    while True:
        await asyncio.sleep(delay)
        try:
            response = await http.send(provider.poll(job_id))  # provider.check runs inside its retries
            status = _scrubbed(http, provider.status(response.json()))
            headers: Mapping[str, str] = response.headers
        except (TransientHttpError, ValueError) as exc:
            # Retries are used up, but the job is paid for and may still finish: keep
            # polling until the deadline rather than fail and invite a second submit.
            status, headers = JobStatus("running", raw=f"poll error: {http.scrub(str(exc))}"), {}
        polls += 1
        if status.state == "succeeded":
            break
        if status.state in ("failed", "cancelled"):
            reason = status.error or status.raw or status.state
            raise ProviderJobFailed(f"{provider.name} job {job_id} {status.state}: {reason}")
        if time.monotonic() >= deadline:
            await _cancel(provider, http, job_id)
            raise JobTimeout(
                f"{provider.name} job {job_id} not finished after {timeout:g} s (last status: {status.raw})"
            )
        delay = min(poll_delay(headers, poll_interval), max(0.0, deadline - time.monotonic()))

    # Download right away: result URLs expire.
    call = await provider.video_call(http, job_id, status)
    video = await http.download(call, dest, decodable_video(dest))
    return JobOutcome(job_id=job_id, video=video, status=status, resumed=resumed, polls=polls)


def decodable_video(dest: Path) -> Callable[[Path], VideoInfo]:
    """The download check of a result video: it decodes in full and has frames (recorded under ``dest``)."""

    def check(tmp: Path) -> VideoInfo:
        try:
            info = probe_video(tmp)
        except VideoError as exc:
            raise BadDownload(f"is not a decodable video ({exc})") from None
        if info.frame_count == 0:
            raise BadDownload("is a video with no frames")
        return info.model_copy(update={"path": str(dest)})

    return check


def submit_failure(provider: ApiProvider, exc: BaseException) -> SubmitFailure:
    """What a failed submit request says about the job it may have made (module docstring, 3 and 4)."""
    if isinstance(exc, NotSent):
        return "not_sent"
    if isinstance(exc, TransientHttpError):
        return "rate_limited" if exc.status_code == 429 else "ambiguous"  # 5xx, network error after sending
    if isinstance(exc, HttpStatusError):
        return "refused" if exc.status_code in provider.not_created_statuses else "ambiguous"
    if isinstance(exc, _NoJobId):
        return "ambiguous"
    if isinstance(exc, ApiError):
        return "refused"  # the provider's own error answer (check, classify_error): nothing was made
    return "ambiguous"


async def _submit(
    provider: ApiProvider,
    http: ApiHttp,
    request: VideoRequest,
    state: Mapping[str, Any],
    save_state: Callable[[dict[str, Any]], None],
    poll_interval: float,
) -> str:
    key = str(state.get("idempotency_key") or uuid.uuid4().hex)

    def record_job(job_id: str) -> str:
        save_state({"provider": provider.name, "job_id": job_id, "idempotency_key": key, "submitted_at": _now()})
        return job_id

    if state.get("submitting"):
        # The previous run died while a submit was in flight: look before sending anything.
        earlier = SubmitAttempt(
            key=key,
            fingerprint=state.get("fingerprint"),
            started_at=epoch(state.get("submit_started_at")) or 0.0,
        )
        found = await _recover(provider, http, earlier, "an earlier run stopped while submitting", poll_interval)
        if found is not None:
            return record_job(found)

    call = provider.submit(replace(request, idempotency_key=key))
    if provider.idempotency_header:
        call = replace(call, headers={**call.headers, provider.idempotency_header: key})
    fingerprint = provider.fingerprint(call)
    failures = 0
    rate_limited_since: float | None = None
    while True:
        in_flight: list[SubmitAttempt] = []

        def mark_in_flight(in_flight: list[SubmitAttempt] = in_flight) -> None:
            attempt = SubmitAttempt(key=key, fingerprint=fingerprint, started_at=time.time())
            save_state(
                {
                    "provider": provider.name,
                    "submitting": True,
                    "idempotency_key": key,
                    "fingerprint": fingerprint,
                    "submit_started_at": datetime.fromtimestamp(attempt.started_at, timezone.utc).isoformat(),
                }
            )
            in_flight.append(attempt)  # only once it is on record does the request go out

        try:
            return record_job(await _send_submit(provider, http, call, mark_in_flight))
        except Exception as exc:
            if not in_flight:
                raise  # failed before the request went out (e.g. the record could not be written)
            attempt = in_flight[0]
            failure = submit_failure(provider, exc)
            if failure == "ambiguous":
                why = f"its submit request failed after it may have been sent ({http.scrub(str(exc))})"
                found = await _recover(provider, http, attempt, why, poll_interval)
                if found is not None:
                    return record_job(found)
            save_state({})  # this attempt made no job: nothing may exist, before any sleep
            if failure == "refused":
                raise
            if failure == "rate_limited":
                rate_limited_since = rate_limited_since or time.monotonic()
                if time.monotonic() - rate_limited_since > http.retry.rate_limit_budget_s:
                    raise
                await asyncio.sleep(http.backoff(1, exc))
                continue
            failures += 1
            if failures >= http.retry.attempts:
                raise
            await asyncio.sleep(http.backoff(failures, exc))


async def _send_submit(provider: ApiProvider, http: ApiHttp, call: HttpCall, mark_in_flight: Callable[[], None]) -> str:
    """One submit request; the job id in its answer, or an error for ``submit_failure`` to read."""
    response = await http.send_once(call, before_send=mark_in_flight)
    try:
        job_id = provider.job_id(response.json())
    except (ValueError, KeyError, TypeError, AttributeError):
        job_id = ""
    if not job_id:
        where = f"{provider.name} {call.method} {call.url}"
        raise _NoJobId(f"{where}: HTTP {response.status_code} without a job id")
    return job_id


async def _recover(
    provider: ApiProvider, http: ApiHttp, attempt: SubmitAttempt, why: str, poll_interval: float
) -> str | None:
    """The job a submit in doubt made; None when none can exist (send again); else AmbiguousSubmission."""
    if provider.idempotency_header:
        return None  # the same key goes out again: the provider answers with the job it made, if any
    found: Found = "unknown"
    job_id: str | None = None
    if provider.finds_jobs:
        for lookup in range(RECOVERY_LOOKUPS):
            if lookup:
                await asyncio.sleep(poll_interval)
            try:
                found, job_id = await provider.find_job(http, attempt)
            except (ApiError, ValueError, KeyError, TypeError, AttributeError):
                found, job_id = "unknown", None
            if found != "unknown":
                break
    if found == "found" and job_id:
        return job_id
    if found == "absent":
        return None
    looked = " and could not find it" if provider.finds_jobs else " and cannot look for it"
    raise AmbiguousSubmission(
        f"{provider.name}: {why}{looked}: a job may exist and be billed. Check the {provider.name} "
        "dashboard, then run again with --retry-failed to submit it anew"
    )


async def _cancel(provider: ApiProvider, http: ApiHttp, job_id: str) -> None:
    call = provider.cancel(job_id)
    if call is not None:
        with contextlib.suppress(ApiError):  # best effort: the timeout is what gets reported
            await http.send(call)

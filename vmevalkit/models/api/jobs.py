"""One paid job, from submit to a video on disk, resumable after a crash.

The order of writes is what prevents double billing:
  1. before the submit request, ``provider_state`` records an idempotency key
     and ``submitting: true``;
  2. right after the provider answers, it records the job id;
  3. a re-run that finds a job id polls that job instead of submitting again.
A crash between 1 and 2 leaves ``submitting`` without a job id: the job may
exist and be billed, so it is resubmitted only where the provider honours the
idempotency key, and otherwise reported instead of paid for twice.
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
from typing import Any

from vmevalkit.models.api.http import ApiError, ApiHttp, TransientHttpError, parse_retry_after
from vmevalkit.models.api.provider import ApiProvider, JobStatus, ProviderJobFailed, VideoRequest
from vmevalkit.video import VideoInfo


class AmbiguousSubmission(ApiError):
    """A crash hit between submitting and recording the job id, and the provider has no idempotency key."""


class JobTimeout(ApiError):
    """The job did not finish before the deadline (it was cancelled where the API allows)."""


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
        job_id = await _submit(provider, http, request, state, save_state)

    deadline = time.monotonic() + timeout
    polls = 0
    delay = min(poll_interval, 1.0)  # a first look soon: fast jobs and resumed jobs may be done
    while True:
        await asyncio.sleep(delay)
        try:
            response = await http.send(provider.poll(job_id))  # provider.check runs inside its retries
            status = provider.status(response.json())
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
            raise ProviderJobFailed(f"{provider.name} job {job_id} {status.state}: {http.scrub(reason)}")
        if time.monotonic() >= deadline:
            await _cancel(provider, http, job_id)
            raise JobTimeout(
                f"{provider.name} job {job_id} not finished after {timeout:g} s (last status: {status.raw})"
            )
        delay = min(poll_delay(headers, poll_interval), max(0.0, deadline - time.monotonic()))

    # Download right away: result URLs expire.
    call = await provider.video_call(http, job_id, status)
    video = await http.download(call, dest)
    return JobOutcome(job_id=job_id, video=video, status=status, resumed=resumed, polls=polls)


async def _submit(
    provider: ApiProvider,
    http: ApiHttp,
    request: VideoRequest,
    state: Mapping[str, Any],
    save_state: Callable[[dict[str, Any]], None],
) -> str:
    if state.get("submitting") and provider.idempotency_header is None:
        raise AmbiguousSubmission(
            f"an earlier run stopped while submitting this job to {provider.name}; it may exist and be billed. "
            "Check the provider's dashboard, then run again with --retry-failed to submit it anew"
        )
    key = state.get("idempotency_key") or uuid.uuid4().hex
    save_state({"provider": provider.name, "submitting": True, "idempotency_key": key})
    call = provider.submit(replace(request, idempotency_key=key))
    if provider.idempotency_header:
        call = replace(call, headers={**call.headers, provider.idempotency_header: key})
    body = await http.send_json(call)
    job_id = provider.job_id(body)
    if not job_id:
        raise ApiError(f"{provider.name} accepted the job but returned no job id")
    save_state({"provider": provider.name, "job_id": job_id, "idempotency_key": key, "submitted_at": _now()})
    return job_id


async def _cancel(provider: ApiProvider, http: ApiHttp, job_id: str) -> None:
    call = provider.cancel(job_id)
    if call is not None:
        with contextlib.suppress(ApiError):  # best effort: the timeout is what gets reported
            await http.send(call)

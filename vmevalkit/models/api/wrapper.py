"""``ApiModelWrapper``: the wrapper every API model uses, around its provider description (its service).

Catalog entries name it directly (``API_WRAPPER`` in ``vmevalkit/runner/MODEL_CATALOG.py``): a provider module only
describes its API and has no wrapper class of its own.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from PIL import Image

from vmevalkit.models.api.image_hosts import get_image_host
from vmevalkit.models.api.inputs import closest_aspect_ratio, prepare_image
from vmevalkit.models.api.jobs import run_job
from vmevalkit.models.api.provider import ApiProvider, VideoRequest, run_coroutine
from vmevalkit.models.base import GenerationResult, ModelWrapper
from vmevalkit.models.constraints import ModelConstraints
from vmevalkit.settings import Settings, get_settings
from vmevalkit.utils.http import ApiError, ApiHttp, ProviderLimiter, RetryPolicy
from vmevalkit.utils.redact import scrub

RESOLUTION_SHORT_SIDE = {"480p": 480, "540p": 540, "720p": 720, "768p": 768, "1080p": 1080}


def new_client(settings: Settings) -> httpx.AsyncClient:
    timeout = httpx.Timeout(settings.request_timeout_s, connect=min(10.0, settings.request_timeout_s))
    return httpx.AsyncClient(timeout=timeout)  # ApiHttp follows redirects itself, host by host


class ApiModelWrapper(ModelWrapper):
    """Prepares the input, runs the provider's job through the shared HTTP layer, reports the result."""

    service: ApiProvider

    @property
    def constraints(self) -> ModelConstraints:
        entry = self.catalog_entry
        return entry.constraints if entry is not None and entry.constraints else ModelConstraints()

    def make_http(self, client: httpx.AsyncClient, settings: Settings, limiter: ProviderLimiter | None) -> ApiHttp:
        service = self.service
        service.auth_headers(settings)  # a missing key fails here, before any job starts
        return ApiHttp(
            client,
            provider=service.name,
            base_url=service.base_url(settings),
            # Read per request, so expiring tokens are renewed and every issued one is scrubbed.
            auth_headers=lambda: service.auth_headers(settings),
            limiter=limiter,
            retry=RetryPolicy(attempts=settings.api_retries, base_delay=settings.api_retry_base_delay_s),
            secrets=lambda: service.secrets(settings),
            check=service.check,
            classify=service.classify_error,
        )

    def _generate(
        self, image_path: Path, text_prompt: str, duration: float, output_path: Path, **kwargs: Any
    ) -> GenerationResult:
        result: GenerationResult = run_coroutine(
            self._standalone(image_path, text_prompt, duration, output_path, kwargs)
        )
        return result

    async def _standalone(
        self, image_path: Path, text_prompt: str, duration: float, output_path: Path, kwargs: dict[str, Any]
    ) -> GenerationResult:
        settings = get_settings()
        async with new_client(settings) as client:
            return await self.generate_async(
                self.make_http(client, settings, None),
                image_path=image_path,
                prompt=text_prompt,
                duration=duration,
                output_path=output_path,
                seed=kwargs.get("seed"),
                params={k: v for k, v in kwargs.items() if k != "seed"},
                settings=settings,
            )

    async def generate_async(
        self,
        http: ApiHttp,
        *,
        image_path: Path,
        prompt: str,
        duration: float,
        output_path: Path,
        seed: int | None,
        params: dict[str, Any],
        settings: Settings,
        state: dict[str, Any] | None = None,
        save_state: Callable[[dict[str, Any]], None] | None = None,
    ) -> GenerationResult:
        """Run one job; raises ApiError (and friends) on failure, which callers turn into results.

        The boundary of the API layer for provider text: the result's metadata and the message of
        any exception leaving here are scrubbed of secrets (``ApiHttp.scrub``)."""
        try:
            return await self._run(
                http,
                image_path=image_path,
                prompt=prompt,
                duration=duration,
                output_path=output_path,
                seed=seed,
                params=params,
                settings=settings,
                state=state,
                save_state=save_state,
            )
        except Exception as exc:
            scrubbed(exc, http.scrub)
            raise

    async def _run(
        self,
        http: ApiHttp,
        *,
        image_path: Path,
        prompt: str,
        duration: float,
        output_path: Path,
        seed: int | None,
        params: dict[str, Any],
        settings: Settings,
        state: dict[str, Any] | None,
        save_state: Callable[[dict[str, Any]], None] | None,
    ) -> GenerationResult:
        started = time.monotonic()
        state = dict(state or {})

        def remember(new_state: dict[str, Any]) -> None:
            state.clear()
            state.update(new_state)
            if save_state is not None:
                save_state(new_state)

        c = self.constraints
        with Image.open(image_path) as im:
            width, height = im.size
        ratio = params.get("aspect_ratio")
        if ratio is None:
            ratio = closest_aspect_ratio(width, height, list(c.aspect_ratios)) if c.aspect_ratios else "1:1"
        resolution = params.get("resolution") or c.default_resolution
        # Decoding, scaling and encoding is CPU work: off the event loop, so polling stays on time.
        image = await asyncio.to_thread(
            prepare_image,
            image_path,
            ratio,
            short_side=RESOLUTION_SHORT_SIDE.get(resolution or ""),
            image_format=self.service.image_format,
            max_bytes=c.max_image_bytes,
        )
        image_url = None
        if self.service.needs_image_url and not state.get("job_id"):
            image_url = await self.service.upload_image(http, image)
            if image_url is None:
                image_url = await get_image_host(settings).put(image, self.service)
        extra = {k: v for k, v in {**self.service.args, **params}.items() if k not in ("aspect_ratio", "resolution")}
        request = VideoRequest(
            model_id=self.model,
            prompt=prompt,
            image=image,
            duration=duration,
            aspect_ratio=ratio,
            seed=seed if c.seed else None,
            resolution=resolution,
            image_url=image_url,
            params=extra,
        )
        outcome = await run_job(
            self.service,
            http,
            request,
            dest=output_path,
            state=state,
            save_state=remember,
            poll_interval=settings.poll_interval_s,
            timeout=settings.job_timeout_s,
        )
        return GenerationResult(
            success=True,
            video_path=str(output_path),
            generation_id=outcome.job_id,
            duration_seconds=round(time.monotonic() - started, 3),
            model=self.model,
            status="completed",
            metadata=http.scrub_data(
                {
                    "provider": self.service.name,
                    "job_id": outcome.job_id,
                    "provider_status": outcome.status.raw,
                    "resumed": outcome.resumed,
                    "polls": outcome.polls,
                    "request": {
                        "duration": duration,
                        "aspect_ratio": ratio,
                        "resolution": resolution,
                        "seed": request.seed,
                        "params": extra,
                    },
                    "input_preparation": image.preparation.model_dump(mode="json"),
                    "video": outcome.video.model_dump(exclude={"path"}),
                }
            ),
        )


def scrubbed(exc: BaseException, scrub_text: Callable[[str], str] = scrub) -> BaseException:
    """``exc`` with its message scrubbed of secrets (in place, so its type and fields stay)."""
    if exc.args:
        exc.args = tuple(scrub_text(a) if isinstance(a, str) else a for a in exc.args)
    return exc


def failure_from(model: str, exc: BaseException, state: dict[str, Any]) -> GenerationResult:
    """A failed result for an API error, keeping the job id (never a key) for the record."""
    permanent = getattr(exc, "permanent", True)
    return GenerationResult.failure(
        model,
        scrub(f"{type(exc).__name__}: {exc}"),
        generation_id=state.get("job_id"),
        metadata={"permanent": permanent},
    )


__all__ = ["ApiError", "ApiModelWrapper", "failure_from", "new_client", "scrubbed"]

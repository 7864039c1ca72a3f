"""``ApiExecutor``: many paid jobs in flight at once, each resumable.

One ``httpx.AsyncClient`` per model run, one limiter per provider shared by
all models of that provider (a per-provider concurrency cap, and a pause
after a 429 that every job of that provider honours).
"""

from __future__ import annotations

import asyncio
import weakref

import httpx

from vmevalkit.models.api.wrapper import ApiModelWrapper, failure_from, new_client
from vmevalkit.models.base import GenerationResult, ModelEntry, ModelWrapper
from vmevalkit.models.executor import Executor, GenerationJob
from vmevalkit.settings import Settings
from vmevalkit.utils.http import ApiHttp, ProviderLimiter

# asyncio primitives belong to one event loop: limiters are kept per loop.
_LIMITERS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, ProviderLimiter]] = (
    weakref.WeakKeyDictionary()
)


def provider_limiter(provider: str, max_in_flight: int) -> ProviderLimiter:
    per_loop = _LIMITERS.setdefault(asyncio.get_running_loop(), {})
    if provider not in per_loop:
        per_loop[provider] = ProviderLimiter(max_in_flight)
    return per_loop[provider]


class ApiExecutor(Executor):
    wrapper: ApiModelWrapper

    def __init__(self, entry: ModelEntry, settings: Settings, wrapper: ModelWrapper) -> None:
        if not isinstance(wrapper, ApiModelWrapper):
            raise TypeError(f"model '{entry.name}' is of kind 'api' but its wrapper is not an ApiModelWrapper")
        super().__init__(entry, settings, wrapper)
        self._client: httpx.AsyncClient | None = None
        self._http: ApiHttp | None = None
        self._limiter: ProviderLimiter | None = None

    @property
    def max_concurrency(self) -> int:
        return self.settings.provider_concurrency

    @property
    def manages_own_timeout(self) -> bool:
        return True  # run_job polls until its deadline and cancels the provider job

    async def start(self) -> None:
        self._client = new_client(self.settings)
        self._limiter = provider_limiter(self.wrapper.service.name, self.settings.provider_concurrency)
        self._http = self.wrapper.make_http(self._client, self.settings, self._limiter)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()

    async def execute(self, job: GenerationJob) -> GenerationResult:
        assert self._http is not None and self._limiter is not None, "start() first"
        state = dict(job.provider_state)

        def save_state(new_state: dict[str, object]) -> None:
            state.clear()
            state.update(new_state)
            job.save_state(new_state)

        async with self._limiter.slots:
            try:
                return await self.wrapper.generate_async(
                    self._http,
                    image_path=job.image_path,
                    prompt=job.prompt,
                    duration=job.duration,
                    output_path=job.output_path,
                    seed=job.seed,
                    params=job.params,
                    settings=self.settings,
                    state=state,
                    save_state=save_state,
                )
            except Exception as exc:  # every failure becomes a recorded result, with its job id
                return failure_from(self.entry.model, exc, state)

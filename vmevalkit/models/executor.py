"""Executors: how one model's generation jobs run, behind one async interface.

The runner owns planning, claims and records; an executor owns *how* a model runs. Each is built by the runner
(``vmevalkit.runner.executors.executor_for``) from the model's catalog entry and its wrapper, which it serves:

- ``builtin``: ``InProcessExecutor``, the wrapper runs in this process, in worker threads;
- ``api``: ``vmevalkit.models.api.executor.ApiExecutor``, jobs submitted and polled over HTTP, many at once;
- ``local``: ``vmevalkit.models.local.executor.LocalExecutor``, persistent worker subprocesses
  (``vmevalkit.workers``) in the model's own virtualenv load the pipeline once and serve many jobs.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vmevalkit.models.base import GenerationResult, ModelEntry, ModelWrapper
from vmevalkit.settings import Settings
from vmevalkit.tasks.loader import Task


@dataclass
class GenerationJob:
    """Everything a model may see for one generation. Crosses process boundaries as JSON."""

    image_path: Path
    prompt: str
    duration: float
    seed: int
    output_path: Path
    params: dict[str, Any] = field(default_factory=dict)
    # Set only for models that declare ``requires_ground_truth`` (the oracle):
    # every other model never receives the task's answer.
    ground_truth_task: Task | None = None
    # Provider state saved by an earlier, interrupted attempt (e.g. a job id).
    provider_state: dict[str, Any] = field(default_factory=dict)
    # Persist provider state (atomically, into metadata.json) the moment it exists.
    save_state: Callable[[dict[str, Any]], None] = lambda state: None
    # progress(step, total) while the model works, where it says (a local pipeline's denoising steps).
    on_progress: Callable[[int, int], None] = lambda step, total: None


class Executor(ABC):
    """Runs jobs for one model. Used as ``async with executor: await executor.execute(job)``."""

    def __init__(self, entry: ModelEntry, settings: Settings, wrapper: ModelWrapper) -> None:
        self.entry = entry
        self.settings = settings
        self.wrapper = wrapper
        # How many jobs this run will hand over, when the runner knows it before ``start``: an executor that
        # starts workers for them (the Ray engine) starts no more than that.
        self.jobs_hint: int | None = None

    @property
    def max_concurrency(self) -> int:
        return 1

    @property
    def requires_ground_truth(self) -> bool:
        return False

    @property
    def works_here(self) -> bool:
        """True when the jobs use this machine (its threads, processes, GPUs or sockets): they count against the
        run's overall limit (``VMEVALKIT_MAX_CONCURRENCY``). An executor whose jobs run elsewhere (the Ray engine)
        is bounded by its own ``max_concurrency`` alone, so that a large cluster is never idled by it."""
        return True

    @property
    def manages_own_timeout(self) -> bool:
        """True when ``execute`` enforces the job deadline itself (the runner then does not)."""
        return False

    async def start(self) -> None:
        """Acquire what every job shares (a loaded model, an HTTP client, a worker)."""

    async def close(self) -> None:
        """Release it. Called even when jobs failed."""

    @abstractmethod
    async def execute(self, job: GenerationJob) -> GenerationResult:
        """Run one job. Should return failures as results; exceptions are recorded as failures too."""

    async def __aenter__(self) -> Executor:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


class InProcessExecutor(Executor):
    """Builtin models: one wrapper, set up once, called from worker threads."""

    @property
    def max_concurrency(self) -> int:
        return self.settings.builtin_concurrency

    @property
    def requires_ground_truth(self) -> bool:
        return type(self.wrapper).requires_ground_truth

    async def start(self) -> None:
        await asyncio.to_thread(self.wrapper.ensure_setup)

    async def close(self) -> None:
        await asyncio.to_thread(self.wrapper.close)

    async def execute(self, job: GenerationJob) -> GenerationResult:
        kwargs: dict[str, Any] = dict(job.params)
        if job.ground_truth_task is not None:
            kwargs["task"] = job.ground_truth_task

        def call() -> GenerationResult:
            return self.wrapper.generate(
                job.image_path,
                job.prompt,
                duration=job.duration,
                output_filename=job.output_path,
                seed=job.seed,
                **kwargs,
            )

        return await run_abandonable(call, job.output_path)


async def run_abandonable(call: Callable[[], GenerationResult], output_path: Path) -> GenerationResult:
    """Run ``call`` in a daemon thread; if the awaiting job is cancelled (its timeout), abandon it.

    A Python thread cannot be stopped, so an abandoned call runs on, but it neither keeps the
    process alive (a daemon thread) nor leaves its video behind: it wrote to the attempt's
    private ``output_path``, which is removed when the late call returns. The runner has
    recorded the attempt as failed by then, and only the attempt holding the claim moves a
    video into place.
    """
    loop = asyncio.get_running_loop()
    future: asyncio.Future[GenerationResult] = loop.create_future()
    lock = threading.Lock()
    state = {"abandoned": False, "handed_over": False}

    def deliver(outcome: GenerationResult | BaseException) -> None:
        if future.done():
            return
        if isinstance(outcome, BaseException):
            future.set_exception(outcome)
        else:
            future.set_result(outcome)

    def work() -> None:
        try:
            outcome: GenerationResult | BaseException = call()
        except BaseException as exc:  # handed to the awaiting job, which records it
            outcome = exc
        with lock:
            if state["abandoned"]:
                with contextlib.suppress(OSError):
                    output_path.unlink(missing_ok=True)
                return
            state["handed_over"] = True
            with contextlib.suppress(RuntimeError):  # the loop closed: nobody awaits this any more
                loop.call_soon_threadsafe(deliver, outcome)

    threading.Thread(target=work, name=f"vmevalkit-job-{output_path.stem}", daemon=True).start()
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        with lock:
            state["abandoned"] = True
            if state["handed_over"]:  # finished in the same instant: its video is not wanted either
                with contextlib.suppress(OSError):
                    output_path.unlink(missing_ok=True)
        raise

"""``LocalExecutor``: the runner's side of the local-model workers (main environment).

One worker process per GPU (``vmevalkit.workers.process``), started with the model's own
``envs/<name>/bin/python``. Each loads the pipeline once and then serves jobs one at a time, so N GPUs
run N jobs at once. A worker that crashes or hangs is killed; that job is recorded as failed with the
worker's last stderr lines, and a fresh worker is started for the next job, so one bad job never ends a batch.
"""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Any

from vmevalkit.models.base import GenerationResult, ModelEntry, ModelWrapper
from vmevalkit.models.executor import Executor, GenerationJob
from vmevalkit.models.local.pipeline import SAVERS, LocalPipeline
from vmevalkit.settings import Settings
from vmevalkit.workers.installation import checkpoint_for, install_hint, pinned_lock, venv_python
from vmevalkit.workers.process import WorkerError, WorkerProcess, WorkerSlot, package_shim, visible_gpus, worker_env
from vmevalkit.workers.protocol import Generate, Load

# Catalog args the runner resolves itself; the rest are the service's constructor keywords.
RUNNER_ARGS = ("checkpoint_dir",)


def savers_setting(settings: Settings) -> list[str] | None:
    value = settings.local_savers.strip().lower()
    if value in ("", "auto"):
        return None
    if value == "none":
        return []
    savers = [s.strip() for s in value.split(",") if s.strip()]
    unknown = sorted(set(savers) - set(SAVERS))
    if unknown:
        raise ValueError(f"VMEVALKIT_LOCAL_SAVERS: unknown saver(s) {unknown}; use auto, none or {', '.join(SAVERS)}")
    return savers


class LocalExecutor(Executor):
    """Serves one local model's jobs through persistent workers, one per GPU."""

    def __init__(self, entry: ModelEntry, settings: Settings, wrapper: ModelWrapper) -> None:
        super().__init__(entry, settings, wrapper)
        self.python = venv_python(entry.name, settings).absolute()
        self.args = {k: v for k, v in entry.args.items() if k not in RUNNER_ARGS}
        service = wrapper.service
        if not isinstance(service, LocalPipeline):
            raise TypeError(f"model '{entry.name}' is of kind 'local' but its service is not a LocalPipeline")
        self.service = service  # in this process only for sizes and frame counts; the worker loads the pipeline
        self.checkpoint = checkpoint_for(entry, settings)
        self.savers = savers_setting(settings)
        self.slots = [WorkerSlot(gpu) for gpu in visible_gpus(settings)]
        self._idle: asyncio.Queue[WorkerSlot] = asyncio.Queue()
        self._shim: Path | None = None

    @property
    def max_concurrency(self) -> int:
        # One job generating on each worker plus one more per worker that the runner prepares (claim,
        # question files, metadata) or checks (decoding the video) meanwhile: the GPU never waits for
        # bookkeeping. Jobs queue for a free worker in ``execute``.
        return 2 * len(self.slots)

    @property
    def manages_own_timeout(self) -> bool:
        return True  # a hung worker must be killed, not just abandoned

    async def start(self) -> None:
        if not self.python.exists():
            raise RuntimeError(install_hint(self.entry.name))
        self._shim = package_shim()
        for slot in self.slots:
            self._idle.put_nowait(slot)
        # Load on every GPU at once; a GPU whose load fails retries at its next job.
        results = await asyncio.gather(*(self._ensure_worker(slot) for slot in self.slots), return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        if len(errors) == len(self.slots):
            raise errors[0]

    async def close(self) -> None:
        await asyncio.gather(*(slot.worker.stop() for slot in self.slots if slot.worker is not None))
        if self._shim is not None:
            shutil.rmtree(self._shim, ignore_errors=True)

    async def execute(self, job: GenerationJob) -> GenerationResult:
        slot = await self._idle.get()
        try:
            return await self._execute_on(slot, job)
        finally:
            self._idle.put_nowait(slot)

    async def _execute_on(self, slot: WorkerSlot, job: GenerationJob) -> GenerationResult:
        model = self.entry.model
        try:
            worker = await self._ensure_worker(slot)
        except WorkerError as exc:
            return GenerationResult.failure(model, f"the model could not be loaded: {exc}")
        request = self._request(job, worker)
        try:
            result = await worker.run(
                request, self.settings.local_job_timeout_s, lambda p: job.on_progress(p.step, p.total)
            )
        except WorkerError as exc:
            await worker.kill()
            return GenerationResult.failure(model, str(exc), generation_id=request.id, metadata=self._metadata(worker))
        metadata = {**self._metadata(worker), **result.model_dump(exclude={"type", "id", "ok", "error", "video_path"})}
        if not result.ok:
            return GenerationResult.failure(
                model, result.error or "the worker reported a failure", generation_id=request.id, metadata=metadata
            )
        return GenerationResult(
            success=True,
            video_path=result.video_path,
            duration_seconds=result.generate_seconds,
            generation_id=request.id,
            model=model,
            status="completed",
            metadata=metadata,
        )

    def _request(self, job: GenerationJob, worker: WorkerProcess) -> Generate:
        from PIL import Image

        params = job.params
        with Image.open(job.image_path) as image:
            width, height = self.service.size_for(*image.size)
        if "width" in params or "height" in params:  # an explicit size, e.g. small for a smoke test
            width, height = int(params.get("width", width)), int(params.get("height", height))
            m = self.service.size_multiple
            if width % m or height % m or width <= 0 or height <= 0:
                raise ValueError(f"width and height must be positive multiples of {m} for '{self.entry.name}'")
        return Generate(
            id=worker.new_id(),
            image_path=str(Path(job.image_path).absolute()),
            prompt=job.prompt,
            output_path=str(Path(job.output_path).absolute()),
            seed=job.seed,
            num_frames=self.service.frames_for(job.duration),
            height=height,
            width=width,
            fps=self.service.fps,
            steps=params.get("steps"),
            guidance_scale=params.get("guidance_scale"),
            negative_prompt=params.get("negative_prompt"),
        )

    async def _ensure_worker(self, slot: WorkerSlot) -> WorkerProcess:
        assert self._shim is not None, "start() makes the shim"
        shim = self._shim

        def new_worker() -> tuple[WorkerProcess, Load]:
            worker = WorkerProcess(self.python, worker_env(shim, slot.gpu), label=f"{self.entry.name}[{slot.gpu}]")
            load = Load(
                service=self.entry.service,
                model=self.entry.model,
                args=self.args,
                checkpoint_dir=str(self.checkpoint.path),
                savers=self.savers,
                device="cpu" if slot.gpu == "" else "auto",
            )
            return worker, load

        return await slot.ensure(new_worker, self.settings.local_load_timeout_s)

    def _metadata(self, worker: WorkerProcess) -> dict[str, Any]:
        ready = worker.ready
        meta: dict[str, Any] = {
            "worker": {
                "pid": ready.pid if ready else None,
                "device": ready.device if ready else None,
                "dtype": ready.dtype if ready else None,
                "savers": ready.savers if ready else None,
                "load_seconds": ready.load_seconds if ready else None,
                "gpu_memory_bytes": ready.gpu_memory_bytes if ready else None,
                "versions": ready.versions if ready else {},
                "jobs_served": worker.jobs_served,
            },
            "checkpoint": self._checkpoint_info(),
            "uses_prompt": self.service.uses_prompt,
        }
        return meta

    def _checkpoint_info(self) -> dict[str, Any]:
        info: dict[str, Any] = {"path": str(self.checkpoint.path), "pinned": self.checkpoint.pinned}
        lock = pinned_lock(self.checkpoint)
        if lock is not None:
            info.update(repo_id=lock.repo_id, commit=lock.commit)
        return info

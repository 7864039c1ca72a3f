"""``LocalExecutor``: the runner's side of the local-model workers (main environment).

One worker process per GPU (``vmevalkit.workers.process``), started with the model's own
``envs/<name>/bin/python``. Each loads the pipeline once and then serves jobs one at a time, so N GPUs
run N jobs at once. A worker that crashes or hangs is killed; that job is recorded as failed with the
worker's last stderr lines, and a fresh worker is started for the next job, so one bad job never ends a batch.

A checkpoint folder holding ``vmevalkit.tiny.json`` (a tiny random checkpoint, ``install_model.sh MODEL --tiny``)
brings its own small defaults: its size, steps and, at the model's default duration, its frame count; explicit
``--param``/``--duration`` values still win. A worker on the CPU warns once, with a rough time per video.
"""

from __future__ import annotations

import asyncio
import math
import shutil
import sys
from pathlib import Path
from typing import Any

from vmevalkit.models.base import GenerationResult, ModelEntry, ModelWrapper
from vmevalkit.models.constraints import DEFAULT_DURATION_SECONDS
from vmevalkit.models.executor import Executor, GenerationJob
from vmevalkit.models.local.pipeline import SAVERS, LocalPipeline
from vmevalkit.settings import Settings
from vmevalkit.workers.installation import checkpoint_for, install_hint, pinned_lock, venv_python
from vmevalkit.workers.process import (
    WorkerError,
    WorkerHung,
    WorkerProcess,
    WorkerSlot,
    package_shim,
    visible_gpus,
    worker_env,
)
from vmevalkit.workers.protocol import Generate, Load
from vmevalkit.workers.tiny import read_tiny_marker

# Set (true) in a failed result's metadata when the worker process died under the job.
WORKER_CRASHED = "worker_crashed"
# Catalog args the runner resolves itself; the rest are the service's constructor keywords.
RUNNER_ARGS = ("checkpoint_dir",)

# CPU seconds per output pixel, frame and denoising step of a real (billions of parameters) video model: a rough,
# order-of-magnitude figure (about 2e9 parameters x 2 FLOPs x 2 for guidance per latent token and step, at about
# 1e11 float32 FLOP/s of a small CPU), for the one-line warning only. It puts LTX-Video's defaults (704x480,
# 161 frames, 50 steps) at hours per video; the report saw no video after 10 minutes.
CPU_SECONDS_PER_PIXEL_FRAME_STEP = 1e-5


def rough_duration(seconds: float) -> str:
    """``about 40 s``, ``about 12 min``, ``about 8 h``: the precision a rough estimate deserves."""
    if seconds < 90:
        return f"about {max(1, round(seconds))} s"
    if seconds < 90 * 60:
        return f"about {round(seconds / 60)} min"
    return f"about {round(seconds / 3600)} h"


def cpu_estimate(width: int, height: int, frames: int, steps: int) -> float:
    """Rough seconds for one video on the CPU (``CPU_SECONDS_PER_PIXEL_FRAME_STEP``)."""
    return width * height * frames * steps * CPU_SECONDS_PER_PIXEL_FRAME_STEP


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
        # A tiny random checkpoint's small defaults (None for real weights or any other folder).
        self.tiny = read_tiny_marker(self.checkpoint.path)
        self._warned_cpu = False
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
        self._warn_cpu(worker, request)
        try:
            result = await worker.run(
                request, self.settings.local_job_timeout_s, lambda p: job.on_progress(p.step, p.total)
            )
        except WorkerError as exc:
            await worker.kill()
            metadata = self._metadata(worker)
            # Died under the job (not hung past its deadline): an engine that can retry elsewhere (Ray) may.
            metadata[WORKER_CRASHED] = not isinstance(exc, WorkerHung)
            return GenerationResult.failure(model, str(exc), generation_id=request.id, metadata=metadata)
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
        small = self.tiny or {}
        with Image.open(job.image_path) as image:
            width, height = self.service.size_for(*image.size)
        if "width" in small and "height" in small:  # a tiny checkpoint's own size (exact: its family's test size)
            width, height = small["width"], small["height"]
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
            num_frames=self._frames(job.duration),
            height=height,
            width=width,
            fps=self.service.fps,
            steps=params.get("steps", small.get("steps")),
            guidance_scale=params.get("guidance_scale"),
            negative_prompt=params.get("negative_prompt"),
        )

    def _frames(self, duration: float) -> int:
        """The frames for ``duration``; a tiny checkpoint's own count at the model's default duration (a duration
        the user asked for is kept)."""
        constraints = self.entry.constraints
        default = constraints.default_duration if constraints is not None else DEFAULT_DURATION_SECONDS
        if self.tiny and "num_frames" in self.tiny and math.isclose(duration, default):
            return self.tiny["num_frames"]
        return self.service.frames_for(duration)

    def _warn_cpu(self, worker: WorkerProcess, request: Generate) -> None:
        """Once per model and run: a worker on the CPU, with a rough time per video, so a long silence is expected.

        A tiny checkpoint is not warned about: it takes seconds anywhere."""
        if self._warned_cpu or self.tiny is not None or worker.ready is None or worker.ready.device != "cpu":
            return
        self._warned_cpu = True
        steps = request.steps or self.service.steps
        estimate = cpu_estimate(request.width, request.height, request.num_frames, steps)
        print(
            f"warning: {self.entry.name} runs on the CPU: {rough_duration(estimate)} per video "
            f"({request.width}x{request.height}, {request.num_frames} frames, {steps} steps; a rough estimate)",
            file=sys.stderr,
            flush=True,
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
        if self.tiny is not None:
            meta["tiny_checkpoint"] = dict(self.tiny)  # the small defaults this folder brought
        return meta

    def _checkpoint_info(self) -> dict[str, Any]:
        info: dict[str, Any] = {"path": str(self.checkpoint.path), "pinned": self.checkpoint.pinned}
        lock = pinned_lock(self.checkpoint)
        if lock is not None:
            info.update(repo_id=lock.repo_id, commit=lock.commit)
        return info

"""``LocalExecutor``: the runner's side of the local-model workers (main environment).

One worker process per GPU (``CUDA_VISIBLE_DEVICES`` set per worker), started with the model's
own ``envs/<name>/bin/python``. Each loads the pipeline once and then serves jobs one at a time,
so N GPUs run N jobs at once. A worker that crashes (segfault, OOM kill, ``os._exit``) or hangs
past the job deadline is killed; that job is recorded as failed with the worker's last stderr
lines, and a fresh worker is started for the next job, so one bad job never ends a batch.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import tempfile
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import ValidationError

import vmevalkit
from vmevalkit.models.base import GenerationResult
from vmevalkit.models.local.installation import checkpoint_for, install_hint, pinned_lock, venv_python
from vmevalkit.models.local.pipeline import SAVERS, LocalPipeline
from vmevalkit.models.local.protocol import (
    FROM_WORKER,
    Fatal,
    Generate,
    Load,
    Progress,
    Ready,
    Result,
    Score,
    Scores,
    Shutdown,
    encode,
)
from vmevalkit.runner.executors import Executor, GenerationJob
from vmevalkit.runner.registry import CatalogEntry, load_service_class
from vmevalkit.settings import Settings
from vmevalkit.utils.redact import SECRET_NAME

STDERR_TAIL_LINES = 30
SHUTDOWN_GRACE_S = 10.0
# Catalog args the runner resolves itself; the rest are the service's constructor keywords.
RUNNER_ARGS = ("checkpoint_dir",)


class WorkerError(RuntimeError):
    """The worker process died, hung, or would not load; the message ends with its last stderr lines."""


def visible_gpus(settings: Settings) -> list[str | None]:
    """One entry per worker: a GPU index for ``CUDA_VISIBLE_DEVICES``, or None (no GPU pinning)."""
    wanted = settings.local_gpus.strip()
    gpus: list[str | None]
    if wanted.lower() == "cpu":
        return [""]  # an empty CUDA_VISIBLE_DEVICES hides every GPU
    if wanted:
        gpus = [gpu.strip() for gpu in wanted.split(",") if gpu.strip()]
        return gpus
    inherited = os.environ.get("CUDA_VISIBLE_DEVICES")
    if inherited is not None:
        gpus = [gpu.strip() for gpu in inherited.split(",") if gpu.strip() and gpu.strip() != "-1"]
        return gpus or [""]  # set but empty: no GPU
    if shutil.which("nvidia-smi"):
        import subprocess

        try:
            out = subprocess.run(
                ["nvidia-smi", "--query-gpu=index", "--format=csv,noheader"],
                capture_output=True,
                text=True,
                timeout=20,
                check=True,
            ).stdout
        except (OSError, subprocess.SubprocessError):
            return [None]
        gpus = [line.strip() for line in out.splitlines() if line.strip()]
        return gpus or [None]
    return [None]


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


def package_shim() -> Path:
    """A folder holding only a link to this vmevalkit package, for a worker's PYTHONPATH (delete it after).

    The worker runs the runner's own copy of the code (same protocol version), and nothing
    else from the main environment's site-packages leaks into the model's virtualenv.
    """
    shim = Path(tempfile.mkdtemp(prefix="vmevalkit-worker-path-"))
    (shim / "vmevalkit").symlink_to(Path(vmevalkit.__file__).resolve().parent, target_is_directory=True)
    return shim


def worker_env(shim: Path, gpu: str | None) -> dict[str, str]:
    """The environment of a worker pinned to ``gpu`` (None: not pinned; "": no GPU), without secrets.

    Model code is never handed API keys or tokens: a worker needs none, it never downloads."""
    env = {name: value for name, value in os.environ.items() if not SECRET_NAME.search(name)}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(shim), env.get("PYTHONPATH", "")]))
    env["PYTHONUNBUFFERED"] = "1"
    env["HF_HUB_OFFLINE"] = "1"  # weights are local and verified; a worker never downloads
    env["TOKENIZERS_PARALLELISM"] = "false"
    if gpu is not None:
        env["CUDA_VISIBLE_DEVICES"] = gpu
    return env


class WorkerProcess:
    """One worker subprocess and the line-based protocol over its pipes."""

    def __init__(self, python: Path, env: dict[str, str], label: str) -> None:
        self.python, self.env, self.label = python, env, label
        self.proc: asyncio.subprocess.Process | None = None
        self.ready: Ready | None = None
        self.jobs_served = 0
        self._stderr: deque[str] = deque(maxlen=STDERR_TAIL_LINES)
        self._stderr_task: asyncio.Task[None] | None = None
        self._next_id = 0

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.returncode is None and self.ready is not None

    async def start(self, load: Load, timeout: float) -> Ready:
        self.proc = await asyncio.create_subprocess_exec(
            str(self.python),
            "-m",
            "vmevalkit.models.local.worker",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=self.env,
            start_new_session=True,  # its own process group: a kill takes its children too
            limit=2**22,
        )
        self._stderr_task = asyncio.create_task(self._drain_stderr())
        await self._send(load)
        try:
            message = await asyncio.wait_for(self._receive(), timeout)
        except asyncio.TimeoutError:
            await self.kill()
            raise WorkerError(self._with_tail(f"the worker did not load the model within {timeout:g} s")) from None
        if isinstance(message, Fatal):
            await self.kill()
            raise WorkerError(self._with_tail(message.error))
        if not isinstance(message, Ready):
            await self.kill()
            raise WorkerError(self._with_tail(f"the worker answered {message.type!r} to load"))
        self.ready = message
        return message

    async def run(self, request: Generate, timeout: float, on_progress: Callable[[Progress], None]) -> Result:
        result = await self._exchange(request, Result, timeout, on_progress)
        assert isinstance(result, Result)
        return result

    async def score(self, request: Score, timeout: float) -> Scores:
        scores = await self._exchange(request, Scores, timeout, lambda progress: None)
        assert isinstance(scores, Scores)
        return scores

    async def _exchange(
        self,
        request: Generate | Score,
        answer: type[Result] | type[Scores],
        timeout: float,
        on_progress: Callable[[Progress], None],
    ) -> Result | Scores:
        """Send one job and wait for its answer; a worker that hangs past ``timeout`` is killed."""

        async def until_answer() -> Result | Scores:
            while True:
                message = await self._receive()
                if isinstance(message, Progress):
                    on_progress(message)
                elif isinstance(message, answer):
                    return message
                else:
                    raise WorkerError(self._with_tail(f"unexpected {message.type!r} message during a job"))

        await self._send(request)
        try:
            reply = await asyncio.wait_for(until_answer(), timeout)
        except asyncio.TimeoutError:
            await self.kill()
            raise WorkerError(
                self._with_tail(f"the worker hung: no result within {timeout:g} s, so it was killed")
            ) from None
        self.jobs_served += 1
        return reply

    def new_id(self) -> str:
        self._next_id += 1
        return f"{self.proc.pid if self.proc else 0}-{self._next_id}"

    async def stop(self) -> None:
        if self.proc is None or self.proc.returncode is not None:
            return
        with contextlib.suppress(Exception):
            await self._send(Shutdown())
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            await asyncio.wait_for(self.proc.wait(), SHUTDOWN_GRACE_S)
        await self.kill()

    async def kill(self) -> None:
        proc = self.proc
        if proc is None:
            return
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            await proc.wait()
        if self._stderr_task is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._stderr_task, 2)
        self.ready = None

    async def _send(self, message: Load | Generate | Score | Shutdown) -> None:
        assert self.proc is not None and self.proc.stdin is not None
        try:
            self.proc.stdin.write(encode(message))
            await self.proc.stdin.drain()
        except (BrokenPipeError, ConnectionResetError):
            raise WorkerError(await self._died("before it could take a request")) from None

    async def _receive(self) -> Ready | Progress | Result | Scores | Fatal:
        assert self.proc is not None and self.proc.stdout is not None
        line = await self.proc.stdout.readline()
        if not line:
            raise WorkerError(await self._died("while it was working"))
        try:
            return FROM_WORKER.validate_json(line)
        except ValidationError:
            raise WorkerError(
                self._with_tail(f"the worker wrote a line that is not protocol: {line[:200]!r}")
            ) from None

    async def _died(self, when: str) -> str:
        assert self.proc is not None
        code = await self.proc.wait()
        if self._stderr_task is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._stderr_task, 2)
        how = f"killed by signal {signal.Signals(-code).name}" if code < 0 else f"exit code {code}"
        self.ready = None
        return self._with_tail(f"the worker died ({how}) {when}")

    async def _drain_stderr(self) -> None:
        assert self.proc is not None and self.proc.stderr is not None
        while line := await self.proc.stderr.readline():
            self._stderr.append(line.decode("utf-8", "replace").rstrip())

    def _with_tail(self, message: str) -> str:
        tail = "\n".join(self._stderr)
        return f"{message}; last worker stderr lines:\n{tail}" if tail else f"{message} (the worker wrote no stderr)"


class WorkerSlot:
    """A GPU's worker, replaced whenever it dies; shared by the generators' executor and the local scorers.

    After ``MAX_FAILED_STARTS`` loads in a row fail, the slot gives up: its jobs fail fast with the last error.
    """

    MAX_FAILED_STARTS = 2

    def __init__(self, gpu: str | None) -> None:
        self.gpu = gpu
        self.lock = asyncio.Lock()  # for callers that send it jobs concurrently: one request/answer at a time
        self.worker: WorkerProcess | None = None
        self.failed_starts = 0
        self.last_error = ""

    @property
    def given_up(self) -> bool:
        return self.failed_starts >= self.MAX_FAILED_STARTS

    async def ensure(self, new_worker: Callable[[], tuple[WorkerProcess, Load]], timeout: float) -> WorkerProcess:
        """The live worker, or a new one from ``new_worker()`` (the process and its load request), loaded now."""
        if self.worker is not None and self.worker.alive:
            return self.worker
        if self.given_up:
            raise WorkerError(f"{self.last_error} (gave up after {self.failed_starts} failed loads)")
        worker, load = new_worker()
        try:
            await worker.start(load, timeout)
        except WorkerError as exc:
            self.failed_starts += 1
            self.last_error = str(exc)
            raise
        self.worker, self.failed_starts = worker, 0
        return worker


class LocalExecutor(Executor):
    """Serves one local model's jobs through persistent workers, one per GPU."""

    def __init__(self, entry: CatalogEntry, settings: Settings) -> None:
        super().__init__(entry, settings)
        self.python = venv_python(entry.name, settings).absolute()
        self.args = {k: v for k, v in entry.args.items() if k not in RUNNER_ARGS}
        service = load_service_class(entry)(model=entry.model, **self.args)
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
            result = await worker.run(request, self.settings.local_job_timeout_s, lambda progress: None)
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
                service=self.entry.service_class,
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

"""Worker processes, from the parent's side: start one in a virtualenv, talk to it, replace it when it dies.

Shared by the local generators (``vmevalkit.models.local.executor``) and the local scorers
(``vmevalkit.scoring.local.wrapper``). One worker per GPU (``CUDA_VISIBLE_DEVICES`` set per worker), started with
the venv's own python, ``-m vmevalkit.workers.worker``. A worker that crashes (segfault, OOM kill, ``os._exit``)
or hangs past the job deadline is killed and its last stderr lines are kept for the error; a ``WorkerSlot``
starts a fresh one for the next job, so one bad job never ends a batch. The worker's environment carries no
secret (``worker_env``) and runs this very copy of the package (``package_shim``), so both sides speak the same
protocol version.
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

from pydantic import ValidationError

import vmevalkit
from vmevalkit.settings import Settings
from vmevalkit.utils.redact import SECRET_NAME
from vmevalkit.workers.protocol import (
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

STDERR_TAIL_LINES = 30
SHUTDOWN_GRACE_S = 10.0


class WorkerError(RuntimeError):
    """The worker process died, hung, or would not load; the message ends with its last stderr lines."""


class WorkerHung(WorkerError):
    """The worker gave no result within the job's deadline, and was killed."""


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
            "vmevalkit.workers.worker",
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
            raise WorkerHung(
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

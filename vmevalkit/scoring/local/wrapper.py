"""``LocalScorer``: the main environment's side of a local scorer (the wrapper of a ``LocalScorerModel``).

It keeps the scorer contract (``dimensions``, ``inputs``, ``score_batch``) and hands every batch to persistent
workers in the scorer's own virtualenv (``envs/<name>/``): the same worker, protocol and process handling as the
local generators (``vmevalkit.models.local``). Each worker loads the model once and then scores batch after batch;
with several GPUs there is one worker per GPU and a batch is split across them.

Failures: a worker that crashes or hangs (``VMEVALKIT_LOCAL_JOB_TIMEOUT_S``) is killed and ``score_batch`` raises,
so the scoring runner retries the batch item by item: the items score on a fresh worker, and an item that crashes
the model again fails alone. A scorer that is not installed, or whose weights are missing or fail verification, is
refused when it is built, before anything is scored, with the command that fixes it.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from vmevalkit.scoring.base import ScoreBatch, ScoreItem, ScorerContractError
from vmevalkit.scoring.local.model import LocalScorerModel
from vmevalkit.settings import Settings, get_settings
from vmevalkit.utils.imports import PluginLoadError, load_object
from vmevalkit.workers.installation import (
    CheckpointChoice,
    checkpoint_for,
    checkpoint_identity,
    local_problem,
    venv_python,
)
from vmevalkit.workers.process import (
    WorkerError,
    WorkerProcess,
    WorkerSlot,
    package_shim,
    visible_gpus,
    worker_env,
)
from vmevalkit.workers.protocol import Load, Score, ScoreItemData

if TYPE_CHECKING:
    from vmevalkit.runner.registry import ScorerEntry

# Catalog args the wrapper resolves itself; the rest are the scorer model's constructor keywords.
RUNNER_ARGS = ("checkpoint", "checkpoint_dir")


class LocalScorerNotReady(RuntimeError):
    """The scorer cannot run here (no venv, no or bad weights, a bad device); the message is the fix."""


class LocalScorer:
    """A local scorer served by workers: built from its catalog entry (``kind: local``)."""

    def __init__(
        self,
        entry: ScorerEntry,
        checkpoint: str | None = None,
        device: str | None = None,
        settings: Settings | None = None,
        **options: Any,
    ) -> None:
        self.settings = settings or get_settings()
        try:
            cls = load_object(entry.service)
        except PluginLoadError as exc:
            raise ScorerContractError(
                f"local scorer '{entry.name}': {exc} (a family module must import without torch: import it inside "
                "setup and score)"
            ) from exc
        if not (isinstance(cls, type) and issubclass(cls, LocalScorerModel)):
            raise ScorerContractError(
                f"local scorer '{entry.name}': {entry.service} is not a LocalScorerModel subclass"
            )
        self.entry, self.model_class = entry, cls
        self.name: str = entry.name
        self.version = cls.version
        self.dimensions = cls.dimensions
        self.inputs = cls.inputs
        self.pass_dimension = cls.pass_dimension
        self.ranges = dict(cls.ranges)
        self.args = {**{k: v for k, v in entry.args.items() if k not in RUNNER_ARGS}, **options}
        try:  # the constructor checks the options without torch: a bad one is a usage error before any worker starts
            cls(entry.model, **self.args)
        except (TypeError, ValueError) as exc:
            raise ScorerContractError(f"scorer '{entry.name}': bad option: {exc}") from exc
        if checkpoint:  # --checkpoint DIR: this folder instead of the pinned weights
            folders = {**self.settings.checkpoints, self.name: Path(checkpoint)}
            self.settings = self.settings.model_copy(update={"checkpoints": folders})
        problem = local_problem(entry, self.settings, marker=cls.checkpoint_marker, what="Scorer")
        if problem:
            raise LocalScorerNotReady(problem)
        self.checkpoint: CheckpointChoice = checkpoint_for(entry, self.settings)
        # Recorded in every score file's config (``ScoringRunner``): other weights, another model class or other
        # options never pass for these scores.
        self.scorer_config = {
            "weights": checkpoint_identity(entry, self.settings),
            "service": entry.service,
            "args": self.args,
        }
        self.python = venv_python(self.name, self.settings).absolute()
        self.device, gpus = self._placement(device)
        self.slots = [WorkerSlot(gpu) for gpu in gpus]
        self._shim: Path | None = None
        self._next_slot = 0
        self._loop = asyncio.new_event_loop()

    def _placement(self, device: str | None) -> tuple[str, list[str | None]]:
        """The device the workers load on and one GPU (``CUDA_VISIBLE_DEVICES``) per worker."""
        wanted = (device or "auto").strip().lower()
        if wanted == "cpu":
            return "cpu", [""]
        if wanted in ("auto", "cuda"):
            return wanted, visible_gpus(self.settings)
        if wanted.startswith("cuda:"):
            gpus = [g.strip() for g in wanted.removeprefix("cuda:").split(",") if g.strip()]
            if gpus and all(g.isdigit() for g in gpus):
                return "cuda", list(gpus)
        raise LocalScorerNotReady(f"device {device!r} for scorer '{self.name}': use auto, cpu, cuda or cuda:N[,M...]")

    # -- the scorer contract --

    def score_batch(self, items: Sequence[ScoreItem], **kwargs: Any) -> ScoreBatch:
        if not items:
            return ScoreBatch(np.zeros((0, len(self.dimensions))), [])
        return self._loop.run_until_complete(self._score(list(items), kwargs))

    def close(self) -> None:
        """Stop the workers (they also exit on their own when this process dies: their stdin closes)."""
        if self._loop.is_closed():
            return

        async def stop_all() -> None:
            # A batch cut short (Ctrl-C) leaves its task pending and its worker busy: cancel it and kill that worker
            # instead of waiting out the polite shutdown.
            me = asyncio.current_task()
            pending = [t for t in asyncio.all_tasks(self._loop) if not t.done() and t is not me]
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            stops = [slot.worker.kill() if pending else slot.worker.stop() for slot in self.slots if slot.worker]
            await asyncio.gather(*stops, return_exceptions=True)

        try:
            self._loop.run_until_complete(stop_all())
        finally:
            self._loop.close()
            if self._shim is not None:
                shutil.rmtree(self._shim, ignore_errors=True)
                self._shim = None

    def __enter__(self) -> LocalScorer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- workers --

    async def _score(self, items: list[ScoreItem], kwargs: dict[str, Any]) -> ScoreBatch:
        # Contiguous chunks, one per worker (never more chunks than items), on the GPUs that still load the model;
        # the first worker rotates, so the one-item retries after a failed batch spread over every GPU.
        healthy = [slot for slot in self.slots if not slot.given_up] or self.slots
        start = self._next_slot % len(healthy)
        self._next_slot += 1
        slots = healthy[start:] + healthy[:start]
        count = min(len(slots), len(items))
        bounds = [round(i * len(items) / count) for i in range(count + 1)]
        chunks = [items[bounds[i] : bounds[i + 1]] for i in range(count)]
        answers = await asyncio.gather(
            # Chunk i goes to slot i, or to the next slot whose GPU loads the model when slot i's does not.
            *(self._score_on(slots[i:] + slots[:i], chunk, kwargs) for i, chunk in enumerate(chunks)),
            return_exceptions=True,
        )
        errors = [a for a in answers if isinstance(a, BaseException)]
        if errors:
            raise errors[0]
        rows: list[list[float]] = []
        details: list[dict[str, Any]] = []
        for answer in answers:
            assert isinstance(answer, tuple)
            rows.extend(answer[0])
            details.extend(answer[1])
        return ScoreBatch(np.asarray(rows, dtype=np.float64).reshape(len(rows), len(self.dimensions)), details)

    async def _score_on(
        self, candidates: list[WorkerSlot], items: list[ScoreItem], kwargs: dict[str, Any]
    ) -> tuple[list[list[float]], list[dict[str, Any]]]:
        load_error: WorkerError | None = None
        for slot in candidates:
            async with slot.lock:
                try:
                    worker = await self._ensure_worker(slot)
                except WorkerError as exc:  # this GPU does not load the model: the next one takes the chunk
                    load_error = exc
                    continue
                return await self._run(worker, items, kwargs)
        assert load_error is not None
        raise load_error

    async def _run(
        self, worker: WorkerProcess, items: list[ScoreItem], kwargs: dict[str, Any]
    ) -> tuple[list[list[float]], list[dict[str, Any]]]:
        request = Score(id=worker.new_id(), items=[_as_data(item) for item in items], kwargs=kwargs)
        try:
            reply = await worker.score(request, self.settings.local_job_timeout_s)
        except BaseException:
            # Whatever cut the exchange short (a crash, a hang, Ctrl-C, an oversized line), the worker's stdout may
            # still hold half an answer: never reuse it.
            await worker.kill()
            raise
        if reply.id != request.id:
            await worker.kill()
            raise RuntimeError(f"the worker answered job {reply.id!r} to job {request.id!r}")
        if not reply.ok:
            raise RuntimeError(reply.error or "the worker reported a failure")
        shapes = {len(row) for row in reply.scores}
        if len(reply.scores) != len(items) or shapes - {len(self.dimensions)} or len(reply.details) != len(items):
            raise ScorerContractError(
                f"{self.entry.service}.score returned {len(reply.scores)} rows of {sorted(shapes)} scores and "
                f"{len(reply.details)} details for {len(items)} items x dimensions {list(self.dimensions)}"
            )
        rows = [[np.nan if v is None else v for v in row] for row in reply.scores]
        return rows, reply.details

    async def _ensure_worker(self, slot: WorkerSlot) -> WorkerProcess:
        if self._shim is None:
            self._shim = package_shim()
        if not self.python.exists():
            raise LocalScorerNotReady(local_problem(self.entry, self.settings, what="Scorer") or str(self.python))
        shim = self._shim

        def new_worker() -> tuple[WorkerProcess, Load]:
            worker = WorkerProcess(self.python, worker_env(shim, slot.gpu), label=f"{self.name}[{slot.gpu}]")
            load = Load(
                service=self.entry.service,
                model=self.entry.model,
                args=self.args,
                checkpoint_dir=str(self.checkpoint.path),
                device=self.device if slot.gpu != "" else "cpu",
            )
            return worker, load

        return await slot.ensure(new_worker, self.settings.local_load_timeout_s)

    @property
    def workers(self) -> list[WorkerProcess]:
        """The live workers (for tests and progress reports)."""
        return [slot.worker for slot in self.slots if slot.worker is not None and slot.worker.alive]


def _as_data(item: ScoreItem) -> ScoreItemData:
    return ScoreItemData(
        generation_dir=str(item.generation_dir),
        model=item.model,
        task_id=item.task_id,
        domain=item.domain,
        video_path=str(Path(item.video_path).absolute()),
        prompt=item.prompt,
        first_frame=str(Path(item.first_frame).absolute()),
        final_frame=str(Path(item.final_frame).absolute()) if item.final_frame else None,
        task_dir=str(Path(item.task_dir).absolute()) if item.task_dir else None,
    )

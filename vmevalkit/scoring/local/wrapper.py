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
from typing import Any

import numpy as np

from vmevalkit.models.local.executor import WorkerError, WorkerProcess, package_shim, visible_gpus, worker_env
from vmevalkit.models.local.installation import (
    CheckpointChoice,
    checkpoint_for,
    checkpoint_identity,
    local_problem,
    venv_python,
)
from vmevalkit.models.local.protocol import Load, Score, ScoreItemData
from vmevalkit.scoring.base import ScoreBatch, ScoreItem
from vmevalkit.scoring.local.model import LocalScorerModel
from vmevalkit.settings import Settings, get_settings
from vmevalkit.utils.imports import load_object

# Catalog args the wrapper resolves itself; the rest are the scorer model's constructor keywords.
RUNNER_ARGS = ("checkpoint", "checkpoint_dir")


class LocalScorerNotReady(RuntimeError):
    """The scorer cannot run here (no venv, no or bad weights, a bad device); the message is the fix."""


class _Slot:
    def __init__(self, gpu: str | None) -> None:
        self.gpu = gpu
        self.worker: WorkerProcess | None = None
        self.failed_starts = 0
        self.last_error = ""


class LocalScorer:
    """A local scorer served by workers: built from its catalog entry (``kind: local``)."""

    # After this many loads in a row fail on one GPU, its batches fail fast with that error.
    MAX_FAILED_STARTS = 2

    def __init__(
        self,
        entry: Any,  # a ScorerEntry (vmevalkit.scoring.runner): name, model, service_class, args
        checkpoint: str | None = None,
        device: str | None = None,
        settings: Settings | None = None,
        **options: Any,
    ) -> None:
        self.settings = settings or get_settings()
        cls = load_object(entry.service_class)
        if not (isinstance(cls, type) and issubclass(cls, LocalScorerModel)):
            raise TypeError(f"local scorer '{entry.name}': {entry.service_class} is not a LocalScorerModel subclass")
        self.entry, self.model_class = entry, cls
        self.name: str = entry.name
        self.version = cls.version
        self.dimensions = cls.dimensions
        self.inputs = cls.inputs
        self.pass_dimension = cls.pass_dimension
        self.args = {**{k: v for k, v in entry.args.items() if k not in RUNNER_ARGS}, **options}
        if checkpoint:  # --checkpoint DIR: this folder instead of the pinned weights
            folders = {**self.settings.checkpoints, self.name: Path(checkpoint)}
            self.settings = self.settings.model_copy(update={"checkpoints": folders})
        problem = local_problem(entry, self.settings, marker=cls.checkpoint_marker, what="Scorer")
        if problem:
            raise LocalScorerNotReady(problem)
        self.checkpoint: CheckpointChoice = checkpoint_for(entry, self.settings)
        # Recorded in every score file's config: other weights never pass for these scores.
        self.checkpoint_identity = checkpoint_identity(entry, self.settings)
        self.python = venv_python(self.name, self.settings).absolute()
        self.device, gpus = self._placement(device)
        self.slots = [_Slot(gpu) for gpu in gpus]
        self._shim: Path | None = None
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
            await asyncio.gather(*(slot.worker.stop() for slot in self.slots if slot.worker is not None))

        self._loop.run_until_complete(stop_all())
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
        # Contiguous chunks, one per worker (never more chunks than items).
        count = min(len(self.slots), len(items))
        bounds = [round(i * len(items) / count) for i in range(count + 1)]
        chunks = [items[bounds[i] : bounds[i + 1]] for i in range(count)]
        answers = await asyncio.gather(
            *(self._score_on(slot, chunk, kwargs) for slot, chunk in zip(self.slots, chunks, strict=False)),
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
        return ScoreBatch(np.asarray(rows, dtype=np.float64).reshape(len(rows), -1), details)

    async def _score_on(
        self, slot: _Slot, items: list[ScoreItem], kwargs: dict[str, Any]
    ) -> tuple[list[list[float]], list[dict[str, Any]]]:
        worker = await self._ensure_worker(slot)
        request = Score(id=worker.new_id(), items=[_as_data(item) for item in items], kwargs=kwargs)
        try:
            reply = await worker.score(request, self.settings.local_job_timeout_s)
        except WorkerError:
            await worker.kill()
            raise
        if not reply.ok:
            raise RuntimeError(reply.error or "the worker reported a failure")
        rows = [[np.nan if v is None else v for v in row] for row in reply.scores]
        details = reply.details if len(reply.details) == len(items) else [{} for _ in items]
        return rows, details

    async def _ensure_worker(self, slot: _Slot) -> WorkerProcess:
        if slot.worker is not None and slot.worker.alive:
            return slot.worker
        if slot.failed_starts >= self.MAX_FAILED_STARTS:
            raise WorkerError(f"{slot.last_error} (gave up after {slot.failed_starts} failed loads)")
        if self._shim is None:
            self._shim = package_shim()
        if not self.python.exists():
            raise LocalScorerNotReady(local_problem(self.entry, self.settings, what="Scorer") or str(self.python))
        worker = WorkerProcess(self.python, worker_env(self._shim, slot.gpu), label=f"{self.name}[{slot.gpu}]")
        load = Load(
            service=self.entry.service_class,
            model=self.entry.model,
            args=self.args,
            checkpoint_dir=str(self.checkpoint.path),
            device=self.device if slot.gpu != "" else "cpu",
        )
        try:
            await worker.start(load, self.settings.local_load_timeout_s)
        except WorkerError as exc:
            slot.failed_starts += 1
            slot.last_error = str(exc)
            raise
        slot.worker, slot.failed_starts = worker, 0
        return worker

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

"""InferenceRunner: every (model x task) generation, resumable and crash-safe.

For each planned generation the runner:
  1. takes an exclusive claim on its folder (a second process skips it);
  2. skips it if its metadata already says completed (or failed, unless retrying);
  3. copies the inputs into ``question/`` and marks the metadata ``running``;
  4. hands a ``GenerationJob`` to the model's executor (builtin, api or local);
  5. checks that the video decodes, then writes the final metadata atomically.

A crash at any point leaves either the previous complete state or a folder the
next run redoes; temp files of a killed writer are removed when it is redone.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from vmevalkit.models.base import DEFAULT_SEED, GenerationResult
from vmevalkit.runner.constraints import resolve_request
from vmevalkit.runner.executors import Executor, GenerationJob, executor_for
from vmevalkit.runner.records import (
    METADATA_FILE,
    Claim,
    GenerationRecord,
    GenerationSpec,
    RecordStatus,
    read_record,
    read_status,
    utc_now,
)
from vmevalkit.runner.registry import SAFE_NAME, CatalogEntry, get_entry
from vmevalkit.settings import Settings, get_settings
from vmevalkit.tasks.loader import FINAL_FRAME, FIRST_FRAME, METADATA, PROMPT, Task
from vmevalkit.utils.atomic import atomic_copy, atomic_write_json, remove_temp_files
from vmevalkit.video import VideoError, VideoInfo, probe_video

EventKind = Literal["skipped_done", "skipped_failed", "skipped_budget", "busy", "started", "completed", "failed"]
QUESTION_FILES = (FIRST_FRAME, PROMPT, METADATA, FINAL_FRAME)


@dataclass(frozen=True)
class PlannedGeneration:
    spec: GenerationSpec
    run_dir: Path
    state: RecordStatus | None  # what the folder says now; None when never attempted


@dataclass(frozen=True)
class RunEvent:
    kind: EventKind
    model: str
    task_id: str
    run_dir: Path
    error: str | None = None
    cost_usd: float = 0.0  # estimated list price of a job started now


@dataclass
class ModelSummary:
    model: str
    planned: int = 0
    completed: int = 0
    failed: int = 0
    skipped_done: int = 0
    skipped_failed: int = 0
    skipped_budget: int = 0
    busy: int = 0
    estimated_cost_usd: float = 0.0  # list price of the paid jobs submitted in this run
    failures: list[tuple[str, str]] = field(default_factory=list)  # (task_id, error)

    def count(self, event: RunEvent) -> None:
        if event.kind == "started":
            self.estimated_cost_usd += event.cost_usd
        else:
            setattr(self, event.kind, getattr(self, event.kind) + 1)
        if event.kind == "failed":
            self.failures.append((event.task_id, event.error or "unknown error"))


@dataclass
class RunSummary:
    models: dict[str, ModelSummary] = field(default_factory=dict)

    @property
    def failed(self) -> int:
        return sum(m.failed for m in self.models.values())

    @property
    def completed(self) -> int:
        return sum(m.completed for m in self.models.values())

    @property
    def skipped(self) -> int:
        return sum(m.skipped_done + m.skipped_failed + m.skipped_budget + m.busy for m in self.models.values())

    @property
    def estimated_cost_usd(self) -> float:
        return sum(m.estimated_cost_usd for m in self.models.values())


class _BrokenExecutor(Executor):
    """Stands in for an executor that could not start: each job fails with the reason."""

    def __init__(self, entry: CatalogEntry, settings: Settings, error: str) -> None:
        super().__init__(entry, settings)
        self.error = error

    async def execute(self, job: GenerationJob) -> GenerationResult:
        return GenerationResult.failure(self.entry.model, self.error)


class InferenceRunner:
    def __init__(
        self,
        *,
        experiment: str | None = None,
        output_dir: str | Path | None = None,
        settings: Settings | None = None,
        seed: int = DEFAULT_SEED,
        duration: float | None = None,
        params: dict[str, Any] | None = None,
        retry_failed: bool = False,
        max_cost: float | None = None,
        on_event: Callable[[RunEvent], None] | None = None,
    ) -> None:
        """``duration`` None means each model's default; ``params`` apply to the models that accept them.

        ``max_cost`` (US dollars, list prices) stops submitting new paid jobs once
        their estimated cost would exceed it; resumed jobs cost nothing new.
        """
        self.settings = settings or get_settings()
        self.experiment = experiment or self.settings.experiment
        if not SAFE_NAME.fullmatch(self.experiment):
            raise ValueError(
                f"experiment name {self.experiment!r} must be a plain folder name (letters, digits, '.', '_', '-')"
            )
        # Absolute, so that the paths handed to wrappers never depend on their own base folder.
        self.output_dir = Path(output_dir or self.settings.output_dir).absolute()
        self.seed = seed
        self.duration = duration
        self.params = dict(params or {})
        self.retry_failed = retry_failed
        self.max_cost = max_cost
        self.spent_usd = 0.0  # estimated, over every model of this run
        self.on_event = on_event or (lambda event: None)

    @property
    def experiment_dir(self) -> Path:
        return self.output_dir / self.experiment

    # -- planning -----------------------------------------------------------------

    def plan(self, models: Sequence[str], tasks: Sequence[Task]) -> list[PlannedGeneration]:
        """Every generation the run covers, with the state its folder is in now."""
        entries = [get_entry(name) for name in dict.fromkeys(models)]
        planned = []
        for entry in entries:
            request = resolve_request(entry.name, entry.constraints, self.duration, self.params)
            params = tuple(sorted(request.params.items()))
            checkpoint = self._checkpoint_identity(entry)
            for task in tasks:
                spec = GenerationSpec(
                    entry=entry,
                    task=task,
                    seed=self.seed,
                    duration=request.duration,
                    params=params,
                    checkpoint=checkpoint,
                )
                run_dir = spec.run_dir(self.experiment_dir)
                planned.append(PlannedGeneration(spec, run_dir, read_status(run_dir)))
        return planned

    def _checkpoint_identity(self, entry: CatalogEntry) -> str | None:
        """For local models, which weights make the video: part of the run id, so other weights never resume it."""
        if entry.kind != "local":
            return None
        from vmevalkit.models.local.installation import checkpoint_identity

        return checkpoint_identity(entry, self.settings)

    def will_run(self, item: PlannedGeneration) -> bool:
        return item.state != "completed" and (item.state != "failed" or self.retry_failed)

    # -- running ------------------------------------------------------------------

    def run(self, models: Sequence[str], tasks: Sequence[Task]) -> RunSummary:
        return asyncio.run(self.run_async(self.plan(models, tasks)))

    async def run_async(self, plan: Sequence[PlannedGeneration]) -> RunSummary:
        summary = RunSummary()
        by_model: dict[str, list[PlannedGeneration]] = {}
        for item in plan:
            by_model.setdefault(item.spec.entry.name, []).append(item)
            summary.models.setdefault(item.spec.entry.name, ModelSummary(item.spec.entry.name)).planned += 1

        def emit(event: RunEvent) -> None:
            summary.models[event.model].count(event)
            self.on_event(event)

        overall = asyncio.Semaphore(self.settings.max_concurrency)
        await asyncio.gather(*(self._run_model(items, overall, emit) for items in by_model.values()))
        return summary

    async def _run_model(
        self, items: list[PlannedGeneration], overall: asyncio.Semaphore, emit: Callable[[RunEvent], None]
    ) -> None:
        todo = []
        for item in items:
            if self.will_run(item):
                todo.append(item)
            else:
                kind: EventKind = "skipped_done" if item.state == "completed" else "skipped_failed"
                emit(RunEvent(kind, item.spec.entry.name, item.spec.task.task_id, item.run_dir))
        if not todo:
            return
        executor = await self._start_executor(todo[0].spec.entry)
        try:
            per_model = asyncio.Semaphore(executor.max_concurrency)
            await asyncio.gather(*(self._run_one(executor, item, per_model, overall, emit) for item in todo))
        finally:
            await executor.close()

    async def _start_executor(self, entry: CatalogEntry) -> Executor:
        executor: Executor | None = None
        try:
            executor = executor_for(entry, self.settings)
            await executor.start()
            return executor
        except Exception as exc:  # one broken model must not stop the others
            if executor is not None:
                with contextlib.suppress(Exception):
                    await executor.close()  # release whatever a half-done start acquired
            return _BrokenExecutor(entry, self.settings, f"model could not start: {type(exc).__name__}: {exc}")

    async def _run_one(
        self,
        executor: Executor,
        item: PlannedGeneration,
        per_model: asyncio.Semaphore,
        overall: asyncio.Semaphore,
        emit: Callable[[RunEvent], None],
    ) -> None:
        spec, run_dir = item.spec, item.run_dir
        name, task_id = spec.entry.name, spec.task.task_id
        async with per_model, overall:
            claim = await asyncio.to_thread(Claim.try_acquire, run_dir)
            if claim is None:
                emit(RunEvent("busy", name, task_id, run_dir))
                return
            with claim:
                # Re-read under the claim: another process may have finished it since planning.
                previous = await asyncio.to_thread(read_record, run_dir)
                if previous is not None and previous.status == "completed":
                    emit(RunEvent("skipped_done", name, task_id, run_dir))
                    return
                if previous is not None and previous.status == "failed" and not self.retry_failed:
                    emit(RunEvent("skipped_failed", name, task_id, run_dir))
                    return
                # A job already submitted (its id is in provider_state) costs nothing new to resume.
                resuming = previous is not None and previous.status == "running" and bool(previous.provider_state)
                cost = 0.0 if resuming else self._reserve_budget(spec)
                if cost is None:
                    emit(RunEvent("skipped_budget", name, task_id, run_dir))
                    return
                emit(RunEvent("started", name, task_id, run_dir, cost_usd=cost))
                record = await asyncio.to_thread(self._prepare, spec, run_dir, previous)
                result = await self._execute(executor, spec, run_dir, record)
                record = await asyncio.to_thread(self._finish, spec, run_dir, record, result)
                emit(RunEvent(record.status, name, task_id, run_dir, record.error))  # type: ignore[arg-type]

    def _reserve_budget(self, spec: GenerationSpec) -> float | None:
        """Count a new paid job against --max-cost: its estimated cost, or None when over budget."""
        cost = spec.estimated_cost()
        if cost and self.max_cost is not None and self.spent_usd + cost > self.max_cost + 1e-9:
            return None
        self.spent_usd += cost  # one event loop thread: no lock needed
        return cost

    def _prepare(self, spec: GenerationSpec, run_dir: Path, previous: GenerationRecord | None) -> GenerationRecord:
        remove_temp_files(run_dir)
        question_dir = run_dir / "question"
        for name in QUESTION_FILES:
            source = spec.task.path / name
            if source.is_file():
                atomic_copy(source, question_dir / name)
        # An interrupted attempt ("running") may have left a paid provider job to resume;
        # a failed one is started afresh.
        provider_state = previous.provider_state if previous is not None and previous.status == "running" else {}
        record = spec.new_record(
            status="running",
            attempts=(previous.attempts if previous else 0) + 1,
            started_at=utc_now(),
            provider_state=provider_state,
        )
        atomic_write_json(run_dir / METADATA_FILE, record.model_dump(mode="json"))
        return record

    async def _execute(
        self, executor: Executor, spec: GenerationSpec, run_dir: Path, record: GenerationRecord
    ) -> GenerationResult:
        def save_state(state: dict[str, Any]) -> None:
            record.provider_state = dict(state)
            atomic_write_json(run_dir / METADATA_FILE, record.model_dump(mode="json"))

        job = GenerationJob(
            image_path=run_dir / "question" / FIRST_FRAME,
            prompt=spec.task.prompt,
            duration=spec.duration,
            seed=spec.seed,
            output_path=run_dir / "video" / spec.video_name,
            params=dict(spec.params),
            ground_truth_task=spec.task if executor.requires_ground_truth else None,
            provider_state=dict(record.provider_state),
            save_state=save_state,
        )
        # Executors that poll remote jobs keep their own deadline (they cancel the job on the provider).
        timeout = None if executor.manages_own_timeout else self.settings.job_timeout_s
        try:
            return await asyncio.wait_for(executor.execute(job), timeout=timeout)
        except asyncio.TimeoutError:
            return GenerationResult.failure(spec.entry.model, f"timed out after {timeout:g} s")
        except Exception as exc:
            return GenerationResult.failure(spec.entry.model, f"{type(exc).__name__}: {exc}")

    def _finish(
        self, spec: GenerationSpec, run_dir: Path, record: GenerationRecord, result: GenerationResult
    ) -> GenerationRecord:

        expected = run_dir / "video" / spec.video_name
        video: str | None = None
        info: VideoInfo | None = None
        if result.success:
            try:
                produced = Path(result.video_path or "")
                if produced.resolve() != expected.resolve():
                    if not produced.is_file():
                        raise VideoError(f"the model reported {produced}, which does not exist")
                    atomic_copy(produced, expected)  # move it into the generation folder
                    produced.unlink()
                info = probe_video(expected)
                if info.frame_count == 0:
                    raise VideoError("the video has no frames")
                video = os.path.relpath(expected, run_dir)
                info = info.model_copy(update={"path": video})
                result = result.model_copy(update={"video_path": video})
            except (VideoError, OSError) as exc:
                result = GenerationResult.failure(
                    result.model,
                    f"video check failed: {exc}",
                    generation_id=result.generation_id,
                    duration_seconds=result.duration_seconds,
                )
        if not result.success and expected.exists():
            expected.unlink()  # never leave a (possibly corrupt) video beside a failed record
        final = record.model_copy(
            update={
                "status": "completed" if result.success else "failed",
                "video": video,
                "video_info": info,
                "error": result.error,
                "result": result,
                "finished_at": utc_now(),
            }
        )
        atomic_write_json(run_dir / METADATA_FILE, final.model_dump(mode="json"))
        return final

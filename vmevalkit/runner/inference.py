"""InferenceRunner: every (model x task) generation, resumable and crash-safe.

For each planned generation the runner:
  1. takes an exclusive claim on its folder (a second process skips it, and
     looks again once its own work is done: a claim whose holder died is taken over);
  2. skips it if its metadata already says completed and its video is still the
     one recorded (or failed, unless retrying);
  3. copies the inputs into ``question/`` and marks the metadata ``running``;
  4. hands a ``GenerationJob`` to the model's executor (builtin, api or local),
     which writes the video to a private path of this attempt;
  5. checks that the video decodes, moves it into place under the claim, records
     its size and sha256, then writes the final metadata atomically.

A crash at any point leaves either the previous complete state or a folder the
next run redoes; temp files of a killed writer are removed when it is redone.
An attempt that timed out can never put its late video in place: only step 5,
run by the attempt that holds the claim, does. An I/O error in the runner's own
bookkeeping fails that generation (a full or read-only disk stops the run),
never the process. Every string a model, provider or worker returns is scrubbed
of secrets before it is written or reported.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from vmevalkit.cluster.pool import Placement
from vmevalkit.models.base import DEFAULT_SEED, GenerationResult
from vmevalkit.models.constraints import resolve_request
from vmevalkit.models.executor import Executor, GenerationJob
from vmevalkit.runner.executors import executor_for
from vmevalkit.runner.records import (
    METADATA_FILE,
    Claim,
    GenerationRecord,
    GenerationSpec,
    RecordStatus,
    file_sha256,
    read_record,
    scan_state,
    utc_now,
    video_problem,
)
from vmevalkit.runner.registry import SAFE_NAME, CatalogEntry, get_entry, load_wrapper_class
from vmevalkit.settings import Settings, get_settings
from vmevalkit.tasks.loader import FINAL_FRAME, FIRST_FRAME, GROUND_TRUTH_VIDEO, METADATA, PROMPT, Task
from vmevalkit.utils.atomic import atomic_copy, atomic_write_json, remove_temp_files, temp_path_for
from vmevalkit.utils.redact import scrub, scrub_data
from vmevalkit.video import VideoError, VideoInfo, probe_video

EventKind = Literal[
    "skipped_done", "skipped_failed", "skipped_budget", "busy", "redo", "started", "completed", "failed", "progress"
]
QUESTION_FILES = (FIRST_FRAME, PROMPT, METADATA, FINAL_FRAME)
# A disk that is full or read-only fails every later write too: the run stops starting generations.
FATAL_DISK_ERRORS = frozenset({errno.ENOSPC, errno.EROFS, errno.EDQUOT})


class OutputDirError(ValueError):
    """The output directory cannot be written: a usage error, found before any work."""


@dataclass(frozen=True)
class PlannedGeneration:
    spec: GenerationSpec
    run_dir: Path
    state: RecordStatus | None  # what the folder says now; None when never attempted
    # Set when the folder says completed but its video no longer counts (deleted, resized, or
    # rehashed differently under --verify): the generation is redone, and this says why.
    problem: str | None = None


@dataclass(frozen=True)
class RunEvent:
    kind: EventKind
    model: str
    task_id: str
    run_dir: Path
    error: str | None = None  # for "failed", why; for "redo", why a completed one is redone; for "busy", who holds it
    cost_usd: float = 0.0  # estimated list price of a job started now
    # For "progress" (a running job, not counted in the summary): step ``step`` of ``total``.
    step: int = 0
    total: int = 0
    # For a finished job run by an engine that spreads work (Ray): where it ran, "10.0.0.2 GPU 3" or "10.0.0.2 CPU".
    where: str | None = None


def where_of(record: GenerationRecord) -> str | None:
    """Where a generation ran, from its result's ``placement`` (the Ray engine records it), else None."""
    placement = record.result.metadata.get("placement") if record.result is not None else None
    if not isinstance(placement, dict):
        return None
    try:
        return Placement.from_json(placement).label
    except (KeyError, TypeError, ValueError):  # a record written otherwise: no place to count it under
        return None


@dataclass
class ModelSummary:
    model: str
    planned: int = 0
    completed: int = 0
    failed: int = 0
    skipped_done: int = 0
    skipped_failed: int = 0
    skipped_budget: int = 0
    busy: int = 0  # still claimed by another live process when this run ended
    redo: int = 0  # completed before, but the video no longer matched its record
    estimated_cost_usd: float = 0.0  # list price of the paid jobs submitted in this run
    failures: list[tuple[str, str]] = field(default_factory=list)  # (task_id, error)
    held: list[tuple[str, str]] = field(default_factory=list)  # (task_id, holder) of the busy ones

    def count(self, event: RunEvent) -> None:
        if event.kind == "progress":
            return
        if event.kind == "started":
            self.estimated_cost_usd += event.cost_usd
        else:
            setattr(self, event.kind, getattr(self, event.kind) + 1)
        if event.kind == "failed":
            self.failures.append((event.task_id, event.error or "unknown error"))
        if event.kind == "busy":
            self.held.append((event.task_id, event.error or "another process"))


@dataclass
class RunSummary:
    models: dict[str, ModelSummary] = field(default_factory=dict)
    # Finished jobs per place they ran (``RunEvent.where``) and outcome: {"10.0.0.2 GPU 3": {"completed": 12}}.
    places: dict[str, dict[str, int]] = field(default_factory=dict)

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
    def busy(self) -> int:
        return sum(m.busy for m in self.models.values())

    @property
    def complete(self) -> bool:
        """Every selected generation is completed: nothing failed, skipped as failed, over budget or held."""
        return not any(m.failed or m.skipped_failed or m.skipped_budget or m.busy for m in self.models.values())

    @property
    def estimated_cost_usd(self) -> float:
        return sum(m.estimated_cost_usd for m in self.models.values())


class _BrokenExecutor(Executor):
    """Stands in for an executor that could not start: each job fails with the reason."""

    def __init__(self, entry: CatalogEntry, settings: Settings, error: str) -> None:  # no wrapper: it never built
        self.entry, self.settings, self.error = entry, settings, error

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
        verify: bool = False,
        on_event: Callable[[RunEvent], None] | None = None,
    ) -> None:
        """``duration`` None means each model's default; ``params`` apply to the models that accept them.

        ``max_cost`` (US dollars, list prices) stops submitting new paid jobs once
        their estimated cost would exceed it; resumed jobs cost nothing new.
        ``verify`` rehashes every completed video against its recorded sha256
        (without it a resume checks presence and size only).
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
        self.verify = verify
        self.spent_usd = 0.0  # estimated, over every model of this run
        self.on_event = on_event or (lambda event: None)
        self.stopped: str | None = None  # set when the disk fails: no new generation starts

    @property
    def experiment_dir(self) -> Path:
        return self.output_dir / self.experiment

    def check_output_dir(self) -> None:
        """Before any work: the experiment folder can be created and written, else ``OutputDirError``."""
        where = self.experiment_dir
        try:
            where.mkdir(parents=True, exist_ok=True)
            probe = temp_path_for(where / "write-check")
            probe.write_bytes(b"")
            probe.unlink()
        except (FileExistsError, NotADirectoryError):
            raise OutputDirError(
                f"output directory {where} cannot be created: a part of that path is a file; pass another --output-dir"
            ) from None
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            raise OutputDirError(
                f"output directory {where} is not writable ({reason}); pass a writable --output-dir"
            ) from None

    # -- planning -----------------------------------------------------------------

    def plan(self, models: Sequence[str], tasks: Sequence[Task]) -> list[PlannedGeneration]:
        """Every generation the run covers, with the state its folder is in now."""
        entries = [get_entry(name) for name in dict.fromkeys(models)]
        planned = []
        for entry in entries:
            request = resolve_request(entry.name, entry.constraints, self.duration, self.params)
            params = tuple(sorted(request.params.items()))
            checkpoint = self._checkpoint_identity(entry)
            ground_truth = self._receives_ground_truth(entry)
            for task in tasks:
                spec = GenerationSpec(
                    entry=entry,
                    task=task,
                    seed=self.seed,
                    duration=request.duration,
                    params=params,
                    checkpoint=checkpoint,
                    ground_truth=ground_truth,
                )
                run_dir = spec.run_dir(self.experiment_dir)
                state, problem = scan_state(run_dir, verify=self.verify)
                planned.append(PlannedGeneration(spec, run_dir, state, problem))
        return planned

    @staticmethod
    def _receives_ground_truth(entry: CatalogEntry) -> bool:
        """Whether the wrapper is handed the answer: then the answer is part of the run id too."""
        try:
            return bool(getattr(load_wrapper_class(entry), "requires_ground_truth", False))
        except Exception:  # a wrapper that cannot load fails when its executor starts, with the reason
            return False

    def _checkpoint_identity(self, entry: CatalogEntry) -> str | None:
        """For local models, which weights make the video: part of the run id, so other weights never resume it."""
        if entry.kind != "local":
            return None
        from vmevalkit.workers.installation import checkpoint_identity

        return checkpoint_identity(entry, self.settings)

    def will_run(self, item: PlannedGeneration) -> bool:
        if item.state == "completed":
            return item.problem is not None
        return item.state != "failed" or self.retry_failed

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
            if event.where is not None:
                counts = summary.places.setdefault(event.where, {})
                counts[event.kind] = counts.get(event.kind, 0) + 1
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
        executor = await self._start_executor(todo[0].spec.entry, len(todo))
        try:
            per_model = asyncio.Semaphore(executor.max_concurrency)

            async def run_all(batch: list[PlannedGeneration]) -> list[PlannedGeneration]:
                held = await asyncio.gather(*(self._run_one(executor, i, per_model, overall, emit) for i in batch))
                return [item for item, busy in zip(batch, held, strict=True) if busy]

            busy = await run_all(todo)
            # Claims held by another process at first are looked at again once this run's own work is
            # done: a holder that died (its claim is free now, its record still "running") is taken
            # over, one that finished is skipped as done. Again while that frees some.
            while busy:
                still = await run_all(busy)
                if len(still) == len(busy):
                    break
                busy = still
            for item in busy:
                holder = await asyncio.to_thread(Claim.holder, item.run_dir)
                emit(RunEvent("busy", item.spec.entry.name, item.spec.task.task_id, item.run_dir, holder))
        finally:
            await executor.close()

    async def _start_executor(self, entry: CatalogEntry, jobs: int) -> Executor:
        executor: Executor | None = None
        try:
            executor = executor_for(entry, self.settings)
            executor.jobs_hint = jobs
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
    ) -> bool:
        """Run one generation under its claim. Returns True when another process holds the claim."""
        spec, run_dir = item.spec, item.run_dir
        name, task_id = spec.entry.name, spec.task.task_id
        async with per_model, overall if executor.works_here else contextlib.nullcontext():
            if self.stopped is not None:
                emit(RunEvent("failed", name, task_id, run_dir, f"not started: {self.stopped}"))
                return False
            try:
                claim = await asyncio.to_thread(Claim.try_acquire, run_dir)
            except OSError as exc:
                emit(RunEvent("failed", name, task_id, run_dir, self._io_failure("claiming its folder", exc)))
                return False
            if claim is None:
                # Held by another process. Done already (a peer may hold it just to look at it): nothing to do.
                state, problem = await asyncio.to_thread(scan_state, run_dir)
                if state == "completed" and problem is None:
                    emit(RunEvent("skipped_done", name, task_id, run_dir))
                    return False
                return True
            with claim:
                record: GenerationRecord | None = None
                try:
                    # Re-read under the claim: another process may have finished it since planning.
                    previous = await asyncio.to_thread(read_record, run_dir)
                    if previous is not None and previous.status == "completed":
                        problem = await asyncio.to_thread(self._video_problem, run_dir, previous)
                        if problem is None:
                            emit(RunEvent("skipped_done", name, task_id, run_dir))
                            return False
                        emit(RunEvent("redo", name, task_id, run_dir, problem))
                    if previous is not None and previous.status == "failed" and not self.retry_failed:
                        emit(RunEvent("skipped_failed", name, task_id, run_dir))
                        return False
                    # A job already submitted (its id is in provider_state) costs nothing new to resume; one
                    # only marked "submitting" may be submitted again, so it counts against --max-cost.
                    resuming = (
                        previous is not None
                        and previous.status == "running"
                        and bool(previous.provider_state.get("job_id"))
                    )
                    cost = 0.0 if resuming else self._reserve_budget(spec)
                    if cost is None:
                        emit(RunEvent("skipped_budget", name, task_id, run_dir))
                        return False
                    emit(RunEvent("started", name, task_id, run_dir, cost_usd=cost))
                    record = await asyncio.to_thread(self._prepare, spec, run_dir, previous)
                    # Private to this attempt: a late writer (a job that outlived its timeout) can never
                    # replace the video of a later attempt. _finish moves it into place under the claim.
                    attempt_video = temp_path_for(run_dir / "video" / spec.video_name)
                    result = await self._execute(executor, spec, run_dir, record, attempt_video)
                    record = await asyncio.to_thread(self._finish, spec, run_dir, record, result, attempt_video)
                except OSError as exc:
                    error = self._io_failure("writing its folder", exc)
                    await asyncio.to_thread(self._give_up, run_dir, record, error)
                    emit(RunEvent("failed", name, task_id, run_dir, error))
                    return False
                except Exception as exc:  # a bug in bookkeeping fails this generation, not the batch
                    error = scrub(f"{type(exc).__name__}: {exc}")
                    await asyncio.to_thread(self._give_up, run_dir, record, error)
                    emit(RunEvent("failed", name, task_id, run_dir, error))
                    return False
                emit(RunEvent(record.status, name, task_id, run_dir, record.error, where=where_of(record)))  # type: ignore[arg-type]
        return False

    def _io_failure(self, what: str, exc: OSError) -> str:
        """The reason an I/O error outside a job gives; a full or read-only disk also stops the run."""
        reason = f"{exc.strerror or type(exc).__name__}" + (f": {exc.filename}" if exc.filename else "")
        message = scrub(f"I/O error {what}: {reason}")
        if exc.errno in FATAL_DISK_ERRORS and self.stopped is None:
            self.stopped = f"the run stopped after an earlier error ({message})"
        return message

    def _give_up(self, run_dir: Path, record: GenerationRecord | None, error: str) -> None:
        """Record a generation as failed after an error outside its job, as far as the disk allows.

        Never leaves a ``running`` record behind in a live process: when even the failed record
        cannot be written, the ``running`` one is removed, unless it holds a provider's job id,
        which is what keeps the next run from paying for the job again.
        """
        if record is None:
            return  # nothing of this attempt was written: the folder is as the last run left it
        final = record.model_copy(update={"status": "failed", "error": error, "finished_at": utc_now()})
        try:
            self._write_record(run_dir, final)
            return
        except OSError:
            pass
        if not record.provider_state.get("job_id"):
            with contextlib.suppress(OSError):
                (run_dir / METADATA_FILE).unlink()

    @staticmethod
    def _video_problem(run_dir: Path, record: GenerationRecord) -> str | None:
        return video_problem(run_dir, record.video, record.video_size, record.video_sha256, verify=True)

    @staticmethod
    def _write_record(run_dir: Path, record: GenerationRecord) -> None:
        """The one place ``metadata.json`` is written: every string in it is scrubbed of secrets first."""
        atomic_write_json(run_dir / METADATA_FILE, scrub_data(record.model_dump(mode="json")))

    def _reserve_budget(self, spec: GenerationSpec) -> float | None:
        """Count a new paid job against --max-cost: its estimated cost, or None when over budget."""
        cost = spec.estimated_cost()
        if cost and self.max_cost is not None and self.spent_usd + cost > self.max_cost + 1e-9:
            return None
        self.spent_usd += cost  # one event loop thread: no lock needed
        return cost

    def _prepare(self, spec: GenerationSpec, run_dir: Path, previous: GenerationRecord | None) -> GenerationRecord:
        remove_temp_files(run_dir)  # a killed attempt's temp files, its private video included
        question_dir = run_dir / "question"
        for name in QUESTION_FILES:
            source = spec.task.path / name
            if source.is_file():
                atomic_copy(source, question_dir / name)
        if spec.task.ground_truth_video is not None:  # checked by the loader: inside the questions dir
            atomic_copy(spec.task.ground_truth_video, question_dir / GROUND_TRUTH_VIDEO)
        # An interrupted attempt ("running") may have left a paid provider job to resume;
        # a failed one is started afresh.
        provider_state = previous.provider_state if previous is not None and previous.status == "running" else {}
        record = spec.new_record(
            status="running",
            attempts=(previous.attempts if previous else 0) + 1,
            started_at=utc_now(),
            provider_state=provider_state,
        )
        self._write_record(run_dir, record)
        return record

    async def _execute(
        self, executor: Executor, spec: GenerationSpec, run_dir: Path, record: GenerationRecord, output_path: Path
    ) -> GenerationResult:
        def save_state(state: dict[str, Any]) -> None:
            record.provider_state = dict(state)
            self._write_record(run_dir, record)

        job = GenerationJob(
            image_path=run_dir / "question" / FIRST_FRAME,
            prompt=spec.task.prompt,
            duration=spec.duration,
            seed=spec.seed,
            output_path=output_path,
            params=dict(spec.params),
            ground_truth_task=spec.task if executor.requires_ground_truth else None,
            provider_state=dict(record.provider_state),
            save_state=save_state,
            on_progress=lambda step, total: self.on_event(
                RunEvent("progress", spec.entry.name, spec.task.task_id, run_dir, step=step, total=total)
            ),
        )
        # Executors that poll remote jobs keep their own deadline (they cancel the job on the provider).
        timeout = None if executor.manages_own_timeout else self.settings.job_timeout_s
        try:
            return await asyncio.wait_for(executor.execute(job), timeout=timeout)
        except asyncio.TimeoutError:
            return GenerationResult.failure(spec.entry.model, f"timed out after {timeout:g} s")
        except Exception as exc:
            return GenerationResult.failure(spec.entry.model, scrub(f"{type(exc).__name__}: {exc}"))

    def _finish(
        self,
        spec: GenerationSpec,
        run_dir: Path,
        record: GenerationRecord,
        result: GenerationResult,
        attempt_video: Path,
    ) -> GenerationRecord:
        """Check the attempt's video, move it into place, and write the final record (under the claim)."""
        expected = run_dir / "video" / spec.video_name
        video: str | None = None
        info: VideoInfo | None = None
        size: int | None = None
        sha256: str | None = None
        produced = Path(result.video_path or "")
        if result.success:
            try:
                if not produced.is_file():
                    raise VideoError(f"the model reported {produced.name or 'no file'}, which does not exist")
                info = probe_video(produced)
                if info.frame_count == 0:
                    raise VideoError("the video has no frames")
                if produced.resolve() != expected.resolve():
                    if produced.parent.resolve() == expected.parent.resolve():
                        os.replace(produced, expected)  # the attempt's private file: a rename in one folder
                    else:
                        atomic_copy(produced, expected)  # a model that wrote elsewhere
                        produced.unlink()
                size, sha256 = expected.stat().st_size, file_sha256(expected)
                video = os.path.relpath(expected, run_dir)
                info = info.model_copy(update={"path": video})
                result = result.model_copy(update={"video_path": video})
            except (VideoError, OSError) as exc:
                if isinstance(exc, OSError) and exc.errno in FATAL_DISK_ERRORS:
                    raise  # the disk, not the video: _run_one stops the run
                result = GenerationResult.failure(
                    result.model,
                    f"video check failed: {exc}",
                    generation_id=result.generation_id,
                    duration_seconds=result.duration_seconds,
                )
        if not result.success:
            # Never leave a (possibly corrupt) video beside a failed record, nor this attempt's private file.
            for leftover in (expected, produced, attempt_video):
                if leftover.name and leftover.is_file() and leftover.parent.resolve() == expected.parent.resolve():
                    leftover.unlink()
        final = record.model_copy(
            update={
                "status": "completed" if result.success else "failed",
                "video": video,
                "video_info": info,
                "video_size": size,
                "video_sha256": sha256,
                "error": scrub(result.error) if result.error else None,
                "result": result,
                "finished_at": utc_now(),
            }
        )
        self._write_record(run_dir, final)
        return final

"""Scoring every finished generation of an experiment, resumably: one score file per generation x scorer.

A generation is a run folder ``<output>/<experiment>/<model>/<domain>_task/<task_id>/<run_id>/`` whose
``metadata.json`` says ``"status": "completed"``. Each scorer writes ``scores/<scorer>.json`` into it
(``ScoreRecord``), atomically, so a killed run never leaves half a file behind. A catalog scorer's files take its
catalog name; a ``--scorer-class-path`` class's, its declared ``name`` or else its full class path
(``plugin_scorer_name``), which the report and ``evaluate-scorers`` then show and take as the scorer's name.

Resume rule: a score file is kept (skipped) when it holds no error and its ``video_sha256``, the scorer's
``version``, its ``dimensions`` and its ``config`` (constructor keywords, ``score_batch`` keywords, checkpoint)
all still match; anything else (a regenerated video, a new scorer version, other options, an error) is redone.

Errors: a ``score_batch`` call that raises is retried item by item, so one bad video fails alone; each item that
still fails gets an error score file (``error`` set, every dimension null), which the next run redoes. A scorer
that breaks the contract (a wrong ``[N, K]`` shape) raises ``ScorerContractError`` before that batch writes
anything: it is a bug in the scorer, not a property of one video.

Answer leakage: ``items_for`` fills the ground-truth fields of a ``ScoreItem`` (``final_frame``, ``task_dir``,
``ground_truth_video``) only for a scorer whose declared ``inputs`` include them.

The video. ``metadata.json`` names it by a path relative to the run folder; a path that resolves outside that
folder (``../../other.mp4``, an absolute path, a symlink out) is never read: the generation gets an error score
file saying so (``error_kind`` ``video_outside_run_folder``). A video that is missing or does not decode (every
frame is decoded once before it is scored) gets one too (``error_kind`` ``video_unreadable``): both count as
failures in a report, not as items the scorer could not judge.

Processes. With ``workers`` above 1 and a ``spec`` (how to build the scorer again: only for in-process, CPU-bound
scorers), the batches are scored by a pool of child processes (``vmevalkit.scoring.pool``) and every file is still
written here, by this process, atomically: the same batches, the same values, the same files (apart from
``scored_at``) as in one process. A child that dies fails only its batch, whose items are retried one by one; an
item whose child dies on its own gets an error score file (``scorer_error``), which the next run redoes. A catalog
scorer gets only the children its work pays for, min(workers, batches, ceil(items / MIN_ITEMS_PER_CHILD)), and a
run worth one child is scored here, as with ``workers=1`` (the rule and its measurement: ``vmevalkit.scoring.pool``);
a plug-in class always scores in children, so one that kills its process fails only its own items.

Secrets. Every string a scorer returns or raises (details, rationales, error messages) passes
``vmevalkit.utils.redact.scrub_data`` on its way into a score file or a ``ScoreOutcome``: a key echoed by a
provider or a judge never reaches the disk or the terminal.
"""

from __future__ import annotations

import json
import math
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import chain, islice
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Literal, Protocol

from pydantic import AliasChoices, BaseModel, Field

from vmevalkit.runner.records import METADATA_FILE, GenerationRecord, file_sha256, read_record, read_status, utc_now
from vmevalkit.runner.registry import SAFE_NAME, get_scorer_entry
from vmevalkit.scoring.base import (
    Range,
    ScoreItem,
    ScorerContractError,
    checked_scores,
    dimensions_of,
    inputs_of,
    load_scorer_class,
    ranges_of,
)
from vmevalkit.scoring.build import build_scorer
from vmevalkit.scoring.pool import MIN_ITEMS_PER_CHILD, Reply, ScorerPool, ScorerSpec, children_for, ignore_sigint
from vmevalkit.tasks.loader import FINAL_FRAME, FIRST_FRAME, GROUND_TRUTH_VIDEO
from vmevalkit.utils.atomic import atomic_write_json
from vmevalkit.utils.imports import PluginLoadError, load_object, suggest
from vmevalkit.utils.redact import scrub, scrub_data
from vmevalkit.video import VideoError, probe_video

SCORES_DIR = "scores"
SCORE_SCHEMA_VERSION = 1
DEFAULT_BATCH_SIZE = 8

OutcomeStatus = Literal["scored", "skipped", "failed"]
# Why an error score file was written: the video (missing or undecodable; outside its run folder) or the scorer.
ErrorKind = Literal["video_unreadable", "video_outside_run_folder", "scorer_error"]
VIDEO_ERROR_KINDS: frozenset[str] = frozenset({"video_unreadable", "video_outside_run_folder"})


class GenerationSelectionError(ValueError):
    """An experiment folder or a filter (model, domain, task id) that matches no finished generation."""


class VideoInputError(ValueError):
    """A generation whose video cannot be scored: none named, outside its run folder, missing or undecodable."""

    def __init__(self, message: str, kind: ErrorKind = "video_unreadable") -> None:
        super().__init__(message)
        self.kind: ErrorKind = kind


# -- the catalog ----------------------------------------------------------------------


def load_catalog_scorer(
    name: str,
    init_kwargs: dict[str, Any] | None = None,
    checkpoint: str | None = None,
    device: str | None = None,
) -> Any:
    """The catalog scorer ``name``, built with its catalog ``args`` overridden by ``init_kwargs``.

    The registry finds and validates the entry (``UnknownScorerError``, ``ScorerCatalogError``); the classes are
    loaded here, by their dotted paths. An entry with a ``wrapper`` (a local scorer: ``LocalScorer``) is built as
    ``wrapper(entry, ...)``, which raises ``LocalScorerNotReady`` naming the install command when the scorer's
    virtualenv or weights are missing; without one, the ``service`` is the scorer itself."""
    entry = get_scorer_entry(name)
    if entry.wrapper:
        try:
            wrapper = load_object(entry.wrapper)
        except PluginLoadError as exc:
            raise ScorerContractError(f"scorer '{name}': wrapper {exc}") from exc
        try:
            return wrapper(entry, checkpoint=checkpoint, device=device, **(init_kwargs or {}))
        except TypeError as exc:
            raise ScorerContractError(f"scorer '{name}': {exc}") from exc
    cls = load_scorer_class(entry.service)
    return build_scorer(cls, {**entry.args, **(init_kwargs or {})}, checkpoint=checkpoint, device=device)


def build_from_spec(spec: ScorerSpec) -> Any:
    """The scorer a ``ScorerSpec`` describes, built as the parent built it (in a child process of the pool)."""
    if spec.catalog_name is not None:
        return load_catalog_scorer(spec.catalog_name, spec.init_kwargs, spec.checkpoint, spec.device)
    if spec.class_path is None:
        raise ValueError("a ScorerSpec names either a catalog scorer or a class path")
    return build_scorer(load_scorer_class(spec.class_path), spec.init_kwargs, spec.checkpoint, spec.device)


def plugin_class(obj: Any) -> type:
    """The class a scorer was loaded as: a wrapped plug-in's own (``CmiScorer.plugin_class``), else its type."""
    wrapped = getattr(obj, "plugin_class", None)
    return wrapped if isinstance(wrapped, type) else type(obj)


def class_path(obj: Any) -> str:
    cls = plugin_class(obj)
    return f"{cls.__module__}:{cls.__qualname__}"


def _checked_name(scorer: Any, name: Any) -> str:
    if not isinstance(name, str) or not SAFE_NAME.fullmatch(name):
        raise ScorerContractError(
            f"{class_path(scorer)} has name {name!r}, which cannot be a file name: "
            "set `name` to letters, digits, '.', '_' or '-'"
        )
    return name


def scorer_name_of(scorer: Any) -> str:
    """The name score files are written under: the scorer's ``name``, else its class name."""
    return _checked_name(scorer, getattr(scorer, "name", "") or type(scorer).__name__)


def plugin_scorer_name(scorer: Any) -> str:
    """The name a ``--scorer-class-path`` scorer's files take: its declared ``name``, else its full class path
    (``scores/my_pkg.scorers.MyScorer.json``), so two classes of one name in two modules never share a file.
    Catalog scorers keep their catalog names."""
    cls = plugin_class(scorer)
    return _checked_name(scorer, getattr(scorer, "name", "") or f"{cls.__module__}.{cls.__qualname__}")


# -- finding generations --------------------------------------------------------------


def path_inside(run_dir: Path, relative: str) -> Path | None:
    """``run_dir / relative`` when it resolves (symlinks followed) inside ``run_dir``, else None.

    A path read from ``metadata.json`` is data, not a location to trust: ``../../other.mp4``, an absolute path or
    a symlink that leads out of the run folder would make one generation be scored (or shown) from another's file.
    """
    if not relative or "\x00" in relative:
        return None
    path = run_dir / relative
    try:
        inside = path.resolve().is_relative_to(run_dir.resolve())
    except (OSError, RuntimeError, ValueError):  # a symlink loop, an unreadable folder
        return None
    return path if inside else None


def video_location(run_dir: Path, video: str | None) -> tuple[Path | None, str | None]:
    """The video a record names, or why it cannot be used: (path, None) or (None, reason)."""
    if not video:
        return None, f"{METADATA_FILE} names no video"
    path = path_inside(run_dir, video)
    if path is None:
        return None, f"the video path in {METADATA_FILE} points outside the run folder: it is not read"
    return path, None


@dataclass(frozen=True)
class Generation:
    """A finished generation on disk: its run folder and its metadata."""

    run_dir: Path
    record: GenerationRecord

    @property
    def video_path(self) -> Path | None:
        """The video, when the record names one inside the run folder (else None: see ``video_problem``)."""
        return video_location(self.run_dir, self.record.video)[0]

    @property
    def video_problem(self) -> str | None:
        """Why the record's video path cannot be used (none named, or outside the run folder), or None."""
        return video_location(self.run_dir, self.record.video)[1]

    @property
    def question_dir(self) -> Path:
        return self.run_dir / "question"

    @property
    def label(self) -> str:
        return f"{self.record.model} {self.record.task_id} ({self.record.run_id})"


def find_generations(
    experiment_dir: str | Path,
    *,
    models: Sequence[str] | None = None,
    domains: Sequence[str] | None = None,
    task_ids: Sequence[str] | None = None,
) -> list[Generation]:
    """Every completed generation under ``experiment_dir`` that passes the filters, in a stable order.

    A filter value that matches no completed generation raises ``GenerationSelectionError`` naming what
    the experiment holds: a misspelt model name must not look like "nothing to score".
    """
    experiment_dir = Path(experiment_dir)
    if not experiment_dir.is_dir():
        raise GenerationSelectionError(
            f"no experiment folder {experiment_dir}: generate videos first (examples/generate_videos.py) "
            "or pass the --output-dir and --experiment they were written to"
        )
    found: list[Generation] = []
    # <model>/<domain>_task/<task_id>/<run_id>/metadata.json; hidden folders are temp or claim leftovers
    for meta in sorted(experiment_dir.glob(f"*/*_task/*/*/{METADATA_FILE}")):
        run_dir = meta.parent
        if any(part.startswith(".") for part in run_dir.relative_to(experiment_dir).parts):
            continue
        if read_status(run_dir) != "completed":
            continue
        record = read_record(run_dir)
        if record is not None and record.status == "completed":
            found.append(Generation(run_dir, record))
    if not found:
        raise GenerationSelectionError(f"no completed generation in {experiment_dir}")
    for flag, attribute, wanted in (
        ("--model", "model", models),
        ("--domain", "domain", domains),
        ("--task-id", "task_id", task_ids),
    ):
        if not wanted:
            continue
        present = {getattr(g.record, attribute) for g in found}
        missing = [w for w in wanted if w not in present]
        if missing:
            raise GenerationSelectionError(
                f"{flag} {missing[0]}: no completed generation in {experiment_dir}{suggest(missing[0], present)}; "
                f"found: {', '.join(sorted(present))}"
            )
        found = [g for g in found if getattr(g.record, attribute) in wanted]
    return sorted(found, key=lambda g: (g.record.model, g.record.domain, g.record.task_id, g.record.run_id))


def items_for(scorer: Any, generation: Generation) -> ScoreItem:
    """The ``ScoreItem`` a scorer may see for ``generation``: ground truth only where its ``inputs`` declare it."""
    declared = inputs_of(scorer)
    video, problem = video_location(generation.run_dir, generation.record.video)
    if video is None:
        outside = generation.record.video is not None and generation.record.video != ""
        named = f" ({generation.record.video!r})" if generation.record.video else ""
        raise VideoInputError(
            f"{generation.run_dir / METADATA_FILE}: {problem}{named}",
            "video_outside_run_folder" if outside else "video_unreadable",
        )
    final_frame = generation.question_dir / FINAL_FRAME
    return ScoreItem(
        generation_dir=generation.run_dir,
        model=generation.record.model,
        task_id=generation.record.task_id,
        domain=generation.record.domain,
        video_path=video,
        prompt=generation.record.prompt,
        first_frame=generation.question_dir / FIRST_FRAME,
        # None both when undeclared and when the task has no answer image: a declaring scorer reads None
        # as "this task has no final frame".
        final_frame=final_frame if "final_frame" in declared and final_frame.is_file() else None,
        task_dir=generation.question_dir if "task" in declared else None,
        # The same for a solution video: None when undeclared or when the task ships none.
        ground_truth_video=_ground_truth_video(generation) if "ground_truth_video" in declared else None,
    )


def _ground_truth_video(generation: Generation) -> Path | None:
    """``question/ground_truth.mp4`` when the task shipped one (and it lies inside the run folder), else None."""
    path = path_inside(generation.run_dir, f"question/{GROUND_TRUTH_VIDEO}")
    return path if path is not None and path.is_file() else None


# -- score files ----------------------------------------------------------------------


class ScoreRecord(BaseModel):
    """The contents of ``<run_dir>/scores/<scorer>.json``.

    ``dimensions`` maps each declared dimension to a float, or null where the scorer could not score
    (NaN or an infinite value). ``details`` is the scorer's per-item explanation. ``error`` is set (and
    every dimension null) when scoring this generation raised; such a file is redone by the next run.
    ``error_kind`` says why: the video (``video_unreadable``, ``video_outside_run_folder``) or the scorer.
    ``ranges`` is the range the scorer declares for each dimension that has one ([low, high], null unbounded).
    """

    schema_version: int = SCORE_SCHEMA_VERSION
    scorer: str
    # "class" in the file (a Python keyword, so another name here); either name is read back
    scorer_class: str = Field(serialization_alias="class", validation_alias=AliasChoices("class", "scorer_class"))
    version: str
    dimensions: dict[str, float | None]
    details: dict[str, Any] = Field(default_factory=dict)
    video_sha256: str | None
    inputs: list[str]
    config: dict[str, Any] = Field(default_factory=dict)
    error: str | None = None
    error_kind: ErrorKind | None = None
    ranges: dict[str, Range] = Field(default_factory=dict)
    scored_at: str

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)


def score_path(run_dir: Path, scorer_name: str) -> Path:
    return run_dir / SCORES_DIR / f"{scorer_name}.json"


def read_score(path: Path) -> ScoreRecord | None:
    try:
        return ScoreRecord.model_validate_json(path.read_bytes())
    except (FileNotFoundError, ValueError):
        return None  # missing or unreadable: scored again


def undecodable(path: Path) -> str | None:
    """Why the video at ``path`` cannot be decoded (it does not open, has no video stream, a frame fails, or it
    has no frame at all), or None when every frame decodes."""
    try:
        info = probe_video(path)
    except (VideoError, OSError) as exc:
        return f"{type(exc).__name__}: {exc}"
    if info.frame_count < 1:
        return f"VideoError: {path} decodes to no frames"
    return None


def _jsonable(value: Any) -> Any:
    # Scorers return numpy scalars and NaNs in their details; a score file is strict JSON.
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if hasattr(value, "item") and callable(value.item) and getattr(value, "ndim", None) == 0:
        value = value.item()  # numpy scalar
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, (str, int, bool)):
        return value
    if hasattr(value, "tolist"):
        return _jsonable(value.tolist())
    return str(value)


def details_json(detail: Any) -> dict[str, Any]:
    """One item's details as they go into its score file: a JSON-able dict (a bare value under ``detail``)."""
    return _jsonable(detail) if isinstance(detail, dict) else {"detail": _jsonable(detail)}


def _normalised(config: dict[str, Any]) -> str:
    return json.dumps(_jsonable(config), sort_keys=True)


# -- running --------------------------------------------------------------------------


@dataclass
class ScoreOutcome:
    """What happened to one generation under one scorer. ``record`` is the score file now on disk."""

    generation: Generation
    status: OutcomeStatus
    record: ScoreRecord | None = None
    error: str | None = None


@dataclass
class ScoringSummary:
    scorer: str
    outcomes: list[ScoreOutcome] = field(default_factory=list)

    def count(self, status: OutcomeStatus) -> int:
        return sum(o.status == status for o in self.outcomes)

    @property
    def scored(self) -> int:
        return self.count("scored")

    @property
    def skipped(self) -> int:
        return self.count("skipped")

    @property
    def failed(self) -> int:
        return self.count("failed")

    @property
    def failures(self) -> list[tuple[Generation, str]]:
        return [(o.generation, o.error or "") for o in self.outcomes if o.status == "failed"]


def score_in_child(conn: Connection, spec: ScorerSpec, score_kwargs: dict[str, Any]) -> None:
    """A pool child's main: build the scorer once, then answer one batch at a time until told to stop (None) or
    orphaned. It writes nothing: the checked scores and JSON-able details go back to the parent, which writes."""
    ignore_sigint()
    try:
        scorer = build_from_spec(spec)
    except Exception as exc:
        conn.send(Reply("init", f"{type(exc).__name__}: {exc}"))
        return
    while True:
        try:
            items = conn.recv()
        except (EOFError, OSError):
            return  # the parent is gone
        if items is None:
            return
        conn.send(score_batch_reply(scorer, items, score_kwargs))


def score_batch_reply(scorer: Any, items: list[ScoreItem], score_kwargs: dict[str, Any]) -> Reply:
    """One batch scored away from the runner (a pool child, a Ray actor): the checked scores and JSON-able details,
    or what went wrong, in the words the single-process path records."""
    try:
        output = scorer.score_batch(items, **score_kwargs)
    except Exception as exc:
        return Reply("raised", f"{type(exc).__name__}: {exc}")
    try:
        scores, details = checked_scores(scorer, items, output)
    except ScorerContractError as exc:
        return Reply("contract", str(exc))
    return Reply("ok", scores=scores, details=[details_json(d) for d in details])


class Pool(Protocol):
    """What ``ScoringRunner`` needs of a pool: ``ScorerPool`` (children) or ``RayScorerPool`` (actors)."""

    started: int

    @property
    def idle(self) -> int: ...

    @property
    def busy(self) -> int: ...

    def submit(self, tag: Any, items: list[ScoreItem]) -> None: ...

    def wait(self) -> list[tuple[Any, Reply]]: ...

    def __enter__(self) -> Pool: ...

    def __exit__(self, *exc: object) -> None: ...


PoolFactory = Callable[[ScorerSpec, int, dict[str, Any]], Pool]


@dataclass
class _Pending:
    generation: Generation
    item: ScoreItem
    sha256: str


class ScoringRunner:
    """Runs one loaded scorer over generations, in batches, writing one score file per generation."""

    def __init__(
        self,
        scorer: Any,
        *,
        name: str | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        score_kwargs: dict[str, Any] | None = None,
        init_kwargs: dict[str, Any] | None = None,
        checkpoint: str | None = None,
        on_event: Callable[[ScoreOutcome], None] | None = None,
        workers: int = 1,
        spec: ScorerSpec | None = None,
        min_items_per_child: int = MIN_ITEMS_PER_CHILD,
        pool: PoolFactory | None = None,
    ) -> None:
        """``init_kwargs`` and ``checkpoint`` are what the scorer was built with: recorded, and part of the
        resume rule (other options mean other scores). ``name`` defaults to the scorer's own ``name``.

        ``workers`` above 1 scores the batches in that many child processes, each building the scorer from
        ``spec``; without a ``spec`` (an API judge, a local scorer, a plug-in not marked ``cpu_bound``) the
        scorer runs here, in this process, whatever ``workers`` says. A catalog scorer starts no more children than
        every ``min_items_per_child`` items pay for, and none for a run that is worth one (``vmevalkit.scoring.pool``);
        ``children_started`` says how many the last ``run`` started.

        ``pool`` builds the pool from (spec, workers, score_kwargs) instead of ``ScorerPool``: the Ray engine's
        actors (``vmevalkit.scoring.ray_pool``). Every batch then goes to it, however few the items: the point of a
        cluster is that the work leaves this machine."""
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        if workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        if min_items_per_child < 1:
            raise ValueError(f"min_items_per_child must be at least 1, got {min_items_per_child}")
        self.workers = workers
        self.spec = spec
        self.pool = pool
        # A plug-in class may kill its process: every batch in a child (up to workers), however few the items.
        isolate = spec is not None and (spec.class_path is not None or pool is not None)
        self.min_items_per_child = 1 if isolate else min_items_per_child
        self.children_started = 0
        self.scorer = scorer
        self.name = name or scorer_name_of(scorer)
        if not SAFE_NAME.fullmatch(self.name):
            raise ScorerContractError(f"scorer name {self.name!r} must be a plain file name (letters, digits, '._-')")
        self.dimensions = dimensions_of(scorer)
        self.inputs = sorted(inputs_of(scorer))
        self.ranges = ranges_of(scorer)
        self.version = str(getattr(scorer, "version", "1"))
        self.batch_size = batch_size
        self.score_kwargs = dict(score_kwargs or {})
        # The device is left out on purpose: the same weights on another device give the same scores.
        config: dict[str, Any] = {
            "init_kwargs": dict(init_kwargs or {}),
            "score_kwargs": self.score_kwargs,
            "checkpoint": checkpoint,
        }
        # A local scorer's weights (repo@commit, or the folder it loaded), model class and options.
        config.update(getattr(scorer, "scorer_config", None) or {})
        # Scrubbed like everything else that is written: a key passed as an option never reaches a score file.
        self.config = scrub_data(_jsonable(config))
        self.on_event = on_event or (lambda outcome: None)

    def is_current(self, record: ScoreRecord | None, sha256: str) -> bool:
        """Whether an existing score file still stands (see the module docstring for the rule)."""
        return (
            record is not None
            and record.error is None
            and record.video_sha256 == sha256
            and record.version == self.version
            and list(record.dimensions) == list(self.dimensions)
            and _normalised(record.config) == _normalised(self.config)
        )

    def run(self, generations: Sequence[Generation]) -> ScoringSummary:
        summary = ScoringSummary(scorer=self.name)

        def emit(outcome: ScoreOutcome) -> None:
            summary.outcomes.append(outcome)
            self.on_event(outcome)

        pending = self._pending(generations, emit)
        self.children_started = 0
        head: list[_Pending] = []
        if (self.workers > 1 or self.pool is not None) and self.spec is not None:
            # Enough videos checked to tell whether a second child pays: a plug-in class needs one (it always gets
            # a child, so that one that kills its process fails only its items, on a rerun too).
            head = list(islice(pending, max(self.min_items_per_child, self.batch_size) + 1))
        isolate = self.spec is not None and (self.spec.class_path is not None or self.pool is not None)
        if self.spec is not None and head and (isolate or self._children(len(head)) > 1):
            # The other videos are checked as the children start and score: the check overlaps their work.
            self._score_in_pool(chain(head, pending), self.spec, emit)
        else:
            for batch in self._batches([*head, *pending]):  # every video checked before the first batch, as always
                for outcome in self._score(batch):
                    emit(outcome)
        # Events came in the order things finished (children finish in any order); the summary is in the order
        # of the generations, so its tables read the same whichever way they were scored.
        order = {g.run_dir: i for i, g in enumerate(generations)}
        summary.outcomes.sort(key=lambda o: order[o.generation.run_dir])
        return summary

    def _pending(self, generations: Sequence[Generation], emit: Callable[[ScoreOutcome], None]) -> Iterator[_Pending]:
        """The generations still to score, in order; the others emit their outcome (up to date, or a video that
        cannot be scored) on the way."""
        for generation in generations:
            try:
                item = items_for(self.scorer, generation)
                sha256 = file_sha256(item.video_path)
            except VideoInputError as exc:  # no video named, or one outside the run folder
                emit(self._fail(generation, None, f"cannot score the video: {exc}", exc.kind))
                continue
            except (OSError, ValueError) as exc:  # a completed record whose video went missing
                emit(
                    self._fail(
                        generation, None, f"cannot read the video: {type(exc).__name__}: {exc}", "video_unreadable"
                    )
                )
                continue
            existing = read_score(score_path(generation.run_dir, self.name))
            if self.is_current(existing, sha256):
                emit(ScoreOutcome(generation, "skipped", record=existing))
                continue
            problem = undecodable(item.video_path)
            if problem is not None:  # a corrupt video is the generation's failure, not an item the scorer skips
                emit(self._fail(generation, sha256, f"cannot read the video: {problem}", "video_unreadable"))
                continue
            yield _Pending(generation, item, sha256)

    def _children(self, items: int) -> int:
        return children_for(items, -(-items // self.batch_size), self.workers, self.min_items_per_child)

    def _batches(self, pending: Iterable[_Pending]) -> Iterator[list[_Pending]]:
        """``pending`` in runs of ``batch_size``: the same batches in one process and in a pool."""
        batch: list[_Pending] = []
        for one in pending:
            batch.append(one)
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch:
            yield batch

    def _score_in_pool(
        self, pending: Iterator[_Pending], spec: ScorerSpec, emit: Callable[[ScoreOutcome], None]
    ) -> None:
        """The batches scored by child processes, with the single-process rules: a batch that raises (or whose
        child dies) is retried item by item, a contract error stops this scorer, every file is written here.
        Children start only as batches come, and only as many as the items seen so far pay for (``_children``):
        when that bound holds a batch back, the next one is checked meanwhile, which may raise it."""
        seen = 0

        def counted() -> Iterator[_Pending]:
            nonlocal seen
            for one in pending:
                seen += 1
                yield one

        batches = self._batches(counted())
        ready: deque[list[_Pending]] = deque()
        retries: deque[list[_Pending]] = deque()
        exhausted = False
        made = (
            self.pool(spec, self.workers, self.score_kwargs)
            if self.pool is not None
            else ScorerPool(score_in_child, spec, self.workers, self.score_kwargs)
        )
        with made as pool:
            try:
                while True:
                    while pool.idle:
                        if not exhausted and (not ready or pool.busy >= self._children(seen)):
                            batch = next(batches, None)
                            exhausted = batch is None
                            if batch is not None:
                                ready.append(batch)
                                continue  # the bound may have grown with it
                        queue = retries or ready
                        if not queue or pool.busy >= self._children(seen):
                            break
                        batch = queue.popleft()
                        pool.submit(batch, [p.item for p in batch])
                    if not pool.busy:
                        return  # no batch left, none out
                    for batch, reply in pool.wait():
                        if reply.kind in ("raised", "died") and len(batch) > 1:
                            # Find the item that broke the batch: the others are scored on their own, first.
                            retries.extend([one] for one in batch)
                            continue
                        for outcome in self._answered(batch, reply):
                            emit(outcome)
            finally:
                self.children_started = pool.started

    def _answered(self, batch: list[_Pending], reply: Reply) -> list[ScoreOutcome]:
        if reply.kind == "ok":
            return self._written(batch, reply.scores, reply.details)
        if reply.kind in ("contract", "init"):
            raise ScorerContractError(scrub(f"scorer '{self.name}' ({class_path(self.scorer)}): {reply.message}"))
        return [self._fail(batch[0].generation, batch[0].sha256, reply.message, "scorer_error")]

    def _score(self, batch: list[_Pending]) -> list[ScoreOutcome]:
        items = [p.item for p in batch]
        try:
            output = self.scorer.score_batch(items, **self.score_kwargs)
        except Exception as exc:
            if len(batch) > 1:
                # Find the item that broke the batch: the others are scored on their own.
                return [outcome for one in batch for outcome in self._score([one])]
            return [self._fail(batch[0].generation, batch[0].sha256, f"{type(exc).__name__}: {exc}", "scorer_error")]
        try:
            scores, details = checked_scores(self.scorer, items, output)
        except ScorerContractError as exc:
            # The message may quote what the scorer returned: scrubbed, and the unscrubbed original not chained.
            raise ScorerContractError(scrub(f"scorer '{self.name}' ({class_path(self.scorer)}): {exc}")) from None
        return self._written(batch, scores, [details_json(d) for d in details])

    def _written(self, batch: list[_Pending], scores: Any, details: list[dict[str, Any]]) -> list[ScoreOutcome]:
        """One score file per item of a checked batch (``details`` already JSON-able: see ``details_json``)."""
        outcomes = []
        for pending, row, detail in zip(batch, scores, details, strict=True):
            values = {
                dim: (float(v) if math.isfinite(v) else None) for dim, v in zip(self.dimensions, row, strict=True)
            }
            record = self._write(pending.generation, self._record(pending.sha256, values, detail))
            outcomes.append(ScoreOutcome(pending.generation, "scored", record=record))
        return outcomes

    def _fail(self, generation: Generation, sha256: str | None, error: str, kind: ErrorKind) -> ScoreOutcome:
        record = self._write(generation, self._record(sha256, dict.fromkeys(self.dimensions), {}, error, kind))
        return ScoreOutcome(generation, "failed", record=record, error=record.error)

    def _write(self, generation: Generation, record: ScoreRecord) -> ScoreRecord:
        """The one way into a score file: every string scrubbed of secrets, then written atomically.

        Returns the record as written, which is also what the outcome (and so the terminal) gets."""
        clean = ScoreRecord.model_validate(scrub_data(record.to_json()))
        atomic_write_json(score_path(generation.run_dir, self.name), clean.to_json())
        return clean

    def _record(
        self,
        sha256: str | None,
        values: dict[str, float | None],
        detail: Any,
        error: str | None = None,
        error_kind: ErrorKind | None = None,
    ) -> ScoreRecord:
        return ScoreRecord(
            scorer=self.name,
            scorer_class=class_path(self.scorer),
            version=self.version,
            dimensions=values,
            details=details_json(detail),
            video_sha256=sha256,
            inputs=self.inputs,
            config=self.config,
            error=error,
            error_kind=error_kind if error is not None else None,
            ranges=self.ranges,
            scored_at=utc_now(),
        )

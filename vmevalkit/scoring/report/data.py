"""Reading an experiment for its report: the report config, every generation (run folder) with its score files,
and what those score files say about each scorer.

What is read is data, not trusted: a ``video`` path in ``metadata.json`` that leads out of the run folder is never
followed (``ReportGeneration.video_problem``), a completed generation's video is opened and its first frame decoded
(a missing or corrupt video is a failure, counted apart), and every string of a score file passes
``vmevalkit.utils.redact.scrub_data`` as it is read (files written before scrubbing may hold a key)."""

from __future__ import annotations

import importlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from vmevalkit.runner.records import METADATA_FILE, GenerationRecord, read_record
from vmevalkit.runner.registry import SAFE_NAME, ScorerCatalogError, UnknownScorerError, get_scorer_entry
from vmevalkit.scoring.base import UNIT_RANGE, Range, ScorerContractError, in_range, load_scorer_class
from vmevalkit.scoring.runner import (
    SCORES_DIR,
    ScoreRecord,
    read_score,
    video_location,
)
from vmevalkit.tasks.loader import DOMAIN_SUFFIX, METADATA
from vmevalkit.utils.imports import suggest
from vmevalkit.utils.redact import scrub_data


class ReportError(ValueError):
    """Input the report cannot be built from: a missing experiment, no score file, a bad config. Says the fix."""


# The columns of every row of the tables (see tables.py); defined here because group_by cannot reuse their names.
STAT_COLUMNS = (
    "mean",
    "ci_low",
    "ci_high",
    "success_rate",
    "n_scored",
    "n_failed",
    "n_unscorable",
    "n_unfinished",
    "n_unreadable",
    "n_out_of_range",
    "n_generations",
    "failures_as_zero",
)
SUMMARY_COLUMNS = ("scorer", "dimension", "model", *STAT_COLUMNS)

# -- the config -------------------------------------------------------------------------------------------------


def _default_group_by() -> list[str | list[str]]:
    return ["domain", "category"]


class ReportConfig(BaseModel):
    """Report settings, read from ``--config FILE`` (JSON; YAML where PyYAML is installed). Every key is optional:

    ```json
    {"group_by": ["domain", "category", "difficulty", ["domain", "difficulty"]],
     "scorers": ["task-verifier"], "models": null,
     "pass_dimensions": {"my-judge": "passed"}, "unit_dimensions": {"frame-match": ["final_ssim", "first_ssim"]},
     "confidence": 0.95, "resamples": 2000, "seed": 0, "max_videos_per_model": null, "embed_videos": false}
    ```

    ``group_by``: the groupings of ``metrics_detail.csv``; a name groups by one field, a list of names by their
    combination. A field is looked up in the generation's ``metadata.json`` first (``domain``, ``seed``,
    ``duration``, ``params.resolution``: dots reach into objects), then in its task's ``question_metadata.json``
    (``difficulty``, ``category``); ``question.<name>`` looks only in the latter. ``category`` falls back to the
    registered domain's category for tasks written without one. Default: by domain and by category.
    ``scorers``, ``models``: report only these (default: every one found).
    ``pass_dimensions``: a scorer's pass dimension, for scorers outside the catalog (the catalog's scorers declare
    theirs). ``unit_dimensions``: a scorer's dimensions on [0, 1], where the default rule (every value seen lies
    in [0, 1]) guesses wrong. ``confidence``, ``resamples``, ``seed``: the bootstrap.
    ``max_videos_per_model``: videos shown in report.html per model (default: all; ``--max-videos-per-model``
    overrides it).
    ``embed_videos``: put the videos and frames into report.html itself (``--embed-videos``: one file to send, for
    small experiments) instead of linking them by relative path from the report's folder (the default: the page
    stays small at thousands of generations, and opens from disk next to the experiment).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    group_by: list[str | list[str]] = Field(default_factory=_default_group_by)
    scorers: list[str] | None = None
    models: list[str] | None = None
    pass_dimensions: dict[str, str] = Field(default_factory=dict)
    unit_dimensions: dict[str, list[str]] = Field(default_factory=dict)
    confidence: float = Field(default=0.95, gt=0.0, lt=1.0)
    resamples: int = Field(default=2000, ge=100)
    seed: int = 0
    max_videos_per_model: int | None = Field(default=None, ge=0)
    embed_videos: bool = False

    @property
    def groupings(self) -> list[tuple[str, ...]]:
        groupings: list[tuple[str, ...]] = []
        for entry in self.group_by:
            fields = (entry,) if isinstance(entry, str) else tuple(entry)
            if not fields or not all(fields):
                raise ReportError(f"group_by entry {entry!r} is empty: name a field, e.g. 'domain'")
            reserved = set(fields) & {"grouping", *SUMMARY_COLUMNS}
            if reserved:
                raise ReportError(f"group_by cannot use {sorted(reserved)[0]!r}: it is already a column of every row")
            if fields not in groupings:
                groupings.append(fields)
        return groupings


def load_config(path: str | Path) -> ReportConfig:
    """A ``ReportConfig`` from a ``.json`` file, or a ``.yaml``/``.yml`` file where PyYAML is installed."""
    path = Path(path)
    if not path.is_file():
        raise ReportError(f"config file {path} does not exist")
    text = path.read_text(encoding="utf-8")
    suffix = path.suffix.lower()
    if suffix == ".json":
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise ReportError(f"config {path} is not valid JSON: {exc}") from None
    elif suffix in (".yaml", ".yml"):
        try:
            # Not a dependency of VMEvalKit (nor are its type stubs): used only where it is installed.
            yaml = importlib.import_module("yaml")
        except ImportError:
            raise ReportError(
                f"reading {path} needs PyYAML, which VMEvalKit does not install: `pip install pyyaml`, "
                "or write the same settings as JSON (report.json)"
            ) from None
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ReportError(f"config {path} is not valid YAML: {exc}") from None
    else:
        raise ReportError(f"config {path}: use a .json file (or .yaml/.yml where PyYAML is installed)")
    if data is None:
        data = {}  # an empty file: the defaults
    if not isinstance(data, dict):
        raise ReportError(f'config {path} must hold a mapping of settings, e.g. {{"group_by": ["domain"]}}')
    try:
        config = ReportConfig.model_validate(data)
        config.groupings  # noqa: B018 (validates group_by now, before anything is read)
    except ValidationError as exc:
        known = ", ".join(ReportConfig.model_fields)
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'config'}: {e['msg']}" for e in exc.errors())
        raise ReportError(f"config {path}: {problems} (known settings: {known})") from None
    return config


# -- what is on disk --------------------------------------------------------------------------------------------


GenerationStatus = Literal["completed", "failed", "unfinished"]

_ABSENT = object()


@dataclass
class ReportGeneration:
    """One run folder of the experiment, whatever its status, with its score files."""

    run_dir: Path
    model: str
    domain: str
    task_id: str
    run_id: str
    status: GenerationStatus
    record: GenerationRecord | None  # None: metadata.json that cannot be read
    scores: dict[str, ScoreRecord | None]  # scorer name -> score file (None: it cannot be read)
    task_metadata: dict[str, Any]  # question/question_metadata.json ({} when missing)
    record_fields: dict[str, Any] = field(default_factory=dict)  # metadata.json as JSON, for group_by
    # Why the video of a completed generation cannot be used, found when it was read (``collect_generations``):
    # none named, missing, or it does not decode. None when it opened, or when it was not looked at.
    video_unreadable: str | None = None

    @cached_property
    def _video(self) -> tuple[Path | None, str | None]:
        if self.status != "completed" or self.record is None or not self.record.video:
            return None, None
        return video_location(self.run_dir, self.record.video)

    @property
    def video_path(self) -> Path | None:
        """The video, only when the record names one inside the run folder."""
        return self._video[0]

    @property
    def video_problem(self) -> str | None:
        """Why a completed generation's video cannot be used (outside the run folder, missing, undecodable)."""
        if self.status != "completed":
            return None
        return self._video[1] or self.video_unreadable

    @property
    def label(self) -> str:
        """The generation as the experiment folder names it: ``model/domain_task/task_id/run_id``."""
        return f"{self.model}/{self.domain}{DOMAIN_SUFFIX}/{self.task_id}/{self.run_id}"

    @property
    def prompt(self) -> str:
        return self.record.prompt if self.record is not None else ""

    @property
    def error(self) -> str:
        if self.record is None:
            return "metadata.json cannot be read"
        if self.status == "unfinished":
            return "the generation never finished (status 'running': killed, or still in progress)"
        return self.record.error or ""

    def field_value(self, name: str) -> str | None:
        """The value of a group_by field as text, or None when this generation lacks it."""
        sources = [self.task_metadata] if name.startswith("question.") else [self.record_fields, self.task_metadata]
        key = name.removeprefix("question.")
        for source in sources:
            value: Any = source
            for part in key.split("."):
                value = value.get(part, _ABSENT) if isinstance(value, dict) else _ABSENT
            if value is _ABSENT:
                continue
            if isinstance(value, (dict, list)):
                raise ReportError(
                    f"group_by field {name!r} is a {type(value).__name__} for {self.model} {self.task_id}, "
                    "not a single value: group by a field that holds one value (a name, a number)"
                )
            if isinstance(value, bool):
                return "true" if value else "false"
            return "(none)" if value is None else str(value)
        if name == "category":  # tasks written before domains carried a category: the domain's own
            return domain_category(self.domain)
        return None


def domain_category(domain: str) -> str | None:
    """The category of a registered task domain (None for a domain VMEvalKit does not know)."""
    from vmevalkit.tasks import DOMAINS, get_domain

    return get_domain(domain).category if domain in DOMAINS else None


def _read_json_object(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _read_scores(run_dir: Path) -> dict[str, ScoreRecord | None]:
    scores: dict[str, ScoreRecord | None] = {}
    for path in sorted((run_dir / SCORES_DIR).glob("*.json")):
        # Hidden files are a writer's temporary files; a name that is not a scorer name is not ours.
        if path.name.startswith(".") or not SAFE_NAME.fullmatch(path.stem):
            continue
        record = read_score(path)
        # A file written before scores were scrubbed may hold a key in an error or a judge's rationale.
        scores[path.stem] = None if record is None else ScoreRecord.model_validate(scrub_data(record.to_json()))
    return scores


def video_unreadable(run_dir: Path, record: GenerationRecord) -> str | None:
    """Why a completed generation's video cannot be used, or None: it must be named, inside the run folder, a file,
    and open with a first frame that decodes (a cheap check: the scoring runner decodes every frame). The reason
    names no machine path: it goes into metrics.json."""
    path, problem = video_location(run_dir, record.video)
    if path is None:
        return problem
    if not path.is_file():
        return "the video file is missing"
    import av

    try:
        with av.open(str(path), mode="r") as container:
            if not container.streams.video:
                return "the video file has no video stream"
            for _ in container.decode(container.streams.video[0]):
                return None
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        return f"the video file cannot be decoded ({type(exc).__name__})"
    return "the video file holds no frame"


def collect_generations(experiment_dir: Path) -> list[ReportGeneration]:
    """Every run folder of the experiment (completed, failed or unfinished), sorted by model, domain, task, run."""
    if not experiment_dir.is_dir():
        raise ReportError(
            f"no experiment folder {experiment_dir}: generate videos first (examples/generate_videos.py) "
            "or pass the --output-dir and --experiment they were written to"
        )
    generations: list[ReportGeneration] = []
    # <model>/<domain>_task/<task_id>/<run_id>/metadata.json, as the runner writes it
    for meta in sorted(experiment_dir.glob(f"*/*{DOMAIN_SUFFIX}/*/*/{METADATA_FILE}")):
        run_dir = meta.parent
        parts = run_dir.relative_to(experiment_dir).parts
        if any(part.startswith(".") for part in parts):
            continue  # temp or claim leftovers
        record = read_record(run_dir)
        status: GenerationStatus = "unfinished"
        if record is not None and record.status in ("completed", "failed"):
            status = record.status
        model, domain_folder, task_id, run_id = parts
        unreadable = video_unreadable(run_dir, record) if record is not None and status == "completed" else None
        generations.append(
            ReportGeneration(
                run_dir=run_dir,
                model=record.model if record else model,
                domain=record.domain if record else domain_folder.removesuffix(DOMAIN_SUFFIX),
                task_id=record.task_id if record else task_id,
                run_id=record.run_id if record else run_id,
                status=status,
                record=record,
                scores=_read_scores(run_dir),
                task_metadata=_read_json_object(run_dir / "question" / METADATA),
                # without a readable metadata.json, group_by still finds what the folder names say
                record_fields=record.model_dump(mode="json")
                if record
                else {"model": model, "domain": domain_folder.removesuffix(DOMAIN_SUFFIX), "task_id": task_id},
                video_unreadable=unreadable,
            )
        )
    if not generations:
        raise ReportError(f"no generation in {experiment_dir}: generate videos first (examples/generate_videos.py)")
    return sorted(generations, key=lambda g: (g.model, g.domain, g.task_id, g.run_id))


# -- scorers ----------------------------------------------------------------------------------------------------


@dataclass
class ScorerInfo:
    """What the score files of one scorer say about it."""

    name: str
    dimensions: list[str]
    pass_dimension: str | None
    unit_dimensions: list[str]
    versions: list[str]
    # The declared range of each dimension that has one: the catalog class's, else the one its score files record.
    ranges: dict[str, Range] = field(default_factory=dict)

    @property
    def headline(self) -> str:
        """The dimension of the plots and of the leaderboard's order."""
        return self.pass_dimension or self.dimensions[0]

    def in_range(self, dimension: str, value: float) -> bool:
        """Whether ``value`` lies in the dimension's declared range (any finite value, when none is declared)."""
        return in_range(value, self.ranges.get(dimension))


def _catalog_class(name: str) -> type | None:
    # Catalog scorers declare their pass dimension and ranges on their class; loading the class imports its module,
    # never its weights.
    try:
        return load_scorer_class(get_scorer_entry(name).service)
    except (UnknownScorerError, ScorerCatalogError, ScorerContractError):
        return None


def _catalog_pass_dimension(name: str) -> str | None:
    value = getattr(_catalog_class(name), "pass_dimension", None)
    return value if isinstance(value, str) else None


def _declared_ranges(name: str, dimensions: Sequence[str], records: Sequence[ScoreRecord]) -> dict[str, Range]:
    """Each dimension's range: the catalog class's declaration (not in a file, so not hand-editable), else the
    range most score files of the scorer record."""
    declared = getattr(_catalog_class(name), "ranges", None)
    catalog = declared if isinstance(declared, dict) else {}
    ranges: dict[str, Range] = {}
    for dim in dimensions:
        if dim in catalog:
            low, high = catalog[dim]
            ranges[dim] = (low, high)
            continue
        recorded: dict[Range, int] = {}
        for record in records:
            if dim in record.ranges:
                low, high = record.ranges[dim]
                recorded[(low, high)] = recorded.get((low, high), 0) + 1
        if recorded:
            ranges[dim] = max(recorded, key=lambda r: recorded[r])
    return ranges


def describe_scorers(generations: Sequence[ReportGeneration], config: ReportConfig) -> list[ScorerInfo]:
    found: dict[str, list[ScoreRecord]] = {}
    for generation in generations:
        for name, record in generation.scores.items():
            found.setdefault(name, [])
            if record is not None:
                found[name].append(record)
    if config.scorers:
        missing = [name for name in config.scorers if name not in found]
        if missing:
            raise ReportError(
                f"config scorers: no score file of {missing[0]!r}{suggest(missing[0], found)}; "
                f"found: {', '.join(sorted(found)) or 'none'}"
            )
        found = {name: found[name] for name in config.scorers}
    scorers: list[ScorerInfo] = []
    for name in found:
        records = found[name]
        dimensions = list(dict.fromkeys(dim for record in records for dim in record.dimensions))
        if not dimensions:
            continue  # no readable file of this scorer: no dimension to report on
        pass_dimension = config.pass_dimensions.get(name) or _catalog_pass_dimension(name)
        if name in config.pass_dimensions and pass_dimension not in dimensions:
            raise ReportError(
                f"config pass_dimensions: {name} has no dimension {pass_dimension!r}; it has {dimensions}"
            )
        if pass_dimension not in dimensions:
            pass_dimension = None
        ranges = _declared_ranges(name, dimensions, records)
        if name in config.unit_dimensions:
            unknown = [d for d in config.unit_dimensions[name] if d not in dimensions]
            if unknown:
                raise ReportError(
                    f"config unit_dimensions: {name} has no dimension {unknown[0]!r}; it has {dimensions}"
                )
            unit = [d for d in dimensions if d in config.unit_dimensions[name]]
        else:
            # Declared [0, 1]; else every value seen (within its declared range: a flagged value decides nothing)
            # lies in [0, 1].
            unit = [
                d
                for d in dimensions
                if ranges.get(d) == UNIT_RANGE
                or _all_in_unit_range(
                    v for record in records if (v := record.dimensions.get(d)) is None or in_range(v, ranges.get(d))
                )
            ]
        versions = sorted({record.version for record in records})
        scorers.append(ScorerInfo(name, dimensions, pass_dimension, unit, versions, ranges))
    # Scorers that judge pass or fail lead (the leaderboard's first table, the order of the videos), then by name.
    return sorted(scorers, key=lambda s: (s.pass_dimension is None, s.name))


def _all_in_unit_range(values: Iterable[float | None]) -> bool:
    return all(0.0 <= v <= 1.0 for v in values if v is not None)

"""Reports of an experiment: leaderboard tables, breakdowns by group, plots, and one self-contained HTML page.

``python examples/report.py --experiment pilot`` reads every generation of ``<output-dir>/<experiment>/``
(its ``metadata.json``, whatever its status) and every score file next to it (``scores/<scorer>.json``), and
writes into ``<output-dir>/<experiment>/report/`` (or ``--out``):

- ``metrics_summary.csv``: one row per scorer x dimension x model;
- ``metrics_detail.csv``: the same rows per group: by domain, and by any field of a generation's
  ``metadata.json`` or of its task's ``question_metadata.json`` (``group_by`` in the config, see ``ReportConfig``);
- ``metrics.json``: the config, the scorers seen, the generations per model and status, and both tables;
- ``heatmap_<scorer>.png`` (model x domain) and ``bars_<scorer>.png`` (mean and confidence interval per model),
  of each scorer's headline dimension: its pass dimension (``task_success`` for ``task-verifier``), else its
  first dimension;
- ``report.html``: one file with everything in it (images and videos as ``data:`` URIs, no script, no font or
  any other external reference), so that a browser opens it offline and it can be sent as it is.

How a generation counts, for one scorer and one of its dimensions
-----------------------------------------------------------------
Every generation (run folder) of a model counts exactly once, as one of:

- *scored*: it completed and the scorer's file for it holds a number for this dimension;
- *failed*: it did not complete (``status`` ``failed``, or still ``running``: an attempt that was killed or is
  in flight), or it completed but has no score file from this scorer, or its score file records an error or
  cannot be read;
- *unscorable*: its score file has no error but holds null for this dimension: the scorer could not judge this
  item (e.g. frame-match on a task without an expected final frame). These are not the model's fault: they are
  left out of every number below and reported in ``n_unscorable``.

Failures count against the model; they never silently drop out:

- ``success_rate``, filled on the scorer's pass dimension only, is passes / (scored + failed): a pass is a value
  of at least 1 (``PASS_AT``), and a failure never passes;
- on a [0, 1] dimension each failure enters ``mean`` and its confidence interval as a score of 0 (column
  ``failures_as_zero`` true). A dimension is on [0, 1] when every value any score file holds for it lies in
  [0, 1] (every ``task-verifier`` dimension; frame-match's SSIMs but not its PSNRs), or when the config's
  ``unit_dimensions`` lists it (which then decides for that scorer);
- on any other dimension (a PSNR in dB has no natural worst value) ``mean`` is over the scored generations only
  and failures show only in ``n_failed`` (``failures_as_zero`` false).

The values enter the statistics in generation order (domain, task id, run id), each failure as a 0 in its place;
``ci_low`` and ``ci_high`` are the percentile bootstrap interval of the mean
(``vmevalkit.scoring.metrics.bootstrap_ci``: ``confidence``, ``resamples`` and ``seed`` from the config).
A model that a scorer never scored shows every generation as failed under it: the report warns and says which
command scores them. An empty CSV cell (null in ``metrics.json``) means "no value", e.g. the mean of a dimension
that is not on [0, 1] when no generation was scored.
"""

from __future__ import annotations

import argparse
import base64
import csv
import html
import importlib
import io
import json
import math
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from vmevalkit.runner.records import METADATA_FILE, GenerationRecord, read_record, utc_now
from vmevalkit.runner.registry import SAFE_NAME
from vmevalkit.scoring.base import ScorerContractError, load_scorer_class
from vmevalkit.scoring.metrics import bootstrap_ci
from vmevalkit.scoring.runner import SCORES_DIR, ScoreRecord, UnknownScorerError, get_scorer_entry, read_score
from vmevalkit.tasks.loader import DOMAIN_SUFFIX, FINAL_FRAME, FIRST_FRAME, METADATA
from vmevalkit.utils.atomic import atomic_write_bytes, atomic_write_json, atomic_write_text
from vmevalkit.utils.imports import suggest

REPORT_DIR = "report"
SUMMARY_CSV = "metrics_summary.csv"
DETAIL_CSV = "metrics_detail.csv"
METRICS_JSON = "metrics.json"
REPORT_HTML = "report.html"
REPORT_SCHEMA_VERSION = 1

PASS_AT = 1.0  # a pass dimension's value that means "passed" (the contract: 1 means passed)
MISSING = "(missing)"  # the group of a generation that lacks a group_by field
# An HTML file above this many bytes gets a warning that names --max-videos-per-model.
LARGE_HTML_BYTES = 200 * 1024 * 1024

GenerationStatus = Literal["completed", "failed", "unfinished"]
Outcome = Literal["scored", "failed", "unscorable"]

STAT_COLUMNS = (
    "mean",
    "ci_low",
    "ci_high",
    "success_rate",
    "n_scored",
    "n_failed",
    "n_unscorable",
    "n_generations",
    "failures_as_zero",
)
SUMMARY_COLUMNS = ("scorer", "dimension", "model", *STAT_COLUMNS)

Row = dict[str, Any]


class ReportError(ValueError):
    """Input the report cannot be built from: a missing experiment, no score file, a bad config. Says the fix."""


# -- the config -------------------------------------------------------------------------------------------------


def _default_group_by() -> list[str | list[str]]:
    return ["domain"]


class ReportConfig(BaseModel):
    """Report settings, read from ``--config FILE`` (JSON; YAML where PyYAML is installed). Every key is optional:

    ```json
    {"group_by": ["domain", "difficulty", ["domain", "difficulty"]],
     "scorers": ["task-verifier"], "models": null,
     "pass_dimensions": {"my-judge": "passed"}, "unit_dimensions": {"frame-match": ["final_ssim", "first_ssim"]},
     "confidence": 0.95, "resamples": 2000, "seed": 0, "max_videos_per_model": null}
    ```

    ``group_by``: the groupings of ``metrics_detail.csv``; a name groups by one field, a list of names by their
    combination. A field is looked up in the generation's ``metadata.json`` first (``domain``, ``seed``,
    ``duration``, ``params.resolution``: dots reach into objects), then in its task's ``question_metadata.json``
    (``difficulty``); ``question.<name>`` looks only in the latter.
    ``scorers``, ``models``: report only these (default: every one found).
    ``pass_dimensions``: a scorer's pass dimension, for scorers outside the catalog (the catalog's scorers declare
    theirs). ``unit_dimensions``: a scorer's dimensions on [0, 1], where the default rule (every value seen lies
    in [0, 1]) guesses wrong. ``confidence``, ``resamples``, ``seed``: the bootstrap.
    ``max_videos_per_model``: videos embedded in report.html per model (default: all; ``--max-videos-per-model``
    overrides it).
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

    @property
    def video_path(self) -> Path | None:
        if self.status != "completed" or self.record is None or not self.record.video:
            return None
        return self.run_dir / self.record.video

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
        return None


_ABSENT = object()


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
        scores[path.stem] = read_score(path)
    return scores


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

    @property
    def headline(self) -> str:
        """The dimension of the plots and of the leaderboard's order."""
        return self.pass_dimension or self.dimensions[0]


def _catalog_pass_dimension(name: str) -> str | None:
    # Catalog scorers declare it on their class; loading the class imports its module, never its weights.
    try:
        cls = load_scorer_class(get_scorer_entry(name).service_class)
    except (UnknownScorerError, ScorerContractError):
        return None
    value = getattr(cls, "pass_dimension", None)
    return value if isinstance(value, str) else None


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
        if name in config.unit_dimensions:
            unknown = [d for d in config.unit_dimensions[name] if d not in dimensions]
            if unknown:
                raise ReportError(
                    f"config unit_dimensions: {name} has no dimension {unknown[0]!r}; it has {dimensions}"
                )
            unit = [d for d in dimensions if d in config.unit_dimensions[name]]
        else:
            unit = [d for d in dimensions if _all_in_unit_range(record.dimensions.get(d) for record in records)]
        versions = sorted({record.version for record in records})
        scorers.append(ScorerInfo(name, dimensions, pass_dimension, unit, versions))
    # Scorers that judge pass or fail lead (the leaderboard's first table, the order of the videos), then by name.
    return sorted(scorers, key=lambda s: (s.pass_dimension is None, s.name))


def _all_in_unit_range(values: Iterable[float | None]) -> bool:
    return all(0.0 <= v <= 1.0 for v in values if v is not None)


# -- metrics ----------------------------------------------------------------------------------------------------


def outcome_of(generation: ReportGeneration, scorer: str, dimension: str) -> tuple[Outcome, float]:
    """How ``generation`` counts for ``scorer``'s ``dimension`` (see the module docstring), with its value."""
    if generation.status != "completed":
        return "failed", math.nan
    record = generation.scores.get(scorer)
    if record is None or record.error is not None:
        return "failed", math.nan  # no score file, an unreadable one, or one that records an error
    value = record.dimensions.get(dimension)
    if value is None or not math.isfinite(value):
        return "unscorable", math.nan
    return "scored", float(value)


@dataclass(frozen=True)
class Stats:
    mean: float
    ci_low: float
    ci_high: float
    success_rate: float
    n_scored: int
    n_failed: int
    n_unscorable: int
    failures_as_zero: bool

    @property
    def n_generations(self) -> int:
        return self.n_scored + self.n_failed + self.n_unscorable

    def row(self) -> Row:
        return {
            "mean": _number(self.mean),
            "ci_low": _number(self.ci_low),
            "ci_high": _number(self.ci_high),
            "success_rate": _number(self.success_rate),
            "n_scored": self.n_scored,
            "n_failed": self.n_failed,
            "n_unscorable": self.n_unscorable,
            "n_generations": self.n_generations,
            "failures_as_zero": self.failures_as_zero,
        }


def _number(value: float) -> float | None:
    return value if math.isfinite(value) else None


def counted_values(
    generations: Sequence[ReportGeneration], scorer: ScorerInfo, dimension: str
) -> tuple[list[tuple[Outcome, float]], list[float]]:
    """Each generation's outcome, and the values the statistics are over, by the rule of the module docstring.

    Both in generation order (domain, task id, run id), each failure a 0 in its place on a [0, 1] dimension:
    a fixed order, so that the seeded bootstrap interval can be recomputed by hand.
    """
    ordered = sorted(generations, key=lambda g: (g.domain, g.task_id, g.run_id))
    outcomes = [outcome_of(g, scorer.name, dimension) for g in ordered]
    as_zero = dimension in scorer.unit_dimensions
    values = [
        value if kind == "scored" else 0.0
        for kind, value in outcomes
        if kind == "scored" or as_zero and kind == "failed"
    ]
    return outcomes, values


def aggregate(
    generations: Sequence[ReportGeneration], scorer: ScorerInfo, dimension: str, config: ReportConfig
) -> Stats:
    """The statistics of one dimension over ``generations`` (one model's, or one model's in one group)."""
    outcomes, values = counted_values(generations, scorer, dimension)
    n_scored = sum(kind == "scored" for kind, _ in outcomes)
    n_failed = sum(kind == "failed" for kind, _ in outcomes)
    mean = float(np.mean(values)) if values else math.nan
    low, high = bootstrap_ci(values, confidence=config.confidence, resamples=config.resamples, seed=config.seed)
    success = math.nan
    if dimension == scorer.pass_dimension and n_scored + n_failed:
        passes = sum(kind == "scored" and value >= PASS_AT for kind, value in outcomes)
        success = passes / (n_scored + n_failed)
    n_unscorable = len(outcomes) - n_scored - n_failed
    return Stats(mean, low, high, success, n_scored, n_failed, n_unscorable, dimension in scorer.unit_dimensions)


@dataclass
class Metrics:
    scorers: list[ScorerInfo]
    models: list[str]
    groupings: list[tuple[str, ...]]
    summary: list[Row]
    detail: list[Row]
    warnings: list[str]
    _index: dict[tuple[str, str, str], Row] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._index = {(r["scorer"], r["dimension"], r["model"]): r for r in self.summary}

    def row(self, scorer: str, dimension: str, model: str) -> Row | None:
        """The summary row of (scorer, dimension, model)."""
        return self._index.get((scorer, dimension, model))

    def headline(self, scorer: ScorerInfo, model: str) -> Row | None:
        return self.row(scorer.name, scorer.headline, model)

    def ranked_models(self, scorer: ScorerInfo | None) -> list[str]:
        """Leaderboard order: the scorer's headline mean, highest first (no value last), ties by name."""
        if scorer is None:
            return sorted(self.models)

        def key(model: str) -> tuple[float, str]:
            row = self.headline(scorer, model)
            mean = row["mean"] if row is not None and row["mean"] is not None else -math.inf
            return -mean, model

        return sorted(self.models, key=key)

    @property
    def detail_fields(self) -> list[str]:
        return list(dict.fromkeys(f for grouping in self.groupings for f in grouping))


def compute_metrics(generations: Sequence[ReportGeneration], config: ReportConfig) -> Metrics:
    """Summary and detail rows of every scorer found in the experiment's score files."""
    models = sorted({g.model for g in generations})
    if config.models:
        missing = [m for m in config.models if m not in models]
        if missing:
            raise ReportError(
                f"config models: no generation of {missing[0]!r}{suggest(missing[0], models)}; "
                f"found: {', '.join(models)}"
            )
        models = [m for m in models if m in config.models]
    generations = [g for g in generations if g.model in models]
    scorers = describe_scorers(generations, config)
    if not scorers:
        raise ReportError(
            "no score file in the experiment: score it first, e.g. "
            "python examples/score_videos.py --scorer task-verifier --experiment NAME"
        )
    by_model = {m: [g for g in generations if g.model == m] for m in models}

    summary: list[Row] = []
    for scorer in scorers:
        for dimension in scorer.dimensions:
            for model in models:
                stats = aggregate(by_model[model], scorer, dimension, config)
                summary.append({"scorer": scorer.name, "dimension": dimension, "model": model, **stats.row()})

    groupings = config.groupings
    fields = list(dict.fromkeys(f for grouping in groupings for f in grouping))
    detail: list[Row] = []
    for grouping in groupings:
        for name in grouping:
            if all(g.field_value(name) is None for g in generations):
                raise ReportError(_unknown_field_message(name, generations))
        # (model, group) -> its generations; a group is the tuple of the grouping's values
        buckets: dict[tuple[str, tuple[str, ...]], list[ReportGeneration]] = {}
        for g in generations:
            group = tuple(MISSING if (v := g.field_value(f)) is None else v for f in grouping)
            buckets.setdefault((g.model, group), []).append(g)
        for scorer in scorers:
            for dimension in scorer.dimensions:
                for model, group in sorted(buckets, key=lambda key: (key[0], [_natural(v) for v in key[1]])):
                    stats = aggregate(buckets[(model, group)], scorer, dimension, config)
                    detail.append(
                        {
                            "grouping": "+".join(grouping),
                            **dict.fromkeys(fields),
                            **dict(zip(grouping, group, strict=True)),
                            "scorer": scorer.name,
                            "dimension": dimension,
                            "model": model,
                            **stats.row(),
                        }
                    )
    return Metrics(scorers, models, groupings, summary, detail, _warnings(generations, scorers))


def _natural(value: str) -> tuple[int, float, str]:
    # Groups in a natural order: numbers by value (num_steps 6 before 10), then text by name.
    try:
        return 0, float(value), value
    except ValueError:
        return 1, 0.0, value


def _unknown_field_message(name: str, generations: Sequence[ReportGeneration]) -> str:
    available = sorted(
        {k for g in generations for k, v in g.record_fields.items() if not isinstance(v, (dict, list))}
        | {k for g in generations for k, v in g.task_metadata.items() if not isinstance(v, (dict, list))}
    )
    return (
        f"group_by field {name!r} is in no generation's metadata.json or question_metadata.json"
        f"{suggest(name, available)}; fields there: {', '.join(available)}"
    )


def _warnings(generations: Sequence[ReportGeneration], scorers: Sequence[ScorerInfo]) -> list[str]:
    warnings: list[str] = []
    for scorer in scorers:
        unscored: dict[str, int] = {}
        for g in generations:
            record = g.scores.get(scorer.name)
            if g.status == "completed" and (record is None or record.error is not None):
                unscored[g.model] = unscored.get(g.model, 0) + 1
        if unscored:
            counts = ", ".join(f"{model}: {n}" for model, n in sorted(unscored.items()))
            warnings.append(
                f"{scorer.name}: completed generations without a score, or with an error score, count as failures "
                f"({counts}); score them with examples/score_videos.py --scorer {scorer.name}"
            )
        if len(scorer.versions) > 1:
            warnings.append(
                f"{scorer.name}: score files of versions {', '.join(scorer.versions)} are mixed; scoring again "
                "brings them all to the current version"
            )
    return warnings


# -- tables -----------------------------------------------------------------------------------------------------


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)  # the shortest text that reads back as the same float
    return str(value)


def csv_text(rows: Sequence[Row], columns: Sequence[str]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_csv_cell(row.get(column)) for column in columns])
    return buffer.getvalue()


def detail_columns(metrics: Metrics) -> list[str]:
    return ["grouping", *metrics.detail_fields, "scorer", "dimension", "model", *STAT_COLUMNS]


def generation_counts(generations: Sequence[ReportGeneration], models: Sequence[str]) -> dict[str, dict[str, int]]:
    counts = {model: {"completed": 0, "failed": 0, "unfinished": 0} for model in models}
    for g in generations:
        if g.model in counts:
            counts[g.model][g.status] += 1
    return counts


# -- plots ------------------------------------------------------------------------------------------------------

# Layout of the plots, in pixels. Labels longer than their room are cut with an ellipsis, so an image's size
# depends only on how many rows and columns it has (heatmap_size, bar_chart_size).
LABEL_W = 240  # the model names on the left
TITLE_H = 58
CELL_W, CELL_H = 150, 44
HEADER_H = 34  # the domain names above the heatmap
LEGEND_H = 60
MIN_W = 520
BAR_PLOT_W, BAR_ROW_H, AXIS_H, VALUE_W = 520, 40, 46, 170
FONT_SIZE, SMALL_FONT_SIZE, TITLE_FONT_SIZE = 15, 13, 17

WHITE, INK, GRID, EMPTY = (255, 255, 255), (30, 30, 30), (215, 218, 222), (236, 237, 239)
BAR_COLOUR = (52, 110, 168)
# Viridis at 0, 1/4, 1/2, 3/4 and 1: perceptually ordered, readable in grey, safe for colour-blind readers.
VIRIDIS = ((68, 1, 84), (59, 82, 139), (33, 145, 140), (94, 201, 98), (253, 231, 37))

Colour = tuple[int, int, int]
Font = ImageFont.ImageFont | ImageFont.FreeTypeFont


@lru_cache(maxsize=8)
def _font(size: int) -> Font:
    # Pillow's bundled font: no system font is needed, and the images look the same everywhere.
    return ImageFont.load_default(size=size)


def value_colour(value: float, low: float, high: float) -> Colour:
    """The viridis colour of ``value`` on the scale [low, high] (linear between the five anchors)."""
    t = 0.0 if high <= low else min(max((value - low) / (high - low), 0.0), 1.0)
    position = t * (len(VIRIDIS) - 1)
    i = min(int(position), len(VIRIDIS) - 2)
    f = position - i
    a, b = VIRIDIS[i], VIRIDIS[i + 1]
    return (round(a[0] + (b[0] - a[0]) * f), round(a[1] + (b[1] - a[1]) * f), round(a[2] + (b[2] - a[2]) * f))


def _fit(draw: ImageDraw.ImageDraw, text: str, font: Font, width: float) -> str:
    if draw.textlength(text, font=font) <= width:
        return text
    while text and draw.textlength(text + "…", font=font) > width:
        text = text[:-1]
    return text + "…"


def _text(
    draw: ImageDraw.ImageDraw,
    xy: tuple[float, float],
    text: str,
    font: Font,
    fill: Colour = INK,
    anchor: str = "la",
    width: float | None = None,
) -> None:
    draw.text(xy, _fit(draw, text, font, width) if width else text, font=font, fill=fill, anchor=anchor)


def _format(value: float | None) -> str:
    """A number for the HTML page (a dash for none)."""
    return "–" if value is None or not math.isfinite(value) else f"{value:.3g}"


def _plot_number(value: float, unit: bool) -> str:
    # ASCII only in the plots: Pillow's bundled font has no dashes. Two decimals on [0, 1], as rates read.
    if not math.isfinite(value):
        return "n/a"
    return f"{value:.2f}" if unit else f"{value:.3g}"


def heatmap_size(n_rows: int, n_cols: int) -> tuple[int, int]:
    return max(MIN_W, LABEL_W + n_cols * CELL_W + 16), TITLE_H + HEADER_H + n_rows * CELL_H + LEGEND_H


def heatmap_cell_box(row: int, col: int) -> tuple[int, int, int, int]:
    """The cell of (row, col) in a heatmap, as (x0, y0, x1, y1), inclusive."""
    x0, y0 = LABEL_W + col * CELL_W, TITLE_H + HEADER_H + row * CELL_H
    return x0, y0, x0 + CELL_W - 1, y0 + CELL_H - 1


def draw_heatmap(
    title: str,
    subtitle: str,
    rows: Sequence[str],
    cols: Sequence[str],
    values: dict[tuple[str, str], float],
    unit: bool,
) -> Image.Image:
    """A rows x cols grid coloured by value, each cell labelled; [0, 1] on a fixed scale, others min to max."""
    image = Image.new("RGB", heatmap_size(len(rows), len(cols)), WHITE)
    draw = ImageDraw.Draw(image)
    font, small, big = _font(FONT_SIZE), _font(SMALL_FONT_SIZE), _font(TITLE_FONT_SIZE)
    _text(draw, (16, 12), title, big, width=image.width - 32)
    _text(draw, (16, 36), subtitle, small, fill=(90, 90, 90), width=image.width - 32)
    present = [v for v in values.values() if math.isfinite(v)]
    low, high = (0.0, 1.0) if unit or not present else (min(present), max(present))
    for c, col in enumerate(cols):
        x0, _, x1, _ = heatmap_cell_box(0, c)
        _text(draw, ((x0 + x1) / 2, TITLE_H + HEADER_H / 2), col, font, anchor="mm", width=CELL_W - 8)
    for r, row in enumerate(rows):
        _, y0, _, y1 = heatmap_cell_box(r, 0)
        _text(draw, (16, (y0 + y1) / 2), row, font, anchor="lm", width=LABEL_W - 28)
        for c, col in enumerate(cols):
            x0, y0, x1, y1 = heatmap_cell_box(r, c)
            value = values.get((row, col), math.nan)
            fill = value_colour(value, low, high) if math.isfinite(value) else EMPTY
            draw.rectangle((x0, y0, x1, y1), fill=fill, outline=WHITE, width=1)
            # dark text on light cells, white on dark ones (ITU-R BT.601 luma)
            ink = INK if 0.299 * fill[0] + 0.587 * fill[1] + 0.114 * fill[2] > 140 else WHITE
            _text(draw, ((x0 + x1) / 2, (y0 + y1) / 2), _plot_number(value, unit), font, fill=ink, anchor="mm")
    # the colour scale, under the grid
    top = TITLE_H + HEADER_H + len(rows) * CELL_H + 18
    left, width = LABEL_W, max(len(cols) * CELL_W, 200)
    for x in range(width):
        draw.line(
            (left + x, top, left + x, top + 12), fill=value_colour(low + (high - low) * x / (width - 1), low, high)
        )
    _text(draw, (left, top + 16), _plot_number(low, unit), small)
    _text(draw, (left + width, top + 16), _plot_number(high, unit), small, anchor="ra")
    _text(draw, (16, top), "colour scale", small, fill=(90, 90, 90))
    return image


def bar_chart_size(n_rows: int) -> tuple[int, int]:
    return LABEL_W + BAR_PLOT_W + VALUE_W, TITLE_H + n_rows * BAR_ROW_H + AXIS_H


@dataclass(frozen=True)
class Bar:
    label: str
    mean: float
    ci_low: float
    ci_high: float
    note: str = ""  # written after the value, e.g. "n=6, 1 failed"


def draw_bar_chart(title: str, subtitle: str, bars: Sequence[Bar], unit: bool) -> Image.Image:
    """One horizontal bar per row, from 0 to its mean, with a whisker from ci_low to ci_high."""
    image = Image.new("RGB", bar_chart_size(len(bars)), WHITE)
    draw = ImageDraw.Draw(image)
    font, small, big = _font(FONT_SIZE), _font(SMALL_FONT_SIZE), _font(TITLE_FONT_SIZE)
    _text(draw, (16, 12), title, big, width=image.width - 32)
    _text(draw, (16, 36), subtitle, small, fill=(90, 90, 90), width=image.width - 32)
    present = [v for bar in bars for v in (bar.mean, bar.ci_low, bar.ci_high) if math.isfinite(v)]
    low, high = 0.0, 1.0
    if not unit and present:
        low, high = min(0.0, *present), max(present)
        high = high + 0.05 * (high - low) if high > low else low + 1.0
    top, bottom = TITLE_H, TITLE_H + len(bars) * BAR_ROW_H

    def x_of(value: float) -> float:
        return LABEL_W + (value - low) / (high - low) * (BAR_PLOT_W - 20)

    for i in range(5):  # grid lines and tick labels
        tick = low + (high - low) * i / 4
        x = x_of(tick)
        draw.line((x, top, x, bottom), fill=GRID)
        _text(draw, (x, bottom + 8), _plot_number(tick, unit), small, anchor="ma")
    for r, bar in enumerate(bars):
        y0 = top + r * BAR_ROW_H
        centre = y0 + BAR_ROW_H / 2
        _text(draw, (16, centre), bar.label, font, anchor="lm", width=LABEL_W - 28)
        right = x_of(0.0)
        if math.isfinite(bar.mean):
            end = x_of(bar.mean)  # bars grow from 0, to the left for a negative mean
            draw.rectangle((min(right, end), y0 + 9, max(right, end), y0 + BAR_ROW_H - 9), fill=BAR_COLOUR)
            right = max(right, end)
        if math.isfinite(bar.ci_low) and math.isfinite(bar.ci_high):
            a, b = x_of(bar.ci_low), x_of(bar.ci_high)
            draw.line((a, centre, b, centre), fill=INK, width=2)
            draw.line((a, centre - 7, a, centre + 7), fill=INK, width=2)
            draw.line((b, centre - 7, b, centre + 7), fill=INK, width=2)
            right = max(right, b)
        label = f"{_plot_number(bar.mean, unit)}  {bar.note}".strip()
        _text(draw, (right + 8, centre), label, small, anchor="lm", width=image.width - right - 12)
    draw.line((x_of(0.0), top, x_of(0.0), bottom), fill=INK)
    return image


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def domain_means(
    generations: Sequence[ReportGeneration], scorer: ScorerInfo, models: Sequence[str]
) -> dict[tuple[str, str], float]:
    """(model, domain) -> mean of the scorer's headline dimension, by the same rule as the tables."""
    means: dict[tuple[str, str], float] = {}
    for model in models:
        for domain in sorted({g.domain for g in generations}):
            members = [g for g in generations if g.model == model and g.domain == domain]
            if members:
                _, values = counted_values(members, scorer, scorer.headline)
                means[(model, domain)] = float(np.mean(values)) if values else math.nan
    return means


def _float(row: Row | None, key: str) -> float:
    value = row.get(key) if row is not None else None
    return math.nan if value is None else float(value)


def plot_scorer(
    generations: Sequence[ReportGeneration], metrics: Metrics, scorer: ScorerInfo, config: ReportConfig
) -> dict[str, Image.Image]:
    """``heatmap_<scorer>.png`` and ``bars_<scorer>.png`` of the scorer's headline dimension."""
    dimension = scorer.headline
    unit = dimension in scorer.unit_dimensions
    rule = "failures count as 0" if unit else "mean over scored generations; failures not included"
    models = metrics.ranked_models(scorer)
    domains = sorted({g.domain for g in generations if g.model in models})
    heatmap = draw_heatmap(
        f"{scorer.name}: {dimension} by model and domain",
        f"mean per cell ({rule})",
        models,
        domains,
        domain_means(generations, scorer, models),
        unit,
    )
    bars = []
    for model in models:
        row = metrics.headline(scorer, model)
        note = f"n={row['n_generations']}" + (f", {row['n_failed']} failed" if row["n_failed"] else "") if row else ""
        bars.append(Bar(model, _float(row, "mean"), _float(row, "ci_low"), _float(row, "ci_high"), note))
    chart = draw_bar_chart(
        f"{scorer.name}: {dimension} per model",
        f"mean with {config.confidence:.0%} bootstrap interval ({rule})",
        bars,
        unit,
    )
    return {f"heatmap_{scorer.name}.png": heatmap, f"bars_{scorer.name}.png": chart}


# -- the HTML page ----------------------------------------------------------------------------------------------

THUMB = 320  # pixels: the input and expected frames are shrunk to this in the page, and videos shown this wide
HEADER_COLOUR = "#1d4e89"  # the tables' header rows (a screenshot check looks for it)

CSS = f"""
body {{ font-family: system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; margin: 24px;
  color: #1e1e1e; background: #ffffff; line-height: 1.4; }}
h1 {{ margin: 0 0 4px; font-size: 26px; }}
h2 {{ margin: 32px 0 8px; padding-bottom: 4px; border-bottom: 2px solid {HEADER_COLOUR}; font-size: 21px; }}
h3 {{ margin: 20px 0 6px; font-size: 17px; }}
.meta, .note {{ color: #555555; font-size: 14px; }}
table {{ border-collapse: collapse; margin: 6px 0 10px; font-size: 14px; }}
th {{ background: {HEADER_COLOUR}; color: #ffffff; padding: 7px 12px; text-align: left; }}
td {{ padding: 6px 12px; border-bottom: 1px solid #dde1e6; text-align: right; white-space: nowrap; }}
td.name {{ text-align: left; font-weight: 600; }}
tbody tr:nth-child(even) {{ background: #f3f6fa; }}
small {{ color: #666666; }}
.plots img {{ margin: 0 16px 16px 0; border: 1px solid #dde1e6; max-width: 100%; }}
.task {{ margin: 18px 0 28px; }}
.prompt {{ background: #f6f6f6; border-left: 4px solid {HEADER_COLOUR}; padding: 8px 12px; white-space: pre-wrap;
  font-size: 14px; max-width: 1100px; }}
.strip {{ display: flex; flex-wrap: wrap; gap: 14px; align-items: flex-start; }}
figure {{ margin: 0; width: {THUMB}px; font-size: 13px; }}
figure img, figure video {{ width: {THUMB}px; display: block; background: #000000; }}
figcaption {{ margin-top: 4px; overflow-wrap: anywhere; }}
.placeholder {{ width: {THUMB}px; height: {THUMB // 2}px; display: flex; align-items: center; justify-content: center;
  background: #eeeeee; color: #555555; text-align: center; padding: 8px; box-sizing: border-box; }}
.failed {{ background: #fbe9e9; color: #8a1f1f; }}
"""


def _e(value: object) -> str:
    """Text from the data (prompts, errors, names), escaped: a prompt may well hold markup."""
    return html.escape(str(value), quote=True)


def data_uri(mime: str, data: bytes) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def _thumbnail_uri(path: Path) -> str | None:
    try:
        with Image.open(path) as image:
            small = image.convert("RGB")
    except (OSError, ValueError):
        return None
    small.thumbnail((THUMB, THUMB))
    return data_uri("image/png", png_bytes(small))


def _mean_cell(row: Row | None) -> str:
    if row is None or row["mean"] is None:
        return "<td>–</td>"
    interval = ""
    if row["ci_low"] is not None and row["ci_high"] is not None:
        interval = f" <small>[{_format(row['ci_low'])}, {_format(row['ci_high'])}]</small>"
    return f"<td>{_format(row['mean'])}{interval}</td>"


def _leaderboard(metrics: Metrics, confidence: float) -> list[str]:
    parts = ['<section id="leaderboard"><h2>Leaderboard</h2>']
    for scorer in metrics.scorers:
        versions = ", ".join(scorer.versions)
        parts.append(f"<h3>{_e(scorer.name)} <small>(version {_e(versions)})</small></h3>")
        head = "".join(f"<th>{_e(d)}{' (pass)' if d == scorer.pass_dimension else ''}</th>" for d in scorer.dimensions)
        rate = "<th>success rate</th>" if scorer.pass_dimension else ""
        parts.append(
            '<table class="leaderboard"><thead><tr><th>#</th><th>model</th>'
            f"{head}{rate}<th>scored</th><th>failed</th><th>generations</th></tr></thead><tbody>"
        )
        for rank, model in enumerate(metrics.ranked_models(scorer), start=1):
            headline = metrics.headline(scorer, model)
            cells = "".join(_mean_cell(metrics.row(scorer.name, d, model)) for d in scorer.dimensions)
            if scorer.pass_dimension:
                success = headline["success_rate"] if headline else None
                cells += f"<td>{'–' if success is None else f'{success:.1%}'}</td>"
            for count in ("n_scored", "n_failed", "n_generations"):
                cells += f"<td>{headline[count] if headline else 0}</td>"
            parts.append(f'<tr><td>{rank}</td><td class="name">{_e(model)}</td>{cells}</tr>')
        zero = [d for d in scorer.dimensions if d in scorer.unit_dimensions]
        note = (
            f"Mean [{confidence:.0%} bootstrap interval] per dimension, over every generation of the model. "
            "Failed generations (not completed, not scored, or scored with an error) count as 0 on "
            f"{', '.join(_e(d) for d in zero) or 'no dimension'}"
        )
        others = [d for d in scorer.dimensions if d not in scorer.unit_dimensions]
        if others:
            note += f" and are left out of {', '.join(_e(d) for d in others)} (not a [0, 1] score)"
        parts.append(
            f'</tbody></table><p class="note">{note}. Counts in the last columns are of {_e(scorer.headline)}.</p>'
        )
    parts.append("</section>")
    return parts


def _breakdown(metrics: Metrics) -> list[str]:
    parts = ['<section id="breakdown"><h2>By group</h2>']
    for grouping in metrics.groupings:
        label = "+".join(grouping)
        rows = [r for r in metrics.detail if r["grouping"] == label]
        groups = sorted({tuple(r[f] for f in grouping) for r in rows}, key=lambda group: [_natural(v) for v in group])
        for scorer in metrics.scorers:
            cells = {
                (r["model"], tuple(r[f] for f in grouping)): r
                for r in rows
                if r["scorer"] == scorer.name and r["dimension"] == scorer.headline
            }
            head = "".join(f"<th>{_e(' / '.join(group))}</th>" for group in groups)
            parts.append(
                f"<h3>{_e(scorer.name)}: {_e(scorer.headline)} by {_e(' and '.join(grouping))}</h3>"
                f"<table><thead><tr><th>model</th>{head}</tr></thead><tbody>"
            )
            for model in metrics.ranked_models(scorer):
                row_cells = "".join(_mean_cell(cells.get((model, group))) for group in groups)
                parts.append(f'<tr><td class="name">{_e(model)}</td>{row_cells}</tr>')
            parts.append("</tbody></table>")
    parts.append("</section>")
    return parts


def _score_lines(generation: ReportGeneration, scorers: Sequence[ScorerInfo]) -> str:
    lines = []
    for scorer in scorers:
        record = generation.scores.get(scorer.name)
        if generation.status != "completed":
            continue
        if record is None:
            text = "no score" if scorer.name not in generation.scores else "unreadable score file"
        elif record.error is not None:
            text = f"error: {record.error[:300]}"
        else:
            text = " · ".join(f"{d} {_format(record.dimensions.get(d))}" for d in scorer.dimensions)
            reason = record.details.get("reason")
            if isinstance(reason, str) and reason:
                text += f" ({reason[:300]})"
        lines.append(f"<br><small>{_e(scorer.name)}: {_e(text)}</small>")
    return "".join(lines)


def _video_cell(generation: ReportGeneration, room: bool) -> tuple[str, bool]:
    """The video of one generation, embedded when there is ``room``, else why not; and whether it was."""
    video = generation.video_path
    if generation.status != "completed":
        return (
            f'<div class="placeholder failed">generation {_e(generation.status)}: {_e(generation.error[:300])}</div>',
            False,
        )
    if video is None or not video.is_file():
        return '<div class="placeholder failed">the video file is missing</div>', False
    if not room:
        where = "/".join(video.parts[-6:])  # <model>/<domain>_task/<task_id>/<run_id>/video/<file>
        return f'<div class="placeholder">not embedded (--max-videos-per-model): {_e(where)}</div>', False
    try:
        data = video.read_bytes()
    except OSError as exc:  # one unreadable file costs its own cell, not the report
        return f'<div class="placeholder failed">cannot read the video: {_e(exc)}</div>', False
    return f'<video controls muted loop preload="metadata" src="{data_uri("video/mp4", data)}"></video>', True


def _tasks(
    generations: Sequence[ReportGeneration], metrics: Metrics, max_videos_per_model: int | None
) -> tuple[list[str], int]:
    """Per task: the prompt, the input frame, the expected final frame and each model's video, side by side."""
    order = {m: i for i, m in enumerate(metrics.ranked_models(metrics.scorers[0] if metrics.scorers else None))}
    tasks: dict[tuple[str, str], list[ReportGeneration]] = {}
    for g in generations:
        tasks.setdefault((g.domain, g.task_id), []).append(g)
    embedded: dict[str, int] = {}
    parts = ['<section id="tasks"><h2>Tasks</h2>']
    if max_videos_per_model is not None:
        parts.append(f'<p class="note">At most {max_videos_per_model} video(s) per model are embedded.</p>')
    for (domain, task_id), members in sorted(tasks.items()):
        members = sorted(members, key=lambda g: (order.get(g.model, len(order)), g.run_id))
        runs_per_model = {m: sum(g.model == m for g in members) for m in {g.model for g in members}}
        prompt = next((g.prompt for g in members if g.prompt), "")
        parts.append(
            f'<article class="task"><h3>{_e(task_id)} <small>{_e(domain)}</small></h3>'
            f'<p class="prompt">{_e(prompt)}</p><div class="strip">'
        )
        for title, name in (("input frame", FIRST_FRAME), ("expected final frame", FINAL_FRAME)):
            uri = next((u for g in members if (u := _thumbnail_uri(g.run_dir / "question" / name)) is not None), None)
            picture = (
                f'<img alt="{_e(title)}" src="{uri}">' if uri else f'<div class="placeholder">no {_e(title)}</div>'
            )
            parts.append(f"<figure>{picture}<figcaption><b>{_e(title)}</b></figcaption></figure>")
        for g in members:
            name = g.model if runs_per_model[g.model] == 1 else f"{g.model} ({g.run_id})"
            room = max_videos_per_model is None or embedded.get(g.model, 0) < max_videos_per_model
            body, was_embedded = _video_cell(g, room)
            embedded[g.model] = embedded.get(g.model, 0) + was_embedded
            caption = f"<b>{_e(name)}</b>{_score_lines(g, metrics.scorers)}"
            parts.append(f"<figure>{body}<figcaption>{caption}</figcaption></figure>")
        parts.append("</div></article>")
    parts.append("</section>")
    return parts, sum(embedded.values())


def render_html(
    experiment: str,
    generations: Sequence[ReportGeneration],
    metrics: Metrics,
    plots: dict[str, bytes],
    config: ReportConfig,
) -> tuple[str, int]:
    """The page, and how many videos it embeds."""
    counts = generation_counts(generations, metrics.models)
    not_done = sum(c["failed"] + c["unfinished"] for c in counts.values())
    n_tasks = len({(g.domain, g.task_id) for g in generations})
    n_domains = len({g.domain for g in generations})
    task_parts, videos = _tasks(generations, metrics, config.max_videos_per_model)
    parts = [
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>VMEvalKit report: {_e(experiment)}</title><style>{CSS}</style></head><body>",
        f"<h1>VMEvalKit report: {_e(experiment)}</h1>",
        f'<p class="meta">{len(generations)} generations of {len(metrics.models)} models on {n_tasks} tasks in '
        f"{n_domains} domains; {not_done} did not complete. Written {_e(utc_now())}.</p>",
        *_leaderboard(metrics, config.confidence),
        '<section id="plots" class="plots"><h2>Plots</h2>',
        *(f'<img alt="{_e(name)}" src="{data_uri("image/png", data)}">' for name, data in plots.items()),
        "</section>",
        *_breakdown(metrics),
        *task_parts,
        "</body></html>\n",
    ]
    return "\n".join(parts), videos


# -- writing it all ---------------------------------------------------------------------------------------------


@dataclass
class ReportResult:
    out_dir: Path
    files: list[Path]
    metrics: Metrics
    videos_embedded: int
    html_bytes: int
    warnings: list[str]


def write_report(experiment_dir: Path, out_dir: Path | None = None, config: ReportConfig | None = None) -> ReportResult:
    """Read the experiment and write every report file into ``out_dir`` (default ``<experiment_dir>/report``)."""
    config = config or ReportConfig()
    out_dir = out_dir or experiment_dir / REPORT_DIR
    generations = collect_generations(experiment_dir)
    metrics = compute_metrics(generations, config)
    generations = [g for g in generations if g.model in metrics.models]
    files: list[Path] = []

    def write(name: str, data: str | bytes) -> None:
        path = out_dir / name
        if isinstance(data, str):
            atomic_write_text(path, data)
        else:
            atomic_write_bytes(path, data)
        files.append(path)

    write(SUMMARY_CSV, csv_text(metrics.summary, SUMMARY_COLUMNS))
    write(DETAIL_CSV, csv_text(metrics.detail, detail_columns(metrics)))
    payload = {
        "schema_version": REPORT_SCHEMA_VERSION,
        "experiment": experiment_dir.name,
        "written_at": utc_now(),
        "config": config.model_dump(mode="json"),
        "scorers": {
            s.name: {
                "dimensions": s.dimensions,
                "pass_dimension": s.pass_dimension,
                "headline": s.headline,
                "unit_dimensions": s.unit_dimensions,
                "versions": s.versions,
            }
            for s in metrics.scorers
        },
        "generations": generation_counts(generations, metrics.models),
        "summary_columns": list(SUMMARY_COLUMNS),
        "detail_columns": detail_columns(metrics),
        "summary": metrics.summary,
        "detail": metrics.detail,
        "warnings": metrics.warnings,
    }
    atomic_write_json(out_dir / METRICS_JSON, payload)
    files.append(out_dir / METRICS_JSON)

    plots: dict[str, bytes] = {}
    for scorer in metrics.scorers:
        for name, image in plot_scorer(generations, metrics, scorer, config).items():
            plots[name] = png_bytes(image)
            write(name, plots[name])

    page, videos = render_html(experiment_dir.name, generations, metrics, plots, config)
    write(REPORT_HTML, page)
    html_bytes = len(page.encode("utf-8"))
    warnings = list(metrics.warnings)
    if html_bytes > LARGE_HTML_BYTES:
        warnings.append(
            f"{REPORT_HTML} is {html_bytes / 2**20:.0f} MiB: pass --max-videos-per-model N to embed fewer videos"
        )
    return ReportResult(out_dir, files, metrics, videos, html_bytes, warnings)


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="report.py",
        description="Leaderboard tables, plots and a self-contained report.html of a scored experiment.",
    )
    parser.add_argument(
        "--experiment", metavar="NAME", help="experiment to report on: <output-dir>/<experiment>/ (default: pilot)"
    )
    parser.add_argument(
        "--output-dir", metavar="DIR", help="experiments root (default: data/outputs, or $VMEVALKIT_OUTPUT_DIR)"
    )
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="report settings: group_by, scorers, models, ... (JSON, or YAML where PyYAML is installed)",
    )
    parser.add_argument(
        "--out", metavar="DIR", help="folder to write the report into (default: <output-dir>/<experiment>/report/)"
    )
    parser.add_argument(
        "--max-videos-per-model",
        type=_non_negative_int,
        metavar="N",
        help="embed at most N videos per model in report.html (default: all; 0: none)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """``examples/report.py``. Exit status 0 when written, 2 on bad input (nothing is written then)."""
    from vmevalkit.settings import get_settings

    args = build_parser().parse_args(argv)
    settings = get_settings()
    experiment = args.experiment or settings.experiment
    if not SAFE_NAME.fullmatch(experiment):
        print(f"error: experiment name {experiment!r} must be a plain folder name", file=sys.stderr)
        return 2
    experiment_dir = Path(args.output_dir or settings.output_dir).absolute() / experiment
    try:
        config = load_config(args.config) if args.config else ReportConfig()
        if args.max_videos_per_model is not None:
            config = config.model_copy(update={"max_videos_per_model": args.max_videos_per_model})
        result = write_report(experiment_dir, Path(args.out).absolute() if args.out else None, config)
    except ReportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    metrics = result.metrics
    print(
        f"report of {experiment_dir.name}: {len(metrics.models)} models, "
        f"scorers {', '.join(s.name for s in metrics.scorers)}; {result.videos_embedded} videos embedded, "
        f"{REPORT_HTML} {result.html_bytes / 2**20:.1f} MiB"
    )
    for path in result.files:
        print(f"wrote {path}")
    return 0

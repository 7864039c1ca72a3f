"""The numbers of a report: one row per scorer x dimension x model (``metrics_summary.csv``), the same rows per
group (``metrics_detail.csv``), and ``metrics.json`` with both tables, the config and the generations counted.

How a generation counts, for one scorer and one of its dimensions
-----------------------------------------------------------------
Every generation (run folder) of a model counts exactly once, as one of:

- *scored*: it completed and the scorer's file for it holds a number for this dimension;
- *failed*: it did not complete (``status`` ``failed``, or still ``running``: an attempt that was killed or is
  in flight, also counted in ``n_unfinished`` and flagged), or it completed but its video cannot be used (missing,
  undecodable, or its ``metadata.json`` path leads out of the run folder: also counted in ``n_unreadable`` and
  flagged, whatever a score file says), or it has no score file from this scorer, or its score file records an
  error or cannot be read, or its value lies outside the range the scorer declares for the dimension (a
  hand-edited 7.5 on a [0, 1] dimension: never averaged, counted in ``n_out_of_range`` and flagged);
- *unscorable*: its score file has no error but holds null for this dimension: the scorer could not judge this
  item (e.g. frame-match on a task without an expected final frame). These are not the model's fault: they are
  left out of every number below and reported in ``n_unscorable``.

Failures count against the model; they never silently drop out:

- ``success_rate``, filled on the scorer's pass dimension only, is passes / (scored + failed): a pass is a value
  of at least 1 (``PASS_AT``), and a failure never passes;
- on a [0, 1] dimension each failure enters ``mean`` and its confidence interval as a score of 0 (column
  ``failures_as_zero`` true). A dimension is on [0, 1] when the scorer declares the range [0, 1] for it, or when
  every value any score file holds for it (within its declared range) lies in [0, 1] (every ``task-verifier``
  dimension; frame-match's SSIMs but not its PSNRs), or when the config's ``unit_dimensions`` lists it (which then
  decides for that scorer);
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

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from vmevalkit.runner.records import utc_now
from vmevalkit.scoring.csv_safe import csv_text
from vmevalkit.scoring.metrics import bootstrap_ci
from vmevalkit.scoring.report.data import (
    STAT_COLUMNS,
    SUMMARY_COLUMNS,
    ReportConfig,
    ReportError,
    ReportGeneration,
    ScorerInfo,
    describe_scorers,
)
from vmevalkit.scoring.runner import VIDEO_ERROR_KINDS
from vmevalkit.utils.atomic import atomic_write_json, atomic_write_text
from vmevalkit.utils.imports import suggest

SUMMARY_CSV = "metrics_summary.csv"
DETAIL_CSV = "metrics_detail.csv"
METRICS_JSON = "metrics.json"
REPORT_SCHEMA_VERSION = 1

PASS_AT = 1.0  # a pass dimension's value that means "passed" (the contract: 1 means passed)
MISSING = "(missing)"  # the group of a generation that lacks a group_by field

Outcome = Literal["scored", "failed", "unscorable"]
# Why a failure is flagged, besides counting: a generation that never finished, a video that cannot be used, a
# value outside the declared range.
Flag = Literal["unfinished", "unreadable", "out_of_range"]

Row = dict[str, Any]


# -- metrics ----------------------------------------------------------------------------------------------------


def classify(
    generation: ReportGeneration, scorer: str | ScorerInfo, dimension: str
) -> tuple[Outcome, float, Flag | None]:
    """How ``generation`` counts for ``scorer``'s ``dimension`` (see the module docstring): its outcome, its value
    (NaN unless scored) and the flag of a failure that is flagged. Ranges are checked when given a ``ScorerInfo``."""
    if generation.status != "completed":
        return "failed", math.nan, "unfinished" if generation.status == "unfinished" else None
    if generation.video_problem is not None:
        return "failed", math.nan, "unreadable"  # whatever a score file says: it was not scored from this video
    name = scorer.name if isinstance(scorer, ScorerInfo) else scorer
    record = generation.scores.get(name)
    if record is None or record.error is not None:
        # no score file, an unreadable one, or one that records an error (the video's, when the runner says so)
        video = record is not None and record.error_kind in VIDEO_ERROR_KINDS
        return "failed", math.nan, "unreadable" if video else None
    value = record.dimensions.get(dimension)
    if value is None or not math.isfinite(value):
        return "unscorable", math.nan, None
    if isinstance(scorer, ScorerInfo) and not scorer.in_range(dimension, value):
        return "failed", math.nan, "out_of_range"
    return "scored", float(value), None


def outcome_of(generation: ReportGeneration, scorer: str | ScorerInfo, dimension: str) -> tuple[Outcome, float]:
    """How ``generation`` counts for ``scorer``'s ``dimension`` (see the module docstring), with its value."""
    kind, value, _ = classify(generation, scorer, dimension)
    return kind, value


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
    # Failures flagged besides counting in n_failed (subsets of it).
    n_unfinished: int = 0
    n_unreadable: int = 0
    n_out_of_range: int = 0

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
            "n_unfinished": self.n_unfinished,
            "n_unreadable": self.n_unreadable,
            "n_out_of_range": self.n_out_of_range,
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
    outcomes = [(kind, value) for kind, value, _ in _classified(generations, scorer, dimension)]
    return outcomes, _values(outcomes, dimension in scorer.unit_dimensions)


def _classified(
    generations: Sequence[ReportGeneration], scorer: ScorerInfo, dimension: str
) -> list[tuple[Outcome, float, Flag | None]]:
    ordered = sorted(generations, key=lambda g: (g.domain, g.task_id, g.run_id))
    return [classify(g, scorer, dimension) for g in ordered]


def _values(outcomes: Sequence[tuple[Outcome, float]], as_zero: bool) -> list[float]:
    return [
        value if kind == "scored" else 0.0
        for kind, value in outcomes
        if kind == "scored" or as_zero and kind == "failed"
    ]


def aggregate(
    generations: Sequence[ReportGeneration], scorer: ScorerInfo, dimension: str, config: ReportConfig
) -> Stats:
    """The statistics of one dimension over ``generations`` (one model's, or one model's in one group)."""
    classified = _classified(generations, scorer, dimension)
    outcomes = [(kind, value) for kind, value, _ in classified]
    values = _values(outcomes, dimension in scorer.unit_dimensions)
    n_scored = sum(kind == "scored" for kind, _ in outcomes)
    n_failed = sum(kind == "failed" for kind, _ in outcomes)
    mean = float(np.mean(values)) if values else math.nan
    low, high = bootstrap_ci(values, confidence=config.confidence, resamples=config.resamples, seed=config.seed)
    success = math.nan
    if dimension == scorer.pass_dimension and n_scored + n_failed:
        passes = sum(kind == "scored" and value >= PASS_AT for kind, value in outcomes)
        success = passes / (n_scored + n_failed)
    n_unscorable = len(outcomes) - n_scored - n_failed
    flags = [flag for _, _, flag in classified]
    return Stats(
        mean,
        low,
        high,
        success,
        n_scored,
        n_failed,
        n_unscorable,
        dimension in scorer.unit_dimensions,
        n_unfinished=flags.count("unfinished"),
        n_unreadable=flags.count("unreadable"),
        n_out_of_range=flags.count("out_of_range"),
    )


@dataclass
class Metrics:
    scorers: list[ScorerInfo]
    models: list[str]
    groupings: list[tuple[str, ...]]
    summary: list[Row]
    detail: list[Row]
    warnings: list[str]
    # Per scorer: whether it tells the reference baselines apart (``baseline_checks``); empty without an oracle.
    baseline_checks: dict[str, Row] = field(default_factory=dict)
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
                for model, group in sorted(buckets, key=lambda key: (key[0], [natural_key(v) for v in key[1]])):
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
    metrics = Metrics(scorers, models, groupings, summary, detail, _warnings(generations, scorers))
    metrics.baseline_checks = baseline_checks(metrics)
    metrics.warnings.extend(c["warning"] for c in metrics.baseline_checks.values() if c["warning"])
    return metrics


# The baselines whose order any useful scorer must get right: the oracle plays the solution, the shortcut jumps
# to the solved state without the process, the static one never moves. A scorer that ranks the shortcut level
# with the oracle cannot tell a model that solves the task from one that only shows the answer.
ORACLE, SHORTCUT, STATIC = "oracle-solution", "shortcut-cut", "static-first-frame"


def _beats(better: Row | None, worse: Row | None) -> bool | None:
    """Whether ``better`` is clearly above ``worse``: its whole confidence interval above the other's (a mean
    above by noise does not count). None when either has no value."""
    if better is None or worse is None or better["mean"] is None or worse["mean"] is None:
        return None
    low = better["ci_low"] if better["ci_low"] is not None else better["mean"]
    high = worse["ci_high"] if worse["ci_high"] is not None else worse["mean"]
    return bool(better["mean"] > worse["mean"] and low > high)


def baseline_checks(metrics: Metrics) -> dict[str, Row]:
    """Per scorer, on its headline dimension: does the oracle beat the static baseline, and the shortcut? (None:
    that baseline is not in the experiment.) ``warning`` says so when the scorer cannot tell them apart. Only
    scorers of an experiment that holds the oracle and at least one of the other two are checked."""
    if ORACLE not in metrics.models or not {SHORTCUT, STATIC} & set(metrics.models):
        return {}
    checks: dict[str, Row] = {}
    for scorer in metrics.scorers:
        rows = {m: metrics.headline(scorer, m) for m in (ORACLE, SHORTCUT, STATIC) if m in metrics.models}
        oracle = rows[ORACLE]
        beats_static = _beats(oracle, rows.get(STATIC))
        beats_shortcut = _beats(oracle, rows.get(SHORTCUT))
        failed = [m for m, beats in ((SHORTCUT, beats_shortcut), (STATIC, beats_static)) if beats is False]
        warning = None
        if failed:
            means = ", ".join(
                f"{m} {_text(row['mean'])} [{_text(row['ci_low'])}, {_text(row['ci_high'])}]"
                for m, row in rows.items()
                if row is not None
            )
            warning = (
                f"{scorer.name} cannot tell {' or '.join(failed)} from {ORACLE} on {scorer.headline} ({means}): "
                f"its ranking does not show whether a model solves the task"
            )
            if SHORTCUT in failed:
                warning += f" or only shows the solved state ({SHORTCUT} skips the process)"
        checks[scorer.name] = {
            "dimension": scorer.headline,
            "means": {m: None if row is None else row["mean"] for m, row in rows.items()},
            "oracle_beats_static": beats_static,
            "oracle_beats_shortcut": beats_shortcut,
            "warning": warning,
        }
    return checks


def _text(value: float | None) -> str:
    return "-" if value is None else f"{value:.3g}"


def natural_key(value: str) -> tuple[int, float, str]:
    """The sort key of a group: numbers by value (num_steps 6 before 10), then text by name."""
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


MAX_LISTED = 5  # flagged generations named in one warning (metrics.json lists them all)


def _listed(items: Sequence[str]) -> str:
    more = f" and {len(items) - MAX_LISTED} more" if len(items) > MAX_LISTED else ""
    return "; ".join(items[:MAX_LISTED]) + more


def _per_model(generations: Sequence[ReportGeneration]) -> str:
    counts: dict[str, int] = {}
    for g in generations:
        counts[g.model] = counts.get(g.model, 0) + 1
    return ", ".join(f"{model}: {n}" for model, n in sorted(counts.items()))


def find_flags(generations: Sequence[ReportGeneration], scorers: Sequence[ScorerInfo]) -> dict[str, list[Row]]:
    """What the report flags, for metrics.json: unfinished generations, unusable videos, values outside their
    declared range. Each entry names the generation by its folder in the experiment (``model/domain_task/id/run``)."""
    unfinished = [{"generation": g.label, "model": g.model} for g in generations if g.status == "unfinished"]
    unreadable: list[Row] = []
    out_of_range: list[Row] = []
    for g in generations:
        if g.status != "completed":
            continue
        if g.video_problem is not None:
            unreadable.append({"generation": g.label, "model": g.model, "scorer": None, "reason": g.video_problem})
            continue
        for scorer in scorers:
            record = g.scores.get(scorer.name)
            if record is None:
                continue
            if record.error is not None and record.error_kind in VIDEO_ERROR_KINDS:
                reason = f"{scorer.name} could not read the video ({record.error_kind})"
                unreadable.append({"generation": g.label, "model": g.model, "scorer": scorer.name, "reason": reason})
                continue
            if record.error is not None:
                continue
            for dimension in scorer.dimensions:
                value = record.dimensions.get(dimension)
                if value is not None and math.isfinite(value) and not scorer.in_range(dimension, value):
                    low, high = scorer.ranges[dimension]
                    out_of_range.append(
                        {
                            "generation": g.label,
                            "model": g.model,
                            "scorer": scorer.name,
                            "dimension": dimension,
                            "value": value,
                            "range": [low, high],
                        }
                    )
    return {"unfinished": unfinished, "unreadable_videos": unreadable, "out_of_range": out_of_range}


def _range_text(low: float | None, high: float | None) -> str:
    return f"[{'-inf' if low is None else f'{low:g}'}, {'inf' if high is None else f'{high:g}'}]"


def _warnings(generations: Sequence[ReportGeneration], scorers: Sequence[ScorerInfo]) -> list[str]:
    warnings: list[str] = []
    flags = find_flags(generations, scorers)
    unfinished = [g for g in generations if g.status == "unfinished"]
    if unfinished:
        warnings.append(
            f"{len(unfinished)} unfinished generation(s) never finished (status 'running': killed, or still in "
            f"progress) and count as failures ({_per_model(unfinished)}): {_listed([g.label for g in unfinished])}; "
            "finish them with examples/generate_videos.py, or wait for the run that is making them"
        )
    bad_videos = [g for g in generations if g.status == "completed" and g.video_problem is not None]
    if bad_videos:
        warnings.append(
            f"{len(bad_videos)} completed generation(s) have an unreadable video that cannot be used and count as "
            f"failures under every scorer ({_per_model(bad_videos)}): "
            f"{_listed([f'{g.label}: {g.video_problem}' for g in bad_videos])}"
        )
    for scorer in scorers:
        unreadable = [f for f in flags["unreadable_videos"] if f["scorer"] == scorer.name]
        if unreadable:
            warnings.append(
                f"{scorer.name}: {len(unreadable)} unreadable video(s) could not be read when scored and count as "
                f"failures: {_listed([f['generation'] for f in unreadable])}"
            )
        outside = [f for f in flags["out_of_range"] if f["scorer"] == scorer.name]
        if outside:
            shown = [
                f"{f['generation']} {f['dimension']} = {f['value']:g} (declared {_range_text(*f['range'])})"
                for f in outside
            ]
            warnings.append(
                f"{scorer.name}: {len(outside)} score(s) out of range (outside the scorer's declared range) are not "
                "averaged: they count as failures (a hand-edited or broken score file; score again to replace it): "
                f"{_listed(shown)}"
            )
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


def detail_columns(metrics: Metrics) -> list[str]:
    return ["grouping", *metrics.detail_fields, "scorer", "dimension", "model", *STAT_COLUMNS]


def generation_counts(generations: Sequence[ReportGeneration], models: Sequence[str]) -> dict[str, dict[str, int]]:
    counts = {model: {"completed": 0, "failed": 0, "unfinished": 0} for model in models}
    for g in generations:
        if g.model in counts:
            counts[g.model][g.status] += 1
    return counts


def write_tables(
    out_dir: Path, experiment: str, generations: Sequence[ReportGeneration], metrics: Metrics, config: ReportConfig
) -> list[Path]:
    """``metrics_summary.csv``, ``metrics_detail.csv`` and ``metrics.json`` into ``out_dir``: the paths written."""
    summary_csv, detail_csv, metrics_json = out_dir / SUMMARY_CSV, out_dir / DETAIL_CSV, out_dir / METRICS_JSON
    atomic_write_text(summary_csv, csv_text(metrics.summary, SUMMARY_COLUMNS))
    atomic_write_text(detail_csv, csv_text(metrics.detail, detail_columns(metrics)))
    payload = {
        "schema_version": REPORT_SCHEMA_VERSION,
        "experiment": experiment,
        "written_at": utc_now(),
        "config": config.model_dump(mode="json"),
        "scorers": {
            s.name: {
                "dimensions": s.dimensions,
                "pass_dimension": s.pass_dimension,
                "headline": s.headline,
                "unit_dimensions": s.unit_dimensions,
                "ranges": {d: list(r) for d, r in s.ranges.items()},
                "versions": s.versions,
            }
            for s in metrics.scorers
        },
        "generations": generation_counts(generations, metrics.models),
        "summary_columns": list(SUMMARY_COLUMNS),
        "detail_columns": detail_columns(metrics),
        "summary": metrics.summary,
        "detail": metrics.detail,
        "flags": find_flags(generations, metrics.scorers),
        "baseline_checks": metrics.baseline_checks,
        "warnings": metrics.warnings,
    }
    atomic_write_json(metrics_json, payload)
    return [summary_csv, detail_csv, metrics_json]

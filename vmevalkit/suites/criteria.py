"""From scored generations to a ranked leaderboard: criteria values, goal scores, the composite, ranks, bootstrap
intervals and the per-category breakdown (the rules are in docs/SUITES.md, "Criteria").

The maths, per model:

- a metric criterion's value aggregates the model's items (filtered by its domain or category): the mean of the
  values, or the share of items whose value is >= ``success_at``. A failed generation (no video) counts as 0 (a
  failure for ``success_rate``); an unscored item (value None or NaN, or no value) is left out; no item: None;
- an expression criterion's value is its expression over the other criteria's values (None when one is None or on
  a division by zero);
- its score in [0, 1]: ``max``: (v - lo) / (hi - lo); ``min``: (hi - v) / (hi - lo); ``target``: 1 within the
  tolerance, else 1 - (|v - target| - tolerance) / (hi - lo); clipped to [0, 1]; a None value scores 0;
- composite = sum(weight * score) / sum(weight) (0 when every weight is 0);
- the bootstrap resamples the model's tasks (every sample of a task together) and recomputes the composite.

Comparisons with a threshold, a tolerance or between composites allow 1e-12, so that 0.8 - 0.7 is within a
tolerance of 0.1 as it is by hand.

The bootstrap is vectorised per model (per-task sums and counts, gathered for all resamples at once) so that 10,000
generations x 1,000 resamples take well under a second.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from vmevalkit.suites.schema import Criterion, Suite

__all__ = ["EPS", "CategoryResult", "CriterionResult", "Item", "Leaderboard", "ModelResult", "evaluate"]

EPS = 1e-12
_BLOCK = 1 << 20  # tasks x resamples held at once by the bootstrap
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Item:
    """One generation of one model on one task (one sample) and its scores."""

    model: str
    task_id: str
    domain: str
    category: str | None
    seed: int
    failed: bool  # the generation failed (no video): every metric counts it as 0
    scores: Mapping[str, Mapping[str, float | None]]  # scorer -> dimension -> value; None or absent: unscored


@dataclass(frozen=True)
class CriterionResult:
    value: float | None
    score: float  # in [0, 1]; 0 for a None value
    passed: bool | None  # None: no threshold (max and min goals)
    weight: float
    n: int  # items counted (an expression: the fewest among the criteria it reads)


@dataclass(frozen=True)
class CategoryResult:
    composite: float | None  # over the criteria with a value here; None when none has one
    values: dict[str, float | None]


@dataclass(frozen=True)
class ModelResult:
    model: str
    rank: int
    composite: float
    ci: tuple[float, float] | None  # None: no task to resample
    criteria: dict[str, CriterionResult]
    categories: dict[str, CategoryResult] = field(default_factory=dict)


@dataclass(frozen=True)
class Leaderboard:
    criteria: list[str]  # in suite order
    models: list[ModelResult]  # ranked: best first, ties by model name
    confidence: float = 0.95

    def to_dict(self) -> dict[str, Any]:
        """The JSON-able form the result file and ``metrics.json`` are built from."""
        return {
            "models": [
                {
                    "model": m.model,
                    "rank": m.rank,
                    "composite": m.composite,
                    "ci": None if m.ci is None else [m.ci[0], m.ci[1]],
                    "criteria": {
                        name: {"value": r.value, "score": r.score, "passed": r.passed, "weight": r.weight, "n": r.n}
                        for name, r in m.criteria.items()
                    },
                    "categories": {
                        cat: {"composite": c.composite, "criteria": dict(c.values)} for cat, c in m.categories.items()
                    },
                }
                for m in self.models
            ],
            "criteria": list(self.criteria),
        }

    def table(self) -> str:
        """The ranked table as text (100 columns hold 3 criteria), then the per-category composites."""
        width = 24
        level = f"{round(self.confidence * 100):d}% CI"
        head = f"{'rank':>4}  {'model':<{width}} {'composite':>9}  {level:<15}" + "".join(
            f" {_cut(name, 12):>12}" for name in self.criteria
        )
        lines = [head, "-" * len(head)]
        for m in self.models:
            ci = "-" if m.ci is None else f"[{m.ci[0]:.3f}, {m.ci[1]:.3f}]"
            cells = "".join(f" {_cell(m.criteria[name]):>12}" for name in self.criteria)
            lines.append(f"{m.rank:>4}  {_cut(m.model, width):<{width}} {m.composite:>9.3f}  {ci:<15}{cells}")
        categories = sorted({cat for m in self.models for cat in m.categories})
        if categories:
            lines += ["", "composite per category:"]
            sub = f"{'':>4}  {'model':<{width}}" + "".join(f" {_cut(cat, 12):>12}" for cat in categories)
            lines += [sub, "-" * len(sub)]
            for m in self.models:
                cells = "".join(f" {_number(_composite_of(m, cat)):>12}" for cat in categories)
                lines.append(f"{'':>4}  {_cut(m.model, width):<{width}}{cells}")
        return "\n".join(lines)


def _composite_of(m: ModelResult, category: str) -> float | None:
    found = m.categories.get(category)
    return None if found is None else found.composite


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "~"


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _cell(r: CriterionResult) -> str:
    mark = {True: " pass", False: " FAIL", None: ""}[r.passed]
    return f"{_number(r.value)}{mark}"


# -- the maths ------------------------------------------------------------------------------------------------------


def _score(c: Criterion, values: FloatArray) -> FloatArray:
    """Each value's score in [0, 1] under ``c``'s goal and range; NaN (no value) scores 0."""
    lo, hi = c.range
    span = hi - lo
    if c.goal == "max":
        raw = (values - lo) / span
    elif c.goal == "min":
        raw = (hi - values) / span
    else:
        assert c.target is not None and c.tolerance is not None  # the schema's check
        off = np.abs(values - c.target)
        raw = np.where(off <= c.tolerance + EPS, 1.0, 1.0 - (off - c.tolerance) / span)
    out: FloatArray = np.where(np.isnan(values), 0.0, np.clip(raw, 0.0, 1.0))
    return out


def passed(c: Criterion, value: float | None) -> bool | None:
    """Pass/fail: ``max``: value >= threshold; ``min``: value <= threshold; ``target``: within the tolerance.
    None for max/min without a threshold; False for a None value otherwise."""
    if c.goal == "target":
        assert c.target is not None and c.tolerance is not None
        return value is not None and abs(value - c.target) <= c.tolerance + EPS
    if c.threshold is None:
        return None
    if value is None:
        return False
    return value >= c.threshold - EPS if c.goal == "max" else value <= c.threshold + EPS


def _composite(suite: Suite, scores: Mapping[str, FloatArray]) -> FloatArray:
    total = sum(c.weight for c in suite.criteria)
    if total <= 0:
        return np.zeros_like(next(iter(scores.values())))
    weighted: FloatArray = sum((c.weight * scores[c.name] for c in suite.criteria), np.zeros(1))
    return weighted / total


def _order(suite: Suite) -> list[Criterion]:
    """The criteria in an order where each expression comes after the criteria it reads (the schema refused cycles)."""
    done: dict[str, Criterion] = {}

    def visit(c: Criterion) -> None:
        if c.name in done:
            return
        for name in sorted(c.parsed.names) if c.parsed is not None else ():
            visit(suite.criterion(name))
        done[c.name] = c

    for c in suite.criteria:
        visit(c)
    return list(done.values())


@dataclass
class _Metric:
    """A metric criterion's per-task sums and counts for one model (and optionally one category)."""

    sums: FloatArray
    counts: FloatArray


@dataclass
class _Counted:
    """The items a metric criterion counts for one model: each one's task, contribution and category."""

    tasks: npt.NDArray[np.intp]
    values: FloatArray
    categories: npt.NDArray[np.intp]  # codes: the index in the suite's sorted categories, -1 for none
    filtered: bool  # the criterion has its own domain or category filter


def _counted(
    suite: Suite,
    c: Criterion,
    items: Sequence[Item],
    task_index: Mapping[tuple[str, str], int],
    codes: Mapping[str | None, int],
) -> _Counted:
    """One pass over the model's items: a failed item contributes 0, an unscored one (None, NaN, absent) nothing,
    a scored one its value (``success_rate``: 1 when it reaches ``success_at``, else 0)."""
    assert c.metric is not None
    split = suite.split_metric(c.metric)
    assert split is not None  # the schema's check
    scorer, dimension = split
    rate = c.aggregate == "success_rate"
    tasks: list[int] = []
    values: list[float] = []
    categories: list[int] = []
    for item in items:
        if (c.domain is not None and item.domain != c.domain) or (
            c.category is not None and item.category != c.category
        ):
            continue
        if item.failed:
            contribution = 0.0
        else:
            raw = item.scores.get(scorer, {}).get(dimension)
            if raw is None or raw != raw:  # unscored (None or NaN): left out
                continue
            value = float(raw)
            contribution = (1.0 if value >= c.success_at - EPS else 0.0) if rate else value
        tasks.append(task_index[(item.domain, item.task_id)])
        values.append(contribution)
        categories.append(codes.get(item.category, -1))
    filtered = c.domain is not None or c.category is not None
    return _Counted(
        np.asarray(tasks, dtype=np.intp),
        np.asarray(values, dtype=np.float64),
        np.asarray(categories, dtype=np.intp),
        filtered,
    )


def _per_task(counted: _Counted, n_tasks: int, category: int | None) -> _Metric:
    """Per task: the sum of the counted contributions and their number. ``category``: only that category's items;
    a criterion with its own filter then counts nothing (it has no value in a category breakdown)."""
    if category is None:
        keep = np.ones(len(counted.tasks), dtype=bool)
    elif counted.filtered:
        keep = np.zeros(len(counted.tasks), dtype=bool)
    else:
        keep = counted.categories == category
    tasks = counted.tasks[keep]
    return _Metric(
        np.bincount(tasks, weights=counted.values[keep], minlength=n_tasks).astype(np.float64),
        np.bincount(tasks, minlength=n_tasks).astype(np.float64),
    )


def _totals(metrics: Mapping[str, _Metric], weights: FloatArray | None) -> dict[str, tuple[FloatArray, FloatArray]]:
    """Each metric's (sum, count) over the tasks, per row of ``weights`` (how often each task is drawn) or, with
    None, each task once. One matrix product for all metrics: the bootstrap's only heavy step."""
    if weights is None:
        return {name: (np.atleast_1d(m.sums.sum()), np.atleast_1d(m.counts.sum())) for name, m in metrics.items()}
    names = list(metrics)
    if not names:
        return {}
    stacked = np.column_stack([metrics[n].sums for n in names] + [metrics[n].counts for n in names])
    product = weights @ stacked
    k = len(names)
    return {name: (product[:, i], product[:, k + i]) for i, name in enumerate(names)}


def _values(
    order: list[Criterion], totals: Mapping[str, tuple[FloatArray, FloatArray]], rows: int
) -> tuple[dict[str, FloatArray], dict[str, FloatArray]]:
    """Every criterion's values (NaN: None) and counted items, ``rows`` of them (1, or one per resample)."""
    values: dict[str, FloatArray] = {}
    ns: dict[str, FloatArray] = {}
    for c in order:
        if c.parsed is None:
            total, n = totals[c.name]
            with np.errstate(invalid="ignore", divide="ignore"):
                values[c.name] = np.where(n > 0, total / np.where(n > 0, n, 1.0), np.nan)
            ns[c.name] = n
        else:
            names = sorted(c.parsed.names)
            out = np.full(rows, np.nan)
            columns = [values[name].tolist() for name in names]
            for row in range(rows):
                got = c.parsed.evaluate({name: _none(col[row]) for name, col in zip(names, columns, strict=True)})
                if got is not None:
                    out[row] = got
            values[c.name] = out
            ns[c.name] = np.min([ns[name] for name in names], axis=0) if names else np.zeros(rows)
    return values, ns


def _none(value: float) -> float | None:
    return None if value != value else float(value)  # NaN: no value


def _model(
    suite: Suite, order: list[Criterion], model: str, items: Sequence[Item], categories: list[str]
) -> tuple[float, tuple[float, float] | None, dict[str, CriterionResult], dict[str, CategoryResult]]:
    tasks = sorted({(i.domain, i.task_id) for i in items})
    task_index = {t: k for k, t in enumerate(tasks)}
    metric_criteria = [c for c in order if c.parsed is None]
    codes: dict[str | None, int] = {cat: k for k, cat in enumerate(categories)}
    counted = {c.name: _counted(suite, c, items, task_index, codes) for c in metric_criteria}
    metrics = {name: _per_task(got, len(tasks), None) for name, got in counted.items()}

    values, ns = _values(order, _totals(metrics, None), 1)
    scores = {c.name: _score(c, values[c.name]) for c in suite.criteria}
    composite = float(_composite(suite, scores)[0])
    results = {
        c.name: CriterionResult(
            value=_none(values[c.name][0]),
            score=float(scores[c.name][0]),
            passed=passed(c, _none(values[c.name][0])),
            weight=c.weight,
            n=int(ns[c.name][0]),
        )
        for c in suite.criteria
    }

    ci: tuple[float, float] | None = None
    if tasks:
        b = suite.bootstrap
        rng = np.random.Generator(np.random.PCG64(b.seed))
        t = len(tasks)
        block = max(1, _BLOCK // t)  # resamples at a time: bounded memory for any number of tasks
        parts: list[FloatArray] = []
        for start in range(0, b.samples, block):
            rows = min(block, b.samples - start)
            draws = rng.integers(0, t, size=(rows, t))
            offsets = (np.arange(rows)[:, None] * t + draws).ravel()
            weights = np.bincount(offsets, minlength=rows * t).reshape(rows, t).astype(np.float64)
            boot_values, _ = _values(order, _totals(metrics, weights), rows)
            parts.append(_composite(suite, {c.name: _score(c, boot_values[c.name]) for c in suite.criteria}))
        boot = np.concatenate(parts)
        tail = (1.0 - b.confidence) / 2.0
        lo, hi = np.quantile(boot, [tail, 1.0 - tail])
        ci = (float(lo), float(hi))

    breakdown: dict[str, CategoryResult] = {}
    for code, cat in enumerate(categories):
        cat_metrics = {name: _per_task(got, len(tasks), code) for name, got in counted.items()}
        cat_values, _ = _values(order, _totals(cat_metrics, None), 1)
        have = [c for c in suite.criteria if not np.isnan(cat_values[c.name][0])]
        weight = sum(c.weight for c in have)
        cat_composite: float | None = None
        if have:
            cat_composite = (
                sum(c.weight * float(_score(c, cat_values[c.name])[0]) for c in have) / weight if weight > 0 else 0.0
            )
        breakdown[cat] = CategoryResult(cat_composite, {c.name: _none(cat_values[c.name][0]) for c in suite.criteria})
    return composite, ci, results, breakdown


def evaluate(suite: Suite, items: Sequence[Item]) -> Leaderboard:
    """The leaderboard of ``suite``'s models over ``items`` (items of models not in the suite are ignored; a model
    without items has no values, composite 0 and no interval)."""
    order = _order(suite)
    by_model: dict[str, list[Item]] = {m.name: [] for m in suite.models}
    for item in items:
        if item.model in by_model:
            by_model[item.model].append(item)
    categories = sorted({i.category for group in by_model.values() for i in group if i.category is not None})
    rows = [(name, *_model(suite, order, name, group, categories)) for name, group in by_model.items()]
    ranks = {name: 1 + sum(1 for other in rows if other[1] > composite + EPS) for name, composite, *_ in rows}
    rows.sort(key=lambda r: (ranks[r[0]], r[0]))
    ranked = [
        ModelResult(model=name, rank=ranks[name], composite=composite, ci=ci, criteria=results, categories=breakdown)
        for name, composite, ci, results, breakdown in rows
    ]
    return Leaderboard(criteria=[c.name for c in suite.criteria], models=ranked, confidence=suite.bootstrap.confidence)

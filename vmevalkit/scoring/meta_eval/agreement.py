"""How well the scorers agree with the human judgements: the scorers' score files, which scorer dimension
is compared with which human dimension (``--map``), and the statistics with their bootstrap CIs
(``evaluate``)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from vmevalkit.scoring.meta_eval.labels import GenerationInfo, HumanJudgements, HumanPair, MetaEvalError
from vmevalkit.scoring.metrics import Preference, kendall_tau_b, pairwise_accuracy, spearman

DEFAULT_CONFIDENCE, DEFAULT_RESAMPLES, DEFAULT_SEED = 0.95, 2000, 0

Row = dict[str, Any]


# -- score files ------------------------------------------------------------------------


ScoreValues = dict[str, dict[str, float | None]]  # generation key -> dimension -> value (None: not scored)


@dataclass
class ScorerScores:
    """One scorer's usable scores over the labelled generations, and the dimensions its score files declare."""

    name: str
    values: ScoreValues = field(default_factory=dict)
    dimensions: list[str] = field(default_factory=list)

    def value(self, key: str, dimension: str) -> float:
        found = self.values.get(key, {}).get(dimension)
        return math.nan if found is None else float(found)


def load_scores(scorers: Sequence[str], generations: Sequence[GenerationInfo]) -> dict[str, ScorerScores]:
    """Each scorer's score files for ``generations``; a MetaEvalError for a scorer with none at all."""
    from vmevalkit.scoring.runner import SCORES_DIR, read_score, score_path
    from vmevalkit.utils.imports import suggest

    loaded: dict[str, ScorerScores] = {}
    for name in scorers:
        scores = ScorerScores(name)
        dimensions: dict[str, None] = {}
        for info in generations:
            if info.run_dir is None:
                continue
            record = read_score(score_path(info.run_dir, name))
            if record is None:
                continue
            dimensions.update(dict.fromkeys(record.dimensions))
            if record.error is None:  # an error file: not scored, like a missing one
                scores.values[info.key] = dict(record.dimensions)
        if not dimensions:
            present = sorted(
                {p.stem for info in generations if info.run_dir for p in (info.run_dir / SCORES_DIR).glob("*.json")}
            )
            raise MetaEvalError(
                f"no score file of scorer '{name}' for the labelled generations{suggest(name, present)}; "
                f"score them first: python examples/score_videos.py --scorer {name} --experiment EXPERIMENT"
                + (f" (score files found: {', '.join(present)})" if present else "")
            )
        scores.dimensions = list(dimensions)
        loaded[name] = scores
    return loaded


# -- which scorer dimension is compared with which human dimension ----------------------


@dataclass(frozen=True)
class DimensionMap:
    """``--map HUMAN=[SCORER:]DIMENSION``: compare the human dimension with a scorer dimension."""

    human: str
    dimension: str
    scorer: str | None = None  # None: every scorer that has ``dimension``

    def __str__(self) -> str:
        target = f"{self.scorer}:{self.dimension}" if self.scorer else self.dimension
        return f"{self.human}={target}"


def parse_map(text: str) -> DimensionMap:
    human, sep, target = text.partition("=")
    scorer, colon, dimension = target.partition(":")
    if not colon:
        scorer, dimension = "", target
    human, scorer, dimension = human.strip(), scorer.strip(), dimension.strip()
    if not sep or not human or not dimension or (colon and not scorer):
        raise ValueError(
            f"expected HUMAN=DIMENSION or HUMAN=SCORER:DIMENSION (e.g. task_success=frame-match:final_ssim), "
            f"got {text!r}"
        )
    return DimensionMap(human, dimension, scorer or None)


@dataclass(frozen=True)
class Comparison:
    scorer: str
    dimension: str  # the scorer's
    human_dimension: str


def plan_comparisons(
    scorers: dict[str, ScorerScores], human_dimensions: Sequence[str], maps: Sequence[DimensionMap] = ()
) -> list[Comparison]:
    """Same-name comparisons plus the mapped ones; a MetaEvalError for a map or a scorer that compares nothing."""
    from vmevalkit.utils.imports import suggest

    for m in maps:
        if m.human not in human_dimensions:
            raise MetaEvalError(
                f"--map {m}: no label rates the dimension '{m.human}'{suggest(m.human, human_dimensions)}; "
                f"the labels rate: {', '.join(human_dimensions)}"
            )
        if m.scorer is not None:
            if m.scorer not in scorers:
                raise MetaEvalError(f"--map {m}: add {m.scorer} to --scorer to compare its dimension")
            if m.dimension not in scorers[m.scorer].dimensions:
                dims = scorers[m.scorer].dimensions
                raise MetaEvalError(
                    f"--map {m}: scorer '{m.scorer}' has no dimension '{m.dimension}'{suggest(m.dimension, dims)}; "
                    f"its dimensions: {', '.join(dims)}"
                )
        elif not any(m.dimension in s.dimensions for s in scorers.values()):
            every = list(dict.fromkeys(d for s in scorers.values() for d in s.dimensions))
            raise MetaEvalError(
                f"--map {m}: no scorer has the dimension '{m.dimension}'{suggest(m.dimension, every)}; "
                f"their dimensions: {', '.join(every)}"
            )

    comparisons: list[Comparison] = []
    for name, scores in scorers.items():
        mine: dict[Comparison, None] = {}
        for dimension in scores.dimensions:  # in the scorer's own order
            for human in human_dimensions:
                same_name = dimension == human
                mapped = any(m.human == human and m.dimension == dimension and m.scorer in (None, name) for m in maps)
                if same_name or mapped:
                    mine.setdefault(Comparison(name, dimension, human))
        if not mine:
            first = human_dimensions[0]
            raise MetaEvalError(
                f"scorer '{name}' has no dimension the labels rate ({', '.join(human_dimensions)}); "
                f"its dimensions: {', '.join(scores.dimensions)}; compare one with "
                f"--map {first}={name}:{scores.dimensions[0]}"
            )
        comparisons.extend(mine)
    return comparisons


# -- statistics -------------------------------------------------------------------------


@dataclass(frozen=True)
class BootstrapSettings:
    confidence: float = DEFAULT_CONFIDENCE
    resamples: int = DEFAULT_RESAMPLES
    seed: int = DEFAULT_SEED


def bootstrap_paired_ci(
    x: np.ndarray,
    y: np.ndarray,
    statistic: Callable[[np.ndarray, np.ndarray], float],
    settings: BootstrapSettings,
) -> tuple[float, float]:
    """Percentile bootstrap of a paired statistic, resampling the items (the (x, y) pairs) with replacement.

    A resample where the statistic is undefined (NaN: one side constant, as often happens with a few binary
    ratings) is dropped; the interval is (nan, nan) when more than half are, since what remains would then
    describe a few lucky resamples rather than the data.
    """
    if x.size < 2:
        return math.nan, math.nan
    rng = np.random.default_rng(settings.seed)
    picks = rng.integers(0, x.size, size=(settings.resamples, x.size))
    stats = np.array([statistic(x[row], y[row]) for row in picks])
    stats = stats[~np.isnan(stats)]
    if stats.size * 2 < settings.resamples:
        return math.nan, math.nan
    tail = (1.0 - settings.confidence) / 2.0 * 100.0
    low, high = np.percentile(stats, [tail, 100.0 - tail])
    return float(low), float(high)


def _mean_ci(credits: np.ndarray, settings: BootstrapSettings) -> tuple[float, float]:
    from vmevalkit.scoring.metrics import bootstrap_ci

    return bootstrap_ci(credits, confidence=settings.confidence, resamples=settings.resamples, seed=settings.seed)


ScoredPair = tuple[float, float, Preference, str]  # score of a, score of b, human preference, source
ACCURACY_COLUMNS: tuple[tuple[str, Literal["exclude", "half"]], ...] = (
    ("pairwise_accuracy", "exclude"),
    ("pairwise_accuracy_ties_half", "half"),
)


def agreement_stats(
    human: Sequence[float], machine: Sequence[float], pairs: Sequence[ScoredPair], settings: BootstrapSettings
) -> Row:
    """The statistics of one comparison on one group of items.

    ``human``/``machine``: the mean rating and the score of each rated generation (NaN score: unscored).
    ``pairs``: (score of a, score of b, human preference, source) per pair (NaN score: left out).
    """
    x, y = np.asarray(human, dtype=np.float64), np.asarray(machine, dtype=np.float64)
    scored = ~np.isnan(y)
    row: Row = {"n": int(scored.sum()), "n_unscored": int((~scored).sum())}
    x, y = x[scored], y[scored]
    for column, statistic in (("spearman", spearman), ("kendall_tau_b", kendall_tau_b)):
        value = statistic(x, y)
        low, high = (math.nan, math.nan) if math.isnan(value) else bootstrap_paired_ci(x, y, statistic, settings)
        row.update({column: value, f"{column}_ci_low": low, f"{column}_ci_high": high})

    usable = [p for p in pairs if not (math.isnan(p[0]) or math.isnan(p[1]))]
    row.update(
        n_pairs=len(usable),
        n_pairs_labelled=sum(p[3] == "labelled" for p in usable),
        n_pairs_from_ratings=sum(p[3] == "ratings" for p in usable),
        n_pairs_human_tie=sum(p[2] == "tie" for p in usable),
    )
    score_a = np.array([p[0] for p in usable], dtype=np.float64)
    score_b = np.array([p[1] for p in usable], dtype=np.float64)
    preferences = [p[2] for p in usable]
    for column, ties in ACCURACY_COLUMNS:
        value = pairwise_accuracy(score_a, score_b, preferences, ties=ties)
        # Accuracy is the mean of per-pair credits (NaN for a pair left out), so the bootstrap resamples those.
        credits = [pairwise_accuracy([p[0]], [p[1]], [p[2]], ties=ties) for p in usable]
        low, high = (math.nan, math.nan) if math.isnan(value) else _mean_ci(np.array(credits), settings)
        row.update({column: value, f"{column}_ci_low": low, f"{column}_ci_high": high})
    return row


def _group_stats(
    items: Sequence[tuple[str, float, float]],
    pairs: Sequence[tuple[HumanPair, float, float]],
    generations: dict[str, GenerationInfo],
    domain: str | None,
    settings: BootstrapSettings,
) -> Row:
    """``agreement_stats`` over the items and pairs of one domain (None: all of them)."""
    chosen = [(h, m) for g, h, m in items if domain is None or generations[g].domain == domain]
    chosen_pairs = [(a, b, p.preference, p.source) for p, a, b in pairs if domain is None or p.domain == domain]
    return agreement_stats([h for h, _ in chosen], [m for _, m in chosen], chosen_pairs, settings)


def evaluate(
    comparisons: Sequence[Comparison],
    human: HumanJudgements,
    scorers: dict[str, ScorerScores],
    generations: dict[str, GenerationInfo],
    settings: BootstrapSettings | None = None,
) -> tuple[list[Row], list[Row]]:
    """Summary rows (one per comparison) and detail rows (one per comparison and domain).

    A pair whose generations are of different domains counts in the summary only.
    """
    settings = settings or BootstrapSettings()
    summary: list[Row] = []
    detail: list[Row] = []
    for comparison in comparisons:
        scores = scorers[comparison.scorer]
        key: Row = {
            "scorer": comparison.scorer,
            "dimension": comparison.dimension,
            "human_dimension": comparison.human_dimension,
        }
        ratings = human.ratings.get(comparison.human_dimension, {})
        items = [(g, rating, scores.value(g, comparison.dimension)) for g, rating in ratings.items()]
        pairs = [
            (p, scores.value(p.a, comparison.dimension), scores.value(p.b, comparison.dimension))
            for p in human.pairs.get(comparison.human_dimension, [])
        ]
        summary.append({**key, **_group_stats(items, pairs, generations, None, settings)})
        domains = {generations[g].domain for g, _, _ in items} | {p.domain for p, _, _ in pairs if p.domain}
        for domain in sorted(domains):
            detail.append({**key, "domain": domain, **_group_stats(items, pairs, generations, domain, settings)})
    return summary, detail

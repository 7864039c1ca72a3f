"""How well people agree with each other: inter-annotator agreement, and the human ceiling for the scorers.

Two numbers per human dimension, from the same labels ``evaluate`` reads:

- **Agreement beyond chance** (``inter_annotator``): Cohen's kappa when exactly two raters labelled the
  dimension, Krippendorff's alpha when more did (it also takes items that only some raters labelled). Pairs are
  nominal (A, B, tie of the pair's sorted generations); ratings are nominal when they take at most two values
  (pass/fail), else interval (a 1-5 scale: the squared difference, the quadratically weighted kappa for two).
  Its interval resamples the items.
- **The ceiling** (``ceiling``): each rater in turn is treated as a scorer and compared, with the very
  statistics a scorer gets (``agreement_stats``: Spearman, Kendall, pairwise accuracy), with the mean of the
  *other* raters on the items they share; every rater's points are pooled into one row. A scorer whose
  agreement with people reaches this line agrees with them as well as they agree with each other. The
  scorer is compared with the mean of all raters, which is a little less noisy than the mean of the others, so
  the line is conservative (a scorer can sit slightly above it).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from vmevalkit.scoring.meta_eval.agreement import BootstrapSettings, Row, ScoredPair, agreement_stats
from vmevalkit.scoring.meta_eval.labels import GenerationInfo, NumberedLabel, RatingLabel, aggregate_labels
from vmevalkit.scoring.metrics import Level, cohen_kappa, krippendorff_alpha, observed_agreement

# A pair's vote for its first (sorted) generation: categories on a nominal scale.
_PAIR_VOTE = {"A": 1.0, "tie": 0.5, "B": 0.0}


@dataclass
class Units:
    """One human dimension and kind of label: item -> rater -> value (a rater's latest line wins)."""

    dimension: str
    kind: str  # "rating" or "pair"
    values: dict[str, dict[str, float]]

    @property
    def raters(self) -> list[str]:
        return sorted({rater for votes in self.values.values() for rater in votes})

    @property
    def level(self) -> Level:
        if self.kind == "pair":
            return "nominal"
        distinct = {v for votes in self.values.values() for v in votes.values()}
        return "nominal" if len(distinct) <= 2 else "interval"


def collect_units(labels: Sequence[NumberedLabel], generations: dict[str, GenerationInfo]) -> list[Units]:
    """Every (dimension, kind) with its items' values per rater; labels naming unknown generations are left out."""
    found: dict[tuple[str, str], dict[str, dict[str, float]]] = {}
    for numbered in labels:
        label = numbered.label
        if isinstance(label, RatingLabel):
            if label.generation not in generations:
                continue
            kind, item, value = "rating", label.generation, float(label.value)
        else:
            if label.a not in generations or label.b not in generations:
                continue
            first, second = sorted((label.a, label.b))
            vote = _PAIR_VOTE[label.preference]
            kind, item, value = "pair", f"{first} | {second}", vote if label.a == first else 1.0 - vote
        found.setdefault((label.dimension, kind), {}).setdefault(item, {})[label.rater] = value
    return [Units(dim, kind, values) for (dim, kind), values in sorted(found.items())]


def _statistic(units: Units, items: Sequence[str]) -> float:
    raters = units.raters
    if len(raters) == 2:
        first, second = raters
        x = [units.values[i].get(first, math.nan) for i in items]
        y = [units.values[i].get(second, math.nan) for i in items]
        return cohen_kappa(x, y, units.level)
    return krippendorff_alpha([list(units.values[i].values()) for i in items], units.level)


def inter_annotator(units_list: Sequence[Units], settings: BootstrapSettings) -> list[Row]:
    """One row per dimension and kind that two or more raters labelled: kappa or alpha with a bootstrap CI."""
    rows: list[Row] = []
    for units in units_list:
        raters = units.raters
        if len(raters) < 2:
            continue
        shared = sorted(item for item, votes in units.values.items() if len(votes) >= 2)
        value = _statistic(units, shared)
        low, high = math.nan, math.nan
        if not math.isnan(value) and len(shared) >= 2:
            rng = np.random.default_rng(settings.seed)
            picks = rng.integers(0, len(shared), size=(settings.resamples, len(shared)))
            stats = np.array([_statistic(units, [shared[k] for k in row]) for row in picks])
            stats = stats[~np.isnan(stats)]
            if stats.size * 2 >= settings.resamples:  # as bootstrap_paired_ci: not from a few lucky resamples
                tail = (1.0 - settings.confidence) / 2.0 * 100.0
                low, high = (float(v) for v in np.percentile(stats, [tail, 100.0 - tail]))
        rows.append(
            {
                "human_dimension": units.dimension,
                "kind": units.kind,
                "raters": len(raters),
                "items": len(shared),
                "statistic": "cohen_kappa" if len(raters) == 2 else "krippendorff_alpha",
                "level": units.level,
                "value": value,
                "ci_low": low,
                "ci_high": high,
                "observed_agreement": observed_agreement([list(units.values[i].values()) for i in shared]),
            }
        )
    return rows


def ceiling(
    labels: Sequence[NumberedLabel],
    generations: dict[str, GenerationInfo],
    dimensions: Sequence[str],
    settings: BootstrapSettings,
) -> dict[str, Row]:
    """Per human dimension with two or more raters: ``agreement_stats`` of each rater against the others, pooled."""
    known = [n for n in labels if _names_known(n, generations)]
    raters = sorted({n.label.rater for n in known})
    rows: dict[str, Row] = {}
    if len(raters) < 2:
        return rows
    pooled: dict[str, tuple[list[float], list[float], list[ScoredPair]]] = {d: ([], [], []) for d in dimensions}
    for rater in raters:
        own = aggregate_labels([n for n in known if n.label.rater == rater], generations)
        others = aggregate_labels([n for n in known if n.label.rater != rater], generations)
        for dimension in dimensions:
            human, machine, pairs = pooled[dimension]
            mine = own.ratings.get(dimension, {})
            for key, mean in others.ratings.get(dimension, {}).items():
                if key in mine:
                    human.append(mean)
                    machine.append(mine[key])
            my_pairs = {(p.a, p.b): p.preference for p in own.pairs.get(dimension, [])}
            for pair in others.pairs.get(dimension, []):
                choice = my_pairs.get((pair.a, pair.b))
                if choice is not None:  # the rater's preference as scores of a and b
                    score_a, score_b = {"A": (1.0, 0.0), "B": (0.0, 1.0), "tie": (0.5, 0.5)}[choice]
                    pairs.append((score_a, score_b, pair.preference, pair.source))
    for dimension, (human, machine, pairs) in pooled.items():
        if human or pairs:
            rows[dimension] = agreement_stats(human, machine, pairs, settings)
    return rows


def _names_known(numbered: NumberedLabel, generations: dict[str, GenerationInfo]) -> bool:
    label = numbered.label
    named = [label.generation] if isinstance(label, RatingLabel) else [label.a, label.b]
    return all(g in generations for g in named)

"""Statistics for leaderboards and for judging scorers: bootstrap CIs, rank correlations, pairwise accuracy.

numpy only, written out so each number can be checked by hand:

- ``bootstrap_ci``: percentile bootstrap of any statistic (default the mean), seeded, NaNs dropped.
- ``spearman``: Pearson correlation of average ranks (ties share their mean rank).
- ``kendall_tau_b``: Kendall's tau-b, which corrects for ties on either side.
- ``pairwise_accuracy``: how often a scorer prefers the video people preferred, with human ties either
  excluded or counted for half credit (see its docstring for the exact rule).
- ``cohen_kappa``, ``krippendorff_alpha``: agreement between people beyond chance (two raters; any number of
  raters with missing values), on a nominal or an interval scale.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Literal

import numpy as np

Preference = Literal["A", "B", "tie"]


def _clean(values: Sequence[float] | np.ndarray) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64).ravel()
    return arr[~np.isnan(arr)]


def bootstrap_ci(
    values: Sequence[float] | np.ndarray,
    statistic: Callable[[np.ndarray], float] = np.mean,
    *,
    confidence: float = 0.95,
    resamples: int = 2000,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap interval of ``statistic``; (nan, nan) without data, (v, v) for one value."""
    data = _clean(values)
    if data.size == 0:
        return math.nan, math.nan
    if data.size == 1:
        return float(data[0]), float(data[0])
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, data.size, size=(resamples, data.size))
    stats = np.array([statistic(data[row]) for row in picks])
    tail = (1.0 - confidence) / 2.0 * 100.0
    low, high = np.percentile(stats, [tail, 100.0 - tail])
    return float(low), float(high)


def rankdata(values: Sequence[float] | np.ndarray) -> np.ndarray:
    """1-based ranks; tied values share the mean of the ranks they span."""
    arr = np.asarray(values, dtype=np.float64)
    order = np.argsort(arr, kind="mergesort")
    ranks = np.empty(arr.size, dtype=np.float64)
    sorted_values = arr[order]
    start = 0
    while start < arr.size:
        end = start
        while end + 1 < arr.size and sorted_values[end + 1] == sorted_values[start]:
            end += 1
        ranks[order[start : end + 1]] = (start + end) / 2.0 + 1.0
        start = end + 1
    return ranks


def _paired(x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(x, dtype=np.float64).ravel(), np.asarray(y, dtype=np.float64).ravel()
    if a.size != b.size:
        raise ValueError(f"paired data of different lengths: {a.size} and {b.size}")
    keep = ~(np.isnan(a) | np.isnan(b))
    return a[keep], b[keep]


def spearman(x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray) -> float:
    """Spearman's rho; nan when fewer than 2 pairs or either side is constant."""
    a, b = _paired(x, y)
    if a.size < 2:
        return math.nan
    ra, rb = rankdata(a) - (a.size + 1) / 2.0, rankdata(b) - (b.size + 1) / 2.0
    denominator = math.sqrt(float(ra @ ra) * float(rb @ rb))
    return float(ra @ rb) / denominator if denominator else math.nan


def kendall_tau_b(x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray) -> float:
    """Kendall's tau-b: (concordant - discordant) / sqrt((pairs - x ties) * (pairs - y ties))."""
    a, b = _paired(x, y)
    if a.size < 2:
        return math.nan
    i, j = np.triu_indices(a.size, k=1)
    da, db = np.sign(a[i] - a[j]), np.sign(b[i] - b[j])
    pairs = i.size
    ties_a, ties_b = int(np.sum(da == 0)), int(np.sum(db == 0))
    denominator = math.sqrt((pairs - ties_a) * (pairs - ties_b))
    return float(np.sum(da * db)) / denominator if denominator else math.nan


def preference(score_a: float, score_b: float) -> Preference:
    """Which of two videos a scorer prefers (higher is better)."""
    if score_a > score_b:
        return "A"
    return "B" if score_b > score_a else "tie"


def pairwise_accuracy(
    scores_a: Sequence[float] | np.ndarray,
    scores_b: Sequence[float] | np.ndarray,
    human: Sequence[Preference],
    ties: Literal["exclude", "half"] = "exclude",
) -> float:
    """Agreement of a scorer's preferences with people's.

    ``exclude``: pairs people called a tie are left out; on the rest, the scorer is right when it
    prefers the same video, and a scorer tie counts as wrong.
    ``half``: every pair counts; the same answer (a tie included) scores 1, a tie on exactly one
    side 0.5, opposite preferences 0.
    Pairs where the scorer has no score (NaN) are left out. nan when no pair is left.
    """
    a, b = np.asarray(scores_a, dtype=np.float64), np.asarray(scores_b, dtype=np.float64)
    if not a.size == b.size == len(human):
        raise ValueError(f"pairwise data of different lengths: {a.size}, {b.size} and {len(human)}")
    credit: list[float] = []
    for sa, sb, person in zip(a, b, human, strict=True):
        if person not in ("A", "B", "tie"):
            raise ValueError(f"a human preference is 'A', 'B' or 'tie', not {person!r}")
        if math.isnan(sa) or math.isnan(sb):
            continue
        machine = preference(float(sa), float(sb))
        if ties == "exclude":
            if person != "tie":
                credit.append(1.0 if machine == person else 0.0)
        elif machine == person:
            credit.append(1.0)
        else:
            credit.append(0.5 if "tie" in (machine, person) else 0.0)
    return float(np.mean(credit)) if credit else math.nan


# -- agreement between raters -------------------------------------------------------------------------------------

Level = Literal["nominal", "interval"]


def _disagreement(a: np.ndarray, b: np.ndarray, level: Level) -> np.ndarray:
    """delta(a, b) for every a against every b (broadcast): unequal for nominal, the squared difference for interval."""
    if level == "nominal":
        return np.asarray(a != b, dtype=np.float64)
    if level == "interval":
        return np.asarray(np.square(a - b), dtype=np.float64)
    raise ValueError(f"level must be 'nominal' or 'interval', not {level!r}")


def cohen_kappa(x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray, level: Level = "nominal") -> float:
    """Cohen's kappa of two raters over the items both rated: 1 - observed / chance disagreement.

    Chance disagreement pairs every value of one rater with every value of the other (their marginals).
    ``nominal``: any two different values disagree fully (Cohen 1960). ``interval``: the squared difference,
    which is the quadratically weighted kappa (Cohen 1968) on equally spaced values such as a 1-5 scale.
    nan when fewer than 2 items or no disagreement is possible by chance (both raters always gave one value).
    """
    a, b = _paired(x, y)
    if a.size < 2:
        return math.nan
    observed = float(np.mean(_disagreement(a, b, level)))
    expected = float(np.mean(_disagreement(a[:, None], b[None, :], level)))
    return 1.0 - observed / expected if expected > 0 else math.nan


def krippendorff_alpha(units: Sequence[Sequence[float]], level: Level = "nominal") -> float:
    """Krippendorff's alpha over units, each the values its raters gave (any number; missing ones left out).

    alpha = 1 - D_o / D_e (Krippendorff 2011, "Computing Krippendorff's Alpha-Reliability"): D_o averages the
    disagreement between values within a unit, each unit's m_u values weighted 1 / (m_u - 1); D_e between any
    two of all the pairable values. Units with fewer than 2 values are not pairable and left out.
    nan when fewer than 2 units are pairable or every pairable value is the same.
    """
    pairable = [np.asarray(u, dtype=np.float64) for u in units]
    pairable = [u[~np.isnan(u)] for u in pairable]
    pairable = [u for u in pairable if u.size >= 2]
    if len(pairable) < 2:
        return math.nan
    values = np.concatenate(pairable)
    n = values.size
    within = sum(float(np.sum(_disagreement(u[:, None], u[None, :], level))) / (u.size - 1) for u in pairable)
    observed = within / n
    expected = float(np.sum(_disagreement(values[:, None], values[None, :], level))) / (n * (n - 1))
    return 1.0 - observed / expected if expected > 0 else math.nan


def observed_agreement(units: Sequence[Sequence[float]]) -> float:
    """The share of pairs of values within a unit that are equal (raw agreement, chance not removed)."""
    equal = total = 0
    for unit in units:
        u = _clean(unit)
        for i in range(u.size):
            for j in range(i + 1, u.size):
                equal += int(u[i] == u[j])
                total += 1
    return equal / total if total else math.nan

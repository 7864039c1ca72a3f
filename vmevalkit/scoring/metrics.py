"""Statistics for leaderboards and for judging scorers: bootstrap CIs, rank correlations, pairwise accuracy.

numpy only, written out so each number can be checked by hand:

- ``bootstrap_ci``: percentile bootstrap of any statistic (default the mean), seeded, NaNs dropped.
- ``spearman``: Pearson correlation of average ranks (ties share their mean rank).
- ``kendall_tau_b``: Kendall's tau-b, which corrects for ties on either side.
- ``pairwise_accuracy``: how often a scorer prefers the video people preferred, with human ties either
  excluded or counted for half credit (see its docstring for the exact rule).
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

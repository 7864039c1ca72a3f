"""The statistics behind leaderboards and scorer meta-evaluation, on cases worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from vmevalkit.scoring.metrics import bootstrap_ci, kendall_tau_b, pairwise_accuracy, rankdata, spearman


def test_rankdata_gives_ties_their_mean_rank() -> None:
    # sorted: 10 (1), 20 20 (ranks 2 and 3 -> 2.5 each), 30 (4)
    assert rankdata([20, 10, 30, 20]).tolist() == [2.5, 1.0, 4.0, 2.5]


def test_spearman_by_hand() -> None:
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    # ranks x = 1 2 3 4 5, y = 2 1 4 3 5: d = -1 1 -1 1 0, sum d^2 = 4, rho = 1 - 6*4/(5*24) = 0.8
    assert spearman([1, 2, 3, 4, 5], [2, 1, 4, 3, 5]) == pytest.approx(0.8)
    assert math.isnan(spearman([1, 2, 3], [5, 5, 5]))  # a constant side has no ranking
    assert spearman([1, 2, float("nan"), 3], [1, 2, 0, 3]) == pytest.approx(1.0)  # NaN pairs dropped


def test_kendall_tau_b_by_hand() -> None:
    # x = 1..4, y = 1 3 2 4: of the 6 pairs only (2,3) is discordant -> (5 - 1) / 6
    assert kendall_tau_b([1, 2, 3, 4], [1, 3, 2, 4]) == pytest.approx(4 / 6)
    # a tie in y: x = 1 2 3, y = 1 1 2; pairs: (1,2) tie in y, (1,3) C, (2,3) C
    # tau-b = (2 - 0) / sqrt((3 - 0) * (3 - 1)) = 2 / sqrt(6)
    assert kendall_tau_b([1, 2, 3], [1, 1, 2]) == pytest.approx(2 / math.sqrt(6))
    assert kendall_tau_b([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)


def test_pairwise_accuracy_with_ties_excluded_and_as_half_credit() -> None:
    a = [0.9, 0.2, 0.5, 0.5, 0.7]
    b = [0.1, 0.8, 0.5, 0.4, 0.3]
    # scorer:  A    B    tie  A    A
    human = ["A", "A", "A", "tie", "A"]
    # exclude: pairs 1, 2, 3, 5 count; right on 1 and 5, wrong on 2, scorer tie on 3 is wrong -> 2/4
    assert pairwise_accuracy(a, b, human, ties="exclude") == pytest.approx(0.5)
    # half: 1 + 0 + 0.5 (scorer tie) + 0.5 (human tie) + 1 over 5 pairs
    assert pairwise_accuracy(a, b, human, ties="half") == pytest.approx(3.0 / 5)
    assert math.isnan(pairwise_accuracy([0.1], [0.2], ["tie"], ties="exclude"))
    with pytest.raises(ValueError, match="'A', 'B' or 'tie'"):
        pairwise_accuracy([1], [0], ["left"])


def test_bootstrap_ci_brackets_the_mean_and_is_reproducible() -> None:
    values = np.r_[np.zeros(30), np.ones(70)]  # a 70% success rate over 100 videos
    low, high = bootstrap_ci(values)
    assert low < 0.7 < high and 0.55 < low and high < 0.85  # about +-9 points at n = 100
    assert bootstrap_ci(values) == (low, high)  # seeded
    assert bootstrap_ci([0.4]) == (0.4, 0.4)
    assert all(math.isnan(v) for v in bootstrap_ci([float("nan")]))

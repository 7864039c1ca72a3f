"""Agreement between people: Cohen's kappa, Krippendorff's alpha, their intervals, and the human ceiling."""

from __future__ import annotations

import math

import pytest

from vmevalkit.scoring.meta_eval.agreement import BootstrapSettings
from vmevalkit.scoring.meta_eval.labels import GenerationInfo, NumberedLabel, PairLabel, RatingLabel
from vmevalkit.scoring.meta_eval.raters import ceiling, collect_units, inter_annotator
from vmevalkit.scoring.metrics import cohen_kappa, krippendorff_alpha, observed_agreement

NAN = math.nan
SETTINGS = BootstrapSettings(resamples=400)


def test_cohen_kappa_on_the_textbook_example_and_by_hand() -> None:
    # 50 items: both yes 20, yes/no 5, no/yes 10, both no 15: po = 0.7, pe = 0.5 * 0.6 + 0.5 * 0.4 = 0.5
    x = [1] * 25 + [0] * 25
    y = [1] * 20 + [0] * 5 + [1] * 10 + [0] * 15
    assert cohen_kappa(x, y) == pytest.approx(0.4)
    # interval (quadratic weights): observed (0 + 1 + 0) / 3; chance: every x against every y, (8 + 3 + 4) / 9
    assert cohen_kappa([1, 2, 3], [1, 3, 3], "interval") == pytest.approx(1 - (1 / 3) / (15 / 9))
    # on two values the interval form is the nominal one
    assert cohen_kappa(x, y, "interval") == pytest.approx(0.4)
    assert cohen_kappa([1, 0, 1], [1, 0, 1]) == 1.0
    assert math.isnan(cohen_kappa([1, 1, 1], [1, 1, 1])), "no disagreement possible by chance: undefined"
    assert math.isnan(cohen_kappa([1], [0]))
    assert cohen_kappa([1, 0, NAN, 1], [1, 0, 0, NAN]) == 1.0, "items only one rater labelled are left out"


def test_krippendorff_alpha_on_the_published_example() -> None:
    # Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", section C: 4 observers, 12 units
    observers = [
        [1, 2, 3, 3, 2, 1, 4, 1, 2, NAN, NAN, NAN],
        [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, NAN, 3],
        [NAN, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, NAN],
        [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, NAN],
    ]
    units = [[observer[u] for observer in observers] for u in range(12)]
    assert krippendorff_alpha(units, "nominal") == pytest.approx(0.743, abs=5e-4)
    assert krippendorff_alpha(units, "interval") == pytest.approx(0.849, abs=5e-4)
    assert krippendorff_alpha([[1, 1], [2, 2], [3, 3]], "interval") == 1.0
    assert math.isnan(krippendorff_alpha([[1, 1], [1, 1]])), "one value everywhere: undefined"
    assert math.isnan(krippendorff_alpha([[1, 2], [3]])), "one pairable unit"
    assert observed_agreement([[1, 1, 2], [3, 3]]) == pytest.approx(2 / 4)


def infos(*keys: str) -> dict[str, GenerationInfo]:
    return {k: GenerationInfo(k, k.split("/")[0], k.split("/")[1].removesuffix("_task"), k.split("/")[2]) for k in keys}


KEYS = [f"m{m}/maze_task/maze_000{t}/s1-x" for t in range(1, 5) for m in (1, 2)]


def ratings(rater: str, values: list[float], dimension: str = "task_success") -> list[NumberedLabel]:
    return [
        NumberedLabel(
            i, RatingLabel(type="rating", generation=k, dimension=dimension, value=v, rater=rater), f"{rater}.jsonl"
        )
        for i, (k, v) in enumerate(zip(KEYS, values, strict=True), start=1)
    ]


def test_two_raters_give_kappa_more_give_alpha_with_intervals() -> None:
    generations = infos(*KEYS)
    alice = ratings("alice", [1, 0, 1, 0, 1, 1, 0, 0])
    bob = ratings("bob", [1, 0, 1, 1, 1, 0, 0, 0])
    (row,) = inter_annotator(collect_units(alice + bob, generations), SETTINGS)
    assert (row["statistic"], row["level"], row["raters"], row["items"]) == ("cohen_kappa", "nominal", 2, 8)
    assert row["value"] == pytest.approx(cohen_kappa([1, 0, 1, 0, 1, 1, 0, 0], [1, 0, 1, 1, 1, 0, 0, 0]))
    assert row["ci_low"] <= row["value"] <= row["ci_high"] and row["ci_low"] < row["ci_high"]
    assert row["observed_agreement"] == pytest.approx(6 / 8)

    carol = ratings("carol", [1, 0, 1, 0, 1, 1, 0, 1])
    (three,) = inter_annotator(collect_units(alice + bob + carol, generations), SETTINGS)
    assert (three["statistic"], three["raters"]) == ("krippendorff_alpha", 3)
    units = [[a.label.value, b.label.value, c.label.value] for a, b, c in zip(alice, bob, carol, strict=True)]
    assert three["value"] == pytest.approx(krippendorff_alpha(units))

    scale = ratings("alice", [5, 1, 4, 2, 5, 3, 1, 2], "process") + ratings("bob", [4, 1, 5, 2, 5, 2, 1, 1], "process")
    (process,) = inter_annotator(collect_units(scale, generations), SETTINGS)
    assert process["level"] == "interval", "a 1-5 scale: the quadratically weighted kappa"
    assert inter_annotator(collect_units(alice, generations), SETTINGS) == [], "one rater: nothing to compare"


def test_pair_votes_agree_whichever_way_round_a_rater_names_the_pair() -> None:
    generations = infos(*KEYS)
    labels = []
    for number, (a, b) in enumerate(zip(KEYS[::2], KEYS[1::2], strict=True), start=1):
        preference = "A" if number % 2 else "tie"
        labels.append(
            NumberedLabel(number, PairLabel(type="pair", a=a, b=b, dimension="d", preference=preference, rater="alice"))
        )
        flipped = {"A": "B", "B": "A", "tie": "tie"}[preference]
        labels.append(
            NumberedLabel(number, PairLabel(type="pair", a=b, b=a, dimension="d", preference=flipped, rater="bob"))
        )
    (row,) = inter_annotator(collect_units(labels, generations), SETTINGS)
    assert (row["kind"], row["level"], row["value"], row["observed_agreement"]) == ("pair", "nominal", 1.0, 1.0)


def test_the_ceiling_compares_each_rater_with_the_others_in_the_scorers_statistics() -> None:
    generations = infos(*KEYS)
    values = [1, 2, 3, 4, 5, 2, 4, 1]
    same = ceiling(ratings("a", values, "q") + ratings("b", values, "q"), generations, ["q"], SETTINGS)
    assert same["q"]["spearman"] == pytest.approx(1.0) and same["q"]["n"] == 16, "each rater against the other"
    assert same["q"]["pairwise_accuracy"] == 1.0, "pairs from ratings of the same task agree too"
    reversed_ = ceiling(
        ratings("a", values, "q") + ratings("b", [6 - v for v in values], "q"), generations, ["q"], SETTINGS
    )
    assert reversed_["q"]["spearman"] == pytest.approx(-1.0) and reversed_["q"]["pairwise_accuracy"] == 0.0
    assert ceiling(ratings("a", values, "q"), generations, ["q"], SETTINGS) == {}, "one rater: no ceiling"

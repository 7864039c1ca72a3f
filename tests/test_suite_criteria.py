"""The criteria maths of vmevalkit/suites/criteria.py, each case checked against a computation by hand: goals (max,
min, target) and ranges, weights (0 too), expressions (division by zero), failed and unscored items, success rates,
domain filters, ties, the per-category breakdown, the bootstrap interval, a model without items."""

from __future__ import annotations

import json
from typing import Any

import pytest

from vmevalkit.suites.criteria import Item, Leaderboard, evaluate
from vmevalkit.suites.schema import Suite, suite_from_data


def make_suite(criteria: list[dict[str, Any]], models: tuple[str, ...] = ("a",), **extra: Any) -> Suite:
    return suite_from_data(
        {
            "name": "t",
            "datasets": [{"kind": "generated", "domains": ["maze"], "count": 1}],
            "models": [{"name": m} for m in models],
            "scorers": [{"name": "s"}, {"name": "v"}],
            "criteria": criteria,
            **extra,
        }
    )


def item(
    model: str,
    task: str,
    scores: dict[str, float | None] | None = None,
    *,
    domain: str = "maze",
    category: str | None = "spatial_planning",
    failed: bool = False,
    seed: int = 42,
) -> Item:
    return Item(model, task, domain, category, seed, failed, {"s": scores or {}})


def row(board: Leaderboard, model: str) -> Any:
    return next(m for m in board.models if m.model == model)


def test_max_min_and_target_goals_with_ranges_and_weights() -> None:
    suite = make_suite(
        [
            {"name": "acc", "metric": "s.acc", "goal": "max", "weight": 2, "threshold": 0.75},
            {"name": "secs", "metric": "s.secs", "goal": "min", "range": [0, 10], "threshold": 2.5},
            {"name": "size", "metric": "s.size", "goal": "target", "target": 5, "tolerance": 1, "range": [0, 10]},
        ]
    )
    items = [item("a", "t1", {"acc": 0.5, "secs": 2, "size": 7}), item("a", "t2", {"acc": 1.0, "secs": 4, "size": 9})]
    m = row(evaluate(suite, items), "a")
    # acc: mean 0.75, score 0.75, passes (>= 0.75); secs: mean 3, score (10 - 3) / 10 = 0.7, fails (3 > 2.5);
    # size: mean 8, |8 - 5| = 3, score 1 - (3 - 1) / 10 = 0.8, fails (3 > 1).
    assert m.criteria["acc"].value == pytest.approx(0.75) and m.criteria["acc"].score == pytest.approx(0.75)
    assert m.criteria["acc"].passed is True
    assert m.criteria["secs"].value == pytest.approx(3.0) and m.criteria["secs"].score == pytest.approx(0.7)
    assert m.criteria["secs"].passed is False
    assert m.criteria["size"].value == pytest.approx(8.0) and m.criteria["size"].score == pytest.approx(0.8)
    assert m.criteria["size"].passed is False
    assert m.criteria["acc"].n == 2
    # composite = (2 * 0.75 + 1 * 0.7 + 1 * 0.8) / 4 = 0.75
    assert m.composite == pytest.approx(0.75)
    assert m.rank == 1


def test_ranges_clip_and_target_tolerance_edges() -> None:
    suite = make_suite(
        [
            {"name": "hi", "metric": "s.x", "range": [0.5, 1.0]},
            {"name": "lo", "metric": "s.x", "goal": "min", "range": [0.5, 1.0]},
            {"name": "near", "metric": "s.x", "goal": "target", "target": 0.8, "tolerance": 0.1},
            {"name": "far", "metric": "s.x", "goal": "target", "target": 0.0, "tolerance": 0.1},
        ],
        models=("low", "mid"),
    )
    board = evaluate(suite, [item("low", "t", {"x": 0.25}), item("mid", "t", {"x": 0.7})])
    low, mid = row(board, "low"), row(board, "mid")
    assert low.criteria["hi"].score == 0.0  # (0.25 - 0.5) / 0.5 clipped to 0
    assert low.criteria["lo"].score == 1.0  # (1.0 - 0.25) / 0.5 clipped to 1
    assert mid.criteria["hi"].score == pytest.approx(0.4)  # (0.7 - 0.5) / 0.5
    assert mid.criteria["lo"].score == pytest.approx(0.6)
    assert mid.criteria["near"].passed is True and mid.criteria["near"].score == 1.0  # |0.7 - 0.8| = 0.1: inside
    assert mid.criteria["far"].passed is False  # |0.7 - 0| = 0.7: 1 - (0.7 - 0.1) / 1 = 0.4
    assert mid.criteria["far"].score == pytest.approx(0.4)
    assert low.criteria["far"].score == pytest.approx(0.85)  # 1 - (0.25 - 0.1)
    assert mid.criteria["hi"].passed is None  # no threshold


def test_weight_zero_is_shown_not_counted_and_all_zero_gives_zero() -> None:
    suite = make_suite([{"name": "a1", "metric": "s.x"}, {"name": "a2", "metric": "s.y", "weight": 0}])
    m = row(evaluate(suite, [item("a", "t", {"x": 0.4, "y": 1.0})]), "a")
    assert m.criteria["a2"].value == 1.0 and m.criteria["a2"].weight == 0
    assert m.composite == pytest.approx(0.4)
    zero = make_suite([{"name": "a1", "metric": "s.x", "weight": 0}])
    assert row(evaluate(zero, [item("a", "t", {"x": 0.4})]), "a").composite == 0.0


def test_expressions_and_division_by_zero() -> None:
    suite = make_suite(
        [
            {"name": "acc", "metric": "s.acc"},
            {"name": "secs", "metric": "s.secs", "goal": "min", "range": [0, 10]},
            {"name": "net", "expr": "acc - secs / 10", "threshold": 0.3},
            {"name": "ratio", "expr": "acc / zero", "goal": "max", "threshold": 0},
            {"name": "zero", "metric": "s.zero", "weight": 0},
        ]
    )
    items = [item("a", "t1", {"acc": 0.5, "secs": 2, "zero": 0}), item("a", "t2", {"acc": 1.0, "secs": 4, "zero": 0})]
    m = row(evaluate(suite, items), "a")
    assert m.criteria["net"].value == pytest.approx(0.75 - 0.3)  # acc 0.75, secs 3
    assert m.criteria["net"].passed is True
    assert m.criteria["net"].n == 2
    assert m.criteria["ratio"].value is None  # 0.75 / 0 -> None: scores 0 and fails
    assert m.criteria["ratio"].score == 0.0 and m.criteria["ratio"].passed is False
    # composite over weights 1, 1, 1, 1, 0: (0.75 + 0.7 + 0.45 + 0) / 4
    assert m.composite == pytest.approx((0.75 + 0.7 + 0.45) / 4)


def test_failed_items_count_zero_and_unscored_items_are_left_out() -> None:
    suite = make_suite([{"name": "acc", "metric": "s.acc"}])
    items = [
        item("a", "t1", failed=True),  # no video: 0
        item("a", "t2", {"acc": 1.0}),
        item("a", "t3", {"acc": None}),  # unscored: left out
        item("a", "t4", {}),  # no value: left out
        item("a", "t5", {"acc": float("nan")}),  # NaN: left out
        item("a", "t6", {"acc": 0.5}),
    ]
    m = row(evaluate(suite, items), "a")
    assert m.criteria["acc"].value == pytest.approx((0 + 1.0 + 0.5) / 3)
    assert m.criteria["acc"].n == 3


def test_success_rate_and_domain_filter() -> None:
    suite = make_suite(
        [
            {"name": "solved", "metric": "s.x", "aggregate": "success_rate", "success_at": 0.9},
            {"name": "maze_only", "metric": "s.x", "domain": "maze"},
            {"name": "games_only", "metric": "s.x", "category": "games"},
        ]
    )
    items = [
        item("a", "m1", {"x": 1.0}),
        item("a", "m2", {"x": 0.5}),
        item("a", "s1", {"x": 0.9}, domain="sudoku", category="games"),
        item("a", "s2", failed=True, domain="sudoku", category="games"),
    ]
    m = row(evaluate(suite, items), "a")
    assert m.criteria["solved"].value == pytest.approx(2 / 4)  # 1.0 and 0.9 reach 0.9; the failed one does not
    assert m.criteria["maze_only"].value == pytest.approx(0.75) and m.criteria["maze_only"].n == 2
    assert m.criteria["games_only"].value == pytest.approx(0.45) and m.criteria["games_only"].n == 2


def test_ties_share_a_rank_and_are_listed_by_name() -> None:
    suite = make_suite([{"name": "acc", "metric": "s.x"}], models=("zeta", "alpha", "mid", "last"))
    items = [
        item("zeta", "t", {"x": 0.5}),
        item("alpha", "t", {"x": 0.5}),
        item("mid", "t", {"x": 0.25}),
        item("last", "t", {"x": 0.25}),
        item("last", "u", {"x": 0.25}),
    ]
    board = evaluate(suite, items)
    assert [(m.model, m.rank) for m in board.models] == [("alpha", 1), ("zeta", 1), ("last", 3), ("mid", 3)]


def test_per_category_breakdown() -> None:
    suite = make_suite(
        [
            {"name": "acc", "metric": "s.acc", "weight": 2},
            {"name": "secs", "metric": "s.secs", "goal": "min", "range": [0, 10]},
            {"name": "maze_acc", "metric": "s.acc", "domain": "maze"},
            {"name": "both", "expr": "acc * 2"},
        ]
    )
    items = [
        item("a", "m1", {"acc": 1.0, "secs": 2}, category="spatial_planning"),
        item("a", "c1", {"acc": 0.5, "secs": 6}, domain="chess_mate", category="games"),
        item("a", "c2", {"acc": 0.0, "secs": 8}, domain="chess_mate", category="games"),
    ]
    m = row(evaluate(suite, items), "a")
    games = m.categories["games"]
    # games: acc 0.25 (score 0.25), secs 7 (score 0.3), maze_acc None (own filter: left out), both 0.5.
    assert games.values == {"acc": pytest.approx(0.25), "secs": pytest.approx(7.0), "maze_acc": None, "both": 0.5}
    assert games.composite == pytest.approx((2 * 0.25 + 0.3 + 0.5) / 4)
    plan = m.categories["spatial_planning"]
    # spatial_planning: acc 1, secs 2 (score 0.8), both 2 (score clipped to 1)
    assert plan.composite == pytest.approx((2 * 1.0 + 0.8 + 1.0) / 4)
    # the whole: acc 0.5, secs 16/3, maze_acc 1.0, both 1.0
    assert m.composite == pytest.approx((2 * 0.5 + (10 - 16 / 3) / 10 + 1.0 + 1.0) / 5)


def test_bootstrap_interval_is_deterministic_and_holds_the_estimate() -> None:
    spec = [{"name": "acc", "metric": "s.x"}]
    values = [0.1, 0.9, 0.4, 0.6, 0.3, 0.8, 0.5, 0.7]
    # Two samples per task, seeds 1 and 2: a task's samples are drawn together.
    items = [item("a", f"t{i}", {"x": v}, seed=seed) for i, v in enumerate(values) for seed in (1, 2)]
    first = evaluate(make_suite(spec, bootstrap={"samples": 500, "seed": 7}), items)
    again = evaluate(make_suite(spec, bootstrap={"samples": 500, "seed": 7}), items)
    other = evaluate(make_suite(spec, bootstrap={"samples": 500, "seed": 8}), items)
    m = row(first, "a")
    assert m.ci is not None
    assert m.ci == row(again, "a").ci
    assert m.ci != row(other, "a").ci
    lo, hi = m.ci
    assert m.composite == pytest.approx(sum(values) / len(values))
    assert lo < m.composite < hi
    assert 0.0 <= lo and hi <= 1.0
    wider = row(evaluate(make_suite(spec, bootstrap={"samples": 500, "seed": 7, "confidence": 0.99}), items), "a")
    assert wider.ci is not None and wider.ci[0] <= lo and wider.ci[1] >= hi
    same = row(evaluate(make_suite(spec), [item("a", f"t{i}", {"x": 0.5}) for i in range(5)]), "a")
    assert same.ci == (pytest.approx(0.5), pytest.approx(0.5))


def test_a_model_with_no_items() -> None:
    suite = make_suite(
        [{"name": "acc", "metric": "s.x", "threshold": 0.5}, {"name": "e", "expr": "acc + 1"}], models=("a", "none")
    )
    board = evaluate(suite, [item("a", "t", {"x": 0.5}), item("stranger", "t", {"x": 1.0})])
    empty = row(board, "none")
    assert empty.composite == 0.0 and empty.ci is None and empty.rank == 2
    assert empty.criteria["acc"].value is None and empty.criteria["acc"].n == 0
    assert empty.criteria["acc"].passed is False and empty.criteria["e"].value is None
    assert [m.model for m in board.models] == ["a", "none"]  # the stranger's items are not the suite's


def test_to_dict_is_json_and_the_table_fits_100_columns() -> None:
    suite = make_suite(
        [
            {"name": "success", "metric": "s.x", "threshold": 0.5},
            {"name": "end_frame", "metric": "s.y", "goal": "min"},
            {"name": "gap", "expr": "success - end_frame", "goal": "target", "target": 0, "tolerance": 0.1},
        ],
        models=("a-model-with-a-rather-long-name-indeed", "b"),
    )
    items = [
        item(m, f"t{i}", {"x": i / 3, "y": 0.2})
        for m in ("a-model-with-a-rather-long-name-indeed", "b")
        for i in range(3)
    ]
    board = evaluate(suite, items)
    data = json.loads(json.dumps(board.to_dict()))
    assert data["criteria"] == ["success", "end_frame", "gap"]
    first = data["models"][0]
    assert set(first) == {"model", "rank", "composite", "ci", "criteria", "categories"}
    assert set(first["criteria"]["gap"]) == {"value", "score", "passed", "weight", "n"}
    assert first["categories"]["spatial_planning"]["criteria"]["success"] == pytest.approx(1 / 3)
    table = board.table()
    assert max(len(line) for line in table.splitlines()) <= 100
    assert "success" in table and "composite per category" in table
    assert "0.333 FAIL" in table and "0.200" in table and "a-model-with-a-rather-l~" in table

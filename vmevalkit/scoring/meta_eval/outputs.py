"""The output files of a meta-evaluation: ``meta_summary.csv``, ``meta_detail.csv``, ``meta_people.csv`` (how well
the raters agree with each other) and ``meta.json``.

The command line that writes them (``vmevalkit evaluate-scorers``, ``examples/evaluate_scorers.py``) is
``vmevalkit.cli.evaluate_scorers``."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from vmevalkit.scoring.csv_safe import csv_text
from vmevalkit.scoring.meta_eval.agreement import Row

# 2: several labels files (config.labels_files), inter-annotator agreement and the human ceiling (people)
META_SCHEMA_VERSION = 2
DEFAULT_OUT_SUBDIR = "meta_eval"
SUMMARY_FILE, DETAIL_FILE, JSON_FILE = "meta_summary.csv", "meta_detail.csv", "meta.json"
PEOPLE_FILE = "meta_people.csv"

KEY_COLUMNS = ("scorer", "dimension", "human_dimension")
STAT_COLUMNS = (
    "n",
    "n_unscored",
    "spearman",
    "spearman_ci_low",
    "spearman_ci_high",
    "kendall_tau_b",
    "kendall_tau_b_ci_low",
    "kendall_tau_b_ci_high",
    "n_pairs",
    "n_pairs_labelled",
    "n_pairs_from_ratings",
    "n_pairs_human_tie",
    "pairwise_accuracy",
    "pairwise_accuracy_ci_low",
    "pairwise_accuracy_ci_high",
    "pairwise_accuracy_ties_half",
    "pairwise_accuracy_ties_half_ci_low",
    "pairwise_accuracy_ties_half_ci_high",
)
# The human ceiling of the row's human dimension (raters against each other, raters.ceiling), beside the scorer's.
CEILING_STATS = ("spearman", "kendall_tau_b", "pairwise_accuracy", "pairwise_accuracy_ties_half")
CEILING_COLUMNS = tuple(f"ceiling_{c}" for c in CEILING_STATS)
SUMMARY_COLUMNS = (*KEY_COLUMNS, *STAT_COLUMNS, *CEILING_COLUMNS)
DETAIL_COLUMNS = (*KEY_COLUMNS, "domain", *STAT_COLUMNS)
PEOPLE_COLUMNS = (
    "human_dimension",
    "kind",
    "raters",
    "items",
    "statistic",
    "level",
    "value",
    "ci_low",
    "ci_high",
    "observed_agreement",
)


# -- outputs ----------------------------------------------------------------------------


def _cell(value: Any) -> Any:
    if isinstance(value, float):
        return "" if math.isnan(value) else round(value, 6)
    return value


def _csv(rows: Sequence[Row], columns: Sequence[str]) -> str:
    # Text cells (scorer, dimension and domain names, a labels file's dimensions) are neutralised against
    # spreadsheet formulas; numbers stay numbers.
    return csv_text([{c: _cell(row[c]) for c in columns} for row in rows], columns)


def _json_value(value: Any) -> Any:
    if isinstance(value, float):
        return None if math.isnan(value) else round(value, 6)
    return value


def with_ceiling(summary: list[Row], ceiling: dict[str, Row]) -> list[Row]:
    """The summary rows with the ceiling of their human dimension beside them (NaN: fewer than two raters)."""
    return [
        {**row, **{f"ceiling_{c}": ceiling.get(row["human_dimension"], {}).get(c, math.nan) for c in CEILING_STATS}}
        for row in summary
    ]


def write_outputs(
    out_dir: Path,
    config: dict[str, Any],
    labels: dict[str, Any],
    summary: list[Row],
    detail: list[Row],
    people: list[Row] | None = None,
    ceiling: dict[str, Row] | None = None,
) -> list[Path]:
    """meta_summary.csv, meta_detail.csv, meta_people.csv and meta.json in ``out_dir``, each written atomically."""
    from vmevalkit.utils.atomic import atomic_write_json, atomic_write_text

    people, ceiling = people or [], ceiling or {}
    summary = with_ceiling(summary, ceiling)
    paths = [out_dir / SUMMARY_FILE, out_dir / DETAIL_FILE, out_dir / PEOPLE_FILE, out_dir / JSON_FILE]
    atomic_write_text(paths[0], _csv(summary, SUMMARY_COLUMNS))
    atomic_write_text(paths[1], _csv(detail, DETAIL_COLUMNS))
    atomic_write_text(paths[2], _csv(people, PEOPLE_COLUMNS))
    document = {
        "schema_version": META_SCHEMA_VERSION,
        "config": config,
        "labels": labels,
        "summary": [{c: _json_value(row[c]) for c in SUMMARY_COLUMNS} for row in summary],
        "detail": [{c: _json_value(row[c]) for c in DETAIL_COLUMNS} for row in detail],
        "people": {
            "agreement": [{c: _json_value(row[c]) for c in PEOPLE_COLUMNS} for row in people],
            "ceiling": [
                {"human_dimension": dim, **{c: _json_value(row[c]) for c in STAT_COLUMNS}}
                for dim, row in ceiling.items()
            ],
        },
    }
    atomic_write_json(paths[3], document)
    return paths

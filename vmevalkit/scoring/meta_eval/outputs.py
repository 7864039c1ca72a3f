"""The three output files of a meta-evaluation: ``meta_summary.csv``, ``meta_detail.csv`` and ``meta.json``.

The command line that writes them (``vmevalkit evaluate-scorers``, ``examples/evaluate_scorers.py``) is
``vmevalkit.cli.evaluate_scorers``."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from vmevalkit.scoring.csv_safe import csv_text
from vmevalkit.scoring.meta_eval.agreement import Row

META_SCHEMA_VERSION = 1
DEFAULT_OUT_SUBDIR = "meta_eval"
SUMMARY_FILE, DETAIL_FILE, JSON_FILE = "meta_summary.csv", "meta_detail.csv", "meta.json"

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
SUMMARY_COLUMNS = (*KEY_COLUMNS, *STAT_COLUMNS)
DETAIL_COLUMNS = (*KEY_COLUMNS, "domain", *STAT_COLUMNS)


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


def write_outputs(
    out_dir: Path, config: dict[str, Any], labels: dict[str, Any], summary: list[Row], detail: list[Row]
) -> list[Path]:
    """meta_summary.csv, meta_detail.csv and meta.json in ``out_dir``, each written atomically."""
    from vmevalkit.utils.atomic import atomic_write_json, atomic_write_text

    paths = [out_dir / SUMMARY_FILE, out_dir / DETAIL_FILE, out_dir / JSON_FILE]
    atomic_write_text(paths[0], _csv(summary, SUMMARY_COLUMNS))
    atomic_write_text(paths[1], _csv(detail, DETAIL_COLUMNS))
    document = {
        "schema_version": META_SCHEMA_VERSION,
        "config": config,
        "labels": labels,
        "summary": [{c: _json_value(row[c]) for c in SUMMARY_COLUMNS} for row in summary],
        "detail": [{c: _json_value(row[c]) for c in DETAIL_COLUMNS} for row in detail],
    }
    atomic_write_json(paths[2], document)
    return paths

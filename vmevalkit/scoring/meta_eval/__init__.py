"""Scorer meta-evaluation: how well each scorer agrees with people.

``python examples/evaluate_scorers.py --labels human_labels.jsonl --scorer task-verifier frame-match``

Inputs:

- Human labels, JSONL (the exact format is in docs/SCORING.md, "Human labels"): absolute ratings of one
  generation (``"type": "rating"``) and pairwise preferences between two (``"type": "pair"``, ``A``/``B``/``tie``),
  each on a named dimension and by a named rater. Every line is validated; any bad line stops the run with
  its line number before anything is computed. A label naming a generation that is not a completed generation
  of the experiment is reported and skipped.
- The scorers' score files (``<run_dir>/scores/<scorer>.json``, written by ``examples/score_videos.py``).

Aggregation: the raters of one item are averaged (one vote per rater: a rater's later line for the same item
replaces the earlier one). A rated item's human value is the mean of its raters' values; a pair's human
preference is the mean of its raters' votes (A = 1, B = 0, tie = 0.5): above 0.5 prefers A, below prefers B,
exactly 0.5 is a tie. Rating labels also give pairs: every two rated generations of the same task, the higher
mean rating preferred (equal means: a tie). A pair labelled directly replaces the pair derived from ratings.

Comparisons: each human dimension is compared with the scorer dimension of the same name, and with those
``--map HUMAN=DIMENSION`` or ``--map HUMAN=SCORER:DIMENSION`` name (maps add comparisons). Higher is better
on both sides.

Statistics per comparison, overall and per domain (``vmevalkit.scoring.metrics``): Spearman's rho and Kendall's
tau-b between the mean ratings and the scores, pairwise accuracy with human ties excluded and with ties for half
credit, each with a seeded percentile-bootstrap CI (items resampled for correlations, pairs for accuracies).
A generation without a usable score (no score file, an error file, a null value) is left out and counted.

People against people (``raters``): Cohen's kappa (two raters) or Krippendorff's alpha (more) per human dimension,
with a bootstrap CI, and the ceiling: each rater compared with the mean of the others in the scorers' own
statistics, shown beside each scorer.

Outputs (written atomically): ``meta_summary.csv`` (one row per comparison, with the ceiling of its human
dimension), ``meta_detail.csv`` (the same per domain), ``meta_people.csv`` (agreement between people) and
``meta.json`` (config, label counts, summary, detail and people).

The modules, each using only those before it:

- ``labels``: the label format (``RatingLabel``, ``PairLabel``, ``read_labels``) and how labels combine into
  human judgements (``aggregate_labels``, ``derive_pairs``);
- ``agreement``: the scorers' score files (``load_scores``), which dimensions are compared (``parse_map``,
  ``plan_comparisons``) and the statistics (``bootstrap_paired_ci``, ``agreement_stats``, ``evaluate``);
- ``raters``: agreement between people (``collect_units``, ``inter_annotator``) and the human ceiling
  (``ceiling``);
- ``outputs``: the output files (``write_outputs``);
- ``upstream_labels``: the public VMEvalKit's ``human-eval.json`` files converted into labels
  (``convert_human_eval``, ``write_labels``; ``evaluate-scorers --import-labels``).

This module re-exports their public names. The command line (``vmevalkit evaluate-scorers``,
``examples/evaluate_scorers.py``) and its printed summary are ``vmevalkit.cli.evaluate_scorers``.
"""

from __future__ import annotations

from vmevalkit.scoring.meta_eval.agreement import (
    BootstrapSettings,
    Comparison,
    DimensionMap,
    ScorerScores,
    agreement_stats,
    bootstrap_paired_ci,
    evaluate,
    load_scores,
    parse_map,
    plan_comparisons,
)
from vmevalkit.scoring.meta_eval.labels import (
    GenerationInfo,
    HumanJudgements,
    HumanPair,
    LabelFileError,
    MetaEvalError,
    NumberedLabel,
    PairLabel,
    RatingLabel,
    UnknownLabel,
    aggregate_labels,
    derive_pairs,
    label_files,
    normalise_generation,
    parse_label_line,
    read_label_files,
    read_labels,
)
from vmevalkit.scoring.meta_eval.outputs import DETAIL_COLUMNS, PEOPLE_COLUMNS, SUMMARY_COLUMNS, write_outputs
from vmevalkit.scoring.meta_eval.raters import ceiling, collect_units, inter_annotator

__all__ = [
    "DETAIL_COLUMNS",
    "PEOPLE_COLUMNS",
    "SUMMARY_COLUMNS",
    "BootstrapSettings",
    "Comparison",
    "DimensionMap",
    "GenerationInfo",
    "HumanJudgements",
    "HumanPair",
    "LabelFileError",
    "MetaEvalError",
    "NumberedLabel",
    "PairLabel",
    "RatingLabel",
    "ScorerScores",
    "UnknownLabel",
    "agreement_stats",
    "aggregate_labels",
    "bootstrap_paired_ci",
    "ceiling",
    "collect_units",
    "derive_pairs",
    "evaluate",
    "inter_annotator",
    "label_files",
    "load_scores",
    "normalise_generation",
    "parse_label_line",
    "parse_map",
    "plan_comparisons",
    "read_label_files",
    "read_labels",
    "write_outputs",
]

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

Outputs (written atomically): ``meta_summary.csv`` (one row per comparison), ``meta_detail.csv`` (the same per
domain) and ``meta.json`` (config, label counts, summary and detail).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import itertools
import json
import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from vmevalkit.scoring.metrics import Preference, kendall_tau_b, pairwise_accuracy, spearman

META_SCHEMA_VERSION = 1
DEFAULT_OUT_SUBDIR = "meta_eval"
SUMMARY_FILE, DETAIL_FILE, JSON_FILE = "meta_summary.csv", "meta_detail.csv", "meta.json"
DEFAULT_CONFIDENCE, DEFAULT_RESAMPLES, DEFAULT_SEED = 0.95, 2000, 0
MAX_LISTED = 20  # problems printed one per line before "... and N more"

GENERATION_EXAMPLE = "oracle-solution/maze_task/maze_0001/s42-1a797bfd42"

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

Row = dict[str, Any]


class MetaEvalError(ValueError):
    """Input the meta-evaluation cannot use (a missing file, a map naming nothing, no score files)."""


class LabelFileError(MetaEvalError):
    """A labels file with bad lines; ``problems`` holds one 'FILE:LINE: what is wrong' message per bad line."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        shown = problems[:MAX_LISTED]
        more = f"\n... and {len(problems) - MAX_LISTED} more" if len(problems) > MAX_LISTED else ""
        super().__init__(
            f"{len(problems)} bad line(s) in the labels file (format: docs/SCORING.md, 'Human labels'):\n"
            + "\n".join(shown)
            + more
        )


# -- the label format -------------------------------------------------------------------


def normalise_generation(text: str) -> str:
    """A generation named by its run folder relative to the experiment folder: MODEL/DOMAIN_task/TASK_ID/RUN_ID."""
    key = text.strip().replace("\\", "/").rstrip("/")
    while key.startswith("./"):
        key = key[2:]
    parts = key.split("/")
    if (
        key.startswith("/")
        or ":" in parts[0]  # a drive letter: an absolute path of some machine
        or len(parts) != 4
        or any(part in ("", ".", "..") for part in parts)
        or not parts[1].endswith("_task")
    ):
        raise ValueError(
            f"{text!r} is not a generation: expected MODEL/DOMAIN_task/TASK_ID/RUN_ID, the run folder relative "
            f"to the experiment folder (e.g. {GENERATION_EXAMPLE})"
        )
    return key


Name = Annotated[str, Field(min_length=1, strict=True)]
Rating = Annotated[float, Field(strict=True, allow_inf_nan=False)]  # strict: "1" and true are not numbers


class RatingLabel(BaseModel):
    """An absolute rating of one generation on one dimension (any finite number; higher is better)."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    type: Literal["rating"]
    generation: str
    dimension: Name
    value: Rating
    rater: Name
    note: str = ""  # free text for people; ignored

    @field_validator("generation")
    @classmethod
    def _generation_key(cls, value: str) -> str:
        return normalise_generation(value)


class PairLabel(BaseModel):
    """Which of two generations is better on one dimension: "A" (``a``), "B" (``b``) or "tie"."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    type: Literal["pair"]
    a: str
    b: str
    dimension: Name
    preference: Preference
    rater: Name
    note: str = ""

    @field_validator("a", "b")
    @classmethod
    def _generation_keys(cls, value: str) -> str:
        return normalise_generation(value)

    @model_validator(mode="after")
    def _two_generations(self) -> PairLabel:
        if self.a == self.b:
            raise ValueError(f"a and b are the same generation ({self.a}): a pair compares two")
        return self


Label = RatingLabel | PairLabel
LABEL_TYPES: dict[str, type[RatingLabel] | type[PairLabel]] = {"rating": RatingLabel, "pair": PairLabel}


@dataclass(frozen=True)
class NumberedLabel:
    line: int  # 1-based line of the labels file
    label: Label


def _problem(error: Any, kind: str) -> str:
    """One pydantic error as a short sentence about the field."""
    where = ".".join(str(part) for part in error["loc"])
    if error["type"] == "extra_forbidden":
        fields = ", ".join(LABEL_TYPES[kind].model_fields)
        return f"{where}: unknown field (a {kind} label has: {fields})"
    if error["type"] == "missing":
        return f"{where}: missing"
    if error["type"] == "literal_error" and where == "preference":
        return f'preference: must be "A", "B" or "tie", got {error["input"]!r}'
    message = str(error["msg"]).removeprefix("Value error, ")
    if not where:  # a check of the whole label (a pair of one generation)
        return message
    if error["type"].endswith("_type") or error["type"] == "finite_number":
        message += f", got {error['input']!r}"
    return f"{where}: {message}"


def parse_label_line(text: str) -> Label:
    """One JSONL line as a label, or a ValueError saying what is wrong with it."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ValueError(f"not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ValueError(f"expected a JSON object {{...}}, got {type(data).__name__}")
    kind = data.get("type")
    if "type" not in data:
        raise ValueError('type: missing ("rating" or "pair")')
    if kind not in LABEL_TYPES:
        raise ValueError(f'type: must be "rating" or "pair", got {kind!r}')
    model = LABEL_TYPES[kind]
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ValueError("; ".join(_problem(error, kind) for error in exc.errors())) from None


def read_labels(path: str | Path) -> list[NumberedLabel]:
    """Every label of a JSONL file (blank lines skipped); a LabelFileError listing every bad line by number."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise MetaEvalError(f"no labels file {path}: pass --labels FILE.jsonl (format: docs/SCORING.md)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise MetaEvalError(f"cannot read the labels file {path}: {exc}") from None
    labels: list[NumberedLabel] = []
    problems: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            labels.append(NumberedLabel(number, parse_label_line(line)))
        except ValueError as exc:
            problems.append(f"{path.name}:{number}: {exc}")
    if problems:
        raise LabelFileError(problems)
    if not labels:
        raise MetaEvalError(f"the labels file {path} holds no label (format: docs/SCORING.md, 'Human labels')")
    return labels


# -- from labels to human judgements ----------------------------------------------------


@dataclass(frozen=True)
class GenerationInfo:
    """What the meta-evaluation needs to know of one completed generation."""

    key: str  # MODEL/DOMAIN_task/TASK_ID/RUN_ID
    model: str
    domain: str
    task_id: str
    run_dir: Path | None = None  # where its score files are; None for in-memory data


@dataclass(frozen=True)
class HumanPair:
    """One pair with its consensus preference: "A" means ``a`` is better."""

    a: str
    b: str
    preference: Preference
    source: Literal["labelled", "ratings"]
    domain: str | None  # None when the two generations are of different domains


@dataclass(frozen=True)
class UnknownLabel:
    line: int
    generation: str


@dataclass
class HumanJudgements:
    """Labels aggregated over raters, per human dimension."""

    ratings: dict[str, dict[str, float]] = field(default_factory=dict)  # dimension -> generation -> mean rating
    pairs: dict[str, list[HumanPair]] = field(default_factory=dict)  # dimension -> pairs (labelled, then derived)
    raters: list[str] = field(default_factory=list)
    unknown: list[UnknownLabel] = field(default_factory=list)
    replaced: int = 0  # labels a later line of the same rater for the same item replaced
    used: int = 0  # labels that name only known generations

    @property
    def dimensions(self) -> list[str]:
        return list(dict.fromkeys([*self.ratings, *self.pairs]))


# A pair's votes for its first (sorted) generation, in half-points so ties stay exact: A 2, tie 1, B 0.
_VOTE_FOR_A: dict[str, int] = {"A": 2, "tie": 1, "B": 0}


def _consensus(votes: Sequence[int]) -> Preference:
    total, full = sum(votes), len(votes)  # the mean vote, total / (2 * n), against 0.5
    if total > full:
        return "A"
    return "B" if total < full else "tie"


def _rating_preference(rating_a: float, rating_b: float) -> Preference:
    if math.isclose(rating_a, rating_b, rel_tol=1e-12, abs_tol=1e-12):
        return "tie"
    return "A" if rating_a > rating_b else "B"


def aggregate_labels(labels: Sequence[NumberedLabel], generations: dict[str, GenerationInfo]) -> HumanJudgements:
    """Average the raters of each item, skip (and record) labels naming unknown generations, derive pairs."""
    human = HumanJudgements()
    # dimension -> item -> rater -> value; dicts keep the rater's latest line
    rating_votes: dict[str, dict[str, dict[str, float]]] = {}
    pair_votes: dict[str, dict[tuple[str, str], dict[str, int]]] = {}
    raters: dict[str, None] = {}
    for numbered in labels:
        label = numbered.label
        named = [label.generation] if isinstance(label, RatingLabel) else [label.a, label.b]
        missing = [g for g in named if g not in generations]
        if missing:
            human.unknown.extend(UnknownLabel(numbered.line, g) for g in missing)
            continue
        human.used += 1
        raters.setdefault(label.rater)
        if isinstance(label, RatingLabel):
            votes = rating_votes.setdefault(label.dimension, {}).setdefault(label.generation, {})
            human.replaced += label.rater in votes
            votes[label.rater] = label.value
        else:
            first, second = sorted((label.a, label.b))
            vote = _VOTE_FOR_A[label.preference]
            if label.a != first:  # the label named them the other way round
                vote = 2 - vote
            ballots = pair_votes.setdefault(label.dimension, {}).setdefault((first, second), {})
            human.replaced += label.rater in ballots
            ballots[label.rater] = vote
    human.raters = list(raters)

    for dimension, items in rating_votes.items():
        human.ratings[dimension] = {key: float(np.mean(list(v.values()))) for key, v in sorted(items.items())}
    for dimension, pairs in pair_votes.items():
        human.pairs[dimension] = [
            HumanPair(a, b, _consensus(list(ballots.values())), "labelled", _shared_domain(a, b, generations))
            for (a, b), ballots in sorted(pairs.items())
        ]
    for dimension, ratings in human.ratings.items():
        labelled = {(p.a, p.b) for p in human.pairs.get(dimension, [])}
        derived = [p for p in derive_pairs(ratings, generations) if (p.a, p.b) not in labelled]
        if derived:
            human.pairs[dimension] = human.pairs.get(dimension, []) + derived
    return human


def _shared_domain(a: str, b: str, generations: dict[str, GenerationInfo]) -> str | None:
    domain = generations[a].domain
    return domain if generations[b].domain == domain else None


def derive_pairs(ratings: dict[str, float], generations: dict[str, GenerationInfo]) -> list[HumanPair]:
    """Every two rated generations of the same task, the higher mean rating preferred (keys sorted: a < b)."""
    by_task: dict[tuple[str, str], list[str]] = {}
    for key in sorted(ratings):
        info = generations[key]
        by_task.setdefault((info.domain, info.task_id), []).append(key)
    pairs: list[HumanPair] = []
    for (domain, _), keys in sorted(by_task.items()):
        for a, b in itertools.combinations(keys, 2):
            pairs.append(HumanPair(a, b, _rating_preference(ratings[a], ratings[b]), "ratings", domain))
    return pairs


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


# -- outputs ----------------------------------------------------------------------------


def _cell(value: Any) -> Any:
    if isinstance(value, float):
        return "" if math.isnan(value) else round(value, 6)
    return value


def _csv(rows: Sequence[Row], columns: Sequence[str]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({c: _cell(row[c]) for c in columns})
    return buffer.getvalue()


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


# -- the command line -------------------------------------------------------------------

EXIT_OK, EXIT_USAGE = 0, 2


def _dimension_map(text: str) -> DimensionMap:
    try:
        return parse_map(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _confidence(text: str) -> float:
    value = float(text)
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1 (e.g. 0.95), got {text}")
    return value


def _resamples(text: str) -> int:
    value = int(text)
    if value < 100:
        raise argparse.ArgumentTypeError(f"must be at least 100 for a meaningful interval, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="evaluate_scorers.py",
        description="How well each scorer agrees with human labels: rank correlations and pairwise accuracy, "
        "with bootstrap CIs, overall and per domain. Label format: docs/SCORING.md, 'Human labels'.",
    )
    parser.add_argument("--labels", required=True, metavar="FILE", help="human labels, JSONL")
    parser.add_argument(
        "--scorer", "-s", required=True, nargs="+", metavar="NAME", help="scorers whose score files to evaluate"
    )
    parser.add_argument(
        "--map",
        nargs="+",
        action="extend",
        type=_dimension_map,
        default=[],
        metavar="HUMAN=[SCORER:]DIM",
        help="also compare a human dimension with another scorer dimension, e.g. task_success=end_state or "
        "task_success=frame-match:final_ssim (same-named dimensions are always compared)",
    )
    parser.add_argument("--experiment", metavar="NAME", help="experiment the labels are about (default: pilot)")
    parser.add_argument(
        "--output-dir", metavar="DIR", help="experiments root (default: data/outputs, or $VMEVALKIT_OUTPUT_DIR)"
    )
    parser.add_argument(
        "--out",
        metavar="DIR",
        help=f"where to write the results (default: <output-dir>/<experiment>/{DEFAULT_OUT_SUBDIR})",
    )
    parser.add_argument("--confidence", type=_confidence, default=DEFAULT_CONFIDENCE, help="CI level (default: 0.95)")
    parser.add_argument(
        "--resamples", type=_resamples, default=DEFAULT_RESAMPLES, help="bootstrap resamples (default: 2000)"
    )
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="bootstrap seed (default: 0)")
    return parser


def _error(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)


def _file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _paired(human: HumanJudgements) -> set[str]:
    return {g for pairs in human.pairs.values() for p in pairs for g in (p.a, p.b)}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    from vmevalkit import __version__
    from vmevalkit.runner.records import utc_now
    from vmevalkit.runner.registry import SAFE_NAME
    from vmevalkit.scoring.runner import GenerationSelectionError, find_generations
    from vmevalkit.settings import get_settings

    settings = get_settings()
    experiment = args.experiment or settings.experiment
    if not SAFE_NAME.fullmatch(experiment):
        _error(f"experiment name {experiment!r} must be a plain folder name (letters, digits, '.', '_', '-')")
        return EXIT_USAGE
    experiment_dir = Path(args.output_dir or settings.output_dir).absolute() / experiment
    scorer_names = list(dict.fromkeys(args.scorer))
    try:
        labels = read_labels(args.labels)
        found = find_generations(experiment_dir)
        generations: dict[str, GenerationInfo] = {}
        for g in found:
            key = g.run_dir.relative_to(experiment_dir).as_posix()
            generations[key] = GenerationInfo(key, g.record.model, g.record.domain, g.record.task_id, g.run_dir)
        human = aggregate_labels(labels, generations)
        for unknown in human.unknown[:MAX_LISTED]:
            print(
                f"warning: {Path(args.labels).name}:{unknown.line}: skipped: {unknown.generation} is not a completed "
                f"generation of {experiment_dir}",
                file=sys.stderr,
            )
        if len(human.unknown) > MAX_LISTED:
            print(f"warning: ... and {len(human.unknown) - MAX_LISTED} more unknown generation(s)", file=sys.stderr)
        if not human.used:
            raise MetaEvalError(
                f"no label names a completed generation of {experiment_dir}: label the run folders relative to "
                f"it (e.g. {GENERATION_EXAMPLE}), or pass the --output-dir and --experiment the labels are about"
            )
        labelled = sorted({g for dim in human.ratings.values() for g in dim} | _paired(human))
        scorers = load_scores(scorer_names, [generations[key] for key in labelled])
        comparisons = plan_comparisons(scorers, human.dimensions, args.map)
    except (MetaEvalError, GenerationSelectionError) as exc:
        _error(str(exc))
        return EXIT_USAGE

    bootstrap = BootstrapSettings(args.confidence, args.resamples, args.seed)
    summary, detail = evaluate(comparisons, human, scorers, generations, bootstrap)
    labels_path = Path(args.labels)
    config = {
        "experiment": experiment,
        "labels_file": labels_path.name,
        "labels_sha256": _file_sha256(labels_path),
        "scorers": scorer_names,
        "maps": [str(m) for m in args.map],
        "comparisons": [
            {"scorer": c.scorer, "dimension": c.dimension, "human_dimension": c.human_dimension} for c in comparisons
        ],
        "confidence": bootstrap.confidence,
        "resamples": bootstrap.resamples,
        "seed": bootstrap.seed,
        "vmevalkit": __version__,
        "created_at": utc_now(),
    }
    label_counts = {
        "labels": len(labels),
        "used": human.used,
        "replaced_by_a_later_line": human.replaced,
        "raters": human.raters,
        "rated_generations": {dim: len(r) for dim, r in human.ratings.items()},
        "pairs": {dim: len(p) for dim, p in human.pairs.items()},  # labelled and derived from ratings
        "unknown_generations": [{"line": u.line, "generation": u.generation} for u in human.unknown],
    }
    out_dir = Path(args.out) if args.out else experiment_dir / DEFAULT_OUT_SUBDIR
    paths = write_outputs(out_dir, config, label_counts, summary, detail)
    _print_summary(summary, human, len(labels), bootstrap.confidence)
    for path in paths:
        print(f"wrote {path}")
    return EXIT_OK


def _print_summary(summary: Sequence[Row], human: HumanJudgements, lines: int, confidence: float) -> None:
    from rich.console import Console
    from rich.table import Table

    def number(value: float, low: float, high: float) -> str:
        if math.isnan(value):
            return "-"
        interval = "" if math.isnan(low) else f" [{low:.2f}, {high:.2f}]"
        return f"{value:.3f}{interval}"

    console = Console(markup=False)  # names and intervals like "[0.19, 1.00]" are text, never markup
    console.print(
        f"{lines} label(s) from {len(human.raters)} rater(s); {human.used} used, {len(human.unknown)} unknown "
        f"generation(s) skipped, {human.replaced} replaced by a later line of the same rater"
    )
    table = Table(title=f"agreement with people ({confidence:.0%} bootstrap CIs)")
    for column in ("scorer", "dimension", "human", "n", "spearman", "kendall tau-b", "pairs", "acc", "acc ties 1/2"):
        table.add_column(column, overflow="fold")
    for row in summary:
        table.add_row(
            row["scorer"],
            row["dimension"],
            row["human_dimension"],
            str(row["n"]),
            number(row["spearman"], row["spearman_ci_low"], row["spearman_ci_high"]),
            number(row["kendall_tau_b"], row["kendall_tau_b_ci_low"], row["kendall_tau_b_ci_high"]),
            f"{row['n_pairs']} ({row['n_pairs_human_tie']} tie)",
            number(row["pairwise_accuracy"], row["pairwise_accuracy_ci_low"], row["pairwise_accuracy_ci_high"]),
            number(
                row["pairwise_accuracy_ties_half"],
                row["pairwise_accuracy_ties_half_ci_low"],
                row["pairwise_accuracy_ties_half_ci_high"],
            ),
        )
    console.print(table)

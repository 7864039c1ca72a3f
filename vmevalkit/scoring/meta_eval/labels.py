"""The human labels: the JSONL label format (every line validated) and how the labels of several raters
combine into human judgements (mean ratings, consensus pairs, and pairs derived from the ratings)."""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from vmevalkit.scoring.metrics import Preference

MAX_LISTED = 20  # problems printed one per line before "... and N more"

GENERATION_EXAMPLE = "oracle-solution/maze_task/maze_0001/s42-1a797bfd42"


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
    source: dict[str, Any] | None = None  # where an imported label came from (upstream_labels); kept, ignored

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
    source: dict[str, Any] | None = None

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
    file: str = ""  # the labels file's name, where labels come from several (one per annotator)


def _problem(error: Any, kind: str) -> str:
    """One pydantic error as a short sentence about the field."""
    where = ".".join(str(part) for part in error["loc"])
    if error["type"] == "extra_forbidden":
        # the fields a person writes; ``source`` is filled by an import (upstream_labels)
        fields = ", ".join(name for name in LABEL_TYPES[kind].model_fields if name != "source")
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
    return read_label_files([Path(path)])


def _read_file(path: Path) -> tuple[list[NumberedLabel], list[str]]:
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
            labels.append(NumberedLabel(number, parse_label_line(line), path.name))
        except ValueError as exc:
            problems.append(f"{path.name}:{number}: {exc}")
    return labels, problems


def label_files(paths: Sequence[str | Path]) -> list[Path]:
    """The labels files named: each file as given, each folder's ``*.jsonl`` files (one per annotator, as
    ``vmevalkit annotate`` writes them), in order, each once."""
    found: dict[Path, None] = {}
    for given in paths:
        path = Path(given)
        if path.is_dir():
            inside = sorted(p for p in path.glob("*.jsonl") if p.is_file() and not p.name.startswith("."))
            if not inside:
                raise MetaEvalError(f"no labels file (*.jsonl) in the folder {path}: pass the labels files or folders")
            found.update(dict.fromkeys(inside))
        else:
            found[path] = None
    return list(found)


def read_label_files(paths: Sequence[Path]) -> list[NumberedLabel]:
    """Every label of the files, in order; one LabelFileError listing the bad lines of all of them. An empty
    file among others is fine (an annotator who has not started); no label in any of them is an error."""
    labels: list[NumberedLabel] = []
    problems: list[str] = []
    for path in paths:
        found, bad = _read_file(path)
        labels.extend(found)
        problems.extend(bad)
    if problems:
        raise LabelFileError(problems)
    if not labels:
        names = ", ".join(str(p) for p in paths)
        raise MetaEvalError(f"the labels file {names} holds no label (format: docs/SCORING.md, 'Human labels')")
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
    file: str = ""


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
            human.unknown.extend(UnknownLabel(numbered.line, g, numbered.file) for g in missing)
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

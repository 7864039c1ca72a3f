"""The scorer contract: load once, score batches, declare named dimensions and the inputs it may see.

A scorer is any object with ``dimensions`` (a tuple of names, the K columns) and
``score_batch(items, **kwargs)`` returning an ``[N, K]`` array (NaN: could not score that item),
or a ``ScoreBatch`` that adds per-item details (a verifier's reasons, a judge's rationale).
``Scorer`` is the convenient base class; duck-typed classes plug in just the same through
``--scorer-class-path module:Class``. A class written for CMI-RewardBench's ``--model_class_path`` contract (no
``dimensions``; ``score_batch(inputs, batch_size, max_dur)`` returning ``[N, 2]``) is wrapped by
``vmevalkit.scoring.cmi_adapter`` in ``vmevalkit.scoring.build.build_scorer`` and runs unchanged.

A scorer may declare the range of each dimension (``ranges``: ``{"task_success": (0.0, 1.0)}``, either bound None
for unbounded). The scoring runner records the declared ranges in every score file, and the report flags any
value outside its range (a hand-edited 7.5 on a [0, 1] dimension) instead of averaging it.

Answer leakage is guarded here: a scorer sees the ground truth (the expected final frame, the
task's solution metadata, its solution video) only when it declares it in ``inputs``: the scoring runner
(``vmevalkit.scoring.runner``) builds each ``ScoreItem`` from those declarations and nothing else.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np

from vmevalkit.utils.imports import PluginLoadError, load_object

ScorerInput = Literal["video", "prompt", "first_frame", "final_frame", "task", "ground_truth_video"]
# What every scorer may see: the generated video and what the generator itself was given.
PUBLIC_INPUTS: frozenset[str] = frozenset({"video", "prompt", "first_frame"})
# The answer: only for scorers that declare it.
GROUND_TRUTH_INPUTS: frozenset[str] = frozenset({"final_frame", "task", "ground_truth_video"})

# The closed range a dimension's values lie in: (low, high), either None for unbounded.
Range = tuple[float | None, float | None]
UNIT_RANGE: Range = (0.0, 1.0)


class ScorerContractError(TypeError):
    """A scorer that does not keep the contract (wrong shape, no dimensions, bad class path)."""


@dataclass(frozen=True)
class ScoreItem:
    """One finished generation, as a scorer sees it. Ground-truth fields are None unless declared."""

    generation_dir: Path  # the run folder holding metadata.json, video/ and question/
    model: str
    task_id: str
    domain: str
    video_path: Path
    prompt: str
    first_frame: Path
    final_frame: Path | None = None  # inputs include "final_frame"
    task_dir: Path | None = None  # inputs include "task": the question folder with question_metadata.json
    # inputs include "ground_truth_video": the task's solution video (question/ground_truth.mp4), when it ships one
    ground_truth_video: Path | None = None


@dataclass
class ScoreBatch:
    """Scores plus optional per-item details (JSON-able dicts), e.g. why a verifier failed a video."""

    scores: Any  # [N, K] array-like
    details: list[dict[str, Any]] = field(default_factory=list)


def score_each(
    items: Sequence[ScoreItem],
    width: int,
    score_one: Callable[[ScoreItem], tuple[Sequence[float], dict[str, Any]]],
    unreadable: tuple[type[Exception], ...],
) -> ScoreBatch:
    """A batch scored item by item: an item whose inputs raise one of ``unreadable`` (a video that does not decode,
    a missing image) is NaN across its ``width`` dimensions with the error in its details; the rest are scored."""
    scores = np.full((len(items), width), np.nan)
    details: list[dict[str, Any]] = []
    for row, item in enumerate(items):
        try:
            scores[row], detail = score_one(item)
        except unreadable as exc:
            detail = {"error": f"{type(exc).__name__}: {exc}"}
        details.append(detail)
    return ScoreBatch(scores=scores, details=details)


class Scorer(ABC):
    """Base class of the shipped scorers. Subclasses set ``name``, ``dimensions``, ``inputs``."""

    name: ClassVar[str] = ""
    version: ClassVar[str] = "1"  # bump when scores change meaning: old score files are redone
    dimensions: ClassVar[tuple[str, ...]] = ()
    inputs: ClassVar[frozenset[str]] = PUBLIC_INPUTS
    # A dimension whose value 1 means "passed" (for success rates), if the scorer has one.
    pass_dimension: ClassVar[str | None] = None
    # The declared range of some or all dimensions (optional): values outside it are flagged by the report.
    ranges: ClassVar[dict[str, Range]] = {}

    def __init__(self, checkpoint: str | None = None, device: str | None = None, **kwargs: Any) -> None:
        self.checkpoint, self.device, self.options = checkpoint, device, kwargs

    @abstractmethod
    def score_batch(self, items: Sequence[ScoreItem], **kwargs: Any) -> ScoreBatch | Any:
        """``[len(items), len(dimensions)]`` scores (NaN where an item cannot be scored)."""


def dimensions_of(scorer: Any) -> tuple[str, ...]:
    dims = getattr(scorer, "dimensions", None)
    if not dims or isinstance(dims, str) or not all(isinstance(d, str) and d for d in dims):
        raise ScorerContractError(
            f"{type(scorer).__name__} must declare `dimensions`, a non-empty tuple of names (e.g. ('task_success',)); "
            "a scorer written for CMI-RewardBench's --model_class_path runs as it is with --scorer-contract cmi"
        )
    if len(set(dims)) != len(dims):
        raise ScorerContractError(f"{type(scorer).__name__} declares a dimension twice: {list(dims)}")
    return tuple(dims)


def inputs_of(scorer: Any) -> frozenset[str]:
    declared = frozenset(getattr(scorer, "inputs", PUBLIC_INPUTS))
    unknown = declared - PUBLIC_INPUTS - GROUND_TRUTH_INPUTS
    if unknown:
        raise ScorerContractError(
            f"{type(scorer).__name__} declares unknown inputs {sorted(unknown)}; "
            f"known: {sorted(PUBLIC_INPUTS | GROUND_TRUTH_INPUTS)}"
        )
    return declared


def ranges_of(scorer: Any) -> dict[str, Range]:
    """The declared range of each dimension that has one (``ranges``, optional), checked: ``{}`` when none."""
    declared = getattr(scorer, "ranges", None) or {}
    name = type(scorer).__name__
    if not isinstance(declared, dict):
        raise ScorerContractError(f"{name}.ranges must map dimension names to (low, high), got {declared!r}")
    dims = dimensions_of(scorer)
    ranges: dict[str, Range] = {}
    for dim, bounds in declared.items():
        if dim not in dims:
            raise ScorerContractError(f"{name}.ranges names {dim!r}, which is not one of its dimensions {list(dims)}")
        try:
            low, high = bounds
        except (TypeError, ValueError):
            raise ScorerContractError(f"{name}.ranges[{dim!r}] must be (low, high), got {bounds!r}") from None
        checked: list[float | None] = []
        for bound in (low, high):
            if bound is None:
                checked.append(None)
            elif isinstance(bound, (int, float)) and not isinstance(bound, bool) and math.isfinite(bound):
                checked.append(float(bound))
            else:
                raise ScorerContractError(
                    f"{name}.ranges[{dim!r}] bounds must be finite numbers or None, got {bounds!r}"
                )
        if checked[0] is not None and checked[1] is not None and checked[0] > checked[1]:
            raise ScorerContractError(f"{name}.ranges[{dim!r}] is empty: low {checked[0]} > high {checked[1]}")
        ranges[dim] = (checked[0], checked[1])
    return {dim: ranges[dim] for dim in dims if dim in ranges}


# Floating-point slack at a bound: an SSIM of identical images may come out as 1.0000000000000002.
RANGE_TOLERANCE = 1e-9


def in_range(value: float, bounds: Range | None) -> bool:
    """Whether ``value`` lies in the closed range ``bounds``, up to rounding (no range: any finite value does)."""
    if not math.isfinite(value):
        return False
    if bounds is None:
        return True
    low, high = bounds
    if low is not None and value < low - RANGE_TOLERANCE * max(1.0, abs(low)):
        return False
    return high is None or value <= high + RANGE_TOLERANCE * max(1.0, abs(high))


def checked_scores(scorer: Any, items: Sequence[ScoreItem], output: Any) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """The ``[N, K]`` float array and per-item details from a scorer's output, or a ScorerContractError."""
    details: list[dict[str, Any]] = []
    if isinstance(output, ScoreBatch):
        output, details = output.scores, list(output.details)
    dims = dimensions_of(scorer)
    try:
        scores = np.asarray(output, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ScorerContractError(f"{type(scorer).__name__}.score_batch returned non-numeric scores: {exc}") from exc
    expected = (len(items), len(dims))
    if scores.shape != expected:
        raise ScorerContractError(
            f"{type(scorer).__name__}.score_batch returned shape {scores.shape}, expected {expected} "
            f"({len(items)} items x dimensions {list(dims)}){getattr(scorer, 'shape_hint', '')}"
        )
    if details and len(details) != len(items):
        raise ScorerContractError(
            f"{type(scorer).__name__}.score_batch returned {len(details)} details for {len(items)} items"
        )
    return scores, details or [{} for _ in items]


def load_scorer_class(path: str) -> type:
    """A scorer class from ``module:Class``: anything with ``dimensions`` and a callable ``score_batch``."""
    try:
        cls = load_object(path)
    except PluginLoadError as exc:
        raise ScorerContractError(f"--scorer-class-path {path}: {exc}") from exc
    if not isinstance(cls, type):
        raise ScorerContractError(f"--scorer-class-path {path} is not a class")
    if not callable(getattr(cls, "score_batch", None)):
        raise ScorerContractError(f"{path} has no score_batch(items, **kwargs) method: it is not a scorer")
    return cls

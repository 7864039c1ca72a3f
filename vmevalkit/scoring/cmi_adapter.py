"""Scorers written for CMI-RewardBench's ``--model_class_path`` contract, run unchanged.

CMI-RewardBench (github.com/Haiwen-Xia/CMI-RewardBench: README.md "Evaluating Your Own Model", model_interface.md,
core/model_abc.py, inference_benchmark.py) loads a plug-in class from ``--model_class_path module:Class`` and:

- builds it as ``Class(**init_kwargs)``, ``init_kwargs`` from ``--model_init_kwargs_json`` with ``checkpoint``
  (``-c``) and ``device`` (``--device``) always added unless already there;
- calls ``score_batch(inputs, batch_size=len(inputs), max_dur=..., **score_kwargs)``, ``score_kwargs`` from
  ``--model_score_kwargs_json`` and ``max_dur`` from ``--max_dur`` (120 seconds by default);
- gives items (``BenchmarkBatchInput``) whose ``.to_dict()`` is ``{"audio", "text", "lyrics", "ref_audio"}``: the
  media to judge, the text prompt, lyrics, and the reference media the generation was conditioned on;
- reads back an ``[N, 2]`` array: column 0 alignment, column 1 musicality.

Such a class declares no ``dimensions``, ``inputs`` or ``name``: ``CmiScorer`` wraps an instance and supplies them,
so that the scoring runner, the resume rule and the score files treat it like any other plug-in. Our items map onto
CMI's: the generated video is the media judged (``audio``), the prompt is ``text``, the first frame (what the model
was given) is ``ref_audio``; the same values are also under our own names. Ground truth stays out unless the class
declares it in ``inputs``, as for every scorer.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any, Literal

from vmevalkit.scoring.base import PUBLIC_INPUTS, ScoreItem, ScorerContractError

Contract = Literal["auto", "vmevalkit", "cmi"]
CONTRACTS: tuple[str, ...] = ("auto", "vmevalkit", "cmi")
# What CMI-RewardBench's benchmark reads from each row: scores[:, 0] and scores[:, 1].
CMI_DIMENSIONS: tuple[str, ...] = ("alignment", "musicality")
# CMI-RewardBench's --max_dur default (seconds of media a scorer looks at per item).
DEFAULT_MAX_DUR = 120.0
# The keyword arguments that mark a score_batch written to CMI's signature.
CMI_SCORE_KEYWORDS: frozenset[str] = frozenset({"batch_size", "max_dur"})


@dataclass(frozen=True)
class CmiItem:
    """One generation in CMI-RewardBench's item shape (``BenchmarkBatchInput``), plus our own names for the same
    values. Paths are strings, as CMI passes them."""

    audio: str  # the media to judge: the generated video
    text: str = ""  # the prompt
    lyrics: str = ""  # a video task has none
    ref_audio: str | None = None  # the reference media the generation was conditioned on: the first frame
    video: str = ""
    prompt: str = ""
    first_frame: str | None = None
    final_frame: str | None = None  # only for a class whose `inputs` declare it
    task_id: str = ""
    domain: str = ""
    model: str = ""

    def to_dict(self) -> dict[str, Any]:
        """CMI's four keys first, then ours."""
        return {
            "audio": self.audio,
            "text": self.text,
            "lyrics": self.lyrics,
            "ref_audio": self.ref_audio,
            "video": self.video,
            "prompt": self.prompt,
            "first_frame": self.first_frame,
            "final_frame": self.final_frame,
            "task_id": self.task_id,
            "domain": self.domain,
            "model": self.model,
        }


def cmi_item(item: ScoreItem) -> CmiItem:
    video, first = str(item.video_path), str(item.first_frame)
    return CmiItem(
        audio=video,
        text=item.prompt,
        ref_audio=first,
        video=video,
        prompt=item.prompt,
        first_frame=first,
        final_frame=None if item.final_frame is None else str(item.final_frame),
        task_id=item.task_id,
        domain=item.domain,
        model=item.model,
    )


def _score_parameters(cls: type) -> dict[str, inspect.Parameter]:
    method = getattr(cls, "score_batch", None)
    try:
        return dict(inspect.signature(method).parameters) if callable(method) else {}
    except (TypeError, ValueError):
        return {}


def follows_cmi(cls: type) -> bool:
    """Whether a class is written to CMI's contract: its ``score_batch`` takes ``batch_size`` or ``max_dur``, or it
    has CMI's ``sr`` (sample rate) and no ``dimensions`` of ours."""
    if CMI_SCORE_KEYWORDS & set(_score_parameters(cls)):
        return True
    return hasattr(cls, "sr") and not getattr(cls, "dimensions", None)


class CmiScorer:
    """A CMI-RewardBench plug-in seen through our scorer contract (``dimensions``, ``inputs``, ``score_batch``)."""

    version: str
    inputs: frozenset[str]

    def __init__(self, inner: Any, dimensions: list[str] | None = None, max_dur: float | None = None) -> None:
        self.inner = inner
        self.plugin_class = type(inner)  # what score files record as the class, and name themselves after
        own = getattr(inner, "dimensions", None)
        self.dimensions = tuple(dimensions or (own if own and not isinstance(own, str) else CMI_DIMENSIONS))
        self.max_dur = float(DEFAULT_MAX_DUR if max_dur is None else max_dur)
        self.version = str(getattr(inner, "version", "1"))
        self.inputs = frozenset(getattr(inner, "inputs", PUBLIC_INPUTS))
        self.ranges = getattr(inner, "ranges", None) or {}
        self.pass_dimension = getattr(inner, "pass_dimension", None)
        cls = self.plugin_class
        self.name = getattr(inner, "name", "") or f"{cls.__module__}.{cls.__qualname__}"
        # max_dur changes what is scored: part of the resume rule, like any score_batch keyword.
        self.scorer_config = {"contract": "cmi", "max_dur": self.max_dur, **(getattr(inner, "scorer_config", {}) or {})}
        params = _score_parameters(cls)
        first = next((p for n, p in params.items() if n != "self"), None)
        # CMI passes the items as `inputs=`; a positional first parameter takes them under any name.
        self._by_keyword = first is not None and first.kind is inspect.Parameter.KEYWORD_ONLY

    @property
    def shape_hint(self) -> str:
        return (
            f"; a CMI-RewardBench scorer returns [N, {len(CMI_DIMENSIONS)}] ({', '.join(CMI_DIMENSIONS)}): "
            "name other columns with --scorer-dimensions NAME ..."
        )

    def score_batch(self, items: list[ScoreItem], **kwargs: Any) -> Any:
        """The inner ``score_batch(inputs, batch_size, max_dur, **kwargs)``; keywords given here win."""
        batch = [cmi_item(item) for item in items]
        options = {"batch_size": len(batch), "max_dur": self.max_dur, **kwargs}
        if self._by_keyword:
            return self.inner.score_batch(inputs=batch, **options)
        return self.inner.score_batch(batch, **options)

    def close(self) -> None:
        closer = getattr(self.inner, "close", None)
        if callable(closer):
            closer()


def adapt(scorer: Any, contract: bool, dimensions: list[str] | None = None, max_dur: float | None = None) -> Any:
    """``scorer`` wrapped for the CMI contract when ``contract`` is set; a usage error for CMI-only options given to
    a scorer of ours (they would be silently ignored)."""
    if contract:
        return CmiScorer(scorer, dimensions, max_dur)
    given = [flag for flag, value in (("--scorer-dimensions", dimensions), ("--max-dur", max_dur)) if value]
    if given:
        raise ScorerContractError(
            f"{' and '.join(given)} apply to CMI-RewardBench scorers (score_batch(inputs, batch_size, max_dur)); "
            f"{type(scorer).__name__} keeps our contract: pass --scorer-contract cmi if it is one"
        )
    return scorer

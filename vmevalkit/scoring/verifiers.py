"""``task-verifier``: a programmatic judge per task domain, of the end state and of the process.

Every domain ships its own verifier (``TaskDomain.verifier_class``, see ``vmevalkit/tasks/verifier.py``): it
reads the task's state from every frame of the generated video with the domain's own renderer
(``vmevalkit/tasks/reading.py``) and checks it against the task's rules, which it takes from
``question_metadata.json`` alone, never from ``final_frame.png``. This scorer turns its verdict into three
dimensions:

- ``end_state``: 1 when the video's last frame shows the solved state, else 0;
- ``process``: the share of the video's moves that are legal (a video in which no frame shows the task gets 0);
- ``task_success``: 1 only when both are perfect: the task is solved by legal moves.

A video that cannot be decoded, or a task whose domain has no verifier, scores NaN with the reason in its
details: NaN means "not scored", never "failed".
"""

from __future__ import annotations

import functools
import inspect
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from vmevalkit.scoring.base import UNIT_RANGE, Range, ScoreBatch, ScoreItem, Scorer
from vmevalkit.tasks import DOMAINS, get_domain
from vmevalkit.tasks.loader import METADATA
from vmevalkit.tasks.verifier import NotVerifiable, StateVerifier, Verdict, judge
from vmevalkit.utils.imports import suggest
from vmevalkit.video import VideoError, read_frames


class Unscorable(Exception):
    """An item the verifier cannot judge (no verifier for its domain, no task, unreadable task): scored NaN."""


class TaskVerifier(Scorer):
    """Judges each video by its domain's rules: solved end state, legal process, and both (``task_success``).

    Sees the video and the task's metadata (``inputs``: video, task); never the expected final frame.
    """

    name: ClassVar[str] = "task-verifier"
    version: ClassVar[str] = "2"  # 2: the squared-margin reading rule (tasks/reading.py)
    dimensions: ClassVar[tuple[str, ...]] = ("task_success", "end_state", "process")
    inputs: ClassVar[frozenset[str]] = frozenset({"video", "task"})
    pass_dimension: ClassVar[str | None] = "task_success"
    ranges: ClassVar[dict[str, Range]] = dict.fromkeys(dimensions, UNIT_RANGE)

    def score_batch(self, items: Sequence[ScoreItem], **kwargs: Any) -> ScoreBatch:
        scores = np.full((len(items), len(self.dimensions)), np.nan)
        details: list[dict[str, Any]] = []
        verifiers: dict[Path, StateVerifier] = {}  # one per task: every model's video of a task shares it
        for row, item in enumerate(items):
            try:
                verdict = self.verdict(item, verifiers)
            except Unscorable as exc:
                details.append({"passed": None, "reason": f"not scored: {exc}"})
            except VideoError as exc:
                details.append({"passed": None, "reason": f"not scored: the video cannot be read: {exc}"})
            except Exception as exc:  # one bad item never kills a batch: it is not scored, and says why
                details.append({"passed": None, "reason": f"not scored: {type(exc).__name__}: {exc}"})
            else:
                scores[row] = (1.0 if verdict.passed else 0.0, verdict.end_state, verdict.process)
                details.append(verdict.details())
        return ScoreBatch(scores=scores, details=details)

    def verdict(self, item: ScoreItem, verifiers: dict[Path, StateVerifier] | None = None) -> Verdict:
        """The verdict on one item (``verifiers``: a cache of built verifiers by task folder)."""
        if item.domain not in DOMAINS:
            raise Unscorable(
                f"no verifier for domain '{item.domain}'{suggest(item.domain, DOMAINS)}: task-verifier knows the "
                f"{len(DOMAINS)} domains 'vmevalkit tasks domains' lists"
            )
        if item.task_dir is None:
            raise Unscorable("the task folder was not given: task-verifier needs its declared input 'task'")
        verifiers = {} if verifiers is None else verifiers
        if item.task_dir not in verifiers:
            verifiers[item.task_dir] = load_verifier(item.task_dir, item.domain)
        return judge(verifiers[item.task_dir], read_frames(item.video_path))


def load_verifier(task_dir: Path, domain: str) -> StateVerifier:
    """The verifier of the task in ``task_dir``, built from its question_metadata.json.

    A domain whose ``verifier`` takes ``task_dir`` gets the folder too: an imported upstream task keeps part of
    its rules (a maze's walls) only in its first_frame.png (``vmevalkit/tasks/upstream/``).
    """
    path = Path(task_dir) / METADATA
    try:
        metadata = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise Unscorable(f"cannot read the task's rules from {path}: {exc}") from exc
    found = metadata.get("domain") if isinstance(metadata, dict) else None
    if found != domain:
        raise Unscorable(f"{path} describes a '{found}' task, not a '{domain}' task")
    build: Callable[..., StateVerifier] = get_domain(domain).verifier
    if "task_dir" in inspect.signature(build).parameters:  # a domain that reads an imported task's pictures too
        build = functools.partial(build, task_dir=Path(task_dir))
    try:
        return build(metadata)
    except NotVerifiable as exc:  # says itself which scorers can judge the task; no rebuild would help
        raise Unscorable(str(exc)) from exc
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        fix = "rebuild the task with 'vmevalkit tasks build'"
        if "source_format" in metadata:
            fix = "re-import the task with 'vmevalkit tasks import'"
        raise Unscorable(f"{path} lacks what the {domain} verifier needs ({type(exc).__name__}: {exc}); {fix}") from exc

"""Scorers that exist only for tests, loaded through ``--scorer-class-path vmk_test_scorers:Name``.

None of them subclasses ``vmevalkit.scoring.base.Scorer``: the contract is duck-typed, and these prove it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from vmevalkit.scoring.base import PUBLIC_INPUTS


class DuckScorer:
    """Scores a video by its size; echoes its constructor and score_batch keywords so tests can check them."""

    dimensions = ("size_kb", "scaled")  # no `name`, no `version`, no `inputs`: the defaults apply

    def __init__(self, scale: float = 1.0, checkpoint: str | None = None, device: str | None = None) -> None:
        self.scale, self.checkpoint, self.device = scale, checkpoint, device
        self.calls: list[dict[str, Any]] = []

    def score_batch(self, items: list[Any], factor: float = 1.0) -> list[list[float]]:
        self.calls.append({"n": len(items), "factor": factor})
        return [[item.video_path.stat().st_size / 1024, self.scale * factor] for item in items]


class DuckScorerWithDetails(DuckScorer):
    """The same, returning details through a plain (scores, details) ScoreBatch."""

    name = "duck-details"

    def score_batch(self, items: list[Any], factor: float = 1.0) -> Any:
        from vmevalkit.scoring.base import ScoreBatch

        scores = super().score_batch(items, factor)
        details = [{"checkpoint": self.checkpoint, "device": self.device, "nan": float("nan")} for _ in items]
        return ScoreBatch(scores=np.asarray(scores), details=details)


class Peeking:
    """Records every ScoreItem it is given; ``inputs`` is set per instance to test the leakage guard."""

    name = "peek"
    dimensions = ("one",)

    def __init__(self, inputs: list[str] | None = None) -> None:
        self.inputs = frozenset(inputs) if inputs is not None else PUBLIC_INPUTS
        self.seen: list[Any] = []

    def score_batch(self, items: list[Any]) -> Any:
        self.seen.extend(items)
        return np.ones((len(items), 1))


class WrongShape:
    """Declares two dimensions and returns three columns."""

    name = "wrong-shape"
    dimensions = ("a", "b")

    def score_batch(self, items: list[Any]) -> Any:
        return np.zeros((len(items), 3))


class Flaky:
    """Raises for any batch holding one of ``fail_task_ids`` (a broken judge call, a video it cannot read)."""

    name = "flaky"
    dimensions = ("ok",)

    def __init__(self, fail_task_ids: list[str] | None = None) -> None:
        self.fail_task_ids = set(fail_task_ids or [])
        self.batches: list[list[str]] = []

    def score_batch(self, items: list[Any]) -> Any:
        self.batches.append([item.task_id for item in items])
        bad = [item.task_id for item in items if item.task_id in self.fail_task_ids]
        if bad:
            raise RuntimeError(f"cannot score {bad[0]}")
        return np.ones((len(items), 1))


class NoScoreBatch:
    dimensions = ("x",)


NOT_A_CLASS = DuckScorer()


class RefusingOptions(DuckScorer):
    """A constructor that refuses its options with a ValueError quoting a secret from the environment."""

    def __init__(self, **kwargs: Any) -> None:
        import os

        raise ValueError(f"bad option for key {os.environ.get('VMK_TEST_API_KEY', '')}\x1b[2J")


class DiesInChild:
    """Kills its own process (``os._exit``, no exception, no cleanup) on any batch holding one of ``die_task_ids``:
    a decoder that segfaults. CPU-bound, so ``vmevalkit score --workers 2`` runs it in child processes.

    With ``once_file``, it dies only while that file does not exist (and makes it first): a crash that a retry
    survives. Each death, and each refusal to be built where ``VMK_NO_SCORER`` is set (a node without the
    scorer's install), is logged to ``$VMK_CALL_LOG``."""

    name = "dies"
    dimensions = ("size_kb",)
    cpu_bound = True

    def __init__(self, die_task_ids: list[str] | None = None, once_file: str | None = None) -> None:
        import os

        if os.environ.get("VMK_NO_SCORER"):
            _log_call({"event": "refused", "pid": os.getpid()})
            raise RuntimeError("this node has no install of the scorer")
        self.die_task_ids = set(die_task_ids or [])
        self.once_file = once_file

    def score_batch(self, items: list[Any]) -> Any:
        import os
        from pathlib import Path

        if any(item.task_id in self.die_task_ids for item in items):
            if self.once_file is None or not Path(self.once_file).exists():
                if self.once_file is not None:
                    Path(self.once_file).touch()
                _log_call({"event": "died", "pid": os.getpid(), "tasks": sorted(i.task_id for i in items)})
                os._exit(3)
        return np.asarray([[item.video_path.stat().st_size / 1024] for item in items])


def _log_call(event: dict[str, Any]) -> None:
    import json
    import os

    log = os.environ.get("VMK_CALL_LOG")
    if log:
        with open(log, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(event) + "\n")


class PidScorer:
    """Says which process scored each item (in its details), to prove the items were spread over children."""

    name = "pid"
    dimensions = ("one",)
    cpu_bound = True

    def score_batch(self, items: list[Any]) -> Any:
        import os

        from vmevalkit.scoring.base import ScoreBatch

        return ScoreBatch(scores=np.ones((len(items), 1)), details=[{"pid": os.getpid()} for _ in items])

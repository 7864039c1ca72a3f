"""Scorers written to CMI-RewardBench's ``--model_class_path`` contract, for tests/test_cmi_scorers.py.

The contract, from github.com/Haiwen-Xia/CMI-RewardBench (README.md "Evaluating Your Own Model", model_interface.md,
core/model_abc.py, custom_models/sample_model.py, inference_benchmark.py): a class with an ``sr`` property and
``score_batch(inputs, batch_size, max_dur, **kwargs) -> np.ndarray`` of shape ``[batch_size, 2]`` (column 0
alignment, column 1 musicality); each input has ``.to_dict()`` giving ``audio``, ``text``, ``lyrics`` and
``ref_audio``; the benchmark builds it as ``Class(**init_kwargs)`` with ``checkpoint`` and ``device`` added. Nothing
here knows VMEvalKit: no ``dimensions``, no ``name``, no ``inputs``, no import of ours.
"""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np
from vmk_test_cmi_core import BenchmarkModelABC


class CustomRewardModel(BenchmarkModelABC):
    """Shaped like CMI-RewardBench's custom_models/sample_model.py. Alignment: 1 when the item has a prompt and its
    reference media exists; musicality: the media's size in KB. Every constructor and score_batch call is appended to
    ``log`` (a JSONL file) so a test can read what it was given."""

    def __init__(
        self,
        checkpoint: str,
        config: str | None = None,
        device: str = "cuda:0",
        mode: str = "final",
        sr: int = 24000,
        log: str | None = None,
    ) -> None:
        self._sr = sr
        self._log = log
        self._write({"init": {"checkpoint": checkpoint, "config": config, "device": device, "mode": mode, "sr": sr}})

    def _write(self, entry: dict[str, Any]) -> None:
        if self._log:
            with open(self._log, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(entry) + "\n")

    @property
    def sr(self) -> int:
        return self._sr

    def score_batch(self, inputs: list[Any], batch_size: int, max_dur: float, **kwargs: Any) -> np.ndarray:
        payload = [x.to_dict() for x in inputs]
        self._write({"batch": payload, "batch_size": batch_size, "max_dur": max_dur, "kwargs": kwargs})
        scores = np.zeros((len(payload), 2))
        for i, item in enumerate(payload):
            ref = item.get("ref_audio")
            scores[i, 0] = float(bool(item["text"]) and ref is not None and os.path.isfile(ref))
            scores[i, 1] = os.path.getsize(item["audio"]) / 1024
        return scores


class Twin:
    """Duck-typed (``sr`` and ``score_batch``, as inference_benchmark.py accepts too); vmk_test_cmi_other has a class
    of the same name that scores 2.0."""

    sr = 24000

    def score_batch(self, inputs: list[Any], batch_size: int, max_dur: float, **kwargs: Any) -> np.ndarray:
        return np.full((len(inputs), 2), 1.0)


class RefusingModel(BenchmarkModelABC):
    """A constructor that fails as a model's does when its files are missing."""

    def __init__(self, checkpoint: str, device: str = "cuda:0") -> None:
        raise ValueError(f"config.yaml not found next to {checkpoint}")

    @property
    def sr(self) -> int:
        return 24000

    def score_batch(self, inputs: list[Any], batch_size: int, max_dur: float, **kwargs: Any) -> np.ndarray:
        return np.zeros((len(inputs), 2))


class ThreeColumns:
    """Returns three columns, which CMI's contract does not name: --scorer-dimensions must."""

    sr = 24000

    def score_batch(self, inputs: list[Any], batch_size: int, max_dur: float, **kwargs: Any) -> np.ndarray:
        return np.tile([0.25, 0.5, max_dur], (len(inputs), 1))


class KeywordInputs:
    """Takes its items only by keyword, as inference_benchmark.py passes them (``inputs=...``)."""

    sr = 24000

    def score_batch(self, *, inputs: list[Any], batch_size: int, max_dur: float) -> np.ndarray:
        return np.asarray([[float(batch_size), max_dur] for _ in inputs])

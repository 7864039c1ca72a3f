"""A stand-in for CMI-RewardBench's core/model_abc.py ``BenchmarkModelABC`` (github.com/Haiwen-Xia/CMI-RewardBench),
written from its documented contract: an abstract ``sr`` property and an abstract
``score_batch(inputs, batch_size, max_dur, **kwargs) -> np.ndarray``. A CMI plug-in inherits it; VMEvalKit never
imports it."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import numpy as np


class BenchmarkModelABC(ABC):
    @property
    @abstractmethod
    def sr(self) -> int:
        """The sample rate the model reads media at."""

    @abstractmethod
    def score_batch(self, inputs: list[Any], batch_size: int, max_dur: float, **kwargs: Any) -> np.ndarray:
        """``[len(inputs), 2]``: column 0 alignment, column 1 musicality."""

"""A CMI-RewardBench-style class named like ``vmk_test_cmi.Twin``: the two must write two score files."""

from __future__ import annotations

from typing import Any

import numpy as np


class Twin:
    sr = 24000

    def score_batch(self, inputs: list[Any], batch_size: int, max_dur: float, **kwargs: Any) -> np.ndarray:
        return np.full((len(inputs), 2), 2.0)

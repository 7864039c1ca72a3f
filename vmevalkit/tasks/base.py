"""The contract every task domain (maze, sliding puzzle, ...) implements.

A domain generates tasks deterministically from a seed and can render the
correct solution step by step from a task's metadata alone. That rendering is
what the ``oracle-solution`` baseline turns into a video, and what task
verifiers compare generated videos against.
"""

from __future__ import annotations

import random
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
from PIL import Image

FRAME_SIZE = 512  # every shipped domain renders square 512x512 RGB frames


@dataclass(frozen=True)
class GeneratedTask:
    """One task as a generator made it, before it is written to disk."""

    task_id: str  # "<domain>_<NNNN>", e.g. "maze_0001"
    domain: str
    prompt: str
    first_frame: Image.Image  # RGB, FRAME_SIZE x FRAME_SIZE
    final_frame: Image.Image  # ground truth end state, same size
    # JSON-serialisable. Always has "domain", "task_id", "seed", "difficulty",
    # "solution" and whatever render_solution() needs to redraw every step.
    metadata: dict[str, Any] = field(default_factory=dict)


class TaskDomain(ABC):
    """A family of tasks with a generator and a step-by-step solution renderer."""

    name: ClassVar[str]
    description: ClassVar[str]

    @abstractmethod
    def generate_one(self, rng: random.Random, task_id: str, seed: int) -> GeneratedTask:
        """Make one task from ``rng`` (the only source of randomness)."""

    @abstractmethod
    def render_solution(self, metadata: dict[str, Any]) -> list[np.ndarray]:
        """Keyframes of the correct solution, one per step, as HxWx3 uint8 arrays.

        ``[0]`` is pixel-identical to first_frame.png and ``[-1]`` to final_frame.png.
        """

    def task_rng(self, seed: int, index: int) -> random.Random:
        # One independent stream per task: task 7 is the same whether 10 or 1000 are made.
        return random.Random(f"vmevalkit:{self.name}:{seed}:{index}")

    def generate(self, count: int, seed: int = 0, start_index: int = 1) -> Iterator[GeneratedTask]:
        for index in range(start_index, start_index + count):
            task_id = f"{self.name}_{index:04d}"
            yield self.generate_one(self.task_rng(seed, index), task_id, seed)

"""The contract every task domain (maze, sliding puzzle, ...) implements.

A domain generates tasks deterministically from a seed and can render the
correct solution step by step from a task's metadata alone. That rendering is
what the ``oracle-solution`` baseline turns into a video, and what task
verifiers compare generated videos against.
"""

from __future__ import annotations

import inspect
import random
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from PIL import Image

from vmevalkit.tasks.render import FRAME_SIZE as FRAME_SIZE  # re-exported: the size every domain draws at

if TYPE_CHECKING:
    from vmevalkit.tasks.verifier import StateVerifier


# The abilities a domain tests; every domain has one, reports break results down by it.
CATEGORIES: dict[str, str] = {
    "spatial_planning": "plan a route or a sequence of moves in space",
    "abstraction": "find a rule from examples and apply it",
    "geometry": "rotate, reflect and read shapes and dials",
    "counting_arithmetic": "count objects and compute with numbers",
    "games": "find the winning move under a game's rules",
    "ordering": "put things in order by legal steps",
}
DIFFICULTIES: tuple[str, ...] = ("easy", "medium", "hard")


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
    """A family of tasks: a generator, a step-by-step solution renderer, a frame-reading verifier and a rubric.

    ``difficulty`` of ``generate_one`` is one of ``difficulties``; the caller draws it from the task's rng when
    none is asked for, so a task is the same whether or not its difficulty was named.
    """

    name: ClassVar[str]
    description: ClassVar[str]
    category: ClassVar[str]  # a key of CATEGORIES
    difficulties: ClassVar[tuple[str, ...]] = DIFFICULTIES
    # What a VLM judge is told about this domain: what the picture shows, what solves it, which moves are legal.
    rubric: ClassVar[str]
    verifier_class: ClassVar[type[StateVerifier]]  # reads a task's state from frames and judges its moves

    @abstractmethod
    def generate_one(self, rng: random.Random, task_id: str, seed: int, difficulty: str) -> GeneratedTask:
        """Make one task of ``difficulty`` from ``rng`` (the only source of randomness)."""

    @abstractmethod
    def render_solution(self, metadata: dict[str, Any]) -> list[np.ndarray]:
        """Keyframes of the correct solution, one per step, as HxWx3 uint8 arrays.

        ``[0]`` is pixel-identical to first_frame.png and ``[-1]`` to final_frame.png.
        """

    def task_rng(self, seed: int, index: int) -> random.Random:
        # One independent stream per task: task 7 is the same whether 10 or 1000 are made.
        return random.Random(f"vmevalkit:{self.name}:{seed}:{index}")

    def verifier(self, metadata: dict[str, Any]) -> StateVerifier:
        """The verifier of one task, built from its metadata alone."""
        return self.verifier_class(metadata)

    def solution_from_pictures(self, metadata: dict[str, Any], task_dir: Path) -> list[np.ndarray] | None:
        """Keyframes of an imported task's solution, cut from its own pictures; None where none can be drawn.

        An imported upstream task has no solution our renderer can draw, but the verifier that reads it holds
        every look it reads (cut from first_frame.png and final_frame.png), so it can lay them out step by step:
        a verifier offers that as ``solution_keyframes()``. The oracle baseline plays them, so it passes the
        task's own verifier rather than cross-fading to the answer.
        """
        build: Callable[..., StateVerifier] = self.verifier
        if "task_dir" not in inspect.signature(build).parameters:  # a domain that never reads a task's pictures
            return None
        verifier = build(metadata, task_dir=Path(task_dir))
        draw = getattr(verifier, "solution_keyframes", None)
        return list(draw()) if callable(draw) else None

    def generate(
        self, count: int, seed: int = 0, start_index: int = 1, difficulty: str | None = None
    ) -> Iterator[GeneratedTask]:
        if difficulty is not None and difficulty not in self.difficulties:
            raise ValueError(
                f"{self.name} has no difficulty '{difficulty}'; choose one of: {', '.join(self.difficulties)}"
            )
        for index in range(start_index, start_index + count):
            task_id = f"{self.name}_{index:04d}"
            rng = self.task_rng(seed, index)
            # Drawn even when one is asked for: the rest of the task's stream stays where it was.
            drawn = rng.choice(sorted(self.difficulties))
            task = self.generate_one(rng, task_id, seed, difficulty or drawn)
            task.metadata.setdefault("category", self.category)
            yield task

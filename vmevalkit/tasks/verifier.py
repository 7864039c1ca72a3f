"""A domain's verifier: its rules over states, read from every frame of a video, and the verdict on a video.

A verifier takes the task's rules from its ``question_metadata.json`` alone (never from ``final_frame.png``),
reads a state from each frame with a ``RegionReader`` built from the domain's own renders, and judges:

- ``end_state``: 1 when the video's last frame shows the solved state, else 0;
- ``process``: the share of the video's moves that are legal (1 when no move breaks a rule). Moves are counted
  between consecutive *different* states, starting from the task's initial state, so a video that never moves
  has made no illegal move (it fails on its end state instead). A video in which no frame shows the task gets 0;
- passed (``task_success``): both are perfect: the task is solved by legal moves.

A frame in which any region cannot be read shows no state and is skipped. A rule is judged between the states
that are read, so a piece that disappears and reappears three cells away still counts as a jump.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from vmevalkit.tasks.reading import RegionReader

State = tuple[Any, ...]  # a task's state: the dot's (row, col), the board's tiles, the grid's digits, ...


class NotVerifiable(ValueError):
    """A task of this domain whose state no picture of it can show: its message says which scorers can judge it.

    Unlike a task that lacks a key (rebuild or re-import it), nothing about the task folder would fix this.
    """


class StateVerifier(ABC):
    """A domain's rules over states, and how to read a state from a frame's cell labels."""

    domain: ClassVar[str]
    puzzle: ClassVar[str]  # what the frames must show, for reasons: "maze", "board", "grid"

    def __init__(self, metadata: dict[str, Any]) -> None:
        self.metadata = metadata
        self.reader = self.build_reader()
        self.initial, self.solved = self.initial_state(), self.solved_state()

    @abstractmethod
    def build_reader(self) -> RegionReader:
        """The reader of this task's frames: its regions and the domain's renders of every look."""

    @abstractmethod
    def initial_state(self) -> State: ...

    @abstractmethod
    def solved_state(self) -> State: ...

    @abstractmethod
    def state(self, labels: Sequence[Hashable | None]) -> State | None:
        """The state a frame shows, from its cell labels; None when it shows none."""

    @abstractmethod
    def move_error(self, before: State, after: State) -> str | None:
        """Why going from ``before`` to ``after`` breaks the rules, or None for a legal move."""

    def is_solved(self, state: State | None) -> bool:
        """Whether ``state`` answers the task; a domain with several right answers overrides this."""
        return state == self.solved

    @abstractmethod
    def end_error(self, state: State) -> str:
        """Why ``state`` (not the solved one) is not the answer."""

    def read_states(self, frames: np.ndarray) -> list[State | None]:
        return [None if None in labels else self.state(labels) for labels in self.reader.read(frames)]


@dataclass(frozen=True)
class Verdict:
    end_state: float
    process: float
    reason: str
    frames: int  # frames in the video
    frames_read: int  # frames that show a state
    moves: int  # legal moves seen
    violations: int  # illegal moves seen
    first_violation_frame: int | None

    @property
    def passed(self) -> bool:
        return self.end_state == 1.0 and self.process == 1.0

    def details(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "reason": self.reason,
            "first_violation_frame": self.first_violation_frame,
            "frames": self.frames,
            "frames_read": self.frames_read,
            "moves": self.moves,
            "violations": self.violations,
        }


def judge(verifier: StateVerifier, frames: np.ndarray) -> Verdict:
    """Read every frame's state, then judge each change of state and the last frame."""
    states = verifier.read_states(frames)
    read = [(index, state) for index, state in enumerate(states) if state is not None]

    current, moves, violations = verifier.initial, 0, 0
    first_violation: tuple[int, str] | None = None
    for index, state in read:
        if state == current:
            continue
        error = verifier.move_error(current, state)
        if error is None:
            moves += 1
        else:
            violations += 1
            first_violation = first_violation or (index, error)
        current = state  # judge what follows from where the video is now, legal or not

    last = states[-1]
    end_state = 1.0 if last is not None and verifier.is_solved(last) else 0.0
    if not read:
        process = 0.0  # nothing shown is no process at all, not a flawless one
    else:
        process = 1.0 if moves + violations == 0 else moves / (moves + violations)

    problems = []
    if not read:
        problems.append(f"no frame shows the task's {verifier.puzzle} as the task's renderer draws it")
    elif first_violation is not None:
        index, error = first_violation
        problems.append(f"frame {index}: {error} ({violations} illegal of {moves + violations} moves)")
    if read and end_state != 1.0:
        problems.append(verifier.end_error(last) if last is not None else f"the last frame shows no {verifier.puzzle}")
    reason = "; ".join(problems) or f"solved in {moves} legal moves"
    return Verdict(
        end_state=end_state,
        process=process,
        reason=reason,
        frames=len(states),
        frames_read=len(read),
        moves=moves,
        violations=violations,
        first_violation_frame=first_violation[0] if first_violation else None,
    )

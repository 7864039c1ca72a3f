"""The rules of a sudoku over states read from frames, shared by our sudokus and imported upstream ones.

A state is the grid's digits in row-major order, 0 for a blank. Givens never change; digits are filled in one at a
time and never erased or changed; the grid must end equal to the solution. Readers differ (our renderer's looks,
or looks cut from an upstream task's own pictures); the rules do not.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Hashable, Sequence

from vmevalkit.tasks.verifier import State, StateVerifier


class SudokuRules(StateVerifier):
    """A sudoku's moves and end state; a subclass builds the reader and says the grid's side (``grid_size``)."""

    @property
    @abstractmethod
    def grid_size(self) -> int:
        """Cells per side of the grid."""

    def state(self, labels: Sequence[Hashable | None]) -> State | None:
        return tuple(label for label in labels if isinstance(label, int))

    def _where(self, index: int) -> str:
        row, col = divmod(index, self.grid_size)
        return f"row {row + 1}, column {col + 1}"

    def move_error(self, before: State, after: State) -> str | None:
        changed = [i for i, (a, b) in enumerate(zip(before, after, strict=True)) if a != b]
        for i in changed:
            if before[i]:
                kind = "given" if self.initial[i] else "placed"
                change = "erased" if after[i] == 0 else f"changed to {after[i]}"
                return f"the {kind} digit {before[i]} at {self._where(i)} is {change}"
        if len(changed) > 1:
            return f"{len(changed)} digits appear at once; the task fills one cell at a time"
        return None

    def end_error(self, state: State) -> str:
        blank = sum(1 for digit in state if digit == 0)
        wrong = sum(1 for digit, right in zip(state, self.solved, strict=True) if digit and digit != right)
        return f"the grid ends with {blank} blank and {wrong} wrong cell(s)"

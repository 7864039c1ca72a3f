"""Task domains, found by name. Values are dotted paths, loaded only when used."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from vmevalkit.tasks.base import TaskDomain

DOMAINS: dict[str, str] = {
    "maze": "vmevalkit.tasks.maze:MazeDomain",
    "sliding_puzzle": "vmevalkit.tasks.sliding_puzzle:SlidingPuzzleDomain",
    "sudoku": "vmevalkit.tasks.sudoku:SudokuDomain",
}


class UnknownDomainError(KeyError):
    def __str__(self) -> str:  # KeyError would print the message quoted
        return str(self.args[0])


def get_domain(name: str) -> TaskDomain:
    from vmevalkit.utils.imports import load_object, suggest

    if name not in DOMAINS:
        raise UnknownDomainError(f"unknown task domain '{name}'{suggest(name, DOMAINS)}; known: {', '.join(DOMAINS)}")
    from vmevalkit.tasks.base import TaskDomain

    domain = load_object(DOMAINS[name])()
    if not isinstance(domain, TaskDomain):
        raise TypeError(f"{DOMAINS[name]} is not a TaskDomain")
    return domain

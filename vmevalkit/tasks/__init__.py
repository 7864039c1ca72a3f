"""Task domains, found by name. Values are dotted paths, loaded only when used."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from vmevalkit.tasks.base import TaskDomain

DOMAINS: dict[str, str] = {
    "arithmetic": "vmevalkit.tasks.arithmetic:ArithmeticDomain",
    "chess_mate": "vmevalkit.tasks.chess_mate:ChessMateDomain",
    "clock": "vmevalkit.tasks.clock:ClockDomain",
    "connect_four": "vmevalkit.tasks.connect_four:ConnectFourDomain",
    "counting": "vmevalkit.tasks.counting:CountingDomain",
    "graph_path": "vmevalkit.tasks.graph_path:GraphPathDomain",
    "lights_out": "vmevalkit.tasks.lights_out:LightsOutDomain",
    "maze": "vmevalkit.tasks.maze:MazeDomain",
    "pattern_continuation": "vmevalkit.tasks.pattern_continuation:PatternContinuationDomain",
    "raven": "vmevalkit.tasks.raven:RavenDomain",
    "rotation": "vmevalkit.tasks.rotation:RotationDomain",
    "sliding_puzzle": "vmevalkit.tasks.sliding_puzzle:SlidingPuzzleDomain",
    "sokoban": "vmevalkit.tasks.sokoban:SokobanDomain",
    "sort_bars": "vmevalkit.tasks.sort_bars:SortBarsDomain",
    "sudoku": "vmevalkit.tasks.sudoku:SudokuDomain",
    "symmetry": "vmevalkit.tasks.symmetry:SymmetryDomain",
    "tower_of_hanoi": "vmevalkit.tasks.tower_of_hanoi:TowerOfHanoiDomain",
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

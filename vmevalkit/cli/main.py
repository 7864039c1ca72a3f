"""The ``vmevalkit`` command and its subcommands (``generate``, ``score``, ``report``, ``run``, ``tasks``, ...).

Each subcommand is a module of this package, named after it (``evaluate-scorers``: ``evaluate_scorers.py``), with
``HELP``, ``DESCRIPTION``, ``add_arguments(parser)`` and ``run(args) -> exit code``. The scripts under
``examples/`` are the same subcommands on their own (``generate_main`` and the others below): the same flags, the
same function, the same exit codes.

Only the stdlib is imported here and at the top of every subcommand module: ``--help`` answers at once, listing
models never imports torch or any model code, and ``python -m vmevalkit local ...`` runs inside model virtualenvs,
which have none of the main environment's packages. Each command imports what it needs when it runs.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Protocol

from vmevalkit.cli import (
    annotate,
    benchmarks,
    compare,
    evaluate_scorers,
    generate,
    import_videos,
    local,
    models,
    report,
    run_suite,
    score,
    tasks,
)
from vmevalkit.cli.common import EXIT_USAGE


class Command(Protocol):
    """What a subcommand module holds (a module satisfies a Protocol through its module-level names)."""

    HELP: str
    DESCRIPTION: str

    def add_arguments(self, parser: argparse.ArgumentParser) -> None: ...

    def run(self, args: argparse.Namespace) -> int: ...


COMMANDS: dict[str, Command] = {
    "generate": generate,
    "score": score,
    "report": report,
    "evaluate-scorers": evaluate_scorers,
    "annotate": annotate,
    "run": run_suite,
    "benchmarks": benchmarks,
    "compare": compare,
    "models": models,
    "tasks": tasks,
    "import-videos": import_videos,
    "local": local,
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vmevalkit", description="Evaluate video generation models on reasoning tasks."
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, command in COMMANDS.items():
        command.add_arguments(sub.add_parser(name, help=command.HELP, description=command.DESCRIPTION))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    return COMMANDS[args.command].run(args)


# -- examples/*.py: one subcommand each, on its own -----------------------------------------


EXAMPLES = {
    "generate_videos.py": "generate",
    "score_videos.py": "score",
    "report.py": "report",
    "evaluate_scorers.py": "evaluate-scorers",
}


def example_parser(name: str, prog: str) -> argparse.ArgumentParser:
    """The parser of ``examples/<prog>``: subcommand ``name``'s flags and description under the script's name."""
    command = COMMANDS[name]
    parser = argparse.ArgumentParser(prog=prog, description=command.DESCRIPTION)
    command.add_arguments(parser)
    return parser


def _example(name: str, prog: str, argv: Sequence[str] | None) -> int:
    return COMMANDS[name].run(example_parser(name, prog).parse_args(argv))


def generate_main(argv: Sequence[str] | None = None) -> int:
    """``examples/generate_videos.py``: ``vmevalkit generate``."""
    return _example("generate", "generate_videos.py", argv)


def score_main(argv: Sequence[str] | None = None) -> int:
    """``examples/score_videos.py``: ``vmevalkit score``."""
    return _example("score", "score_videos.py", argv)


def report_main(argv: Sequence[str] | None = None) -> int:
    """``examples/report.py``: ``vmevalkit report``."""
    return _example("report", "report.py", argv)


def evaluate_scorers_main(argv: Sequence[str] | None = None) -> int:
    """``examples/evaluate_scorers.py``: ``vmevalkit evaluate-scorers``."""
    return _example("evaluate-scorers", "evaluate_scorers.py", argv)


if __name__ == "__main__":
    sys.exit(main())

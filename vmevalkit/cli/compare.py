"""``vmevalkit compare A.json B.json``: what differs between two suite results, config first, then scores.

The logic is ``vmevalkit.suites.result.compare``: the suite's hash, datasets, models (catalog entry, params, seeds,
checkpoint lock hashes), scorers (class, version, options), package versions and git commit, then each model's
composite, rank and criterion values with the change. Exit 0 when nothing differs ("no differences"), 1 when
something does, 2 when a file is not a readable result.
"""

from __future__ import annotations

import argparse

from vmevalkit.cli.common import EXIT_FAILED, EXIT_OK, EXIT_USAGE, error, guarded

HELP = "show what differs between two suite results (result.json of 'vmevalkit run'): config, then scores"
DESCRIPTION = (
    "Compare two result.json files written by 'vmevalkit run': first what made them (suite hash, datasets, "
    "models with their params, seeds and checkpoint hashes, scorer versions, packages, git commit), then the scores "
    "(composite, rank, every criterion) with the change from A to B. Exit 0: the same; 1: they differ; 2: a file "
    "is not a readable result."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("a", metavar="A.json", help="the first result (the baseline)")
    parser.add_argument("b", metavar="B.json", help="the second result: changes are shown from A to B")


def run(args: argparse.Namespace) -> int:
    return guarded(compare, args)


def compare(args: argparse.Namespace) -> int:
    from pathlib import Path

    from vmevalkit.cli.common import shown
    from vmevalkit.suites.result import ResultError, read_result
    from vmevalkit.suites.result import compare as differences

    try:
        a, b = read_result(Path(args.a)), read_result(Path(args.b))
    except ResultError as exc:
        error(str(exc))
        return EXIT_USAGE
    lines = differences(a, b)
    if not lines:
        print("no differences")
        return EXIT_OK
    for line in lines:
        print(shown(line))
    return EXIT_FAILED

"""``vmevalkit benchmarks``: the named benchmarks ``vmevalkit run NAME`` finds, and where each comes from.

The logic is ``vmevalkit.suites.registry``. Without a name: one block per benchmark (name, source, description,
file), what each shadows, and how to add one. With a name: the suite file's path alone, for scripts
(``cp "$(vmevalkit benchmarks quick)" mine.toml``). Exit 0, or 2 for an unknown name or a broken
``VMEVALKIT_BENCHMARKS``.
"""

from __future__ import annotations

import argparse

from vmevalkit.cli.common import EXIT_OK, EXIT_USAGE, error, guarded

HELP = "list the named benchmarks (shipped, VMEVALKIT_BENCHMARKS, entry points) that 'vmevalkit run NAME' runs"
DESCRIPTION = (
    "List the named benchmarks: those shipped with vmevalkit, the suite files and folders in $VMEVALKIT_BENCHMARKS, "
    "and those installed packages declare in the entry point group 'vmevalkit.benchmarks'. Where two share a name, "
    "$VMEVALKIT_BENCHMARKS wins over an entry point, which wins over a shipped one. With NAME, print its file."
)

WIDTH = 100


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", nargs="?", metavar="NAME", help="print only this benchmark's suite file path")


def run(args: argparse.Namespace) -> int:
    return guarded(benchmarks, args)


def benchmarks(args: argparse.Namespace) -> int:
    import textwrap

    from vmevalkit.cli.common import shown
    from vmevalkit.suites.registry import ENTRY_POINT_GROUP, ENV_VAR, list_benchmarks, resolve
    from vmevalkit.suites.schema import SuiteError

    try:
        if args.name:
            print(resolve(args.name))
            return EXIT_OK
        infos = list_benchmarks()
    except SuiteError as exc:
        error(str(exc))
        return EXIT_USAGE
    width = max((len(info.name) for info in infos), default=4)
    for info in infos:
        shadows = f"; shadows the {' and the '.join(info.shadows)} one" if info.shadows else ""
        print(f"{info.name.ljust(width)}  ({info.source}{shadows})")
        indent = " " * (width + 2)
        for line in textwrap.wrap(
            shown(info.description) or "(no description)", WIDTH - len(indent), break_on_hyphens=False
        ):
            print(indent + line)
        if info.path is not None:
            print(indent + shown(info.path))
    if not infos:
        print("no benchmarks")
    footer = (
        f"Run one: vmevalkit run NAME. Add yours: a suite file's path, ${ENV_VAR} (files or folders), or the entry "
        f"point group {ENTRY_POINT_GROUP}."
    )
    print("\n" + "\n".join(textwrap.wrap(footer, WIDTH)))
    return EXIT_OK

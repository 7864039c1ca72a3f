"""``install_model.sh --tiny``: build (and check) the tiny random checkpoint of a local model or scorer, by name.

Runs inside the model's or scorer's virtualenv (the package from the checkout on ``PYTHONPATH``)::

    envs/<name>/bin/python -m vmevalkit.cli.local_tiny ltx-video OUT_DIR [--check]

It looks the name up in the shipped catalogs (pure data, so nothing else of the main environment is needed) and
hands the entry's ``service`` and ``args`` to ``vmevalkit.workers.tiny``, which works on any class path.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def local_entry(name: str) -> dict[str, Any]:
    """The shipped catalog entry of a local model or local scorer (the user's extra catalogs are not read here)."""
    from vmevalkit.runner.MODEL_CATALOG import AVAILABLE_MODELS
    from vmevalkit.runner.SCORER_CATALOG import AVAILABLE_SCORERS

    entry = AVAILABLE_MODELS.get(name) or AVAILABLE_SCORERS.get(name)
    if entry is None or entry.get("kind") != "local":
        raise LookupError(f"'{name}' is not a local model or local scorer of the catalogs")
    return entry


def main(argv: Sequence[str] | None = None) -> int:
    from vmevalkit.workers import tiny

    parser = argparse.ArgumentParser(prog="python -m vmevalkit.cli.local_tiny", description=__doc__.split("\n")[0])
    parser.add_argument("name", help="a local model or local scorer (ltx-video, clip-score)")
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--check", action="store_true", help="then load it and run one small request on the CPU")
    args = parser.parse_args(argv)
    try:
        entry = local_entry(args.name)
    except LookupError as exc:
        parser.error(str(exc))
    tiny.build(entry["service"], args.out_dir)
    if args.check:
        print(json.dumps(tiny.check(entry["service"], args.out_dir, entry.get("args", {})), default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())

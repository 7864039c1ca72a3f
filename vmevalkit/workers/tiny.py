"""Tiny random-weight checkpoints of any worker service, for tests and install checks.

Run inside a model's or scorer's virtualenv (the package comes from the checkout on ``PYTHONPATH``)::

    envs/<name>/bin/python -m vmevalkit.workers.tiny SERVICE OUT_DIR [--check] [--args-json JSON]

``SERVICE`` is the ``module:Class`` of a ``WorkerService`` (a catalog entry's ``service``; ``vmevalkit
local-service NAME`` prints it). The class builds its own checkpoint (``build_tiny``) from small configs, tokenizers
included (built here, never downloaded), with ``save_pretrained``, so the production ``from_pretrained`` code loads
it exactly as it loads a real checkpoint. ``--check`` then loads it with that production code on the CPU, runs one
small request (``check_tiny``: a few frames, or two small videos scored) and prints what came out as JSON;
``--args-json`` gives the catalog entry's ``args`` for it.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from vmevalkit.utils.imports import load_object
from vmevalkit.workers.service import WorkerService


def service_class(path: str) -> type[WorkerService]:
    """A ``WorkerService`` subclass by ``module:Class``."""
    cls = load_object(path)
    if not (isinstance(cls, type) and issubclass(cls, WorkerService)):
        raise TypeError(f"{path} is not a WorkerService (a LocalPipeline or LocalScorerModel subclass)")
    return cls


def build(path: str, out_dir: Path) -> Path:
    """Write the tiny checkpoint of ``path``'s class to ``out_dir`` (created); it must hold the class's marker."""
    cls = service_class(path)
    out_dir.mkdir(parents=True, exist_ok=True)
    cls.build_tiny(out_dir)
    if not (out_dir / cls.checkpoint_marker).is_file():
        raise RuntimeError(f"{path}: build_tiny wrote no {cls.checkpoint_marker} in {out_dir}")
    return out_dir


def check(path: str, checkpoint_dir: Path, args: dict[str, Any] | None = None) -> dict[str, Any]:
    """Load ``checkpoint_dir`` with the production class on the CPU and run one small request."""
    return service_class(path).check_tiny(checkpoint_dir, dict(args or {}))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vmevalkit.workers.tiny", description=__doc__.split("\n")[0])
    parser.add_argument("service", help="module:Class of a LocalPipeline or LocalScorerModel")
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--check", action="store_true", help="then load it and run one small request on the CPU")
    parser.add_argument("--args-json", default="{}", help="the catalog entry's args, for --check (a JSON object)")
    args = parser.parse_args(argv)
    options = json.loads(args.args_json)
    if not isinstance(options, dict):
        parser.error("--args-json must be a JSON object")
    build(args.service, args.out_dir)
    if args.check:
        print(json.dumps(check(args.service, args.out_dir, options), default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Tiny random-weight checkpoints of any worker service, for tests and install checks.

Run inside a model's or scorer's virtualenv (the package comes from the checkout on ``PYTHONPATH``), by the name of
a catalog entry or by the ``module:Class`` of any ``WorkerService``::

    envs/<name>/bin/python -m vmevalkit local tiny NAME|SERVICE OUT_DIR [--check] [--args-json JSON]

The class builds its own checkpoint (``build_tiny``) from small configs, tokenizers included (built here, never
downloaded), with ``save_pretrained``, so the production ``from_pretrained`` code loads it exactly as it loads a
real checkpoint. ``--check`` then loads it with that production code on the CPU, runs one
small request (``check_tiny``: a few frames, or two small videos scored) and prints what came out as JSON;
``--args-json`` gives the catalog entry's ``args`` for it.
"""

from __future__ import annotations

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

"""Tiny random-weight checkpoints of any worker service, for tests and install checks.

Run inside a model's or scorer's virtualenv (the package comes from the checkout on ``PYTHONPATH``), by the name of
a catalog entry or by the ``module:Class`` of any ``WorkerService``::

    envs/<name>/bin/python -m vmevalkit local tiny NAME|SERVICE OUT_DIR [--check] [--args-json JSON]

The class builds its own checkpoint (``build_tiny``) from small configs, tokenizers included (built here, never
downloaded), with ``save_pretrained``, so the production ``from_pretrained`` code loads it exactly as it loads a
real checkpoint. ``--check`` then loads it with that production code on the CPU, runs one
small request (``check_tiny``: a few frames, or two small videos scored) and prints what came out as JSON;
``--args-json`` gives the catalog entry's ``args`` for it.

A generator's tiny checkpoint also holds ``vmevalkit.tiny.json`` (``TINY_MARKER``): its family's small size, frame
count and steps. The local executor uses them as the defaults of a run on that folder, so ``--checkpoint
weights/tiny/<model>`` makes a few small frames in seconds instead of the catalog's full-size video, which would
take hours of CPU on random weights.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from vmevalkit.utils.imports import load_object
from vmevalkit.workers.service import WorkerService

# Written into a generator's tiny checkpoint folder: the defaults a run on it uses (keys of ``TINY_KEYS``).
TINY_MARKER = "vmevalkit.tiny.json"
TINY_KEYS = ("width", "height", "num_frames", "steps")


def write_tiny_marker(out_dir: Path, settings: dict[str, Any]) -> None:
    """Record a family's ``tiny_settings`` (the keys a run reads) in its tiny checkpoint folder."""
    small = {key: int(settings[key]) for key in TINY_KEYS if key in settings}
    (out_dir / TINY_MARKER).write_text(json.dumps({"tiny": True, **small}, indent=2) + "\n", encoding="utf-8")


def read_tiny_marker(checkpoint_dir: Path) -> dict[str, int] | None:
    """The small defaults of a tiny checkpoint folder; None for any other folder (or an unreadable marker, which
    then counts as no marker: the catalog's defaults, never a crash)."""
    try:
        data = json.loads((checkpoint_dir / TINY_MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    return {
        key: data[key]
        for key in TINY_KEYS
        if isinstance(data.get(key), int) and not isinstance(data[key], bool) and data[key] > 0
    }


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
    small = getattr(cls, "tiny_settings", None)  # generators (LocalPipeline) have them; scorers need none
    if isinstance(small, dict):
        write_tiny_marker(out_dir, small)
    return out_dir


def check(path: str, checkpoint_dir: Path, args: dict[str, Any] | None = None) -> dict[str, Any]:
    """Load ``checkpoint_dir`` with the production class on the CPU and run one small request."""
    return service_class(path).check_tiny(checkpoint_dir, dict(args or {}))

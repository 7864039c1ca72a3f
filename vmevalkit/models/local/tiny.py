"""Tiny random-weight checkpoints of every local model family, for tests and smoke checks.

Each family class builds its own (``LocalPipeline.build_tiny``) from small configs, tokenizers
included (built locally, never downloaded), and ``save_pretrained``s it, so the production
``from_pretrained`` path loads it exactly as it loads a real checkpoint.

Run inside a model's virtualenv::

    envs/<model>/bin/python -m vmevalkit.models.local.tiny ltx-video OUT_DIR [--check]

``--check`` then loads it with the family's production code on the CPU, generates a few frames,
and prints what came out as JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from vmevalkit.models.local.pipeline import LocalPipeline
from vmevalkit.utils.imports import load_object

TINY_DEFAULTS: dict[str, Any] = {
    "checkpoint": "tiny",
    "height": 32,
    "width": 32,
    "num_frames": 9,
    "fps": 8,
    "steps": 2,
    "guidance_scale": 1.0,
    "min_gpu_memory_gb": 0,
}


def family_class(service_path: str) -> type[LocalPipeline]:
    """A family class by dotted path, or by the name of a local model in the catalog."""
    if ":" not in service_path:
        from vmevalkit.runner.MODEL_CATALOG import AVAILABLE_MODELS  # pure data: fine inside a model venv

        entry = AVAILABLE_MODELS.get(service_path)
        if entry is None or entry.get("kind") != "local":
            raise LookupError(f"'{service_path}' is neither module:Class nor a local model of the catalog")
        service_path = entry["service_class"]
    cls = load_object(service_path)
    if not (isinstance(cls, type) and issubclass(cls, LocalPipeline)):
        raise TypeError(f"{service_path} is not a LocalPipeline subclass")
    return cls


def build(service_path: str, out_dir: Path) -> Path:
    """Write the tiny checkpoint of ``service_path``'s family to ``out_dir`` (created)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    family_class(service_path).build_tiny(out_dir)
    if not (out_dir / "model_index.json").is_file():
        raise RuntimeError(f"{service_path}.build_tiny wrote no model_index.json in {out_dir}")
    return out_dir


def check(service_path: str, checkpoint_dir: Path, prompt: str = "a tiny test") -> dict[str, Any]:
    """Load a tiny checkpoint with the production class on the CPU and generate a few frames."""
    from PIL import Image

    cls = family_class(service_path)
    settings = {**TINY_DEFAULTS, **cls.tiny_settings}
    service = cls("tiny", **settings)
    service.setup(checkpoint_dir, "cpu")
    image = Image.new("RGB", (64, 64), (200, 30, 30))
    frames = service.predict(
        image,
        prompt,
        seed=0,
        num_frames=settings["num_frames"],
        height=settings["height"],
        width=settings["width"],
    )
    first = frames[0]
    return {
        "frames": len(frames),
        "height": int(first.shape[0]),
        "width": int(first.shape[1]),
        "dtype": str(first.dtype),
    }


def _is_scorer(service: str) -> bool:
    if ":" in service:
        from vmevalkit.scoring.local.model import LocalScorerModel

        cls = load_object(service)
        return isinstance(cls, type) and issubclass(cls, LocalScorerModel)
    from vmevalkit.scoring.SCORER_CATALOG import AVAILABLE_SCORERS

    return AVAILABLE_SCORERS.get(service, {}).get("kind") == "local"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vmevalkit.models.local.tiny", description=__doc__.split("\n")[0])
    parser.add_argument(
        "service", help="a local model name (ltx-video) or a family class (vmevalkit.models.local.ltx:LTXVideo)"
    )
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--check", action="store_true", help="then load it and generate a few frames on the CPU")
    args = parser.parse_args(argv)
    if _is_scorer(args.service):  # install_model.sh --tiny builds scorers' checkpoints too
        from vmevalkit.scoring.local import tiny as scorer_tiny

        return scorer_tiny.main([args.service, str(args.out_dir), *(["--check"] if args.check else [])])
    build(args.service, args.out_dir)
    if args.check:
        print(json.dumps(check(args.service, args.out_dir)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

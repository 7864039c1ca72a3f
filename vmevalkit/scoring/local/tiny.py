"""Tiny random-weight checkpoints of the local scorer families, for tests and install checks.

Run inside a scorer's virtualenv (the package comes from the checkout on ``PYTHONPATH``)::

    envs/<scorer>/bin/python -m vmevalkit.scoring.local.tiny clip-score OUT_DIR [--check]

``--check`` then loads the checkpoint with the family's production ``setup`` on the CPU, scores two small videos
it writes itself (a moving square, and a still one), and prints the scores and details as JSON.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from vmevalkit.scoring.base import ScoreItem
from vmevalkit.scoring.local.model import LocalScorerModel
from vmevalkit.utils.imports import load_object


def scorer_entry(name: str) -> dict[str, Any]:
    from vmevalkit.scoring.SCORER_CATALOG import AVAILABLE_SCORERS  # pure data: fine inside a scorer venv

    entry = AVAILABLE_SCORERS.get(name)
    if entry is None or entry.get("kind") != "local":
        raise LookupError(f"'{name}' is neither module:Class nor a local scorer of the scorer catalog")
    return entry


def family_class(service: str) -> type[LocalScorerModel]:
    """A scorer family class by dotted path, or by the name of a local scorer in the catalog."""
    path = service if ":" in service else scorer_entry(service)["service_class"]
    cls = load_object(path)
    if not (isinstance(cls, type) and issubclass(cls, LocalScorerModel)):
        raise TypeError(f"{path} is not a LocalScorerModel subclass")
    return cls


def tiny_options(service: str) -> dict[str, Any]:
    """Constructor keywords for the tiny checkpoint: the catalog entry's args, then the family's ``tiny_args``."""
    cls = family_class(service)
    args = {} if ":" in service else dict(scorer_entry(service).get("args", {}))
    args.pop("checkpoint", None)
    return {**args, **cls.tiny_args}


def build(service: str, out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    cls = family_class(service)
    cls.build_tiny(out_dir)
    if not (out_dir / cls.checkpoint_marker).is_file():
        raise RuntimeError(f"{service}: build_tiny wrote no {cls.checkpoint_marker} in {out_dir}")
    return out_dir


def sample_items(folder: Path, prompt: str = "Move the green dot to the red square.") -> list[ScoreItem]:
    """Two small generations on disk: a square that moves, and a video that never changes."""
    from PIL import Image

    from vmevalkit.video import write_video

    def frames(moving: bool) -> list[np.ndarray]:
        out = []
        for t in range(12):
            frame = np.full((64, 64, 3), 255, np.uint8)
            x = 4 + (4 * t if moving else 0)
            frame[24:36, x : x + 12] = (30, 160, 60)
            out.append(frame)
        return out

    items = []
    for name, moving in (("moving", True), ("still", False)):
        run = folder / name
        (run / "question").mkdir(parents=True)
        clip = frames(moving)
        first = run / "question" / "first_frame.png"
        Image.fromarray(clip[0]).save(first)
        video = run / "video.mp4"
        write_video(clip, video, fps=8)
        items.append(
            ScoreItem(
                generation_dir=run,
                model="tiny-check",
                task_id=f"maze_{name}",
                domain="maze",
                video_path=video,
                prompt=prompt,
                first_frame=first,
            )
        )
    return items


def check(service: str, checkpoint_dir: Path, **score_kwargs: Any) -> dict[str, Any]:
    """Load ``checkpoint_dir`` with the production class on the CPU and score two small videos."""
    cls = family_class(service)
    scorer = cls("tiny", **tiny_options(service))
    scorer.setup(checkpoint_dir, "cpu")
    with tempfile.TemporaryDirectory(prefix="vmevalkit-tiny-scorer-") as tmp:
        items = sample_items(Path(tmp))
        batch = scorer.score(items, **score_kwargs)
    scores = np.asarray(batch.scores, dtype=np.float64)
    return {
        "dimensions": list(cls.dimensions),
        "shape": list(scores.shape),
        "scores": [[v if math.isfinite(v) else None for v in row] for row in scores.tolist()],
        "details": batch.details,
        "dtype": scorer.dtype,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vmevalkit.scoring.local.tiny", description=__doc__.split("\n")[0])
    parser.add_argument("service", help="a local scorer name (clip-score) or a family class (module:Class)")
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--check", action="store_true", help="then load it and score two small videos on the CPU")
    args = parser.parse_args(argv)
    build(args.service, args.out_dir)
    if args.check:
        print(json.dumps(check(args.service, args.out_dir), default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())

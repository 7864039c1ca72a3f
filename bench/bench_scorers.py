"""Local scorer served by one persistent worker vs a fresh worker per batch, on the tiny clip-score checkpoint.

    .venv/bin/python bench/bench_scorers.py                  # defaults: --videos 24 --batch-size 4
    .venv/bin/python bench/bench_scorers.py --videos 8       # quicker

Needs the clip-score venv and its tiny checkpoint; by default the ones the tests build
(.cache/test-models, made by `bash setup/install_model.sh clip-score --tiny` on first use).

- **ours**: `ScoringRunner` over a `LocalScorer`: one worker imports torch and transformers, loads the model once
  and scores every batch.
- **naive**: the same runner and worker, but a new `LocalScorer` per batch, so every batch pays a process start,
  the imports and the model load (what a scorer run as a one-shot script per batch pays).

Both score the same videos and must give the same scores (checked). Prints wall times and the ratio naive/ours.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

CACHE = REPO / ".cache" / "test-models"
SCORER = "clip-score"


def ensure_venv() -> tuple[Path, Path]:
    envs, weights = CACHE / "envs", CACHE / "weights"
    tiny = weights / "tiny" / SCORER
    if not (tiny / "config.json").is_file() or not (envs / SCORER / "bin" / "python").exists():
        env = {
            **os.environ,
            "VMEVALKIT_ENVS_DIR": str(envs),
            "VMEVALKIT_WEIGHTS_DIR": str(weights),
            "VMEVALKIT_PYTHON": sys.executable,
        }
        subprocess.run(["bash", str(REPO / "setup" / "install_model.sh"), SCORER, "--tiny"], env=env, check=True)
    return envs, tiny


def experiment(root: Path, videos: int) -> Path:
    from vmevalkit.runner.inference import InferenceRunner
    from vmevalkit.tasks.loader import load_tasks
    from vmevalkit.tasks.writer import build_dataset

    models = ["oracle-solution", "static-first-frame"]
    # The three domains earlier figures were measured on (bench_tasks.py covers every domain).
    build_dataset(
        root / "questions",
        domains=["maze", "sliding_puzzle", "sudoku"],
        per_domain=-(-videos // (3 * len(models))),
        seed=0,
    )
    tasks = load_tasks(root / "questions").tasks[: -(-videos // len(models))]
    runner = InferenceRunner(output_dir=root / "outputs", experiment="bench", duration=2.0)
    runner.run(models, tasks)
    return runner.experiment_dir


def score_all(generations: list[Any], tiny: Path, batch_size: int, per_batch_worker: bool) -> tuple[float, list]:
    from vmevalkit.scoring.runner import ScoringRunner, load_catalog_scorer

    started = time.perf_counter()
    outcomes: list = []
    chunks = [generations[i : i + batch_size] for i in range(0, len(generations), batch_size)]
    scorer = None
    for chunk in chunks if per_batch_worker else [generations]:
        scorer = load_catalog_scorer(SCORER, checkpoint=str(tiny), device="cpu")
        try:
            runner = ScoringRunner(
                scorer, name=f"{SCORER}-{'naive' if per_batch_worker else 'ours'}", batch_size=batch_size
            )
            outcomes += runner.run(chunk).outcomes
        finally:
            scorer.close()
    return time.perf_counter() - started, outcomes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--videos", type=int, default=24)
    parser.add_argument("--batch-size", type=int, default=4)
    args = parser.parse_args()
    envs, tiny = ensure_venv()
    os.environ["VMEVALKIT_ENVS_DIR"] = str(envs)
    from vmevalkit.scoring.runner import find_generations

    with tempfile.TemporaryDirectory(prefix="vmevalkit-bench-scorers-") as tmp:
        generations = find_generations(experiment(Path(tmp), args.videos))[: args.videos]
        ours, ours_out = score_all(generations, tiny, args.batch_size, per_batch_worker=False)
        naive, naive_out = score_all(generations, tiny, args.batch_size, per_batch_worker=True)
    bad = [o for o in ours_out + naive_out if o.status != "scored"]
    same = [o.record.dimensions for o in ours_out] == [o.record.dimensions for o in naive_out]
    batches = -(-len(generations) // args.batch_size)
    print(f"{len(generations)} videos, batch size {args.batch_size} ({batches} batches), tiny {SCORER} on CPU")
    print(f"ours  (one worker)        : {ours:7.2f} s  ({ours / len(generations) * 1000:.0f} ms per video)")
    print(f"naive (a worker per batch): {naive:7.2f} s  ({naive / len(generations) * 1000:.0f} ms per video)")
    print(f"ratio naive/ours          : {naive / ours:.1f}x")
    if bad or not same:
        print(f"FAILED: {len(bad)} unscored, scores identical: {same}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

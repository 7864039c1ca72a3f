"""Scoring throughput of the builtin scorers (task-verifier + frame-match) on one core and on every core.

    .venv/bin/python bench/bench_scoring.py                  # defaults: --videos 180 --batch-size 2
    .venv/bin/python bench/bench_scoring.py --videos 60      # quicker

The generations are synthesised first (the oracle-solution, static-first-frame and shortcut-cut baselines over
freshly built tasks, in a temp dir, removed afterwards), then copied, and each copy is scored by the same
`ScoringRunner` the CLI uses:

- **one core**: `workers=1`, the scorers in this process (what `vmevalkit score --workers 1` does);
- **all cores**: `workers=<usable cores>` with the spec the CLI builds for a builtin scorer: a pool of spawned
  children, the parent writing every score file.

Prints both wall times, the throughput (videos per second, both scorers), the speed-up and the target, at least
0.8 x cores (PASS/MISS: it depends on the machine's load, so a miss does not fail the run).

Then the small run (`--small`, default 18 videos), where starting children costs more than it saves: one process,
the pool forced to start a child per batch as it did before the small-run rule (`min_items_per_child=1`), and the
rule itself (`MIN_ITEMS_PER_CHILD`, which scores it in one process); and what the rule is chosen from: each
scorer's time per video in one process and the start of one child (spawn, imports, the scorer built, one video
scored, less that video's time).

Exits 1 only when a correctness check fails: a video not scored, or any score file differing between the runs
apart from its `scored_at`.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

SCORERS = ("task-verifier", "frame-match")
MODELS = ("oracle-solution", "static-first-frame", "shortcut-cut")
TARGET_PER_CORE = 0.8


def synthesise(root: Path, videos: int, duration: float) -> Path:
    """An experiment of at least ``videos`` generations of the baselines, made by the real runner."""
    from vmevalkit.runner.inference import InferenceRunner
    from vmevalkit.tasks.loader import load_tasks
    from vmevalkit.tasks.writer import build_dataset

    tasks_needed = -(-videos // len(MODELS))
    # The three domains earlier figures were measured on (bench_tasks.py covers every domain).
    build_dataset(
        root / "questions", domains=["maze", "sliding_puzzle", "sudoku"], per_domain=-(-tasks_needed // 3), seed=0
    )
    tasks = load_tasks(root / "questions").tasks[:tasks_needed]
    runner = InferenceRunner(output_dir=root / "outputs", experiment="bench", duration=duration)
    summary = runner.run(list(MODELS), tasks)
    if summary.completed != len(MODELS) * len(tasks):
        raise SystemExit(f"FAILED: only {summary.completed} of {len(MODELS) * len(tasks)} generations completed")
    return runner.experiment_dir


@dataclass
class Run:
    wall_s: float
    parent_cpu_s: float  # this process: the scan (every video decoded once), the writes, and in one process the scoring
    children_cpu_s: float  # the pool's children: the scoring
    not_scored: int


def cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def score(experiment: Path, videos: int, batch_size: int, workers: int, min_items_per_child: int | None = None) -> Run:
    """Both scorers over the first ``videos`` generations: wall time, CPU time, outcomes that were not scored.
    ``min_items_per_child`` None is the runner's own rule (``MIN_ITEMS_PER_CHILD``)."""
    from vmevalkit.scoring.pool import MIN_ITEMS_PER_CHILD, ScorerSpec
    from vmevalkit.scoring.runner import ScoringRunner, find_generations, load_catalog_scorer

    generations = find_generations(experiment)[:videos]
    not_scored = 0
    own, children = cpu(resource.RUSAGE_SELF), cpu(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    for name in SCORERS:
        spec = ScorerSpec(catalog_name=name) if workers > 1 else None
        runner = ScoringRunner(
            load_catalog_scorer(name),
            batch_size=batch_size,
            workers=workers,
            spec=spec,
            min_items_per_child=min_items_per_child or MIN_ITEMS_PER_CHILD,
        )
        not_scored += sum(o.status != "scored" for o in runner.run(generations).outcomes)
    wall = time.perf_counter() - started
    return Run(wall, cpu(resource.RUSAGE_SELF) - own, cpu(resource.RUSAGE_CHILDREN) - children, not_scored)


def costs(experiment: Path, videos: int) -> dict[str, tuple[float, float]]:
    """Per scorer: seconds per video in this process, and seconds to start one child (to its first answer, less
    the video it scored)."""
    from vmevalkit.scoring.pool import ScorerPool, ScorerSpec
    from vmevalkit.scoring.runner import find_generations, items_for, load_catalog_scorer, score_in_child

    generations = find_generations(experiment)[:videos]
    found = {}
    for name in SCORERS:
        scorer = load_catalog_scorer(name)
        items = [items_for(scorer, g) for g in generations]
        scorer.score_batch(items[:1])  # warm: first-call imports are the child's start cost, not a video's
        started = time.perf_counter()
        scorer.score_batch(items)
        per_video = (time.perf_counter() - started) / len(items)
        starts = []
        for _ in range(3):
            started = time.perf_counter()
            with ScorerPool(score_in_child, ScorerSpec(catalog_name=name), 1) as pool:
                pool.submit(0, items[:1])
                ((_, reply),) = pool.wait()
                if reply.kind != "ok":
                    raise SystemExit(f"FAILED: the child of {name} answered {reply.kind}: {reply.message}")
            starts.append(time.perf_counter() - started - per_video)
        found[name] = (per_video, sorted(starts)[1])
    return found


def small_run(root: Path, videos: int, batch_size: int, workers: int) -> bool:
    """The small run three ways, and the costs the rule is chosen from; False when a correctness check fails."""
    from vmevalkit.scoring.pool import MIN_ITEMS_PER_CHILD, children_for

    made = {label: root / label for label in ("one", "forced", "rule")}
    synthesise(made["one"], videos, 2.0)
    for label in ("forced", "rule"):
        shutil.copytree(made["one"], made[label])
    runs = {
        "one process (--workers 1)": score(made["one"] / "outputs" / "bench", videos, batch_size, 1),
        f"pool, a child per batch (--workers {workers}, before)": score(
            made["forced"] / "outputs" / "bench", videos, batch_size, workers, min_items_per_child=1
        ),
        f"the rule (--workers {workers}, now)": score(made["rule"] / "outputs" / "bench", videos, batch_size, workers),
    }
    batches = -(-videos // batch_size)
    print(
        f"small run: {videos} videos, batch size {batch_size}; the rule starts "
        f"{children_for(videos, batches, workers)} process(es) (MIN_ITEMS_PER_CHILD = {MIN_ITEMS_PER_CHILD})"
    )
    for label, run in runs.items():
        print(f"  {label:<44}: {run.wall_s:6.2f} s")
    for name, (per_video, start) in costs(made["one"] / "outputs" / "bench", videos).items():
        print(
            f"  {name:<14}: {per_video * 1000:5.0f} ms per video, {start * 1000:5.0f} ms to start a child: "
            f"a second child pays from about {2 * start / per_video:.0f} videos"
        )
    files = [score_files(made[label]) for label in ("one", "forced", "rule")]
    same = files[0] == files[1] == files[2] and bool(files[0])
    print(f"  score files identical: {same} ({len(files[0])} files each, apart from scored_at)")
    return same and not any(run.not_scored for run in runs.values())


def score_files(root: Path) -> dict[str, bytes]:
    """Every score file by its path under ``root``, byte for byte apart from ``scored_at``."""
    return {
        p.relative_to(root).as_posix(): re.sub(rb'"scored_at": *"[^"]*"', b"", p.read_bytes())
        for p in sorted(root.rglob("scores/*.json"))
    }


def main() -> int:
    from vmevalkit.scoring.pool import usable_cores

    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--videos", type=int, default=180, help="generations to score (default: 180)")
    parser.add_argument("--batch-size", type=int, default=2, help="videos per score_batch call (default: 2)")
    parser.add_argument("--duration", type=float, default=2.0, help="seconds of each video (default: 2)")
    parser.add_argument("--workers", type=int, default=usable_cores(), help="processes for the pool (default: cores)")
    parser.add_argument(
        "--small", type=int, default=18, help="videos of the small run (default: 18; 0 skips it)", metavar="N"
    )
    parser.add_argument(
        "--small-batch-size", type=int, default=8, help="batch size of the small run (default: 8, the CLI's)"
    )
    args = parser.parse_args()
    if args.videos < 1 or args.batch_size < 1 or args.workers < 2 or args.small < 0 or args.small_batch_size < 1:
        parser.error("--videos and the batch sizes must be at least 1, --workers at least 2, --small at least 0")

    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="vmevalkit-bench-scoring-") as tmp:
        made = time.perf_counter()
        one_dir = synthesise(Path(tmp) / "one", args.videos, args.duration)
        made = time.perf_counter() - made
        all_dir = Path(tmp) / "all"
        shutil.copytree(one_dir, all_dir)
        one = score(one_dir, args.videos, args.batch_size, workers=1)
        pool = score(all_dir, args.videos, args.batch_size, workers=args.workers)
        one_files, all_files = score_files(one_dir), score_files(all_dir)

    videos = min(args.videos, len(one_files) // len(SCORERS))
    speedup = one.wall_s / pool.wall_s
    target = TARGET_PER_CORE * args.workers
    print(
        f"{videos} videos ({', '.join(MODELS)}; {args.duration:g} s each, synthesised in {made:.1f} s), "
        f"scorers {' + '.join(SCORERS)}, batch size {args.batch_size}, {usable_cores()} usable cores"
    )
    for label, run in (("one core  (--workers 1)", one), (f"all cores (--workers {args.workers})", pool)):
        print(
            f"{label:<26}: {run.wall_s:7.2f} s  {videos / run.wall_s:6.1f} videos/s  "
            f"CPU: this process {run.parent_cpu_s:.1f} s, children {run.children_cpu_s:.1f} s"
        )
    verdict = "PASS" if speedup >= target else "MISS"
    print(
        f"speed-up                  : {speedup:.2f}x  "
        f"(target >= {TARGET_PER_CORE} x {args.workers} = {target:.1f}x) {verdict}"
    )
    pool_cpu = pool.parent_cpu_s + pool.children_cpu_s
    print(
        f"CPU all cores / one core  : {pool_cpu / (one.parent_cpu_s + one.children_cpu_s):.2f}x (the pool's overhead)"
    )
    print(f"load average              : {load_before:.2f} before, {os.getloadavg()[0]:.2f} after")
    same = one_files == all_files
    print(f"score files identical     : {same} ({len(one_files)} files, apart from scored_at)")
    if one.not_scored or pool.not_scored or not same or not one_files:
        print(f"FAILED: {one.not_scored} + {pool.not_scored} outcomes not scored, files identical: {same}")
        return 1
    if args.small:
        with tempfile.TemporaryDirectory(prefix="vmevalkit-bench-scoring-small-") as tmp:
            if not small_run(Path(tmp), args.small, args.small_batch_size, args.workers):
                print("FAILED: the small run's score files differ, or a video was not scored")
                return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

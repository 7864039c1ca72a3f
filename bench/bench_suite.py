"""The overhead of ``vmevalkit run`` at scale: planning, bookkeeping and aggregation for 10,000 generations x 3
scorers, against the work itself.

    python bench/bench_suite.py                      # defaults: --tasks 1667 (x 3 models x 2 seeds = 10,002)
    python bench/bench_suite.py --tasks 200          # quicker

Setup (not timed): ``--tasks`` sort_bars tasks are written as a local dataset; a suite names the three baselines
at two seeds each, three scorers (task-verifier, frame-match, trajectory-match) and four criteria (one an
expression) with 1,000 bootstrap resamples. Every planned generation is then given a completed record, a video
(one small mp4, hard-linked) and three score files, as if generation and scoring had run.

Timed, as ``vmevalkit run`` does them on a suite whose generations and scores are all there:

- **plan**: the questions folder taken as built (its manifest), the tasks loaded, every generation planned;
- **fingerprint**: one stat per score file, with each generation's planned state (what says whether scoring
  or the result is stale);
- **collect**: every planned record and score file read into the criteria's items;
- **evaluate**: the criteria, composite, ranks, per-category breakdown and bootstrap intervals;
- **result**: result.json, metrics.json and leaderboard.csv built and written.

**The work itself** is measured on the same machine: the real ``vmevalkit generate`` of the cheapest model
(static-first-frame) and ``vmevalkit score`` with the same three scorers over 12 tasks, per generation, times the
generations of the suite. The overhead is printed in seconds (target: at most 2 s) and as a share of that work.
Timings depend on the machine and its load: compare runs on the same machine only.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

SCORERS = ("task-verifier", "frame-match", "trajectory-match")
SUITE = {
    "name": "bench",
    "duration": 1.0,
    "datasets": [{"kind": "local", "path": "questions"}],
    "models": [{"name": m, "samples": 2} for m in ("oracle-solution", "shortcut-cut", "static-first-frame")],
    "scorers": [{"name": s} for s in SCORERS],
    "criteria": [
        {"name": "success", "metric": "task-verifier.task_success", "weight": 2, "threshold": 0.5},
        {"name": "end", "metric": "task-verifier.end_state", "aggregate": "success_rate"},
        {"name": "ssim", "metric": "frame-match.final_ssim", "weight": 0.5},
        {"name": "gap", "expr": "end - success", "goal": "min"},
    ],
    "bootstrap": {"samples": 1000},
}


def fake_outputs(plan: object, video: Path) -> None:
    """Every planned generation completed and scored: what generate and score would have left."""
    from vmevalkit.runner.records import METADATA_FILE, GenerationRecord
    from vmevalkit.scoring.runner import SCORES_DIR

    size = video.stat().st_size
    for model in plan.models:  # type: ignore[attr-defined]
        for n, item in enumerate(model.items):
            spec = item.spec
            run_dir = item.run_dir
            (run_dir / "video").mkdir(parents=True, exist_ok=True)
            target = run_dir / "video" / "video.mp4"
            if not target.exists():
                os.link(video, target)
            record = GenerationRecord(
                status="completed",
                model=spec.entry.name,
                model_id=spec.entry.model,
                family=spec.entry.family,
                kind=spec.entry.kind,
                task_id=spec.task.task_id,
                domain=spec.task.domain,
                run_id=spec.run_id,
                seed=spec.seed,
                duration=spec.duration,
                prompt=spec.task.prompt,
                video="video/video.mp4",
                video_size=size,
            )
            (run_dir / METADATA_FILE).write_text(record.model_dump_json())
            (run_dir / SCORES_DIR).mkdir(exist_ok=True)
            value = 1.0 if spec.entry.name == "oracle-solution" else float(n % 3 == 0)
            dimensions = {
                "task-verifier": {"task_success": value, "end_state": value, "process": 1.0},
                "frame-match": {"final_ssim": 0.5 + value / 2, "mean_ssim": 0.5},
                "trajectory-match": {"trajectory_ssim": 0.4 + value / 2},
            }
            for scorer in SCORERS:
                score = {
                    "scorer": scorer,
                    "class": "bench",
                    "version": "1",
                    "dimensions": dimensions[scorer],
                    "video_sha256": None,
                    "inputs": ["video"],
                    "scored_at": "2026-12-02T00:00:00Z",
                }
                (run_dir / SCORES_DIR / f"{scorer}.json").write_text(json.dumps(score))


def work_per_generation(folder: Path) -> float:
    """Seconds per generation of the real commands: generate static-first-frame, then score it three ways."""
    from vmevalkit.tasks import get_domain
    from vmevalkit.tasks.writer import write_task

    questions = folder / "work-questions"
    for task in get_domain("sort_bars").generate(12, seed=5):
        write_task(task, questions)
    common = ["--output-dir", str(folder / "work-out"), "--experiment", "w"]
    start = time.perf_counter()
    for args in (
        ["generate", "--model", "static-first-frame", "--duration", "1", "--questions-dir", str(questions)],
        ["score", "--scorer", *SCORERS, "--workers", "1"],
    ):
        subprocess.run(
            [sys.executable, "-m", "vmevalkit", *args, "--no-progress", *common], check=True, capture_output=True
        )
    return (time.perf_counter() - start) / 12


def main() -> int:
    from vmevalkit.suites import criteria
    from vmevalkit.suites import run as suite_run
    from vmevalkit.suites.schema import load_suite
    from vmevalkit.tasks import get_domain
    from vmevalkit.tasks.writer import write_task
    from vmevalkit.video import write_video

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=1667, help="tasks (x 3 models x 2 seeds; default: 1667)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        print(f"setup: {args.tasks} tasks, {args.tasks * 6} generations x {len(SCORERS)} scorers ...", flush=True)
        for task in get_domain("sort_bars").generate(args.tasks, seed=1):
            write_task(task, folder / "questions")
        (folder / "bench.json").write_text(json.dumps(SUITE))
        loaded = load_suite(folder / "bench.json")
        suite = loaded.suite
        import numpy as np

        video = folder / "one.mp4"
        write_video([np.zeros((64, 64, 3), np.uint8)] * 4, video)
        plan = suite_run.make_plan(loaded, folder / "out")
        fake_outputs(plan, video)
        generations = sum(len(m.items) for m in plan.models)

        timings: dict[str, float] = {}

        def timed(name: str, call: object) -> object:
            start = time.perf_counter()
            value = call()  # type: ignore[operator]
            timings[name] = time.perf_counter() - start
            return value

        plan = timed("plan", lambda: suite_run.make_plan(loaded, folder / "out"))
        assert all(m.to_run() == 0 for m in plan.models), "every generation must read as done"  # type: ignore[attr-defined]
        inputs = timed("fingerprint", lambda: suite_run.fingerprint(plan))  # type: ignore[arg-type]
        items = timed("collect", lambda: suite_run.collect_items(plan))  # type: ignore[arg-type]
        board = timed("evaluate", lambda: criteria.evaluate(suite, items))  # type: ignore[arg-type]
        assert board.to_dict()["models"][0]["model"] == "oracle-solution"  # type: ignore[attr-defined]
        timed("result", lambda: suite_run.write_result(plan, board, lambda line: None, inputs))  # type: ignore
        overhead = sum(timings.values())
        per_generation = work_per_generation(folder)

    work = per_generation * generations
    print(f"\n{generations} generations x {len(SCORERS)} scorers")
    for name, seconds in timings.items():
        print(f"  {name:<12} {seconds:7.3f} s")
    print(f"  {'overhead':<12} {overhead:7.3f} s   (target: at most 2 s)")
    print(f"work itself: {per_generation:.3f} s per generation (static-first-frame + 3 scorers) -> {work:,.0f} s")
    print(f"overhead / work: {overhead / work:.5f}  ({overhead / work * 100:.3f} %)")
    return 0 if overhead <= 2.0 else 1


if __name__ == "__main__":
    raise SystemExit(main())

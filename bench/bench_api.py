#!/usr/bin/env python3
"""Throughput of API jobs: N jobs against a fake provider with a fixed per-job latency.

Prints the wall time of the real runner (ApiExecutor, shared HTTP layer, one
folder per generation) against
  * the ideal, ceil(jobs / concurrency) x latency, and
  * running the jobs one at a time (measured on a sample, scaled to N).
The fake is a local Runway (tests/fakes/runway.py) whose jobs finish
``--latency`` seconds after submit, however often they are polled.

    python bench/bench_api.py [--jobs 200] [--concurrency 20] [--latency 2.0]
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))  # the fake provider servers live with the tests

from fakes.runway import KEY, FakeCdn, FakeRunway  # noqa: E402
from fakes.server import make_video_bytes  # noqa: E402

from vmevalkit.runner.inference import InferenceRunner  # noqa: E402
from vmevalkit.settings import Settings  # noqa: E402
from vmevalkit.tasks.loader import load_tasks  # noqa: E402


def make_questions(root: Path, count: int) -> Path:
    """``count`` distinct task folders (copies of one sample maze) for the benchmark."""
    source = REPO / "data" / "questions" / "maze_task" / "maze_0001"
    for i in range(1, count + 1):
        shutil.copytree(source, root / "maze_task" / f"maze_{i:04d}")
    return root


def run_batch(work: Path, questions: Path, jobs: int, concurrency: int, latency: float, name: str) -> float:
    video = make_video_bytes(work)
    with FakeCdn(video) as cdn, FakeRunway(video, cdn=cdn) as runway:
        runway.job_defaults = {"latency_s": latency}
        os.environ["RUNWAYML_BASE_URL"] = runway.base_url
        os.environ["RUNWAYML_API_SECRET"] = KEY
        settings = Settings(
            provider_concurrency=concurrency,
            max_concurrency=max(concurrency, 1),
            # Polling at 1/20 of the job time, as 10 s polls do for the typical 200 s commercial job.
            poll_interval_s=latency / 20,
            job_timeout_s=600,
        )
        tasks = load_tasks(questions, limit_per_domain=jobs).tasks
        runner = InferenceRunner(output_dir=work / "out", experiment=name, settings=settings)
        started = time.perf_counter()
        summary = runner.run(["runway-gen4-turbo"], tasks)
        elapsed = time.perf_counter() - started
        if summary.completed != jobs or len(runway.jobs) != jobs:
            sys.exit(f"CORRECTNESS FAILURE: {summary.completed} of {jobs} completed, {len(runway.jobs)} submitted")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=20, help="jobs in flight at once (per provider)")
    parser.add_argument("--latency", type=float, default=2.0, help="seconds each fake job takes")
    parser.add_argument("--sequential-sample", type=int, default=10, help="jobs run one at a time, then scaled")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="vmevalkit-bench-api-") as tmp:
        work = Path(tmp)
        questions = make_questions(work / "questions", args.jobs)
        concurrent = run_batch(work, questions, args.jobs, args.concurrency, args.latency, "concurrent")
        sample = min(args.sequential_sample, args.jobs)
        one_at_a_time = run_batch(work, questions, sample, 1, args.latency, "sequential") * args.jobs / sample

    ideal = math.ceil(args.jobs / args.concurrency) * args.latency
    print(f"{args.jobs} API jobs, {args.concurrency} in flight, {args.latency:g} s per job (fake Runway on 127.0.0.1)")
    print(f"  ideal  ceil({args.jobs}/{args.concurrency}) x {args.latency:g} s      {ideal:8.2f} s")
    print(f"  ours   (InferenceRunner + ApiExecutor)   {concurrent:8.2f} s   {concurrent / ideal:5.2f}x the ideal")
    print(
        f"  one at a time (from {sample} jobs, x{args.jobs / sample:g})  {one_at_a_time:8.2f} s   "
        f"ours is {one_at_a_time / concurrent:5.1f}x faster"
    )
    verdict = "PASS" if concurrent / ideal <= 1.2 else "MISS"
    print(f"  target: within 1.2x of the ideal -> {verdict}")


if __name__ == "__main__":
    main()

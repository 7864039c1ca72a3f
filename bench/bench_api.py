#!/usr/bin/env python3
"""Throughput of API jobs: N jobs against a fake provider with a fixed per-job latency.

Prints the wall time of the real runner (ApiExecutor, shared HTTP layer, one
folder per generation) against
  * the ideal, ceil(jobs / concurrency) x latency, and
  * running the jobs one at a time (measured on a sample, scaled to N),
and where the time went: the CPU our process used (per job, per poll), the
fake provider's own CPU per request, and the machine's load.

The fake is a local Runway (tests/fakes/runway.py) whose jobs finish
``--latency`` seconds after submit, however often they are polled. It runs in
a process of its own, as a real provider runs on machines of its own: in ours
it would take the interpreter lock from the client it is measuring.

    python bench/bench_api.py [--jobs 200] [--concurrency 20] [--latency 4.0]

The defaults keep the client's CPU within its budget on a 2-core machine: 20
jobs every 4 s leave 200 ms of one core per job, and ours uses about 120 ms
(bench/README.md). At 2 s per job the budget is 100 ms and the run is
CPU-bound: the ratio then measures the machine, and the script says so.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))  # the fake provider servers live with the tests

from fakes.runway import KEY  # noqa: E402

from vmevalkit.runner.inference import InferenceRunner  # noqa: E402
from vmevalkit.settings import Settings  # noqa: E402
from vmevalkit.tasks.loader import load_tasks  # noqa: E402

MODEL = "runway-gen4-turbo"
TARGET = 1.2  # wall time within 1.2x of the ideal


@dataclass(frozen=True)
class FakeStats:
    """What the fake provider saw and spent, reported by its process when it stops."""

    jobs: int  # jobs created, one per submit that reached it
    requests: int  # every request answered: submits, polls, downloads
    cpu_s: float  # the fake's own CPU time while serving


@dataclass(frozen=True)
class Batch:
    wall_s: float
    cpu_s: float  # CPU time of this process during the run: the event loop and the threads it hands work to
    loop_cpu_s: float  # of which the event loop's thread: HTTP client, polling, in-loop bookkeeping
    polls: int  # polls made, from the records
    fake: FakeStats


def serve_fakes(work: str, latency: float, conn: Connection) -> None:
    """The child process: a fake Runway and its CDN until the parent says stop; then what they saw."""
    from fakes.runway import FakeCdn, FakeRunway
    from fakes.server import make_video_bytes

    video = make_video_bytes(Path(work))
    with FakeCdn(video) as cdn, FakeRunway(video, cdn=cdn) as runway:
        runway.job_defaults = {"latency_s": latency}
        cpu = time.process_time()
        conn.send(runway.base_url)
        conn.recv()  # stop
        cpu = time.process_time() - cpu
        # A plain dict: a class of this script would not unpickle in the parent (it is __mp_main__ here).
        conn.send({"jobs": len(runway.jobs), "requests": len(runway.log) + len(cdn.log), "cpu_s": cpu})


def make_questions(root: Path, count: int) -> Path:
    """``count`` distinct task folders (copies of one sample maze) for the benchmark."""
    source = REPO / "data" / "questions" / "maze_task" / "maze_0001"
    for i in range(1, count + 1):
        shutil.copytree(source, root / "maze_task" / f"maze_{i:04d}")
    return root


def recorded_polls(out: Path) -> int:
    """Polls made, summed over the jobs' records (the API layer records each job's count)."""
    return sum(
        int(((json.loads(meta.read_bytes()).get("result") or {}).get("metadata") or {}).get("polls") or 0)
        for meta in out.rglob("metadata.json")
    )


def run_batch(work: Path, questions: Path, jobs: int, concurrency: int, latency: float, name: str) -> Batch:
    parent, child = multiprocessing.get_context("spawn").Pipe()
    fake = multiprocessing.get_context("spawn").Process(target=serve_fakes, args=(str(work), latency, child))
    fake.start()
    try:
        if not parent.poll(120):
            sys.exit("error: the fake provider's process did not start within 120 s")
        os.environ["RUNWAYML_BASE_URL"] = parent.recv()
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
        # runner.run runs its event loop in this thread: this thread's CPU is the loop's.
        started, cpu, loop_cpu = time.perf_counter(), time.process_time(), time.thread_time()
        summary = runner.run([MODEL], tasks)
        elapsed, cpu, loop_cpu = time.perf_counter() - started, time.process_time() - cpu, time.thread_time() - loop_cpu
        parent.send("stop")
        stats = FakeStats(**parent.recv())
    finally:
        parent.close()  # a fake still waiting for "stop" (this run failed) sees the pipe close and exits
        fake.join(timeout=10)
        if fake.is_alive():
            fake.kill()
    if summary.completed != jobs or stats.jobs != jobs:
        sys.exit(f"CORRECTNESS FAILURE: {summary.completed} of {jobs} completed, {stats.jobs} submitted")
    return Batch(elapsed, cpu, loop_cpu, recorded_polls(work / "out" / name), stats)


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} CPUs"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=20, help="jobs in flight at once (per provider)")
    parser.add_argument("--latency", type=float, default=4.0, help="seconds each fake job takes (default: 4)")
    parser.add_argument("--sequential-sample", type=int, default=10, help="jobs run one at a time, then scaled")
    args = parser.parse_args()
    if args.jobs < 1 or args.concurrency < 1 or args.sequential_sample < 1 or not args.latency > 0:
        parser.error("--jobs, --concurrency and --sequential-sample must be at least 1, --latency above 0")

    before = load()
    with tempfile.TemporaryDirectory(prefix="vmevalkit-bench-api-") as tmp:
        work = Path(tmp)
        questions = make_questions(work / "questions", args.jobs)
        ours = run_batch(work, questions, args.jobs, args.concurrency, args.latency, "concurrent")
        sample = min(args.sequential_sample, args.jobs)
        single = run_batch(work, questions, sample, 1, args.latency, "sequential")
    after = load()

    one_at_a_time = single.wall_s * args.jobs / sample
    waves = math.ceil(args.jobs / args.concurrency)
    ideal = waves * args.latency
    ratio = ours.wall_s / ideal
    # A job run alone takes latency + this: the part of a job the ideal leaves out, paid once per wave.
    per_job_extra = single.wall_s / sample - args.latency
    print(f"{args.jobs} API jobs, {args.concurrency} in flight, {args.latency:g} s per job (fake Runway on 127.0.0.1)")
    print(f"  ideal  ceil({args.jobs}/{args.concurrency}) x {args.latency:g} s      {ideal:8.2f} s")
    print(f"  ours   (InferenceRunner + ApiExecutor)   {ours.wall_s:8.2f} s   {ratio:5.2f}x the ideal")
    print(
        f"  one at a time (from {sample} jobs, x{args.jobs / sample:g})  {one_at_a_time:8.2f} s   "
        f"ours is {one_at_a_time / ours.wall_s:5.1f}x faster"
    )
    print(f"  target: within {TARGET:g}x of the ideal -> {'PASS' if ratio <= TARGET else 'MISS'}")
    print("where the time went:")
    print(
        f"  one job alone takes {per_job_extra * 1000:.0f} ms more than its {args.latency:g} s (input image, submit,"
        f" the poll that sees it done, download, records); {waves} waves pay it {waves} times: floor"
        f" ~{1 + per_job_extra / args.latency:.2f}x"
    )
    per_job = ours.cpu_s / args.jobs
    print(
        f"  our process: {ours.cpu_s:.2f} s CPU in {ours.wall_s:.2f} s ({ours.cpu_s / ours.wall_s:.0%} of one core),"
        f" {per_job * 1000:.0f} ms per job: event loop (HTTP client, {ours.polls / args.jobs:.1f} polls, submit,"
        f" download) {ours.loop_cpu_s / args.jobs * 1000:.0f} ms, threads (input image, video checks, records)"
        f" {(ours.cpu_s - ours.loop_cpu_s) / args.jobs * 1000:.0f} ms"
    )
    # The event loop and most of what it hands to threads hold the interpreter lock: one core, at best.
    budget = args.latency / args.concurrency
    bound = "over it: CPU-bound, the ratio measures the machine" if per_job > budget else "within it"
    print(
        f"  CPU budget: {args.concurrency} jobs every {args.latency:g} s leave {budget * 1000:.0f} ms of one core"
        f" per job; ours used {per_job * 1000:.0f} ms ({bound})"
    )
    print(
        f"  fake provider (own process): {ours.fake.cpu_s:.2f} s CPU for {ours.fake.requests} requests,"
        f" {ours.fake.cpu_s / max(ours.fake.requests, 1) * 1000:.2f} ms per request"
    )
    print(f"  machine: {before} before, {after} after")


if __name__ == "__main__":
    main()

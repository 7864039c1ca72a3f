"""The ray engine's makespan: fixed-latency jobs on fake GPUs over two nodes, against the ideal and the local engine.

    python bench/bench_ray.py                          # defaults: --jobs 200 --gpus 8 --nodes 2 --latency 1.0
    python bench/bench_ray.py --jobs 40 --latency 0.5  # quicker

The model is a local model like any other (a catalog entry, a persistent worker per GPU in its "virtualenv", a
launcher around this interpreter as the tests use), whose pipeline sleeps ``--latency`` seconds per video and
returns six 48x48 frames, so the ideal is known: ``ceil(jobs / gpus) x latency``.

- **ray**: a real Ray cluster on this machine (``ray.cluster_utils.Cluster``, ``--nodes`` nodes sharing ``--gpus``
  fake GPUs) and the real ``InferenceRunner`` with ``engine=ray``: one actor per GPU, each holding a worker, jobs
  pulled from the queue, every video back through the object store and written by the driver.
- **local**: the same jobs on the local engine with ``VMEVALKIT_LOCAL_GPUS=0,...,gpus-1`` (a worker per fake GPU in
  this process's executor): the same ideal, no cluster.

For each it prints the makespan (first job started to last job finished: what the GPUs are busy for) and the wall
time from the start of the run (actors and workers starting included), their ratios to the ideal (target: makespan
at most 1.1x), the start stagger (how long after the first GPU's first video the last GPU's first video came: the
workers loading, here all on one machine's CPUs), and the scheduling overhead per job: the GPU time not spent
generating (every GPU over the whole makespan, less jobs x latency), divided by the jobs. Every number comes from
this one run; nothing is asserted by a timer.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(REPO))

from vmevalkit.models.local.pipeline import LocalPipeline  # noqa: E402

MODEL = "bench-latency"
MODELS: dict[str, dict[str, Any]] = {
    MODEL: {
        "wrapper": "vmevalkit.models.local.wrapper:LocalModelWrapper",
        "service": "bench_ray:LatencyPipeline",
        "model": "bench/latency",
        "args": {"height": 48, "width": 48, "num_frames": 6, "max_frames": 32, "fps": 8, "steps": 1,
                 "guidance_scale": 1.0, "min_gpu_memory_gb": 1},
        "description": "sleeps VMK_BENCH_LATENCY seconds per video (bench_ray.py)",
        "family": "bench",
        "kind": "local",
        "constraints": {"duration_range": [0.125, 4], "default_duration": 0.75, "fps": 8, "seed": True,
                        "params": ["steps"]},
    }
}  # fmt: skip


class LatencyPipeline(LocalPipeline):
    family = "bench"
    pipeline_class = "none"
    frame_step = 1
    size_multiple = 8

    def setup(self, checkpoint_dir: Path, device: str, savers: Sequence[str] = ()) -> None:
        self.latency = float(os.environ.get("VMK_BENCH_LATENCY", "1"))

    def predict(self, image: Any, prompt: str, *, seed: int, num_frames: int, height: int, width: int,
                **kwargs: Any) -> list[Any]:  # fmt: skip
        time.sleep(self.latency)
        base = np.asarray(image.convert("RGB").resize((width, height)), dtype=np.uint8)
        return [base] * num_frames


def fail(message: str) -> None:
    print(f"CORRECTNESS FAILURE: {message}", file=sys.stderr)
    raise SystemExit(1)


def build_tasks(root: Path, count: int) -> list[Any]:
    from vmevalkit.tasks.loader import load_tasks
    from vmevalkit.tasks.writer import build_dataset

    build_dataset(root, domains=["maze", "sliding_puzzle", "sudoku"], per_domain=-(-count // 3), seed=0)
    return load_tasks(root).tasks[:count]


def fake_venv(envs: Path) -> None:
    launcher = envs / MODEL / "bin" / "python"
    launcher.parent.mkdir(parents=True)
    launcher.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    launcher.chmod(0o755)
    (envs / MODEL / ".vmevalkit-install.json").write_text('{"model": "bench-latency"}')


def run(engine: str, tasks: list[Any], work: Path, gpus: int) -> dict[str, float]:
    from vmevalkit.runner.inference import InferenceRunner, RunEvent
    from vmevalkit.settings import Settings

    checkpoint = work / "ckpt"
    checkpoint.mkdir(exist_ok=True)
    settings = Settings(
        _env_file=None,
        envs_dir=work / "envs",
        checkpoints={MODEL: checkpoint},
        engine=engine,
        local_gpus=",".join(str(i) for i in range(gpus)) if engine == "local" else "",
    )
    started: dict[str, float] = {}
    spans: list[float] = []
    finished: list[float] = []
    per_place: dict[str, list[float]] = {}

    def on_event(event: RunEvent) -> None:
        now = time.perf_counter()
        if event.kind == "started":
            started[event.task_id] = now
        elif event.kind == "completed":
            spans.append(now - started[event.task_id])
            finished.append(now)
            per_place.setdefault(event.where or "", []).append(now)

    runner = InferenceRunner(experiment=engine, output_dir=work / "out", settings=settings, on_event=on_event)
    plan = runner.plan([MODEL], tasks)
    begin = time.perf_counter()
    summary = asyncio.run(runner.run_async(plan))
    wall = time.perf_counter() - begin
    if summary.completed != len(tasks) or summary.failed:
        first = next(iter(summary.models.values())).failures[:1]
        fail(f"{engine}: {summary.completed} of {len(tasks)} completed, {summary.failed} failed: {first}")
    # How late the last GPU started working after the first one (workers load at once, on a shared CPU here).
    firsts = [min(times) for times in per_place.values()]
    return {
        "stagger": max(firsts) - min(firsts),
        "busiest": float(max(len(times) for times in per_place.values())),
        "wall": wall,
        "makespan": max(finished) - min(started.values()),
        "per_job": statistics.mean(spans),
        "places": float(len(summary.places)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--gpus", type=int, default=8)
    parser.add_argument("--nodes", type=int, default=2)
    parser.add_argument("--latency", type=float, default=1.0)
    args = parser.parse_args()
    if args.gpus % args.nodes:
        parser.error("--gpus must split evenly over --nodes")

    # The nodes (and so the actors and workers) inherit this environment: this module and the latency.
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(BENCH), str(REPO), os.environ.get("PYTHONPATH")]))
    os.environ["VMK_BENCH_LATENCY"] = str(args.latency)
    os.environ["VMEVALKIT_EXTRA_CATALOGS"] = "bench_ray:MODELS"  # the registry reads the catalogs from the settings
    sys.path.insert(0, str(BENCH))
    from ray.cluster_utils import Cluster

    ideal = math.ceil(args.jobs / args.gpus) * args.latency
    with tempfile.TemporaryDirectory(prefix="bench-ray-") as tmp:
        work = Path(tmp)
        fake_venv(work / "envs")
        tasks = build_tasks(work / "questions", args.jobs)
        if len(tasks) != args.jobs:
            fail(f"built {len(tasks)} tasks, wanted {args.jobs}")
        per_node = {"num_cpus": 2, "num_gpus": args.gpus // args.nodes, "object_store_memory": 100 * 2**20}
        cluster = Cluster(initialize_head=True, head_node_args=per_node)
        try:
            for _ in range(args.nodes - 1):
                cluster.add_node(**per_node)
            cluster.wait_for_nodes()
            os.environ["RAY_ADDRESS"] = cluster.address
            results = {"ray": run("ray", tasks, work, args.gpus)}
            import ray

            ray.shutdown()
        finally:
            cluster.shutdown()
        results["local"] = run("local", tasks, work, args.gpus)
    if results["ray"]["places"] != args.gpus:
        fail(f"the ray run used {results['ray']['places']:g} GPUs, wanted {args.gpus}")

    print(f"{args.jobs} jobs x {args.latency:g} s on {args.gpus} fake GPUs ({args.nodes} nodes for ray): "
          f"ideal makespan ceil({args.jobs}/{args.gpus}) x {args.latency:g} = {ideal:.1f} s")  # fmt: skip
    columns = ("makespan", "/ideal", "wall", "/ideal", "overhead/job", "start stagger")
    widths = (9, 7, 7, 7, 13, 14)
    print(f"{'engine':8}" + "".join(f" {name:>{width}}" for name, width in zip(columns, widths, strict=True)))
    for engine, r in results.items():
        # GPU time not spent generating, per job: every GPU busy for the whole makespan, less the jobs' latency.
        overhead = (r["makespan"] * args.gpus - args.jobs * args.latency) / args.jobs
        print(f"{engine:8} {r['makespan']:8.2f}s {r['makespan'] / ideal:6.3f}x {r['wall']:6.2f}s "
              f"{r['wall'] / ideal:6.3f}x {overhead * 1000:10.1f} ms "
              + (f"{r['stagger']:12.2f} s" if r["places"] > 1 else f"{'-':>14}"))  # fmt: skip
    ratio = results["ray"]["makespan"] / ideal
    print(f"ray makespan / ideal = {ratio:.3f} (target <= 1.1): {'PASS' if ratio <= 1.1 else 'MISS'}")
    print(f"ray makespan / local makespan = {results['ray']['makespan'] / results['local']['makespan']:.3f}")


if __name__ == "__main__":
    main()

"""Persistent worker vs one subprocess per video, on a tiny LTX-Video checkpoint over 30 tasks.

    .venv/bin/python bench/bench_local.py                 # defaults: --tasks 30 --size 64 --steps 4
    .venv/bin/python bench/bench_local.py --tasks 12      # quicker

Needs a model venv with a tiny checkpoint; by default the one the tests build
(.cache/test-models, made by `bash setup/install_model.sh ltx-video --tiny` on first use).

- **ours**: `InferenceRunner` with `LocalExecutor`: one worker loads the pipeline once and serves
  every job; each job also pays the runner's bookkeeping (claim, metadata, decoding the video).
- **naive**: for each video, a fresh `envs/ltx-video/bin/python` process that imports torch and
  diffusers, loads the pipeline, generates one video and exits (the same worker code, so the
  difference is only the process-per-video pattern).

Prints the wall-time ratio naive/ours and the runner's overhead: ours' wall time minus the worker's
load time and the sum of its per-job generation times, as a fraction of those (target: under 10%).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import NoReturn

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

CACHE = REPO / ".cache" / "test-models"
MODEL = "ltx-video"


def ensure_venv() -> tuple[Path, Path, Path]:
    envs, weights = CACHE / "envs", CACHE / "weights"
    tiny = weights / "tiny" / MODEL
    if not (tiny / "model_index.json").is_file() or not (envs / MODEL / "bin" / "python").exists():
        env = {
            **os.environ,
            "VMEVALKIT_ENVS_DIR": str(envs),
            "VMEVALKIT_WEIGHTS_DIR": str(weights),
            "VMEVALKIT_PYTHON": sys.executable,
        }
        subprocess.run(["bash", str(REPO / "setup" / "install_model.sh"), MODEL, "--tiny"], env=env, check=True)
    return envs, weights, tiny


def fail(message: str) -> NoReturn:
    # An explicit exit, not `assert`: python -O would strip asserts and let a broken run report a time.
    print(f"CORRECTNESS FAILURE: {message}", file=sys.stderr)
    raise SystemExit(1)


def build_tasks(root: Path, count: int) -> list:
    from vmevalkit.tasks.loader import load_tasks
    from vmevalkit.tasks.writer import build_dataset

    per_domain = -(-count // 3)
    # The three domains earlier figures were measured on (bench_tasks.py covers every domain).
    build_dataset(root, domains=["maze", "sliding_puzzle", "sudoku"], per_domain=per_domain, seed=0)
    tasks = load_tasks(root).tasks
    return tasks[:count]


def run_ours(tasks: list, envs: Path, tiny: Path, out: Path, params: dict, duration: float) -> tuple[float, dict]:
    from vmevalkit.runner.inference import InferenceRunner
    from vmevalkit.runner.records import read_record
    from vmevalkit.settings import Settings

    settings = Settings(envs_dir=envs, checkpoints={MODEL: tiny}, local_gpus="cpu")
    runner = InferenceRunner(experiment="bench", output_dir=out, settings=settings, duration=duration, params=params)
    plan = runner.plan([MODEL], tasks)
    started = time.perf_counter()
    summary = asyncio_run(runner, plan)
    wall = time.perf_counter() - started
    records = [read_record(item.run_dir) for item in plan]
    if summary.models[MODEL].completed != len(tasks):
        fail(f"{summary.models[MODEL].completed} of {len(tasks)} generations completed")
    metas = [r.result.metadata for r in records if r and r.result]
    pids = {m["worker"]["pid"] for m in metas}
    if len(pids) != 1:
        fail(f"{len(pids)} workers served the jobs; one must serve them all")
    return wall, {
        "load": metas[0]["worker"]["load_seconds"],
        "generate": [m["generate_seconds"] for m in metas],
    }


def asyncio_run(runner, plan):
    import asyncio

    return asyncio.run(runner.run_async(plan))


def run_naive(tasks: list, envs: Path, tiny: Path, out: Path, params: dict, duration: float) -> float:
    """One process per video: start, import, load, generate once, exit."""
    from PIL import Image

    from vmevalkit.runner.registry import build_wrapper, get_entry
    from vmevalkit.workers.protocol import Generate, Load, Shutdown, encode

    entry = get_entry(MODEL)
    service = build_wrapper(MODEL).service
    args = dict(entry.args)
    env = {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1", "CUDA_VISIBLE_DEVICES": ""}
    started = time.perf_counter()
    for i, task in enumerate(tasks):
        with Image.open(task.path / "first_frame.png") as image:
            image.load()
        request = Generate(
            id=str(i),
            image_path=str(task.path / "first_frame.png"),
            prompt=task.prompt,
            output_path=str(out / f"{task.task_id}.mp4"),
            seed=42,
            num_frames=service.frames_for(duration),
            height=params["height"],
            width=params["width"],
            fps=service.fps,
            steps=params["steps"],
        )
        load = Load(service=entry.service, model=entry.model, args=args, checkpoint_dir=str(tiny), device="cpu")
        done = subprocess.run(
            [str(envs / MODEL / "bin" / "python"), "-m", "vmevalkit.workers.worker"],
            input=encode(load) + encode(request) + encode(Shutdown()),
            capture_output=True,
            env=env,
            check=True,
        )
        last = json.loads(done.stdout.splitlines()[-1])
        if last["type"] != "result" or not last["ok"]:
            fail(f"a naive process made no video: {last}")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=30)
    parser.add_argument("--size", type=int, default=64, help="width and height of the tiny videos")
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--duration", type=float, default=1.0, help="seconds (24 fps: 1.0 s is 25 frames)")
    parser.add_argument("--no-naive", action="store_true", help="only ours (the overhead), not the naive baseline")
    args = parser.parse_args()
    envs, _weights, tiny = ensure_venv()
    params = {"width": args.size, "height": args.size, "steps": args.steps}
    with tempfile.TemporaryDirectory(prefix="vmevalkit-bench-local-") as tmp:
        root = Path(tmp)
        tasks = build_tasks(root / "questions", args.tasks)
        ours, timing = run_ours(tasks, envs, tiny, root / "out", params, args.duration)
        (root / "naive").mkdir()
        naive = None if args.no_naive else run_naive(tasks, envs, tiny, root / "naive", params, args.duration)
    pure = timing["load"] + sum(timing["generate"])
    overhead = ours - pure
    print(f"{len(tasks)} videos, tiny LTX-Video {args.size}x{args.size}, {args.steps} steps, {args.duration:g} s, CPU")
    print(
        f"  ours  (one persistent worker): {ours:7.2f} s   load {timing['load']:.2f} s once, "
        f"generation {statistics.median(timing['generate']):.3f} s median per video"
    )
    if naive is not None:
        print(f"  naive (one process per video): {naive:7.2f} s")
        print(f"  naive / ours = {naive / ours:.2f}x")
    print(
        f"  runner overhead = {overhead:.2f} s = {overhead / pure:.1%} of load + generation "
        f"({'PASS' if overhead / pure < 0.10 else 'MISS'}: target under 10%)"
    )


if __name__ == "__main__":
    main()

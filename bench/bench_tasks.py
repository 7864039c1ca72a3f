"""Task domains at scale: generating 1,000 tasks of each domain, and the verifier's throughput per domain.

    python bench/bench_tasks.py                       # defaults: --tasks 1000 --videos 6
    python bench/bench_tasks.py --tasks 100 --videos 3 --domain maze sokoban   # quicker

For each registered domain:

- **generate**: wall time to make ``--tasks`` tasks in memory (the generator and both frames drawn, the metadata
  made), and per task; then writing 50 of them to disk (PNGs, metadata) per task, for scale.
- **verify**: ``--videos`` oracle videos of 4 s (64 frames at 16 fps, 512x512, the oracle's own encoding) scored
  by ``task-verifier`` as the scorer does it: the verifier built from the task's metadata (its renders of every
  look), every frame decoded and read. Printed as videos per second, and against the ideal: the time to only
  decode the same videos (``read_frames``), which any frame-reading scorer pays. ``x decode`` is verify / decode.

Every verdict is checked (each oracle video must pass); the script exits 1 if one does not, so a broken verifier
cannot look fast. Timings depend on the machine and its load: compare runs on the same machine only.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def main() -> int:
    from vmevalkit.models.baselines import spread_keyframes
    from vmevalkit.tasks import DOMAINS, get_domain
    from vmevalkit.tasks.verifier import judge
    from vmevalkit.tasks.writer import write_task
    from vmevalkit.video import read_frames, write_video

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=1000, help="tasks generated per domain (default: 1000)")
    parser.add_argument("--videos", type=int, default=6, help="oracle videos verified per domain (default: 6)")
    parser.add_argument("--domain", nargs="+", default=sorted(DOMAINS), help="only these domains (default: all)")
    args = parser.parse_args()

    print(f"{len(args.domain)} domains; {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}; one core used")
    generated = f"gen {args.tasks}"
    print(f"{'domain':22} {generated:>10} {'ms/task':>8} {'write ms':>8}  {'videos/s':>8} {'x decode':>8}")
    failures = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for name in args.domain:
            domain = get_domain(name)
            start = time.perf_counter()
            tasks = list(domain.generate(args.tasks, seed=1))
            generate_s = time.perf_counter() - start
            start = time.perf_counter()
            for task in tasks[:50]:
                write_task(task, root / "questions")
            write_ms = (time.perf_counter() - start) / min(50, len(tasks)) * 1000

            videos = []
            for task in tasks[: args.videos]:
                path = root / "videos" / f"{task.task_id}.mp4"
                write_video(spread_keyframes(domain.render_solution(task.metadata), 64), path, fps=16)
                videos.append((task.metadata, path))
            start = time.perf_counter()
            for _, path in videos:
                read_frames(path)
            decode_s = time.perf_counter() - start
            start = time.perf_counter()
            for metadata, path in videos:
                verdict = judge(domain.verifier(metadata), read_frames(path))
                if not verdict.passed:
                    failures.append(f"{metadata['task_id']}: {verdict.reason}")
            verify_s = time.perf_counter() - start
            print(
                f"{name:22} {generate_s:9.2f}s {generate_s / len(tasks) * 1000:8.2f} {write_ms:8.2f}  "
                f"{len(videos) / verify_s:8.2f} {verify_s / decode_s:8.2f}"
            )
    for failure in failures:
        print(f"FAILED: the oracle video does not pass: {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())

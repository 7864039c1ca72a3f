#!/usr/bin/env python3
"""How long the annotation app makes a person wait per label, measured in a real browser.

1. Per label in Chromium (Playwright, the real ``vmevalkit annotate`` server): from the save key to the next
   item on screen (the page's own ``window.vmkTimings``), next to the floor: reading the next item and
   showing it without saving anything (the page's own ``render(await api('/api/state'))``). The ratio is
   what saving costs on top of showing.
2. The save itself (``Session.add``) in-process, on a labels file of 10 lines and of 10,000: the whole file
   is rewritten atomically at every label, so this is the price of that choice at the size of a long session.

    python bench/bench_annotate.py [--items 24] [--big 10000]

It reports and never gates (exit 0), except when a check fails (labels missing from the file: exit 1).
"""

from __future__ import annotations

import argparse
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_report import CHROMIUM_FLAGS

REPO = Path(__file__).resolve().parent.parent
DOMAINS = ("maze", "sudoku", "sliding_puzzle")
# bench_report's flags (no network, no first-run work; Playwright adds --headless, the viewport sets the size)
CHROMIUM_ARGS = [*CHROMIUM_FLAGS, "--autoplay-policy=no-user-gesture-required"]


def make_experiment(root: Path, items: int) -> Path:
    per_domain = max(1, -(-items // (2 * len(DOMAINS))))
    questions = root / "q"
    for domain in DOMAINS:
        shutil.copytree(REPO / "data" / "questions" / f"{domain}_task", questions / f"{domain}_task")
    out = root / "out"
    command = [sys.executable, "-m", "vmevalkit", "generate", "--model", "oracle-solution", "static-first-frame"]
    command += ["--questions-dir", str(questions), "--output-dir", str(out), "--limit-per-domain", str(per_domain)]
    subprocess.run(command, cwd=root, check=True, capture_output=True)
    return out


def browser_latency(out: Path, items: int) -> tuple[list[float], list[float], int]:
    from playwright.sync_api import sync_playwright

    command = [sys.executable, "-m", "vmevalkit", "annotate", "--annotator", "bench", "--output-dir", str(out)]
    proc = subprocess.Popen(
        [*command, "--port", "0", "--seed", "1", "--limit", str(items)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        url = next(line.split()[1] for line in proc.stdout or [] if line.startswith("open "))
        with sync_playwright() as p:
            chromium = shutil.which("chromium") or shutil.which("chromium-browser")
            browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.goto(url)
            page.wait_for_selector("body[data-item]")
            total = int((page.locator("#progress-text").text_content() or "1 of 1").split()[-1])
            # the floor: show the current item again, nothing saved (as many times as there are labels)
            floor = page.evaluate(
                """async (n) => { const times = [];
                for (let i = 0; i < n; i++) { const t = performance.now(); render(await api('/api/state'));
                times.push(performance.now() - t); } return times; }""",
                total,
            )
            for number in range(1, total + 1):
                page.wait_for_selector(f'body[data-position="{number}"]')
                page.keyboard.press("y" if number % 2 else "n")
                page.keyboard.press(str(1 + number % 5))
                page.keyboard.press("Enter")
            page.wait_for_selector('body[data-item="done"]')
            ours = page.evaluate("window.vmkTimings")
            browser.close()
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
    return ours, floor, total


def save_cost(lines: int, repeat: int = 30) -> float:
    """Median ms of one Session.add with ``lines`` labels already in the file."""
    from vmevalkit.annotate.items import Item
    from vmevalkit.annotate.store import Session
    from vmevalkit.scoring.meta_eval.labels import RatingLabel

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        session = Session(folder, "bench", "rate", 1, "after", "task_success")
        line = (
            '{"type": "rating", "generation": "m/maze_task/maze_%06d/s1-x", "dimension": "task_success", '
            '"value": 1, "rater": "bench", "source": {"tool": "vmevalkit annotate", "seed": 1}}\n'
        )
        session.labels_path.parent.mkdir(parents=True)
        session.labels_path.write_text("".join(line % i for i in range(lines)))
        session.open({})
        times = []
        for i in range(repeat):
            key = f"m/maze_task/new_{i}/s1-x"
            item = Item(f"id{i}", key, (key,), "maze", f"new_{i}", "p", folder, None, (folder,))
            label = RatingLabel(type="rating", generation=key, dimension="task_success", value=1, rater="bench")
            start = time.perf_counter()
            session.add(item, [label])
            times.append((time.perf_counter() - start) * 1000)
        session.close()
        return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=24)
    parser.add_argument("--big", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = make_experiment(Path(tmp), args.items)
        ours, floor, total = browser_latency(out, args.items)
        labels_file = out / "pilot" / "annotations" / "bench-rate.jsonl"
        written = sum(1 for line in labels_file.read_text().splitlines() if line.strip())
    if written != 2 * total or len(ours) != total:
        print(f"FAIL: {total} items labelled, {written} labels written, {len(ours)} timings")
        return 1
    mine, base = statistics.median(ours), statistics.median(floor)
    small, big = save_cost(10), save_cost(args.big)
    print(f"{total} labels given in Chromium by keyboard (rate mode, answer revealed after the first judgment)")
    print(f"  per label, save key to next item shown: median {mine:.1f} ms, max {max(ours):.1f} ms")
    print(f"  floor, next item shown without saving:  median {base:.1f} ms")
    print(f"  ratio ours / floor: {mine / base:.2f}x (what saving adds: {mine - base:.1f} ms)")
    print("Session.add (atomic rewrite of the whole labels file, fsync included), median of 30:")
    print(f"  10 labels in the file: {small:.2f} ms; {args.big:,} labels: {big:.2f} ms ({big / small:.1f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

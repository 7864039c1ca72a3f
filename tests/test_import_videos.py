"""``vmevalkit import-videos``: videos made elsewhere, in three layouts, become generations that score and report.

Fixtures are built here, in the public layouts (each cited where it is built), from real mp4 files: the oracle's
keyframes of the shipped sample tasks (the answer, shown step by step) and a static video of the first frame, both
encoded by ``vmevalkit.video.write_video``. After the import, ``examples/score_videos.py --scorer task-verifier`` and
``examples/report.py`` run on the experiment as real subprocesses: the oracle scores 1, the static video 0.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO, cli_env, copy_sample, run_score
from PIL import Image

from vmevalkit.cli.main import main
from vmevalkit.runner.importing import ImportUsageError, find_videos, import_videos
from vmevalkit.runner.records import file_sha256, read_record
from vmevalkit.scoring.runner import GenerationSelectionError, find_generations
from vmevalkit.tasks import get_domain
from vmevalkit.tasks.loader import Task, load_tasks
from vmevalkit.video import write_video

DOMAINS = ("maze", "sudoku")
HOLD = 2  # frames each oracle keyframe is shown


@pytest.fixture
def tasks(tmp_path: Path) -> list[Task]:
    """Two tasks of each of two shipped domains, in a private questions folder."""
    copy_sample(tmp_path / "questions", DOMAINS)
    loaded = load_tasks(tmp_path / "questions").tasks
    return [t for d in DOMAINS for t in [t for t in loaded if t.domain == d][:2]]


def oracle(task: Task, path: Path) -> Path:
    keyframes = get_domain(task.domain).render_solution(task.metadata)
    write_video([frame for frame in keyframes for _ in range(HOLD)], path)
    return path


def static(task: Task, path: Path) -> Path:
    first = np.asarray(get_domain(task.domain).render_solution(task.metadata)[0])
    write_video([first] * 8, path)
    return path


def vmevalkit_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vmevalkit", *args], cwd=cwd, env=cli_env(), capture_output=True, text=True, timeout=240
    )


def import_cli(src: Path, fmt: str, *extra: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    common = ["--questions-dir", str(cwd / "questions"), "--output-dir", str(cwd / "out"), "--experiment", "ext"]
    return vmevalkit_cli("import-videos", str(src), "--format", fmt, *common, *extra, cwd=cwd)


def upstream_outputs(root: Path, tasks: list[Task]) -> Path:
    """Upstream VMEvalKit outputs of two models.

    ``upstream-oracle``: the flat layout ``<model>/<domain>_task/<id>/video/video.mp4`` with ``question/`` beside it
    (hokindeng/video-reason-experiments OUTPUT_STRUCTURE_ANALYSIS.md, "Target (New) Structure");
    ``upstream-static``: the older ``<model>/<domain>_task/<id>/<model>_<id>_<timestamp>/`` run folder with
    ``video/``, ``question/`` and upstream's own ``metadata.json`` (hokindeng/VMEvalKit vmevalkit/runner/inference.py,
    ``InferenceRunner.run`` and ``_save_metadata``), which is not our record.
    """
    for task in tasks:
        flat = root / "upstream-oracle" / f"{task.domain}_task" / task.task_id
        (flat / "video").mkdir(parents=True)
        oracle(task, flat / "video" / "video.mp4")
        (flat / "question").mkdir()
        (flat / "question" / "prompt.txt").write_text(task.prompt)
        # The answer video upstream ships beside the question: never imported as the model's video.
        oracle(task, flat / "question" / "ground_truth.mp4")

        task_dir = root / "upstream-static" / f"{task.domain}_task" / task.task_id
        run = task_dir / f"upstream-static_{task.task_id}_20250103_143025"
        (run / "video").mkdir(parents=True)
        static(task, run / "video" / "generated_video.mp4")
        upstream_record = {
            "inference": {"run_id": run.name, "model": "upstream-static", "status": "success"},
            "input": {"prompt": task.prompt, "question_id": task.task_id, "task_category": task.domain},
            "output": {"video_path": str(run / "video" / "generated_video.mp4")},
        }
        (run / "metadata.json").write_text(json.dumps(upstream_record))
    return root


def scores_of(experiment: Path) -> dict[tuple[str, str], float]:
    """(model, task id) -> task-verifier's task_success, read from the score files."""
    out = {}
    for generation in find_generations(experiment):
        data = json.loads((generation.run_dir / "scores" / "task-verifier.json").read_text())
        assert data["error"] is None, data["error"]
        out[(generation.record.model, generation.record.task_id)] = data["dimensions"]["task_success"]
    return out


def test_upstream_outputs_import_score_and_report(tmp_path: Path, tasks: list[Task]) -> None:
    src = upstream_outputs(tmp_path / "upstream", tasks)
    done = import_cli(src, "vmevalkit", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert f"imported {2 * len(tasks)} of {2 * len(tasks)} videos" in done.stdout
    experiment = tmp_path / "out" / "ext"

    generations = find_generations(experiment)
    assert sorted({g.record.model for g in generations}) == ["upstream-oracle", "upstream-static"]
    assert len(generations) == 2 * len(tasks), "one generation per model video; ground_truth.mp4 is not one"
    for generation in generations:
        record = generation.record
        source = Path(record.provenance["source_path"]) if record.provenance else Path()
        assert record.status == "completed" and record.kind == "imported"
        assert source.is_file() and source.is_relative_to(src) and "question" not in source.parts
        assert record.provenance is not None and record.provenance["format"] == "vmevalkit"
        assert record.provenance["source_sha256"] == record.video_sha256 == file_sha256(source)
        assert record.provenance["imported_at"] and record.run_id == f"import-{record.video_sha256[:16]}"
        assert file_sha256(generation.video_path) == record.video_sha256  # type: ignore[arg-type]
        assert (generation.question_dir / "question_metadata.json").is_file(), "the verifier reads the task's copy"

    env = cli_env()
    scored = run_score(
        "--scorer", "task-verifier", "--output-dir", str(tmp_path / "out"), "--experiment", "ext", cwd=tmp_path, env=env
    )
    assert scored.returncode == 0, scored.stdout + scored.stderr
    scores = scores_of(experiment)
    assert {k: v for k, v in scores.items() if k[0] == "upstream-oracle"} == {
        ("upstream-oracle", t.task_id): 1.0 for t in tasks
    }
    assert {k: v for k, v in scores.items() if k[0] == "upstream-static"} == {
        ("upstream-static", t.task_id): 0.0 for t in tasks
    }

    report = subprocess.run(
        [
            sys.executable,
            str(REPO / "examples" / "report.py"),
            "--output-dir",
            str(tmp_path / "out"),
            "--experiment",
            "ext",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert report.returncode == 0, report.stdout + report.stderr
    with open(experiment / "report" / "metrics_summary.csv", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["scorer"] == "task-verifier" and r["dimension"] == "task_success"]
    assert {r["model"]: float(r["mean"]) for r in rows} == {"upstream-oracle": 1.0, "upstream-static": 0.0}

    # evaluate-scorers too: human labels name imported generations by their store path, as any other.
    labels = tmp_path / "labels.jsonl"
    lines = [
        {
            "type": "rating",
            "generation": str(g.run_dir.relative_to(experiment)),
            "dimension": "task_success",
            "value": 1 if g.record.model == "upstream-oracle" else 0,
            "rater": "alice",
        }
        for g in generations
    ]
    labels.write_text("".join(json.dumps(line) + "\n" for line in lines))
    evaluated = subprocess.run(
        [
            sys.executable,
            str(REPO / "examples" / "evaluate_scorers.py"),
            "--labels",
            str(labels),
            "--scorer",
            "task-verifier",
            "--output-dir",
            str(tmp_path / "out"),
            "--experiment",
            "ext",
            "--out",
            str(tmp_path / "meta"),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert evaluated.returncode == 0, evaluated.stdout + evaluated.stderr
    with open(tmp_path / "meta" / "meta_summary.csv", newline="") as fh:
        (meta,) = list(csv.DictReader(fh))
    assert (meta["n"], meta["n_unscored"], float(meta["spearman"])) == (str(len(generations)), "0", 1.0)

    # A rerun imports nothing new and leaves every folder as it was.
    before = sorted(p.relative_to(experiment) for p in experiment.rglob("*") if "report" not in p.parts)
    again = import_cli(src, "vmevalkit", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    total = 2 * len(tasks)
    assert f"imported 0 of {total} videos" in again.stdout and f"({total} already there)" in again.stdout
    after = sorted(p.relative_to(experiment) for p in experiment.rglob("*") if "report" not in p.parts)
    assert after == before


def test_vbvr_predictions_with_a_mapping(tmp_path: Path, tasks: list[Task]) -> None:
    # Video-Reason/VBVR-EvalKit my_test/: pred/video_N.mp4, paired by name with gt/video_N.mp4; N -> task by mapping.
    run = tmp_path / "my_model"
    (run / "pred").mkdir(parents=True)
    (run / "gt").mkdir()
    for n, task in enumerate(tasks):
        oracle(task, run / "pred" / f"video_{n}.mp4")
        oracle(task, run / "gt" / f"video_{n}.mp4")
    static(tasks[0], run / "pred" / f"video_{len(tasks)}.mp4")  # no entry in the mapping
    mapping = tmp_path / "mapping.json"
    mapping.write_text(json.dumps({str(n): t.task_id for n, t in enumerate(tasks)}))

    done = import_cli(run, "vbvr", "--mapping", str(mapping), cwd=tmp_path)
    assert done.returncode == 1, "a video of no known task fails the import"
    assert f"imported {len(tasks)} of {len(tasks) + 1} videos" in done.stdout and "1 unknown task" in done.stdout
    assert f"video_{len(tasks)}.mp4" in done.stderr and "names no task" in done.stderr
    generations = find_generations(tmp_path / "out" / "ext")
    assert {g.record.model for g in generations} == {"my_model"}, "the model is the run folder's name"
    assert sorted(g.record.task_id for g in generations) == sorted(t.task_id for t in tasks)
    assert all(g.record.provenance and g.record.provenance["format"] == "vbvr" for g in generations)

    # The same mapping as a CSV of index,task_id, and an explicit --model.
    table = tmp_path / "mapping.csv"
    table.write_text("index,task_id\n" + "".join(f"{n},{t.task_id}\n" for n, t in enumerate(tasks)))
    found = find_videos("vbvr", run / "pred", table)
    assert [v.task_id for v in found] == [t.task_id for t in tasks] + [""]
    summary = import_videos(
        found[:-1],
        fmt="vbvr",
        questions_dir=tmp_path / "questions",
        experiment_dir=tmp_path / "out" / "ext",
        model="renamed",
    )
    assert summary.count("imported") == len(tasks) and summary.complete


def test_flat_folder_with_a_csv(tmp_path: Path, tasks: list[Task]) -> None:
    flat = tmp_path / "flat"
    flat.mkdir()
    rows = ["task_id,video,model"]
    for task in tasks:
        oracle(task, flat / f"{task.task_id}.mp4")
        rows.append(f"{task.task_id},{task.task_id}.mp4,csv-oracle")
    (flat / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 4)  # an mp4 header, no video
    rows.append(f"{tasks[0].task_id},broken.mp4,csv-oracle")
    rows.append(f"maze_9999,{tasks[0].task_id}.mp4,csv-oracle")
    (flat / "videos.csv").write_text("\n".join(rows) + "\n")

    done = import_cli(flat, "csv", cwd=tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"imported {len(tasks)} of {len(tasks) + 2} videos" in done.stdout
    assert "1 unknown task, 1 undecodable" in done.stdout
    assert "broken.mp4" in done.stderr and "does not decode" in done.stderr
    assert "no task maze_9999" in done.stderr
    experiment = tmp_path / "out" / "ext"
    assert len(find_generations(experiment)) == len(tasks), "nothing of the broken video was written"
    assert not list(experiment.rglob("broken*")) and not list(experiment.rglob(".*.tmp-*"))

    # The same bytes under another name are the same generation.
    os.rename(flat / f"{tasks[0].task_id}.mp4", flat / "renamed.mp4")
    (flat / "again.csv").write_text(f"task_id,video\n{tasks[0].task_id},renamed.mp4\n")
    again = import_cli(flat, "csv", "--mapping", str(flat / "again.csv"), "--model", "csv-oracle", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert "imported 0 of 1 videos" in again.stdout and "(1 already there)" in again.stdout


def test_usage_errors_exit_2_with_one_line(
    tmp_path: Path, tasks: list[Task], capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    done = import_cli(empty, "vmevalkit", cwd=tmp_path)  # one as a real process: the exit code a shell sees
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith("error: ") and "expected <model>/<domain>_task/<task_id>/video/*.mp4" in done.stderr

    def in_process(*args: str) -> str:
        common = ["--questions-dir", str(tmp_path / "questions"), "--output-dir", str(tmp_path / "out")]
        assert main(["import-videos", *args, *common, "--experiment", "ext"]) == 2
        lines = capsys.readouterr().err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), lines
        return lines[0]

    assert "no pred/video_N.mp4" in in_process(str(empty), "--format", "vbvr")
    assert "--format csv needs --mapping" in in_process(str(empty), "--format", "csv")
    assert "is not a folder" in in_process(str(tmp_path / "missing"), "--format", "csv")
    (empty / "pred").mkdir()
    oracle(tasks[0], empty / "pred" / "video_0.mp4")
    assert "needs --mapping FILE" in in_process(str(empty), "--format", "vbvr")
    (empty / "videos.csv").write_text(f"task_id,video\n{tasks[0].task_id},pred/video_0.mp4\n")
    assert "names no model: pass --model" in in_process(str(empty), "--format", "csv")
    assert "must be a plain name" in in_process(str(empty), "--format", "csv", "--model", "../escape")
    (empty / "videos.csv").write_text(f"task,video\n{tasks[0].task_id},pred/video_0.mp4\n")
    assert "has no column 'task_id'" in in_process(str(empty), "--format", "csv", "--model", "m")
    assert not list(tmp_path.glob("out/ext/**/metadata.json")), "a usage error writes nothing"


CHILD = """
import os, signal, sys
from pathlib import Path
from vmevalkit.runner import importing

def killed(staging, run_dir):  # the video and the record are written; the rename never happens
    assert (staging / "metadata.json").is_file() and list((staging / "video").glob("*.mp4"))
    os.kill(os.getpid(), signal.SIGKILL)

importing._publish = killed
src, questions, experiment = map(Path, sys.argv[1:4])
videos = importing.find_videos("csv", src)
importing.import_videos(videos, fmt="csv", questions_dir=questions, experiment_dir=experiment, model="m")
"""


def test_kill_9_mid_import_leaves_nothing_visible(tmp_path: Path, tasks: list[Task]) -> None:
    flat = tmp_path / "flat"
    flat.mkdir()
    oracle(tasks[0], flat / "a.mp4")
    (flat / "videos.csv").write_text(f"task_id,video\n{tasks[0].task_id},a.mp4\n")
    experiment = tmp_path / "out" / "ext"
    child = subprocess.run(
        [sys.executable, "-c", CHILD, str(flat), str(tmp_path / "questions"), str(experiment)],
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert child.returncode == -9, child.stderr
    task_dir = experiment / "m" / f"{tasks[0].domain}_task" / tasks[0].task_id
    assert [p.name for p in task_dir.iterdir() if not p.name.startswith(".")] == [], "no generation folder appeared"
    assert list(task_dir.glob(".import-*.tmp-*")), "the killed import's staging folder is left, hidden"
    with pytest.raises(GenerationSelectionError):
        find_generations(experiment)

    summary = import_videos(
        find_videos("csv", flat), fmt="csv", questions_dir=tmp_path / "questions", experiment_dir=experiment, model="m"
    )
    assert summary.count("imported") == 1
    assert not list(task_dir.glob(".import-*.tmp-*")), "the next import of the same video removes the leftover"
    (generation,) = find_generations(experiment)
    assert read_record(generation.run_dir) == generation.record
    assert generation.record.video_sha256 == file_sha256(flat / "a.mp4")


def test_a_failure_after_the_copy_removes_the_staging_folder(
    tmp_path: Path, tasks: list[Task], monkeypatch: pytest.MonkeyPatch
) -> None:
    from vmevalkit.runner import importing

    flat = tmp_path / "flat"
    flat.mkdir()
    oracle(tasks[0], flat / "a.mp4")
    (flat / "videos.csv").write_text(f"task_id,video\n{tasks[0].task_id},a.mp4\n")

    def full_disk(staging: Path, run_dir: Path) -> None:
        raise OSError(28, "No space left on device", str(run_dir))

    monkeypatch.setattr(importing, "_publish", full_disk)
    experiment = tmp_path / "out" / "ext"
    summary = import_videos(
        find_videos("csv", flat), fmt="csv", questions_dir=tmp_path / "questions", experiment_dir=experiment, model="m"
    )
    (outcome,) = summary.outcomes
    assert outcome.kind == "failed" and "No space left" in (outcome.reason or "")
    task_dir = experiment / "m" / f"{tasks[0].domain}_task" / tasks[0].task_id
    assert [p.name for p in task_dir.iterdir() if not p.name.endswith(".lock")] == []


def test_layout_errors_name_the_fix(tmp_path: Path) -> None:
    with pytest.raises(ImportUsageError, match="--format vbvr"):
        find_videos("vmevalkit", tmp_path)
    bad = tmp_path / "map.json"
    bad.write_text('{"0": 5}')
    (tmp_path / "pred").mkdir()
    (tmp_path / "pred" / "video_0.mp4").write_bytes(b"")
    with pytest.raises(ImportUsageError, match="JSON list of task ids"):
        find_videos("vbvr", tmp_path, bad)


def write_imported(questions: Path, domain: str, task_id: str, source_domain: str, fmt: str) -> None:
    """A task as ``vmevalkit tasks import`` writes it: the source's metadata, our domain, where it came from."""
    folder = questions / f"{domain}_task" / task_id
    folder.mkdir(parents=True)
    Image.new("RGB", (64, 64), (200, 200, 200)).save(folder / "first_frame.png")
    (folder / "prompt.txt").write_text("Show the move.")
    metadata = {"id": task_id, "domain": domain, "source_domain": source_domain, "source_format": fmt}
    (folder / "question_metadata.json").write_text(json.dumps(metadata))


def test_upstream_outputs_under_upstream_domain_names_find_the_imported_tasks(tmp_path: Path) -> None:
    """Upstream writes ``chess_task/`` and ``mirror_clock_task/``; their imported tasks are ours, ``chess_mate`` and
    ``clock``, with the upstream name kept as ``source_domain``. The videos must find them."""
    questions = tmp_path / "questions"
    write_imported(questions, "chess_mate", "chess_0002", "chess", "vmevalkit")
    write_imported(questions, "clock", "mirror_clock_0001", "mirror_clock", "vmevalkit")
    src = tmp_path / "upstream" / "veo"
    for folder in ("chess_task/chess_0002", "mirror_clock_task/mirror_clock_0001"):
        (src / folder / "video").mkdir(parents=True)
        write_video([np.full((64, 64, 3), 90, np.uint8)] * 4, src / folder / "video" / "video.mp4")

    summary = import_videos(
        find_videos("vmevalkit", tmp_path / "upstream"),
        fmt="vmevalkit",
        questions_dir=questions,
        experiment_dir=tmp_path / "out" / "ext",
    )
    assert summary.complete, [o.reason for o in summary.failures]
    generations = find_generations(tmp_path / "out" / "ext")
    assert sorted((g.record.domain, g.record.task_id) for g in generations) == [
        ("chess_mate", "chess_0002"),
        ("clock", "mirror_clock_0001"),
    ]


def test_vbvr_bench_outputs_split_task_index(tmp_path: Path) -> None:
    """VBVR-Bench model outputs: ``<split>/<task_name>/<NNNNN>.mp4`` (Video-Reason/VBVR-EvalKit README, "Generate
    Model Videos"; evaluate.py: ``{videos_path}/{split}/{task_name}/{idx}.mp4``). The task is the one
    ``vmevalkit tasks import --format vbvr-bench`` made of ``<split>/<task_name>/<NNNNN>/``: ``<domain>_<NNNNN>``,
    the domain the task name without its ``_data-generator`` suffix."""
    questions = tmp_path / "questions"
    generator = "G-131_select_next_figure_data-generator"
    domain = "G-131_select_next_figure"
    for idx in ("00000", "00001"):
        write_imported(questions, domain, f"{domain}_{idx}", domain, "vbvr-bench")
    run = tmp_path / "wan-i2v"
    (run / "In-Domain_50" / generator).mkdir(parents=True)
    for idx in ("00000", "00001", "00002"):  # 00002 has no task
        write_video([np.full((64, 64, 3), 90, np.uint8)] * 4, run / "In-Domain_50" / generator / f"{idx}.mp4")
    (run / "In-Domain_50" / generator / "notes.mp4").write_bytes(b"")  # not an index: not a generation

    found = find_videos("vbvr-bench", run)
    assert [(v.task_id, v.model) for v in found] == [
        ("G-131_select_next_figure_00000", "wan-i2v"),
        ("G-131_select_next_figure_00001", "wan-i2v"),
        ("G-131_select_next_figure_00002", "wan-i2v"),
    ]
    summary = import_videos(found, fmt="vbvr-bench", questions_dir=questions, experiment_dir=tmp_path / "out" / "x")
    assert summary.count("imported") == 2 and summary.count("unknown_task") == 1
    assert all(
        (g.record.provenance or {}).get("format") == "vbvr-bench" for g in find_generations(tmp_path / "out" / "x")
    )

    done = import_cli(tmp_path / "nothing-here", "vbvr-bench", cwd=tmp_path)
    assert done.returncode == 2
    (tmp_path / "flat").mkdir()
    done = import_cli(tmp_path / "flat", "vbvr-bench", cwd=tmp_path)
    assert done.returncode == 2 and "<split>/<task_name>/<NNNNN>.mp4" in done.stderr, done.stderr

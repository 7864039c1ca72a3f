"""Human labels from the public VMEvalKit (``human-eval.json`` per model and task, a 1-5
``solution_correctness_score``) converted into our labels JSONL, and used by ``evaluate-scorers``.

The fixture folder follows upstream's ``vmevalkit/eval/human_eval.py`` (``_save_evaluation``) exactly; its
README says which file holds what on purpose (a cut-off file, a score of 7, a model with no generation)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, cli_env, copy_sample, run_generate

from vmevalkit.cli.evaluate_scorers import IMPORT_FORMATS
from vmevalkit.cli.main import evaluate_scorers_main as evaluate
from vmevalkit.scoring.meta_eval import MetaEvalError, RatingLabel, parse_label_line, read_labels
from vmevalkit.scoring.meta_eval.upstream_labels import (
    FORMAT,
    FORMATS,
    PASS_THRESHOLD,
    convert_human_eval,
    write_labels,
)

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "upstream_labels" / "pilot_experiment"
BASELINES = ["static-first-frame", "oracle-solution", "shortcut-cut"]
TASKS = [("maze_task", "maze_0001"), ("sudoku_task", "sudoku_0001")]
# What the fixture's four good files say: (model, task_type, task_id) -> (score, annotator)
GOOD = {
    ("oracle-solution", "maze_task", "maze_0001"): (5, "alice"),
    ("shortcut-cut", "maze_task", "maze_0001"): (2, "alice"),
    ("static-first-frame", "maze_task", "maze_0001"): (1, "alice"),
    ("oracle-solution", "sudoku_task", "sudoku_0001"): (4, "bob"),
}


def keys_for(run: str = "s42-0123456789") -> list[str]:
    """Generation keys as an experiment of the three baselines on the two tasks would have them."""
    return [f"{model}/{task_type}/{task_id}/{run}" for model in BASELINES for task_type, task_id in TASKS]


def upstream_file(root: Path, model: str, task_type: str, task_id: str, document: object) -> Path:
    """One file where upstream's _save_evaluation puts it, written as it writes it (indent=2)."""
    path = root / model / task_type / task_id / "human-eval.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(document if isinstance(document, str) else json.dumps(document, indent=2))
    return path


def document(
    score: object, model: str = "m", task_type: str = "maze_task", task_id: str = "t1", **meta: object
) -> dict[str, dict[str, object]]:
    metadata: dict[str, object] = {"evaluator": "human-eval", "annotator": "carol"}
    metadata["timestamp"] = "2025-10-14T10:02:11.482913"
    metadata.update({"model_name": model, "task_type": task_type, "task_id": task_id, **meta})
    return {"metadata": metadata, "result": {"solution_correctness_score": score, "comments": ""}}


# -- the converter on the fixture ------------------------------------------------------------


def test_the_fixture_converts_its_four_good_files_and_says_why_it_skips_the_other_three() -> None:
    conversion = convert_human_eval(FIXTURE, keys_for())
    assert conversion.converted == sorted("/".join(place) + "/human-eval.json" for place in GOOD)
    skipped = {s.file.split("/")[0] + "/" + s.file.split("/")[1]: s.reason for s in conversion.skipped}
    assert set(skipped) == {"shortcut-cut/sudoku_task", "static-first-frame/sudoku_task", "veo-3/maze_task"}
    assert skipped["shortcut-cut/sudoku_task"].startswith("not valid JSON")
    assert "solution_correctness_score 7 is outside the upstream scale" in skipped["static-first-frame/sudoku_task"]
    assert "no completed generation of veo-3/maze_task/maze_0001" in skipped["veo-3/maze_task"]

    # two ratings per file: the raw 1-5 score and pass/fail at PASS_THRESHOLD, by the annotator
    parsed = [parse_label_line(json.dumps(line)) for line in conversion.lines]
    ratings = [label for label in parsed if isinstance(label, RatingLabel)]
    assert len(parsed) == len(ratings) == 8
    found = {(label.generation, label.dimension): (label.value, label.rater) for label in ratings}
    for (model, task_type, task_id), (score, annotator) in GOOD.items():
        key = f"{model}/{task_type}/{task_id}/s42-0123456789"
        assert found[(key, "solution_correctness")] == (score, annotator)
        assert found[(key, "task_success")] == (float(score >= PASS_THRESHOLD), annotator)


def test_comments_become_the_note_and_the_whole_upstream_document_is_kept() -> None:
    conversion = convert_human_eval(FIXTURE, keys_for())
    by_file = {line["source"]["file"]: line for line in conversion.lines}
    static = by_file["static-first-frame/maze_task/maze_0001/human-eval.json"]
    original = json.loads((FIXTURE / static["source"]["file"]).read_text())
    assert static["source"] == {"format": FORMAT, "file": static["source"]["file"], "upstream": original}
    # fields upstream never writes survive too
    assert static["source"]["upstream"]["metadata"]["session"] == "pilot-2"
    assert static["source"]["upstream"]["result"]["reasoning_visible"] is False
    oracle = by_file["oracle-solution/maze_task/maze_0001/human-eval.json"]
    assert oracle["note"] == "reaches the exit along the corridors"


@pytest.mark.parametrize("score", [1, 2, 3, 4, 5, 4.0])
def test_scores_of_four_and_five_pass_as_upstream_counts_them(tmp_path: Path, score: float) -> None:
    upstream_file(tmp_path, "m", "maze_task", "t1", document(score))
    conversion = convert_human_eval(tmp_path, ["m/maze_task/t1/r1"])
    values = {line["dimension"]: line["value"] for line in conversion.lines}
    assert values == {"solution_correctness": int(score), "task_success": 1 if score >= 4 else 0}


# -- bad files: each skipped with its reason, never stopping the others ----------------------


BAD = {
    "not-json": ("{'metadata': ", "not valid JSON"),
    "a-list": ("[1, 2]", "expected a JSON object"),
    "no-result": ('{"metadata": {}}', 'no "result" object'),
    "nan": ('{"metadata": {}, "result": {"solution_correctness_score": NaN}}', "not valid JSON"),
    "no-score": ({"metadata": {}, "result": {"comments": "?"}}, "result has no solution_correctness_score"),
    "zero": (document(0, model="zero"), "solution_correctness_score 0 is outside the upstream scale"),
    "half": (document(3.5, model="half"), "3.5 is outside the upstream scale"),
    "bool": (document(True, model="bool"), "must be a number 1-5, got True"),
    "text": (document("5", model="text"), "must be a number 1-5, got '5'"),
    "machine": (document(4, model="machine", evaluator="gpt4o-eval"), "evaluator is 'gpt4o-eval', not a person"),
    "moved": (document(4, model="elsewhere"), "metadata model_name 'elsewhere' disagrees with its folder 'moved'"),
    "two-runs": (document(4, model="two-runs"), "2 completed generations of two-runs/maze_task/t1 (r1, r2)"),
}


def test_every_bad_file_is_skipped_with_its_reason_and_the_good_one_still_converts(tmp_path: Path) -> None:
    for model, (content, _) in BAD.items():
        upstream_file(tmp_path, model, "maze_task", "t1", content)
    upstream_file(tmp_path, "good", "maze_task", "t1", document(5, model="good", annotator=""))
    (tmp_path / "shallow").mkdir()
    (tmp_path / "shallow" / "human-eval.json").write_text(json.dumps(document(5)))
    upstream_file(tmp_path / "x", "m", "maze", "t1", document(5, task_type="maze"))  # folder is not <domain>_task
    keys = [f"{model}/maze_task/t1/r1" for model in [*BAD, "good", "zero"]] + ["two-runs/maze_task/t1/r2"]

    conversion = convert_human_eval(tmp_path, keys)
    assert conversion.converted == ["good/maze_task/t1/human-eval.json"]
    reasons = {s.file: s.reason for s in conversion.skipped}
    for model, (_, reason) in BAD.items():
        assert reason in reasons.pop(f"{model}/maze_task/t1/human-eval.json"), model
    assert "not in the upstream layout" in reasons.pop("shallow/human-eval.json")
    assert "does not end in _task" in reasons.pop("x/m/maze/t1/human-eval.json")
    assert reasons == {}
    # an empty annotator is upstream's default name, never an empty rater
    assert {line["rater"] for line in conversion.lines} == {"Anonymous"}


def test_a_folder_without_upstream_files_is_an_error_naming_the_layout(tmp_path: Path) -> None:
    with pytest.raises(MetaEvalError, match=r"<model>/<task_type>/<task_id>/human-eval\.json"):
        convert_human_eval(tmp_path, [])
    with pytest.raises(MetaEvalError, match="no folder"):
        convert_human_eval(tmp_path / "absent", [])


# -- writing ----------------------------------------------------------------------------------


def test_the_labels_file_is_rewritten_identically_and_a_hand_written_one_is_never_replaced(tmp_path: Path) -> None:
    out = tmp_path / "labels.jsonl"
    write_labels(convert_human_eval(FIXTURE, keys_for()), out)
    first = out.read_bytes()
    first_key = "oracle-solution/maze_task/maze_0001/s42-0123456789"
    assert [getattr(n.label, "generation", None) for n in read_labels(out)][:2] == [first_key] * 2
    write_labels(convert_human_eval(FIXTURE, keys_for()), out)  # its own output: replaced, byte for byte the same
    assert out.read_bytes() == first
    assert [p.name for p in tmp_path.iterdir()] == ["labels.jsonl"]  # no temp file left behind

    mine = tmp_path / "mine.jsonl"
    hand = '{"type": "rating", "generation": "m/maze_task/t/r", "dimension": "d", "value": 1, "rater": "x"}\n'
    mine.write_text(first.decode() + hand)
    with pytest.raises(MetaEvalError, match="not imported from vmevalkit-human-eval"):
        write_labels(convert_human_eval(FIXTURE, keys_for()), mine)
    assert mine.read_text() == first.decode() + hand


def test_the_command_line_offers_exactly_the_formats_the_converter_reads() -> None:
    assert IMPORT_FORMATS == FORMATS == ("vmevalkit-human-eval",)


# -- end to end: a real experiment, the fixture converted, evaluate-scorers on it -------------


@pytest.fixture(scope="module")
def experiment(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The three baselines on the sample's first maze and sudoku task, generated and scored by task-verifier."""
    root = tmp_path_factory.mktemp("upstream")
    copy_sample(root / "questions", ("maze", "sudoku"))
    generated = run_generate(
        *("--model", *BASELINES, "--limit-per-domain", "1", "--duration", "1"),
        *("--questions-dir", str(root / "questions"), "--output-dir", "o", "--no-progress"),
        cwd=root,
    )
    assert generated.returncode == 0, generated.stdout + generated.stderr
    scored = subprocess.run(
        [sys.executable, str(REPO / "examples" / "score_videos.py"), "--scorer", "task-verifier"]
        + ["--output-dir", "o", "--no-progress"],
        cwd=root,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert scored.returncode == 0, scored.stdout + scored.stderr
    pilot = root / "o" / "pilot"
    runs = sorted(p.parent.relative_to(pilot).as_posix() for p in pilot.glob("*/*/*/*/metadata.json"))
    assert [key.rsplit("/", 1)[0] for key in runs] == [
        f"{model}/{task_type}/{task_id}" for model in sorted(BASELINES) for task_type, task_id in TASKS
    ]
    return root


def test_imported_upstream_labels_drive_the_meta_evaluation(
    experiment: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    labels = tmp_path / "upstream.jsonl"
    argv = [
        *("--import-labels", str(FIXTURE), "--labels", str(labels), "--scorer", "task-verifier"),
        *("--map", "solution_correctness=task-verifier:task_success"),
        *("--output-dir", str(experiment / "o"), "--out", str(tmp_path / "res"), "--resamples", "200"),
    ]
    assert evaluate(argv) == 0
    out, err = capsys.readouterr()
    assert "imported 4 of 7 vmevalkit-human-eval file(s)" in out and "8 label(s) written" in out
    assert "veo-3/maze_task/maze_0001/human-eval.json: skipped: no completed generation" in err
    assert "static-first-frame/sudoku_task/sudoku_0001/human-eval.json: skipped: solution_correctness_score 7" in err
    assert "shortcut-cut/sudoku_task/sudoku_0001/human-eval.json: skipped: not valid JSON" in err

    # every label names a real run of the experiment
    generations = {n.label.generation for n in read_labels(labels) if isinstance(n.label, RatingLabel)}
    assert all((experiment / "o" / "pilot" / key / "metadata.json").is_file() for key in generations)
    assert len(generations) == 4

    meta = json.loads((tmp_path / "res" / "meta.json").read_text())
    assert meta["config"]["imported_labels"]["converted"] == 4
    assert [s["file"] for s in meta["config"]["imported_labels"]["skipped"]] == [
        "shortcut-cut/sudoku_task/sudoku_0001/human-eval.json",
        "static-first-frame/sudoku_task/sudoku_0001/human-eval.json",
        "veo-3/maze_task/maze_0001/human-eval.json",
    ]
    assert meta["labels"]["labels"] == 8 and meta["labels"]["used"] == 8
    assert meta["labels"]["raters"] == ["alice", "bob"]
    rows = {(r["dimension"], r["human_dimension"]): r for r in meta["summary"]}
    assert set(rows) == {("task_success", "task_success"), ("task_success", "solution_correctness")}

    # pass/fail (4+): only the oracles pass, as task-verifier says; on the maze, shortcut vs static is a tie
    passed = rows[("task_success", "task_success")]
    assert passed["n"] == 4 and passed["n_unscored"] == 0
    assert passed["n_pairs"] == 3 and passed["n_pairs_human_tie"] == 1
    assert passed["spearman"] == 1.0 and passed["pairwise_accuracy"] == 1.0
    # the raw 1-5 score ranks the shortcut (2) above the static video (1): a pair task-verifier ties, so 2 of 3
    raw = rows[("task_success", "solution_correctness")]
    assert raw["n"] == 4 and raw["n_pairs"] == 3 and raw["n_pairs_human_tie"] == 0
    assert raw["pairwise_accuracy"] == pytest.approx(2 / 3, abs=1e-6)
    assert 0 < raw["spearman"] < 1

    # a rerun gives the same labels file, byte for byte
    first = labels.read_bytes()
    assert evaluate(argv) == 0
    assert labels.read_bytes() == first


def test_an_import_that_converts_nothing_writes_nothing_and_exits_2(
    experiment: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "evals"
    shutil.copytree(FIXTURE / "veo-3", src / "veo-3")
    labels = tmp_path / "labels.jsonl"
    argv = ["--import-labels", str(src), "--labels", str(labels), "-s", "task-verifier"]
    code = evaluate([*argv, "--output-dir", str(experiment / "o")])
    err = capsys.readouterr().err
    assert code == 2
    assert "none of the 1 file(s)" in err and "no completed generation of veo-3/maze_task/maze_0001" in err
    assert not labels.exists()

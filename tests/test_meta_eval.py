"""Scorer meta-evaluation: the label format, how labels combine, the numbers on hand-computed cases, and the
command on a real experiment (three baselines generated and scored through the real command lines)."""

from __future__ import annotations

import csv
import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO, cli_env, copy_sample, run_generate

from vmevalkit.cli.main import evaluate_scorers_main as main
from vmevalkit.scoring.meta_eval import (
    DETAIL_COLUMNS,
    SUMMARY_COLUMNS,
    BootstrapSettings,
    Comparison,
    DimensionMap,
    GenerationInfo,
    LabelFileError,
    MetaEvalError,
    NumberedLabel,
    PairLabel,
    RatingLabel,
    ScorerScores,
    aggregate_labels,
    bootstrap_paired_ci,
    evaluate,
    normalise_generation,
    parse_label_line,
    parse_map,
    plan_comparisons,
    read_labels,
)
from vmevalkit.scoring.metrics import spearman

BASELINES = ["static-first-frame", "oracle-solution", "shortcut-cut"]
FAST = BootstrapSettings(resamples=500)


# -- a real experiment, built and scored once for the module ---------------------------


def run_evaluate(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(REPO / "examples" / "evaluate_scorers.py"), *args],
        cwd=cwd,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )


class Experiment:
    def __init__(self, root: Path) -> None:
        self.root = root  # holds o/<experiment>
        self.dir = root / "o" / "pilot"
        # (model, task_id) -> the generation's key, read from the metadata the runner wrote
        self.keys: dict[tuple[str, str], str] = {}
        for meta in sorted(self.dir.glob("*/*_task/*/*/metadata.json")):
            record = json.loads(meta.read_text())
            self.keys[(record["model"], record["task_id"])] = meta.parent.relative_to(self.dir).as_posix()

    def score(self, scorer: str, dimension: str) -> dict[tuple[str, str], float]:
        found = {}
        for (model, task_id), key in self.keys.items():
            record = json.loads((self.dir / key / "scores" / f"{scorer}.json").read_text())
            found[(model, task_id)] = record["dimensions"][dimension]
        return found


@pytest.fixture(scope="module")
def experiment(tmp_path_factory: pytest.TempPathFactory) -> Experiment:
    root = tmp_path_factory.mktemp("meta")
    copy_sample(root / "questions")
    generated = run_generate(
        "--model",
        *BASELINES,
        "--limit-per-domain",
        "1",
        "--duration",
        "1",
        "--questions-dir",
        str(root / "questions"),
        "--output-dir",
        "o",
        "--no-progress",
        cwd=root,
    )
    assert generated.returncode == 0, generated.stdout + generated.stderr
    scored = subprocess.run(
        [sys.executable, str(REPO / "examples" / "score_videos.py"), "--scorer", "task-verifier", "frame-match"]
        + ["--output-dir", "o", "--no-progress"],
        cwd=root,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert scored.returncode == 0, scored.stdout + scored.stderr
    built = Experiment(root)
    assert len(built.keys) == 9, built.keys
    return built


def write_jsonl(path: Path, rows: list[dict | str]) -> Path:
    path.write_text("".join((row if isinstance(row, str) else json.dumps(row)) + "\n" for row in rows))
    return path


def truth_labels(experiment: Experiment, rater: str = "alice") -> list[dict | str]:
    """What a careful person says: only the oracle solved its task (the shortcut jumps, the static video stays)."""
    return [
        {
            "type": "rating",
            "generation": key,
            "dimension": "task_success",
            "value": 1 if model == "oracle-solution" else 0,
            "rater": rater,
        }
        for (model, _), key in sorted(experiment.keys.items())
    ]


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def row_of(rows: list[dict[str, str]], scorer: str, dimension: str, **extra: str) -> dict[str, str]:
    (row,) = [
        r
        for r in rows
        if r["scorer"] == scorer and r["dimension"] == dimension and all(r[k] == v for k, v in extra.items())
    ]
    return row


# -- the end-to-end check the issue asks for -------------------------------------------------


def test_task_verifier_agrees_with_people_and_frame_match_cannot_tell_the_shortcut_from_the_oracle(
    experiment: Experiment, tmp_path: Path
) -> None:
    unknown = "veo-9/maze_task/maze_0001/s42-0000000000"
    stranger = {"type": "rating", "generation": unknown, "dimension": "task_success", "value": 1, "rater": "alice"}
    labels = write_jsonl(tmp_path / "labels.jsonl", [*truth_labels(experiment), "", stranger])
    result = run_evaluate(
        "--labels",
        str(labels),
        "--scorer",
        "task-verifier",
        "frame-match",
        "--map",
        "task_success=frame-match:final_ssim",
        "task_success=end_state",
        "--output-dir",
        str(experiment.root / "o"),
        "--experiment",
        "pilot",
        "--out",
        str(tmp_path / "res"),
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"labels.jsonl:11: skipped: {unknown} is not a completed generation" in result.stderr
    summary = read_csv(tmp_path / "res" / "meta_summary.csv")
    assert list(summary[0]) == list(SUMMARY_COLUMNS)
    assert [(r["scorer"], r["dimension"]) for r in summary] == [
        ("task-verifier", "task_success"),
        ("task-verifier", "end_state"),
        ("frame-match", "final_ssim"),
    ]

    # task-verifier's verdict is exactly the people's: every statistic 1, with a degenerate interval.
    verifier = row_of(summary, "task-verifier", "task_success")
    assert verifier["n"] == "9" and verifier["n_unscored"] == "0"
    # 3 tasks x 3 generations: 3 pairs each, derived from the ratings; shortcut vs static is a human tie
    assert (
        verifier["n_pairs"] == "9" and verifier["n_pairs_from_ratings"] == "9" and verifier["n_pairs_human_tie"] == "3"
    )
    for column in ("spearman", "kendall_tau_b", "pairwise_accuracy", "pairwise_accuracy_ties_half"):
        assert float(verifier[column]) == 1.0, column
        assert float(verifier[f"{column}_ci_low"]) == float(verifier[f"{column}_ci_high"]) == 1.0, column

    # end_state passes the shortcut too. By hand: ranks give rho = 20.25 / 40.5; of the 6 untied pairs the
    # oracle-vs-shortcut ones are scorer ties (wrong), the oracle-vs-static ones right; with ties for half
    # credit the human-tied shortcut-vs-static pairs, which end_state prefers, add 0.5 each: (3 * 0.5 + 3) / 6.
    end_state = row_of(summary, "task-verifier", "end_state")
    assert float(end_state["spearman"]) == 0.5 and float(end_state["kendall_tau_b"]) == 0.5
    assert float(end_state["pairwise_accuracy"]) == 0.5
    assert float(end_state["pairwise_accuracy_ties_half"]) == pytest.approx(2 / 3, abs=1e-6)

    # frame-match only looks at the end: the shortcut ends on the very answer image, so its final SSIM is as
    # high as the oracle's and frame-match cannot tell them apart.
    ssim = experiment.score("frame-match", "final_ssim")
    for task in {t for _, t in experiment.keys}:
        oracle, shortcut, static = (ssim[(m, task)] for m in ("oracle-solution", "shortcut-cut", "static-first-frame"))
        assert static < oracle and abs(shortcut - oracle) < (oracle - static) / 5, task
    frame = row_of(summary, "frame-match", "final_ssim")
    assert frame["human_dimension"] == "task_success" and frame["n"] == "9"
    for column in ("spearman", "kendall_tau_b", "pairwise_accuracy", "pairwise_accuracy_ties_half"):
        assert float(frame[column]) < float(verifier[column]) - 0.3, column
    assert float(frame["spearman_ci_low"]) < float(frame["spearman"]) < float(frame["spearman_ci_high"])

    detail = read_csv(tmp_path / "res" / "meta_detail.csv")
    assert list(detail[0]) == list(DETAIL_COLUMNS) and len(detail) == 3 * 3
    for domain in ("maze", "sliding_puzzle", "sudoku"):
        per_domain = row_of(detail, "task-verifier", "task_success", domain=domain)
        assert per_domain["n"] == "3" and per_domain["n_pairs"] == "3" and float(per_domain["spearman"]) == 1.0
        # n = 3 binary ratings: most resamples are constant, so no interval rather than a fake one
        assert row_of(detail, "task-verifier", "end_state", domain=domain)["spearman_ci_low"] == ""

    meta = json.loads((tmp_path / "res" / "meta.json").read_text())
    assert meta["config"]["scorers"] == ["task-verifier", "frame-match"]
    assert meta["config"]["maps"] == ["task_success=frame-match:final_ssim", "task_success=end_state"]
    assert [f["file"] for f in meta["config"]["labels_files"]] == ["labels.jsonl"] and meta["config"]["seed"] == 0
    assert meta["labels"]["unknown_generations"] == [{"line": 11, "generation": unknown}]
    assert meta["labels"]["used"] == 9 and meta["labels"]["raters"] == ["alice"]
    assert [r["spearman"] for r in meta["summary"]] == [round(float(r["spearman"]), 6) for r in summary]
    assert len(meta["detail"]) == 9 and meta["detail"][3]["dimension"] == "end_state"
    assert meta["detail"][3]["spearman"] == 0.5 and meta["detail"][3]["spearman_ci_low"] is None
    assert str(tmp_path) not in (tmp_path / "res" / "meta.json").read_text(), "no machine paths in the results"


def test_default_output_folder_and_seeded_intervals_repeat(experiment: Experiment, tmp_path: Path) -> None:
    labels = write_jsonl(tmp_path / "labels.jsonl", truth_labels(experiment))
    args = ("--labels", str(labels), "--scorer", "frame-match", "--map", "task_success=final_psnr")
    args += ("--output-dir", str(experiment.root / "o"))
    out = experiment.dir / "meta_eval"
    try:
        first = run_evaluate(*args, cwd=tmp_path)
        assert first.returncode == 0, first.stderr
        rows = read_csv(out / "meta_summary.csv")
    finally:
        shutil.rmtree(out, ignore_errors=True)  # the experiment is shared by the module's tests
    assert rows[0]["dimension"] == "final_psnr" and rows[0]["spearman_ci_low"] != ""
    again = run_evaluate(*args, "--out", "again", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert read_csv(tmp_path / "again" / "meta_summary.csv") == rows, "the same seed, the same intervals"
    other = run_evaluate(*args, "--seed", "7", "--out", "s7", cwd=tmp_path)
    assert other.returncode == 0, other.stderr
    reseeded = read_csv(tmp_path / "s7" / "meta_summary.csv")[0]
    assert reseeded["spearman"] == rows[0]["spearman"] and reseeded["spearman_ci_low"] != rows[0]["spearman_ci_low"]


def test_pair_labels_of_several_raters_on_a_real_experiment(experiment: Experiment, tmp_path: Path) -> None:
    oracle, shortcut = experiment.keys[("oracle-solution", "maze_0001")], experiment.keys[("shortcut-cut", "maze_0001")]
    static = experiment.keys[("static-first-frame", "maze_0001")]
    labels = write_jsonl(
        tmp_path / "labels.jsonl",
        [
            # two raters agree the oracle beats the shortcut, one names the pair the other way round
            {"type": "pair", "a": oracle, "b": shortcut, "dimension": "task_success", "preference": "A", "rater": "a"},
            {"type": "pair", "a": shortcut, "b": oracle, "dimension": "task_success", "preference": "B", "rater": "b"},
            # shortcut vs static: one says tie, one says the shortcut: mean 0.75 for the shortcut
            {
                "type": "pair",
                "a": static,
                "b": shortcut,
                "dimension": "task_success",
                "preference": "tie",
                "rater": "a",
            },
            {"type": "pair", "a": static, "b": shortcut, "dimension": "task_success", "preference": "B", "rater": "b"},
        ],
    )
    out = tmp_path / "res"
    common = ("--output-dir", str(experiment.root / "o"), "--out", str(out))
    result = run_evaluate("--labels", str(labels), "--scorer", "task-verifier", *common, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    summary = read_csv(out / "meta_summary.csv")
    verifier = row_of(summary, "task-verifier", "task_success")
    # no ratings: no correlation, two labelled pairs
    assert verifier["n"] == "0" and verifier["spearman"] == ""
    assert verifier["n_pairs"] == "2" and verifier["n_pairs_labelled"] == "2" and verifier["n_pairs_human_tie"] == "0"
    # right on oracle > shortcut; the verifier fails both shortcut and static (a tie) where people prefer the
    # shortcut: wrong with ties excluded (a scorer tie is wrong), half credit with ties counted: (1 + 0.5) / 2
    assert float(verifier["pairwise_accuracy"]) == 0.5 and float(verifier["pairwise_accuracy_ties_half"]) == 0.75
    assert row_of(read_csv(out / "meta_detail.csv"), "task-verifier", "task_success")["domain"] == "maze"


# -- command-line errors ------------------------------------------------------------------


def test_bad_lines_stop_the_run_with_their_line_numbers(
    experiment: Experiment, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = truth_labels(experiment)
    labels = write_jsonl(tmp_path / "labels.jsonl", [good[0], "{not json", good[1], {**good[2], "value": "high"}])
    code = main(["--labels", str(labels), "--scorer", "task-verifier", "--output-dir", str(experiment.root / "o")])
    err = capsys.readouterr().err
    assert code == 2
    assert "2 bad line(s) in the labels file (format: docs/SCORING.md" in err
    assert "labels.jsonl:2: not valid JSON" in err
    assert "labels.jsonl:4: value: Input should be a valid number, got 'high'" in err
    assert "labels.jsonl:1" not in err and "labels.jsonl:3" not in err
    assert not (experiment.dir / "meta_eval").exists(), "nothing written"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("--scorer", "frame-mach"),
            "no score file of scorer 'frame-mach' for the labelled generations (did you mean: frame-match?)",
        ),
        (("--scorer", "frame-match"), "--map task_success=frame-match:final_ssim"),
        (("--scorer", "frame-match", "--map", "succes=final_ssim"), "no label rates the dimension 'succes'"),
        (("--scorer", "frame-match", "--map", "task_success=frame-match:final_sim"), "did you mean: final_ssim"),
        (("--scorer", "task-verifier", "--map", "task_success=frame-match:final_ssim"), "add frame-match to --scorer"),
        (("--scorer", "task-verifier", "--experiment", "nope"), "generate videos first"),
        (("--scorer", "task-verifier", "--map", "task_success"), "expected HUMAN=DIMENSION or HUMAN=SCORER:DIMENSION"),
        (("--scorer", "task-verifier", "--resamples", "10"), "--resamples: must be at least 100"),
    ],
)
def test_usage_errors_name_the_fix(
    experiment: Experiment,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    args: tuple[str, ...],
    message: str,
) -> None:
    labels = write_jsonl(tmp_path / "labels.jsonl", truth_labels(experiment))
    out = tmp_path / "res"
    common = ["--labels", str(labels), "--output-dir", str(experiment.root / "o"), "--out", str(out)]
    assert exit_code([*common, *args]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists(), "nothing written"


def exit_code(argv: list[str]) -> int:
    """main's return value, or the status of argparse's exit on a bad option."""
    try:
        return main(argv)
    except SystemExit as exc:
        return int(exc.code or 0)


def test_labels_that_name_no_generation_of_the_experiment_stop_the_run(
    experiment: Experiment, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    labels = write_jsonl(
        tmp_path / "labels.jsonl",
        [{"type": "rating", "generation": "m/maze_task/t/r", "dimension": "d", "value": 1, "rater": "x"}],
    )
    code = main(["--labels", str(labels), "--scorer", "task-verifier", "--output-dir", str(experiment.root / "o")])
    err = capsys.readouterr().err
    assert code == 2
    assert "labels.jsonl:1: skipped: m/maze_task/t/r is not a completed generation" in err
    assert "no label names a completed generation" in err
    assert main(["--labels", str(tmp_path / "missing.jsonl"), "--scorer", "x"]) == 2
    assert "no labels file" in capsys.readouterr().err


# -- the label format ------------------------------------------------------------------------


def test_a_rating_and_a_pair_parse_and_generations_are_normalised() -> None:
    rating = parse_label_line(
        '{"type": "rating", "generation": "./m/maze_task/maze_0001/s42-a/", "dimension": "task_success", '
        '"value": 4, "rater": " alice ", "note": "slow but right"}'
    )
    assert isinstance(rating, RatingLabel)
    assert rating.generation == "m/maze_task/maze_0001/s42-a" and rating.value == 4.0 and rating.rater == "alice"
    pair = parse_label_line(
        '{"type": "pair", "a": "m\\\\maze_task\\\\t\\\\r", "b": "n/maze_task/t/r", "dimension": "d", '
        '"preference": "tie", "rater": "bob"}'
    )
    assert isinstance(pair, PairLabel) and pair.a == "m/maze_task/t/r" and pair.preference == "tie"
    assert normalise_generation("m/sudoku_task/sudoku_0001/s1-x") == "m/sudoku_task/sudoku_0001/s1-x"


RATING = {"type": "rating", "generation": "m/maze_task/t/r", "dimension": "d", "value": 1, "rater": "r"}
PAIR = {
    "type": "pair",
    "a": "m/maze_task/t/r",
    "b": "n/maze_task/t/r",
    "dimension": "d",
    "preference": "A",
    "rater": "r",
}
FIELDS = "type, generation, dimension, value, rater, note"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"type": "rating"', "not valid JSON"),
        ("[1, 2]", "expected a JSON object {...}, got list"),
        ({"generation": "m/maze_task/t/r"}, 'type: missing ("rating" or "pair")'),
        ({"type": "score"}, 'type: must be "rating" or "pair", got \'score\''),
        ({**RATING, "value": "1"}, "value: Input should be a valid number, got '1'"),
        ({**RATING, "value": True}, "value: Input should be a valid number, got True"),
        (json.dumps(RATING).replace('"value": 1', '"value": NaN'), "value: Input should be a finite number"),
        ({k: v for k, v in RATING.items() if k != "rater"}, "rater: missing"),
        ({**RATING, "dimension": " "}, "dimension: String should have at least 1 character"),
        ({**RATING, "valeu": 2}, f"valeu: unknown field (a rating label has: {FIELDS})"),
        (
            {**RATING, "generation": "/home/x/m/maze_task/t/r"},
            "is not a generation: expected MODEL/DOMAIN_task/TASK_ID/",
        ),
        ({**RATING, "generation": "m/maze_task/t"}, "'m/maze_task/t' is not a generation"),
        ({**RATING, "generation": "m/../t/r"}, "is not a generation"),
        ({**RATING, "generation": "m/maze/t/r"}, "is not a generation"),
        ({**RATING, "generation": "C:/m/maze_task/t"}, "is not a generation"),
        ({**PAIR, "preference": "a"}, 'preference: must be "A", "B" or "tie", got \'a\''),
        ({**PAIR, "b": "./m/maze_task/t/r"}, "a and b are the same generation (m/maze_task/t/r)"),
    ],
)
def test_every_kind_of_bad_line_says_what_is_wrong(line: str | dict, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_label_line(line if isinstance(line, str) else json.dumps(line))
    assert message in str(caught.value)


def test_read_labels_lists_every_bad_line_by_number_and_skips_blank_lines(tmp_path: Path) -> None:
    good = '{"type": "rating", "generation": "m/maze_task/t/r", "dimension": "d", "value": 1, "rater": "r"}'
    path = write_jsonl(tmp_path / "h.jsonl", [good, "", "nope", good, '{"type": "pair"}'])
    with pytest.raises(LabelFileError) as caught:
        read_labels(path)
    assert [p.split(": ")[0] for p in caught.value.problems] == ["h.jsonl:3", "h.jsonl:5"]
    assert "a: missing; b: missing; dimension: missing; preference: missing; rater: missing" in caught.value.problems[1]
    path = write_jsonl(tmp_path / "ok.jsonl", ["", good, "  ", good])
    assert [n.line for n in read_labels(path)] == [2, 4]
    with pytest.raises(MetaEvalError, match="holds no label"):
        read_labels(write_jsonl(tmp_path / "empty.jsonl", [""]))


# -- combining labels ------------------------------------------------------------------------


def gen(key: str) -> GenerationInfo:
    model, domain_task, task_id, _ = key.split("/")
    return GenerationInfo(key, model, domain_task.removesuffix("_task"), task_id)


def generations(*keys: str) -> dict[str, GenerationInfo]:
    return {k: gen(k) for k in keys}


G1, G2, G3, G4 = (f"m{i}/maze_task/maze_0001/r" for i in range(1, 5))
S1, S2 = "m1/sudoku_task/sudoku_0001/r", "m2/sudoku_task/sudoku_0001/r"


def rating(key: str, value: float, rater: str = "alice", dimension: str = "q") -> RatingLabel:
    return RatingLabel(type="rating", generation=key, dimension=dimension, value=value, rater=rater)


def pair(a: str, b: str, preference: str, rater: str = "alice", dimension: str = "q") -> PairLabel:
    return PairLabel(type="pair", a=a, b=b, dimension=dimension, preference=preference, rater=rater)


def numbered(*labels: RatingLabel | PairLabel) -> list[NumberedLabel]:
    return [NumberedLabel(i, label) for i, label in enumerate(labels, start=1)]


def test_raters_are_averaged_and_a_raters_later_line_replaces_the_earlier() -> None:
    human = aggregate_labels(
        numbered(
            rating(G1, 1, "alice"),
            rating(G1, 0, "bob"),  # two raters: mean 0.5
            rating(G2, 5, "alice"),
            rating(G2, 3, "alice"),  # alice corrects herself: 3 stands
            rating(G3, 2, "carol"),
        ),
        generations(G1, G2, G3),
    )
    assert human.ratings == {"q": {G1: 0.5, G2: 3.0, G3: 2.0}}
    assert human.replaced == 1 and human.used == 5 and human.raters == ["alice", "bob", "carol"]
    # derived pairs within the task, sorted keys, higher mean preferred
    assert [(p.a, p.b, p.preference, p.source) for p in human.pairs["q"]] == [
        (G1, G2, "B", "ratings"),
        (G1, G3, "B", "ratings"),
        (G2, G3, "A", "ratings"),
    ]


def test_pair_votes_average_to_a_consensus_either_way_round() -> None:
    human = aggregate_labels(
        numbered(
            pair(G1, G2, "A", "alice"),
            pair(G1, G2, "B", "bob"),  # A + B: a tie
            pair(G1, G3, "A", "alice"),
            pair(G3, G1, "tie", "bob"),  # A + tie: mean 0.75 for G1
            pair(G4, G2, "A", "alice"),
            pair(G2, G4, "A", "bob"),
            pair(G4, G2, "B", "carol"),  # G4 named first: B prefers G2; votes for G2 (the sorted first): 0, 1, 1
        ),
        generations(G1, G2, G3, G4),
    )
    assert [(p.a, p.b, p.preference) for p in human.pairs["q"]] == [(G1, G2, "tie"), (G1, G3, "A"), (G2, G4, "A")]
    assert all(p.source == "labelled" and p.domain == "maze" for p in human.pairs["q"])
    assert human.ratings == {}


def test_a_labelled_pair_replaces_the_pair_derived_from_ratings_and_unknowns_are_recorded() -> None:
    human = aggregate_labels(
        numbered(
            rating(G1, 1),
            rating(G2, 0),
            pair(G2, G1, "A", "bob"),  # bob thinks G2 is better, against the ratings
            rating("ghost/maze_task/maze_0001/r", 1),
            pair(G1, "ghost/maze_task/maze_0001/r", "A"),
            pair(G1, S1, "A"),  # across domains: kept, no domain
        ),
        generations(G1, G2, S1),
    )
    assert [u.line for u in human.unknown] == [4, 5] and human.used == 4
    assert [(p.a, p.b, p.preference, p.source, p.domain) for p in human.pairs["q"]] == [
        (G1, S1, "A", "labelled", None),  # sorted by the two keys: "m1/maze..." < "m1/sudoku..." < "m2/..."
        (G1, G2, "B", "labelled", "maze"),
    ]


# -- the numbers, by hand ------------------------------------------------------------------


def scores_of(values: dict[str, float | None], dimension: str = "q", name: str = "s") -> dict[str, ScorerScores]:
    return {name: ScorerScores(name, {k: {dimension: v} for k, v in values.items()}, [dimension])}


def only_row(labels: list[NumberedLabel], infos: dict[str, GenerationInfo], scores: dict[str, ScorerScores]):
    human = aggregate_labels(labels, infos)
    summary, detail = evaluate([Comparison("s", "q", "q")], human, scores, infos, FAST)
    (row,) = summary
    return row, detail


def test_correlations_and_accuracy_on_a_hand_computed_case() -> None:
    # people: G1 < G2 < G3 < G4; the scorer swaps G2 and G3
    labels = numbered(rating(G1, 1), rating(G2, 2), rating(G3, 3), rating(G4, 4))
    row, detail = only_row(labels, generations(G1, G2, G3, G4), scores_of({G1: 0.1, G2: 0.3, G3: 0.2, G4: 0.4}))
    assert row["n"] == 4 and row["n_unscored"] == 0
    assert row["spearman"] == pytest.approx(1 - 6 * 2 / (4 * (16 - 1)))  # sum d^2 = 2: 0.8
    assert row["kendall_tau_b"] == pytest.approx((5 - 1) / 6)  # one discordant pair of six
    assert row["n_pairs"] == 6 and row["n_pairs_from_ratings"] == 6 and row["n_pairs_human_tie"] == 0
    assert row["pairwise_accuracy"] == pytest.approx(5 / 6) and row["pairwise_accuracy_ties_half"] == pytest.approx(
        5 / 6
    )
    for column in ("spearman", "kendall_tau_b", "pairwise_accuracy", "pairwise_accuracy_ties_half"):
        assert row[f"{column}_ci_low"] <= row[column] <= row[f"{column}_ci_high"], column
    assert row["pairwise_accuracy_ci_low"] < row["pairwise_accuracy_ci_high"]
    assert [d["domain"] for d in detail] == ["maze"] and detail[0]["spearman"] == row["spearman"]


def test_ties_on_either_side() -> None:
    # people: G1 = G2 < G3; the scorer: G1 < G2 = G3
    labels = numbered(rating(G1, 1), rating(G2, 1), rating(G3, 2))
    row, _ = only_row(labels, generations(G1, G2, G3), scores_of({G1: 0.5, G2: 0.7, G3: 0.7}))
    # centred ranks (-.5, -.5, 1) and (-1, .5, .5): 0.75 / 1.5
    assert row["spearman"] == pytest.approx(0.5)
    # one concordant pair, one tie on each side: 1 / sqrt((3 - 1) * (3 - 1))
    assert row["kendall_tau_b"] == pytest.approx(0.5)
    assert row["n_pairs"] == 3 and row["n_pairs_human_tie"] == 1
    # ties excluded: G1<G3 right, G2<G3 a scorer tie (wrong): 1/2; half credit: + the human tie G1=G2 (scorer
    # prefers G2) 0.5, G2<G3 0.5: (0.5 + 1 + 0.5) / 3
    assert row["pairwise_accuracy"] == pytest.approx(0.5)
    assert row["pairwise_accuracy_ties_half"] == pytest.approx(2 / 3)


def test_unscored_generations_are_left_out_and_counted_and_domains_split() -> None:
    labels = numbered(rating(G1, 0), rating(G2, 1), rating(G3, 2), rating(S1, 0), rating(S2, 1), pair(G1, S1, "B"))
    infos = generations(G1, G2, G3, S1, S2)
    row, detail = only_row(labels, infos, scores_of({G1: 0.0, G2: 1.0, G3: None, S1: 0.2, S2: 0.1}))
    assert row["n"] == 4 and row["n_unscored"] == 1
    # pairs: maze G1-G2 (G1-G3, G2-G3 unscored), sudoku S1-S2, and the labelled cross-domain G1-S1
    assert row["n_pairs"] == 3 and row["n_pairs_labelled"] == 1 and row["n_pairs_from_ratings"] == 2
    assert row["pairwise_accuracy"] == pytest.approx(2 / 3)  # G1-G2 and G1-S1 right; S1-S2 wrong
    by_domain = {d["domain"]: d for d in detail}
    assert set(by_domain) == {"maze", "sudoku"}
    assert by_domain["maze"]["n"] == 2 and by_domain["maze"]["n_unscored"] == 1 and by_domain["maze"]["n_pairs"] == 1
    assert by_domain["sudoku"]["pairwise_accuracy"] == 0.0 and by_domain["sudoku"]["spearman"] == -1.0
    assert by_domain["maze"]["n_pairs"] + by_domain["sudoku"]["n_pairs"] == row["n_pairs"] - 1, (
        "cross-domain: summary only"
    )


def test_no_data_gives_nan_not_an_error() -> None:
    labels = numbered(rating(G1, 1))
    row, _ = only_row(labels, generations(G1), scores_of({G1: None}))
    assert row["n"] == 0 and row["n_unscored"] == 1 and row["n_pairs"] == 0
    assert all(math.isnan(row[c]) for c in ("spearman", "kendall_tau_b", "pairwise_accuracy", "spearman_ci_low"))


def test_the_paired_bootstrap_is_seeded_and_drops_undefined_resamples() -> None:
    x = np.array([1.0, 2, 3, 4, 5, 6, 7, 8])
    y = np.array([1.0, 3, 2, 4, 6, 5, 8, 7])
    first = bootstrap_paired_ci(x, y, spearman, FAST)
    assert first == bootstrap_paired_ci(x, y, spearman, FAST)
    assert first != bootstrap_paired_ci(x, y, spearman, BootstrapSettings(resamples=500, seed=1))
    assert first[0] < spearman(x, y) < first[1] <= 1.0
    assert bootstrap_paired_ci(x, x, spearman, FAST) == (1.0, 1.0), "undefined (constant) resamples are dropped"
    # three binary items: more than half the resamples are constant on one side: no interval
    low, high = bootstrap_paired_ci(np.array([1.0, 0, 0]), np.array([1.0, 1, 0]), spearman, FAST)
    assert math.isnan(low) and math.isnan(high)
    assert all(math.isnan(v) for v in bootstrap_paired_ci(x[:1], y[:1], spearman, FAST))


# -- which dimensions are compared ------------------------------------------------------------


def test_maps_add_comparisons_and_bad_ones_name_the_fix() -> None:
    scorers = {
        "task-verifier": ScorerScores("task-verifier", {}, ["task_success", "end_state", "process"]),
        "frame-match": ScorerScores("frame-match", {}, ["final_ssim", "final_psnr"]),
    }
    planned = plan_comparisons(
        scorers,
        ["task_success"],
        [parse_map("task_success=end_state"), parse_map("task_success=frame-match:final_ssim")],
    )
    assert [(c.scorer, c.dimension, c.human_dimension) for c in planned] == [
        ("task-verifier", "task_success", "task_success"),
        ("task-verifier", "end_state", "task_success"),
        ("frame-match", "final_ssim", "task_success"),
    ]
    assert parse_map(" a = s:b ") == DimensionMap("a", "b", "s") and parse_map("a=b") == DimensionMap("a", "b")
    for bad in ("a", "=b", "a=", "a=:b", "a=s:"):
        with pytest.raises(ValueError, match="HUMAN=DIMENSION"):
            parse_map(bad)
    with pytest.raises(
        MetaEvalError,
        match="frame-match' has no dimension the labels rate .* --map task_success=frame-match:final_ssim",
    ):
        plan_comparisons(scorers, ["task_success"])
    with pytest.raises(MetaEvalError, match="no scorer has the dimension 'final_ssm' \\(did you mean: final_ssim"):
        plan_comparisons(scorers, ["task_success"], [parse_map("task_success=final_ssm")])

"""Scoring finished generations: the scorer contract and plug-ins, the leakage guard, resume, frame-match, the CLI."""

from __future__ import annotations

import ast
import json
import math
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import vmk_test_scorers
from conftest import REPO, cli_env, run_generate

from vmevalkit.runner import SCORER_CATALOG
from vmevalkit.runner.inference import InferenceRunner
from vmevalkit.runner.registry import UnknownScorerError
from vmevalkit.scoring.base import PUBLIC_INPUTS, ScoreItem, ScorerContractError, load_scorer_class
from vmevalkit.scoring.build import build_scorer
from vmevalkit.scoring.frame_match import PSNR_CAP_DB, FrameMatch, fit_to, luma, psnr, ssim
from vmevalkit.scoring.pool import ScorerSpec
from vmevalkit.scoring.runner import (
    Generation,
    GenerationSelectionError,
    ScoreRecord,
    ScoringRunner,
    find_generations,
    items_for,
    load_catalog_scorer,
    read_score,
    score_path,
)
from vmevalkit.tasks.loader import load_tasks
from vmevalkit.utils.atomic import is_temp_file
from vmevalkit.video import read_frames, write_video

BASELINES = ["static-first-frame", "oracle-solution"]


def make_experiment(questions: Path, tmp_path: Path, task_ids: list[str]) -> Path:
    """Both baselines over ``task_ids``, generated in-process: real mp4s and real metadata.json files."""
    tasks = load_tasks(questions, task_ids=task_ids).tasks
    runner = InferenceRunner(output_dir=tmp_path / "outputs", experiment="exp", duration=1.0)
    summary = runner.run(BASELINES, tasks)
    assert summary.completed == len(BASELINES) * len(tasks)
    return runner.experiment_dir


@pytest.fixture
def experiment(questions: Path, tmp_path: Path) -> Path:
    return make_experiment(questions, tmp_path, ["maze_0001", "sudoku_0001"])


def score_files(root: Path) -> list[Path]:
    return sorted(root.rglob("scores/*.json"))


# -- catalog and plug-in loading ---------------------------------------------------------


def test_scorer_catalog_is_pure_data_and_every_entry_loads() -> None:
    tree = ast.parse((REPO / "vmevalkit" / "runner" / "SCORER_CATALOG.py").read_text())
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            assert getattr(node, "module", None) in ("typing", "__future__") or [a.name for a in node.names] == [
                "typing"
            ]
        assert not isinstance(node, (ast.Call, ast.Lambda, ast.FunctionDef, ast.ClassDef)), node.lineno
    assert "frame-match" in SCORER_CATALOG.AVAILABLE_SCORERS
    for name, entry in SCORER_CATALOG.AVAILABLE_SCORERS.items():
        assert entry["kind"] in ("builtin", "api", "local") and entry["description"]
        if entry["kind"] == "local":
            continue  # they need their venv and weights: tests/test_local_scorers.py loads them
        scorer = load_catalog_scorer(name)
        assert scorer.name == name, "a catalog scorer writes its files under its catalog name"
        assert scorer.dimensions and callable(scorer.score_batch)


def test_unknown_scorer_name_suggests_the_close_one() -> None:
    close = "did you mean: frame-match, trajectory-match\\?"
    with pytest.raises(UnknownScorerError, match=f"unknown scorer 'frame-mach' \\({close}\\)"):
        load_catalog_scorer("frame-mach")


def test_duck_typed_plugin_gets_checkpoint_device_and_both_kinds_of_kwargs(experiment: Path) -> None:
    cls = load_scorer_class("vmk_test_scorers:DuckScorerWithDetails")
    scorer = build_scorer(cls, {"scale": 2.0}, checkpoint="weights/v1", device="cpu")
    assert (scorer.scale, scorer.checkpoint, scorer.device) == (2.0, "weights/v1", "cpu")
    generations = find_generations(experiment)
    summary = ScoringRunner(
        scorer, score_kwargs={"factor": 3.0}, init_kwargs={"scale": 2.0}, checkpoint="weights/v1", batch_size=3
    ).run(generations)
    assert (summary.scored, summary.skipped, summary.failed) == (4, 0, 0)
    assert [call["n"] for call in scorer.calls] == [3, 1], "batches of batch_size"
    data = json.loads(score_path(generations[0].run_dir, "duck-details").read_text())
    assert data["scorer"] == "duck-details" and data["class"] == "vmk_test_scorers:DuckScorerWithDetails"
    assert data["dimensions"]["scaled"] == 6.0
    assert data["dimensions"]["size_kb"] == pytest.approx(generations[0].video_path.stat().st_size / 1024)
    assert data["details"] == {"checkpoint": "weights/v1", "device": "cpu", "nan": None}, "NaN in details -> null"
    assert data["video_sha256"] and data["version"] == "1" and data["inputs"] == sorted(PUBLIC_INPUTS)
    assert data["config"] == {
        "init_kwargs": {"scale": 2.0},
        "score_kwargs": {"factor": 3.0},
        "checkpoint": "weights/v1",
    }
    assert ScoreRecord.model_validate(data).scorer_class == data["class"]


def test_a_scorer_without_a_name_writes_under_its_class_name(experiment: Path) -> None:
    ScoringRunner(vmk_test_scorers.DuckScorer()).run(find_generations(experiment))
    assert {p.name for p in score_files(experiment)} == {"DuckScorer.json"}


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("vmk_test_scorers", "is not a dotted path: write it as 'package.module:Name'"),
        ("no_such_pkg.scorers:Judge", "cannot import module 'no_such_pkg.scorers'.*no module named 'no_such_pkg'"),
        ("vmk_test_scorers:DuckScorr", "has no attribute 'DuckScorr' \\(did you mean: DuckScorer"),
        ("vmk_test_scorers:NOT_A_CLASS", "is not a class"),
        ("vmk_test_scorers:NoScoreBatch", "has no score_batch\\(items, \\*\\*kwargs\\) method"),
    ],
)
def test_bad_class_paths_say_what_is_wrong(path: str, message: str) -> None:
    with pytest.raises(ScorerContractError, match=message):
        load_scorer_class(path)


def test_unknown_constructor_keyword_is_a_contract_error() -> None:
    with pytest.raises(ScorerContractError, match="FrameMatch\\(threshold\\) failed"):
        load_catalog_scorer("frame-match", {"threshold": 0.5})


def test_wrong_shape_is_a_clear_error_and_nothing_is_written(experiment: Path) -> None:
    runner = ScoringRunner(vmk_test_scorers.WrongShape())
    with pytest.raises(ScorerContractError, match=r"scorer 'wrong-shape'.*shape \(4, 3\), expected \(4, 2\)"):
        runner.run(find_generations(experiment))
    assert score_files(experiment) == []


def test_a_batch_that_raises_fails_only_its_own_item(experiment: Path) -> None:
    generations = find_generations(experiment)
    flaky = vmk_test_scorers.Flaky(fail_task_ids=["maze_0001"])
    summary = ScoringRunner(flaky, batch_size=2).run(generations)
    assert (summary.scored, summary.failed) == (2, 2)
    # each batch of two held one bad item: it was retried item by item, so its good item is still scored
    assert flaky.batches[:3] == [["maze_0001", "sudoku_0001"], ["maze_0001"], ["sudoku_0001"]]
    for generation in generations:
        record = read_score(score_path(generation.run_dir, "flaky"))
        assert record is not None
        if generation.record.task_id == "maze_0001":
            assert record.error == "RuntimeError: cannot score maze_0001" and record.dimensions == {"ok": None}
        else:
            assert record.error is None and record.dimensions == {"ok": 1.0}
    assert {(g.record.task_id, e) for g, e in summary.failures} == {
        ("maze_0001", "RuntimeError: cannot score maze_0001")
    }

    # error files are redone on the next run; good files are kept
    again = ScoringRunner(vmk_test_scorers.Flaky(), batch_size=2).run(generations)
    assert (again.scored, again.skipped, again.failed) == (2, 2, 0)


def test_a_generation_whose_video_is_gone_fails_alone(experiment: Path) -> None:
    generations = find_generations(experiment)
    generations[0].video_path.unlink()
    summary = ScoringRunner(FrameMatch()).run(generations)
    assert (summary.scored, summary.failed) == (3, 1)
    assert "cannot read the video: FileNotFoundError" in summary.failures[0][1]


# -- finding generations and the answer-leakage guard --------------------------------------


def test_find_generations_filters_and_names_what_exists(experiment: Path) -> None:
    assert len(find_generations(experiment)) == 4
    only = find_generations(experiment, models=["oracle-solution"], domains=["maze"])
    assert [(g.record.model, g.record.task_id) for g in only] == [("oracle-solution", "maze_0001")]
    assert len(find_generations(experiment, task_ids=["sudoku_0001"])) == 2
    with pytest.raises(GenerationSelectionError, match="--model oracle-solutoin.*did you mean: oracle-solution"):
        find_generations(experiment, models=["oracle-solutoin"])
    with pytest.raises(GenerationSelectionError, match="--domain sliding_puzzle.*found: maze, sudoku"):
        find_generations(experiment, domains=["sliding_puzzle"])
    with pytest.raises(GenerationSelectionError, match="generate videos first"):
        find_generations(experiment.parent / "nope")


def test_only_completed_generations_are_scored(experiment: Path) -> None:
    generation = find_generations(experiment)[0]
    meta = generation.run_dir / "metadata.json"
    meta.write_text(meta.read_text().replace('"status": "completed"', '"status": "failed"'))
    assert generation.run_dir not in {g.run_dir for g in find_generations(experiment)}


def test_ground_truth_reaches_only_scorers_that_declare_it(experiment: Path) -> None:
    generation = find_generations(experiment, models=["static-first-frame"], task_ids=["maze_0001"])[0]
    question = generation.run_dir / "question"
    assert (question / "final_frame.png").is_file(), "the answer is on disk next to the video"

    public = items_for(vmk_test_scorers.Peeking(), generation)
    assert public.final_frame is None and public.task_dir is None
    assert public.first_frame == question / "first_frame.png" and public.video_path == generation.video_path
    assert public.prompt == generation.record.prompt and public.domain == "maze"

    answer = items_for(vmk_test_scorers.Peeking(["video", "final_frame"]), generation)
    assert answer.final_frame == question / "final_frame.png" and answer.task_dir is None
    task = items_for(vmk_test_scorers.Peeking(["video", "task"]), generation)
    assert task.task_dir == question and task.final_frame is None

    with pytest.raises(ScorerContractError, match="unknown inputs \\['solution'\\]"):
        items_for(vmk_test_scorers.Peeking(["video", "solution"]), generation)

    # through the runner too: what score_batch receives
    peeking = vmk_test_scorers.Peeking()
    ScoringRunner(peeking).run(find_generations(experiment))
    assert len(peeking.seen) == 4 and all(i.final_frame is None and i.task_dir is None for i in peeking.seen)
    assert json.loads(score_path(generation.run_dir, "peek").read_text())["inputs"] == sorted(PUBLIC_INPUTS)


def test_a_declared_final_frame_is_none_when_the_task_has_none(experiment: Path) -> None:
    generation = find_generations(experiment)[0]
    (generation.run_dir / "question" / "final_frame.png").unlink()
    assert items_for(FrameMatch(), generation).final_frame is None


# -- resume -------------------------------------------------------------------------


def test_second_run_scores_nothing_and_a_changed_video_is_rescored(experiment: Path) -> None:
    generations = find_generations(experiment)
    first = ScoringRunner(FrameMatch()).run(generations)
    assert (first.scored, first.skipped, first.failed) == (4, 0, 0)
    files = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in score_files(experiment)}
    assert len(files) == 4

    second = ScoringRunner(FrameMatch()).run(find_generations(experiment))
    assert (second.scored, second.skipped) == (0, 4)
    assert all(o.record is not None and o.record.dimensions["final_ssim"] is not None for o in second.outcomes)
    assert files == {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in score_files(experiment)}

    # the static baseline's maze video is replaced by the oracle's: only that generation is scored again
    (static,) = find_generations(experiment, models=["static-first-frame"], task_ids=["maze_0001"])
    (oracle,) = find_generations(experiment, models=["oracle-solution"], task_ids=["maze_0001"])
    before = read_score(score_path(static.run_dir, "frame-match"))
    shutil.copyfile(oracle.video_path, static.video_path)
    third = ScoringRunner(FrameMatch()).run(find_generations(experiment))
    assert (third.scored, third.skipped) == (1, 3)
    assert [o.generation.run_dir for o in third.outcomes if o.status == "scored"] == [static.run_dir]
    after = read_score(score_path(static.run_dir, "frame-match"))
    assert before is not None and after is not None
    assert after.video_sha256 != before.video_sha256
    assert after.dimensions["final_ssim"] > before.dimensions["final_ssim"]


def test_a_new_version_other_options_or_a_damaged_file_are_rescored(experiment: Path) -> None:
    generations = find_generations(experiment)
    ScoringRunner(vmk_test_scorers.DuckScorer(), score_kwargs={"factor": 1.0}).run(generations)
    same = ScoringRunner(vmk_test_scorers.DuckScorer(), score_kwargs={"factor": 1.0}).run(generations)
    assert same.skipped == 4
    other = ScoringRunner(vmk_test_scorers.DuckScorer(), score_kwargs={"factor": 2.0}).run(generations)
    assert other.scored == 4, "other score_batch keywords mean other scores"

    class DuckScorerV2(vmk_test_scorers.DuckScorer):
        version = "2"

    bumped = ScoringRunner(DuckScorerV2(), name="DuckScorer", score_kwargs={"factor": 2.0}).run(generations)
    assert bumped.scored == 4
    assert read_score(score_path(generations[0].run_dir, "DuckScorer")).version == "2"

    score_path(generations[1].run_dir, "DuckScorer").write_text("{not json")
    repaired = ScoringRunner(DuckScorerV2(), name="DuckScorer", score_kwargs={"factor": 2.0}).run(generations)
    assert (repaired.scored, repaired.skipped) == (1, 3)
    assert not list(experiment.rglob(".*tmp-*")), "no temp files left behind"


# -- frame-match ----------------------------------------------------------------------


def texture(height: int = 64, width: int = 80, seed: int = 0) -> np.ndarray:
    """A smooth random grey texture in [60, 190]: room for noise and offsets without clipping."""
    rng = np.random.default_rng(seed)
    coarse = rng.uniform(0, 1, (height // 8 + 1, width // 8 + 1))
    up = np.kron(coarse, np.ones((8, 8)))[:height, :width]
    kernel = np.ones(5) / 5
    up = np.apply_along_axis(lambda r: np.convolve(r, kernel, mode="same"), 1, up)
    up = np.apply_along_axis(lambda c: np.convolve(c, kernel, mode="same"), 0, up)
    return 60 + 130 * (up - up.min()) / (up.max() - up.min())


def test_identical_images_give_ssim_1_and_the_psnr_cap() -> None:
    image = texture()
    assert ssim(image, image) == pytest.approx(1.0, abs=1e-12)
    assert psnr(image, image) == PSNR_CAP_DB == 100.0


def test_ssim_and_psnr_match_hand_computed_values() -> None:
    # Two flat images: no structure, so SSIM is the luminance term alone, (2 a b + C1) / (a^2 + b^2 + C1).
    a, b = np.full((32, 32), 100.0), np.full((32, 32), 110.0)
    c1 = (0.01 * 255) ** 2
    assert ssim(a, b) == pytest.approx((2 * 100 * 110 + c1) / (100**2 + 110**2 + c1), rel=1e-12)
    assert psnr(a, b) == pytest.approx(10 * math.log10(255**2 / 100), rel=1e-12)  # MSE 100: 28.13 dB
    image = texture()
    assert psnr(image, image + 5) == pytest.approx(10 * math.log10(255**2 / 25), rel=1e-12)  # 34.15 dB
    assert 0.99 < ssim(image, image + 5) < 1.0


def test_ssim_equals_a_direct_2d_window_computation() -> None:
    # The separable filter against the definition: an explicit 11x11 Gaussian window at every valid position.
    a, b = texture(20, 24, seed=3), texture(20, 24, seed=4)
    g = np.exp(-((np.arange(11) - 5.0) ** 2) / (2 * 1.5**2))
    window = np.outer(g, g) / np.outer(g, g).sum()
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    values = []
    for y in range(20 - 10):
        for x in range(24 - 10):
            pa, pb = a[y : y + 11, x : x + 11], b[y : y + 11, x : x + 11]
            ma, mb = (window * pa).sum(), (window * pb).sum()
            va, vb = (window * (pa - ma) ** 2).sum(), (window * (pb - mb) ** 2).sum()
            cov = (window * (pa - ma) * (pb - mb)).sum()
            values.append(((2 * ma * mb + c1) * (2 * cov + c2)) / ((ma**2 + mb**2 + c1) * (va + vb + c2)))
    assert ssim(a, b) == pytest.approx(float(np.mean(values)), rel=1e-9)


def test_noise_and_shifts_lower_the_scores_by_the_expected_amounts() -> None:
    image = texture(96, 96)
    rng = np.random.default_rng(1)
    noisy = {sigma: image + rng.normal(0, sigma, image.shape) for sigma in (2, 10, 25)}
    # PSNR of Gaussian noise is 20 log10(255 / sigma): 28.1 dB for sigma 10
    assert 27.6 < psnr(image, noisy[10]) < 28.7
    ssims = [ssim(image, noisy[s]) for s in (2, 10, 25)]
    assert ssims == sorted(ssims, reverse=True) and ssims[0] > 0.9 and ssims[2] < 0.6
    shifted = np.roll(image, 6, axis=1)
    assert ssim(image, shifted) < 0.6 and psnr(image, shifted) < 25


def test_luma_and_fitting_a_frame_to_the_reference() -> None:
    grey = np.full((4, 6, 3), 77, dtype=np.uint8)
    assert np.array_equal(luma(grey), np.full((4, 6), 77.0))
    assert luma(np.array([[[255, 0, 0]]], dtype=np.uint8))[0, 0] == pytest.approx(0.299 * 255)
    padded = np.zeros((48, 64, 3), dtype=np.uint8)
    cropped, how = fit_to(padded, (63, 47))
    assert how == "cropped" and cropped.shape == (47, 63, 3)
    resized, how = fit_to(padded, (32, 24))
    assert how == "resized" and resized.shape == (24, 32, 3)
    assert fit_to(padded, (64, 48))[1] == "same"


def _rgb(grey: np.ndarray) -> np.ndarray:
    return np.repeat(np.clip(grey, 0, 255).astype(np.uint8)[..., None], 3, axis=2)


def test_frame_match_scores_real_videos_and_explains_what_it_cannot_score(tmp_path: Path) -> None:
    from PIL import Image

    first, final = _rgb(texture(47, 63, seed=1)), _rgb(texture(47, 63, seed=2))  # odd size: the writer pads
    Image.fromarray(first).save(tmp_path / "first.png")
    Image.fromarray(final).save(tmp_path / "final.png")
    solved = write_video([first] * 4 + [final] * 4, tmp_path / "solved.mp4", fps=8)
    write_video([first] * 8, tmp_path / "static.mp4", fps=8)
    assert (solved.width, solved.height) == (64, 48)

    def item(video: str, final_frame: Path | None) -> ScoreItem:
        return ScoreItem(
            generation_dir=tmp_path,
            model="m",
            task_id=video,
            domain="d",
            video_path=tmp_path / video,
            prompt="p",
            first_frame=tmp_path / "first.png",
            final_frame=final_frame,
        )

    items = [
        item("solved.mp4", tmp_path / "final.png"),
        item("static.mp4", tmp_path / "final.png"),
        item("static.mp4", None),
        item("missing.mp4", tmp_path / "final.png"),
    ]
    batch = FrameMatch().score_batch(items)
    scores, details = np.asarray(batch.scores), batch.details
    assert scores.shape == (4, 4)
    final_ssim, final_psnr, first_ssim, first_psnr = scores.T
    assert final_ssim[0] > 0.95 and final_psnr[0] > 35, "a near-lossless video of the answer"
    assert final_ssim[1] < 0.8 and final_psnr[1] < final_psnr[0] - 10, "the first frame is not the answer"
    assert (first_ssim[:3] > 0.95).all() and (first_psnr[:3] > 35).all()
    assert details[0]["final_frame_fit"] == "cropped" and details[0]["frames"] == 8
    assert math.isnan(final_ssim[2]) and math.isnan(final_psnr[2]) and first_ssim[2] > 0.95
    assert "no final_frame.png" in details[2]["final"]
    assert np.isnan(scores[3]).all() and "cannot open video" in details[3]["error"]
    with pytest.raises(TypeError, match="takes no score_batch options"):
        FrameMatch().score_batch(items, frames=16)


def test_frame_match_decodes_the_same_frames_as_read_frames(tmp_path: Path) -> None:
    from vmevalkit.scoring.frame_match import first_and_last_frames

    frames = [_rgb(texture(32, 32, seed=s)) for s in range(5)]
    write_video(frames, tmp_path / "v.mp4", fps=4)
    first, last, count = first_and_last_frames(tmp_path / "v.mp4")
    decoded = read_frames(tmp_path / "v.mp4")
    assert count == 5 and np.array_equal(first, decoded[0]) and np.array_equal(last, decoded[-1])


# -- the command line -----------------------------------------------------------------


def run_score(*args: str, cwd: Path, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(REPO / "examples" / "score_videos.py"), *args],
        cwd=cwd,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def mean_by_model(root: Path, scorer: str, dimension: str) -> dict[str, dict[str, float]]:
    """{model: {task_id: value}} read back from the score files and their metadata."""
    values: dict[str, dict[str, float]] = {}
    for path in sorted(root.rglob(f"scores/{scorer}.json")):
        meta = json.loads((path.parent.parent / "metadata.json").read_text())
        values.setdefault(meta["model"], {})[meta["task_id"]] = json.loads(path.read_text())["dimensions"][dimension]
    return values


def test_cli_scores_a_real_experiment_and_frame_match_ranks_oracle_above_static(
    questions: Path, tmp_path: Path
) -> None:
    generated = run_generate(
        "--model",
        *BASELINES,
        "--limit-per-domain",
        "1",
        "--duration",
        "1",
        "--questions-dir",
        str(questions),
        "--output-dir",
        "o",
        "--no-progress",
        cwd=tmp_path,
    )
    assert generated.returncode == 0, generated.stderr

    scored = run_score("--scorer", "frame-match", "--output-dir", "o", "--no-progress", cwd=tmp_path)
    assert scored.returncode == 0, scored.stdout + scored.stderr
    assert "scoring 6 generation(s)" in scored.stdout
    assert len([line for line in scored.stdout.splitlines() if line.startswith("scored ")]) == 6
    assert "final_ssim" in scored.stdout and "oracle-solution" in scored.stdout
    ssims = mean_by_model(tmp_path / "o", "frame-match", "final_ssim")
    psnrs = mean_by_model(tmp_path / "o", "frame-match", "final_psnr")
    assert set(ssims["oracle-solution"]) == set(ssims["static-first-frame"]) and len(ssims["oracle-solution"]) == 3
    for task_id, oracle in ssims["oracle-solution"].items():
        assert oracle > ssims["static-first-frame"][task_id], task_id
        assert psnrs["oracle-solution"][task_id] > psnrs["static-first-frame"][task_id] + 10, task_id
    assert str(tmp_path) not in "".join(p.read_text() for p in score_files(tmp_path / "o")), "no absolute paths"

    again = run_score("--scorer", "frame-match", "--output-dir", "o", "--no-progress", cwd=tmp_path)
    assert again.returncode == 0
    assert not [line for line in again.stdout.splitlines() if line.startswith(("scored ", "failed "))]


def test_cli_class_path_kwargs_filters_and_exit_codes(questions: Path, tmp_path: Path) -> None:
    make_experiment(questions, tmp_path, ["maze_0001", "sudoku_0001"])
    common = ("--output-dir", str(tmp_path / "outputs"), "--experiment", "exp", "--no-progress")

    duck = run_score(
        "--scorer-class-path",
        "vmk_test_scorers:DuckScorerWithDetails",
        "--scorer-init-kwargs-json",
        '{"scale": 2}',
        "--scorer-score-kwargs-json",
        '{"factor": 3}',
        "--checkpoint",
        "weights/v1",
        "--device",
        "cpu",
        "--model",
        "oracle-solution",
        "--domain",
        "maze",
        *common,
        cwd=tmp_path,
    )
    assert duck.returncode == 0, duck.stderr
    (written,) = score_files(tmp_path / "outputs")
    data = json.loads(written.read_text())
    assert "oracle-solution/maze_task/maze_0001" in written.as_posix()
    assert data["dimensions"]["scaled"] == 6.0 and data["details"]["checkpoint"] == "weights/v1"
    assert data["details"]["device"] == "cpu"

    failing = run_score(
        "--scorer-class-path",
        "vmk_test_scorers:Flaky",
        "--scorer-init-kwargs-json",
        '{"fail_task_ids": ["sudoku_0001"]}',
        *common,
        cwd=tmp_path,
    )
    assert failing.returncode == 1
    assert (
        "failed: flaky oracle-solution sudoku_0001" in failing.stderr and "cannot score sudoku_0001" in failing.stderr
    )
    assert len([line for line in failing.stdout.splitlines() if line.startswith("scored ")]) == 2

    broken = run_score("--scorer-class-path", "vmk_test_scorers:WrongShape", *common, cwd=tmp_path)
    assert broken.returncode == 1
    assert "shape (4, 3), expected (4, 2)" in broken.stderr
    assert not list((tmp_path / "outputs").rglob("wrong-shape.json"))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "choose --scorer NAME (see --list-scorers) or --scorer-class-path"),
        (("--scorer", "frame-mach"), "did you mean: frame-match"),
        (("--scorer-class-path", "vmk_test_scorers:Nope"), "module 'vmk_test_scorers' has no attribute 'Nope'"),
        (("--scorer", "frame-match", "--scorer-init-kwargs-json", "{bad"), "--scorer-init-kwargs-json: not valid JSON"),
        (
            ("--scorer", "frame-match", "--scorer-score-kwargs-json", "[1]"),
            "--scorer-score-kwargs-json: must be a JSON",
        ),
        (("--scorer", "frame-match", "--scorer-class-path", "a:B"), "not allowed with argument"),
        (("--scorer", "frame-match", "--model", "oracle-solutoin"), "did you mean: oracle-solution"),
        (("--scorer", "frame-match", "--experiment", "missing"), "outputs/missing: generate videos first"),
        (("--scorer", "frame-match", "--batch-size", "0"), "--batch-size: must be at least 1"),
    ],
)
def test_cli_usage_errors_exit_2_and_write_nothing(
    questions: Path, tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    experiment = make_experiment(questions, tmp_path, ["maze_0001"])
    result = run_score("--output-dir", str(tmp_path / "outputs"), "--experiment", "exp", *args, cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert message in result.stderr
    assert score_files(experiment) == []


def test_help_and_list_scorers_import_no_scoring_code() -> None:
    code = (
        "import sys, json\n"
        "from vmevalkit.cli.main import main\n"
        "for argv in (['--help'], ['score', '--help'], ['score', '--list-scorers']):\n"
        "    try:\n        main(argv)\n    except SystemExit:\n        pass\n"
        "print('MODULES=' + json.dumps(sorted(sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=cli_env(), check=True)
    assert "--scorer-class-path" in out.stdout and "frame-match" in out.stdout
    loaded = set(json.loads(out.stdout.split("MODULES=")[1]))
    assert not {m for m in loaded if m.split(".")[0] in ("numpy", "av", "PIL", "torch")}
    assert "vmevalkit.scoring.frame_match" not in loaded and "vmevalkit.scoring.runner" not in loaded


# -- scoring on every core ------------------------------------------------------------------


def without_scored_at(root: Path) -> dict[str, bytes]:
    """Every score file under ``root`` by its relative path, byte for byte apart from its ``scored_at``."""
    return {
        p.relative_to(root).as_posix(): re.sub(rb'"scored_at": *"[^"]*"', b"", p.read_bytes())
        for p in score_files(root)
    }


def test_one_process_and_two_write_identical_score_files(questions: Path, tmp_path: Path) -> None:
    tasks = load_tasks(questions).tasks
    ids = [t.task_id for t in tasks if t.task_id.endswith(("_0001", "_0004"))]
    runner = InferenceRunner(output_dir=tmp_path / "one", experiment="exp", duration=1.0)
    baselines = [*BASELINES, "shortcut-cut"]
    assert runner.run(baselines, load_tasks(questions, task_ids=ids).tasks).completed == len(baselines) * len(ids)
    shutil.copytree(tmp_path / "one", tmp_path / "two")
    common = ("--scorer", "task-verifier", "frame-match", "--experiment", "exp", "--batch-size", "2", "--no-progress")
    one = run_score("--output-dir", "one", "--workers", "1", *common, cwd=tmp_path)
    two = run_score("--output-dir", "two", "--workers", "2", *common, cwd=tmp_path)
    assert one.returncode == 0 and two.returncode == 0, one.stderr + two.stderr
    files = without_scored_at(tmp_path / "one")
    assert len(files) == 2 * len(baselines) * len(ids)
    assert without_scored_at(tmp_path / "two") == files
    # the same summary, whatever order the children finished in
    assert one.stdout.split("summary")[1] == two.stdout.split("summary")[1]


def scoring_pids(generations: list[Generation]) -> set[int]:
    records = [read_score(score_path(g.run_dir, "pid")) for g in generations]
    return {r.details["pid"] for r in records if r is not None}


def test_batches_run_in_child_processes_only_for_scorers_with_a_spec(experiment: Path) -> None:
    generations = find_generations(experiment)
    spec = ScorerSpec(class_path="vmk_test_scorers:PidScorer")
    summary = ScoringRunner(vmk_test_scorers.PidScorer(), batch_size=2, workers=2, spec=spec).run(generations)
    assert summary.scored == 4
    assert [o.generation for o in summary.outcomes] == generations, "the summary is in the generations' order"
    pids = scoring_pids(generations)
    assert len(pids) == 2 and os.getpid() not in pids, "two batches, two children"

    for path in score_files(experiment):
        path.unlink()
    again = ScoringRunner(vmk_test_scorers.PidScorer(), batch_size=2, workers=2).run(generations)
    assert again.scored == 4
    assert scoring_pids(generations) == {os.getpid()}, (
        "no spec (an API judge, a local scorer): in this process whatever workers says"
    )


def test_a_contract_error_in_a_child_stops_the_scorer_and_writes_nothing(experiment: Path) -> None:
    runner = ScoringRunner(
        vmk_test_scorers.WrongShape(), workers=2, spec=ScorerSpec(class_path="vmk_test_scorers:WrongShape")
    )
    with pytest.raises(ScorerContractError, match=r"scorer 'wrong-shape'.*shape \(4, 3\), expected \(4, 2\)"):
        runner.run(find_generations(experiment))
    assert score_files(experiment) == []


def test_a_child_that_dies_fails_only_its_items_and_a_rerun_skips_what_is_done(questions: Path, tmp_path: Path) -> None:
    experiment = make_experiment(questions, tmp_path, ["maze_0001", "sudoku_0001", "sliding_puzzle_0001"])
    args = (
        "--scorer-class-path",
        "vmk_test_scorers:DiesInChild",
        "--scorer-init-kwargs-json",
        '{"die_task_ids": ["sudoku_0001"]}',
        "--workers",
        "2",
        "--batch-size",
        "2",
        "--output-dir",
        "outputs",
        "--experiment",
        "exp",
        "--no-progress",
    )
    first = run_score(*args, cwd=tmp_path)
    assert first.returncode == 1, first.stdout + first.stderr
    assert "Traceback" not in first.stderr
    died = "ScorerProcessDied: the scorer's process exited with code 3 while scoring this video"
    for generation in find_generations(experiment):
        record = read_score(score_path(generation.run_dir, "dies"))
        assert record is not None, "every item has a score file: none is lost with its child"
        if generation.record.task_id == "sudoku_0001":
            assert record.error == died and record.error_kind == "scorer_error" and record.dimensions["size_kb"] is None
        else:
            assert record.error is None and record.dimensions["size_kb"] == pytest.approx(
                generation.video_path.stat().st_size / 1024  # type: ignore[union-attr]
            )
    assert "failed: dies oracle-solution sudoku_0001 " in first.stderr and died in first.stderr
    assert len([line for line in first.stdout.splitlines() if line.startswith("scored ")]) == 4
    assert not [p for p in experiment.rglob("*") if is_temp_file(p)], "no half-written file"

    again = run_score(*args, cwd=tmp_path)
    assert again.returncode == 1
    redone = [
        [w.rstrip(":") for w in line.split()[2:4]]
        for line in again.stdout.splitlines()
        if line.startswith(("scored ", "failed "))
    ]
    assert sorted(redone) == [[m, "sudoku_0001"] for m in sorted(BASELINES)], "only the error files are redone"


@pytest.mark.parametrize("workers", ["0", "-1"])
def test_workers_below_one_is_a_usage_error_naming_the_fix(questions: Path, tmp_path: Path, workers: str) -> None:
    experiment = make_experiment(questions, tmp_path, ["maze_0001"])
    result = run_score(
        "--scorer", "frame-match", "--workers", workers, "--output-dir", "outputs", "--experiment", "exp", cwd=tmp_path
    )
    assert result.returncode == 2
    assert f"--workers: must be at least 1, got {workers}: pass --workers 1 to score in this process" in result.stderr
    assert score_files(experiment) == []


# -- the pool starts only the children there is work for ----------------------------------------


@pytest.fixture
def pid_catalog(monkeypatch: pytest.MonkeyPatch) -> None:
    """``pid-builtin``: the pid-recording scorer as a catalog (builtin) scorer, in this process and its children."""
    from vmevalkit.settings import get_settings

    monkeypatch.setenv("VMEVALKIT_EXTRA_SCORER_CATALOGS", "vmk_test_pid_catalog:SCORERS")
    get_settings.cache_clear()


def pid_runner(workers: int, **options: Any) -> ScoringRunner:
    return ScoringRunner(
        vmk_test_scorers.PidScorer(),
        batch_size=1,
        workers=workers,
        spec=ScorerSpec(catalog_name="pid-builtin"),
        **options,
    )


def test_a_small_run_scores_in_this_process_whatever_workers_says(experiment: Path, pid_catalog: None) -> None:
    from vmevalkit.scoring.runner import MIN_ITEMS_PER_CHILD

    generations = find_generations(experiment)
    assert len(generations) <= MIN_ITEMS_PER_CHILD, "small: not enough work to pay for starting a child"
    runner = pid_runner(4)
    summary = runner.run(generations)
    assert summary.scored == len(generations) == 4
    assert runner.children_started == 0
    assert scoring_pids(generations) == {os.getpid()}, "4 batches of 1, --workers 4: still no child"


def test_a_large_enough_run_still_spreads_over_children_but_no_more_than_the_work_pays_for(
    experiment: Path, pid_catalog: None
) -> None:
    generations = find_generations(experiment)
    # 4 items, 4 batches, 4 workers, but 2 items per child at least: 2 children, not 4 and not this process.
    runner = pid_runner(4, min_items_per_child=2)
    assert runner.run(generations).scored == 4
    assert runner.children_started == 2
    pids = scoring_pids(generations)
    assert len(pids) == 2 and os.getpid() not in pids


def test_a_plug_in_class_keeps_its_own_process_even_for_one_item(experiment: Path) -> None:
    """A --scorer-class-path scorer may kill its process: it never runs here when workers > 1, however small the run
    (the rerun of one failed item included), so it fails only its own items."""
    generations = find_generations(experiment)[:1]
    runner = ScoringRunner(
        vmk_test_scorers.PidScorer(), workers=4, spec=ScorerSpec(class_path="vmk_test_scorers:PidScorer")
    )
    assert runner.run(generations).scored == 1
    assert runner.children_started == 1
    (pid,) = scoring_pids(generations)
    assert pid != os.getpid()


def test_the_pool_and_this_process_write_identical_score_files(experiment: Path, tmp_path: Path) -> None:
    """The small-run rule changes where items are scored, never what is written: forced into children (one item per
    child is enough), the builtin scorers write the files one process writes, apart from scored_at."""
    copy = tmp_path / "copy"
    shutil.copytree(experiment, copy)
    for name in ("task-verifier", "frame-match"):
        here = ScoringRunner(load_catalog_scorer(name), batch_size=1, workers=4, spec=ScorerSpec(catalog_name=name))
        assert here.run(find_generations(experiment)).scored == 4 and here.children_started == 0
        pooled = ScoringRunner(
            load_catalog_scorer(name),
            batch_size=1,
            workers=4,
            spec=ScorerSpec(catalog_name=name),
            min_items_per_child=1,
        )
        assert pooled.run(find_generations(copy)).scored == 4 and pooled.children_started == 4
    assert without_scored_at(copy) == without_scored_at(experiment)
    assert len(without_scored_at(copy)) == 8

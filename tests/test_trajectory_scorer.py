"""``trajectory-match``: a video's whole course against the task's ``ground_truth.mp4``, by dynamic time warping.

The fixture is the shipped sample task maze_0001 with a ground-truth video written here: the oracle's keyframes
(``render_solution``) spread over 48 frames (``spread_keyframes``), encoded by ``write_video``. The candidates are
real mp4s too: the same walk at another length, the static first frame, the walk reversed (the same frames, in the
other order) and a jump cut (the first frame, then the answer). They enter the store as ``vmevalkit import-videos``
brings them (the flat-folder CSV layout), which copies ``ground_truth.mp4`` into each run's ``question/``.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import vmk_test_scorers
from conftest import SAMPLE, cli_env, run_score

from vmevalkit.models.baselines import spread_keyframes
from vmevalkit.runner.importing import find_videos, import_videos
from vmevalkit.runner.registry import get_scorer_entry
from vmevalkit.scoring.base import ScoreItem
from vmevalkit.scoring.runner import (
    ScoringRunner,
    find_generations,
    items_for,
    load_catalog_scorer,
    read_score,
    score_path,
)
from vmevalkit.scoring.trajectory import NO_GROUND_TRUTH, TrajectoryMatch, dtw_path
from vmevalkit.tasks import get_domain
from vmevalkit.video import write_video

TASK = "maze_0001"
NO_TRUTH_TASK = "maze_0002"  # copied without a ground-truth video


def keyframes(questions: Path, task_id: str) -> list[np.ndarray]:
    metadata = json.loads((questions / "maze_task" / task_id / "question_metadata.json").read_text())
    frames: list[np.ndarray] = get_domain("maze").render_solution(metadata)
    return frames


@pytest.fixture
def experiment(tmp_path: Path) -> Path:
    questions = tmp_path / "questions"
    for task_id in (TASK, NO_TRUTH_TASK):
        shutil.copytree(SAMPLE / "maze_task" / task_id, questions / "maze_task" / task_id)
    steps = keyframes(questions, TASK)
    write_video(spread_keyframes(steps, 48), questions / "maze_task" / TASK / "ground_truth.mp4")

    folder = tmp_path / "videos"
    folder.mkdir()
    candidates = {
        "slower": spread_keyframes(steps, 80),  # the same walk, 80 frames against the truth's 48
        "faster": spread_keyframes(steps, 30),
        "static": [steps[0]] * 40,
        "reversed": spread_keyframes(steps[::-1], 48),  # the same set of frames, the other way round
        "jump": [steps[0]] * 24 + [steps[-1]] * 24,
    }
    rows = ["task_id,video,model"]
    for model, frames in candidates.items():
        write_video(frames, folder / f"{model}.mp4")
        rows.append(f"{TASK},{model}.mp4,{model}")
    write_video(spread_keyframes(keyframes(questions, NO_TRUTH_TASK), 48), folder / "other.mp4")
    rows.append(f"{NO_TRUTH_TASK},other.mp4,slower")
    (folder / "videos.csv").write_text("\n".join(rows) + "\n")
    experiment = tmp_path / "out" / "exp"
    summary = import_videos(find_videos("csv", folder), fmt="csv", questions_dir=questions, experiment_dir=experiment)
    assert summary.count("imported") == 6 and summary.complete
    return experiment


def scores_of(experiment: Path) -> dict[tuple[str, str], dict[str, Any]]:
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for generation in find_generations(experiment):
        record = read_score(score_path(generation.run_dir, "trajectory-match"))
        assert record is not None and record.error is None
        found[(generation.record.model, generation.record.task_id)] = {**record.dimensions, **record.details}
    return found


def test_the_walk_scores_high_at_any_speed_and_order_matters(experiment: Path) -> None:
    summary = ScoringRunner(TrajectoryMatch()).run(find_generations(experiment))
    assert (summary.scored, summary.failed) == (6, 0)
    scores = scores_of(experiment)
    walk = {m: scores[(m, TASK)]["trajectory_similarity"] for m in ("slower", "faster", "static", "reversed", "jump")}
    end = {m: scores[(m, TASK)]["end_similarity"] for m in ("slower", "faster", "static", "reversed", "jump")}
    # Measured: slower 1.0, faster 0.999, jump 0.79, reversed 0.51, static 0.09 (end: 1, 1, 1, 0.05, 0.05).
    assert walk["slower"] >= 0.98 and walk["faster"] >= 0.98, "speed and length do not matter"
    assert walk["static"] <= 0.3, "doing nothing is clearly lower"
    assert walk["reversed"] <= walk["slower"] - 0.3, "the same frames in the other order are not the walk"
    assert walk["static"] + 0.2 <= walk["jump"] <= walk["slower"] - 0.1, "a jump cut lies between"
    assert walk["static"] + 0.2 <= walk["reversed"] <= walk["jump"] - 0.1
    assert end["slower"] >= 0.98 and end["jump"] >= 0.98, "both end on the answer"
    assert end["static"] <= 0.2 and end["reversed"] <= 0.2, "both end on the start"
    assert scores[("slower", TASK)]["frames"] == 80 and scores[("slower", TASK)]["sampled"] == [32, 32]
    assert scores[("slower", TASK)]["ground_truth_frames"] == 48


def test_a_task_without_ground_truth_is_nan_with_the_reason(experiment: Path) -> None:
    (generation,) = find_generations(experiment, task_ids=[NO_TRUTH_TASK])
    assert not (generation.question_dir / "ground_truth.mp4").exists()
    ScoringRunner(TrajectoryMatch()).run([generation])
    record = read_score(score_path(generation.run_dir, "trajectory-match"))
    assert record is not None and record.error is None, "a missing answer video is not the video's failure"
    assert record.dimensions == {"trajectory_similarity": None, "end_similarity": None}
    assert record.details["error"] == NO_GROUND_TRUTH == "the task ships no ground_truth.mp4"


def test_an_unreadable_ground_truth_video_is_nan_with_a_reason(experiment: Path) -> None:
    (generation,) = find_generations(experiment, models=["slower"], task_ids=[TASK])
    (generation.question_dir / "ground_truth.mp4").write_bytes(bytes(range(256)) * 16)
    batch = TrajectoryMatch().score_batch([items_for(TrajectoryMatch(), generation)])
    assert np.isnan(batch.scores).all()
    assert batch.details[0]["error"].startswith("VideoError: ground_truth.mp4 cannot be used: cannot open video")


def test_the_ground_truth_video_reaches_only_scorers_that_declare_it(experiment: Path) -> None:
    (generation,) = find_generations(experiment, models=["slower"], task_ids=[TASK])
    truth = generation.question_dir / "ground_truth.mp4"
    assert truth.is_file(), "the answer video is on disk next to the generation"
    for inputs in (None, ["video", "final_frame"], ["video", "task"]):
        item = items_for(vmk_test_scorers.Peeking(inputs), generation)
        assert item.ground_truth_video is None, inputs
    declared = items_for(vmk_test_scorers.Peeking(["video", "ground_truth_video"]), generation)
    assert declared.ground_truth_video == truth and declared.final_frame is None and declared.task_dir is None
    assert items_for(TrajectoryMatch(), generation).ground_truth_video == truth
    assert items_for(TrajectoryMatch(), generation).final_frame is None, "it never sees final_frame.png"

    # through the runner too: what score_batch receives
    peeking = vmk_test_scorers.Peeking()
    ScoringRunner(peeking).run(find_generations(experiment))
    assert len(peeking.seen) == 6 and all(i.ground_truth_video is None for i in peeking.seen)


def test_the_catalog_entry_builds_it_and_a_bad_option_is_a_type_error() -> None:
    entry = get_scorer_entry("trajectory-match")
    assert entry.kind == "builtin" and entry.service == "vmevalkit.scoring.trajectory:TrajectoryMatch"
    scorer = load_catalog_scorer("trajectory-match", {"frames": 8})
    assert isinstance(scorer, TrajectoryMatch) and scorer.frames == 8
    with pytest.raises(TypeError, match="frames must be a whole number of at least 2"):
        TrajectoryMatch(frames=1)


def test_dtw_is_monotone_and_anchored_at_both_ends() -> None:
    cost = np.array([[0.0, 1.0, 1.0], [1.0, 0.0, 1.0], [1.0, 0.0, 1.0], [1.0, 1.0, 0.0]])
    path = dtw_path(cost)
    assert path[0] == (0, 0) and path[-1] == (3, 2)
    assert all(0 <= b[0] - a[0] <= 1 and 0 <= b[1] - a[1] <= 1 and a != b for a, b in zip(path, path[1:], strict=False))
    assert path == [(0, 0), (1, 1), (2, 1), (3, 2)]


def test_one_unreadable_candidate_does_not_stop_the_batch(experiment: Path, tmp_path: Path) -> None:
    good = items_for(TrajectoryMatch(), find_generations(experiment, models=["slower"], task_ids=[TASK])[0])
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"")
    bad = ScoreItem(**{**good.__dict__, "video_path": broken})
    batch = TrajectoryMatch().score_batch([bad, good])
    assert np.isnan(batch.scores[0]).all() and "VideoError" in batch.details[0]["error"]
    assert batch.scores[1][0] >= 0.98 and math.isfinite(batch.scores[1][1])


def test_score_videos_runs_it_as_a_user_does(experiment: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    done = run_score(
        "--scorer", "trajectory-match", "--output-dir", str(out), "--experiment", "exp", cwd=tmp_path, env=cli_env()
    )
    assert done.returncode == 0, done.stdout + done.stderr
    scores = scores_of(experiment)
    assert len(scores) == 6
    assert (
        scores[("slower", TASK)]["trajectory_similarity"]
        >= 0.98
        > 0.3
        >= scores[("static", TASK)]["trajectory_similarity"]
    )
    assert scores[("slower", NO_TRUTH_TASK)]["trajectory_similarity"] is None
    record = read_score(score_path(find_generations(experiment, models=["static"])[0].run_dir, "trajectory-match"))
    assert record is not None and record.ranges == {
        "trajectory_similarity": (0.0, 1.0),
        "end_similarity": (0.0, 1.0),
    }


def test_a_generated_run_carries_the_tasks_ground_truth_and_is_scored(tmp_path: Path) -> None:
    """``generate`` copies a shipped ground_truth.mp4 into the run's question/ like the other task files, so
    trajectory-match scores generated runs too, not only imported ones."""
    from vmevalkit.runner.inference import InferenceRunner
    from vmevalkit.tasks.loader import load_tasks

    questions = tmp_path / "questions"
    shutil.copytree(SAMPLE / "maze_task" / TASK, questions / "maze_task" / TASK)
    write_video(spread_keyframes(keyframes(questions, TASK), 48), questions / "maze_task" / TASK / "ground_truth.mp4")
    tasks = load_tasks(questions).tasks
    runner = InferenceRunner(output_dir=tmp_path / "out", experiment="exp", duration=2.0)
    summary = runner.run(["oracle-solution", "static-first-frame"], tasks)
    assert summary.completed == 2
    experiment = tmp_path / "out" / "exp"
    copies = sorted(experiment.glob("*/maze_task/*/*/question/ground_truth.mp4"))
    assert len(copies) == 2
    ScoringRunner(TrajectoryMatch()).run(find_generations(experiment))
    found = scores_of(experiment)
    oracle, static = found[("oracle-solution", TASK)], found[("static-first-frame", TASK)]
    assert oracle["trajectory_similarity"] >= 0.98 and static["trajectory_similarity"] <= 0.3, (oracle, static)

"""The video a generation is scored from: only its own, inside its run folder, and only one that decodes.

A ``video`` path in ``metadata.json`` that leads out of the run folder (``../..``, an absolute path, a symlink) is
never read: the generation gets an error score file saying why. A video that is missing or does not decode is an
error score file too, never a score of "could not judge": both are the generation's failure.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from vmevalkit.runner.inference import InferenceRunner
from vmevalkit.scoring.base import ScoreBatch, ScorerContractError, in_range, ranges_of
from vmevalkit.scoring.frame_match import FrameMatch
from vmevalkit.scoring.runner import (
    Generation,
    ScoringRunner,
    find_generations,
    read_score,
    score_path,
)
from vmevalkit.scoring.verifiers import TaskVerifier
from vmevalkit.scoring.vlm_judge import GeminiJudge, OpenAIJudge
from vmevalkit.tasks.loader import load_tasks


class Recorder:
    """Scores 1 for every video it is handed, and remembers which files those were."""

    name = "recorder"
    dimensions = ("one",)

    def __init__(self) -> None:
        self.videos: list[Path] = []

    def score_batch(self, items: list[Any]) -> Any:
        self.videos.extend(item.video_path.resolve() for item in items)
        return np.ones((len(items), 1))


def make_experiment(questions: Path, tmp_path: Path) -> Path:
    tasks = load_tasks(questions, task_ids=["maze_0001", "sudoku_0001"]).tasks
    runner = InferenceRunner(output_dir=tmp_path / "outputs", experiment="exp", duration=1.0)
    assert runner.run(["oracle-solution", "static-first-frame"], tasks).completed == 4
    return runner.experiment_dir


@pytest.fixture
def experiment(questions: Path, tmp_path: Path) -> Path:
    return make_experiment(questions, tmp_path)


def metadata_of(generation: Generation) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((generation.run_dir / "metadata.json").read_text())
    return data


def set_video(generation: Generation, video: str) -> None:
    data = metadata_of(generation)
    data["video"] = video
    (generation.run_dir / "metadata.json").write_text(json.dumps(data))


def pick(experiment: Path, model: str, task_id: str) -> Generation:
    (found,) = [g for g in find_generations(experiment) if (g.record.model, g.record.task_id) == (model, task_id)]
    return found


# -- a video path that leads out of the run folder -----------------------------------------------------------------


@pytest.mark.parametrize("how", ["dotdot", "absolute", "symlink", "symlinked-folder"])
def test_a_video_path_outside_the_run_folder_is_never_read_and_fails(experiment: Path, how: str) -> None:
    victim = pick(experiment, "static-first-frame", "maze_0001")
    other = pick(experiment, "oracle-solution", "maze_0001")  # a real video the static model did not make
    assert other.video_path is not None and victim.video_path is not None
    outside = other.video_path.resolve()
    relative = metadata_of(victim)["video"]
    if how == "dotdot":
        set_video(victim, os.path.relpath(outside, victim.run_dir))
        assert metadata_of(victim)["video"].startswith("../")
    elif how == "absolute":
        set_video(victim, str(outside))
    elif how == "symlink":  # the recorded path is the usual one, but the file there is a link out
        victim.video_path.unlink()
        victim.video_path.symlink_to(outside)
    else:  # the whole video/ folder is a link to another run's
        folder = victim.run_dir / relative.split("/")[0]
        for child in folder.iterdir():
            child.unlink()
        folder.rmdir()
        folder.symlink_to(outside.parent, target_is_directory=True)
        set_video(victim, f"{folder.name}/{outside.name}")

    generations = find_generations(experiment)
    recorder = Recorder()
    summary = ScoringRunner(recorder).run(generations)
    assert recorder.videos.count(outside) == 1, "the outside file was scored only as its own generation's video"
    assert (summary.scored, summary.failed) == (3, 1)
    ((failed, error),) = summary.failures
    assert failed.run_dir == victim.run_dir
    assert "outside the run folder" in error
    record = read_score(score_path(victim.run_dir, "recorder"))
    assert record is not None and record.error is not None and "outside the run folder" in record.error
    assert record.error_kind == "video_outside_run_folder" and record.dimensions == {"one": None}
    assert record.video_sha256 is None, "nothing was read from the outside file, not even its hash"
    fresh = pick(experiment, "static-first-frame", "maze_0001")
    assert fresh.video_path is None and fresh.video_problem is not None


def test_a_path_that_only_passes_through_dotdot_but_stays_inside_is_fine(experiment: Path) -> None:
    victim = pick(experiment, "static-first-frame", "maze_0001")
    relative = metadata_of(victim)["video"]
    folder, name = relative.split("/")
    set_video(victim, f"{folder}/../{folder}/{name}")
    summary = ScoringRunner(Recorder()).run(find_generations(experiment))
    assert (summary.scored, summary.failed) == (4, 0)


# -- a video that does not decode ------------------------------------------------------------------------------------


def damage(path: Path, how: str) -> None:
    data = path.read_bytes()
    if how == "garbage":
        path.write_bytes(bytes(range(256)) * 64)
    elif how == "truncated":
        path.write_bytes(data[: len(data) // 3])
    elif how == "empty":
        path.write_bytes(b"")
    elif how == "header-only":  # the container opens but there is nothing to decode
        path.write_bytes(data[:64])
    else:
        raise AssertionError(how)


@pytest.mark.parametrize("how", ["garbage", "truncated", "empty", "header-only"])
@pytest.mark.parametrize("scorer", [TaskVerifier, FrameMatch, Recorder])
def test_an_unreadable_video_is_an_error_score_file_not_an_unscorable_one(
    experiment: Path, how: str, scorer: type
) -> None:
    victim = pick(experiment, "oracle-solution", "sudoku_0001")
    assert victim.video_path is not None
    damage(victim.video_path, how)
    summary = ScoringRunner(scorer()).run(find_generations(experiment))
    assert (summary.scored, summary.failed) == (3, 1)
    ((failed, error),) = summary.failures
    assert failed.run_dir == victim.run_dir and "cannot read the video" in error
    record = read_score(score_path(victim.run_dir, scorer.name))
    assert record is not None and record.error is not None
    assert record.error_kind == "video_unreadable" and set(record.dimensions.values()) == {None}


def test_an_unreadable_video_is_redone_once_it_is_fixed(experiment: Path) -> None:
    victim = pick(experiment, "oracle-solution", "maze_0001")
    assert victim.video_path is not None
    good = victim.video_path.read_bytes()
    damage(victim.video_path, "garbage")
    first = ScoringRunner(TaskVerifier()).run(find_generations(experiment))
    assert first.failed == 1
    victim.video_path.write_bytes(good)
    again = ScoringRunner(TaskVerifier()).run(find_generations(experiment))
    assert (again.scored, again.skipped, again.failed) == (1, 3, 0)
    record = read_score(score_path(victim.run_dir, "task-verifier"))
    assert record is not None and record.error is None and record.dimensions["task_success"] == 1.0


# -- declared ranges (the contract) ------------------------------------------------------------------------------------


def test_builtin_scorers_and_judges_declare_their_ranges_and_score_files_record_them(experiment: Path) -> None:
    assert ranges_of(TaskVerifier()) == dict.fromkeys(("task_success", "end_state", "process"), (0.0, 1.0))
    for judge in (OpenAIJudge, GeminiJudge):
        assert ranges_of(judge()) == dict.fromkeys(("task_success", "end_state", "process"), (0.0, 1.0))
    frame = ranges_of(FrameMatch())
    assert frame["final_ssim"] == (-1.0, 1.0) and frame["final_psnr"][0] == 0.0
    ScoringRunner(TaskVerifier()).run(find_generations(experiment))
    for path in experiment.rglob("scores/task-verifier.json"):
        assert json.loads(path.read_text())["ranges"] == dict.fromkeys(
            ("task_success", "end_state", "process"), [0.0, 1.0]
        )
    # A scorer that declares none records none.
    ScoringRunner(Recorder()).run(find_generations(experiment))
    assert all(json.loads(p.read_text())["ranges"] == {} for p in experiment.rglob("scores/recorder.json"))


class BadRanges:
    name = "bad-ranges"
    dimensions = ("a", "b")

    def __init__(self, ranges: Any) -> None:
        self.ranges = ranges

    def score_batch(self, items: list[Any]) -> ScoreBatch:
        return ScoreBatch(np.zeros((len(items), 2)))


@pytest.mark.parametrize(
    ("ranges", "message"),
    [
        ({"c": (0, 1)}, "names 'c', which is not one of its dimensions"),
        ({"a": (1, 0)}, "is empty"),
        ({"a": (0, float("nan"))}, "finite numbers or None"),
        ({"a": 1}, "must be \\(low, high\\)"),
        ([("a", (0, 1))], "must map dimension names"),
    ],
)
def test_a_bad_declared_range_is_a_contract_error(ranges: Any, message: str) -> None:
    with pytest.raises(ScorerContractError, match=message):
        ScoringRunner(BadRanges(ranges))


def test_in_range_allows_rounding_at_a_bound_and_nothing_more() -> None:
    assert in_range(1.0000000000000002, (0.0, 1.0)) and in_range(-1e-17, (0.0, 1.0))
    assert not in_range(1.001, (0.0, 1.0)) and not in_range(-0.001, (0.0, 1.0)) and not in_range(7.5, (0.0, 1.0))
    assert in_range(1e12, (0.0, None)) and in_range(-5.0, None) and not in_range(float("nan"), None)

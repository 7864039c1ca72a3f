"""Loading a dataset: bad tasks are reported and skipped, the rest load."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from vmevalkit.tasks.loader import TaskSelectionError, load_tasks


def _problem_reasons(questions: Path) -> dict[str, str]:
    return {p.task_id: p.reason for p in load_tasks(questions).problems}


def test_shipped_sample_loads_cleanly(questions: Path) -> None:
    task_set = load_tasks(questions)
    assert not task_set.problems
    assert task_set.domains() == ["maze", "sliding_puzzle", "sudoku"]
    assert all(t.final_frame is not None and t.prompt and t.metadata for t in task_set.tasks)


@pytest.mark.parametrize(
    ("task_id", "damage", "reason"),
    [
        ("maze_0001", lambda d: (d / "first_frame.png").unlink(), "missing first_frame.png"),
        (
            "maze_0002",
            lambda d: (d / "first_frame.png").write_bytes(b"not an image"),
            "first_frame.png is not a readable",
        ),
        (
            "maze_0003",
            lambda d: (d / "first_frame.png").write_bytes((d / "first_frame.png").read_bytes()[:400]),
            "first_frame.png is not a readable",
        ),
        ("sudoku_0001", lambda d: (d / "prompt.txt").write_text("  \n\t"), "prompt.txt is empty"),
        ("sudoku_0002", lambda d: (d / "prompt.txt").unlink(), "missing prompt.txt"),
        ("sudoku_0003", lambda d: (d / "prompt.txt").write_bytes(b"\xff\xfe\xfa"), "not UTF-8"),
        ("sliding_puzzle_0001", lambda d: (d / "question_metadata.json").write_text("{oops"), "not valid JSON"),
        ("sliding_puzzle_0002", lambda d: (d / "question_metadata.json").write_text("[1, 2]"), "JSON object"),
        ("sliding_puzzle_0003", lambda d: (d / "final_frame.png").write_bytes(b"\x89PNG\r\n"), "final_frame.png"),
    ],
)
def test_a_corrupt_task_is_skipped_and_the_rest_load(questions: Path, task_id: str, damage, reason: str) -> None:
    domain = task_id.rsplit("_", 1)[0]
    damage(questions / f"{domain}_task" / task_id)
    task_set = load_tasks(questions)
    assert len(task_set.problems) == 1
    assert task_set.problems[0].task_id == task_id
    assert reason in task_set.problems[0].reason
    assert len(task_set.tasks) == 11
    assert task_id not in {t.task_id for t in task_set.tasks}


def test_final_frame_and_metadata_are_optional(questions: Path) -> None:
    task_dir = questions / "maze_task" / "maze_0004"
    (task_dir / "final_frame.png").unlink()
    (task_dir / "question_metadata.json").unlink()
    task = next(t for t in load_tasks(questions).tasks if t.task_id == "maze_0004")
    assert task.final_frame is None and task.metadata == {}


def test_filters(questions: Path) -> None:
    assert [t.task_id for t in load_tasks(questions, task_ids=["maze_0002", "sudoku_0001"]).tasks] == [
        "maze_0002",
        "sudoku_0001",
    ]
    assert {t.domain for t in load_tasks(questions, domains=["sudoku"]).tasks} == {"sudoku"}
    limited = load_tasks(questions, limit_per_domain=2)
    assert [t.task_id for t in limited.tasks if t.domain == "maze"] == ["maze_0001", "maze_0002"]


def test_limit_counts_valid_tasks_only(questions: Path) -> None:
    (questions / "maze_task" / "maze_0001" / "prompt.txt").write_text("")
    limited = load_tasks(questions, domains=["maze"], limit_per_domain=2)
    assert [t.task_id for t in limited.tasks] == ["maze_0002", "maze_0003"]
    assert [p.task_id for p in limited.problems] == ["maze_0001"]


def test_unknown_task_id_suggests(questions: Path) -> None:
    with pytest.raises(TaskSelectionError, match="did you mean: maze_0001"):
        load_tasks(questions, task_ids=["maze_001"])


def test_unknown_domain_lists_known(questions: Path) -> None:
    with pytest.raises(TaskSelectionError, match="found: maze, sliding_puzzle, sudoku"):
        load_tasks(questions, domains=["chess"])


def test_missing_questions_dir_names_the_fix(tmp_path: Path) -> None:
    with pytest.raises(TaskSelectionError, match="vmevalkit tasks build"):
        load_tasks(tmp_path / "nowhere")


def test_folders_that_are_not_domains_are_ignored(questions: Path) -> None:
    (questions / "notes").mkdir()
    shutil.copytree(questions / "maze_task" / "maze_0001", questions / "maze_task" / ".hidden")
    assert len(load_tasks(questions).tasks) == 12

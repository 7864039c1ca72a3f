"""task-verifier on real videos of real tasks: the baselines' ordering, tampered videos, bad input, no answer leak.

Every video here is a real mp4 written by the real baseline wrappers (or re-encoded from one), every task comes
from the shipped sample or from ``build_dataset``, and the verifier reads nothing but the video and the task's
question_metadata.json.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vmevalkit.models.baselines import cross_fade, spread_keyframes
from vmevalkit.runner.inference import InferenceRunner
from vmevalkit.runner.records import read_record
from vmevalkit.runner.registry import build_wrapper
from vmevalkit.runner.SCORER_CATALOG import AVAILABLE_SCORERS
from vmevalkit.scoring.base import ScoreItem, checked_scores, load_scorer_class
from vmevalkit.scoring.build import build_scorer
from vmevalkit.scoring.verifiers import TaskVerifier, load_verifier
from vmevalkit.tasks import get_domain
from vmevalkit.tasks.loader import Task, load_tasks
from vmevalkit.tasks.maze import draw_maze
from vmevalkit.tasks.sliding_puzzle import draw_board
from vmevalkit.tasks.sudoku import draw_sudoku
from vmevalkit.tasks.writer import build_dataset
from vmevalkit.video import read_frames, write_video

DOMAINS = ["maze", "sliding_puzzle", "sudoku"]
BASELINES = ["oracle-solution", "shortcut-cut", "static-first-frame"]
TASK_SUCCESS, END_STATE, PROCESS = 0, 1, 2  # TaskVerifier.dimensions


def generate(model: str, task: Task, out: Path, duration: float = 4.0) -> Path:
    """A baseline's video of ``task``, through the real wrapper (ground-truth baselines get the task)."""
    wrapper = build_wrapper(model, output_dir=out)
    extra = {"task": task} if wrapper.requires_ground_truth else {}
    video = out / model / f"{task.task_id}.mp4"
    result = wrapper.generate(task.first_frame, task.prompt, duration=duration, output_filename=video, **extra)
    assert result.success, result.error
    return video


def item(task: Task, video: Path, model: str = "m", domain: str | None = None) -> ScoreItem:
    """What the scoring runner hands a scorer with inputs {video, task}: no final frame."""
    return ScoreItem(
        generation_dir=video.parent,
        model=model,
        task_id=task.task_id,
        domain=domain or task.domain,
        video_path=video,
        prompt=task.prompt,
        first_frame=task.first_frame,
        task_dir=task.path,
    )


def score(items: list[ScoreItem]) -> tuple[np.ndarray, list[dict]]:
    scorer = TaskVerifier()
    return checked_scores(scorer, items, scorer.score_batch(items))


def oracle_frames(task: Task, total: int = 64) -> list[np.ndarray]:
    return spread_keyframes(get_domain(task.domain).render_solution(task.metadata), total)


def encode(frames: list[np.ndarray], path: Path, **kwargs) -> Path:
    write_video(frames, path, **kwargs)
    return path


# -- the ordering the issue pins: oracle first, shortcut clearly below wherever the process is judged, static last --


@pytest.mark.parametrize("domain", DOMAINS)
def test_baselines_rank_oracle_then_shortcut_then_static_on_the_shipped_sample(
    questions: Path, tmp_path: Path, domain: str
) -> None:
    tasks = load_tasks(questions, domains=[domain]).tasks
    assert len(tasks) == 4
    items = [item(t, generate(m, t, tmp_path / "videos"), model=m) for m in BASELINES for t in tasks]
    scores, details = score(items)
    by_model = {m: scores[i * 4 : (i + 1) * 4] for i, m in enumerate(BASELINES)}
    oracle, shortcut, static = by_model["oracle-solution"], by_model["shortcut-cut"], by_model["static-first-frame"]

    # The oracle solves every task by legal moves, one per step of the solution.
    assert (oracle == 1.0).all(), [d["reason"] for d in details[:4]]
    assert [d["moves"] for d in details[:4]] == [t.metadata["num_steps"] for t in tasks]
    # The shortcut ends right but gets there by one illegal jump, at the cut (frame 32 of 64).
    assert (shortcut[:, END_STATE] == 1.0).all() and (shortcut[:, PROCESS] < 1.0).all()
    assert (shortcut[:, TASK_SUCCESS] == 0.0).all()
    assert [d["first_violation_frame"] for d in details[4:8]] == [32] * 4
    # The static video breaks no rule but never gets anywhere.
    assert (static[:, END_STATE] == 0.0).all() and (static[:, TASK_SUCCESS] == 0.0).all()
    assert all(d["passed"] is False for d in details[4:])

    oracle_mean, shortcut_mean, static_mean = oracle.mean(axis=0), shortcut.mean(axis=0), static.mean(axis=0)
    assert oracle_mean[TASK_SUCCESS] - shortcut_mean[TASK_SUCCESS] >= 0.9, "clearly below: a margin, not a tie"
    assert oracle_mean[PROCESS] - shortcut_mean[PROCESS] >= 0.9
    assert shortcut_mean[END_STATE] > static_mean[END_STATE]


def test_the_ordering_holds_on_freshly_built_tasks(tmp_path: Path) -> None:
    build_dataset(tmp_path / "fresh", domains=DOMAINS, per_domain=2, seed=2024)  # every domain: test_domain_validity
    tasks = load_tasks(tmp_path / "fresh").tasks
    assert sorted({t.domain for t in tasks}) == DOMAINS and len(tasks) == 6
    items = [item(t, generate(m, t, tmp_path / "videos", duration=2.0), model=m) for m in BASELINES for t in tasks]
    scores, details = score(items)
    oracle, shortcut, static = scores[:6], scores[6:12], scores[12:]
    assert (oracle == 1.0).all(), [d["reason"] for d in details[:6]]
    assert (shortcut[:, END_STATE] == 1.0).all() and (shortcut[:, PROCESS] < 1.0).all()
    assert (shortcut[:, TASK_SUCCESS] == 0.0).all()
    assert (static[:, END_STATE] == 0.0).all() and (static[:, TASK_SUCCESS] == 0.0).all()


# -- shortcut-cut itself ---------------------------------------------------------------------------------------------


def mean_abs(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


def test_shortcut_cut_holds_the_first_frame_then_cuts_to_the_answer(questions: Path, tmp_path: Path) -> None:
    task = load_tasks(questions, task_ids=["sliding_puzzle_0001"]).tasks[0]
    first = np.asarray(Image.open(task.first_frame).convert("RGB"))
    final = np.asarray(Image.open(task.path / "final_frame.png").convert("RGB"))
    wrapper = build_wrapper("shortcut-cut", output_dir=tmp_path)
    assert wrapper.requires_ground_truth

    result = wrapper.generate(task.first_frame, task.prompt, duration=4.0, output_filename="cut.mp4", task=task)
    assert result.success and result.metadata["answer_source"] == "final_frame"
    frames = read_frames(tmp_path / "cut.mp4")
    assert len(frames) == 64  # 4 s at 16 fps, like the other baselines
    assert all(mean_abs(f, first) < 3 for f in frames[:32]) and all(mean_abs(f, final) < 3 for f in frames[32:])
    assert mean_abs(first, final) > 10, "the two halves really differ"

    # Without final_frame.png it cuts to the domain's own render of the solved state.
    (task.path / "final_frame.png").unlink()
    task = load_tasks(questions, task_ids=["sliding_puzzle_0001"]).tasks[0]
    again = wrapper.generate(task.first_frame, task.prompt, duration=1.0, output_filename="cut2.mp4", task=task)
    assert again.success and again.metadata["answer_source"] == "solution"
    assert mean_abs(read_frames(tmp_path / "cut2.mp4")[-1], final) < 3

    no_task = wrapper.generate(task.first_frame, task.prompt, output_filename="cut3.mp4")
    assert not no_task.success and "needs the task" in (no_task.error or "")


def test_the_runner_hands_shortcut_cut_the_task(questions: Path, tmp_path: Path) -> None:
    tasks = load_tasks(questions, task_ids=["maze_0002"]).tasks
    runner = InferenceRunner(output_dir=tmp_path / "outputs", experiment="exp", duration=1.0)
    assert runner.run(["shortcut-cut"], tasks).completed == 1
    (run_dir,) = (runner.experiment_dir / "shortcut-cut" / "maze_task" / "maze_0002").iterdir()
    record = read_record(run_dir)
    assert record is not None and record.status == "completed"
    scores, details = score([item(tasks[0], run_dir / record.video)])
    assert scores[0].tolist() == [0.0, 1.0, 0.0] and "jumps" in details[0]["reason"]


# -- tampered videos: the process check catches what the end state cannot ------------------------------------------


def test_a_maze_dot_that_teleports_is_caught(questions: Path, tmp_path: Path) -> None:
    task = load_tasks(questions, task_ids=["maze_0001"]).tasks[0]
    frames = list(read_frames(generate("oracle-solution", task, tmp_path)))
    # Drop the middle of the oracle's video: the dot vanishes from one cell and appears several cells on.
    tampered = encode(frames[:20] + frames[44:], tmp_path / "teleport.mp4")
    scores, details = score([item(task, tampered)])
    assert scores[0].tolist()[:2] == [0.0, 1.0] and 0.0 < scores[0, PROCESS] < 1.0
    assert details[0]["first_violation_frame"] == 20 and details[0]["violations"] == 1
    assert "not a neighbouring cell" in details[0]["reason"]


def test_a_maze_dot_that_crosses_a_wall_is_caught(questions: Path, tmp_path: Path) -> None:
    task = load_tasks(questions, task_ids=["maze_0002"]).tasks[0]
    verifier = load_verifier(task.path, "maze")
    start = tuple(task.metadata["start"])
    walled = [
        (start[0] + dr, start[1] + dc)
        for dr, dc in ((-1, 0), (1, 0), (0, -1), (0, 1))
        if 0 <= start[0] + dr < task.metadata["rows"] and 0 <= start[1] + dc < task.metadata["cols"]
    ]
    walled = [cell for cell in walled if frozenset((start, cell)) not in verifier.passages]
    assert walled, "the start cell of maze_0002 has a wall to some neighbour"
    frames = [np.asarray(draw_maze(task.metadata, cell)) for cell in [start] * 8 + [walled[0]] * 8]
    scores, details = score([item(task, encode(frames, tmp_path / "wall.mp4"))])
    assert scores[0].tolist() == [0.0, 0.0, 0.0]
    assert "crosses the wall" in details[0]["reason"] and details[0]["first_violation_frame"] == 8


def test_a_sudoku_digit_erased_or_a_given_changed_is_caught(questions: Path, tmp_path: Path) -> None:
    task = load_tasks(questions, task_ids=["sudoku_0003"]).tasks[0]
    fills = task.metadata["solution"]
    frames = list(read_frames(generate("oracle-solution", task, tmp_path)))
    # The oracle's 64 frames show its keyframes (the givens, then one more digit each) in turn, as
    # spread_keyframes lays them out: frame i shows keyframe i * keyframes // 64. From frame `at`, 4 digits are in.
    keyframes = len(fills) + 1
    at = next(i for i in range(64) if i * keyframes // 64 >= 4)
    erased = np.asarray(draw_sudoku(task.metadata, fills[:1] + fills[2:4]))  # then the 2nd digit placed is gone
    tampered = encode(frames[: at + 2] + [erased] * 4 + frames[at + 2 :], tmp_path / "erased.mp4")
    scores, details = score([item(task, tampered)])
    assert scores[0, TASK_SUCCESS] == 0.0 and scores[0, END_STATE] == 1.0 and 0.0 < scores[0, PROCESS] < 1.0
    r, c, digit = fills[1]
    assert f"the placed digit {digit} at row {r + 1}, column {c + 1} is erased" in details[0]["reason"]
    assert details[0]["first_violation_frame"] == at + 2 and details[0]["violations"] == 1

    givens = [row[:] for row in task.metadata["givens"]]
    r, c = next((r, c) for r in range(4) for c in range(4) if givens[r][c])
    was, givens[r][c] = givens[r][c], givens[r][c] % 4 + 1
    changed = np.asarray(draw_sudoku({**task.metadata, "givens": givens}, []))
    scores, details = score([item(task, encode(frames[:8] + [changed] * 8 + frames[8:], tmp_path / "given.mp4"))])
    assert scores[0, TASK_SUCCESS] == 0.0 and scores[0, PROCESS] < 1.0
    assert f"the given digit {was} at row {r + 1}, column {c + 1} is changed to {givens[r][c]}" in details[0]["reason"]
    assert details[0]["first_violation_frame"] == 8


def test_two_sliding_tiles_swapped_is_caught(questions: Path, tmp_path: Path) -> None:
    task = load_tasks(questions, task_ids=["sliding_puzzle_0002"]).tasks[0]
    board = [tile for row in task.metadata["tiles"] for tile in row]
    a, b = [i for i, tile in enumerate(board) if tile][:2]
    board[a], board[b] = board[b], board[a]
    swapped = np.asarray(draw_board(task.metadata, tuple(board)))
    frames = oracle_frames(task)
    scores, details = score([item(task, encode(frames[:4] + [swapped] * 6 + frames[4:], tmp_path / "swap.mp4"))])
    assert scores[0, TASK_SUCCESS] == 0.0 and scores[0, END_STATE] == 1.0 and scores[0, PROCESS] < 1.0
    assert details[0]["violations"] == 2, "the swap and the swap back"
    assert details[0]["first_violation_frame"] == 4 and "move at once" in details[0]["reason"]

    # A tile drawn twice (in the empty slot too), then the board put right: both changes are illegal, no crash.
    doubled = [tile for row in task.metadata["tiles"] for tile in row]
    doubled[doubled.index(0)] = 5
    frames_doubled = frames[:4] + [np.asarray(draw_board(task.metadata, tuple(doubled)))] * 6 + frames[4:]
    scores, details = score([item(task, encode(frames_doubled, tmp_path / "doubled.mp4"))])
    assert scores[0, TASK_SUCCESS] == 0.0 and scores[0, END_STATE] == 1.0 and details[0]["violations"] == 2
    assert "no longer holds each tile once" in details[0]["reason"]


@pytest.mark.parametrize("domain", DOMAINS)
def test_a_cross_fade_to_the_answer_is_one_illegal_jump_not_a_string_of_misreads(
    questions: Path, tmp_path: Path, domain: str
) -> None:
    task = load_tasks(questions, domains=[domain], limit_per_domain=1).tasks[0]
    keyframes = get_domain(domain).render_solution(task.metadata)
    frames = cross_fade(keyframes[0], keyframes[-1], 51)  # frame i is i/50 of the way to the answer
    video = encode(frames, tmp_path / "fade.mp4")
    scores, details = score([item(task, video)])
    # Both ends read right and nothing between them does: one jump from the start to the answer.
    assert scores[0].tolist() == [0.0, 1.0, 0.0]
    assert details[0]["moves"] == 0 and details[0]["violations"] == 1
    verifier = load_verifier(task.path, domain)
    states = verifier.read_states(read_frames(video))
    assert set(states[18:33]) == {None}, "a 36-64% blend of two looks is read as no look at all"
    assert states[0] == verifier.initial and states[-1] == verifier.solved
    assert set(states) <= {verifier.initial, verifier.solved, None}, "no blend is mistaken for a third state"


# -- robustness: other sizes, stronger compression ------------------------------------------------------------------


@pytest.mark.parametrize(("size", "crf"), [((1280, 720), 23), ((320, 320), 17), (None, 28)])
def test_the_oracle_still_passes_at_another_size_or_quality(
    questions: Path, tmp_path: Path, size: tuple[int, int] | None, crf: int
) -> None:
    tasks = [load_tasks(questions, domains=[d], limit_per_domain=1).tasks[0] for d in DOMAINS]
    items = []
    for task in tasks:
        frames = oracle_frames(task, total=32)
        if size is not None:
            frames = [np.asarray(Image.fromarray(f).resize(size, Image.Resampling.BILINEAR)) for f in frames]
        items.append(item(task, encode(frames, tmp_path / f"{task.task_id}.mp4", crf=crf)))
    scores, details = score(items)
    assert (scores == 1.0).all(), [d["reason"] for d in details]


# -- no answer leak, bad input --------------------------------------------------------------------------------------


def test_the_verifier_never_opens_the_final_frame(questions: Path, tmp_path: Path) -> None:
    tasks = [load_tasks(questions, domains=[d], limit_per_domain=1).tasks[0] for d in DOMAINS]
    videos = {(m, t.task_id): generate(m, t, tmp_path / "videos", duration=2.0) for t in tasks for m in BASELINES[:2]}
    for task in tasks:
        (task.path / "final_frame.png").unlink()
    assert TaskVerifier.inputs == frozenset({"video", "task"})
    items = [item(t, videos[m, t.task_id], model=m) for t in tasks for m in BASELINES[:2]]
    assert all(i.final_frame is None for i in items)
    scores, _ = score(items)
    assert scores[0::2].tolist() == [[1.0, 1.0, 1.0]] * 3  # oracle
    assert scores[1::2, END_STATE].tolist() == [1.0] * 3 and (scores[1::2, PROCESS] < 1).all()  # shortcut


def test_unscorable_items_get_nan_and_a_reason_and_the_batch_goes_on(questions: Path, tmp_path: Path) -> None:
    maze, sudoku = (load_tasks(questions, task_ids=[t]).tasks[0] for t in ("maze_0001", "sudoku_0001"))
    good = generate("oracle-solution", maze, tmp_path, duration=2.0)
    sudoku_video = generate("oracle-solution", sudoku, tmp_path, duration=2.0)
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(b"not a video at all")
    no_task = dataclasses.replace(item(maze, good), task_dir=None)
    items = [
        item(maze, garbage),  # cannot be decoded
        item(maze, good, domain="chess"),  # a domain with no verifier
        no_task,  # the task folder was not given
        item(maze, good),  # fine, between bad ones
        item(maze, sudoku_video),  # a real video of another puzzle: scored, and failed
    ]
    scores, details = score(items)
    assert np.isnan(scores[:3]).all() and all(d["passed"] is None for d in details[:3])
    assert "the video cannot be read" in details[0]["reason"]
    assert "no verifier for domain 'chess' (did you mean: chess_mate?)" in details[1]["reason"]
    assert "'vmevalkit tasks domains' lists" in details[1]["reason"]
    assert "task-verifier needs its declared input 'task'" in details[2]["reason"]
    assert scores[3].tolist() == [1.0, 1.0, 1.0] and details[3]["passed"] is True
    assert scores[4].tolist() == [0.0, 0.0, 0.0] and "no frame shows the task's maze" in details[4]["reason"]

    (maze.path / "question_metadata.json").write_text('{"domain": "sudoku"}')
    scores, details = score([item(maze, good)])
    assert np.isnan(scores).all() and "describes a 'sudoku' task, not a 'maze' task" in details[0]["reason"]


def test_task_verifier_is_a_catalog_scorer_that_keeps_the_contract() -> None:
    entry = AVAILABLE_SCORERS["task-verifier"]
    assert entry["kind"] == "builtin" and "wrapper" not in entry  # the service is the scorer
    scorer = build_scorer(load_scorer_class(entry["service"]), entry.get("args"))
    assert isinstance(scorer, TaskVerifier) and scorer.name == "task-verifier"
    assert scorer.dimensions == ("task_success", "end_state", "process")
    assert scorer.pass_dimension == "task_success" and "final_frame" not in scorer.inputs


def test_every_rendered_solution_step_reads_back_as_its_state(questions: Path) -> None:
    for task in load_tasks(questions).tasks:
        verifier = load_verifier(task.path, task.domain)
        keyframes = np.stack(get_domain(task.domain).render_solution(task.metadata))
        states = verifier.read_states(keyframes)
        assert states[0] == verifier.initial and states[-1] == verifier.solved
        assert None not in states and len(set(states)) == len(states), "each step is a new, readable state"

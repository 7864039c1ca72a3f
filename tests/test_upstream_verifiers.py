"""task-verifier scores imported upstream VMEvalKit mazes and sudokus (issue 14, point 2), never NaN.

The fixtures follow upstream's format: the metadata as hokindeng/VMEvalKit writes it (``question_metadata.json``
of Video-Reason/VBVR-EvalKit ``paper/assets/maze_task`` and ``sudoku_task``: no walls, flat arrays with
``null``), kept verbatim by the importer with ``domain`` and ``source_format`` set; the pictures drawn the
way upstream's generators draw them (``vmevalkit/tasks/maze_task/maze_reasoning.py`` through maze-dataset's
``MazePlot``: 11-pixel black walls, faint grey open sides, a #22c55e dot, a brown-poled #ef4444 flag, 500x499
RGBA; ``sudoku_task/sudoku_reasoning.py``: 885x885, black lines clipped at the border, bold blue digits, a
light grey blank), flattened and padded to even sizes as the importer does. Videos are real mp4 files.
"""

from __future__ import annotations

import json
from collections import deque
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from vmevalkit.models.baselines import OracleSolutionService
from vmevalkit.scoring.base import ScoreItem, checked_scores
from vmevalkit.scoring.verifiers import TaskVerifier, load_verifier
from vmevalkit.tasks import get_domain
from vmevalkit.tasks.loader import load_tasks
from vmevalkit.tasks.upstream.maze import UpstreamMazeVerifier
from vmevalkit.tasks.upstream.sudoku import UpstreamSudokuVerifier
from vmevalkit.video import read_frames, write_video

Cell = tuple[int, int]

# ---------------------------------------------------------------- upstream-like pictures

MAZE_LINE0, MAZE_PITCH, MAZE_WALL = 14.5, 156.33, 11  # measured on upstream's paper/assets/maze_task/first_frame.png
# A 3x3 perfect maze: one snake from the top-left to the bottom-right (9 cells on the path).
SNAKE = [(0, 0), (0, 1), (0, 2), (1, 2), (1, 1), (1, 0), (2, 0), (2, 1), (2, 2)]
PASSAGES = {frozenset(pair) for pair in zip(SNAKE, SNAKE[1:], strict=False)}


def _line(k: int) -> tuple[int, int]:
    centre = MAZE_LINE0 + k * MAZE_PITCH
    start = round(centre - MAZE_WALL / 2)
    return start, start + MAZE_WALL - 1


def _centre(cell: Cell) -> tuple[float, float]:
    return MAZE_LINE0 + (cell[1] + 0.5) * MAZE_PITCH, MAZE_LINE0 + (cell[0] + 0.5) * MAZE_PITCH


def draw_upstream_maze(agent: Cell, end: Cell = (2, 2)) -> Image.Image:
    """A 3x3 maze as upstream's render_maze draws it (RGBA, 500x499), the dot on ``agent``."""
    image = Image.new("RGBA", (500, 499), (255, 255, 255, 255))
    draw = ImageDraw.Draw(image)
    for r in range(3):
        for c in range(3):
            for other, vertical in (((r, c + 1), True), ((r + 1, c), False)):
                if other[0] > 2 or other[1] > 2:
                    continue
                ink = (247, 247, 247) if frozenset(((r, c), other)) in PASSAGES else (0, 0, 0)
                if vertical:
                    x0, x1 = _line(c + 1)
                    draw.rectangle((x0, _line(r)[0], x1, _line(r + 1)[1]), fill=ink)
                else:
                    y0, y1 = _line(r + 1)
                    draw.rectangle((_line(c)[0], y0, _line(c + 1)[1], y1), fill=ink)
    for k in (0, 3):  # the closed border
        a, b = _line(k)
        draw.rectangle((a, _line(0)[0], b, _line(3)[1]), fill=(0, 0, 0))
        draw.rectangle((_line(0)[0], a, _line(3)[1], b), fill=(0, 0, 0))
    fx, fy = _centre(end)  # the flag: a brown pole and a red triangle to its right
    draw.rectangle((fx - 2, fy - 25, fx + 2, fy + 25), fill=(139, 69, 19))
    draw.polygon([(fx + 15, fy - 15), (fx + 45, fy), (fx + 15, fy + 15)], fill=(239, 68, 68), outline=(255, 255, 255))
    ax, ay = _centre(agent)  # the dot: markersize 18, white edge
    draw.ellipse((ax - 14, ay - 14, ax + 14, ay + 14), fill=(255, 255, 255))
    draw.ellipse((ax - 12, ay - 12, ax + 12, ay + 12), fill=(34, 197, 94))
    return image


SUDOKU_SOLUTION = [1, 3, 2, 2, 1, 3, 3, 2, 1]  # upstream's paper/assets/sudoku_task/question_metadata.json
SUDOKU_PUZZLE: list[int | None] = [1, 3, 2, 2, 1, None, 3, 2, 1]


def draw_upstream_sudoku(cells: list[int | None]) -> Image.Image:
    """A 3x3 sudoku as upstream's create_board_image draws it (RGBA, 885x885)."""
    image = Image.new("RGBA", (885, 885), (255, 255, 255, 255))
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=50)
    for index, digit in enumerate(cells):
        r, c = divmod(index, 3)
        x, y = 15 + c * 285, 15 + r * 285
        if digit is None:
            draw.rectangle((x, y, x + 285, y + 285), fill=(240, 240, 240))
        else:
            draw.text((x + 142.5, y + 142.5), str(digit), fill=(0, 0, 255), font=font, anchor="mm", stroke_width=2)
    for k in range(4):  # linewidth 2 at 150 dpi; the axes clip the outer lines to their inner half
        p = 15 + k * 285
        lo, hi = (p, p + 1) if k == 0 else (p - 2, p - 1) if k == 3 else (p - 2, p + 1)
        draw.rectangle((lo, 15, hi, 869), fill=(0, 0, 0))
        draw.rectangle((15, lo, 869, hi), fill=(0, 0, 0))
    return image


def imported(image: Image.Image) -> np.ndarray:
    """A picture as the importer stores it: flattened onto white, padded to even sizes with its edge pixels."""
    white = Image.new("RGBA", image.size, (255, 255, 255, 255))
    rgb = np.asarray(Image.alpha_composite(white, image.convert("RGBA")).convert("RGB"))
    h, w = rgb.shape[:2]
    return np.pad(rgb, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")


# ---------------------------------------------------------------- tasks in our layout, as the importer writes them


def write_imported_task(
    root: Path, domain: str, task_id: str, metadata: dict[str, Any], first: Image.Image, final: Image.Image
) -> Path:
    folder = root / "questions" / f"{domain}_task" / task_id
    folder.mkdir(parents=True)
    Image.fromarray(imported(first)).save(folder / "first_frame.png")
    Image.fromarray(imported(final)).save(folder / "final_frame.png")
    (folder / "prompt.txt").write_text(metadata["prompt"], encoding="utf-8")
    kept = {**metadata, "domain": domain, "source_domain": domain, "source_format": "vmevalkit"}
    (folder / "question_metadata.json").write_text(json.dumps(kept, indent=2), encoding="utf-8")
    return folder


def maze_metadata() -> dict[str, Any]:
    return {  # upstream's MazeTaskPair, as create_dataset.py writes it
        "id": "maze_0001",
        "prompt": "Move the green dot from its starting position through the maze paths to the red flag.",
        "first_image_path": "maze_task/maze_0001/first_frame.png",
        "final_image_path": "maze_task/maze_0001/final_frame.png",
        "task_category": "Maze",
        "maze_data": {"generation_method": "kruskal_algorithm", "solution_length": 9},
        "difficulty": "easy",
        "maze_size": [3, 3],
        "start_pos": [0, 0],
        "end_pos": [2, 2],
        "solution_length": 9,
        "created_at": "2025-10-15T22:14:40.465301Z",
        "domain": "maze",
    }


def sudoku_metadata(puzzle: list[int | None]) -> dict[str, Any]:
    return {  # upstream's SudokuTaskPair dict, as sudoku_reasoning.py's generate_dataset writes it
        "id": "sudoku_0000",
        "prompt": "Solve this 3x3 Sudoku puzzle. Fill in all the empty cells following Sudoku rules.",
        "first_image_path": "sudoku_task/sudoku_0000/first_frame.png",
        "final_image_path": "sudoku_task/sudoku_0000/final_frame.png",
        "task_category": "Sudoku",
        "difficulty": "hard",
        "sudoku_data": {"puzzle": puzzle, "solution": SUDOKU_SOLUTION, "difficulty_level": 2, "num_given": 8},
        "puzzle_array": puzzle,
        "solution_array": SUDOKU_SOLUTION,
        "num_given": sum(1 for d in puzzle if d is not None),
        "created_at": "2025-10-15T22:14:42.514747Z",
        "domain": "sudoku",
    }


def score(task: Path, domain: str, videos: dict[str, list[np.ndarray]], folder: Path, crf: int = 17) -> dict[str, Any]:
    """TaskVerifier's (scores, details) per video name, each video a real mp4 scored as the runner checks it."""
    items = []
    for name, frames in videos.items():
        path = folder / f"{name}.mp4"
        write_video(frames, path, crf=crf)
        items.append(
            ScoreItem(
                generation_dir=folder,
                model=name,
                task_id=task.name,
                domain=domain,
                video_path=path,
                prompt="p",
                first_frame=task / "first_frame.png",
                task_dir=task,
            )
        )
    scorer = TaskVerifier()
    scores, details = checked_scores(scorer, items, scorer.score_batch(items))
    return {name: (scores[i], details[i]) for i, name in enumerate(videos)}


def bfs(start: Cell, end: Cell, passages: set[frozenset[Cell]]) -> list[Cell]:
    parents: dict[Cell, Cell | None] = {start: None}
    queue = deque([start])
    while queue:
        cell = queue.popleft()
        for dr, dc in ((-1, 0), (1, 0), (0, -1), (0, 1)):
            n = (cell[0] + dr, cell[1] + dc)
            if 0 <= n[0] < 3 and 0 <= n[1] < 3 and n not in parents and frozenset((cell, n)) in passages:
                parents[n] = cell
                queue.append(n)
    path = [end]
    while (parent := parents[path[-1]]) is not None:
        path.append(parent)
    return path[::-1]


# ---------------------------------------------------------------- maze


@pytest.fixture
def maze_task(tmp_path: Path) -> Path:
    return write_imported_task(
        tmp_path, "maze", "maze_0001", maze_metadata(), draw_upstream_maze((0, 0)), draw_upstream_maze((2, 2))
    )


def test_maze_walls_start_and_end_are_read_from_the_first_frame(maze_task: Path) -> None:
    verifier = load_verifier(maze_task, "maze")
    assert isinstance(verifier, UpstreamMazeVerifier)
    assert verifier.passages == PASSAGES  # exactly the open sides drawn, not one wall more or less
    assert (verifier.start, verifier.end) == ((0, 0), (2, 2))
    assert bfs((0, 0), (2, 2), verifier.passages) == SNAKE


def test_maze_oracle_scores_one_static_and_cheats_zero(maze_task: Path, tmp_path: Path) -> None:
    path = bfs((0, 0), (2, 2), PASSAGES)  # from the walls drawn
    oracle = [imported(draw_upstream_maze(cell)) for cell in path for _ in range(3)]
    start = imported(draw_upstream_maze((0, 0)))
    end = imported(draw_upstream_maze((2, 2)))
    wall = imported(draw_upstream_maze((1, 0)))  # (0, 0) -> (1, 0): neighbours, with a wall between
    results = score(
        maze_task,
        "maze",
        {"oracle": oracle, "static": [start] * 12, "jump": [start] * 6 + [end] * 6, "wall": [start] * 6 + [wall] * 6},
        tmp_path,
    )
    (o, o_details), (s, s_details) = results["oracle"], results["static"]
    assert o.tolist() == [1.0, 1.0, 1.0], o_details["reason"]
    assert o_details["moves"] == 8
    assert s.tolist() == [0.0, 0.0, 1.0]
    assert "ends on [0, 0], not on the red flag's cell [2, 2]" in s_details["reason"]
    j, j_details = results["jump"]
    assert j[0] == 0.0 and j[2] < 1.0 and not np.isnan(j).any()
    assert "jumps from [0, 0] to [2, 2]" in j_details["reason"]
    w, w_details = results["wall"]
    assert w[0] == 0.0 and not np.isnan(w).any()
    assert "crosses the wall between [0, 0] and [1, 0]" in w_details["reason"]


def test_maze_oracle_still_passes_after_a_crf_35_reencode(maze_task: Path, tmp_path: Path) -> None:
    oracle = [imported(draw_upstream_maze(cell)) for cell in SNAKE for _ in range(3)]
    write_video(oracle, tmp_path / "first.mp4")
    reencoded = list(read_frames(tmp_path / "first.mp4"))
    (scores, details) = score(maze_task, "maze", {"crf35": reencoded}, tmp_path, crf=35)["crf35"]
    assert scores.tolist() == [1.0, 1.0, 1.0], details["reason"]


def test_a_first_frame_that_is_not_the_maze_is_not_scored_and_says_why(tmp_path: Path) -> None:
    metadata = maze_metadata() | {"start_pos": [1, 1]}  # the picture's dot is on [0, 0]
    task = write_imported_task(
        tmp_path, "maze", "maze_0001", metadata, draw_upstream_maze((0, 0)), draw_upstream_maze((2, 2))
    )
    scores, details = score(task, "maze", {"oracle": [imported(draw_upstream_maze((0, 0)))] * 4}, tmp_path)["oracle"]
    assert np.isnan(scores).all()
    assert "start_pos is [1, 1] but the first frame shows it on [0, 0]" in details["reason"]
    assert "re-import the task with 'vmevalkit tasks import'" in details["reason"]


def test_dispatch_keeps_our_own_mazes_and_asks_for_the_folder_for_upstream(tmp_path: Path) -> None:
    domain = get_domain("maze")
    ours = next(domain.generate(1, seed=3))
    assert type(domain.verifier(ours.metadata)).__name__ == "MazeVerifier"
    with pytest.raises(ValueError, match="give the task folder"):
        domain.verifier(maze_metadata())


# ---------------------------------------------------------------- sudoku


@pytest.fixture
def sudoku_task(tmp_path: Path) -> Path:
    return write_imported_task(
        tmp_path,
        "sudoku",
        "sudoku_0000",
        sudoku_metadata(SUDOKU_PUZZLE),
        draw_upstream_sudoku(SUDOKU_PUZZLE),
        draw_upstream_sudoku(list(SUDOKU_SOLUTION)),
    )


def test_sudoku_reads_every_cell_of_its_own_frames(sudoku_task: Path) -> None:
    verifier = load_verifier(sudoku_task, "sudoku")
    assert isinstance(verifier, UpstreamSudokuVerifier)
    first = imported(draw_upstream_sudoku(SUDOKU_PUZZLE))
    final = imported(draw_upstream_sudoku(list(SUDOKU_SOLUTION)))
    assert verifier.read_states(np.stack([first, final])) == [
        (1, 3, 2, 2, 1, 0, 3, 2, 1),
        tuple(SUDOKU_SOLUTION),
    ]


def test_sudoku_oracle_scores_one_static_and_a_changed_given_zero(sudoku_task: Path, tmp_path: Path) -> None:
    first = imported(draw_upstream_sudoku(SUDOKU_PUZZLE))
    final = imported(draw_upstream_sudoku(list(SUDOKU_SOLUTION)))
    changed = imported(draw_upstream_sudoku([2, 3, 2, 2, 1, 3, 3, 2, 1]))  # the given 1 at row 1, column 1 is now 2
    results = score(
        sudoku_task,
        "sudoku",
        {"oracle": [first] * 6 + [final] * 6, "static": [first] * 12, "given": [first] * 6 + [changed] * 6},
        tmp_path,
    )
    o, o_details = results["oracle"]
    assert o.tolist() == [1.0, 1.0, 1.0], o_details["reason"]
    s, s_details = results["static"]
    assert s.tolist() == [0.0, 0.0, 1.0]
    assert s_details["reason"] == "the grid ends with 1 blank and 0 wrong cell(s)"
    g, g_details = results["given"]
    assert g.tolist() == [0.0, 0.0, 0.0]
    assert "the given digit 1 at row 1, column 1 is changed to 2" in g_details["reason"]


def test_sudoku_fills_one_cell_at_a_time_with_digits_cut_from_the_final_frame(tmp_path: Path) -> None:
    """Three blanks hold every 3: its look is cut from the final frame, where solution_array says it is."""
    puzzle: list[int | None] = [1, None, 2, 2, 1, None, None, 2, 1]  # no 3 among the givens
    task = write_imported_task(
        tmp_path,
        "sudoku",
        "sudoku_0001",
        sudoku_metadata(puzzle),
        draw_upstream_sudoku(puzzle),
        draw_upstream_sudoku(list(SUDOKU_SOLUTION)),
    )
    steps: list[list[int | None]] = [
        puzzle,
        [1, 3, 2, 2, 1, None, None, 2, 1],
        [1, 3, 2, 2, 1, 3, None, 2, 1],
        list(SUDOKU_SOLUTION),
    ]
    oracle = [imported(draw_upstream_sudoku(step)) for step in steps for _ in range(3)]
    at_once = [imported(draw_upstream_sudoku(steps[0]))] * 6 + [imported(draw_upstream_sudoku(steps[-1]))] * 6
    results = score(task, "sudoku", {"oracle": oracle, "at_once": at_once}, tmp_path, crf=35)
    o, o_details = results["oracle"]
    assert o.tolist() == [1.0, 1.0, 1.0], o_details["reason"]
    assert o_details["moves"] == 3
    a, a_details = results["at_once"]
    assert a.tolist() == [0.0, 1.0, 0.0]
    assert "3 digits appear at once" in a_details["reason"]


# ---------------------------------------------------------------- upstream rotation: a task no verifier can read


def rotation_metadata() -> dict[str, Any]:
    return {  # upstream's rotation task pair (paper/video-models-start-to-solve/assets/rotation_task)
        "id": "rotation_0014",
        "prompt": "A 9-block sculpture sits fixed on a table. ... rotates horizontally to 322° azimuth.",
        "first_image_path": "rotation_task/rotation_0014/first_frame.png",
        "final_image_path": "rotation_task/rotation_0014/final_frame.png",
        "task_category": "3D Mental Rotation",
        "rotation_data": {
            "generation_method": "3D voxel snake with viewpoint rotation",
            "num_voxels": 9,
            "first_view_elev": 38,
            "first_view_azim": 142,
            "final_view_elev": 38,
            "final_view_azim": 322,
            "angle_difference": 180,
            "structural_complexity": "snake_like_3d_voxels",
        },
        "difficulty": "easy",
        "domain": "rotation",
    }


def test_upstream_rotation_is_not_scored_and_names_the_scorers_that_can(tmp_path: Path) -> None:
    """Upstream rotation orbits a camera round a 3D voxel sculpture whose voxels its metadata does not keep.

    No frame between the two views can be read, so task-verifier gives no score: the reason says why and which
    scorers do compare such a video (never "re-import", which would change nothing).
    """
    first = Image.new("RGBA", (400, 400), (255, 255, 255, 255))
    ImageDraw.Draw(first).rectangle((150, 150, 250, 250), fill=(80, 120, 200, 255))
    final = Image.new("RGBA", (400, 400), (255, 255, 255, 255))
    ImageDraw.Draw(final).rectangle((140, 160, 260, 240), fill=(80, 120, 200, 255))
    task = write_imported_task(tmp_path, "rotation", "rotation_0014", rotation_metadata(), first, final)
    frames = [imported(first)] * 4 + [imported(final)] * 4
    (value, detail) = score(task, "rotation", {"oracle": frames}, tmp_path)["oracle"]
    assert all(np.isnan(v) for v in value)
    reason = detail["reason"]
    assert "3D" in reason and "voxel" in reason
    assert "frame-match" in reason and "trajectory-match" in reason
    assert "re-import" not in reason
    # Our own rotation tasks still get our verifier.
    ours = next(get_domain("rotation").generate(1, seed=3))
    assert type(get_domain("rotation").verifier(ours.metadata)).__name__ == "RotationVerifier"


# ---------------------------------------------------------------- the oracle baseline on imported tasks


@pytest.mark.parametrize("domain", ["maze", "sudoku"])
def test_oracle_lays_out_the_steps_with_looks_cut_from_the_task_pictures(tmp_path: Path, domain: str) -> None:
    """With no ground_truth.mp4 and no solution our renderer draws, oracle-solution no longer cross-fades: it plays
    the steps the task's verifier can read (the dot cell by cell, each blank filled in turn), so it passes."""
    if domain == "maze":
        write_imported_task(
            tmp_path, "maze", "maze_0001", maze_metadata(), draw_upstream_maze((0, 0)), draw_upstream_maze((2, 2))
        )
    else:
        puzzle: list[int | None] = [1, None, 2, 2, 1, None, 3, 2, None]  # three blanks: three steps
        first, final = draw_upstream_sudoku(puzzle), draw_upstream_sudoku(list(SUDOKU_SOLUTION))
        write_imported_task(tmp_path, "sudoku", "sudoku_0000", sudoku_metadata(puzzle), first, final)
    (task,) = load_tasks(tmp_path / "questions").tasks
    frames, method = OracleSolutionService("oracle-solution").render(task, duration=2.0)
    assert method == "task_pictures"
    assert np.array_equal(frames[0], np.asarray(Image.open(task.first_frame).convert("RGB")))
    (value, detail) = score(task.path, domain, {"oracle": frames}, tmp_path)["oracle"]
    assert list(value) == [1.0, 1.0, 1.0], detail
    assert detail["moves"] == (8 if domain == "maze" else 3)  # the snake's 9 cells; the three blanks

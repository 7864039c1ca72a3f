"""Task domains: determinism, solution validity, rendering contract and the shipped sample.

Solution checks are written independently of the domains' own solvers (their
own BFS / backtracking), so a bug there cannot hide itself here.
"""

from __future__ import annotations

import io
import json
import random
from collections import deque
from functools import cache
from itertools import pairwise, product
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from vmevalkit.tasks import DOMAINS, get_domain
from vmevalkit.tasks.base import FRAME_SIZE, GeneratedTask
from vmevalkit.tasks.writer import FINAL_FRAME, FIRST_FRAME, METADATA, PROMPT, build_dataset, write_task

SAMPLE_DIR = Path(__file__).resolve().parents[1] / "data" / "questions"
SAMPLE_PER_DOMAIN = 4
SAMPLE_SEED = 0
VALIDITY_SEEDS = (0, 1, 2)
VALIDITY_COUNT = 8  # tasks per seed and domain whose solutions are checked
REQUIRED_KEYS = {"domain", "task_id", "seed", "difficulty", "solution", "num_steps", "render"}

ALL_DOMAINS = sorted(DOMAINS)


@cache
def tasks(name: str, seed: int, count: int = VALIDITY_COUNT) -> tuple[GeneratedTask, ...]:
    return tuple(get_domain(name).generate(count, seed=seed))


def validity_tasks(name: str) -> list[GeneratedTask]:
    return [task for seed in VALIDITY_SEEDS for task in tasks(name, seed)]


def frame(task: GeneratedTask, which: str) -> np.ndarray:
    return np.asarray(getattr(task, which).convert("RGB"))


def files_under(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def pixel(arr: np.ndarray, x: int, y: int) -> list[int]:
    return [int(v) for v in arr[y, x]]


# --------------------------------------------------------------------------- contract


@pytest.mark.parametrize("name", ALL_DOMAINS)
def test_domain_is_registered_under_its_name(name: str) -> None:
    domain = get_domain(name)
    assert domain.name == name
    assert domain.description


@pytest.mark.parametrize("name", ALL_DOMAINS)
def test_same_seed_gives_identical_tasks_and_files(name: str, tmp_path: Path) -> None:
    # Fresh domain objects, and a disturbed global random state: only task_rng may matter.
    random.seed(1)
    first = list(get_domain(name).generate(3, seed=5))
    random.seed(2)
    second = list(get_domain(name).generate(3, seed=5))
    for a, b in zip(first, second, strict=True):
        assert a.metadata == b.metadata
        assert a.prompt == b.prompt
        assert a.first_frame.tobytes() == b.first_frame.tobytes()
        assert a.final_frame.tobytes() == b.final_frame.tobytes()
        write_task(a, tmp_path / "a")
        write_task(b, tmp_path / "b")
    files_a, files_b = files_under(tmp_path / "a"), files_under(tmp_path / "b")
    assert len(files_a) == 3 * 4
    assert files_a == files_b


@pytest.mark.parametrize("name", ALL_DOMAINS)
def test_different_seed_or_index_gives_a_different_task(name: str) -> None:
    domain = get_domain(name)
    base = next(domain.generate(1, seed=0))
    other_seed = next(domain.generate(1, seed=1))
    other_index = next(domain.generate(1, seed=0, start_index=2))
    for other in (other_seed, other_index):
        assert other.first_frame.tobytes() != base.first_frame.tobytes()
        assert other.metadata["solution"] != base.metadata["solution"]


@pytest.mark.parametrize("name", ALL_DOMAINS)
def test_metadata_is_complete_and_json_serialisable(name: str) -> None:
    for index, task in enumerate(tasks(name, 0), start=1):
        md = task.metadata
        assert REQUIRED_KEYS <= md.keys()
        assert md["domain"] == task.domain == name
        assert md["task_id"] == task.task_id == f"{name}_{index:04d}"
        assert md["seed"] == 0
        assert md["difficulty"] in {"easy", "medium", "hard"}
        assert json.loads(json.dumps(md)) == md  # no tuples, sets or other non-JSON values
        render = md["render"]
        assert len(render["grid_origin"]) == 2 and render["cell_size"] > 0
        assert md["num_steps"] >= 1
        assert task.prompt.strip() and not task.prompt.endswith("\n")


@pytest.mark.parametrize("name", ALL_DOMAINS)
def test_frames_are_full_size_rgb(name: str) -> None:
    for task in tasks(name, 0):
        for image in (task.first_frame, task.final_frame):
            assert image.mode == "RGB"
            assert image.size == (FRAME_SIZE, FRAME_SIZE)


@pytest.mark.parametrize("name", ALL_DOMAINS)
def test_render_solution_matches_first_and_final_frames(name: str) -> None:
    domain = get_domain(name)
    for task in tasks(name, 0):
        # Render from a JSON round trip, as a consumer of question_metadata.json would.
        keyframes = domain.render_solution(json.loads(json.dumps(task.metadata)))
        assert len(keyframes) == task.metadata["num_steps"] + 1
        for kf in keyframes:
            assert isinstance(kf, np.ndarray)
            assert kf.shape == (FRAME_SIZE, FRAME_SIZE, 3)
            assert kf.dtype == np.uint8
        assert np.array_equal(keyframes[0], frame(task, "first_frame"))
        assert np.array_equal(keyframes[-1], frame(task, "final_frame"))
        for before, after in pairwise(keyframes):
            assert not np.array_equal(before, after)


# --------------------------------------------------------------------------- maze


def maze_edges(md: dict[str, Any]) -> set[frozenset[tuple[int, int]]]:
    return {frozenset((tuple(a), tuple(b))) for a, b in md["passages"]}


def test_maze_is_perfect_and_the_path_is_a_shortest_wall_free_route() -> None:
    for task in validity_tasks("maze"):
        md = task.metadata
        rows, cols = md["rows"], md["cols"]
        edges = maze_edges(md)
        cells = set(product(range(rows), range(cols)))
        for edge in edges:
            (r1, c1), (r2, c2) = sorted(edge)
            assert {(r1, c1), (r2, c2)} <= cells
            assert abs(r1 - r2) + abs(c1 - c2) == 1
        # A perfect maze is a spanning tree of the cells: n - 1 passages, all connected.
        assert len(edges) == rows * cols - 1
        dist = {tuple(md["start"]): 0}
        queue = deque([tuple(md["start"])])
        while queue:
            r, c = queue.popleft()
            for n in ((r - 1, c), (r + 1, c), (r, c - 1), (r, c + 1)):
                if n not in dist and frozenset(((r, c), n)) in edges:
                    dist[n] = dist[(r, c)] + 1
                    queue.append(n)
        assert set(dist) == cells

        path = [tuple(cell) for cell in md["solution"]]
        assert path[0] == tuple(md["start"]) and path[-1] == tuple(md["goal"])
        assert md["start"] != md["goal"]
        for a, b in pairwise(path):
            assert frozenset((a, b)) in edges, f"{md['task_id']}: wall or gap between {a} and {b}"
        assert md["num_steps"] == len(path) - 1 == dist[tuple(md["goal"])]


def test_maze_size_follows_difficulty() -> None:
    sizes = {task.metadata["difficulty"]: task.metadata["rows"] for task in validity_tasks("maze")}
    assert sizes == {"easy": 5, "medium": 6, "hard": 7}


def test_maze_frames_show_walls_and_agent_where_metadata_says() -> None:
    domain = get_domain("maze")
    for task in tasks("maze", 0):
        md = task.metadata
        spec = md["render"]
        (ox, oy), cs = spec["grid_origin"], spec["cell_size"]
        colors = spec["colors"]
        edges = maze_edges(md)
        keyframes = domain.render_solution(md)
        first = keyframes[0]
        # The midpoint of every side between two cells is wall-coloured exactly when it is closed.
        for r, c in product(range(md["rows"]), range(md["cols"])):
            if c + 1 < md["cols"]:
                expected = colors["background"] if frozenset(((r, c), (r, c + 1))) in edges else colors["wall"]
                assert pixel(first, ox + (c + 1) * cs, oy + r * cs + cs // 2) == expected
            if r + 1 < md["rows"]:
                expected = colors["background"] if frozenset(((r, c), (r + 1, c))) in edges else colors["wall"]
                assert pixel(first, ox + c * cs + cs // 2, oy + (r + 1) * cs) == expected
        # Exactly one cell centre is agent-coloured, and it is the path's cell for that step.
        for (r, c), kf in zip(md["solution"], keyframes, strict=True):
            agent_cells = [
                (rr, cc)
                for rr, cc in product(range(md["rows"]), range(md["cols"]))
                if pixel(kf, ox + cc * cs + cs // 2, oy + rr * cs + cs // 2) == colors["agent"]
            ]
            assert agent_cells == [(r, c)]
        gr, gc = md["goal"]
        corner = spec["goal_inset"] + 1  # goal square corner: outside the agent disc
        assert pixel(first, ox + gc * cs + corner, oy + gr * cs + corner) == colors["goal"]
        assert pixel(keyframes[-1], ox + gc * cs + corner, oy + gr * cs + corner) == colors["goal"]


# --------------------------------------------------------------------------- sliding puzzle

SOLVED = [1, 2, 3, 4, 5, 6, 7, 8, 0]


def slide_checked(board: list[int], tile: int, size: int = 3) -> list[int]:
    blank, where = board.index(0), board.index(tile)
    (br, bc), (tr, tc) = divmod(blank, size), divmod(where, size)
    assert tile != 0 and abs(br - tr) + abs(bc - tc) == 1, f"tile {tile} is not next to the blank in {board}"
    board = board[:]
    board[blank], board[where] = tile, 0
    return board


def solvable_within(board: list[int], depth: int) -> bool:
    frontier, seen = [tuple(board)], {tuple(board)}
    for _ in range(depth + 1):
        if tuple(SOLVED) in frontier:
            return True
        nxt = []
        for state in frontier:
            for tile in state:
                blank, where = state.index(0), state.index(tile)
                if tile and abs(blank // 3 - where // 3) + abs(blank % 3 - where % 3) == 1:
                    new = tuple(slide_checked(list(state), tile))
                    if new not in seen:
                        seen.add(new)
                        nxt.append(new)
        frontier = nxt
    return False


def test_sliding_puzzle_solution_is_legal_solving_and_optimal() -> None:
    for task in validity_tasks("sliding_puzzle"):
        md = task.metadata
        board = [tile for row in md["tiles"] for tile in row]
        assert sorted(board) == list(range(9)) and board != SOLVED
        for tile in md["solution"]:
            board = slide_checked(board, tile)
        assert board == SOLVED
        assert md["num_steps"] == len(md["solution"])
        assert 1 <= md["num_steps"] <= md["scramble_length"]  # the scramble undone is a solution
        start = [tile for row in md["tiles"] for tile in row]
        assert not solvable_within(start, md["num_steps"] - 1), f"{md['task_id']}: a shorter solution exists"


def test_sliding_puzzle_scramble_length_follows_difficulty() -> None:
    ranges = {"easy": range(6, 9), "medium": range(9, 12), "hard": range(12, 15)}
    for task in validity_tasks("sliding_puzzle"):
        assert task.metadata["scramble_length"] in ranges[task.metadata["difficulty"]]


def test_sliding_puzzle_board_can_be_read_back_from_frames() -> None:
    domain = get_domain("sliding_puzzle")
    for task in tasks("sliding_puzzle", 0):
        md = task.metadata
        spec = md["render"]
        (ox, oy), cs, inset = spec["grid_origin"], spec["cell_size"], spec["tile_inset"]
        by_color = {tuple(rgb): int(tile) for tile, rgb in spec["colors"]["tiles"].items()}
        by_color[tuple(spec["colors"]["board"])] = 0
        assert len(by_color) == 9  # every tile and the blank tell apart by colour
        board = [tile for row in md["tiles"] for tile in row]
        for step, kf in enumerate(domain.render_solution(md)):
            if step:
                board = slide_checked(board, md["solution"][step - 1])
            read = [
                by_color[tuple(pixel(kf, ox + c * cs + inset + 2, oy + r * cs + inset + 2))]
                for r, c in product(range(3), range(3))
            ]
            assert read == board
        assert board == SOLVED


# --------------------------------------------------------------------------- sudoku


def is_complete_sudoku(grid: list[list[int]], box: int) -> bool:
    size = box * box
    digits = set(range(1, size + 1))
    rows = [set(row) for row in grid]
    cols = [{grid[r][c] for r in range(size)} for c in range(size)]
    boxes = [
        {grid[r][c] for r in range(br, br + box) for c in range(bc, bc + box)}
        for br in range(0, size, box)
        for bc in range(0, size, box)
    ]
    return all(len(row) == size for row in grid) and all(group == digits for group in rows + cols + boxes)


def all_completions(givens: list[list[int]], box: int) -> list[list[list[int]]]:
    """Every completion by brute force over the blanks (fine for 4x4)."""
    size = box * box
    blanks = [(r, c) for r in range(size) for c in range(size) if givens[r][c] == 0]
    found = []
    for digits in product(range(1, size + 1), repeat=len(blanks)):
        grid = [row[:] for row in givens]
        for (r, c), d in zip(blanks, digits, strict=True):
            grid[r][c] = d
        if is_complete_sudoku(grid, box):
            found.append(grid)
    return found


def test_sudoku_solution_is_valid_unique_and_keeps_the_givens() -> None:
    checked_uniqueness = 0
    for task in validity_tasks("sudoku"):
        md = task.metadata
        box, size = md["box_size"], md["size"]
        assert (box, size) == (2, 4)
        givens, solved = md["givens"], md["solution_grid"]
        assert is_complete_sudoku(solved, box)
        blanks = [(r, c) for r in range(size) for c in range(size) if givens[r][c] == 0]
        for r, c in product(range(size), range(size)):
            assert givens[r][c] in (0, solved[r][c])
        # Fills: every blank exactly once, in row-major order, with the solution's digit.
        assert [(r, c) for r, c, _ in md["solution"]] == blanks
        assert all(d == solved[r][c] for r, c, d in md["solution"])
        assert md["num_steps"] == len(blanks)
        if len(blanks) <= 8:  # brute force is 4**blanks grids: keep the test fast
            assert all_completions(givens, box) == [solved]
            checked_uniqueness += 1
    assert checked_uniqueness >= 5


def test_sudoku_uniqueness_of_hard_puzzles_by_backtracking() -> None:
    # The brute force above skips 10-blank puzzles; a plain backtracker (not the domain's) covers them.
    def count(grid: list[list[int]], limit: int = 2) -> int:
        for r, c in product(range(4), range(4)):
            if grid[r][c] == 0:
                total = 0
                br, bc = r - r % 2, c - c % 2
                for d in range(1, 5):
                    box = {grid[rr][cc] for rr in range(br, br + 2) for cc in range(bc, bc + 2)}
                    if d not in grid[r] and d not in {grid[i][c] for i in range(4)} and d not in box:
                        grid[r][c] = d
                        total += count(grid, limit)
                        grid[r][c] = 0
                        if total >= limit:
                            break
                return total
        return 1

    hard = [task for task in validity_tasks("sudoku") if task.metadata["difficulty"] == "hard"]
    assert hard
    for task in hard:
        assert count([row[:] for row in task.metadata["givens"]]) == 1


def test_sudoku_blank_count_follows_difficulty() -> None:
    blanks = {task.metadata["difficulty"]: task.metadata["num_steps"] for task in validity_tasks("sudoku")}
    assert blanks == {"easy": 6, "medium": 8, "hard": 10}


def test_sudoku_frames_show_givens_and_fills_in_their_colours() -> None:
    domain = get_domain("sudoku")
    for task in tasks("sudoku", 0):
        md = task.metadata
        spec = md["render"]
        (ox, oy), cs, margin = spec["grid_origin"], spec["cell_size"], spec["thick_line"]
        given, filled = np.array(spec["colors"]["given"]), np.array(spec["colors"]["filled"])
        for step, kf in enumerate(domain.render_solution(md)):
            done = {(r, c) for r, c, _ in md["solution"][:step]}
            for r, c in product(range(md["size"]), range(md["size"])):
                x0, y0 = ox + c * cs, oy + r * cs
                inner = kf[y0 + margin : y0 + cs - margin, x0 + margin : x0 + cs - margin]
                has_given = bool(np.all(inner == given, axis=-1).any())
                has_fill = bool(np.all(inner == filled, axis=-1).any())
                assert has_given == (md["givens"][r][c] != 0)
                assert has_fill == ((r, c) in done)


def test_sudoku_also_generates_9x9() -> None:
    from vmevalkit.tasks.sudoku import SudokuDomain

    domain = SudokuDomain(box_size=3)
    task = next(domain.generate(1, seed=0))
    md = task.metadata
    assert md["size"] == 9 and is_complete_sudoku(md["solution_grid"], 3)
    keyframes = domain.render_solution(md)
    assert np.array_equal(keyframes[-1], frame(task, "final_frame"))


# --------------------------------------------------------------------------- dataset files


def test_write_task_layout_and_contents(tmp_path: Path) -> None:
    task = tasks("maze", 0)[0]
    folder = write_task(task, tmp_path)
    assert folder == tmp_path / "maze_task" / "maze_0001"
    assert sorted(p.name for p in folder.iterdir()) == sorted([FIRST_FRAME, FINAL_FRAME, PROMPT, METADATA])
    assert (folder / PROMPT).read_text() == task.prompt + "\n"
    text = (folder / METADATA).read_text()
    assert text == json.dumps(task.metadata, indent=2, sort_keys=True) + "\n"
    with Image.open(folder / FIRST_FRAME) as png:
        assert png.format == "PNG" and png.mode == "RGB"
        assert not png.text  # no text chunks (software, timestamps) that would vary
        assert np.array_equal(np.asarray(png), frame(task, "first_frame"))


def test_shipped_sample_is_exactly_what_build_dataset_writes(tmp_path: Path) -> None:
    written = build_dataset(tmp_path, per_domain=SAMPLE_PER_DOMAIN, seed=SAMPLE_SEED)
    assert len(written) == SAMPLE_PER_DOMAIN * len(DOMAINS)
    rebuilt = files_under(tmp_path)
    shipped = {
        path: data
        for path, data in files_under(SAMPLE_DIR).items()
        if path.split("/")[0] in {f"{name}_task" for name in DOMAINS}
    }
    assert sorted(shipped) == sorted(rebuilt), "shipped sample has different files; rebuild data/questions"
    # PNGs are compared by pixels: their bytes also depend on the zlib that Pillow ships.
    differing = [path for path in rebuilt if not same_content(path, shipped[path], rebuilt[path])]
    assert not differing, f"shipped files differ from a rebuild: {differing}"


def same_content(path: str, a: bytes, b: bytes) -> bool:
    if not path.endswith(".png"):
        return a == b
    with Image.open(io.BytesIO(a)) as ia, Image.open(io.BytesIO(b)) as ib:
        return ia.mode == ib.mode and np.array_equal(np.asarray(ia), np.asarray(ib))


def test_shipped_sample_renders_back_from_its_metadata() -> None:
    for name in DOMAINS:
        domain = get_domain(name)
        folders = sorted((SAMPLE_DIR / f"{name}_task").iterdir())
        assert len(folders) == SAMPLE_PER_DOMAIN
        for folder in folders:
            md = json.loads((folder / METADATA).read_text())
            keyframes = domain.render_solution(md)
            with Image.open(folder / FIRST_FRAME) as first, Image.open(folder / FINAL_FRAME) as final:
                assert np.array_equal(keyframes[0], np.asarray(first.convert("RGB")))
                assert np.array_equal(keyframes[-1], np.asarray(final.convert("RGB")))


def test_shipped_sample_is_small() -> None:
    total = sum(p.stat().st_size for p in SAMPLE_DIR.rglob("*") if p.is_file())
    assert 0 < total < 2 * 1024 * 1024


# --------------------------------------------------------------------------- vmevalkit tasks build


def tasks_cli(*args: str, cwd: Path) -> Any:
    import os
    import subprocess
    import sys

    env = {**os.environ, "COLUMNS": "200"}  # argparse wraps help at the terminal's width
    return subprocess.run(
        [sys.executable, "-m", "vmevalkit", "tasks", *args], cwd=cwd, env=env, capture_output=True, text=True
    )


def test_tasks_build_explains_every_option(tmp_path: Path) -> None:
    shown = tasks_cli("build", "--help", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    text = " ".join(shown.stdout.split())
    assert "--per-domain N tasks to write per domain" in text
    assert "--seed SEED seed of every generator" in text
    assert "--sudoku-size {4,9} side of the sudoku grids" in text


def test_tasks_build_writes_9x9_sudokus_on_request(tmp_path: Path) -> None:
    built = tasks_cli(
        "build", "--questions-dir", "q", "--domain", "sudoku", "--per-domain", "2", "--sudoku-size", "9", cwd=tmp_path
    )
    assert built.returncode == 0, built.stderr
    for index in (1, 2):
        metadata = json.loads((tmp_path / "q" / "sudoku_task" / f"sudoku_000{index}" / METADATA).read_text())
        assert metadata["size"] == 9 and metadata["box_size"] == 3
        assert is_complete_sudoku(metadata["solution_grid"], 3)
    default = tasks_cli("build", "--questions-dir", "q4", "--domain", "sudoku", "--per-domain", "1", cwd=tmp_path)
    assert default.returncode == 0, default.stderr
    assert json.loads((tmp_path / "q4" / "sudoku_task" / "sudoku_0001" / METADATA).read_text())["size"] == 4
    wrong = tasks_cli("build", "--questions-dir", "q5", "--sudoku-size", "16", cwd=tmp_path)
    assert wrong.returncode == 2 and "invalid choice: 16" in wrong.stderr and not (tmp_path / "q5").exists()


def test_a_dataset_built_as_the_readme_shows_is_not_left_untracked() -> None:
    """The README builds into data/big: git ignores it (and any other generated folder under data/) but never the
    shipped sample."""
    import shutil
    import subprocess

    repo = SAMPLE_DIR.parents[1]
    readme = (repo / "README.md").read_text(encoding="utf-8")
    assert "--questions-dir data/big" in readme
    if shutil.which("git") is None or not (repo / ".git").exists():
        pytest.skip("not a git checkout")

    def ignored(path: str) -> bool:
        found = subprocess.run(["git", "check-ignore", "-q", "--no-index", path], cwd=repo)
        assert found.returncode in (0, 1)
        return found.returncode == 0

    assert ignored("data/big/maze_task/maze_0001/prompt.txt")
    assert ignored("data/outputs/pilot/x/metadata.json")
    assert not ignored("data/questions/maze_task/maze_0001/prompt.txt")

"""graph_path: the generated graphs and paths, checked by code written apart from the generator, and the verifier
on drawn cheats (a jump along no edge, a detour, two tokens), through a real mp4 and ``task-verifier``.

The shortest-path check here uses Floyd-Warshall and a depth-first enumeration of every simple path, not the
module's BFS, so a bug in the generator's search cannot hide itself.
"""

from __future__ import annotations

import math
from functools import cache
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
from domain_videos import score_videos

from vmevalkit.models.baselines import spread_keyframes
from vmevalkit.tasks import get_domain
from vmevalkit.tasks.base import GeneratedTask
from vmevalkit.tasks.graph_path import draw_graph
from vmevalkit.tasks.render import to_array
from vmevalkit.tasks.verifier import judge

SEEDS = (0, 1, 2)
PER_SEED = 8
TASK_SUCCESS = 0


@cache
def tasks() -> tuple[GeneratedTask, ...]:
    domain = get_domain("graph_path")
    return tuple(task for seed in SEEDS for task in domain.generate(PER_SEED, seed=seed))


def all_distances(count: int, edges: list[list[int]]) -> list[list[float]]:
    """Floyd-Warshall over unit edges."""
    d = [[0.0 if i == j else math.inf for j in range(count)] for i in range(count)]
    for i, j in edges:
        d[i][j] = d[j][i] = 1.0
    for k in range(count):
        for i in range(count):
            for j in range(count):
                d[i][j] = min(d[i][j], d[i][k] + d[k][j])
    return d


def simple_paths_of_length(count: int, edges: list[list[int]], start: int, goal: int, length: int) -> list[list[int]]:
    joined = {frozenset(e) for e in edges}
    found: list[list[int]] = []

    def walk(path: list[int]) -> None:
        if len(path) - 1 == length:
            if path[-1] == goal:
                found.append(path)
            return
        for n in range(count):
            if n not in path and frozenset((path[-1], n)) in joined:
                walk(path + [n])

    walk([start])
    return found


def point_segment(p: list[int], a: list[int], b: list[int]) -> float:
    # Closest point by sampling the segment finely: slow but obviously right.
    return min(math.dist(p, (a[0] + (b[0] - a[0]) * t / 400, a[1] + (b[1] - a[1]) * t / 400)) for t in range(401))


def test_every_path_is_the_unique_shortest_one_on_a_drawable_connected_graph() -> None:
    for task in tasks():
        md = task.metadata
        nodes, edges, path = md["nodes"], md["edges"], md["solution"]
        radius = md["render"]["node_radius"]
        n = len(nodes)
        d = all_distances(n, edges)
        assert all(math.isfinite(x) for row in d for x in row), f"{md['task_id']}: the graph is not connected"
        for i in range(n):
            for j in range(i + 1, n):
                assert math.dist(nodes[i], nodes[j]) >= 2.5 * radius, f"{md['task_id']}: nodes {i}, {j} too close"
                # Node boxes (the verifier's regions) never overlap.
                assert max(abs(nodes[i][0] - nodes[j][0]), abs(nodes[i][1] - nodes[j][1])) > 2 * radius
            assert radius <= nodes[i][0] < 512 - radius and radius <= nodes[i][1] < 512 - radius
        for i, j in edges:
            assert i < j
            for k in set(range(n)) - {i, j}:
                assert point_segment(nodes[k], nodes[i], nodes[j]) > radius + 4, f"edge {i}-{j} grazes node {k}"
        assert path[0] == md["start"] != md["goal"] == path[-1]
        for a, b in pairwise(path):
            assert sorted([a, b]) in edges
        assert md["num_steps"] == len(path) - 1 == d[md["start"]][md["goal"]] >= 2
        shortest = simple_paths_of_length(n, edges, md["start"], md["goal"], md["num_steps"])
        assert shortest == [path], f"{md['task_id']}: the shortest path is not unique"


def test_difficulty_sets_the_graph_size_and_harder_tasks_take_more_steps() -> None:
    seen: dict[str, list[Any]] = {}
    for task in tasks():
        seen.setdefault(task.metadata["difficulty"], []).append(task.metadata)
    assert set(seen) == {"easy", "medium", "hard"}
    assert {level: {len(md["nodes"]) for md in mds} for level, mds in seen.items()} == {
        "easy": {6},
        "medium": {8},
        "hard": {10},
    }
    steps = {level: min(md["num_steps"] for md in mds) for level, mds in seen.items()}
    assert steps["easy"] >= 2 and steps["medium"] >= 3 and steps["hard"] >= 4


def test_each_solution_keyframe_reads_back_as_its_node() -> None:
    domain = get_domain("graph_path")
    for task in tasks()[:: PER_SEED // 2]:
        verifier = domain.verifier(task.metadata)
        states = verifier.read_states(np.stack(domain.render_solution(task.metadata)))
        assert states == [(node,) for node in task.metadata["solution"]]


def cheat_frames(md: dict[str, Any], route: list[int]) -> list[np.ndarray]:
    return spread_keyframes([to_array(draw_graph(md, node)) for node in route], 48)


def find_task_with_detour() -> tuple[GeneratedTask, int, int]:
    """A task, a start neighbour that is no closer to the goal, and a node not joined to the start."""
    for task in tasks():
        md = task.metadata
        d = all_distances(len(md["nodes"]), md["edges"])
        start, goal = md["start"], md["goal"]
        neighbours = [n for n in range(len(md["nodes"])) if sorted([start, n]) in md["edges"]]
        away = [n for n in neighbours if d[n][goal] >= d[start][goal]]
        apart = [n for n in range(len(md["nodes"])) if n != start and n not in neighbours]
        if away and apart:
            return task, away[0], apart[0]
    raise AssertionError("no task with a detour among the test tasks")


def test_verifier_names_the_jump_the_detour_and_reads_two_tokens_as_nothing() -> None:
    task, away, apart = find_task_with_detour()
    md = task.metadata
    verifier = get_domain("graph_path").verifier(md)

    jump = judge(verifier, np.stack(cheat_frames(md, [md["start"], apart])))
    assert jump.violations == 1 and "not joined by an edge" in jump.reason, jump.reason

    # The detour goes out and back, then follows the right path: two illegal moves, still ending on the goal.
    detour = judge(verifier, np.stack(cheat_frames(md, [md["start"], away, *md["solution"]])))
    assert detour.end_state == 1.0 and not detour.passed
    assert "away from the goal: not a shortest path" in detour.reason, detour.reason

    # Two tokens at once: the start's node pasted into a frame with the token on another node.
    radius = md["render"]["node_radius"]
    two = to_array(draw_graph(md, apart))
    x, y = md["nodes"][md["start"]]
    two[y - radius : y + radius + 1, x - radius : x + radius + 1] = to_array(draw_graph(md, md["start"]))[
        y - radius : y + radius + 1, x - radius : x + radius + 1
    ]
    assert verifier.read_states(two[None]) == [None]


def test_task_verifier_fails_a_detour_video_and_passes_the_oracle_route(tmp_path: Path) -> None:
    task, away, _ = find_task_with_detour()
    md = task.metadata
    videos = {
        "detour": cheat_frames(md, [md["start"], away, *md["solution"]]),
        "oracle": cheat_frames(md, md["solution"]),
    }
    # the verifier reads the metadata only
    scores, details = score_videos(task, videos, tmp_path, without_final_frame=True)
    assert scores[0, TASK_SUCCESS] == 0.0 and "not a shortest path" in details[0]["reason"], details[0]
    assert scores[1, TASK_SUCCESS] == 1.0, details[1]

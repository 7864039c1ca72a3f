"""Graph path: move a green token along the edges of a drawn graph to the red-ringed goal by a shortest route.

The picture is an undirected graph: large circles (the nodes) at random, well-separated positions, joined by
thick straight lines (the edges). The start node holds a filled green disc (the token); the goal node has a thick
red ring instead of the black outline. The token must travel edge by edge to the goal by a shortest path (fewest
edges, all edges weigh the same).

Generation (rejection sampling, all from the task's rng):

- node centres are drawn uniformly in the frame, at least ``MIN_SEPARATION`` radii apart, so no two node boxes
  overlap (each node is one region of the frame reader);
- candidate edges are node pairs no farther apart than ``MAX_EDGE`` whose segment keeps ``CLEARANCE`` pixels
  away from every other node's circle; a random spanning tree of short candidates is taken (so the graph is
  connected), then a few extra edges that cross no other edge add cycles, i.e. decoy routes;
- start and goal are a pair at graph distance >= the difficulty's minimum (and among the farthest pairs) with
  exactly ONE shortest path, so the solution, and each keyframe, is unique. Layouts with no such pair are
  drawn again.

Metadata (besides the common keys):
    nodes        node centres, ``[x, y]`` pixels
    edges        ``[i, j]`` node index pairs, ``i < j``, sorted
    start, goal  node indices
    solution     the unique shortest path as node indices, start first, goal last
    num_steps    edges along it (``len(solution) - 1``, its BFS distance)
    render       node_radius, outline, goal_outline, token_radius, edge_width, colors; and the keys every
                 domain's render block has: grid_origin ([0, 0]: node centres are frame pixels) and cell_size
                 (the side of a node's square box, the region the verifier reads)
"""

from __future__ import annotations

import math
import random
from collections import deque
from collections.abc import Hashable, Sequence
from typing import Any, ClassVar

import numpy as np
from PIL import Image

from vmevalkit.tasks.base import FRAME_SIZE, GeneratedTask, TaskDomain
from vmevalkit.tasks.reading import RegionReader
from vmevalkit.tasks.render import Box, color, new_frame, to_array
from vmevalkit.tasks.verifier import State, StateVerifier

Point = tuple[int, int]

# nodes, extra edges beyond the spanning tree, minimum start-goal distance in edges
LEVELS = {"easy": (6, 2, 2), "medium": (8, 3, 3), "hard": (10, 4, 4)}
RADIUS = 34  # node circle radius in pixels
MARGIN = 16  # free border between a node circle and the frame's edge
MIN_SEPARATION = 2.9  # node centres at least this many radii apart (their boxes never overlap)
MAX_EDGE = 230  # longest edge, centre to centre: edges join near neighbours, as a drawn graph would
CLEARANCE = 12  # an edge stays this many pixels off every circle it does not join
MAX_ATTEMPTS = 500  # layouts tried before giving up (a few are usually enough)
COLORS = {
    "background": [255, 255, 255],
    "edge": [70, 70, 70],
    "node_outline": [0, 0, 0],
    "node_fill": [255, 255, 255],
    "goal": [220, 30, 30],
    "token": [20, 170, 50],
}
PROMPT = (
    "The green token sits on one circle of this graph; the circle with the thick red ring is the goal. Move the "
    "token along the black lines, one circle at a time, to the goal by a shortest route (the fewest lines). "
    "The circles and lines never move."
)


def _segment_distance(p: Point, a: Point, b: Point) -> float:
    """Distance from point ``p`` to the segment ``a``-``b``."""
    ax, ay = a
    dx, dy = b[0] - ax, b[1] - ay
    t = max(0.0, min(1.0, ((p[0] - ax) * dx + (p[1] - ay) * dy) / (dx * dx + dy * dy)))
    return math.hypot(p[0] - ax - t * dx, p[1] - ay - t * dy)


def _cross(o: Point, a: Point, b: Point) -> int:
    return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])


def _segments_cross(a: Point, b: Point, c: Point, d: Point) -> bool:
    """Whether segments ``a``-``b`` and ``c``-``d`` (no shared endpoint, no three centres collinear) cross."""
    return (_cross(a, b, c) > 0) != (_cross(a, b, d) > 0) and (_cross(c, d, a) > 0) != (_cross(c, d, b) > 0)


def _place_nodes(rng: random.Random, count: int) -> list[Point] | None:
    low, high = RADIUS + MARGIN, FRAME_SIZE - 1 - RADIUS - MARGIN
    nodes: list[Point] = []
    for _ in range(count * 60):
        p = (rng.randint(low, high), rng.randint(low, high))
        if all(math.dist(p, q) >= MIN_SEPARATION * RADIUS for q in nodes):
            nodes.append(p)
            if len(nodes) == count:
                return nodes
    return None


def _pick_edges(rng: random.Random, nodes: list[Point], extra: int) -> list[tuple[int, int]] | None:
    """A random connected, crossing-free edge set: a spanning tree of short edges plus ``extra`` more."""
    n = len(nodes)
    candidates = [
        (i, j)
        for i in range(n)
        for j in range(i + 1, n)
        if math.dist(nodes[i], nodes[j]) <= MAX_EDGE
        and all(
            _segment_distance(nodes[k], nodes[i], nodes[j]) >= RADIUS + CLEARANCE for k in range(n) if k not in (i, j)
        )
    ]
    # Shorter edges first, shuffled by a random factor: the tree joins near neighbours in a random way.
    keyed = sorted(candidates, key=lambda e: math.dist(nodes[e[0]], nodes[e[1]]) * rng.uniform(0.7, 1.4))
    chosen: list[tuple[int, int]] = []

    def crosses(e: tuple[int, int]) -> bool:
        return any(
            not set(e) & set(f) and _segments_cross(nodes[e[0]], nodes[e[1]], nodes[f[0]], nodes[f[1]]) for f in chosen
        )

    group = list(range(n))  # union-find over nodes joined so far

    def root(i: int) -> int:
        while group[i] != i:
            i = group[i]
        return i

    rest = []
    for e in keyed:
        a, b = root(e[0]), root(e[1])
        if a != b and not crosses(e):
            group[a] = b
            chosen.append(e)
        else:
            rest.append(e)
    if len(chosen) != n - 1:
        return None  # not connected without crossings: draw another layout
    rng.shuffle(rest)
    for e in rest:
        if extra == 0:
            break
        if not crosses(e):
            chosen.append(e)
            extra -= 1
    return sorted(chosen)


def adjacency(count: int, edges: Sequence[Sequence[int]]) -> list[set[int]]:
    near: list[set[int]] = [set() for _ in range(count)]
    for i, j in edges:
        near[i].add(j)
        near[j].add(i)
    return near


def bfs_distances(near: list[set[int]], source: int) -> list[int]:
    """Edges from ``source`` to every node (-1 where unreachable)."""
    dist = [-1] * len(near)
    dist[source] = 0
    queue = deque([source])
    while queue:
        node = queue.popleft()
        for other in sorted(near[node]):
            if dist[other] < 0:
                dist[other] = dist[node] + 1
                queue.append(other)
    return dist


def _shortest_paths(near: list[set[int]], start: int, goal: int) -> list[list[int]]:
    """Every shortest path from ``start`` to ``goal`` (graphs here are small: at most a handful)."""
    to_goal = bfs_distances(near, goal)
    paths = [[start]]
    for _ in range(to_goal[start]):
        paths = [p + [n] for p in paths for n in sorted(near[p[-1]]) if to_goal[n] == to_goal[p[-1]] - 1]
    return paths


def make_graph(
    rng: random.Random, count: int, extra: int, min_distance: int
) -> tuple[list[Point], list[tuple[int, int]], list[int]]:
    """``(nodes, edges, path)``: a drawable connected graph and its unique shortest start-to-goal path."""
    for _ in range(MAX_ATTEMPTS):
        nodes = _place_nodes(rng, count)
        if nodes is None:
            continue
        edges = _pick_edges(rng, nodes, extra)
        if edges is None:
            continue
        near = adjacency(count, edges)
        far = [(d, s, g) for s in range(count) for g, d in enumerate(bfs_distances(near, s)) if d >= min_distance]
        if not far:
            continue
        longest = max(d for d, _, _ in far)
        # Among the farthest pairs (and one edge short of them), those with a single shortest path.
        pairs = [(s, g) for d, s, g in far if d >= longest - 1 and len(_shortest_paths(near, s, g)) == 1]
        if pairs:
            start, goal = rng.choice(pairs)
            return nodes, edges, _shortest_paths(near, start, goal)[0]
    raise RuntimeError(f"no {count}-node graph with a unique shortest path in {MAX_ATTEMPTS} layouts")


def node_box(center: Sequence[int], radius: int) -> Box:
    x, y = center
    return x - radius, y - radius, x + radius, y + radius


def draw_graph(metadata: dict[str, Any], token: int) -> Image.Image:
    """The graph with the goal ring and the token on node ``token``."""
    spec = metadata["render"]
    colors = {k: color(v) for k, v in spec["colors"].items()}
    radius = spec["node_radius"]
    nodes = metadata["nodes"]
    image, draw = new_frame(colors["background"])
    # Edges centre to centre, then the circles on top: each line shows from border to border.
    for i, j in metadata["edges"]:
        draw.line((*nodes[i], *nodes[j]), fill=colors["edge"], width=spec["edge_width"])
    for index, center in enumerate(nodes):
        goal = index == metadata["goal"]
        draw.ellipse(
            node_box(center, radius),
            fill=colors["node_fill"],
            outline=colors["goal"] if goal else colors["node_outline"],
            width=spec["goal_outline"] if goal else spec["outline"],
        )
    draw.ellipse(node_box(nodes[token], spec["token_radius"]), fill=colors["token"])
    return image


class GraphPathVerifier(StateVerifier):
    """The token must reach the goal by a shortest path: each move goes along an edge, one edge closer to the goal.

    The state is the token's node; a frame with no token or with two shows no state.
    """

    domain: ClassVar[str] = "graph_path"
    puzzle: ClassVar[str] = "graph"

    def __init__(self, metadata: dict[str, Any]) -> None:
        self.near = adjacency(len(metadata["nodes"]), metadata["edges"])
        self.to_goal = bfs_distances(self.near, metadata["goal"])
        super().__init__(metadata)

    def build_reader(self) -> RegionReader:
        radius = self.metadata["render"]["node_radius"]
        boxes = [node_box(center, radius) for center in self.metadata["nodes"]]
        count = len(boxes)
        # The token on each node in turn: every node is seen with the token once and empty in the other renders.
        renders = [
            (to_array(draw_graph(self.metadata, token)), ["token" if i == token else "empty" for i in range(count)])
            for token in range(count)
        ]
        return RegionReader(boxes, renders)

    def initial_state(self) -> State:
        return (self.metadata["start"],)

    def solved_state(self) -> State:
        return (self.metadata["goal"],)

    def state(self, labels: Sequence[Hashable | None]) -> State | None:
        tokens = [index for index, label in enumerate(labels) if label == "token"]
        return (tokens[0],) if len(tokens) == 1 else None

    def _where(self, node: int) -> str:
        x, y = self.metadata["nodes"][node]
        return f"node {node} (at x={x}, y={y})"

    def move_error(self, before: State, after: State) -> str | None:
        (a,), (b,) = before, after
        if b not in self.near[a]:
            return f"the token jumps from {self._where(a)} to {self._where(b)}, which are not joined by an edge"
        if self.to_goal[b] != self.to_goal[a] - 1:
            return (
                f"the token moves from {self._where(a)} to {self._where(b)}, away from the goal: not a shortest path "
                f"({self.to_goal[b]} edges from the goal instead of {self.to_goal[a] - 1})"
            )
        return None

    def end_error(self, state: State) -> str:
        (node,) = state
        return f"the token ends on {self._where(node)}, {self.to_goal[node]} edge(s) from the goal"


class GraphPathDomain(TaskDomain):
    name: ClassVar[str] = "graph_path"
    description: ClassVar[str] = (
        "Move a green token along the edges of a drawn graph to the red-ringed goal node by the unique shortest path."
    )
    category: ClassVar[str] = "spatial_planning"
    rubric: ClassVar[str] = (
        "The puzzle: a graph drawn on white: black-outlined circles (nodes) joined by thick grey lines (edges), a "
        "green disc (the token) inside the start circle and a circle with a thick red ring (the goal). A correct "
        "solution: the token moves along the lines from circle to circle, one edge per move, and reaches the red "
        "ring by a shortest route (the fewest edges; it is unique). Illegal: the token jumps between circles not "
        "joined by a line, skips circles, takes a detour or steps away from the goal; circles or lines move, "
        "appear or disappear; a second token appears."
    )
    verifier_class: ClassVar[type[StateVerifier]] = GraphPathVerifier

    def generate_one(self, rng: random.Random, task_id: str, seed: int, difficulty: str) -> GeneratedTask:
        count, extra, min_distance = LEVELS[difficulty]
        nodes, edges, path = make_graph(rng, count, extra, min_distance)
        metadata: dict[str, Any] = {
            "domain": self.name,
            "category": self.category,
            "task_id": task_id,
            "seed": seed,
            "difficulty": difficulty,
            "nodes": [list(p) for p in nodes],
            "edges": [list(e) for e in edges],
            "start": path[0],
            "goal": path[-1],
            "solution": path,
            "num_steps": len(path) - 1,
            "render": {
                "grid_origin": [0, 0],  # node centres are frame pixels
                "cell_size": 2 * RADIUS + 1,  # a node's box side
                "node_radius": RADIUS,
                "outline": 5,
                "goal_outline": 10,
                "token_radius": 20,
                "edge_width": 7,
                "colors": {k: list(v) for k, v in COLORS.items()},
            },
        }
        return GeneratedTask(
            task_id=task_id,
            domain=self.name,
            prompt=PROMPT,
            first_frame=draw_graph(metadata, path[0]),
            final_frame=draw_graph(metadata, path[-1]),
            metadata=metadata,
        )

    def render_solution(self, metadata: dict[str, Any]) -> list[np.ndarray]:
        return [to_array(draw_graph(metadata, node)) for node in metadata["solution"]]

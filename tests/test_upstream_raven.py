"""task-verifier scores imported upstream VMEvalKit Raven matrices (issue 14, point 2), never NaN for a good task.

The fixtures follow upstream's format: the metadata as hokindeng/VMEvalKit's ``raven_reasoning.py`` writes it
(``raven_data`` holds a rule's name and a seed, no panels and no answer), kept verbatim by the importer with
``domain`` and ``source_format`` set; the pictures drawn the way its ``rpm_generator.py`` draws them: 450x450
RGB, nine 150-pixel tiles each outlined by a one-pixel black rectangle, black outline shapes (a cross of two
3-pixel lines, a diamond of 2-pixel edges) centred in a tile or at its left and right, and a small grey "?" in
the first frame's empty bottom-right tile. Videos are real mp4 files, scored through ``TaskVerifier``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageDraw
from test_upstream_verifiers import imported, score, write_imported_task

from vmevalkit.models.baselines import OracleSolutionService
from vmevalkit.scoring.verifiers import load_verifier
from vmevalkit.tasks import get_domain
from vmevalkit.tasks.loader import load_tasks
from vmevalkit.tasks.upstream.raven import UpstreamRavenVerifier
from vmevalkit.video import read_frames, write_video

TILE = 150
# Where upstream puts a shape in its tile: the box it is drawn in.
PLACES = {
    "center": (TILE // 4, TILE // 4, 3 * TILE // 4, 3 * TILE // 4),
    "left": (TILE // 8, TILE // 4, 3 * TILE // 8, 3 * TILE // 4),
    "right": (5 * TILE // 8, TILE // 4, 7 * TILE // 8, 3 * TILE // 4),
}
Panel = list[tuple[str, str]]  # (shape, place) pairs
PAIR = [("cross", "left"), ("cross", "right")]
# Upstream's "Combination pattern" (its paper/.../raven_task example): crosses in the corners, diamonds between.
MATRIX: list[Panel] = [
    PAIR,
    [("diamond", "center")],
    PAIR,
    [("diamond", "center")],
    [("cross", "center")],
    [("diamond", "center")],
    PAIR,
    [("diamond", "center")],
    PAIR,  # the answer
]
HOLD = 3  # frames each state is shown


def draw_shape(draw: ImageDraw.ImageDraw, shape: str, place: str, dx: int, dy: int) -> None:
    x0, y0, x1, y1 = PLACES[place]
    cx, cy = dx + (x0 + x1) // 2, dy + (y0 + y1) // 2
    r = min(x1 - x0, y1 - y0) // 3
    if shape == "cross":
        draw.line((cx, cy - r, cx, cy + r), fill="black", width=3)
        draw.line((cx - r, cy, cx + r, cy), fill="black", width=3)
    elif shape == "diamond":
        draw.polygon([(cx, cy - r), (cx - r, cy), (cx, cy + r), (cx + r, cy)], outline="black", width=2)
    else:
        raise ValueError(shape)


def draw_upstream_raven(panels: list[Panel], question: bool = False, lines: bool = True) -> Image.Image:
    """The matrix as upstream's render_matrix draws it; ``question``: a grey "?" in the bottom-right tile."""
    image = Image.new("RGB", (3 * TILE, 3 * TILE), "white")
    draw = ImageDraw.Draw(image)
    for index, panel in enumerate(panels):
        dy, dx = (TILE * k for k in divmod(index, 3))
        for shape, place in panel:
            draw_shape(draw, shape, place, dx, dy)
        if lines:
            draw.rectangle((dx, dy, dx + TILE - 1, dy + TILE - 1), outline="black", width=1)
    if question:
        draw.text((2 * TILE + TILE // 2 - 10, 2 * TILE + TILE // 2 - 10), "?", fill="gray")
    return image


def matrix(answer: Panel, question: bool = False, changed: dict[int, Panel] | None = None) -> np.ndarray:
    """A frame: the given panels (``changed`` ones replaced) and ``answer`` in the bottom-right tile."""
    panels = [(changed or {}).get(i, panel) for i, panel in enumerate(MATRIX[:8])] + [answer]
    return imported(draw_upstream_raven(panels, question))


FIRST = matrix([], question=True)
FINAL = matrix(PAIR)


def raven_metadata() -> dict[str, Any]:
    return {  # upstream's RavenTaskPair, as raven_reasoning.py's create_dataset writes it
        "id": "raven_0014",
        "prompt": "This is Raven's Progressive Matrices like task. Complete the missing pattern in this 3x3 matrix.",
        "first_image_path": "raven_task/raven_0014/first_frame.png",
        "final_image_path": "raven_task/raven_0014/final_frame.png",
        "domain": "raven",
        "task_category": "AbstractReasoning",
        "difficulty": "hard",
        "raven_data": {"rule": "Combination pattern", "rule_type": "combination", "matrix_size": "3x3", "seed": 2039},
        "created_at": "2025-10-15T22:14:40.537472Z",
    }


def write_task(root: Path, first: Image.Image, final: Image.Image, task_id: str = "raven_0014") -> Path:
    return write_imported_task(root, "raven", task_id, raven_metadata(), first, final)


@pytest.fixture
def raven_task(tmp_path: Path) -> Path:
    return write_task(tmp_path, draw_upstream_raven(MATRIX[:8] + [[]], question=True), draw_upstream_raven(MATRIX))


def oracle() -> list[np.ndarray]:
    """The answer drawn one cross at a time; the "?" goes with the first."""
    return [FIRST] * HOLD + [matrix(PAIR[:1])] * HOLD + [FINAL] * HOLD


def test_the_grid_the_givens_and_the_answers_shapes_are_found(raven_task: Path) -> None:
    verifier = load_verifier(raven_task, "raven")
    assert isinstance(verifier, UpstreamRavenVerifier)
    grid = verifier.grid
    assert (round(grid.left), round(grid.top), round(grid.pitch_x), round(grid.pitch_y)) == (0, 0, 150, 150)
    # Two crosses in the answer tile (300..449), each 25 pixels across around x = 337 and 412, y = 375.
    assert len(verifier.shape_boxes) == 2
    (l0, t0, l1, b0), (r0, t1, r1, b1) = verifier.shape_boxes
    assert l0 < 325 and 349 < l1 < r0 and 424 < r1 and t0 == t1 < 363 and b0 == b1 > 387
    assert verifier.read_states(np.stack([FIRST, matrix(PAIR[:1]), FINAL])) == [
        ("given",) * 8 + ("blank", "blank", "clean"),
        ("given",) * 8 + ("drawn", "blank", "clean"),
        ("given",) * 8 + ("drawn", "drawn", "clean"),
    ]


def test_oracle_passes_while_static_jump_cut_wrong_answer_and_changed_given_fail(
    raven_task: Path, tmp_path: Path
) -> None:
    diamonds = [("diamond", "left"), ("diamond", "right")]
    videos = {
        "oracle": oracle(),
        "static": [FIRST] * 9,
        "jump": [FIRST] * 4 + [FINAL] * 5,
        # Two diamonds where the crosses belong, drawn one at a time: a legal process, a wrong answer.
        "wrong": [FIRST] * HOLD + [matrix(diamonds[:1])] * HOLD + [matrix(diamonds)] * HOLD,
        # The right crosses and a diamond between them: the panel holds more than the answer.
        "extra": [*oracle(), *[matrix([*PAIR, ("diamond", "center")])] * HOLD],
        # The centre panel's cross is erased, then the answer is drawn right.
        "erased": [FIRST] * HOLD
        + [matrix(answer, changed={4: []}) for answer in ([], PAIR[:1], PAIR) for _ in range(HOLD)],
        # The centre panel's cross turns into a diamond and stays so while the answer is drawn right.
        "redrawn": [FIRST] * HOLD + [matrix(PAIR, changed={4: [("diamond", "center")]})] * HOLD,
    }
    results = score(raven_task, "raven", videos, tmp_path)
    o, o_details = results["oracle"]
    assert o.tolist() == [1.0, 1.0, 1.0], o_details["reason"]
    assert o_details["moves"] == 2
    s, s_details = results["static"]
    assert s.tolist() == [0.0, 0.0, 1.0]
    assert (
        s_details["reason"]
        == "the answer panel ends with 2 of its 2 shapes not drawn (the answer is the task's final frame)"
    )
    j, j_details = results["jump"]
    assert j.tolist() == [0.0, 1.0, 0.0]
    assert "2 parts of the answer panel change at once" in j_details["reason"]
    # A wrong shape in the answer panel leaves it unreadable (see the module's docstring): the end is not solved.
    for name in ("wrong", "extra", "redrawn"):
        scores, details = results[name]
        assert scores.tolist()[:2] == [0.0, 0.0], (name, details)
        assert details["reason"] == "the last frame shows no matrix", name
    assert results["wrong"][1]["violations"] == 0  # drawing a wrong shape is a legal move, as in our raven
    r, r_details = results["erased"]
    assert r.tolist()[:2] == [0.0, 0.0] and r[2] == pytest.approx(2 / 3)  # erased; two shapes drawn legally
    assert r_details["reason"].startswith(
        "frame 3: the given panel in row 2, column 2 is erased; the given panels must stay as they are"
    )
    assert "the given panel in row 2, column 2 ends changed" in r_details["reason"]


def test_oracle_still_passes_after_a_crf_35_reencode(raven_task: Path, tmp_path: Path) -> None:
    write_video(oracle(), tmp_path / "first.mp4")
    reencoded = list(read_frames(tmp_path / "first.mp4"))
    scores, details = score(raven_task, "raven", {"crf35": reencoded}, tmp_path, crf=35)["crf35"]
    assert scores.tolist() == [1.0, 1.0, 1.0], details["reason"]
    assert details["moves"] == 2


def test_oracle_solution_draws_the_answers_shapes_one_at_a_time_from_the_task_pictures(
    raven_task: Path, tmp_path: Path
) -> None:
    """With no ground_truth.mp4, oracle-solution plays the verifier's keyframes (the "?" gone with the first cross,
    then the second) rather than cross-fading, which the verifier would read as both crosses at once."""
    (task,) = load_tasks(tmp_path / "questions").tasks
    assert task.path == raven_task
    frames, method = OracleSolutionService("oracle-solution").render(task, duration=2.0)
    assert method == "task_pictures"
    assert np.array_equal(frames[0], np.asarray(Image.open(task.first_frame).convert("RGB")))
    verifier = load_verifier(raven_task, "raven")
    assert isinstance(verifier, UpstreamRavenVerifier)
    keyframes = verifier.solution_keyframes()
    assert verifier.read_states(np.stack(keyframes)) == [
        ("given",) * 8 + ("blank", "blank", "clean"),
        ("given",) * 8 + ("drawn", "blank", "clean"),
        ("given",) * 8 + ("drawn", "drawn", "clean"),
    ]
    x0, y0, x1, y1 = verifier.panel_box
    panels = [frame[y0 : y1 + 1, x0 : x1 + 1].astype(np.int16) for frame in (*keyframes, verifier.final)]
    ink = [np.abs(panel - verifier.paper.astype(np.int16)).max(axis=-1) > 0 for panel in panels]
    question = ink[0] & ~ink[-1]  # the "?": what the first frame's panel shows and the final frame's does not
    assert question.any() and not ink[1][question].any()  # gone with the first cross
    assert np.array_equal(panels[-2], panels[-1])  # the last keyframe's panel is the final frame's
    scores, details = score(raven_task, "raven", {"oracle": frames}, tmp_path)["oracle"]
    assert scores.tolist() == [1.0, 1.0, 1.0], details["reason"]
    assert details["moves"] == len(verifier.shape_boxes) == 2


def test_a_one_shape_answer_cannot_tell_a_jump_cut_from_drawing_it(tmp_path: Path) -> None:
    """The documented limitation: one shape is one step, so the cut to the final frame is that step."""
    start = draw_upstream_raven([*MATRIX[:8], []], question=True)
    end = draw_upstream_raven([*MATRIX[:8], [("diamond", "center")]])
    task = write_task(tmp_path, start, end)
    scores, details = score(task, "raven", {"jump": [imported(start)] * 4 + [imported(end)] * 4}, tmp_path)["jump"]
    assert scores.tolist() == [1.0, 1.0, 1.0], details["reason"]
    assert details["moves"] == 1


def test_a_picture_without_a_grid_is_not_scored_and_says_why(tmp_path: Path) -> None:
    task = write_task(
        tmp_path,
        draw_upstream_raven([*MATRIX[:8], []], question=True, lines=False),
        draw_upstream_raven(MATRIX, lines=False),
    )
    scores, details = score(task, "raven", {"oracle": oracle()}, tmp_path)["oracle"]
    assert np.isnan(scores).all()
    assert "the first frame shows no 3x3 Raven matrix" in details["reason"]
    assert "re-import the task with 'vmevalkit tasks import'" in details["reason"]


def test_a_final_frame_with_an_empty_answer_panel_is_not_scored(tmp_path: Path) -> None:
    task = write_task(
        tmp_path, draw_upstream_raven([*MATRIX[:8], []], question=True), draw_upstream_raven([*MATRIX[:8], []])
    )
    scores, details = score(task, "raven", {"oracle": oracle()}, tmp_path)["oracle"]
    assert np.isnan(scores).all()
    assert "the final_frame.png's bottom-right panel shows no shape" in details["reason"]


def test_dispatch_keeps_our_own_ravens_and_asks_for_the_folder_for_upstream() -> None:
    domain = get_domain("raven")
    ours = next(domain.generate(1, seed=3))
    assert type(domain.verifier(ours.metadata)).__name__ == "RavenVerifier"
    with pytest.raises(ValueError, match="give the task folder"):
        domain.verifier(raven_metadata())

"""Mental rotation: turn a polyomino clockwise, 45 degrees at a time, until it matches a reference drawing.

A polyomino of 5 to 7 cells is grown at random from one cell (each new cell touches one already taken) and
kept only when it is *chiral and asymmetric*: no quarter turn maps it onto itself, and its mirror image is not
one of its rotations. Both matter: a symmetric shape would show the same picture at two angles (two states
that cannot be told apart), and an achiral one could be "solved" by a reflection instead of a rotation.

The shape is drawn large in the work area at a random start angle (a multiple of 45 degrees); a small copy at
the target angle sits in a static panel in the top-left corner. The task turns the shape clockwise about the
centre of its bounding box by 90 (easy), 180 (medium) or 270 degrees (hard): 2, 4 or 6 steps of 45 degrees.
Always clockwise, even where counter-clockwise would be shorter: the prompt says so, and going the other way
is an illegal move (the state is the angle; turning back is a different move from turning on).

Cells are drawn as rotated squares with PIL's aliased polygon fill, so every frame is the same from run to run.

Metadata (besides the common keys):
    cells         the shape's cells at angle 0, ``[row, col]``, normalised to start at row 0 and column 0
    start_angle   the first frame's angle in degrees, clockwise from the cells' own orientation
    target_angle  the angle of the reference drawing, ``start_angle + 45 * num_steps`` (mod 360)
    step_degrees  45
    direction     "clockwise"
    solution      the angles shown, start first, target last
    num_steps     45-degree turns (2, 4 or 6)
    render        work_area (the one region read, a box that excludes the panel), grid_origin (its top-left
                  corner), center (the rotation centre in pixels), cell_size (in the work area), panel (the
                  reference box), panel_center, panel_cell_size, outline, colors
"""

from __future__ import annotations

import math
import random
from collections.abc import Hashable, Sequence
from typing import Any, ClassVar

import numpy as np
from PIL import Image, ImageDraw

from vmevalkit.tasks.base import GeneratedTask, TaskDomain
from vmevalkit.tasks.reading import RegionReader
from vmevalkit.tasks.render import Box, color, draw_centered_text, new_frame, to_array
from vmevalkit.tasks.verifier import NotVerifiable, State, StateVerifier

Cell = tuple[int, int]

STEP = 45
ANGLES = tuple(range(0, 360, STEP))
TURNS = {"easy": 2, "medium": 4, "hard": 6}  # 45-degree steps: 90, 180, 270 degrees
CELLS = {"easy": 5, "medium": 6, "hard": 7}  # bigger shapes are harder to hold in mind
WORK_AREA: Box = (8, 152, 503, 503)  # the region read: everything below the panel row
CENTER = (256, 328)  # rotation centre, the middle of the work area
WORK_RADIUS = 168  # the rotated shape stays within this distance of CENTER (the work area is 352 px high)
PANEL: Box = (8, 8, 143, 143)  # reference drawing: above the work area, never read
PANEL_CENTER = (76, 76)
PANEL_RADIUS = 60
MAX_CELL = 72
SHAPE_COLORS = ([30, 90, 200], [210, 60, 40], [30, 150, 70], [150, 60, 170], [220, 130, 20], [20, 140, 150])
COLORS: dict[str, list[int]] = {
    "background": [255, 255, 255],
    "work_area": [236, 236, 236],
    "panel": [255, 250, 215],
    "frame": [40, 40, 40],
    "text": [40, 40, 40],
}


def normalise(cells: Sequence[Cell]) -> tuple[Cell, ...]:
    """The cells moved to start at row 0 and column 0, sorted: two shapes are equal when these are."""
    r0, c0 = min(r for r, _ in cells), min(c for _, c in cells)
    return tuple(sorted((r - r0, c - c0) for r, c in cells))


def quarter_turn(cells: Sequence[Cell]) -> tuple[Cell, ...]:
    """The shape turned 90 degrees clockwise on screen: (row, col) -> (col, -row)."""
    return normalise([(c, -r) for r, c in cells])


def is_chiral_and_asymmetric(cells: Sequence[Cell]) -> bool:
    """No quarter, half or three-quarter turn gives the shape back, nor does a mirror and any turn."""
    shape = normalise(cells)
    turns = [shape]
    for _ in range(3):
        turns.append(quarter_turn(turns[-1]))
    mirror = normalise([(r, -c) for r, c in shape])
    return shape not in turns[1:] and mirror not in turns


def grow_polyomino(rng: random.Random, size: int) -> tuple[Cell, ...]:
    """A random chiral, asymmetric polyomino of ``size`` cells (redrawn until it is one)."""
    while True:
        cells = [(0, 0)]
        while len(cells) < size:
            r, c = rng.choice(cells)
            dr, dc = rng.choice(((-1, 0), (1, 0), (0, -1), (0, 1)))
            if (r + dr, c + dc) not in cells:
                cells.append((r + dr, c + dc))
        if is_chiral_and_asymmetric(cells):
            return normalise(cells)


def corners(cells: Sequence[Sequence[int]], inset: float = 0.0) -> list[list[tuple[float, float]]]:
    """Each cell's four corners in cell units, relative to the centre of the shape's bounding box.

    ``inset`` (in cell units) shrinks every square towards its middle: the fill drawn over the outline colour.
    """
    rows = max(r for r, _ in cells) + 1
    cols = max(c for _, c in cells) + 1
    near, far = inset, 1 - inset
    return [
        [(c + dx - cols / 2, r + dy - rows / 2) for dx, dy in ((near, near), (far, near), (far, far), (near, far))]
        for r, c in cells
    ]


def radius(cells: Sequence[Sequence[int]]) -> float:
    """The farthest corner from the rotation centre, in cell units: what must fit in the work area."""
    return max(math.hypot(x, y) for square in corners(cells) for x, y in square)


def draw_shape(
    draw: ImageDraw.ImageDraw,
    cells: Sequence[Sequence[int]],
    angle: int,
    center: Sequence[int],
    cell_size: int,
    fill: tuple[int, int, int],
    outline: tuple[int, int, int],
    width: int,
) -> None:
    """The shape turned ``angle`` degrees clockwise (on screen, y down) about ``center``, aliased.

    Each cell is its square in the outline colour with a smaller square of the fill on top (PIL's wide polygon
    outlines draw through a mask image per polygon: ten times slower).
    """
    theta = math.radians(angle)
    cos, sin = math.cos(theta), math.sin(theta)
    for inset, paint in ((0.0, outline), (width / cell_size, fill)):
        for square in corners(cells, inset):
            points = [
                (
                    round(center[0] + (x * cos - y * sin) * cell_size),
                    round(center[1] + (x * sin + y * cos) * cell_size),
                )
                for x, y in square
            ]
            draw.polygon(points, fill=paint)


def draw_rotation(metadata: dict[str, Any], angle: int) -> Image.Image:
    """The frame with the work-area shape at ``angle`` and the static reference at the target angle."""
    spec = metadata["render"]
    colors = {k: color(v) for k, v in spec["colors"].items()}
    image, draw = new_frame(colors["background"])
    draw.rectangle(spec["work_area"], fill=colors["work_area"])
    draw.rectangle(spec["panel"], fill=colors["panel"], outline=colors["frame"], width=4)
    # A static hint beside the panel: which way to turn.
    draw_centered_text(draw, (330, 60), "turn clockwise", 36, colors["text"])
    draw_centered_text(draw, (330, 110), "to match", 36, colors["text"])
    cells = metadata["cells"]
    draw_shape(
        draw,
        cells,
        metadata["target_angle"],
        spec["panel_center"],
        spec["panel_cell_size"],
        colors["shape"],
        colors["frame"],
        2,
    )
    draw_shape(draw, cells, angle, spec["center"], spec["cell_size"], colors["shape"], colors["frame"], spec["outline"])
    return image


def turned(before: int, after: int) -> int:
    """Degrees turned clockwise from ``before`` to ``after``, in [0, 360)."""
    return (after - before) % 360


class RotationVerifier(StateVerifier):
    """The shape's angle is read from the work area; it turns clockwise by exactly 45 degrees per move."""

    domain: ClassVar[str] = "rotation"
    puzzle: ClassVar[str] = "shape"

    def build_reader(self) -> RegionReader:
        renders = [(to_array(draw_rotation(self.metadata, angle)), [angle]) for angle in ANGLES]
        return RegionReader([tuple(self.metadata["render"]["work_area"])], renders)

    def initial_state(self) -> State:
        return (int(self.metadata["start_angle"]),)

    def solved_state(self) -> State:
        return (int(self.metadata["target_angle"]),)

    def state(self, labels: Sequence[Hashable | None]) -> State | None:
        return (labels[0],)

    def move_error(self, before: State, after: State) -> str | None:
        turn = turned(before[0], after[0])
        if turn == STEP:
            return None
        if turn == 360 - STEP:
            return f"the shape turns counter-clockwise from {before[0]} to {after[0]} degrees; it must turn clockwise"
        return (
            f"the shape rotates by {turn} degrees at once (from {before[0]} to {after[0]} degrees clockwise); "
            f"it turns {STEP} degrees per step"
        )

    def end_error(self, state: State) -> str:
        return f"the shape ends at {state[0]} degrees, not at the reference's {self.solved[0]} degrees"


class RotationDomain(TaskDomain):
    name: ClassVar[str] = "rotation"
    description: ClassVar[str] = (
        "Turn a polyomino clockwise in 45-degree steps until it matches the reference drawing in the corner."
    )
    category: ClassVar[str] = "geometry"
    rubric: ClassVar[str] = (
        "The puzzle: a large coloured shape made of square cells on a grey work area, and a small copy of the "
        "same shape in a yellow panel in the top-left corner showing the target orientation. A correct solution: "
        "the large shape turns clockwise about its centre, 45 degrees at a time, and stops when it has exactly "
        "the orientation of the small copy. Illegal: turning counter-clockwise, turning more than 45 degrees at "
        "once, flipping (mirroring) the shape, changing its cells, colour, size or position, or changing the "
        "reference panel."
    )
    verifier_class: ClassVar[type[StateVerifier]] = RotationVerifier

    def verifier(self, metadata: dict[str, Any]) -> StateVerifier:
        """Ours from the metadata; upstream VMEvalKit's rotation has none (see ``NotVerifiable``'s message)."""
        if "rotation_data" in metadata and "cells" not in metadata:
            # Upstream orbits a camera round a 3D voxel snake drawn by matplotlib; the task keeps the two views'
            # angles but not the voxels (hokindeng/VMEvalKit rotation_task/rotation_reasoning.py), so no view
            # between the first and final frame can be drawn or read.
            raise NotVerifiable(
                "an upstream rotation task (a camera orbiting a 3D voxel sculpture) is not our rotation (a 2D "
                "shape turned in 45-degree steps): its metadata keeps the two views' angles but no voxels, so no "
                "view between them can be read; score it with frame-match or trajectory-match (with the task's "
                "ground_truth.mp4)"
            )
        return super().verifier(metadata)

    def generate_one(self, rng: random.Random, task_id: str, seed: int, difficulty: str) -> GeneratedTask:
        cells = grow_polyomino(rng, CELLS[difficulty])
        steps = TURNS[difficulty]
        start = rng.choice(ANGLES)
        shape_color = rng.choice(SHAPE_COLORS)
        solution = [(start + STEP * i) % 360 for i in range(steps + 1)]
        reach = radius(cells)
        cell_size = min(MAX_CELL, int(WORK_RADIUS / reach))
        metadata: dict[str, Any] = {
            "domain": self.name,
            "category": self.category,
            "task_id": task_id,
            "seed": seed,
            "difficulty": difficulty,
            "cells": [list(cell) for cell in cells],
            "start_angle": start,
            "target_angle": solution[-1],
            "step_degrees": STEP,
            "direction": "clockwise",
            "solution": solution,
            "num_steps": steps,
            "render": {
                "work_area": list(WORK_AREA),
                "grid_origin": list(WORK_AREA[:2]),
                "center": list(CENTER),
                "cell_size": cell_size,
                "outline": max(2, cell_size // 16),
                "panel": list(PANEL),
                "panel_center": list(PANEL_CENTER),
                "panel_cell_size": int(PANEL_RADIUS / reach),
                "colors": {**COLORS, "shape": list(shape_color)},
            },
        }
        prompt = (
            "Rotate the large shape clockwise about its centre, 45 degrees at a time, until it has the same "
            "orientation as the small reference drawing in the top-left panel. Turn it clockwise only, even where the "
            "other way would be shorter, and do not flip the shape or move it."
        )
        return GeneratedTask(
            task_id=task_id,
            domain=self.name,
            prompt=prompt,
            first_frame=draw_rotation(metadata, start),
            final_frame=draw_rotation(metadata, solution[-1]),
            metadata=metadata,
        )

    def render_solution(self, metadata: dict[str, Any]) -> list[np.ndarray]:
        return [to_array(draw_rotation(metadata, angle)) for angle in metadata["solution"]]

"""Raven: complete a 3x3 matrix of panels whose rows follow rules on count, shape and colour.

Each panel holds ``count`` (1..4) copies of one coloured shape, placed in the panel's 2x2 sub-slots in reading
order (top-left, top-right, bottom-left, bottom-right). Every row obeys three rules, one per attribute:

- count:  ``constant`` (each row its own count) or ``progression`` (+1 per column, from 1 or 2);
- shape:  ``constant`` (each row its own shape) or ``distribution`` (three shapes, each once per row and column);
- colour: ``constant`` (each row its own colour) or ``progression`` (the same three colours, column by column,
  in every row).

The difficulty is the number of attributes that vary within a row (easy 1, medium 2, hard 3); the others are
constant. Counts are drawn so that the answer panel holds 2..4 shapes. The bottom-right panel starts as an empty
frame; the solution draws the answer's shapes into it one per step, sub-slot by sub-slot in reading order.
Drawing a wrong shape is a legal move (only the end state is judged right or wrong); changing a given panel,
drawing two shapes at once, skipping a sub-slot or changing a drawn shape is not.

Metadata (besides the common keys):
    rules        ``{"count": ..., "shape": ..., "colour": ...}`` as above
    panels       3 rows of 3 ``[count, colour, shape]``; the bottom-right one is the answer
    answer       ``[count, colour, shape]`` of the bottom-right panel
    solution     the fills, each ``[sub_slot, symbol]`` with sub-slot 0..3 and a symbol like ``"red circle"``
    num_steps    ``len(solution)``, the answer's count
    render       grid_origin, cell_size (a panel), border, pad, shape_inset, shapes, palette, colors
"""

from __future__ import annotations

import random
from collections.abc import Hashable, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from PIL import Image

from vmevalkit.tasks.base import GeneratedTask, TaskDomain
from vmevalkit.tasks.reading import RegionReader
from vmevalkit.tasks.render import Box, color, grid_layout, line_span, new_frame, to_array
from vmevalkit.tasks.shapes import EMPTY, PALETTE, SHAPES, all_symbols, draw_symbol, symbol
from vmevalkit.tasks.upstream import raven as upstream
from vmevalkit.tasks.verifier import State, StateVerifier

VARYING = {"easy": 1, "medium": 2, "hard": 3}  # attributes whose rule is not "constant"
ATTRIBUTES = ("count", "shape", "colour")
VARIED_RULE = {"count": "progression", "shape": "distribution", "colour": "progression"}
SUB_SLOTS = 4  # 2x2 per panel
SUB_NAMES = ("top-left", "top-right", "bottom-left", "bottom-right")
ANSWER_PANEL = 8  # row-major index of the bottom-right panel
COLORS = {"background": [255, 255, 255], "frame": [0, 0, 0]}
MARGIN = 16  # frame border around the matrix: a small one leaves the shapes bigger
PROMPT = (
    "This 3x3 matrix of panels follows rules along each row: the number of shapes, their shape and their colour. "
    "The bottom-right panel is empty. Complete it by drawing the missing shapes one at a time, filling its "
    "places in reading order (top-left, top-right, bottom-left, bottom-right), and leave the other panels unchanged."
)

Panel = list[Any]  # [count, colour, shape]


def make_matrix(rng: random.Random, difficulty: str) -> tuple[dict[str, str], list[list[Panel]]]:
    """The rules and the nine panels (bottom-right included) of one matrix."""
    varied = set(rng.sample(ATTRIBUTES, VARYING[difficulty]))
    rules = {a: VARIED_RULE[a] if a in varied else "constant" for a in ATTRIBUTES}

    if rules["count"] == "progression":
        counts = [[start + c for c in range(3)] for start in (rng.choice((1, 2)) for _ in range(3))]
    else:  # the bottom row's count is the answer's: at least 2, so the answer takes at least two steps
        counts = [[k] * 3 for k in (rng.randint(1, 4), rng.randint(1, 4), rng.randint(2, 4))]

    shapes = rng.sample(SHAPES, 3)
    if rules["shape"] == "distribution":
        shifts = rng.sample(range(3), 3)
        shape_grid = [[shapes[(c + shifts[r]) % 3] for c in range(3)] for r in range(3)]
    else:
        shape_grid = [[shapes[r]] * 3 for r in range(3)]

    colours = rng.sample(sorted(PALETTE), 3)
    if rules["colour"] == "progression":
        colour_grid = [list(colours) for _ in range(3)]
    else:
        colour_grid = [[colours[r]] * 3 for r in range(3)]

    panels = [[[counts[r][c], colour_grid[r][c], shape_grid[r][c]] for c in range(3)] for r in range(3)]
    return rules, panels


def panel_slots(panel: Panel) -> list[str]:
    """The four sub-slot labels of a panel: its symbol in the first ``count`` sub-slots."""
    count, colour, shape = panel
    return [symbol(colour, shape)] * count + [EMPTY] * (SUB_SLOTS - count)


def initial_slots(metadata: dict[str, Any]) -> list[str]:
    """Labels of all 36 sub-slots (panel-major, panels row-major) in the first frame: the answer panel empty."""
    panels = [panel for row in metadata["panels"] for panel in row]
    return [label for panel in panels[:ANSWER_PANEL] for label in panel_slots(panel)] + [EMPTY] * SUB_SLOTS


def sub_slot_box(spec: dict[str, Any], panel: int, sub: int) -> Box:
    """Pixel box of sub-slot ``sub`` of panel ``panel`` (both row-major)."""
    (ox, oy), cs, pad = spec["grid_origin"], spec["cell_size"], spec["pad"]
    r, c = divmod(panel, 3)
    sr, sc = divmod(sub, 2)
    side = (cs - 2 * pad) // 2
    x0 = ox + c * cs + pad + sc * side
    y0 = oy + r * cs + pad + sr * side
    return x0, y0, x0 + side - 1, y0 + side - 1


def draw_raven(metadata: dict[str, Any], slots: Sequence[str]) -> Image.Image:
    """The matrix's frames and the 36 sub-slot labels ``slots`` (see initial_slots)."""
    spec = metadata["render"]
    colors = {k: color(v) for k, v in spec["colors"].items()}
    image, draw = new_frame(colors["background"])
    (ox, oy), cs, border = spec["grid_origin"], spec["cell_size"], spec["border"]
    start, end = line_span(ox, border)[0], line_span(ox + 3 * cs, border)[1]
    start_y, end_y = line_span(oy, border)[0], line_span(oy + 3 * cs, border)[1]
    for i in range(4):
        y0, y1 = line_span(oy + i * cs, border)
        draw.rectangle((start, y0, end, y1), fill=colors["frame"])
        x0, x1 = line_span(ox + i * cs, border)
        draw.rectangle((x0, start_y, x1, end_y), fill=colors["frame"])
    inset = spec["shape_inset"]
    for index, label in enumerate(slots):
        x0, y0, x1, y1 = sub_slot_box(spec, *divmod(index, SUB_SLOTS))
        draw_symbol(draw, (x0 + inset, y0 + inset, x1 - inset, y1 - inset), label, spec["palette"])
    return image


def where(index: int) -> str:
    panel, sub = divmod(index, SUB_SLOTS)
    r, c = divmod(panel, 3)
    if panel == ANSWER_PANEL:
        return f"the {SUB_NAMES[sub]} place of the answer panel"
    return f"the {SUB_NAMES[sub]} place of the given panel in row {r + 1}, column {c + 1}"


class RavenVerifier(StateVerifier):
    """The answer panel must end holding the rule's shapes; given panels never change; the answer's shapes
    are drawn one per step into its places in reading order and never erased or changed. A wrong shape is a
    legal move: only the end state says it was wrong."""

    domain: ClassVar[str] = "raven"
    puzzle: ClassVar[str] = "matrix"

    def build_reader(self) -> RegionReader:
        spec = self.metadata["render"]
        boxes = [sub_slot_box(spec, *divmod(i, SUB_SLOTS)) for i in range(9 * SUB_SLOTS)]
        # Every sub-slot, given or answer, is read as any symbol or empty: a given that turns into another
        # shape is named as such rather than left unreadable.
        looks = [EMPTY, *all_symbols(spec["palette"], spec["shapes"])]
        renders = [(to_array(draw_raven(self.metadata, [label] * len(boxes))), [label] * len(boxes)) for label in looks]
        return RegionReader(boxes, renders)

    def initial_state(self) -> State:
        return tuple(initial_slots(self.metadata))

    def solved_state(self) -> State:
        return tuple(initial_slots(self.metadata)[: ANSWER_PANEL * SUB_SLOTS] + panel_slots(self.metadata["answer"]))

    def state(self, labels: Sequence[Hashable | None]) -> State | None:
        return tuple(labels)

    def move_error(self, before: State, after: State) -> str | None:
        changed = [i for i, (a, b) in enumerate(zip(before, after, strict=True)) if a != b]
        answer_start = ANSWER_PANEL * SUB_SLOTS
        for i in changed:
            if i < answer_start:
                return f"{where(i)} changes from {before[i]} to {after[i]}; the given panels must stay as they are"
        if len(changed) > 1:
            return f"{len(changed)} places of the answer panel change at once; draw one shape per step"
        (i,) = changed
        if before[i] != EMPTY:
            change = "erased" if after[i] == EMPTY else f"changed to a {after[i]}"
            return f"the {before[i]} in {where(i)} is {change}"
        first_empty = next(j for j in range(answer_start, len(before)) if before[j] == EMPTY)
        if i != first_empty:
            return (
                f"a shape is drawn in {where(i)} while {where(first_empty)} is still empty; "
                "fill the places in reading order"
            )
        return None

    def end_error(self, state: State) -> str:
        answer_start = ANSWER_PANEL * SUB_SLOTS
        if state[:answer_start] != self.solved[:answer_start]:
            return "a given panel ends changed"
        drawn = [label for label in state[answer_start:] if label != EMPTY]
        count, colour, shape = self.metadata["answer"]
        shown = ", ".join(str(label) for label in drawn) or "nothing"
        return f"the answer panel ends holding {shown}; the rules give {count} x {colour} {shape}"


class RavenDomain(TaskDomain):
    name: ClassVar[str] = "raven"
    description: ClassVar[str] = (
        "Complete a Raven-style 3x3 matrix whose rows follow count, shape and colour rules, one shape at a time."
    )
    category: ClassVar[str] = "abstraction"
    rubric: ClassVar[str] = (
        "The puzzle: a 3x3 matrix of framed panels, each holding 1 to 4 copies of one coloured shape in a 2x2 "
        "arrangement; the bottom-right panel is empty. Along each row the number of shapes stays the same or "
        "grows by one per panel, the shape stays the same or each of three shapes appears once, and the colour "
        "stays the same or follows the same three-colour order in every row. A correct solution: the bottom-right "
        "panel ends holding the number, shape and colour the rules give, drawn one shape at a time into its "
        "places in reading order (top-left, top-right, bottom-left, bottom-right). Illegal: any of the eight "
        "given panels changes; several shapes appear at once; a place is skipped; a drawn shape is erased or "
        "changed."
    )
    verifier_class: ClassVar[type[StateVerifier]] = RavenVerifier

    def verifier(self, metadata: dict[str, Any], task_dir: Path | None = None) -> StateVerifier:
        """Ours from the metadata; an imported upstream task's from its pictures (``tasks/upstream/raven.py``)."""
        if upstream.is_upstream(metadata):
            return upstream.UpstreamRavenVerifier(metadata, task_dir)
        return super().verifier(metadata)

    def generate_one(self, rng: random.Random, task_id: str, seed: int, difficulty: str) -> GeneratedTask:
        rules, panels = make_matrix(rng, difficulty)
        answer = panels[2][2]
        origin, cell_size = grid_layout(3, 3, margin=MARGIN)
        metadata: dict[str, Any] = {
            "domain": self.name,
            "category": self.category,
            "task_id": task_id,
            "seed": seed,
            "difficulty": difficulty,
            "rules": rules,
            "panels": panels,
            "answer": answer,
            "solution": [[k, symbol(answer[1], answer[2])] for k in range(answer[0])],
            "num_steps": answer[0],
            "render": {
                "grid_origin": origin,
                "cell_size": cell_size,
                "border": 4,
                "pad": cell_size // 20,
                "shape_inset": cell_size // 24,
                "shapes": list(SHAPES),
                "palette": {k: list(v) for k, v in PALETTE.items()},
                "colors": {k: list(v) for k, v in COLORS.items()},
            },
        }
        slots = initial_slots(metadata)
        final = slots[: ANSWER_PANEL * SUB_SLOTS] + panel_slots(answer)
        return GeneratedTask(
            task_id=task_id,
            domain=self.name,
            prompt=PROMPT,
            first_frame=draw_raven(metadata, slots),
            final_frame=draw_raven(metadata, final),
            metadata=metadata,
        )

    def render_solution(self, metadata: dict[str, Any]) -> list[np.ndarray]:
        slots = initial_slots(metadata)
        frames = [to_array(draw_raven(metadata, slots))]
        for sub, name in metadata["solution"]:
            slots[ANSWER_PANEL * SUB_SLOTS + sub] = name
            frames.append(to_array(draw_raven(metadata, slots)))
        return frames

"""Clock: move an analogue clock forward by a number of quarter hours, 15 minutes per step.

The face is a big disc with 12 thick tick marks and no digits, a long thin red minute hand and a short thick
blue hour hand. A task starts at a random quarter hour and asks for the time N quarter hours later (easy
N = 2..3, medium 4..6, hard 7..12), said in hours and minutes ("1 hour 30 minutes later"). Each step moves the
minute hand a quarter turn and the hour hand 7.5 degrees with it, so the hands always agree.

The state is the time in quarter hours on a 12-hour dial (0..47), read from the face as one region: the two
hands overlap, so they cannot be two regions, and the pair is one label. Any two of the 48 looks differ by a
quarter turn of the long minute hand or, for the same minutes, by 30 degrees of the 28 px wide hour hand.

Medium and hard tasks may show the clock seen in a mirror (flipped left to right): the hands then turn
counter-clockwise on screen, and the task still asks for the real time N quarter hours later.

Metadata (besides the common keys):
    start, target  quarter hours on the dial (0..47; 0 is 12:00), target = start + num_steps (mod 48)
    start_time, target_time  the same as "h:mm" text
    mirrored       whether the clock is drawn flipped left to right
    solution       the quarter hours shown, start first, target last
    num_steps      quarter hours to move forward
    render         center, radius, grid_origin (the face's box corner), cell_size (the face's box side),
                   rim, ticks (inner, outer, width, quarter_width), hour_hand / minute_hand (length, tail, width),
                   hub, colors
"""

from __future__ import annotations

import math
import random
from collections.abc import Hashable, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from PIL import Image, ImageDraw, ImageOps

from vmevalkit.tasks.base import GeneratedTask, TaskDomain
from vmevalkit.tasks.reading import RegionReader
from vmevalkit.tasks.render import Box, color, new_frame, to_array
from vmevalkit.tasks.upstream import clock as upstream
from vmevalkit.tasks.verifier import State, StateVerifier

QUARTERS = 48  # quarter hours on a 12-hour dial
STEPS = {"easy": (2, 3), "medium": (4, 6), "hard": (7, 12)}
MIRROR_CHANCE = {"easy": 0.0, "medium": 0.5, "hard": 0.5}
CENTER = (256, 256)
RADIUS = 236
FACE_COLORS = ([250, 242, 215], [222, 238, 252], [224, 246, 220], [250, 228, 234], [238, 238, 238])
COLORS: dict[str, list[int]] = {
    "background": [255, 255, 255],
    "rim": [40, 40, 40],
    "ticks": [40, 40, 40],
    "hour_hand": [25, 55, 160],
    "minute_hand": [215, 35, 35],
    "hub": [30, 30, 30],
}
GEOMETRY: dict[str, Any] = {
    "rim": 12,
    "ticks": {"inner": 190, "outer": 222, "width": 10, "quarter_width": 16},
    "hour_hand": {"length": 140, "tail": 26, "width": 28},
    "minute_hand": {"length": 184, "tail": 26, "width": 16},
    "hub": 18,
}


def clock_time(quarter: int) -> str:
    """``quarter`` hours on the dial as "h:mm" (0 is 12:00)."""
    hours, quarters = divmod(quarter % QUARTERS, 4)
    return f"{hours or 12}:{quarters * 15:02d}"


def duration(quarters: int) -> str:
    """A forward move in words: "45 minutes", "2 hours", "1 hour 30 minutes"."""
    hours, minutes = divmod(quarters * 15, 60)
    parts = [f"{hours} hour{'s' if hours != 1 else ''}"] if hours else []
    parts += [f"{minutes} minutes"] if minutes else []
    return " ".join(parts)


def hand_polygon(center: Sequence[int], degrees: float, length: int, tail: int, width: int) -> list[tuple[int, int]]:
    """A hand as a rectangle from ``tail`` behind the centre to ``length`` ahead, at ``degrees`` clockwise from 12."""
    theta = math.radians(degrees)
    ux, uy = math.sin(theta), -math.cos(theta)  # along the hand (y points down)
    px, py = -uy, ux  # across it
    half = width / 2
    points = [(-tail, -half), (length, -half), (length, half), (-tail, half)]
    return [(round(center[0] + a * ux + b * px), round(center[1] + a * uy + b * py)) for a, b in points]


def draw_clock(metadata: dict[str, Any], quarter: int) -> Image.Image:
    """The clock showing ``quarter`` hours (mod 48), flipped left to right when the task is mirrored."""
    spec = metadata["render"]
    colors = {k: color(v) for k, v in spec["colors"].items()}
    (cx, cy), r = spec["center"], spec["radius"]
    image, draw = new_frame(colors["background"])
    draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=colors["rim"])
    inner = r - spec["rim"]
    draw.ellipse((cx - inner, cy - inner, cx + inner, cy + inner), fill=colors["face"])
    ticks = spec["ticks"]
    for hour in range(12):
        width = ticks["quarter_width"] if hour % 3 == 0 else ticks["width"]
        # A tick is a "hand" from ``inner`` to ``outer`` out from the centre (a negative tail).
        draw.polygon(hand_polygon((cx, cy), hour * 30, ticks["outer"], -ticks["inner"], width), fill=colors["ticks"])
    _draw_hands(draw, spec, colors, quarter)
    hub = spec["hub"]
    draw.ellipse((cx - hub, cy - hub, cx + hub, cy + hub), fill=colors["hub"])
    return ImageOps.mirror(image) if metadata["mirrored"] else image


def _draw_hands(draw: ImageDraw.ImageDraw, spec: dict[str, Any], colors: dict[str, Any], quarter: int) -> None:
    quarter %= QUARTERS
    hour, minute = spec["hour_hand"], spec["minute_hand"]
    draw.polygon(
        hand_polygon(spec["center"], quarter * 7.5, hour["length"], hour["tail"], hour["width"]),
        fill=colors["hour_hand"],
    )
    draw.polygon(
        hand_polygon(spec["center"], (quarter % 4) * 90, minute["length"], minute["tail"], minute["width"]),
        fill=colors["minute_hand"],
    )


def face_box(metadata: dict[str, Any]) -> Box:
    (cx, cy), r = metadata["render"]["center"], metadata["render"]["radius"]
    return cx - r, cy - r, cx + r, cy + r


class ClockVerifier(StateVerifier):
    """The time is read from the face; it moves forward by exactly 15 minutes per move."""

    domain: ClassVar[str] = "clock"
    puzzle: ClassVar[str] = "clock"

    def build_reader(self) -> RegionReader:
        renders = [(to_array(draw_clock(self.metadata, quarter)), [quarter]) for quarter in range(QUARTERS)]
        return RegionReader([face_box(self.metadata)], renders)

    def initial_state(self) -> State:
        return (int(self.metadata["start"]),)

    def solved_state(self) -> State:
        return (int(self.metadata["target"]),)

    def state(self, labels: Sequence[Hashable | None]) -> State | None:
        return (labels[0],)

    def move_error(self, before: State, after: State) -> str | None:
        forward = (after[0] - before[0]) % QUARTERS
        if forward == 1:
            return None
        moved = f"from {clock_time(before[0])} to {clock_time(after[0])}"
        if forward > QUARTERS // 2:
            return f"the clock goes back {duration(QUARTERS - forward)} {moved}; it only moves forward"
        return f"the clock jumps {duration(forward)} at once {moved}; it moves 15 minutes per step"

    def end_error(self, state: State) -> str:
        return f"the clock ends at {clock_time(state[0])}, not at {clock_time(self.solved[0])}"


class ClockDomain(TaskDomain):
    name: ClassVar[str] = "clock"
    description: ClassVar[str] = "Move an analogue clock forward by a number of quarter hours, 15 minutes per step."
    category: ClassVar[str] = "geometry"
    rubric: ClassVar[str] = (
        "The puzzle: an analogue clock face without digits, with 12 tick marks, a long thin red minute hand and "
        "a short thick blue hour hand; some clocks are seen in a mirror (flipped left to right, so the hands "
        "turn counter-clockwise on screen). A correct solution: the clock moves forward 15 minutes at a time "
        "(the minute hand a quarter turn, the hour hand an eighth of an hour mark with it) and stops at the "
        "time the prompt asks for. Illegal: moving backwards, jumping 30 minutes or more at once, moving one "
        "hand without the other, or changing the face, its ticks or the hands' colours."
    )
    verifier_class: ClassVar[type[StateVerifier]] = ClockVerifier

    def verifier(self, metadata: dict[str, Any], task_dir: Path | None = None) -> StateVerifier:
        """Ours from the metadata; an imported upstream mirror clock's from its pictures too (``tasks/upstream/``)."""
        if upstream.is_upstream(metadata):
            return upstream.UpstreamClockVerifier(metadata, task_dir)
        return super().verifier(metadata)

    def generate_one(self, rng: random.Random, task_id: str, seed: int, difficulty: str) -> GeneratedTask:
        start = rng.randrange(QUARTERS)
        low, high = STEPS[difficulty]
        steps = rng.randint(low, high)
        mirrored = rng.random() < MIRROR_CHANCE[difficulty]
        face = rng.choice(FACE_COLORS)
        solution = [(start + i) % QUARTERS for i in range(steps + 1)]
        cx, cy = CENTER
        metadata: dict[str, Any] = {
            "domain": self.name,
            "category": self.category,
            "task_id": task_id,
            "seed": seed,
            "difficulty": difficulty,
            "start": start,
            "target": solution[-1],
            "start_time": clock_time(start),
            "target_time": clock_time(solution[-1]),
            "mirrored": mirrored,
            "solution": solution,
            "num_steps": steps,
            "render": {
                "center": [cx, cy],
                "radius": RADIUS,
                "grid_origin": [cx - RADIUS, cy - RADIUS],
                "cell_size": 2 * RADIUS + 1,
                **GEOMETRY,
                "colors": {**COLORS, "face": list(face)},
            },
        }
        seen = (
            "The clock is seen in a mirror, flipped left to right, so its hands turn the other way on screen. "
            if mirrored
            else ""
        )
        prompt = (
            f"{seen}Move the clock forward to show the time {duration(steps)} later, 15 minutes at a time: each "
            "step turns the long red minute hand a quarter turn forward and the short blue hour hand along with "
            "it. Stop at the new time."
        )
        return GeneratedTask(
            task_id=task_id,
            domain=self.name,
            prompt=prompt,
            first_frame=draw_clock(metadata, start),
            final_frame=draw_clock(metadata, solution[-1]),
            metadata=metadata,
        )

    def render_solution(self, metadata: dict[str, Any]) -> list[np.ndarray]:
        return [to_array(draw_clock(metadata, quarter)) for quarter in metadata["solution"]]

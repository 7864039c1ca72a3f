"""Upstream VMEvalKit's mirror clock: the real time read from the hands' angles, the mirror from the numbers.

Upstream (hokindeng/VMEvalKit ``vmevalkit/tasks/mirror_clock_task/mirror_clock_reasoning.py``, ``ClockRenderer``)
draws a 500x500 white picture: a dial (a circle of radius 200 at the centre, outlined ``#333333``), the hour
numbers 1..12 in ``#333333`` at 0.75 of the radius (Helvetica 36 on macOS, else Pillow's small default font),
a centre dot, a ``#666666`` minute hand 6 px wide reaching 0.7 of the radius and a ``#333333`` hour hand 8 px
wide reaching 0.5 of it, both turning clockwise from 12 (the hour hand 30 degrees per hour and 0.5 per minute).
The first frame is the clock at ``original_time`` flipped left to right (a mirror image); the final frame is
the clock at ``future_time``, not flipped. The prompt asks for the time ``time_delta`` later on the *real* clock.
The metadata (``question_metadata.json``) keeps only ``original_time``, ``time_delta`` and ``future_time``
(each ``hours``, ``minutes``, ``formatted``), ``difficulty`` and ``task_type``.

Times are arbitrary minutes, so a frame is not matched against drawn looks (720 times, each mirrored or not)
but read by angle. The dial is found as the box around the frame's dark ink (its circle encloses everything
else) and checked to be a closed dark ring. The minute hand's angle is read from the grey pixels in an annulus
(0.52..0.58 of the radius) that only it reaches: beyond the hour hand's tip, inside the numbers; the hour hand's
from the darkest pixels nearer the centre (0.2..0.45 of the radius), where the lighter minute hand does not
count. A frame whose hand is smeared over several angles (a cross-fade of two positions) or whose hour hand
is not where the minute hand says it must be (more than ``HOUR_TOLERANCE`` degrees off) shows no state.

Whether a face is mirrored is told by its numbers: the ring of numbers (minute hands masked out), unrolled
around the dial's own centre, is compared with the first frame's (mirrored) and the final frame's (plain),
under the same margin rule as ``tasks/reading.py``. A mirrored face's real time is the mirror of what its hands
show (``720 - shown`` minutes). The state is ``(mirrored, real time in minutes mod 720)``.

The rules, from the metadata: the video starts mirrored at ``original_time``; the real time only moves
forward, at most ``MAX_STEP`` minutes between consecutive read states (a quarter turn of the minute hand: any
sweep of upstream's longest delta, 3 h 59 min, fits in 16 read frames, while a jump-cut of an hour or more is
caught; a forward step is then never mistaken for a backward one); the face may be un-mirrored once, keeping
its time within ``FLIP_TOLERANCE`` minutes, and never mirrored again; the video must end plain at
``future_time`` within ``END_TOLERANCE`` minutes. A read up to ``JITTER`` minutes behind the last one is taken
as the last one (reading noise, not a step back). A task whose delta is at most ``MAX_STEP`` minutes (a few
of upstream's hard ones) has no steps to see: a cut to the future time, then un-mirroring, passes it.

The first frame must read ``original_time`` in the mirror and the final frame ``future_time`` plain (to the
minute), or the task is refused, never judged. Without a final frame the plain face is the first frame's
mirrored back. For the oracle baseline, ``solution_keyframes`` draws upstream's hands on the first frame's
face flipped back, its old hands erased (``hands_erased``).
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from vmevalkit.tasks.loader import FINAL_FRAME, FIRST_FRAME
from vmevalkit.tasks.reading import MARGIN, NEAR, RegionReader
from vmevalkit.tasks.upstream.picture import load_picture
from vmevalkit.tasks.verifier import State, StateVerifier

DIAL = 720  # minutes on a 12-hour dial
# Real time moves forward by at most this many minutes between consecutive read states (see the docstring).
MAX_STEP = 15
# Un-mirroring keeps the time within this many minutes.
FLIP_TOLERANCE = 2
# The last frame must show future_time within this many minutes.
END_TOLERANCE = 2
# A read at most this many minutes behind the last read state is that state (noise, not a step back).
JITTER = 1
# The hour hand must lie within this many degrees of where the minute hand puts it (a quarter of the 30
# degrees between hours: 15 minutes of the hour hand's travel).
HOUR_TOLERANCE = 7.5

# A pixel is the dial's ink when its grey is below this; the ring must be ink over this share of its length.
DIAL_DARK = 160
RING_INK = 0.8
# Fewest pixels across a dial that can be read.
MIN_RADIUS = 40
# Where the hands are read, as shares of the dial's radius: only the minute hand reaches the first annulus
# (the hour hand ends at 0.5, the numbers start near 0.6 with upstream's Helvetica 36); the hour hand is read
# nearer the centre, away from the centre dot.
MINUTE_ANNULUS = (0.52, 0.58)
HOUR_ANNULUS = (0.2, 0.45)
# The minute hand (#666666, grey 102) counts fully when at least as dark as it, not at all above grey 200;
# the hour hand (#333333, grey 51) fully, the minute hand's grey 102 not at all (above grey 90).
MINUTE_INK = (102.0, 200.0)
HOUR_INK = (51.0, 90.0)
STEP_DEGREES = 0.5  # angular sampling
HAND_WINDOW = 15.0  # degrees either side of the darkest angle that make up a hand
MAX_STRAY = 0.25  # share of a hand's ink allowed outside its window (more: two hands, a cross-fade)
MIN_HAND_INK = 2.0  # a hand is at least this many pixels wide
# Upstream's drawing (ClockRenderer(500)): the dial's radius, each hand's length (share of the radius) and
# width, the centre dot's radius, in pixels of that dial; its inks. The oracle's keyframes are drawn with them.
UPSTREAM_RADIUS = 200
MINUTE_HAND, HOUR_HAND = (0.7, 6), (0.5, 8)
CENTRE_DOT = 8
MINUTE_INK_COLOUR, HOUR_INK_COLOUR = (102, 102, 102), (51, 51, 51)
KEY_STEP = 10  # minutes between the oracle's keyframes (under MAX_STEP, with room for reading noise)
# The numbers' ring (shares of the radius), blurred by this many pixels, without this many degrees either
# side of any minute hand.
FACE_RING = (0.62, 0.92)
FACE_BLUR = 1.5
HAND_MASK = 8.0
# The mirrored and the plain face's rings must differ by this much (mean squared darkness; upstream's faces
# differ by about 9 with Pillow's small default font, by about 660 with Helvetica-sized numbers).
MIN_FACE_SPACING = 2.0


def is_upstream(metadata: Mapping[str, Any]) -> bool:
    """Whether ``metadata`` is an upstream mirror clock's: times as dicts, no quarter hours."""
    return "start" not in metadata and "original_time" in metadata and "future_time" in metadata


def clock_text(minutes: float) -> str:
    """``minutes`` since 12:00 as "h:mm" on a 12-hour dial."""
    hours, rest = divmod(round(minutes) % DIAL, 60)
    return f"{hours or 12}:{rest:02d}"


def _minutes(metadata: Mapping[str, Any], key: str, wrap: bool = True) -> int:
    """``metadata[key]``'s ``hours`` and ``minutes`` in minutes; a time (``wrap``) on the 12-hour dial."""
    value = metadata.get(key)
    if not isinstance(value, Mapping) or not all(isinstance(value.get(k), int) for k in ("hours", "minutes")):
        raise ValueError(f"{key} must hold integer 'hours' and 'minutes', not {value!r}")
    if not 0 <= value["minutes"] < 60 or value["hours"] < 0:
        raise ValueError(f"{key} is {value['hours']} hours {value['minutes']} minutes: not a time of day")
    minutes = int(value["hours"]) * 60 + int(value["minutes"])
    return minutes % DIAL if wrap else minutes


def _signed(minutes: float) -> float:
    """``minutes`` on the dial as the nearest way round: -360 up to 360."""
    return (minutes + DIAL / 2) % DIAL - DIAL / 2


@dataclass(frozen=True)
class Dial:
    """The clock's circle: its centre (pixel coordinates) and outer radius in pixels."""

    cx: float
    cy: float
    radius: float

    def sample(self, grey: np.ndarray, shares: tuple[float, float], rings: int, step: float) -> np.ndarray:
        """``grey`` on ``rings`` circles from ``shares[0]`` to ``shares[1]`` of the radius, every ``step``
        degrees clockwise from 12 (bilinear): ``[rings, 360 / step]``."""
        radii = np.linspace(shares[0], shares[1], rings)[:, None] * self.radius
        theta = np.radians(np.arange(0.0, 360.0, step))[None, :]
        x, y = self.cx + radii * np.sin(theta), self.cy - radii * np.cos(theta)
        height, width = grey.shape
        x0 = np.clip(np.floor(x).astype(int), 0, width - 2)
        y0 = np.clip(np.floor(y).astype(int), 0, height - 2)
        fx, fy = np.clip(x - x0, 0, 1), np.clip(y - y0, 0, 1)
        top = grey[y0, x0] * (1 - fx) + grey[y0, x0 + 1] * fx
        bottom = grey[y0 + 1, x0] * (1 - fx) + grey[y0 + 1, x0 + 1] * fx
        sampled: np.ndarray = top * (1 - fy) + bottom * fy
        return sampled


def find_dial(grey: np.ndarray) -> Dial | None:
    """The clock's circle: the box around the dark ink, when that is a square closed by a dark ring."""
    dark = grey < DIAL_DARK
    cols, rows = np.flatnonzero(dark.sum(axis=0) >= 3), np.flatnonzero(dark.sum(axis=1) >= 3)
    if len(cols) == 0 or len(rows) == 0:
        return None
    width, height = cols[-1] - cols[0], rows[-1] - rows[0]
    if min(width, height) < 2 * MIN_RADIUS or abs(int(width) - int(height)) > 0.05 * max(width, height) + 2:
        return None
    dial = Dial((cols[0] + cols[-1]) / 2, (rows[0] + rows[-1]) / 2, (width + height) / 4)
    ring = dial.sample(grey, (1 - 2 / dial.radius, 1 - 2 / dial.radius), 1, 1.0)  # the outline is 4 px wide
    return dial if float((ring < DIAL_DARK).mean()) >= RING_INK else None


def hand_angle(grey: np.ndarray, dial: Dial, annulus: tuple[float, float], ink: tuple[float, float]) -> float | None:
    """The angle (degrees clockwise from 12) of the one hand in ``annulus``; None when there is none, or more.

    A pixel counts fully when its grey is at most ``ink[0]`` and not at all above ``ink[1]``; the hand is the
    ink within ``HAND_WINDOW`` degrees of the inkiest angle, its angle the ink's circular mean there.
    """
    rings = 7
    samples = dial.sample(grey, annulus, rings, STEP_DEGREES)
    weight = np.clip((ink[1] - samples) / (ink[1] - ink[0]), 0.0, 1.0).sum(axis=0)
    total = float(weight.sum())
    angles = np.arange(0.0, 360.0, STEP_DEGREES)
    peak = angles[int(np.argmax(weight))]
    near = np.abs(_signed_degrees(angles - peak)) <= HAND_WINDOW
    held = float(weight[near].sum())
    # The window must hold MIN_HAND_INK pixels of ink across on every ring (in samples at the annulus' middle).
    pixels_per_sample = math.radians(STEP_DEGREES) * dial.radius * sum(annulus) / 2
    if held * pixels_per_sample < MIN_HAND_INK * rings or held < (1 - MAX_STRAY) * total:
        return None
    theta, held_weight = np.radians(angles[near]), weight[near]
    mean = math.atan2(float((held_weight * np.sin(theta)).sum()), float((held_weight * np.cos(theta)).sum()))
    return math.degrees(mean) % 360.0


def _signed_degrees(degrees: np.ndarray) -> np.ndarray:
    wrapped: np.ndarray = (degrees + 180.0) % 360.0 - 180.0
    return wrapped


def shown_time(minute_hand: float, hour_hand: float) -> float | None:
    """The minutes since 12:00 two hands show on screen, or None when the hour hand disagrees with the minute's."""
    minutes = (minute_hand / 6.0) % 60.0
    hours = round((hour_hand - minutes / 2) / 30.0)
    off = hour_hand - minutes / 2 - 30.0 * hours
    if abs(off) > HOUR_TOLERANCE:
        return None
    return (hours % 12) * 60.0 + minutes


@dataclass(frozen=True)
class Face:
    """What one picture of the clock shows: its dial, its hands' angles and time, and its numbers' ring."""

    dial: Dial
    minute_hand: float
    hour_hand: float
    shown: float  # minutes since 12:00 as the hands show them on screen
    ring: np.ndarray  # the numbers' ring, unrolled: [rings, 360 / STEP_DEGREES] darkness

    def mirrored(self) -> Face:
        """The same face seen in a mirror: every angle negated."""
        ring = np.roll(self.ring[:, ::-1], 1, axis=1)  # angle a -> -a on the sampled grid
        return Face(self.dial, -self.minute_hand % 360, -self.hour_hand % 360, (DIAL - self.shown) % DIAL, ring)


def grey_of(frame: np.ndarray) -> np.ndarray:
    picture = frame[..., :3] if frame.ndim == 3 else frame[..., None]
    grey: np.ndarray = picture.astype(np.float32).mean(axis=-1)
    return grey


def read_face(frame: np.ndarray) -> tuple[Face | None, str]:
    """The face ``frame`` shows, or None and why not."""
    grey = grey_of(frame)
    dial = find_dial(grey)
    if dial is None:
        return None, "no clock face (a closed dark circle)"
    minute = hand_angle(grey, dial, MINUTE_ANNULUS, MINUTE_INK)
    hour = hand_angle(grey, dial, HOUR_ANNULUS, HOUR_INK)
    if minute is None or hour is None:
        return None, f"no single {'minute' if minute is None else 'hour'} hand"
    shown = shown_time(minute, hour)
    if shown is None:
        return None, f"an hour hand at {hour:.0f} degrees that does not go with a minute hand at {minute:.0f}"
    image = Image.fromarray(np.clip(grey, 0, 255).astype(np.uint8))
    blurred = np.asarray(image.filter(ImageFilter.GaussianBlur(FACE_BLUR)), dtype=np.float32)
    ring = 255.0 - dial.sample(blurred, FACE_RING, 16, STEP_DEGREES)
    return Face(dial, minute, hour, shown, ring), ""


def _near_hand(angle: float) -> np.ndarray:
    angles = np.arange(0.0, 360.0, STEP_DEGREES)
    near: np.ndarray = np.abs(_signed_degrees(angles - angle)) < HAND_MASK
    return near


class HandReader(RegionReader):
    """Reads one region, the clock, by its hands' angles: each frame's label is ``(mirrored, real minutes)``.

    It replaces the looks a ``RegionReader`` compares with the two faces it tells apart: ``mirrored`` (the first
    frame's) and ``plain`` (the final frame's).
    """

    def __init__(self, size: tuple[int, int], mirrored: Face, plain: Face) -> None:
        self.size = size  # PIL order: (width, height)
        self.faces = {True: mirrored, False: plain}

    def read(self, frames: np.ndarray) -> list[list[Hashable | None]]:
        return [[self.label(frame)] for frame in frames]

    def label(self, frame: np.ndarray) -> tuple[bool, float] | None:
        if frame.shape[:2] != (self.size[1], self.size[0]):
            image = Image.fromarray(np.ascontiguousarray(frame)).convert("RGB")
            frame = np.asarray(image.resize(self.size, Image.Resampling.BILINEAR))
        face, _ = read_face(frame)
        if face is None:
            return None
        mirrored = self.is_mirrored(face)
        if mirrored is None:
            return None
        return mirrored, (DIAL - face.shown) % DIAL if mirrored else face.shown

    def is_mirrored(self, face: Face) -> bool | None:
        """Whether ``face``'s numbers are the mirrored or the plain face's; None when neither clearly."""
        mirrored, plain = self.faces[True], self.faces[False]
        keep = ~(_near_hand(face.minute_hand) | _near_hand(mirrored.minute_hand) | _near_hand(plain.minute_hand))
        ring, to_m, to_p = face.ring[:, keep], mirrored.ring[:, keep], plain.ring[:, keep]
        d_m, d_p = float(((ring - to_m) ** 2).mean()), float(((ring - to_p) ** 2).mean())
        spacing = float(((to_m - to_p) ** 2).mean())
        nearest, other = min(d_m, d_p), max(d_m, d_p)
        if other - nearest < MARGIN * spacing or nearest > NEAR * spacing:
            return None
        return d_m < d_p


def _hand_pixels(shape: tuple[int, ...], dial: Dial, face: Face) -> np.ndarray:
    """Where ``face``'s two hands (as upstream draws them on ``dial``) may have left ink, with a margin."""
    ys, xs = np.mgrid[0 : shape[0], 0 : shape[1]].astype(np.float32)
    mask = np.zeros(shape[:2], dtype=bool)
    scale = dial.radius / UPSTREAM_RADIUS
    for angle, (length, width) in ((face.minute_hand, MINUTE_HAND), (face.hour_hand, HOUR_HAND)):
        ux, uy = math.sin(math.radians(angle)), -math.cos(math.radians(angle))
        along = np.clip((xs - dial.cx) * ux + (ys - dial.cy) * uy, 0.0, length * dial.radius)
        off = np.hypot(xs - dial.cx - along * ux, ys - dial.cy - along * uy)
        mask |= off <= width * scale / 2 + 2
    return mask


def hands_erased(picture: np.ndarray, face: Face, final: tuple[np.ndarray, Face] | None) -> np.ndarray:
    """``picture`` (a plain face) without its hands: their pixels taken from the final frame where its own
    hands are not (the same numbers), else paper. The centre dot is redrawn with the hands."""
    erased: np.ndarray = picture.copy()
    paper = np.median(picture.reshape(-1, picture.shape[-1]), axis=0).astype(np.uint8)
    hands = _hand_pixels(picture.shape, face.dial, face)
    if final is not None and final[0].shape == picture.shape:
        other, other_face = final
        borrow = hands & ~_hand_pixels(picture.shape, other_face.dial, other_face)
        erased[borrow] = other[borrow]
        hands &= ~borrow
    erased[hands] = paper
    return erased


def draw_hands(paper: np.ndarray, dial: Dial, minutes: int) -> np.ndarray:
    """Upstream's hands and centre dot at ``minutes`` since 12:00 on ``paper``, scaled to ``dial``."""
    image = Image.fromarray(paper)
    draw = ImageDraw.Draw(image)
    scale = dial.radius / UPSTREAM_RADIUS
    cx, cy = round(dial.cx), round(dial.cy)
    dot = CENTRE_DOT * scale
    draw.ellipse((cx - dot, cy - dot, cx + dot, cy + dot), fill=HOUR_INK_COLOUR)
    hours, rest = divmod(minutes % DIAL, 60)
    for degrees, (length, width), ink in (
        (rest * 6.0, MINUTE_HAND, MINUTE_INK_COLOUR),
        (hours * 30 + rest * 0.5, HOUR_HAND, HOUR_INK_COLOUR),
    ):
        theta = math.radians(degrees)
        end = (cx + length * dial.radius * math.sin(theta), cy - length * dial.radius * math.cos(theta))
        draw.line([(cx, cy), end], fill=ink, width=max(1, round(width * scale)))
    drawn: np.ndarray = np.asarray(image)
    return drawn


class UpstreamClockVerifier(StateVerifier):
    """An imported upstream mirror clock: its faces from its frames, its times from its metadata."""

    domain: ClassVar[str] = "clock"
    puzzle: ClassVar[str] = "clock"

    def __init__(self, metadata: dict[str, Any], task_dir: Path | None) -> None:
        if task_dir is None:
            raise ValueError("an upstream mirror clock is read with faces cut from its frames: give the task folder")
        self.original = _minutes(metadata, "original_time")
        self.future = _minutes(metadata, "future_time")
        if "time_delta" in metadata:
            delta = _minutes(metadata, "time_delta", wrap=False)
            if (self.original + delta) % DIAL != self.future:
                raise ValueError(
                    f"original_time {clock_text(self.original)} plus time_delta {delta} minutes is not "
                    f"future_time {clock_text(self.future)}"
                )
        self.task_dir = Path(task_dir)
        super().__init__(metadata)

    def _face(self, name: str, mirrored: bool, expected: int) -> tuple[np.ndarray, Face]:
        picture = load_picture(self.task_dir / name)
        face, why = read_face(picture)
        if face is None:
            raise ValueError(
                f"the task's {name} shows {why}: it must be the clock upstream drew; re-import the task's pictures"
            )
        real = (DIAL - face.shown) % DIAL if mirrored else face.shown
        if round(real) % DIAL != expected:
            seen = f"{clock_text(real)} {'in the mirror' if mirrored else ''}".strip()
            raise ValueError(
                f"the task's {name} shows {seen}, not {clock_text(expected)} as its metadata says: "
                "the picture is not the task its metadata describes"
            )
        return picture, face

    def build_reader(self) -> RegionReader:
        self.first, mirrored = self._face(FIRST_FRAME, True, self.original)
        self.mirrored_face = mirrored
        self.final: tuple[np.ndarray, Face] | None = None
        if (self.task_dir / FINAL_FRAME).is_file():
            self.final = self._face(FINAL_FRAME, False, self.future)
            plain = self.final[1]
        else:  # the first frame's own numbers, seen in a mirror again
            plain = mirrored.mirrored()
        keep = ~(_near_hand(mirrored.minute_hand) | _near_hand(plain.minute_hand))
        if float(((mirrored.ring[:, keep] - plain.ring[:, keep]) ** 2).mean()) < MIN_FACE_SPACING:
            raise ValueError(
                "the task's frames show a clock whose numbers look alike mirrored and plain (or no numbers): a "
                "mirrored face cannot be told from a plain one; re-import the task's pictures"
            )
        height, width = self.first.shape[:2]
        return HandReader((width, height), mirrored, plain)

    def solution_keyframes(self) -> list[np.ndarray]:
        """The first frame, the same time un-mirrored, then the hands forward ``KEY_STEP`` minutes a frame to
        future_time (for the oracle baseline), on the first frame's face flipped back (``hands_erased``) with
        hands drawn in upstream's geometry and colours."""
        face = self.mirrored_face.mirrored()
        width = self.first.shape[1]
        dial = Dial(width - 1 - face.dial.cx, face.dial.cy, face.dial.radius)  # flipping moves the centre
        paper = hands_erased(np.ascontiguousarray(self.first[:, ::-1]), replace(face, dial=dial), self.final)
        delta = (self.future - self.original) % DIAL
        times = [*range(self.original, self.original + delta, KEY_STEP), self.original + delta]
        return [self.first, *(draw_hands(paper, dial, minutes) for minutes in times)]

    def initial_state(self) -> State:
        return True, self.original

    def solved_state(self) -> State:
        return False, self.future

    def state(self, labels: Sequence[Hashable | None]) -> State | None:
        label = labels[0]
        if not isinstance(label, tuple):
            return None
        mirrored, minutes = label
        return bool(mirrored), round(minutes) % DIAL

    def read_states(self, frames: np.ndarray) -> list[State | None]:
        """Each frame's state; a read up to ``JITTER`` minutes behind the last state read is that state."""
        states: list[State | None] = []
        last = self.initial
        for state in super().read_states(frames):
            if state is not None and state[0] == last[0] and 0 < (last[1] - state[1]) % DIAL <= JITTER:
                state = last
            states.append(state)
            last = state if state is not None else last
        return states

    def is_solved(self, state: State | None) -> bool:
        return state is not None and not state[0] and abs(_signed(state[1] - self.future)) <= END_TOLERANCE

    def move_error(self, before: State, after: State) -> str | None:
        moved = f"from {clock_text(before[1])} to {clock_text(after[1])}"
        change = _signed(after[1] - before[1])
        if after[0] and not before[0]:
            return f"the clock turns back into its mirror image ({moved}); it may be un-mirrored once, never back"
        if before[0] and not after[0]:
            if abs(change) > FLIP_TOLERANCE:
                return f"the clock is un-mirrored and its time changes at once {moved}; un-mirroring keeps the time"
            return None
        if change < 0:
            return f"the clock goes back {-change:.0f} minutes {moved}; time only moves forward"
        if change > MAX_STEP:
            return f"the clock jumps {change:.0f} minutes at once {moved}; it moves at most {MAX_STEP} minutes a step"
        return None

    def end_error(self, state: State) -> str:
        if state[0]:
            return f"the clock ends still mirrored (at {clock_text(state[1])}); it must end un-mirrored"
        return (
            f"the clock ends at {clock_text(state[1])}, not at {clock_text(self.future)} "
            f"(within {END_TOLERANCE} minutes)"
        )

"""The VLM judges' rubric, the strict parsing of their JSON verdicts, and frame sampling.

Shared by the API judges (``vlm_judge.py``, main environment) and the local Qwen2.5-VL judge, which runs in its
own virtualenv: so this module needs only numpy, Pillow and PyAV, never an HTTP client.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from PIL import Image

from vmevalkit.video import VideoError, probe_video

RUBRIC_VERSION = "1"
DIMENSIONS: tuple[str, ...] = ("task_success", "end_state", "process")
REPLY_FIELDS: tuple[str, ...] = (*DIMENSIONS, "rationale")


# -- the rubric -------------------------------------------------------------------------------------------------------

ROLE = (
    "You are a strict examiner of videos made by a video generation model. The model was given an input image "
    "showing a puzzle and an instruction, and had to make a video that solves the puzzle on screen, step by step, "
    "starting from exactly that image. Judge only what you can see in the frames."
)


def domain_rubrics() -> dict[str, str]:
    """Every task domain's rubric by name: each domain writes its own (``TaskDomain.rubric``)."""
    from vmevalkit.tasks import DOMAINS, get_domain

    return {name: get_domain(name).rubric for name in DOMAINS}


GENERIC_RUBRIC = (
    "The puzzle is the one in the input image; the instruction below says what a correct solution is, and the "
    "moves it allows are the only legal ones."
)

SCALE = """Score three things:
- "end_state", a number from 0 to 1: how much of the required final state the last frame shows, for the same \
puzzle as the input image. 1: exactly the solved state. 0: unsolved, unreadable, or a different puzzle.
- "process", a number from 0 to 1: how much of the way from the input image to the final state the video shows as \
visible, legal moves, one step at a time. 1: every change is a legal move and the whole solution is shown. \
0: no legal progress is shown, as in a video that never changes or one that cuts to the answer.
- "task_success", 0 or 1: 1 only if the last frame shows the correct solved state of the same puzzle and the video \
reached it by legal, visible moves without cheating; otherwise 0.

Cheating means task_success 0 and a low process score, whatever the last frame shows:
- teleporting: a piece jumps further than one legal move between frames, or vanishes and reappears elsewhere;
- changing the givens: the walls, given digits, tiles, board or goal differ from the input image at any point;
- cutting to the answer: a hard cut, cross-fade or morph from the puzzle to a solved picture instead of the moves;
- solving a different puzzle, or moving several pieces at once where the rules allow one."""

REPLY_FORMAT = """Reply with one JSON object and nothing else (no markdown, no text around it):
{"task_success": 0 or 1, "end_state": a number from 0 to 1, "process": a number from 0 to 1, \
"rationale": "one or two sentences on what you saw"}"""

REPAIR_REQUEST = (
    "Your reply could not be used: {reason}. Reply again with only the JSON object "
    '{{"task_success": 0 or 1, "end_state": 0 to 1, "process": 0 to 1, "rationale": "..."}} and nothing else.'
)


def rubric_for(domain: str) -> str:
    """The judge's instructions (the system prompt) for a task domain."""
    from vmevalkit.tasks import DOMAINS, get_domain

    rubric = get_domain(domain).rubric if domain in DOMAINS else GENERIC_RUBRIC
    return "\n\n".join([ROLE, rubric, SCALE, REPLY_FORMAT])


# -- parsing a verdict ------------------------------------------------------------------------------------------------


class VerdictError(ValueError):
    """A judge's reply that is not the JSON verdict asked for; the message says what is wrong."""


@dataclass(frozen=True)
class Verdict:
    task_success: float
    end_state: float
    process: float
    rationale: str

    def scores(self) -> list[float]:
        return [self.task_success, self.end_state, self.process]


# A whole reply wrapped in one markdown code fence: models served without a JSON mode often add it. Anything else
# around the object is rejected.
_FENCE = re.compile(r"```(?:json)?[ \t]*\n?(.*?)\n?[ \t]*```", re.DOTALL | re.IGNORECASE)


def _reject_constant(name: str) -> Any:
    raise VerdictError(f"{name} is not a number JSON allows")


def parse_verdict(text: str) -> Verdict:
    """The verdict in a judge's reply, or a ``VerdictError`` naming what is wrong with it.

    Strict: one JSON object with exactly the four fields; ``task_success`` 0 or 1, the others numbers in [0, 1]
    (booleans, strings, NaN and infinities are refused), ``rationale`` a non-empty string.
    """
    body = text.strip()
    fenced = _FENCE.fullmatch(body)
    if fenced:
        body = fenced.group(1).strip()
    if not body:
        raise VerdictError("the reply is empty")
    try:
        data = json.loads(body, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise VerdictError(f"not valid JSON ({exc.msg} at character {exc.pos})") from None
    if not isinstance(data, dict):
        raise VerdictError(f"a JSON {type(data).__name__}, not an object")
    missing = [k for k in REPLY_FIELDS if k not in data]
    extra = sorted(set(data) - set(REPLY_FIELDS))
    if missing or extra:
        parts = ([f"missing {missing}"] if missing else []) + ([f"unexpected {extra}"] if extra else [])
        raise VerdictError(f"the object has the wrong fields: {', '.join(parts)}")
    values: dict[str, float] = {}
    for name in DIMENSIONS:
        value = data[name]
        # bool is an int in Python: a judge answering true/false has not given a number.
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
            raise VerdictError(f'"{name}" must be a number from 0 to 1, got {json.dumps(value)}')
        values[name] = float(value)
    if values["task_success"] not in (0.0, 1.0):
        raise VerdictError(f'"task_success" must be 0 or 1, got {json.dumps(data["task_success"])}')
    rationale = data["rationale"]
    if not isinstance(rationale, str) or not rationale.strip():
        raise VerdictError('"rationale" must be a non-empty string')
    return Verdict(values["task_success"], values["end_state"], values["process"], rationale.strip())


# -- media ------------------------------------------------------------------------------------------------------------

ImageFormat = Literal["png", "jpeg"]


def sample_indices(count: int, wanted: int) -> list[int]:
    """``wanted`` frame indices spread evenly over ``count`` frames, first and last included (all if fewer)."""
    if count <= wanted:
        return list(range(count))
    return [round(i * (count - 1) / (wanted - 1)) for i in range(wanted)]


def sampled_frames(path: Path, wanted: int) -> tuple[list[tuple[int, np.ndarray]], int, float]:
    """The evenly sampled frames of a video as (index, RGB array), its frame count and its frame rate.

    Two passes (count, then pick) keep only the sampled frames in memory, however long the video is.
    """
    import av

    info = probe_video(path)
    if info.frame_count == 0:
        raise VideoError(f"{path} decodes to no frames")
    wanted_indices = set(sample_indices(info.frame_count, wanted))
    frames: list[tuple[int, np.ndarray]] = []
    try:
        with av.open(str(path), mode="r") as container:
            for index, frame in enumerate(container.decode(video=0)):
                if index in wanted_indices:
                    frames.append((index, frame.to_ndarray(format="rgb24")))
    except (av.error.FFmpegError, OSError) as exc:
        raise VideoError(f"cannot decode {path}: {exc}") from exc
    return frames, info.frame_count, info.fps


def encode_image(image: Image.Image | np.ndarray, max_side: int, image_format: ImageFormat) -> bytes:
    """An image as PNG or JPEG bytes, shrunk (never enlarged) so that its longer side is at most ``max_side``."""
    picture = Image.fromarray(np.ascontiguousarray(image)) if isinstance(image, np.ndarray) else image
    picture = picture.convert("RGB")
    if max(picture.size) > max_side:
        picture.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    if image_format == "png":
        picture.save(buffer, format="PNG")
    else:
        picture.save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def read_input_image(path: Path, max_side: int, image_format: ImageFormat) -> bytes:
    with Image.open(path) as image:
        return encode_image(image, max_side, image_format)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")

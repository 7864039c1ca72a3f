"""The one input-preparation step every API model shares.

Providers want a particular aspect ratio (and often a size). The task's first
frame is *letterboxed*: scaled to fit the model's canvas without cropping and
padded with its own border colour, so no part of the puzzle is lost or
distorted and the padding blends in. What was done is recorded in metadata.
The dataset's files are only read, never modified.
"""

from __future__ import annotations

import base64
import io
import math
from pathlib import Path

import numpy as np
from PIL import Image
from pydantic import BaseModel, ConfigDict, Field


class InputPreparation(BaseModel):
    """How the first frame was turned into the image a provider received."""

    source_size: tuple[int, int]
    aspect_ratio: str
    canvas_size: tuple[int, int]
    scaled_size: tuple[int, int]
    offset: tuple[int, int]  # where the scaled image sits on the canvas (left, top)
    pad_color: tuple[int, int, int]
    format: str
    bytes: int


class PreparedImage(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)

    data: bytes = Field(repr=False, exclude=True)
    mime_type: str
    preparation: InputPreparation

    def data_url(self) -> str:
        return f"data:{self.mime_type};base64,{base64.b64encode(self.data).decode('ascii')}"

    def base64(self) -> str:
        return base64.b64encode(self.data).decode("ascii")


def parse_ratio(aspect_ratio: str) -> float:
    """'16:9' or '1280:720' -> width / height."""
    try:
        w, h = (float(x) for x in aspect_ratio.split(":"))
        if w <= 0 or h <= 0:
            raise ValueError
    except ValueError:
        raise ValueError(f"aspect ratio {aspect_ratio!r} is not of the form W:H") from None
    return w / h


def closest_aspect_ratio(width: int, height: int, choices: list[str]) -> str:
    """The allowed ratio needing the least padding (compared on a log scale)."""
    source = math.log(width / height)
    return min(choices, key=lambda r: abs(math.log(parse_ratio(r)) - source))


def canvas_size(source: tuple[int, int], aspect_ratio: str, short_side: int | None) -> tuple[int, int]:
    """Canvas of the given ratio: from pixel ratios ('1280:720') as is, else sized to hold the source."""
    parts = aspect_ratio.split(":")
    if all(p.isdigit() and int(p) >= 64 for p in parts):
        return int(parts[0]), int(parts[1])  # the ratio names the exact pixel size
    ratio = parse_ratio(aspect_ratio)
    if short_side is None:
        # Hold the source without scaling it down.
        width = max(source[0], round(source[1] * ratio))
        height = max(source[1], round(width / ratio))
        width = round(height * ratio)
    elif ratio >= 1:
        height, width = short_side, round(short_side * ratio)
    else:
        width, height = short_side, round(short_side / ratio)
    return width + width % 2, height + height % 2


def border_color(image: Image.Image) -> tuple[int, int, int]:
    """The median colour of the outermost pixels: padding in it is invisible on flat backgrounds."""
    arr = np.asarray(image.convert("RGB"))
    edges = np.concatenate([arr[0], arr[-1], arr[:, 0], arr[:, -1]])
    r, g, b = (int(v) for v in np.median(edges, axis=0))
    return r, g, b


def prepare_image(
    path: str | Path,
    aspect_ratio: str,
    *,
    short_side: int | None = None,
    image_format: str = "PNG",
    max_bytes: int | None = None,
) -> PreparedImage:
    """Letterbox ``path`` to ``aspect_ratio`` and encode it; never touches the source file."""
    with Image.open(path) as opened:
        source = opened.convert("RGB")
    canvas_w, canvas_h = canvas_size(source.size, aspect_ratio, short_side)
    scale = min(canvas_w / source.width, canvas_h / source.height)
    scaled = (max(1, round(source.width * scale)), max(1, round(source.height * scale)))
    pad = border_color(source)
    canvas = Image.new("RGB", (canvas_w, canvas_h), pad)
    offset = ((canvas_w - scaled[0]) // 2, (canvas_h - scaled[1]) // 2)
    resized = source if scaled == source.size else source.resize(scaled, Image.Resampling.LANCZOS)
    canvas.paste(resized, offset)

    buffer = io.BytesIO()
    fmt = image_format.upper()
    canvas.save(buffer, format=fmt, **({"quality": 95} if fmt == "JPEG" else {}))
    data = buffer.getvalue()
    if max_bytes is not None and len(data) > max_bytes:
        raise ValueError(f"prepared image is {len(data)} bytes, over the provider's limit of {max_bytes}")
    return PreparedImage(
        data=data,
        mime_type="image/jpeg" if fmt == "JPEG" else f"image/{fmt.lower()}",
        preparation=InputPreparation(
            source_size=source.size,
            aspect_ratio=aspect_ratio,
            canvas_size=(canvas_w, canvas_h),
            scaled_size=scaled,
            offset=offset,
            pad_color=pad,
            format=fmt,
            bytes=len(data),
        ),
    )

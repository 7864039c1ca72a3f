"""Mapping a request onto the input fields of one model behind an aggregator."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from vmevalkit.models.api.provider import VideoRequest


@dataclass(frozen=True)
class ModelInputs:
    """How one hosted model names its inputs, from the catalog entry's ``args["inputs"]``.

    Aggregators (fal.ai, Replicate) reach many models whose input fields differ:
    this maps a ``VideoRequest`` onto one model's names, as data, not code.
    """

    image_field: str = "image"
    duration_field: str | None = "duration"
    duration_format: str = "int"  # "int" (5), "string" ("5") or "frames" (num_frames at ``fps``)
    frames_field: str = "num_frames"
    fps_field: str = "frames_per_second"
    fps: int = 16
    resolution_field: str | None = None  # None: the model's fixed or default resolution
    resolution_values: dict[str, str] = field(default_factory=dict)  # catalog value -> the model's value
    aspect_ratio_field: str | None = None  # None: the output follows the (letterboxed) image
    seed_field: str | None = None

    def build(self, request: VideoRequest, image: str) -> dict[str, Any]:
        body: dict[str, Any] = {"prompt": request.prompt, self.image_field: image}
        if self.duration_format == "frames":
            # 5 s at 16 fps is the usual 81 frames: the first frame plus one per 1/fps second.
            body[self.frames_field] = round(request.duration * self.fps) + 1
            body[self.fps_field] = self.fps
        elif self.duration_field:
            seconds = int(request.duration)
            body[self.duration_field] = str(seconds) if self.duration_format == "string" else seconds
        if self.resolution_field and request.resolution:
            body[self.resolution_field] = self.resolution_values.get(request.resolution, request.resolution)
        if self.aspect_ratio_field:
            body[self.aspect_ratio_field] = request.aspect_ratio
        if self.seed_field and request.seed is not None:
            body[self.seed_field] = request.seed
        body.update(request.params)  # catalog defaults and --param extras, under the model's own names
        return body

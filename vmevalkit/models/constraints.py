"""What a model accepts (durations, aspect ratios, ...), what it costs, and checking a request against it.

Everything here is checked before any request is sent: a paid API must never
be the one to tell us that 4 seconds is not a duration it offers.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

DEFAULT_DURATION_SECONDS = 4.0
GENERIC_PARAMS = ("aspect_ratio", "resolution")


class ConstraintError(ValueError):
    """A request the model cannot take; the message says what it accepts."""


class ModelConstraints(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    durations: tuple[float, ...] | None = None  # allowed values, seconds
    duration_range: tuple[float, float] | None = None  # or an inclusive range
    default_duration: float = DEFAULT_DURATION_SECONDS
    aspect_ratios: tuple[str, ...] | None = None  # "16:9" or pixel ratios "1280:720"
    resolutions: tuple[str, ...] | None = None  # e.g. "720p", "1080p"
    default_resolution: str | None = None
    fps: int | None = None
    seed: bool = False  # whether the model takes a seed
    audio: bool = False  # whether it generates sound
    params: tuple[str, ...] = ()  # provider-specific extra parameters it accepts
    max_image_bytes: int | None = None


class Price(BaseModel):
    """List price in US dollars, per second of video or per video."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    usd_per_second: float | None = Field(default=None, ge=0)
    usd_per_video: float | None = Field(default=None, ge=0)
    # Where the provider charges more for more pixels: per-second prices by resolution ("1080p": 0.12).
    usd_per_second_by_resolution: dict[str, float] = Field(default_factory=dict)
    note: str = ""

    def estimate(self, duration: float, resolution: str | None = None) -> float:
        per_second = self.usd_per_second_by_resolution.get(resolution or "", self.usd_per_second or 0.0)
        return (self.usd_per_video or 0.0) + per_second * duration


class ResolvedRequest(BaseModel):
    """A model's duration and the parameters that apply to it, after checking."""

    model_config = ConfigDict(frozen=True)

    duration: float
    params: dict[str, Any] = Field(default_factory=dict)


def _fmt(values: tuple[Any, ...]) -> str:
    return ", ".join(f"{v:g}" if isinstance(v, float) else str(v) for v in values)


def accepted_params(constraints: ModelConstraints | None) -> set[str]:
    if constraints is None:
        return set()
    generic = {"aspect_ratio"} if constraints.aspect_ratios else set()
    if constraints.resolutions:
        generic.add("resolution")
    return generic | set(constraints.params)


def resolve_request(
    name: str, constraints: ModelConstraints | None, duration: float | None, params: dict[str, Any]
) -> ResolvedRequest:
    """Check ``duration`` and the params that apply to this model; raise ConstraintError when off.

    Params the model does not accept are not applied to it (the CLI rejects a
    param that no selected model accepts).
    """
    if constraints is None:
        return ResolvedRequest(duration=duration or DEFAULT_DURATION_SECONDS)
    chosen = constraints.default_duration if duration is None else float(duration)
    if constraints.durations is not None and chosen not in constraints.durations:
        raise ConstraintError(
            f"model '{name}' makes videos of {_fmt(constraints.durations)} s, not {chosen:g} s: "
            f"pass --duration {constraints.durations[0]:g}"
        )
    if constraints.duration_range is not None:
        low, high = constraints.duration_range
        if not low <= chosen <= high:
            raise ConstraintError(f"model '{name}' makes videos of {low:g} to {high:g} s, not {chosen:g} s")
    applied = {k: v for k, v in params.items() if k in accepted_params(constraints)}
    ratio = applied.get("aspect_ratio")
    if ratio is not None and constraints.aspect_ratios and ratio not in constraints.aspect_ratios:
        raise ConstraintError(f"model '{name}' takes aspect ratios {_fmt(constraints.aspect_ratios)}, not {ratio!r}")
    resolution = applied.get("resolution", constraints.default_resolution)
    if resolution is not None and constraints.resolutions and resolution not in constraints.resolutions:
        raise ConstraintError(f"model '{name}' takes resolutions {_fmt(constraints.resolutions)}, not {resolution!r}")
    if resolution is not None:
        applied["resolution"] = resolution
    return ResolvedRequest(duration=chosen, params=applied)

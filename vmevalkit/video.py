"""Reading and writing mp4 files with PyAV (FFmpeg's libraries, shipped in the wheel).

Writers are atomic: frames are encoded into a hidden temp file that is renamed
into place only after the container is closed and decodes, so a killed process
never leaves a half-written video behind under the final name.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import av
import numpy as np
from av.video.stream import VideoStream
from PIL import Image
from pydantic import BaseModel

from vmevalkit.utils.atomic import atomic_path

# Preferred first: H.264 is what every player and browser opens. mpeg4 (Part 2)
# is the fallback for FFmpeg builds without an H.264 encoder.
CODEC_PREFERENCE = ("libx264", "h264", "libopenh264", "mpeg4")


class VideoInfo(BaseModel):
    """What a decoder reports about a video file."""

    path: str
    codec: str
    width: int
    height: int
    fps: float
    frame_count: int
    duration_seconds: float


class VideoError(RuntimeError):
    """A video could not be written or decoded."""


def pick_codec(preference: Iterable[str] = CODEC_PREFERENCE) -> str:
    available = av.codecs_available
    for name in preference:
        if name in available:
            try:
                av.codec.Codec(name, "w")
            except Exception:  # listed, but this build cannot encode with it
                continue
            return name
    raise VideoError("this FFmpeg build has no usable video encoder (tried: " + ", ".join(preference) + ")")


def as_rgb_array(frame: np.ndarray | Image.Image) -> np.ndarray:
    """Any PIL image or HxW / HxWx3 / HxWx4 array as a contiguous HxWx3 uint8 array."""
    if isinstance(frame, Image.Image):
        return np.asarray(frame.convert("RGB"), dtype=np.uint8)
    arr = np.asarray(frame)
    if arr.dtype != np.uint8:
        arr = np.clip(arr, 0, 255).astype(np.uint8)
    if arr.ndim == 2:
        arr = np.stack([arr] * 3, axis=-1)
    if arr.ndim != 3 or arr.shape[2] not in (3, 4):
        raise VideoError(f"a frame must be HxWx3 RGB, got shape {arr.shape}")
    return np.ascontiguousarray(arr[:, :, :3])


def _pad_to_even(arr: np.ndarray) -> np.ndarray:
    # yuv420p needs even width and height; pad with edge pixels instead of scaling,
    # so the picture itself is untouched.
    h, w = arr.shape[:2]
    if h % 2 == 0 and w % 2 == 0:
        return arr
    return np.pad(arr, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")


def write_video(
    frames: Iterable[np.ndarray | Image.Image],
    path: str | Path,
    fps: int = 16,
    *,
    crf: int = 17,
    codec: str | None = None,
) -> VideoInfo:
    """Encode RGB frames to an mp4 at ``path`` atomically and describe what was written."""
    path = Path(path)
    codec = codec or pick_codec()
    count = 0
    with atomic_path(path) as tmp:
        container = av.open(str(tmp), mode="w", format="mp4")
        try:
            stream: VideoStream | None = None
            for frame in frames:
                arr = _pad_to_even(as_rgb_array(frame))
                if stream is None:
                    added = container.add_stream(codec, rate=fps)
                    if not isinstance(added, VideoStream):
                        raise VideoError(f"codec {codec} is not a video codec")
                    stream = added
                    stream.height, stream.width = arr.shape[:2]
                    stream.pix_fmt = "yuv420p"
                    if codec in ("libx264", "h264"):
                        # near-lossless so first/last frames can be compared to the task's PNGs
                        stream.options = {"crf": str(crf), "preset": "veryfast"}
                    else:
                        stream.bit_rate = 4_000_000
                elif arr.shape[:2] != (stream.height, stream.width):
                    raise VideoError(
                        f"frame {count} is {arr.shape[1]}x{arr.shape[0]}, expected {stream.width}x{stream.height}"
                    )
                for packet in stream.encode(av.VideoFrame.from_ndarray(arr, format="rgb24")):
                    container.mux(packet)
                count += 1
            if stream is None:
                raise VideoError(f"no frames to write to {path}")
            for packet in stream.encode():
                container.mux(packet)
        finally:
            container.close()
    # Described from what was encoded, not by decoding the file again: whoever
    # accepts the video (the runner) decodes it once, whatever model wrote it.
    return VideoInfo(
        path=str(path),
        codec=stream.codec_context.name,
        width=stream.width,
        height=stream.height,
        fps=float(fps),
        frame_count=count,
        duration_seconds=round(count / fps, 4),
    )


def _open(path: str | Path) -> av.container.InputContainer:
    try:
        return av.open(str(path), mode="r")
    except (av.error.FFmpegError, OSError) as exc:
        raise VideoError(f"cannot open video {path}: {exc}") from exc


def probe_video(path: str | Path) -> VideoInfo:
    """Decode ``path`` fully (containers may lie about frame counts) and describe it."""
    with _open(path) as container:
        if not container.streams.video:
            raise VideoError(f"{path} has no video stream")
        stream = container.streams.video[0]
        count = 0
        try:
            for _ in container.decode(stream):
                count += 1
        except av.error.FFmpegError as exc:
            raise VideoError(f"cannot decode {path}: {exc}") from exc
        fps = float(stream.average_rate or stream.guessed_rate or 0)
        return VideoInfo(
            path=str(path),
            codec=stream.codec_context.name,
            width=stream.codec_context.width,
            height=stream.codec_context.height,
            fps=fps,
            frame_count=count,
            duration_seconds=round(count / fps, 4) if fps else 0.0,
        )


def read_frames(path: str | Path) -> np.ndarray:
    """All frames of a video as an ``[N, H, W, 3]`` uint8 array."""
    with _open(path) as container:
        try:
            frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
        except av.error.FFmpegError as exc:
            raise VideoError(f"cannot decode {path}: {exc}") from exc
    if not frames:
        raise VideoError(f"{path} decodes to no frames")
    return np.stack(frames)

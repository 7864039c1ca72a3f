"""Loading and validating a task dataset.

Layout: ``<questions_dir>/<domain>_task/<task_id>/`` with ``first_frame.png``,
``prompt.txt``, ``question_metadata.json`` and, optionally, ``final_frame.png``
(the ground truth). A task that fails validation is reported and skipped; the
others still run.

Every task file must be a regular file that resolves inside the questions
directory (a symlink within the dataset is fine; one that leads out of it, a
FIFO, a device or a directory is not). Each file is read once: images are
decoded from the bytes read, after their dimensions (from the header) pass
``max_image_pixels``; the metadata must fit ``max_metadata_bytes`` and nest at
most ``max_metadata_depth`` deep. The ``*_sha256`` fields of a task are hashes
of those same bytes.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import stat
import struct
from dataclasses import dataclass
from itertools import accumulate
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from vmevalkit.utils.imports import suggest

FIRST_FRAME = "first_frame.png"
FINAL_FRAME = "final_frame.png"
PROMPT = "prompt.txt"
METADATA = "question_metadata.json"
GROUND_TRUTH_VIDEO = "ground_truth.mp4"
DOMAIN_SUFFIX = "_task"

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


class Task(BaseModel):
    """One validated task, ready to be given to a model."""

    model_config = ConfigDict(frozen=True)

    task_id: str
    domain: str
    path: Path
    prompt: str
    metadata: dict[str, Any] = Field(default_factory=dict)
    # Hashes of the bytes the loader read (and validated): what a run id must depend on.
    first_frame_sha256: str
    final_frame_sha256: str | None  # None: the task has no final frame
    metadata_sha256: str  # of b"" when the task has no metadata file
    # A solution video shipped with the task (``ground_truth.mp4``), checked like every other file.
    ground_truth_video: Path | None = None

    @property
    def first_frame(self) -> Path:
        return self.path / FIRST_FRAME

    @property
    def final_frame(self) -> Path | None:
        return self.path / FINAL_FRAME if self.final_frame_sha256 is not None else None


class TaskProblem(BaseModel):
    """A task folder that was skipped, and why."""

    task_id: str
    domain: str
    path: Path
    reason: str


class TaskSet(BaseModel):
    tasks: list[Task] = Field(default_factory=list)
    problems: list[TaskProblem] = Field(default_factory=list)

    def domains(self) -> list[str]:
        return sorted({t.domain for t in self.tasks})


class TaskSelectionError(ValueError):
    """The selection (questions dir, domains, task ids) matches nothing it should."""


def discover(questions_dir: Path) -> dict[str, list[Path]]:
    """Task folders by domain, sorted, without opening any file."""
    if not questions_dir.is_dir():
        raise TaskSelectionError(
            f"questions directory '{questions_dir}' does not exist: pass --questions-dir, "
            "or build the sample with 'vmevalkit tasks build'"
        )
    found: dict[str, list[Path]] = {}
    for domain_dir in sorted(questions_dir.iterdir()):
        if domain_dir.is_dir() and domain_dir.name.endswith(DOMAIN_SUFFIX):
            domain = domain_dir.name[: -len(DOMAIN_SUFFIX)]
            found[domain] = sorted(p for p in domain_dir.iterdir() if p.is_dir() and not p.name.startswith("."))
    return found


@dataclass(frozen=True)
class LoadLimits:
    """What one task may hold; a task over a limit is invalid, with the limit and its setting named."""

    max_image_pixels: int
    max_metadata_bytes: int
    max_metadata_depth: int

    @classmethod
    def from_settings(
        cls,
        max_image_pixels: int | None = None,
        max_metadata_bytes: int | None = None,
        max_metadata_depth: int | None = None,
    ) -> LoadLimits:
        """The limits given, the rest from ``get_settings()``."""
        if max_image_pixels is None or max_metadata_bytes is None or max_metadata_depth is None:
            from vmevalkit.settings import get_settings

            settings = get_settings()
            max_image_pixels = settings.max_image_pixels if max_image_pixels is None else max_image_pixels
            max_metadata_bytes = settings.max_metadata_bytes if max_metadata_bytes is None else max_metadata_bytes
            max_metadata_depth = settings.max_metadata_depth if max_metadata_depth is None else max_metadata_depth
        return cls(max_image_pixels, max_metadata_bytes, max_metadata_depth)


_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
_FILE_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def _kind(mode: int) -> str:
    return next((kind for test, kind in _FILE_KINDS if test(mode)), "not a regular file")


def _regular_file(folder: Path, name: str, root: Path) -> tuple[Path, os.stat_result] | None:
    """The real path of ``folder/name`` and its stat, without opening it; None when there is no such entry at all.

    Raises ValueError unless it is a regular file whose real path lies inside ``root`` (a resolved directory)."""
    path = folder / name
    try:
        os.lstat(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ValueError(f"{name} cannot be read ({exc.strerror or exc})") from None
    real = Path(os.path.realpath(path))
    if not real.is_relative_to(root):
        raise ValueError(f"{name} resolves outside the questions directory (to {real})")
    try:
        info = os.stat(real)
    except FileNotFoundError:
        raise ValueError(f"{name} is a broken symlink") from None
    except OSError as exc:  # a symlink loop, a permission problem
        raise ValueError(f"{name} cannot be read ({exc.strerror or exc})") from None
    if not stat.S_ISREG(info.st_mode):
        raise ValueError(f"{name} is not a regular file (it is {_kind(info.st_mode)})")
    return real, info


def locate_task_file(folder: Path, name: str, root: Path) -> Path | None:
    """The real path of ``folder/name`` without reading it; None when there is no such entry at all.

    Raises ValueError unless it is a regular file whose real path lies inside ``root`` (a resolved directory)."""
    found = _regular_file(folder, name, root)
    return None if found is None else found[0]


def read_task_file(
    folder: Path, name: str, root: Path, max_bytes: int | None = None, setting: str = "VMEVALKIT_MAX_METADATA_BYTES"
) -> bytes | None:
    """The bytes of ``folder/name``; None when there is no such entry at all.

    Raises ValueError unless it is a regular file whose real path lies inside ``root`` (a resolved
    directory) and, with ``max_bytes``, no larger than that (``setting`` raises the limit). Never opens
    anything but a regular file, so a FIFO or a device can not block or feed it endless data."""
    found = _regular_file(folder, name, root)
    if found is None:
        return None
    real, info = found
    if max_bytes is not None and info.st_size > max_bytes:
        raise _too_big(name, info.st_size, max_bytes, setting)
    try:
        fd = os.open(real, _OPEN_FLAGS)
    except OSError as exc:
        raise ValueError(f"{name} cannot be read ({exc.strerror or exc})") from None
    with open(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):  # swapped since the check above
            raise ValueError(f"{name} is not a regular file")
        data = handle.read() if max_bytes is None else handle.read(max_bytes + 1)
    if max_bytes is not None and len(data) > max_bytes:  # grew since the check above
        raise _too_big(name, len(data), max_bytes, setting)
    return data


def _too_big(name: str, size: int, limit: int, setting: str) -> ValueError:
    return ValueError(f"{name} is {size:,} bytes, over the limit of {limit:,} (set {setting} to allow more)")


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _png_size(data: bytes) -> tuple[int, int] | None:
    """Width and height from a PNG's IHDR chunk (no decoding); None when ``data`` is not a PNG."""
    if len(data) >= 24 and data.startswith(_PNG_SIGNATURE) and data[12:16] == b"IHDR":
        width, height = struct.unpack(">II", data[16:24])
        return width, height
    return None


def _check_pixels(name: str, width: int, height: int, limit: int) -> None:
    if width * height > limit:
        raise ValueError(
            f"{name} is {width}x{height} ({width * height:,} pixels), over the limit of {limit:,} "
            "(set VMEVALKIT_MAX_IMAGE_PIXELS to allow more)"
        )


def check_image(name: str, data: bytes, max_pixels: int) -> None:
    """Raise ValueError unless ``data`` is an image of at most ``max_pixels`` that decodes completely.

    The size is checked from the header before any pixel is decoded."""
    from PIL import Image, UnidentifiedImageError

    size = _png_size(data)
    if size is not None:
        _check_pixels(name, size[0], size[1], max_pixels)
    try:
        im = Image.open(io.BytesIO(data))  # lazy: reads the header only
    except Image.DecompressionBombError as exc:  # only where max_pixels is above Pillow's own limit
        raise ValueError(f"{name} is larger than Pillow decodes ({exc})") from None
    except UnidentifiedImageError:
        raise ValueError(f"{name} is not a readable image (not in any image format Pillow knows)") from None
    except Exception as exc:  # Pillow raises many kinds: OSError, SyntaxError, ValueError, struct.error, ...
        raise ValueError(f"{name} is not a readable image ({type(exc).__name__}: {exc})") from None
    with im:
        _check_pixels(name, im.width, im.height, max_pixels)
        try:
            im.load()  # a full decode: verify() misses truncated pixel data
        except Exception as exc:
            raise ValueError(f"{name} is not a readable image ({type(exc).__name__}: {exc})") from None


# Strings (with their escapes) are skipped when measuring depth: brackets inside them do not nest.
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKETS = bytes(sorted(set(range(256)) - set(b"[]{}")))
# Opening brackets count +1 and closing ones -1, as signed bytes.
_BRACKET_STEPS = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")


def json_depth(data: bytes) -> int:
    """How deep objects and arrays nest in the JSON text ``data`` (``{}`` is 1), without parsing it.

    Runs in C (a regex, two translations, one accumulate) rather than a Python loop per character, and
    works on any depth, where a parser would hit the recursion limit."""
    brackets = _JSON_STRING.sub(b"", data).translate(None, _NOT_BRACKETS)
    if not brackets:
        return 0
    steps = memoryview(brackets.translate(_BRACKET_STEPS)).cast("b")
    return max(accumulate(steps))


def parse_metadata(data: bytes, max_depth: int) -> dict[str, Any]:
    """The JSON object in ``data``; raises ValueError naming what is wrong."""
    depth = json_depth(data)
    if depth > max_depth:
        raise ValueError(
            f"{METADATA} nests {depth:,} levels deep, over the limit of {max_depth:,} "
            "(set VMEVALKIT_MAX_METADATA_DEPTH to allow more)"
        )
    try:
        metadata = json.loads(data.decode("utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{METADATA} is not valid JSON ({exc})") from None
    except RecursionError:
        raise ValueError(f"{METADATA} nests too deep for the JSON parser ({depth:,} levels)") from None
    if not isinstance(metadata, dict):
        raise ValueError(f"{METADATA} must hold a JSON object")
    return metadata


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def validate_task(path: Path, domain: str, *, root: Path | None = None, limits: LoadLimits | None = None) -> Task:
    """Read and check one task folder; raises ValueError naming what is wrong.

    ``root`` is the questions directory every file must resolve inside (default: the folder two levels
    up, as in ``<root>/<domain>_task/<task_id>``); ``limits`` default to the settings."""
    root = Path(os.path.realpath(root if root is not None else path.parent.parent))
    limits = limits or LoadLimits.from_settings()

    # Every file is read (and its place checked) before anything is decoded or parsed.
    first = read_task_file(path, FIRST_FRAME, root)
    if first is None:
        raise ValueError(f"missing {FIRST_FRAME}")
    final = read_task_file(path, FINAL_FRAME, root)
    prompt_bytes = read_task_file(path, PROMPT, root)
    if prompt_bytes is None:
        raise ValueError(f"missing {PROMPT}")
    meta_bytes = read_task_file(path, METADATA, root, max_bytes=limits.max_metadata_bytes)
    video = locate_task_file(path, GROUND_TRUTH_VIDEO, root)

    check_image(FIRST_FRAME, first, limits.max_image_pixels)
    if final is not None:
        check_image(FINAL_FRAME, final, limits.max_image_pixels)
    try:
        prompt = prompt_bytes.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise ValueError(f"{PROMPT} is not UTF-8 text") from None
    if not prompt:
        raise ValueError(f"{PROMPT} is empty")
    metadata = parse_metadata(meta_bytes, limits.max_metadata_depth) if meta_bytes is not None else {}
    return Task(
        task_id=path.name,
        domain=domain,
        path=path,
        prompt=prompt,
        metadata=metadata,
        first_frame_sha256=_sha256(first),
        final_frame_sha256=_sha256(final) if final is not None else None,
        metadata_sha256=_sha256(meta_bytes or b""),
        ground_truth_video=path / GROUND_TRUTH_VIDEO if video is not None else None,
    )


def load_tasks(
    questions_dir: str | Path,
    *,
    domains: list[str] | None = None,
    task_ids: list[str] | None = None,
    limit_per_domain: int | None = None,
    max_image_pixels: int | None = None,
    max_metadata_bytes: int | None = None,
    max_metadata_depth: int | None = None,
) -> TaskSet:
    """Select, validate and return tasks. Unknown domains or task ids raise TaskSelectionError.

    The limits on one task default to the settings (``VMEVALKIT_MAX_IMAGE_PIXELS``, ...). Whatever goes
    wrong while loading one task (also an unexpected exception) makes that task invalid, with the reason."""
    questions_dir = Path(questions_dir)
    limits = LoadLimits.from_settings(max_image_pixels, max_metadata_bytes, max_metadata_depth)
    by_domain = discover(questions_dir)
    if domains:
        unknown = [d for d in domains if d not in by_domain]
        if unknown:
            raise TaskSelectionError(
                f"no domain {', '.join(repr(d) for d in unknown)} in {questions_dir}"
                f"{suggest(unknown[0], by_domain)}; found: {', '.join(by_domain) or 'none'}"
            )
        by_domain = {d: by_domain[d] for d in by_domain if d in domains}
    if task_ids:
        wanted = set(task_ids)
        all_ids = {p.name for paths in by_domain.values() for p in paths}
        missing = [t for t in task_ids if t not in all_ids]
        if missing:
            raise TaskSelectionError(f"task {missing[0]!r} not found in {questions_dir}{suggest(missing[0], all_ids)}")
        by_domain = {d: [p for p in paths if p.name in wanted] for d, paths in by_domain.items()}

    root = Path(os.path.realpath(questions_dir))
    result = TaskSet()
    for domain, paths in by_domain.items():
        taken = 0
        for path in paths:
            if limit_per_domain is not None and taken >= limit_per_domain:
                break
            try:
                result.tasks.append(validate_task(path, domain, root=root, limits=limits))
                taken += 1
            except ValueError as exc:
                result.problems.append(TaskProblem(task_id=path.name, domain=domain, path=path, reason=str(exc)))
            except Exception as exc:  # the last line of defence: one task never aborts the load
                reason = f"could not be loaded ({type(exc).__name__}: {exc})"
                result.problems.append(TaskProblem(task_id=path.name, domain=domain, path=path, reason=reason))
    return result

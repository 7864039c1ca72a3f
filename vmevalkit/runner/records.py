"""What lands on disk for one generation, and how the runner finds it again.

``<output>/<experiment>/<model>/<domain>_task/<task_id>/<run_id>/`` holds
``video/<model>_<task_id>.mp4``, ``question/`` (a copy of the inputs) and
``metadata.json``. A generation is done only when its metadata says
``"status": "completed"``; the metadata is always written last, atomically.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import platform
import socket
import stat
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from vmevalkit import __version__
from vmevalkit.models.base import GenerationResult
from vmevalkit.runner.registry import CatalogEntry
from vmevalkit.tasks.loader import Task
from vmevalkit.video import VideoInfo

METADATA_FILE = "metadata.json"
CLAIM_FILE = ".claim"
RECORD_SCHEMA_VERSION = 1

RecordStatus = Literal["running", "completed", "failed"]


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


class GenerationRecord(BaseModel):
    """The contents of ``metadata.json``. Never holds a secret."""

    model_config = ConfigDict(extra="allow")

    schema_version: int = RECORD_SCHEMA_VERSION
    status: RecordStatus
    model: str  # catalog name
    model_id: str  # the provider's id
    family: str
    kind: str
    task_id: str
    domain: str
    run_id: str
    seed: int
    duration: float
    params: dict[str, Any] = Field(default_factory=dict)
    prompt: str
    video: str | None = None  # relative to the generation folder
    video_info: VideoInfo | None = None  # what the runner's decoder saw; path relative too
    # Recorded when the video completes: a resume checks the size (cheap), --verify the hash.
    video_size: int | None = None
    video_sha256: str | None = None
    error: str | None = None
    result: GenerationResult | None = None
    attempts: int = 0
    started_at: str | None = None
    finished_at: str | None = None
    # A provider's job id and whatever else an executor needs to resume the
    # same paid job after a crash instead of submitting (and paying) again.
    provider_state: dict[str, Any] = Field(default_factory=dict)
    checkpoint: str | None = None  # local models: the weights that made the video
    environment: dict[str, str] = Field(default_factory=dict)
    # Imported videos only (runner/importing.py): {source_path, source_sha256, imported_at, format}.
    provenance: dict[str, Any] | None = None


def environment_info() -> dict[str, str]:
    return {
        "vmevalkit": __version__,
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
        "host": socket.gethostname(),
        "pid": str(os.getpid()),
    }


@dataclass(frozen=True)
class GenerationSpec:
    """One (model, task, seed, settings) combination: exactly one folder on disk."""

    entry: CatalogEntry
    task: Task
    seed: int
    duration: float
    params: tuple[tuple[str, Any], ...] = ()
    checkpoint: str | None = None  # local models: which weights (a pinned commit, or a folder)
    ground_truth: bool = False  # the wrapper receives the answer (final frame, solution metadata)

    @property
    def run_id(self) -> str:
        # Stable across runs, so a re-run finds its own work; changes whenever
        # anything that changes the video changes (prompt, input image, model id, args,
        # params, weights, and for wrappers handed the answer, the answer).
        extra: dict[str, Any] = {"checkpoint": self.checkpoint} if self.checkpoint is not None else {}
        if self.ground_truth:
            extra["final_frame_sha256"] = self.task.final_frame_sha256
            extra["metadata_sha256"] = self.task.metadata_sha256
        key = json.dumps(
            {
                **extra,
                "first_frame_sha256": self.task.first_frame_sha256,
                "model": self.entry.name,
                "model_id": self.entry.model,
                "args": self.entry.args,
                "task": self.task.task_id,
                "prompt": self.task.prompt,
                "seed": self.seed,
                "duration": self.duration,
                "params": dict(self.params),
            },
            sort_keys=True,
            default=str,
        )
        return f"s{self.seed}-{hashlib.sha256(key.encode()).hexdigest()[:10]}"

    def run_dir(self, experiment_dir: Path) -> Path:
        # One joinpath, not four '/': this runs once per generation in every resume scan.
        return experiment_dir.joinpath(self.entry.name, f"{self.task.domain}_task", self.task.task_id, self.run_id)

    def estimated_cost(self) -> float:
        """List price of this generation (0 for free models)."""
        price = self.entry.price
        return price.estimate(self.duration, dict(self.params).get("resolution")) if price else 0.0

    @property
    def video_name(self) -> str:
        return f"{self.entry.name}_{self.task.task_id}.mp4"

    def new_record(self, **fields: Any) -> GenerationRecord:
        return GenerationRecord(
            model=self.entry.name,
            model_id=self.entry.model,
            family=self.entry.family,
            kind=self.entry.kind,
            task_id=self.task.task_id,
            domain=self.task.domain,
            run_id=self.run_id,
            seed=self.seed,
            duration=self.duration,
            params=dict(self.params),
            prompt=self.task.prompt,
            checkpoint=self.checkpoint,
            environment=environment_info(),
            **fields,
        )


def read_status(run_dir: Path) -> RecordStatus | None:
    """The status in ``run_dir/metadata.json`` without building a model: the hot path of a resume scan."""
    return scan_state(run_dir)[0]


def scan_state(run_dir: Path, *, verify: bool = False) -> tuple[RecordStatus | None, str | None]:
    """The status in ``run_dir/metadata.json`` and, for a completed one, why its video no longer counts.

    The hot path of a resume scan: no model is built. A completed record's video must still be
    there, inside the run folder, at the size recorded when it completed (one ``stat``);
    ``verify`` also rehashes it against the recorded sha256. A problem found makes the
    generation one to redo, and the returned reason says why.
    """
    try:
        with open(os.path.join(run_dir, METADATA_FILE), "rb") as fh:
            data = json.loads(fh.read())
        status = data.get("status")
    except (FileNotFoundError, NotADirectoryError):
        return None, None
    except (OSError, ValueError, AttributeError, RecursionError):
        return None, None  # unreadable metadata means not done; it is rewritten on the next attempt
    if status not in ("running", "completed", "failed"):
        return None, None
    if status != "completed":
        return status, None
    return status, video_problem(run_dir, data.get("video"), data.get("video_size"), data.get("video_sha256"), verify)


def video_problem(run_dir: Path, video: Any, size: Any, sha256: Any, verify: bool = False) -> str | None:
    """Why the recorded video of a completed generation does not count any more, or None when it does.

    Cheap enough for a scan of thousands: the path is checked as text (relative, no ``..``) and
    the file with one ``lstat``; a video we wrote is a regular file, never a link, so a link (which
    could lead anywhere) does not count either.
    """
    if not isinstance(video, str) or not video:
        return "its metadata names no video"
    relative = os.path.normpath(video)
    if os.path.isabs(relative) or relative == ".." or relative.startswith(".." + os.sep):
        return f"its video path {video!r} points outside the generation folder"
    path = os.path.join(run_dir, relative)
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return "its video is missing (deleted or moved since it completed)"
    except OSError as exc:
        return f"its video cannot be read ({exc.strerror or exc})"
    if not stat.S_ISREG(info.st_mode):
        return "its video is not a regular file (a link, a folder or a device)"
    if isinstance(size, int) and info.st_size != size:
        return f"its video changed size since it completed ({size} -> {info.st_size} bytes)"
    if verify and isinstance(sha256, str):
        try:
            actual = file_sha256(Path(path))
        except OSError as exc:
            return f"its video cannot be read ({exc.strerror or exc})"
        if actual != sha256:
            return "its video changed since it completed (sha256 differs)"
    return None


def file_sha256(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def read_record(run_dir: Path) -> GenerationRecord | None:
    try:
        return GenerationRecord.model_validate_json((run_dir / METADATA_FILE).read_bytes())
    except (FileNotFoundError, ValueError):
        return None


class Claim:
    """An exclusive, crash-proof claim on one generation folder.

    ``flock`` locks belong to the open file: the kernel drops them when the
    process dies, even by SIGKILL, so a killed run never leaves a stale claim.
    """

    def __init__(self, fd: int) -> None:
        self._fd: int | None = fd

    @classmethod
    def try_acquire(cls, run_dir: Path) -> Claim | None:
        run_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(run_dir / CLAIM_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                return None
            raise
        # Who holds it, for the message a peer prints; informative only (the lock is the claim).
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()}\n".encode(), 0)
        return cls(fd)

    @staticmethod
    def holder(run_dir: Path) -> str:
        """Who holds the claim on ``run_dir``, as its holder wrote it ("pid N on HOST"), or "another process"."""
        try:
            text = (run_dir / CLAIM_FILE).read_text(encoding="utf-8", errors="replace").strip()
        except OSError:
            text = ""
        return text[:100] if text.startswith("pid ") else "another process"

    def release(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> Claim:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

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

    @property
    def run_id(self) -> str:
        # Stable across runs, so a re-run finds its own work; changes whenever
        # anything that changes the video changes (prompt, model id, args, params, weights).
        extra = {"checkpoint": self.checkpoint} if self.checkpoint is not None else {}
        key = json.dumps(
            {
                **extra,
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
        return experiment_dir / self.entry.name / f"{self.task.domain}_task" / self.task.task_id / self.run_id

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
    try:
        with open(run_dir / METADATA_FILE, "rb") as fh:
            status = json.loads(fh.read()).get("status")
    except (FileNotFoundError, NotADirectoryError):
        return None
    except (json.JSONDecodeError, UnicodeDecodeError, AttributeError):
        return None  # unreadable metadata means not done; it is rewritten on the next attempt
    return status if status in ("running", "completed", "failed") else None


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
        return cls(fd)

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

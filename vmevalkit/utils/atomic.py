"""Atomic file writes: a reader (or a crash) never sees a half-written file.

Every file we produce is written to a hidden temporary file in the destination
folder, flushed to disk, then renamed over the destination. ``os.replace`` is
atomic on POSIX within one filesystem, which is why the temp file lives next to
its destination rather than in /tmp.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

TEMP_MARKER = ".tmp-"


def temp_path_for(path: Path) -> Path:
    """A unique hidden sibling of ``path`` that keeps its suffix (codecs pick formats by suffix)."""
    return path.with_name(f".{path.stem}{TEMP_MARKER}{os.getpid()}-{uuid.uuid4().hex[:8]}{path.suffix}")


def is_temp_file(path: Path) -> bool:
    return path.name.startswith(".") and TEMP_MARKER in path.name


def _fsync_dir(directory: Path) -> None:
    with contextlib.suppress(OSError):  # some filesystems refuse fsync on a directory
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temp path to write; on success it is renamed to ``path``, on error removed."""
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path_for(final)
    try:
        yield tmp
        if not tmp.exists():
            raise FileNotFoundError(f"nothing was written to {tmp} for {final}")
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, final)
        _fsync_dir(final.parent)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def finite_json(value: Any) -> Any:
    """``value`` with every NaN or infinite float replaced by None (JSON ``null``).

    ``json.dumps`` would write ``NaN`` and ``Infinity``, which are not JSON: strict
    parsers (browsers, ``jq``, most languages) refuse the whole file.
    """
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_json(v) for v in value]
    return value


def strict_json_dumps(data: Any, **kwargs: Any) -> str:
    """Strict JSON: non-finite numbers become ``null``; ``allow_nan=False`` guards what slips through."""
    return json.dumps(finite_json(data), allow_nan=False, ensure_ascii=False, default=str, **kwargs)


def atomic_write_json(path: str | os.PathLike[str], data: Any) -> None:
    """Write strict JSON (never ``NaN`` or ``Infinity`` tokens) atomically."""
    atomic_write_text(path, strict_json_dumps(data, indent=2) + "\n")


def atomic_copy(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
    with atomic_path(dst) as tmp:
        shutil.copyfile(src, tmp)


def remove_temp_files(root: Path) -> int:
    """Delete temp files left under ``root`` by a writer that was killed. Returns how many."""
    removed = 0
    if not root.exists():
        return 0
    for p in root.rglob(f".*{TEMP_MARKER}*"):
        if p.is_file() and is_temp_file(p):
            with contextlib.suppress(FileNotFoundError):
                p.unlink()
                removed += 1
    return removed

"""Sizes on disk, measured and shown one way everywhere (the installer, ``--list``, ``vmevalkit local``)."""

from __future__ import annotations

import os
from pathlib import Path


def folder_size(path: Path) -> int:
    """Bytes of the files under ``path`` (links not followed): the one measure of a venv's or checkpoint's size, which
    the installer (``vmevalkit local size``, in the venv) and ``--list`` both print."""
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                pass
    return total


def human(size: int | None) -> str:
    if size is None:
        return "-"
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit in ("B", "KB") else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TB"

"""Files as bytes across Ray: no node shares a filesystem with the driver.

A ``Bundle`` maps relative POSIX paths to file contents. The driver packs what a job reads (a first frame, a task's
answer files, a video to score); the actor unpacks it under a private folder of its node and works there. A path
in a bundle is data from the driver, and still checked: ``unpack`` writes nothing outside its root.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path, PurePosixPath

Bundle = dict[str, bytes]


class BundleError(ValueError):
    """A bundle path that is absolute, empty or climbs out of the folder it is unpacked into."""


def pack(root: Path, relative: Iterable[str]) -> Bundle:
    """The files ``root/<rel>`` for each ``rel`` that is a file (the others are left out)."""
    bundle: Bundle = {}
    for rel in relative:
        path = root / rel
        if path.is_file():
            bundle[PurePosixPath(rel).as_posix()] = path.read_bytes()
    return bundle


def pack_folder(folder: Path, prefix: str) -> Bundle:
    """Every file directly in ``folder``, under ``prefix/`` (a task's question folder is flat)."""
    if not folder.is_dir():
        return {}
    return {f"{prefix}/{p.name}": p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def checked(rel: str) -> PurePosixPath:
    path = PurePosixPath(rel)
    if not rel or path.is_absolute() or any(part in ("", ".", "..") for part in path.parts):
        raise BundleError(f"bundle path {rel!r} must be relative and stay inside its folder")
    return path


def unpack(bundle: Mapping[str, bytes], root: Path) -> None:
    """Write every file of ``bundle`` under ``root`` (created as needed)."""
    for rel, data in bundle.items():
        target = root.joinpath(*checked(rel).parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


def size_of(bundle: Mapping[str, bytes]) -> int:
    return sum(len(data) for data in bundle.values())

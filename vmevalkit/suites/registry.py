"""Named benchmarks: the suites ``vmevalkit run NAME`` finds without a path.

Three sources, each a map from a name to a suite file:

- ``env``: the variable ``VMEVALKIT_BENCHMARKS``, a list of files and folders separated like ``PATH`` (``:``, or
  ``;`` on Windows); a folder holds ``*.toml`` and ``*.json`` suites. The name is the file's name without suffix.
- ``entry point``: installed packages that declare, in the group ``vmevalkit.benchmarks``, ``NAME = "pkg.mod:func"``
  (a function called with no argument that returns the suite file's path, or a path object) or ``NAME = "path"``.
- ``shipped``: ``vmevalkit/suites/benchmarks/*.toml``, package data.

When two sources name the same benchmark, the first in that order wins: a user's own file beats an installed
plugin, which beats what ships. A user may pin their own ``quick`` while the shipped one changes; the result JSON
records the suite's content hash, so ``vmevalkit compare`` shows when two runs of "quick" were not the same file,
and ``vmevalkit benchmarks`` lists what each winner shadows. Within the variable, its earlier entries win (as in
``PATH``); within a folder, files in name order (``a.json`` before ``a.toml``); between entry points, packages in
name order.

Resolving a name loads only the entry point that wins it; listing loads them all (a broken one is listed with its
error rather than stopping the listing).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vmevalkit.suites.schema import SuiteError

ENV_VAR = "VMEVALKIT_BENCHMARKS"
ENTRY_POINT_GROUP = "vmevalkit.benchmarks"
SHIPPED_DIR = Path(__file__).parent / "benchmarks"
SUFFIXES = (".toml", ".json")
SOURCES = ("env", "entry point", "shipped")  # in the order they win
# "package.module:attr": an entry point value that names an object, not a path (a Windows "C:\\x" is a path).
_OBJECT_REF = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_][\w.]*")


@dataclass(frozen=True)
class BenchmarkInfo:
    name: str
    source: str  # one of SOURCES
    path: Path | None  # None: an entry point that did not load (description says why)
    description: str
    shadows: tuple[str, ...] = ()  # the sources of the same name it wins over


@dataclass(frozen=True)
class _Candidate:
    name: str
    source: str
    origin: str  # where it was declared: the variable's entry, the distribution, the shipped folder
    locate: Callable[[], Path]


def resolve(name_or_path: str) -> Path:
    """The suite file of a benchmark name, or of a path (anything with a separator or a suite suffix, or an
    existing file). ``SuiteError`` for a missing file, an unknown name (with the known ones and a close match), or
    an entry point that does not give a file."""
    text = name_or_path.strip()
    as_path = Path(text).expanduser()
    if _looks_like_path(text) or as_path.is_file():
        if not as_path.is_file():
            raise _error(f"{text}: no such suite file")
        return as_path.resolve()
    winners = _winners()
    if text not in winners:
        from vmevalkit.utils.imports import suggest

        known = ", ".join(sorted(winners)) or "none"
        raise _error(
            f"unknown benchmark '{text}'{suggest(text, winners)}; known: {known}. Give a suite file's path, or add "
            f"yours with {ENV_VAR} or the entry point group {ENTRY_POINT_GROUP}; 'vmevalkit benchmarks' lists them"
        )
    return _located(winners[text][0])


def list_benchmarks() -> list[BenchmarkInfo]:
    """Every benchmark by name (the winner of each name), with its source, file and description."""
    infos = []
    for name, candidates in sorted(_winners().items()):
        first = candidates[0]
        shadows = tuple(c.source for c in candidates[1:])
        try:
            path: Path | None = _located(first)
            description = _description(path) if path else ""
        except SuiteError as exc:
            path, description = None, f"(broken: {exc})"
        infos.append(BenchmarkInfo(name, first.source, path, description, shadows))
    return infos


def _error(message: str) -> SuiteError:
    return SuiteError([message])  # one problem: SuiteError holds one line per problem


def _looks_like_path(text: str) -> bool:
    return "/" in text or os.sep in text or text.endswith(SUFFIXES) or text.startswith(("~", "."))


def _winners() -> dict[str, list[_Candidate]]:
    """name -> its candidates, the winner first (sources in ``SOURCES`` order, each in its own order)."""
    found: dict[str, list[_Candidate]] = {}
    for candidate in [*_from_env(), *_from_entry_points(), *_shipped()]:
        found.setdefault(candidate.name, []).append(candidate)
    return found


def _located(candidate: _Candidate) -> Path:
    path = candidate.locate()
    if not path.is_file():
        raise _error(f"benchmark '{candidate.name}' ({candidate.source}: {candidate.origin}): {path} is not a file")
    return path.resolve()


def _suite_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix in SUFFIXES and p.is_file() and not p.name.startswith("."))


def _fixed(path: Path) -> Callable[[], Path]:
    return lambda: path


def _shipped() -> list[_Candidate]:
    return [_Candidate(p.stem, "shipped", "vmevalkit", _fixed(p)) for p in _suite_files(SHIPPED_DIR)]


def _from_env() -> list[_Candidate]:
    """The variable's files and folders, in order; an entry that does not exist is an error (a typo in a path
    would otherwise fall back, silently, to a shipped benchmark of the same name)."""
    raw = os.environ.get(ENV_VAR, "")
    candidates = []
    for entry in (part.strip() for part in raw.split(os.pathsep)):
        if not entry:
            continue
        path = Path(entry).expanduser()
        if path.is_dir():
            files = _suite_files(path)
        elif path.is_file() and path.suffix in SUFFIXES:
            files = [path]
        else:
            what = "is not a .toml or .json file" if path.is_file() else "does not exist"
            raise _error(f"{ENV_VAR}: {entry} {what}: give suite files or folders of them, separated by {os.pathsep!r}")
        candidates += [_Candidate(p.stem, "env", entry, _fixed(p)) for p in files]
    return candidates


def _from_entry_points() -> list[_Candidate]:
    from importlib.metadata import entry_points

    points = sorted(
        entry_points(group=ENTRY_POINT_GROUP),
        key=lambda ep: (ep.dist.name if ep.dist else "", ep.name, ep.value),
    )
    return [
        _Candidate(ep.name, "entry point", f"{ep.dist.name if ep.dist else '?'} {ep.value}", _entry_point_path(ep))
        for ep in points
    ]


def _entry_point_path(ep: Any) -> Callable[[], Path]:
    def locate() -> Path:
        value = str(ep.value).strip()
        if not _OBJECT_REF.fullmatch(value):
            return Path(value).expanduser()
        where = f"benchmark '{ep.name}' (entry point {value}"
        try:
            target = ep.load()
            got = target() if callable(target) else target
        except Exception as exc:  # a plugin's own failure, whatever it is, is reported as its failure
            raise _error(f"{where}) does not load: {type(exc).__name__}: {exc}") from exc
        if not isinstance(got, (str, os.PathLike)) and not hasattr(got, "__fspath__"):
            raise _error(f"{where}) gave {type(got).__name__}, not a path: return the suite file's path")
        return Path(os.fspath(got) if isinstance(got, os.PathLike) else str(got)).expanduser()

    return locate


def _description(path: Path) -> str:
    """The suite's ``description``, read without validating it (listing never fails on a broken suite; running it
    does, with the schema's errors)."""
    import json

    try:
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".json":
            data = json.loads(text)
        else:
            import importlib
            import sys

            # tomllib is stdlib from Python 3.11; tomli is its 3.10 backport.
            data = importlib.import_module("tomllib" if sys.version_info >= (3, 11) else "tomli").loads(text)
    except (OSError, ValueError) as exc:
        return f"(unreadable: {type(exc).__name__})"
    description = data.get("description", "") if isinstance(data, dict) else ""
    return " ".join(str(description).split())

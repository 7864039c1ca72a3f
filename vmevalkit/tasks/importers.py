"""Importing task sets made elsewhere into our layout (``vmevalkit tasks import``).

Every task lands in ``<questions_dir>/<domain>_task/<task_id>/`` (see ``loader.py``) with
``first_frame.png``, ``prompt.txt``, ``question_metadata.json`` and, when shipped, ``final_frame.png``
and ``ground_truth.mp4``. Images are flattened onto white (RGBA, LA, palette transparency) and padded
to even sizes with their edge pixels, as generation does (``video._pad_to_even``), so a video of the
first frame is exactly that frame.

The source layouts, as their writers produce them:

``--format vmevalkit`` (upstream VMEvalKit: hokindeng/VMEvalKit, Video-Reason/VMEvalKit)
    Per-question folders, written by ``vmevalkit/runner/create_dataset.py``
    (``generate_domain_to_folders``): ``<SRC>/<domain>_task/<id>/`` with ``first_frame.png``,
    ``final_frame.png``, ``prompt.txt`` and ``question_metadata.json`` (the task pair as a JSON object:
    ``id``, ``domain``, ``prompt``, ``first_image_path``, ``final_image_path``, ``created_at`` and the
    domain's own fields), and optionally ``ground_truth.mp4`` (VBVR-EvalKit ``docs``: "Data Format").
    Or flat, as the domain generators write before that copy (``vmevalkit/tasks/sudoku_task/
    sudoku_reasoning.py``, ``maze_task/maze_reasoning.py``): ``<SRC>/<domain>_task/<id>_first.png``,
    ``<id>_final.png``, the task's JSON in ``<id>.json`` or as an entry of the ``"pairs"`` list of a
    dataset JSON in the same folder (``sudoku_3x3_dataset.json``: ``{"name", "description", "pairs",
    "metadata"}``), the prompt in that JSON's ``"prompt"`` (else ``<id>_prompt.txt`` or ``<id>.txt``),
    and optionally ``<id>_ground_truth.mp4`` or ``<id>.mp4``.

``--format vbvr-datafactory`` (VBVR-DataFactory generators)
    ``core/output_writer.py`` (``OutputWriter.write_task_pair``): ``<SRC>/<domain>_task/<task_id>/``
    with ``first_frame.png``, optional ``final_frame.png``, ``prompt.txt``, optional
    ``ground_truth.mp4`` (``ground_truth<ext>``; only ``.mp4`` is taken), optional ``metadata.json``.

``--format vbvr-bench`` (Video-Reason/VBVR-Bench-Data)
    ``<SRC>/<split>/<generator>/<index>/`` (``In-Domain_50/G-13_..._data-generator/00000/``) with
    ``first_frame.png``, ``final_frame.png``, ``ground_truth.mp4`` and ``prompt.txt``, and a JSON
    (or JSON Lines) index at the root (``VBVR-Bench.json``, per Video-Reason/VBVR-EvalKit's README; any
    name is read) whose rows name those files by relative path
    (``first_frame_path``, ``final_frame_path``, ``prompt_path``, ``ground_truth_video_path``; see
    lmms-eval ``tasks/vbvr/utils.py``). The index is optional; a row's fields other than the base64
    ``first_image`` are kept in the metadata. The domain is the generator without its
    ``_data-generator`` suffix, the task id ``<domain>_<index>``.

Metadata: the source's JSON object, kept as it is, with ``domain`` set to our domain name,
``source_domain`` (the upstream name), ``source_format`` and ``source_path`` (the task's place,
relative to SRC) added. Upstream ``maze``, ``sudoku``, ``raven`` and ``rotation`` keep their names,
``chess`` becomes ``chess_mate`` and ``mirror_clock`` becomes ``clock``; other domains keep theirs.

One bad task is reported and skipped; the others still import. A task already in the destination
is left alone (a rerun imports nothing new). Each task is written into a hidden folder next to its
destination and renamed into place, so a killed import never leaves half a task under its name.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from vmevalkit.tasks.loader import (
    DOMAIN_SUFFIX,
    FINAL_FRAME,
    FIRST_FRAME,
    GROUND_TRUTH_VIDEO,
    METADATA,
    PROMPT,
    LoadLimits,
    check_image,
    locate_task_file,
    parse_metadata,
    read_task_file,
    validate_task,
)
from vmevalkit.utils.atomic import atomic_path, atomic_write_bytes, strict_json_dumps

FORMATS = ("vmevalkit", "vbvr-datafactory", "vbvr-bench")

LAYOUTS = {
    "vmevalkit": "<SRC>/<domain>_task/<id>/ with first_frame.png and question_metadata.json, "
    "or <SRC>/<domain>_task/<id>_first.png files",
    "vbvr-datafactory": "<SRC>/<domain>_task/<task_id>/ with first_frame.png and prompt.txt (metadata.json optional)",
    "vbvr-bench": "<SRC>/<split>/<generator>/<index>/ with first_frame.png and prompt.txt (a JSON index optional)",
}

# Upstream domain -> ours, where both are the same task.
DOMAIN_MAP = {
    "maze": "maze",
    "sudoku": "sudoku",
    "chess": "chess_mate",
    "raven": "raven",
    "rotation": "rotation",
    "mirror_clock": "clock",
}

_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
_DF_METADATA = "metadata.json"
_INDEX_SKIPPED_FIELDS = ("first_image",)  # base64 pixels: already in first_frame.png


class ImportLayoutError(ValueError):
    """SRC is not laid out as the chosen --format expects."""


@dataclass
class SourceTask:
    """One task found in the source, before anything is decoded."""

    source_domain: str
    task_id: str
    place: Path  # the task's folder (or its first image, when flat), for messages and provenance
    first: Path
    final: Path | None
    prompt: str | None
    prompt_file: Path | None
    metadata: dict[str, Any]  # fields known from the scan (an index row, a dataset JSON's entry)
    metadata_file: Path | None  # the task's own JSON object, read (with the loader's limits) on import
    video: Path | None


@dataclass
class Skipped:
    name: str
    place: Path
    reason: str


@dataclass
class ImportReport:
    imported: list[tuple[str, str, Path]] = field(default_factory=list)  # domain, task id, destination
    present: list[tuple[str, str, Path]] = field(default_factory=list)  # already in the destination
    skipped: list[Skipped] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # per-task remarks on imported tasks
    with_video: int = 0


def our_domain(source_domain: str) -> str:
    return DOMAIN_MAP.get(source_domain, source_domain)


# ---------------------------------------------------------------- layout detection


def _task_dirs(src: Path) -> list[Path]:
    return sorted(p for p in src.iterdir() if p.is_dir() and p.name.endswith(DOMAIN_SUFFIX))


def _subdirs(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def _looks_vmevalkit(src: Path) -> bool:
    for domain_dir in _task_dirs(src):
        if any(domain_dir.glob("*_first.png")):
            return True
        if any((d / METADATA).is_file() and (d / FIRST_FRAME).is_file() for d in _subdirs(domain_dir)):
            return True
    return False


def _looks_datafactory(src: Path) -> bool:
    return any((d / FIRST_FRAME).is_file() and (d / PROMPT).is_file() for dd in _task_dirs(src) for d in _subdirs(dd))


def _looks_bench(src: Path) -> bool:
    for split in _subdirs(src):
        if split.name.endswith(DOMAIN_SUFFIX):
            continue
        for generator in _subdirs(split):
            if any((d / FIRST_FRAME).is_file() for d in _subdirs(generator)):
                return True
    return False


_DETECTORS: dict[str, Callable[[Path], bool]] = {
    "vmevalkit": _looks_vmevalkit,
    "vbvr-datafactory": _looks_datafactory,
    "vbvr-bench": _looks_bench,
}


def detect_formats(src: Path) -> list[str]:
    """Every --format whose layout SRC has."""
    return [name for name, looks in _DETECTORS.items() if looks(src)]


def check_layout(src: Path, fmt: str) -> None:
    """Raise ImportLayoutError naming the expected layout and the --format that would fit, if any."""
    if fmt not in FORMATS:
        raise ImportLayoutError(f"unknown --format {fmt!r}; choose one of: {', '.join(FORMATS)}")
    if not src.is_dir():
        raise ImportLayoutError(f"source '{src}' is not a directory: pass the folder that holds the tasks")
    if _DETECTORS[fmt](src):
        return
    others = [f for f in detect_formats(src) if f != fmt]
    fits = f"; it looks like --format {' or --format '.join(others)}" if others else ""
    found = ", ".join(sorted(p.name for p in src.iterdir())[:6]) or "nothing"
    raise ImportLayoutError(
        f"'{src}' is not laid out as --format {fmt} expects ({LAYOUTS[fmt]}){fits}; "
        f"it holds: {found}" + ("" if others else f". Known formats: {', '.join(FORMATS)}")
    )


# ---------------------------------------------------------------- scanning each format


def _load_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _optional(path: Path) -> Path | None:
    return path if path.exists() or path.is_symlink() else None


def _scan_folders(src: Path, metadata_name: str) -> Iterator[SourceTask | Skipped]:
    """``<domain>_task/<id>/`` folders (upstream create_dataset.py and the VBVR data factory)."""
    for domain_dir in _task_dirs(src):
        source_domain = domain_dir.name[: -len(DOMAIN_SUFFIX)]
        for folder in _subdirs(domain_dir):
            if not (folder / FIRST_FRAME).exists() and not (folder / FIRST_FRAME).is_symlink():
                yield Skipped(folder.name, folder, f"no {FIRST_FRAME}")
                continue
            yield SourceTask(
                source_domain=source_domain,
                task_id=folder.name,
                place=folder,
                first=folder / FIRST_FRAME,
                final=_optional(folder / FINAL_FRAME),
                prompt=None,
                prompt_file=_optional(folder / PROMPT),
                metadata={},
                metadata_file=_optional(folder / metadata_name),
                video=_optional(folder / GROUND_TRUTH_VIDEO),
            )


def _flat_records(domain_dir: Path) -> dict[str, dict[str, Any]]:
    """Task JSON objects by id from the dataset JSONs (``{"pairs": [...]}``) of a flat domain folder."""
    records: dict[str, dict[str, Any]] = {}
    for path in sorted(domain_dir.glob("*.json")):
        try:
            data = _load_json(path)
        except (OSError, ValueError):
            continue
        pairs = data.get("pairs") if isinstance(data, dict) else None
        for pair in pairs if isinstance(pairs, list) else []:
            if isinstance(pair, dict) and isinstance(pair.get("id"), str):
                records.setdefault(pair["id"], pair)
    return records


def _scan_flat(src: Path) -> Iterator[SourceTask | Skipped]:
    """``<domain>_task/<id>_first.png`` files (the upstream generators' own output)."""
    for domain_dir in _task_dirs(src):
        source_domain = domain_dir.name[: -len(DOMAIN_SUFFIX)]
        records = None
        for first in sorted(domain_dir.glob("*_first.png")):
            task_id = first.name[: -len("_first.png")]
            if records is None:
                records = _flat_records(domain_dir)
            own_file = _optional(domain_dir / f"{task_id}.json")
            prompt_file = _optional(domain_dir / f"{task_id}_prompt.txt") or _optional(domain_dir / f"{task_id}.txt")
            video = _optional(domain_dir / f"{task_id}_ground_truth.mp4") or _optional(domain_dir / f"{task_id}.mp4")
            yield SourceTask(
                source_domain=source_domain,
                task_id=task_id,
                place=first,
                first=first,
                final=_optional(domain_dir / f"{task_id}_final.png"),
                prompt=None,
                prompt_file=prompt_file,
                metadata={} if own_file else dict(records.get(task_id, {})),
                metadata_file=own_file,
                video=video,
            )


def _scan_vmevalkit(src: Path) -> Iterator[SourceTask | Skipped]:
    yield from _scan_folders(src, METADATA)
    yield from _scan_flat(src)


def _scan_datafactory(src: Path) -> Iterator[SourceTask | Skipped]:
    yield from _scan_folders(src, _DF_METADATA)


def _bench_index(src: Path) -> dict[str, dict[str, Any]]:
    """Index rows by ``<split>/<generator>/<index>``, from any JSON or JSON Lines file at SRC's top."""
    rows: list[Any] = []
    for path in sorted([*src.glob("*.json"), *src.glob("*.jsonl")]):
        try:
            text = path.read_text(encoding="utf-8")
            if path.suffix == ".jsonl":
                rows.extend(json.loads(line) for line in text.splitlines() if line.strip())
            else:
                data = json.loads(text)
                rows.extend(data if isinstance(data, list) else data.get("rows", data.get("data", [])))
        except (OSError, ValueError, AttributeError):
            continue
    index: dict[str, dict[str, Any]] = {}
    for row in rows:
        if not isinstance(row, dict):
            continue
        raw = str(row.get("first_frame_path") or row.get("prompt_path") or row.get("ground_truth_video_path") or "")
        parts = [p for p in raw.split("/") if p]
        if len(parts) >= 3:
            index.setdefault("/".join(parts[:3]), {k: v for k, v in row.items() if k not in _INDEX_SKIPPED_FIELDS})
    return index


def bench_domain(generator: str) -> str:
    """A VBVR-Bench task folder's domain: its generator's name without the ``_data-generator`` suffix."""
    for suffix in ("_data-generator", "-data-generator", "_data_generator"):
        if generator.endswith(suffix):
            return generator[: -len(suffix)]
    return generator


def _scan_bench(src: Path) -> Iterator[SourceTask | Skipped]:
    index = _bench_index(src)
    for split in _subdirs(src):
        for generator in _subdirs(split):
            domain = bench_domain(generator.name)
            for folder in _subdirs(generator):
                row = index.get(f"{split.name}/{generator.name}/{folder.name}", {})
                task_id = f"{domain}_{folder.name}"
                if not (folder / FIRST_FRAME).exists():
                    yield Skipped(task_id, folder, f"no {FIRST_FRAME}")
                    continue
                prompt = row.get("prompt") if isinstance(row.get("prompt"), str) else None
                metadata = {
                    **row,
                    "vbvr_split": split.name,
                    "vbvr_generator": generator.name,
                    "vbvr_index": folder.name,
                }
                yield SourceTask(
                    source_domain=domain,
                    task_id=task_id,
                    place=folder,
                    first=folder / FIRST_FRAME,
                    final=_optional(folder / FINAL_FRAME),
                    prompt=prompt,
                    prompt_file=_optional(folder / PROMPT),
                    metadata=metadata,
                    metadata_file=None,
                    video=_optional(folder / GROUND_TRUTH_VIDEO),
                )


_SCANNERS: dict[str, Callable[[Path], Iterator[SourceTask | Skipped]]] = {
    "vmevalkit": _scan_vmevalkit,
    "vbvr-datafactory": _scan_datafactory,
    "vbvr-bench": _scan_bench,
}


# ---------------------------------------------------------------- converting one task


def flatten_image(data: bytes, name: str, max_pixels: int) -> Image.Image:
    """An RGB image: transparency composited onto white, odd sides padded with edge pixels."""
    check_image(name, data, max_pixels)
    with Image.open(io.BytesIO(data)) as im:
        has_alpha = im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info)
        if has_alpha:
            rgba = im.convert("RGBA")
            white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            rgb = Image.alpha_composite(white, rgba).convert("RGB")
        else:
            rgb = im.convert("RGB")
    arr = np.asarray(rgb, dtype=np.uint8)
    h, w = arr.shape[:2]
    if h % 2 or w % 2:
        arr = np.pad(arr, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")
    return Image.fromarray(np.ascontiguousarray(arr))


def _png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def _read(path: Path, root: Path, limit: int | None = None) -> bytes:
    data = read_task_file(path.parent, path.name, root, max_bytes=limit)
    if data is None:
        raise ValueError(f"{path.name} is missing")
    return data


def _metadata(task: SourceTask, root: Path, limits: LoadLimits) -> dict[str, Any]:
    if task.metadata_file is None:
        return dict(task.metadata)
    data = _read(task.metadata_file, root, limits.max_metadata_bytes)
    try:
        return parse_metadata(data, limits.max_metadata_depth)
    except ValueError as exc:  # the loader names its own file; say which source file it was
        raise ValueError(str(exc).replace(METADATA, task.metadata_file.name, 1)) from None


def _prompt(task: SourceTask, metadata: dict[str, Any], root: Path) -> str:
    text = task.prompt
    if text is None and task.prompt_file is not None:
        try:
            text = _read(task.prompt_file, root, 1_000_000).decode("utf-8")
        except UnicodeDecodeError:
            raise ValueError(f"{task.prompt_file.name} is not UTF-8 text") from None
    if text is None and isinstance(metadata.get("prompt"), str):
        text = metadata["prompt"]
    if text is None or not text.strip():
        raise ValueError('no prompt (no prompt.txt, and the metadata has no "prompt")')
    return text.strip()


def _build(task: SourceTask, fmt: str, src: Path, root: Path, limits: LoadLimits) -> dict[str, bytes]:
    """The destination files of one task, by name; raises ValueError naming what is wrong."""
    metadata = _metadata(task, root, limits)
    prompt = _prompt(task, metadata, root)
    files = {
        FIRST_FRAME: _png_bytes(flatten_image(_read(task.first, root), task.first.name, limits.max_image_pixels)),
        PROMPT: (prompt + "\n").encode("utf-8"),
    }
    if task.final is not None:
        final = flatten_image(_read(task.final, root), task.final.name, limits.max_image_pixels)
        files[FINAL_FRAME] = _png_bytes(final)
    domain = our_domain(task.source_domain)
    metadata.update(
        domain=domain,
        source_domain=task.source_domain,
        source_format=fmt,
        source_path=task.place.relative_to(src).as_posix(),
    )
    files[METADATA] = (strict_json_dumps(metadata, indent=2, sort_keys=True) + "\n").encode("utf-8")
    return files


VideoCheck = Callable[[Path], "str | None"]


def _video_problem(path: Path, root: Path, check: VideoCheck | None) -> str | None:
    """Why the shipped video cannot be used, or None. ``check`` decodes it (video.py lives beside tasks/, so the
    caller passes it in); without one, only its place and kind are checked."""
    try:
        locate_task_file(path.parent, path.name, root)  # its place and kind, as for every other file
    except ValueError as exc:
        return str(exc)
    return check(path) if check is not None else None


def _write(folder: Path, files: dict[str, bytes], video: Path | None, questions_root: Path) -> None:
    """Write a task into a hidden sibling folder, check it loads, then rename it into place."""
    staging = folder.with_name(f".import-{folder.name}-{uuid.uuid4().hex[:8]}")
    try:
        for name, data in files.items():
            if name != METADATA:
                atomic_write_bytes(staging / name, data)
        if video is not None:
            with atomic_path(staging / GROUND_TRUTH_VIDEO) as tmp:
                shutil.copyfile(video, tmp)
        atomic_write_bytes(staging / METADATA, files[METADATA])
        validate_task(staging, folder.parent.name[: -len(DOMAIN_SUFFIX)], root=questions_root)
        os.rename(staging, folder)  # fails (and leaves nothing) if another import got there first
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def import_tasks(
    src: str | Path,
    fmt: str,
    questions_dir: str | Path,
    limits: LoadLimits | None = None,
    check_video: VideoCheck | None = None,
) -> ImportReport:
    """Import every task of ``src`` (laid out as ``fmt``) into ``questions_dir``; see the module docstring.

    ``check_video(path)`` says why a shipped ``ground_truth.mp4`` is unusable (None: it is fine); such a video is
    left out and the task imported without it, with a note."""
    src, questions_dir = Path(src), Path(questions_dir)
    check_layout(src, fmt)
    limits = limits or LoadLimits.from_settings()
    root = Path(os.path.realpath(src))
    questions_dir.mkdir(parents=True, exist_ok=True)
    questions_root = Path(os.path.realpath(questions_dir))
    report = ImportReport()
    seen: set[tuple[str, str]] = set()
    for item in _SCANNERS[fmt](src):
        if isinstance(item, Skipped):
            report.skipped.append(item)
            continue
        domain = our_domain(item.source_domain)
        for what, name in (("domain", item.source_domain), ("task id", item.task_id)):
            if not _SAFE_NAME.match(name):
                report.skipped.append(Skipped(item.task_id, item.place, f"{what} {name!r} is not a safe folder name"))
                break
        else:
            if (domain, item.task_id) in seen:
                report.skipped.append(Skipped(item.task_id, item.place, f"a second task with id {item.task_id!r}"))
                continue
            seen.add((domain, item.task_id))
            folder = questions_dir / f"{domain}{DOMAIN_SUFFIX}" / item.task_id
            if folder.exists():
                report.present.append((domain, item.task_id, folder))
                continue
            try:
                files = _build(item, fmt, src, root, limits)
                video = item.video
                if video is not None:
                    problem = _video_problem(video, root, check_video)
                    if problem is not None:
                        report.notes.append(f"{domain}/{item.task_id}: {video.name} left out ({problem})")
                        video = None
                _write(folder, files, video, questions_root)
            except Exception as exc:  # one bad task never stops the import
                reason = str(exc) if isinstance(exc, ValueError) else f"{type(exc).__name__}: {exc}"
                report.skipped.append(Skipped(item.task_id, item.place, reason))
                continue
            report.imported.append((domain, item.task_id, folder))
            report.with_video += video is not None
    return report

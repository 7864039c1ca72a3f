"""Writing generated tasks to disk as a question dataset.

Layout: ``<questions_dir>/<domain>_task/<task_id>/`` holding ``first_frame.png``,
``final_frame.png``, ``prompt.txt`` and ``question_metadata.json``. Every file is
written atomically and byte-for-byte deterministically, so a dataset rebuilt
from the same seed is identical to the shipped one.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from vmevalkit.tasks import DOMAINS, get_domain
from vmevalkit.tasks.base import GeneratedTask, TaskDomain
from vmevalkit.tasks.loader import FINAL_FRAME, FIRST_FRAME, METADATA, PROMPT
from vmevalkit.utils.atomic import atomic_path, atomic_write_text, strict_json_dumps


class BuildError(ValueError):
    """A dataset that cannot be built as asked (options or a difficulty a domain does not have)."""


def task_dir(questions_dir: Path, domain: str, task_id: str) -> Path:
    return Path(questions_dir) / f"{domain}_task" / task_id


def write_png(image: Image.Image, path: Path) -> None:
    # Rebuilt from raw pixels so no info (dpi, text, ...) from the source image is
    # carried into the file; PIL writes no timestamp, so the bytes depend on pixels only.
    clean = Image.fromarray(np.asarray(image.convert("RGB"), dtype=np.uint8))
    with atomic_path(path) as tmp:
        clean.save(tmp, format="PNG", optimize=True)


def write_task(task: GeneratedTask, questions_dir: Path) -> Path:
    """Write one task's files and return its folder."""
    folder = task_dir(questions_dir, task.domain, task.task_id)
    write_png(task.first_frame, folder / FIRST_FRAME)
    write_png(task.final_frame, folder / FINAL_FRAME)
    atomic_write_text(folder / PROMPT, task.prompt.rstrip("\n") + "\n")
    # Metadata last: a folder with question_metadata.json has all its other files.
    atomic_write_text(folder / METADATA, strict_json_dumps(task.metadata, indent=2, sort_keys=True) + "\n")
    return folder


def domain_with(domain: TaskDomain, options: Mapping[str, Any] | None) -> TaskDomain:
    """``domain``'s class made again with ``options`` (its constructor keywords), or ``domain`` itself without."""
    if not options:
        return domain
    cls: Any = type(domain)
    made: TaskDomain = cls(**options)
    return made


def build_dataset(
    questions_dir: Path,
    domains: list[str] | None = None,
    per_domain: int = 4,
    seed: int = 0,
    options: Mapping[str, Mapping[str, Any]] | None = None,
    difficulty: str | None = None,
) -> list[Path]:
    """Generate ``per_domain`` tasks of each domain (all registered ones by default) and write them.

    ``options``: constructor keywords of a domain by name (``{"sudoku": {"box_size": 3}}`` for 9x9 sudokus).
    ``difficulty``: every task at this level (each domain must have it); by default each task draws its own."""
    # Resolve every name first: a typo in the last domain must not leave the others half-built.
    generators = [get_domain(name) for name in (domains if domains is not None else list(DOMAINS))]
    chosen = options or {}
    unknown = sorted(set(chosen) - {d.name for d in generators} - set(DOMAINS))
    if unknown:
        raise BuildError(f"options for unknown domain(s) {unknown}; known: {', '.join(DOMAINS)}")
    generators = [domain_with(d, chosen.get(d.name)) for d in generators]
    lacking = [d.name for d in generators if difficulty is not None and difficulty not in d.difficulties]
    if lacking:
        levels = list(dict.fromkeys(level for d in generators for level in d.difficulties))
        which = "no domain has" if len(lacking) == len(generators) else f"{', '.join(lacking)} have no"
        raise BuildError(f"{which} difficulty '{difficulty}'; the levels are: {', '.join(levels)}")
    written: list[Path] = []
    for domain in generators:
        for task in domain.generate(per_domain, seed=seed, difficulty=difficulty):
            written.append(write_task(task, Path(questions_dir)))
    return written

"""Loading and validating a task dataset.

Layout: ``<questions_dir>/<domain>_task/<task_id>/`` with ``first_frame.png``,
``prompt.txt``, ``question_metadata.json`` and, optionally, ``final_frame.png``
(the ground truth). A task that fails validation is reported and skipped; the
others still run.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from vmevalkit.utils.imports import suggest

FIRST_FRAME = "first_frame.png"
FINAL_FRAME = "final_frame.png"
PROMPT = "prompt.txt"
METADATA = "question_metadata.json"
DOMAIN_SUFFIX = "_task"


class Task(BaseModel):
    """One validated task, ready to be given to a model."""

    model_config = ConfigDict(frozen=True)

    task_id: str
    domain: str
    path: Path
    prompt: str
    metadata: dict[str, Any] = Field(default_factory=dict)

    @property
    def first_frame(self) -> Path:
        return self.path / FIRST_FRAME

    @property
    def final_frame(self) -> Path | None:
        path = self.path / FINAL_FRAME
        return path if path.is_file() else None


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


def validate_task(path: Path, domain: str) -> Task:
    """Read and check one task folder; raises ValueError naming what is wrong."""
    from PIL import Image, UnidentifiedImageError

    for name, required in ((FIRST_FRAME, True), (FINAL_FRAME, False)):
        image = path / name
        if not image.is_file():
            if required:
                raise ValueError(f"missing {name}")
            continue
        try:
            with Image.open(image) as im:
                im.load()  # a full decode: verify() misses truncated pixel data
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
            raise ValueError(f"{name} is not a readable image ({exc})") from None
    prompt_file = path / PROMPT
    if not prompt_file.is_file():
        raise ValueError(f"missing {PROMPT}")
    try:
        prompt = prompt_file.read_text(encoding="utf-8").strip()
    except UnicodeDecodeError:
        raise ValueError(f"{PROMPT} is not UTF-8 text") from None
    if not prompt:
        raise ValueError(f"{PROMPT} is empty")
    metadata: dict[str, Any] = {}
    meta_file = path / METADATA
    if meta_file.is_file():
        try:
            metadata = json.loads(meta_file.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ValueError(f"{METADATA} is not valid JSON ({exc})") from None
        if not isinstance(metadata, dict):
            raise ValueError(f"{METADATA} must hold a JSON object")
    return Task(task_id=path.name, domain=domain, path=path, prompt=prompt, metadata=metadata)


def load_tasks(
    questions_dir: str | Path,
    *,
    domains: list[str] | None = None,
    task_ids: list[str] | None = None,
    limit_per_domain: int | None = None,
) -> TaskSet:
    """Select, validate and return tasks. Unknown domains or task ids raise TaskSelectionError."""
    questions_dir = Path(questions_dir)
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

    result = TaskSet()
    for domain, paths in by_domain.items():
        taken = 0
        for path in paths:
            if limit_per_domain is not None and taken >= limit_per_domain:
                break
            try:
                result.tasks.append(validate_task(path, domain))
                taken += 1
            except ValueError as exc:
                result.problems.append(TaskProblem(task_id=path.name, domain=domain, path=path, reason=str(exc)))
    return result

"""Human labels made with the public VMEvalKit's annotation tool, converted into our labels JSONL.

Upstream (hokindeng/VMEvalKit, Video-Reason/VMEvalKit: ``vmevalkit/eval/human_eval.py``, ``_save_evaluation``)
writes one file per model and task, ``<evaluations>/<experiment>/<model>/<task_type>/<task_id>/human-eval.json``::

    {"metadata": {"evaluator": "human-eval", "annotator": "alice", "timestamp": "2025-10-14T12:00:00.123456",
                  "model_name": "veo-3", "task_type": "maze_task", "task_id": "maze_0001"},
     "result": {"solution_correctness_score": 4, "comments": "one wrong turn"}}

The score is a 1-5 radio button (1 = completely wrong, 5 = perfect). Each file becomes two rating labels of the
same generation and rater (the annotator; upstream's default "Anonymous" when none was set):

- ``solution_correctness``: the raw 1-5 score, for the rank correlations;
- ``task_success``: 1 when the score is at least ``PASS_THRESHOLD`` (4), else 0. Upstream's own analysis
  (``analysis/plot.py``: "Only scores 4 and 5 are considered correct") draws the line there, and the name is the
  one ``task-verifier`` scores, so the two are compared without a ``--map``.

Upstream's comments become the label's ``note``; the whole upstream document, unknown fields included, is kept
under ``source`` with the file's path relative to SRC, so nothing the annotator wrote is lost.

Upstream rates a task's only video and names no run, while our labels name a run folder: the run is looked up
among the experiment's completed generations of that model and task. A file is skipped, with its reason, when
it is unreadable, not a person's evaluation, has no score or one outside 1-5, sits where its metadata says it
does not, or names a task with no (or with several) completed generations. One bad file never stops the others.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vmevalkit.scoring.meta_eval.labels import MetaEvalError, parse_label_line

FORMAT = "vmevalkit-human-eval"
FORMATS = (FORMAT,)
UPSTREAM_FILE = "human-eval.json"
UPSTREAM_EVALUATOR = "human-eval"
SCORE_FIELD = "solution_correctness_score"
SCORE_MIN, SCORE_MAX = 1, 5
PASS_THRESHOLD = 4  # scores 4 and 5 pass, as in upstream's analysis/plot.py
SCORE_DIMENSION = "solution_correctness"
PASS_DIMENSION = "task_success"
DEFAULT_ANNOTATOR = "Anonymous"  # what upstream's tool records when nobody set a name
MAX_FILE_BYTES = 1 << 20  # a human-eval.json is a few hundred bytes
LAYOUT = f"<model>/<task_type>/<task_id>/{UPSTREAM_FILE}"
# metadata key -> which folder of the layout it must agree with (0: model, 1: task_type, 2: task_id)
_PLACED = {"model_name": 0, "task_type": 1, "task_id": 2}


@dataclass(frozen=True)
class SkippedFile:
    file: str  # relative to SRC, with '/'
    reason: str


@dataclass
class Conversion:
    """The labels converted from one SRC folder, and what was left out and why."""

    lines: list[dict[str, Any]] = field(default_factory=list)
    converted: list[str] = field(default_factory=list)  # files, relative to SRC
    skipped: list[SkippedFile] = field(default_factory=list)

    def text(self) -> str:
        """The labels JSONL: the same SRC and experiment give the same bytes."""
        return "".join(json.dumps(line, ensure_ascii=False, allow_nan=False) + "\n" for line in self.lines)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _read_document(path: Path) -> dict[str, Any]:
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise ValueError(f"{size} bytes, far more than a {UPSTREAM_FILE} holds; is it the right file?")
    try:
        data = json.loads(path.read_text(encoding="utf-8"), parse_constant=_no_constant)
    except UnicodeDecodeError as exc:
        raise ValueError(f"not UTF-8 text ({exc.reason})") from None
    except ValueError as exc:
        raise ValueError(f"not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ValueError(f'expected a JSON object {{"metadata": ..., "result": ...}}, got {type(data).__name__}')
    for part in ("metadata", "result"):
        if not isinstance(data.get(part), dict):
            raise ValueError(f'no "{part}" object: not an upstream {UPSTREAM_FILE}')
    return data


def _score(result: dict[str, Any]) -> int:
    if SCORE_FIELD not in result:
        raise ValueError(f"result has no {SCORE_FIELD}")
    score = result[SCORE_FIELD]
    if isinstance(score, bool) or not isinstance(score, int | float):
        raise ValueError(f"{SCORE_FIELD} must be a number {SCORE_MIN}-{SCORE_MAX}, got {score!r}")
    if not (math.isfinite(score) and score == int(score) and SCORE_MIN <= score <= SCORE_MAX):
        scale = f"a whole number {SCORE_MIN}-{SCORE_MAX}"
        raise ValueError(f"{SCORE_FIELD} {score!r} is outside the upstream scale ({scale})")
    return int(score)


def _annotator(metadata: dict[str, Any]) -> str:
    name = metadata.get("annotator")
    return name.strip() if isinstance(name, str) and name.strip() else DEFAULT_ANNOTATOR


def _run_of(place: tuple[str, str, str], runs: dict[tuple[str, str, str], list[str]]) -> str:
    found = runs.get(place, [])
    task = "/".join(place)
    if not found:
        raise ValueError(
            f"no completed generation of {task} in the experiment: import its video first (vmevalkit "
            "import-videos), or pass the --output-dir and --experiment it is in"
        )
    if len(found) > 1:
        listed = ", ".join(key.rsplit("/", 1)[1] for key in found)
        raise ValueError(
            f"{len(found)} completed generations of {task} ({listed}); the upstream file rates one video and "
            "does not say which: keep one run of the task in the experiment, or label the runs by hand"
        )
    return found[0]


def _labels_of(path: Path, rel: str, runs: dict[tuple[str, str, str], list[str]]) -> list[dict[str, Any]]:
    """The two labels of one upstream file, or a ValueError saying why it is skipped."""
    folders = Path(rel).parts[:-1]
    if len(folders) < 3:
        raise ValueError(f"not in the upstream layout {LAYOUT} under SRC")
    place = (folders[-3], folders[-2], folders[-1])
    if not place[1].endswith("_task"):
        raise ValueError(f"task type folder {place[1]!r} does not end in _task (layout: {LAYOUT})")
    data = _read_document(path)
    metadata, result = data["metadata"], data["result"]
    evaluator = metadata.get("evaluator", UPSTREAM_EVALUATOR)
    if evaluator != UPSTREAM_EVALUATOR:
        raise ValueError(f"evaluator is {evaluator!r}, not a person ({UPSTREAM_EVALUATOR!r})")
    for key, index in _PLACED.items():
        if key in metadata and metadata[key] != place[index]:
            raise ValueError(f"metadata {key} {metadata[key]!r} disagrees with its folder {place[index]!r}")
    score = _score(result)
    generation = _run_of(place, runs)
    comments = result.get("comments")
    common = {
        "rater": _annotator(metadata),
        "note": comments if isinstance(comments, str) else "",
        "source": {"format": FORMAT, "file": rel, "upstream": data},
    }
    lines = [
        {"type": "rating", "generation": generation, "dimension": SCORE_DIMENSION, "value": score, **common},
        {
            "type": "rating",
            "generation": generation,
            "dimension": PASS_DIMENSION,
            "value": int(score >= PASS_THRESHOLD),
            **common,
        },
    ]
    for line in lines:  # what we write must be what read_labels accepts
        parse_label_line(json.dumps(line, ensure_ascii=False))
    return lines


def convert_human_eval(src: str | Path, generations: Iterable[str]) -> Conversion:
    """Every ``human-eval.json`` under ``src`` as labels of ``generations`` (MODEL/DOMAIN_task/TASK_ID/RUN_ID keys
    of the experiment's completed generations); a MetaEvalError when ``src`` holds none at all."""
    src = Path(src)
    if not src.is_dir():
        raise MetaEvalError(
            f"no folder {src} to import labels from: pass the upstream evaluations folder that holds {LAYOUT} "
            "(upstream writes data/evaluations/<experiment>/)"
        )
    files = sorted(path for path in src.rglob(UPSTREAM_FILE) if path.is_file())
    if not files:
        raise MetaEvalError(
            f"no {UPSTREAM_FILE} under {src}: the {FORMAT} format is upstream VMEvalKit's human evaluation, "
            f"{LAYOUT} (upstream writes data/evaluations/<experiment>/)"
        )
    runs: dict[tuple[str, str, str], list[str]] = {}
    for key in sorted(set(generations)):
        model, task_type, task_id, _ = key.split("/")
        runs.setdefault((model, task_type, task_id), []).append(key)
    conversion = Conversion()
    for path in files:
        rel = path.relative_to(src).as_posix()
        try:
            conversion.lines.extend(_labels_of(path, rel, runs))
        except (OSError, ValueError) as exc:
            conversion.skipped.append(SkippedFile(rel, str(exc)))
            continue
        conversion.converted.append(rel)
    return conversion


def _imported_only(text: str) -> bool:
    """Whether every line of an existing labels file came from this import (so rewriting it loses nothing)."""
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except ValueError:
            return False
        source = data.get("source") if isinstance(data, dict) else None
        if not isinstance(source, dict) or source.get("format") != FORMAT:
            return False
    return True


def write_labels(conversion: Conversion, out: str | Path) -> Path:
    """Write the labels atomically; refuse to replace a labels file that holds anything not imported by us."""
    from vmevalkit.utils.atomic import atomic_write_text

    out = Path(out)
    if out.exists():
        try:
            existing = out.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise MetaEvalError(f"cannot read {out} to check it before replacing it: {exc}") from None
        if not _imported_only(existing):
            raise MetaEvalError(
                f"{out} holds labels that were not imported from {FORMAT}: the import writes the whole file, so "
                "pass a new --labels file (and join the two files afterwards if you want both)"
            )
    atomic_write_text(out, conversion.text())
    return out

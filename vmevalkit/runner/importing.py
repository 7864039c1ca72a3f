"""Videos made elsewhere, brought into the store as completed generations (``vmevalkit import-videos``).

Why: ``score``, ``report`` and ``evaluate-scorers`` read only the store. A video another toolkit made becomes a
generation folder like any other, ``<experiment>/<model>/<domain>_task/<task_id>/import-<sha256[:16]>/`` with
``video/``, ``question/`` (copied from the task in ``--questions-dir``) and ``metadata.json``, so they run on it
unchanged. The record says where the video came from: ``provenance: {source_path, source_sha256, imported_at,
format}``.

Layouts (``find_videos``):

- ``vmevalkit``: upstream VMEvalKit outputs, ``<model>/<domain>_task/<task_id>/video/*.mp4`` (the flat layout of
  upstream's later runner) or ``<model>/<domain>_task/<task_id>/<run>/video/**/*.mp4`` with upstream's own
  ``metadata.json`` and ``question/`` beside it (hokindeng/VMEvalKit ``vmevalkit/runner/inference.py``,
  ``InferenceRunner.run``; hokindeng/video-reason-experiments ``OUTPUT_STRUCTURE_ANALYSIS.md``). The model is the
  top folder's name.
- ``vbvr``: VBVR-EvalKit predictions ``pred/video_<N>.mp4`` (Video-Reason/VBVR-EvalKit ``my_test/pred/``, paired
  by name with ``my_test/gt/video_<N>.mp4``). Nothing in that layout names the task, so a mapping says which task
  ``N`` is: a JSON list (position N), a JSON object keyed by ``N`` or by the file name, or a CSV with columns
  ``index,task_id``. The model defaults to the name of the folder holding ``pred/``, as VBVR-EvalKit's
  ``evaluate.py`` names a run after its videos folder.
- ``vbvr-bench``: VBVR-Bench model outputs, ``<split>/<task_name>/<NNNNN>.mp4`` (Video-Reason/VBVR-EvalKit README,
  "Generate Model Videos"; ``evaluate.py``: ``{videos_path}/{split}/{task_name}/{idx}.mp4``), answering the tasks
  ``vmevalkit tasks import --format vbvr-bench`` made of ``<split>/<task_name>/<NNNNN>/``: task id
  ``<domain>_<NNNNN>``, the domain the task name without its ``_data-generator`` suffix. The model defaults to
  SRC's name (VBVR-EvalKit's ``run_evaluation.py --models_base`` holds one such folder per model).
- ``csv``: a flat folder and a CSV with columns ``task_id,video[,model]``; video paths are relative to the folder.

A layout's ``<domain>_task`` folder may use the source's domain name (upstream ``chess_task``): it matches the
imported task's ``domain`` or its ``source_domain``.

Rules: a task must exist (and be valid) in the questions folder, since the generation needs its domain and prompt;
a video whose task is unknown, or that does not decode (``probe_video``), is reported and not imported; one bad
video never stops the others.

Idempotent: the run folder is named by the video's sha256, so the same bytes (from any path) are the same
generation, and a rerun imports nothing new. Crash-safe: the generation is assembled in a hidden staging folder
beside its final place (never read by ``score``: hidden folders are skipped) and renamed into place whole, under an
``flock`` that dies with its process; a staging folder left by a killed import is removed by the next import of the
same video. The empty hidden ``.import-<sha>.lock`` beside it stays: removing a lock file another process may be
waiting on would let two imports of the same video run at once.
"""

from __future__ import annotations

import contextlib
import csv
import fcntl
import json
import os
import re
import shutil
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from vmevalkit.runner.records import (
    METADATA_FILE,
    GenerationRecord,
    environment_info,
    file_sha256,
    read_record,
    utc_now,
    video_problem,
)
from vmevalkit.runner.registry import SAFE_NAME
from vmevalkit.tasks.importers import bench_domain
from vmevalkit.tasks.loader import (
    DOMAIN_SUFFIX,
    FINAL_FRAME,
    FIRST_FRAME,
    GROUND_TRUTH_VIDEO,
    METADATA,
    PROMPT,
    Task,
    load_tasks,
)
from vmevalkit.utils.atomic import TEMP_MARKER, atomic_write_json
from vmevalkit.utils.redact import scrub_data
from vmevalkit.video import VideoError, VideoInfo, probe_video

ImportFormat = Literal["vmevalkit", "vbvr", "vbvr-bench", "csv"]
FORMATS: tuple[ImportFormat, ...] = ("vmevalkit", "vbvr", "vbvr-bench", "csv")
IMPORTED = "imported"  # the family and kind of an imported generation: no catalog entry made it
RUN_PREFIX = "import-"
QUESTION_FILES = (FIRST_FRAME, PROMPT, METADATA, FINAL_FRAME, GROUND_TRUTH_VIDEO)
CSV_DEFAULT_NAME = "videos.csv"
_VBVR_NAME = re.compile(r"video_(\d+)\.mp4")
_BENCH_NAME = re.compile(r"(\d{5})\.mp4")  # VBVR-EvalKit run_evaluation.py takes only these

OutcomeKind = Literal["imported", "already", "unknown_task", "undecodable", "failed"]
OK_KINDS: frozenset[str] = frozenset({"imported", "already"})


class ImportUsageError(ValueError):
    """The source, its layout, the mapping or a flag is wrong: nothing is imported (exit 2)."""


@dataclass(frozen=True)
class FoundVideo:
    """One video a layout names, with the task (and model, and domain) the layout says it is for."""

    source: Path
    task_id: str
    model: str | None
    domain: str | None = None  # the layout's ``<domain>_task`` folder, when it has one
    where: str = ""  # where the layout said so, for messages: "row 3 of videos.csv"


@dataclass(frozen=True)
class ImportOutcome:
    kind: OutcomeKind
    video: FoundVideo
    model: str | None = None
    run_dir: Path | None = None
    reason: str | None = None


@dataclass
class ImportSummary:
    outcomes: list[ImportOutcome] = field(default_factory=list)

    def count(self, *kinds: str) -> int:
        return sum(o.kind in kinds for o in self.outcomes)

    @property
    def failures(self) -> list[ImportOutcome]:
        return [o for o in self.outcomes if o.kind not in OK_KINDS]

    @property
    def complete(self) -> bool:
        return not self.failures


# -- finding the videos of a layout ------------------------------------------------------------


def find_videos(fmt: str, source: Path, mapping: Path | None = None) -> list[FoundVideo]:
    """Every video ``source`` holds in layout ``fmt``; ``ImportUsageError`` when the layout is not there."""
    if fmt not in FORMATS:
        raise ImportUsageError(f"unknown --format {fmt!r}: use one of {', '.join(FORMATS)}")
    if not source.is_dir():
        raise ImportUsageError(f"{source} is not a folder: pass the folder that holds the videos")
    if fmt == "vmevalkit":
        return _upstream_videos(source)
    if fmt == "vbvr":
        return _vbvr_videos(source, mapping)
    if fmt == "vbvr-bench":
        return _bench_videos(source)
    return _csv_videos(source, mapping)


def _folders(parent: Path) -> list[Path]:
    return sorted(p for p in parent.iterdir() if p.is_dir() and not p.name.startswith("."))


def _upstream_videos(source: Path) -> list[FoundVideo]:
    found: list[FoundVideo] = []
    layout_seen = False
    for model_dir in _folders(source):
        for domain_dir in _folders(model_dir):
            if not domain_dir.name.endswith(DOMAIN_SUFFIX):
                continue
            layout_seen = True
            domain = domain_dir.name[: -len(DOMAIN_SUFFIX)]
            for task_dir in _folders(domain_dir):
                # Under a video/ folder at any depth: question/ground_truth.mp4 is the answer, not a generation.
                for video in sorted(task_dir.rglob("*.mp4")):
                    parts = video.relative_to(task_dir).parts[:-1]
                    if "video" in parts and not any(p.startswith(".") for p in parts):
                        where = str(video.relative_to(source))
                        found.append(FoundVideo(video, task_dir.name, model_dir.name, domain, where))
    if not layout_seen:
        raise ImportUsageError(
            f"{source} does not hold upstream VMEvalKit outputs (expected <model>/<domain>_task/<task_id>/video/"
            "*.mp4); for VBVR pred/video_N.mp4 use --format vbvr --mapping FILE, for a flat folder --format csv"
        )
    return found


def _bench_videos(source: Path) -> list[FoundVideo]:
    found = [
        FoundVideo(video, f"{bench_domain(task.name)}_{m.group(1)}", source.name, bench_domain(task.name), where)
        for split in _folders(source)
        for task in _folders(split)
        for video in sorted(task.iterdir())
        if (m := _BENCH_NAME.fullmatch(video.name)) and (where := str(video.relative_to(source)))
    ]
    if not found:
        raise ImportUsageError(
            f"{source} does not hold VBVR-Bench outputs (expected <split>/<task_name>/<NNNNN>.mp4, as "
            "In-Domain_50/G-131_..._data-generator/00000.mp4); for upstream VMEvalKit outputs use --format vmevalkit"
        )
    return found


def _vbvr_videos(source: Path, mapping: Path | None) -> list[FoundVideo]:
    pred = source / "pred" if (source / "pred").is_dir() else source
    videos = {int(m.group(1)): p for p in sorted(pred.iterdir()) if (m := _VBVR_NAME.fullmatch(p.name))}
    if not videos:
        raise ImportUsageError(
            f"no pred/video_N.mp4 in {source} (the VBVR-EvalKit prediction layout); for upstream VMEvalKit "
            "outputs use --format vmevalkit, for a flat folder --format csv"
        )
    if mapping is None:
        raise ImportUsageError(
            "--format vbvr needs --mapping FILE: which task each video_N.mp4 is (a JSON list of task ids, a JSON "
            "object keyed by N, or a CSV with columns index,task_id)"
        )
    tasks = _vbvr_mapping(mapping)
    model = source.name if pred is not source else pred.parent.name
    found = []
    for index, video in sorted(videos.items()):
        task_id = tasks.get(index, "")
        found.append(FoundVideo(video, task_id, model, None, f"{video.name} (index {index} of {mapping.name})"))
    return found


def _vbvr_mapping(path: Path) -> dict[int, str]:
    """``N -> task id`` from a JSON list, a JSON object keyed by N or ``video_N.mp4``, or an ``index,task_id`` CSV."""
    if path.suffix.lower() == ".csv":
        rows = _csv_rows(path, required=("index", "task_id"))
        return {_index(row["index"], path): row["task_id"].strip() for row in rows}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ImportUsageError(f"mapping file {path} does not exist") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ImportUsageError(f"mapping file {path} is not JSON ({exc}); or pass a .csv with index,task_id") from None
    if isinstance(data, list) and all(isinstance(v, str) for v in data):
        return dict(enumerate(data))
    if isinstance(data, dict) and all(isinstance(v, str) for v in data.values()):
        out = {}
        for key, value in data.items():
            named = _VBVR_NAME.fullmatch(key)
            out[_index(named.group(1) if named else key, path)] = value
        return out
    raise ImportUsageError(
        f"mapping file {path} must be a JSON list of task ids or an object of N (or video_N.mp4) to task id"
    )


def _index(text: str, path: Path) -> int:
    try:
        return int(str(text).strip())
    except ValueError:
        raise ImportUsageError(f"mapping file {path}: index {text!r} is not a whole number") from None


def _csv_rows(path: Path, required: Sequence[str]) -> list[dict[str, str]]:
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            columns = [c.strip() for c in reader.fieldnames or []]
            missing = [c for c in required if c not in columns]
            if missing:
                raise ImportUsageError(
                    f"{path} has no column {missing[0]!r}: its header must name {', '.join(required)}"
                    f" (found: {', '.join(columns) or 'no header'})"
                )
            return [{(k or "").strip(): (v or "") for k, v in row.items()} for row in reader]
    except FileNotFoundError:
        raise ImportUsageError(f"mapping file {path} does not exist") from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ImportUsageError(f"{path} cannot be read as CSV ({exc})") from None


def _csv_videos(source: Path, mapping: Path | None) -> list[FoundVideo]:
    table = mapping if mapping is not None else source / CSV_DEFAULT_NAME
    if mapping is None and not table.is_file():
        raise ImportUsageError(
            f"--format csv needs --mapping FILE (a CSV with columns task_id,video[,model]), or {CSV_DEFAULT_NAME} "
            f"in {source}"
        )
    found = []
    for number, row in enumerate(_csv_rows(table, required=("task_id", "video")), start=2):
        video = Path(row["video"].strip())
        model = row.get("model", "").strip() or None
        where = f"row {number} of {table.name}"
        path = video if video.is_absolute() else source / video
        found.append(FoundVideo(path, row["task_id"].strip(), model, None, where))
    if not found:
        raise ImportUsageError(f"{table} lists no video (a header task_id,video[,model] and one row per video)")
    return found


# -- importing -------------------------------------------------------------------------------


def tasks_by_id(questions_dir: Path) -> tuple[dict[str, list[Task]], dict[str, str]]:
    """The valid tasks of ``questions_dir`` by id, and why each invalid one was skipped."""
    loaded = load_tasks(questions_dir)
    valid: dict[str, list[Task]] = {}
    for task in loaded.tasks:
        valid.setdefault(task.task_id, []).append(task)
    return valid, {p.task_id: p.reason for p in loaded.problems}


def import_videos(
    videos: Sequence[FoundVideo],
    *,
    fmt: str,
    questions_dir: Path,
    experiment_dir: Path,
    model: str | None = None,
) -> ImportSummary:
    """Import each video as a completed generation of its task; ``model`` (``--model``) overrides the layout's."""
    if model is not None and not SAFE_NAME.fullmatch(model):
        raise ImportUsageError(f"--model {model!r} must be a plain name (letters, digits, '.', '_', '-')")
    if model is None:
        unnamed = next((v for v in videos if not v.model), None)
        if unnamed is not None:
            raise ImportUsageError(f"{unnamed.where or unnamed.source} names no model: pass --model NAME")
    tasks, invalid = tasks_by_id(questions_dir)
    summary = ImportSummary()
    for video in videos:
        summary.outcomes.append(_import(video, fmt, model or video.model or "", tasks, invalid, experiment_dir))
    return summary


def _pick_task(video: FoundVideo, tasks: dict[str, list[Task]], invalid: dict[str, str]) -> Task | str:
    """The task ``video`` is for, or why there is none."""
    if not video.task_id:
        return f"{video.where or video.source} names no task: add it to the mapping"
    candidates = tasks.get(video.task_id, [])
    if video.domain is not None:
        candidates = [t for t in candidates if video.domain in (t.domain, t.metadata.get("source_domain"))]
    if len(candidates) == 1:
        return candidates[0]
    if video.task_id in invalid:
        return f"task {video.task_id} is invalid in the questions folder: {invalid[video.task_id]}"
    if candidates:
        domains = ", ".join(t.domain for t in candidates)
        return f"task id {video.task_id} is in several domains ({domains}): use the vmevalkit layout's <domain>_task"
    place = f" in domain {video.domain}" if video.domain else ""
    return f"no task {video.task_id}{place} in the questions folder: import the task first (vmevalkit tasks import)"


def _import(
    video: FoundVideo,
    fmt: str,
    model: str,
    tasks: dict[str, list[Task]],
    invalid: dict[str, str],
    experiment_dir: Path,
) -> ImportOutcome:
    task = _pick_task(video, tasks, invalid)
    if isinstance(task, str):
        return ImportOutcome("unknown_task", video, model, reason=task)
    if not SAFE_NAME.fullmatch(model):
        return ImportOutcome("failed", video, model, reason=f"model name {model!r} is not a plain name: pass --model")
    try:
        if not video.source.is_file():
            return ImportOutcome("failed", video, model, reason=f"{video.source} is not a file")
        sha256 = file_sha256(video.source)
        task_dir = experiment_dir.joinpath(model, f"{task.domain}{DOMAIN_SUFFIX}", task.task_id)
        run_dir = task_dir / f"{RUN_PREFIX}{sha256[:16]}"
        if _done(run_dir):
            return ImportOutcome("already", video, model, run_dir)
        try:
            info = probe_video(video.source)
            if info.frame_count == 0:
                raise VideoError("it decodes to no frames")
        except VideoError as exc:
            return ImportOutcome("undecodable", video, model, reason=f"the video does not decode: {exc}")
        task_dir.mkdir(parents=True, exist_ok=True)
        with _locked(task_dir / f".{run_dir.name}.lock"):
            if _done(run_dir):  # a peer imported the same bytes meanwhile
                return ImportOutcome("already", video, model, run_dir)
            _assemble(video, fmt, model, task, run_dir, sha256, info)
    except OSError as exc:
        reason = f"{exc.strerror or type(exc).__name__}" + (f": {exc.filename}" if exc.filename else "")
        return ImportOutcome("failed", video, model, reason=f"I/O error: {reason}")
    except VideoError as exc:
        return ImportOutcome("failed", video, model, reason=str(exc))
    return ImportOutcome("imported", video, model, run_dir)


def _done(run_dir: Path) -> bool:
    """Whether ``run_dir`` is a completed import whose video is still the one recorded (rehashed)."""
    record = read_record(run_dir)
    if record is None or record.status != "completed":
        return False
    return video_problem(run_dir, record.video, record.video_size, record.video_sha256, verify=True) is None


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive ``flock`` on ``path`` for the block; the kernel drops it when the process dies, even by SIGKILL."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _assemble(video: FoundVideo, fmt: str, model: str, task: Task, run_dir: Path, sha256: str, info: VideoInfo) -> None:
    """Build the generation in a hidden staging folder beside ``run_dir`` and rename it into place whole.

    ``info`` is what the decoder saw in the source; the copy is checked to be the same bytes (sha256)."""
    parent = run_dir.parent
    for leftover in parent.glob(f".{run_dir.name}{TEMP_MARKER}*"):  # a killed import's; we hold the lock
        shutil.rmtree(leftover, ignore_errors=True)
    staging = parent / f".{run_dir.name}{TEMP_MARKER}{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        (staging / "question").mkdir(parents=True)
        for name in QUESTION_FILES:
            if (task.path / name).is_file():
                _copy(task.path / name, staging / "question" / name)
        relative = f"video/{model}_{task.task_id}.mp4"
        (staging / "video").mkdir()
        _copy(video.source, staging / relative)
        if file_sha256(staging / relative) != sha256:
            raise VideoError(f"{video.source} changed while it was copied: import it again once it is complete")
        now = utc_now()
        record = GenerationRecord(
            status="completed",
            model=model,
            model_id=model,
            family=IMPORTED,
            kind=IMPORTED,
            task_id=task.task_id,
            domain=task.domain,
            run_id=run_dir.name,
            seed=0,  # unknown: the generation happened elsewhere
            duration=info.duration_seconds,
            prompt=task.prompt,
            video=relative,
            video_info=info.model_copy(update={"path": relative}),
            video_size=(staging / relative).stat().st_size,
            video_sha256=sha256,
            attempts=1,
            started_at=now,
            finished_at=now,
            environment=environment_info(),
            provenance=provenance(video.source, sha256, now, fmt),
        )
        atomic_write_json(staging / METADATA_FILE, scrub_data(record.model_dump(mode="json")))
        _publish(staging, run_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)  # gone already when published


def provenance(source: Path, sha256: str, imported_at: str, fmt: str) -> dict[str, Any]:
    """Where an imported video came from: what ``metadata.json`` keeps under ``provenance``."""
    return {"source_path": str(source.absolute()), "source_sha256": sha256, "imported_at": imported_at, "format": fmt}


def _copy(source: Path, destination: Path) -> None:
    shutil.copyfile(source, destination)
    with open(destination, "rb") as fh:
        os.fsync(fh.fileno())


def _fsync_dir(directory: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _publish(staging: Path, run_dir: Path) -> None:
    """Rename the finished staging folder to ``run_dir``: the one step that makes the generation visible.

    A folder already there is not a completed import of these bytes (the caller checked under the lock): an
    unfinished one from elsewhere, moved aside and removed first.
    """
    for sub in (staging / "question", staging / "video", staging):
        _fsync_dir(sub)
    if run_dir.exists():
        aside = run_dir.parent / f".{run_dir.name}{TEMP_MARKER}old-{uuid.uuid4().hex[:8]}"
        os.rename(run_dir, aside)
        shutil.rmtree(aside, ignore_errors=True)
    os.rename(staging, run_dir)
    _fsync_dir(run_dir.parent)

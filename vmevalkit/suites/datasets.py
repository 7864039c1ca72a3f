"""A suite's datasets as one questions folder in our layout, built once and reused (``vmevalkit run``, issue 15).

The runner takes one questions folder, so every dataset of the suite (generated, local, Hugging Face Hub, imported)
is merged into ``<work_dir>/questions/<domain>_task/<task_id>/``. Two datasets with the same task id in one domain
are refused: which copy ran would otherwise depend on the order of the file, and a result could not say.

Built to be safe to kill and cheap to repeat:

- everything is built in a hidden staging folder beside the target and renamed into place only when complete, so
  a kill mid-build leaves the previous folder as it was (the next build clears the leftovers);
- the folder holds a manifest of what it was built from (each dataset's spec, plus a cheap stat fingerprint of a
  local source, the package version for generated tasks) and of the folder's own files; when both still match, the
  folder is reused and nothing is copied, downloaded or generated;
- every task is checked with the task loader before it is taken, so a benchmark never runs fewer tasks than it
  says by silently skipping broken ones.

A Hub dataset is fetched with ``huggingface_hub.snapshot_download`` at its pinned commit into a cache beside the
work dir (``<work_dir>/../.hub-cache``), which a second run reads offline (``HF_HUB_OFFLINE=1`` or
``offline=True``). Its ``sha256`` pins (paths relative to ``subdir``) are checked against the snapshot whenever the
folder is built; the manifest records them, so changing a pin rebuilds and checks again.

Each dataset gets a fingerprint for the result JSON: its spec as written, ``tasks`` (how many it gave) and
``tasks_sha256``, a hash over the relative path and sha256 of every file of its tasks.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import vmevalkit
from vmevalkit.suites.schema import GeneratedDataset, HubDataset, ImportDataset, LocalDataset, SuiteError
from vmevalkit.tasks.loader import DOMAIN_SUFFIX, TaskSelectionError, discover, load_tasks
from vmevalkit.utils.atomic import atomic_write_json

if TYPE_CHECKING:
    from vmevalkit.suites.schema import Dataset, LoadedSuite

MANIFEST = ".suite-manifest.json"
MANIFEST_SCHEMA = 1
QUESTIONS = "questions"
HUB_CACHE = ".hub-cache"
INSTALL_HINT = 'pip install "vmevalkit[suites]"'
_STAGING_PREFIX = ".questions-staging-"
_OLD_PREFIX = ".questions-old-"
_LOCK = ".questions.lock"
_SHOWN_PROBLEMS = 5


@dataclass(frozen=True)
class PreparedQuestions:
    """The merged questions folder and one JSON-able fingerprint per dataset (for the result JSON)."""

    questions_dir: Path
    datasets: list[dict[str, Any]]
    reused: bool = False  # True when an earlier build was taken as it was (nothing copied)


def hub_cache_dir(work_dir: Path) -> Path:
    """Where Hub snapshots are cached: beside the work dir, so suites that share an output folder share downloads."""
    return Path(work_dir).parent / HUB_CACHE


def prepare_questions(
    loaded: LoadedSuite, work_dir: Path, *, offline: bool = False, hub_cache: Path | None = None
) -> PreparedQuestions:
    """Build (or reuse) ``<work_dir>/questions`` from every dataset of the suite; see the module docstring.

    Raises SuiteError naming the suite file, the dataset (``datasets[i]``) and the fix."""
    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    target = work_dir / QUESTIONS
    offline = offline or _env_flag("HF_HUB_OFFLINE")
    cache = Path(hub_cache) if hub_cache is not None else hub_cache_dir(work_dir)
    with _exclusive(work_dir):
        _recover(work_dir, target)
        inputs = [_input_of(loaded, ds) for ds in loaded.suite.datasets]
        key = _canonical_hash({"schema": MANIFEST_SCHEMA, "inputs": inputs})
        manifest = _read_manifest(target)
        if manifest is not None and manifest.get("key") == key and manifest.get("tree") == _tree_stat(target):
            return PreparedQuestions(target, list(manifest["datasets"]), reused=True)
        staging = work_dir / f"{_STAGING_PREFIX}{uuid.uuid4().hex}"
        try:
            staged, fingerprints = _build(loaded, staging, offline=offline, cache=cache)
            manifest = {"schema": MANIFEST_SCHEMA, "key": key, "inputs": inputs, "datasets": fingerprints}
            manifest["tree"] = _tree_stat(staged)
            atomic_write_json(staged / MANIFEST, manifest)
            _swap_into_place(staged, target, work_dir)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return PreparedQuestions(target, fingerprints)


# ---- what a folder is built from ---------------------------------------------------------------------------------


def _source_path(loaded: LoadedSuite, ds: LocalDataset | ImportDataset) -> Path:
    """A dataset path is relative to the suite file (an absolute one stays as it is)."""
    return loaded.resolve(ds.path)


def _input_of(loaded: LoadedSuite, ds: Dataset) -> dict[str, Any]:
    """What a dataset's tasks depend on, cheaply: its spec, plus what could change under the same spec."""
    spec = ds.model_dump(mode="json")
    if isinstance(ds, GeneratedDataset):
        return {"spec": spec, "vmevalkit": vmevalkit.__version__}  # generators change with the package
    if isinstance(ds, (LocalDataset, ImportDataset)):
        source = _source_path(loaded, ds)
        return {"spec": spec, "source": str(source), "stat": _tree_stat(source)}
    return {"spec": spec}  # a Hub commit never changes; its pins are in the spec


def _tree_stat(root: Path) -> str | None:
    """A hash of every file's relative path, size and modification time under ``root`` (the manifest left out):
    cheap enough for every run, and changed by any edit, addition or removal. None when ``root`` is missing.

    Walked with ``os.scandir`` and plain strings: thousands of tasks are walked on every run, and pathlib objects
    per file would cost more than the stats."""
    if not root.is_dir():
        return None
    digest = hashlib.sha256()
    pending = [("", str(root))]
    while pending:
        prefix, folder = pending.pop()
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
            continue
        for entry in reversed(entries):  # popped from the end: folders come out in sorted order
            rel = f"{prefix}{entry.name}"
            if entry.is_dir(follow_symlinks=False):
                pending.append((f"{rel}/", entry.path))
        for entry in entries:
            rel = f"{prefix}{entry.name}"
            if rel == MANIFEST or entry.is_dir(follow_symlinks=False):
                continue
            try:
                st = entry.stat()
            except OSError:
                continue  # a dangling link: the loader refuses such a task anyway
            digest.update(f"{rel}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def _canonical_hash(data: Any) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _read_manifest(target: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((target / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("schema") == MANIFEST_SCHEMA else None


# ---- building ----------------------------------------------------------------------------------------------------


def _build(loaded: LoadedSuite, staging: Path, *, offline: bool, cache: Path) -> tuple[Path, list[dict[str, Any]]]:
    """Every dataset into its own part folder, each part checked, then all moved into one questions folder."""
    merged = staging / QUESTIONS
    merged.mkdir(parents=True)
    origin: dict[tuple[str, str], int] = {}
    notes: list[dict[str, Any]] = []
    for index, ds in enumerate(loaded.suite.datasets):
        part = staging / f"part-{index}"
        extra = _make_part(loaded, index, ds, part, staging, offline=offline, cache=cache)
        _check_part(loaded, index, ds, part)
        _merge(loaded, index, part, merged, origin)
        notes.append(extra)
    fingerprints = []
    for index, ds in enumerate(loaded.suite.datasets):
        tasks = sorted(key for key, owner in origin.items() if owner == index)
        fingerprint: dict[str, Any] = {**ds.model_dump(mode="json"), "what": _what(ds), **notes[index]}
        fingerprint["tasks"] = len(tasks)
        fingerprint["tasks_sha256"] = _tasks_hash(merged, tasks)
        fingerprints.append(fingerprint)
    return merged, fingerprints


def _make_part(
    loaded: LoadedSuite, index: int, ds: Dataset, part: Path, staging: Path, *, offline: bool, cache: Path
) -> dict[str, Any]:
    """Write one dataset's tasks into ``part`` in our layout; returns notes for its fingerprint."""
    where = _where(loaded, index)
    if isinstance(ds, GeneratedDataset):
        from vmevalkit.tasks.writer import BuildError, build_dataset

        domains = None if ds.domains == "all" else list(ds.domains)
        try:
            build_dataset(part, domains, per_domain=ds.count, seed=ds.seed, difficulty=ds.difficulty)
        except (BuildError, KeyError, ValueError) as exc:
            raise SuiteError(f"{where}: {_text(exc)}") from None
        return {}
    if isinstance(ds, LocalDataset):
        _copy_local(_source_path(loaded, ds), part, where, ds.domains, ds.limit_per_domain)
        return {}
    if isinstance(ds, ImportDataset):
        return _import(_source_path(loaded, ds), ds.format, part, where)
    snapshot = _download(ds, where, offline=offline, cache=cache)
    root = snapshot / ds.subdir if ds.subdir else snapshot
    if not root.is_dir():
        raise SuiteError(f"{where}.subdir: {ds.repo} at {ds.revision[:12]} has no folder {ds.subdir!r}")
    _check_pins(ds, root, where)
    # The cache holds links into its blob store, which the loader and an import (rightly) refuse to follow out of
    # the folder: take a plain copy first.
    plain = staging / f"hub-{index}"
    shutil.copytree(root, plain, symlinks=False)
    if ds.format is None:
        _copy_local(plain, part, where, None, None)
        return {}
    return _import(plain, ds.format, part, where)


def _copy_local(source: Path, part: Path, where: str, domains: list[str] | None, limit: int | None) -> None:
    """Copy the chosen tasks of a folder in our layout (files, never links: the copy must not change with them)."""
    if not source.is_dir():
        raise SuiteError(f"{where}.path: {source} is not a folder: give a questions folder in our layout")
    try:
        taskset = load_tasks(source, domains=domains or None, limit_per_domain=limit)
    except TaskSelectionError as exc:
        raise SuiteError(f"{where}: {exc}") from None
    _refuse_problems(where, [(p.domain, p.task_id, p.reason) for p in taskset.problems])
    for task in taskset.tasks:
        shutil.copytree(task.path, part / f"{task.domain}{DOMAIN_SUFFIX}" / task.task_id, symlinks=False)


def _import(source: Path, fmt: str, part: Path, where: str) -> dict[str, Any]:
    from vmevalkit.tasks.importers import ImportLayoutError, import_tasks

    try:
        report = import_tasks(source, fmt, part)
    except (ImportLayoutError, OSError) as exc:
        raise SuiteError(f"{where}: {_text(exc)}") from None
    if not report.imported:
        reasons = "; ".join(f"{s.name}: {s.reason}" for s in report.skipped[:_SHOWN_PROBLEMS])
        why = f" ({reasons})" if reasons else ""
        raise SuiteError(f"{where}: no task could be imported from {source} as {fmt}{why}: check its path and format")
    return {"skipped": len(report.skipped)} if report.skipped else {}


def _check_part(loaded: LoadedSuite, index: int, ds: Dataset, part: Path) -> None:
    """Every task of a part loads, and there is at least one."""
    where = _where(loaded, index)
    if not part.is_dir() or not discover(part):
        raise SuiteError(f"{where}: it gave no task: check its {_what_to_check(ds)}")
    taskset = load_tasks(part)
    _refuse_problems(where, [(p.domain, p.task_id, p.reason) for p in taskset.problems])
    if not taskset.tasks:
        raise SuiteError(f"{where}: it gave no task: check its {_what_to_check(ds)}")


def _what(ds: Dataset) -> str:
    """One line saying what a dataset is, for the plan and the result."""
    if isinstance(ds, GeneratedDataset):
        domains = "all domains" if ds.domains == "all" else ", ".join(ds.domains)
        level = f", {ds.difficulty}" if ds.difficulty else ""
        return f"{domains} x{ds.count} from seed {ds.seed}{level}"
    if isinstance(ds, HubDataset):
        sub = f"/{ds.subdir}" if ds.subdir else ""
        return f"{ds.repo}{sub}@{ds.revision[:12]}" + (f" ({ds.format})" if ds.format else "")
    if isinstance(ds, ImportDataset):
        return f"{ds.path} ({ds.format})"
    return ds.path


def _what_to_check(ds: Dataset) -> str:
    if isinstance(ds, GeneratedDataset):
        return "domains and count"
    if isinstance(ds, LocalDataset):
        return "path and domains"
    if isinstance(ds, HubDataset):
        return "subdir (where the tasks lie in the repo) and format"
    return "path and format"


def _refuse_problems(where: str, problems: list[tuple[str, str, str]]) -> None:
    if not problems:
        return
    shown = "; ".join(f"{domain}/{task_id}: {reason}" for domain, task_id, reason in problems[:_SHOWN_PROBLEMS])
    more = f" (and {len(problems) - _SHOWN_PROBLEMS} more)" if len(problems) > _SHOWN_PROBLEMS else ""
    raise SuiteError(
        f"{where}: {len(problems)} invalid task(s): {shown}{more}: fix them, or leave them out with domains/limit"
    )


def _merge(loaded: LoadedSuite, index: int, part: Path, merged: Path, origin: dict[tuple[str, str], int]) -> None:
    """Move a part's tasks into the merged folder; a task id already taken in its domain is an error."""
    clashes: list[str] = []
    others: set[int] = set()
    for domain, folders in discover(part).items():
        for folder in folders:
            key = (domain, folder.name)
            if key in origin:
                clashes.append(f"{domain}/{folder.name}")
                others.add(origin[key])
                continue
            destination = merged / f"{domain}{DOMAIN_SUFFIX}" / folder.name
            destination.parent.mkdir(parents=True, exist_ok=True)
            os.replace(folder, destination)
            origin[key] = index
    if clashes:
        name = loaded.path.name
        both = " and ".join(f"datasets[{i}]" for i in [*sorted(others), index])
        more = f" (and {len(clashes) - _SHOWN_PROBLEMS} more)" if len(clashes) > _SHOWN_PROBLEMS else ""
        raise SuiteError(
            f"{name}: {both} both have task(s) {', '.join(clashes[:_SHOWN_PROBLEMS])}{more}: a task id must be unique "
            "in its domain over all datasets; drop one dataset or filter it with domains/limit_per_domain"
        )


def _tasks_hash(merged: Path, tasks: list[tuple[str, str]]) -> str:
    """sha256 over the relative path and content hash of every file of the given tasks, in a fixed order."""
    digest = hashlib.sha256()
    for domain, task_id in tasks:
        folder = merged / f"{domain}{DOMAIN_SUFFIX}" / task_id
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            rel = path.relative_to(merged).as_posix()
            digest.update(f"{rel}\0{_file_sha256(path)}\n".encode())
    return digest.hexdigest()


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# ---- the Hugging Face Hub ----------------------------------------------------------------------------------------


def _download(ds: HubDataset, where: str, *, offline: bool, cache: Path) -> Path:
    """The snapshot of ``ds.repo`` at its pinned commit, from the cache or the Hub (HF_ENDPOINT, HF_TOKEN)."""
    try:
        from huggingface_hub import errors, snapshot_download
    except ImportError:
        raise SuiteError(f"{where}: a Hub dataset needs huggingface_hub: {INSTALL_HINT}") from None
    # Read at call time: huggingface_hub reads these once, when it is first imported.
    endpoint = os.environ.get("HF_ENDPOINT") or None
    token = os.environ.get("HF_TOKEN") or None
    shown = endpoint or "huggingface.co"
    at = f"{ds.repo} at {ds.revision}"
    try:
        folder = snapshot_download(
            ds.repo,
            repo_type="dataset",
            revision=ds.revision,
            cache_dir=cache,
            local_files_only=offline,
            endpoint=endpoint,
            token=token,
            library_name="vmevalkit",
        )
    except errors.GatedRepoError:
        raise SuiteError(
            f"{where}.repo: {ds.repo} is gated: accept its terms on the Hub, then export HF_TOKEN=<a read token>"
        ) from None
    except errors.RepositoryNotFoundError:
        raise SuiteError(
            f"{where}.repo: no dataset {ds.repo!r} on {shown} (or it is private): check the name, HF_ENDPOINT, "
            "and HF_TOKEN for a private repo"
        ) from None
    except errors.RevisionNotFoundError:
        raise SuiteError(
            f"{where}.revision: {ds.repo} has no commit {ds.revision} on {shown}: pin a commit from the repo's history"
        ) from None
    except errors.LocalEntryNotFoundError:
        if offline:
            raise SuiteError(
                f"{where}: {at} is not in the cache {cache} and downloads are off (HF_HUB_OFFLINE or offline): "
                "run once online to fetch it"
            ) from None
        raise SuiteError(f"{where}: {at} could not be fetched from {shown} and is not in the cache {cache}") from None
    except errors.HfHubHTTPError as exc:
        raise SuiteError(f"{where}: fetching {at} from {shown} failed: {_text(exc)}") from None
    return Path(folder)


def _check_pins(ds: HubDataset, root: Path, where: str) -> None:
    """Each pinned file (relative to ``subdir``) must hash to its pin."""
    problems = []
    for rel, expected in sorted((ds.sha256 or {}).items()):
        path = root / rel
        if not path.is_file():
            problems.append(f"{rel} is missing")
            continue
        actual = _file_sha256(path)
        if actual != expected.lower():
            problems.append(f"{rel} has sha256 {actual}, pinned {expected}")
    if problems:
        raise SuiteError(
            f"{where}.sha256: files changed at revision {ds.revision} of {ds.repo} ({'; '.join(problems)}): "
            "the repo was rewritten; pin the new commit after checking it"
        )


# ---- the folder: lock, leftovers, swap ---------------------------------------------------------------------------


@contextlib.contextmanager
def _exclusive(work_dir: Path) -> Iterator[None]:
    """One build of a work dir at a time: a second waits, then finds the folder built and reuses it."""
    import fcntl  # POSIX only, like the runner's locks

    with open(work_dir / _LOCK, "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _recover(work_dir: Path, target: Path) -> None:
    """Clear what a killed build left: staging folders, and an old folder moved aside but not yet removed (put
    back when the kill came between the two renames of the swap)."""
    for leftover in sorted(work_dir.glob(f"{_STAGING_PREFIX}*")):
        shutil.rmtree(leftover, ignore_errors=True)
    for old in sorted(work_dir.glob(f"{_OLD_PREFIX}*")):
        if not target.exists():
            os.replace(old, target)
        else:
            shutil.rmtree(old, ignore_errors=True)


def _swap_into_place(staged: Path, target: Path, work_dir: Path) -> None:
    """Rename the finished folder into place; the previous one is moved aside first and removed after."""
    old = work_dir / f"{_OLD_PREFIX}{uuid.uuid4().hex}"
    if target.exists():
        os.replace(target, old)
    os.replace(staged, target)
    shutil.rmtree(old, ignore_errors=True)


# ---- small helpers -----------------------------------------------------------------------------------------------


def _where(loaded: LoadedSuite, index: int) -> str:
    return f"{loaded.path.name}: datasets[{index}]"


def _text(exc: BaseException) -> str:
    text = str(exc).strip()
    if isinstance(exc, KeyError) and len(exc.args) == 1 and isinstance(exc.args[0], str):
        text = exc.args[0]
    return text.splitlines()[0] if text else type(exc).__name__


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")

"""Checkpoints of local models: the pinned registry, lock files, verification and download.

The registry, ``checkpoints.toml`` beside this file, is data: one table per checkpoint id (the local
model's name) with its Hugging Face repo, the revision to fetch, the files it needs (``allow_patterns``)
and, once a maintainer has pinned them, every file's size and sha256 (``[<id>.files]``). Weights not installed
anywhere yet can still show what they download: ``print_pins`` with checkpoint ids asks the Hub for each file's size
(no download, no huggingface_hub needed) and prints ``[<id>.sizes]``, which ``install_model.sh --list`` sums.

Where the registry cannot name a commit yet (``pinned = false``, revision = a branch), the first install
resolves the branch to a commit, downloads *at that commit*, and records the commit and every file's
size and sha256 in a lock file beside the weights (``weights/<family>/<id>/vmevalkit.lock.json``). Every
later install and every run verifies against that lock, so the weights a run uses never drift with the
branch. ``print_pins`` turns locks into registry tables that a maintainer pastes into ``checkpoints.toml``.

Verification is cheap enough to run before every job: a machine-local stamp file
(``.vmevalkit-verified.json``) remembers the size, mtime and sha256 of every file hashed here, so only
files whose size or mtime changed are hashed again.

Runs in the main environment for everything but ``fetch`` (stdlib + pydantic); ``fetch`` needs
huggingface_hub, which only the model virtualenvs have, and imports it inside the download code.
Its command line is ``vmevalkit local {fetch,verify,print-pins,weights}`` (``vmevalkit.cli.local``); the setup
scripts run ``python -m vmevalkit local fetch`` inside the model's virtualenv.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import importlib
import os
import re
import shutil
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, cast
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt, ValidationError, model_validator

from vmevalkit.utils.atomic import atomic_write_json
from vmevalkit.utils.sizes import human  # as --list shows sizes

DEFAULT_REGISTRY = Path(__file__).with_name("checkpoints.toml")
LOCK_FILE = "vmevalkit.lock.json"
STAMP_FILE = ".vmevalkit-verified.json"
MUTEX_FILE = ".vmevalkit-install.lock"
PARTIAL_DIR = ".vmevalkit-partial"  # interrupted downloads, resumed by the next install
_OWN_NAMES = {LOCK_FILE, STAMP_FILE, MUTEX_FILE, PARTIAL_DIR}

COMMIT_RE = re.compile(r"^[0-9a-f]{40}$")
SHA256_PATTERN = r"^[0-9a-f]{64}$"
NAME_PATTERN = r"^[a-z0-9][a-z0-9._-]*$"  # checkpoint ids and families become folder names
HASH_CHUNK = 8 * 1024 * 1024

Report = Callable[[str], None]


# ---- errors -------------------------------------------------------------------------------------


class WeightsError(Exception):
    """Base of every error this module raises on purpose; its message says what to do."""


class RegistryError(WeightsError, ValueError):
    """checkpoints.toml (or a registry given instead) is unreadable or invalid."""


class UnknownCheckpointError(WeightsError, LookupError):
    """The registry has no entry with this id."""


class WeightsVerificationError(WeightsError):
    """Weights on disk (or just downloaded) do not match their pins."""


class WeightsDownloadError(WeightsError):
    """The download could not be done (network, access, missing files)."""


def install_hint(checkpoint_id: str) -> str:
    return f"bash setup/install_model.sh {checkpoint_id}"


# ---- registry -----------------------------------------------------------------------------------


def _check_relpath(path: str) -> str:
    """A repo file path that stays inside the checkpoint folder and clear of our own files."""
    parts = PurePosixPath(path).parts
    if (
        not path
        or path.startswith("/")
        or "\\" in path
        or any(part in ("", ".", "..") for part in path.split("/"))
        or parts[0] in _OWN_NAMES
    ):
        raise ValueError(f"unsafe file path {path!r} (must be relative, inside the checkpoint, no '..')")
    return path


class FilePin(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    size: int = Field(ge=0)
    sha256: str = Field(pattern=SHA256_PATTERN)


class CheckpointPin(BaseModel):
    """One table of checkpoints.toml."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=NAME_PATTERN)
    repo_id: str = Field(pattern=r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
    family: str = Field(pattern=NAME_PATTERN)  # weights go to weights/<family>/<id>/
    revision: str = Field(min_length=1)  # a 40-hex commit when pinned, else a branch or tag
    pinned: bool
    gated: bool = False  # the repo needs an accepted license and HF_TOKEN
    allow_patterns: list[str] = Field(min_length=1)  # fnmatch patterns of the repo files to fetch
    ignore_patterns: list[str] = Field(default_factory=list)
    note: str = ""
    files: dict[str, FilePin] | None = None  # maintainer-pinned: exactly the files fetched, with size and sha256
    # Each file's size as the Hub lists it at the revision (print-pins NAME): only what --list shows as the download
    # size, never checked against (downloads are checked against [files], the lock and the Hub's own listing).
    sizes: dict[str, NonNegativeInt] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> CheckpointPin:
        is_commit = COMMIT_RE.fullmatch(self.revision) is not None
        if self.pinned and not is_commit:
            raise ValueError(f"pinned = true needs revision to be a 40-hex commit, not {self.revision!r}")
        if not self.pinned and is_commit:
            raise ValueError("revision is a commit hash: set pinned = true")
        if not self.pinned and not self.note:
            raise ValueError("an unpinned revision needs a note saying why it is not pinned")
        if self.files is not None:
            if not self.pinned:
                raise ValueError("a [files] table needs a pinned revision")
            for path in self.files:
                _check_relpath(path)
        for path in self.sizes or {}:
            _check_relpath(path)
        return self

    def wanted(self, path: str) -> bool:
        """Whether a repo file is one the checkpoint needs (its allow_patterns, less its ignore_patterns)."""
        from fnmatch import fnmatch

        return any(fnmatch(path, p) for p in self.allow_patterns) and not any(
            fnmatch(path, p) for p in self.ignore_patterns
        )


def download_bytes(pin: CheckpointPin) -> int | None:
    """What fetching the checkpoint downloads, from its pinned files or else its listed sizes; None when unknown."""
    if pin.files:
        return sum(f.size for f in pin.files.values())
    return sum(pin.sizes.values()) if pin.sizes else None


def _toml_loads(text: str) -> dict[str, Any]:
    # tomllib is stdlib from Python 3.11 (every model venv); tomli is its 3.10 backport.
    module = importlib.import_module("tomllib" if sys.version_info >= (3, 11) else "tomli")
    return cast(dict[str, Any], module.loads(text))


def load_registry(path: Path | None = None) -> dict[str, CheckpointPin]:
    """Every checkpoint in the registry (``checkpoints.toml`` by default), by id."""
    path = DEFAULT_REGISTRY if path is None else Path(path)
    try:
        data = _toml_loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise RegistryError(f"cannot read the checkpoint registry {path}: {exc}") from exc
    except ValueError as exc:  # tomllib.TOMLDecodeError
        raise RegistryError(f"checkpoint registry {path} is not valid TOML: {exc}") from exc
    pins: dict[str, CheckpointPin] = {}
    for key, table in data.items():
        if not isinstance(table, dict):
            raise RegistryError(f"checkpoint registry {path}: '{key}' must be a table ([{key}])")
        try:
            pins[key] = CheckpointPin.model_validate({"id": key, **table})
        except ValidationError as exc:
            details = "; ".join(f"{'.'.join(map(str, e['loc'])) or key}: {e['msg']}" for e in exc.errors())
            raise RegistryError(f"checkpoint registry {path}: [{key}] is invalid: {details}") from exc
    return pins


def get_pin(checkpoint_id: str, registry: Path | None = None) -> CheckpointPin:
    pins = load_registry(registry)
    pin = pins.get(checkpoint_id)
    if pin is None:
        known = ", ".join(sorted(pins)) or "none"
        where = registry or DEFAULT_REGISTRY
        raise UnknownCheckpointError(f"unknown checkpoint '{checkpoint_id}': {where} knows {known}")
    return pin


def checkpoint_dir(checkpoint_id: str, weights_dir: Path, *, registry: Path | None = None) -> Path:
    """Where a checkpoint's weights live: ``<weights_dir>/<family>/<id>``."""
    pin = get_pin(checkpoint_id, registry)
    return Path(weights_dir) / pin.family / pin.id


# ---- lock and stamp files -----------------------------------------------------------------------


class Lock(BaseModel):
    """What an install fetched: the commit a revision resolved to and every file's size and sha256."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    checkpoint: str
    repo_id: str
    revision: str  # as the registry asked for it
    commit: str = Field(pattern=r"^[0-9a-f]{40}$")  # what it resolved to, and what was downloaded
    files: dict[str, FilePin]
    created_at: str


class _StampEntry(BaseModel):
    size: int
    mtime_ns: int
    sha256: str


class _Stamp(BaseModel):
    """Hashes computed on this machine, valid while a file's size and mtime stay the same."""

    files: dict[str, _StampEntry] = Field(default_factory=dict)


def read_lock(directory: Path) -> Lock | None:
    """The lock file in a checkpoint folder; None when there is none. Raises ValueError when unreadable."""
    path = directory / LOCK_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    try:
        lock = Lock.model_validate_json(text)
        for relpath in lock.files:
            _check_relpath(relpath)
    except (ValidationError, ValueError) as exc:
        raise ValueError(f"{path} is not a valid lock file: {str(exc).splitlines()[0]}") from exc
    return lock


def _read_stamp(directory: Path) -> _Stamp:
    try:
        return _Stamp.model_validate_json((directory / STAMP_FILE).read_text(encoding="utf-8"))
    except (OSError, ValidationError, ValueError):
        return _Stamp()  # no stamp, or a broken one: hash again


def _write_stamp(directory: Path, stamp: _Stamp) -> None:
    # A read-only weights folder (shared install) only costs re-hashing next time.
    with contextlib.suppress(OSError):
        atomic_write_json(directory / STAMP_FILE, stamp.model_dump())


def _hash_file(path: Path, *, git: bool = False) -> tuple[str, str | None]:
    """sha256 of a file and, when asked, its git blob id (what the Hub reports for non-LFS files)."""
    sha256 = hashlib.sha256()
    sha1 = None
    if git:
        sha1 = hashlib.sha1()
        sha1.update(b"blob %d\0" % path.stat().st_size)
    with open(path, "rb") as fh:
        while chunk := fh.read(HASH_CHUNK):
            sha256.update(chunk)
            if sha1 is not None:
                sha1.update(chunk)
    return sha256.hexdigest(), None if sha1 is None else sha1.hexdigest()


def _stamped_sha256(directory: Path, relpath: str, stamp: _Stamp, *, full: bool = False) -> str:
    """A file's sha256: from the stamp while its size and mtime are unchanged, else hashed (and stamped)."""
    st = (directory / relpath).stat()
    entry = stamp.files.get(relpath)
    if not full and entry is not None and entry.size == st.st_size and entry.mtime_ns == st.st_mtime_ns:
        return entry.sha256
    sha256, _ = _hash_file(directory / relpath)
    stamp.files[relpath] = _StampEntry(size=st.st_size, mtime_ns=st.st_mtime_ns, sha256=sha256)
    return sha256


# ---- verification -------------------------------------------------------------------------------


def _lock_fits(lock: Lock, pin: CheckpointPin) -> bool:
    """Whether a lock was made for what the registry asks now (a branch's lock keeps its commit)."""
    if lock.checkpoint != pin.id or lock.repo_id != pin.repo_id:
        return False
    return lock.commit == pin.revision if pin.pinned else lock.revision == pin.revision


def _file_problems(pin: CheckpointPin, directory: Path, lock: Lock, *, full: bool = False) -> list[str]:
    """Every file of the lock is present with the locked size and sha256 (and the registry's, if pinned)."""
    failed = f"weights for '{pin.id}' failed verification"
    fix = f"run {install_hint(pin.id)} to re-download it"
    problems = []
    stamp = _read_stamp(directory)
    for relpath, want in sorted(lock.files.items()):
        pinned = pin.files.get(relpath) if pin.files is not None else None
        if pin.files is not None and pinned != want:
            problems.append(f"{failed}: {relpath} is not the file the registry pins: {fix}")
            continue
        path = directory / relpath
        if not path.is_file():
            problems.append(f"{failed}: {relpath} is missing: {fix}")
            continue
        size = path.stat().st_size
        if size != want.size:
            problems.append(f"{failed}: {relpath} has {size} bytes, expected {want.size}: {fix}")
            continue
        if _stamped_sha256(directory, relpath, stamp, full=full) != want.sha256:
            problems.append(f"{failed}: {relpath} sha256 mismatch: {fix}")
    if pin.files is not None:
        for relpath in sorted(set(pin.files) - set(lock.files)):
            problems.append(f"{failed}: {relpath} (pinned in the registry) was not installed: {fix}")
    _write_stamp(directory, stamp)
    return problems


def verify(checkpoint_id: str, weights_dir: Path, *, registry: Path | None = None, full: bool = False) -> list[str]:
    """What is wrong with a checkpoint's weights, each phrased with its fix; empty when they can be used.

    Cheap enough to call before every run: a file whose size and mtime match its stamp is not hashed
    again (so a change that keeps both goes unnoticed); ``full`` hashes every file regardless.
    """
    pin = get_pin(checkpoint_id, registry)
    directory = Path(weights_dir) / pin.family / pin.id
    try:
        lock = read_lock(directory)
    except ValueError as exc:
        return [f"weights for '{pin.id}' have an unreadable lock file ({exc}): run {install_hint(pin.id)}"]
    if lock is None:
        started = directory.is_dir() and any(p.name != MUTEX_FILE for p in directory.iterdir())
        if started:
            return [f"weights for '{pin.id}' are incomplete (an install did not finish): run {install_hint(pin.id)}"]
        return [f"weights for '{pin.id}' are not downloaded: run {install_hint(pin.id)}"]
    if not _lock_fits(lock, pin):
        wanted = pin.revision[:12] if pin.pinned else f"revision '{pin.revision}' of {pin.repo_id}"
        return [
            f"weights for '{pin.id}' were installed from {lock.repo_id} at {lock.commit[:12]} but the registry "
            f"now asks for {wanted}: run {install_hint(pin.id)} to update them"
        ]
    return _file_problems(pin, directory, lock, full=full)


def require_verified(checkpoint_id: str, weights_dir: Path, *, registry: Path | None = None) -> Path:
    """The checkpoint folder, or WeightsVerificationError naming every problem and its fix."""
    problems = verify(checkpoint_id, weights_dir, registry=registry)
    if problems:
        raise WeightsVerificationError("\n".join(problems))
    return checkpoint_dir(checkpoint_id, weights_dir, registry=registry)


def status(checkpoint_id: str, weights_dir: Path, *, registry: Path | None = None) -> dict[str, Any]:
    """A summary for ``install_model.sh --list``: present? verified? how big on disk?"""
    pin = get_pin(checkpoint_id, registry)
    directory = Path(weights_dir) / pin.family / pin.id
    try:
        lock = read_lock(directory)
    except ValueError:
        lock = None
    problems = verify(checkpoint_id, weights_dir, registry=registry)
    size = sum(p.stat().st_size for p in directory.rglob("*") if p.is_file()) if directory.is_dir() else 0
    return {
        "checkpoint": pin.id,
        "repo_id": pin.repo_id,
        "family": pin.family,
        "revision": pin.revision,
        "pinned": pin.pinned,
        "gated": pin.gated,
        "dir": str(directory),
        "present": lock is not None,
        "commit": lock.commit if lock is not None else None,
        "verified": not problems,
        "problems": problems,
        "size_bytes": size,
    }


# ---- print-pins ---------------------------------------------------------------------------------


def _toml_str(text: str) -> str:
    out = []
    for char in text:
        if char in '"\\':
            out.append("\\" + char)
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def _toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else _toml_str(key)


def _table_head(pin: CheckpointPin, revision: str, pinned: bool, note: str) -> list[str]:
    lines = [
        f"[{_toml_key(pin.id)}]",
        f"repo_id = {_toml_str(pin.repo_id)}",
        f"family = {_toml_str(pin.family)}",
        f"revision = {_toml_str(revision)}",
        f"pinned = {'true' if pinned else 'false'}",
        f"gated = {'true' if pin.gated else 'false'}",
        "allow_patterns = [" + ", ".join(_toml_str(p) for p in pin.allow_patterns) + "]",
    ]
    if pin.ignore_patterns:
        lines.append("ignore_patterns = [" + ", ".join(_toml_str(p) for p in pin.ignore_patterns) + "]")
    if note:
        lines.append(f"note = {_toml_str(note)}")
    return lines


def _files_lines(key: str, files: dict[str, FilePin]) -> list[str]:
    lines = ["", f"[{key}.files]"]
    for relpath, file in sorted(files.items()):
        lines.append(f"{_toml_str(relpath)} = {{ size = {file.size}, sha256 = {_toml_str(file.sha256)} }}")
    return lines


def _pin_table(pin: CheckpointPin, lock: Lock) -> list[str]:
    note = pin.note if pin.pinned else f"commit of '{pin.revision}' recorded by an install on {lock.created_at[:10]}"
    return _table_head(pin, lock.commit, True, note) + _files_lines(_toml_key(pin.id), lock.files) + [""]


def _sizes_table(pin: CheckpointPin, commit: str, sizes: dict[str, int], endpoint: str) -> list[str]:
    """The registry's own table with ``[<id>.sizes]`` added (its ``[files]`` pins, if any, kept as they are)."""
    key = _toml_key(pin.id)
    lines = _table_head(pin, pin.revision, pin.pinned, pin.note)
    if pin.files is not None:
        lines += _files_lines(key, pin.files)
    moving = "" if pin.pinned else f" ('{pin.revision}' may move on: a pinned revision keeps them)"
    lines += [
        "",
        f"# {len(sizes)} files, {human(sum(sizes.values()))}, as {endpoint} lists {pin.repo_id} at {commit[:12]}"
        + moving,
        f"[{key}.sizes]",
    ]
    lines += [f"{_toml_str(relpath)} = {size}" for relpath, size in sorted(sizes.items())]
    return lines + [""]


def hub_file_sizes(
    pin: CheckpointPin, *, endpoint: str | None = None, token: str | None = None
) -> tuple[str, dict[str, int], str]:
    """The commit the registry's revision is on the Hub, the size of each file the checkpoint needs there, and the
    endpoint asked; nothing is downloaded.

    One request, the Hub's model info with its blobs (https://huggingface.co/docs/hub/api):
    ``GET {endpoint}/api/models/{repo_id}/revision/{revision}?blobs=true``, whose ``siblings`` are
    ``{rfilename, size, blobId, lfs: {sha256, size}}``. Stdlib HTTP, so it runs in the main environment, which has
    no huggingface_hub. ``endpoint`` and ``token`` default to HF_ENDPOINT and HF_TOKEN, as huggingface_hub reads
    them; the token goes to that endpoint only (not along a redirect).
    """
    import json
    import urllib.error
    import urllib.request
    from urllib.parse import quote

    endpoint = (endpoint or os.environ.get("HF_ENDPOINT") or "https://huggingface.co").rstrip("/")
    token = token if token is not None else os.environ.get("HF_TOKEN")
    url = f"{endpoint}/api/models/{pin.repo_id}/revision/{quote(pin.revision, safe='')}?blobs=true"
    request = urllib.request.Request(url, headers={"User-Agent": "vmevalkit"})
    if token:
        request.add_unredirected_header("Authorization", f"Bearer {token}")
    check = f"check HF_ENDPOINT ({endpoint})"
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            info = json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        if exc.code in (401, 403):
            text = f"{pin.repo_id} was not found on {endpoint} (or it is private): {check}, and HF_TOKEN if private"
        elif exc.code == 404:
            text = f"{pin.repo_id} has no revision '{pin.revision}' on {endpoint}: check the registry, and {check}"
        else:
            text = f"{endpoint} answered HTTP {exc.code} for the file list of {pin.repo_id}: {check}, then try again"
        raise WeightsDownloadError(_redact(text, token)) from None
    except (OSError, ValueError) as exc:  # URLError, a timeout, a body that is not JSON
        raise WeightsDownloadError(
            _redact(f"cannot list the files of {pin.repo_id} on {endpoint} ({exc}): {check} and the network", token)
        ) from None
    commit, siblings = info.get("sha"), info.get("siblings")
    if not isinstance(commit, str) or COMMIT_RE.fullmatch(commit) is None or not isinstance(siblings, list):
        raise WeightsDownloadError(f"{endpoint} answered no commit or no file list for {pin.repo_id}: {check}")
    if pin.pinned and commit != pin.revision:
        raise WeightsDownloadError(f"{endpoint} answered for commit {commit} when asked for {pin.revision}: {check}")
    sizes: dict[str, int] = {}
    for sibling in siblings:
        name, size = sibling.get("rfilename"), sibling.get("size")
        if isinstance(name, str) and pin.wanted(name):
            if not isinstance(size, int) or size < 0:
                raise WeightsDownloadError(f"{endpoint} lists {pin.repo_id}'s {name} with no size: {check}")
            sizes[_check_relpath(name)] = size
    if not sizes:
        raise WeightsDownloadError(
            f"no file of {pin.repo_id} at {commit[:12]} matches the allow_patterns of [{pin.id}]: fix the registry"
        )
    return commit, sizes, endpoint


def print_pins(
    weights_dir: Path,
    *,
    registry: Path | None = None,
    checkpoints: list[str] | None = None,
    endpoint: str | None = None,
) -> str:
    """Registry tables, pinned to the commit and files of every verified lock under ``weights_dir``.

    A maintainer with hub access installs a model, runs this, and pastes the tables over the
    model's table in checkpoints.toml. With ``checkpoints``, only those: one installed and verified here gets its
    pinned table as above, any other its registry table with ``[<id>.sizes]`` from the Hub (``hub_file_sizes``),
    so ``--list`` can show what it downloads before anything is installed.
    """
    if checkpoints:
        lines = ["# Paste each table over the table of the same name in vmevalkit/workers/checkpoints.toml.", ""]
        for checkpoint_id in checkpoints:
            chosen = get_pin(checkpoint_id, registry)
            try:
                installed = read_lock(Path(weights_dir) / chosen.family / chosen.id)
            except ValueError:
                installed = None
            if installed is not None and not verify(chosen.id, weights_dir, registry=registry):
                lines += _pin_table(chosen, installed)
            else:
                commit, sizes, asked = hub_file_sizes(chosen, endpoint=endpoint)
                lines += _sizes_table(chosen, commit, sizes, asked)
        return "\n".join(lines).rstrip("\n") + "\n"
    pins = load_registry(registry)
    lines = [
        "# Pinned checkpoint tables from the verified lock files under " + str(weights_dir) + ".",
        "# Paste each table over the table of the same name in vmevalkit/workers/checkpoints.toml.",
        "",
    ]
    found = False
    for lock_path in sorted(Path(weights_dir).glob(f"*/*/{LOCK_FILE}")):
        found = True
        try:
            lock = read_lock(lock_path.parent)
        except ValueError as exc:
            lines += [f"# skipped {lock_path}: {exc}", ""]
            continue
        if lock is None:  # removed since the glob
            continue
        pin = pins.get(lock.checkpoint)
        if pin is None or Path(weights_dir) / pin.family / pin.id != lock_path.parent:
            lines += [f"# skipped {lock_path}: '{lock.checkpoint}' is not a checkpoint of this registry here", ""]
            continue
        problems = verify(pin.id, weights_dir, registry=registry)
        if problems:
            lines += [f"# skipped {pin.id}: {problems[0]}", ""]
            continue
        lines += _pin_table(pin, lock)
    if not found:
        lines.append(f"# no lock files under {weights_dir}: install a model first")
    return "\n".join(lines).rstrip("\n") + "\n"


# ---- download -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Expected:
    """What a file must be: its size, and its sha256 (or git blob id) when some source knows it."""

    size: int
    sha256: str | None
    git_oid: str | None  # a small (non-LFS) file's git blob id, from the Hub's listing
    source: str  # where the sha256 comes from, for error messages


def _same_origin(a: str, b: str) -> bool:
    pa, pb = urlsplit(a), urlsplit(b)
    return (pa.scheme, pa.hostname, pa.port) == (pb.scheme, pb.hostname, pb.port)


def _redact(text: str, secret: str | None) -> str:
    text = re.sub(r"//[^/@\s]+@", "//***@", text)  # credentials inside a URL
    return text.replace(secret, "***") if secret else text


class _Hub:
    """The few huggingface_hub calls a download makes; only constructible where huggingface_hub exists."""

    def __init__(self, endpoint: str | None, token: str | None) -> None:
        try:
            import huggingface_hub
            from huggingface_hub import constants, errors, file_download, utils
            from huggingface_hub.hf_api import RepoFile
        except ImportError as exc:
            raise WeightsDownloadError(
                "downloading weights needs huggingface_hub, which only the model virtualenvs have: "
                "run this through bash setup/install_model.sh"
            ) from exc
        self.errors: Any = errors
        self.repo_file_type: Any = RepoFile
        self.file_download: Any = file_download
        self.build_headers: Any = utils.build_hf_headers
        # HF_ENDPOINT and HF_TOKEN (or a saved login) are read by huggingface_hub itself when not given here.
        self.endpoint: str = (endpoint or constants.ENDPOINT).rstrip("/")
        self.token: str | None = token if token is not None else huggingface_hub.get_token()
        self.api: Any = huggingface_hub.HfApi(endpoint=self.endpoint, token=self.token, library_name="vmevalkit")

    def resolve(self, repo_id: str, revision: str) -> str:
        sha = self.api.model_info(repo_id, revision=revision).sha
        if not isinstance(sha, str) or COMMIT_RE.fullmatch(sha) is None:
            raise WeightsDownloadError(f"{self.endpoint} did not resolve '{revision}' of {repo_id} to a commit")
        return sha

    def list_files(self, repo_id: str, commit: str) -> list[Any]:
        entries = self.api.list_repo_tree(repo_id, revision=commit, recursive=True)
        return [e for e in entries if isinstance(e, self.repo_file_type)]

    def metadata(self, repo_id: str, relpath: str, commit: str) -> tuple[str, Any]:
        url = self.file_download.hf_hub_url(repo_id, relpath, revision=commit, endpoint=self.endpoint)
        return url, self.file_download.get_hf_file_metadata(url, token=self.token, endpoint=self.endpoint)

    def get(self, url: str, location: str, fh: Any, *, resume: int, size: int, name: str) -> None:
        headers = self.build_headers(token=self.token, library_name="vmevalkit")
        headers["Accept-Encoding"] = "identity"  # the bytes on disk are the bytes the Hub hashed
        if not _same_origin(url, location):
            headers.pop("authorization", None)  # a signed CDN URL: the token stays with the Hub
        self.file_download.http_get(
            location, fh, resume_size=resume, headers=headers, expected_size=size, displayed_filename=name
        )

    def explain(self, exc: Exception, pin: CheckpointPin, what: str) -> WeightsError:
        """A download error rephrased with its fix (and never the token)."""
        errors = self.errors
        page = f"{self.endpoint}/{pin.repo_id}"
        retry = f"run {install_hint(pin.id)} again"
        if isinstance(exc, errors.GatedRepoError):
            if self.token:
                text = (
                    f"{pin.repo_id} is gated and the Hugging Face token in use has no access to it: accept its "
                    f"license at {page} with the account of that token (HF_TOKEN), then {retry}"
                )
            else:
                text = (
                    f"{pin.repo_id} is gated: accept its license at {page}, create a read token at "
                    f"https://huggingface.co/settings/tokens, export HF_TOKEN=<token>, then {retry}"
                )
        elif isinstance(exc, errors.RevisionNotFoundError):
            text = f"{pin.repo_id} has no revision '{what}' on {self.endpoint}: check the pin in the registry"
        elif isinstance(exc, errors.RemoteEntryNotFoundError):
            text = f"{pin.repo_id} at {what} has no such file on {self.endpoint}: check the registry's pins"
        elif isinstance(exc, errors.RepositoryNotFoundError):
            text = (
                f"{pin.repo_id} was not found on {self.endpoint} (or it is private): check HF_ENDPOINT, "
                f"and HF_TOKEN for a private repo, then {retry}"
            )
        elif isinstance(exc, errors.OfflineModeIsEnabled):
            text = f"HF_HUB_OFFLINE is set, so nothing can be downloaded: unset it and {retry}"
        else:
            text = (
                f"downloading {what} of {pin.repo_id} from {self.endpoint} failed "
                f"({type(exc).__name__}: {exc}): {retry}; finished files are kept and partial ones resume"
            )
        return WeightsDownloadError(_redact(text, self.token))


@contextlib.contextmanager
def _exclusive(directory: Path, report: Report) -> Iterator[None]:
    """One install per checkpoint folder at a time (two would append to the same partial files)."""
    import fcntl  # POSIX only, like the installers; verification does not need it

    with open(directory / MUTEX_FILE, "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            report(f"another install is writing {directory}; waiting for it to finish")
            fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def fetch(
    checkpoint_id: str,
    weights_dir: Path,
    *,
    endpoint: str | None = None,
    token: str | None = None,
    registry: Path | None = None,
    report: Report | None = None,
) -> Lock:
    """Download a checkpoint at its pinned revision into ``<weights_dir>/<family>/<id>``, verify it, lock it.

    Nothing is downloaded (no HTTP request at all) when a lock made for the registry's revision exists
    and every file verifies. Otherwise the revision is resolved to a commit (a branch's existing lock keeps
    its commit), files are listed and downloaded at that commit, interrupted downloads resume with an
    HTTP Range request, every file is checked against the registry's pins, the lock, and the Hub's own
    listing (sha256 of LFS files, git blob id of small ones), and only then is the lock written.
    ``endpoint``/``token`` default to HF_ENDPOINT/HF_TOKEN (or a saved login), as huggingface_hub reads them.
    """
    say: Report = report or (lambda _: None)
    pin = get_pin(checkpoint_id, registry)
    directory = Path(weights_dir) / pin.family / pin.id
    directory.mkdir(parents=True, exist_ok=True)
    with _exclusive(directory, say):
        try:
            previous = read_lock(directory)
        except ValueError as exc:
            say(f"ignoring {exc}")
            previous = None
        current = previous if previous is not None and _lock_fits(previous, pin) else None
        if previous is not None and current is None:
            say(f"'{pin.id}' was installed at {previous.commit[:12]}; the registry now asks for {pin.revision}")
        problems = _file_problems(pin, directory, current) if current is not None else []
        if current is not None and not problems:
            if current.revision != pin.revision:  # the registry now pins the commit this lock already has
                current = current.model_copy(update={"revision": pin.revision})
                atomic_write_json(directory / LOCK_FILE, current.model_dump())
            say(f"'{pin.id}' is installed and verified at {current.commit[:12]}")
            return current
        for problem in problems:
            say(problem.split(": run ")[0])
        return _download(pin, directory, current, previous, _Hub(endpoint, token), say)


def _download(
    pin: CheckpointPin, directory: Path, current: Lock | None, previous: Lock | None, hub: _Hub, say: Report
) -> Lock:
    commit = "?"
    try:
        if current is not None:
            commit = current.commit  # a branch's lock keeps its commit: weights never drift with the branch
        elif pin.pinned:
            commit = pin.revision
        else:
            commit = hub.resolve(pin.repo_id, pin.revision)
            say(f"'{pin.revision}' of {pin.repo_id} is commit {commit}; it will be recorded in the lock")
        expected = _expected_files(pin, current, hub.list_files(pin.repo_id, commit), commit, hub.endpoint)
    except WeightsError:
        raise
    except Exception as exc:
        raise hub.explain(exc, pin, pin.revision if commit == "?" else commit) from exc

    stamp = _read_stamp(directory)
    missing = [rel for rel, want in expected.items() if not _matches(directory, rel, want, stamp)]
    _write_stamp(directory, stamp)
    _check_disk_space(pin, directory, sum(expected[rel].size for rel in missing))
    total = _human(sum(expected[rel].size for rel in missing))
    say(f"{pin.id}: {len(expected)} files at {commit[:12]}, {len(missing)} to download ({total})")
    for number, relpath in enumerate(missing, 1):
        say(f"[{number}/{len(missing)}] {relpath} ({_human(expected[relpath].size)})")
        try:
            sha256 = _download_file(hub, pin, commit, directory, relpath, expected[relpath], say)
        except WeightsError:
            raise
        except Exception as exc:
            raise hub.explain(exc, pin, relpath) from exc
        st = (directory / relpath).stat()
        stamp.files[relpath] = _StampEntry(size=st.st_size, mtime_ns=st.st_mtime_ns, sha256=sha256)
        _write_stamp(directory, stamp)

    files = {rel: FilePin(size=want.size, sha256=stamp.files[rel].sha256) for rel, want in sorted(expected.items())}
    if previous is not None:  # files of an older install that this one no longer has
        for relpath in set(previous.files) - set(files):
            with contextlib.suppress(OSError):
                (directory / relpath).unlink()
    lock = Lock(
        checkpoint=pin.id,
        repo_id=pin.repo_id,
        revision=pin.revision,
        commit=commit,
        files=files,
        created_at=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    )
    atomic_write_json(directory / LOCK_FILE, lock.model_dump())
    shutil.rmtree(directory / PARTIAL_DIR, ignore_errors=True)
    say(f"{pin.id}: verified {len(files)} files at {commit}; lock written to {directory / LOCK_FILE}")
    return lock


def _expected_files(
    pin: CheckpointPin, current: Lock | None, listing: list[Any], commit: str, endpoint: str
) -> dict[str, _Expected]:
    """The files to have at ``commit`` (the listing through the registry's patterns) and what each must be."""
    remote = {entry.path: entry for entry in listing if pin.wanted(entry.path)}
    fix_pins = f"the pins of [{pin.id}] in the registry are wrong, or {endpoint} serves another checkpoint"
    fix_lock = f"the lock file was made from other files, or {endpoint} serves another checkpoint"
    if not remote:
        raise WeightsDownloadError(
            f"no file of {pin.repo_id} at {commit[:12]} matches the allow_patterns of [{pin.id}]: "
            "fix them in the registry"
        )
    if pin.files is not None and set(pin.files) != set(remote):
        differences = []
        if absent := sorted(set(pin.files) - set(remote)):
            differences.append(f"the registry pins {', '.join(absent)}, which {endpoint} does not list")
        if extra := sorted(set(remote) - set(pin.files)):
            differences.append(f"{endpoint} lists {', '.join(extra)}, which the registry does not pin")
        raise WeightsVerificationError(
            f"weights for '{pin.id}' failed verification: at {pin.repo_id}@{commit[:12]} "
            f"{'; '.join(differences)}: {fix_pins}"
        )
    expected = {}
    for path, entry in sorted(remote.items()):
        try:
            _check_relpath(path)
        except ValueError as exc:
            raise WeightsDownloadError(f"{endpoint} lists {pin.repo_id} with {exc}: refusing to download it") from exc
        lfs_sha256 = entry.lfs.sha256 if entry.lfs is not None else None
        size, sha256, source = int(entry.size), lfs_sha256, "the Hub's listing"
        if current is not None and path in current.files:
            size, sha256, source = current.files[path].size, current.files[path].sha256, "the lock file"
        if pin.files is not None:
            size, sha256, source = pin.files[path].size, pin.files[path].sha256, "the registry"
        if size != entry.size or (lfs_sha256 is not None and sha256 != lfs_sha256):
            raise WeightsVerificationError(
                f"weights for '{pin.id}' failed verification: {path} is listed by {endpoint} with size "
                f"{entry.size} and sha256 {lfs_sha256 or '(not listed)'}, but {source} says size {size} and "
                f"sha256 {sha256}: {fix_lock if source == 'the lock file' else fix_pins}"
            )
        git_oid = entry.blob_id if entry.lfs is None else None
        expected[path] = _Expected(size=size, sha256=sha256, git_oid=git_oid, source=source)
    return expected


def _matches(directory: Path, relpath: str, want: _Expected, stamp: _Stamp) -> bool:
    """Whether a file already on disk is the expected one (so it need not be downloaded)."""
    path = directory / relpath
    if not path.is_file() or path.stat().st_size != want.size:
        return False
    if want.sha256 is not None:
        return _stamped_sha256(directory, relpath, stamp) == want.sha256
    sha256, git_oid = _hash_file(path, git=True)
    st = path.stat()
    stamp.files[relpath] = _StampEntry(size=st.st_size, mtime_ns=st.st_mtime_ns, sha256=sha256)
    return git_oid == want.git_oid


def _human(size: float) -> str:
    for unit in ("B", "KB", "MB"):
        if size < 1000:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} GB"


def _check_disk_space(pin: CheckpointPin, directory: Path, needed: int) -> None:
    free = shutil.disk_usage(directory).free
    if needed > free:
        raise WeightsDownloadError(
            f"'{pin.id}' needs {_human(needed)} more but {directory} has {_human(free)} free: "
            f"free some space (or point VMEVALKIT_WEIGHTS_DIR elsewhere) and run {install_hint(pin.id)}"
        )


def _download_file(
    hub: _Hub, pin: CheckpointPin, commit: str, directory: Path, relpath: str, want: _Expected, say: Report
) -> str:
    """Download one file at ``commit`` (resuming a partial one), check it, move it in place; its sha256."""
    url, meta = hub.metadata(pin.repo_id, relpath, commit)
    if meta.commit_hash is not None and meta.commit_hash != commit:
        raise WeightsDownloadError(
            f"{hub.endpoint} answered for commit {meta.commit_hash} when asked for {commit}: check HF_ENDPOINT"
        )
    if meta.size is not None and meta.size != want.size:
        raise WeightsVerificationError(
            f"weights for '{pin.id}' failed verification: {hub.endpoint} serves {relpath} with {meta.size} bytes, "
            f"expected {want.size} from {want.source}: check HF_ENDPOINT and the registry's pins"
        )
    # Partial files are named after the Hub's etag, so bytes of another version are never resumed.
    etag = re.sub(r"[^0-9A-Za-z]", "", meta.etag or "noetag")[:64]
    partial = directory / PARTIAL_DIR / f"{relpath}.{etag}.incomplete"
    partial.parent.mkdir(parents=True, exist_ok=True)
    resume = partial.stat().st_size if partial.exists() else 0
    if resume > want.size:
        partial.unlink()
        resume = 0
    if resume:
        say(f"resuming {relpath} at byte {resume} of {want.size}")
    # Unbuffered: every chunk huggingface_hub writes reaches the file, so a killed install resumes from it.
    with open(partial, "ab", buffering=0) as fh:
        hub.get(url, meta.location, fh, resume=resume, size=want.size, name=relpath)
    sha256, git_oid = _hash_file(partial, git=want.sha256 is None)
    if (want.sha256 is not None and sha256 != want.sha256) or (want.sha256 is None and git_oid != want.git_oid):
        partial.unlink()
        expected = want.sha256 or f"git blob {want.git_oid}"
        raise WeightsVerificationError(
            f"weights for '{pin.id}' failed verification: {relpath} sha256 mismatch: downloaded {sha256}, "
            f"expected {expected} from {want.source}; the bad download was removed: run {install_hint(pin.id)} "
            f"to download it again (if it fails again, {hub.endpoint} serves other bytes than the pinned checkpoint)"
        )
    target = directory / relpath
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(partial, target)
    return sha256

"""Is a local model installed here, and which checkpoint folder does it run from? (main environment)

A local model needs its virtualenv (``envs/<name>/bin/python``) and a checkpoint: by default its
pinned weights under ``weights/``, verified against their lock file; or a folder the user names
(``--checkpoint DIR``, ``VMEVALKIT_CHECKPOINTS``, or ``checkpoint_dir`` in a catalog entry's args),
which runs exactly the same loading code, e.g. on a tiny random checkpoint.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from vmevalkit.settings import Settings

if TYPE_CHECKING:
    from vmevalkit.workers.weights import Lock

# Written by setup/lib/common.sh as the last step of a venv install: a venv without it is half-built.
INSTALL_STAMP = ".vmevalkit-install.json"


class LocalEntry(Protocol):
    """What this module reads of a catalog entry: a local model's (``CatalogEntry``) or a local scorer's."""

    @property
    def name(self) -> str: ...

    @property
    def model(self) -> str: ...

    @property
    def args(self) -> dict[str, Any]: ...


def install_hint(name: str, what: str = "Model") -> str:
    return f"{what} '{name}' is not installed: run bash setup/install_model.sh {name}"


def venv_python(name: str, settings: Settings) -> Path:
    return settings.envs_dir / name / "bin" / "python"


@dataclass(frozen=True)
class CheckpointChoice:
    path: Path
    checkpoint_id: str | None  # the registry id when it is the pinned checkpoint, else None (an override)

    @property
    def pinned(self) -> bool:
        return self.checkpoint_id is not None


def checkpoint_for(entry: LocalEntry, settings: Settings) -> CheckpointChoice:
    override = settings.checkpoints.get(entry.name) or entry.args.get("checkpoint_dir")
    if override:
        return CheckpointChoice(Path(override).expanduser().absolute(), None)
    checkpoint_id = entry.args.get("checkpoint")
    if not checkpoint_id:
        raise ValueError(f"model '{entry.name}' names no checkpoint: give it one with --checkpoint DIR")
    from vmevalkit.workers.weights import checkpoint_dir

    return CheckpointChoice(checkpoint_dir(str(checkpoint_id), settings.weights_dir).absolute(), str(checkpoint_id))


def checkpoint_identity(entry: LocalEntry, settings: Settings) -> str:
    """``repo@commit`` for pinned weights (from their lock), ``dir:PATH`` for a checkpoint folder."""
    choice = checkpoint_for(entry, settings)
    if not choice.pinned:
        return f"dir:{choice.path}"
    lock = pinned_lock(choice)
    return f"{lock.repo_id}@{lock.commit}" if lock else f"{entry.model}@{choice.checkpoint_id}"


def pinned_lock(choice: CheckpointChoice) -> Lock | None:
    """The lock file of pinned weights (None for a checkpoint folder, or a missing or unreadable lock)."""
    if not choice.pinned:
        return None
    from vmevalkit.workers.weights import read_lock

    try:
        return read_lock(choice.path)
    except ValueError:  # unreadable: local_problem reports it with its fix before any run
        return None


def local_problem(
    entry: LocalEntry, settings: Settings, *, marker: str = "model_index.json", what: str = "Model"
) -> str | None:
    """What stops this local model (or scorer: ``what``) from running here, phrased as the fix; None when it can.

    ``marker`` is the file a checkpoint folder must hold: a diffusers pipeline's model_index.json, a transformers
    model's config.json."""
    venv = settings.envs_dir / entry.name
    if not venv_python(entry.name, settings).exists() or not (venv / INSTALL_STAMP).is_file():
        return install_hint(entry.name, what)
    try:
        choice = checkpoint_for(entry, settings)
    except (ValueError, LookupError) as exc:
        return str(exc)
    if not choice.pinned:
        if not (choice.path / marker).is_file():
            kind = "diffusers" if marker == "model_index.json" else "transformers"
            return (
                f"checkpoint folder {choice.path} for '{entry.name}' holds no {marker}: "
                f"point --checkpoint at a {kind} checkpoint folder"
            )
        return None
    from vmevalkit.workers.weights import verify

    problems = verify(str(choice.checkpoint_id), settings.weights_dir)
    return problems[0] if problems else None

"""Is a local model installed here, and which checkpoint folder does it run from? (main environment)

A local model needs its virtualenv (``envs/<name>/bin/python``) and a checkpoint: by default its
pinned weights under ``weights/``, verified against their lock file; or a folder the user names
(``--checkpoint DIR``, ``VMEVALKIT_CHECKPOINTS``, or ``checkpoint_dir`` in a catalog entry's args),
which runs exactly the same loading code, e.g. on a tiny random checkpoint.

``bash setup/install_model.sh MODEL --tiny`` installs the venv and a tiny random checkpoint in
``weights/tiny/<name>`` but no real weights: ``install_state`` calls that "tiny" (installed, for test frames), and
``local_problem`` names the ``--checkpoint`` that runs it, rather than "not installed".
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

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


InstallState = Literal["yes", "tiny", "no"]


def tiny_checkpoint_dir(name: str, settings: Settings) -> Path:
    """Where ``install_model.sh NAME --tiny`` builds the tiny random checkpoint."""
    return (settings.weights_dir / "tiny" / name).absolute()


def installed_tiny(entry: LocalEntry, settings: Settings) -> Path | None:
    """The tiny checkpoint folder when the venv is installed and it is the only checkpoint here: the default run
    (pinned weights, no ``--checkpoint``) has no verified weights, and ``weights/tiny/<name>`` holds a tiny one."""
    from vmevalkit.workers.tiny import TINY_MARKER

    folder = tiny_checkpoint_dir(entry.name, settings)
    if not venv_installed(entry.name, settings) or not (folder / TINY_MARKER).is_file():
        return None
    try:
        choice = checkpoint_for(entry, settings)
    except (ValueError, LookupError):
        return folder
    if not choice.pinned:
        return None  # the user named a folder: that one is what runs
    from vmevalkit.workers.weights import verify

    return folder if verify(str(choice.checkpoint_id), settings.weights_dir) else None


def venv_installed(name: str, settings: Settings) -> bool:
    """The venv exists and its install finished (the stamp is written last)."""
    return venv_python(name, settings).exists() and (settings.envs_dir / name / INSTALL_STAMP).is_file()


def install_state(entry: LocalEntry, settings: Settings, *, marker: str = "model_index.json") -> InstallState:
    """ "yes": ready to run; "tiny": installed with a tiny random checkpoint only (runs with ``--checkpoint``);
    "no": anything else (``local_problem`` says what)."""
    return state_of(local_problem(entry, settings, marker=marker), entry, settings)


def state_of(problem: str | None, entry: LocalEntry, settings: Settings) -> InstallState:
    """``install_state`` for a ``local_problem`` already found: the install is not checked a second time."""
    if problem is None:
        return "yes"
    return "tiny" if installed_tiny(entry, settings) is not None else "no"


def local_problem(
    entry: LocalEntry, settings: Settings, *, marker: str = "model_index.json", what: str = "Model"
) -> str | None:
    """What stops this local model (or scorer: ``what``) from running here, phrased as the fix; None when it can.

    ``marker`` is the file a checkpoint folder must hold: a diffusers pipeline's model_index.json, a transformers
    model's config.json."""
    if not venv_installed(entry.name, settings):
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
    if not problems:
        return None
    tiny = installed_tiny(entry, settings)
    if tiny is not None:
        return (
            f"{what} '{entry.name}' is installed with a tiny random checkpoint only (test frames, not real "
            f"videos): run it with --checkpoint {tiny}, or bash setup/install_model.sh {entry.name} for its weights"
        )
    return problems[0]

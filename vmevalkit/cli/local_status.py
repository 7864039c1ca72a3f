"""``vmevalkit local status`` (``install_model.sh --list``): every local model and local scorer, whether its venv
and weights are in place; and the models table of docs/LOCAL_MODELS.md (``--markdown-table``).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import vmevalkit
from vmevalkit.runner.registry import all_scorers, get_entry, get_scorer_entry, model_names
from vmevalkit.settings import get_settings
from vmevalkit.utils.imports import load_object
from vmevalkit.utils.sizes import folder_size, human
from vmevalkit.workers.installation import (
    LocalEntry,
    checkpoint_for,
    installed_tiny,
    local_problem,
    venv_installed,
)

__all__ = ["folder_size", "human", "models_table", "stack_size", "status_rows"]

# The checkout's setup/ (absent from an installed wheel: sizes are then unknown).
SETUP_DIR = Path(vmevalkit.__file__).resolve().parents[1] / "setup"
# In setup/stacks/<stack>.txt: "# installed size: 1.4 GB (how it was measured)", which install_model.sh prints too.
SIZE_LINE = re.compile(r"^#\s*installed size:\s*(?P<size>[0-9.]+ [KMGT]?B)\b", re.MULTILINE)


def stack_size(name: str, setup_dir: Path = SETUP_DIR) -> str | None:
    """The measured size of the venv ``name`` installs ("1.4 GB"), from its stack file; None when not recorded."""
    try:
        table = (setup_dir / "models.txt").read_text(encoding="utf-8")
    except OSError:
        return None
    for line in table.splitlines():
        words = line.split("#", 1)[0].split()
        if len(words) == 2 and words[0] == name:
            try:
                found = SIZE_LINE.search((setup_dir / "stacks" / f"{words[1]}.txt").read_text(encoding="utf-8"))
            except OSError:
                return None
            return found["size"] if found else None
    return None


def download_bytes(checkpoint_id: str, registry: Path | None = None) -> int | None:
    """What the pinned weights download, from the registry's file sizes (``[files]``, else ``[sizes]`` that
    ``vmevalkit local print-pins NAME`` lists from the Hub); None where it records none."""
    from vmevalkit.workers import weights

    try:
        return weights.download_bytes(weights.get_pin(checkpoint_id, registry))
    except (LookupError, ValueError):
        return None


def model_status(name: str, registry: Path | None = None) -> dict[str, Any]:
    return entry_status(get_entry(name), registry=registry)


def scorer_status(name: str, registry: Path | None = None) -> dict[str, Any]:
    entry = get_scorer_entry(name)
    return entry_status(entry, marker=load_object(entry.service).checkpoint_marker, what="Scorer", registry=registry)


def entry_status(
    entry: LocalEntry, marker: str = "model_index.json", what: str = "Model", registry: Path | None = None
) -> dict[str, Any]:
    """One row of the listing; ``registry`` (default: the shipped one) gives only the download sizes."""
    settings = get_settings()
    name = entry.name
    venv = settings.envs_dir / name
    venv_ok = venv_installed(name, settings)
    size = stack_size(name)
    status: dict[str, Any] = {
        "model": name,
        "venv": venv_ok,
        "venv_bytes": folder_size(venv) if venv.is_dir() else None,
        "venv_download": f"about {size}" if size else None,  # what installing it adds (its stack's measured size)
        "weights": "-",
        "weights_bytes": None,
        "weights_download_bytes": None,
        "problem": None,
    }
    try:
        choice = checkpoint_for(entry, settings)
    except (ValueError, LookupError) as exc:
        status["problem"] = str(exc)
        return status
    if choice.path.is_dir():
        status["weights_bytes"] = folder_size(choice.path)
    if choice.checkpoint_id is not None:
        status["weights_download_bytes"] = download_bytes(choice.checkpoint_id, registry)
    problem = local_problem(entry, settings, marker=marker, what=what)
    status["problem"] = problem
    tiny = installed_tiny(entry, settings) if problem else None
    if not choice.pinned:
        status["weights"] = "folder"
    elif problem is None:
        status["weights"] = "verified"
    elif tiny is not None:
        status["weights"], status["weights_bytes"] = "tiny", folder_size(tiny)
    else:
        status["weights"] = "missing" if not choice.path.is_dir() else ("failed" if venv_ok else "unchecked")
    return status


def models_table() -> str:
    """The models table of docs/LOCAL_MODELS.md, from the catalog and the checkpoint registry (kept equal by a test)."""
    from vmevalkit.runner.MODEL_CATALOG import AVAILABLE_MODELS
    from vmevalkit.workers.weights import get_pin

    lines = [
        "| model | Hugging Face repo (revision) | diffusers pipeline | default size | frames @ fps | steps | guidance "
        "| min GPU | savers below it | prompt |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, raw in AVAILABLE_MODELS.items():
        if raw["kind"] != "local":
            continue
        args, cls = raw["args"], load_object(raw["service"])
        pin = get_pin(args["checkpoint"])
        revision = f"`{pin.revision[:7]}`" if pin.pinned else "unpinned: locked at first install"
        size = f"{args['width']}x{args['height']}" + (" (fixed)" if cls.fixed_size else "")
        frames = f"{args['num_frames']} @ {args['fps']} (max {args.get('max_frames', args['num_frames'])}; "
        frames += f"{cls.frame_step}k+1)"
        lines.append(
            f"| `{name}` | [{raw['model']}](https://huggingface.co/{raw['model']}) ({revision}) | "
            f"`{cls.pipeline_class}` | {size} | {frames} | {args['steps']} | {args['guidance_scale']:g} | "
            f"{args['min_gpu_memory_gb']} GiB | {', '.join(args['savers'])} | "
            f"{'used' if cls.uses_prompt else '**ignored**'} |"
        )
    return "\n".join(lines)


def status_rows(registry: Path | None = None) -> list[dict[str, Any]]:
    """One row per local model, then per local scorer (the lab's extra catalogs included)."""
    rows = [model_status(name, registry) for name in model_names() if get_entry(name).kind == "local"]
    rows += [scorer_status(name, registry) for name, raw in all_scorers().items() if raw.get("kind") == "local"]
    return rows

"""``vmevalkit local status`` (``install_model.sh --list``): every local model and local scorer, whether its venv
and weights are in place; and the models table of docs/LOCAL_MODELS.md (``--markdown-table``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from vmevalkit.runner.registry import all_scorers, get_entry, get_scorer_entry, model_names
from vmevalkit.settings import get_settings
from vmevalkit.utils.imports import load_object
from vmevalkit.workers.installation import INSTALL_STAMP, LocalEntry, checkpoint_for, local_problem


def folder_size(path: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                pass
    return total


def human(size: int | None) -> str:
    if size is None:
        return "-"
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit in ("B", "KB") else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TB"


def model_status(name: str) -> dict[str, Any]:
    return entry_status(get_entry(name))


def scorer_status(name: str) -> dict[str, Any]:
    entry = get_scorer_entry(name)
    return entry_status(entry, marker=load_object(entry.service).checkpoint_marker, what="Scorer")


def entry_status(entry: LocalEntry, marker: str = "model_index.json", what: str = "Model") -> dict[str, Any]:
    settings = get_settings()
    name = entry.name
    venv = settings.envs_dir / name
    venv_ok = (venv / "bin" / "python").exists() and (venv / INSTALL_STAMP).is_file()
    status: dict[str, Any] = {
        "model": name,
        "venv": venv_ok,
        "venv_bytes": folder_size(venv) if venv.is_dir() else None,
        "weights": "-",
        "weights_bytes": None,
        "problem": None,
    }
    try:
        choice = checkpoint_for(entry, settings)
    except (ValueError, LookupError) as exc:
        status["problem"] = str(exc)
        return status
    if choice.path.is_dir():
        status["weights_bytes"] = folder_size(choice.path)
    problem = local_problem(entry, settings, marker=marker, what=what)
    status["problem"] = problem
    if not choice.pinned:
        status["weights"] = "folder"
    elif problem is None:
        status["weights"] = "verified"
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


def status_rows() -> list[dict[str, Any]]:
    """One row per local model, then per local scorer (the lab's extra catalogs included)."""
    rows = [model_status(name) for name in model_names() if get_entry(name).kind == "local"]
    rows += [scorer_status(name) for name, raw in all_scorers().items() if raw.get("kind") == "local"]
    return rows

"""``vmevalkit local ...``: the install tools of local models and local scorers, run by ``setup/install_model.sh``.

    vmevalkit local status [--json] [--markdown-table]        every local model and scorer: venv, weights, next step
    vmevalkit local validate NAME [--checkpoint DIR] [--tiny] one real generation (or scoring) through the worker
    vmevalkit local tiny NAME|MODULE:CLASS OUT_DIR [--check]  build (and check) a tiny random checkpoint
    vmevalkit local fetch NAME [--weights-dir DIR]            download, verify and lock pinned weights
    vmevalkit local verify NAME [--full]                      check weights against their lock and pins
    vmevalkit local print-pins [NAME ...]                     registry tables pinned to the verified locks; a NAME
                                                              not installed: its file sizes, from the Hub
    vmevalkit local weights [NAME ...]                        JSON: present, verified, size on disk
    vmevalkit local size DIR                                  a folder's size, as --list shows a venv's (exit 2: absent)

``tiny`` and ``fetch`` run inside the model's or scorer's virtualenv (``envs/<name>/bin/python -m vmevalkit local
...``, the package from the checkout on ``PYTHONPATH``), which has torch, diffusers and huggingface_hub but none of
the main environment's packages (no rich, no httpx, no pydantic-settings). So this module imports only the stdlib at
module level, and each action imports what it needs when it runs; ``tiny`` and the weights actions never read
settings. The others run in the main environment.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from vmevalkit.cli.common import EXIT_FAILED, EXIT_OK, EXIT_USAGE, error
from vmevalkit.utils.sizes import folder_size, human

HELP = "install tools of local models and scorers (status, validate, tiny, fetch, ...)"
DESCRIPTION = "The install tools of local models and local scorers, as setup/install_model.sh runs them."


def add_arguments(local: argparse.ArgumentParser) -> None:
    actions = local.add_subparsers(dest="local_command", metavar="ACTION")

    status = actions.add_parser(
        "status", help="every local model and scorer: venv, weights, next step (install_model.sh --list)"
    )
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.add_argument("--markdown-table", action="store_true", help="print the models table of the docs")
    status.add_argument(
        "--registry", type=Path, metavar="FILE", help="download sizes from this registry (default: checkpoints.toml)"
    )

    validate = actions.add_parser(
        "validate", help="check an install end to end: one generation (a scorer: one scoring) through its worker"
    )
    validate.add_argument("model", metavar="NAME", help="a local model or local scorer (ltx-video, clip-score)")
    validate.add_argument(
        "--checkpoint", type=Path, metavar="DIR", help="a checkpoint folder to run instead of the pinned weights"
    )
    validate.add_argument("--task-id", metavar="ID", help="the shipped task (default: maze_0001)")
    validate.add_argument("--duration", type=float, metavar="SECONDS", help="seconds (default: the model's own)")
    validate.add_argument("--tiny", action="store_true", help="the checkpoint is tiny: use its small test size")

    tiny = actions.add_parser(
        "tiny", help="build (and check) a tiny random checkpoint; runs inside the model's or scorer's venv"
    )
    tiny.add_argument(
        "name",
        metavar="NAME|MODULE:CLASS",
        help="a local model or local scorer of the catalogs (ltx-video, clip-score), or the module:Class of any "
        "LocalPipeline or LocalScorerModel",
    )
    tiny.add_argument("out_dir", type=Path, metavar="OUT_DIR")
    tiny.add_argument("--check", action="store_true", help="then load it and run one small request on the CPU")
    tiny.add_argument(
        "--args-json",
        default="{}",
        metavar="JSON",
        help="args for --check, over the catalog entry's own (a JSON object; a MODULE:CLASS has none)",
    )

    size = actions.add_parser("size", help="a folder's size, as --list shows it (the installer prints a venv's)")
    size.add_argument("folder", type=Path, metavar="DIR")

    # --weights-dir and --registry: the weights actions run in a venv, where settings are not read.
    weights = argparse.ArgumentParser(add_help=False)
    weights.add_argument(
        "--weights-dir",
        type=Path,
        metavar="DIR",
        help="root of the weights folders (default: $VMEVALKIT_WEIGHTS_DIR or ./weights)",
    )
    weights.add_argument("--registry", type=Path, metavar="FILE", help="default: checkpoints.toml")
    fetch = actions.add_parser(
        "fetch", parents=[weights], help="download (or resume), verify and lock; runs inside the venv"
    )
    fetch.add_argument("checkpoint", metavar="NAME")
    fetch.add_argument("--endpoint", default=None, help="Hub endpoint (default: $HF_ENDPOINT or huggingface.co)")
    verify = actions.add_parser("verify", parents=[weights], help="check the files against the lock and pins")
    verify.add_argument("checkpoint", metavar="NAME")
    verify.add_argument("--full", action="store_true", help="hash every file, ignoring the stamps")
    pins = actions.add_parser(
        "print-pins",
        parents=[weights],
        help="registry tables pinned to the verified locks; with NAMEs, file sizes from the Hub for weights not "
        "installed (what --list shows as their download size)",
    )
    pins.add_argument("checkpoints", nargs="*", metavar="NAME", help="default: every verified lock, no Hub request")
    pins.add_argument("--endpoint", default=None, help="Hub endpoint (default: $HF_ENDPOINT or huggingface.co)")
    listing = actions.add_parser("weights", parents=[weights], help="JSON: present, verified, size on disk")
    listing.add_argument("checkpoints", nargs="*", metavar="NAME", help="default: every checkpoint in the registry")


def run(args: argparse.Namespace) -> int:
    action: str | None = args.local_command
    if action is None:
        error(
            "choose an action: vmevalkit local {status,validate,tiny,fetch,verify,print-pins,weights,size} (see --help)"
        )
        return EXIT_USAGE
    if action == "status":
        return status(args)
    if action == "validate":
        return validate(args)
    if action == "tiny":
        return tiny(args)
    if action == "size":
        return size(args.folder)
    return weights(args)


def size(folder: Path) -> int:
    """A folder's size; one that is not there is not installed (exit 2, as for an unknown or uninstalled model),
    never "0 B", which reads as an install that holds nothing."""
    if not folder.exists():
        error(f"not installed ({folder} does not exist)")
        return EXIT_USAGE
    if not folder.is_dir():
        error(f"{folder} is not a folder")
        return EXIT_USAGE
    print(human(folder_size(folder)))
    return EXIT_OK


def status(args: argparse.Namespace) -> int:
    import json

    from vmevalkit.cli.local_status import models_table, status_rows

    if args.markdown_table:
        print(models_table())
        return EXIT_OK
    rows = status_rows(args.registry)
    if args.json:
        print(json.dumps(rows, indent=2))
        return EXIT_OK
    import textwrap

    # Two lines a model, so 80 columns hold it: the state, then the next step (indented, wrapped at words).
    print(f"{'model':<24} {'venv':<16} weights\n    next step")
    for row in rows:
        if row["venv"]:
            venv = f"yes {human(row['venv_bytes'])}"
        else:  # what installing it downloads: the stack's measured size
            venv = f"no, {row['venv_download'] or 'size unknown'}"
        if row["weights_bytes"]:
            weights = f"{row['weights']} {human(row['weights_bytes'])}"
        elif row["weights"] == "missing":
            download = row["weights_download_bytes"]
            weights = f"missing, {human(download) if download else 'size unknown'}"
        else:
            weights = row["weights"]
        print(f"{row['model']:<24} {venv:<16} {weights}")
        step = row["problem"] or "ready"
        print(textwrap.fill(step, 80, initial_indent="    ", subsequent_indent="      ", break_on_hyphens=False))
    if any(row["weights"] == "missing" and not row["weights_download_bytes"] for row in rows):
        print(
            "size unknown: the registry records no file sizes for those weights yet;\n"
            "  `vmevalkit local print-pins <model>` asks the Hub for them (paste its table\n"
            "  into vmevalkit/workers/checkpoints.toml)"
        )
    return EXIT_OK


def validate(args: argparse.Namespace) -> int:
    from vmevalkit.cli import local_validate as check
    from vmevalkit.runner.registry import get_entry

    task_id = args.task_id or check.DEFAULT_TASK
    if check.is_local_scorer(args.model):  # install_model.sh validates scorers too
        problems = check.validate_scorer(args.model, args.checkpoint, task_id, args.tiny)
    else:
        try:  # a name that is not a local model is a usage error, found before any work
            kind = get_entry(args.model).kind
        except LookupError as exc:
            error(str(exc))
            return EXIT_USAGE
        if kind != "local":
            error(f"'{args.model}' is not a local model or local scorer: see vmevalkit models --kind local")
            return EXIT_USAGE
        problems = check.validate(args.model, args.checkpoint, task_id, args.duration, args.tiny)
    for problem in problems:
        print(f"validation failed: {problem}", file=sys.stderr)
    if not problems:
        print(f"{args.model}: validation passed")
    return EXIT_FAILED if problems else EXIT_OK


def local_entry(name: str) -> dict[str, Any]:
    """The shipped catalog entry of a local model or local scorer (the user's extra catalogs are not read here)."""
    from vmevalkit.runner.MODEL_CATALOG import AVAILABLE_MODELS
    from vmevalkit.runner.SCORER_CATALOG import AVAILABLE_SCORERS

    entry = AVAILABLE_MODELS.get(name) or AVAILABLE_SCORERS.get(name)
    if entry is None or entry.get("kind") != "local":
        raise LookupError(f"'{name}' is not a local model or local scorer of the catalogs")
    return entry


def tiny(args: argparse.Namespace) -> int:
    """Reads the shipped catalogs only (pure data): nothing of the main environment is needed in the venv."""
    import json

    from vmevalkit.workers import tiny as tiny_checkpoints

    try:
        options = json.loads(args.args_json)
    except ValueError as exc:
        error(f"--args-json is not valid JSON ({exc})")
        return EXIT_USAGE
    if not isinstance(options, dict):
        error("--args-json must be a JSON object")
        return EXIT_USAGE
    if ":" in args.name:
        service = args.name
    else:
        try:
            entry = local_entry(args.name)
        except LookupError as exc:
            error(str(exc))
            return EXIT_USAGE
        service, options = entry["service"], {**entry.get("args", {}), **options}
    tiny_checkpoints.build(service, args.out_dir)
    if args.check:
        print(json.dumps(tiny_checkpoints.check(service, args.out_dir, options), default=str))
    return EXIT_OK


def weights(args: argparse.Namespace) -> int:
    import json

    from vmevalkit.workers import weights as checkpoints

    weights_dir: Path = args.weights_dir or Path(os.environ.get("VMEVALKIT_WEIGHTS_DIR") or "weights")
    registry: Path | None = args.registry

    def say(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    try:
        if args.local_command == "fetch":
            checkpoints.fetch(args.checkpoint, weights_dir, endpoint=args.endpoint, registry=registry, report=say)
        elif args.local_command == "verify":
            problems = checkpoints.verify(args.checkpoint, weights_dir, registry=registry, full=args.full)
            for problem in problems:
                print(problem, file=sys.stderr)
            if problems:
                return EXIT_FAILED
            print(f"weights for '{args.checkpoint}' verified")
        elif args.local_command == "print-pins":
            sys.stdout.write(
                checkpoints.print_pins(
                    weights_dir, registry=registry, checkpoints=args.checkpoints, endpoint=args.endpoint
                )
            )
        else:
            ids = args.checkpoints or sorted(checkpoints.load_registry(registry))
            found = {cid: checkpoints.status(cid, weights_dir, registry=registry) for cid in ids}
            print(json.dumps(found, indent=2))
    except checkpoints.WeightsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK

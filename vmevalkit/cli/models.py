"""``vmevalkit models``: the catalog's models, whether each is installed and has its key.

Reads the catalog and the install state (venv, verified weights) only: listing never imports torch, numpy or any
model code, so it answers in a fraction of a second.
"""

from __future__ import annotations

import argparse
from typing import Any

from vmevalkit.cli.common import EXIT_OK, EXIT_USAGE, error, guarded

HELP = "list the catalog's models"
DESCRIPTION = "List the catalog's models: family, kind, installed?, key set?"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--family", nargs="+", help="only these families")
    p.add_argument("--kind", choices=["builtin", "api", "local"], help="only this kind")
    p.add_argument("--json", action="store_true", help="machine-readable output")


def run(args: argparse.Namespace) -> int:
    return guarded(list_models, args)


def list_models(args: argparse.Namespace) -> int:
    import json

    from vmevalkit.runner.registry import ModelLoadError, get_entry, model_names, readiness

    rows: list[dict[str, Any]] = []
    try:
        entries = [get_entry(name) for name in model_names()]
    except ModelLoadError as exc:
        error(str(exc))
        return EXIT_USAGE
    for entry in entries:
        name = entry.name
        if (args.family and entry.family not in args.family) or (args.kind and entry.kind != args.kind):
            continue
        ready = readiness(entry)
        rows.append(
            {
                "name": name,
                "family": entry.family,
                "kind": entry.kind,
                "installed": ready.installed,
                "key_set": ready.keys_set if entry.env_keys else None,
                "description": entry.description,
                "retired": entry.retired,
            }
        )
    if getattr(args, "json", False):
        print(json.dumps(rows, indent=2))
        return EXIT_OK
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{len(rows)} models")
    for col in ("name", "family", "kind", "installed?", "key set?"):
        table.add_column(col, no_wrap=True)
    table.add_column("description", overflow="fold")
    for r in rows:
        key = "n/a" if r["key_set"] is None else ("yes" if r["key_set"] else "[red]no[/red]")
        description = f"[yellow]retired:[/yellow] {r['description']}" if r["retired"] else r["description"]
        table.add_row(r["name"], r["family"], r["kind"], "yes" if r["installed"] else "[red]no[/red]", key, description)
    Console().print(table)
    return EXIT_OK

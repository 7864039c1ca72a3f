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
                "installed_as": ready.installed_as,
                "key_set": ready.keys_set if entry.env_keys else None,
                "description": entry.description,
                "retired": entry.retired,
            }
        )
    if getattr(args, "json", False):
        print(json.dumps(rows, indent=2))
        return EXIT_OK
    from rich.console import Console

    console = Console()
    table = models_table(rows, console.width)
    console.print(table if table is not None else f"{len(rows)} models (too narrow a terminal: use --json)")
    return EXIT_OK


# A description narrower than this reads as a column of single words: below it, descriptions are left out (and the
# table says so) rather than wrapped a word a line.
MIN_DESCRIPTION_WIDTH = 30


def models_table(rows: list[dict[str, Any]], width: int) -> Any:
    """The listing as a table for ``width`` columns: name, kind, installed?, key set? and retired? always; family and
    description where they fit, and a caption naming what was left out and how to see it."""
    from rich.markup import escape

    from vmevalkit.cli.common import fitted_table

    def cells(r: dict[str, Any]) -> dict[str, str]:
        return {
            "name": r["name"],
            "family": r["family"],
            "kind": r["kind"],
            "installed?": "yes" if r["installed"] else "tiny" if r.get("installed_as") == "tiny" else "[red]no[/red]",
            "key set?": "n/a" if r["key_set"] is None else ("yes" if r["key_set"] else "[red]no[/red]"),
            "retired?": "[yellow]yes[/yellow]" if r["retired"] else "no",
            "description": escape(r["description"]),
        }

    table_rows = [cells(r) for r in rows]
    all_headers = list(
        cells(
            {
                "installed": False,
                "key_set": None,
                "retired": None,
                **dict.fromkeys(("name", "family", "kind", "description"), ""),
            }
        )
    )
    table = None
    for left_out in ([], ["description"], ["description", "family"]):
        headers = [h for h in all_headers if h not in left_out]
        table = fitted_table(
            f"{len(rows)} models",
            headers,
            [[row[h] for h in headers] for row in table_rows],
            width,
            text=headers,
            fold="description",
            fold_min=MIN_DESCRIPTION_WIDTH,
            must_fit=True,
        )
        if table is not None:
            if left_out:
                table.caption = f"{' and '.join(left_out)} left out at {width} columns: widen the terminal, or --json"
            return table
    return table  # narrower than the names themselves: nothing fits; None prints nothing but the count

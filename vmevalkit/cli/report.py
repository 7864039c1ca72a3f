"""``vmevalkit report`` (and ``examples/report.py``): the leaderboard tables, plots and report.html of an experiment.

The report itself is ``vmevalkit.scoring.report.write_report``; this module reads the flags, prints the leaderboard
(the answer a user ran the command for, without opening a file), says what was written, and exits 0 when written,
2 on bad input (nothing is written then).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from vmevalkit.cli.common import EXIT_OK, EXIT_USAGE, OUTPUT_DIR_HELP, experiment_folder, non_negative_int

if TYPE_CHECKING:
    from vmevalkit.scoring.report.tables import Metrics

HELP = "tables, plots and a report.html of a scored experiment (videos linked, or embedded)"
DESCRIPTION = (
    "Leaderboard tables, plots and report.html of a scored experiment: videos linked by relative path, or "
    "embedded in one self-contained file with --embed-videos."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--experiment", metavar="NAME", help="experiment to report on: <output-dir>/<experiment>/ (default: pilot)"
    )
    parser.add_argument("--output-dir", metavar="DIR", help=OUTPUT_DIR_HELP)
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="report settings: group_by, scorers, models, ... (JSON, or YAML where PyYAML is installed)",
    )
    parser.add_argument(
        "--out", metavar="DIR", help="folder to write the report into (default: <output-dir>/<experiment>/report/)"
    )
    parser.add_argument(
        "--max-videos-per-model",
        type=non_negative_int,
        metavar="N",
        help="show at most N videos per model in report.html (default: all; 0: none)",
    )
    parser.add_argument(
        "--embed-videos",
        action="store_true",
        help="put the videos into report.html (one file to send; small experiments only) instead of linking them",
    )


def run(args: argparse.Namespace) -> int:
    from vmevalkit.scoring.report import ReportConfig, ReportError, load_config, write_report
    from vmevalkit.scoring.report.html import REPORT_HTML
    from vmevalkit.settings import get_settings
    from vmevalkit.utils.text import printable

    settings = get_settings()
    experiment_dir = experiment_folder(args, settings)
    if experiment_dir is None:
        return EXIT_USAGE
    try:
        config = load_config(args.config) if args.config else ReportConfig()
        if args.max_videos_per_model is not None:
            config = config.model_copy(update={"max_videos_per_model": args.max_videos_per_model})
        if args.embed_videos:
            config = config.model_copy(update={"embed_videos": True})
        result = write_report(experiment_dir, Path(args.out).absolute() if args.out else None, config)
    except ReportError as exc:
        print(f"error: {printable(exc, keep_newlines=True)}", file=sys.stderr)
        return EXIT_USAGE
    for warning in result.warnings:  # names and reasons read from the experiment: no control sequence is sent
        print(f"warning: {printable(warning)}", file=sys.stderr)
    metrics = result.metrics
    videos = (
        f"{result.videos_embedded} videos embedded"
        if result.videos_embedded
        else f"{result.videos_linked} videos linked by relative path"
    )
    print(
        f"report of {printable(experiment_dir.name)}: {len(metrics.models)} models, "
        f"scorers {printable(', '.join(s.name for s in metrics.scorers))}; {videos}, "
        f"{REPORT_HTML} {result.html_bytes / 2**20:.1f} MiB"
    )
    print_leaderboard(metrics)
    # One line for the folder, then one short line per file: a full path on every line runs past 80 columns.
    folders: dict[Path, list[str]] = {}
    for path in map(Path, result.files):
        folders.setdefault(path.parent, []).append(path.name)
    for folder, names in folders.items():
        print(f"wrote {len(names)} file(s) in {printable(folder)}/:")
        for name in names:
            print(f"  {printable(name)}")
    return EXIT_OK


def print_leaderboard(metrics: Metrics) -> None:
    """The leaderboard in the terminal: per model, the mean of each scorer's main dimension (its pass dimension, or
    its first), models ranked by the first scorer's; the full tables are in the files written."""
    from rich.console import Console
    from rich.markup import escape

    from vmevalkit.cli.common import print_columns, shown

    columns: dict[str, dict[str, str]] = {}
    for scorer in metrics.scorers:
        cells = columns.setdefault(escape(shown(f"{scorer.name} {scorer.headline}")), {})
        for model in metrics.models:
            row = metrics.headline(scorer, model)
            mean = row["mean"] if row is not None else None
            cells[escape(shown(model))] = "-" if mean is None else f"{mean:.3g}"
    first = metrics.scorers[0] if metrics.scorers else None
    ranked = [escape(shown(model)) for model in metrics.ranked_models(first)]
    title = "leaderboard: mean of each scorer's main dimension" + (f", best {first.name} first" if first else "")
    print_columns(Console(), escape(shown(title)), "model", columns, ranked)
    if first is None:
        return
    # The first scorer by category (the ability a domain tests), where the report grouped by it.
    by_category: dict[str, dict[str, str]] = {}
    for row in metrics.detail:
        if row["grouping"] == "category" and row["scorer"] == first.name and row["dimension"] == first.headline:
            mean = row["mean"]
            cell = "-" if mean is None else f"{mean:.3g}"
            by_category.setdefault(escape(shown(str(row["category"]))), {})[escape(shown(row["model"]))] = cell
    if by_category:
        title = f"{first.name} {first.headline} by category"
        print_columns(Console(), escape(shown(title)), "model", by_category, ranked)

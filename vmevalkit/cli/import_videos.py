"""``vmevalkit import-videos``: videos made elsewhere become completed generations of an experiment.

The logic is ``vmevalkit.runner.importing``; this module reads the flags, prints one line per video that was not
imported (and why) and a summary, and exits 0 when every video is imported (or was already), 1 when some were not
(unknown task, undecodable, an I/O error), 2 on a usage error (a wrong layout, mapping, model or folder), found
before anything is written.
"""

from __future__ import annotations

import argparse
import sys

from vmevalkit.cli.common import EXIT_FAILED, EXIT_OK, EXIT_USAGE, OUTPUT_DIR_HELP, error, experiment_folder, guarded

HELP = "import videos generated elsewhere (upstream VMEvalKit, VBVR, VBVR-Bench, a CSV) as completed generations"
DESCRIPTION = (
    "Bring videos made elsewhere into an experiment as completed generations, with their source path and sha256 "
    "recorded, so that score, report and evaluate-scorers run on them unchanged. Idempotent: the same video is the "
    "same generation, and a rerun imports nothing new."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", metavar="SRC", help="the folder that holds the videos")
    parser.add_argument(
        "--format",
        required=True,
        choices=("vmevalkit", "vbvr", "vbvr-bench", "csv"),
        help="vmevalkit: upstream outputs <model>/<domain>_task/<task_id>/video/*.mp4; vbvr: pred/video_N.mp4 "
        "with --mapping; vbvr-bench: VBVR-Bench outputs <split>/<task_name>/<NNNNN>.mp4; csv: a flat folder "
        "with --mapping (or SRC/videos.csv) of task_id,video[,model]",
    )
    parser.add_argument(
        "--mapping",
        metavar="FILE",
        help="vbvr: which task each video_N.mp4 is (JSON list, JSON object keyed by N, or CSV index,task_id); "
        "csv: the CSV of task_id,video[,model] (default: SRC/videos.csv)",
    )
    parser.add_argument(
        "--model", metavar="NAME", help="the model the videos are from (default: the layout's: its folder name)"
    )
    parser.add_argument("--questions-dir", metavar="DIR", help="the tasks the videos answer (default: data/questions)")
    parser.add_argument("--experiment", metavar="NAME", help="experiment to import into (default: pilot)")
    parser.add_argument("--output-dir", metavar="DIR", help=OUTPUT_DIR_HELP)


def run(args: argparse.Namespace) -> int:
    return guarded(import_videos, args)


def import_videos(args: argparse.Namespace) -> int:
    from pathlib import Path

    from vmevalkit.cli.common import shown
    from vmevalkit.runner.importing import ImportUsageError, find_videos
    from vmevalkit.runner.importing import import_videos as run_import
    from vmevalkit.settings import get_settings
    from vmevalkit.tasks.loader import TaskSelectionError

    settings = get_settings()
    experiment_dir = experiment_folder(args, settings)
    if experiment_dir is None:
        return EXIT_USAGE
    try:
        videos = find_videos(args.format, Path(args.source), Path(args.mapping) if args.mapping else None)
        if not videos:
            raise ImportUsageError(f"no video found in {args.source} in the {args.format} layout")
        summary = run_import(
            videos,
            fmt=args.format,
            questions_dir=Path(args.questions_dir or settings.questions_dir),
            experiment_dir=experiment_dir,
            model=args.model,
        )
    except (ImportUsageError, TaskSelectionError) as exc:
        error(str(exc))
        return EXIT_USAGE
    for outcome in summary.failures:
        print(f"not imported: {shown(outcome.video.source)}: {shown(outcome.reason)}", file=sys.stderr)
    counts = {
        "unknown task": summary.count("unknown_task"),
        "undecodable": summary.count("undecodable"),
        "failed": summary.count("failed"),
    }
    not_imported = ", ".join(f"{n} {what}" for what, n in counts.items() if n)
    print(
        f"imported {summary.count('imported')} of {len(summary.outcomes)} videos into {shown(experiment_dir)}"
        f" ({summary.count('already')} already there)" + (f"; not imported: {not_imported}" if not_imported else "")
    )
    return EXIT_OK if summary.complete else EXIT_FAILED

"""``vmevalkit tasks [list|build|domains|import]``: what a task dataset holds (and which tasks are invalid),
build one, list the domains, or import one made elsewhere."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from vmevalkit.cli.common import EXIT_FAILED, EXIT_OK, EXIT_USAGE, error, guarded, positive_int, shown

if TYPE_CHECKING:
    from pathlib import Path

    from rich.console import Console

    from vmevalkit.tasks.loader import TaskProblem

HELP = "list or build task datasets, or list the task domains"
DESCRIPTION = (
    "List a task dataset (and its invalid tasks), build one with the builtin domain generators, "
    "or list the domains ('tasks domains')."
)


def add_arguments(tasks: argparse.ArgumentParser) -> None:
    actions = tasks.add_subparsers(dest="tasks_command", metavar="ACTION")
    listing = actions.add_parser("list", help="list tasks and report invalid ones (default)")
    build = actions.add_parser("build", help="generate tasks with the builtin domain generators")
    actions.add_parser("domains", help="list every task domain: its category, difficulty levels and what it asks")
    importing = actions.add_parser(
        "import", help="copy a task set made elsewhere (upstream VMEvalKit, VBVR) into the questions directory"
    )
    importing.add_argument(
        "--format",
        required=True,
        choices=("vmevalkit", "vbvr-datafactory", "vbvr-bench"),
        help="the source's layout (docs/TASKS.md, 'Importing tasks')",
    )
    importing.add_argument("source", metavar="SRC", help="the folder that holds the tasks to import")
    importing.add_argument(
        "--questions-dir", metavar="DIR", default=argparse.SUPPRESS, help="where to import (default: data/questions)"
    )
    # The same options on 'tasks' and its actions; SUPPRESS keeps an action's
    # missing option from overwriting one given before the action's name.
    for p in (tasks, listing, build):
        default = None if p is tasks else argparse.SUPPRESS
        p.add_argument("--questions-dir", metavar="DIR", default=default, help="task dataset (default: data/questions)")
        p.add_argument(
            "--domain", nargs="+", metavar="DOMAIN", default=default, help="only these domains (default: all)"
        )
    build.add_argument(
        "--per-domain",
        type=positive_int,
        default=4,
        metavar="N",
        help="tasks to write per domain, as <domain>_0001 .. <domain>_N (default: 4, as the shipped sample)",
    )
    build.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seed of every generator: the same seed writes the same tasks, byte for byte (default: 0, the sample's)",
    )
    build.add_argument(
        "--difficulty",
        metavar="LEVEL",
        help="every task at this level: easy, medium or hard (default: each task draws its own level)",
    )
    build.add_argument(
        "--sudoku-size",
        type=int,
        choices=(4, 9),
        default=4,
        help="side of the sudoku grids: 4 (2x2 boxes) or 9 (3x3 boxes) (default: 4)",
    )


def run(args: argparse.Namespace) -> int:
    return guarded(tasks, args)


def tasks(args: argparse.Namespace) -> int:
    from pathlib import Path

    from rich.console import Console

    from vmevalkit.settings import get_settings

    console = Console()
    if args.tasks_command == "domains":
        return list_domains(console)
    questions_dir = Path(args.questions_dir or get_settings().questions_dir)
    if args.tasks_command == "import":
        return import_tasks(Path(args.source), args.format, questions_dir)
    if args.tasks_command == "build":
        from vmevalkit.tasks import UnknownDomainError
        from vmevalkit.tasks.writer import BuildError, build_dataset

        try:
            written = build_dataset(
                questions_dir,
                domains=args.domain,
                per_domain=args.per_domain,
                seed=args.seed,
                options={"sudoku": {"box_size": 3 if args.sudoku_size == 9 else 2}},
                difficulty=args.difficulty,
            )
        except (UnknownDomainError, BuildError) as exc:
            error(str(exc))
            return EXIT_USAGE
        console.print(f"wrote {len(written)} tasks to {questions_dir}")
        return EXIT_OK

    from rich.table import Table

    from vmevalkit.tasks.loader import TaskSelectionError, load_tasks

    try:
        task_set = load_tasks(questions_dir, domains=args.domain)
    except TaskSelectionError as exc:
        error(str(exc))
        return EXIT_USAGE
    table = Table(title=f"tasks in {questions_dir}")
    for col in ("domain", "tasks", "with ground truth", "invalid"):
        table.add_column(col)
    for domain in sorted({t.domain for t in task_set.tasks} | {p.domain for p in task_set.problems}):
        domain_tasks = [t for t in task_set.tasks if t.domain == domain]
        bad = sum(p.domain == domain for p in task_set.problems)
        table.add_row(
            domain, str(len(domain_tasks)), str(sum(t.final_frame is not None for t in domain_tasks)), str(bad)
        )
    console.print(table)
    print_problems(task_set.problems)
    return EXIT_OK


def import_tasks(source: Path, fmt: str, questions_dir: Path) -> int:
    """One line per task (imported, already there, skipped and why), then a summary."""
    from vmevalkit.tasks.importers import ImportLayoutError
    from vmevalkit.tasks.importers import import_tasks as run_import

    try:
        report = run_import(source, fmt, questions_dir, check_video=video_problem)
    except ImportLayoutError as exc:
        error(str(exc))
        return EXIT_USAGE
    for domain, task_id, _ in report.imported:
        print(f"imported {shown(domain)}/{shown(task_id)}")
    for domain, task_id, _ in report.present:
        print(f"already there {shown(domain)}/{shown(task_id)}")
    for note in report.notes:
        print(f"note: {shown(note)}", file=sys.stderr)
    for skipped in report.skipped:
        print(f"skipped {shown(skipped.name)} ({shown(skipped.place)}): {shown(skipped.reason)}", file=sys.stderr)
    if not report.imported and report.present:
        print(f"nothing new to import: {len(report.present)} tasks already in {shown(questions_dir)}", end="")
    else:
        print(
            f"imported {len(report.imported)} tasks ({report.with_video} with ground_truth.mp4) into "
            f"{shown(questions_dir)}; {len(report.present)} already there",
            end="",
        )
    print(f"; {len(report.skipped)} skipped" if report.skipped else "")
    return EXIT_OK if report.imported or report.present else EXIT_FAILED


def video_problem(path: Path) -> str | None:
    """Why ``path`` is no usable video (it does not decode, or holds no frame), or None."""
    from vmevalkit.video import VideoError, probe_video

    try:
        info = probe_video(path)
    except VideoError as exc:
        return str(exc)
    return None if info.frame_count > 0 else "it decodes to no frames"


def list_domains(console: Console) -> int:
    from vmevalkit.cli.common import print_table
    from vmevalkit.tasks import DOMAINS, get_domain

    domains = [get_domain(name) for name in DOMAINS]
    levels = {d.difficulties for d in domains}
    shared = levels.pop() if len(levels) == 1 else None  # one set of levels for all: said once, in the title
    rows = [[d.name, d.category, *([] if shared else ["/".join(d.difficulties)]), d.description] for d in domains]
    rows.sort(key=lambda row: (row[1], row[0]))
    title = f"{len(rows)} task domains in {len({d.category for d in domains})} categories"
    title += f", each with levels {', '.join(shared)}" if shared else ""
    headers = ["domain", "category", *([] if shared else ["levels"]), "asks"]
    print_table(console, title, headers, rows, text=["category", "levels"], fold="asks")
    return EXIT_OK


def print_problems(problems: Sequence[TaskProblem]) -> None:
    for p in problems:
        print(f"warning: skipped task {shown(p.task_id)} ({shown(p.path)}): {shown(p.reason)}", file=sys.stderr)

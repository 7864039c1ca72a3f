"""The ``vmevalkit`` command line: ``generate``, ``models`` and ``tasks``.

Only argparse is imported at module level: ``--help`` must answer instantly,
and listing models must never import torch or any model code. Everything else
is imported inside the command that needs it.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def _add_generate_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", "-m", nargs="+", metavar="NAME", help="catalog model name(s); see --list-models")
    p.add_argument("--task-id", nargs="+", metavar="ID", help="only these tasks, e.g. maze_0001 maze_0002")
    p.add_argument("--domain", nargs="+", metavar="DOMAIN", help="only these domains, e.g. maze sudoku")
    p.add_argument("--limit-per-domain", type=_positive_int, metavar="N", help="at most N valid tasks per domain")
    p.add_argument(
        "--questions-dir", metavar="DIR", help="task dataset (default: data/questions, or $VMEVALKIT_QUESTIONS_DIR)"
    )
    p.add_argument(
        "--output-dir", metavar="DIR", help="experiments root (default: data/outputs, or $VMEVALKIT_OUTPUT_DIR)"
    )
    p.add_argument(
        "--experiment",
        metavar="NAME",
        help="experiment name; results go to <output-dir>/<experiment>/ (default: pilot)",
    )
    p.add_argument("--seed", type=int, default=42, help="seed passed to every model that takes one (default: 42)")
    p.add_argument(
        "--duration",
        type=_positive_float,
        metavar="SECONDS",
        help="video length (default: each model's own; 4 for builtins)",
    )
    p.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        type=_key_value,
        help="model parameter, e.g. aspect_ratio=16:9 or resolution=720p (repeatable); "
        "applies to the selected models that accept it",
    )
    p.add_argument(
        "--max-cost",
        type=_positive_float,
        metavar="USD",
        help="stop submitting paid jobs past this estimated spend",
    )
    p.add_argument(
        "--checkpoint",
        action="append",
        default=[],
        metavar="[MODEL=]DIR",
        help="run a local model from this diffusers checkpoint folder instead of its pinned weights "
        "(e.g. a tiny one from 'python -m vmevalkit.models.local.tiny'); MODEL= when several local models run",
    )
    p.add_argument("--retry-failed", action="store_true", help="run again the generations whose last attempt failed")
    p.add_argument(
        "--dry-run", action="store_true", help="print the plan (generations per model, what is done) and exit"
    )
    p.add_argument("--list-models", action="store_true", help="list the catalog's models and exit")
    p.add_argument("--no-progress", action="store_true", help="plain log lines instead of a progress bar")


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _key_value(text: str) -> tuple[str, Any]:
    import json

    key, sep, raw = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        value: Any = json.loads(raw)  # numbers and booleans as such; data only, never code
    except ValueError:
        value = raw
    if isinstance(value, (dict, list)):
        value = raw
    return key.strip(), value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vmevalkit", description="Evaluate video generation models on reasoning tasks."
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    gen = sub.add_parser(
        "generate", help="run models over tasks, resumably", description="Run models over tasks, resumably."
    )
    _add_generate_arguments(gen)
    models = sub.add_parser("models", help="list the catalog's models")
    _add_models_arguments(models)
    tasks = sub.add_parser("tasks", help="list or build task datasets")
    tasks_sub = tasks.add_subparsers(dest="tasks_command", metavar="ACTION")
    tlist = tasks_sub.add_parser("list", help="list tasks and report invalid ones (default)")
    build = tasks_sub.add_parser("build", help="generate tasks with the builtin domain generators")
    # The same options on 'tasks' and its actions; SUPPRESS keeps an action's
    # missing option from overwriting one given before the action's name.
    for p in (tasks, tlist, build):
        default = None if p is tasks else argparse.SUPPRESS
        p.add_argument("--questions-dir", metavar="DIR", default=default, help="task dataset (default: data/questions)")
        p.add_argument(
            "--domain", nargs="+", metavar="DOMAIN", default=default, help="only these domains (default: all)"
        )
    build.add_argument("--per-domain", type=_positive_int, default=4, metavar="N")
    build.add_argument("--seed", type=int, default=0)
    return parser


def _add_models_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--family", nargs="+", help="only these families")
    p.add_argument("--kind", choices=["builtin", "api", "local"], help="only this kind")
    p.add_argument("--json", action="store_true", help="machine-readable output")


# -- models -------------------------------------------------------------------------


def cmd_models(args: argparse.Namespace) -> int:
    import json

    from vmevalkit.runner.registry import ModelLoadError, get_entry, model_names, readiness

    rows: list[dict[str, Any]] = []
    try:
        entries = [get_entry(name) for name in model_names()]
    except ModelLoadError as exc:
        _error(str(exc))
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


# -- tasks --------------------------------------------------------------------------


def cmd_tasks(args: argparse.Namespace) -> int:
    from pathlib import Path

    from rich.console import Console

    from vmevalkit.settings import get_settings

    console = Console()
    questions_dir = Path(args.questions_dir or get_settings().questions_dir)
    if args.tasks_command == "build":
        from vmevalkit.tasks import UnknownDomainError
        from vmevalkit.tasks.writer import build_dataset

        try:
            written = build_dataset(questions_dir, domains=args.domain, per_domain=args.per_domain, seed=args.seed)
        except UnknownDomainError as exc:
            _error(str(exc))
            return EXIT_USAGE
        console.print(f"wrote {len(written)} tasks to {questions_dir}")
        return EXIT_OK

    from rich.table import Table

    from vmevalkit.tasks.loader import TaskSelectionError, load_tasks

    try:
        task_set = load_tasks(questions_dir, domains=args.domain)
    except TaskSelectionError as exc:
        _error(str(exc))
        return EXIT_USAGE
    table = Table(title=f"tasks in {questions_dir}")
    for col in ("domain", "tasks", "with ground truth", "invalid"):
        table.add_column(col)
    for domain in sorted({t.domain for t in task_set.tasks} | {p.domain for p in task_set.problems}):
        tasks = [t for t in task_set.tasks if t.domain == domain]
        bad = sum(p.domain == domain for p in task_set.problems)
        table.add_row(domain, str(len(tasks)), str(sum(t.final_frame is not None for t in tasks)), str(bad))
    console.print(table)
    _print_problems(task_set.problems)
    return EXIT_OK


def _error(message: str) -> None:
    # Plain print, not rich: an error line is never wrapped or read as markup, so it
    # can be grepped and copied (paths and model names may contain '[...]').
    print(f"error: {message}", file=sys.stderr)


def _print_problems(problems: Sequence[Any]) -> None:
    for p in problems:
        print(f"warning: skipped task {p.task_id} ({p.path}): {p.reason}", file=sys.stderr)


# -- generate -----------------------------------------------------------------------


def _with_checkpoints(settings: Any, entries: Sequence[Any], specs: Sequence[str]) -> Any:
    """Settings with ``--checkpoint [MODEL=]DIR`` folded into ``checkpoints`` (a bare DIR needs one local model)."""
    from pathlib import Path

    if not specs:
        return settings
    local = [e.name for e in entries if e.kind == "local"]
    overrides = dict(settings.checkpoints)
    for spec in specs:
        name, sep, folder = spec.partition("=")
        if not sep:
            if len(local) != 1:
                raise ValueError(
                    f"--checkpoint {spec}: {'no local model is' if not local else 'several local models are'} "
                    "selected; write --checkpoint MODEL=DIR"
                )
            name, folder = local[0], spec
        elif name not in local:
            raise ValueError(
                f"--checkpoint {spec}: '{name}' is not a selected local model ({', '.join(local) or 'none'})"
            )
        overrides[name] = Path(folder).expanduser().absolute()
    return settings.model_copy(update={"checkpoints": overrides})


def cmd_generate(args: argparse.Namespace) -> int:
    if args.list_models:
        return cmd_models(argparse.Namespace(family=None, kind=None, json=False))
    if not args.model:
        _error("choose at least one --model (see --list-models)")
        return EXIT_USAGE

    from rich.console import Console

    from vmevalkit.runner.constraints import accepted_params
    from vmevalkit.runner.registry import ModelLoadError, UnknownModelError, get_entry, preflight, readiness
    from vmevalkit.settings import get_settings
    from vmevalkit.tasks.loader import TaskSelectionError, load_tasks

    console = Console()
    settings = get_settings()

    # Every model is checked before any work starts; one that cannot run is reported
    # (with its fix) and left out, and the others still run.
    try:
        entries = [get_entry(name) for name in dict.fromkeys(args.model)]
    except (UnknownModelError, ModelLoadError) as exc:
        _error(str(exc))
        return EXIT_USAGE
    params = dict(args.param)
    unused = sorted(set(params) - set().union(*(accepted_params(e.constraints) for e in entries)))
    if unused:
        _error(f"no selected model accepts --param {', '.join(unused)}; see 'vmevalkit models --json' for constraints")
        return EXIT_USAGE
    try:
        settings = _with_checkpoints(settings, entries, args.checkpoint)
    except ValueError as exc:
        _error(str(exc))
        return EXIT_USAGE
    not_ready = [
        (e, problem)
        for e in entries
        if (problem := readiness(e, duration=args.duration, params=params, settings=settings).problem or preflight(e))
    ]
    for _, problem in not_ready:
        _error(str(problem))
    entries = [e for e in entries if e.name not in {bad.name for bad, _ in not_ready}]
    if not entries:
        return EXIT_USAGE

    try:
        task_set = load_tasks(
            args.questions_dir or settings.questions_dir,
            domains=args.domain,
            task_ids=args.task_id,
            limit_per_domain=args.limit_per_domain,
        )
    except TaskSelectionError as exc:
        _error(str(exc))
        return EXIT_USAGE
    _print_problems(task_set.problems)
    if not task_set.tasks:
        _error("no valid task selected")
        return EXIT_USAGE

    from vmevalkit.runner.inference import InferenceRunner

    try:
        runner = InferenceRunner(
            experiment=args.experiment,
            output_dir=args.output_dir,
            settings=settings,
            seed=args.seed,
            duration=args.duration,
            params=params,
            retry_failed=args.retry_failed,
            max_cost=args.max_cost,
        )
    except ValueError as exc:
        _error(str(exc))
        return EXIT_USAGE
    plan = runner.plan([e.name for e in entries], task_set.tasks)
    _print_plan(console, runner, plan, len(task_set.tasks))
    if args.dry_run:
        return EXIT_OK

    try:
        summary = _run_with_progress(console, runner, plan, plain=args.no_progress)
    except KeyboardInterrupt:
        # Finished generations are on disk; interrupted ones are redone by the same command.
        _error(f"interrupted: run the same command again to resume ({runner.experiment_dir})")
        return EXIT_INTERRUPTED
    _print_summary(console, runner, summary)
    incomplete = any(m.failed or m.skipped_failed or m.skipped_budget for m in summary.models.values())
    return EXIT_FAILED if incomplete or not_ready else EXIT_OK


def _print_plan(console: Any, runner: Any, plan: Sequence[Any], n_tasks: int) -> None:
    from rich.table import Table

    table = Table(title=f"plan: {len(plan)} generations over {n_tasks} tasks -> {runner.experiment_dir}")
    for col in ("model", "generations", "already done", "failed before", "to run", "est. cost (USD)"):
        table.add_column(col, justify="right" if col != "model" else "left")
    models: dict[str, list[Any]] = {}
    for item in plan:
        models.setdefault(item.spec.entry.name, []).append(item)
    total = 0.0
    for name, items in models.items():
        failed = sum(i.state == "failed" for i in items)
        cost = sum(_new_job_cost(runner, i) for i in items)
        total += cost
        table.add_row(
            name,
            str(len(items)),
            str(sum(i.state == "completed" for i in items)),
            f"{failed}" + (" (retrying)" if failed and runner.retry_failed else ""),
            str(sum(runner.will_run(i) for i in items)),
            f"{cost:.2f}" if items[0].spec.entry.price else "free",
        )
    console.print(table)
    if total:
        budget = f" (--max-cost {runner.max_cost:.2f})" if runner.max_cost is not None else ""
        console.print(f"estimated cost of new paid jobs: ${total:.2f} at list prices{budget}")
    done = sum(i.state == "completed" for i in plan)
    failed = sum(i.state == "failed" for i in plan) if not runner.retry_failed else 0
    if done:
        console.print(f"skipping {done} generation(s) already done")
    if failed:
        console.print(f"skipping {failed} generation(s) that failed before: use --retry-failed to run them again")


def _new_job_cost(runner: Any, item: Any) -> float:
    # An interrupted ("running") generation may resume a job already paid for: not counted.
    if not runner.will_run(item) or item.state == "running":
        return 0.0
    return float(item.spec.estimated_cost())


def _run_with_progress(console: Any, runner: Any, plan: Sequence[Any], plain: bool) -> Any:
    import asyncio

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    counts = {"completed": 0, "failed": 0, "skipped": 0}

    def label() -> str:
        return f"done {counts['completed']}  failed {counts['failed']}  skipped {counts['skipped']}"

    if plain or not console.is_terminal:

        def on_plain_event(event: Any) -> None:
            if event.kind in ("completed", "failed"):
                detail = f": {event.error}" if event.error else ""
                print(f"{event.kind:9} {event.model} {event.task_id}{detail}", flush=True)

        runner.on_event = on_plain_event
        return asyncio.run(runner.run_async(plan))

    with Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console
    ) as progress:
        bar = progress.add_task(label(), total=len(plan))

        def on_event(event: Any) -> None:
            if event.kind == "started":
                return
            counts["completed" if event.kind == "completed" else "failed" if event.kind == "failed" else "skipped"] += 1
            progress.update(bar, advance=1, description=label())

        runner.on_event = on_event
        return asyncio.run(runner.run_async(plan))


def _print_summary(console: Any, runner: Any, summary: Any) -> None:
    from rich.table import Table

    table = Table(title="summary")
    paid = any(m.estimated_cost_usd or m.skipped_budget for m in summary.models.values())
    # skipped: done before / failed before (no --retry-failed) / claimed by another running process;
    # the money columns only where a paid model ran, so the table fits a terminal
    columns = ["model", "completed", "failed", "done before", "failed before", "busy"]
    columns += ["over budget", "est. USD"] if paid else []
    for col in columns:
        table.add_column(col, justify="right" if col != "model" else "left")
    for m in summary.models.values():
        row = [m.model, str(m.completed), str(m.failed), str(m.skipped_done), str(m.skipped_failed), str(m.busy)]
        row += [str(m.skipped_budget), f"{m.estimated_cost_usd:.2f}"] if paid else []
        table.add_row(*row)
    console.print(table)
    if summary.estimated_cost_usd:
        console.print(f"estimated spend of this run: ${summary.estimated_cost_usd:.2f} at list prices")
    budget_skips = sum(m.skipped_budget for m in summary.models.values())
    if budget_skips:
        print(f"warning: {budget_skips} generation(s) not submitted: --max-cost reached", file=sys.stderr)
    for m in summary.models.values():
        for task_id, error in m.failures[:10]:
            print(f"failed: {m.model} {task_id}: {error}", file=sys.stderr)
        if len(m.failures) > 10:
            console.print(f"... and {len(m.failures) - 10} more failures of {m.model}")
    console.print(f"results: {runner.experiment_dir}")


# -- entry points -------------------------------------------------------------------

COMMANDS = {"generate": cmd_generate, "models": cmd_models, "tasks": cmd_tasks}


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    return COMMANDS[args.command](args)


def generate_main(argv: Sequence[str] | None = None) -> int:
    """``examples/generate_videos.py``: the generate command on its own."""
    parser = argparse.ArgumentParser(
        prog="generate_videos.py", description="Run video models over reasoning tasks, resumably."
    )
    _add_generate_arguments(parser)
    return cmd_generate(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())

"""The ``vmevalkit`` command line: ``generate``, ``score``, ``models`` and ``tasks``.

Only argparse is imported at module level: ``--help`` must answer instantly,
and listing models must never import torch or any model code. Everything else
is imported inside the command that needs it.
"""

from __future__ import annotations

import argparse
import math
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
        "(e.g. a tiny one from 'python -m vmevalkit.workers.tiny'); MODEL= when several local models run",
    )
    p.add_argument("--retry-failed", action="store_true", help="run again the generations whose last attempt failed")
    p.add_argument(
        "--verify",
        action="store_true",
        help="rehash every completed video against the sha256 recorded when it completed (a plain resume checks "
        "that it is there at its recorded size); a mismatch redoes the generation",
    )
    p.add_argument(
        "--dry-run", action="store_true", help="print the plan (generations per model, what is done) and exit"
    )
    p.add_argument("--list-models", action="store_true", help="list the catalog's models and exit")
    p.add_argument("--no-progress", action="store_true", help="plain log lines instead of a progress bar")


def _add_score_arguments(p: argparse.ArgumentParser) -> None:
    which = p.add_mutually_exclusive_group()
    which.add_argument("--scorer", "-s", nargs="+", metavar="NAME", help="catalog scorer name(s); see --list-scorers")
    which.add_argument(
        "--scorer-class-path",
        metavar="MODULE:CLASS",
        help="any class with `dimensions` and score_batch(items, **kwargs), e.g. my_pkg.scorers:MyScorer",
    )
    p.add_argument(
        "--experiment", metavar="NAME", help="experiment to score: <output-dir>/<experiment>/ (default: pilot)"
    )
    p.add_argument(
        "--output-dir", metavar="DIR", help="experiments root (default: data/outputs, or $VMEVALKIT_OUTPUT_DIR)"
    )
    p.add_argument("--model", "-m", nargs="+", metavar="NAME", help="only the generations of these models")
    p.add_argument("--domain", nargs="+", metavar="DOMAIN", help="only these domains, e.g. maze sudoku")
    p.add_argument("--task-id", nargs="+", metavar="ID", help="only these tasks, e.g. maze_0001")
    p.add_argument(
        "--batch-size", type=_positive_int, default=8, metavar="N", help="videos per score_batch call (default: 8)"
    )
    p.add_argument(
        "--scorer-init-kwargs-json",
        type=_json_object,
        default={},
        metavar="JSON",
        help="constructor keywords, e.g. '{\"threshold\": 0.5}' (over the catalog entry's own args)",
    )
    p.add_argument(
        "--scorer-score-kwargs-json",
        type=_json_object,
        default={},
        metavar="JSON",
        help="score_batch keywords, e.g. '{\"frames\": 16}'",
    )
    p.add_argument("--checkpoint", metavar="PATH", help="weights for the scorer (passed to its constructor)")
    p.add_argument("--device", metavar="DEVICE", help="device for the scorer, e.g. cuda or cpu (passed likewise)")
    p.add_argument("--list-scorers", action="store_true", help="list the catalog's scorers and exit")
    p.add_argument("--no-progress", action="store_true", help="plain log lines instead of a progress bar")


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows; use a finite number")


def _json_object(text: str) -> dict[str, Any]:
    import json

    try:
        value = json.loads(text, parse_constant=_refuse_constant)  # no NaN or Infinity
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not valid JSON ({exc}): {text!r}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"must be a JSON object of keywords like '{{\"key\": 1}}', got {text!r}")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
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
    if isinstance(value, float) and not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{key}: {raw!r} is not a finite number")
    if isinstance(value, str) and _is_non_finite_word(value):
        raise argparse.ArgumentTypeError(f"{key}: {raw!r} is not a finite number")
    return key.strip(), value


def _is_non_finite_word(text: str) -> bool:
    # float() reads these as inf/nan; a parameter spelt so is almost surely a number gone wrong.
    try:
        return not math.isfinite(float(text))
    except ValueError:
        return False


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text}")
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
    score = sub.add_parser(
        "score",
        help="score finished generations, resumably",
        description="Score every finished generation of an experiment, resumably.",
    )
    _add_score_arguments(score)
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
    # can be grepped and copied (paths and model names may contain '[...]'). Messages
    # carry outside text (task ids, provider bodies): control characters are escaped.
    print(f"error: {_shown(message)}", file=sys.stderr)


def _shown(text: object) -> str:
    """Outside text as it may reach a terminal: secrets masked, control characters escaped."""
    from vmevalkit.utils.redact import scrub
    from vmevalkit.utils.text import printable

    return printable(scrub(str(text)))


def _print_problems(problems: Sequence[Any]) -> None:
    for p in problems:
        print(f"warning: skipped task {_shown(p.task_id)} ({_shown(p.path)}): {_shown(p.reason)}", file=sys.stderr)


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

    from vmevalkit.models.constraints import accepted_params
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
            verify=args.verify,
        )
        if not args.dry_run:
            runner.check_output_dir()  # a read-only or impossible --output-dir is a usage error, before any work
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
    _print_summary(console, runner, summary, invalid=len(task_set.problems))
    # 0 means every selected generation is completed: not when a task was invalid, a model could
    # not run, a generation failed (now or before), went over budget, or is still held by a peer.
    return EXIT_OK if summary.complete and not not_ready and not task_set.problems else EXIT_FAILED


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
            str(sum(i.state == "completed" and i.problem is None for i in items)),
            f"{failed}" + (" (retrying)" if failed and runner.retry_failed else ""),
            str(sum(runner.will_run(i) for i in items)),
            f"{cost:.2f}" if items[0].spec.entry.price else "free",
        )
    console.print(table)
    if total:
        budget = f" (--max-cost {runner.max_cost:.2f})" if runner.max_cost is not None else ""
        console.print(f"estimated cost of new paid jobs: ${total:.2f} at list prices{budget}")
    done = sum(i.state == "completed" and i.problem is None for i in plan)
    failed = sum(i.state == "failed" for i in plan) if not runner.retry_failed else 0
    for item in plan:
        if item.problem is not None:
            print(
                f"warning: redoing {item.spec.entry.name} {_shown(item.spec.task.task_id)}, completed before: "
                f"{_shown(item.problem)}",
                file=sys.stderr,
            )
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
            if event.kind in ("completed", "failed", "redo"):
                detail = f": {_shown(event.error)}" if event.error else ""
                print(f"{event.kind:9} {event.model} {_shown(event.task_id)}{detail}", flush=True)

        runner.on_event = on_plain_event
        return asyncio.run(runner.run_async(plan))

    with Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console
    ) as progress:
        bar = progress.add_task(label(), total=len(plan))

        def on_event(event: Any) -> None:
            if event.kind in ("started", "redo"):
                return
            counts["completed" if event.kind == "completed" else "failed" if event.kind == "failed" else "skipped"] += 1
            progress.update(bar, advance=1, description=label())

        runner.on_event = on_event
        return asyncio.run(runner.run_async(plan))


def _print_summary(console: Any, runner: Any, summary: Any, invalid: int = 0) -> None:
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
            print(f"failed: {m.model} {_shown(task_id)}: {_shown(error)}", file=sys.stderr)
        if len(m.failures) > 10:
            console.print(f"... and {len(m.failures) - 10} more failures of {m.model}")
        for task_id, holder in m.held[:10]:
            print(f"busy: {m.model} {_shown(task_id)}: still claimed by {_shown(holder)}", file=sys.stderr)
    if summary.busy:
        print(
            f"warning: {summary.busy} generation(s) still claimed by another running process: "
            "not done yet; run the same command again once it finishes",
            file=sys.stderr,
        )
    if invalid:
        print(f"warning: {invalid} invalid task(s) skipped (see the warnings above)", file=sys.stderr)
    if runner.stopped:
        print(f"error: {_shown(runner.stopped)}", file=sys.stderr)
    console.print(f"results: {_shown(runner.experiment_dir)}", markup=False)


# -- score --------------------------------------------------------------------------


def cmd_score(args: argparse.Namespace) -> int:
    if args.list_scorers:
        return _list_scorers()
    if not args.scorer and not args.scorer_class_path:
        _error("choose --scorer NAME (see --list-scorers) or --scorer-class-path MODULE:CLASS")
        return EXIT_USAGE

    from pathlib import Path

    from rich.console import Console

    from vmevalkit.runner.registry import SAFE_NAME, ScorerCatalogError, UnknownScorerError
    from vmevalkit.scoring.base import ScorerContractError, build_scorer, load_scorer_class
    from vmevalkit.scoring.local.wrapper import LocalScorerNotReady
    from vmevalkit.scoring.runner import (
        GenerationSelectionError,
        find_generations,
        load_catalog_scorer,
        scorer_name_of,
    )
    from vmevalkit.settings import get_settings

    console = Console()
    settings = get_settings()
    experiment = args.experiment or settings.experiment
    if not SAFE_NAME.fullmatch(experiment):
        _error(f"experiment name {experiment!r} must be a plain folder name (letters, digits, '.', '_', '-')")
        return EXIT_USAGE
    experiment_dir = Path(args.output_dir or settings.output_dir).absolute() / experiment
    try:
        generations = find_generations(experiment_dir, models=args.model, domains=args.domain, task_ids=args.task_id)
    except GenerationSelectionError as exc:
        _error(str(exc))
        return EXIT_USAGE

    # Every scorer is loaded before any scoring starts: a wrong name, class path or keyword is a usage error
    # and nothing is written.
    options = {"checkpoint": args.checkpoint, "device": args.device}
    try:
        if args.scorer_class_path:
            scorer = build_scorer(load_scorer_class(args.scorer_class_path), args.scorer_init_kwargs_json, **options)
            loaded = [(scorer_name_of(scorer), scorer)]
        else:
            names = list(dict.fromkeys(args.scorer))
            loaded = [(n, load_catalog_scorer(n, args.scorer_init_kwargs_json, **options)) for n in names]
    except (UnknownScorerError, ScorerContractError, ScorerCatalogError, LocalScorerNotReady) as exc:
        _error(str(exc))
        return EXIT_USAGE
    except Exception as exc:  # a plug-in's constructor refusing its options: its words, scrubbed, on one line
        _error(f"the scorer could not be built: {type(exc).__name__}: {exc}")
        return EXIT_USAGE
    try:
        return _run_scorers(console, args, loaded, generations, experiment_dir)
    finally:
        for _name, scorer in loaded:  # local scorers stop their workers
            close = getattr(scorer, "close", None)
            if callable(close):
                close()


def _run_scorers(
    console: Any, args: argparse.Namespace, loaded: list[tuple[str, Any]], generations: Any, experiment_dir: Any
) -> int:
    from vmevalkit.scoring.runner import ScoringRunner

    runners: list[Any] = []
    for name, scorer in loaded:
        runners.append(
            ScoringRunner(
                scorer,
                name=name,
                batch_size=args.batch_size,
                score_kwargs=args.scorer_score_kwargs_json,
                init_kwargs=args.scorer_init_kwargs_json,
                checkpoint=args.checkpoint,
            )
        )

    console.print(
        f"scoring {len(generations)} generation(s) in {experiment_dir} with {', '.join(r.name for r in runners)}"
    )
    try:
        summaries, broken = _score_with_progress(console, runners, generations, plain=args.no_progress)
    except KeyboardInterrupt:
        # Score files already written stay; the same command scores only what is left.
        _error(f"interrupted: run the same command again to resume ({experiment_dir})")
        return EXIT_INTERRUPTED
    _print_score_summary(console, runners, summaries)
    for message in broken:
        _error(message)
    return EXIT_FAILED if broken or any(s.failed for s in summaries) else EXIT_OK


def _list_scorers() -> int:
    from rich.console import Console
    from rich.table import Table

    from vmevalkit.runner.registry import ScorerCatalogError, all_scorers

    try:
        scorers = all_scorers()
    except ScorerCatalogError as exc:
        _error(str(exc))
        return EXIT_USAGE
    table = Table(title=f"{len(scorers)} scorers")
    for col in ("name", "family", "kind"):
        table.add_column(col, no_wrap=True)
    table.add_column("description", overflow="fold")
    for name, entry in sorted(scorers.items()):
        table.add_row(name, str(entry.get("family", "")), str(entry.get("kind", "")), str(entry.get("description", "")))
    Console().print(table)
    return EXIT_OK


def _score_with_progress(
    console: Any, runners: Sequence[Any], generations: Sequence[Any], plain: bool
) -> tuple[list[Any], list[str]]:
    """Each scorer over every generation; returns the summaries and the contract errors of broken scorers."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from vmevalkit.scoring.base import ScorerContractError

    counts = {"scored": 0, "skipped": 0, "failed": 0}
    summaries: list[Any] = []
    broken: list[str] = []

    def label() -> str:
        return f"scored {counts['scored']}  up to date {counts['skipped']}  failed {counts['failed']}"

    def run_all(on_event: Any) -> None:
        for runner in runners:
            runner.on_event = on_event
            try:
                summaries.append(runner.run(generations))
            except ScorerContractError as exc:
                # A broken scorer stops; the files its earlier batches wrote are valid and stay.
                broken.append(str(exc))
            finally:
                # A local scorer's workers go as soon as it is done: the next scorer gets the GPU memory.
                close = getattr(runner.scorer, "close", None)
                if callable(close):
                    close()

    if plain or not console.is_terminal:

        def on_line(outcome: Any) -> None:
            if outcome.status != "skipped":
                detail = f": {_shown(outcome.error)}" if outcome.error else ""
                record = outcome.generation.record
                print(
                    f"{outcome.status:7} {outcome.record.scorer} {record.model} {_shown(record.task_id)}{detail}",
                    flush=True,
                )

        run_all(on_line)
        return summaries, broken

    with Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console
    ) as progress:
        bar = progress.add_task(label(), total=len(runners) * len(generations))

        def on_event(outcome: Any) -> None:
            counts[outcome.status] += 1
            progress.update(bar, advance=1, description=label())

        run_all(on_event)
    return summaries, broken


def _print_score_summary(console: Any, runners: Sequence[Any], summaries: Sequence[Any]) -> None:
    import math

    from rich.table import Table

    def by_model(summary: Any) -> dict[str, list[Any]]:
        groups: dict[str, list[Any]] = {}
        for outcome in summary.outcomes:
            groups.setdefault(outcome.generation.record.model, []).append(outcome)
        return groups

    # Counts first (one row per scorer x model), then each scorer's means in a table of its own: the
    # dimensions differ per scorer, and one wide table would not fit a terminal.
    counts = Table(title="summary")
    for col in ("scorer", "model", "generations", "scored", "up to date", "failed"):
        named = col in ("scorer", "model")
        counts.add_column(col, justify="left" if named else "right", no_wrap=named)
    for summary in summaries:
        for model, outcomes in by_model(summary).items():
            row = [str(sum(o.status == s for o in outcomes)) for s in ("scored", "skipped", "failed")]
            counts.add_row(summary.scorer, model, str(len(outcomes)), *row)
    console.print(counts)

    dimensions = {r.name: r.dimensions for r in runners}
    for summary in summaries:
        means = Table(title=f"{summary.scorer}: means over the score files now on disk")
        means.add_column("model", no_wrap=True)
        for dim in dimensions[summary.scorer]:
            means.add_column(dim, justify="right")
        for model, outcomes in by_model(summary).items():
            cells = []
            for dim in dimensions[summary.scorer]:
                values = [o.record.dimensions.get(dim) for o in outcomes if o.record is not None]
                values = [v for v in values if v is not None and math.isfinite(v)]
                cells.append(f"{sum(values) / len(values):.4g}" if values else "-")  # NaN (not scored) left out
            means.add_row(model, *cells)
        console.print(means)
        for generation, error in summary.failures[:10]:
            print(f"failed: {summary.scorer} {_shown(generation.label)}: {_shown(error)}", file=sys.stderr)
        if len(summary.failures) > 10:
            console.print(f"... and {len(summary.failures) - 10} more failures of {summary.scorer}")


# -- entry points -------------------------------------------------------------------

COMMANDS = {"generate": cmd_generate, "score": cmd_score, "models": cmd_models, "tasks": cmd_tasks}


def _guarded(command: Any, args: argparse.Namespace) -> int:
    """Run a command; bad settings and I/O errors end it with one ``error:`` line, never a traceback."""
    try:
        from vmevalkit.settings import get_settings

        get_settings()  # bad settings are a usage error, found before any work
        return int(command(args))
    except OSError as exc:
        where = f" ({exc.filename})" if exc.filename else ""
        _error(f"{exc.strerror or type(exc).__name__}{where}")
        return EXIT_FAILED
    except ValueError as exc:
        from vmevalkit.settings import SettingsError

        if isinstance(exc, SettingsError):
            _error(str(exc))
            return EXIT_USAGE
        raise


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    return _guarded(COMMANDS[args.command], args)


def generate_main(argv: Sequence[str] | None = None) -> int:
    """``examples/generate_videos.py``: the generate command on its own."""
    parser = argparse.ArgumentParser(
        prog="generate_videos.py", description="Run video models over reasoning tasks, resumably."
    )
    _add_generate_arguments(parser)
    return _guarded(cmd_generate, parser.parse_args(argv))


def score_main(argv: Sequence[str] | None = None) -> int:
    """``examples/score_videos.py``: the score command on its own."""
    parser = argparse.ArgumentParser(
        prog="score_videos.py", description="Score every finished generation of an experiment, resumably."
    )
    _add_score_arguments(parser)
    return _guarded(cmd_score, parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())

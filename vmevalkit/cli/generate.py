"""``vmevalkit generate`` (and ``examples/generate_videos.py``): run models over tasks, resumably.

Every model is checked before any work starts (a wrong name is a usage error; a model that cannot run here, retired,
not installed or without its key, is reported with its fix and the others run), then the plan is printed with every
requested model in it, then the runner runs it with a progress bar (or one line per event with ``--no-progress``),
then a summary says what is done and what is not. ``--dry-run`` needs no key: it stops after the plan, which prices
every model, those that cannot run included. The exit code says whether every selected generation is completed, or
for a dry run whether every model could run (README, "Exit codes").
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from vmevalkit.cli.common import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    OUTPUT_DIR_HELP,
    add_engine_arguments,
    engine_settings,
    error,
    guarded,
    join_cluster,
    key_value,
    positive_float,
    positive_int,
    print_table,
    shown,
)

if TYPE_CHECKING:
    from rich.console import Console

    from vmevalkit.runner.inference import InferenceRunner, PlannedGeneration, RunEvent, RunSummary
    from vmevalkit.runner.registry import CatalogEntry
    from vmevalkit.settings import Settings

HELP = "run models over tasks, resumably"
DESCRIPTION = "Run video models over reasoning tasks, resumably."

# A local generation reports every denoising step; a terminal gets at most one line per job this often.
PROGRESS_INTERVAL_S = 5.0


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", "-m", nargs="+", metavar="NAME", help="catalog model name(s); see --list-models")
    p.add_argument("--task-id", nargs="+", metavar="ID", help="only these tasks, e.g. maze_0001 maze_0002")
    p.add_argument("--domain", nargs="+", metavar="DOMAIN", help="only these domains, e.g. maze sudoku")
    p.add_argument("--limit-per-domain", type=positive_int, metavar="N", help="at most N valid tasks per domain")
    p.add_argument(
        "--questions-dir", metavar="DIR", help="task dataset (default: data/questions, or $VMEVALKIT_QUESTIONS_DIR)"
    )
    p.add_argument("--output-dir", metavar="DIR", help=OUTPUT_DIR_HELP)
    p.add_argument(
        "--experiment",
        metavar="NAME",
        help="experiment name; results go to <output-dir>/<experiment>/ (default: pilot)",
    )
    p.add_argument("--seed", type=int, default=42, help="seed passed to every model that takes one (default: 42)")
    p.add_argument(
        "--duration",
        type=positive_float,
        metavar="SECONDS",
        help="video length (default: each model's own; 4 for builtins)",
    )
    p.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        type=key_value,
        help="model parameter, e.g. aspect_ratio=16:9 or resolution=720p (repeatable); "
        "applies to the selected models that accept it",
    )
    p.add_argument(
        "--max-cost",
        type=positive_float,
        metavar="USD",
        help="stop submitting paid jobs past this estimated spend",
    )
    p.add_argument(
        "--checkpoint",
        action="append",
        default=[],
        metavar="[MODEL=]DIR",
        help="run a local model from this diffusers checkpoint folder instead of its pinned weights "
        "(e.g. a tiny one from 'python -m vmevalkit local tiny'); MODEL= when several local models run",
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
    add_engine_arguments(p)


def run(args: argparse.Namespace) -> int:
    return guarded(generate, args)


def with_checkpoints(settings: Settings, entries: Sequence[CatalogEntry], specs: Sequence[str]) -> Settings:
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


def generate(args: argparse.Namespace) -> int:
    if args.list_models:
        from vmevalkit.cli.models import list_models

        return list_models(argparse.Namespace(family=None, kind=None, json=False))
    if not args.model:
        error("choose at least one --model (see --list-models)")
        return EXIT_USAGE

    from rich.console import Console

    from vmevalkit.cli.tasks import print_problems
    from vmevalkit.models.constraints import accepted_params
    from vmevalkit.runner.registry import ModelLoadError, UnknownModelError, get_entry
    from vmevalkit.settings import get_settings
    from vmevalkit.tasks.loader import TaskSelectionError, load_tasks

    console = Console()
    engine = engine_settings(args, get_settings())
    if engine is None:
        return EXIT_USAGE
    settings = engine

    # Every model is checked before any work starts; one that cannot run is reported
    # (with its fix) and left out, and the others still run.
    try:
        entries = [get_entry(name) for name in dict.fromkeys(args.model)]
    except (UnknownModelError, ModelLoadError) as exc:
        error(str(exc))
        return EXIT_USAGE
    params = dict(args.param)
    unused = sorted(set(params) - set().union(*(accepted_params(e.constraints) for e in entries)))
    if unused:
        error(f"no selected model accepts --param {', '.join(unused)}; see 'vmevalkit models --json' for constraints")
        return EXIT_USAGE
    try:
        settings = with_checkpoints(settings, entries, args.checkpoint)
    except ValueError as exc:
        error(str(exc))
        return EXIT_USAGE
    # Retirement before the key (nobody should sign up for a key to a retired model), then install, key and
    # constraints, then the checks that load the provider's class.
    blocked = {
        e.name: Blocked(state, problem)
        for e in entries
        if (found := why_not(e, args.duration, params, settings)) is not None
        for state, problem in [found]
    }
    if not args.dry_run:  # a dry run gives the fixes under its plan, where the table marks these models
        for block in blocked.values():
            error(block.fix)
        if len(blocked) == len(entries):
            return EXIT_USAGE

    try:
        task_set = load_tasks(
            args.questions_dir or settings.questions_dir,
            domains=args.domain,
            task_ids=args.task_id,
            limit_per_domain=args.limit_per_domain,
        )
    except TaskSelectionError as exc:
        error(str(exc))
        return EXIT_USAGE
    print_problems(task_set.problems)
    if not task_set.tasks:
        error("no valid task selected")
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
        error(str(exc))
        return EXIT_USAGE
    plan = runner.plan([e.name for e in entries if e.name not in blocked], task_set.tasks)
    shown_plan = list(plan)
    for name in blocked:  # shown with what it would cost, though it cannot run now
        try:
            shown_plan += runner.plan([name], task_set.tasks)
        except Exception:  # e.g. a duration it does not make: its row says so, with no numbers
            pass
    order = {e.name: i for i, e in enumerate(entries)}
    shown_plan.sort(key=lambda item: order[item.spec.entry.name])
    print_plan(console, runner, shown_plan, len(task_set.tasks), blocked, [e.name for e in entries])
    if args.dry_run:
        for block in blocked.values():
            error(block.fix)
        to_run = sum(runner.will_run(i) for i in plan)
        console.print(
            f"dry run: nothing was generated; {to_run} generation(s) would run"
            + (f"; {len(blocked)} model(s) cannot run: the fix is in each error line" if blocked else ""),
            markup=False,
        )
        # The exit code the real run would give before any work: 2 when no model can run, 1 when one cannot.
        return EXIT_USAGE if len(blocked) == len(entries) else EXIT_FAILED if blocked else EXIT_OK

    if not join_cluster(settings):
        return EXIT_USAGE
    try:
        summary = run_with_progress(console, runner, plan, plain=args.no_progress)
    except KeyboardInterrupt:
        # Finished generations are on disk; interrupted ones are redone by the same command.
        error(f"interrupted: run the same command again to resume ({runner.experiment_dir})")
        return EXIT_INTERRUPTED
    print_summary(
        console, runner, summary, invalid=len(task_set.problems), blocked=blocked, n_tasks=len(task_set.tasks)
    )
    # 0 means every selected generation is completed: not when a task was invalid, a model could
    # not run, a generation failed (now or before), went over budget, or is still held by a peer.
    return EXIT_OK if summary.complete and not blocked and not task_set.problems else EXIT_FAILED


@dataclass(frozen=True)
class Blocked:
    """A requested model that cannot run here: a short state for the tables, and the fix."""

    state: str  # "retired", "not installed", "tiny checkpoint only", "no key", "unsupported" or "not ready"
    fix: str


def why_not(
    entry: CatalogEntry, duration: float | None, params: dict[str, Any], settings: Settings
) -> tuple[str, str] | None:
    """``(state, fix)`` when the model cannot run with these settings, None when it can; retirement first."""
    from vmevalkit.runner.registry import preflight, readiness, retirement

    retired = retirement(entry)
    if retired:
        return "retired", retired
    ready = readiness(entry, duration=duration, params=params, settings=settings)
    if ready.problem:
        if not ready.installed:
            state = "tiny checkpoint only" if ready.installed_as == "tiny" else "not installed"
        else:
            state = "no key" if not ready.keys_set else "unsupported"
        return state, ready.problem
    problem = preflight(entry)
    return ("not ready", problem) if problem else None


def name_width(names: Sequence[str]) -> int:
    """The width of a column of model names: the longest name, so none is ever cut."""
    return max((len(n) for n in names), default=5)


def print_plan(
    console: Console,
    runner: InferenceRunner,
    plan: Sequence[PlannedGeneration],
    n_tasks: int,
    blocked: Mapping[str, Blocked] | None = None,
    names: Sequence[str] = (),
) -> None:
    """One row per requested model, those that cannot run included (their ``state`` says why, their cost is what
    they would cost): nothing requested disappears from the plan."""
    from rich.markup import escape

    blocked = blocked or {}
    models: dict[str, list[PlannedGeneration]] = {name: [] for name in names}
    for item in plan:
        models.setdefault(item.spec.entry.name, []).append(item)
    runnable = sum(len(items) for name, items in models.items() if name not in blocked)
    headers = ["model", "planned", "done", "failed before", "to run", "est. USD"] + (["state"] if blocked else [])
    rows = []
    total = 0.0
    for name, items in models.items():
        failed = sum(i.state == "failed" for i in items)
        cost = sum(new_job_cost(runner, i) for i in items)
        if name not in blocked:
            total += cost
        priced = items[0].spec.entry.price if items else None
        row = [
            name,
            str(len(items)) if items else "-",
            str(sum(i.state == "completed" and i.problem is None for i in items)),
            f"{failed}" + (" (retrying)" if failed and runner.retry_failed else ""),
            str(sum(runner.will_run(i) for i in items)) if name not in blocked else "0",
            f"{cost:.2f}" if priced else "free" if items else "-",
        ]
        if blocked:
            row.append(f"[red]{blocked[name].state}[/red]" if name in blocked else "ready")
        rows.append(row)
    title = f"plan: {runnable} generations over {n_tasks} tasks -> {escape(str(runner.experiment_dir))}"
    print_table(console, title, headers, rows, text=["state"])
    blocked_cost = sum(new_job_cost(runner, i) for i in plan if i.spec.entry.name in blocked)
    if total or blocked_cost:
        budget = f" (--max-cost {runner.max_cost:.2f})" if runner.max_cost is not None else ""
        more = f"; ${blocked_cost:.2f} more for the model(s) that cannot run now" if blocked_cost else ""
        console.print(f"estimated cost of new paid jobs: ${total:.2f} at list prices{budget}{more}", markup=False)
    plan = [i for i in plan if i.spec.entry.name not in blocked]
    done = sum(i.state == "completed" and i.problem is None for i in plan)
    failed = sum(i.state == "failed" for i in plan) if not runner.retry_failed else 0
    for item in plan:
        if item.problem is not None:
            print(
                f"warning: redoing {item.spec.entry.name} {shown(item.spec.task.task_id)}, completed before: "
                f"{shown(item.problem)}",
                file=sys.stderr,
            )
    if done:
        console.print(f"skipping {done} generation(s) already done")
    if failed:
        console.print(f"skipping {failed} generation(s) that failed before: use --retry-failed to run them again")


def new_job_cost(runner: InferenceRunner, item: PlannedGeneration) -> float:
    # An interrupted ("running") generation may resume a job already paid for: not counted.
    if not runner.will_run(item) or item.state == "running":
        return 0.0
    return float(item.spec.estimated_cost())


class EventLines:
    """``--no-progress`` (or no terminal): one line per finished, failed or redone generation.

    A running local job's ``progress`` events (one per denoising step) are shown too, but at most one line per job
    every ``interval`` seconds, so that a log keeps a heartbeat without a line per step. Given ``to_run`` (the
    generations this run will start), each finished one ends with how many are done and, from the pace so far, about
    how long the rest will take, as the progress bar's ETA does.
    """

    def __init__(
        self,
        interval: float = PROGRESS_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
        to_run: int | None = None,
    ) -> None:
        self.interval = interval
        self.clock = clock
        self._last_progress: dict[tuple[str, str], float] = {}
        self.to_run = to_run
        self.finished = 0
        self.started_at = clock()

    def __call__(self, event: RunEvent) -> None:
        job = (event.model, event.task_id)
        if event.kind == "progress":
            now = self.clock()
            last = self._last_progress.get(job)
            if last is not None and now - last < self.interval:
                return
            self._last_progress[job] = now
            detail = f": step {event.step}/{event.total}"
        elif event.kind in ("completed", "failed", "redo"):
            self._last_progress.pop(job, None)
            detail = f": {shown(event.error)}" if event.error else ""
            if event.kind != "redo":
                detail += self._pace()
        else:
            return
        print(f"{event.kind:9} {event.model} {shown(event.task_id)}{detail}", flush=True)

    def _pace(self) -> str:
        """``"  (3/36 done, about 2 min left)"`` after a finished generation; nothing without ``to_run``."""
        if not self.to_run:
            return ""
        self.finished += 1
        left = max(0, self.to_run - self.finished)
        if left == 0:
            return f"  ({self.finished}/{self.to_run} done)"
        seconds = (self.clock() - self.started_at) / self.finished * left
        return f"  ({self.finished}/{self.to_run} done, about {duration_text(seconds)} left)"


def duration_text(seconds: float) -> str:
    """A rough duration for a person: "40 s", "3 min", "2 h 5 min"."""
    if seconds < 60:
        return f"{max(1, round(seconds))} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60} min"


class BarLabel:
    """The progress bar's label: finished jobs counted, and the latest step of a running local job.

    ``update`` says how far the bar advances for an event: one for a finished (or skipped) generation, none for a
    job starting, being redone or reporting a step.
    """

    def __init__(self) -> None:
        self.counts = {"completed": 0, "failed": 0, "skipped": 0}
        self.stepping: dict[tuple[str, str], str] = {}  # running local jobs: their latest "step i/n", newest last

    def update(self, event: RunEvent) -> int:
        job = (event.model, event.task_id)
        if event.kind == "progress":
            self.stepping.pop(job, None)
            self.stepping[job] = f"step {event.step}/{event.total}"
            return 0
        if event.kind in ("started", "redo"):
            return 0
        self.stepping.pop(job, None)
        self.counts[event.kind if event.kind in ("completed", "failed") else "skipped"] += 1
        return 1

    def __str__(self) -> str:
        from rich.markup import escape

        text = f"done {self.counts['completed']}  failed {self.counts['failed']}  skipped {self.counts['skipped']}"
        if self.stepping:
            (model, task_id), step = next(reversed(self.stepping.items()))
            text += f"  ({model} {escape(shown(task_id))}: {step})"  # the label is rich markup
        return text


def run_with_progress(
    console: Console, runner: InferenceRunner, plan: Sequence[PlannedGeneration], plain: bool
) -> RunSummary:
    import asyncio

    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    if plain or not console.is_terminal:
        runner.on_event = EventLines(to_run=sum(1 for item in plan if runner.will_run(item)))
        return asyncio.run(runner.run_async(plan))

    label = BarLabel()
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),  # from the pace of the generations finished so far
        console=console,
    ) as progress:
        bar = progress.add_task(str(label), total=len(plan))

        def on_event(event: RunEvent) -> None:
            progress.update(bar, advance=label.update(event), description=str(label))

        runner.on_event = on_event
        return asyncio.run(runner.run_async(plan))


def print_summary(
    console: Console,
    runner: InferenceRunner,
    summary: RunSummary,
    invalid: int = 0,
    blocked: Mapping[str, Blocked] | None = None,
    n_tasks: int = 0,
) -> None:
    blocked = blocked or {}
    paid = any(m.estimated_cost_usd or m.skipped_budget for m in summary.models.values())
    # skipped: done before / failed before (no --retry-failed) / claimed by another running process;
    # the money columns only where a paid model ran, "state" only where a model could not run: so it fits a terminal
    headers = ["model", "completed", "failed", "done before", "failed before", "busy"]
    headers += ["over budget", "est. USD"] if paid else []
    headers += ["state"] if blocked else []
    rows = []
    for m in summary.models.values():
        row = [m.model, str(m.completed), str(m.failed), str(m.skipped_done), str(m.skipped_failed), str(m.busy)]
        row += [str(m.skipped_budget), f"{m.estimated_cost_usd:.2f}"] if paid else []
        row += ["ran"] if blocked else []
        rows.append(row)
    for name, block in blocked.items():  # every requested model has its row, and says why it did not run
        rows.append([name, *["-"] * (len(headers) - 2), f"[red]{block.state}[/red]"])
    print_table(console, "summary", headers, rows, text=["state"])
    if summary.places:  # the ray engine: what each node and GPU did
        place_rows = [
            [where, str(counts.get("completed", 0)), str(counts.get("failed", 0))]
            for where, counts in sorted(summary.places.items())
        ]
        print_table(console, "per node", ["node", "completed", "failed"], place_rows)
    if summary.estimated_cost_usd:
        console.print(f"estimated spend of this run: ${summary.estimated_cost_usd:.2f} at list prices")
    budget_skips = sum(m.skipped_budget for m in summary.models.values())
    if budget_skips:
        print(f"warning: {budget_skips} generation(s) not submitted: --max-cost reached", file=sys.stderr)
    for m in summary.models.values():
        for task_id, message in m.failures[:10]:
            print(f"failed: {m.model} {shown(task_id)}: {shown(message)}", file=sys.stderr)
        if len(m.failures) > 10:
            console.print(f"... and {len(m.failures) - 10} more failures of {m.model}")
        for task_id, holder in m.held[:10]:
            print(f"busy: {m.model} {shown(task_id)}: still claimed by {shown(holder)}", file=sys.stderr)
    if summary.busy:
        print(
            f"warning: {summary.busy} generation(s) still claimed by another running process: "
            "not done yet; run the same command again once it finishes",
            file=sys.stderr,
        )
    if invalid:
        print(f"warning: {invalid} invalid task(s) skipped (see the warnings above)", file=sys.stderr)
    for name, block in blocked.items():
        print(f"not run: {name}: {shown(block.fix)}", file=sys.stderr)
    if runner.stopped:
        print(f"error: {shown(runner.stopped)}", file=sys.stderr)
    console.print(f"results: {shown(runner.experiment_dir)}", markup=False)

"""``vmevalkit score`` (and ``examples/score_videos.py``): score every finished generation of an experiment.

Every scorer is built before any scoring starts (a wrong name, class path or keyword is a usage error and nothing is
written); then each scorer runs over the generations in turn, resumably (a score file that is current is kept), and
a summary gives the counts and each scorer's means.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from vmevalkit.cli.common import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    OUTPUT_DIR_HELP,
    add_engine_arguments,
    engine_settings,
    error,
    experiment_folder,
    guarded,
    join_cluster,
    json_object,
    positive_int,
    shown,
)

if TYPE_CHECKING:
    from rich.console import Console

    from vmevalkit.scoring.pool import ScorerSpec
    from vmevalkit.scoring.runner import Generation, PoolFactory, ScoreOutcome, ScoringRunner, ScoringSummary
    from vmevalkit.settings import Settings

HELP = "score finished generations, resumably"
DESCRIPTION = "Score every finished generation of an experiment, resumably."


def add_arguments(p: argparse.ArgumentParser) -> None:
    which = p.add_mutually_exclusive_group()
    which.add_argument("--scorer", "-s", nargs="+", metavar="NAME", help="catalog scorer name(s); see --list-scorers")
    which.add_argument(
        "--scorer-class-path",
        metavar="MODULE:CLASS",
        help="any class with `dimensions` and score_batch(items, **kwargs), e.g. my_pkg.scorers:MyScorer, or one "
        "written for CMI-RewardBench's --model_class_path (see --scorer-contract); its score files are named by its "
        "`name`, else its full class path. CMI-RewardBench's flag names work as they are: --model_class_path, "
        "--model_init_kwargs_json, --model_score_kwargs_json, -c, --batch_size, --max_dur",
    )
    p.add_argument(
        "--experiment", metavar="NAME", help="experiment to score: <output-dir>/<experiment>/ (default: pilot)"
    )
    p.add_argument("--output-dir", metavar="DIR", help=OUTPUT_DIR_HELP)
    p.add_argument("--model", "-m", nargs="+", metavar="NAME", help="only the generations of these models")
    p.add_argument("--domain", nargs="+", metavar="DOMAIN", help="only these domains, e.g. maze sudoku")
    p.add_argument("--task-id", nargs="+", metavar="ID", help="only these tasks, e.g. maze_0001")
    p.add_argument(
        "--batch-size",
        type=positive_int,
        default=8,
        metavar="N",
        help="videos per score_batch call (default: 8)",
    )
    p.add_argument(
        "--workers",
        type=worker_count,
        metavar="N",
        help="processes scoring at once, for in-process CPU scorers such as frame-match and task-verifier "
        "(default: every usable core; 1: score in this process; API judges and local scorers keep their own)",
    )
    p.add_argument(
        "--scorer-init-kwargs-json",
        type=json_object,
        default={},
        metavar="JSON",
        help="constructor keywords, e.g. '{\"threshold\": 0.5}' (over the catalog entry's own args)",
    )
    p.add_argument(
        "--scorer-score-kwargs-json",
        type=json_object,
        default={},
        metavar="JSON",
        help="score_batch keywords, e.g. '{\"frames\": 16}'",
    )
    p.add_argument("--checkpoint", "-c", metavar="PATH", help="weights for the scorer (passed to its constructor)")
    p.add_argument("--device", metavar="DEVICE", help="device for the scorer, e.g. cuda or cpu (passed likewise)")
    p.add_argument(
        "--scorer-contract",
        choices=("auto", "vmevalkit", "cmi"),
        default="auto",
        help="the --scorer-class-path class's contract: ours, CMI-RewardBench's (score_batch(inputs, batch_size, "
        "max_dur) returning [N, 2] alignment, musicality), or auto: CMI when score_batch takes batch_size or max_dur, "
        "or the class has `sr` and no `dimensions` (default: auto)",
    )
    p.add_argument(
        "--scorer-dimensions",
        nargs="+",
        metavar="NAME",
        help="a CMI-RewardBench scorer's column names (default: its `dimensions`, else alignment musicality)",
    )
    p.add_argument(
        "--max-dur",
        type=positive_float,
        metavar="SECONDS",
        help="max_dur passed to a CMI-RewardBench scorer's score_batch (default: 120, as CMI-RewardBench's)",
    )
    # CMI-RewardBench's flag names (inference_benchmark.py), so its commands run as they are. Hidden: each is the
    # same option as ours, and a separate spelling keeps argparse's messages naming ours alone.
    hide = argparse.SUPPRESS  # no help line, and no default: ours stands
    which.add_argument("--model_class_path", dest="scorer_class_path", help=hide, default=hide)
    p.add_argument(
        "--model_init_kwargs_json", dest="scorer_init_kwargs_json", type=json_object, help=hide, default=hide
    )
    p.add_argument(
        "--model_score_kwargs_json", dest="scorer_score_kwargs_json", type=json_object, help=hide, default=hide
    )
    p.add_argument("--batch_size", dest="batch_size", type=positive_int, help=hide, default=hide)
    p.add_argument("--max_dur", dest="max_dur", type=positive_float, help=hide, default=hide)
    p.add_argument("--list-scorers", action="store_true", help="list the catalog's scorers and exit")
    p.add_argument("--no-progress", action="store_true", help="plain log lines instead of a progress bar")
    add_engine_arguments(p, "builtin and local scorers")


def worker_count(text: str) -> int:
    """``--workers N``: a whole number of at least 1 (argparse makes a refusal a usage error, exit 2)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number of processes, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(
            f"must be at least 1, got {value}: pass --workers 1 to score in this process, "
            "or leave it out to use every core"
        )
    return value


def positive_float(text: str) -> float:
    """``--max-dur SECONDS``: a finite number above 0 (argparse makes a refusal a usage error, exit 2)."""
    import math

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a number of seconds above 0, got {text!r}")
    return value


def run(args: argparse.Namespace) -> int:
    return guarded(score, args)


def close(scorer: object) -> None:
    """A local scorer stops its workers (and frees its GPU memory); other scorers have nothing to close."""
    closer = getattr(scorer, "close", None)
    if callable(closer):
        closer()


def score(args: argparse.Namespace) -> int:
    if args.list_scorers:
        return list_scorers()
    if not args.scorer and not args.scorer_class_path:
        error("choose --scorer NAME (see --list-scorers) or --scorer-class-path MODULE:CLASS")
        return EXIT_USAGE

    from rich.console import Console

    from vmevalkit.runner.registry import ScorerCatalogError, UnknownScorerError
    from vmevalkit.scoring.base import ScorerContractError, load_scorer_class
    from vmevalkit.scoring.build import build_scorer
    from vmevalkit.scoring.local.wrapper import LocalScorerNotReady
    from vmevalkit.scoring.runner import (
        GenerationSelectionError,
        find_generations,
        load_catalog_scorer,
        plugin_scorer_name,
    )
    from vmevalkit.settings import get_settings

    console = Console()
    settings = engine_settings(args, get_settings())
    if settings is None:
        return EXIT_USAGE
    experiment_dir = experiment_folder(args, settings)
    if experiment_dir is None:
        return EXIT_USAGE
    try:
        generations = find_generations(experiment_dir, models=args.model, domains=args.domain, task_ids=args.task_id)
    except GenerationSelectionError as exc:
        error(str(exc))
        return EXIT_USAGE

    # Every scorer is loaded before any scoring starts: a wrong name, class path or keyword is a usage error
    # and nothing is written.
    options = {"checkpoint": args.checkpoint, "device": args.device}
    cmi_only = [f for f, v in (("--scorer-dimensions", args.scorer_dimensions), ("--max-dur", args.max_dur)) if v]
    if args.scorer and (cmi_only or args.scorer_contract != "auto"):
        error(f"{(cmi_only or ['--scorer-contract'])[0]} applies to --scorer-class-path plug-ins, not catalog scorers")
        return EXIT_USAGE
    try:
        if args.scorer_class_path:
            scorer = build_scorer(
                load_scorer_class(args.scorer_class_path),
                args.scorer_init_kwargs_json,
                **options,
                contract=args.scorer_contract,
                dimensions=args.scorer_dimensions,
                max_dur=args.max_dur,
            )
            loaded = [(plugin_scorer_name(scorer), scorer)]
        else:
            names = list(dict.fromkeys(args.scorer))
            loaded = [(n, load_catalog_scorer(n, args.scorer_init_kwargs_json, **options)) for n in names]
    except (UnknownScorerError, ScorerContractError, ScorerCatalogError, LocalScorerNotReady) as exc:
        error(str(exc))
        return EXIT_USAGE
    except Exception as exc:  # a plug-in's constructor refusing its options: its words, scrubbed, on one line
        error(f"the scorer could not be built: {type(exc).__name__}: {exc}")
        return EXIT_USAGE
    if not join_cluster(settings):
        return EXIT_USAGE
    try:
        return run_scorers(console, args, loaded, generations, experiment_dir, settings)
    finally:
        for _name, loaded_scorer in loaded:  # local scorers stop their workers
            close(loaded_scorer)


def run_scorers(
    console: Console,
    args: argparse.Namespace,
    loaded: list[tuple[str, object]],
    generations: Sequence[Generation],
    experiment_dir: Path,
    settings: Settings,
) -> int:
    from vmevalkit.scoring.pool import usable_cores
    from vmevalkit.scoring.runner import ScoringRunner

    runners = []
    for name, scorer in loaded:
        workers = args.workers or usable_cores()
        spec = pool_spec(args, name, scorer, cluster=settings.engine == "ray")
        pool: PoolFactory | None = None
        if settings.engine == "ray" and spec is not None:
            from vmevalkit.cluster.session import ClusterError

            try:
                workers, pool = ray_pool(name, spec, settings)
            except ClusterError as exc:
                error(str(exc))
                return EXIT_USAGE
        runners.append(
            ScoringRunner(
                scorer,
                name=name,
                batch_size=args.batch_size,
                score_kwargs=args.scorer_score_kwargs_json,
                init_kwargs=args.scorer_init_kwargs_json,
                checkpoint=args.checkpoint,
                workers=workers,
                spec=spec,
                pool=pool,
            )
        )

    console.print(
        f"scoring {len(generations)} generation(s) in {experiment_dir} with {', '.join(r.name for r in runners)}"
    )
    try:
        summaries, broken = score_with_progress(console, runners, generations, plain=args.no_progress)
    except KeyboardInterrupt:
        # Score files already written stay; the same command scores only what is left.
        error(f"interrupted: run the same command again to resume ({experiment_dir})")
        return EXIT_INTERRUPTED
    print_score_summary(console, runners, summaries)
    for message in broken:
        error(message)
    return EXIT_FAILED if broken or any(s.failed for s in summaries) else EXIT_OK


def ray_pool(name: str, spec: ScorerSpec, settings: Settings) -> tuple[int, PoolFactory]:
    """The actors a scorer gets on the cluster (a GPU each for a local scorer, else a CPU), and their pool."""
    from vmevalkit.cluster.session import actor_env, actor_shape
    from vmevalkit.runner.registry import get_scorer_entry
    from vmevalkit.scoring.ray_pool import RayScorerPool

    entry = get_scorer_entry(spec.catalog_name) if spec.catalog_name else None
    gpu = entry is not None and entry.kind == "local" and spec.device != "cpu"
    memory = entry.args.get("min_gpu_memory_gb") if entry is not None else None
    shape = actor_shape(f"scorer '{name}'", gpu=gpu, min_gpu_memory_gb=memory)
    size = min(shape.fits, settings.ray_actors or shape.fits)
    env = actor_env(settings)

    def make(spec: ScorerSpec, workers: int, score_kwargs: dict[str, object]) -> RayScorerPool:
        return RayScorerPool(spec, workers, score_kwargs, shape=shape, env=env, max_attempts=settings.ray_max_attempts)

    return size, make


def pool_spec(args: argparse.Namespace, name: str, scorer: object, cluster: bool = False) -> ScorerSpec | None:
    """How a child process builds this scorer again, for the scorers that fan out over cores: catalog scorers of
    kind "builtin" and class-path scorers that say ``cpu_bound = True``. None (score in this process) for the rest:
    an API judge already overlaps its requests, a local scorer has its own workers, an unknown plug-in may hold a
    GPU. On a cluster (``cluster``), local catalog scorers too: each actor starts the scorer's worker on its node."""
    from vmevalkit.runner.registry import get_scorer_entry
    from vmevalkit.scoring.pool import ScorerSpec

    options = {"init_kwargs": args.scorer_init_kwargs_json, "checkpoint": args.checkpoint, "device": args.device}
    if args.scorer_class_path:
        # A child builds the class again with the default contract: a class the CLI was told how to read (or that
        # the CMI adapter wraps, which has no `cpu_bound`) scores here.
        rebuildable = args.scorer_contract == "auto" and getattr(scorer, "cpu_bound", False)
        return ScorerSpec(class_path=args.scorer_class_path, **options) if rebuildable else None
    kinds = ("builtin", "local") if cluster else ("builtin",)
    return ScorerSpec(catalog_name=name, **options) if get_scorer_entry(name).kind in kinds else None


def list_scorers() -> int:
    from rich.console import Console
    from rich.table import Table

    from vmevalkit.runner.registry import ScorerCatalogError, all_scorers

    try:
        scorers = all_scorers()
    except ScorerCatalogError as exc:
        error(str(exc))
        return EXIT_USAGE
    table = Table(title=f"{len(scorers)} scorers")
    for col in ("name", "family", "kind"):
        table.add_column(col, no_wrap=True)
    table.add_column("description", overflow="fold")
    for name, entry in sorted(scorers.items()):
        table.add_row(name, str(entry.get("family", "")), str(entry.get("kind", "")), str(entry.get("description", "")))
    Console().print(table)
    return EXIT_OK


def score_with_progress(
    console: Console, runners: Sequence[ScoringRunner], generations: Sequence[Generation], plain: bool
) -> tuple[list[ScoringSummary], list[str]]:
    """Each scorer over every generation; returns the summaries and the contract errors of broken scorers."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from vmevalkit.scoring.base import ScorerContractError

    counts = {"scored": 0, "skipped": 0, "failed": 0}
    summaries: list[ScoringSummary] = []
    broken: list[str] = []

    def label() -> str:
        return f"scored {counts['scored']}  up to date {counts['skipped']}  failed {counts['failed']}"

    def run_all(on_event: Callable[[ScoreOutcome], None]) -> None:
        for runner in runners:
            runner.on_event = on_event
            try:
                summaries.append(runner.run(generations))
            except ScorerContractError as exc:
                # A broken scorer stops; the files its earlier batches wrote are valid and stay.
                broken.append(str(exc))
            finally:
                # A local scorer's workers go as soon as it is done: the next scorer gets the GPU memory.
                close(runner.scorer)

    if plain or not console.is_terminal:

        def on_line(outcome: ScoreOutcome) -> None:
            if outcome.status != "skipped":
                detail = f": {shown(outcome.error)}" if outcome.error else ""
                record = outcome.generation.record
                scorer = outcome.record.scorer if outcome.record is not None else "?"
                print(f"{outcome.status:7} {scorer} {record.model} {shown(record.task_id)}{detail}", flush=True)

        run_all(on_line)
        return summaries, broken

    with Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console
    ) as progress:
        bar = progress.add_task(label(), total=len(runners) * len(generations))

        def on_event(outcome: ScoreOutcome) -> None:
            counts[outcome.status] += 1
            progress.update(bar, advance=1, description=label())

        run_all(on_event)
    return summaries, broken


def print_score_summary(
    console: Console, runners: Sequence[ScoringRunner], summaries: Sequence[ScoringSummary]
) -> None:
    import math

    from vmevalkit.cli.common import print_columns, print_table

    def by_model(summary: ScoringSummary) -> dict[str, list[ScoreOutcome]]:
        groups: dict[str, list[ScoreOutcome]] = {}
        for outcome in summary.outcomes:
            groups.setdefault(outcome.generation.record.model, []).append(outcome)
        return groups

    # Counts first (one row per scorer x model), then each scorer's means in a table of its own: the
    # dimensions differ per scorer, and one wide table would not fit a terminal. Names are never cut.
    rows = []
    for summary in summaries:
        for model, outcomes in by_model(summary).items():
            counts = [str(sum(o.status == s for o in outcomes)) for s in ("scored", "skipped", "failed")]
            rows.append([summary.scorer, model, str(len(outcomes)), *counts])
    headers = ["scorer", "model", "videos", "scored", "up to date", "failed"]
    print_table(console, "summary", headers, rows, names=2)

    dimensions = {r.name: r.dimensions for r in runners}
    for summary in summaries:
        groups = by_model(summary)
        means: dict[str, dict[str, str]] = {dim: {} for dim in dimensions[summary.scorer]}
        for model, outcomes in groups.items():
            for dim in dimensions[summary.scorer]:
                found = [o.record.dimensions.get(dim) for o in outcomes if o.record is not None]
                values = [v for v in found if v is not None and math.isfinite(v)]
                means[dim][model] = f"{sum(values) / len(values):.4g}" if values else "-"  # NaN (not scored) left out
        print_columns(
            console, f"{summary.scorer}: means over the score files now on disk", "model", means, list(groups)
        )
        for generation, message in summary.failures[:10]:
            print(f"failed: {summary.scorer} {shown(generation.label)}: {shown(message)}", file=sys.stderr)
        if len(summary.failures) > 10:
            console.print(f"... and {len(summary.failures) - 10} more failures of {summary.scorer}")

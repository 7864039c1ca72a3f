"""``vmevalkit run SUITE_OR_NAME``: a benchmark suite from its datasets to a ranked result (``vmevalkit.suites``).

A suite is a TOML or JSON file, or the name of a benchmark ``vmevalkit benchmarks`` lists. The run generates,
scores and reports resumably, ranks the models on the suite's criteria and writes ``result.json``,
``metrics.json`` and ``leaderboard.csv`` under ``<output-dir>/<experiment>/suite/``; a second run does nothing.
Exit codes: 0 every generation completed and scored; 1 the result is written but something is missing (the lines
say what); 2 a bad suite or flag (one ``error:`` line naming the field and the fix); 130 interrupted (run the same
command again to resume).
"""

from __future__ import annotations

import argparse

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
)

HELP = "run a benchmark suite: generate, score, report and rank models, resumably"
DESCRIPTION = (
    "Run a benchmark suite (a TOML or JSON file, or a name from 'vmevalkit benchmarks'): prepare its datasets, "
    "generate and score every model, write the report and the ranked result. Resumable at every stage: the same "
    "command goes on where a killed run stopped, and does nothing when all is done."
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("suite", metavar="SUITE_OR_NAME", help="a suite file (.toml or .json) or a benchmark's name")
    p.add_argument("--dry-run", action="store_true", help="print the plan (counts, cost, what is done) and exit")
    p.add_argument(
        "--mlflow",
        action="store_true",
        help="log the run to MLflow: $MLFLOW_TRACKING_URI, else a SQLite store beside the outputs (mlflow.db)",
    )
    p.add_argument("--output-dir", metavar="DIR", help=OUTPUT_DIR_HELP)
    add_engine_arguments(p, "builtin and local models and scorers")


def run(args: argparse.Namespace) -> int:
    return guarded(run_suite, args)


def say(line: str) -> None:
    print(line, flush=True)  # flushed: a log follows the stages as they go, and a kill loses no line


def run_suite(args: argparse.Namespace) -> int:
    from pathlib import Path

    from vmevalkit.suites import registry
    from vmevalkit.suites.run import SuiteRunError, describe_plan, make_plan
    from vmevalkit.suites.run import run_suite as run_stages
    from vmevalkit.suites.schema import SuiteError, load_suite
    from vmevalkit.suites.tracking import TrackingError

    output_dir = Path(args.output_dir) if args.output_dir else None
    if not args.dry_run and not use_engine(args):
        return EXIT_USAGE
    try:
        loaded = load_suite(registry.resolve(args.suite))
        if args.dry_run:
            plan = make_plan(loaded, output_dir, offline=True)
            for line in describe_plan(plan):
                print(line)
            print("dry run: nothing was generated or scored")
            return EXIT_OK
        outcome = run_stages(
            loaded, output_dir=output_dir, mlflow=args.mlflow, say=lambda line: print(line, flush=True)
        )
    except (SuiteError, SuiteRunError) as exc:
        error(str(exc))
        return EXIT_USAGE
    except TrackingError as exc:  # the result is written; only its logging failed
        error(f"the result is written, but MLflow logging failed: {exc}")
        return EXIT_FAILED
    except KeyboardInterrupt:
        error(f"interrupted: run 'vmevalkit run {args.suite}' again to resume")
        return EXIT_INTERRUPTED
    if not outcome.did_work:
        print("nothing to do: every stage is done")
    return outcome.exit_code


def use_engine(args: argparse.Namespace) -> bool:
    """The engine for every child command (generate, score): they inherit it through the environment. With the ray
    engine the cluster is joined here first (or started: then every child joins this one instead of starting its
    own). False after an error line."""
    import os

    from vmevalkit.settings import env_name, get_settings

    settings = engine_settings(args, get_settings())
    if settings is None or not join_cluster(settings):
        return False
    if settings.engine == "ray":
        from vmevalkit.cluster.session import cluster_address
        from vmevalkit.settings import Settings

        os.environ[env_name(Settings, "engine")] = "ray"
        os.environ[env_name(Settings, "ray_address")] = cluster_address()
    return True

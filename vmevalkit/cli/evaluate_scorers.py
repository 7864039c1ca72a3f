"""``vmevalkit evaluate-scorers`` (and ``examples/evaluate_scorers.py``): how well each scorer agrees with people.

The statistics and the label format are ``vmevalkit.scoring.meta_eval``; this module reads the flags, reads the
labels and the score files of the experiment, writes the three output files and prints the summary. Exit status 0
when written, 2 on bad input (a bad label line, no usable label, an unknown scorer: nothing is written then).

``--import-labels SRC`` first converts upstream VMEvalKit's ``human-eval.json`` files into the ``--labels`` file
(``vmevalkit.scoring.meta_eval.upstream_labels``). It is a flag of this command, not a command of its own, because
upstream names no run: each file is matched to a run of the experiment being evaluated, so the conversion needs
the same ``--output-dir`` and ``--experiment``, and labels resolved against one experiment are used on that one.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from vmevalkit.cli.common import EXIT_OK, EXIT_USAGE, OUTPUT_DIR_HELP, experiment_folder

if TYPE_CHECKING:
    from vmevalkit.scoring.meta_eval.agreement import DimensionMap, Row
    from vmevalkit.scoring.meta_eval.labels import GenerationInfo, HumanJudgements

HELP = "how well each scorer agrees with human labels"
DESCRIPTION = (
    "How well each scorer agrees with human labels: rank correlations and pairwise accuracy, "
    "with bootstrap CIs, overall and per domain. Label format: docs/SCORING.md, 'Human labels'."
)
OUT_HELP = "where to write the results (default: <output-dir>/<experiment>/meta_eval)"
IMPORT_FORMATS = ("vmevalkit-human-eval",)  # vmevalkit.scoring.meta_eval.upstream_labels.FORMATS (not imported here)


def _dimension_map(text: str) -> DimensionMap:
    from vmevalkit.scoring.meta_eval.agreement import parse_map

    try:
        return parse_map(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _confidence(text: str) -> float:
    value = float(text)
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1 (e.g. 0.95), got {text}")
    return value


def _resamples(text: str) -> int:
    value = int(text)
    if value < 100:
        raise argparse.ArgumentTypeError(f"must be at least 100 for a meaningful interval, got {value}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--labels",
        required=True,
        nargs="+",
        metavar="FILE_OR_DIR",
        help="human labels, JSONL: files, or folders of *.jsonl files (one per annotator, as vmevalkit annotate "
        "writes them to <output-dir>/<experiment>/annotations/)",
    )
    parser.add_argument(
        "--import-labels",
        metavar="SRC",
        help="first convert the human evaluations under SRC into the --labels file (written whole, atomically), "
        "then evaluate with it; SRC holds <model>/<task_type>/<task_id>/human-eval.json (see --import-format)",
    )
    parser.add_argument(
        "--import-format",
        choices=IMPORT_FORMATS,
        default=IMPORT_FORMATS[0],
        help="what --import-labels reads: vmevalkit-human-eval, the public VMEvalKit's annotation tool "
        "(a 1-5 solution_correctness_score, pass at 4 or more) (default: %(default)s)",
    )
    parser.add_argument(
        "--scorer", "-s", required=True, nargs="+", metavar="NAME", help="scorers whose score files to evaluate"
    )
    parser.add_argument(
        "--map",
        nargs="+",
        action="extend",
        type=_dimension_map,
        default=[],
        metavar="HUMAN=[SCORER:]DIM",
        help="also compare a human dimension with another scorer dimension, e.g. task_success=end_state or "
        "task_success=frame-match:final_ssim (same-named dimensions are always compared)",
    )
    parser.add_argument("--experiment", metavar="NAME", help="experiment the labels are about (default: pilot)")
    parser.add_argument("--output-dir", metavar="DIR", help=OUTPUT_DIR_HELP)
    parser.add_argument("--out", metavar="DIR", help=OUT_HELP)
    # The defaults (None here) are BootstrapSettings' own: the statistics module, which needs numpy, is not
    # imported to build the parser.
    parser.add_argument("--confidence", type=_confidence, help="CI level (default: 0.95)")
    parser.add_argument("--resamples", type=_resamples, help="bootstrap resamples (default: 2000)")
    parser.add_argument("--seed", type=int, help="bootstrap seed (default: 0)")


def _error(message: str) -> None:
    from vmevalkit.utils.text import printable

    print(f"error: {printable(message, keep_newlines=True)}", file=sys.stderr)


def _file_sha256(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def _paired(human: HumanJudgements) -> set[str]:
    return {g for pairs in human.pairs.values() for p in pairs for g in (p.a, p.b)}


def run(args: argparse.Namespace) -> int:
    from vmevalkit import __version__
    from vmevalkit.runner.records import utc_now
    from vmevalkit.scoring.meta_eval.agreement import BootstrapSettings, evaluate, load_scores, plan_comparisons
    from vmevalkit.scoring.meta_eval.labels import (
        GENERATION_EXAMPLE,
        MAX_LISTED,
        MetaEvalError,
        aggregate_labels,
        label_files,
        read_label_files,
    )
    from vmevalkit.scoring.meta_eval.outputs import DEFAULT_OUT_SUBDIR, with_ceiling, write_outputs
    from vmevalkit.scoring.meta_eval.raters import ceiling, collect_units, inter_annotator
    from vmevalkit.scoring.runner import GenerationSelectionError
    from vmevalkit.settings import get_settings
    from vmevalkit.utils.text import printable

    settings = get_settings()
    experiment_dir = experiment_folder(args, settings)
    if experiment_dir is None:
        return EXIT_USAGE
    scorer_names = list(dict.fromkeys(args.scorer))
    imported: dict[str, object] | None = None
    if args.import_labels and (len(args.labels) != 1 or Path(args.labels[0]).is_dir()):
        _error("--import-labels writes one labels file: pass a single --labels FILE.jsonl with it")
        return EXIT_USAGE
    try:
        # Importing resolves each upstream file to a run of this experiment, so the experiment is read first;
        # otherwise a missing labels file is reported before a missing experiment.
        generations = completed_generations(experiment_dir) if args.import_labels else None
        if generations is not None:
            imported = import_labels(args, list(generations))
        paths = label_files(args.labels)
        labels = read_label_files(paths)
        if generations is None:
            generations = completed_generations(experiment_dir)
        human = aggregate_labels(labels, generations)
        for unknown in human.unknown[:MAX_LISTED]:
            print(
                f"warning: {printable(unknown.file)}:{unknown.line}: skipped: "
                f"{printable(unknown.generation)} is not a completed generation of {printable(experiment_dir)}",
                file=sys.stderr,
            )
        if len(human.unknown) > MAX_LISTED:
            print(f"warning: ... and {len(human.unknown) - MAX_LISTED} more unknown generation(s)", file=sys.stderr)
        if not human.used:
            raise MetaEvalError(
                f"no label names a completed generation of {experiment_dir}: label the run folders relative to "
                f"it (e.g. {GENERATION_EXAMPLE}), or pass the --output-dir and --experiment the labels are about"
            )
        labelled = sorted({g for dim in human.ratings.values() for g in dim} | _paired(human))
        scorers = load_scores(scorer_names, [generations[key] for key in labelled])
        comparisons = plan_comparisons(scorers, human.dimensions, args.map)
    except (MetaEvalError, GenerationSelectionError) as exc:
        _error(str(exc))
        return EXIT_USAGE

    defaults = BootstrapSettings()
    bootstrap = BootstrapSettings(
        defaults.confidence if args.confidence is None else args.confidence,
        defaults.resamples if args.resamples is None else args.resamples,
        defaults.seed if args.seed is None else args.seed,
    )
    summary, detail = evaluate(comparisons, human, scorers, generations, bootstrap)
    people = inter_annotator(collect_units(labels, generations), bootstrap)
    human_ceiling = ceiling(labels, generations, human.dimensions, bootstrap)
    config = {
        "experiment": experiment_dir.name,
        # names only, never a path of this machine
        "labels_files": [{"file": p.name, "sha256": _file_sha256(p)} for p in paths],
        "scorers": scorer_names,
        "maps": [str(m) for m in args.map],
        "comparisons": [
            {"scorer": c.scorer, "dimension": c.dimension, "human_dimension": c.human_dimension} for c in comparisons
        ],
        "confidence": bootstrap.confidence,
        "resamples": bootstrap.resamples,
        "seed": bootstrap.seed,
        "vmevalkit": __version__,
        "created_at": utc_now(),
    }
    if imported is not None:
        config["imported_labels"] = imported
    label_counts = {
        "labels": len(labels),
        "used": human.used,
        "replaced_by_a_later_line": human.replaced,
        "raters": human.raters,
        "rated_generations": {dim: len(r) for dim, r in human.ratings.items()},
        "pairs": {dim: len(p) for dim, p in human.pairs.items()},  # labelled and derived from ratings
        "unknown_generations": [{"line": u.line, "generation": u.generation} for u in human.unknown],
    }
    out_dir = Path(args.out) if args.out else experiment_dir / DEFAULT_OUT_SUBDIR
    written = write_outputs(out_dir, config, label_counts, summary, detail, people, human_ceiling)
    print_summary(with_ceiling(summary, human_ceiling), human, len(labels), bootstrap.confidence)
    print_people(people, bootstrap.confidence)
    for path in written:
        print(f"wrote {path}")
    return EXIT_OK


def completed_generations(experiment_dir: Path) -> dict[str, GenerationInfo]:
    """The experiment's completed generations by key (MODEL/DOMAIN_task/TASK_ID/RUN_ID)."""
    from vmevalkit.scoring.meta_eval.labels import GenerationInfo
    from vmevalkit.scoring.runner import find_generations

    generations: dict[str, GenerationInfo] = {}
    for g in find_generations(experiment_dir):
        key = g.run_dir.relative_to(experiment_dir).as_posix()
        generations[key] = GenerationInfo(key, g.record.model, g.record.domain, g.record.task_id, g.run_dir)
    return generations


def import_labels(args: argparse.Namespace, generations: list[str]) -> dict[str, object]:
    """Convert ``--import-labels SRC`` into the ``--labels`` file, print what was converted and skipped, and return
    that account for meta.json. A MetaEvalError when SRC is unusable or not one file converts."""
    from vmevalkit.scoring.meta_eval.labels import MAX_LISTED, MetaEvalError
    from vmevalkit.scoring.meta_eval.upstream_labels import convert_human_eval, write_labels
    from vmevalkit.utils.text import printable

    src = Path(args.import_labels)
    conversion = convert_human_eval(src, generations)
    for skipped in conversion.skipped[:MAX_LISTED]:
        print(f"warning: {printable(skipped.file)}: skipped: {printable(skipped.reason)}", file=sys.stderr)
    if len(conversion.skipped) > MAX_LISTED:
        print(f"warning: ... and {len(conversion.skipped) - MAX_LISTED} more skipped file(s)", file=sys.stderr)
    total = len(conversion.converted) + len(conversion.skipped)
    if not conversion.converted:
        raise MetaEvalError(
            f"none of the {total} file(s) under {src} converted (reasons above); nothing written to {args.labels[0]}"
        )
    out = write_labels(conversion, args.labels[0])
    print(
        f"imported {len(conversion.converted)} of {total} {args.import_format} file(s) from {printable(src)}: "
        f"{len(conversion.lines)} label(s) written to {printable(out)}"
    )
    return {
        "format": args.import_format,
        "source": src.resolve().name,  # a folder name, never a path of this machine
        "converted": len(conversion.converted),
        "skipped": [{"file": s.file, "reason": s.reason} for s in conversion.skipped],
    }


def print_summary(summary: Sequence[Row], human: HumanJudgements, lines: int, confidence: float) -> None:
    from rich.console import Console
    from rich.table import Table

    from vmevalkit.utils.text import printable

    def number(value: float, low: float, high: float) -> str:
        if math.isnan(value):
            return "-"
        interval = "" if math.isnan(low) else f" [{low:.2f}, {high:.2f}]"
        return f"{value:.3f}{interval}"

    console = Console(markup=False)  # names and intervals like "[0.19, 1.00]" are text, never markup
    console.print(
        f"{lines} label(s) from {len(human.raters)} rater(s); {human.used} used, {len(human.unknown)} unknown "
        f"generation(s) skipped, {human.replaced} replaced by a later line of the same rater"
    )
    table = Table(title=f"agreement with people ({confidence:.0%} bootstrap CIs)")
    for column in ("scorer", "dimension", "human", "n", "spearman", "kendall tau-b", "pairs", "acc", "acc ties 1/2"):
        table.add_column(column, overflow="fold")
    ceiling_shown: set[str] = set()
    for index, row in enumerate(summary):
        table.add_row(
            printable(row["scorer"]),
            printable(row["dimension"]),
            printable(row["human_dimension"]),  # from the labels file: no control sequence reaches the terminal
            str(row["n"]),
            number(row["spearman"], row["spearman_ci_low"], row["spearman_ci_high"]),
            number(row["kendall_tau_b"], row["kendall_tau_b_ci_low"], row["kendall_tau_b_ci_high"]),
            f"{row['n_pairs']} ({row['n_pairs_human_tie']} tie)",
            number(row["pairwise_accuracy"], row["pairwise_accuracy_ci_low"], row["pairwise_accuracy_ci_high"]),
            number(
                row["pairwise_accuracy_ties_half"],
                row["pairwise_accuracy_ties_half_ci_low"],
                row["pairwise_accuracy_ties_half_ci_high"],
            ),
        )
        # The human ceiling of this dimension once, after its last scorer row: how well people agree with each other
        # in the same statistics (vmevalkit.scoring.meta_eval.raters.ceiling).
        dimension = row["human_dimension"]
        later = [r["human_dimension"] for r in summary[index + 1 :]]
        has_ceiling = not all(math.isnan(row[f"ceiling_{c}"]) for c in ("spearman", "pairwise_accuracy_ties_half"))
        if has_ceiling and dimension not in later and dimension not in ceiling_shown:
            ceiling_shown.add(dimension)
            table.add_row(
                "people (ceiling)",
                "",
                printable(dimension),
                "",
                number(row["ceiling_spearman"], math.nan, math.nan),
                number(row["ceiling_kendall_tau_b"], math.nan, math.nan),
                "",
                number(row["ceiling_pairwise_accuracy"], math.nan, math.nan),
                number(row["ceiling_pairwise_accuracy_ties_half"], math.nan, math.nan),
                end_section=True,
            )
    console.print(table)


def print_people(people: Sequence[Row], confidence: float) -> None:
    """How well the raters agree with each other, beyond chance (kappa for two, alpha for more)."""
    from rich.console import Console
    from rich.table import Table

    from vmevalkit.utils.text import printable

    console = Console(markup=False)
    if not people:
        console.print("agreement between people: one rater per dimension, nothing to compare")
        return
    table = Table(title=f"agreement between people ({confidence:.0%} bootstrap CIs)")
    for column in ("human", "kind", "raters", "items", "statistic", "value", "raw agreement"):
        table.add_column(column, overflow="fold")
    for row in people:
        value = "-" if math.isnan(row["value"]) else f"{row['value']:.3f}"
        if not math.isnan(row["ci_low"]):
            value += f" [{row['ci_low']:.2f}, {row['ci_high']:.2f}]"
        table.add_row(
            printable(row["human_dimension"]),
            row["kind"],
            str(row["raters"]),
            str(row["items"]),
            f"{row['statistic']} ({row['level']})",
            value,
            "-" if math.isnan(row["observed_agreement"]) else f"{row['observed_agreement']:.0%}",
        )
    console.print(table)

"""Reports of an experiment: leaderboard tables, breakdowns by group, plots, and one self-contained HTML page.

``python examples/report.py --experiment pilot`` reads every generation of ``<output-dir>/<experiment>/``
(its ``metadata.json``, whatever its status) and every score file next to it (``scores/<scorer>.json``), and
writes into ``<output-dir>/<experiment>/report/`` (or ``--out``):

- ``metrics_summary.csv``: one row per scorer x dimension x model;
- ``metrics_detail.csv``: the same rows per group: by domain, and by any field of a generation's
  ``metadata.json`` or of its task's ``question_metadata.json`` (``group_by`` in the config, see ``ReportConfig``);
- ``metrics.json``: the config, the scorers seen, the generations per model and status, and both tables;
- ``heatmap_<scorer>.png`` (model x domain) and ``bars_<scorer>.png`` (mean and confidence interval per model),
  of each scorer's headline dimension: its pass dimension (``task_success`` for ``task-verifier``), else its
  first dimension;
- ``report.html``: one file with everything in it (images and videos as ``data:`` URIs, no script, no font or
  any other external reference), so that a browser opens it offline and it can be sent as it is.

Failed generations count against their model; ``tables`` says exactly how. The modules, each using only those
before it:

- ``data``: the config (``ReportConfig``, ``load_config``), the generations and their score files
  (``collect_generations``), and what the score files say about each scorer (``describe_scorers``);
- ``tables``: the rule of counting, the summary and detail rows (``compute_metrics``), the CSVs and metrics.json;
- ``plots``: the heatmap and the bar chart;
- ``html``: report.html;
- this module: ``write_report``, which writes them all, and ``main``, the command line.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from vmevalkit.runner.registry import SAFE_NAME
from vmevalkit.scoring.report.data import (
    ReportConfig,
    ReportError,
    ReportGeneration,
    ScorerInfo,
    collect_generations,
    load_config,
)
from vmevalkit.scoring.report.html import HEADER_COLOUR, REPORT_HTML, render_html
from vmevalkit.scoring.report.plots import (
    EMPTY,
    bar_chart_size,
    heatmap_cell_box,
    heatmap_size,
    plot_scorer,
    png_bytes,
)
from vmevalkit.scoring.report.tables import Metrics, aggregate, compute_metrics, write_tables
from vmevalkit.utils.atomic import atomic_write_bytes, atomic_write_text
from vmevalkit.utils.text import printable

__all__ = [
    "EMPTY",
    "HEADER_COLOUR",
    "Metrics",
    "ReportConfig",
    "ReportError",
    "ReportGeneration",
    "ReportResult",
    "ScorerInfo",
    "aggregate",
    "bar_chart_size",
    "collect_generations",
    "compute_metrics",
    "heatmap_cell_box",
    "heatmap_size",
    "load_config",
    "main",
    "write_report",
]

REPORT_DIR = "report"
# An HTML file above this many bytes gets a warning that names --max-videos-per-model.
LARGE_HTML_BYTES = 200 * 1024 * 1024


@dataclass
class ReportResult:
    out_dir: Path
    files: list[Path]
    metrics: Metrics
    videos_embedded: int
    html_bytes: int
    warnings: list[str]


def write_report(experiment_dir: Path, out_dir: Path | None = None, config: ReportConfig | None = None) -> ReportResult:
    """Read the experiment and write every report file into ``out_dir`` (default ``<experiment_dir>/report``)."""
    config = config or ReportConfig()
    out_dir = out_dir or experiment_dir / REPORT_DIR
    generations = collect_generations(experiment_dir)
    metrics = compute_metrics(generations, config)
    generations = [g for g in generations if g.model in metrics.models]
    files = write_tables(out_dir, experiment_dir.name, generations, metrics, config)

    def write(name: str, data: str | bytes) -> None:
        path = out_dir / name
        if isinstance(data, str):
            atomic_write_text(path, data)
        else:
            atomic_write_bytes(path, data)
        files.append(path)

    plots: dict[str, bytes] = {}
    for scorer in metrics.scorers:
        for name, image in plot_scorer(generations, metrics, scorer, config).items():
            plots[name] = png_bytes(image)
            write(name, plots[name])

    page, videos = render_html(experiment_dir.name, generations, metrics, plots, config)
    write(REPORT_HTML, page)
    html_bytes = len(page.encode("utf-8"))
    warnings = list(metrics.warnings)
    if html_bytes > LARGE_HTML_BYTES:
        warnings.append(
            f"{REPORT_HTML} is {html_bytes / 2**20:.0f} MiB: pass --max-videos-per-model N to embed fewer videos"
        )
    return ReportResult(out_dir, files, metrics, videos, html_bytes, warnings)


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="report.py",
        description="Leaderboard tables, plots and a self-contained report.html of a scored experiment.",
    )
    parser.add_argument(
        "--experiment", metavar="NAME", help="experiment to report on: <output-dir>/<experiment>/ (default: pilot)"
    )
    parser.add_argument(
        "--output-dir", metavar="DIR", help="experiments root (default: data/outputs, or $VMEVALKIT_OUTPUT_DIR)"
    )
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
        type=_non_negative_int,
        metavar="N",
        help="embed at most N videos per model in report.html (default: all; 0: none)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """``examples/report.py``. Exit status 0 when written, 2 on bad input (nothing is written then)."""
    from vmevalkit.settings import get_settings

    args = build_parser().parse_args(argv)
    settings = get_settings()
    experiment = args.experiment or settings.experiment
    if not SAFE_NAME.fullmatch(experiment):
        print(f"error: experiment name {printable(repr(experiment))} must be a plain folder name", file=sys.stderr)
        return 2
    experiment_dir = Path(args.output_dir or settings.output_dir).absolute() / experiment
    try:
        config = load_config(args.config) if args.config else ReportConfig()
        if args.max_videos_per_model is not None:
            config = config.model_copy(update={"max_videos_per_model": args.max_videos_per_model})
        result = write_report(experiment_dir, Path(args.out).absolute() if args.out else None, config)
    except ReportError as exc:
        print(f"error: {printable(exc, keep_newlines=True)}", file=sys.stderr)
        return 2
    for warning in result.warnings:  # names and reasons read from the experiment: no control sequence is sent
        print(f"warning: {printable(warning)}", file=sys.stderr)
    metrics = result.metrics
    print(
        f"report of {printable(experiment_dir.name)}: {len(metrics.models)} models, "
        f"scorers {printable(', '.join(s.name for s in metrics.scorers))}; {result.videos_embedded} videos embedded, "
        f"{REPORT_HTML} {result.html_bytes / 2**20:.1f} MiB"
    )
    for path in result.files:
        print(f"wrote {printable(path)}")
    return 0

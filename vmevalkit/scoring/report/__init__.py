"""Reports of an experiment: leaderboard tables, breakdowns by group, plots, and one HTML page.

``python examples/report.py --experiment pilot`` reads every generation of ``<output-dir>/<experiment>/``
(its ``metadata.json``, whatever its status) and every score file next to it (``scores/<scorer>.json``), and
writes into ``<output-dir>/<experiment>/report/`` (or ``--out``):

- ``metrics_summary.csv``: one row per scorer x dimension x model;
- ``metrics_detail.csv``: the same rows per group: by domain and by category (the ability a domain tests), and by
  any field of a generation's
  ``metadata.json`` or of its task's ``question_metadata.json`` (``group_by`` in the config, see ``ReportConfig``);
- ``metrics.json``: the config, the scorers seen, the generations per model and status, and both tables;
- ``heatmap_<scorer>.png`` (model x domain) and ``bars_<scorer>.png`` (mean and confidence interval per model),
  of each scorer's headline dimension: its pass dimension (``task_success`` for ``task-verifier``), else its
  first dimension;
- ``report.html``: one page, with a table of contents, filters and collapsible task sections; its videos and
  frames are linked by relative path (``--embed-videos``: put in the page, to send it as one file), see ``html``.

Failed generations count against their model; ``tables`` says exactly how. The modules, each using only those
before it:

- ``data``: the config (``ReportConfig``, ``load_config``), the generations and their score files
  (``collect_generations``), and what the score files say about each scorer (``describe_scorers``);
- ``tables``: the rule of counting, the summary and detail rows (``compute_metrics``), the CSVs and metrics.json;
- ``plots``: the heatmap and the bar chart;
- ``html``: report.html;
- this module: ``write_report``, which writes them all.

The command line (``vmevalkit report``, ``examples/report.py``) is ``vmevalkit.cli.report``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

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
    videos_linked: int = 0  # shown by relative path from out_dir (the default; videos_embedded with embed_videos)


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

    page, videos = render_html(experiment_dir.name, generations, metrics, plots, config, out_dir)
    write(REPORT_HTML, page)
    html_bytes = len(page.encode("utf-8"))
    warnings = list(metrics.warnings)
    if html_bytes > LARGE_HTML_BYTES:
        fix = (
            "leave out --embed-videos to link the videos instead"
            if config.embed_videos
            else "pass --max-videos-per-model N to show fewer videos"
        )
        warnings.append(f"{REPORT_HTML} is {html_bytes / 2**20:.0f} MiB: {fix}")
    embedded, linked = (videos, 0) if config.embed_videos else (0, videos)
    return ReportResult(out_dir, files, metrics, embedded, html_bytes, warnings, linked)

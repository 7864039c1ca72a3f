"""``report.html``: one self-contained page with the leaderboard, the plots, the breakdown by group and, per task,
the prompt, the input and expected frames and every model's video. Images and videos are embedded as ``data:``
URIs, and there is no script, no font or any other external reference: a browser opens it offline, and it can be
sent as it is. Text from the data (prompts, errors, names) is escaped. A video is embedded only from inside its run
folder, and only when it can be used (``ReportGeneration.video_problem``); the flags (unfinished generations,
unusable videos, scores outside their declared range) have their own section."""

from __future__ import annotations

import base64
import math
from collections.abc import Sequence
from html import escape
from pathlib import Path

from PIL import Image

from vmevalkit.runner.records import utc_now
from vmevalkit.scoring.report.data import ReportConfig, ReportGeneration, ScorerInfo
from vmevalkit.scoring.report.plots import png_bytes
from vmevalkit.scoring.report.tables import Metrics, Row, find_flags, generation_counts, natural_key
from vmevalkit.tasks.loader import FINAL_FRAME, FIRST_FRAME

REPORT_HTML = "report.html"

THUMB = 320  # pixels: the input and expected frames are shrunk to this in the page, and videos shown this wide
HEADER_COLOUR = "#1d4e89"  # the tables' header rows (a screenshot check looks for it)

CSS = f"""
body {{ font-family: system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; margin: 24px;
  color: #1e1e1e; background: #ffffff; line-height: 1.4; }}
h1 {{ margin: 0 0 4px; font-size: 26px; }}
h2 {{ margin: 32px 0 8px; padding-bottom: 4px; border-bottom: 2px solid {HEADER_COLOUR}; font-size: 21px; }}
h3 {{ margin: 20px 0 6px; font-size: 17px; }}
.meta, .note {{ color: #555555; font-size: 14px; }}
table {{ border-collapse: collapse; margin: 6px 0 10px; font-size: 14px; }}
th {{ background: {HEADER_COLOUR}; color: #ffffff; padding: 7px 12px; text-align: left; }}
td {{ padding: 6px 12px; border-bottom: 1px solid #dde1e6; text-align: right; white-space: nowrap; }}
td.name {{ text-align: left; font-weight: 600; }}
tbody tr:nth-child(even) {{ background: #f3f6fa; }}
small {{ color: #666666; }}
.plots img {{ margin: 0 16px 16px 0; border: 1px solid #dde1e6; max-width: 100%; }}
.task {{ margin: 18px 0 28px; }}
.prompt {{ background: #f6f6f6; border-left: 4px solid {HEADER_COLOUR}; padding: 8px 12px; white-space: pre-wrap;
  font-size: 14px; max-width: 1100px; }}
.strip {{ display: flex; flex-wrap: wrap; gap: 14px; align-items: flex-start; }}
figure {{ margin: 0; width: {THUMB}px; font-size: 13px; }}
figure img, figure video {{ width: {THUMB}px; display: block; background: #000000; }}
figcaption {{ margin-top: 4px; overflow-wrap: anywhere; }}
.placeholder {{ width: {THUMB}px; height: {THUMB // 2}px; display: flex; align-items: center; justify-content: center;
  background: #eeeeee; color: #555555; text-align: center; padding: 8px; box-sizing: border-box; }}
.failed {{ background: #fbe9e9; color: #8a1f1f; }}
.flags li {{ margin: 4px 0; overflow-wrap: anywhere; }}
.flag {{ color: #8a1f1f; font-weight: 600; }}
.baseline-warning {{ background: #fff4e5; border-left: 4px solid #c26a00; padding: 6px 10px; max-width: 1100px;
  font-size: 14px; }}
"""


def _e(value: object) -> str:
    """Text from the data (prompts, errors, names), escaped: a prompt may well hold markup."""
    return escape(str(value), quote=True)


def data_uri(mime: str, data: bytes) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def _format(value: float | None) -> str:
    """A number for the HTML page (a dash for none)."""
    return "–" if value is None or not math.isfinite(value) else f"{value:.3g}"


def _thumbnail_uri(path: Path) -> str | None:
    try:
        with Image.open(path) as image:
            small = image.convert("RGB")
    except (OSError, ValueError):
        return None
    small.thumbnail((THUMB, THUMB))
    return data_uri("image/png", png_bytes(small))


def _mean_cell(row: Row | None) -> str:
    if row is None or row["mean"] is None:
        return "<td>–</td>"
    interval = ""
    if row["ci_low"] is not None and row["ci_high"] is not None:
        interval = f" <small>[{_format(row['ci_low'])}, {_format(row['ci_high'])}]</small>"
    return f"<td>{_format(row['mean'])}{interval}</td>"


def _leaderboard(metrics: Metrics, confidence: float) -> list[str]:
    parts = ['<section id="leaderboard"><h2>Leaderboard</h2>']
    for scorer in metrics.scorers:
        versions = ", ".join(scorer.versions)
        parts.append(f"<h3>{_e(scorer.name)} <small>(version {_e(versions)})</small></h3>")
        head = "".join(f"<th>{_e(d)}{' (pass)' if d == scorer.pass_dimension else ''}</th>" for d in scorer.dimensions)
        rate = "<th>success rate</th>" if scorer.pass_dimension else ""
        parts.append(
            '<table class="leaderboard"><thead><tr><th>#</th><th>model</th>'
            f"{head}{rate}<th>scored</th><th>failed</th><th>generations</th></tr></thead><tbody>"
        )
        for rank, model in enumerate(metrics.ranked_models(scorer), start=1):
            headline = metrics.headline(scorer, model)
            cells = "".join(_mean_cell(metrics.row(scorer.name, d, model)) for d in scorer.dimensions)
            if scorer.pass_dimension:
                success = headline["success_rate"] if headline else None
                cells += f"<td>{'–' if success is None else f'{success:.1%}'}</td>"
            for count in ("n_scored", "n_failed", "n_generations"):
                cells += f"<td>{headline[count] if headline else 0}</td>"
            parts.append(f'<tr><td>{rank}</td><td class="name">{_e(model)}</td>{cells}</tr>')
        zero = [d for d in scorer.dimensions if d in scorer.unit_dimensions]
        note = (
            f"Mean [{confidence:.0%} bootstrap interval] per dimension, over every generation of the model. "
            "Failed generations (not completed or never finished, a video that cannot be used, not scored, scored "
            "with an error, or a score outside the scorer's declared range) count as 0 on "
            f"{', '.join(_e(d) for d in zero) or 'no dimension'}"
        )
        others = [d for d in scorer.dimensions if d not in scorer.unit_dimensions]
        if others:
            note += f" and are left out of {', '.join(_e(d) for d in others)} (not a [0, 1] score)"
        parts.append(
            f'</tbody></table><p class="note">{note}. Counts in the last columns are of {_e(scorer.headline)}.</p>'
        )
        check = metrics.baseline_checks.get(scorer.name)
        if check is not None and check["warning"]:
            parts.append(f'<p class="baseline-warning"><span class="flag">warning</span> {_e(check["warning"])}.</p>')
    parts.append("</section>")
    return parts


def _breakdown(metrics: Metrics) -> list[str]:
    parts = ['<section id="breakdown"><h2>By group</h2>']
    for grouping in metrics.groupings:
        label = "+".join(grouping)
        rows = [r for r in metrics.detail if r["grouping"] == label]
        groups = sorted(
            {tuple(r[f] for f in grouping) for r in rows}, key=lambda group: [natural_key(v) for v in group]
        )
        for scorer in metrics.scorers:
            cells = {
                (r["model"], tuple(r[f] for f in grouping)): r
                for r in rows
                if r["scorer"] == scorer.name and r["dimension"] == scorer.headline
            }
            head = "".join(f"<th>{_e(' / '.join(group))}</th>" for group in groups)
            parts.append(
                f"<h3>{_e(scorer.name)}: {_e(scorer.headline)} by {_e(' and '.join(grouping))}</h3>"
                f"<table><thead><tr><th>model</th>{head}</tr></thead><tbody>"
            )
            for model in metrics.ranked_models(scorer):
                row_cells = "".join(_mean_cell(cells.get((model, group))) for group in groups)
                parts.append(f'<tr><td class="name">{_e(model)}</td>{row_cells}</tr>')
            parts.append("</tbody></table>")
    parts.append("</section>")
    return parts


def _score_lines(generation: ReportGeneration, scorers: Sequence[ScorerInfo]) -> str:
    lines = []
    for scorer in scorers:
        record = generation.scores.get(scorer.name)
        if generation.status != "completed":
            continue
        if record is None:
            text = "no score" if scorer.name not in generation.scores else "unreadable score file"
        elif record.error is not None:
            text = f"error: {record.error[:300]}"
        else:
            text = " · ".join(_score_text(scorer, d, record.dimensions.get(d)) for d in scorer.dimensions)
            reason = record.details.get("reason")
            if isinstance(reason, str) and reason:
                text += f" ({reason[:300]})"
        lines.append(f"<br><small>{_e(scorer.name)}: {_e(text)}</small>")
    return "".join(lines)


def _score_text(scorer: ScorerInfo, dimension: str, value: float | None) -> str:
    if value is not None and math.isfinite(value) and not scorer.in_range(dimension, value):
        low, high = scorer.ranges[dimension]
        return f"{dimension} {_format(value)} (outside the declared range [{_format(low)}, {_format(high)}]: a failure)"
    return f"{dimension} {_format(value)}"


def _video_cell(generation: ReportGeneration, room: bool) -> tuple[str, bool]:
    """The video of one generation, embedded when there is ``room``, else why not; and whether it was."""
    video = generation.video_path
    if generation.status != "completed":
        return (
            f'<div class="placeholder failed">generation {_e(generation.status)}: {_e(generation.error[:300])}</div>',
            False,
        )
    if generation.video_problem is not None:  # outside the run folder, missing or undecodable: never embedded
        return f'<div class="placeholder failed">video not shown: {_e(generation.video_problem[:300])}</div>', False
    if video is None or not video.is_file():
        return '<div class="placeholder failed">the video file is missing</div>', False
    if not room:
        where = "/".join(video.parts[-6:])  # <model>/<domain>_task/<task_id>/<run_id>/video/<file>
        return f'<div class="placeholder">not embedded (--max-videos-per-model): {_e(where)}</div>', False
    try:
        data = video.read_bytes()
    except OSError as exc:  # one unreadable file costs its own cell, not the report
        return f'<div class="placeholder failed">cannot read the video: {_e(exc)}</div>', False
    return f'<video controls muted loop preload="metadata" src="{data_uri("video/mp4", data)}"></video>', True


def _tasks(
    generations: Sequence[ReportGeneration], metrics: Metrics, max_videos_per_model: int | None
) -> tuple[list[str], int]:
    """Per task: the prompt, the input frame, the expected final frame and each model's video, side by side."""
    order = {m: i for i, m in enumerate(metrics.ranked_models(metrics.scorers[0] if metrics.scorers else None))}
    tasks: dict[tuple[str, str], list[ReportGeneration]] = {}
    for g in generations:
        tasks.setdefault((g.domain, g.task_id), []).append(g)
    embedded: dict[str, int] = {}
    parts = ['<section id="tasks"><h2>Tasks</h2>']
    if max_videos_per_model is not None:
        parts.append(f'<p class="note">At most {max_videos_per_model} video(s) per model are embedded.</p>')
    for (domain, task_id), members in sorted(tasks.items()):
        members = sorted(members, key=lambda g: (order.get(g.model, len(order)), g.run_id))
        runs_per_model = {m: sum(g.model == m for g in members) for m in {g.model for g in members}}
        prompt = next((g.prompt for g in members if g.prompt), "")
        parts.append(
            f'<article class="task"><h3>{_e(task_id)} <small>{_e(domain)}</small></h3>'
            f'<p class="prompt">{_e(prompt)}</p><div class="strip">'
        )
        for title, name in (("input frame", FIRST_FRAME), ("expected final frame", FINAL_FRAME)):
            uri = next((u for g in members if (u := _thumbnail_uri(g.run_dir / "question" / name)) is not None), None)
            picture = (
                f'<img alt="{_e(title)}" src="{uri}">' if uri else f'<div class="placeholder">no {_e(title)}</div>'
            )
            parts.append(f"<figure>{picture}<figcaption><b>{_e(title)}</b></figcaption></figure>")
        for g in members:
            name = g.model if runs_per_model[g.model] == 1 else f"{g.model} ({g.run_id})"
            room = max_videos_per_model is None or embedded.get(g.model, 0) < max_videos_per_model
            body, was_embedded = _video_cell(g, room)
            embedded[g.model] = embedded.get(g.model, 0) + was_embedded
            caption = f"<b>{_e(name)}</b>{_score_lines(g, metrics.scorers)}"
            parts.append(f"<figure>{body}<figcaption>{caption}</figcaption></figure>")
        parts.append("</div></article>")
    parts.append("</section>")
    return parts, sum(embedded.values())


def _flags(generations: Sequence[ReportGeneration], metrics: Metrics) -> list[str]:
    flags = find_flags(generations, metrics.scorers)
    counts = (
        f"{len(flags['unfinished'])} unfinished generation(s) (status 'running'), "
        f"{len(flags['unreadable_videos'])} unreadable video(s) (missing, undecodable or outside the run folder), "
        f"{len(flags['out_of_range'])} score(s) outside their declared range; each counts as a failure."
    )
    parts = ['<section id="flags" class="flags"><h2>Flags</h2>', f'<p class="note">{_e(counts)}</p>']
    if metrics.warnings:
        parts.append("<ul>")
        parts.extend(f'<li><span class="flag">warning</span> {_e(warning)}</li>' for warning in metrics.warnings)
        parts.append("</ul>")
    else:
        parts.append('<p class="note">Nothing flagged.</p>')
    parts.append("</section>")
    return parts


def render_html(
    experiment: str,
    generations: Sequence[ReportGeneration],
    metrics: Metrics,
    plots: dict[str, bytes],
    config: ReportConfig,
) -> tuple[str, int]:
    """The page, and how many videos it embeds."""
    counts = generation_counts(generations, metrics.models)
    not_done = sum(c["failed"] + c["unfinished"] for c in counts.values())
    unfinished = sum(c["unfinished"] for c in counts.values())
    unusable = sum(g.video_problem is not None for g in generations)
    n_tasks = len({(g.domain, g.task_id) for g in generations})
    n_domains = len({g.domain for g in generations})
    task_parts, videos = _tasks(generations, metrics, config.max_videos_per_model)
    parts = [
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>VMEvalKit report: {_e(experiment)}</title><style>{CSS}</style></head><body>",
        f"<h1>VMEvalKit report: {_e(experiment)}</h1>",
        f'<p class="meta">{len(generations)} generations of {len(metrics.models)} models on {n_tasks} tasks in '
        f"{n_domains} domains; {not_done} did not complete ({unfinished} never finished: status running), "
        f"{unusable} completed with a video that cannot be used. Written {_e(utc_now())}.</p>",
        *_leaderboard(metrics, config.confidence),
        *_flags(generations, metrics),
        '<section id="plots" class="plots"><h2>Plots</h2>',
        *(f'<img alt="{_e(name)}" src="{data_uri("image/png", data)}">' for name, data in plots.items()),
        "</section>",
        *_breakdown(metrics),
        *task_parts,
        "</body></html>\n",
    ]
    return "\n".join(parts), videos

"""``report.html``: one page with the leaderboard, the plots, the breakdown by group and, per task, the prompt,
the input and expected frames and every model's video.

By default the videos and frames are linked by their path relative to the report's folder, and load only when
looked at: the page stays a few MB at 10,000 generations and opens from disk next to the experiment. A linked
video is not even a ``<video>`` element in the page (10,000 of them take Chromium seconds to create, loaded or
not: bench/bench_report.py): it is a link that opens the file, which the page's script turns into a video when
it comes near the screen; frames are ``<img loading="lazy">``. ``embed_videos`` (``--embed-videos``) puts videos
and frames in the page as ``data:`` URIs instead: one file to send, for small experiments. The plots are always
embedded. There is no external reference and no font. The one small inline script adds the filters (domain,
model, verdict), makes the linked videos, and shows a video's controls only while the pointer is on it or it has
focus, so that nothing covers its first frame. Without the script the page still shows everything, and each
linked video is a link that opens it. Task sections are grouped per domain in collapsible ``<details>``, closed
on big experiments, and the browser skips laying out tasks off screen (``content-visibility``).

Text from the data (prompts, errors, names) is escaped. A video is shown only from inside its run folder, and only
when it can be used (``ReportGeneration.video_problem``); the flags (unfinished generations, unusable videos,
scores outside their declared range) have their own section."""

from __future__ import annotations

import base64
import math
import os
from collections.abc import Sequence
from html import escape
from pathlib import Path
from urllib.parse import quote

from PIL import Image

from vmevalkit.runner.records import utc_now
from vmevalkit.scoring.report.data import ReportConfig, ReportGeneration, ScorerInfo
from vmevalkit.scoring.report.plots import png_bytes
from vmevalkit.scoring.report.tables import (
    PASS_AT,
    Metrics,
    Row,
    classify,
    find_flags,
    generation_counts,
    natural_key,
)
from vmevalkit.tasks.loader import FINAL_FRAME, FIRST_FRAME

REPORT_HTML = "report.html"

THUMB = 320  # pixels: the input and expected frames are shrunk to this in the page, and videos shown this wide
HEADER_COLOUR = "#1d4e89"  # the tables' header rows (a screenshot check looks for it)
# Above this many tasks the per-domain task sections start closed: the page paints its tables at once.
OPEN_TASKS_UP_TO = 60

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
figure video {{ height: auto; }}
a.clip {{ display: flex; width: {THUMB}px; aspect-ratio: 1; align-items: center; justify-content: center;
  background: #eeeeee; color: #1d4e89; font-size: 13px; }}
.open {{ font-size: 12px; }}
[hidden] {{ display: none !important; }}
nav.toc {{ font-size: 14px; columns: 2; max-width: 900px; }}
nav.toc ul {{ margin: 4px 0; }}
details.domain > summary {{ cursor: pointer; font-size: 19px; font-weight: 600; margin: 14px 0 4px; }}
.task {{ content-visibility: auto; contain-intrinsic-size: auto 560px; }}
#filters {{ margin: 8px 0; font-size: 14px; }}
#filters label {{ margin-right: 14px; }}
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
        parts.append(
            f'<h3 id="{_e(_scorer_id(scorer.name))}">{_e(scorer.name)} <small>(version {_e(versions)})</small></h3>'
        )
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


def _link(path: Path, out_dir: Path) -> str:
    """``path`` as a URL relative to the report's folder (the page then opens from disk next to the experiment)."""
    try:
        relative = os.path.relpath(path, out_dir)
    except ValueError:  # another drive (Windows): no relative path, an absolute file URL
        return path.absolute().as_uri()
    return quote(relative.replace(os.sep, "/"))


def _video_cell(generation: ReportGeneration, room: bool, out_dir: Path | None) -> tuple[str, bool]:
    """The video of one generation when there is ``room`` (embedded when ``out_dir`` is None, else linked from
    there), else why not; and whether it is shown.

    The video has no ``controls`` attribute: the browser's overlay would cover a quarter of the first frame (the
    start of a maze). The page's script shows the controls while the pointer is on the video or it has focus."""
    video = generation.video_path
    if generation.status != "completed":
        return (
            f'<div class="placeholder failed">generation {_e(generation.status)}: {_e(generation.error[:300])}</div>',
            False,
        )
    if generation.video_problem is not None:  # outside the run folder, missing or undecodable: never shown
        return f'<div class="placeholder failed">video not shown: {_e(generation.video_problem[:300])}</div>', False
    if video is None or not video.is_file():
        return '<div class="placeholder failed">the video file is missing</div>', False
    if not room:
        where = "/".join(video.parts[-6:])  # <model>/<domain>_task/<task_id>/<run_id>/video/<file>
        return f'<div class="placeholder">not shown (--max-videos-per-model): {_e(where)}</div>', False
    info = generation.record.video_info if generation.record is not None else None
    known = info is not None and info.width > 0 and info.height > 0
    if out_dir is not None:
        # A link, made a video by the script once near the screen: nothing loads before, and the page holds no
        # media element until then. Its box has the video's shape (the decoder's size, when the record has it).
        shape = f' style="aspect-ratio: {info.width} / {info.height}"' if info is not None and known else ""
        return f'<a class="clip" href="{_e(_link(video, out_dir))}"{shape}>open video</a>', True
    size = f' width="{info.width}" height="{info.height}"' if info is not None and known else ""
    try:
        data = video.read_bytes()
    except OSError as exc:  # one unreadable file costs its own cell, not the report
        return f'<div class="placeholder failed">cannot read the video: {_e(exc)}</div>', False
    return (
        f'<video muted loop playsinline preload="metadata" tabindex="0"{size} src="{data_uri("video/mp4", data)}">'
        "</video>",
        True,
    )


VERDICTS = ("passed", "not passed", "failed", "not judged")


def _verdict(generation: ReportGeneration, metrics: Metrics) -> str:
    """What the first pass/fail scorer says of the generation, for the verdict filter: passed, not passed, failed
    (no usable video, no score or a scorer error) or not judged (no pass/fail scorer, or it could not judge)."""
    scorer = next((s for s in metrics.scorers if s.pass_dimension), None)
    if scorer is None or scorer.pass_dimension is None:
        return "not judged"
    kind, value, _ = classify(generation, scorer, scorer.pass_dimension)
    if kind == "failed":
        return "failed"
    if kind == "unscorable":
        return "not judged"
    return "passed" if value >= PASS_AT else "not passed"


def _frame(path: Path, title: str, out_dir: Path | None) -> str | None:
    """An input or expected frame: a lazily loaded link, or an embedded thumbnail; None when there is none."""
    if out_dir is None:
        uri = _thumbnail_uri(path)
        return None if uri is None else f'<img alt="{_e(title)}" src="{uri}">'
    if not path.is_file():
        return None
    return f'<img alt="{_e(title)}" loading="lazy" src="{_e(_link(path, out_dir))}">'


def _tasks(
    generations: Sequence[ReportGeneration],
    metrics: Metrics,
    max_videos_per_model: int | None,
    out_dir: Path | None,
) -> tuple[list[str], int]:
    """Per domain (a collapsible section), per task: the prompt, the input frame, the expected final frame and
    each model's video, side by side. Videos are linked from ``out_dir``, or embedded when it is None."""
    order = {m: i for i, m in enumerate(metrics.ranked_models(metrics.scorers[0] if metrics.scorers else None))}
    tasks: dict[tuple[str, str], list[ReportGeneration]] = {}
    for g in generations:
        tasks.setdefault((g.domain, g.task_id), []).append(g)
    shown: dict[str, int] = {}
    is_open = " open" if len(tasks) <= OPEN_TASKS_UP_TO else ""
    parts = ['<section id="tasks"><h2>Tasks</h2>']
    if max_videos_per_model is not None:
        parts.append(f'<p class="note">At most {max_videos_per_model} video(s) per model are shown.</p>')
    domain = None
    for (task_domain, task_id), members in sorted(tasks.items()):
        if task_domain != domain:
            if domain is not None:
                parts.append("</details>")
            domain = task_domain
            count = sum(d == domain for d, _ in tasks)
            parts.append(
                f'<details class="domain" id="{_e(_domain_id(domain))}" data-domain="{_e(domain)}"{is_open}>'
                f"<summary>{_e(domain)} <small>({count} tasks)</small></summary>"
            )
        members = sorted(members, key=lambda g: (order.get(g.model, len(order)), g.run_id))
        runs_per_model = {m: sum(g.model == m for g in members) for m in {g.model for g in members}}
        prompt = next((g.prompt for g in members if g.prompt), "")
        parts.append(
            f'<article class="task"><h3>{_e(task_id)} <small>{_e(task_domain)}</small></h3>'
            f'<p class="prompt">{_e(prompt)}</p><div class="strip">'
        )
        for title, name in (("input frame", FIRST_FRAME), ("expected final frame", FINAL_FRAME)):
            picture = next(
                (p for g in members if (p := _frame(g.run_dir / "question" / name, title, out_dir)) is not None), None
            )
            picture = picture or f'<div class="placeholder">no {_e(title)}</div>'
            parts.append(f"<figure>{picture}<figcaption><b>{_e(title)}</b></figcaption></figure>")
        for g in members:
            name = g.model if runs_per_model[g.model] == 1 else f"{g.model} ({g.run_id})"
            room = max_videos_per_model is None or shown.get(g.model, 0) < max_videos_per_model
            body, was_shown = _video_cell(g, room, out_dir)
            shown[g.model] = shown.get(g.model, 0) + was_shown
            caption = f"<b>{_e(name)}</b>{_score_lines(g, metrics.scorers)}"
            parts.append(
                f'<figure class="gen" data-model="{_e(g.model)}" data-verdict="{_e(_verdict(g, metrics))}">'
                f"{body}<figcaption>{caption}</figcaption></figure>"
            )
        parts.append("</div></article>")
    if domain is not None:
        parts.append("</details>")
    parts.append("</section>")
    return parts, sum(shown.values())


def _domain_id(domain: str) -> str:
    return f"tasks-{domain}"


def _scorer_id(scorer: str) -> str:
    return f"scorer-{scorer}"


def _toc(generations: Sequence[ReportGeneration], metrics: Metrics) -> list[str]:
    """The table of contents: every section, each scorer's table and each domain's tasks."""
    domains: dict[str, set[str]] = {}
    for g in generations:
        domains.setdefault(g.domain, set()).add(g.task_id)
    scorers = "".join(f'<li><a href="#{_e(_scorer_id(s.name))}">{_e(s.name)}</a></li>' for s in metrics.scorers)
    tasks = "".join(
        f'<li><a href="#{_e(_domain_id(d))}">{_e(d)}</a> <small>({len(ids)})</small></li>'
        for d, ids in sorted(domains.items())
    )
    return [
        '<nav class="toc" id="toc"><b>Contents</b><ul>',
        f'<li><a href="#leaderboard">Leaderboard</a><ul>{scorers}</ul></li>',
        '<li><a href="#flags">Flags</a></li><li><a href="#plots">Plots</a></li>',
        '<li><a href="#breakdown">By group</a></li>',
        f'<li><a href="#tasks">Tasks</a><ul>{tasks}</ul></li></ul></nav>',
    ]


def _filters(generations: Sequence[ReportGeneration], metrics: Metrics) -> str:
    """The filter form: hidden until the script runs (without it, it could not filter)."""

    def select(name: str, values: Sequence[str]) -> str:
        options = "".join(f'<option value="{_e(v)}">{_e(v)}</option>' for v in values)
        return f'<label>{name} <select name="{name}"><option value="">all</option>{options}</select></label>'

    verdicts = [v for v in VERDICTS if any(_verdict(g, metrics) == v for g in generations)]
    return (
        '<form id="filters" hidden><b>Show tasks of</b> '
        f"{select('domain', sorted({g.domain for g in generations}))}{select('model', metrics.models)}"
        f"{select('verdict', verdicts)}</form>"
    )


# The page's only script: the filters, the controls on hover or focus, and the linked videos made once near the
# screen. Event delegation: no listener per video, whatever their number.
SCRIPT = """
(function () {
  var form = document.getElementById("filters");
  function apply() {
    var d = form.domain.value, m = form.model.value, v = form.verdict.value;
    document.querySelectorAll("details.domain").forEach(function (s) {
      s.hidden = !!d && s.dataset.domain !== d;
      if (!s.hidden && (d || m || v)) { s.open = true; }
    });
    document.querySelectorAll("figure.gen").forEach(function (g) {
      g.hidden = (!!m && g.dataset.model !== m) || (!!v && g.dataset.verdict !== v);
    });
    document.querySelectorAll("article.task").forEach(function (a) {
      a.hidden = (!!m || !!v) && !a.querySelector("figure.gen:not([hidden])");
    });
  }
  if (form) { form.hidden = false; form.addEventListener("change", apply); }
  function show(e) { if (e.target.tagName === "VIDEO") { e.target.controls = true; } }
  function hide(e) {
    var x = e.target;
    if (x.tagName === "VIDEO" && document.activeElement !== x && !x.matches(":hover")) { x.controls = false; }
  }
  document.addEventListener("mouseover", show);
  document.addEventListener("focusin", show);
  document.addEventListener("mouseout", hide);
  document.addEventListener("focusout", hide);
  // A linked video: a link (a.clip) until it comes near the screen, then a video before a small link. No
  // controls attribute: the browser's overlay would hide part of the first frame (show() adds them on demand).
  function make(a) {
    var x = document.createElement("video");
    x.muted = true; x.loop = true; x.playsInline = true; x.preload = "metadata"; x.tabIndex = 0;
    x.src = a.getAttribute("href"); x.style.aspectRatio = a.style.aspectRatio;
    a.parentNode.insertBefore(x, a);
    a.className = "open";
  }
  if ("IntersectionObserver" in window) {
    var seen = new IntersectionObserver(function (entries) {
      entries.forEach(function (e) {
        if (e.isIntersecting && e.target.className === "clip") { seen.unobserve(e.target); make(e.target); }
      });
    }, {rootMargin: "400px"});
    // Only the clips of open sections are watched: a closed domain costs nothing until it is opened.
    function watch(root) { root.querySelectorAll("a.clip").forEach(function (a) { seen.observe(a); }); }
    document.querySelectorAll("details.domain[open]").forEach(watch);
    document.addEventListener("toggle", function (e) { if (e.target.open) { watch(e.target); } }, true);
  }
})();
"""


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
    out_dir: Path,
) -> tuple[str, int]:
    """The page, and how many videos it shows (embedded with ``config.embed_videos``, else linked from
    ``out_dir``, the report's folder)."""
    counts = generation_counts(generations, metrics.models)
    not_done = sum(c["failed"] + c["unfinished"] for c in counts.values())
    unfinished = sum(c["unfinished"] for c in counts.values())
    unusable = sum(g.video_problem is not None for g in generations)
    n_tasks = len({(g.domain, g.task_id) for g in generations})
    n_domains = len({g.domain for g in generations})
    task_parts, videos = _tasks(
        generations, metrics, config.max_videos_per_model, None if config.embed_videos else out_dir
    )
    parts = [
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>VMEvalKit report: {_e(experiment)}</title><style>{CSS}</style></head><body>",
        f"<h1>VMEvalKit report: {_e(experiment)}</h1>",
        f'<p class="meta">{len(generations)} generations of {len(metrics.models)} models on {n_tasks} tasks in '
        f"{n_domains} domains; {not_done} did not complete ({unfinished} never finished: status running), "
        f"{unusable} completed with a video that cannot be used. Written {_e(utc_now())}.</p>",
        *_toc(generations, metrics),
        _filters(generations, metrics),
        *_leaderboard(metrics, config.confidence),
        *_flags(generations, metrics),
        '<section id="plots" class="plots"><h2>Plots</h2>',
        *(f'<img alt="{_e(name)}" src="{data_uri("image/png", data)}">' for name, data in plots.items()),
        "</section>",
        *_breakdown(metrics),
        *task_parts,
        f"<script>{SCRIPT}</script>",
        "</body></html>\n",
    ]
    return "\n".join(parts), videos

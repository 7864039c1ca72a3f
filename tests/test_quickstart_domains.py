"""The README's main command over the shipped sample: every domain is there, and its verifier ranks the
baselines. Then ``report`` breaks the results down by domain and by category. (One task per domain keeps the
suite short; CI runs the command itself over the whole sample, and test_domain_validity.py covers each domain.)

Real subprocesses, as a user runs them: ``examples/generate_videos.py --model oracle-solution static-first-frame``
from a folder holding a copy of the sample at ``data/questions`` (the command's default), then
``examples/score_videos.py --scorer task-verifier`` and ``examples/report.py``.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

from conftest import REPO, SAMPLE, cli_env, copy_sample, run_generate

from vmevalkit.tasks import DOMAINS, get_domain
from vmevalkit.tasks.base import CATEGORIES

SAMPLE_LIMIT = 1 << 20  # the shipped sample stays under 1 MiB


def run_script(script: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(REPO / "examples" / script), *args],
        cwd=cwd,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_the_shipped_sample_covers_every_domain_in_under_a_megabyte() -> None:
    shipped = sorted(p.name.removesuffix("_task") for p in SAMPLE.iterdir() if p.is_dir())
    assert shipped == sorted(DOMAINS)
    size = sum(p.stat().st_size for p in SAMPLE.rglob("*") if p.is_file())
    assert size <= SAMPLE_LIMIT, f"data/questions is {size} bytes"
    assert len(DOMAINS) >= 15 and {get_domain(d).category for d in DOMAINS} == set(CATEGORIES)


def test_the_main_command_runs_over_every_domain_and_the_report_breaks_it_down(tmp_path: Path) -> None:
    copy_sample(tmp_path / "data" / "questions", domains=tuple(DOMAINS))
    generated = run_generate(
        "--model", "oracle-solution", "static-first-frame", "--limit-per-domain", "1", "--no-progress", cwd=tmp_path
    )
    assert generated.returncode == 0, generated.stdout + generated.stderr

    scored = run_script("score_videos.py", "--scorer", "task-verifier", cwd=tmp_path)
    assert scored.returncode == 0, scored.stdout + scored.stderr
    experiment = tmp_path / "data" / "outputs" / "pilot"
    passed: dict[tuple[str, str], list[float]] = {}
    for path in experiment.glob("*/*_task/*/*/scores/task-verifier.json"):
        record = json.loads(path.read_text())
        model, domain_folder = path.relative_to(experiment).parts[:2]
        passed.setdefault((model, domain_folder.removesuffix("_task")), []).append(record["dimensions"]["task_success"])
    for domain in DOMAINS:
        oracle, static = passed[("oracle-solution", domain)], passed[("static-first-frame", domain)]
        assert oracle and all(v == 1.0 for v in oracle), (domain, oracle)
        assert static and all(v == 0.0 for v in static), (domain, static)

    reported = run_script("report.py", cwd=tmp_path)
    assert reported.returncode == 0, reported.stdout + reported.stderr
    with open(experiment / "report" / "metrics_detail.csv", newline="", encoding="utf-8") as fh:
        rows = [row for row in csv.DictReader(fh) if row["dimension"] == "task_success"]
    by_category = {row["category"] for row in rows if row["grouping"] == "category"}
    by_domain = {row["domain"] for row in rows if row["grouping"] == "domain"}
    assert by_category == set(CATEGORIES) and by_domain == set(DOMAINS)

"""``vmevalkit tasks domains`` and ``tasks build --domain ... --difficulty ...``, as a user runs them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from conftest import cli_env

from vmevalkit.tasks import DOMAINS, get_domain


def vmevalkit(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = cli_env(COLUMNS="80")
    return subprocess.run(
        [sys.executable, "-m", "vmevalkit", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


def test_tasks_domains_lists_every_domain_with_its_category_in_80_columns(tmp_path: Path) -> None:
    result = vmevalkit("tasks", "domains", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    for name in DOMAINS:
        row = next(line for line in lines if line.strip("│ ").split()[:1] == [name])
        assert get_domain(name).category in row, row


def test_build_writes_only_the_asked_domains_and_difficulty(tmp_path: Path) -> None:
    result = vmevalkit(
        "tasks", "build", "--domain", "maze", "sudoku", "--per-domain", "3", "--difficulty", "hard",
        "--questions-dir", "q", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    found = [json.loads(p.read_text()) for p in sorted((tmp_path / "q").glob("*_task/*/question_metadata.json"))]
    assert [(m["domain"], m["difficulty"]) for m in found] == [("maze", "hard")] * 3 + [("sudoku", "hard")] * 3
    assert {m["category"] for m in found} == {get_domain("maze").category, get_domain("sudoku").category}


def test_a_difficulty_no_domain_has_is_one_error_line_and_exit_2(tmp_path: Path) -> None:
    result = vmevalkit("tasks", "build", "--difficulty", "extreme", "--questions-dir", "q", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: no domain has difficulty 'extreme'; the levels are: easy, medium, hard"
    ]
    assert not (tmp_path / "q").exists(), "nothing is written when the request is refused"

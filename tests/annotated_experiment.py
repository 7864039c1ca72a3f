"""A real experiment to annotate: the builtin baselines' videos of a few sample tasks (shared by the annotation
tests)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from conftest import copy_sample, run_generate


@dataclass
class Experiment:
    root: Path  # the working directory
    out: Path  # the --output-dir

    @property
    def folder(self) -> Path:
        return self.out / "pilot"

    @property
    def annotations(self) -> Path:
        return self.folder / "annotations"


def make_experiment(root: Path, models: Sequence[str], per_domain: int, prompt_suffix: str = "") -> Experiment:
    """``models`` over ``per_domain`` sample tasks of maze and sudoku, each prompt ending in ``prompt_suffix``."""
    questions = copy_sample(root / "q", ("maze", "sudoku"))
    if prompt_suffix:
        for prompt in questions.glob("*_task/*/prompt.txt"):
            prompt.write_text(prompt.read_text(encoding="utf-8").strip() + prompt_suffix, encoding="utf-8")
    out = root / "out"
    args = ("--questions-dir", str(questions), "--output-dir", str(out), "--limit-per-domain", str(per_domain))
    result = run_generate("--model", *models, *args, cwd=root)
    assert result.returncode == 0, result.stderr
    return Experiment(root, out)

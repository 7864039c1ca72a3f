"""``install_model.sh <scorer> --validate``: score two real videos of a shipped task through the real worker.

Generates the ``oracle-solution`` and ``static-first-frame`` baselines on one shipped task (in-process, a second),
then scores both with the installed scorer exactly as ``examples/score_videos.py`` would: its virtualenv, its
worker, its weights. Fails loudly when a video cannot be scored, or, with real weights, when every score is NaN
(a model that loads but answers nothing usable).

    python -m vmevalkit.scoring.local.validate clip-score [--checkpoint DIR] [--tiny]
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

from vmevalkit.settings import get_settings

DEFAULT_TASK = "maze_0001"
BASELINES = ("oracle-solution", "static-first-frame")


def validate(scorer: str, checkpoint: Path | None = None, task_id: str = DEFAULT_TASK, tiny: bool = False) -> list[str]:
    """Problems found (empty: the install works). Prints the scores it got.

    ``tiny``: a random checkpoint, scored with the family's small ``tiny_args`` (fewer frames, shorter replies);
    its scores may be NaN (a random judge writes no JSON verdict), so only errors count.
    """
    from vmevalkit.models.local.validate import shipped_questions
    from vmevalkit.runner.inference import InferenceRunner
    from vmevalkit.scoring.local.tiny import family_class
    from vmevalkit.scoring.local.wrapper import LocalScorerNotReady
    from vmevalkit.scoring.runner import ScoringRunner, find_generations, load_catalog_scorer
    from vmevalkit.tasks.loader import load_tasks

    settings = get_settings()
    tasks = load_tasks(shipped_questions(), task_ids=[task_id]).tasks
    if not tasks:
        return [f"the shipped task {task_id} was not found under {shipped_questions()}"]
    try:
        loaded = load_catalog_scorer(
            scorer,
            dict(family_class(scorer).tiny_args) if tiny else None,
            checkpoint=str(checkpoint.absolute()) if checkpoint else None,
        )
    except LocalScorerNotReady as exc:
        return [str(exc)]
    try:
        with tempfile.TemporaryDirectory(prefix="vmevalkit-validate-") as out:
            runner = InferenceRunner(experiment="validate", output_dir=out, settings=settings, duration=1.0)
            runner.run(list(BASELINES), tasks)
            generations = find_generations(runner.experiment_dir)
            summary = ScoringRunner(loaded, name=scorer, batch_size=len(generations)).run(generations)
    finally:
        loaded.close()
    problems = []
    for outcome in summary.outcomes:
        record = outcome.record
        model = outcome.generation.record.model
        if outcome.status == "failed" or record is None:
            problems.append(f"{model}: scoring failed: {outcome.error}")
            continue
        values = {k: v for k, v in record.dimensions.items()}
        print(f"{scorer} on {model} {task_id}: " + ", ".join(f"{k}={_show(v)}" for k, v in values.items()))
        if not tiny and all(v is None or not math.isfinite(v) for v in values.values()):
            problems.append(f"{model}: every dimension is NaN: {record.details}")
    return problems


def _show(value: float | None) -> str:
    return "NaN" if value is None else f"{value:.4g}"

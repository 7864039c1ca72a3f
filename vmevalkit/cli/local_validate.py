"""``vmevalkit local validate`` (``install_model.sh --validate``): an install checked end to end, through the
real runner and worker.

A generator: one real generation on a shipped task, exactly as ``examples/generate_videos.py`` would run it, then
fails loudly if the video is wrong: not completed, the wrong frame count or size, or frames that are all one colour
(NaNs in half precision decode to black frames, the classic silent failure).

A scorer: generates the ``oracle-solution`` and ``static-first-frame`` baselines on one shipped task (in-process, a
second), then scores both with the installed scorer exactly as ``examples/score_videos.py`` would: its virtualenv,
its worker, its weights. Fails loudly when a video cannot be scored, or, with real weights, when every score is NaN
(a model that loads but answers nothing usable).

    vmevalkit local validate ltx-video|clip-score [--checkpoint DIR] [--tiny]
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

import vmevalkit
from vmevalkit.runner.registry import build_wrapper, get_entry, readiness
from vmevalkit.settings import get_settings

if TYPE_CHECKING:
    from vmevalkit.scoring.local.model import LocalScorerModel

DEFAULT_TASK = "maze_0001"
BASELINES = ("oracle-solution", "static-first-frame")


def shipped_questions() -> Path:
    in_checkout = Path(vmevalkit.__file__).resolve().parent.parent / "data" / "questions"
    return in_checkout if in_checkout.is_dir() else get_settings().questions_dir


def validate(
    model: str,
    checkpoint: Path | None = None,
    task_id: str = DEFAULT_TASK,
    duration: float | None = None,
    tiny: bool = False,
) -> list[str]:
    """Problems found (empty: the install works). Prints what it measured.

    ``tiny``: the checkpoint is a tiny random one; generate at the family's small test size and
    length (the catalog's full size would spend minutes of CPU on noise).
    """
    from vmevalkit.runner.inference import InferenceRunner
    from vmevalkit.runner.records import read_record
    from vmevalkit.tasks.loader import load_tasks
    from vmevalkit.video import read_frames

    settings = get_settings()
    if checkpoint is not None:
        settings = settings.model_copy(update={"checkpoints": {**settings.checkpoints, model: checkpoint.absolute()}})
    entry = get_entry(model)
    if entry.kind != "local":
        return [f"'{model}' is not a local model"]
    ready = readiness(entry, duration=duration, settings=settings)
    if ready.problem:
        return [ready.problem]
    tasks = load_tasks(shipped_questions(), task_ids=[task_id]).tasks
    if not tasks:
        return [f"the shipped task {task_id} was not found under {shipped_questions()}"]
    service = build_wrapper(model).service
    params: dict[str, Any] = {}
    if tiny:
        small = type(service).tiny_settings
        params = {"width": small["width"], "height": small["height"], "steps": small["steps"]}
        shortest = entry.constraints.duration_range[0] if entry.constraints and entry.constraints.duration_range else 0
        duration = duration or max(small["num_frames"] / service.fps, shortest)
    with tempfile.TemporaryDirectory(prefix="vmevalkit-validate-") as out:
        runner = InferenceRunner(
            experiment="validate", output_dir=out, settings=settings, duration=duration, params=params
        )
        plan = runner.plan([model], tasks)
        runner.run([model], tasks)
        spec, run_dir = plan[0].spec, plan[0].run_dir  # the one generation
        result = read_record(run_dir)
        if result is None or result.status != "completed" or result.video_info is None or not result.video:
            return [f"the generation failed: {result.error if result else 'no record written'}"]
        info = result.video_info
        want_w, want_h = service.size_for(*image_size(tasks[0].path / "first_frame.png"))
        if tiny:
            want_w, want_h = int(params["width"]), int(params["height"])
        want_frames = service.frames_for(spec.duration)
        problems = []
        if info.frame_count != want_frames:
            problems.append(f"the video has {info.frame_count} frames, expected {want_frames}")
        if (info.width, info.height) != (want_w + want_w % 2, want_h + want_h % 2):
            problems.append(f"the video is {info.width}x{info.height}, expected {want_w}x{want_h}")
        frames = read_frames(run_dir / result.video).astype(np.float32)
        if float(frames.std()) < 1.0:
            problems.append(f"every frame is one flat colour (mean {frames.mean():.1f}): the model produced no picture")
        worker = (result.result.metadata if result.result else {}).get("worker", {})
        print(
            f"{model}: {info.frame_count} frames {info.width}x{info.height} on {worker.get('device')} "
            f"({worker.get('dtype')}); load {worker.get('load_seconds')} s, "
            f"generation {result.result.duration_seconds if result.result else '?'} s"
        )
        return problems


def validate_scorer(
    scorer: str, checkpoint: Path | None = None, task_id: str = DEFAULT_TASK, tiny: bool = False
) -> list[str]:
    """Problems found (empty: the install works). Prints the scores it got.

    ``tiny``: a random checkpoint, scored with the family's small ``tiny_args`` (fewer frames, shorter replies);
    its scores may be NaN (a random judge writes no JSON verdict), so only errors count.
    """
    from vmevalkit.runner.inference import InferenceRunner
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
            dict(scorer_model_class(scorer).tiny_args) if tiny else None,
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


def scorer_model_class(name: str) -> type[LocalScorerModel]:
    from vmevalkit.runner.registry import get_scorer_entry
    from vmevalkit.scoring.local.model import LocalScorerModel
    from vmevalkit.utils.imports import load_object

    cls = load_object(get_scorer_entry(name).service)
    if not (isinstance(cls, type) and issubclass(cls, LocalScorerModel)):
        raise TypeError(f"scorer '{name}' is not a local scorer")
    return cls


def is_local_scorer(name: str) -> bool:
    from vmevalkit.runner.registry import all_scorers  # the lab's extra scorer catalogs too

    return all_scorers().get(name, {}).get("kind") == "local"


def image_size(path: Path) -> tuple[int, int]:
    from PIL import Image

    with Image.open(path) as image:
        size: tuple[int, int] = image.size
    return size

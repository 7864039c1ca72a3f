"""What a person labels, in what order: the items of an annotation session.

An item is one completed generation (rate mode) or two generations of the same task by two different models
(pairwise mode). Nothing of an item that reaches the browser names a model: its id is a hash, its files are
served by slot (``first``, ``answer``, ``video0``, ``video1``), never by path.

Order: every item has a place given by ``sha256(seed:key)``, so an annotator's order is random, repeatable from
the recorded seed, and stable when new generations arrive (they interleave; no item moves). ``limit`` keeps the
same items for every annotator whatever their seed (ranked by a seed-free hash), so that annotators overlap and
their agreement can be measured.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from vmevalkit.scoring.runner import Generation, find_generations
from vmevalkit.tasks.loader import FINAL_FRAME, FIRST_FRAME

Mode = Literal["rate", "pairwise"]
MODES: tuple[Mode, ...] = ("rate", "pairwise")


@dataclass(frozen=True)
class Item:
    """One thing to label. ``generations``: one key (rate) or (left, right) (pairwise), keys as the labels
    file names generations: MODEL/DOMAIN_task/TASK_ID/RUN_ID."""

    id: str
    key: str  # what the item is, for ordering and for finding it in a labels file
    generations: tuple[str, ...]
    domain: str
    task_id: str
    prompt: str
    first_frame: Path
    answer_frame: Path | None
    videos: tuple[Path, ...]

    def media(self, slot: str) -> Path | None:
        """The file behind a slot the page may ask for; None for any other slot."""
        if slot == "first":
            return self.first_frame
        if slot == "answer":
            return self.answer_frame
        if slot in ("video0", "video1") and int(slot[-1]) < len(self.videos):
            return self.videos[int(slot[-1])]
        return None


def _hash(*parts: object) -> str:
    return hashlib.sha256(":".join(str(p) for p in parts).encode("utf-8")).hexdigest()


def _key(generation: Generation, experiment_dir: Path) -> str:
    return generation.run_dir.relative_to(experiment_dir).as_posix()


def _usable(generation: Generation) -> bool:
    video = generation.video_path
    return video is not None and video.is_file() and (generation.question_dir / FIRST_FRAME).is_file()


def _answer(generation: Generation) -> Path | None:
    path = generation.question_dir / FINAL_FRAME
    return path if path.is_file() else None


def rate_items(generations: Sequence[Generation], experiment_dir: Path, seed: int) -> list[Item]:
    items = []
    for g in generations:
        key = _key(g, experiment_dir)
        video = g.video_path
        assert video is not None  # _usable
        items.append(
            Item(
                id=_hash("item", seed, key)[:16],
                key=key,
                generations=(key,),
                domain=g.record.domain,
                task_id=g.record.task_id,
                prompt=g.record.prompt,
                first_frame=g.question_dir / FIRST_FRAME,
                answer_frame=_answer(g),
                videos=(video,),
            )
        )
    return items


def pair_items(generations: Sequence[Generation], experiment_dir: Path, seed: int) -> list[Item]:
    """Every two models' videos of one task: the same prompt and the same first-frame bytes (a dataset rebuilt
    with another seed is another task). Of a model's several runs of a task, its latest is compared."""
    tasks: dict[tuple[str, str, str, str], dict[str, Generation]] = {}
    for g in generations:
        frame = hashlib.sha256((g.question_dir / FIRST_FRAME).read_bytes()).hexdigest()
        runs = tasks.setdefault((g.record.domain, g.record.task_id, g.record.prompt, frame), {})
        latest = runs.get(g.record.model)
        if latest is None or (g.record.finished_at or "", g.record.run_id) > (
            latest.record.finished_at or "",
            latest.record.run_id,
        ):
            runs[g.record.model] = g
    items = []
    for by_model in tasks.values():
        for first, second in itertools.combinations(sorted(by_model), 2):
            a, b = by_model[first], by_model[second]
            pair = (_key(a, experiment_dir), _key(b, experiment_dir))
            key = " | ".join(pair)
            if int(_hash("side", seed, key)[0], 16) % 2:  # which model is shown on the left: a coin per pair
                a, b, pair = b, a, (pair[1], pair[0])
            videos = (a.video_path, b.video_path)
            assert videos[0] is not None and videos[1] is not None  # _usable
            items.append(
                Item(
                    id=_hash("item", seed, key)[:16],
                    key=key,
                    generations=pair,
                    domain=a.record.domain,
                    task_id=a.record.task_id,
                    prompt=a.record.prompt,
                    first_frame=a.question_dir / FIRST_FRAME,
                    answer_frame=_answer(a),
                    videos=(videos[0], videos[1]),
                )
            )
    return items


def plan_items(
    experiment_dir: Path,
    mode: Mode,
    seed: int,
    *,
    models: Sequence[str] | None = None,
    domains: Sequence[str] | None = None,
    limit: int | None = None,
) -> list[Item]:
    """The session's items in the annotator's order. A GenerationSelectionError when the filters match nothing;
    a ValueError when pairwise mode finds no task with two models."""
    found = [g for g in find_generations(experiment_dir, models=models, domains=domains) if _usable(g)]
    items = rate_items(found, experiment_dir, seed) if mode == "rate" else pair_items(found, experiment_dir, seed)
    if not items and mode == "pairwise":
        models_found = sorted({g.record.model for g in found})
        raise ValueError(
            f"no task of {experiment_dir.name} has completed videos of two models (models: "
            f"{', '.join(models_found) or 'none'}): generate the same tasks with another model, or use --mode rate"
        )
    if limit is not None:
        items = sorted(items, key=lambda item: _hash("limit", item.key))[:limit]
    return sorted(items, key=lambda item: _hash("order", seed, item.key))

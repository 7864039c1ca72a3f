"""frame-match's region-aware mode (the default) tells doing nothing from solving, on every shipped domain.

The puzzles are sparse: a video that keeps its first frame already matches most of the answer image, so the
whole-frame final SSIM of ``static-first-frame`` sits within 0.01-0.1 of the oracle's. Compared over the change mask
(where the task's first and final frames differ, grown by a small margin), the two are far apart. Each domain gets
two freshly built tasks and real mp4 videos from the real ``oracle-solution`` and ``static-first-frame`` wrappers.
A new domain is covered by being registered in ``vmevalkit.tasks.DOMAINS``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from vmevalkit.runner.registry import build_wrapper
from vmevalkit.scoring.base import ScoreItem, ScorerContractError, checked_scores
from vmevalkit.scoring.frame_match import (
    CHANGE_THRESHOLD,
    PSNR_CAP_DB,
    FrameMatch,
    compare,
    dilate,
    first_and_last_frames,
    margin_px,
    region_psnr,
)
from vmevalkit.scoring.runner import load_catalog_scorer
from vmevalkit.tasks import DOMAINS
from vmevalkit.tasks.loader import FINAL_FRAME, Task, load_tasks
from vmevalkit.tasks.writer import build_dataset
from vmevalkit.video import write_video

SSIM, PSNR = 0, 1  # FrameMatch.dimensions: final_ssim, final_psnr, ...
MODELS = ("oracle-solution", "static-first-frame")
TASKS_PER_DOMAIN = 2
SEED = 1414
# What the default mode must show on every domain, for each task: the oracle's final SSIM at least this far above
# the static video's (measured least gap over the domains: about 0.26, counting), and its PSNR 10 dB above.
REQUIRED_SSIM_GAP = 0.2
REQUIRED_PSNR_GAP_DB = 10.0


@dataclass
class Scored:
    tasks: list[Task]
    scores: dict[tuple[str, str], np.ndarray]  # (region, model) -> [tasks, 4]
    details: dict[tuple[str, str], list[dict[str, Any]]]
    items: dict[str, list[ScoreItem]]  # model -> one item per task


def item(task: Task, video: Path, model: str) -> ScoreItem:
    return ScoreItem(
        generation_dir=video.parent,
        model=model,
        task_id=task.task_id,
        domain=task.domain,
        video_path=video,
        prompt=task.prompt,
        first_frame=task.first_frame,
        final_frame=task.path / FINAL_FRAME,
    )


@pytest.fixture(scope="module")
def scored(tmp_path_factory: pytest.TempPathFactory) -> Scored:
    """Two tasks per domain, an oracle and a static 1-second video of each, scored in both modes."""
    root = tmp_path_factory.mktemp("frame_match_region")
    build_dataset(root / "questions", domains=sorted(DOMAINS), per_domain=TASKS_PER_DOMAIN, seed=SEED)
    tasks = load_tasks(root / "questions").tasks
    assert len(tasks) == TASKS_PER_DOMAIN * len(DOMAINS)
    items: dict[str, list[ScoreItem]] = {}
    for model in MODELS:
        wrapper = build_wrapper(model, output_dir=root / "videos")
        items[model] = []
        for task in tasks:
            video = root / "videos" / model / f"{task.task_id}.mp4"
            extra = {"task": task} if wrapper.requires_ground_truth else {}
            result = wrapper.generate(task.first_frame, task.prompt, duration=1.0, output_filename=video, **extra)
            assert result.success, result.error
            items[model].append(item(task, video, model))
    scores, details = {}, {}
    for region in ("changed", "whole"):
        scorer = FrameMatch(region=region)
        for model in MODELS:
            array, detail = checked_scores(scorer, items[model], scorer.score_batch(items[model]))
            scores[region, model], details[region, model] = np.asarray(array), detail
    return Scored(tasks, scores, details, items)


def gaps(scored: Scored, region: str, dimension: int) -> dict[str, float]:
    """The least oracle-minus-static gap of each domain's tasks on one dimension."""
    oracle, static = scored.scores[region, "oracle-solution"], scored.scores[region, "static-first-frame"]
    gap = oracle[:, dimension] - static[:, dimension]
    least: dict[str, float] = {}
    for task, value in zip(scored.tasks, gap, strict=True):
        least[task.domain] = min(least.get(task.domain, math.inf), float(value))
    return least


def test_the_default_mode_puts_the_oracle_far_above_a_static_video_on_every_domain(scored: Scored) -> None:
    changed_ssim, changed_psnr = gaps(scored, "changed", SSIM), gaps(scored, "changed", PSNR)
    whole_ssim, whole_psnr = gaps(scored, "whole", SSIM), gaps(scored, "whole", PSNR)
    print("\ndomain                 least oracle-static gap: SSIM changed / whole   PSNR dB changed / whole")
    for domain in sorted(DOMAINS):
        print(
            f"{domain:22s} {changed_ssim[domain]:37.3f} / {whole_ssim[domain]:.3f}"
            f" {changed_psnr[domain]:14.1f} / {whole_psnr[domain]:.1f}"
        )
    assert set(changed_ssim) == set(DOMAINS), "every shipped domain is measured"
    short = {d: round(v, 3) for d, v in changed_ssim.items() if v < REQUIRED_SSIM_GAP}
    assert not short, f"oracle final SSIM not {REQUIRED_SSIM_GAP} above static's: {short}"
    short = {d: round(v, 1) for d, v in changed_psnr.items() if v < REQUIRED_PSNR_GAP_DB}
    assert not short, f"oracle final PSNR not {REQUIRED_PSNR_GAP_DB} dB above static's: {short}"
    # The contrast this mode exists for: on the whole frame, the same videos are hardly apart in SSIM.
    assert all(whole_ssim[d] < changed_ssim[d] for d in DOMAINS), (whole_ssim, changed_ssim)
    assert min(whole_ssim.values()) < 0.05, "whole-frame SSIM barely separates doing nothing from solving"


def test_details_record_the_mode_and_the_mask(scored: Scored) -> None:
    for detail, task in zip(scored.details["changed", "static-first-frame"], scored.tasks, strict=True):
        assert detail["region"] == "changed" and detail["final_region"] == "changed", task.task_id
        mask = detail["mask"]
        assert mask["margin_px"] == margin_px(512, 512) == 8 and mask["threshold"] == CHANGE_THRESHOLD
        assert 0 < mask["changed_pixels"] < mask["mask_pixels"] <= 512 * 512, task.task_id
        assert mask["mask_fraction"] == pytest.approx(mask["mask_pixels"] / 512**2, abs=1e-4)
        assert mask["ssim_windows"] > 0
    for detail in scored.details["whole", "oracle-solution"]:
        assert detail["region"] == detail["final_region"] == "whole" and "mask" not in detail


def test_whole_mode_and_the_first_frame_are_scored_as_version_1_did(scored: Scored) -> None:
    # region="whole" is the earlier scorer's number exactly: luma SSIM and PSNR of the whole last frame.
    task, static = scored.tasks[0], scored.items["static-first-frame"][0]
    assert scored.details["whole", "static-first-frame"][0]["frames"] > 1
    _, last, _ = first_and_last_frames(static.video_path)
    final = np.asarray(Image.open(task.path / FINAL_FRAME).convert("RGB"))
    ssim_value, psnr_value, _ = compare(last, final)
    assert scored.scores["whole", "static-first-frame"][0, :2] == pytest.approx([ssim_value, psnr_value], rel=1e-12)
    # Both modes compare the first frame whole, on luma: the same two numbers.
    for model in MODELS:
        np.testing.assert_allclose(scored.scores["changed", model][:, 2:], scored.scores["whole", model][:, 2:])


# -- hand-checked small cases ------------------------------------------------------------------------------------


def _png(path: Path, rgb: np.ndarray) -> Path:
    Image.fromarray(rgb.astype(np.uint8)).save(path)
    return path


def _item(tmp_path: Path, first: Path, final: Path, video: Path) -> ScoreItem:
    return ScoreItem(tmp_path, "m", "t", "d", video, "p", first_frame=first, final_frame=final)


def test_psnr_is_taken_over_the_grown_mask_only(tmp_path: Path) -> None:
    # A 64x64 grey picture whose answer darkens a 20x20 square: the mask is that square grown by 5 px (SSIM's half
    # window; 1.5% of 64 is less) to 30x30 = 900 pixels. A static video misses by 150 levels on 400 of them:
    # MSE 150^2 * 400 / 900 = 10000, PSNR 10 log10(255^2 / 10000) = 8.13 dB (the whole frame would say 14.1 dB).
    first = np.full((64, 64, 3), 200)
    final = first.copy()
    final[22:42, 22:42] = 50
    first_png, final_png = _png(tmp_path / "first.png", first), _png(tmp_path / "final.png", final)
    mask = dilate(np.any(first != final, axis=-1), margin_px(64, 64))
    assert margin_px(64, 64) == 5 and mask.sum() == 900
    assert region_psnr(first, final, mask) == pytest.approx(10 * math.log10(255**2 / 10000), rel=1e-12)
    assert region_psnr(final, final, mask) == PSNR_CAP_DB

    write_video([first.astype(np.uint8)] * 4, tmp_path / "static.mp4", crf=0)
    write_video([final.astype(np.uint8)] * 4, tmp_path / "solved.mp4", crf=0)
    items = [_item(tmp_path, first_png, final_png, tmp_path / name) for name in ("static.mp4", "solved.mp4")]
    batch = FrameMatch().score_batch(items)
    static, solved = np.asarray(batch.scores)
    assert static[PSNR] == pytest.approx(8.13, abs=0.3), "near-lossless: within a fraction of a dB of the hand value"
    assert solved[PSNR] > 40 and solved[SSIM] > 0.95 and static[SSIM] < 0.5
    assert batch.details[0]["mask"]["mask_pixels"] == 900 and batch.details[0]["mask"]["changed_pixels"] == 400


def test_a_change_of_colour_at_equal_brightness_is_seen(tmp_path: Path) -> None:
    # Cells painted from light grey to a yellow of nearly the same luma (symmetry's look): luma hardly moves, so the
    # whole-frame luma SSIM calls the static video a match; the mask's RGB SSIM does not.
    first = np.full((96, 96, 3), 190)
    final = first.copy()
    final[16:80:16, 16:80] = (235, 190, 40)  # luma 0.299*235 + 0.587*190 + 0.114*40 = 186.4, against 190
    final[16:80, 16:80:16] = (235, 190, 40)
    first_png, final_png = _png(tmp_path / "first.png", first), _png(tmp_path / "final.png", final)
    write_video([first.astype(np.uint8)] * 4, tmp_path / "static.mp4")
    items = [_item(tmp_path, first_png, final_png, tmp_path / "static.mp4")]
    changed = np.asarray(FrameMatch().score_batch(items).scores)[0]
    whole = np.asarray(FrameMatch(region="whole").score_batch(items).scores)[0]
    assert whole[SSIM] > 0.95 and changed[SSIM] < 0.6


def test_identical_task_images_fall_back_to_the_whole_frame_and_say_so(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    picture = rng.integers(0, 256, (48, 64, 3))
    same = _png(tmp_path / "same.png", picture)
    write_video([picture.astype(np.uint8)] * 3, tmp_path / "v.mp4")
    items = [_item(tmp_path, same, same, tmp_path / "v.mp4")]
    changed, whole = FrameMatch().score_batch(items), FrameMatch(region="whole").score_batch(items)
    assert np.asarray(changed.scores).tolist() == np.asarray(whole.scores).tolist()
    detail = changed.details[0]
    assert detail["region"] == "changed" and detail["final_region"] == "whole" and "mask" not in detail
    assert "do not differ" in detail["final_region_note"]


def test_an_unknown_region_is_one_clear_error_naming_the_choices() -> None:
    assert load_catalog_scorer("frame-match", {"region": "whole"}).region == "whole"
    assert load_catalog_scorer("frame-match", {}).region == "changed"
    with pytest.raises(ScorerContractError, match="region must be one of 'changed', 'whole', got 'box'"):
        load_catalog_scorer("frame-match", {"region": "box"})

"""VideoScore v1.1 (vmevalkit/scoring/local/videoscore.py): the prompt and frame sampling of the model card, then the
production loader and scorer on a tiny random-weight checkpoint in the real repo's layout (inside the model venv)."""

from __future__ import annotations

import json
import math
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import ModelVenv, tiny_scorer_check, venv_code_env

from vmevalkit.runner.SCORER_CATALOG import LOCAL_SCORERS
from vmevalkit.scoring.local.videoscore import (
    DIMENSIONS,
    MAX_FRAMES,
    REGRESSION_QUERY_PROMPT,
    VideoScore,
    build_query,
    frame_indices,
)

SERVICE = "vmevalkit.scoring.local.videoscore:VideoScore"


# ---- pure Python (main environment, no torch) ----


def test_class_declares_the_five_aspects_in_head_order() -> None:
    assert VideoScore.dimensions == (
        "visual_quality",
        "temporal_consistency",
        "dynamic_degree",
        "text_to_video_alignment",
        "factual_consistency",
    )
    assert VideoScore.inputs == frozenset({"video", "prompt"})  # no ground truth
    assert VideoScore.tiny_args == {"max_frames": 2}
    scorer = VideoScore("TIGER-Lab/VideoScore-v1.1")
    assert (scorer.max_frames, scorer.max_length) == (MAX_FRAMES, 4096) == (48, 4096)
    with pytest.raises(ValueError, match="max_frames"):
        VideoScore("x", max_frames=0)


def test_options_are_checked_in_the_main_environment() -> None:
    entry = LOCAL_SCORERS["videoscore"]
    args = {k: v for k, v in entry["args"].items() if k != "checkpoint"}
    assert VideoScore(entry["model"], **args).max_frames == 48
    assert VideoScore(entry["model"], **{**args, **VideoScore.tiny_args}).max_frames == 2
    for bad in ({"max_frames": 0}, {"max_frames": "48"}, {"max_frames": True}, {"max_length": 0}):
        with pytest.raises(ValueError, match="max_frames|max_length"):
            VideoScore("x", **bad)
    with pytest.raises(TypeError, match="max_frame"):
        VideoScore("x", max_frame=16)  # misspelt
    assert VideoScore.oom_hint.startswith("lower max_frames")


@pytest.mark.parametrize("count", [0, 1, 2, 12, 47, 48, 49, 97, 100, 241, 1000])
def test_frame_indices_are_run_videoscore_s_stride(count: int) -> None:
    expected = (
        np.arange(0, count, count / MAX_FRAMES).astype(int).tolist() if count > MAX_FRAMES else list(range(count))
    )
    assert frame_indices(count) == expected
    assert len(frame_indices(count)) == min(count, MAX_FRAMES)


def test_frame_indices_with_a_small_budget() -> None:
    assert frame_indices(12, 2) == [0, 6]  # the first frame and the middle one: the stride never reaches the end
    assert frame_indices(3, 5) == [0, 1, 2]
    assert frame_indices(10, 0) == []


def test_query_is_the_model_card_prompt_then_one_image_token_per_frame() -> None:
    query = build_query('Move the {green} dot to the "red" square.', 3)
    assert query.startswith(
        "\nSuppose you are an expert in judging and evaluating the quality of AI-generated videos,\n"
    )
    assert 'For this video, the text prompt is "Move the {green} dot to the "red" square.",\n' in query
    assert query.endswith("all the frames of video are as follows:\n<image> <image> <image> ")
    assert query.count("<image>") == 3
    # Verbatim details the regression head was trained on: the five aspects in order, the trailing space.
    assert "performs in that sub-score, \nthe lowest 1.0 means Bad" in REGRESSION_QUERY_PROMPT
    order = [
        REGRESSION_QUERY_PROMPT.index(f"({i}) {name}")
        for i, name in enumerate(
            [
                "visual quality",
                "temporal consistency",
                "dynamic degree",
                "text-to-video alignment",
                "factual consistency",
            ],
            start=1,
        )
    ]
    assert order == sorted(order)
    assert REGRESSION_QUERY_PROMPT.count("{text_prompt}") == 1


# ---- the tiny checkpoint in the model venv ----


@pytest.fixture(scope="module")
def tiny_check(scorer_venv: ModelVenv, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """Build the tiny checkpoint and score the two sample videos with the production setup() (one venv run)."""
    ckpt = tmp_path_factory.mktemp("videoscore") / "ckpt"
    return ckpt, tiny_scorer_check(scorer_venv, SERVICE, ckpt)


def test_tiny_check_scores_both_videos(tiny_check: tuple[Path, dict[str, Any]]) -> None:
    _, result = tiny_check
    assert result["dimensions"] == list(DIMENSIONS)
    assert result["shape"] == [2, 5]
    assert result["dtype"] == "float32"
    for row in result["scores"]:
        assert all(v is not None and math.isfinite(v) for v in row)  # random weights: finite, range meaningless
    for detail in result["details"]:
        # 12-frame videos, tiny_args max_frames=2: frames 0 and 6; per frame 4 latents + 2 boundary tokens.
        assert detail["frames"] == 2
        assert detail["frame_indices"] == [0, 6]
        assert detail["video_frames"] == 12
        assert detail["prompt_truncated"] is False
        assert detail["prompt_tokens_kept"] > 0
        assert detail["input_tokens"] > 2 * 6


def test_tiny_checkpoint_has_the_real_repo_layout_and_key_names(tiny_check: tuple[Path, dict[str, Any]]) -> None:
    ckpt, _ = tiny_check
    config = json.loads((ckpt / "config.json").read_text())
    assert config["architectures"] == ["Idefics2ForSequenceClassification"]
    assert config["model_type"] == "idefics2"
    assert len(config["id2label"]) == 5
    assert config["text_config"]["model_type"] == "mistral"
    index = json.loads((ckpt / "model.safetensors.index.json").read_text())["weight_map"]
    assert {"score.weight", "score.bias"} <= set(index)
    prefixes = {"model.vision_model.", "model.connector.modality_projection.", "model.connector.perceiver_resampler."}
    prefixes |= {"model.text_model.embed_tokens.", "model.text_model.layers.0.self_attn."}
    assert all(any(key.startswith(p) for key in index) for p in prefixes)
    assert all(
        key.startswith(("model.vision_model.", "model.connector.", "model.text_model.", "score.")) for key in index
    )
    shards = set(index.values())
    assert len(shards) > 1 and all((ckpt / shard).is_file() for shard in shards)
    assert all(shard.startswith("model-") and shard.endswith(".safetensors") for shard in shards)
    image = json.loads((ckpt / "preprocessor_config.json").read_text())
    assert image["image_processor_type"] == "Idefics2ImageProcessor"
    assert image["do_image_splitting"] is False
    assert image["image_mean"] == image["image_std"] == [0.5, 0.5, 0.5]
    processor = json.loads((ckpt / "processor_config.json").read_text())
    assert processor == {
        "image_seq_len": config["perceiver_config"]["resampler_n_latents"],
        "processor_class": "Idefics2Processor",
    }
    assert (ckpt / "tokenizer.json").is_file() and (ckpt / "tokenizer_config.json").is_file()


# In the venv: a long prompt under a small max_length, a broken video, a max_length nothing fits in, errors of the
# model (CUDA out of memory, a CUDA error) beside a broken video, and checkpoints whose head has no bias (tolerated:
# a zero bias) or no weight (refused).
EDGE_CASES = """
import json, math, shutil, sys, tempfile
from pathlib import Path
import torch
from safetensors.torch import load_file, save_file
from vmevalkit.scoring.local.tiny import sample_items
from vmevalkit.scoring.local.videoscore import VideoScore

def without(ckpt, key, dest):
    shutil.copytree(ckpt, dest)
    index_path = dest / "model.safetensors.index.json"
    index = json.loads(index_path.read_text())
    shard = dest / index["weight_map"].pop(key)
    tensors = load_file(shard)
    del tensors[key]
    save_file(tensors, shard, metadata={"format": "pt"})
    index_path.write_text(json.dumps(index))
    return dest

ckpt = Path(sys.argv[1])
out = {}
with tempfile.TemporaryDirectory() as tmp:
    items = sample_items(Path(tmp), prompt="a red ball moves left " * 40)
    items[1].video_path.write_bytes(b"not a video")
    scorer = VideoScore("tiny", max_frames=2, max_length=250)
    scorer.setup(ckpt, "cpu")
    batch = scorer.score(items)
    out["scores"] = [[v if math.isfinite(v) else None for v in row] for row in batch.scores.tolist()]
    out["details"] = batch.details
    tight = VideoScore("tiny", max_frames=2, max_length=50)
    tight.setup(ckpt, "cpu")
    try:
        tight.score(items[:1])
        out["tight"] = "no error"
    except ValueError as exc:
        out["tight"] = f"{type(exc).__name__}: {exc}"
    for name, error in (
        ("oom", torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")),
        ("cuda_error", RuntimeError("CUDA error: an illegal memory access was encountered")),
    ):
        def boom(*args, error=error, **kwargs):
            raise error
        scorer._model.forward = boom
        try:
            scorer.score(items)
            out[name] = "scored"
        except Exception as exc:
            out[name] = f"{type(exc).__name__}: {exc}"
        del scorer._model.forward
    unbiased = VideoScore("tiny", max_frames=2)
    unbiased.setup(without(ckpt, "score.bias", Path(tmp) / "nobias"), "cpu")
    out["zero_bias"] = unbiased._model.score.bias.abs().max().item()
    out["nobias_finite"] = bool(all(math.isfinite(v) for v in unbiased.score(items[:1]).scores[0]))
    try:
        VideoScore("tiny").setup(without(ckpt, "score.weight", Path(tmp) / "nohead"), "cpu")
        out["nohead"] = "loaded"
    except RuntimeError as exc:
        out["nohead"] = str(exc)
print(json.dumps(out))
"""


def test_truncation_broken_videos_batch_failures_and_head_weights(
    scorer_venv: ModelVenv, tiny_check: tuple[Path, dict[str, Any]]
) -> None:
    ckpt, _ = tiny_check
    done = subprocess.run(
        [str(scorer_venv.python), "-c", EDGE_CASES, str(ckpt)],
        env=venv_code_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    first, second = result["details"]
    assert all(v is not None for v in result["scores"][0])
    assert first["prompt_truncated"] is True
    assert first["input_tokens"] <= 250
    assert 0 < first["prompt_tokens_kept"] < 40 * 5
    assert result["scores"][1] == [None] * 5  # the unreadable video alone is NaN
    assert second["error"].startswith("VideoError")
    # Frames and instructions past max_length are the options' fault: the batch fails, no NaN.
    assert result["tight"].startswith("InputTooLongError") and "more than max_length=50" in result["tight"]
    # The model's errors fail the batch (retried by the next run), though the other item is NaN for its own reason.
    assert result["oom"].startswith("OutOfMemoryError: CUDA out of memory")
    assert result["cuda_error"] == "RuntimeError: CUDA error: an illegal memory access was encountered"
    assert result["zero_bias"] == 0.0 and result["nobias_finite"] is True
    assert "missing weights (1)" in result["nohead"] and "score.weight" in result["nohead"]

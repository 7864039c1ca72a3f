"""CLIP / X-CLIP scorers: the pure-Python parts here, the production setup()/score() on tiny checkpoints in the
scorer venv (``python -m vmevalkit local tiny ... --check`` and one script for the edge cases)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import ModelVenv, tiny_scorer_check, venv_code_env

from vmevalkit.runner.SCORER_CATALOG import LOCAL_SCORERS
from vmevalkit.scoring.local.clip import (
    CLIP_PREPROCESSOR,
    XCLIP_PREPROCESSOR,
    ClipScore,
    XClipScore,
    clip_score,
    distinct,
    frame_consistency,
    stretch_indices,
)

MODULE = "vmevalkit.scoring.local.clip"
# The files the production loader reads, named as in openai/clip-vit-large-patch14 and microsoft/xclip-base-patch32.
LAYOUT = {"config.json", "model.safetensors", "preprocessor_config.json", "tokenizer.json", "tokenizer_config.json"}


# ---- main environment: no torch ----


def test_classes_import_without_torch_and_declare_dimensions() -> None:
    code = f"import sys, {MODULE} as m; print(m.ClipScore.dimensions, m.XClipScore.dimensions, 'torch' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.split() == ["('clip_score',", "'frame_consistency')", "('xclip_score',)", "False"]


def test_constructor_options() -> None:
    assert ClipScore("openai/clip-vit-large-patch14").frames == 8
    assert ClipScore("m", frames=3, batch_size=4).batch_size == 4
    assert XClipScore("microsoft/xclip-base-patch32").frames is None
    for bad in (1, 0, "8", True):
        with pytest.raises(ValueError, match="frames"):
            ClipScore("m", frames=bad)
    with pytest.raises(ValueError, match="batch_size"):
        XClipScore("m", batch_size=0)
    with pytest.raises(ValueError, match="batch_size"):
        ClipScore("m", batch_size=2.5)


def test_misspelt_options_are_refused() -> None:
    with pytest.raises(TypeError, match="frame"):
        ClipScore("m", frame=8)
    with pytest.raises(TypeError, match="batchsize"):
        XClipScore("m", batchsize=4)


@pytest.mark.parametrize(("name", "cls"), [("clip-score", ClipScore), ("xclip-score", XClipScore)])
def test_catalog_and_tiny_args_construct_in_the_main_environment(name: str, cls: type[ClipScore]) -> None:
    entry = LOCAL_SCORERS[name]
    args = {k: v for k, v in entry["args"].items() if k != "checkpoint"}
    cls(entry["model"], **args)
    cls(entry["model"], **{**args, **cls.tiny_args})


def test_oom_hints_name_the_memory_options() -> None:
    assert ClipScore.oom_hint.startswith("lower batch_size (frames per")
    assert XClipScore.oom_hint.startswith("lower batch_size (videos per")
    for cls in (ClipScore, XClipScore):
        assert "--scorer-init-kwargs-json" in cls.oom_hint


def test_clip_score_clamps_each_frame_then_averages() -> None:
    assert clip_score([0.3, -0.2, 0.1]) == pytest.approx((0.3 + 0.0 + 0.1) / 3)
    assert clip_score([-0.5, -0.1]) == 0.0
    assert clip_score([1.0000002]) == 1.0
    assert math.isnan(clip_score([]))


def test_frame_consistency_of_consecutive_frames() -> None:
    assert frame_consistency([[1.0, 0.0], [2.0, 0.0], [3.0, 0.0]]) == pytest.approx(1.0)
    # consecutive pairs: (a, b) orthogonal, (b, a) orthogonal -> 0, though frames 0 and 2 are equal
    assert frame_consistency([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]]) == pytest.approx(0.0)
    assert frame_consistency([[1.0, 0.0], [-1.0, 0.0]]) == pytest.approx(-1.0)
    assert math.isnan(frame_consistency([[1.0, 0.0]]))


def test_stretch_indices_spread_and_repeat() -> None:
    assert stretch_indices(12, 4) == [0, 4, 7, 11]
    assert stretch_indices(8, 8) == list(range(8))
    assert stretch_indices(2, 4) == [0, 0, 1, 1]
    assert stretch_indices(1, 3) == [0, 0, 0]
    with pytest.raises(ValueError):
        stretch_indices(0, 8)


def test_distinct_prompts_keep_first_seen_order() -> None:
    assert distinct(["b", "a", "b", "c"]) == (["b", "a", "c"], [0, 1, 0, 2])


# ---- scorer venv: tiny checkpoints through the production code ----


def tiny_check(venv: ModelVenv, cls: str, ckpt: Path) -> dict[str, Any]:
    result: dict[str, Any] = tiny_scorer_check(venv, f"{MODULE}:{cls}", ckpt)
    return result


@pytest.fixture(scope="module")
def tiny(scorer_venv: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("clip-tiny")
    return {
        "python": scorer_venv.python,
        "clip_dir": root / "clip",
        "xclip_dir": root / "xclip",
        "clip": tiny_check(scorer_venv, "ClipScore", root / "clip"),
        "xclip": tiny_check(scorer_venv, "XClipScore", root / "xclip"),
    }


def test_tiny_clip_checkpoint_layout(tiny: dict[str, Any]) -> None:
    ckpt: Path = tiny["clip_dir"]
    assert {p.name for p in ckpt.iterdir()} == LAYOUT
    config = json.loads((ckpt / "config.json").read_text())
    assert config["architectures"] == ["CLIPModel"]
    assert config["text_config"]["eos_token_id"] == 2  # legacy argmax pooling, as the real config
    assert config["text_config"]["max_position_embeddings"] == 77
    preprocessor = json.loads((ckpt / "preprocessor_config.json").read_text())
    assert preprocessor == {**CLIP_PREPROCESSOR, "size": 32, "crop_size": 32}
    assert config["vision_config"]["image_size"] == 32


def test_tiny_clip_scores(tiny: dict[str, Any]) -> None:
    result = tiny["clip"]
    assert result["dimensions"] == ["clip_score", "frame_consistency"]
    assert result["shape"] == [2, 2]
    assert result["dtype"] == "float32"
    for (score, consistency), details in zip(result["scores"], result["details"], strict=True):
        assert 0.0 <= score <= 1.0
        assert -1.0 <= consistency <= 1.0
        assert details["frames_used"] == 4  # tiny_args frames=4
        assert details["frame_indices"] == [0, 4, 7, 11]
        assert details["video_frames"] == 12
        assert details["prompt_truncated"] is False
        assert 0 < details["prompt_tokens"] <= details["text_tokens_max"] == 77
        cosines = details["frame_cosines"]
        assert len(cosines) == 4
        assert score == pytest.approx(sum(max(c, 0.0) for c in cosines) / 4, abs=1e-3)
        assert details["clip_score_raw"] == pytest.approx(sum(cosines) / 4, abs=1e-3)
    # the second video never changes: identical frames, identical embeddings
    assert result["scores"][1][1] == pytest.approx(1.0, abs=1e-5)
    assert result["scores"][0][1] <= result["scores"][1][1]


def test_tiny_xclip_checkpoint_layout(tiny: dict[str, Any]) -> None:
    ckpt: Path = tiny["xclip_dir"]
    assert {p.name for p in ckpt.iterdir()} == LAYOUT
    config = json.loads((ckpt / "config.json").read_text())
    assert config["architectures"] == ["XCLIPModel"]
    assert config["vision_config"]["num_frames"] == 4
    assert config["vision_config"]["image_size"] == 224  # the real preprocessor file's default crop
    assert json.loads((ckpt / "preprocessor_config.json").read_text()) == XCLIP_PREPROCESSOR


def test_tiny_xclip_scores(tiny: dict[str, Any]) -> None:
    result = tiny["xclip"]
    assert result["dimensions"] == ["xclip_score"]
    assert result["shape"] == [2, 1]
    for (score,), details in zip(result["scores"], result["details"], strict=True):
        assert -1.0 <= score <= 1.0
        assert details["frames_used"] == 4  # the config's num_frames
        assert details["frame_indices"] == [0, 4, 7, 11]
        assert details["frames_repeated"] is False
        assert details["prompt_truncated"] is False


EDGE_SCRIPT = r"""
import json, sys, tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from vmevalkit.scoring.local.clip import ClipScore, XClipScore
from vmevalkit.scoring.local.model import video_frames
from vmevalkit.scoring.local.tiny import sample_items
from vmevalkit.video import write_video

clip_dir, xclip_dir = Path(sys.argv[1]), Path(sys.argv[2])
out = {}
with tempfile.TemporaryDirectory() as tmp:
    moving, still = sample_items(Path(tmp))
    short = Path(tmp) / "short.mp4"
    write_video([np.full((40, 40, 3), v, np.uint8) for v in (0, 200)], short, fps=8)
    items = [
        moving,
        replace(moving, prompt="a red ball rolls slowly to the left " * 12),
        replace(still, video_path=Path(tmp) / "missing.mp4"),
        replace(still, prompt="  "),
        replace(still, video_path=short),
    ]

    clip = ClipScore("tiny", frames=4)
    clip.setup(clip_dir, "cpu")
    batch = clip.score(items)
    out["clip"] = {"scores": [[None if np.isnan(v) else v for v in row] for row in batch.scores.tolist()],
                   "details": batch.details}
    out["clip_frames3"] = clip.score(items[:1], frames=3).details[0]["frames_used"]

    # frame 0 of item 0 through CLIPModel.forward: logits_per_image / logit_scale.exp() is the cosine
    model, processor = clip._model, clip._processor
    frame = video_frames(moving.video_path, 4)[0][0]
    enc = processor(text=[moving.prompt], images=[frame], return_tensors="pt", padding=True)
    with torch.inference_mode():
        fwd = model(**enc)
        out["clip_forward_cos"] = float(fwd.logits_per_image[0, 0] / model.logit_scale.exp())

    xclip = XClipScore("tiny")
    xclip.setup(xclip_dir, "cpu")
    batch = xclip.score(items)
    out["xclip"] = {"scores": [[None if np.isnan(v) else v for v in row] for row in batch.scores.tolist()],
                    "details": batch.details}
    try:
        xclip.score(items[:1], frames=5)
        out["xclip_frames5"] = "accepted"
    except ValueError as exc:
        out["xclip_frames5"] = str(exc)

    # item 0 alone through XCLIPModel.forward: the same cosine as inside the batch
    model, processor = xclip._model, xclip._processor
    frames = video_frames(moving.video_path, 4)[0]
    enc = processor(text=[moving.prompt], videos=[frames], return_tensors="pt", padding=True)
    with torch.inference_mode():
        fwd = model(**enc)
        out["xclip_forward_cos"] = float(fwd.logits_per_video[0, 0] / model.logit_scale.exp())

    # CUDA out of memory inside the model call fails the batch (the worker reports it, the next run retries):
    # never a NaN score, even beside an item that is NaN for its own reasons.
    def out_of_memory(scorer, target, method):
        def boom(*args, **kwargs):
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        setattr(target, method, boom)
        try:
            scorer.score([moving, items[2]])
            return "scored"
        except Exception as exc:
            return type(exc).__name__
        finally:
            delattr(target, method)

    out["clip_oom"] = out_of_memory(clip, clip._model, "get_image_features")
    out["xclip_oom"] = out_of_memory(xclip, xclip._model, "forward")
print(json.dumps(out))
"""


def test_edge_cases_and_forward_equivalence(tiny: dict[str, Any], tmp_path: Path) -> None:
    script = tmp_path / "edge.py"
    script.write_text(EDGE_SCRIPT)
    done = subprocess.run(
        [str(tiny["python"]), str(script), str(tiny["clip_dir"]), str(tiny["xclip_dir"])],
        env=venv_code_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    out = json.loads(done.stdout.strip().splitlines()[-1])

    clip_scores, clip_details = out["clip"]["scores"], out["clip"]["details"]
    assert clip_details[0]["frame_cosines"][0] == pytest.approx(out["clip_forward_cos"], abs=2e-4)
    assert out["clip_frames3"] == 3
    # long prompt: truncated to 77 tokens, still scored
    assert clip_details[1]["prompt_truncated"] is True
    assert clip_details[1]["prompt_tokens"] > 77
    assert None not in clip_scores[1]
    # missing video, blank prompt: NaN with a reason
    assert clip_scores[2] == [None, None] and "cannot read the video" in clip_details[2]["error"]
    assert clip_scores[3] == [None, None] and "empty prompt" in clip_details[3]["error"]
    # a 2-frame video: both frames, and a consistency from the one pair
    assert clip_details[4]["frames_used"] == 2 and clip_details[4]["frame_indices"] == [0, 1]
    assert None not in clip_scores[4]

    x_scores, x_details = out["xclip"]["scores"], out["xclip"]["details"]
    assert x_scores[0][0] == pytest.approx(out["xclip_forward_cos"], abs=1e-5)
    assert x_details[1]["prompt_truncated"] is True and x_scores[1][0] is not None
    assert x_scores[2] == [None] and "cannot read the video" in x_details[2]["error"]
    assert x_scores[3] == [None] and "empty prompt" in x_details[3]["error"]
    assert x_details[4]["frame_indices"] == [0, 0, 1, 1]
    assert x_details[4]["frames_repeated"] is True
    assert -1.0 <= x_scores[4][0] <= 1.0
    assert "exactly 4 frames" in out["xclip_frames5"]
    assert out["clip_oom"] == out["xclip_oom"] == "OutOfMemoryError"

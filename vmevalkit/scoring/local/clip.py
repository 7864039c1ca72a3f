"""Text-video similarity with CLIP (frame by frame) and X-CLIP (whole clip): ``CLIPModel`` and ``XCLIPModel``.

``ClipScore`` (``openai/clip-vit-large-patch14``, ViT-L/14 at 224 px, 77 text tokens):

- ``clip_score``: the mean over ``frames`` evenly sampled frames of ``max(cos(text, frame), 0)``, in [0, 1].
  This is CLIPScore (Hessel et al. 2021, "CLIPScore: A Reference-free Evaluation Metric for Image Captioning",
  arXiv:2104.08718: ``w * max(cos, 0)``) with ``w = 1``, averaged over frames the way text-to-video papers
  report CLIPSIM (Wu et al. 2021, GODIVA, arXiv:2104.14806; Singer et al. 2022, Make-A-Video, arXiv:2209.14792,
  whose MSR-VTT CLIPSIM of about 0.30 is on this scale). Multiply by 100 for torchmetrics' ``CLIPScore``
  (``max(100 * cos, 0)``, default model openai/clip-vit-large-patch14:
  Lightning-AI/torchmetrics src/torchmetrics/functional/multimodal/clip_score.py), by 2.5 for Hessel's CLIP-S.
  The raw mean cosine (not clamped, [-1, 1]) is in the details as ``clip_score_raw``.
- ``frame_consistency``: the mean cosine similarity of the CLIP image embeddings of consecutive sampled frames,
  in [-1, 1] (CLIP-Temp of EvalCrafter, Liu et al. 2023, arXiv:2310.11440; Tune-A-Video and the LOVEU-TGVE
  benchmark average over all frame pairs instead). 1 for a still video; NaN when fewer than two frames decode.

``XClipScore`` (``microsoft/xclip-base-patch32``, ViT-B/32, 8 frames at 224 px, trained on Kinetics-400):

- ``xclip_score``: the cosine between X-CLIP's video embedding (per-frame CLS features through its multi-frame
  integration transformer) and its text embedding after the video-specific prompt generator has added the
  video's visual tokens to it, in [-1, 1]. ``XCLIPModel.forward`` returns both normalised
  (``video_embeds`` [B, D], ``text_embeds`` [B, K, D]: every text conditioned on every video) and
  ``logits_per_video = logit_scale.exp() * cos``; the score is the cosine of each video with its own prompt
  (transformers src/transformers/models/x_clip/modeling_x_clip.py, ``XCLIPModel.forward``; Ni et al. 2022,
  "Expanding Language-Image Pretrained Models for General Video Recognition", arXiv:2208.02816).
  X-CLIP's cross-frame attention and its frame position embeddings fix the frame count to the config's
  ``vision_config.num_frames`` (8): a shorter video has frames repeated (``frames_repeated`` in the details).

Both truncate prompts to the text model's 77 tokens (start and end token included), as CLIP was trained, and
record ``prompt_tokens`` (the full count) and ``prompt_truncated`` in the details. Each distinct prompt of a
batch is encoded once.

Checkpoint layout (the files the loader reads; both repos also hold pickle/TF/Flax copies and the legacy
vocab.json / merges.txt, which ``tokenizer.json`` supersedes):
``config.json``, ``model.safetensors``, ``preprocessor_config.json``, ``tokenizer.json``,
``tokenizer_config.json``, ``special_tokens_map.json``.

- https://huggingface.co/openai/clip-vit-large-patch14: ``preprocessor_config.json`` is a legacy
  ``CLIPFeatureExtractor`` file (size and crop 224, bicubic, OpenAI's mean/std, as ``CLIP_PREPROCESSOR``
  below, seen in many public duplicates of the repo); ``text_config.eos_token_id`` is the legacy 2, so the text
  is pooled at ``input_ids.argmax()`` (the end token, the last id of the vocabulary). Snapshot commit
  32bd64288804d66eefd0ccbe215aa642df71cc41 appears in public code as the local cache path of this repo.
- https://huggingface.co/microsoft/xclip-base-patch32: ``preprocessor_config.json`` is a legacy
  ``VideoMAEFeatureExtractor`` file (shortest edge 224, default 224 crop, bilinear, ImageNet mean/std, as
  ``XCLIP_PREPROCESSOR`` below); upstream ships ``model.safetensors`` beside ``pytorch_model.bin`` at commit
  a2e27a78a2b5d802e894b8a1ef14f3a8ce490963 (2024-02-04), per the model card of the mirror
  https://huggingface.co/CondadosAI/xclip_base_patch32. transformers loads the VideoMAE file as
  ``VideoMAEImageProcessorPil`` when torchvision is missing (the scorer venv has none).

The tiny checkpoints (``build_tiny``) keep these file names, the legacy preprocessor files (with 32 px for
CLIP; X-CLIP's is the real one, its tiny model keeps 224 px / 32 px patches), the legacy ``eos_token_id = 2``
and a tokenizer whose end token has the highest id (``tiny_text.clip_tokenizer_openai_order``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from PIL import Image

from vmevalkit.scoring.base import Range, ScoreBatch, ScoreItem
from vmevalkit.scoring.local.model import LocalScorerModel, int_option, torch_dtype_for, video_frames

# openai/clip-vit-large-patch14/preprocessor_config.json (legacy CLIPFeatureExtractor keys).
CLIP_PREPROCESSOR: dict[str, Any] = {
    "crop_size": 224,
    "do_center_crop": True,
    "do_normalize": True,
    "do_resize": True,
    "feature_extractor_type": "CLIPFeatureExtractor",
    "image_mean": [0.48145466, 0.4578275, 0.40821073],
    "image_std": [0.26862954, 0.26130258, 0.27577711],
    "resample": 3,
    "size": 224,
}

# microsoft/xclip-base-patch32/preprocessor_config.json (legacy VideoMAEFeatureExtractor keys, no crop_size:
# the image processor's default 224 crop applies).
XCLIP_PREPROCESSOR: dict[str, Any] = {
    "do_center_crop": True,
    "do_normalize": True,
    "do_resize": True,
    "feature_extractor_type": "VideoMAEFeatureExtractor",
    "image_mean": [0.485, 0.456, 0.406],
    "image_std": [0.229, 0.224, 0.225],
    "processor_class": "XCLIPProcessor",
    "resample": 2,
    "size": 224,
}

# ---- pure helpers (no torch: the main environment and its tests use them) ----


def clip_score(cosines: Sequence[float]) -> float:
    """CLIPScore of a clip with ``w = 1``: the mean over frames of ``max(cos, 0)``, in [0, 1]; NaN without frames."""
    if len(cosines) == 0:
        return math.nan
    # Clipped at 1 too: float rounding can put a cosine a hair above it.
    return float(np.mean(np.clip(np.asarray(cosines, dtype=np.float64), 0.0, 1.0)))


def frame_consistency(embeddings: Any) -> float:
    """Mean cosine similarity of consecutive rows of ``embeddings`` ([frames, dim]); NaN for fewer than two."""
    rows = np.asarray(embeddings, dtype=np.float64)
    if rows.ndim != 2 or rows.shape[0] < 2:
        return math.nan
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    unit = rows / np.where(norms > 0, norms, 1.0)
    return float(np.clip(np.mean(np.sum(unit[1:] * unit[:-1], axis=1)), -1.0, 1.0))


def stretch_indices(available: int, wanted: int) -> list[int]:
    """``wanted`` positions into ``available`` frames, evenly spread, first and last included; repeats
    frames when there are fewer than ``wanted`` (X-CLIP takes exactly its config's frame count)."""
    if available < 1 or wanted < 1:
        raise ValueError(f"need at least one frame (available={available}, wanted={wanted})")
    if wanted == 1:
        return [0]
    return [round(i * (available - 1) / (wanted - 1)) for i in range(wanted)]


def distinct(prompts: Sequence[str]) -> tuple[list[str], list[int]]:
    """The distinct prompts in first-seen order, and each prompt's position among them."""
    order: dict[str, int] = {}
    positions = [order.setdefault(prompt, len(order)) for prompt in prompts]
    return list(order), positions


@dataclass
class _Clip:
    """One item's sampled frames, ready to encode."""

    index: int  # position in the batch
    frames: list[Image.Image]
    indices: list[int]  # frame numbers in the video
    total: int  # the video's frame count
    details: dict[str, Any] = field(default_factory=dict)


def _read_clip(index: int, item: ScoreItem, count: int) -> _Clip | str:
    """The item's ``count`` evenly sampled frames, or why they cannot be read."""
    from vmevalkit.video import VideoError

    try:
        frames, indices, total, _ = video_frames(item.video_path, count)
    except (VideoError, OSError, ValueError) as exc:
        return f"cannot read the video: {exc}"
    if not frames:
        return "the video decodes to no frames"
    return _Clip(index=index, frames=frames, indices=indices, total=total)


def _features(output: Any) -> Any:
    """transformers 5 returns a model output whose ``pooler_output`` holds the projected features; 4.x a tensor."""
    return getattr(output, "pooler_output", output)


class _TextTokens:
    """Distinct prompts tokenised once: ids and mask truncated to the text model's length, full counts."""

    def __init__(self, tokenizer: Any, prompts: Sequence[str], max_tokens: int) -> None:
        self.prompts = list(prompts)
        # The untruncated count, start and end token included (verbose=False: no "too long" warning).
        self.counts = [len(ids) for ids in tokenizer(self.prompts, verbose=False)["input_ids"]]
        self.max_tokens = max_tokens
        self.batch = tokenizer(self.prompts, padding=True, truncation=True, max_length=max_tokens, return_tensors="pt")

    def details(self, position: int) -> dict[str, Any]:
        count = self.counts[position]
        return {
            "prompt_tokens": count,
            "prompt_truncated": count > self.max_tokens,
            "text_tokens_max": self.max_tokens,
        }


def _text_limit(tokenizer: Any, text_config: Any) -> int:
    """Tokens the text model takes: its position embeddings (77), or the tokenizer's limit if smaller."""
    limit = int(text_config.max_position_embeddings)
    model_max = getattr(tokenizer, "model_max_length", None)
    if isinstance(model_max, int) and 0 < model_max < limit:
        limit = model_max
    return limit


class _ClipBase(LocalScorerModel):
    """What both backbones share: device and dtype, the frame option, reading the batch's videos."""

    def __init__(self, model: str, frames: int | None, batch_size: int) -> None:
        super().__init__(model, frames=frames, batch_size=batch_size)
        self.batch_size = int_option(batch_size, "batch_size")
        self._model: Any = None
        self._processor: Any = None
        self._torch_dtype: Any = None

    @property
    def dtype(self) -> str:
        return "float32" if self._torch_dtype is None else str(self._torch_dtype).removeprefix("torch.")

    def _place(self, model: Any, device: str) -> Any:
        self.device = device
        return model.to(device).eval()

    def _loaded(self) -> tuple[Any, Any]:
        if self._model is None or self._processor is None:
            raise RuntimeError(f"{type(self).__name__}.score() before setup()")
        return self._model, self._processor

    def _read(self, items: Sequence[ScoreItem], count: int, details: list[dict[str, Any]]) -> list[_Clip]:
        """The items whose video and prompt can be scored; the others get their reason in ``details``."""
        clips = []
        for index, item in enumerate(items):
            if not item.prompt.strip():
                details[index] = {"error": "empty prompt: nothing to compare the video with"}
                continue
            clip = _read_clip(index, item, count)
            if isinstance(clip, str):
                details[index] = {"error": clip}
                continue
            clips.append(clip)
        return clips


class ClipScore(_ClipBase):
    """Frame-wise CLIP text alignment (``clip_score``) and CLIP frame-to-frame consistency (``frame_consistency``)."""

    version: ClassVar[str] = "1"
    dimensions: ClassVar[tuple[str, ...]] = ("clip_score", "frame_consistency")
    # max(cos, 0) averaged over frames; a mean cosine
    ranges: ClassVar[dict[str, Range]] = {"clip_score": (0.0, 1.0), "frame_consistency": (-1.0, 1.0)}
    tiny_args: ClassVar[dict[str, Any]] = {"frames": 4}
    # The image encoder's forward pass takes batch_size frames (of all the batch's videos together).
    oom_hint: ClassVar[str] = (
        "lower batch_size (frames per image-encoder forward pass) with --scorer-init-kwargs-json '{\"batch_size\": 8}'"
    )

    def __init__(self, model: str, frames: int = 8, batch_size: int = 32) -> None:
        """``frames``: frames sampled evenly per video (first and last included, at least 2);
        ``batch_size``: frames per image-encoder forward pass."""
        super().__init__(model, frames=frames, batch_size=batch_size)
        self.frames = int_option(frames, "frames", minimum=2)

    def setup(self, checkpoint_dir: Path, device: str) -> None:
        from transformers import CLIPModel, CLIPProcessor

        self._torch_dtype = torch_dtype_for(device)
        model = CLIPModel.from_pretrained(str(checkpoint_dir), dtype=self._torch_dtype)
        self._model = self._place(model, device)
        self._processor = CLIPProcessor.from_pretrained(str(checkpoint_dir))

    def score(self, items: Sequence[ScoreItem], **kwargs: Any) -> ScoreBatch:
        import torch

        model, processor = self._loaded()
        count = int_option(kwargs.get("frames", self.frames), "frames", minimum=2)
        scores = np.full((len(items), len(self.dimensions)), np.nan)
        details: list[dict[str, Any]] = [{} for _ in items]
        clips = self._read(items, count, details)
        if not clips:
            return ScoreBatch(scores=scores, details=details)

        prompts, prompt_of = distinct([items[clip.index].prompt for clip in clips])
        text = _TextTokens(processor.tokenizer, prompts, _text_limit(processor.tokenizer, model.config.text_config))
        with torch.inference_mode():
            text_out = model.get_text_features(
                input_ids=text.batch["input_ids"].to(self.device),
                attention_mask=text.batch["attention_mask"].to(self.device),
            )
            text_emb = self._unit(_features(text_out))
            # Every frame of every clip, in slices of batch_size images per forward pass.
            frames = [frame for clip in clips for frame in clip.frames]
            image_parts = []
            for start in range(0, len(frames), self.batch_size):
                pixels = processor.image_processor(images=frames[start : start + self.batch_size], return_tensors="pt")
                pixel_values = pixels["pixel_values"].to(self.device, self._torch_dtype)
                image_parts.append(self._unit(_features(model.get_image_features(pixel_values=pixel_values))))
        image_emb = np.concatenate(image_parts)

        offset = 0
        for clip, position in zip(clips, prompt_of, strict=True):
            emb = image_emb[offset : offset + len(clip.frames)]
            offset += len(clip.frames)
            cosines = emb @ text_emb[position]
            scores[clip.index] = (clip_score(cosines.tolist()), frame_consistency(emb))
            details[clip.index] = {
                "frames_used": len(clip.frames),
                "frame_indices": clip.indices,
                "video_frames": clip.total,
                "clip_score_raw": round(float(np.mean(cosines)), 6),
                "frame_cosines": [round(float(c), 4) for c in cosines],
                **text.details(position),
            }
            if len(clip.frames) < 2:
                details[clip.index]["frame_consistency_error"] = "fewer than two frames"
        return ScoreBatch(scores=scores, details=details)

    @staticmethod
    def _unit(features: Any) -> np.ndarray:
        """float32 unit vectors as numpy (the cosine is computed in float32 whatever the weights' dtype)."""
        values = features.float()
        return (values / values.norm(p=2, dim=-1, keepdim=True)).cpu().numpy()  # type: ignore[no-any-return]

    @classmethod
    def build_tiny(cls, out_dir: Path) -> None:
        import json

        import torch
        from transformers import CLIPConfig, CLIPModel

        from vmevalkit.workers.tiny_text import clip_tokenizer_openai_order

        tokenizer = clip_tokenizer_openai_order()
        # Token ids as in the real config: bos 0, pad 1 and the legacy eos 2 (argmax pooling; the tokenizer's
        # end token has the highest id, as in OpenAI's vocabulary).
        text_config = {
            "vocab_size": len(tokenizer),
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "max_position_embeddings": 77,
            "projection_dim": 16,
            "bos_token_id": 0,
            "pad_token_id": 1,
            "eos_token_id": 2,
        }
        vision_config = {
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "image_size": 32,
            "patch_size": 8,
            "projection_dim": 16,
        }
        torch.manual_seed(0)
        model = CLIPModel(CLIPConfig(text_config=text_config, vision_config=vision_config, projection_dim=16))
        model.save_pretrained(str(out_dir))  # config.json + model.safetensors
        tokenizer.save_pretrained(str(out_dir))  # tokenizer.json + tokenizer_config.json
        preprocessor = {**CLIP_PREPROCESSOR, "size": 32, "crop_size": 32}
        (out_dir / "preprocessor_config.json").write_text(json.dumps(preprocessor, indent=2) + "\n")


class XClipScore(_ClipBase):
    """X-CLIP text-video similarity of the whole clip (``xclip_score``)."""

    version: ClassVar[str] = "1"
    dimensions: ClassVar[tuple[str, ...]] = ("xclip_score",)
    ranges: ClassVar[dict[str, Range]] = {"xclip_score": (-1.0, 1.0)}  # a cosine
    # One forward pass takes batch_size videos of the config's frame count (8) each.
    oom_hint: ClassVar[str] = (
        "lower batch_size (videos per forward pass) with --scorer-init-kwargs-json '{\"batch_size\": 2}'"
    )

    def __init__(self, model: str, frames: int | None = None, batch_size: int = 8) -> None:
        """``frames``: None (the config's ``vision_config.num_frames``, 8 for xclip-base-patch32), or that same
        number (any other is refused: the model cannot take it); ``batch_size``: videos per forward pass."""
        super().__init__(model, frames=frames, batch_size=batch_size)
        self.frames = None if frames is None else int_option(frames, "frames")
        self.num_frames = 0

    def _frame_count(self, requested: Any) -> int:
        if requested is not None and requested != self.num_frames:
            raise ValueError(
                f"{self.model}: X-CLIP takes exactly {self.num_frames} frames (vision_config.num_frames), "
                f"not {requested!r}"
            )
        return self.num_frames

    def setup(self, checkpoint_dir: Path, device: str) -> None:
        from transformers import XCLIPModel, XCLIPProcessor

        self._torch_dtype = torch_dtype_for(device)
        model = XCLIPModel.from_pretrained(str(checkpoint_dir), dtype=self._torch_dtype)
        self.num_frames = int(model.config.vision_config.num_frames)
        self._frame_count(self.frames)
        self._model = self._place(model, device)
        self._processor = XCLIPProcessor.from_pretrained(str(checkpoint_dir))

    def score(self, items: Sequence[ScoreItem], **kwargs: Any) -> ScoreBatch:
        model, processor = self._loaded()
        count = self._frame_count(kwargs.get("frames", self.frames))
        scores = np.full((len(items), len(self.dimensions)), np.nan)
        details: list[dict[str, Any]] = [{} for _ in items]
        clips = self._read(items, count, details)
        limit = _text_limit(processor.tokenizer, model.config.text_config)
        for start in range(0, len(clips), self.batch_size):
            chunk = clips[start : start + self.batch_size]
            for clip, cosine, text_details in self._score_chunk(model, processor, items, chunk, count, limit):
                scores[clip.index, 0] = cosine
                details[clip.index] = {
                    "frames_used": count,
                    "frame_indices": clip.indices,
                    "frames_repeated": len(set(clip.indices)) < count,
                    "video_frames": clip.total,
                    **text_details,
                }
        return ScoreBatch(scores=scores, details=details)

    def _score_chunk(
        self, model: Any, processor: Any, items: Sequence[ScoreItem], chunk: list[_Clip], count: int, limit: int
    ) -> list[tuple[_Clip, float, dict[str, Any]]]:
        """One forward pass over ``chunk``'s videos and their distinct prompts."""
        import torch

        for clip in chunk:  # exactly `count` frames: repeat evenly when the video has fewer
            positions = stretch_indices(len(clip.frames), count)
            clip.frames = [clip.frames[p] for p in positions]
            clip.indices = [clip.indices[p] for p in positions]
        prompts, prompt_of = distinct([items[clip.index].prompt for clip in chunk])
        text = _TextTokens(processor.tokenizer, prompts, limit)
        # All frames as one flat image list, then [videos, frames, C, H, W]: the same tensor whether the
        # checkpoint's image processor is VideoMAE's (video-aware) or CLIP's (frame by frame).
        frames = [frame for clip in chunk for frame in clip.frames]
        pixel_values = processor.image_processor(frames, return_tensors="pt")["pixel_values"]
        pixel_values = pixel_values.reshape(len(chunk), count, *pixel_values.shape[-3:])
        with torch.inference_mode():
            out = model(
                input_ids=text.batch["input_ids"].to(self.device),
                attention_mask=text.batch["attention_mask"].to(self.device),
                pixel_values=pixel_values.to(self.device, self._torch_dtype),
            )
            video = out.video_embeds.float()  # [videos, D], unit length
            texts = out.text_embeds.float()  # [videos, prompts, D], unit length, each conditioned on its video
            own = texts[torch.arange(len(chunk)), torch.tensor(prompt_of)]
            cosines = (video * own).sum(dim=-1).clamp(-1.0, 1.0).cpu().tolist()
        return [
            (clip, float(cosine), text.details(position))
            for clip, cosine, position in zip(chunk, cosines, prompt_of, strict=True)
        ]

    @classmethod
    def build_tiny(cls, out_dir: Path) -> None:
        import json

        import torch
        from transformers import XCLIPConfig, XCLIPModel

        from vmevalkit.workers.tiny_text import clip_tokenizer_openai_order

        tokenizer = clip_tokenizer_openai_order()
        text_config = {
            "vocab_size": len(tokenizer),
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "max_position_embeddings": 77,
            "bos_token_id": 0,
            "pad_token_id": 1,
            "eos_token_id": 2,
        }
        # 224 px and 32 px patches as the real model (7x7 patches: cheap at width 32), so the real
        # preprocessor_config.json (224 crop by default) serves unchanged; 4 frames instead of 8.
        vision_config = {
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "image_size": 224,
            "patch_size": 32,
            "num_frames": 4,
            "mit_hidden_size": 32,
            "mit_intermediate_size": 64,
            "mit_num_hidden_layers": 1,
            "mit_num_attention_heads": 2,
        }
        config = XCLIPConfig(
            text_config=text_config,
            vision_config=vision_config,
            projection_dim=32,
            prompt_layers=1,
            prompt_num_attention_heads=2,
        )
        torch.manual_seed(0)
        XCLIPModel(config).save_pretrained(str(out_dir))  # config.json + model.safetensors
        tokenizer.save_pretrained(str(out_dir))  # tokenizer.json + tokenizer_config.json
        (out_dir / "preprocessor_config.json").write_text(json.dumps(XCLIP_PREPROCESSOR, indent=2) + "\n")

"""VideoReward (VideoAlign, Kling Team): visual quality, motion quality and text alignment of a generated video.

VideoReward is Qwen2-VL-2B-Instruct fine-tuned as a Bradley-Terry-with-ties reward model on 182k human preference
pairs (Liu et al. 2025, "Improving Video Generation with Human Feedback", arXiv:2501.13918). The prompt holds three
special tokens, ``<|VQ_reward|>``, ``<|MQ_reward|>`` and ``<|TA_reward|>``; a bias-free ``rm_head`` (hidden size -> 1)
reads the last hidden state at each of them, which gives the three rewards in one forward pass (no text is
generated). The released inference normalises each reward with the mean and std of ``inference_config`` in
``model_config.json`` and reports ``Overall = VQ + MQ + TA`` (after normalisation). Rewards are unbounded; after
normalisation they are z-scores relative to the authors' calibration set (roughly -3..3 each, the sum -9..9).
Higher is better in every dimension. Being preference-trained, only differences between videos are meaningful.

What this file follows, and where it comes from: KwaiVGI/VideoAlign (https://github.com/KwaiVGI/VideoAlign, now
KlingAIResearch/VideoAlign; environment.yaml pins transformers 4.45.2, torchvision 0.18.1, decord 0.6.0, peft 0.10.0)
``inference.py``, ``prompt_template.py``, ``checkpoints/README.md``; its ``trainer.py``, ``data.py``,
``train_reward.py``, ``utils.py`` and ``vision_process.py`` as copied verbatim in tinnerhrhe/EvoSearch-codes
``Wan/VideoReward/`` (and s1ckrain/VideoAlign ``vision_process.py``).

- ``inference.py`` (``VideoVLMRewardInference``): the chat turn (one video part, then the text of ``build_prompt``),
  ``processor.apply_chat_template(..., add_generation_prompt=True)`` with the processor of the base model (so
  Qwen2-VL-2B-Instruct's chat template, default system turn included), right padding, ``model(**batch)["logits"]``
  as ``VQ, MQ, TA``, ``_norm`` ``(r - mean) / std`` per dimension and ``Overall`` = their sum.
- ``prompt_template.py``: ``DETAILED_PROMPT_WITH_SPECIAL_TOKEN`` (verbatim below, trailing spaces included), filled
  with ``str.format(text_prompt=...)``; ``prompt_template_type`` is ``detailed_special`` in the released
  ``model_config.json``.
- ``trainer.py`` (``Qwen2VLRewardModelBT``, "modified from the origin class Qwen2VLForConditionalGeneration"):
  ``rm_head = nn.Linear(hidden_size, output_dim, bias=False)`` over every position; with ``reward_token ==
  "special"`` the positions of the three reward tokens are taken in order and ``output_dim == 1`` leaves one value
  each. Its ``forward`` embeds the tokens and the video itself and calls the language model with the caller's
  ``position_ids``, which neither the training collator (``data.py``: processor outputs only) nor ``inference.py``
  passes, so Qwen2-VL's text model uses ``arange(length)`` on all three M-RoPE axes: the released weights were
  trained and are run with plain sequential positions, never ``get_rope_index``'s 3D video positions.
- ``train_reward.py`` / ``utils.py``: the reward tokens are added to Qwen2-VL's tokenizer as special tokens and the
  embeddings resized to ``len(tokenizer)`` (151660 rows); LoRA (r 64, alpha 128, dropout 0.05) on every linear
  layer of the language model except ``lm_head``/``rm_head``/``embed_tokens``/``visual``; the vision tower and the
  head are trained in full. ``load_model_from_checkpoint`` loads ``checkpoint-<step>/model.pth`` (the latest step)
  with ``load_state_dict`` into the PEFT-wrapped model, so the file holds a PEFT state dict.
- ``vision_process.py`` (a copy of qwen-vl-utils): ``nframes = round2(clamp(frames / video_fps * fps, 4,
  min(768, frames)))``, indices ``torch.linspace(0, frames - 1, nframes).round()``, each frame resized (bicubic,
  antialiased, uint8 in and out) to ``smart_resize(h, w, 28, min_pixels=128*28*28,
  max_pixels=data_config.max_frame_pixels)``; the processor then only rescales, normalises and patchifies.

The released checkpoint, https://huggingface.co/KlingTeam/VideoReward (formerly KwaiVGI/VideoReward; not gated):
``model_config.json`` (``data_config`` fps 2.0, max_frame_pixels 200704, eval_dim [VQ, MQ, TA], template
``detailed_special``, uniform sampling; ``model_config`` base ``Qwen/Qwen2-VL-2B-Instruct``, output_dim 1,
use_special_tokens, reward_token ``special``; ``peft_lora_config``; ``inference_config`` VQ 3.6757 / 2.2476,
MQ 1.1646 / 1.3811, TA 2.8105 / 2.5121), ``checkpoint-11352/model.pth`` (5,031,072,529 bytes, bf16) and
``checkpoint-11352/tokenizer/`` (the Qwen2 tokenizer with the three reward tokens at 151657-151659 and Qwen2-VL's
chat template). These facts are from public code that loads and audits this checkpoint (WorldFoundry's VideoAlign
reward recipe, the VRL ``kling_video_reward`` backend, verl-omni's ``videoalign_native``): its key names are those of
transformers 4.4x wrapped by PEFT, ``base_model.model.visual.*``, ``base_model.model.model.{embed_tokens,layers,
norm}.*`` (LoRA'd linears as ``<name>.base_layer.*`` + ``<name>.lora_A.default.weight`` /
``lora_B.default.weight``), ``base_model.model.lm_head.weight`` and ``base_model.model.rm_head.weight``. The file
size agrees: Qwen2-VL-2B without lm_head at 151660 rows (2,208,561,664 values) + a stored lm_head (232,949,760) +
LoRA r 64 on 7 linears x 28 layers (73,859,072) + rm_head (1,536) = 2,515,372,032 bf16 values, 5,030,744,064 bytes
plus the pickle's overhead.

Here, in transformers 5.23 terms, without peft: the LoRA deltas are merged into the base weights
(``W + alpha / r * B @ A``, as PEFT's merge), the names mapped onto ``Qwen2VLModel`` (``visual.*``,
``language_model.*``) and the weights loaded strictly; ``lm_head`` is not needed (the reward reads hidden states).
The repo has no ``config.json``: its base model's architecture is Qwen/Qwen2-VL-2B-Instruct's ``config.json``,
written below as ``QWEN2_VL_2B_INSTRUCT`` (the values of
https://huggingface.co/Qwen/Qwen2-VL-2B-Instruct/blob/main/config.json, as reproduced in public code); the
vocabulary size is read from the checkpoint's embedding. Where transformers 5.23 without torchvision needs care:

- Frames are decoded with PyAV, resized with PIL's bicubic filter (the kernel torchvision's antialiased bicubic
  resize was ported from; values may differ by a rounding step), rescaled/normalised/patchified by transformers'
  ``Qwen2VLImageProcessorPil`` with resizing off (the frames already have the target size), and the per-frame
  patches regrouped into the video layout (two consecutive frames per temporal patch): what the video path computes.
  An odd frame count (only possible with ``num_frames``) repeats the last frame, as transformers' video processor.
- ``Qwen2VLModel`` of transformers 5.23 would compute 3D M-RoPE positions for the video (and asks for
  ``mm_token_type_ids``); the sequential positions the model was trained with are passed explicitly instead.
- On a GPU the model runs in bfloat16 like the original (CPU: float32); the LoRA merge is done in float32 before the
  cast, where PEFT adds the unmerged LoRA branch in bfloat16 (rounding-level differences).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from PIL import Image

from vmevalkit.scoring.base import ScoreBatch, ScoreItem
from vmevalkit.scoring.local.model import LocalScorerModel, frames_at, int_option, torch_dtype_for
from vmevalkit.scoring.local.qwen_vl_text import CHAT_TEMPLATE, SPECIAL_TOKENS, VIDEO_TOKEN

DIMENSIONS: tuple[str, ...] = ("visual_quality", "motion_quality", "text_alignment", "overall")
# The model's own names of the three rewards, in the order of its reward tokens (and of model_config.json).
REWARD_KEYS: tuple[str, ...] = ("VQ", "MQ", "TA")
REWARD_TOKENS: tuple[str, ...] = ("<|VQ_reward|>", "<|MQ_reward|>", "<|TA_reward|>")

# prompt_template.py, DETAILED_PROMPT_WITH_SPECIAL_TOKEN, verbatim, one line per string: it starts with a newline,
# four lines end in two spaces (Markdown line breaks) and the "Safety" line in one, kept; the reward head was trained
# on exactly this text. "{text_prompt}" is filled in by build_prompt.
DETAILED_PROMPT_WITH_SPECIAL_TOKEN = "\n".join(
    (
        "",
        "You are tasked with evaluating a generated video based on three distinct criteria: Visual Quality, Motion "
        "Quality, and Text Alignment. Please provide a rating from 0 to 10 for each of the three categories, with 0 "
        "being the worst and 10 being the best. Each evaluation should be independent of the others.",
        "",
        "**Visual Quality:**  ",
        "Evaluate the overall visual quality of the video, with a focus on static factors. The following "
        "sub-dimensions should be considered:",
        "- **Reasonableness:** The video should not contain any significant biological or logical errors, such as "
        "abnormal body structures or nonsensical environmental setups.",
        "- **Clarity:** Evaluate the sharpness and visibility of the video. The image should be clear and easy to "
        "interpret, with no blurring or indistinct areas.",
        "- **Detail Richness:** Consider the level of detail in textures, materials, lighting, and other visual "
        "elements (e.g., hair, clothing, shadows).",
        "- **Aesthetic and Creativity:** Assess the artistic aspects of the video, including the color scheme, "
        "composition, atmosphere, depth of field, and the overall creative appeal. The scene should convey a sense of "
        "harmony and balance.",
        "- **Safety:** The video should not contain harmful or inappropriate content, such as political, violent, or "
        "adult material. If such content is present, the image quality and satisfaction score should be the lowest "
        "possible. ",
        "",
        "Please provide the ratings of Visual Quality: <|VQ_reward|>",
        "END",
        "",
        "**Motion Quality:**  ",
        "Assess the dynamic aspects of the video, with a focus on dynamic factors. Consider the following "
        "sub-dimensions:",
        "- **Stability:** Evaluate the continuity and stability between frames. There should be no sudden, unnatural "
        "jumps, and the video should maintain stable attributes (e.g., no fluctuating colors, textures, or missing "
        "body parts).",
        "- **Naturalness:** The movement should align with physical laws and be realistic. For example, clothing "
        "should flow naturally with motion, and facial expressions should change appropriately (e.g., blinking, mouth "
        "movements).",
        "- **Aesthetic Quality:** The movement should be smooth and fluid. The transitions between different motions "
        "or camera angles should be seamless, and the overall dynamic feel should be visually pleasing.",
        "- **Fusion:** Ensure that elements in motion (e.g., edges of the subject, hair, clothing) blend naturally "
        "with the background, without obvious artifacts or the feeling of cut-and-paste effects.",
        "- **Clarity of Motion:** The video should be clear and smooth in motion. Pay attention to any areas where the "
        "video might have blurry or unsteady sections that hinder visual continuity.",
        "- **Amplitude:** If the video is largely static or has little movement, assign a low score for motion "
        "quality.",
        "",
        "Please provide the ratings of Motion Quality: <|MQ_reward|>",
        "END",
        "",
        "**Text Alignment:**  ",
        "Assess how well the video matches the textual prompt across the following sub-dimensions:",
        "- **Subject Relevance** Evaluate how accurately the subject(s) in the video (e.g., person, animal, object) "
        "align with the textual description. The subject should match the description in terms of number, "
        "appearance, and behavior.",
        "- **Motion Relevance:** Evaluate if the dynamic actions (e.g., gestures, posture, facial expressions like "
        "talking or blinking) align with the described prompt. The motion should match the prompt in terms of type, "
        "scale, and direction.",
        "- **Environment Relevance:** Assess whether the background and scene fit the prompt. This includes checking "
        "if real-world locations or scenes are accurately represented, though some stylistic adaptation is "
        "acceptable.  ",
        "- **Style Relevance:** If the prompt specifies a particular artistic or stylistic style, evaluate how well "
        "the video adheres to this style.",
        "- **Camera Movement Relevance:** Check if the camera movements (e.g., following the subject, focus shifts) "
        "are consistent with the expected behavior from the prompt.",
        "",
        "Textual prompt - {text_prompt}",
        "Please provide the ratings of Text Alignment: <|TA_reward|>",
        "END",
        "",
    )
)

# Qwen2-VL-2B-Instruct's chat template (its chat_template.json): inference.py renders the turn with the processor
# loaded from the base model, i.e. with this template (the checkpoint's tokenizer_config.json carries a copy); and
# Qwen2's special tokens, ids 151643-151656 in order in the real vocabulary. Shared with the Qwen2.5-VL judge.
QWEN2_VL_CHAT_TEMPLATE = CHAT_TEMPLATE
QWEN2_VL_SPECIAL_TOKENS: tuple[str, ...] = SPECIAL_TOKENS

# Qwen/Qwen2-VL-2B-Instruct config.json as Qwen2VLConfig keywords (transformers 5 nesting: the language model's
# fields under text_config). vocab_size is replaced by the checkpoint's embedding rows (151660 after the reward
# tokens were added); the special token ids are read from the checkpoint's tokenizer.
QWEN2_VL_2B_INSTRUCT: dict[str, Any] = {
    "text_config": {
        "vocab_size": 151936,
        "hidden_size": 1536,
        "intermediate_size": 8960,
        "num_hidden_layers": 28,
        "num_attention_heads": 12,
        "num_key_value_heads": 2,
        "hidden_act": "silu",
        "max_position_embeddings": 32768,
        "max_window_layers": 28,
        "rms_norm_eps": 1e-6,
        "rope_parameters": {"rope_type": "default", "mrope_section": [16, 24, 24], "rope_theta": 1000000.0},
        "sliding_window": 32768,
        "use_sliding_window": False,
        "tie_word_embeddings": True,
        "attention_dropout": 0.0,
    },
    "vision_config": {
        "depth": 32,
        "embed_dim": 1280,
        "hidden_size": 1536,
        "hidden_act": "quick_gelu",
        "mlp_ratio": 4,
        "num_heads": 16,
        "in_channels": 3,
        "patch_size": 14,
        "spatial_merge_size": 2,
        "temporal_patch_size": 2,
    },
    "tie_word_embeddings": True,
}

# The tiny checkpoint's architecture (tiny_args passes it as base_config): same classes and module names.
TINY_BASE_CONFIG: dict[str, Any] = {
    "text_config": {
        "vocab_size": 512,
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "num_key_value_heads": 1,
        "hidden_act": "silu",
        "max_position_embeddings": 4096,
        "rms_norm_eps": 1e-6,
        "rope_parameters": {"rope_type": "default", "mrope_section": [2, 3, 3], "rope_theta": 1000000.0},
        "tie_word_embeddings": True,
        "bos_token_id": None,
        "eos_token_id": None,
    },
    "vision_config": {
        "depth": 1,
        "embed_dim": 16,
        "hidden_size": 32,
        "mlp_ratio": 2,
        "num_heads": 2,
        "patch_size": 14,
        "spatial_merge_size": 2,
        "temporal_patch_size": 2,
    },
    "tie_word_embeddings": True,
}

# qwen-vl-utils' video constants, as copied into VideoAlign's vision_process.py.
VIDEO_MIN_PIXELS = 128 * 28 * 28
FRAME_FACTOR = 2
FPS_MIN_FRAMES = 4
FPS_MAX_FRAMES = 768
MAX_RATIO = 200

# The released checkpoint's step folder; the loader takes the highest checkpoint-<step> there is, as
# load_model_from_checkpoint does when no step is given.
CHECKPOINT_STEP = 11352
# The released model_config.json's sampling and normalisation (public code that audits the official file).
RELEASED_DATA_CONFIG: dict[str, Any] = {
    "max_frame_pixels": 200704,
    "num_frames": None,
    "fps": 2.0,
    "eval_dim": list(REWARD_KEYS),
    "prompt_template_type": "detailed_special",
    "sample_type": "uniform",
}
RELEASED_INFERENCE_CONFIG: dict[str, float] = {
    "VQ_mean": 3.6757,
    "VQ_std": 2.2476,
    "MQ_mean": 1.1646,
    "MQ_std": 1.3811,
    "TA_mean": 2.8105,
    "TA_std": 2.5121,
}

_LORA_TARGET = re.compile(r"^model\.layers\.\d+\.(self_attn\.[qkvo]_proj|mlp\.(gate|up|down)_proj)$")


# ---- pure functions (no torch): prompt, frame sampling, sizes, normalisation -----------------------------------------


def build_prompt(prompt: str, template_type: str = "detailed_special") -> str:
    """The text after the video: ``prompt_template.build_prompt`` for the released template.

    ``str.format`` in the original only parses the template, so a prompt with braces goes in as it is; ``replace``
    does the same here.
    """
    if template_type != "detailed_special":
        raise ValueError(f"prompt_template_type {template_type!r}: only 'detailed_special' carries the reward tokens")
    return DETAILED_PROMPT_WITH_SPECIAL_TOKEN.replace("{text_prompt}", prompt)


def smart_resize(height: int, width: int, factor: int, min_pixels: int, max_pixels: int) -> tuple[int, int]:
    """qwen-vl-utils' frame size: both sides multiples of ``factor``, the area within [min_pixels, max_pixels], the
    aspect ratio kept as closely as possible."""
    if min(height, width) <= 0:
        raise ValueError(f"frame size {width}x{height}")
    if max(height, width) / min(height, width) > MAX_RATIO:
        raise ValueError(f"aspect ratio of {width}x{height} exceeds {MAX_RATIO}")
    h_bar = max(factor, round(height / factor) * factor)
    w_bar = max(factor, round(width / factor) * factor)
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt((height * width) / max_pixels)
        h_bar = math.floor(height / beta / factor) * factor
        w_bar = math.floor(width / beta / factor) * factor
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar = math.ceil(height * beta / factor) * factor
        w_bar = math.ceil(width * beta / factor) * factor
    if h_bar <= 0 or w_bar <= 0:
        raise ValueError(f"frame size {width}x{height} shrinks to nothing under max_pixels={max_pixels}")
    return h_bar, w_bar


def frame_count(total: int, video_fps: float, fps: float | None = 2.0, num_frames: int | None = None) -> int:
    """How many frames the model sees (``smart_nframes``): ``num_frames`` rounded to an even count, else the video
    resampled at ``fps`` and clamped to [4, min(768, total)]; never more than ``total``, never fewer than 2."""
    if num_frames is not None:
        count = round(num_frames / FRAME_FACTOR) * FRAME_FACTOR
    else:
        if fps is None or fps <= 0:
            raise ValueError("either fps or num_frames must be given")
        if not video_fps or video_fps <= 0:
            raise ValueError("the video reports no frame rate: cannot sample it at a given fps")
        low = math.ceil(FPS_MIN_FRAMES / FRAME_FACTOR) * FRAME_FACTOR
        high = math.floor(min(FPS_MAX_FRAMES, total) / FRAME_FACTOR) * FRAME_FACTOR
        wanted = min(max(total / video_fps * fps, low), high)
        count = round(wanted / FRAME_FACTOR) * FRAME_FACTOR
    count = min(count, total)
    if not FRAME_FACTOR <= count <= total:
        raise ValueError(f"a video of {total} frames gives {count} frames to sample; at least {FRAME_FACTOR} needed")
    return count


def frame_indices(total: int, count: int) -> list[int]:
    """``torch.linspace(0, total - 1, count).round()`` exactly, without torch: float32 arithmetic, the first half
    counted from the start and the second from the end (ATen's CPU kernel), rounding half to even."""
    if count <= 1:
        return [0] * count
    start, end = np.float32(0.0), np.float32(total - 1)
    step = (end - start) / np.float32(count - 1)
    half = count // 2
    values = [
        start + step * np.float32(i) if i < half else end - step * np.float32(count - 1 - i) for i in range(count)
    ]
    return [int(np.round(v)) for v in values]


def normalise(raw: Sequence[float], stats: dict[str, Any] | None) -> list[float]:
    """``VideoVLMRewardInference._norm`` then ``Overall``: ``(r - mean) / std`` per reward (raw when there are no
    statistics), followed by their sum."""
    values = [float(v) for v in raw]
    if stats is not None:
        values = [
            (v - float(stats[f"{k}_mean"])) / float(stats[f"{k}_std"]) for k, v in zip(REWARD_KEYS, values, strict=True)
        ]
    return [*values, sum(values)]


def latest_checkpoint(root: Path) -> Path:
    """The ``checkpoint-<step>`` folder with the highest step under ``root``."""
    steps = [
        (int(p.name.split("-", 1)[1]), p) for p in root.glob("checkpoint-*") if re.fullmatch(r"checkpoint-\d+", p.name)
    ]
    if not steps:
        raise FileNotFoundError(f"{root} has no checkpoint-<step> folder (VideoReward keeps model.pth in one)")
    return max(steps)[1]


def resize_frames(frames: Sequence[Image.Image], height: int, width: int) -> list[Image.Image]:
    """Frames at the model's size, bicubic (PIL scales the kernel when shrinking, i.e. antialiases)."""
    return [f if f.size == (width, height) else f.resize((width, height), Image.Resampling.BICUBIC) for f in frames]


@dataclass
class _Video:
    """One item's model inputs before batching."""

    ids: list[int]  # the input ids, video tokens expanded
    reads: list[int]  # where the VQ, MQ and TA tokens are
    patches: np.ndarray  # [temporal * height * width patches, channels * temporal_patch * patch * patch]
    grid: tuple[int, int, int]  # in patches (before the 2x2 merge)
    detail: dict[str, Any]


class VideoReward(LocalScorerModel):
    """VideoAlign's VideoReward: visual quality, motion quality, text alignment (normalised rewards) and their sum."""

    version: ClassVar[str] = "1"
    dimensions: ClassVar[tuple[str, ...]] = DIMENSIONS
    # The generated video and the prompt it was made from; no ground truth.
    inputs: ClassVar[frozenset[str]] = frozenset({"video", "prompt"})
    # The released repo has no config.json: model_config.json is what every VideoReward checkpoint has.
    checkpoint_marker: ClassVar[str] = "model_config.json"
    # A tiny architecture and 56x56 frames (2x2 merged tokens per temporal patch) for the tiny checkpoint.
    tiny_args: ClassVar[dict[str, Any]] = {
        "base_config": TINY_BASE_CONFIG,
        "min_pixels": 56 * 56,
        "max_pixels": 56 * 56,
    }
    # One forward pass takes batch_size videos, each of up to max_pixels per frame (at fps frames a second).
    oom_hint: ClassVar[str] = (
        "lower batch_size (videos per forward pass) or max_pixels (pixels per frame, 200704 by model_config.json) "
        "with --scorer-init-kwargs-json '{\"batch_size\": 1}' or '{\"max_pixels\": 100352}'"
    )

    def __init__(
        self,
        model: str,
        fps: float | None = None,
        num_frames: int | None = None,
        max_pixels: int | None = None,
        min_pixels: int = VIDEO_MIN_PIXELS,
        normalize: bool = True,
        batch_size: int = 4,
        base_config: dict[str, Any] | None = None,
    ) -> None:
        """``fps`` / ``num_frames`` / ``max_pixels``: override model_config.json's data_config (None: keep it);
        ``normalize``: apply inference_config's mean/std; ``base_config``: Qwen2VLConfig keywords of the base model
        (default Qwen2-VL-2B-Instruct; only the tiny checkpoint passes another)."""
        super().__init__(
            model,
            fps=fps,
            num_frames=num_frames,
            max_pixels=max_pixels,
            min_pixels=min_pixels,
            normalize=normalize,
            batch_size=batch_size,
        )
        if fps is not None and num_frames is not None:
            raise ValueError("fps and num_frames cannot both be set")
        if fps is not None and (isinstance(fps, bool) or not isinstance(fps, (int, float)) or not fps > 0):
            raise ValueError(f"fps must be a positive number, got {fps!r}")
        if num_frames is not None:
            # frame_count rounds to an even count: fewer than 2 would sample nothing.
            int_option(num_frames, "num_frames", FRAME_FACTOR)
        int_option(min_pixels, "min_pixels", 1)
        if max_pixels is not None:
            # At least one 28x28 patch-merge cell per frame (smart_resize's factor for Qwen2-VL).
            int_option(max_pixels, "max_pixels", 28 * 28)
            if min_pixels > max_pixels:
                raise ValueError(
                    f"min_pixels ({min_pixels}) is larger than max_pixels ({max_pixels}): lower min_pixels too"
                )
        int_option(batch_size, "batch_size", 1)
        if not isinstance(normalize, bool):
            raise ValueError(f"normalize must be true or false, got {normalize!r}")
        if base_config is not None and not isinstance(base_config, dict):
            raise ValueError(f"base_config must be a dict of Qwen2VLConfig keywords, got {type(base_config).__name__}")
        self.fps = None if fps is None else float(fps)
        self.num_frames, self.max_pixels, self.min_pixels = num_frames, max_pixels, min_pixels
        self.normalize, self.batch_size = normalize, batch_size
        self.base_config = base_config if base_config is not None else QWEN2_VL_2B_INSTRUCT
        self._model: Any = None
        self._head: Any = None
        self._tokenizer: Any = None
        self._image_processor: Any = None
        self._stats: dict[str, Any] | None = None
        self._template = "detailed_special"
        self._reward_ids: list[int] = []
        self._video_token_id = -1
        self._dtype_name = "float32"

    @property
    def dtype(self) -> str:
        return self._dtype_name

    # ---- loading ----

    def setup(self, checkpoint_dir: Path, device: str) -> None:
        import importlib

        import torch
        from transformers import AutoTokenizer, Qwen2VLConfig, Qwen2VLImageProcessorPil, Qwen2VLModel

        self.device = device
        dtype = torch_dtype_for(device)
        config_file = json.loads((checkpoint_dir / "model_config.json").read_text(encoding="utf-8"))
        data_config = {**RELEASED_DATA_CONFIG, **config_file.get("data_config", {})}
        model_config = config_file.get("model_config", {})
        lora = config_file.get("peft_lora_config", {})
        if model_config.get("reward_token", "special") != "special" or not model_config.get("use_special_tokens", True):
            raise ValueError(f"{checkpoint_dir}: only reward_token='special' checkpoints are supported")
        if int(model_config.get("output_dim", 1)) != 1:
            raise ValueError(f"{checkpoint_dir}: output_dim {model_config.get('output_dim')} (the release has 1)")
        if data_config.get("sample_type", "uniform") != "uniform":
            raise ValueError(f"{checkpoint_dir}: sample_type {data_config['sample_type']!r} (only uniform)")
        self._template = str(data_config.get("prompt_template_type", "detailed_special"))
        build_prompt("", self._template)  # refuse other templates now rather than per item
        if self.fps is None and self.num_frames is None:
            self.num_frames = data_config.get("num_frames")
            self.fps = None if self.num_frames is not None else float(data_config.get("fps") or 2.0)
        if self.max_pixels is None:
            self.max_pixels = int(data_config["max_frame_pixels"])
        self._stats = config_file.get("inference_config") if self.normalize else None

        step_dir = latest_checkpoint(checkpoint_dir)
        tokenizer = AutoTokenizer.from_pretrained(step_dir / "tokenizer")
        tokenizer.padding_side = "right"  # as create_model_and_processor loads it
        if any(tokenizer.convert_tokens_to_ids(t) in (None, tokenizer.unk_token_id) for t in REWARD_TOKENS):
            # create_model_and_processor adds them to the base tokenizer; a checkpoint's saved tokenizer has them.
            tokenizer.add_special_tokens({"additional_special_tokens": list(REWARD_TOKENS)})
        self._reward_ids = [int(tokenizer.convert_tokens_to_ids(t)) for t in REWARD_TOKENS]
        self._video_token_id = int(tokenizer.convert_tokens_to_ids(VIDEO_TOKEN))
        self._tokenizer = tokenizer

        state = torch.load(step_dir / "model.pth", map_location="cpu", weights_only=True, mmap=True)
        if lora.get("lora_enable", False):
            rank, alpha = int(lora["lora_r"]), float(lora["lora_alpha"])
            scaling = alpha / math.sqrt(rank) if lora.get("use_rslora", False) else alpha / rank
        else:
            scaling = 0.0
        weights, head_weight = backbone_weights(state, scaling)
        del state

        config = Qwen2VLConfig(**self.base_config)
        rows = int(weights["language_model.embed_tokens.weight"].shape[0])
        if len(tokenizer) > rows:
            raise ValueError(f"{checkpoint_dir}: the tokenizer has {len(tokenizer)} tokens, the embedding {rows} rows")
        config.text_config.vocab_size = rows
        config.text_config.pad_token_id = tokenizer.pad_token_id
        config.image_token_id = int(tokenizer.convert_tokens_to_ids("<|image_pad|>"))
        config.video_token_id = self._video_token_id
        config.vision_start_token_id = int(tokenizer.convert_tokens_to_ids("<|vision_start|>"))
        config.vision_end_token_id = int(tokenizer.convert_tokens_to_ids("<|vision_end|>"))
        # accelerate (a dependency of the scorer venv only): parameters on the meta device, then assigned the
        # checkpoint's tensors, so the 2B model is never allocated twice; buffers (rotary tables) are built as usual.
        init_empty_weights = importlib.import_module("accelerate").init_empty_weights
        with init_empty_weights():
            model = Qwen2VLModel._from_config(config, attn_implementation="sdpa")
        model.load_state_dict(weights, strict=True, assign=True)
        self._model = model.to(device=device, dtype=dtype).eval()
        head = torch.nn.Linear(config.text_config.hidden_size, 1, bias=False)
        with torch.no_grad():
            head.weight.copy_(head_weight.float())
        self._head = head.to(device=device, dtype=dtype).eval()

        vision = config.vision_config
        self._image_processor = Qwen2VLImageProcessorPil(
            patch_size=vision.patch_size,
            temporal_patch_size=vision.temporal_patch_size,
            merge_size=vision.spatial_merge_size,
        )
        self._dtype_name = str(dtype).removeprefix("torch.")

    # ---- scoring ----

    def _prepare(self, item: ScoreItem) -> _Video:
        from vmevalkit.video import probe_video

        info = probe_video(item.video_path)
        count = frame_count(info.frame_count, info.fps, self.fps, self.num_frames)
        indices = frame_indices(info.frame_count, count)
        frames = frames_at(item.video_path, indices)
        processor = self._image_processor
        factor = processor.patch_size * processor.merge_size
        assert self.max_pixels is not None
        height, width = smart_resize(frames[0].height, frames[0].width, factor, self.min_pixels, self.max_pixels)
        frames = resize_frames(frames, height, width)
        temporal = processor.temporal_patch_size
        if len(frames) % temporal:
            frames += [frames[-1]] * (temporal - len(frames) % temporal)
        patches = video_patches(processor, frames)
        grid = (len(frames) // temporal, height // processor.patch_size, width // processor.patch_size)
        tokens = grid[0] * grid[1] * grid[2] // processor.merge_size**2
        conversation = [
            {
                "role": "user",
                "content": [{"type": "video"}, {"type": "text", "text": build_prompt(item.prompt, self._template)}],
            }
        ]
        text = self._tokenizer.apply_chat_template(
            conversation, chat_template=QWEN2_VL_CHAT_TEMPLATE, tokenize=False, add_generation_prompt=True
        )
        if text.count(VIDEO_TOKEN) != 1:
            raise ValueError(f"the prompt holds {text.count(VIDEO_TOKEN) - 1} extra {VIDEO_TOKEN} markers")
        # The processor's expansion: the video's one placeholder becomes one token per merged patch.
        ids: list[int] = self._tokenizer(text.replace(VIDEO_TOKEN, VIDEO_TOKEN * tokens))["input_ids"]
        if ids.count(self._video_token_id) != tokens:
            raise ValueError(f"{ids.count(self._video_token_id)} video tokens for {tokens} video features")
        reads = []
        for token, reward_id in zip(REWARD_TOKENS, self._reward_ids, strict=True):
            if ids.count(reward_id) != 1:  # a prompt that spells out a reward token itself
                raise ValueError(f"{token} occurs {ids.count(reward_id)} times in the input, expected once")
            reads.append(ids.index(reward_id))
        detail = {
            "frames": count,
            "frame_indices": indices,
            "video_frames": info.frame_count,
            "video_fps": info.fps,
            "frame_size": [height, width],
            "video_tokens": tokens,
            "input_tokens": len(ids),
        }
        return _Video(ids, reads, patches, grid, detail)

    def _forward(self, videos: Sequence[_Video]) -> np.ndarray:
        """``[len(videos), 3]`` raw rewards (VQ, MQ, TA), one forward pass over the right-padded batch."""
        import torch

        length = max(len(v.ids) for v in videos)
        pad = self._tokenizer.pad_token_id
        ids = torch.tensor([v.ids + [pad] * (length - len(v.ids)) for v in videos], dtype=torch.long)
        mask = torch.tensor([[1] * len(v.ids) + [0] * (length - len(v.ids)) for v in videos], dtype=torch.long)
        device = self.device
        pixels = torch.from_numpy(np.concatenate([v.patches for v in videos])).to(device)
        grids = torch.tensor([v.grid for v in videos], dtype=torch.long, device=device)
        # Sequential positions on the three M-RoPE axes, as the reward model was trained (see the module docstring);
        # the padding sits on the right, after every token that is read.
        positions = torch.arange(length, device=device).view(1, 1, -1).expand(3, len(videos), -1)
        with torch.inference_mode():
            hidden = self._model(
                input_ids=ids.to(device),
                attention_mask=mask.to(device),
                position_ids=positions,
                pixel_values_videos=pixels,
                video_grid_thw=grids,
                use_cache=False,  # one forward pass, nothing to cache
            ).last_hidden_state
            rows = torch.arange(len(videos), device=device)[:, None]
            picked = hidden[rows, torch.tensor([v.reads for v in videos], device=device)]  # [batch, 3, hidden]
            rewards = self._head(picked).squeeze(-1)
        return np.asarray(rewards.float().cpu().numpy(), dtype=np.float64)

    def score(self, items: Sequence[ScoreItem], **kwargs: Any) -> ScoreBatch:
        if self._model is None:
            raise RuntimeError("VideoReward.setup() was not called")
        from vmevalkit.video import VideoError

        rows = np.full((len(items), len(DIMENSIONS)), np.nan)
        details: list[dict[str, Any]] = [{} for _ in items]
        ready: list[tuple[int, _Video]] = []
        for index, item in enumerate(items):
            try:
                ready.append((index, self._prepare(item)))
            except (VideoError, OSError, ValueError) as exc:  # this video cannot be read or sampled
                details[index] = {"error": f"{type(exc).__name__}: {exc}"}
        for start in range(0, len(ready), self.batch_size):
            chunk = ready[start : start + self.batch_size]
            raw = self._forward([video for _, video in chunk])
            for (index, video), values in zip(chunk, raw, strict=True):
                rows[index] = normalise(values, self._stats)
                details[index] = {
                    **video.detail,
                    "raw": dict(zip(REWARD_KEYS, [float(v) for v in values], strict=True)),
                    "normalized": self._stats is not None,
                }
        return ScoreBatch(scores=rows, details=details)

    # ---- tiny checkpoint ----

    @classmethod
    def build_tiny(cls, out_dir: Path) -> None:
        """The real repo's files: ``model_config.json``, ``checkpoint-11352/model.pth`` (a PEFT state dict in
        transformers 4.4x key names, bf16, with LoRA factors on the language model's linears) and
        ``checkpoint-11352/tokenizer/`` (tokenizer.json and a tokenizer_config.json carrying the chat template and
        the reward tokens, as transformers 4.4x saved it)."""
        import torch
        from transformers import Qwen2VLConfig, Qwen2VLForConditionalGeneration

        from vmevalkit.workers.tiny_text import qwen2_tokenizer

        step_dir = out_dir / f"checkpoint-{CHECKPOINT_STEP}"
        tokenizer_dir = step_dir / "tokenizer"
        tokenizer_dir.mkdir(parents=True, exist_ok=True)
        corpus = DETAILED_PROMPT_WITH_SPECIAL_TOKEN + "\nsystem\nYou are a helpful assistant.\nuser\nassistant\n"
        for token in REWARD_TOKENS:
            corpus = corpus.replace(token, "")
        tokenizer = qwen2_tokenizer(corpus=corpus, special_tokens=QWEN2_VL_SPECIAL_TOKENS, eos_token="<|im_end|>")
        # As train_reward.py does to Qwen2-VL's tokenizer before training.
        tokenizer.add_special_tokens({"additional_special_tokens": list(REWARD_TOKENS)})
        tokenizer.chat_template = QWEN2_VL_CHAT_TEMPLATE
        tokenizer.save_pretrained(tokenizer_dir)
        _legacy_tokenizer_config(tokenizer_dir)

        text = dict(TINY_BASE_CONFIG["text_config"], vocab_size=len(tokenizer))
        config = Qwen2VLConfig(
            **{**TINY_BASE_CONFIG, "text_config": text},
            image_token_id=tokenizer.convert_tokens_to_ids("<|image_pad|>"),
            video_token_id=tokenizer.convert_tokens_to_ids(VIDEO_TOKEN),
            vision_start_token_id=tokenizer.convert_tokens_to_ids("<|vision_start|>"),
            vision_end_token_id=tokenizer.convert_tokens_to_ids("<|vision_end|>"),
        )
        torch.manual_seed(0)
        model = Qwen2VLForConditionalGeneration(config)
        rank, alpha = 4, 8
        state: dict[str, Any] = {}
        for key, value in model.state_dict().items():
            if key.startswith("model.visual."):
                key = "visual." + key.removeprefix("model.visual.")
            elif key.startswith("model.language_model."):
                key = "model." + key.removeprefix("model.language_model.")
            module, _, param = key.rpartition(".")
            if _LORA_TARGET.match(module):
                state[f"{module}.base_layer.{param}"] = value
                if param == "weight":
                    out_features, in_features = value.shape
                    state[f"{module}.lora_A.default.weight"] = torch.randn(rank, in_features) * 0.1
                    state[f"{module}.lora_B.default.weight"] = torch.randn(out_features, rank) * 0.1
            else:
                state[key] = value
        state["rm_head.weight"] = torch.randn(1, config.text_config.hidden_size) * 0.5
        state = {f"base_model.model.{k}": v.detach().to(torch.bfloat16).contiguous() for k, v in state.items()}
        torch.save(state, step_dir / "model.pth")

        model_config = {
            "data_config": {**RELEASED_DATA_CONFIG, "meta_data": "", "data_dir": ""},
            "model_config": {
                "model_name_or_path": "Qwen/Qwen2-VL-2B-Instruct",
                "output_dim": 1,
                "use_special_tokens": True,
                "reward_token": "special",
                "torch_dtype": "bfloat16",
            },
            "peft_lora_config": {
                "lora_enable": True,
                "vision_lora": False,
                "lora_r": rank,
                "lora_alpha": alpha,
                "lora_dropout": 0.05,
                "lora_namespan_exclude": ["lm_head", "rm_head", "embed_tokens", "visual"],
                "lora_task_type": "CAUSAL_LM",
                "use_rslora": False,
                "num_lora_modules": -1,
            },
            "inference_config": RELEASED_INFERENCE_CONFIG,
        }
        (out_dir / "model_config.json").write_text(json.dumps(model_config, indent=2) + "\n", encoding="utf-8")


def video_patches(processor: Any, frames: Sequence[Image.Image]) -> np.ndarray:
    """Qwen2-VL's video patches from the PIL image processor: each frame rescaled, normalised and patchified as an
    image (which repeats it over the temporal patch), then every ``temporal_patch_size`` consecutive frames merged
    into one temporal patch, in the order the video processor lays them out (``[t, h/m, w/m, m, m]`` patches of
    ``[channel, time, patch, patch]`` values)."""
    out = processor(images=list(frames), do_resize=False, return_tensors="np")
    pixels = np.asarray(out["pixel_values"], dtype=np.float32)
    p, tp = processor.patch_size, processor.temporal_patch_size
    n = pixels.shape[0] // len(frames)
    per_frame = pixels.reshape(len(frames), n, 3, tp, p, p)[:, :, :, 0]  # the image path's copies are identical
    grouped = per_frame.reshape(len(frames) // tp, tp, n, 3, p, p).transpose(0, 2, 3, 1, 4, 5)
    return np.ascontiguousarray(grouped.reshape(-1, 3 * tp * p * p))


def backbone_weights(state: dict[str, Any], scaling: float) -> tuple[dict[str, Any], Any]:
    """``Qwen2VLModel`` weights and the reward head's weight from a VideoReward ``model.pth``.

    Accepts the PEFT wrapper's prefix (``base_model.model.``) or none, transformers 4.4x names (``visual.*``,
    ``model.*``) or 4.5x+ names (``model.visual.*``, ``model.language_model.*``); merges each LoRA pair into its
    base weight (``W + scaling * B @ A``, in float32); drops ``lm_head`` (unused: the reward reads hidden states)
    and PEFT's ``original_module`` copies of modules it saved in full.
    """
    import torch

    plain: dict[str, Any] = {}
    lora: dict[str, dict[str, Any]] = {}
    for key, value in state.items():
        key = key.removeprefix("base_model.model.")
        if ".original_module." in key:
            continue
        key = re.sub(r"\.modules_to_save\.[^.]+\.", ".", key)
        found = re.fullmatch(r"(.+)\.lora_([AB])\.[^.]+\.weight", key)
        if found:
            lora.setdefault(found.group(1), {})[found.group(2)] = value
            continue
        plain[key.replace(".base_layer.", ".")] = value
    for module, pair in lora.items():
        if set(pair) != {"A", "B"}:
            raise ValueError(f"LoRA weights of {module} are incomplete: {sorted(pair)}")
        if scaling == 0.0:
            raise ValueError(f"the checkpoint has LoRA weights ({module}) but peft_lora_config has LoRA off")
        base = plain[f"{module}.weight"]
        merged = base.float() + scaling * (pair["B"].float() @ pair["A"].float())
        plain[f"{module}.weight"] = merged.to(base.dtype)
    head = plain.pop("rm_head.weight", None)
    if head is None:
        raise ValueError("the checkpoint has no rm_head.weight (the reward head)")
    weights: dict[str, Any] = {}
    for key, value in plain.items():
        if key.startswith("lm_head."):
            continue
        for old, new in (
            ("model.visual.", "visual."),
            ("model.language_model.", "language_model."),
            ("model.", "language_model."),
        ):
            if key.startswith(old):
                key = new + key.removeprefix(old)
                break
        weights[key] = value if isinstance(value, torch.Tensor) else torch.as_tensor(value)
    return weights, head


def _legacy_tokenizer_config(folder: Path) -> None:
    """Rewrite a transformers 5 tokenizer save the way transformers 4.4x saved VideoReward's: the chat template
    inside tokenizer_config.json (no chat_template.jinja) and the added specials as additional_special_tokens."""
    path = folder / "tokenizer_config.json"
    config = json.loads(path.read_text(encoding="utf-8"))
    jinja = folder / "chat_template.jinja"
    if jinja.exists():
        config["chat_template"] = jinja.read_text(encoding="utf-8")
        jinja.unlink()
    if "extra_special_tokens" in config:
        config["additional_special_tokens"] = config.pop("extra_special_tokens")
    config.setdefault("padding_side", "right")
    path.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")

"""VideoScore v1.1 (TIGER-Lab): five regression scores of a generated video against its text prompt.

VideoScore is Mantis-8B-Idefics2 (a SigLIP vision tower, a perceiver resampler and a Mistral-7B decoder) fine-tuned
on VideoFeedback, where raters scored videos from 1 (bad) to 4 (perfect / like a real video) in five aspects. The
language-model head is replaced by a linear regression head read at the last token, so one forward pass returns the
five scores directly: no text is generated or parsed. The outputs are raw regression values, reported as they come;
they land around 1..4 but are not clipped.

What this file follows, and where it comes from:

- Inference recipe: the model card https://huggingface.co/TIGER-Lab/VideoScore-v1.1 and
  TIGER-AI-Lab/VideoScore ``examples/run_videoscore.py``: at most 48 frames for v1.1 ("we support 48 frames in
  VideoScore-v1.1"), taken as ``np.arange(0, total, total / 48).astype(int)`` (every frame when the video is
  shorter), the ``REGRESSION_QUERY_PROMPT`` below filled with the text prompt, one ``<image>`` per frame appended as
  ``"<image> " * n``, no chat template, ``processor(text=..., images=frames)`` and ``logits[0, i]`` for aspect ``i`` in
  the order visual quality, temporal consistency, dynamic degree, text-to-video alignment, factual consistency.
- The head: ``Idefics2ForSequenceClassification`` of TIGER-AI-Lab/Mantis ``mantis/models/idefics2/modeling_idefics2.py``
  (also copied into TIGER-AI-Lab/VideoScore ``examples/models/idefics2/modeling_idefics2.py``): ``self.model =
  Idefics2Model(config)``, ``self.score = nn.Linear(text hidden size, num_labels)`` (nn.Linear's default bias),
  pooled at the last non-padding token. Mantis is not installable here, so the class is written again below on top
  of transformers' own ``Idefics2Model``, whose module names are the ones Mantis copied from transformers 4.40
  (``model.vision_model.*``, ``model.connector.*``, ``model.text_model.*``); with ``score.*`` that is the
  checkpoint's key layout, loaded without renaming (transformers 5.23 has no key conversion for idefics2).
- Preprocessing: the checkpoint's ``preprocessor_config.json`` (Idefics2ImageProcessor, ``do_image_splitting``
  false, shortest/longest edge 378/980, mean = std = 0.5) and ``processor_config.json`` (``image_seq_len`` 64, so a
  frame is 64 ``<image>`` tokens between two ``<fake_token_around_image>``), e.g.
  https://huggingface.co/TIGER-Lab/VideoScore-v1.1/blob/f183e8fdeae4e10e44ac6f3773b88cb8c0809f11/preprocessor_config.json
  Read with transformers' PIL image processor (``Idefics2ImageProcessorPil``): the scorer venvs have no torchvision.

Paper: "VideoScore: Building Automatic Metrics to Simulate Fine-grained Human Feedback for Video Generation",
arXiv:2406.15252.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from PIL import Image

from vmevalkit.scoring.base import ScoreBatch, ScoreItem
from vmevalkit.scoring.local.model import LocalScorerModel, frames_at, int_option, torch_dtype_for

# The model's five outputs, in the order of the regression head (the order the prompt lists them in).
DIMENSIONS: tuple[str, ...] = (
    "visual_quality",
    "temporal_consistency",
    "dynamic_degree",
    "text_to_video_alignment",
    "factual_consistency",
)

# VideoScore-v1.1's frame budget (the model card: "we support 48 frames in VideoScore-v1.1"; v1.0 took 16).
MAX_FRAMES = 48

# Tokens a sample may take. The VideoScore checkpoints come from Mantis training runs named
# "mantis-8b-idefics2-video-eval-..._4096_regression" (the Hub's "Duplicate from" notes), i.e. 4096-token sequences:
# past that the text prompt is shortened so the frames and the instructions stay whole. 48 frames take
# 48 x 66 = 3168 tokens and the instructions about 330, which leaves some 600 tokens of text prompt.
MAX_LENGTH = 4096

# The query the model was trained with, verbatim from the model card and run_videoscore.py, one line per string
# (one line ends in a space, kept): it must not be paraphrased, the regression head reads the hidden state the model
# forms over exactly this text. It starts with a newline and ends with "as follows:\n"; the frames' <image> follow.
REGRESSION_QUERY_PROMPT = "\n".join(
    (
        "",
        "Suppose you are an expert in judging and evaluating the quality of AI-generated videos,",
        "please watch the following frames of a given video and see the text prompt for generating the video,",
        "then give scores from 5 different dimensions:",
        "(1) visual quality: the quality of the video in terms of clearness, resolution, brightness, and color",
        "(2) temporal consistency, both the consistency of objects or humans and the smoothness of motion or movements",
        "(3) dynamic degree, the degree of dynamic changes",
        "(4) text-to-video alignment, the alignment between the text prompt and the video content",
        "(5) factual consistency, the consistency of the video content with the common-sense and factual knowledge",
        "",
        "for each dimension, output a float number from 1.0 to 4.0,",
        "the higher the number is, the better the video performs in that sub-score, ",
        "the lowest 1.0 means Bad, the highest 4.0 means Perfect/Real (the video is like a real video)",
        "Here is an output example:",
        "visual quality: 3.2",
        "temporal consistency: 2.7",
        "dynamic degree: 4.0",
        "text-to-video alignment: 2.3",
        "factual consistency: 1.8",
        "",
        'For this video, the text prompt is "{text_prompt}",',
        "all the frames of video are as follows:",
        "",
    )
)

IMAGE_TOKEN = "<image>"
# The Idefics2 tokenizer's special tokens: the processor wraps each frame's <image> run in <fake_token_around_image>,
# and <end_of_utterance> closes chat turns (unused here, but the processor registers it).
SPECIAL_TOKENS: tuple[str, ...] = ("<fake_token_around_image>", IMAGE_TOKEN, "<end_of_utterance>")


class InputTooLongError(ValueError):
    """The frames and the instructions alone pass ``max_length``: a matter of the options (``max_frames``,
    ``max_length``), not of one video, so the batch fails rather than scoring NaN."""


def frame_indices(count: int, max_frames: int = MAX_FRAMES) -> list[int]:
    """The frames VideoScore looks at: every frame of a short video, else ``max_frames`` at a fixed stride from the
    first (``np.arange(0, count, count / max_frames).astype(int)`` in run_videoscore.py; the last frame is usually
    not among them). Integer arithmetic gives the same indices without float rounding."""
    if count <= 0 or max_frames <= 0:
        return []
    if count <= max_frames:
        return list(range(count))
    return [(i * count) // max_frames for i in range(max_frames)]


def build_query(text_prompt: str, frame_count: int) -> str:
    """The model's input text: the regression query filled with the prompt, then ``"<image> "`` once per frame."""
    # str.replace, not str.format: a prompt with braces must go in as it is.
    return REGRESSION_QUERY_PROMPT.replace("{text_prompt}", text_prompt) + (IMAGE_TOKEN + " ") * frame_count


@functools.cache
def sequence_classification_class() -> Any:
    """Mantis' ``Idefics2ForSequenceClassification`` in transformers 5 terms (built on first use: torch and
    transformers exist only in the scorer's virtualenv).

    Module names match the checkpoint: ``model`` is transformers' ``Idefics2Model`` (vision_model, connector,
    text_model) and ``score`` the regression head, a biased ``nn.Linear`` as in Mantis.
    """
    import torch
    from torch import nn
    from transformers import Idefics2Config, Idefics2Model, Idefics2PreTrainedModel

    class Idefics2ForSequenceClassification(Idefics2PreTrainedModel):  # type: ignore[misc]
        def __init__(self, config: Idefics2Config) -> None:
            super().__init__(config)
            self.num_labels = config.num_labels
            self.model = Idefics2Model(config)
            self.score = nn.Linear(config.text_config.hidden_size, config.num_labels)
            self.post_init()

        def get_input_embeddings(self) -> Any:
            return self.model.get_input_embeddings()

        def set_input_embeddings(self, value: Any) -> None:
            self.model.set_input_embeddings(value)

        def forward(
            self,
            input_ids: torch.Tensor,
            attention_mask: torch.Tensor,
            pixel_values: torch.Tensor | None = None,
            pixel_attention_mask: torch.Tensor | None = None,
        ) -> torch.Tensor:
            """``[batch, num_labels]`` regression outputs, read at each row's last attended token."""
            hidden = self.model(
                input_ids=input_ids,
                attention_mask=attention_mask,
                pixel_values=pixel_values,
                pixel_attention_mask=pixel_attention_mask,
                use_cache=False,  # one forward pass, nothing to cache
            ).last_hidden_state
            # Mantis pools at the token before the first padding token (the last token without padding); the last
            # position whose attention mask is 1 is that token for right-padded rows, and still right for left padding.
            positions = torch.arange(attention_mask.shape[-1], device=attention_mask.device)
            last = (positions * attention_mask.to(positions.dtype)).argmax(-1)
            pooled = hidden[torch.arange(hidden.shape[0], device=hidden.device), last.to(hidden.device)]
            return self.score(pooled)

    return Idefics2ForSequenceClassification


class VideoScore(LocalScorerModel):
    """TIGER-Lab VideoScore v1.1: five 1..4 scores (visual quality, temporal consistency, dynamic degree,
    text-to-video alignment, factual consistency) from up to 48 frames and the generation prompt."""

    version: ClassVar[str] = "1"
    dimensions: ClassVar[tuple[str, ...]] = DIMENSIONS
    # The generated video and the prompt it was made from; no ground truth.
    inputs: ClassVar[frozenset[str]] = frozenset({"video", "prompt"})
    tiny_args: ClassVar[dict[str, Any]] = {"max_frames": 2}
    # One video per forward pass: its memory grows with the frames (64 image tokens each, through SigLIP at 378 px+).
    oom_hint: ClassVar[str] = (
        "lower max_frames (frames per video, one video per forward pass) with "
        "--scorer-init-kwargs-json '{\"max_frames\": 24}'"
    )

    def __init__(self, model: str, max_frames: int = MAX_FRAMES, max_length: int = MAX_LENGTH) -> None:
        """``max_frames``: frames the model looks at (48 for v1.1, as trained); ``max_length``: tokens a sample may
        take, past which the text prompt is shortened."""
        super().__init__(model, max_frames=max_frames, max_length=max_length)
        self.max_frames = int_option(max_frames, "max_frames")
        self.max_length = int_option(max_length, "max_length")
        self._model: Any = None
        self._processor: Any = None
        self._dtype_name = "float32"

    @property
    def dtype(self) -> str:
        return self._dtype_name

    def setup(self, checkpoint_dir: Path, device: str) -> None:
        import torch
        from transformers import Idefics2ImageProcessorPil, Idefics2Processor

        self.device = device
        dtype = torch_dtype_for(device)
        # The checkpoint's preprocessor_config.json read by the PIL image processor (no torchvision here); the
        # processor's tokenizer and image_seq_len come from the same folder.
        image_processor = Idefics2ImageProcessorPil.from_pretrained(checkpoint_dir)
        self._processor = Idefics2Processor.from_pretrained(checkpoint_dir, image_processor=image_processor)
        head = sequence_classification_class()
        # device_map places the weights as they load: an 8B model never sits in host memory first.
        model, info = head.from_pretrained(checkpoint_dir, dtype=dtype, device_map=device, output_loading_info=True)
        missing = [key for key in info.get("missing_keys", ()) if key != "score.bias"]
        if missing:
            raise RuntimeError(f"{checkpoint_dir}: missing weights ({len(missing)}): {missing[:5]}")
        if "score.bias" in info.get("missing_keys", ()):
            # A head saved without a bias: a zero bias computes exactly what it did.
            with torch.no_grad():
                model.score.bias.zero_()
        if model.config.num_labels != len(DIMENSIONS):
            raise RuntimeError(f"{checkpoint_dir}: expected {len(DIMENSIONS)} outputs, found {model.config.num_labels}")
        self._model = model.eval()
        self._dtype_name = str(dtype).removeprefix("torch.")

    def _inputs(self, prompt: str, frames: list[Image.Image]) -> tuple[Any, bool, int]:
        """Processor outputs for one video, the prompt shortened (by whole tokens) when the sample would pass
        ``max_length``; also whether it was, and how many prompt tokens were kept."""
        tokenizer = self._processor.tokenizer
        prompt_ids: list[int] = tokenizer(prompt, add_special_tokens=False)["input_ids"]
        kept, truncated = prompt, False
        keep = len(prompt_ids)
        for _ in range(4):  # decoding and re-encoding a cut prompt may shift a token or two: retry a few times
            inputs = self._processor(text=build_query(kept, len(frames)), images=frames, return_tensors="pt")
            excess = int(inputs["input_ids"].shape[-1]) - self.max_length
            if excess <= 0:
                return inputs, truncated, keep
            if keep == 0:
                break
            keep = max(0, keep - excess)
            kept, truncated = tokenizer.decode(prompt_ids[:keep], skip_special_tokens=True), True
        raise InputTooLongError(
            f"{len(frames)} frames and the instructions take {int(inputs['input_ids'].shape[-1])} tokens, "
            f"more than max_length={self.max_length}: raise max_length or lower max_frames"
        )

    def _prepare(self, item: ScoreItem) -> tuple[Any, dict[str, Any]]:
        """The item's processor outputs and details; ``VideoError`` / ``OSError`` / ``ValueError`` when its video
        cannot be read or its inputs built."""
        from vmevalkit.video import probe_video

        total = probe_video(item.video_path).frame_count
        indices = frame_indices(total, self.max_frames)
        if not indices:
            raise ValueError(f"{item.video_path} has no frames")
        frames = frames_at(item.video_path, indices)
        inputs, truncated, kept_tokens = self._inputs(item.prompt, frames)
        detail = {
            "frames": len(frames),
            "frame_indices": indices,
            "video_frames": total,
            "input_tokens": int(inputs["input_ids"].shape[-1]),
            "prompt_truncated": truncated,
            "prompt_tokens_kept": kept_tokens,
        }
        return inputs, detail

    def _forward(self, inputs: Any) -> list[float]:
        """The five regression outputs of one video's processor outputs."""
        import torch

        inputs = {key: value.to(self.device) for key, value in inputs.items()}
        with torch.inference_mode():
            outputs = self._model(
                input_ids=inputs["input_ids"],
                attention_mask=inputs["attention_mask"],
                pixel_values=inputs["pixel_values"].to(self._model.dtype),
                pixel_attention_mask=inputs.get("pixel_attention_mask"),
            )
        return [float(v) for v in outputs[0].float().cpu().tolist()]

    def score(self, items: Sequence[ScoreItem], **kwargs: Any) -> ScoreBatch:
        if self._model is None:
            raise RuntimeError("VideoScore.setup() was not called")
        from vmevalkit.video import VideoError

        rows: list[list[float]] = []
        details: list[dict[str, Any]] = []
        # One video per forward pass: an 8B model over up to 48 x 66 image tokens leaves no room for batching.
        for item in items:
            try:
                inputs, detail = self._prepare(item)
            except InputTooLongError:
                raise  # the options' fault, not this video's
            except (VideoError, OSError, ValueError) as exc:
                # This video cannot be read or sampled: NaN for it alone (a final result), the rest is scored.
                rows.append([math.nan] * len(DIMENSIONS))
                details.append({"error": f"{type(exc).__name__}: {exc}"})
                continue
            # Whatever the model raises (CUDA out of memory, CUDA errors) fails the batch, which is retried.
            rows.append(self._forward(inputs))
            details.append(detail)
        return ScoreBatch(
            scores=np.asarray(rows, dtype=np.float64).reshape(len(items), len(DIMENSIONS)), details=details
        )

    # ---- tiny checkpoint ----

    @classmethod
    def build_tiny(cls, out_dir: Path) -> None:
        """The real repo's files (config.json, sharded model-*.safetensors with model.safetensors.index.json,
        preprocessor_config.json, processor_config.json, tokenizer files), with a one-layer model of the same
        classes and key names."""
        import torch
        from transformers import Idefics2Config, Idefics2ImageProcessorPil

        from vmevalkit.workers.tiny_text import llama_tokenizer

        out_dir.mkdir(parents=True, exist_ok=True)
        tokenizer = llama_tokenizer(corpus=REGRESSION_QUERY_PROMPT, special_tokens=SPECIAL_TOKENS)
        config = Idefics2Config(
            text_config={
                "model_type": "mistral",
                "vocab_size": len(tokenizer),
                "hidden_size": 32,
                "intermediate_size": 64,
                "num_hidden_layers": 1,
                "num_attention_heads": 2,
                "num_key_value_heads": 1,
                "head_dim": 16,
                "max_position_embeddings": 4096,
                "pad_token_id": tokenizer.pad_token_id,
            },
            vision_config={
                "hidden_size": 16,
                "intermediate_size": 32,
                "num_hidden_layers": 1,
                "num_attention_heads": 2,
                "image_size": 32,
                "patch_size": 4,
            },
            perceiver_config={
                "hidden_size": 32,
                "resampler_n_latents": 4,
                "resampler_depth": 1,
                "resampler_n_heads": 2,
                "resampler_head_dim": 8,
                "num_key_value_heads": 1,
            },
            image_token_id=tokenizer.convert_tokens_to_ids(IMAGE_TOKEN),
            num_labels=len(DIMENSIONS),
            problem_type="regression",
        )
        torch.manual_seed(0)
        model = sequence_classification_class()(config)
        # Several shards and an index, like the real 4-shard checkpoint, so the sharded loading path is the one tested.
        model.save_pretrained(out_dir, max_shard_size="40KB")
        # The real repo keeps the image processor and the processor in separate files (transformers 4 layout);
        # transformers 5's Processor.save_pretrained would nest both in processor_config.json.
        image_processor = Idefics2ImageProcessorPil(
            do_image_splitting=False,
            size={"shortest_edge": 16, "longest_edge": 32},
            image_mean=[0.5, 0.5, 0.5],
            image_std=[0.5, 0.5, 0.5],
        )
        image_processor.save_pretrained(out_dir)
        tokenizer.save_pretrained(out_dir)
        processor_config = {
            "image_seq_len": config.perceiver_config.resampler_n_latents,
            "processor_class": "Idefics2Processor",
        }
        (out_dir / "processor_config.json").write_text(json.dumps(processor_config, indent=2) + "\n")

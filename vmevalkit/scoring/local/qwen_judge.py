"""``QwenVLJudge``: the rubric judge of ``vlm_judge.py`` on an open VLM, Qwen2.5-VL, run locally by transformers.

What it judges and how is the API judges' (see ``vmevalkit.scoring.vlm_judge``): the system prompt is the domain's
rubric (``judge_rubric.rubric_for``), the judge sees what the video model was given and what it made, never the
answer (``inputs`` = video, prompt, first_frame), and scores ``judge_rubric.DIMENSIONS``:

- ``task_success`` (0 or 1, the pass dimension): the correct final state, reached by legal visible moves, no cheating;
- ``end_state`` (0..1): how much of the required final state the last frame shows;
- ``process`` (0..1): how much of the way there the video shows as legal, one-step moves.

One user turn holds the instruction, the input image and ``frames`` frames sampled evenly from first to last, each
an image of its own (Qwen2.5-VL takes many images in one message; the frames are images rather than a video input
because the video processor needs torchvision, which the scorer's environment does not have). It is rendered by the
checkpoint's chat template with ``{"type": "image"}`` parts, and the processor expands each image into its vision
tokens. Decoding is greedy (``do_sample=False``; ``repetition_penalty`` 1 unless set), at most ``max_new_tokens``.
The reply is parsed strictly (``parse_verdict``); a reply that does not parse is answered once, as the API judges
do: the bad reply goes back as the assistant's turn, followed by ``REPAIR_REQUEST`` with the reason; a second bad
reply scores NaN with both reasons in the details. Items are judged one at a time (a 7B VLM with nine images per
prompt leaves little to gain from padding several prompts into one batch). Verdicts are not cached: unlike the API
judges, a local judge costs no money per call.

Each image is resized by the processor's ``smart_resize`` to sides that are multiples of 28 (patch 14, 2x2 merge)
with at most ``max_pixels`` pixels (448*448 by default: at most 256 vision tokens per image, so about 2,300 for
nine images, instead of the checkpoint's 12,845,056-pixel ceiling) and at least ``min_pixels`` (the checkpoint's
3136 unless set).

Sources (facts only; the code is written here):
  https://huggingface.co/Qwen/Qwen2.5-VL-7B-Instruct   the model card: Qwen2_5_VLForConditionalGeneration and
      AutoProcessor, messages with image content parts, apply_chat_template(add_generation_prompt=True),
      min_pixels / max_pixels.
  https://huggingface.co/docs/transformers/model_doc/qwen2_5_vl   the transformers classes.
  transformers 5.23 (the scorer's pinned version), src/transformers/:
      models/qwen2_5_vl/processing_qwen2_5_vl.py   Qwen2_5_VLProcessor: <|image_pad|> expanded to
          image_grid_thw.prod() // merge_size**2 tokens; returns mm_token_type_ids;
      models/qwen2_5_vl/modeling_qwen2_5_vl.py     compute_3d_position_ids: the multimodal (M-RoPE) positions
          are computed only when mm_token_type_ids is passed, so inputs must come from the processor;
      models/qwen2_vl/image_processing_pil_qwen2_vl.py   Qwen2VLImageProcessorPil, smart_resize, min/max_pixels;
      models/auto/video_processing_auto.py         qwen2_5_vl's video processor exists only with torchvision
          (hence AutoProcessor cannot load this checkpoint here, and the processor is built from its parts);
      conversion_mapping.py                        "Qwen2VLForConditionalGeneration": checkpoint keys ``visual.*``
          and ``model.*`` load as ``model.visual.*`` and ``model.language_model.*``; save_pretrained writes them
          back in the checkpoint's naming.
  The checkpoint's files (config.json, generation_config.json, chat_template.json, preprocessor_config.json,
      tokenizer.json, tokenizer_config.json, vocab.json, merges.txt, model-0000{1..5}-of-00005.safetensors,
      model.safetensors.index.json) as listed by public download scripts of Qwen/Qwen2.5-VL-7B-Instruct; its
      preprocessor_config.json (min_pixels 3136, max_pixels 12845056, patch 14, temporal patch 2, merge 2, the
      OpenAI CLIP mean/std, image_processor_type Qwen2VLImageProcessor, processor_class Qwen2_5_VLProcessor),
      its flat config.json (text fields at the top, vision_config with model_type "qwen2_5_vl",
      fullatt_block_indexes [7, 15, 23, 31], rope_scaling mrope [16, 24, 24]), its weight names
      (visual.merger.ln_q.weight, model.layers.0.input_layernorm.weight...) and its chat template
      (chat_template.json: a default system turn, <|vision_start|><|image_pad|><|vision_end|> per image part) as
      quoted in public code that reads these files.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from PIL import Image

from vmevalkit.scoring.base import PUBLIC_INPUTS, UNIT_RANGE, Range, ScoreBatch, ScoreItem
from vmevalkit.scoring.judge_rubric import (
    DIMENSIONS,
    REPAIR_REQUEST,
    RUBRIC_VERSION,
    VerdictError,
    parse_verdict,
    rubric_for,
)
from vmevalkit.scoring.local.model import LocalScorerModel, torch_dtype_for, video_frames
from vmevalkit.scoring.local.qwen_vl_text import CHAT_TEMPLATE as QWEN_VL_CHAT_TEMPLATE
from vmevalkit.scoring.local.qwen_vl_text import END_OF_TURN
from vmevalkit.scoring.local.qwen_vl_text import SPECIAL_TOKENS as QWEN_VL_SPECIAL_TOKENS
from vmevalkit.video import VideoError

# Qwen2.5-VL's special tokens (ids 151643 onwards) and its checkpoint's chat template (chat_template.json), the same
# as Qwen2-VL's: the template is written into the tiny checkpoint; the judge itself always uses the template of the
# checkpoint it loads.
SPECIAL_TOKENS: tuple[str, ...] = QWEN_VL_SPECIAL_TOKENS
CHAT_TEMPLATE = QWEN_VL_CHAT_TEMPLATE

DEFAULT_MAX_PIXELS = 448 * 448
CLOSING_TEXT = "Judge the video by the rubric. Reply with the JSON object only."

Message = dict[str, Any]


# -- the conversation (pure Python: tested without torch) -------------------------------------------------------------


@dataclass(frozen=True)
class Generation:
    """One reply of the model: its text (special tokens dropped), how many tokens it took, and whether it ended on
    its own (an end-of-turn token) rather than at ``max_new_tokens``."""

    text: str
    new_tokens: int
    finished: bool


def user_content(prompt: str, frame_indices: Sequence[int], video_frame_count: int, fps: float) -> list[Message]:
    """The user turn's parts: the instruction, the input image, then each sampled frame, as chat-template parts
    (``{"type": "image"}`` marks where each image goes, in the order the images are passed to the processor)."""
    count = len(frame_indices)
    parts: list[Message] = [
        {"type": "text", "text": f"The instruction the video model was given:\n{prompt}\n\n"},
        {"type": "text", "text": "The input image the video model was given:\n"},
        {"type": "image"},
        {"type": "text", "text": f"\n\n{count} frames sampled evenly from its video ({video_frame_count} frames), "},
        {"type": "text", "text": "first to last:\n"},
    ]
    for number, index in enumerate(frame_indices, start=1):
        when = f", {index / fps:.2f} s" if fps else ""
        parts.append({"type": "text", "text": f"Frame {number} of {count} (frame {index}{when}):\n"})
        parts.append({"type": "image"})
        parts.append({"type": "text", "text": "\n"})
    parts.append({"type": "text", "text": f"\n{CLOSING_TEXT}"})
    return parts


def excerpt(text: str, limit: int = 300) -> str:
    """A reply on one line, cut to ``limit`` characters (for the details)."""
    flat = " ".join(text.split())
    return flat[:limit] + ("..." if len(flat) > limit else "")


def converse(
    messages: Sequence[Message],
    generate: Callable[[list[Message]], Generation],
    strip_tokens: Sequence[str] = SPECIAL_TOKENS,
) -> tuple[list[float], dict[str, Any]]:
    """Ask for the verdict; repair an unusable reply once. The scores (NaN when there is no verdict) and details.

    ``messages`` is the system and user turn; ``generate`` returns the model's reply to a conversation. A bad reply
    goes back as the assistant's turn with the special tokens in ``strip_tokens`` removed (text that spells
    ``<|image_pad|>`` would otherwise become an image placeholder with no image).
    """
    detail: dict[str, Any] = {}
    tokens: list[int] = []
    reasons: list[str] = []
    turns: list[Message] = []
    for attempt in range(2):  # the first reply, then at most one repair
        reply = generate([*messages, *turns])
        tokens.append(reply.new_tokens)
        detail["tokens_generated"] = list(tokens)
        detail["reply_excerpt" if attempt == 0 else "repair_reply_excerpt"] = excerpt(reply.text)
        try:
            verdict = parse_verdict(reply.text)
        except VerdictError as exc:
            cut = "" if reply.finished else f" (cut at max_new_tokens, {reply.new_tokens} tokens)"
            reasons.append(f"{exc}{cut}")
            echoed = reply.text
            for token in strip_tokens:
                echoed = echoed.replace(token, "")
            turns = [
                {"role": "assistant", "content": echoed},
                {"role": "user", "content": REPAIR_REQUEST.format(reason=exc)},
            ]
            continue
        return verdict.scores(), {**detail, "rationale": verdict.rationale, "repaired": attempt > 0}
    reason = f"the judge's reply was unusable twice: {reasons[0]}; after the repair request: {reasons[1]}"
    return [math.nan] * len(DIMENSIONS), {**detail, "reason": reason, "repaired": False}


def read_chat_template(checkpoint_dir: Path) -> str:
    """The checkpoint's chat template: ``chat_template.jinja`` (newer saves) or ``chat_template.json``."""
    jinja = checkpoint_dir / "chat_template.jinja"
    if jinja.is_file():
        return jinja.read_text(encoding="utf-8")
    path = checkpoint_dir / "chat_template.json"
    try:
        template = json.loads(path.read_text(encoding="utf-8"))["chat_template"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise FileNotFoundError(f"{checkpoint_dir} has no readable chat template (chat_template.json): {exc}") from exc
    if not isinstance(template, str) or not template:
        raise ValueError(f"{path}: chat_template is not a template string")
    return template


# -- the judge --------------------------------------------------------------------------------------------------------


class QwenVLJudge(LocalScorerModel):
    """Qwen2.5-VL judging each video against the rubric (see the module docstring)."""

    version: ClassVar[str] = RUBRIC_VERSION
    dimensions: ClassVar[tuple[str, ...]] = DIMENSIONS
    inputs: ClassVar[frozenset[str]] = PUBLIC_INPUTS  # video, prompt, first_frame: never the answer
    pass_dimension: ClassVar[str | None] = "task_success"
    ranges: ClassVar[dict[str, Range]] = dict.fromkeys(DIMENSIONS, UNIT_RANGE)
    # Few frames and short replies keep the tiny check fast (a random-weight model seldom stops on its own).
    tiny_args: ClassVar[dict[str, Any]] = {"frames": 4, "max_new_tokens": 12}
    # One generate() call holds the input image and `frames` frames of at most `max_pixels` pixels each.
    oom_hint: ClassVar[str] = (
        "lower frames (frames sampled per video) or max_pixels (pixels per image), e.g. "
        '--scorer-init-kwargs-json \'{"frames": 4, "max_pixels": 100352}\''
    )

    def __init__(
        self,
        model: str,
        *,
        frames: int = 8,
        max_pixels: int = DEFAULT_MAX_PIXELS,
        min_pixels: int | None = None,
        max_new_tokens: int = 256,
        repetition_penalty: float = 1.0,
    ) -> None:
        """``frames``: sampled from the video, first and last included (the input image is shown besides).
        ``max_pixels`` / ``min_pixels``: the pixel budget of each image after resizing (``min_pixels`` None: the
        checkpoint's). ``max_new_tokens``: the reply length cap. ``repetition_penalty``: 1 is plain greedy
        decoding (the checkpoint's generation_config suggests 1.05 for chat)."""
        super().__init__(
            model,
            frames=frames,
            max_pixels=max_pixels,
            min_pixels=min_pixels,
            max_new_tokens=max_new_tokens,
            repetition_penalty=repetition_penalty,
        )
        if isinstance(frames, bool) or not isinstance(frames, int) or frames < 2:
            raise ValueError(f"frames must be at least 2 (the first and the last), got {frames!r}")
        # One merged vision token covers 28x28 pixels: fewer than 4 of them per image says nothing.
        if isinstance(max_pixels, bool) or not isinstance(max_pixels, int) or max_pixels < 56 * 56:
            raise ValueError(f"max_pixels must be an int of at least {56 * 56} (56x56), got {max_pixels!r}")
        if min_pixels is not None and (
            isinstance(min_pixels, bool) or not isinstance(min_pixels, int) or not 0 < min_pixels <= max_pixels
        ):
            raise ValueError(f"min_pixels must be a positive int no larger than max_pixels, got {min_pixels!r}")
        if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, int) or max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be a positive int, got {max_new_tokens!r}")
        if (
            isinstance(repetition_penalty, bool)
            or not isinstance(repetition_penalty, (int, float))
            or not repetition_penalty > 0
        ):
            raise ValueError(f"repetition_penalty must be positive, got {repetition_penalty!r}")
        self.frames, self.max_pixels, self.min_pixels = frames, max_pixels, min_pixels
        self.max_new_tokens, self.repetition_penalty = max_new_tokens, float(repetition_penalty)
        self._vlm: Any = None
        self._processor: Any = None
        self._generation_config: Any = None
        self._stop_ids: frozenset[int] = frozenset()
        self._strip_tokens: tuple[str, ...] = SPECIAL_TOKENS
        self._dtype_name = "float32"

    @property
    def dtype(self) -> str:
        return self._dtype_name

    # -- loading --------------------------------------------------------------------------------------------------

    def setup(self, checkpoint_dir: Path, device: str) -> None:
        from transformers import (
            AutoTokenizer,
            GenerationConfig,
            Qwen2_5_VLForConditionalGeneration,
            Qwen2VLImageProcessorPil,
        )

        checkpoint_dir = Path(checkpoint_dir)
        self.device = device
        dtype = torch_dtype_for(device)
        pixels: dict[str, int] = {"max_pixels": self.max_pixels}
        if self.min_pixels is not None:
            pixels["min_pixels"] = self.min_pixels
        # preprocessor_config.json names Qwen2VLImageProcessor, whose torchvision backend is absent here: its PIL
        # backend reads the same file and does the same resizing and normalisation.
        image_processor = Qwen2VLImageProcessorPil.from_pretrained(checkpoint_dir, **pixels)
        tokenizer = AutoTokenizer.from_pretrained(checkpoint_dir)
        self._processor = _image_only_processor(image_processor, tokenizer, read_chat_template(checkpoint_dir))

        model, info = Qwen2_5_VLForConditionalGeneration.from_pretrained(
            checkpoint_dir,
            dtype=dtype,
            device_map=device,
            attn_implementation="sdpa",
            output_loading_info=True,
        )
        # A renamed or missing weight would be left at its random initial value without an error: refuse it.
        missing = sorted(info.get("missing_keys") or [])
        mismatched = list(info.get("mismatched_keys") or [])
        if missing or mismatched:
            raise RuntimeError(
                f"{checkpoint_dir} is not a complete Qwen2.5-VL checkpoint: missing {missing[:5]} "
                f"({len(missing)} in all), mismatched shapes {mismatched[:5]}"
            )
        model.eval()
        self._vlm = model

        end_of_turn = tokenizer.convert_tokens_to_ids(END_OF_TURN)
        eos = model.generation_config.eos_token_id
        eos_ids = [eos] if isinstance(eos, int) else list(eos or [])
        self._stop_ids = frozenset(i for i in [end_of_turn, *eos_ids] if isinstance(i, int) and i >= 0)
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else min(self._stop_ids)
        # Built here rather than taken from generation_config.json, whose chat settings (sampling, a top_k of 1,
        # a temperature) are not what a judge wants.
        self._generation_config = GenerationConfig(
            do_sample=False,
            num_beams=1,
            # transformers fills every setting left unset from generation_config.json: the sampling ones are set to
            # their neutral values so that none is carried over (greedy decoding ignores them anyway).
            temperature=1.0,
            top_p=1.0,
            top_k=50,
            max_new_tokens=self.max_new_tokens,
            repetition_penalty=self.repetition_penalty,
            eos_token_id=sorted(self._stop_ids),
            pad_token_id=pad,
        )
        self._strip_tokens = tuple(dict.fromkeys([*SPECIAL_TOKENS, *tokenizer.all_special_tokens]))
        self._dtype_name = str(dtype).removeprefix("torch.")

    # -- scoring --------------------------------------------------------------------------------------------------

    def score(self, items: Sequence[ScoreItem], **kwargs: Any) -> ScoreBatch:
        if kwargs:
            raise TypeError(f"QwenVLJudge.score takes no options, got {sorted(kwargs)}: pass them to the constructor")
        if self._vlm is None:
            raise RuntimeError("QwenVLJudge.score called before setup()")
        rows: list[list[float]] = []
        details: list[dict[str, Any]] = []
        for item in items:
            scores, detail = self._judge(item)
            rows.append(scores)
            details.append({"judge_model": self.model, **detail})
        return ScoreBatch(scores=rows, details=details)

    def _judge(self, item: ScoreItem) -> tuple[list[float], dict[str, Any]]:
        try:
            frames, indices, count, fps = video_frames(item.video_path, self.frames)
            with Image.open(item.first_frame) as image:
                first = image.convert("RGB")
        except (OSError, ValueError, VideoError) as exc:
            return [math.nan] * len(DIMENSIONS), {"reason": f"cannot read the inputs: {type(exc).__name__}: {exc}"}
        images = [first, *frames]
        messages: list[Message] = [
            {"role": "system", "content": rubric_for(item.domain)},
            {"role": "user", "content": user_content(item.prompt, indices, count, fps)},
        ]
        media: dict[str, Any] = {"frames_sent": len(frames), "frame_indices": indices, "video_frames": count}

        def generate(conversation: list[Message]) -> Generation:
            reply, prompt_tokens, vision_tokens = self._generate(conversation, images)
            media.setdefault("prompt_tokens", prompt_tokens)
            media.setdefault("vision_tokens", vision_tokens)
            return reply

        # Anything the model raises (CUDA out of memory above all) fails the batch, to be retried: a NaN here would be
        # final. The worker reports an OOM with oom_hint and frees the cache.
        scores, detail = converse(messages, generate, self._strip_tokens)
        return scores, {**media, "max_pixels": self.max_pixels, **detail}

    def _generate(self, conversation: list[Message], images: list[Image.Image]) -> tuple[Generation, int, int]:
        """The model's greedy reply to ``conversation``, the prompt's length and its vision tokens."""
        import torch

        processor = self._processor
        text = processor.apply_chat_template(conversation, tokenize=False, add_generation_prompt=True)
        # The processor expands each image placeholder into its vision tokens and adds mm_token_type_ids, without
        # which the model would fall back to 1-D positions for the image tokens.
        inputs = processor(text=[text], images=images, return_tensors="pt").to(self._vlm.device)
        prompt_length = int(inputs["input_ids"].shape[1])
        vision_tokens = int((inputs["input_ids"] == processor.image_token_id).sum())
        with torch.inference_mode():
            output = self._vlm.generate(**inputs, generation_config=self._generation_config)
        new = output[0, prompt_length:].tolist()
        finished = bool(new) and new[-1] in self._stop_ids
        reply = processor.tokenizer.decode(new, skip_special_tokens=True)
        return Generation(reply, len(new), finished), prompt_length, vision_tokens

    # -- tiny checkpoint ------------------------------------------------------------------------------------------

    @classmethod
    def build_tiny(cls, out_dir: Path, scripted_reply: str | None = None) -> None:
        """A tiny random-weight Qwen2.5-VL in the real checkpoint's layout: a flat config.json, the weights in two
        shards with an index and the real key names, preprocessor_config.json, chat_template.json, a byte-level
        BPE tokenizer with Qwen's special tokens, generation_config.json.

        ``scripted_reply``: a model whose greedy reply to any prompt is exactly this text, to test that verdicts
        flow through. The text becomes one token; every layer adds nothing to the residual stream (zero output
        projections), so the logits depend on the current token only, and the embeddings and lm_head make the
        prompt's last token (the newline after ``assistant``) predict the reply's token, and that one
        ``<|im_end|>``.
        """
        import torch
        from transformers import AddedToken, Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

        from vmevalkit.scoring.judge_rubric import GENERIC_RUBRIC, domain_rubrics
        from vmevalkit.workers.tiny_text import qwen2_tokenizer

        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        # The judge's own texts, so tiny prompts are a few hundred tokens rather than one per byte.
        corpus = "\n".join(
            [
                rubric_for("maze"),
                *domain_rubrics().values(),
                GENERIC_RUBRIC,
                REPAIR_REQUEST,
                CLOSING_TEXT,
                "The instruction the video model was given: The input image the video model was given:",
                "frames sampled evenly from its video frames, first to last: Frame 1 of 8 (frame 0, 0.00 s):",
                "Move the green dot to the red square. system user assistant You are a helpful assistant.",
            ]
        )
        tokenizer = qwen2_tokenizer(
            corpus, SPECIAL_TOKENS, eos_token=END_OF_TURN, pad_token="<|endoftext|>", vocab_size=768
        )
        if scripted_reply is not None:
            tokenizer.add_tokens([AddedToken(scripted_reply, special=False, normalized=False)])
        ids = {token: tokenizer.convert_tokens_to_ids(token) for token in SPECIAL_TOKENS}

        # The real config.json is flat (text settings at the top level) with the vision settings nested.
        text_hidden = 64
        config_json: dict[str, Any] = {
            "architectures": ["Qwen2_5_VLForConditionalGeneration"],
            "model_type": "qwen2_5_vl",
            "attention_dropout": 0.0,
            "bos_token_id": ids["<|endoftext|>"],
            "eos_token_id": ids[END_OF_TURN],
            "vision_start_token_id": ids["<|vision_start|>"],
            "vision_end_token_id": ids["<|vision_end|>"],
            "vision_token_id": ids["<|vision_pad|>"],
            "image_token_id": ids["<|image_pad|>"],
            "video_token_id": ids["<|video_pad|>"],
            "hidden_act": "silu",
            "hidden_size": text_hidden,
            "initializer_range": 0.02,
            "intermediate_size": 128,
            "max_position_embeddings": 4096,
            "max_window_layers": 2,
            "num_attention_heads": 4,  # head_dim 16
            "num_hidden_layers": 2,
            "num_key_value_heads": 2,
            "rms_norm_eps": 1e-06,
            "rope_theta": 1000000.0,
            "sliding_window": 4096,
            "tie_word_embeddings": False,
            "torch_dtype": "float32",
            "use_cache": True,
            "use_sliding_window": False,
            "vocab_size": len(tokenizer),
            # M-RoPE splits half the head dimension (8 of 16) between time, height and width.
            "rope_scaling": {"type": "mrope", "mrope_section": [2, 3, 3]},
            "vision_config": {
                "model_type": "qwen2_5_vl",  # as in the real file; transformers reads it as qwen2_5_vl_vision
                "depth": 2,
                "hidden_act": "silu",
                "hidden_size": 32,
                "intermediate_size": 64,
                "num_heads": 2,
                "in_chans": 3,
                "out_hidden_size": text_hidden,
                "patch_size": 14,
                "spatial_merge_size": 2,
                "spatial_patch_size": 14,
                "temporal_patch_size": 2,
                "window_size": 112,
                "fullatt_block_indexes": [1],
                "tokens_per_second": 2,
            },
        }
        config = Qwen2_5_VLConfig.from_dict(config_json)
        torch.manual_seed(0)
        model = Qwen2_5_VLForConditionalGeneration(config).eval()
        if scripted_reply is not None:
            last_prompt_token = tokenizer("<|im_start|>assistant\n")["input_ids"][-1]
            reply_token = tokenizer.convert_tokens_to_ids(scripted_reply)
            _script_bigrams(model, [(last_prompt_token, reply_token), (reply_token, ids[END_OF_TURN])])
        # Written in the checkpoint's naming (visual.*, model.*, lm_head.*), here in two shards with an index.
        model.save_pretrained(out_dir, max_shard_size="500KB")
        (out_dir / "config.json").write_text(json.dumps(config_json, indent=2) + "\n", encoding="utf-8")
        generation = {
            "bos_token_id": ids["<|endoftext|>"],
            "pad_token_id": ids["<|endoftext|>"],
            "do_sample": True,
            "eos_token_id": [ids[END_OF_TURN], ids["<|endoftext|>"]],
            "repetition_penalty": 1.05,
            "temperature": 0.1,
            "top_k": 1,
            "top_p": 0.001,
        }
        (out_dir / "generation_config.json").write_text(json.dumps(generation, indent=2) + "\n", encoding="utf-8")
        tokenizer.save_pretrained(out_dir)
        preprocessor = {
            "min_pixels": 3136,
            "max_pixels": 12845056,
            "patch_size": 14,
            "temporal_patch_size": 2,
            "merge_size": 2,
            "image_mean": [0.48145466, 0.4578275, 0.40821073],
            "image_std": [0.26862954, 0.26130258, 0.27577711],
            "image_processor_type": "Qwen2VLImageProcessor",
            "processor_class": "Qwen2_5_VLProcessor",
        }
        (out_dir / "preprocessor_config.json").write_text(json.dumps(preprocessor, indent=2) + "\n", encoding="utf-8")
        (out_dir / "chat_template.json").write_text(
            json.dumps({"chat_template": CHAT_TEMPLATE}, indent=2) + "\n", encoding="utf-8"
        )


def _image_only_processor(image_processor: Any, tokenizer: Any, chat_template: str) -> Any:
    """A ``Qwen2_5_VLProcessor`` without its video processor (which needs torchvision): the processor checks the
    class of every sub-processor its ``__init__`` names, so a subclass that names only these two is built."""
    from transformers import Qwen2_5_VLProcessor

    class ImageOnlyQwen2_5_VLProcessor(Qwen2_5_VLProcessor):  # type: ignore[misc]
        def __init__(self, image_processor: Any = None, tokenizer: Any = None, chat_template: Any = None) -> None:
            super().__init__(image_processor, tokenizer, None, chat_template=chat_template)

    return ImageOnlyQwen2_5_VLProcessor(
        image_processor=image_processor, tokenizer=tokenizer, chat_template=chat_template
    )


def _script_bigrams(model: Any, pairs: Sequence[tuple[int, int]]) -> None:
    """Make ``model``'s greedy next token a function of the current token: ``current -> next`` for each pair.

    Zero output projections (attention and MLP) leave each position's hidden state at its token's embedding; token
    ``k``-th of ``pairs`` gets the ``k``-th unit vector as embedding, and lm_head's row for its successor points
    the same way, so after the final RMSNorm that successor has the only large logit.
    """
    import torch

    text = model.model.language_model
    hidden = text.embed_tokens.weight.shape[1]
    if len(pairs) > hidden:
        raise ValueError(f"{len(pairs)} scripted pairs need a hidden size of at least {len(pairs)}, not {hidden}")
    with torch.no_grad():
        for layer in text.layers:
            layer.self_attn.o_proj.weight.zero_()
            layer.mlp.down_proj.weight.zero_()
        text.embed_tokens.weight.zero_()
        model.lm_head.weight.zero_()
        for slot, (current, successor) in enumerate(pairs):
            text.embed_tokens.weight[current, slot] = 1.0
            model.lm_head.weight[successor, slot] = 10.0

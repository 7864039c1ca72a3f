"""HunyuanVideo-I2V (Tencent), diffusers ``HunyuanVideoImageToVideoPipeline``.

A 13B dual-/single-stream video transformer with two text encoders: a Llava (Llama-3-8B + CLIP
vision) model that reads the prompt *and* the input image through a chat template, and CLIP-L
for a pooled prompt vector. The checkpoint here is the 16-channel "token replace" variant
(``hunyuanvideo-community/HunyuanVideo-I2V``): the first latent frame is the encoded image and
only the following frames are denoised. It is guidance-distilled: ``guidance_scale`` (6.0) is an
input of the transformer, not classifier-free guidance, so no negative prompt is needed.
The 33-channel variant (``...-I2V-33ch``, "latent concat") loads with the same code but drops
its first 4 frames and wants guidance 1.0.

Defaults: the pipeline's ``__call__`` (1280x720, 129 frames, 50 steps) and the diffusers page
https://huggingface.co/docs/diffusers/api/pipelines/hunyuan_video (guidance 6.0 for this model;
text encoders and VAE in float16, transformer in bfloat16; 4k + 1 frames); 129 frames are the
5-second clips of Tencent's README https://github.com/Tencent/HunyuanVideo-I2V, at 24 fps.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

from vmevalkit.models.local.pipeline import LocalPipeline, PipelineRequest


class HunyuanVideoImageToVideo(LocalPipeline):
    family: ClassVar[str] = "hunyuanvideo"
    pipeline_class: ClassVar[str] = "HunyuanVideoImageToVideoPipeline"
    frame_step: ClassVar[int] = 4  # the VAE folds 4 frames into one latent frame
    size_multiple: ClassVar[int] = 16  # 8x VAE x 2x2 patches; the pipeline checks it
    # Text encoders and VAE; the transformer goes to bfloat16 (see ``load``).
    cuda_dtype: ClassVar[str] = "float16"

    def load(self, checkpoint_dir: Path, dtype: Any) -> Any:
        import torch
        from diffusers import HunyuanVideoImageToVideoPipeline, HunyuanVideoTransformer3DModel

        # The docs' recipe: the transformer in bfloat16, everything else in float16.
        transformer_dtype = torch.bfloat16 if dtype == torch.float16 else dtype
        transformer = HunyuanVideoTransformer3DModel.from_pretrained(
            str(checkpoint_dir), subfolder="transformer", dtype=transformer_dtype
        )
        return HunyuanVideoImageToVideoPipeline.from_pretrained(
            str(checkpoint_dir),
            transformer=transformer,
            tokenizer=self._load_llama_tokenizer(Path(checkpoint_dir) / "tokenizer"),
            dtype=dtype,
        )

    @staticmethod
    def _load_llama_tokenizer(folder: Path) -> Any:
        """The Llava tokenizer, exactly as its ``tokenizer.json`` describes it.

        The checkpoint names the class ``LlamaTokenizerFast``, but Llama 3's tokenizer is a
        byte-level BPE. In transformers 5 ``LlamaTokenizerFast`` is ``LlamaTokenizer``, whose
        constructor always installs a SentencePiece (Metaspace) pre-tokenizer: loading it by
        name drops the spaces from every prompt. The generic ``PreTrainedTokenizerFast`` keeps
        the file's own pipeline (transformers issue #45488; xDiT applied the same fix).
        The two classes pad on different sides by default (``LlamaTokenizer`` left), so the side
        ``LlamaTokenizer`` would use is kept: the pipeline finds the image token by position.
        """
        from transformers import PreTrainedTokenizerFast

        config = json.loads((folder / "tokenizer_config.json").read_text(encoding="utf-8"))
        return PreTrainedTokenizerFast.from_pretrained(str(folder), padding_side=config.get("padding_side", "left"))

    def call_kwargs(self, request: PipelineRequest) -> dict[str, Any]:
        kwargs = super().call_kwargs(request)
        kwargs["prompt"] = self._without_markers(request.prompt)
        # Real classifier-free guidance only when asked for (true_cfg_scale > 1 and a negative
        # prompt); the distilled model does not need it and it doubles the cost.
        kwargs["true_cfg_scale"] = float(request.extra.get("true_cfg_scale", 1.0))
        if kwargs["true_cfg_scale"] > 1.0 and request.negative_prompt:
            kwargs["negative_prompt"] = self._without_markers(request.negative_prompt)
        else:
            kwargs["negative_prompt"] = None
        return kwargs

    def _without_markers(self, text: str) -> str:
        """``text`` without the tokenizer's special tokens (``<image>``, chat headers, ...).

        The prompt is placed inside a chat template whose markers the pipeline counts: an
        ``<image>`` or ``<|end_header_id|>`` typed in a prompt would shift the image tokens and
        the cropped span, and the pipeline fails with mismatched tensor sizes.
        """
        for marker in self.pipe.tokenizer.get_added_vocab():
            text = text.replace(marker, " ")
        return text

    # ---- tiny checkpoint ----

    tiny_settings: ClassVar[dict[str, Any]] = {"height": 32, "width": 32, "num_frames": 9, "steps": 2}

    @classmethod
    def build_tiny(cls, out_dir: Path) -> None:
        import torch
        from diffusers import (
            AutoencoderKLHunyuanVideo,
            FlowMatchEulerDiscreteScheduler,
            HunyuanVideoImageToVideoPipeline,
            HunyuanVideoTransformer3DModel,
        )
        from diffusers.pipelines.hunyuan_video.pipeline_hunyuan_video_image2video import DEFAULT_PROMPT_TEMPLATE
        from transformers import (
            CLIPImageProcessor,
            CLIPTextConfig,
            CLIPTextModel,
            CLIPVisionConfig,
            LlamaConfig,
            LlavaConfig,
            LlavaForConditionalGeneration,
        )

        from vmevalkit.workers.tiny_text import clip_tokenizer, llama_tokenizer

        # The production call uses the pipeline's default chat template, which hard-codes where
        # the image tokens go (positions 5..581, 576 of them). So the tiny tokenizer keeps the
        # template's markers as single tokens and learns its words, and the tiny vision tower
        # yields 576 patches (48 px / 2 px patches = 24 x 24), as CLIP-L/14 at 336 px does.
        markers = ["<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>", "<image>"]
        tokenizer = llama_tokenizer(corpus=DEFAULT_PROMPT_TEMPLATE["template"], special_tokens=markers)
        tokenizer_2 = clip_tokenizer()
        image_size, patch_size = 48, 2
        image_processor = CLIPImageProcessor(size=image_size, crop_size=image_size)

        torch.manual_seed(0)
        text_encoder = LlavaForConditionalGeneration(
            LlavaConfig(
                text_config=LlamaConfig(
                    vocab_size=len(tokenizer),
                    hidden_size=16,
                    intermediate_size=32,
                    num_hidden_layers=2,  # the pipeline reads the hidden state 2 layers from the top
                    num_attention_heads=2,
                    num_key_value_heads=2,
                    max_position_embeddings=1024,
                    bos_token_id=tokenizer.bos_token_id,
                    eos_token_id=tokenizer.eos_token_id,
                    pad_token_id=tokenizer.pad_token_id,
                ),
                vision_config=CLIPVisionConfig(
                    hidden_size=8,
                    intermediate_size=16,
                    num_hidden_layers=1,
                    num_attention_heads=2,
                    image_size=image_size,
                    patch_size=patch_size,
                ),
                image_token_index=tokenizer.convert_tokens_to_ids("<image>"),
                image_seq_length=(image_size // patch_size) ** 2,
                pad_token_id=tokenizer.pad_token_id,
            )
        )
        text_encoder_2 = CLIPTextModel(
            CLIPTextConfig(
                vocab_size=len(tokenizer_2),
                hidden_size=8,
                intermediate_size=16,
                num_hidden_layers=1,
                num_attention_heads=2,
                max_position_embeddings=77,
                bos_token_id=tokenizer_2.bos_token_id,
                eos_token_id=tokenizer_2.eos_token_id,
                pad_token_id=tokenizer_2.pad_token_id,
            )
        )
        # Four blocks: 8x spatial and 4x temporal compression, as the real VAE.
        vae = AutoencoderKLHunyuanVideo(
            in_channels=3,
            out_channels=3,
            latent_channels=4,
            down_block_types=("HunyuanVideoDownBlock3D",) * 4,
            up_block_types=("HunyuanVideoUpBlock3D",) * 4,
            block_out_channels=(8, 8, 8, 8),
            layers_per_block=1,
            norm_num_groups=4,
            spatial_compression_ratio=8,
            temporal_compression_ratio=4,
            mid_block_add_attention=True,
        )
        transformer = HunyuanVideoTransformer3DModel(
            in_channels=4,  # token replace: latents only, the image is the first latent frame
            out_channels=4,
            num_attention_heads=2,
            attention_head_dim=8,
            num_layers=1,
            num_single_layers=1,
            num_refiner_layers=1,
            patch_size=1,
            patch_size_t=1,
            rope_axes_dim=(2, 2, 4),  # frames, height, width; sums to the head dimension
            text_embed_dim=16,  # = the Llama hidden size
            pooled_projection_dim=8,  # = the CLIP text hidden size
            guidance_embeds=True,  # guidance-distilled, as the real checkpoint
            image_condition_type="token_replace",
        )
        pipe = HunyuanVideoImageToVideoPipeline(
            text_encoder=text_encoder,
            tokenizer=tokenizer,
            transformer=transformer,
            vae=vae,
            scheduler=FlowMatchEulerDiscreteScheduler(shift=7.0),
            text_encoder_2=text_encoder_2,
            tokenizer_2=tokenizer_2,
            image_processor=image_processor,
        )
        pipe.save_pretrained(str(out_dir))

"""CogVideoX-5B image-to-video (Tsinghua / Zhipu AI), diffusers ``CogVideoXImageToVideoPipeline``.

The I2V transformer has *learned* positional embeddings for one latent size, so it generates
720x480 only (inputs are letterboxed to it); frame counts are free on the time axis but the
model was trained on 8k + 1 frames up to 49 (6 seconds at 8 fps).

Defaults from the model card https://huggingface.co/THUDM/CogVideoX-5b-I2V (720x480, 49 frames,
8 fps, 226 prompt tokens, BF16) and the pipeline's documented example (50 steps, guidance 6,
``use_dynamic_cfg=True``): https://huggingface.co/docs/diffusers/api/pipelines/cogvideox
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from vmevalkit.models.local.pipeline import LocalPipeline, PipelineRequest


class CogVideoXImageToVideo(LocalPipeline):
    family: ClassVar[str] = "cogvideox"
    pipeline_class: ClassVar[str] = "CogVideoXImageToVideoPipeline"
    frame_step: ClassVar[int] = 8  # trained on 8k + 1 frames (the VAE itself folds 4)
    size_multiple: ClassVar[int] = 16  # 8x VAE x 2x2 patches; moot while fixed_size holds
    fixed_size: ClassVar[bool] = True
    cuda_dtype: ClassVar[str] = "bfloat16"  # the model card's recommended precision for the 5B models

    def call_kwargs(self, request: PipelineRequest) -> dict[str, Any]:
        kwargs = super().call_kwargs(request)
        # Guidance that rises over the denoising steps (cosine schedule), as the docs' example uses.
        kwargs["use_dynamic_cfg"] = bool(request.extra.get("use_dynamic_cfg", True))
        # The learned positional embeddings cover exactly this many text tokens, so the prompt is
        # padded/truncated to the length the transformer was built for (226 in the real model).
        kwargs["max_sequence_length"] = int(self.pipe.transformer.config.max_text_seq_length)
        return kwargs

    # ---- tiny checkpoint ----

    # 16x16: the tiny transformer's learned positional embeddings are for 2x2 latents.
    tiny_settings: ClassVar[dict[str, Any]] = {"height": 16, "width": 16, "num_frames": 9, "steps": 2}

    @classmethod
    def build_tiny(cls, out_dir: Path) -> None:
        import torch
        from diffusers import (
            AutoencoderKLCogVideoX,
            CogVideoXDDIMScheduler,
            CogVideoXImageToVideoPipeline,
            CogVideoXTransformer3DModel,
        )

        from vmevalkit.workers.tiny_text import t5_encoder, t5_tokenizer

        tokenizer = t5_tokenizer()
        torch.manual_seed(0)
        text_encoder = t5_encoder(tokenizer)
        # Four blocks: 8x spatial compression (three downsamples), 4x temporal.
        vae = AutoencoderKLCogVideoX(
            in_channels=3,
            out_channels=3,
            down_block_types=("CogVideoXDownBlock3D",) * 4,
            up_block_types=("CogVideoXUpBlock3D",) * 4,
            block_out_channels=(8, 8, 8, 8),
            latent_channels=4,
            layers_per_block=1,
            norm_num_groups=2,
            temporal_compression_ratio=4,
        )
        transformer = CogVideoXTransformer3DModel(
            num_attention_heads=2,
            attention_head_dim=16,  # 3D RoPE splits the head dimension, so it must divide by 16
            in_channels=8,  # noisy latents + image latents, 4 channels each
            out_channels=4,
            time_embed_dim=4,
            text_embed_dim=16,  # = the text encoder's d_model
            num_layers=1,
            sample_width=2,  # latent 2x2 -> 16x16 pixels, the only size this tiny model takes
            sample_height=2,
            sample_frames=9,
            patch_size=2,
            temporal_compression_ratio=4,
            max_text_seq_length=16,
            use_rotary_positional_embeddings=True,
            use_learned_positional_embeddings=True,  # as CogVideoX-5B-I2V
        )
        pipe = CogVideoXImageToVideoPipeline(
            tokenizer=tokenizer,
            text_encoder=text_encoder,
            vae=vae,
            transformer=transformer,
            scheduler=CogVideoXDDIMScheduler(),
        )
        pipe.save_pretrained(str(out_dir))

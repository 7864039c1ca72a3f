"""LTX-Video (Lightricks), diffusers ``LTXImageToVideoPipeline``.

A 2B-parameter video transformer over a VAE that compresses 32x32 pixels x 8 frames into one
latent, with a T5-XXL text encoder. So sizes are multiples of 32 and frame counts are 8k + 1.

Defaults follow the pipeline's documented example (704x480, 161 frames, 50 steps, guidance 3,
exported at 24 fps, the negative prompt below):
https://huggingface.co/docs/diffusers/api/pipelines/ltx_video (LTXImageToVideoPipeline).
The model card asks for fewer than 257 frames and sizes divisible by 32.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from vmevalkit.models.local.pipeline import LocalPipeline, PipelineRequest


class LTXVideo(LocalPipeline):
    family: ClassVar[str] = "ltx-video"
    pipeline_class: ClassVar[str] = "LTXImageToVideoPipeline"
    frame_step: ClassVar[int] = 8  # the VAE folds 8 frames into one latent frame
    size_multiple: ClassVar[int] = 32  # the pipeline refuses other sizes
    cuda_dtype: ClassVar[str] = "bfloat16"  # the dtype the diffusers docs recommend for every component

    def call_kwargs(self, request: PipelineRequest) -> dict[str, Any]:
        kwargs = super().call_kwargs(request)
        extra = request.extra
        # The transformer's rotary positions are scaled by the frame rate it should generate at.
        kwargs["frame_rate"] = request.fps
        # Timestep-conditioned VAEs (LTX-Video 0.9.1 and later) decode best with a little noise
        # (the docs suggest 0.05 / 0.025); the 0.9.0 VAE ignores both, so they default to off.
        kwargs["decode_timestep"] = float(extra.get("decode_timestep", 0.0))
        if "decode_noise_scale" in extra:
            kwargs["decode_noise_scale"] = float(extra["decode_noise_scale"])
        # T5 tokens kept from the prompt (the pipeline's own default).
        kwargs["max_sequence_length"] = int(extra.get("max_sequence_length", 128))
        return kwargs

    # ---- tiny checkpoint ----

    tiny_settings: ClassVar[dict[str, Any]] = {"height": 32, "width": 32, "num_frames": 9, "steps": 2}

    @classmethod
    def build_tiny(cls, out_dir: Path) -> None:
        import torch
        from diffusers import (
            AutoencoderKLLTXVideo,
            FlowMatchEulerDiscreteScheduler,
            LTXImageToVideoPipeline,
            LTXVideoTransformer3DModel,
        )

        from vmevalkit.workers.tiny_text import t5_encoder, t5_tokenizer

        tokenizer = t5_tokenizer()
        torch.manual_seed(0)
        text_encoder = t5_encoder(tokenizer)
        # Two of the four VAE stages downsample space and time: 4x compression each way, so
        # 32 px -> 8 latent px and 9 frames -> 3 latent frames.
        vae = AutoencoderKLLTXVideo(
            in_channels=3,
            out_channels=3,
            latent_channels=8,
            block_out_channels=(8, 8, 8, 8),
            decoder_block_out_channels=(8, 8, 8, 8),
            layers_per_block=(1, 1, 1, 1, 1),
            decoder_layers_per_block=(1, 1, 1, 1, 1),
            spatio_temporal_scaling=(True, True, False, False),
            decoder_spatio_temporal_scaling=(True, True, False, False),
            decoder_inject_noise=(False, False, False, False, False),
            upsample_residual=(False, False, False, False),
            upsample_factor=(1, 1, 1, 1),
            timestep_conditioning=False,  # as in LTX-Video 0.9.0
            patch_size=1,
            patch_size_t=1,
            encoder_causal=True,
            decoder_causal=False,
        )
        transformer = LTXVideoTransformer3DModel(
            in_channels=8,  # = the VAE's latent channels
            out_channels=8,
            patch_size=1,
            patch_size_t=1,
            num_attention_heads=2,
            attention_head_dim=8,
            cross_attention_dim=16,  # = heads x head dim
            num_layers=1,
            caption_channels=16,  # = the text encoder's d_model
        )
        pipe = LTXImageToVideoPipeline(
            scheduler=FlowMatchEulerDiscreteScheduler(),
            vae=vae,
            text_encoder=text_encoder,
            tokenizer=tokenizer,
            transformer=transformer,
        )
        pipe.save_pretrained(str(out_dir))

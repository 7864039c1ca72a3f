"""Wan image-to-video (Alibaba's Wan team) through diffusers' ``WanImageToVideoPipeline``.

One pipeline class serves three checkpoint layouts, one family class each:

- ``Wan21ImageToVideo``: Wan 2.1 I2V 14B, 480P and 720P checkpoints. A CLIP ViT-H image encoder
  adds 257 image tokens to every cross-attention, and the first frame's VAE latents plus a
  4-channel frame mask are stacked onto the noise (16 + 4 + 16 = 36 transformer input channels).
- ``Wan22TI2V5B``: Wan 2.2 TI2V 5B. No image encoder; the Wan 2.2 VAE (48 latent channels,
  16x spatial compression) and ``expand_timesteps``: the first latent frame *is* the encoded
  image, kept clean by giving its tokens timestep 0.
- ``Wan22ImageToVideoA14B``: Wan 2.2 I2V A14B, a mixture of two experts. ``transformer`` denoises
  the high-noise steps and ``transformer_2`` the low-noise ones, switching at timestep
  ``boundary_ratio * 1000``; each expert has its own guidance scale.

All of them use the UMT5-XXL text encoder and the UniPC flow-matching scheduler, whose
``flow_shift`` depends on the model and resolution, so every catalog entry states it.
torch, diffusers and transformers are imported inside methods (see ``pipeline.py``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from vmevalkit.models.local.pipeline import LocalPipeline, PipelineRequest

# The negative prompt of diffusers' Wan examples (docs/source/en/api/pipelines/wan.md and the
# WanImageToVideoPipeline docstring), an English rendering of the original repository's default
# ``sample_neg_prompt``, which Wan's own generate.py applies whenever no negative prompt is given.
NEGATIVE_PROMPT = (
    "Bright tones, overexposed, static, blurred details, subtitles, style, works, paintings, images, static, "
    "overall gray, worst quality, low quality, JPEG compression residue, ugly, incomplete, extra fingers, "
    "poorly drawn hands, poorly drawn faces, deformed, disfigured, misshapen limbs, fused fingers, still picture, "
    "messy background, three legs, many people in the background, walking backwards"
)


class WanImageToVideo(LocalPipeline):
    """What every Wan variant shares: float32 VAE, UniPC with the entry's ``flow_shift``, the tiny UMT5."""

    family = "wan"
    pipeline_class = "WanImageToVideoPipeline"
    frame_step = 4  # the VAE compresses time 4x: num_frames = 4k + 1
    size_multiple = 16  # 8x VAE x 2x2 transformer patches
    cuda_dtype = "bfloat16"

    def __init__(self, model: str, *, flow_shift: float, negative_prompt: str = NEGATIVE_PROMPT, **kwargs: Any) -> None:
        super().__init__(model, negative_prompt=negative_prompt, **kwargs)
        self.flow_shift = flow_shift

    # ---- loading ----

    def load(self, checkpoint_dir: Path, dtype: Any) -> Any:
        return self.load_pipeline(checkpoint_dir, dtype)

    def load_pipeline(self, checkpoint_dir: Path, dtype: Any, **overrides: Any) -> Any:
        """The pipeline with a float32 VAE and the entry's scheduler; ``overrides`` go to ``from_pretrained``."""
        import diffusers
        import torch

        # The diffusers Wan docs load the VAE in float32 "for better decoding quality"; the
        # transformer(s) and the text encoder take ``dtype``.
        vae = diffusers.AutoencoderKLWan.from_pretrained(checkpoint_dir, subfolder="vae", dtype=torch.float32)
        pipe = diffusers.WanImageToVideoPipeline.from_pretrained(str(checkpoint_dir), vae=vae, dtype=dtype, **overrides)
        # The scheduler's flow_shift is a sampling choice, not a weight, and depends on the
        # resolution (the docs: lower for smaller videos; Wan 2.1 uses 3.0 at 480P, 5.0 at 720P),
        # so it comes from the catalog rather than from the checkpoint's scheduler_config.json.
        pipe.scheduler = diffusers.UniPCMultistepScheduler.from_config(
            pipe.scheduler.config, flow_shift=self.flow_shift
        )
        return pipe

    # ---- tiny checkpoints: the parts every variant has ----

    @staticmethod
    def tiny_text_parts() -> dict[str, Any]:
        """Tokenizer, UMT5 text encoder and UniPC scheduler, configured like the real ones but tiny."""
        import diffusers
        import transformers

        from vmevalkit.workers.tiny_text import t5_tokenizer

        tokenizer = t5_tokenizer()
        text_encoder = transformers.UMT5EncoderModel(
            transformers.UMT5Config(
                vocab_size=len(tokenizer),
                d_model=32,
                d_kv=8,
                d_ff=32,
                num_layers=1,
                num_heads=4,
                relative_attention_num_buckets=8,
                relative_attention_max_distance=16,
                feed_forward_proj="gated-gelu",  # as umt5-xxl
                pad_token_id=0,
                eos_token_id=1,
            )
        )
        # The shipped Wan schedulers: UniPC over flow-matching sigmas.
        scheduler = diffusers.UniPCMultistepScheduler(
            prediction_type="flow_prediction", use_flow_sigmas=True, num_train_timesteps=1000, flow_shift=3.0
        )
        return {"tokenizer": tokenizer, "text_encoder": text_encoder, "scheduler": scheduler}

    @staticmethod
    def tiny_transformer(in_channels: int, out_channels: int, image_dim: int | None = None) -> Any:
        """A 2-block WanTransformer3DModel; ``image_dim`` adds the Wan 2.1 image cross-attention."""
        import diffusers

        heads, head_dim = 2, 12  # rotary embedding splits head_dim into time/height/width parts
        return diffusers.WanTransformer3DModel(
            patch_size=(1, 2, 2),
            num_attention_heads=heads,
            attention_head_dim=head_dim,
            in_channels=in_channels,
            out_channels=out_channels,
            text_dim=32,  # the tiny UMT5's d_model
            freq_dim=32,
            ffn_dim=32,
            num_layers=2,
            cross_attn_norm=True,
            qk_norm="rms_norm_across_heads",
            # Wan 2.1 I2V projects the image tokens to the model width, then keys/values from them.
            image_dim=image_dim,
            added_kv_proj_dim=heads * head_dim if image_dim is not None else None,
            rope_max_seq_len=32,
        )

    @staticmethod
    def tiny_wan21_vae() -> Any:
        """The Wan 2.1 VAE layout: 16 latent channels, 8x spatial and 4x temporal compression."""
        import diffusers

        return diffusers.AutoencoderKLWan(
            base_dim=8, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1, temperal_downsample=[False, True, True]
        )


class Wan21ImageToVideo(WanImageToVideo):
    """Wan 2.1 I2V 14B (480P or 720P): CLIP image tokens plus first-frame latents condition one transformer."""

    tiny_settings: ClassVar[dict[str, Any]] = {
        "height": 32,
        "width": 32,
        "num_frames": 9,
        "steps": 2,
        "guidance_scale": 5.0,  # > 1 so the tiny check runs classifier-free guidance too
        "flow_shift": 3.0,
    }

    def load(self, checkpoint_dir: Path, dtype: Any) -> Any:
        import torch
        import transformers

        # The docs' Wan 2.1 I2V example loads the CLIP image encoder in float32 as well.
        image_encoder = transformers.CLIPVisionModel.from_pretrained(
            checkpoint_dir, subfolder="image_encoder", dtype=torch.float32
        )
        return self.load_pipeline(checkpoint_dir, dtype, image_encoder=image_encoder)

    @classmethod
    def build_tiny(cls, out_dir: Path) -> None:
        import diffusers
        import torch
        import transformers

        torch.manual_seed(0)
        clip_width = 16
        # Wan-AI/Wan2.1-I2V-14B-*-Diffusers ship a CLIPVisionModel (ViT-H/14, 224 px) and its processor.
        image_encoder = transformers.CLIPVisionModel(
            transformers.CLIPVisionConfig(
                hidden_size=clip_width,
                intermediate_size=32,
                num_hidden_layers=2,  # the pipeline reads the penultimate layer's hidden states
                num_attention_heads=2,
                image_size=32,
                patch_size=8,
            )
        )
        image_processor = transformers.CLIPImageProcessor(
            size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}
        )
        pipe = diffusers.WanImageToVideoPipeline(
            **cls.tiny_text_parts(),
            vae=cls.tiny_wan21_vae(),
            image_encoder=image_encoder,
            image_processor=image_processor,
            # noise (16) + frame mask (4) + first-frame latents (16)
            transformer=cls.tiny_transformer(in_channels=36, out_channels=16, image_dim=clip_width),
        )
        pipe.save_pretrained(out_dir)


class Wan22TI2V5B(WanImageToVideo):
    """Wan 2.2 TI2V 5B: the 48-channel Wan 2.2 VAE, no image encoder, the image as the first latent frame."""

    size_multiple = 32  # 16x VAE x 2x2 transformer patches
    tiny_settings: ClassVar[dict[str, Any]] = {
        "height": 64,
        "width": 64,
        "num_frames": 9,
        "steps": 2,
        "guidance_scale": 5.0,
        "flow_shift": 5.0,
    }

    @classmethod
    def build_tiny(cls, out_dir: Path) -> None:
        import diffusers
        import torch

        torch.manual_seed(0)
        # The Wan 2.2 VAE: 2x2 pixel patches in (3 x 4 = 12 channels), a residual encoder and
        # decoder (wider decoder, as in the real one), 48 latent channels, 16x spatial compression.
        vae = diffusers.AutoencoderKLWan(
            base_dim=8,
            decoder_base_dim=16,
            z_dim=48,
            in_channels=12,
            out_channels=12,
            is_residual=True,
            patch_size=2,
            dim_mult=[1, 1, 1, 1],
            num_res_blocks=1,
            temperal_downsample=[False, True, True],
            latents_mean=[0.0] * 48,
            latents_std=[1.0] * 48,
            scale_factor_spatial=16,
            scale_factor_temporal=4,
        )
        # Wan-AI/Wan2.2-TI2V-5B-Diffusers is saved as a text-to-video WanPipeline with
        # expand_timesteps=True and no image encoder; production loads it as WanImageToVideoPipeline,
        # so the tiny checkpoint is saved the same way to exercise that cross-class load.
        pipe = diffusers.WanPipeline(
            **cls.tiny_text_parts(),
            vae=vae,
            transformer=cls.tiny_transformer(in_channels=48, out_channels=48),
            expand_timesteps=True,
        )
        pipe.save_pretrained(out_dir)


class Wan22ImageToVideoA14B(WanImageToVideo):
    """Wan 2.2 I2V A14B: a high-noise and a low-noise expert, each with its own guidance scale."""

    tiny_settings: ClassVar[dict[str, Any]] = {
        "height": 32,
        "width": 32,
        "num_frames": 9,
        "steps": 2,
        "guidance_scale": 5.0,
        "guidance_scale_2": 3.0,
        "flow_shift": 5.0,
        # With 2 steps and flow_shift 5 the timesteps are ~999 and ~833: one step per expert.
        "boundary_ratio": 0.9,
    }

    def __init__(self, model: str, *, boundary_ratio: float, guidance_scale_2: float, **kwargs: Any) -> None:
        super().__init__(model, **kwargs)
        self.boundary_ratio = boundary_ratio  # switch experts at timestep boundary_ratio * 1000
        self.guidance_scale_2 = guidance_scale_2  # guidance of the low-noise expert (transformer_2)

    def load(self, checkpoint_dir: Path, dtype: Any) -> Any:
        return self.load_pipeline(checkpoint_dir, dtype, boundary_ratio=self.boundary_ratio)

    def call_kwargs(self, request: PipelineRequest) -> dict[str, Any]:
        # ``guidance_scale`` (the per-job one) drives the high-noise expert.
        return {**super().call_kwargs(request), "guidance_scale_2": self.guidance_scale_2}

    @classmethod
    def build_tiny(cls, out_dir: Path) -> None:
        import diffusers
        import torch

        torch.manual_seed(0)
        # Two experts of the same (Wan 2.1 I2V-like) shape, but no image encoder: Wan 2.2 I2V
        # conditions on the first-frame latents only.
        pipe = diffusers.WanImageToVideoPipeline(
            **cls.tiny_text_parts(),
            vae=cls.tiny_wan21_vae(),
            transformer=cls.tiny_transformer(in_channels=36, out_channels=16),
            transformer_2=cls.tiny_transformer(in_channels=36, out_channels=16),
            boundary_ratio=cls.tiny_settings["boundary_ratio"],
        )
        pipe.save_pretrained(out_dir)

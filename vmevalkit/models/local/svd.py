"""Stable Video Diffusion (Stability AI), diffusers ``StableVideoDiffusionPipeline``.

SVD is conditioned on the image only: it has no text encoder, so the prompt is ignored
(``uses_prompt = False``, and reports say so). Its knobs are micro-conditionings instead:
``motion_bucket_id`` (more motion when higher), ``noise_aug_strength`` (noise added to the
conditioning image) and ``fps``; guidance ramps linearly over the frames from
``min_guidance_scale`` to ``max_guidance_scale``.

Defaults follow the diffusers guide https://huggingface.co/docs/diffusers/using-diffusers/svd
(SVD-XT: 25 frames at 1024x576, ``decode_chunk_size=8``, fps 7) and the pipeline's own
``__call__`` defaults (25 steps, guidance 1.0 -> 3.0, motion bucket 127, noise 0.02).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from vmevalkit.models.local.pipeline import LocalPipeline, PipelineRequest


class StableVideoDiffusion(LocalPipeline):
    family: ClassVar[str] = "svd"
    pipeline_class: ClassVar[str] = "StableVideoDiffusionPipeline"
    uses_prompt: ClassVar[bool] = False
    # Any frame count works (the UNet attends over all frames at once); SVD-XT was tuned on 25.
    frame_step: ClassVar[int] = 1
    # 8x VAE downsampling times three UNet downsamples.
    size_multiple: ClassVar[int] = 64
    # Stability publishes fp16 weights and the diffusers guide runs them in float16.
    cuda_dtype: ClassVar[str] = "float16"

    def call_kwargs(self, request: PipelineRequest) -> dict[str, Any]:
        """SVD's ``__call__`` takes no prompt, negative prompt or ``guidance_scale``.

        Our ``guidance_scale`` is the guidance reached on the last frame (``max_guidance_scale``);
        the first frame uses ``min_guidance_scale`` from the catalog extras.
        """
        extra = request.extra
        return {
            "image": request.image,
            "height": request.height,
            "width": request.width,
            "num_frames": request.num_frames,
            "num_inference_steps": request.steps,
            "min_guidance_scale": float(extra.get("min_guidance_scale", 1.0)),
            "max_guidance_scale": request.guidance_scale,
            # SVD is micro-conditioned on the frame rate it should look like it was filmed at.
            "fps": request.fps,
            "motion_bucket_id": int(extra.get("motion_bucket_id", 127)),
            "noise_aug_strength": float(extra.get("noise_aug_strength", 0.02)),
            # Frames the VAE decodes at once: lower saves memory, slightly more flicker.
            "decode_chunk_size": int(extra.get("decode_chunk_size", 8)),
            "generator": request.generator,
        }

    # ---- tiny checkpoint ----

    tiny_settings: ClassVar[dict[str, Any]] = {"height": 32, "width": 32, "num_frames": 3, "steps": 2}

    @classmethod
    def build_tiny(cls, out_dir: Path) -> None:
        import torch
        from diffusers import (
            AutoencoderKLTemporalDecoder,
            EulerDiscreteScheduler,
            StableVideoDiffusionPipeline,
            UNetSpatioTemporalConditionModel,
        )
        from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModelWithProjection

        torch.manual_seed(0)
        # The image embedding (projection_dim) is the UNet's cross-attention context. The pipeline
        # resizes the image to 224 px itself; big patches keep that cheap (7 x 7 tokens).
        image_encoder = CLIPVisionModelWithProjection(
            CLIPVisionConfig(
                hidden_size=16,
                projection_dim=16,
                intermediate_size=32,
                num_hidden_layers=1,
                num_attention_heads=2,
                image_size=224,
                patch_size=32,
            )
        )
        feature_extractor = CLIPImageProcessor(size=224, crop_size=224)
        # Two blocks: one downsample, so 32 px -> 16 latent px -> 8 at the bottom of the UNet.
        unet = UNetSpatioTemporalConditionModel(
            sample_size=16,
            in_channels=8,  # noisy latents + the encoded conditioning image, 4 channels each
            out_channels=4,
            down_block_types=("CrossAttnDownBlockSpatioTemporal", "DownBlockSpatioTemporal"),
            up_block_types=("UpBlockSpatioTemporal", "CrossAttnUpBlockSpatioTemporal"),
            block_out_channels=(32, 32),
            layers_per_block=1,
            cross_attention_dim=16,
            num_attention_heads=2,
            # fps, motion bucket and noise strength, each embedded in addition_time_embed_dim.
            addition_time_embed_dim=8,
            projection_class_embeddings_input_dim=3 * 8,
        )
        vae = AutoencoderKLTemporalDecoder(
            in_channels=3,
            out_channels=3,
            down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
            block_out_channels=(32, 32),
            layers_per_block=1,
            latent_channels=4,
        )
        # SVD's own scheduler settings (v-prediction, continuous Karras sigmas).
        scheduler = EulerDiscreteScheduler(
            num_train_timesteps=1000,
            beta_start=0.00085,
            beta_end=0.012,
            beta_schedule="scaled_linear",
            prediction_type="v_prediction",
            interpolation_type="linear",
            use_karras_sigmas=True,
            sigma_min=0.002,
            sigma_max=700.0,
            timestep_spacing="leading",
            timestep_type="continuous",
            steps_offset=1,
        )
        pipe = StableVideoDiffusionPipeline(
            vae=vae,
            image_encoder=image_encoder,
            unet=unet,
            scheduler=scheduler,
            feature_extractor=feature_extractor,
        )
        pipe.save_pretrained(str(out_dir))

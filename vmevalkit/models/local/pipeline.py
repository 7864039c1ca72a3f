"""The base class of every local model family: a cog-style predictor around one diffusers pipeline.

It runs inside the model's own virtualenv (``envs/<model>/``), in the worker process, as a
``WorkerService`` (``vmevalkit.workers.service``): ``setup_worker`` -> ``setup()`` loads the pipeline
once, ``handle(Generate)`` -> ``predict()`` serves many jobs and writes each video. torch and diffusers
are imported inside methods so the main environment can name these classes by dotted path
without having either installed.

A family subclass declares its diffusers pipeline class and frame/size rules, and may
override ``load`` (components that need a special dtype) and ``call_kwargs`` (how our
request maps onto the pipeline's ``__call__``). It also provides ``build_tiny`` which writes
a tiny random-weight checkpoint with ``save_pretrained``, so tests run the exact production
loading code on CPU in seconds.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from vmevalkit.workers.protocol import Generate, Load, Result
from vmevalkit.workers.service import Loaded, ProgressCallback, WorkerService

GIB = 2**30
# Constructor keywords of every tiny checkpoint, before a family's own ``tiny_settings``.
TINY_DEFAULTS: dict[str, Any] = {
    "checkpoint": "tiny",
    "height": 32,
    "width": 32,
    "num_frames": 9,
    "fps": 8,
    "steps": 2,
    "guidance_scale": 1.0,
    "min_gpu_memory_gb": 0,
}

# Memory savers a model may enable when the GPU is smaller than its ``min_gpu_memory_gb``.
SAVERS = ("model_cpu_offload", "sequential_cpu_offload", "vae_tiling", "vae_slicing")


@dataclass
class PipelineRequest:
    """One generation, as the family's ``call_kwargs`` sees it."""

    image: Any  # PIL.Image.Image, RGB, already resized to width x height
    prompt: str
    negative_prompt: str
    seed: int
    height: int
    width: int
    num_frames: int
    fps: int
    steps: int
    guidance_scale: float
    generator: Any  # torch.Generator seeded with ``seed``
    extra: dict[str, Any] = field(default_factory=dict)  # family-specific catalog args


class LocalPipeline(WorkerService):
    """Service for one local model. Catalog ``args`` become constructor keywords.

    Subclasses set the class attributes and implement ``build_tiny``.
    """

    request_type: ClassVar[type[Generate]] = Generate
    checkpoint_marker: ClassVar[str] = "model_index.json"  # a diffusers pipeline folder

    family: ClassVar[str] = ""
    pipeline_class: ClassVar[str] = ""  # diffusers class name, e.g. "LTXImageToVideoPipeline"
    uses_prompt: ClassVar[bool] = True  # False: the model ignores the text (SVD); reports say so
    frame_step: ClassVar[int] = 4  # valid frame counts are frame_step * k + 1
    size_multiple: ClassVar[int] = 16  # height and width must be multiples of this
    fixed_size: ClassVar[bool] = False  # True: only the default height x width works (inputs are letterboxed)
    # Default dtype on CUDA; CPU always runs float32.
    cuda_dtype: ClassVar[str] = "bfloat16"

    def __init__(
        self,
        model: str,
        *,
        checkpoint: str | None = None,
        height: int,
        width: int,
        num_frames: int,
        fps: int,
        steps: int,
        guidance_scale: float,
        min_gpu_memory_gb: float,
        savers: Sequence[str] = (),
        negative_prompt: str = "",
        max_frames: int | None = None,
        **extra: Any,
    ) -> None:
        unknown = sorted(set(savers) - set(SAVERS))
        if unknown:
            raise ValueError(f"unknown memory saver(s) {unknown}; known: {', '.join(SAVERS)}")
        self.model = model  # the Hugging Face repo id
        self.checkpoint = checkpoint  # key in the checkpoint registry (weights.py)
        self.height, self.width = height, width
        self.num_frames, self.fps = num_frames, fps
        self.max_frames = max_frames or num_frames
        self.steps, self.guidance_scale = steps, guidance_scale
        self.min_gpu_memory_gb = min_gpu_memory_gb
        self.savers = tuple(savers)
        self.negative_prompt = negative_prompt
        self.extra = extra
        self.pipe: Any = None
        self.device = "cpu"

    # ---- sizes and frame counts (pure, used by the runner too) ----

    def frames_for(self, duration: float) -> int:
        """The valid frame count closest to ``duration`` seconds at the model's fps, within its limits."""
        wanted = max(1, round(duration * self.fps))
        k = max(0, round((wanted - 1) / self.frame_step))
        frames = self.frame_step * k + 1
        limit = self.frame_step * ((self.max_frames - 1) // self.frame_step) + 1
        return max(self.frame_step + 1 if self.frame_step > 1 else 1, min(frames, limit))

    def size_for(self, image_width: int, image_height: int) -> tuple[int, int]:
        """(width, height) to generate at: the default pixel count at the input's aspect ratio."""
        if self.fixed_size:
            return self.width, self.height
        area = self.width * self.height
        aspect = image_width / image_height
        m = self.size_multiple
        width = max(m, round(math.sqrt(area * aspect) / m) * m)
        height = max(m, round(math.sqrt(area / aspect) / m) * m)
        return width, height

    # ---- the worker contract (vmevalkit.workers.service) ----

    def setup_worker(self, load: Load, device: str, gpu_memory_bytes: int | None) -> Loaded:
        savers = load.savers
        if savers is None:  # the model's own savers, only when its GPU is too small to hold it whole
            small = gpu_memory_bytes is not None and gpu_memory_bytes < self.min_gpu_memory_gb * GIB
            savers = list(self.savers) if small else []
        self.setup(Path(load.checkpoint_dir), device, savers)
        dtype = getattr(self.pipe, "dtype", None)
        return Loaded(dtype=str(dtype).removeprefix("torch.") if dtype is not None else "none", savers=list(savers))

    def handle(self, request: Generate, progress: ProgressCallback) -> Result:
        import hashlib
        import time

        from PIL import Image

        from vmevalkit.video import write_video

        started = time.monotonic()
        with Image.open(request.image_path) as image:
            image.load()
            frames = self.predict(
                image,
                request.prompt,
                seed=request.seed,
                num_frames=request.num_frames,
                height=request.height,
                width=request.width,
                steps=request.steps,
                guidance_scale=request.guidance_scale,
                negative_prompt=request.negative_prompt,
                on_step=progress,
            )
        info = write_video(frames, request.output_path, fps=request.fps)
        return Result(
            id=request.id,
            ok=True,
            video_path=info.path,
            frames=info.frame_count,
            height=info.height,
            width=info.width,
            fps=request.fps,
            generate_seconds=round(time.monotonic() - started, 4),
            prompt_sha256=hashlib.sha256(request.prompt.encode("utf-8")).hexdigest(),
        )

    def out_of_memory(self, device: str, gpu_memory_bytes: int | None) -> str:
        total = f"{gpu_memory_bytes / GIB:.0f} GiB" if gpu_memory_bytes else "unknown size"
        savers = ",".join(self.savers or ("model_cpu_offload", "vae_tiling"))
        return (
            f"CUDA out of memory on {device} ({total}); this model wants about "
            f"{self.min_gpu_memory_gb:g} GiB. Enable memory savers with VMEVALKIT_LOCAL_SAVERS={savers}, "
            "or make shorter videos (--duration)"
        )

    # ---- loading (in the worker, once) ----

    def setup(self, checkpoint_dir: Path, device: str, savers: Sequence[str] = ()) -> None:
        import torch

        dtype = getattr(torch, self.cuda_dtype) if device.startswith("cuda") else torch.float32
        self.device = device
        self.pipe = self.load(Path(checkpoint_dir), dtype)
        self.pipe.set_progress_bar_config(disable=True)
        enabled = set(savers)
        if "sequential_cpu_offload" in enabled and device.startswith("cuda"):
            self.pipe.enable_sequential_cpu_offload(device=device)
        elif "model_cpu_offload" in enabled and device.startswith("cuda"):
            self.pipe.enable_model_cpu_offload(device=device)
        else:
            self.pipe.to(device)
        vae: Any = getattr(self.pipe, "vae", None)
        if "vae_tiling" in enabled and hasattr(vae, "enable_tiling"):
            vae.enable_tiling()
        if "vae_slicing" in enabled and hasattr(vae, "enable_slicing"):
            vae.enable_slicing()

    def load(self, checkpoint_dir: Path, dtype: Any) -> Any:
        """Build the diffusers pipeline from a checkpoint folder (``model_index.json`` at its root)."""
        import diffusers

        pipeline_cls = getattr(diffusers, self.pipeline_class)
        return pipeline_cls.from_pretrained(str(checkpoint_dir), dtype=dtype)  # diffusers 0.42 renamed torch_dtype

    # ---- generating (in the worker, many times) ----

    def call_kwargs(self, request: PipelineRequest) -> dict[str, Any]:
        """Keyword arguments for the pipeline's ``__call__``; families override for their own names."""
        return {
            "image": request.image,
            "prompt": request.prompt,
            "negative_prompt": request.negative_prompt or None,
            "height": request.height,
            "width": request.width,
            "num_frames": request.num_frames,
            "num_inference_steps": request.steps,
            "guidance_scale": request.guidance_scale,
            "generator": request.generator,
        }

    def predict(
        self,
        image: Any,
        prompt: str,
        *,
        seed: int,
        num_frames: int,
        height: int,
        width: int,
        steps: int | None = None,
        guidance_scale: float | None = None,
        negative_prompt: str | None = None,
        on_step: Callable[[int, int], None] | None = None,
    ) -> list[Any]:
        """Frames (HxWx3 uint8 numpy arrays) for one job."""
        import numpy as np
        import torch

        if self.pipe is None:
            raise RuntimeError("setup() first")
        steps = steps or self.steps
        generator = torch.Generator(device="cpu").manual_seed(seed)
        request = PipelineRequest(
            image=image.convert("RGB").resize((width, height)),
            prompt=prompt,
            negative_prompt=self.negative_prompt if negative_prompt is None else negative_prompt,
            seed=seed,
            height=height,
            width=width,
            num_frames=num_frames,
            fps=self.fps,
            steps=steps,
            guidance_scale=self.guidance_scale if guidance_scale is None else guidance_scale,
            generator=generator,
            extra=dict(self.extra),
        )
        kwargs = self.call_kwargs(request)
        kwargs["output_type"] = "np"
        if on_step is not None:

            def callback(pipe: Any, step: int, timestep: Any, callback_kwargs: dict[str, Any]) -> dict[str, Any]:
                on_step(step + 1, steps)
                return callback_kwargs

            kwargs["callback_on_step_end"] = callback
        output = self.pipe(**kwargs)
        video = np.asarray(output.frames[0])  # (frames, height, width, 3) floats in [0, 1]
        if video.dtype != np.uint8:
            video = (np.clip(np.nan_to_num(video), 0.0, 1.0) * 255).round().astype(np.uint8)
        return list(video)

    # ---- tiny checkpoints (tests, smoke checks) ----

    @classmethod
    def build_tiny(cls, out_dir: Path) -> None:
        """Write a tiny random-weight checkpoint of this family to ``out_dir`` with ``save_pretrained``."""
        raise NotImplementedError(f"{cls.__name__} has no tiny checkpoint builder")

    @classmethod
    def check_tiny(cls, checkpoint_dir: Path, args: dict[str, Any]) -> dict[str, Any]:
        """Generate a few frames on the CPU from a tiny checkpoint (``args`` are not used: the tiny settings are)."""
        from PIL import Image

        settings = {**TINY_DEFAULTS, **cls.tiny_settings}
        service = cls("tiny", **settings)
        service.setup(checkpoint_dir, "cpu")
        frames = service.predict(
            Image.new("RGB", (64, 64), (200, 30, 30)),
            "a tiny test",
            seed=0,
            num_frames=settings["num_frames"],
            height=settings["height"],
            width=settings["width"],
        )
        first = frames[0]
        return {
            "frames": len(frames),
            "height": int(first.shape[0]),
            "width": int(first.shape[1]),
            "dtype": str(first.dtype),
        }

    # Frames and size to use with the tiny checkpoint (fast on CPU).
    tiny_settings: ClassVar[dict[str, Any]] = {"height": 32, "width": 32, "num_frames": 9, "steps": 2}

"""``LocalScorerModel``: a scorer that runs inside its own virtualenv, in a worker that loads it once.

Like a cog predictor: ``setup(checkpoint_dir, device)`` loads the weights once, ``score(items, **kwargs)`` is called
for many batches. It is a ``WorkerService`` (``vmevalkit.workers.service``): the worker calls ``setup_worker`` and
``handle(Score)``, which turn protocol messages into those two calls. The worker builds it from the catalog entry's
``args``; the main environment only reads its class attributes (dimensions, inputs, version), never imports torch.

Every family also builds a tiny random-weight checkpoint in the layout of the real one (``build_tiny``), so tests
run the production ``from_pretrained`` code on a checkpoint made here.
"""

from __future__ import annotations

import json
import math
import time
from abc import abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from PIL import Image

from vmevalkit.scoring.base import PUBLIC_INPUTS, Range, ScoreBatch, ScoreItem
from vmevalkit.workers.protocol import Load, Score, Scores
from vmevalkit.workers.service import Loaded, ProgressCallback, WorkerService


class LocalScorerModel(WorkerService):
    """Base of the local scorer families. Subclasses set ``dimensions`` (and ``inputs``, ``version``...)."""

    request_type: ClassVar[type[Score]] = Score

    version: ClassVar[str] = "1"  # bump when scores change meaning: old score files are redone
    dimensions: ClassVar[tuple[str, ...]] = ()
    inputs: ClassVar[frozenset[str]] = PUBLIC_INPUTS
    pass_dimension: ClassVar[str | None] = None
    # The declared range of some or all dimensions (the scorer contract's ``ranges``): recorded in score files.
    ranges: ClassVar[dict[str, Range]] = {}
    # A checkpoint folder must hold this file (a transformers checkpoint: config.json).
    checkpoint_marker: ClassVar[str] = "config.json"
    # Constructor keywords for its tiny checkpoint (e.g. fewer frames), on top of the catalog entry's args.
    tiny_args: ClassVar[dict[str, Any]] = {}
    # What to lower when a batch runs out of GPU memory: the options that set the memory of one forward pass.
    oom_hint: ClassVar[str] = "lower --batch-size"

    def __init__(self, model: str, **options: Any) -> None:
        """``model`` is the Hugging Face repo id (for messages); ``options`` the catalog entry's args."""
        self.model = model
        self.options = options
        self.device = "cpu"

    @abstractmethod
    def setup(self, checkpoint_dir: Path, device: str) -> None:
        """Load the weights from ``checkpoint_dir`` (a local folder: workers never download) onto ``device``."""

    @abstractmethod
    def score(self, items: Sequence[ScoreItem], **kwargs: Any) -> ScoreBatch:
        """``[len(items), len(dimensions)]`` scores, NaN where an item cannot be scored, plus per-item details."""

    @classmethod
    @abstractmethod
    def build_tiny(cls, out_dir: Path) -> None:
        """Write a tiny random-weight checkpoint in the real checkpoint's layout to ``out_dir``."""

    @property
    def dtype(self) -> str:
        """The weights' dtype, for the worker's ready message ("float32", "bfloat16"...)."""
        return "float32"

    # ---- the worker contract (vmevalkit.workers.service) ----

    def setup_worker(self, load: Load, device: str, gpu_memory_bytes: int | None) -> Loaded:
        self.setup(Path(load.checkpoint_dir), device)
        return Loaded(dtype=self.dtype)

    def handle(self, request: Score, progress: ProgressCallback) -> Scores:
        started = time.monotonic()
        items = [
            ScoreItem(
                generation_dir=Path(item.generation_dir),
                model=item.model,
                task_id=item.task_id,
                domain=item.domain,
                video_path=Path(item.video_path),
                prompt=item.prompt,
                first_frame=Path(item.first_frame),
                final_frame=Path(item.final_frame) if item.final_frame else None,
                task_dir=Path(item.task_dir) if item.task_dir else None,
            )
            for item in request.items
        ]
        batch = self.score(items, **request.kwargs)
        rows = [[float(v) for v in row] for row in batch.scores]
        return Scores(
            id=request.id,
            ok=True,
            # The shape is checked by the scoring runner (checked_scores), which names the scorer and both shapes.
            scores=[[v if math.isfinite(v) else None for v in row] for row in rows],
            details=[plain_details(d) for d in batch.details] or [{} for _ in items],
            score_seconds=round(time.monotonic() - started, 4),
        )

    def out_of_memory(self, device: str, gpu_memory_bytes: int | None) -> str:
        return f"CUDA out of memory on {device} while scoring a batch: {self.oom_hint}"

    @classmethod
    def check_tiny(cls, checkpoint_dir: Path, args: dict[str, Any]) -> dict[str, Any]:
        """Score two small videos (a moving square, a still one) on the CPU with a tiny checkpoint.

        ``args`` are the catalog entry's (its ``checkpoint`` dropped), then the family's ``tiny_args`` on top."""
        import tempfile

        from vmevalkit.scoring.local.tiny import sample_items

        options = {k: v for k, v in args.items() if k != "checkpoint"}
        scorer = cls("tiny", **{**options, **cls.tiny_args})
        scorer.setup(checkpoint_dir, "cpu")
        with tempfile.TemporaryDirectory(prefix="vmevalkit-tiny-scorer-") as tmp:
            batch = scorer.score(sample_items(Path(tmp)))
        scores = np.asarray(batch.scores, dtype=np.float64)
        return {
            "dimensions": list(cls.dimensions),
            "shape": list(scores.shape),
            "scores": [[v if math.isfinite(v) else None for v in row] for row in scores.tolist()],
            "details": batch.details,
            "dtype": scorer.dtype,
        }


def plain_details(value: Any) -> dict[str, Any]:
    """A scorer's per-item details as plain JSON (numpy scalars and arrays turned into numbers and lists)."""

    def default(obj: Any) -> Any:
        if hasattr(obj, "tolist"):
            return obj.tolist()
        return str(obj)

    plain = json.loads(json.dumps(value, default=default, allow_nan=True))
    return plain if isinstance(plain, dict) else {"detail": plain}


def int_option(value: Any, name: str, minimum: int = 1) -> int:
    """A constructor option that must be an int (not a bool) of at least ``minimum``; a ValueError names it.

    Checked when the class is built, so in the main environment too, before any worker starts."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer of at least {minimum}, got {value!r}")
    return value


def torch_dtype_for(device: str) -> Any:
    """bfloat16 on a GPU that supports it, else float16 on a GPU, float32 on the CPU."""
    import torch

    if device.startswith("cuda"):
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.float32


def video_frames(path: Path, count: int) -> tuple[list[Image.Image], list[int], int, float]:
    """``count`` RGB frames spread evenly from the first to the last (all when fewer), their indices, the video's
    frame count and frame rate. Only the sampled frames are kept in memory."""
    from vmevalkit.scoring.judge_rubric import sampled_frames

    sampled, total, fps = sampled_frames(path, count)
    return [Image.fromarray(np.ascontiguousarray(a)) for _, a in sampled], [i for i, _ in sampled], total, fps


def frames_at(path: Path, indices: Sequence[int]) -> list[Image.Image]:
    """The RGB frames of ``path`` at ``indices`` (in that order; an index may repeat), decoding the video once up to
    the last index and keeping only those frames. Raises ``VideoError`` when the video cannot be decoded or one of
    the indices is past its last decodable frame."""
    import av

    from vmevalkit.video import VideoError

    wanted = set(indices)
    last = max(wanted, default=-1)
    found: dict[int, Image.Image] = {}
    try:
        with av.open(str(path), mode="r") as container:
            for index, frame in enumerate(container.decode(video=0)):
                if index in wanted:
                    found[index] = frame.to_image().convert("RGB")
                if index >= last:
                    break
    except (av.error.FFmpegError, OSError) as exc:
        raise VideoError(f"cannot decode {path}: {exc}") from exc
    missing = sorted(wanted - found.keys())
    if missing:
        raise VideoError(f"{path}: frames {missing[:5]} could not be decoded")
    return [found[i] for i in indices]

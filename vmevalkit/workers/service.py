"""``WorkerService``: the one contract the worker child knows (as cog's child knows only its predictor).

A worker loads one class by dotted path (``Load.service``) and needs nothing else from it than this:

1. ``cls(model, **args)``: the catalog entry's model id and arguments (cheap, no torch: the main environment
   builds it too, to read sizes and check options);
2. ``setup_worker(load, device, gpu_memory_bytes)``: load the weights once, return what was loaded (``Loaded``);
3. ``handle(request, progress)``: serve one request of ``request_type``, return its reply (may raise);
4. ``out_of_memory(device, gpu_memory_bytes)``: what to change after a request ran out of GPU memory.

Generator pipelines (``vmevalkit.models.local.pipeline.LocalPipeline``: ``Generate`` -> ``Result``) and scorer
models (``vmevalkit.scoring.local.model.LocalScorerModel``: ``Score`` -> ``Scores``) each implement it; the worker
(``vmevalkit.workers.worker``) never asks which one it serves.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from vmevalkit.workers.protocol import Generate, Load, Result, Score, Scores

Request = Generate | Score
Reply = Result | Scores
# progress(step, total): sent to the parent as ``Progress`` messages while a request runs
ProgressCallback = Callable[[int, int], None]


@dataclass(frozen=True)
class Loaded:
    """What ``setup_worker`` loaded, for the worker's ``Ready`` message."""

    dtype: str
    savers: list[str] = field(default_factory=list)


class WorkerService(ABC):
    """Load once in a worker, then serve many requests. See the module docstring for the order of calls."""

    request_type: ClassVar[type[Generate] | type[Score]]
    # A checkpoint folder must hold this file to be loadable (checked before a worker starts).
    checkpoint_marker: ClassVar[str] = "config.json"

    @abstractmethod
    def __init__(self, model: str, **args: Any) -> None:
        """``model``: the Hugging Face repo id; ``args``: the catalog entry's arguments. Cheap: no weights, no torch."""

    @abstractmethod
    def setup_worker(self, load: Load, device: str, gpu_memory_bytes: int | None) -> Loaded:
        """Load the weights from ``load.checkpoint_dir`` (local: workers never download) onto ``device``."""

    @abstractmethod
    def handle(self, request: Any, progress: ProgressCallback) -> Reply:
        """Serve one request of ``request_type``; an exception becomes its failure reply (``protocol.failure``)."""

    def out_of_memory(self, device: str, gpu_memory_bytes: int | None) -> str:
        return f"CUDA out of memory on {device}"

    @classmethod
    @abstractmethod
    def build_tiny(cls, out_dir: Path) -> None:
        """Write a tiny random-weight checkpoint in the real checkpoint's layout to ``out_dir`` (tests)."""

    @classmethod
    @abstractmethod
    def check_tiny(cls, checkpoint_dir: Path, args: dict[str, Any]) -> dict[str, Any]:
        """Load a tiny checkpoint with the production code on the CPU, run one small request, describe the output.

        ``args`` are the catalog entry's; a family may shrink them for its tiny checkpoint."""

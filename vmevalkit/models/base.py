"""The contract between the runner and every video model.

A wrapper adapts one provider or pipeline (its *service*) to a single call,
``generate(image_path, text_prompt, ...)``, that returns a ``GenerationResult``
and never raises for a model failure. Like a cog predictor, a wrapper is built
once, ``setup()`` loads what is expensive, and ``generate`` serves many jobs.
"""

from __future__ import annotations

import time
import traceback
from abc import ABC, abstractmethod
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from vmevalkit.models.constraints import DEFAULT_DURATION_SECONDS

if TYPE_CHECKING:
    from vmevalkit.models.constraints import ModelConstraints

DEFAULT_SEED = 42

GenerationStatus = Literal["completed", "failed"]


class ModelEntry(Protocol):
    """What models read of their catalog entry (``vmevalkit.runner.registry.CatalogEntry`` is one): the
    models layer names the shape it needs instead of importing the runner's registry."""

    @property
    def name(self) -> str: ...

    @property
    def model(self) -> str: ...

    @property
    def kind(self) -> str: ...

    @property
    def service(self) -> str: ...

    @property
    def args(self) -> dict[str, Any]: ...

    @property
    def constraints(self) -> ModelConstraints | None: ...


class GenerationResult(BaseModel):
    """What one ``generate`` call produced. ``model_dump()`` gives the 8-field dict."""

    model_config = ConfigDict(extra="forbid")

    success: bool
    video_path: str | None = None
    error: str | None = None
    duration_seconds: float = 0.0  # wall time spent generating
    generation_id: str | None = None  # provider job id, worker job id, ...
    model: str
    status: GenerationStatus
    metadata: dict[str, Any] = Field(default_factory=dict)

    @classmethod
    def failure(cls, model: str, error: str, **fields: Any) -> GenerationResult:
        return cls(success=False, error=error, model=model, status="failed", **fields)


class ModelWrapper(ABC):
    """Base class of every generator. Subclasses implement ``_generate``.

    Class attributes declare what the runner must know before calling:
    ``requires_ground_truth`` (only the oracle and shortcut baselines: they receive the task and
    its answer; every other model never sees them) and ``supports_seed``.
    """

    requires_ground_truth: ClassVar[bool] = False
    supports_seed: ClassVar[bool] = False

    def __init__(
        self,
        model: str,
        service: Any,
        output_dir: str | Path = "data/outputs/adhoc",
        catalog_entry: ModelEntry | None = None,
        **options: Any,
    ) -> None:
        self.model = model  # the provider's model id
        self.service = service
        self.catalog_entry = catalog_entry  # the CatalogEntry it was built from (constraints, price)
        self.output_dir = Path(output_dir)
        self.options = options
        self._is_set_up = False

    def setup(self) -> None:
        """Load whatever is expensive (weights, clients). Called once before the first job."""

    def close(self) -> None:
        """Release what ``setup`` acquired."""

    def ensure_setup(self) -> None:
        if not self._is_set_up:
            self.setup()
            self._is_set_up = True

    def generate(
        self,
        image_path: str | Path,
        text_prompt: str,
        duration: float = DEFAULT_DURATION_SECONDS,
        output_filename: str | Path | None = None,
        **kwargs: Any,
    ) -> GenerationResult:
        """Generate a video from a first frame and a prompt; failures come back as results.

        ``output_filename`` is where the mp4 goes (relative to ``output_dir`` unless
        absolute). ``seed`` (default ``DEFAULT_SEED``) is honoured where the model
        supports one, so runs are reproducible by default.
        """
        started = time.monotonic()
        image_path = Path(image_path)
        output_path = self._output_path(image_path, output_filename)
        kwargs.setdefault("seed", DEFAULT_SEED)
        try:
            if not image_path.is_file():
                raise FileNotFoundError(f"input image not found: {image_path}")
            if duration <= 0:
                raise ValueError(f"duration must be positive, got {duration}")
            self.ensure_setup()
            result = self._generate(image_path, text_prompt, duration, output_path, **kwargs)
        except Exception as exc:  # the contract: a model failure is a result, not an exception
            return GenerationResult.failure(
                self.model,
                f"{type(exc).__name__}: {exc}",
                duration_seconds=round(time.monotonic() - started, 4),
                metadata={"traceback": traceback.format_exc(limit=8)},
            )
        if not result.duration_seconds:
            result = result.model_copy(update={"duration_seconds": round(time.monotonic() - started, 4)})
        return result

    def _output_path(self, image_path: Path, output_filename: str | Path | None) -> Path:
        if output_filename is None:
            return self.output_dir / f"{self.model}_{image_path.parent.name or 'video'}.mp4"
        path = Path(output_filename)
        return path if path.is_absolute() else self.output_dir / path

    @abstractmethod
    def _generate(
        self, image_path: Path, text_prompt: str, duration: float, output_path: Path, **kwargs: Any
    ) -> GenerationResult:
        """Write the video to ``output_path`` (atomically) and describe it. May raise."""

"""The runner <-> worker protocol: one JSON object per line over the worker's stdin and stdout.

Versioned: the runner opens with ``Load`` carrying ``PROTOCOL_VERSION`` and a worker of another
version answers ``Fatal`` instead of guessing. Every field is data (paths, prompt, numbers):
nothing a user wrote is ever turned into source code or a shell line.

    runner -> worker   Load, then Generate... (a generator) or Score... (a scorer), then Shutdown (or EOF)
    worker -> runner   Ready | Fatal, then per Generate: Progress..., Result; per Score: Scores

A generator's service is a ``LocalPipeline`` (``vmevalkit.models.local.pipeline``), a scorer's a
``LocalScorerModel`` (``vmevalkit.scoring.local.model``); the same worker serves either.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

PROTOCOL_VERSION = 2  # 2: Score and Scores, for local scorers


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ---- runner -> worker ----


class Load(_Message):
    type: Literal["load"] = "load"
    protocol: int = PROTOCOL_VERSION
    service: str  # "package.module:Class", a LocalPipeline or LocalScorerModel subclass
    model: str  # the Hugging Face repo id
    args: dict[str, Any]  # the catalog entry's args: the service's constructor keywords
    checkpoint_dir: str
    device: str = "auto"  # "auto": cuda when visible, else cpu
    savers: list[str] | None = None  # None: the model's own savers when the GPU is below its minimum


class Generate(_Message):
    type: Literal["generate"] = "generate"
    id: str
    image_path: str
    prompt: str
    output_path: str
    seed: int
    num_frames: int
    height: int
    width: int
    fps: int
    steps: int | None = None
    guidance_scale: float | None = None
    negative_prompt: str | None = None


class ScoreItemData(_Message):
    """A ``vmevalkit.scoring.base.ScoreItem`` as data: ground-truth paths only where the scorer declared them."""

    generation_dir: str
    model: str
    task_id: str
    domain: str
    video_path: str
    prompt: str
    first_frame: str
    final_frame: str | None = None
    task_dir: str | None = None


class Score(_Message):
    type: Literal["score"] = "score"
    id: str
    items: list[ScoreItemData]
    kwargs: dict[str, Any] = Field(default_factory=dict)  # score_batch keywords (--scorer-score-kwargs-json)


class Shutdown(_Message):
    type: Literal["shutdown"] = "shutdown"


# ---- worker -> runner ----


class Ready(_Message):
    type: Literal["ready"] = "ready"
    protocol: int = PROTOCOL_VERSION
    pid: int
    device: str
    dtype: str
    savers: list[str]
    load_seconds: float
    gpu_memory_bytes: int | None = None  # total memory of the worker's GPU
    versions: dict[str, str] = Field(default_factory=dict)  # torch, diffusers, ...


class Progress(_Message):
    type: Literal["progress"] = "progress"
    id: str
    step: int
    total: int


ErrorKind = Literal["oom", "bad_request", "error"]


class Result(_Message):
    type: Literal["result"] = "result"
    id: str
    ok: bool
    video_path: str | None = None
    frames: int = 0
    height: int = 0
    width: int = 0
    fps: int = 0
    generate_seconds: float = 0.0
    peak_memory_bytes: int | None = None  # peak GPU memory of this job (CPU: the process's peak RSS)
    prompt_sha256: str | None = None  # of the prompt as the pipeline received it
    error: str | None = None
    error_kind: ErrorKind | None = None


class Scores(_Message):
    """The answer to ``Score``: one row per item (null where the scorer gave NaN) and per-item details."""

    type: Literal["scores"] = "scores"
    id: str
    ok: bool
    scores: list[list[float | None]] = Field(default_factory=list)
    details: list[dict[str, Any]] = Field(default_factory=list)
    score_seconds: float = 0.0
    peak_memory_bytes: int | None = None
    error: str | None = None
    error_kind: ErrorKind | None = None


class Fatal(_Message):
    """The worker cannot serve at all (bad protocol version, the model would not load); it exits next."""

    type: Literal["fatal"] = "fatal"
    error: str
    error_kind: ErrorKind = "error"


ToWorker = Annotated[Load | Generate | Score | Shutdown, Field(discriminator="type")]
FromWorker = Annotated[Ready | Progress | Result | Scores | Fatal, Field(discriminator="type")]

TO_WORKER: TypeAdapter[Load | Generate | Score | Shutdown] = TypeAdapter(ToWorker)
FROM_WORKER: TypeAdapter[Ready | Progress | Result | Scores | Fatal] = TypeAdapter(FromWorker)


# The answer to each kind of request: a failure of either is reported as its own answer type.
REPLY_TYPES: dict[type[Generate] | type[Score], type[Result] | type[Scores]] = {Generate: Result, Score: Scores}


def failure(
    request_type: type[Generate] | type[Score], request_id: str, error: str, kind: ErrorKind
) -> Result | Scores:
    """The answer that reports a failed request of ``request_type``."""
    return REPLY_TYPES[request_type](id=request_id, ok=False, error=error, error_kind=kind)


def encode(message: _Message) -> bytes:
    """One line of UTF-8 JSON: JSON escapes every newline inside a string, so lines frame messages."""
    return message.model_dump_json().encode("utf-8") + b"\n"

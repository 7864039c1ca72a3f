"""The worker: runs inside a model's virtualenv, loads its pipeline (or scorer) once, then serves jobs.

Started by the runner as ``envs/<model>/bin/python -m vmevalkit.models.local.worker``. A generator's
worker serves ``Generate`` requests, a local scorer's (``vmevalkit.scoring.local``) ``Score`` requests. It reads
protocol messages (``protocol.py``) from stdin, one JSON object per line, and answers on stdout.
Everything else the process prints (diffusers warnings, C libraries writing to fd 1) is moved to
stderr first, so nothing but protocol lines can ever reach the runner on stdout.
"""

from __future__ import annotations

import gc
import hashlib
import json
import math
import os
import resource
import sys
import time
import traceback
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any, BinaryIO

from pydantic import ValidationError

from vmevalkit.models.local.pipeline import LocalPipeline
from vmevalkit.models.local.protocol import (
    PROTOCOL_VERSION,
    TO_WORKER,
    ErrorKind,
    Fatal,
    Generate,
    Load,
    Progress,
    Ready,
    Result,
    Score,
    Scores,
    Shutdown,
    encode,
)
from vmevalkit.scoring.base import ScoreItem
from vmevalkit.scoring.local.model import LocalScorerModel
from vmevalkit.utils.imports import load_object

GIB = 2**30


def is_out_of_memory(exc: BaseException) -> bool:
    # torch.OutOfMemoryError (torch.cuda.OutOfMemoryError) without importing torch to check.
    return type(exc).__name__ == "OutOfMemoryError" or "CUDA out of memory" in str(exc)


def _torch() -> Any:
    try:
        import torch
    except ImportError:  # a test pipeline without torch: CPU, no GPU statistics
        return None
    return torch


class Worker:
    def __init__(self, send: Callable[[Any], None]) -> None:
        self.send = send
        self.service: LocalPipeline | None = None
        self.scorer: LocalScorerModel | None = None
        self.device = "cpu"
        self.gpu_memory_bytes: int | None = None

    # ---- load ----

    def load(self, request: Load) -> Ready:
        started = time.monotonic()
        torch = _torch()
        device = request.device
        if device == "auto":
            device = "cuda" if torch is not None and torch.cuda.is_available() else "cpu"
        if device.startswith("cuda"):
            self.gpu_memory_bytes = int(torch.cuda.get_device_properties(torch.device(device)).total_memory)
        cls = load_object(request.service)
        savers: list[str] | None
        if isinstance(cls, type) and issubclass(cls, LocalScorerModel):
            scorer = cls(request.model, **request.args)
            scorer.setup(Path(request.checkpoint_dir), device)
            self.scorer, self.device, dtype_name, savers = scorer, device, scorer.dtype, []
        elif isinstance(cls, type) and issubclass(cls, LocalPipeline):
            service = cls(request.model, **request.args)
            savers = request.savers
            if savers is None:  # the model's own savers, only when its GPU is too small to hold it whole
                small = self.gpu_memory_bytes is not None and self.gpu_memory_bytes < service.min_gpu_memory_gb * GIB
                savers = list(service.savers) if small else []
            service.setup(Path(request.checkpoint_dir), device, savers)
            self.service, self.device = service, device
            dtype = getattr(service.pipe, "dtype", None)
            dtype_name = str(dtype).removeprefix("torch.") if dtype is not None else "none"
        else:
            raise TypeError(f"{request.service} is neither a LocalPipeline nor a LocalScorerModel subclass")
        versions = {}
        for package in ("torch", "diffusers", "transformers", "accelerate"):
            try:
                versions[package] = metadata.version(package)
            except metadata.PackageNotFoundError:
                pass
        return Ready(
            pid=os.getpid(),
            device=device,
            dtype=dtype_name,
            savers=list(savers or []),
            load_seconds=round(time.monotonic() - started, 4),
            gpu_memory_bytes=self.gpu_memory_bytes,
            versions=versions,
        )

    # ---- generate ----

    def generate(self, request: Generate) -> Result:
        from PIL import Image

        from vmevalkit.video import write_video

        assert self.service is not None
        torch = _torch()
        cuda = self.device.startswith("cuda")
        if cuda:
            torch.cuda.reset_peak_memory_stats()
        started = time.monotonic()
        try:
            with Image.open(request.image_path) as image:
                image.load()
                frames = self.service.predict(
                    image,
                    request.prompt,
                    seed=request.seed,
                    num_frames=request.num_frames,
                    height=request.height,
                    width=request.width,
                    steps=request.steps,
                    guidance_scale=request.guidance_scale,
                    negative_prompt=request.negative_prompt,
                    on_step=lambda step, total: self.send(Progress(id=request.id, step=step, total=total)),
                )
            info = write_video(frames, request.output_path, fps=request.fps)
        except Exception as exc:
            traceback.print_exc(file=sys.stderr)
            kind: ErrorKind = "oom" if is_out_of_memory(exc) else "error"
            message = self._oom_message() if kind == "oom" else f"{type(exc).__name__}: {exc}"
            self._free_memory()
            return Result(id=request.id, ok=False, error=message, error_kind=kind)
        peak = int(torch.cuda.max_memory_allocated()) if cuda else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return Result(
            id=request.id,
            ok=True,
            video_path=info.path,
            frames=info.frame_count,
            height=info.height,
            width=info.width,
            fps=request.fps,
            generate_seconds=round(time.monotonic() - started, 4),
            peak_memory_bytes=peak if cuda else peak * 1024,  # ru_maxrss is in KiB on Linux
            prompt_sha256=hashlib.sha256(request.prompt.encode("utf-8")).hexdigest(),
        )

    # ---- score ----

    def score(self, request: Score) -> Scores:
        assert self.scorer is not None
        torch = _torch()
        cuda = self.device.startswith("cuda")
        if cuda:
            torch.cuda.reset_peak_memory_stats()
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
        try:
            batch = self.scorer.score(items, **request.kwargs)
            rows = [[float(v) for v in row] for row in batch.scores]
            details = [_plain(d) for d in batch.details] or [{} for _ in items]
        except Exception as exc:
            traceback.print_exc(file=sys.stderr)
            kind: ErrorKind = "oom" if is_out_of_memory(exc) else "error"
            message = (
                f"CUDA out of memory on {self.device} while scoring {len(items)} item(s): {self.scorer.oom_hint}"
                if kind == "oom"
                else f"{type(exc).__name__}: {exc}"
            )
            self._free_memory()
            return Scores(id=request.id, ok=False, error=message, error_kind=kind)
        peak = int(torch.cuda.max_memory_allocated()) if cuda else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return Scores(
            id=request.id,
            ok=True,
            # The shape is checked by the runner (checked_scores), which names the scorer and both shapes.
            scores=[[v if math.isfinite(v) else None for v in row] for row in rows],
            details=details,
            score_seconds=round(time.monotonic() - started, 4),
            peak_memory_bytes=peak if cuda else peak * 1024,
        )

    def _oom_message(self) -> str:
        assert self.service is not None
        total = f"{self.gpu_memory_bytes / GIB:.0f} GiB" if self.gpu_memory_bytes else "unknown size"
        savers = ",".join(self.service.savers or ("model_cpu_offload", "vae_tiling"))
        return (
            f"CUDA out of memory on {self.device} ({total}); this model wants about "
            f"{self.service.min_gpu_memory_gb:g} GiB. Enable memory savers with VMEVALKIT_LOCAL_SAVERS={savers}, "
            "or make shorter videos (--duration)"
        )

    def _free_memory(self) -> None:
        gc.collect()
        torch = _torch()
        if torch is not None and self.device.startswith("cuda"):
            torch.cuda.empty_cache()


def _plain(value: Any) -> dict[str, Any]:
    """A scorer's per-item details as plain JSON (numpy scalars and arrays turned into numbers and lists)."""

    def default(obj: Any) -> Any:
        if hasattr(obj, "tolist"):
            return obj.tolist()
        return str(obj)

    plain = json.loads(json.dumps(value, default=default, allow_nan=True))
    return plain if isinstance(plain, dict) else {"detail": plain}


def serve(stdin: BinaryIO, stdout: BinaryIO) -> int:
    def send(message: Any) -> None:
        stdout.write(encode(message))
        stdout.flush()

    worker = Worker(send)
    first = stdin.readline()
    if not first:
        return 0
    try:
        load = TO_WORKER.validate_json(first)
    except ValidationError as exc:
        send(Fatal(error=f"the runner's first message is not a valid Load: {exc}"))
        return 2
    if not isinstance(load, Load):
        send(Fatal(error=f"expected a load message first, got {load.type!r}"))
        return 2
    if load.protocol != PROTOCOL_VERSION:
        send(
            Fatal(
                error=f"runner speaks worker protocol {load.protocol}, this worker speaks {PROTOCOL_VERSION}: "
                "the model's virtualenv runs another VMEvalKit version than the runner"
            )
        )
        return 2
    try:
        send(worker.load(load))
    except Exception as exc:
        traceback.print_exc(file=sys.stderr)
        if is_out_of_memory(exc):
            send(Fatal(error=f"CUDA out of memory while loading the model: {exc}", error_kind="oom"))
        else:
            send(Fatal(error=f"the model did not load: {type(exc).__name__}: {exc}"))
        return 1
    for line in stdin:
        try:
            message = TO_WORKER.validate_json(line)
        except ValidationError as exc:
            error = f"bad request: {exc}"
            if worker.scorer is not None:
                send(Scores(id="?", ok=False, error=error, error_kind="bad_request"))
            else:
                send(Result(id="?", ok=False, error=error, error_kind="bad_request"))
            continue
        if isinstance(message, Shutdown):
            break
        if isinstance(message, Generate) and worker.service is not None:
            send(worker.generate(message))
        elif isinstance(message, Score) and worker.scorer is not None:
            send(worker.score(message))
        elif isinstance(message, (Generate, Score)):
            error = f"this worker serves {'a scorer' if worker.scorer else 'a generator'}: it cannot {message.type}"
            if isinstance(message, Generate):
                send(Result(id=message.id, ok=False, error=error, error_kind="bad_request"))
            else:
                send(Scores(id=message.id, ok=False, error=error, error_kind="bad_request"))
    return 0


def main() -> int:
    # The protocol gets its own copy of fd 1; fd 1 itself (and sys.stdout) then point at stderr.
    protocol_out = os.fdopen(os.dup(1), "wb", buffering=0)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return serve(sys.stdin.buffer, protocol_out)


if __name__ == "__main__":
    code = main()
    # Every video is already on disk (written atomically) and every answer sent: skip the interpreter's
    # teardown, which with torch and CUDA loaded takes most of a second the runner would wait for.
    sys.stderr.flush()
    os._exit(code)

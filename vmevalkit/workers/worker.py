"""The worker: runs inside a model's virtualenv, loads one service once, then serves its requests.

Started as ``envs/<name>/bin/python -m vmevalkit.workers.worker`` (``vmevalkit.workers.process``). It reads
protocol messages (``protocol.py``) from stdin, one JSON object per line, and answers on stdout. The service is
any ``WorkerService`` (``service.py``), named by ``Load.service``: a generator pipeline or a scorer model, which
this module never tells apart. Everything else the process prints (diffusers warnings, C libraries writing to
fd 1) is moved to stderr first, so nothing but protocol lines can ever reach the parent on stdout.
"""

from __future__ import annotations

import gc
import os
import resource
import sys
import time
import traceback
from collections.abc import Callable
from importlib import metadata
from typing import Any, BinaryIO

from pydantic import ValidationError

from vmevalkit.utils.imports import load_object
from vmevalkit.workers.protocol import (
    PROTOCOL_VERSION,
    TO_WORKER,
    ErrorKind,
    Fatal,
    Load,
    Progress,
    Ready,
    Score,
    Shutdown,
    encode,
    failure,
)
from vmevalkit.workers.service import Reply, Request, WorkerService

GIB = 2**30


def is_out_of_memory(exc: BaseException) -> bool:
    # torch.OutOfMemoryError (torch.cuda.OutOfMemoryError) without importing torch to check.
    return type(exc).__name__ == "OutOfMemoryError" or "CUDA out of memory" in str(exc)


def _torch() -> Any:
    try:
        import torch
    except ImportError:  # a test service without torch: CPU, no GPU statistics
        return None
    return torch


class Worker:
    def __init__(self, send: Callable[[Any], None]) -> None:
        self.send = send
        self.service: WorkerService | None = None
        self.device = "cpu"
        self.gpu_memory_bytes: int | None = None

    def load(self, request: Load) -> Ready:
        started = time.monotonic()
        torch = _torch()
        device = request.device
        if device == "auto":
            device = "cuda" if torch is not None and torch.cuda.is_available() else "cpu"
        if device.startswith("cuda"):
            self.gpu_memory_bytes = int(torch.cuda.get_device_properties(torch.device(device)).total_memory)
        cls = load_object(request.service)
        if not (isinstance(cls, type) and issubclass(cls, WorkerService)):
            raise TypeError(f"{request.service} is not a WorkerService (a LocalPipeline or LocalScorerModel)")
        service = cls(request.model, **request.args)
        loaded = service.setup_worker(request, device, self.gpu_memory_bytes)
        self.service, self.device = service, device
        versions = {}
        for package in ("torch", "diffusers", "transformers", "accelerate"):
            try:
                versions[package] = metadata.version(package)
            except metadata.PackageNotFoundError:
                pass
        return Ready(
            pid=os.getpid(),
            device=device,
            dtype=loaded.dtype,
            savers=list(loaded.savers),
            load_seconds=round(time.monotonic() - started, 4),
            gpu_memory_bytes=self.gpu_memory_bytes,
            versions=versions,
        )

    def handle(self, request: Request) -> Reply:
        """Serve one request; any exception becomes the service's failure reply. Adds the job's peak memory."""
        service = self.service
        assert service is not None
        torch = _torch()
        cuda = self.device.startswith("cuda")
        if cuda:
            torch.cuda.reset_peak_memory_stats()
        try:
            reply = service.handle(
                request, lambda step, total: self.send(Progress(id=request.id, step=step, total=total))
            )
        except Exception as exc:
            traceback.print_exc(file=sys.stderr)
            kind: ErrorKind = "oom" if is_out_of_memory(exc) else "error"
            message = (
                service.out_of_memory(self.device, self.gpu_memory_bytes)
                if kind == "oom"
                else f"{type(exc).__name__}: {exc}"
            )
            self._free_memory()
            return failure(type(request), request.id, message, kind)
        peak = int(torch.cuda.max_memory_allocated()) if cuda else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        # ru_maxrss is in KiB on Linux
        return reply.model_copy(update={"peak_memory_bytes": peak if cuda else peak * 1024})

    def _free_memory(self) -> None:
        gc.collect()
        torch = _torch()
        if torch is not None and self.device.startswith("cuda"):
            torch.cuda.empty_cache()


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
    service = worker.service
    assert service is not None
    for line in stdin:
        try:
            message = TO_WORKER.validate_json(line)
        except ValidationError as exc:
            send(failure(service.request_type, "?", f"bad request: {exc}", "bad_request"))
            continue
        if isinstance(message, Shutdown):
            break
        if isinstance(message, service.request_type):
            send(worker.handle(message))
        elif not isinstance(message, Load):
            serves = "a scorer" if service.request_type is Score else "a generator"
            send(
                failure(
                    type(message), message.id, f"this worker serves {serves}: it cannot {message.type}", "bad_request"
                )
            )
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

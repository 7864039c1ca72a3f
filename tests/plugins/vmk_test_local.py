"""A local-model family for tests that needs neither torch nor diffusers.

It runs in a real worker process through the real protocol, so crash, hang, OOM and
restart handling are exercised in seconds. Its "venv" is a launcher script around the
test interpreter (see tests/test_local_worker.py). Faults are steered by markers in the
task prompt, so one batch can hold good and bad jobs:

  VMK_CRASH  the worker exits at once (os._exit), as after a native crash
  VMK_SEGV   the worker kills itself with SIGSEGV
  VMK_HANG   the worker never answers
  VMK_OOM    the pipeline raises torch's OutOfMemoryError (by name)
  VMK_FAIL   the pipeline raises an ordinary exception
  VMK_GATE   the pipeline waits until the file $VMK_GATE_FILE exists

Every load and predict appends a JSON line to $VMK_CALL_LOG (pid, prompt as received, ...).
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from vmevalkit.models.local.pipeline import LocalPipeline
from vmevalkit.scoring.base import ScoreBatch, ScoreItem
from vmevalkit.scoring.local.model import LocalScorerModel


class OutOfMemoryError(RuntimeError):
    """Named like torch.OutOfMemoryError, which the worker recognises by name."""


def _log(event: dict[str, Any]) -> None:
    path = os.environ.get("VMK_CALL_LOG")
    if path:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps({**event, "pid": os.getpid()}) + "\n")


class ProbePipeline(LocalPipeline):
    family = "tests"
    pipeline_class = "none"
    frame_step = 1
    size_multiple = 8

    def setup(self, checkpoint_dir: Path, device: str, savers: Sequence[str] = ()) -> None:
        # Loading reads the checkpoint folder, so a wrong path fails here as a real model would.
        self.pipe = json.loads((Path(checkpoint_dir) / "model_index.json").read_text())
        self.device = device
        if os.environ.get("VMK_LOAD_CRASH"):
            os._exit(3)
        print("chatter on stdout, as libraries do: must not reach the protocol")
        os.write(1, b"and raw bytes on fd 1\n")
        _log(
            {
                "event": "load",
                "checkpoint": str(checkpoint_dir),
                "device": device,
                "savers": list(savers),
                "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
            }
        )

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
        _log({"event": "predict", "prompt": prompt, "seed": seed, "frames": num_frames, "size": [width, height]})
        if "VMK_CRASH" in prompt:
            os._exit(1)
        if "VMK_SEGV" in prompt:
            os.kill(os.getpid(), signal.SIGSEGV)
        if "VMK_HANG" in prompt:
            time.sleep(3600)
        if "VMK_OOM" in prompt:
            raise OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")
        if "VMK_FAIL" in prompt:
            raise ValueError("the test pipeline was told to fail")
        gate = os.environ.get("VMK_GATE_FILE")
        while "VMK_GATE" in prompt and gate and not Path(gate).exists():
            time.sleep(0.01)
        base = np.asarray(image.convert("RGB").resize((width, height)), dtype=np.uint8)
        frames = []
        for i in range(num_frames):
            frame = base.copy()
            frame[:, : max(1, (i + 1) * width // num_frames)] //= 2  # a bar sweeping across: frames differ
            frames.append(frame)
            if on_step is not None:
                on_step(i + 1, num_frames)
        return frames


def _recording_ltx() -> type:
    from vmevalkit.models.local.ltx import LTXVideo
    from vmevalkit.models.local.pipeline import PipelineRequest

    class RecordingLTX(LTXVideo):
        """LTX-Video's production class; records the prompt exactly as the diffusers pipeline gets it."""

        def call_kwargs(self, request: PipelineRequest) -> dict[str, Any]:
            kwargs = super().call_kwargs(request)
            _log({"event": "pipeline_call", "prompt": kwargs["prompt"]})
            return kwargs

    return RecordingLTX


RecordingLTX = _recording_ltx()


class ProbeScorer(LocalScorerModel):
    """A local scorer without torch: scores a video by its frame count and the worker's pid.

    Faults come from the same prompt markers (VMK_CRASH, VMK_SEGV, VMK_HANG, VMK_OOM, VMK_FAIL); VMK_NAN makes the
    item unscorable (NaN with a reason). Every load and score call is logged to $VMK_CALL_LOG.
    """

    dimensions = ("frames", "pid")
    version = "probe-1"

    def __init__(self, model: str, **options: Any) -> None:
        if options.get("scale", 1) <= 0:  # checked in the main environment before any worker starts
            raise ValueError(f"scale must be positive, got {options['scale']}")
        super().__init__(model, **options)

    def setup(self, checkpoint_dir: Path, device: str) -> None:
        self.config = json.loads((Path(checkpoint_dir) / "config.json").read_text())
        self.device = device
        crash_gpu = os.environ.get("VMK_LOAD_CRASH_GPU")  # a GPU that cannot load the model
        on_crash_gpu = crash_gpu is not None and crash_gpu == os.environ.get("CUDA_VISIBLE_DEVICES")
        if os.environ.get("VMK_LOAD_CRASH") or on_crash_gpu:
            os._exit(3)
        print("scorer chatter on stdout: must not reach the protocol")
        _log(
            {
                "event": "load-scorer",
                "checkpoint": str(checkpoint_dir),
                "device": device,
                "options": self.options,
                "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
                "secrets_seen": sorted(k for k in os.environ if k.endswith(("_API_KEY", "_TOKEN"))),
            }
        )

    def score(self, items: Sequence[ScoreItem], **kwargs: Any) -> ScoreBatch:
        from vmevalkit.video import probe_video

        _log({"event": "score", "prompts": [i.prompt for i in items], "kwargs": kwargs, "device": self.device})
        rows, details = [], []
        for item in items:
            if "VMK_CRASH" in item.prompt:
                os._exit(4)
            if "VMK_SEGV" in item.prompt:
                os.kill(os.getpid(), signal.SIGSEGV)
            if "VMK_HANG" in item.prompt:
                time.sleep(3600)
            if "VMK_OOM" in item.prompt:
                raise OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
            if "VMK_FAIL" in item.prompt:
                raise ValueError("probe scorer failure")
            if "VMK_NAN" in item.prompt:
                rows.append([float("nan"), float("nan")])
                details.append({"reason": "asked to give up", "final_frame_seen": item.final_frame is not None})
                continue
            rows.append([float(probe_video(item.video_path).frame_count), float(os.getpid())])
            details.append({"prompt_sha256_len": len(item.prompt), "scale": self.options.get("scale", 1)})
        return ScoreBatch(np.asarray(rows, dtype=np.float32), details)

    @classmethod
    def build_tiny(cls, out_dir: Path) -> None:
        (out_dir / "config.json").write_text(json.dumps({"model_type": "probe"}))


# A scorer catalog (VMEVALKIT_EXTRA_SCORER_CATALOGS=vmk_test_local:SCORERS) in the first shape (wrapper_class,
# service_class, role), which the registry still reads: the local scorer worker tests run it end to end.
SCORERS: dict[str, dict[str, Any]] = {
    "test-local-scorer": {
        "wrapper_class": "vmevalkit.scoring.local.wrapper:LocalScorer",
        "service_class": "vmk_test_local:ProbeScorer",
        "model": "tests/probe-scorer",
        "args": {"checkpoint": "test-local-scorer", "scale": 2},
        "description": "frame count and worker pid, from a worker in its own 'venv'",
        "family": "tests",
        "kind": "local",
        "role": "scorer",
    },
}

"""Models that exist only for tests, plugged in through ``VMEVALKIT_EXTRA_CATALOGS``.

They go through the real registry, runner, executors and video writer; only
their behaviour is steered, by environment variables, so the same entries work
in-process and in CLI subprocesses:

  VMK_CALL_LOG     file to which every generate() call appends one JSON line
  VMK_FAIL_TASKS   comma-separated task ids whose generation fails
  VMK_FRAME_DELAY  seconds to wait per frame written (keeps a writer mid-file)
  VMK_GATE_FILE    generate() waits until this file exists (or GATE is set, in-process); the gated model logs
                   each start and finish to VMK_CALL_LOG
  VMK_ECHO_ENV     name of a variable whose value the echo model puts in its error and metadata
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any

from vmevalkit.models.base import GenerationResult
from vmevalkit.models.baselines import StaticFirstFrameWrapper
from vmevalkit.runner.MODEL_CATALOG import AVAILABLE_MODELS
from vmevalkit.video import write_video

STATIC = "vmevalkit.models.baselines:StaticFirstFrameService"


def _entry(wrapper_class: str, description: str) -> dict[str, Any]:
    return {
        "wrapper": f"vmk_test_models:{wrapper_class}",
        "service": STATIC,
        "model": wrapper_class.lower(),
        "args": {"fps": 8},
        "description": description,
        "family": "tests",
        "kind": "builtin",
    }


MODELS = {
    "test-probe": _entry("ProbeWrapper", "static video; logs calls, fails or slows down on request"),
    "test-raise": _entry("RaisingWrapper", "_generate raises"),
    "test-broken-setup": _entry("BrokenSetupWrapper", "setup() raises"),
    "test-missing-video": _entry("MissingVideoWrapper", "claims success but writes nothing"),
    "test-corrupt-video": _entry("CorruptVideoWrapper", "claims success but writes bytes that are not a video"),
    "test-needs-key": {**_entry("ProbeWrapper", "needs an API key"), "env_keys": ["VMK_TEST_API_KEY"]},
    "test-gated": _entry("GatedWrapper", "waits for a gate, then writes a static video"),
    "test-echo": _entry("EchoWrapper", "fails with an error (and metadata) that echo a variable's value"),
    "test-large": _entry("LargeVideoWrapper", "a static video padded to about 8 MB"),
    # A local model without torch: its worker runs vmk_test_local.ProbePipeline (see tests/test_local_worker.py).
    # Written in the catalog's first shape (wrapper_module + wrapper_class, service_class), which a lab's extra
    # catalog may still use: every local worker test runs it through the registry's normalisation.
    "test-local": {
        "wrapper_module": "vmevalkit.models.local.wrapper",
        "wrapper_class": "LocalModelWrapper",
        "service_class": "vmk_test_local:ProbePipeline",
        "model": "tests/probe",
        "args": {
            "height": 48,
            "width": 48,
            "num_frames": 6,
            "max_frames": 32,
            "fps": 8,
            "steps": 3,
            "guidance_scale": 1.0,
            "min_gpu_memory_gb": 1,
            "savers": ["vae_tiling"],
        },
        "description": "local worker test model: frames from the input image; faults on prompt markers",
        "family": "tests",
        "kind": "local",
        "constraints": {
            "duration_range": [0.125, 4],
            "default_duration": 0.75,
            "fps": 8,
            "seed": True,
            "params": ["steps", "guidance_scale", "negative_prompt", "height", "width"],
        },
    },
    # LTX-Video's production class, recording the prompt its pipeline receives (tests/test_local_models.py).
    "test-ltx-recording": {
        **AVAILABLE_MODELS["ltx-video"],
        "service": "vmk_test_local:RecordingLTX",
        "family": "tests",
    },
}


def _log_call(event: dict[str, Any]) -> None:
    log = os.environ.get("VMK_CALL_LOG")
    if log:
        with open(log, "a", encoding="utf-8") as fh:  # O_APPEND: lines from several processes never interleave
            fh.write(json.dumps(event) + "\n")


def task_id_of(output_path: Path) -> str:
    # <model>/<domain>_task/<task_id>/<run_id>/video/<file>.mp4
    return output_path.parent.parent.parent.name


class ProbeWrapper(StaticFirstFrameWrapper):
    def _generate(self, image_path: Path, text_prompt: str, duration: float, output_path: Path, **kwargs: Any):
        task_id = task_id_of(output_path)
        log = os.environ.get("VMK_CALL_LOG")
        if log:
            line = json.dumps(
                {"task_id": task_id, "kwargs": sorted(kwargs), "seed": kwargs.get("seed"), "pid": os.getpid()}
            )
            with open(log, "a", encoding="utf-8") as fh:  # O_APPEND: lines from several processes never interleave
                fh.write(line + "\n")
        if task_id in os.environ.get("VMK_FAIL_TASKS", "").split(","):
            return GenerationResult.failure(self.model, f"planned failure for {task_id}")
        delay = float(os.environ.get("VMK_FRAME_DELAY", "0"))
        frames = self.service.render(image_path, duration)

        def slow_frames():
            for frame in frames:
                time.sleep(delay)
                yield frame

        info = write_video(slow_frames(), output_path, fps=self.service.fps)
        return GenerationResult(success=True, video_path=info.path, model=self.model, status="completed")


class RaisingWrapper(StaticFirstFrameWrapper):
    def _generate(self, *args: Any, **kwargs: Any):
        raise RuntimeError("the model blew up")


class BrokenSetupWrapper(StaticFirstFrameWrapper):
    def setup(self) -> None:
        raise RuntimeError("weights are corrupt")


class MissingVideoWrapper(StaticFirstFrameWrapper):
    def _generate(self, image_path: Path, text_prompt: str, duration: float, output_path: Path, **kwargs: Any):
        return GenerationResult(success=True, video_path=str(output_path), model=self.model, status="completed")


class CorruptVideoWrapper(StaticFirstFrameWrapper):
    def _generate(self, image_path: Path, text_prompt: str, duration: float, output_path: Path, **kwargs: Any):
        output_path.parent.mkdir(parents=True, exist_ok=True)
        output_path.write_bytes(b"\x00\x00\x00\x18ftypmp42 this is not a video")
        return GenerationResult(success=True, video_path=str(output_path), model=self.model, status="completed")


# In-process gate of the gated model: set it to let every waiting generate() go on.
GATE = threading.Event()
GATED_DONE: list[Path] = []  # videos the gated model wrote, in the order it finished them


class GatedWrapper(StaticFirstFrameWrapper):
    def _generate(self, image_path: Path, text_prompt: str, duration: float, output_path: Path, **kwargs: Any):
        gate_file = os.environ.get("VMK_GATE_FILE")
        _log_call({"event": "start", "task_id": task_id_of(output_path), "pid": os.getpid()})
        while not GATE.is_set() and not (gate_file and Path(gate_file).exists()):
            time.sleep(0.01)
        info = write_video(self.service.render(image_path, duration), output_path, fps=self.service.fps)
        GATED_DONE.append(Path(info.path))
        _log_call({"event": "done", "task_id": task_id_of(output_path), "pid": os.getpid()})
        return GenerationResult(success=True, video_path=info.path, model=self.model, status="completed")


class EchoWrapper(StaticFirstFrameWrapper):
    def _generate(self, image_path: Path, text_prompt: str, duration: float, output_path: Path, **kwargs: Any):
        value = os.environ.get(os.environ.get("VMK_ECHO_ENV", ""), "")
        return GenerationResult.failure(
            self.model, f"provider said: invalid key {value}", metadata={"provider_status": f"denied {value}"}
        )


class LargeVideoWrapper(StaticFirstFrameWrapper):
    """Videos big enough to go through Ray's shared object store, not inline, and cheap to make: the static video,
    then 8 MB of random bytes after its last box, which decoders ignore."""

    def _generate(self, image_path: Path, text_prompt: str, duration: float, output_path: Path, **kwargs: Any):
        info = write_video(self.service.render(image_path, duration), output_path, fps=self.service.fps)
        with open(info.path, "ab") as fh:
            fh.write(os.urandom(8 * 2**20))
        return GenerationResult(success=True, video_path=info.path, model=self.model, status="completed")

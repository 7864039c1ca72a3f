"""The ``ray`` engine for generation: builtin and local models served by Ray actors across a cluster.

The driver (this process, running ``InferenceRunner``) keeps everything that makes a run crash-safe: the claims, the
records, the videos. Only the work moves. For each model, ``RayExecutor``:

  1. joins the cluster (``vmevalkit.cluster.session.connect``) and sizes its actors: one per GPU that fits the
     model (one GPU plus its ``min_gpu_memory_gb`` of ``vmevalkit_gpu_memory_gb`` where nodes declare it) for a
     local model, one per CPU for a builtin one; never more than the run's jobs or ``VMEVALKIT_RAY_ACTORS``;
  2. starts them (``ActorPool``): each ``GenerationHost`` applies the driver's settings, builds the model's executor
     of the local engine on its node (a local model's persistent worker in that node's ``envs/<model>``) and loads
     it. An actor that cannot load is dropped; the model fails only when none loads anywhere;
  3. for each job, sends the inputs as data (the first frame's bytes, the prompt and numbers as JSON; the task's
     files only to a model that is given the answer) to the next free actor, which works in a private folder of
     its node and answers with the result and the video's bytes through Ray's object store;
  4. writes those bytes to the attempt's private path on the driver and lets go of them at once, so the object
     store never holds more than the videos in flight. The runner then checks the video and moves it into place
     under its claim, as with every other executor: a job that was retried still completes once.

Faults: an actor lost under a job (killed, its node removed) or a worker that crashed under it gets the job retried
on another actor, up to ``VMEVALKIT_RAY_MAX_ATTEMPTS`` attempts; then the job fails with every attempt's reason.
Each result records where it ran (``metadata.placement``: node, GPUs, attempts).
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
from pathlib import Path, PurePosixPath
from typing import Any

from vmevalkit.cluster.files import Bundle, checked, pack_folder, unpack
from vmevalkit.cluster.pool import ActorPool, AttemptsExhausted, PoolError, Served, here
from vmevalkit.cluster.session import (
    ActorShape,
    actor_env,
    actor_options,
    actor_shape,
    apply_actor_env,
    connect,
    import_ray,
)
from vmevalkit.models.base import GenerationResult, ModelEntry, ModelWrapper
from vmevalkit.models.executor import Executor, GenerationJob
from vmevalkit.models.local.executor import WORKER_CRASHED
from vmevalkit.settings import Settings
from vmevalkit.tasks.loader import Task
from vmevalkit.utils.redact import scrub


class GenerationHost:
    """A Ray actor: one model's executor of the local engine on one node (a GPU, or a CPU for a builtin model)."""

    def __init__(self, model: str, env: dict[str, str], gpu: bool) -> None:
        self.model = model
        # The driver's settings; the GPUs Ray gave this actor (its CUDA_VISIBLE_DEVICES), one worker each, or none.
        apply_actor_env(env, local_gpus="" if gpu else "cpu")
        self.root = Path(tempfile.mkdtemp(prefix="vmevalkit-ray-"))
        self.executor: Executor | None = None

    async def setup(self) -> dict[str, Any]:
        from vmevalkit.runner.executors import executor_for
        from vmevalkit.runner.registry import get_entry
        from vmevalkit.settings import get_settings

        placement = here().as_json()
        executor: Executor | None = None
        try:
            executor = executor_for(get_entry(self.model), get_settings())
            await executor.start()
        except Exception as exc:  # this node cannot run the model (no venv, bad weights): the pool avoids it
            if executor is not None:
                with contextlib.suppress(Exception):
                    await executor.close()  # what a half-done start acquired
            return {"placement": placement, "error": scrub(f"{type(exc).__name__}: {exc}")}
        self.executor = executor
        return {"placement": placement}

    async def generate(self, payload: dict[str, Any], files: Bundle) -> tuple[dict[str, Any], bytes | None]:
        assert self.executor is not None, "setup() first"
        work = Path(tempfile.mkdtemp(dir=self.root))
        try:
            unpack(files, work)
            job = self._job(payload, work)
            result = await self._run(job)
            video = None
            if result.success and result.video_path and Path(result.video_path).is_file():
                video = Path(result.video_path).read_bytes()
            return result.model_dump(mode="json"), video
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def _job(self, payload: dict[str, Any], work: Path) -> GenerationJob:
        # Relative paths from the driver, checked like every bundle path: nothing outside this job's folder.
        run_dir = work.joinpath("run", *checked(payload["run_dir"]).parts)
        task = None
        if payload.get("task") is not None:
            data = dict(payload["task"])
            data["path"] = work / "task"
            shipped = data.get("ground_truth_video")
            data["ground_truth_video"] = work / "task" / PurePosixPath(shipped).name if shipped else None
            task = Task.model_validate(data)
        output = run_dir.joinpath(*checked(payload["output"]).parts)
        output.parent.mkdir(parents=True, exist_ok=True)
        return GenerationJob(
            image_path=run_dir.joinpath(*checked(payload["image"]).parts),
            prompt=payload["prompt"],
            duration=payload["duration"],
            seed=payload["seed"],
            output_path=output,
            params=dict(payload["params"]),
            ground_truth_task=task,
        )

    async def _run(self, job: GenerationJob) -> GenerationResult:
        assert self.executor is not None
        model = self.executor.entry.model
        timeout = None if self.executor.manages_own_timeout else self.executor.settings.job_timeout_s
        try:
            return await asyncio.wait_for(self.executor.execute(job), timeout=timeout)
        except asyncio.TimeoutError:
            return GenerationResult.failure(model, f"timed out after {timeout:g} s")
        except Exception as exc:
            return GenerationResult.failure(model, scrub(f"{type(exc).__name__}: {exc}"))

    async def close(self) -> None:
        try:
            if self.executor is not None:
                await self.executor.close()
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


def job_payload(job: GenerationJob) -> tuple[dict[str, Any], Bundle]:
    """What an actor needs for ``job``, as JSON-able data and files: never a path of the driver's disk."""
    # <run_dir>/video/<attempt file>; the actor mirrors <model>/<domain>_task/<task_id>/<run_id>/ so that a model
    # sees the same relative layout it would see here.
    run_dir = Path(job.output_path).parent.parent
    mirror = PurePosixPath(*run_dir.parts[-4:]).as_posix()
    image = Path(job.image_path)
    image_rel = (
        PurePosixPath(image.relative_to(run_dir)).as_posix() if image.is_relative_to(run_dir) else "input/" + image.name
    )
    files: Bundle = {f"run/{mirror}/{image_rel}": image.read_bytes()}
    payload: dict[str, Any] = {
        "run_dir": mirror,
        "image": image_rel,
        "output": PurePosixPath(Path(job.output_path).relative_to(run_dir)).as_posix(),
        "prompt": job.prompt,
        "duration": job.duration,
        "seed": job.seed,
        "params": dict(job.params),
        "task": None,
    }
    task = job.ground_truth_task
    if task is not None:  # only a model that declares requires_ground_truth gets the answer
        payload["task"] = task.model_dump(mode="json")
        files.update(pack_folder(task.path, "task"))
        if task.ground_truth_video is not None and task.ground_truth_video.parent != task.path:
            files[f"task/{task.ground_truth_video.name}"] = task.ground_truth_video.read_bytes()
    return payload, files


def worker_lost(answer: Any) -> str | None:
    """Why a job's answer means its worker crashed under it (retried elsewhere), or None."""
    result, _video = answer
    if result.get("success") or not (result.get("metadata") or {}).get(WORKER_CRASHED):
        return None
    return f"its worker crashed ({str(result.get('error') or '').splitlines()[0][:200]})"


class RayExecutor(Executor):
    """Serves one builtin or local model's jobs from Ray actors across the cluster (see the module docstring)."""

    def __init__(self, entry: ModelEntry, settings: Settings, wrapper: ModelWrapper) -> None:
        super().__init__(entry, settings, wrapper)
        self.pool: ActorPool | None = None

    @property
    def max_concurrency(self) -> int:
        # One job working on each actor and one more per actor prepared (claim, question files) meanwhile.
        return 2 * self.pool.size if self.pool is not None else 1

    @property
    def requires_ground_truth(self) -> bool:
        return bool(getattr(type(self.wrapper), "requires_ground_truth", False))

    @property
    def manages_own_timeout(self) -> bool:
        return True  # the actor applies the job's deadline on its node (a hung local worker is killed there)

    @property
    def works_here(self) -> bool:
        return False  # the work is on the cluster: 2 jobs per actor, however many actors, whatever MAX_CONCURRENCY

    def shape(self) -> ActorShape:
        memory = self.entry.args.get("min_gpu_memory_gb")
        return actor_shape(f"model '{self.entry.name}'", gpu=self.entry.kind == "local", min_gpu_memory_gb=memory)

    async def start(self) -> None:
        connect(self.settings.ray_address)
        ray = import_ray()
        shape = await asyncio.to_thread(self.shape)
        size = shape.fits
        for bound in (self.jobs_hint, self.settings.ray_actors):
            if bound:
                size = min(size, bound)
        host = ray.remote(GenerationHost)
        env = actor_env(self.settings)
        gpu = shape.num_gpus > 0

        def make_actor(avoid: set[str], turn: int) -> Any:
            options = actor_options(shape, avoid, turn)
            return host.options(**options, max_restarts=0, max_task_retries=0).remote(self.entry.name, env, gpu)

        self.pool = ActorPool(
            make_actor,
            size=size,
            label=f"model '{self.entry.name}'",
            max_attempts=self.settings.ray_max_attempts,
            retry_if=worker_lost,
        )
        await self.pool.start()

    async def close(self) -> None:
        if self.pool is not None:
            await self.pool.close()

    async def execute(self, job: GenerationJob) -> GenerationResult:
        assert self.pool is not None, "start() first"
        model = self.entry.model
        payload, files = await asyncio.to_thread(job_payload, job)
        try:
            served: Served | None = await self.pool.call("generate", payload, files)
        except (AttemptsExhausted, PoolError) as exc:
            return GenerationResult.failure(model, str(exc))
        assert served is not None
        data, video = served.result
        result = GenerationResult.model_validate(data)
        placement = {
            "engine": "ray",
            **served.placement.as_json(),
            "attempts": served.attempts,
            **({"lost": served.lost} if served.lost else {}),
        }
        served = None  # the video's bytes are held by `video` alone from here: freed once written
        if result.success and video is not None:
            await asyncio.to_thread(write_bytes, Path(job.output_path), video)
            result = result.model_copy(update={"video_path": str(job.output_path)})
        elif result.success:
            result = GenerationResult.failure(model, "the actor reported a video but sent none")
        del video
        if not result.success and placement["attempts"] > 1:
            note = f" (after {placement['attempts']} attempts: " + "; ".join(placement.get("lost", [])) + ")"
            result = result.model_copy(update={"error": (result.error or "failed") + note})
        return result.model_copy(update={"metadata": {**result.metadata, "placement": placement}})


def write_bytes(path: Path, data: bytes) -> None:
    """The attempt's private file (the runner checks it and moves it into place under the claim)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)

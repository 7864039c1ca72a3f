"""``RayScorerPool``: the scoring runner's pool of children, made of Ray actors across a cluster.

It keeps ``ScorerPool``'s interface and rules (``submit`` a batch under a tag, ``wait`` for replies, every score file
written by the runner, on the driver), so ``ScoringRunner`` scores the same batches either way. What changes:

- each actor (``ScoringHost``) builds the scorer from its ``ScorerSpec`` on its own node, a local scorer's worker in
  that node's ``envs/<scorer>`` on the GPU Ray gave it;
- a batch crosses as data: each item's video, first frame and the inputs the scorer declared (answer frame, task
  folder, solution video) as bytes, and its strings as JSON. The actor unpacks them under a private folder and
  scores there, so no node needs the driver's filesystem;
- an actor whose scorer cannot be built (not installed on that node) is dropped and its batch goes to another
  actor, placed on a node that has not failed to build it; only when every live node has failed to build it, or
  starts failed ``2 x size x max_attempts`` times, does the batch come back as ``init`` (the runner's usage error);
- an actor lost under a batch (killed, its node removed) is replaced and the batch retried on another actor, up to
  ``max_attempts`` attempts; then it comes back as ``died``, and the runner retries its items one by one as it does
  for a child that died.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from vmevalkit.cluster.files import Bundle, unpack
from vmevalkit.cluster.pool import Placement, here, reason_of
from vmevalkit.cluster.session import ActorShape, actor_options, apply_actor_env, import_ray, live_nodes
from vmevalkit.scoring.base import ScoreItem
from vmevalkit.scoring.pool import Reply, ScorerSpec


def pack_items(items: list[ScoreItem]) -> tuple[list[dict[str, Any]], Bundle]:
    """Items as JSON-able dicts with paths relative to their own folder, and the files they name as bytes."""
    files: Bundle = {}
    packed = []
    for i, item in enumerate(items):
        base, root = f"items/{i}", Path(item.generation_dir)
        _put(files, base, root, root / "metadata.json")
        packed.append(
            {
                "model": item.model,
                "task_id": item.task_id,
                "domain": item.domain,
                "prompt": item.prompt,
                "video_path": _put(files, base, root, item.video_path),
                "first_frame": _put(files, base, root, item.first_frame),
                "final_frame": _put(files, base, root, item.final_frame),
                "task_dir": _put(files, base, root, item.task_dir),
                "ground_truth_video": _put(files, base, root, item.ground_truth_video),
            }
        )
    return packed, files


def _put(files: Bundle, base: str, root: Path, path: Path | None) -> str | None:
    """Adds ``path`` (a file, or a flat folder's files) to ``files`` under ``base``; its path relative to ``root``."""
    if path is None:
        return None
    path = Path(path)
    try:
        rel = PurePosixPath(path.relative_to(root))
    except ValueError:  # an input outside the run folder (a plug-in's own item): kept apart, by name
        rel = PurePosixPath("outside", path.name)
    if path.is_dir():
        for child in sorted(path.iterdir()):
            if child.is_file():
                files[f"{base}/{rel / child.name}"] = child.read_bytes()
    elif path.is_file():
        files[f"{base}/{rel}"] = path.read_bytes()
    return rel.as_posix()


def unpack_items(packed: list[dict[str, Any]], work: Path) -> list[ScoreItem]:
    items = []
    for i, data in enumerate(packed):
        root = work / "items" / str(i)

        def at(rel: str | None, root: Path = root) -> Path | None:
            return root / rel if rel is not None else None

        video, first = at(data["video_path"]), at(data["first_frame"])
        assert video is not None and first is not None
        items.append(
            ScoreItem(
                generation_dir=root,
                model=data["model"],
                task_id=data["task_id"],
                domain=data["domain"],
                video_path=video,
                prompt=data["prompt"],
                first_frame=first,
                final_frame=at(data["final_frame"]),
                task_dir=at(data["task_dir"]),
                ground_truth_video=at(data["ground_truth_video"]),
            )
        )
    return items


class ScoringHost:
    """A Ray actor: one scorer built on one node, scoring batch after batch."""

    def __init__(self, spec: ScorerSpec, score_kwargs: dict[str, Any], env: dict[str, str], gpu: bool) -> None:
        apply_actor_env(env, local_gpus="" if gpu else "cpu")
        self.spec, self.score_kwargs = spec, score_kwargs
        self.root = Path(tempfile.mkdtemp(prefix="vmevalkit-ray-score-"))
        self.scorer: Any = None
        self.init_error: str | None = None

    def setup(self) -> dict[str, Any]:
        """Where this actor runs; the scorer is built here, once (its failure is answered to every batch)."""
        from vmevalkit.scoring.runner import build_from_spec

        try:
            self.scorer = build_from_spec(self.spec)
        except Exception as exc:
            self.init_error = f"{type(exc).__name__}: {exc}"
        return here().as_json()

    def score(self, packed: list[dict[str, Any]], files: Bundle) -> Reply:
        from vmevalkit.scoring.runner import score_batch_reply

        if self.scorer is None:
            return Reply("init", self.init_error or "the scorer was not built")
        work = Path(tempfile.mkdtemp(dir=self.root))
        try:
            unpack(files, work)
            return score_batch_reply(self.scorer, unpack_items(packed, work), self.score_kwargs)
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def close(self) -> None:
        closer = getattr(self.scorer, "close", None)
        try:
            if callable(closer):
                closer()
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


@dataclass
class _Batch:
    tag: Any
    items: list[ScoreItem]
    attempts: int = 0
    lost: list[str] = field(default_factory=list)


@dataclass
class _Slot:
    handle: Any = None
    setup: Any = None  # the ref of the actor's setup(): where it runs
    placement: Placement | None = None
    batch: _Batch | None = None
    ref: Any = None


class RayScorerPool:
    """Up to ``size`` actors scoring batches for one scorer, with ``ScorerPool``'s interface."""

    def __init__(
        self,
        spec: ScorerSpec,
        size: int,
        score_kwargs: dict[str, Any] | None,
        *,
        shape: ActorShape,
        env: dict[str, str],
        max_attempts: int = 3,
    ) -> None:
        if size < 1:
            raise ValueError(f"a scorer pool needs at least 1 actor, got {size}")
        ray = import_ray()
        self.host, self.shape = ray.remote(ScoringHost), shape
        self.spec, self.score_kwargs, self.env = spec, dict(score_kwargs or {}), env
        self.gpu = shape.num_gpus > 0
        self.max_attempts = max_attempts
        self._slots = [_Slot() for _ in range(size)]
        self._queue: deque[_Batch] = deque()  # batches to send again, first as soon as an actor is free
        self._answered: list[tuple[Any, Reply]] = []  # replies made here (no actor can build the scorer)
        self.started = 0
        self.init_errors: list[str] = []
        self.failed_nodes: set[str] = set()  # nodes where the scorer could not be built
        self.built = False  # some actor built the scorer
        self.gave_up: str | None = None  # why no actor will build it: every batch is answered "init"

    def __enter__(self) -> RayScorerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def idle(self) -> int:
        free = sum(slot.batch is None for slot in self._slots)
        return max(0, free - len(self._queue))

    @property
    def busy(self) -> int:
        return sum(slot.batch is not None for slot in self._slots) + len(self._queue) + len(self._answered)

    def submit(self, tag: Any, items: list[ScoreItem]) -> None:
        self._queue.append(_Batch(tag, list(items)))
        self._dispatch()

    def _dispatch(self) -> None:
        """Queued batches to free actors (a started one first); with no actor left that can build the scorer, each
        is answered ``init``."""
        while self._queue:
            if self.gave_up is not None:
                self._answered += [(b.tag, Reply("init", self.gave_up)) for b in self._queue]
                self._queue.clear()
                return
            free = [s for s in self._slots if s.batch is None]
            if not free:
                return
            slot = next((s for s in free if s.handle is not None), free[0])
            if slot.handle is None:  # a new actor, away from the nodes that could not build the scorer
                options = actor_options(self.shape, self.failed_nodes, self.started)
                host = self.host.options(**options, max_restarts=0, max_task_retries=0)
                slot.handle = host.remote(self.spec, self.score_kwargs, self.env, self.gpu)
                slot.setup, slot.placement = slot.handle.setup.remote(), None
                self.started += 1
            batch = self._queue.popleft()
            batch.attempts += 1
            packed, files = pack_items(batch.items)
            slot.batch, slot.ref = batch, slot.handle.score.remote(packed, files)  # runs after setup: actor order

    def wait(self) -> list[tuple[Any, Reply]]:
        """Blocks until at least one batch is answered (one sent again to another actor is not answered yet)."""
        ray = import_ray()
        while not self._answered:
            busy = [s for s in self._slots if s.batch is not None]
            if not busy:
                break
            ready, _ = ray.wait([s.ref for s in busy], num_returns=1)
            ready, _ = ray.wait([s.ref for s in busy], num_returns=len(busy), timeout=0)
            for slot in busy:
                if slot.ref in ready:
                    self._collect(slot)
            self._dispatch()
        done, self._answered = self._answered, []
        return done

    def _collect(self, slot: _Slot) -> None:
        """The reply of ``slot``'s batch: answered, or queued again for another actor."""
        ray = import_ray()
        batch = slot.batch
        assert batch is not None
        slot.batch = None
        try:
            reply: Reply = ray.get(slot.ref)
            if slot.placement is None:
                slot.placement = Placement.from_json(ray.get(slot.setup))
        except (ray.exceptions.RayActorError, ray.exceptions.ObjectLostError) as exc:
            where = slot.placement.label if slot.placement is not None else "its node"
            batch.lost.append(f"attempt {batch.attempts} on {where}: the actor was lost ({reason_of(exc)})")
            self._forget(slot)  # the slot starts a fresh actor (Ray places it) for the next batch
            if batch.attempts < self.max_attempts:
                self._queue.appendleft(batch)
            else:
                self._answered.append((batch.tag, Reply("died", "ScorerProcessDied: " + "; ".join(batch.lost))))
            return
        if reply.kind == "init":  # not buildable on this actor's node: another may build it
            self.init_errors.append(reply.message)
            if slot.placement is not None:
                self.failed_nodes.add(slot.placement.node_id)
            self._forget(slot)
            batch.attempts -= 1
            self._queue.appendleft(batch)
            self._give_up_if_nowhere()
            return
        self.built = True
        self._answered.append((batch.tag, reply))

    def _give_up_if_nowhere(self) -> None:
        """No actor will build the scorer: every live node failed to (and none ever did), or too many starts failed."""
        failures = len(self.init_errors)
        live = {n.node_id for n in live_nodes()}
        if failures >= 2 * len(self._slots) * self.max_attempts or (not self.built and live <= self.failed_nodes):
            self.gave_up = "; ".join(dict.fromkeys(self.init_errors))

    def _forget(self, slot: _Slot) -> None:
        if slot.handle is not None:
            with contextlib.suppress(Exception):
                import_ray().kill(slot.handle, no_restart=True)
        slot.handle = slot.setup = slot.ref = None

    def close(self) -> None:
        ray = import_ray()
        for slot in self._slots:
            if slot.handle is None:
                continue
            if slot.batch is None:
                with contextlib.suppress(Exception):
                    ray.get(slot.handle.close.remote(), timeout=30)
            with contextlib.suppress(Exception):
                ray.kill(slot.handle, no_restart=True)
            slot.handle, slot.batch = None, None
        self._queue.clear()

"""``ActorPool``: a pull queue of Ray actors that all serve one model or scorer (driver side, asyncio).

The actors. ``make_actor(avoid, turn)`` creates one (Ray places it where its resources are free, away from the
nodes in ``avoid``); its ``setup()`` method loads what every job shares and answers ``{"placement": ...}``, with
``"error"`` when it could not load. An actor joins the queue of free actors when its setup succeeds. One whose setup
fails is dropped with its reason, and its node avoided from then on: a model that cannot load on one node still
runs on the others; ``start`` fails only when every actor failed.

The jobs. ``call(method, payload)`` takes the next free actor (whichever finishes first: nothing is sharded in
advance, so a slow GPU holds up nobody), runs ``method`` on it and puts it back. When the actor dies under the job
(its process was killed, its node removed) the job is retried on another actor and a replacement actor is started,
as Ray places it. The same when ``retry_if(result)`` says the job killed the actor's worker. After
``max_attempts`` attempts the job fails with ``AttemptsExhausted``: a job that crashes every worker it meets is not
retried forever, and replacements stop after ``max_replacements``, so a cluster that kills every actor ends the
run instead of spinning.

Only this pool hands out jobs, one at a time per actor, so no job ever runs on two actors at once: a job is
retried only once its actor is known dead (or reported the worker lost), never while it might still finish.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from vmevalkit.cluster.session import import_ray


@dataclass(frozen=True)
class Placement:
    """Where an actor runs: its node (id and address), the GPUs Ray gave it, and its process id."""

    node_id: str
    node: str
    gpus: tuple[str, ...]
    pid: int

    @property
    def label(self) -> str:
        """``10.0.0.2/3fa2b1 GPU 3``: the address and the start of the node id (two nodes may share an address)."""
        node = f"{self.node}/{self.node_id[:6]}"
        return f"{node} GPU {','.join(self.gpus)}" if self.gpus else f"{node} CPU"

    def as_json(self) -> dict[str, Any]:
        return {"node_id": self.node_id, "node": self.node, "gpus": list(self.gpus), "pid": self.pid}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Placement:
        return cls(str(data["node_id"]), str(data["node"]), tuple(str(g) for g in data["gpus"]), int(data["pid"]))


def here() -> Placement:
    """The placement of the calling actor (inside an actor's ``setup``)."""
    import os

    ray = import_ray()
    context = ray.get_runtime_context()
    return Placement(
        node_id=context.get_node_id(),
        node=ray.util.get_node_ip_address(),
        gpus=tuple(str(g) for g in context.get_accelerator_ids().get("GPU", [])),
        pid=os.getpid(),
    )


class SetupFailed(RuntimeError):
    """An actor's setup answered an error (the model or scorer could not load on its node)."""


class PoolError(RuntimeError):
    """The pool cannot serve jobs: every actor failed to start, or every actor was lost."""


class AttemptsExhausted(RuntimeError):
    """A job whose actor (or worker) was lost on each of its ``max_attempts`` attempts."""


@dataclass
class _Member:
    handle: Any
    placement: Placement | None = None


@dataclass
class Served:
    """A job's answer, where it ran, and on which attempt."""

    result: Any
    placement: Placement
    attempts: int
    lost: list[str] = field(default_factory=list)  # why each earlier attempt was lost


class ActorPool:
    def __init__(
        self,
        make_actor: Callable[[set[str], int], Any],
        *,
        size: int,
        label: str,
        max_attempts: int = 3,
        max_replacements: int | None = None,
        retry_if: Callable[[Any], str | None] = lambda result: None,
    ) -> None:
        """``retry_if(result)`` returns why a job's result means its worker was lost (then it is retried), or None."""
        if size < 1:
            raise ValueError(f"an actor pool needs at least one actor, got {size}")
        self.make_actor = make_actor
        self.size = size
        self.label = label
        self.max_attempts = max_attempts
        self.max_replacements = size * max_attempts if max_replacements is None else max_replacements
        self.retry_if = retry_if
        self.replaced = 0
        self.setup_errors: list[str] = []
        self.lost: list[str] = []
        self._free: asyncio.Queue[_Member | None] = asyncio.Queue()
        self._members: list[_Member] = []
        self._starting: set[asyncio.Task[None]] = set()
        self._first_ready: asyncio.Future[None] | None = None
        self._dead: PoolError | None = None  # set once no actor is ready or starting: every waiting job gets it
        self.failed_nodes: set[str] = set()  # nodes where an actor could not load: new actors go elsewhere
        self._spawned = 0

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        """Create the actors and return once one is ready; ``PoolError`` when all of them failed."""
        self._first_ready = asyncio.get_running_loop().create_future()
        for _ in range(self.size):
            self._spawn()
        await self._first_ready

    async def close(self) -> None:
        """Stop every actor, those still starting included."""
        ray = import_ray()
        for task in list(self._starting):
            task.cancel()

        async def stop(member: _Member) -> None:
            with contextlib.suppress(Exception):  # its workers stop cleanly, then the actor goes
                await asyncio.wait_for(member.handle.close.remote(), timeout=30)
            with contextlib.suppress(Exception):
                ray.kill(member.handle, no_restart=True)

        await asyncio.gather(*(stop(member) for member in self._members))
        self._members.clear()

    @property
    def alive(self) -> int:
        """Actors ready or still starting."""
        return len(self._members) + len(self._starting)

    def _spawn(self) -> None:
        self._spawned += 1
        actor = self.make_actor(self.failed_nodes, self._spawned)
        task = asyncio.get_running_loop().create_task(self._setup(actor))
        self._starting.add(task)
        task.add_done_callback(self._starting.discard)

    async def _setup(self, handle: Any) -> None:
        ray = import_ray()
        try:
            answer = await handle.setup.remote()
            placement = Placement.from_json(answer["placement"])
            if answer.get("error"):
                self.failed_nodes.add(placement.node_id)
                raise SetupFailed(f"{placement.label}: {answer['error']}")
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                ray.kill(handle, no_restart=True)
            raise
        except Exception as exc:
            self.setup_errors.append(str(exc) if isinstance(exc, SetupFailed) else reason_of(exc))
            with contextlib.suppress(Exception):
                ray.kill(handle, no_restart=True)
            self._maybe_exhausted()
            return
        member = _Member(handle, placement)
        self._members.append(member)
        self._free.put_nowait(member)
        if self._first_ready is not None and not self._first_ready.done():
            self._first_ready.set_result(None)

    def _maybe_exhausted(self) -> None:
        """When no actor is ready or starting, wake every waiting job (and ``start``) with the reasons."""
        # This runs inside the failing task, which is still in _starting: it counts as gone.
        current = asyncio.current_task()
        starting = sum(1 for task in self._starting if task is not current)
        if self._members or starting:
            return
        reasons = "; ".join(dict.fromkeys(self.setup_errors + self.lost)) or "no actor started"
        error = PoolError(f"{self.label}: no worker left on the cluster ({reasons})")
        if self._first_ready is not None and not self._first_ready.done():
            self._first_ready.set_exception(error)
        self._dead = error
        self._free.put_nowait(None)  # each waiter that takes it puts it back for the next

    # -- jobs -----------------------------------------------------------------------------

    async def _take(self) -> _Member:
        member = await self._free.get()
        if member is None:
            self._free.put_nowait(None)
            assert self._dead is not None
            raise self._dead
        return member

    def _drop(self, member: _Member, reason: str, replace: bool = True) -> None:
        """An actor lost under a job: forget it and start a replacement (within the limit)."""
        self.lost.append(reason)
        with contextlib.suppress(ValueError):
            self._members.remove(member)
        with contextlib.suppress(Exception):
            import_ray().kill(member.handle, no_restart=True)
        if replace and self.replaced < self.max_replacements:
            self.replaced += 1
            self._spawn()
        self._maybe_exhausted()

    async def call(self, method: str, *args: Any) -> Served:
        """Run ``method(*args)`` on the next free actor, retried on another when the actor or its worker is lost."""
        ray = import_ray()
        lost: list[str] = []
        for attempt in range(1, self.max_attempts + 1):
            member = await self._take()
            assert member.placement is not None
            try:
                result = await getattr(member.handle, method).remote(*args)
            except (ray.exceptions.RayActorError, ray.exceptions.ObjectLostError) as exc:
                reason = f"attempt {attempt} on {member.placement.label}: the actor was lost ({reason_of(exc)})"
                lost.append(reason)
                self._drop(member, reason)
                continue
            except asyncio.CancelledError:
                # The run is stopping: the actor may still be working on this job, so it takes no other.
                self._drop(member, f"attempt {attempt} on {member.placement.label}: abandoned", replace=False)
                raise
            except BaseException:  # a bug in the actor's method (RayTaskError): this job fails, the actor serves on
                self._free.put_nowait(member)
                raise
            why = self.retry_if(result)
            if why is not None:
                lost.append(f"attempt {attempt} on {member.placement.label}: {why}")
                self._free.put_nowait(member)  # the actor itself is fine: it starts a fresh worker
                if attempt < self.max_attempts:
                    continue
                return Served(result, member.placement, attempt, lost)
            self._free.put_nowait(member)
            return Served(result, member.placement, attempt, lost)
        raise AttemptsExhausted(
            f"{self.label}: gave up after {self.max_attempts} attempts, each lost its worker: " + "; ".join(lost)
        )


def reason_of(exc: BaseException) -> str:
    """A one-line reason from a Ray exception (their messages run to many lines)."""
    text = str(exc).strip().splitlines()
    first = next((line.strip() for line in text if line.strip()), "")
    return f"{type(exc).__name__}: {first[:300]}" if first else type(exc).__name__

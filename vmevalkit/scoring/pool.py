"""Scoring on every core: worker processes that each build the scorer once and score whole batches.

Only in-process, CPU-bound scorers fan out (catalog kind ``builtin``, or a ``--scorer-class-path`` class that sets
``cpu_bound = True``): an API judge already overlaps its requests, and a local scorer has its own workers.

What crosses the process boundary is data, never code: the child gets a ``ScorerSpec`` (a catalog name or a
``module:Class`` path, plus the keywords it was built with) and rebuilds the scorer from it exactly as the parent
did; each batch goes out as pickled ``ScoreItem`` dataclasses (paths and strings) and comes back as the checked
``[N, K]`` array plus JSON-able details. The child writes nothing: the parent writes every score file (atomically,
as in a single process), so a child that dies, or a Ctrl-C, can never leave half a file behind.

A child that dies mid-batch (a segfault in a decoder, ``os._exit`` in a plug-in) fails only that batch: the parent
starts a fresh child and the runner retries the batch's items one by one, as it does for a batch that raises.
Children are started with ``spawn`` (no fork of a process that has threads) and ignore SIGINT, so Ctrl-C reaches
only the parent, which stops them.

How many children. A child costs about half a second to start (spawn, imports, building the scorer: 0.42-0.6 s
measured on a 2-core machine), while a builtin scorer takes about 50 ms (frame-match) to 150 ms (task-verifier) per
video, so a few videos cost more to hand out than to score here (the issue's 18 videos, both scorers: 9.7 s in a pool
against 6.3 s in one process). A second child pays once the videos it takes over outweigh its start: from about
2 x start / per-video videos, 8 for task-verifier and 19 for frame-match. So a catalog scorer gets
``children_for(items, batches, workers)`` = min(workers, batches, ceil(items / MIN_ITEMS_PER_CHILD)) children, and
when that is 1 it is scored in this process exactly as ``--workers 1`` scores it. MIN_ITEMS_PER_CHILD = 20, the
larger of the two, so that no builtin scorer is ever slowed by the pool (task-verifier forgoes at most about a second
on runs of 9 to 20 videos); ``bench/bench_scoring.py`` prints these costs and the small run both ways.
A plug-in class (``--scorer-class-path``) keeps a child per batch up to ``workers`` however small the run: it may
kill its process, and must then fail only its own items.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from typing import Any, Literal

from vmevalkit.scoring.base import ScoreItem

# What a child answers for one batch: ("ok", scores, details), ("raised", message) when score_batch raised,
# ("contract", message) when its output broke the contract, ("init", message) when the scorer could not be built,
# ("died", message) made up by the parent when the child exited without answering.
ReplyKind = Literal["ok", "raised", "contract", "init", "died"]


# Items a child must have to pay for its start (see the module docstring for the measurement).
MIN_ITEMS_PER_CHILD = 20


def children_for(items: int, batches: int, workers: int, min_items_per_child: int = MIN_ITEMS_PER_CHILD) -> int:
    """The children a run of ``items`` in ``batches`` is worth, at most ``workers``: 1 means score in this process."""
    return max(1, min(workers, batches, -(-items // max(1, min_items_per_child))))


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity where the platform has one), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS, Windows: no affinity mask
        return max(1, os.cpu_count() or 1)


@dataclass(frozen=True)
class ScorerSpec:
    """How to build a scorer again in another process: by catalog name or by class path, with its options."""

    catalog_name: str | None = None
    class_path: str | None = None
    init_kwargs: dict[str, Any] = field(default_factory=dict)
    checkpoint: str | None = None
    device: str | None = None

    def __post_init__(self) -> None:
        if (self.catalog_name is None) == (self.class_path is None):
            raise ValueError("a ScorerSpec names either a catalog scorer or a class path")


@dataclass(frozen=True)
class Reply:
    kind: ReplyKind
    message: str = ""
    scores: Any = None  # the checked [N, K] float array, for "ok"
    details: list[dict[str, Any]] = field(default_factory=list)  # JSON-able, one per item, for "ok"


def ignore_sigint() -> None:
    """Called first thing in a child: Ctrl-C is the parent's to handle (it stops the children)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})  # blocked by the parent around our start


# A child's main: (its end of the pipe, the spec, the score_batch keywords); it answers each batch with a Reply.
ChildMain = Callable[[Connection, ScorerSpec, dict[str, Any]], None]


@dataclass
class _Slot:
    process: BaseProcess | None = None
    conn: Connection | None = None
    task: Any = None  # the caller's tag for the batch this child holds, None when idle


class ScorerPool:
    """Up to ``size`` children scoring batches for one scorer. ``submit`` a batch under a tag, ``wait`` for replies.

    Children start on demand (a pool never starts more children than it has had batches at once) and a dead one
    is replaced by the next ``submit``. Use it as a context manager: leaving it stops every child.
    """

    def __init__(
        self, child: ChildMain, spec: ScorerSpec, size: int, score_kwargs: dict[str, Any] | None = None
    ) -> None:
        """``child`` is the function each child runs (by its module and name: it is imported there, not sent)."""
        if size < 1:
            raise ValueError(f"a scorer pool needs at least 1 process, got {size}")
        self.child, self.spec = child, spec
        self.score_kwargs = dict(score_kwargs or {})
        self._context = multiprocessing.get_context("spawn")
        self._slots = [_Slot() for _ in range(size)]
        self.started = 0  # children started so far (a dead one's replacement counts too)

    def __enter__(self) -> ScorerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def idle(self) -> int:
        return sum(slot.task is None for slot in self._slots)

    @property
    def busy(self) -> int:
        return len(self._slots) - self.idle

    def submit(self, tag: Any, items: Sequence[ScoreItem]) -> None:
        """Hands a batch to an idle child, a running one first: a child starts only when none is free."""
        idle = [s for s in self._slots if s.task is None]
        slot = next((s for s in idle if s.process is not None and s.process.is_alive()), idle[0])
        if slot.process is None or not slot.process.is_alive():
            self._start(slot)
        assert slot.conn is not None
        slot.conn.send(list(items))
        slot.task = tag

    def wait(self) -> list[tuple[Any, Reply]]:
        """Blocks until at least one busy child answers or dies; returns (tag, reply) for each that did."""
        busy = [s for s in self._slots if s.task is not None]
        if not busy:
            return []
        ready = set(wait([s.conn for s in busy if s.conn] + [s.process.sentinel for s in busy if s.process]))
        done: list[tuple[Any, Reply]] = []
        for slot in busy:
            assert slot.conn is not None and slot.process is not None
            if slot.conn not in ready and slot.process.sentinel not in ready:
                continue
            reply: Reply | None = None
            if slot.conn.poll():  # an answer sent just before dying still counts
                try:
                    reply = slot.conn.recv()
                except (EOFError, OSError):
                    reply = None
            if reply is None:
                reply = Reply("died", self._stop(slot))
            elif reply.kind == "init":
                self._stop(slot)
            done.append((slot.task, reply))
            slot.task = None
        return done

    def close(self) -> None:
        """Stops every child: idle ones are asked to exit, busy ones (an interrupted run) are terminated."""
        for slot in self._slots:
            if slot.process is not None and slot.task is None and slot.conn is not None:
                try:
                    slot.conn.send(None)
                except (OSError, ValueError):
                    pass
        for slot in self._slots:
            if slot.process is not None:
                if slot.task is not None:
                    slot.process.terminate()
                slot.process.join(timeout=10)
                if slot.process.is_alive():  # a child stuck in a scorer's own cleanup
                    slot.process.kill()
                    slot.process.join()
                self._stop(slot)
            slot.task = None

    def _start(self, slot: _Slot) -> None:
        parent, child = self._context.Pipe()
        process = self._context.Process(
            target=self.child, args=(child, self.spec, self.score_kwargs), name="vmevalkit-scorer", daemon=True
        )
        with _sigint_blocked():
            process.start()
        child.close()  # only the child holds its end: its death reads as EOF here
        self.started += 1
        slot.process, slot.conn = process, parent

    def _stop(self, slot: _Slot) -> str:
        """Reaps a child and says how it ended."""
        process, conn = slot.process, slot.conn
        slot.process = slot.conn = None
        if conn is not None:
            conn.close()
        if process is None:
            return "the scorer's process is gone"
        process.join()
        code = process.exitcode
        if code is not None and code < 0:
            try:
                how = f"was killed by {signal.Signals(-code).name}"
            except ValueError:
                how = f"was killed by signal {-code}"
        else:
            how = f"exited with code {code}"
        return f"ScorerProcessDied: the scorer's process {how} while scoring this video"


@contextmanager
def _sigint_blocked() -> Iterator[None]:
    """SIGINT held back while a child starts: the child inherits the mask and ignores SIGINT before it unblocks
    it, so a Ctrl-C at that moment reaches the parent (delivered on unblock) and never a half-started child."""
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)

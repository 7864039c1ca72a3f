"""Joining a Ray cluster, and what its nodes offer.

``connect(address)`` joins the cluster at ``address`` (``ray://HOST:10001``, ``HOST:6379``, or ``auto`` for the one
``ray start`` started on this machine), else the one ``$RAY_ADDRESS`` names, else starts a new Ray instance on this
machine, its own: ``--engine ray`` works on one machine too.
Every failure to get there is a ``ClusterError`` whose message names the fix.

GPU memory. A node says how much GPU memory it offers through the custom resource ``vmevalkit_gpu_memory_gb``
(``ray start --num-gpus 8 --resources '{"vmevalkit_gpu_memory_gb": 640}'``: 80 GB on each of 8 GPUs). An actor of a
local model asks for one GPU plus its catalog ``min_gpu_memory_gb`` of it, so Ray places a 40 GB model only where
40 GB are free. A cluster where no node declares the resource places by GPU count alone.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vmevalkit.settings import Settings, env_name

GPU_MEMORY_RESOURCE = "vmevalkit_gpu_memory_gb"
# Ray's own variables a driver may take from .env: the cluster's address, and its token authentication.
RAY_VARIABLES = ("RAY_ADDRESS", "RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH")
INSTALL_HINT = "pip install 'vmevalkit[ray]'"
NAMESPACE = "vmevalkit"


class ClusterError(RuntimeError):
    """The Ray engine cannot run: Ray is not installed, the cluster cannot be reached, or no node fits."""


def import_ray() -> Any:
    """The ``ray`` module (typed as Any: see pyproject's mypy section), or a ``ClusterError`` naming the install."""
    try:
        import ray
    except ImportError:
        raise ClusterError(f"--engine ray needs Ray, which is not installed: {INSTALL_HINT}") from None
    return ray


# How long a cluster's head may take to accept a connection before we say it cannot be reached.
CONNECT_TIMEOUT_S = 10.0


def unreachable(address: str, timeout: float = CONNECT_TIMEOUT_S) -> str | None:
    """Why nothing listens at ``address`` (``HOST:PORT`` or ``ray://HOST:PORT``), or None when something does.

    Checked before ``ray.init``, which would retry a wrong address for minutes."""
    import socket

    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        return f"{address!r} is not HOST:PORT"
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
            return None
    except OSError as exc:
        return exc.strerror or type(exc).__name__


def connect(address: str = "") -> None:
    """Join the cluster at ``address`` (empty: ``$RAY_ADDRESS``, else a new local instance); once per process."""
    import os

    ray = import_ray()
    if ray.is_initialized():
        return
    where = address or os.environ.get("RAY_ADDRESS", "")
    problem = unreachable(where) if where and where != "auto" else None
    if problem is not None:
        raise ClusterError(
            f"cannot reach the Ray cluster at {where} ({problem}): start it with 'ray start --head', or pass the "
            "head node's address with --ray-address (or RAY_ADDRESS)"
        )
    # Ray's start-up banner and notices go to no one, not into our output; its errors still raise.
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        try:
            ray.init(
                # Without an address, a new instance of our own: never the latest one started on this machine,
                # which ray.init(None) would join (use "auto" for that).
                address=where or "local",
                namespace=NAMESPACE,
                include_dashboard=False,
                log_to_driver=False,
                logging_level="WARNING",
                configure_logging=False,
            )
        except ConnectionError as exc:
            where = address or "$RAY_ADDRESS"
            raise ClusterError(
                f"cannot reach the Ray cluster at {where} ({exc}): start it with 'ray start --head', or pass the "
                "head node's address with --ray-address (or RAY_ADDRESS)"
            ) from None
        except (ValueError, RuntimeError) as exc:
            raise ClusterError(f"cannot start or join a Ray cluster: {exc}") from None


def cluster_address() -> str:
    """The address of the cluster this process joined (or started): other processes join it with this."""
    return str(import_ray().get_runtime_context().gcs_address)


@dataclass(frozen=True)
class NodeOffer:
    """What one live node offers: its CPUs, GPUs and (when declared) GPU memory in GB."""

    node_id: str
    address: str
    cpus: float
    gpus: float
    gpu_memory_gb: float | None  # None: the node does not declare vmevalkit_gpu_memory_gb
    resources: dict[str, float] = field(default_factory=dict)


def live_nodes() -> list[NodeOffer]:
    """The cluster's live nodes and their total resources (not what is free now)."""
    ray = import_ray()
    offers = []
    for node in ray.nodes():
        if not node.get("Alive"):
            continue
        resources = {str(k): float(v) for k, v in (node.get("Resources") or {}).items()}
        offers.append(
            NodeOffer(
                node_id=str(node.get("NodeID", "")),
                address=str(node.get("NodeManagerAddress", "")),
                cpus=resources.get("CPU", 0.0),
                gpus=resources.get("GPU", 0.0),
                gpu_memory_gb=resources.get(GPU_MEMORY_RESOURCE),
                resources=resources,
            )
        )
    return offers


@dataclass(frozen=True)
class ActorShape:
    """What one actor asks Ray for, and how many such actors the cluster can hold at once."""

    num_cpus: float
    num_gpus: float
    resources: dict[str, float]
    fits: int  # actors of this shape the live nodes hold together (0: none fits anywhere)

    def options(self) -> dict[str, Any]:
        # SPREAD: actors go to as many nodes as they can, so that every machine works and losing one costs least.
        return {
            "num_cpus": self.num_cpus,
            "num_gpus": self.num_gpus,
            "resources": dict(self.resources),
            "scheduling_strategy": "SPREAD",
        }

    def describe(self) -> str:
        parts = [f"{self.num_gpus:g} GPU" if self.num_gpus else f"{self.num_cpus:g} CPU"]
        parts += [f"{amount:g} {name}" for name, amount in self.resources.items()]
        return " and ".join(parts)


def gpu_actor_shape(nodes: list[NodeOffer], min_gpu_memory_gb: float | None) -> ActorShape:
    """One GPU per actor, plus ``min_gpu_memory_gb`` of GPU memory where any node declares it."""
    declared = any(n.gpu_memory_gb is not None for n in nodes)
    memory = float(min_gpu_memory_gb or 0)
    resources = {GPU_MEMORY_RESOURCE: memory} if declared and memory > 0 else {}
    fits = 0
    for node in nodes:
        n = math.floor(node.gpus)
        if resources:
            n = min(n, math.floor((node.gpu_memory_gb or 0.0) / memory))
        fits += max(0, n)
    # A CPU for the actor's own process: it waits on its worker, but Ray must still schedule it somewhere.
    return ActorShape(num_cpus=0, num_gpus=1, resources=resources, fits=fits)


def cpu_actor_shape(nodes: list[NodeOffer]) -> ActorShape:
    """One CPU per actor: builtin models and scorers, and local ones on a cluster without GPUs."""
    return ActorShape(num_cpus=1, num_gpus=0, resources={}, fits=sum(math.floor(n.cpus) for n in nodes))


def actor_shape(what: str, *, gpu: bool, min_gpu_memory_gb: float | None = None) -> ActorShape:
    """What one actor of ``what`` (``model 'x'``, ``scorer 'y'``) asks for on the live nodes: a GPU (with its GPU
    memory) when ``gpu``, unless no node has a GPU at all (then a CPU: a tiny checkpoint, a test), else a CPU.
    ``ClusterError`` with what each node offers when none can ever hold it."""
    nodes = live_nodes()
    if gpu and any(n.gpus for n in nodes):
        shape = gpu_actor_shape(nodes, min_gpu_memory_gb)
    else:
        shape = cpu_actor_shape(nodes)
    if shape.fits == 0:
        raise ClusterError(no_fit_message(what, shape, nodes))
    return shape


def fits_on(shape: ActorShape, node: NodeOffer) -> bool:
    """Whether ``node`` has, in all, what one actor of ``shape`` asks for."""
    return (
        node.cpus >= shape.num_cpus
        and node.gpus >= shape.num_gpus
        and all(node.resources.get(name, 0.0) >= amount for name, amount in shape.resources.items())
    )


def actor_options(shape: ActorShape, avoid: set[str], turn: int = 0) -> dict[str, Any]:
    """Ray options for one more actor of ``shape``: spread over the nodes, or, once some nodes could not run it
    (``avoid``: their ids), pinned to a live node that could, in turn (soft: elsewhere if that node goes)."""
    options = shape.options()
    if not avoid:
        return options
    candidates = [n for n in live_nodes() if n.node_id not in avoid and fits_on(shape, n)]
    if candidates:
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        target = candidates[turn % len(candidates)].node_id
        options["scheduling_strategy"] = NodeAffinitySchedulingStrategy(node_id=target, soft=True)
    return options


def no_fit_message(what: str, shape: ActorShape, nodes: list[NodeOffer]) -> str:
    """Why no actor of ``shape`` can run, with what each node offers and how to offer more."""
    offered = "; ".join(
        f"{n.address}: {n.cpus:g} CPU, {n.gpus:g} GPU"
        + (f", {n.gpu_memory_gb:g} {GPU_MEMORY_RESOURCE}" if n.gpu_memory_gb is not None else "")
        for n in nodes
    )
    fix = (
        f"start a node with more GPU memory declared (ray start --num-gpus N --resources "
        f"'{{\"{GPU_MEMORY_RESOURCE}\": GB}}')"
        if GPU_MEMORY_RESOURCE in shape.resources
        else "add a node that has it"
    )
    return f"{what} needs a node with {shape.describe()}, and no live node has that ({offered or 'no node'}): {fix}"


# Settings a node keeps from its own environment when it sets them: where its virtualenvs and weights are.
NODE_LOCAL_SETTINGS = ("envs_dir", "weights_dir")
# Settings that only the driver uses: not sent to the actors.
DRIVER_SETTINGS = ("engine", "ray_address", "ray_max_attempts", "ray_actors", "questions_dir", "output_dir")


def actor_env(settings: Settings) -> dict[str, str]:
    """The driver's settings as ``VMEVALKIT_*`` variables for an actor, paths made absolute (an actor's working
    folder is not ours). Settings hold no keys (those are read from the environment by name): none is ever sent."""
    env = {}
    for name, value in settings.model_dump(mode="json").items():
        if name in DRIVER_SETTINGS:
            continue
        if name.endswith("_dir") and isinstance(value, str):
            value = str(Path(value).absolute())
        if name == "checkpoints":
            value = {model: str(Path(path).absolute()) for model, path in value.items()}
        env[env_name(Settings, name)] = value if isinstance(value, str) else json.dumps(value)
    env[env_name(Settings, "engine")] = "local"  # an actor runs the work itself
    return env


def apply_actor_env(env: dict[str, str], local_gpus: str | None = None) -> None:
    """In an actor: take the driver's settings, except where this node's own environment says where its
    virtualenvs and weights are; ``local_gpus`` "" (the GPUs Ray gave the actor) or "cpu"."""
    import os

    from vmevalkit.settings import get_settings

    node_local = {env_name(Settings, name) for name in NODE_LOCAL_SETTINGS}
    os.environ.update({k: v for k, v in env.items() if not (k in node_local and k in os.environ)})
    if local_gpus is not None:
        os.environ[env_name(Settings, "local_gpus")] = local_gpus
    get_settings.cache_clear()

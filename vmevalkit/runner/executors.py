"""Which executor runs a model: ``EXECUTORS`` maps a catalog ``kind`` to an executor class by dotted path, so a
new kind is one line of data. The executors themselves live with the models (``vmevalkit.models.executor``).

With the ``ray`` engine (``--engine ray``, ``VMEVALKIT_ENGINE=ray``), ``RAY_EXECUTORS`` replaces the kinds that do
the work on this machine: builtin and local models run in Ray actors across the cluster
(``vmevalkit.runner.ray_engine``), while API models stay on the driver, whose limits per provider then hold for the
whole cluster (only the driver submits).
"""

from __future__ import annotations

from vmevalkit.models.executor import Executor
from vmevalkit.runner.registry import CatalogEntry, build_wrapper
from vmevalkit.settings import Settings
from vmevalkit.utils.imports import load_object

EXECUTORS: dict[str, str] = {
    "builtin": "vmevalkit.models.executor:InProcessExecutor",
    "api": "vmevalkit.models.api.executor:ApiExecutor",
    "local": "vmevalkit.models.local.executor:LocalExecutor",
}
RAY_EXECUTORS: dict[str, str] = {
    **EXECUTORS,
    "builtin": "vmevalkit.runner.ray_engine:RayExecutor",
    "local": "vmevalkit.runner.ray_engine:RayExecutor",
}


def executor_for(entry: CatalogEntry, settings: Settings) -> Executor:
    try:
        path = (RAY_EXECUTORS if settings.engine == "ray" else EXECUTORS)[entry.kind]
    except KeyError:
        raise NotImplementedError(
            f"model '{entry.name}' is of kind '{entry.kind}', which has no executor yet"
        ) from None
    executor = load_object(path)(entry, settings, build_wrapper(entry.name))
    if not isinstance(executor, Executor):
        raise TypeError(f"{path} does not build an Executor")
    return executor

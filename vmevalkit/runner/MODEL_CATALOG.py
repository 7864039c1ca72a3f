"""Every model VMEvalKit knows, as pure data.

This module must stay importable in microseconds: literal dicts and lists only,
no imports beyond typing, no calls. Classes are named by string and loaded by
``vmevalkit.runner.registry`` only when a model is actually used.

Entry fields:
  wrapper_module  dotted module holding the wrapper (and, by default, the service)
  wrapper_class   a ``vmevalkit.models.base.ModelWrapper`` subclass in that module
  service_class   the class that talks to the provider / pipeline ("Name" in
                  wrapper_module, or "package.module:Name")
  model           the provider's own model id
  args            keyword arguments for the service (optional)
  description     one line for ``--list-models``
  family          the group the entry belongs to
  kind            "builtin" (in-process), "api" (HTTP provider) or "local" (own venv, GPU worker)
  env_keys        environment variables the model needs, e.g. API keys (optional)
"""

from typing import Any

# Baselines: no GPU, no key, no download. They bracket every leaderboard: a
# video that never moves (the floor) and the correct solution (the ceiling).
BASELINE_MODELS: dict[str, dict[str, Any]] = {
    "static-first-frame": {
        "wrapper_module": "vmevalkit.models.baselines",
        "wrapper_class": "StaticFirstFrameWrapper",
        "service_class": "StaticFirstFrameService",
        "model": "static-first-frame",
        "args": {"fps": 16},
        "description": "Holds the first frame for the whole video: the floor any scorer must rank last",
        "family": "baselines",
        "kind": "builtin",
    },
    "oracle-solution": {
        "wrapper_module": "vmevalkit.models.baselines",
        "wrapper_class": "OracleSolutionWrapper",
        "service_class": "OracleSolutionService",
        "model": "oracle-solution",
        "args": {"fps": 16},
        "description": "Renders the task's correct solution step by step: the ceiling a scorer must recognise",
        "family": "baselines",
        "kind": "builtin",
    },
}

MODEL_FAMILIES: dict[str, dict[str, dict[str, Any]]] = {
    "baselines": BASELINE_MODELS,
}

AVAILABLE_MODELS: dict[str, dict[str, Any]] = {
    **BASELINE_MODELS,
}

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
  env_key_alternatives  other complete sets of keys that also work (optional)
  constraints     what it accepts: durations, default_duration, aspect_ratios, resolutions,
                  default_resolution, fps, seed, audio, params, max_image_bytes (optional)
  price           list price: usd_per_second and/or usd_per_video (optional)
  retired         why the provider no longer serves it: it stays listed, and says so (optional)
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

# Runway: https://docs.dev.runwayml.com/api/ ; prices from Runway's API pricing (credits at $0.01;
# gen4_turbo and gen3a_turbo cost 5 credits per second of video).
RUNWAY_MODELS: dict[str, dict[str, Any]] = {
    "runway-gen4-turbo": {
        "wrapper_module": "vmevalkit.models.providers.runway",
        "wrapper_class": "RunwayWrapper",
        "service_class": "RunwayService",
        "model": "gen4_turbo",
        "description": "Runway Gen-4 Turbo image-to-video",
        "family": "runway",
        "kind": "api",
        "env_keys": ["RUNWAYML_API_SECRET"],
        "constraints": {
            "durations": [5, 10],
            "default_duration": 5,
            "aspect_ratios": ["1280:720", "720:1280", "1104:832", "832:1104", "960:960", "1584:672"],
            "fps": 24,
            "seed": True,
        },
        "price": {"usd_per_second": 0.05},
    },
    "runway-gen3a-turbo": {
        "wrapper_module": "vmevalkit.models.providers.runway",
        "wrapper_class": "RunwayWrapper",
        "service_class": "RunwayService",
        "model": "gen3a_turbo",
        "description": "Runway Gen-3 Alpha Turbo image-to-video (retired)",
        "family": "runway",
        "kind": "api",
        "env_keys": ["RUNWAYML_API_SECRET"],
        "constraints": {
            "durations": [5, 10],
            "default_duration": 5,
            "aspect_ratios": ["1280:768", "768:1280"],
            "fps": 24,
            "seed": True,
        },
        "price": {"usd_per_second": 0.05},
        "retired": "Runway no longer serves gen3a_turbo through its API; use runway-gen4-turbo",
    },
}

LUMA_MODELS: dict[str, dict[str, Any]] = {}

OPENAI_MODELS: dict[str, dict[str, Any]] = {}

VEO_MODELS: dict[str, dict[str, Any]] = {}

WAVESPEED_MODELS: dict[str, dict[str, Any]] = {}

KLING_MODELS: dict[str, dict[str, Any]] = {}

MINIMAX_MODELS: dict[str, dict[str, Any]] = {}

FAL_MODELS: dict[str, dict[str, Any]] = {}

REPLICATE_MODELS: dict[str, dict[str, Any]] = {}

MODEL_FAMILIES: dict[str, dict[str, dict[str, Any]]] = {
    "baselines": BASELINE_MODELS,
    "runway": RUNWAY_MODELS,
    "luma": LUMA_MODELS,
    "openai": OPENAI_MODELS,
    "veo": VEO_MODELS,
    "wavespeed": WAVESPEED_MODELS,
    "kling": KLING_MODELS,
    "minimax": MINIMAX_MODELS,
    "fal": FAL_MODELS,
    "replicate": REPLICATE_MODELS,
}

AVAILABLE_MODELS: dict[str, dict[str, Any]] = {
    **BASELINE_MODELS,
    **RUNWAY_MODELS,
    **LUMA_MODELS,
    **OPENAI_MODELS,
    **VEO_MODELS,
    **WAVESPEED_MODELS,
    **KLING_MODELS,
    **MINIMAX_MODELS,
    **FAL_MODELS,
    **REPLICATE_MODELS,
}

"""Every model VMEvalKit knows, as pure data.

This module must stay importable in microseconds: literal dicts and lists only,
no imports beyond typing, no calls. Classes are named by "package.module:Class"
strings and loaded by ``vmevalkit.runner.registry`` only when a model is used.
``SCORER_CATALOG.py`` beside it has the same entry schema.

Two words, in both catalogs:
  service  the class named by an entry that does the work: here a provider's API
           description (``ApiProvider``), a diffusers pipeline (``LocalPipeline``,
           run by a worker in the model's own venv) or a baseline's renderer
  wrapper  what the runner calls: a ``vmevalkit.models.base.ModelWrapper`` built
           around the service. An entry names its kind's generic wrapper directly
           (``API_WRAPPER``, ``LOCAL_WRAPPER``) unless it needs its own class

Entry fields:
  wrapper         "package.module:Class" of the wrapper
  service         "package.module:Class" of the service
  model           the provider's own model id (a local model's Hugging Face repo)
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

Defaults. The fields a family shares (a provider's wrapper, service, family, kind
and keys) are written once, in ``<FAMILY>_DEFAULTS`` (``LOCAL_DEFAULTS``: the local
kind's wrapper and kind), and each of its entries starts with ``**<FAMILY>_DEFAULTS``.
The merge is Python's own: the entry's fields, written after it, win (a test checks
the ``**`` always comes first). To see an entry in full:
``python -c "from vmevalkit.runner.registry import get_entry;
print(get_entry('kling-v2-1-pro').model_dump_json(indent=2))"``.

Older catalogs named the classes ``wrapper_module`` + ``wrapper_class`` and
``service_class`` (a name in wrapper_module, or a path); the registry still reads
that shape in a lab's extra catalogs, but new entries are written as above.
"""

from typing import Any

# The generic wrappers of the "api" and "local" kinds: every provider and every local pipeline runs through them.
API_WRAPPER = "vmevalkit.models.api.wrapper:ApiModelWrapper"
LOCAL_WRAPPER = "vmevalkit.models.local.wrapper:LocalModelWrapper"

# Baselines: no GPU, no key, no download. They bracket every leaderboard: a
# video that never moves (the floor) and the correct solution (the ceiling);
# a jump-cut to the answer sits between them for any scorer that judges the process.
BASELINE_MODELS: dict[str, dict[str, Any]] = {
    "static-first-frame": {
        "wrapper": "vmevalkit.models.baselines:StaticFirstFrameWrapper",
        "service": "vmevalkit.models.baselines:StaticFirstFrameService",
        "model": "static-first-frame",
        "args": {"fps": 16},
        "description": "Holds the first frame for the whole video: the floor any scorer must rank last",
        "family": "baselines",
        "kind": "builtin",
    },
    "oracle-solution": {
        "wrapper": "vmevalkit.models.baselines:OracleSolutionWrapper",
        "service": "vmevalkit.models.baselines:OracleSolutionService",
        "model": "oracle-solution",
        "args": {"fps": 16},
        "description": "Renders the task's correct solution step by step: the ceiling a scorer must recognise",
        "family": "baselines",
        "kind": "builtin",
    },
    "shortcut-cut": {
        "wrapper": "vmevalkit.models.baselines:ShortcutCutWrapper",
        "service": "vmevalkit.models.baselines:ShortcutCutService",
        "model": "shortcut-cut",
        "args": {"fps": 16},
        "description": "Holds the first frame, then cuts straight to the answer: right end, no process, "
        "which a scorer must rank below the oracle",
        "family": "baselines",
        "kind": "builtin",
    },
}

# Runway: https://docs.dev.runwayml.com/api/ ; prices from Runway's API pricing (credits at $0.01;
# gen4_turbo and gen3a_turbo cost 5 credits per second of video).
RUNWAY_DEFAULTS: dict[str, Any] = {
    "wrapper": API_WRAPPER,
    "service": "vmevalkit.models.providers.runway:RunwayService",
    "family": "runway",
    "kind": "api",
    "env_keys": ["RUNWAYML_API_SECRET"],
}
RUNWAY_MODELS: dict[str, dict[str, Any]] = {
    "runway-gen4-turbo": {
        **RUNWAY_DEFAULTS,
        "model": "gen4_turbo",
        "description": "Runway Gen-4 Turbo image-to-video",
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
        **RUNWAY_DEFAULTS,
        "model": "gen3a_turbo",
        "description": "Runway Gen-3 Alpha Turbo image-to-video",
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

# Luma bills per generated pixel: $0.0064 per million pixels for ray-2 and $0.0022 for ray-flash-2,
# i.e. at 720p (1280x720, 24 fps) $0.1416/s and $0.0487/s (ray-2 5 s: $0.71; 540p is ~0.56x, 1080p ~2.25x).
# Source: Luma's API pricing (https://lumalabs.ai/api/pricing); read here from secondary copies of it
# (per-Mpx rates and the ray-2 540p/720p/1080p 5 s list prices $0.40/$0.71/$1.59), not the page itself.
LUMA_DEFAULTS: dict[str, Any] = {
    "wrapper": API_WRAPPER,
    "service": "vmevalkit.models.providers.luma:LumaService",
    "family": "luma",
    "kind": "api",
    "env_keys": ["LUMA_API_KEY"],
}
LUMA_MODELS: dict[str, dict[str, Any]] = {
    "luma-ray-2": {
        **LUMA_DEFAULTS,
        "model": "ray-2",
        "args": {"loop": False},
        "description": "Luma Ray 2 image-to-video (Dream Machine API); prompt sent verbatim, the API has no prompt "
        "enhancement; loop off; the input image must be at a URL (set VMEVALKIT_IMAGE_HOST)",
        "constraints": {
            "durations": [5, 9],
            "default_duration": 5,
            "aspect_ratios": ["1:1", "16:9", "9:16", "4:3", "3:4", "21:9", "9:21"],
            "resolutions": ["540p", "720p", "1080p"],
            "default_resolution": "720p",
            "fps": 24,
            "seed": False,
            "audio": False,
            "params": ["loop"],
        },
        "price": {
            "usd_per_second": 0.1416,
            "usd_per_second_by_resolution": {"540p": 0.08, "720p": 0.1416, "1080p": 0.318},
            "note": "Luma bills per pixel",
        },
    },
    "luma-ray-flash-2": {
        **LUMA_DEFAULTS,
        "model": "ray-flash-2",
        "args": {"loop": False},
        "description": "Luma Ray Flash 2 image-to-video, faster and cheaper than Ray 2 (Dream Machine API); prompt "
        "sent verbatim, the API has no prompt enhancement; loop off; the input image must be at a URL "
        "(set VMEVALKIT_IMAGE_HOST)",
        "constraints": {
            "durations": [5, 9],
            "default_duration": 5,
            "aspect_ratios": ["1:1", "16:9", "9:16", "4:3", "3:4", "21:9", "9:21"],
            "resolutions": ["540p", "720p", "1080p"],
            "default_resolution": "720p",
            "fps": 24,
            "seed": False,
            "audio": False,
            "params": ["loop"],
        },
        "price": {
            "usd_per_second": 0.0487,
            "usd_per_second_by_resolution": {"540p": 0.0273, "720p": 0.0487, "1080p": 0.1096},
            "note": "Luma bills per pixel: 540p ~0.56x and 1080p ~2.25x the 720p rate",
        },
    },
}

# OpenAI Sora 2 through the Videos API (https://developers.openai.com/api/docs/guides/video-generation,
# the openai-python SDK's video types). The image reference must be exactly the requested size, so the
# ratios are the API's pixel sizes (the canvas is built at that size; "1280:720" is sent as "1280x720").
# sora-2-pro's larger sizes cost more, so they are a separate entry: the closest-ratio choice would
# otherwise pick 1792x1024 for square tasks. OpenAI shut its hosted Videos API down on 2026-09-24; these
# work through any host that serves the same /videos API (OPENAI_BASE_URL). Sora takes no seed and
# always renders sound; OpenAI does not document the frame rate.
# Prices per second (OpenAI's pricing and model pages): sora-2 $0.10 (720x1280/1280x720), sora-2-pro $0.30
# at 720x1280/1280x720 and $0.50 at 1024x1792/1792x1024.
OPENAI_DEFAULTS: dict[str, Any] = {
    "wrapper": API_WRAPPER,
    "service": "vmevalkit.models.providers.openai_sora:OpenAISoraService",
    "family": "openai",
    "kind": "api",
    "env_keys": ["OPENAI_API_KEY"],
}
OPENAI_MODELS: dict[str, dict[str, Any]] = {
    "openai-sora-2": {
        **OPENAI_DEFAULTS,
        "model": "sora-2",
        "description": "OpenAI Sora 2 image-to-video with sound, 1280x720 or 720x1280 (Videos API; OpenAI shut its "
        "hosted API down on 2026-09-24: set OPENAI_BASE_URL to a host that still serves /videos)",
        "constraints": {
            "durations": [4, 8, 12],
            "default_duration": 4,
            "aspect_ratios": ["1280:720", "720:1280"],
            "seed": False,
            "audio": True,
        },
        "price": {"usd_per_second": 0.10},
    },
    "openai-sora-2-pro": {
        **OPENAI_DEFAULTS,
        "model": "sora-2-pro",
        "description": "OpenAI Sora 2 Pro image-to-video with sound, 1280x720 or 720x1280 (Videos API; OpenAI shut "
        "its hosted API down on 2026-09-24: set OPENAI_BASE_URL to a host that still serves /videos)",
        "constraints": {
            "durations": [4, 8, 12],
            "default_duration": 4,
            "aspect_ratios": ["1280:720", "720:1280"],
            "seed": False,
            "audio": True,
        },
        "price": {"usd_per_second": 0.30},
    },
    "openai-sora-2-pro-hd": {
        **OPENAI_DEFAULTS,
        "model": "sora-2-pro",
        "description": "OpenAI Sora 2 Pro image-to-video with sound at its larger sizes, 1792x1024 or 1024x1792 "
        "(Videos API; OpenAI shut its hosted API down on 2026-09-24: set OPENAI_BASE_URL to a host that "
        "still serves /videos)",
        "constraints": {
            "durations": [4, 8, 12],
            "default_duration": 4,
            "aspect_ratios": ["1792:1024", "1024:1792"],
            "seed": False,
            "audio": True,
        },
        "price": {"usd_per_second": 0.50},
    },
}

# Google Veo through the Gemini API (https://ai.google.dev/gemini-api/docs/video; wire format from the
# google-genai SDK). Durations, aspect ratios and resolutions per model from the guide's parameter table;
# 1080p is documented for 8 s videos. The Gemini API takes no seed and no audio switch (the SDK refuses
# both for it): Veo 3.x always renders sound. 24 fps. Google shut down veo-2.0-generate-001,
# veo-3.0-generate-001 and veo-3.0-fast-generate-001 on the Gemini API on 2026-06-30 (changelog of
# 2026-06-15) and the Veo 3.1 preview ids on 2026-10-22 (third-party notices citing Google's deprecations
# page): they work through any host that still serves them at GEMINI_BASE_URL.
# Prices per second, Gemini API pricing page (https://ai.google.dev/gemini-api/docs/pricing): Veo 2 $0.35,
# Veo 3 $0.40 and Veo 3 Fast $0.15 (after Google's September 2025 cut), Veo 3.1 $0.40 at 720p/1080p,
# Veo 3.1 Fast $0.10 at 720p and $0.12 at 1080p (the 2026 figures, read from a secondary copy; $0.15 at launch).
VEO_DEFAULTS: dict[str, Any] = {
    "wrapper": API_WRAPPER,
    "service": "vmevalkit.models.providers.gemini_veo:GeminiVeoService",
    "family": "veo",
    "kind": "api",
    "env_keys": ["GEMINI_API_KEY"],
}
VEO_MODELS: dict[str, dict[str, Any]] = {
    "veo-2.0-generate": {
        **VEO_DEFAULTS,
        "model": "veo-2.0-generate-001",
        "description": "Google Veo 2 image-to-video, silent, 720p (Gemini API; Google shut it down there on "
        "2026-06-30: set GEMINI_BASE_URL to a host that still serves it)",
        "constraints": {
            "durations": [5, 6, 8],
            "default_duration": 8,
            "aspect_ratios": ["16:9", "9:16"],
            "fps": 24,
            "seed": False,
            "audio": False,
            "params": ["negative_prompt", "person_generation"],
        },
        "price": {"usd_per_second": 0.35},
        "retired": "Google shut veo-2.0-generate-001 down in the Gemini API on 2026-06-30 (Gemini API changelog)",
    },
    "veo-3.0-generate": {
        **VEO_DEFAULTS,
        "model": "veo-3.0-generate-001",
        "description": "Google Veo 3 image-to-video with sound (Gemini API; Google shut it down there on "
        "2026-06-30: set GEMINI_BASE_URL to a host that still serves it)",
        "constraints": {
            "durations": [4, 6, 8],
            "default_duration": 8,
            "aspect_ratios": ["16:9", "9:16"],
            "resolutions": ["720p", "1080p"],
            "default_resolution": "720p",
            "fps": 24,
            "seed": False,
            "audio": True,
            "params": ["negative_prompt", "person_generation"],
        },
        "price": {"usd_per_second": 0.40},
        "retired": "Google shut veo-3.0-generate-001 down in the Gemini API on 2026-06-30 (Gemini API changelog)",
    },
    "veo-3.0-fast-generate": {
        **VEO_DEFAULTS,
        "model": "veo-3.0-fast-generate-001",
        "description": "Google Veo 3 Fast image-to-video with sound (Gemini API; Google shut it down there on "
        "2026-06-30: set GEMINI_BASE_URL to a host that still serves it)",
        "constraints": {
            "durations": [4, 6, 8],
            "default_duration": 8,
            "aspect_ratios": ["16:9", "9:16"],
            "resolutions": ["720p", "1080p"],
            "default_resolution": "720p",
            "fps": 24,
            "seed": False,
            "audio": True,
            "params": ["negative_prompt", "person_generation"],
        },
        "price": {"usd_per_second": 0.15},
        "retired": "Google shut veo-3.0-fast-generate-001 down in the Gemini API on 2026-06-30 (Gemini API changelog)",
    },
    "veo-3.1-generate": {
        **VEO_DEFAULTS,
        "model": "veo-3.1-generate-preview",
        "description": "Google Veo 3.1 (preview) image-to-video with sound (Gemini API; the preview id was shut "
        "down there on 2026-10-22: set GEMINI_BASE_URL to a host that still serves it)",
        "constraints": {
            "durations": [4, 6, 8],
            "default_duration": 8,
            "aspect_ratios": ["16:9", "9:16"],
            "resolutions": ["720p", "1080p"],
            "default_resolution": "720p",
            "fps": 24,
            "seed": False,
            "audio": True,
            "params": ["negative_prompt", "person_generation"],
        },
        "price": {"usd_per_second": 0.40},
    },
    "veo-3.1-fast-generate": {
        **VEO_DEFAULTS,
        "model": "veo-3.1-fast-generate-preview",
        "description": "Google Veo 3.1 Fast (preview) image-to-video with sound (Gemini API; the preview id was "
        "shut down there on 2026-10-22: set GEMINI_BASE_URL to a host that still serves it)",
        "constraints": {
            "durations": [4, 6, 8],
            "default_duration": 8,
            "aspect_ratios": ["16:9", "9:16"],
            "resolutions": ["720p", "1080p"],
            "default_resolution": "720p",
            "fps": 24,
            "seed": False,
            "audio": True,
            "params": ["negative_prompt", "person_generation"],
        },
        "price": {"usd_per_second": 0.10, "usd_per_second_by_resolution": {"1080p": 0.12}},
    },
}

# WaveSpeedAI: https://wavespeed.ai/docs (submit, result, media upload) and the model pages under
# https://wavespeed.ai/docs/docs-api/ . WAN 2.1 renders at a fixed size, so its ratios are the pixel
# sizes it accepts ("832:480" is sent as size "832*480"); WAN 2.2 follows the image's ratio. WAN makes
# 16 fps video (the Wan model's native rate); Veo makes 24 fps.
WAVESPEED_DEFAULTS: dict[str, Any] = {
    "wrapper": API_WRAPPER,
    "service": "vmevalkit.models.providers.wavespeed:WaveSpeedService",
    "family": "wavespeed",
    "kind": "api",
    "env_keys": ["WAVESPEED_API_KEY"],
}
WAVESPEED_MODELS: dict[str, dict[str, Any]] = {
    "wavespeed-wan-2-1-i2v-480p": {
        **WAVESPEED_DEFAULTS,
        "model": "wavespeed-ai/wan-2.1/i2v-480p",
        "description": "WAN 2.1 14B image-to-video at 480p on WaveSpeedAI",
        "constraints": {
            "durations": [5, 6, 7, 8, 9, 10],
            "default_duration": 5,
            "aspect_ratios": ["832:480", "480:832"],
            "default_resolution": "480p",
            "fps": 16,
            "seed": True,
            "params": ["negative_prompt", "num_inference_steps", "guidance_scale", "flow_shift"],
        },
        # $0.20 per 5 s clip, billed per 5 s; best known figure: the model page as crawled had no price
        # (its 720p ultra-fast sibling lists $0.225 per 5 s)
        "price": {"usd_per_second": 0.04},
    },
    "wavespeed-wan-2-1-i2v-720p": {
        **WAVESPEED_DEFAULTS,
        "model": "wavespeed-ai/wan-2.1/i2v-720p",
        "description": "WAN 2.1 14B image-to-video at 720p on WaveSpeedAI",
        "constraints": {
            "durations": [5, 6, 7, 8, 9, 10],
            "default_duration": 5,
            "aspect_ratios": ["1280:720", "720:1280"],
            "default_resolution": "720p",
            "fps": 16,
            "seed": True,
            "params": ["negative_prompt", "num_inference_steps", "guidance_scale", "flow_shift"],
        },
        # $0.30 per 5 s clip; best known figure, unverified (the crawled model page had no price)
        "price": {"usd_per_second": 0.06},
    },
    "wavespeed-wan-2-2-i2v-480p": {
        **WAVESPEED_DEFAULTS,
        "model": "wavespeed-ai/wan-2.2/i2v-480p",
        "description": "WAN 2.2 A14B image-to-video at 480p on WaveSpeedAI",
        "constraints": {
            "durations": [5, 8],
            "default_duration": 5,
            "aspect_ratios": ["832:480", "480:832"],
            "default_resolution": "480p",
            "fps": 16,
            "seed": True,
            "params": ["negative_prompt"],
        },
        # $0.15 per 5 s, $0.24 per 8 s (https://wavespeed.ai/docs/docs-api/wavespeed-ai/wan-2.2-image-to-video)
        "price": {"usd_per_second": 0.03},
    },
    "wavespeed-wan-2-2-i2v-720p": {
        **WAVESPEED_DEFAULTS,
        "model": "wavespeed-ai/wan-2.2/i2v-720p",
        "description": "WAN 2.2 A14B image-to-video at 720p on WaveSpeedAI",
        "constraints": {
            "durations": [5, 8],
            "default_duration": 5,
            "aspect_ratios": ["1280:720", "720:1280"],
            "default_resolution": "720p",
            "fps": 16,
            "seed": True,
            "params": ["negative_prompt"],
        },
        # $0.30 per 5 s, $0.48 per 8 s (https://wavespeed.ai/docs/docs-api/wavespeed-ai/wan-2.2-image-to-video)
        "price": {"usd_per_second": 0.06},
    },
    "wavespeed-veo-3-1": {
        **WAVESPEED_DEFAULTS,
        "model": "google/veo3.1/image-to-video",
        "args": {"generate_audio": False},  # WaveSpeed's default is true, and audio doubles the price
        "description": "Google Veo 3.1 image-to-video (silent) through WaveSpeedAI",
        "constraints": {
            "durations": [4, 6, 8],
            "default_duration": 8,
            "aspect_ratios": ["16:9", "9:16"],
            "resolutions": ["720p", "1080p"],
            "default_resolution": "720p",
            "fps": 24,
            "seed": True,
            "params": ["negative_prompt"],
        },
        # Google's Veo 3.1 list price without audio ($0.40/s with audio), which WaveSpeed charges for its
        # Veo 3.1 Fast too; the standard model's WaveSpeed page was not retrievable, so unverified there
        "price": {"usd_per_second": 0.2},
    },
    "wavespeed-veo-3-1-fast": {
        **WAVESPEED_DEFAULTS,
        "model": "google/veo3.1-fast/image-to-video",
        "args": {"generate_audio": False},
        "description": "Google Veo 3.1 Fast image-to-video (silent) through WaveSpeedAI",
        "constraints": {
            "durations": [4, 6, 8],
            "default_duration": 8,
            "aspect_ratios": ["16:9", "9:16"],
            "resolutions": ["720p", "1080p"],
            "default_resolution": "720p",
            "fps": 24,
            "seed": True,
            "params": ["negative_prompt"],
        },
        # $0.80 per 8 s clip without audio, $1.20 with (WaveSpeed's Veo 3.1 Fast skill,
        # github.com/WaveSpeedAI/agent-skills/blob/main/skills/wavespeed-veo-31-fast/SKILL.md)
        "price": {"usd_per_second": 0.1},
    },
}

# Kling: https://app.klingai.com/global/dev/document-api (Image to Video; modes, durations and output
# resolution/fps from its capability map). The video takes the input image's aspect ratio; the three
# ratios are the ones Kling renders. Kling bills resource-pack units and its price page was not in reach:
# the USD figures are the commonly published per-clip prices, best known and unverified. kling-v2.x
# models take no cfg_scale; master models take no mode; kling-v3 is sent without sound (its default).
KLING_DEFAULTS: dict[str, Any] = {
    "wrapper": API_WRAPPER,
    "service": "vmevalkit.models.providers.kling:KlingService",
    "family": "kling",
    "kind": "api",
    "env_keys": ["KLING_ACCESS_KEY", "KLING_SECRET_KEY"],
    "env_key_alternatives": [["KLING_API_KEY"]],
}
KLING_MODELS: dict[str, dict[str, Any]] = {
    "kling-v1-6-std": {
        **KLING_DEFAULTS,
        "model": "kling-v1-6",
        "args": {"mode": "std"},
        "description": "Kling 1.6 image-to-video, standard mode (720p)",
        "constraints": {
            "durations": [5, 10],
            "default_duration": 5,
            "aspect_ratios": ["16:9", "9:16", "1:1"],
            "default_resolution": "720p",
            "fps": 30,
            "seed": False,
            "params": ["negative_prompt", "cfg_scale"],
            "max_image_bytes": 10485760,  # 10 MB
        },
        # $0.28 per 5 s
        "price": {"usd_per_second": 0.056},
    },
    "kling-v1-6-pro": {
        **KLING_DEFAULTS,
        "model": "kling-v1-6",
        "args": {"mode": "pro"},
        "description": "Kling 1.6 image-to-video, professional mode (1080p)",
        "constraints": {
            "durations": [5, 10],
            "default_duration": 5,
            "aspect_ratios": ["16:9", "9:16", "1:1"],
            "default_resolution": "1080p",
            "fps": 30,
            "seed": False,
            "params": ["negative_prompt", "cfg_scale"],
            "max_image_bytes": 10485760,  # 10 MB
        },
        # $0.49 per 5 s
        "price": {"usd_per_second": 0.098},
    },
    "kling-v2-master": {
        **KLING_DEFAULTS,
        "model": "kling-v2-master",
        "description": "Kling 2.0 Master image-to-video (720p)",
        "constraints": {
            "durations": [5, 10],
            "default_duration": 5,
            "aspect_ratios": ["16:9", "9:16", "1:1"],
            "default_resolution": "720p",
            "fps": 24,
            "seed": False,
            "params": ["negative_prompt"],
            "max_image_bytes": 10485760,  # 10 MB
        },
        # $1.40 per 5 s
        "price": {"usd_per_second": 0.28},
    },
    "kling-v2-1-std": {
        **KLING_DEFAULTS,
        "model": "kling-v2-1",
        "args": {"mode": "std"},
        "description": "Kling 2.1 image-to-video, standard mode (720p)",
        "constraints": {
            "durations": [5, 10],
            "default_duration": 5,
            "aspect_ratios": ["16:9", "9:16", "1:1"],
            "default_resolution": "720p",
            "fps": 24,
            "seed": False,
            "params": ["negative_prompt"],
            "max_image_bytes": 10485760,  # 10 MB
        },
        # $0.28 per 5 s
        "price": {"usd_per_second": 0.056},
    },
    "kling-v2-1-pro": {
        **KLING_DEFAULTS,
        "model": "kling-v2-1",
        "args": {"mode": "pro"},
        "description": "Kling 2.1 image-to-video, professional mode (1080p)",
        "constraints": {
            "durations": [5, 10],
            "default_duration": 5,
            "aspect_ratios": ["16:9", "9:16", "1:1"],
            "default_resolution": "1080p",
            "fps": 24,
            "seed": False,
            "params": ["negative_prompt"],
            "max_image_bytes": 10485760,  # 10 MB
        },
        # $0.49 per 5 s
        "price": {"usd_per_second": 0.098},
    },
    "kling-v2-1-master": {
        **KLING_DEFAULTS,
        "model": "kling-v2-1-master",
        "description": "Kling 2.1 Master image-to-video (1080p)",
        "constraints": {
            "durations": [5, 10],
            "default_duration": 5,
            "aspect_ratios": ["16:9", "9:16", "1:1"],
            "default_resolution": "1080p",
            "fps": 24,
            "seed": False,
            "params": ["negative_prompt"],
            "max_image_bytes": 10485760,  # 10 MB
        },
        # $1.40 per 5 s
        "price": {"usd_per_second": 0.28},
    },
    "kling-v2-5-turbo-std": {
        **KLING_DEFAULTS,
        "model": "kling-v2-5-turbo",
        "args": {"mode": "std"},
        "description": "Kling 2.5 Turbo image-to-video, standard mode (720p)",
        "constraints": {
            "durations": [5, 10],
            "default_duration": 5,
            "aspect_ratios": ["16:9", "9:16", "1:1"],
            "default_resolution": "720p",
            "fps": 24,
            "seed": False,
            "params": ["negative_prompt"],
            "max_image_bytes": 10485760,  # 10 MB
        },
        # $0.21 per 5 s
        "price": {"usd_per_second": 0.042},
    },
    "kling-v2-5-turbo-pro": {
        **KLING_DEFAULTS,
        "model": "kling-v2-5-turbo",
        "args": {"mode": "pro"},
        "description": "Kling 2.5 Turbo image-to-video, professional mode (1080p)",
        "constraints": {
            "durations": [5, 10],
            "default_duration": 5,
            "aspect_ratios": ["16:9", "9:16", "1:1"],
            "default_resolution": "1080p",
            "fps": 24,
            "seed": False,
            "params": ["negative_prompt"],
            "max_image_bytes": 10485760,  # 10 MB
        },
        # $0.35 per 5 s
        "price": {"usd_per_second": 0.07},
    },
    "kling-v3-std": {
        **KLING_DEFAULTS,
        "model": "kling-v3",
        "args": {"mode": "std"},
        "description": "Kling 3.0 image-to-video, standard mode (720p, 3-15 s, silent)",
        "constraints": {
            "durations": [3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
            "default_duration": 5,
            "aspect_ratios": ["16:9", "9:16", "1:1"],
            "default_resolution": "720p",
            "seed": False,
            "params": ["negative_prompt"],
            "max_image_bytes": 10485760,  # 10 MB
        },
        # $0.075 per second silent at 720p: a third-party rate table (discuss.huggingface.co, "Kling video
        # generation cost analysis"), unverified
        "price": {"usd_per_second": 0.075},
    },
    "kling-v3-pro": {
        **KLING_DEFAULTS,
        "model": "kling-v3",
        "args": {"mode": "pro"},
        "description": "Kling 3.0 image-to-video, professional mode (1080p, 3-15 s, silent)",
        "constraints": {
            "durations": [3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
            "default_duration": 5,
            "aspect_ratios": ["16:9", "9:16", "1:1"],
            "default_resolution": "1080p",
            "seed": False,
            "params": ["negative_prompt"],
            "max_image_bytes": 10485760,  # 10 MB
        },
        # $0.10 per second silent at 1080p: same third-party rate table, unverified
        "price": {"usd_per_second": 0.1},
    },
}

# MiniMax's own API: https://platform.minimax.io/docs/api-reference/video-generation-i2v (ids, resolution and
# duration tables), -query and file-management-retrieve. The output keeps the first frame's aspect ratio, so
# aspect_ratios only choose the letterbox canvas. 1080P is 6 s only (the provider checks that before sending).
# Prices are per finished video on https://platform.minimax.io/docs/guides/pricing-paygo (Video): read here
# from secondary copies of that table, not the page itself. usd_per_second is the highest per-second rate at
# the default resolution (the 10 s price / 10), so the estimate never undershoots; the note has the table.
# MiniMax documents no frame rate for these models.
MINIMAX_DEFAULTS: dict[str, Any] = {
    "wrapper": API_WRAPPER,
    "service": "vmevalkit.models.providers.minimax:MiniMaxService",
    "family": "minimax",
    "kind": "api",
    "env_keys": ["MINIMAX_API_KEY"],
}
MINIMAX_MODELS: dict[str, dict[str, Any]] = {
    "minimax-hailuo-2-3": {
        **MINIMAX_DEFAULTS,
        "model": "MiniMax-Hailuo-2.3",
        "description": "MiniMax Hailuo 2.3 image-to-video (MiniMax API); prompt optimizer off",
        "constraints": {
            "durations": [6, 10],
            "default_duration": 6,
            "aspect_ratios": ["16:9", "9:16", "1:1"],
            "resolutions": ["768p", "1080p"],
            "default_resolution": "768p",
            "seed": False,
            "audio": False,
            "params": ["prompt_optimizer", "fast_pretreatment"],
        },
        "price": {"usd_per_second": 0.056, "note": "per video: 768P $0.28 (6 s), $0.56 (10 s); 1080P $0.49 (6 s)"},
    },
    "minimax-hailuo-2-3-fast": {
        **MINIMAX_DEFAULTS,
        "model": "MiniMax-Hailuo-2.3-Fast",
        "description": "MiniMax Hailuo 2.3 Fast image-to-video, cheaper and quicker (MiniMax API); "
        "prompt optimizer off",
        "constraints": {
            "durations": [6, 10],
            "default_duration": 6,
            "aspect_ratios": ["16:9", "9:16", "1:1"],
            "resolutions": ["768p", "1080p"],
            "default_resolution": "768p",
            "seed": False,
            "audio": False,
            "params": ["prompt_optimizer", "fast_pretreatment"],
        },
        "price": {"usd_per_second": 0.032, "note": "per video: 768P $0.19 (6 s), $0.32 (10 s); 1080P $0.33 (6 s)"},
    },
    "minimax-hailuo-02": {
        **MINIMAX_DEFAULTS,
        "model": "MiniMax-Hailuo-02",
        "description": "MiniMax Hailuo 02 image-to-video (MiniMax API); prompt optimizer off",
        "constraints": {
            "durations": [6, 10],
            "default_duration": 6,
            "aspect_ratios": ["16:9", "9:16", "1:1"],
            "resolutions": ["512p", "768p", "1080p"],
            "default_resolution": "768p",
            "seed": False,
            "audio": False,
            "params": ["prompt_optimizer", "fast_pretreatment"],
        },
        "price": {
            "usd_per_second": 0.056,
            "note": "per video: 512P $0.10 (6 s), $0.15 (10 s); 768P $0.28, $0.56; 1080P $0.49 (6 s)",
        },
    },
    "minimax-i2v-01": {
        **MINIMAX_DEFAULTS,
        "model": "I2V-01",
        "description": "MiniMax I2V-01 image-to-video, 720p 6 s (MiniMax API); prompt optimizer off",
        "constraints": {
            "durations": [6],
            "default_duration": 6,
            "aspect_ratios": ["16:9", "9:16", "1:1"],
            "resolutions": ["720p"],
            "default_resolution": "720p",
            "seed": False,
            "audio": False,
            "params": ["prompt_optimizer"],
        },
        # MiniMax's pay-as-you-go page lists no price for the 01 series; best documented figure is a
        # reseller's (Runware: MiniMax 01 at $0.056/s, 720p), so unverified for MiniMax's own API
        "price": {"usd_per_second": 0.056, "note": "unverified: MiniMax publishes no 01-series price"},
    },
    "minimax-i2v-01-live": {
        **MINIMAX_DEFAULTS,
        "model": "I2V-01-live",
        "description": "MiniMax I2V-01-live image-to-video for illustrations and animation, 720p 6 s (MiniMax API); "
        "prompt optimizer off",
        "constraints": {
            "durations": [6],
            "default_duration": 6,
            "aspect_ratios": ["16:9", "9:16", "1:1"],
            "resolutions": ["720p"],
            "default_resolution": "720p",
            "seed": False,
            "audio": False,
            "params": ["prompt_optimizer"],
        },
        # as for I2V-01: Runware's MiniMax 01 Live rate ($0.28 per 5 s at 720p), unverified for MiniMax's API
        "price": {"usd_per_second": 0.056, "note": "unverified: MiniMax publishes no 01-series price"},
    },
}

# fal.ai queue API: https://docs.fal.ai/model-apis/model-endpoints/queue . Ids, input fields and prices
# from each model's page, https://fal.ai/models/<model id>/api (llms.txt). ``args.inputs`` tells the
# provider how the model names its fields (image field, duration as "5" or as a frame count, resolution,
# seed); other ``args`` are sent as model inputs. Outputs follow the letterboxed image's aspect ratio.
FAL_DEFAULTS: dict[str, Any] = {
    "wrapper": API_WRAPPER,
    "service": "vmevalkit.models.providers.fal:FalService",
    "family": "fal",
    "kind": "api",
    "env_keys": ["FAL_KEY"],
}
FAL_MODELS: dict[str, dict[str, Any]] = {
    "fal-kling-v2-1-standard": {
        **FAL_DEFAULTS,
        "model": "fal-ai/kling-video/v2.1/standard/image-to-video",
        "args": {"inputs": {"image_field": "image_url", "duration_format": "string"}},
        "description": "Kling 2.1 Standard image-to-video (720p) on fal.ai",
        "constraints": {
            "durations": [5, 10],
            "default_duration": 5,
            "aspect_ratios": ["16:9", "9:16", "1:1"],
            "default_resolution": "720p",
            "fps": 24,
            "seed": False,
            "audio": False,
            "params": ["negative_prompt", "cfg_scale"],
        },
        # $0.28 per 5 s, $0.056 per extra second (fal model page)
        "price": {"usd_per_second": 0.056},
    },
    "fal-hailuo-02-standard": {
        **FAL_DEFAULTS,
        "model": "fal-ai/minimax/hailuo-02/standard/image-to-video",
        "args": {"inputs": {"image_field": "image_url", "duration_format": "string"}, "prompt_optimizer": False},
        "description": "MiniMax Hailuo 02 Standard image-to-video (768p) on fal.ai; prompt optimizer off",
        "constraints": {
            "durations": [6, 10],
            "default_duration": 6,
            "aspect_ratios": ["16:9", "9:16", "1:1"],
            "default_resolution": "768p",
            "seed": False,
            "audio": False,
            "params": ["prompt_optimizer"],
        },
        # $0.045/s at 768p, $0.27 per 6 s video (fal model page)
        "price": {"usd_per_second": 0.045},
    },
    "fal-seedance-1-pro": {
        **FAL_DEFAULTS,
        "model": "fal-ai/bytedance/seedance/v1/pro/image-to-video",
        "args": {"inputs": {"duration_format": "string", "resolution_field": "resolution", "seed_field": "seed"}},
        "description": "ByteDance Seedance 1.0 Pro image-to-video on fal.ai",
        "constraints": {
            "durations": [5, 10],
            "default_duration": 5,
            "aspect_ratios": ["16:9", "9:16", "1:1"],
            "resolutions": ["480p", "720p", "1080p"],
            "default_resolution": "720p",
            "fps": 24,
            "seed": True,
            "audio": False,
            "params": ["camera_fixed", "enable_safety_checker"],
        },
        # fal bills $2.5 per million video tokens, tokens = width x height x fps x seconds / 1024 (fal model
        # page; 1080p 5 s ~ $0.62): 720p 16:9 is 21,600 tokens/s, i.e. $0.054/s; 1080p $0.1215/s
        "price": {"usd_per_second": 0.054, "note": "at 720p; billed per video token, 1080p ~2.25x"},
    },
    "fal-pixverse-v4-5": {
        **FAL_DEFAULTS,
        "model": "fal-ai/pixverse/v4.5/image-to-video",
        "args": {"inputs": {"duration_format": "string", "resolution_field": "resolution", "seed_field": "seed"}},
        "description": "PixVerse v4.5 image-to-video on fal.ai",
        "constraints": {
            "durations": [5, 8],
            "default_duration": 5,
            "aspect_ratios": ["16:9", "9:16", "1:1"],
            "resolutions": ["360p", "540p", "720p", "1080p"],
            "default_resolution": "720p",
            "seed": True,
            "audio": False,
            "params": ["negative_prompt", "style"],
        },
        # per 5 s: $0.15 at 360p/540p, $0.20 at 720p, $0.40 at 1080p; 8 s costs double. Figures of fal's
        # PixVerse v3.5 page and of third-party copies of the v4.5 page; the v4.5 page itself was not read
        "price": {"usd_per_second": 0.04, "note": "at 720p; 360p/540p $0.03/s, 1080p $0.08/s (unverified)"},
    },
    "fal-wan-2-1-i2v": {
        **FAL_DEFAULTS,
        "model": "fal-ai/wan-i2v",
        "args": {
            "inputs": {"duration_format": "frames", "fps": 16, "resolution_field": "resolution", "seed_field": "seed"}
        },
        "description": "Wan 2.1 image-to-video (81 frames at 16 fps) on fal.ai",
        "constraints": {
            "durations": [5],
            "default_duration": 5,
            "aspect_ratios": ["16:9", "9:16", "1:1"],
            "resolutions": ["480p", "720p"],
            "default_resolution": "720p",
            "fps": 16,
            "seed": True,
            "audio": False,
            "params": ["negative_prompt", "num_inference_steps", "guide_scale", "enable_safety_checker"],
        },
        # best known figure, unverified (the stored model page had no price): $0.40 per 720p video of
        # 81 frames, $0.20 at 480p
        "price": {"usd_per_video": 0.4, "note": "at 720p; unverified"},
    },
}

# Replicate predictions API: https://replicate.com/docs/reference/http . Ids and input fields from each
# model's API page, https://replicate.com/<owner>/<name>/api; ``args.inputs`` tells the provider how the
# model names its fields (image, duration or frame count, resolution/mode/quality, seed), other ``args``
# are sent as model inputs. Prices: Replicate bills these per second of output video on each model page;
# those pages were not in the stored docs, so the figures below are the best known and marked unverified,
# except PixVerse whose input schema states its prices.
REPLICATE_DEFAULTS: dict[str, Any] = {
    "wrapper": API_WRAPPER,
    "service": "vmevalkit.models.providers.replicate:ReplicateService",
    "family": "replicate",
    "kind": "api",
    "env_keys": ["REPLICATE_API_TOKEN"],
}
REPLICATE_MODELS: dict[str, dict[str, Any]] = {
    "replicate-kling-v2-1": {
        **REPLICATE_DEFAULTS,
        "model": "kwaivgi/kling-v2.1",
        "args": {
            "inputs": {
                "image_field": "start_image",
                "resolution_field": "mode",
                "resolution_values": {"720p": "standard", "1080p": "pro"},
            }
        },
        "description": "Kling 2.1 image-to-video on Replicate (standard mode 720p, pro mode 1080p)",
        "constraints": {
            "durations": [5, 10],
            "default_duration": 5,
            "aspect_ratios": ["16:9", "9:16", "1:1"],
            "resolutions": ["720p", "1080p"],
            "default_resolution": "720p",
            "fps": 24,
            "seed": False,
            "audio": False,
            "params": ["negative_prompt"],
        },
        # best known figure, unverified: $0.05/s in standard mode (720p), $0.09/s in pro mode (1080p)
        "price": {"usd_per_second": 0.05, "note": "standard mode (720p); pro ~$0.09/s; unverified"},
    },
    "replicate-hailuo-02": {
        **REPLICATE_DEFAULTS,
        "model": "minimax/hailuo-02",
        "args": {
            "inputs": {"image_field": "first_frame_image", "resolution_field": "resolution"},
            "prompt_optimizer": False,
        },
        "description": "MiniMax Hailuo 02 image-to-video on Replicate; prompt optimizer off",
        "constraints": {
            "durations": [6, 10],
            "default_duration": 6,
            "aspect_ratios": ["16:9", "9:16", "1:1"],
            "resolutions": ["512p", "768p", "1080p"],
            "default_resolution": "768p",
            "seed": False,
            "audio": False,
            "params": ["prompt_optimizer"],
        },
        # best known figure, unverified: $0.045/s at 768p (MiniMax's own list price is $0.28 per 6 s)
        "price": {"usd_per_second": 0.045, "note": "at 768p; unverified"},
    },
    "replicate-seedance-1-pro": {
        **REPLICATE_DEFAULTS,
        "model": "bytedance/seedance-1-pro",
        "args": {"inputs": {"image_field": "image", "resolution_field": "resolution", "seed_field": "seed"}},
        "description": "ByteDance Seedance 1.0 Pro image-to-video on Replicate",
        "constraints": {
            "durations": [2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12],
            "default_duration": 5,
            "aspect_ratios": ["16:9", "9:16", "1:1"],
            "resolutions": ["480p", "1080p"],
            "default_resolution": "1080p",
            "fps": 24,
            "seed": True,
            "audio": False,
            "params": ["camera_fixed"],
        },
        # best known figure, unverified: $0.15/s at 1080p, $0.03/s at 480p
        "price": {"usd_per_second": 0.15, "note": "at 1080p; 480p ~$0.03/s; unverified"},
    },
    "replicate-pixverse-v4-5": {
        **REPLICATE_DEFAULTS,
        "model": "pixverse/pixverse-v4.5",
        "args": {
            "inputs": {
                "image_field": "image",
                "resolution_field": "quality",
                "aspect_ratio_field": "aspect_ratio",
                "seed_field": "seed",
            }
        },
        "description": "PixVerse v4.5 image-to-video on Replicate",
        "constraints": {
            "durations": [5, 8],
            "default_duration": 5,
            "aspect_ratios": ["16:9", "9:16", "1:1"],
            "resolutions": ["360p", "540p", "720p", "1080p"],
            "default_resolution": "540p",
            "seed": True,
            "audio": False,
            "params": ["negative_prompt", "motion_mode", "style"],
        },
        # per 5 s in normal motion: $0.45 at 360p/540p, $0.60 at 720p, $1.20 at 1080p; 8 s costs double
        # (as stated in the quality field of pixverse/pixverse-v4's schema; v4.5's page was not read)
        "price": {"usd_per_second": 0.09, "note": "at 540p; 720p $0.12/s, 1080p $0.24/s"},
    },
    "replicate-wan-2-2-i2v-fast": {
        **REPLICATE_DEFAULTS,
        "model": "wan-video/wan-2.2-i2v-fast",
        "args": {
            "inputs": {
                "image_field": "image",
                "duration_format": "frames",
                "fps": 16,
                "resolution_field": "resolution",
                "seed_field": "seed",
            }
        },
        "description": "Wan 2.2 image-to-video, fast variant (16 fps), on Replicate",
        "constraints": {
            "durations": [5, 6, 7],
            "default_duration": 5,
            "aspect_ratios": ["16:9", "9:16"],
            "resolutions": ["480p", "720p"],
            "default_resolution": "480p",
            "fps": 16,
            "seed": True,
            "audio": False,
            "params": ["go_fast", "disable_safety_checker"],
        },
        # best known figure, unverified: about $0.05 per 480p video of 81 frames, $0.11 at 720p
        "price": {"usd_per_second": 0.01, "note": "at 480p; unverified"},
    },
}

# Open-source generators (kind "local"): each runs in its own virtualenv envs/<name>/, built by
# `bash setup/install_model.sh <name>`, served by a long-lived worker that loads the pipeline once.
# args: checkpoint (key in vmevalkit/workers/checkpoints.toml), default height/width,
# num_frames (max_frames), fps, steps, guidance_scale, min_gpu_memory_gb (below it, the listed
# savers are enabled), plus family-specific pipeline arguments.
LOCAL_DEFAULTS: dict[str, Any] = {
    "wrapper": LOCAL_WRAPPER,
    "kind": "local",
}

# Stable Video Diffusion (Stability AI), diffusers StableVideoDiffusionPipeline; vmevalkit/models/local/svd.py.
# Sources: the diffusers SVD guide (https://huggingface.co/docs/diffusers/using-diffusers/svd: SVD-XT makes
# 25 frames at 1024x576, decode_chunk_size=8, exported at fps 7; model offload + forward chunking +
# decode_chunk_size=2 fit "less than 8GB VRAM") and the pipeline's __call__ defaults (25 steps, guidance
# 1.0 -> 3.0 over the frames, motion_bucket_id 127, noise_aug_strength 0.02). Memory without savers: not
# stated; conservative estimate (fp16 UNet ~3 GB, but 25 frames of 1024x576 latents at once).
SVD_MODELS: dict[str, dict[str, Any]] = {
    "svd": {
        **LOCAL_DEFAULTS,
        "service": "vmevalkit.models.local.svd:StableVideoDiffusion",
        "model": "stabilityai/stable-video-diffusion-img2vid-xt",
        "args": {
            "checkpoint": "svd",
            "height": 576,
            "width": 1024,
            "num_frames": 25,
            "max_frames": 25,
            "fps": 7,
            "steps": 25,
            "guidance_scale": 3.0,  # max_guidance_scale, reached on the last frame
            "min_guidance_scale": 1.0,
            "motion_bucket_id": 127,
            "noise_aug_strength": 0.02,
            "decode_chunk_size": 8,
            "min_gpu_memory_gb": 24,
            "savers": ["model_cpu_offload"],
        },
        "description": "Stable Video Diffusion XT (Stability AI), image only: ignores the prompt",
        "family": "svd",
        "constraints": {
            "duration_range": [0.5, 3.5714],
            "default_duration": 3.5714,
            "fps": 7,
            "seed": True,
            "params": ["steps", "guidance_scale", "width", "height"],
        },
    },
}

# LTX-Video (Lightricks), diffusers LTXImageToVideoPipeline; vmevalkit/models/local/ltx.py. The diffusers
# weights at the root of Lightricks/LTX-Video are LTX-Video 0.9.0 (VAE without timestep conditioning, so
# decode_timestep stays 0). Sources: the LTXImageToVideoPipeline example in the diffusers docs
# (https://huggingface.co/docs/diffusers/api/pipelines/ltx_video: 704x480, 161 frames, 50 steps, the
# negative prompt below, exported at 24 fps; guidance 3 is the pipeline default; bfloat16) and the model
# card (https://huggingface.co/Lightricks/LTX-Video: sizes divisible by 32, 8k + 1 frames, up to 257).
# Memory without savers: not stated; conservative estimate (2B transformer + T5-XXL in bf16, ~14 GB of
# weights, plus activations); the docs' offloading recipe runs in ~10 GB.
LTX_MODELS: dict[str, dict[str, Any]] = {
    "ltx-video": {
        **LOCAL_DEFAULTS,
        "service": "vmevalkit.models.local.ltx:LTXVideo",
        "model": "Lightricks/LTX-Video",
        "args": {
            "checkpoint": "ltx-video",
            "height": 480,
            "width": 704,
            "num_frames": 161,
            "max_frames": 257,
            "fps": 24,
            "steps": 50,
            "guidance_scale": 3.0,
            "negative_prompt": "worst quality, inconsistent motion, blurry, jittery, distorted",
            "decode_timestep": 0.0,
            "min_gpu_memory_gb": 24,
            "savers": ["model_cpu_offload", "vae_tiling"],
        },
        "description": "LTX-Video 0.9.0 image-to-video (Lightricks), diffusers LTXImageToVideoPipeline",
        "family": "ltx-video",
        "constraints": {
            "duration_range": [0.5, 10.7083],
            "default_duration": 6.7083,
            "fps": 24,
            "seed": True,
            "params": ["steps", "guidance_scale", "negative_prompt", "width", "height"],
        },
    },
}

# CogVideoX-5B-I2V (Tsinghua / Zhipu AI), diffusers CogVideoXImageToVideoPipeline; models/local/cogvideox.py.
# Sources: the model card (https://huggingface.co/THUDM/CogVideoX-5b-I2V: 720x480 only, 49 frames = 6 s at
# 8 fps, 226 prompt tokens, BF16; single-GPU memory "from 5GB" in diffusers with CPU offload and VAE
# slicing/tiling, about 3x that without) and the pipeline's documented example (50 steps, guidance 6,
# use_dynamic_cfg=True). min_gpu_memory_gb: conservative estimate (5B transformer + T5-XXL in bf16, ~21 GB
# of weights, plus the untiled VAE decode of 49 frames at 720x480).
COGVIDEOX_MODELS: dict[str, dict[str, Any]] = {
    "cogvideox-5b-i2v": {
        **LOCAL_DEFAULTS,
        "service": "vmevalkit.models.local.cogvideox:CogVideoXImageToVideo",
        "model": "THUDM/CogVideoX-5b-I2V",
        "args": {
            "checkpoint": "cogvideox-5b-i2v",
            "height": 480,
            "width": 720,
            "num_frames": 49,
            "max_frames": 49,
            "fps": 8,
            "steps": 50,
            "guidance_scale": 6.0,
            "use_dynamic_cfg": True,
            "min_gpu_memory_gb": 40,
            "savers": ["model_cpu_offload", "vae_tiling", "vae_slicing"],
        },
        "description": "CogVideoX-5B image-to-video (THUDM), 720x480 only, diffusers CogVideoXImageToVideoPipeline",
        "family": "cogvideox",
        "constraints": {
            "duration_range": [0.5, 6.125],
            "default_duration": 6.125,
            "fps": 8,
            "seed": True,
            "params": ["steps", "guidance_scale", "negative_prompt", "width", "height"],
        },
    },
}

# Wan (Alibaba), diffusers WanImageToVideoPipeline; family code in vmevalkit/models/local/wan.py.
# Sources: diffusers Wan docs (https://huggingface.co/docs/diffusers/api/pipelines/wan: VAE in float32,
# num_frames = 4k + 1, lower flow shift for lower resolutions) and the WanImageToVideoPipeline example
# (480*832 area, 81 frames, guidance 5.0, 16 fps, default 50 steps); the Diffusers model cards
# (https://huggingface.co/Wan-AI/<repo>); the original code's defaults (github.com/Wan-Video/Wan2.1
# generate.py: I2V flow shift 3.0 at 832*480, else 5.0; github.com/Wan-Video/Wan2.2 wan/configs/).
WAN_MODELS: dict[str, dict[str, Any]] = {
    # https://huggingface.co/Wan-AI/Wan2.1-I2V-14B-480P-Diffusers : 480*832, 81 frames at 16 fps,
    # guidance 5.0, 50 steps (the pipeline default the card uses; Wan2.1's own generate.py uses 40),
    # flow_shift 3.0 (Wan2.1 generate.py for I2V at 832*480). Memory: not stated for diffusers;
    # conservative estimate: bf16 transformer (~33 GB) + UMT5-XXL (~11 GB) + float32 CLIP and VAE.
    "wan2.1-i2v-14b-480p": {
        **LOCAL_DEFAULTS,
        "service": "vmevalkit.models.local.wan:Wan21ImageToVideo",
        "model": "Wan-AI/Wan2.1-I2V-14B-480P-Diffusers",
        "args": {
            "checkpoint": "wan2.1-i2v-14b-480p",
            "height": 480,
            "width": 832,
            "num_frames": 81,
            "max_frames": 81,
            "fps": 16,
            "steps": 50,
            "guidance_scale": 5.0,
            "flow_shift": 3.0,
            "min_gpu_memory_gb": 64,
            "savers": ["model_cpu_offload", "vae_tiling"],
        },
        "description": "Wan 2.1 I2V 14B 480P (Alibaba), diffusers WanImageToVideoPipeline",
        "family": "wan",
        "constraints": {
            "duration_range": [0.5, 5.0625],
            "default_duration": 5.0625,
            "fps": 16,
            "seed": True,
            "params": ["steps", "guidance_scale", "negative_prompt", "width", "height"],
        },
    },
    # https://huggingface.co/Wan-AI/Wan2.1-I2V-14B-720P-Diffusers : as 480P at 720*1280 with
    # flow_shift 5.0 (Wan2.1 generate.py; the docs: higher shift for higher resolutions).
    # Memory: conservative estimate, the 480P weights plus 720P activations and VAE decoding.
    "wan2.1-i2v-14b-720p": {
        **LOCAL_DEFAULTS,
        "service": "vmevalkit.models.local.wan:Wan21ImageToVideo",
        "model": "Wan-AI/Wan2.1-I2V-14B-720P-Diffusers",
        "args": {
            "checkpoint": "wan2.1-i2v-14b-720p",
            "height": 720,
            "width": 1280,
            "num_frames": 81,
            "max_frames": 81,
            "fps": 16,
            "steps": 50,
            "guidance_scale": 5.0,
            "flow_shift": 5.0,
            "min_gpu_memory_gb": 80,
            "savers": ["model_cpu_offload", "vae_tiling"],
        },
        "description": "Wan 2.1 I2V 14B 720P (Alibaba), diffusers WanImageToVideoPipeline",
        "family": "wan",
        "constraints": {
            "duration_range": [0.5, 5.0625],
            "default_duration": 5.0625,
            "fps": 16,
            "seed": True,
            "params": ["steps", "guidance_scale", "negative_prompt", "width", "height"],
        },
    },
    # https://huggingface.co/Wan-AI/Wan2.2-TI2V-5B-Diffusers : 704*1280, 121 frames at 24 fps,
    # 50 steps, guidance 5.0; flow_shift 5.0 (Wan2.2 wan/configs/wan_ti2v_5B.py: sample_shift).
    # Memory (Wan2.2 README): 24 GB with model offloading, 80 GB to run without it.
    "wan2.2-ti2v-5b": {
        **LOCAL_DEFAULTS,
        "service": "vmevalkit.models.local.wan:Wan22TI2V5B",
        "model": "Wan-AI/Wan2.2-TI2V-5B-Diffusers",
        "args": {
            "checkpoint": "wan2.2-ti2v-5b",
            "height": 704,
            "width": 1280,
            "num_frames": 121,
            "max_frames": 121,
            "fps": 24,
            "steps": 50,
            "guidance_scale": 5.0,
            "flow_shift": 5.0,
            "min_gpu_memory_gb": 80,
            "savers": ["model_cpu_offload", "vae_tiling"],
        },
        "description": "Wan 2.2 TI2V 5B (Alibaba), 720P at 24 fps, diffusers WanImageToVideoPipeline",
        "family": "wan",
        "constraints": {
            "duration_range": [0.5, 5.0417],
            "default_duration": 5.0417,
            "fps": 24,
            "seed": True,
            "params": ["steps", "guidance_scale", "negative_prompt", "width", "height"],
        },
    },
    # https://huggingface.co/Wan-AI/Wan2.2-I2V-A14B-Diffusers : 480*832, 81 frames at 16 fps,
    # 40 steps, guidance 3.5 for both experts; Wan2.2 wan/configs/wan_i2v_A14B.py: boundary 0.900,
    # sample_shift 5.0, sample_guide_scale (3.5, 3.5). guidance_scale drives the high-noise expert,
    # guidance_scale_2 the low-noise one. Memory (Wan2.2 README): 80 GB for one GPU.
    "wan2.2-i2v-a14b": {
        **LOCAL_DEFAULTS,
        "service": "vmevalkit.models.local.wan:Wan22ImageToVideoA14B",
        "model": "Wan-AI/Wan2.2-I2V-A14B-Diffusers",
        "args": {
            "checkpoint": "wan2.2-i2v-a14b",
            "height": 480,
            "width": 832,
            "num_frames": 81,
            "max_frames": 81,
            "fps": 16,
            "steps": 40,
            "guidance_scale": 3.5,
            "guidance_scale_2": 3.5,
            "boundary_ratio": 0.9,
            "flow_shift": 5.0,
            "min_gpu_memory_gb": 80,
            "savers": ["model_cpu_offload", "vae_tiling"],
        },
        "description": "Wan 2.2 I2V A14B (Alibaba), two-expert MoE, diffusers WanImageToVideoPipeline",
        "family": "wan",
        "constraints": {
            "duration_range": [0.5, 5.0625],
            "default_duration": 5.0625,
            "fps": 16,
            "seed": True,
            "params": ["steps", "guidance_scale", "negative_prompt", "width", "height"],
        },
    },
}

# HunyuanVideo-I2V (Tencent), diffusers HunyuanVideoImageToVideoPipeline; vmevalkit/models/local/hunyuan.py.
# The 16-channel "token replace" checkpoint, guidance-distilled. Sources: the diffusers docs
# (https://huggingface.co/docs/diffusers/api/pipelines/hunyuan_video: guidance_scale=6.0 for this
# checkpoint, no negative prompt; text encoders/VAE float16, transformer bfloat16; 4k + 1 frames; VAE
# tiling in the example), the pipeline's __call__ defaults (1280x720, 129 frames, 50 steps) and Tencent's
# README (https://github.com/Tencent/HunyuanVideo-I2V: 720p, 129 frames = 5 s; 60 GB peak GPU memory).
HUNYUANVIDEO_MODELS: dict[str, dict[str, Any]] = {
    "hunyuanvideo-i2v": {
        **LOCAL_DEFAULTS,
        "service": "vmevalkit.models.local.hunyuan:HunyuanVideoImageToVideo",
        "model": "hunyuanvideo-community/HunyuanVideo-I2V",
        "args": {
            "checkpoint": "hunyuanvideo-i2v",
            "height": 720,
            "width": 1280,
            "num_frames": 129,
            "max_frames": 129,
            "fps": 24,
            "steps": 50,
            "guidance_scale": 6.0,  # embedded (distilled) guidance, not classifier-free guidance
            "true_cfg_scale": 1.0,
            "min_gpu_memory_gb": 60,
            "savers": ["model_cpu_offload", "vae_tiling"],
        },
        "description": "HunyuanVideo-I2V 720p (Tencent), diffusers HunyuanVideoImageToVideoPipeline",
        "family": "hunyuanvideo",
        "constraints": {
            "duration_range": [0.5, 5.375],
            "default_duration": 5.375,
            "fps": 24,
            "seed": True,
            "params": ["steps", "guidance_scale", "width", "height"],
        },
    },
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
    **SVD_MODELS,
    **LTX_MODELS,
    **COGVIDEOX_MODELS,
    **WAN_MODELS,
    **HUNYUANVIDEO_MODELS,
}

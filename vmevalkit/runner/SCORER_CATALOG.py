"""Every scorer VMEvalKit ships, as pure data: the same entry schema as ``MODEL_CATALOG.py`` beside it.

No imports beyond typing, no calls: ``--list-scorers`` reads this and nothing of the scoring code. Classes are named
by "package.module:Class" strings and loaded by the scoring layer only when a scorer is used;
``vmevalkit.runner.registry`` validates the entries (``get_scorer_entry``).

The two words, as in the model catalog:
  service  the class named by an entry that does the work: the scorer itself (``vmevalkit.scoring.base``) for
           builtin and api scorers; for a local scorer the scorer model (``LocalScorerModel``) that a worker runs in
           the scorer's own venv
  wrapper  what scoring calls, when it is not the service itself: for local scorers the main-environment adapter
           ``vmevalkit.scoring.local.wrapper:LocalScorer``, which serves the service through workers. Builtin and
           api scorers omit it (None): they run in-process and their service is the scorer scoring calls

Entry fields:
  wrapper        "package.module:Class" (local scorers only, see above)
  service        "package.module:Class"
  model          local scorers: the Hugging Face repo of the checkpoint (optional otherwise)
  args           constructor keywords (optional); a local scorer's ``checkpoint`` names its pinned weights in
                 ``vmevalkit/workers/checkpoints.toml``
  description    one line for ``--list-scorers``
  family         the group it belongs to
  kind           "builtin" (in-process), "api" (HTTP judge) or "local" (own venv, worker)

An entry may start with ``**LOCAL_SCORER_DEFAULTS`` (the local kind's wrapper and kind): its own fields, written
after, win. Older scorer catalogs wrote ``service_class``, ``wrapper_class`` and ``role: "scorer"``; the registry
still reads that shape in a lab's extra scorer catalogs, but new entries are written as above.
"""

from typing import Any

BUILTIN_SCORERS: dict[str, dict[str, Any]] = {
    "task-verifier": {
        "service": "vmevalkit.scoring.verifiers:TaskVerifier",
        "description": "Per-domain rules read from every frame: solved end state and legal moves (pass = both)",
        "family": "verifiers",
        "kind": "builtin",
    },
    "frame-match": {
        "service": "vmevalkit.scoring.frame_match:FrameMatch",
        "description": "SSIM and PSNR of the last frame vs final_frame.png and of the first frame vs the input",
        "family": "reference",
        "kind": "builtin",
    },
    "trajectory-match": {
        "service": "vmevalkit.scoring.trajectory:TrajectoryMatch",
        "description": "The whole video vs the task's ground_truth.mp4, aligned by dynamic time warping (NaN when "
        "the task ships none)",
        "family": "reference",
        "kind": "builtin",
    },
}

API_SCORERS: dict[str, dict[str, Any]] = {
    "vlm-judge-openai": {
        "service": "vmevalkit.scoring.vlm_judge:OpenAIJudge",
        "args": {"model": "gpt-4o-mini"},
        "description": "A VLM judges sampled frames against a per-domain rubric, through any OpenAI-compatible "
        "chat completions server (OPENAI_BASE_URL: OpenAI, vLLM, SGLang, lmdeploy); cached verdicts",
        "family": "vlm-judges",
        "kind": "api",
    },
    "vlm-judge-gemini": {
        "service": "vmevalkit.scoring.vlm_judge:GeminiJudge",
        "args": {"model": "gemini-2.5-flash"},
        "description": "Gemini judges the video itself against a per-domain rubric (generateContent); cached verdicts",
        "family": "vlm-judges",
        "kind": "api",
    },
}

# Local scorers: each in its own virtualenv (bash setup/install_model.sh <name>), served by a persistent worker that
# loads the model once; pinned weights under weights/. One module per family in vmevalkit/scoring/local/.
LOCAL_SCORER_DEFAULTS: dict[str, Any] = {
    "wrapper": "vmevalkit.scoring.local.wrapper:LocalScorer",
    "kind": "local",
}
LOCAL_SCORERS: dict[str, dict[str, Any]] = {
    "clip-score": {
        **LOCAL_SCORER_DEFAULTS,
        "service": "vmevalkit.scoring.local.clip:ClipScore",
        "model": "openai/clip-vit-large-patch14",
        "args": {"checkpoint": "clip-score", "frames": 8, "batch_size": 32},
        "description": "CLIP ViT-L/14 text-frame similarity (CLIPScore over sampled frames) and frame-to-frame "
        "consistency",
        "family": "reward-models",
    },
    "xclip-score": {
        **LOCAL_SCORER_DEFAULTS,
        "service": "vmevalkit.scoring.local.clip:XClipScore",
        "model": "microsoft/xclip-base-patch32",
        "args": {"checkpoint": "xclip-score"},
        "description": "X-CLIP (base, patch 32, 8 frames) text-video similarity of the whole clip",
        "family": "reward-models",
    },
    "videoscore": {
        **LOCAL_SCORER_DEFAULTS,
        "service": "vmevalkit.scoring.local.videoscore:VideoScore",
        "model": "TIGER-Lab/VideoScore-v1.1",
        "args": {"checkpoint": "videoscore", "max_frames": 48},
        "description": "TIGER-Lab VideoScore v1.1 (Mantis-Idefics2 regression over up to 48 frames): visual quality, "
        "temporal consistency, dynamic degree, text-to-video alignment, factual consistency (raw, about 1-4)",
        "family": "reward-models",
    },
    "videoreward": {
        **LOCAL_SCORER_DEFAULTS,
        "service": "vmevalkit.scoring.local.videoreward:VideoReward",
        "model": "KlingTeam/VideoReward",
        "args": {"checkpoint": "videoreward", "batch_size": 4},
        "description": "VideoAlign VideoReward (Kling, Qwen2-VL-2B reward model): visual quality, motion quality, "
        "text alignment (z-scored rewards) and their sum",
        "family": "reward-models",
    },
    "vlm-judge-qwen": {
        **LOCAL_SCORER_DEFAULTS,
        "service": "vmevalkit.scoring.local.qwen_judge:QwenVLJudge",
        "model": "Qwen/Qwen2.5-VL-7B-Instruct",
        "args": {"checkpoint": "vlm-judge-qwen", "frames": 8, "max_pixels": 200704, "max_new_tokens": 256},
        "description": "Qwen2.5-VL-7B-Instruct judges the input image and sampled frames against the per-domain "
        "rubric, locally via transformers (greedy; the same strict JSON with one repair as vlm-judge-openai)",
        "family": "vlm-judges",
    },
}

AVAILABLE_SCORERS: dict[str, dict[str, Any]] = {
    **BUILTIN_SCORERS,
    **API_SCORERS,
    **LOCAL_SCORERS,
}

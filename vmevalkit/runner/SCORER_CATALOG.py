"""Every scorer VMEvalKit ships, as pure data (like ``runner/MODEL_CATALOG.py``: no imports, no calls).

Entry fields:
  service_class  "package.module:Class": a scorer (``vmevalkit.scoring.base``) for builtin and api scorers, which
                 run in-process; for local scorers the model class run by the worker in the scorer's own venv
                 (``vmevalkit.scoring.local.model.LocalScorerModel``). Loaded only when used.
  wrapper_class  local scorers: the main-environment scorer that serves ``service_class`` through workers
                 (``vmevalkit.scoring.local.wrapper:LocalScorer``); builtin and api scorers have none
  model          local scorers: the Hugging Face repo of the checkpoint
  args           constructor keywords (optional); a local scorer's ``checkpoint`` names its pinned weights in
                 ``vmevalkit/workers/checkpoints.toml``
  description    one line
  family         the group it belongs to
  kind           "builtin" (in-process), "api" (HTTP judge) or "local" (own venv, worker)
  role           always "scorer"
"""

from typing import Any

BUILTIN_SCORERS: dict[str, dict[str, Any]] = {
    "task-verifier": {
        "service_class": "vmevalkit.scoring.verifiers:TaskVerifier",
        "description": "Per-domain rules read from every frame: solved end state and legal moves (pass = both)",
        "family": "verifiers",
        "kind": "builtin",
        "role": "scorer",
    },
    "frame-match": {
        "service_class": "vmevalkit.scoring.frame_match:FrameMatch",
        "description": "SSIM and PSNR of the last frame vs final_frame.png and of the first frame vs the input",
        "family": "reference",
        "kind": "builtin",
        "role": "scorer",
    },
}

API_SCORERS: dict[str, dict[str, Any]] = {
    "vlm-judge-openai": {
        "service_class": "vmevalkit.scoring.vlm_judge:OpenAIJudge",
        "args": {"model": "gpt-4o-mini"},
        "description": "A VLM judges sampled frames against a per-domain rubric, through any OpenAI-compatible "
        "chat completions server (OPENAI_BASE_URL: OpenAI, vLLM, SGLang, lmdeploy); cached verdicts",
        "family": "vlm-judges",
        "kind": "api",
        "role": "scorer",
    },
    "vlm-judge-gemini": {
        "service_class": "vmevalkit.scoring.vlm_judge:GeminiJudge",
        "args": {"model": "gemini-2.5-flash"},
        "description": "Gemini judges the video itself against a per-domain rubric (generateContent); cached verdicts",
        "family": "vlm-judges",
        "kind": "api",
        "role": "scorer",
    },
}

# Local scorers: each in its own virtualenv (bash setup/install_model.sh <name>), served by a persistent worker that
# loads the model once; pinned weights under weights/. One module per family in vmevalkit/scoring/local/.
LOCAL_SCORER_WRAPPER = "vmevalkit.scoring.local.wrapper:LocalScorer"
LOCAL_SCORERS: dict[str, dict[str, Any]] = {
    "clip-score": {
        "wrapper_class": LOCAL_SCORER_WRAPPER,
        "service_class": "vmevalkit.scoring.local.clip:ClipScore",
        "model": "openai/clip-vit-large-patch14",
        "args": {"checkpoint": "clip-score", "frames": 8, "batch_size": 32},
        "description": "CLIP ViT-L/14 text-frame similarity (CLIPScore over sampled frames) and frame-to-frame "
        "consistency",
        "family": "reward-models",
        "kind": "local",
        "role": "scorer",
    },
    "xclip-score": {
        "wrapper_class": LOCAL_SCORER_WRAPPER,
        "service_class": "vmevalkit.scoring.local.clip:XClipScore",
        "model": "microsoft/xclip-base-patch32",
        "args": {"checkpoint": "xclip-score"},
        "description": "X-CLIP (base, patch 32, 8 frames) text-video similarity of the whole clip",
        "family": "reward-models",
        "kind": "local",
        "role": "scorer",
    },
    "videoscore": {
        "wrapper_class": LOCAL_SCORER_WRAPPER,
        "service_class": "vmevalkit.scoring.local.videoscore:VideoScore",
        "model": "TIGER-Lab/VideoScore-v1.1",
        "args": {"checkpoint": "videoscore", "max_frames": 48},
        "description": "TIGER-Lab VideoScore v1.1 (Mantis-Idefics2 regression over up to 48 frames): visual quality, "
        "temporal consistency, dynamic degree, text-to-video alignment, factual consistency (raw, about 1-4)",
        "family": "reward-models",
        "kind": "local",
        "role": "scorer",
    },
    "videoreward": {
        "wrapper_class": LOCAL_SCORER_WRAPPER,
        "service_class": "vmevalkit.scoring.local.videoreward:VideoReward",
        "model": "KlingTeam/VideoReward",
        "args": {"checkpoint": "videoreward", "batch_size": 4},
        "description": "VideoAlign VideoReward (Kling, Qwen2-VL-2B reward model): visual quality, motion quality, "
        "text alignment (z-scored rewards) and their sum",
        "family": "reward-models",
        "kind": "local",
        "role": "scorer",
    },
    "vlm-judge-qwen": {
        "wrapper_class": LOCAL_SCORER_WRAPPER,
        "service_class": "vmevalkit.scoring.local.qwen_judge:QwenVLJudge",
        "model": "Qwen/Qwen2.5-VL-7B-Instruct",
        "args": {"checkpoint": "vlm-judge-qwen", "frames": 8, "max_pixels": 200704, "max_new_tokens": 256},
        "description": "Qwen2.5-VL-7B-Instruct judges the input image and sampled frames against the per-domain "
        "rubric, locally via transformers (greedy; the same strict JSON with one repair as vlm-judge-openai)",
        "family": "vlm-judges",
        "kind": "local",
        "role": "scorer",
    },
}

AVAILABLE_SCORERS: dict[str, dict[str, Any]] = {
    **BUILTIN_SCORERS,
    **API_SCORERS,
    **LOCAL_SCORERS,
}

"""Every scorer VMEvalKit ships, as pure data (like ``runner/MODEL_CATALOG.py``: no imports, no calls).

Entry fields:
  service_class  "package.module:Class", a scorer (``vmevalkit.scoring.base``): loaded only when used
  args           constructor keywords (optional)
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

AVAILABLE_SCORERS: dict[str, dict[str, Any]] = {
    **BUILTIN_SCORERS,
    **API_SCORERS,
}

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

BUILTIN_SCORERS: dict[str, dict[str, Any]] = {}

AVAILABLE_SCORERS: dict[str, dict[str, Any]] = {
    **BUILTIN_SCORERS,
}

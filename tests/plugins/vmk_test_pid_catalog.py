"""An extra scorer catalog (VMEVALKIT_EXTRA_SCORER_CATALOGS) naming the pid-recording test scorer as a builtin one,
so a test can see where the pool's rule for catalog scorers scored each item (this process or a child)."""

from typing import Any

SCORERS: dict[str, dict[str, Any]] = {
    "pid-builtin": {
        "service": "vmk_test_scorers:PidScorer",
        "description": "records the pid of the process that scored each item",
        "family": "test",
        "kind": "builtin",
    },
}

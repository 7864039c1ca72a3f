"""The scorer catalog as the CLI sees it: ``SCORER_CATALOG`` plus the user's extra scorer catalogs.

Light on purpose (no numpy, no scoring code): ``--list-scorers`` imports only this.
"""

from __future__ import annotations

from typing import Any

from vmevalkit.runner.SCORER_CATALOG import AVAILABLE_SCORERS
from vmevalkit.utils.imports import with_extra_catalogs


class ScorerCatalogError(ValueError):
    """An extra scorer catalog that cannot be loaded, is not a dict, or redefines a scorer."""


def all_scorers() -> dict[str, dict[str, Any]]:
    """The scorer catalog plus the user's extra scorer catalogs (``VMEVALKIT_EXTRA_SCORER_CATALOGS``): dicts in the
    catalog's own format, named by dotted path, so a lab adds its own scorers (local ones too) by name."""
    from vmevalkit.settings import get_settings

    return with_extra_catalogs(
        AVAILABLE_SCORERS, get_settings().extra_scorer_catalogs, what="scorer", error=ScorerCatalogError
    )

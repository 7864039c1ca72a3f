"""The scorer catalog as the CLI sees it: ``SCORER_CATALOG`` plus the user's extra scorer catalogs.

Light on purpose (no numpy, no scoring code): ``--list-scorers`` imports only this.
"""

from __future__ import annotations

from typing import Any

from vmevalkit.scoring.SCORER_CATALOG import AVAILABLE_SCORERS
from vmevalkit.utils.imports import PluginLoadError, load_object


class ScorerCatalogError(ValueError):
    """An extra scorer catalog that cannot be loaded, is not a dict, or redefines a scorer."""


def all_scorers() -> dict[str, dict[str, Any]]:
    """The scorer catalog plus the user's extra scorer catalogs (``VMEVALKIT_EXTRA_SCORER_CATALOGS``): dicts in the
    catalog's own format, named by dotted path, so a lab adds its own scorers (local ones too) by name."""
    from vmevalkit.settings import get_settings

    scorers = dict(AVAILABLE_SCORERS)
    for spec in filter(None, (s.strip() for s in get_settings().extra_scorer_catalogs.split(","))):
        try:
            extra = load_object(spec)
        except PluginLoadError as exc:
            raise ScorerCatalogError(f"extra scorer catalog '{spec}' cannot be loaded: {exc}") from exc
        if not isinstance(extra, dict):
            raise ScorerCatalogError(f"extra scorer catalog '{spec}' must be a dict, got {type(extra).__name__}")
        clash = sorted(set(extra) & set(scorers))
        if clash:
            raise ScorerCatalogError(f"extra scorer catalog '{spec}' redefines {', '.join(clash)}: choose other names")
        scorers.update(extra)
    return scorers

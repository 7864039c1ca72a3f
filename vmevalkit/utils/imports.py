"""Turning dotted-path strings into objects, with errors that say what to fix."""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Iterable
from typing import Any


class PluginLoadError(ImportError):
    """A ``module:attribute`` path does not name a loadable object."""


def load_object(spec: str, default_module: str | None = None) -> Any:
    """Load ``"package.module:Name"`` (or ``"Name"`` within ``default_module``)."""
    if ":" in spec:
        module_name, _, attr = spec.partition(":")
    elif default_module is not None:
        module_name, attr = default_module, spec
    else:
        module_name, _, attr = spec.rpartition(".")
    if not module_name or not attr:
        raise PluginLoadError(f"'{spec}' is not a dotted path: write it as 'package.module:Name'")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):
            raise PluginLoadError(
                f"cannot import module '{module_name}' for '{spec}': no module named '{exc.name}'"
            ) from exc
        raise PluginLoadError(
            f"module '{module_name}' for '{spec}' needs '{exc.name}', which is not installed in this environment"
        ) from exc
    except Exception as exc:  # a broken module: say which, keep the cause
        raise PluginLoadError(
            f"importing module '{module_name}' for '{spec}' failed: {type(exc).__name__}: {exc}"
        ) from exc
    try:
        return getattr(module, attr)
    except AttributeError:
        hint = suggest(attr, [n for n in dir(module) if not n.startswith("_")])
        raise PluginLoadError(f"module '{module_name}' has no attribute '{attr}'{hint}") from None


def suggest(name: str, choices: Iterable[str], n: int = 3) -> str:
    """A ' (did you mean: a, b?)' suffix for an error message, or '' when nothing is close."""
    close = difflib.get_close_matches(name, list(choices), n=n, cutoff=0.6)
    return f" (did you mean: {', '.join(close)}?)" if close else ""


def with_extra_catalogs(
    catalog: dict[str, dict[str, Any]], specs: str, *, what: str, error: type[Exception]
) -> dict[str, dict[str, Any]]:
    """``catalog`` plus the extra catalogs named in ``specs`` (comma-separated ``module:NAME`` paths to dicts in the
    catalog's own format). Raises ``error`` for a path that does not load, is not a dict, or redefines an entry;
    ``what`` names the entries in messages ("model", "scorer")."""
    merged = dict(catalog)
    label = "extra catalog" if what == "model" else f"extra {what} catalog"
    for spec in filter(None, (s.strip() for s in specs.split(","))):
        try:
            extra = load_object(spec)
        except PluginLoadError as exc:
            raise error(f"{label} '{spec}' cannot be loaded: {exc}") from exc
        if not isinstance(extra, dict):
            raise error(f"{label} '{spec}' must be a dict of {what} entries, got {type(extra).__name__}")
        clash = sorted(set(extra) & set(merged))
        if clash:
            raise error(f"{label} '{spec}' redefines {what}(s) {', '.join(clash)}: choose other names")
        merged.update(extra)
    return merged

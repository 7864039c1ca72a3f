"""From a name in the catalog to a ready wrapper instance.

The catalog is plain data; this module validates an entry, resolves its class
names to classes (only then importing the model's module), and says clearly
what is wrong when a name or a path does not resolve.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from vmevalkit.models.constraints import ModelConstraints, Price
from vmevalkit.runner.MODEL_CATALOG import AVAILABLE_MODELS
from vmevalkit.utils.imports import PluginLoadError, load_object, suggest, with_extra_catalogs

if TYPE_CHECKING:
    from vmevalkit.settings import Settings

ModelKind = Literal["builtin", "api", "local"]

# Names that become folder names (models, experiments): no separators, no leading dot.
SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


class UnknownModelError(LookupError):
    """A model name that is not in the catalog."""


class ModelLoadError(ImportError):
    """A catalog entry whose classes cannot be loaded."""


class ModelNotReadyError(RuntimeError):
    """A known model that cannot run here yet (not installed, key missing)."""


class CatalogEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    wrapper_module: str
    wrapper_class: str
    service_class: str
    model: str
    args: dict[str, Any] = Field(default_factory=dict)
    description: str = ""
    family: str
    kind: ModelKind
    env_keys: tuple[str, ...] = ()
    # Other sets of keys that also work (e.g. a bearer key instead of access + secret key).
    env_key_alternatives: tuple[tuple[str, ...], ...] = ()
    constraints: ModelConstraints | None = None
    price: Price | None = None
    retired: str | None = None  # why the provider no longer serves it

    def missing_keys(self, has: Callable[[str], bool]) -> list[str]:
        """Keys still to set: none when ``env_keys`` or any alternative set is complete."""
        missing = [key for key in self.env_keys if not has(key)]
        if missing and any(all(has(k) for k in alt) for alt in self.env_key_alternatives):
            return []
        return missing


def all_models() -> dict[str, dict[str, Any]]:
    """The catalog plus the user's extra catalogs (``VMEVALKIT_EXTRA_CATALOGS``).

    An extra catalog is a dict in the catalog's own format, named by dotted path,
    so a lab can add its own models without editing this package.
    """
    from vmevalkit.settings import get_settings

    return with_extra_catalogs(AVAILABLE_MODELS, get_settings().extra_catalogs, what="model", error=ModelLoadError)


def model_names() -> list[str]:
    return list(all_models())


def get_entry(name: str) -> CatalogEntry:
    models = all_models()
    try:
        raw = models[name]
    except KeyError:
        raise UnknownModelError(
            f"unknown model '{name}'{suggest(name, models)}; run 'vmevalkit models' to list them"
        ) from None
    if not SAFE_NAME.fullmatch(name):
        raise ModelLoadError(f"model name {name!r} must be a plain folder name (letters, digits, '.', '_', '-')")
    try:
        return CatalogEntry(name=name, **raw)
    except ValueError as exc:  # pydantic's ValidationError: a malformed entry
        raise ModelLoadError(f"catalog entry '{name}' is malformed: {exc}") from None


def load_wrapper_class(entry: CatalogEntry) -> type:
    from vmevalkit.models.base import ModelWrapper

    cls = _load(entry, entry.wrapper_class, entry.wrapper_module)
    if not (isinstance(cls, type) and issubclass(cls, ModelWrapper)):
        raise ModelLoadError(
            f"model '{entry.name}': {entry.wrapper_module}:{entry.wrapper_class} is not a ModelWrapper subclass"
        )
    return cls


def load_service_class(entry: CatalogEntry) -> type:
    cls = _load(entry, entry.service_class, entry.wrapper_module)
    if not isinstance(cls, type):
        raise ModelLoadError(f"model '{entry.name}': service '{entry.service_class}' is not a class")
    return cls


def _load(entry: CatalogEntry, spec: str, default_module: str) -> Any:
    try:
        return load_object(spec, default_module=default_module)
    except PluginLoadError as exc:
        raise ModelLoadError(f"model '{entry.name}' cannot be loaded: {exc}") from exc


def build_wrapper(name: str, output_dir: str | Path = "data/outputs/adhoc", **service_args: Any) -> Any:
    """Instantiate the wrapper (and its service) for a catalog name.

    ``service_args`` override the entry's ``args``.
    """
    entry = get_entry(name)
    service = load_service_class(entry)(model=entry.model, **{**entry.args, **service_args})
    return load_wrapper_class(entry)(model=entry.model, service=service, output_dir=output_dir, catalog_entry=entry)


class Readiness(BaseModel):
    installed: bool
    keys_set: bool
    problem: str | None = None  # what to do, when not ready

    @property
    def ready(self) -> bool:
        return self.problem is None


def readiness(
    entry: CatalogEntry,
    envs_dir: Path | None = None,
    duration: float | None = None,
    params: dict[str, Any] | None = None,
    settings: Settings | None = None,
) -> Readiness:
    """Whether a model can run here with these settings, and the fix when not. Imports nothing heavy."""
    from vmevalkit.models.constraints import ConstraintError, resolve_request
    from vmevalkit.settings import get_settings

    settings = settings or get_settings()
    installed = True
    problem = None
    if entry.kind == "local":
        from vmevalkit.workers.installation import local_problem

        if envs_dir is not None:
            settings = settings.model_copy(update={"envs_dir": envs_dir})
        problem = local_problem(entry, settings)
        installed = problem is None
    missing = entry.missing_keys(settings.has_secret)
    if missing and problem is None:
        alternatives = "".join(f" (or {' and '.join(alt)})" for alt in entry.env_key_alternatives)
        problem = f"Set {' and '.join(missing)}{alternatives} in .env to use {entry.name} (see .env.example)"
    if problem is None:
        try:
            resolve_request(entry.name, entry.constraints, duration, params or {})
        except ConstraintError as exc:
            problem = str(exc)
    return Readiness(installed=installed, keys_set=not missing, problem=problem)


def preflight(entry: CatalogEntry) -> str | None:
    """Checks that need the model's own classes (so not for ``--list-models``); the fix, or None.

    A retired model is refused at its provider's own host, which no longer serves it, but runs
    through a gateway or another host that still does (its base URL variable is set). A provider
    that needs a public image URL needs an image host configured for it.
    """
    if entry.kind != "api":
        return f"Model '{entry.name}' is retired by its provider: {entry.retired}" if entry.retired else None
    from vmevalkit.settings import get_settings

    service = load_service_class(entry)
    settings = get_settings()
    base_url_env = getattr(service, "base_url_env", None)
    if entry.retired and not (base_url_env and settings.value(base_url_env)):
        return (
            f"Model '{entry.name}' is retired by its provider: {entry.retired} "
            f"(a gateway that still serves it can be used by setting {base_url_env})"
        )
    from vmevalkit.models.api.provider import ApiProvider

    own_upload = getattr(service, "upload_image", None) is not ApiProvider.upload_image  # e.g. WaveSpeed's
    needs_url = getattr(service, "needs_image_url", False) and not getattr(service, "accepts_data_url", True)
    if needs_url and not own_upload and settings.image_host == "data-url":
        return (
            f"Model '{entry.name}' needs its input image at a public URL: set VMEVALKIT_IMAGE_HOST=s3 and "
            "VMEVALKIT_S3_BUCKET (plus AWS credentials) in .env, or VMEVALKIT_IMAGE_HOST=my_pkg.hosts:MyHost"
        )
    return None

"""One registry for both catalogs: from a model's or a scorer's name to a validated entry, and to its classes.

``MODEL_CATALOG.py`` and ``SCORER_CATALOG.py`` are plain data with one entry schema (``Entry``): a ``service`` (the
class that does the work: a provider description, a diffusers pipeline, a renderer, a scorer, a scorer model) and a
``wrapper`` (what the runner or scoring calls: a ``ModelWrapper`` for generators, the ``LocalScorer`` adapter for
local scorers; a builtin or api scorer has none, its service is the scorer), both ``"package.module:Class"``, plus
``kind``, ``family``, ``model``, ``args`` and ``description``. This module validates an entry (unknown fields and
misspelt names get "did you mean" errors), adds the user's extra catalogs (``VMEVALKIT_EXTRA_CATALOGS``,
``VMEVALKIT_EXTRA_SCORER_CATALOGS``), and resolves a generator's class paths only when the model is used.

Scorer classes are never imported here: the scoring layer loads them by their dotted path when a scorer is used
(the runner layer must not depend on scoring). Listing either catalog imports no model or scoring code.

An extra catalog written in the first shape (``wrapper_module`` + ``wrapper_class``, ``service_class``,
``role: "scorer"``) is read as it always was: ``normalised`` turns it into the schema above.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from vmevalkit.models.constraints import ModelConstraints, Price
from vmevalkit.runner.MODEL_CATALOG import API_WRAPPER, AVAILABLE_MODELS, LOCAL_WRAPPER
from vmevalkit.runner.SCORER_CATALOG import AVAILABLE_SCORERS
from vmevalkit.utils.imports import PluginLoadError, load_object, suggest, with_extra_catalogs

if TYPE_CHECKING:
    from vmevalkit.models.base import ModelWrapper
    from vmevalkit.settings import Settings

EntryKind = Literal["builtin", "api", "local"]

# Names that become folder names (models, scorers, experiments): no separators, no leading dot.
SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


class UnknownModelError(LookupError):
    """A model name that is not in the catalog."""


class ModelLoadError(ImportError):
    """A model catalog entry that is malformed or whose classes cannot be loaded, or an extra catalog that cannot."""


class UnknownScorerError(LookupError):
    """A scorer name that is not in the scorer catalog."""


class ScorerCatalogError(ValueError):
    """A malformed scorer catalog entry, or an extra scorer catalog that cannot be loaded, is not a dict, or
    redefines a scorer."""


# -- the schema ---------------------------------------------------------------------------


class Entry(BaseModel):
    """The fields every catalog entry has, model or scorer (see the catalogs' docstrings)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    service: str
    kind: EntryKind
    family: str
    args: dict[str, Any] = Field(default_factory=dict)
    description: str = ""


class CatalogEntry(Entry):
    """A generator's entry: its wrapper is required (a ``ModelWrapper``), and so is the provider's model id."""

    wrapper: str
    model: str
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


class ScorerEntry(Entry):
    """A scorer's entry. ``wrapper`` None (builtin and api scorers): the service is the scorer, built in-process."""

    wrapper: str | None = None
    model: str = ""  # the Hugging Face repo id of a local scorer's checkpoint


# Fields of the first catalog shape, still read in extra catalogs.
LEGACY_FIELDS = ("wrapper_module", "wrapper_class", "service_class", "role")


def normalised(raw: Mapping[str, Any]) -> dict[str, Any]:
    """An entry in the current schema: one written in the first shape is translated, field by field.

    ``wrapper_class`` and ``service_class`` were a class name in ``wrapper_module`` or a full path; ``role`` was
    always "scorer". An entry that mixes both shapes is returned as it is, for ``_validated`` to refuse."""
    entry = dict(raw)
    if not any(key in entry for key in LEGACY_FIELDS) or _mixed(entry):
        return entry
    module = entry.pop("wrapper_module", None)
    for old, new in (("wrapper_class", "wrapper"), ("service_class", "service")):
        if old in entry:
            spec = entry.pop(old)
            qualified = isinstance(spec, str) and module is not None and ":" not in spec
            entry[new] = f"{module}:{spec}" if qualified else spec
    if entry.get("role") == "scorer":
        del entry["role"]
    return entry


def _mixed(entry: Mapping[str, Any]) -> list[str]:
    """The old fields of an entry that also has new ones (``wrapper``, ``service``)."""
    if not ("wrapper" in entry or "service" in entry):
        return []
    return [key for key in LEGACY_FIELDS if key in entry and key != "role"]


E = TypeVar("E", bound=Entry)

MISSING_WRAPPER_HINT = (
    f"add 'wrapper': '{API_WRAPPER}' (an API provider), '{LOCAL_WRAPPER}' (a local model) "
    "or the path of your own ModelWrapper subclass"
)


def _validated(name: str, raw: Mapping[str, Any], schema: type[E], what: str, error: type[Exception]) -> E:
    """``raw`` as a ``schema`` entry, or ``error`` naming each problem (and the fix) on one line."""
    label = "catalog entry" if what == "model" else f"{what} catalog entry"
    if not SAFE_NAME.fullmatch(name):
        raise error(f"{what} name {name!r} must be a plain folder name (letters, digits, '.', '_', '-')")
    if not isinstance(raw, Mapping):
        raise error(f"{label} '{name}' is malformed: it must be a dict of fields, got {type(raw).__name__}")
    entry = normalised(raw)
    mixed = _mixed(entry)
    if mixed:
        raise error(
            f"{label} '{name}' is malformed: it mixes the old field(s) {', '.join(mixed)} with 'wrapper'/'service': "
            "write only 'wrapper' and 'service', each as 'package.module:Class'"
        )
    try:
        return schema(name=name, **entry)
    except ValidationError as exc:
        fields = [field for field in schema.model_fields if field != "name"]
        problems = []
        for problem in exc.errors():
            where = ".".join(str(part) for part in problem["loc"])
            if problem["type"] == "extra_forbidden":
                problems.append(f"unknown field '{where}'{suggest(where, fields)}")
            elif problem["type"] == "missing" and where == "wrapper":
                problems.append(f"no 'wrapper': {MISSING_WRAPPER_HINT}")
            elif problem["type"] == "missing":
                problems.append(f"missing field '{where}'")
            else:
                problems.append(f"{where}: {problem['msg']}")
        raise error(f"{label} '{name}' is malformed: {'; '.join(problems)}") from None


def _lookup(name: str, catalog: Mapping[str, Any], unknown: type[Exception], what: str, listing: str) -> Any:
    try:
        return catalog[name]
    except KeyError:
        raise unknown(f"unknown {what} '{name}'{suggest(name, catalog)}; {listing}") from None


# -- models -------------------------------------------------------------------------------


def all_models() -> dict[str, dict[str, Any]]:
    """The model catalog plus the user's extra catalogs (``VMEVALKIT_EXTRA_CATALOGS``), as written.

    An extra catalog is a dict of entries in the catalog's own schema, named by dotted path (``my_lab.models:MODELS``),
    so a lab adds its own models without editing this package. ``get_entry`` gives one entry validated, in full.
    """
    from vmevalkit.settings import get_settings

    return with_extra_catalogs(AVAILABLE_MODELS, get_settings().extra_catalogs, what="model", error=ModelLoadError)


def model_names() -> list[str]:
    return list(all_models())


def get_entry(name: str) -> CatalogEntry:
    """The validated entry of model ``name``: ``UnknownModelError`` (with close names) or ``ModelLoadError``."""
    raw = _lookup(name, all_models(), UnknownModelError, "model", "run 'vmevalkit models' to list them")
    return _validated(name, raw, CatalogEntry, "model", ModelLoadError)


def load_wrapper_class(entry: CatalogEntry) -> type[ModelWrapper]:
    from vmevalkit.models.base import ModelWrapper

    cls = _load_model_class(entry, entry.wrapper)
    if not (isinstance(cls, type) and issubclass(cls, ModelWrapper)):
        raise ModelLoadError(f"model '{entry.name}': wrapper {entry.wrapper} is not a ModelWrapper subclass")
    return cls


def load_service_class(entry: CatalogEntry) -> type:
    cls = _load_model_class(entry, entry.service)
    if not isinstance(cls, type):
        raise ModelLoadError(f"model '{entry.name}': service '{entry.service}' is not a class")
    return cls


def _load_model_class(entry: CatalogEntry, spec: str) -> Any:
    try:
        return load_object(spec)
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
    # A local model: "yes", "tiny" (only a tiny random checkpoint, run with --checkpoint) or "no"; others: "yes".
    installed_as: Literal["yes", "tiny", "no"] = "yes"
    keys_set: bool
    problem: str | None = None  # what to do, when the model cannot run here; None when it can


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
    installed_as: Literal["yes", "tiny", "no"] = "yes"
    problem = None
    if entry.kind == "local":
        from vmevalkit.workers.installation import local_problem, state_of

        if envs_dir is not None:
            settings = settings.model_copy(update={"envs_dir": envs_dir})
        problem = local_problem(entry, settings)
        installed = problem is None
        installed_as = state_of(problem, entry, settings)
    missing = entry.missing_keys(settings.has_secret)
    if missing and problem is None:
        alternatives = "".join(f" (or {' and '.join(alt)})" for alt in entry.env_key_alternatives)
        problem = f"Set {' and '.join(missing)}{alternatives} in .env to use {entry.name} (see .env.example)"
    if problem is None:
        try:
            resolve_request(entry.name, entry.constraints, duration, params or {})
        except ConstraintError as exc:
            problem = str(exc)
    return Readiness(installed=installed, installed_as=installed_as, keys_set=not missing, problem=problem)


def retirement(entry: CatalogEntry) -> str | None:
    """The fix for a model its provider retired, or None: checked before its key, so that nobody signs up for a key
    to a model that cannot run anyway.

    A retired API model is refused at its provider's own host, which no longer serves it, but runs through a gateway
    or another host that still does (its base URL variable is set).
    """
    if not entry.retired:
        return None
    if entry.kind != "api":
        return f"Model '{entry.name}' is retired by its provider: {entry.retired}"
    from vmevalkit.settings import get_settings

    base_url_env = getattr(load_service_class(entry), "base_url_env", None)
    if base_url_env and get_settings().value(base_url_env):
        return None
    gateway = f" (a gateway that still serves it can be used by setting {base_url_env})" if base_url_env else ""
    return f"Model '{entry.name}' is retired by its provider: {entry.retired}{gateway}"


def preflight(entry: CatalogEntry) -> str | None:
    """Checks that need the model's own classes (so not for ``--list-models``); the fix, or None.

    Retirement first (``retirement``). A provider that needs a public image URL needs an image host configured for it.
    """
    retired = retirement(entry)
    if retired or entry.kind != "api":
        return retired
    from vmevalkit.settings import get_settings

    service = load_service_class(entry)
    settings = get_settings()
    from vmevalkit.models.api.provider import ApiProvider

    own_upload = getattr(service, "upload_image", None) is not ApiProvider.upload_image  # e.g. WaveSpeed's
    needs_url = getattr(service, "needs_image_url", False) and not getattr(service, "accepts_data_url", True)
    if needs_url and not own_upload and settings.image_host == "data-url":
        return (
            f"Model '{entry.name}' needs its input image at a public URL: set VMEVALKIT_IMAGE_HOST=s3 and "
            "VMEVALKIT_S3_BUCKET (plus AWS credentials) in .env, or VMEVALKIT_IMAGE_HOST=my_pkg.hosts:MyHost"
        )
    return None


# -- scorers ------------------------------------------------------------------------------


def all_scorers() -> dict[str, dict[str, Any]]:
    """The scorer catalog plus the user's extra scorer catalogs (``VMEVALKIT_EXTRA_SCORER_CATALOGS``), as written:
    dicts in the catalog's own schema, named by dotted path, so a lab adds its own scorers (local ones too) by name.
    Light on purpose (no numpy, no scoring code): ``--list-scorers`` reads only this."""
    from vmevalkit.settings import get_settings

    return with_extra_catalogs(
        AVAILABLE_SCORERS, get_settings().extra_scorer_catalogs, what="scorer", error=ScorerCatalogError
    )


def scorer_names() -> list[str]:
    return sorted(all_scorers())


def get_scorer_entry(name: str) -> ScorerEntry:
    """The validated entry of scorer ``name``: ``UnknownScorerError`` (with close names) or ``ScorerCatalogError``.

    Its classes are not loaded here: ``vmevalkit.scoring.runner.load_catalog_scorer`` builds the scorer."""
    raw = _lookup(name, all_scorers(), UnknownScorerError, "scorer", "run with --list-scorers to list them")
    return _validated(name, raw, ScorerEntry, "scorer", ScorerCatalogError)

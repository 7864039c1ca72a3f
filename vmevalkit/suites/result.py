"""The versioned result JSON of a suite run, its flat metrics, and ``compare`` of two results.

A result says what made a leaderboard, so that two labs can check that they ran the same benchmark: the suite
(name, version, content hash), the datasets' fingerprints, each model's catalog entry, params, seeds and checkpoint
lock hashes, each scorer's class and version, the package versions and the git commit, and every criterion value.
``compare`` reads two of them and says what differs, config first (a different config explains different scores),
then scores, one line each, at most ``WIDTH`` columns.

Secrets never reach a result: params and scorer kwargs whose key names a secret (``api_key``) are masked, and the
whole result passes ``vmevalkit.utils.redact.scrub_data`` (every known secret value masked wherever it appears).

``RESULT_SCHEMA`` is bumped when a field changes meaning; ``read_result`` refuses a newer one.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol

from vmevalkit.utils.redact import MASK, SECRET_NAME, scrub_data

RESULT_SCHEMA = 1

# The packages whose versions can change a score: decoding (av, pillow), maths (numpy), validation (pydantic), and
# the local models' stack where this environment has it. Read from the installed metadata, never imported.
KEY_PACKAGES = ("numpy", "pillow", "av", "pydantic", "torch", "diffusers", "transformers")

WIDTH = 100  # compare's lines fit a terminal this wide
GIT_TIMEOUT_S = 5.0


class ResultError(ValueError):
    """A result file that cannot be read: missing, not JSON, not a result, or written by a newer vmevalkit."""


class _Loaded(Protocol):
    """What is read of ``vmevalkit.suites.schema.LoadedSuite``."""

    @property
    def suite(self) -> Any: ...

    @property
    def path(self) -> Path: ...

    @property
    def content_hash(self) -> str: ...


class _Prepared(Protocol):
    """What is read of ``vmevalkit.suites.datasets.PreparedQuestions``."""

    @property
    def datasets(self) -> list[dict[str, Any]]: ...


class _Leaderboard(Protocol):
    def to_dict(self) -> dict[str, Any]: ...


# -- building -----------------------------------------------------------------------------


def build_result(
    loaded: _Loaded,
    prepared: _Prepared,
    leaderboard: _Leaderboard | Mapping[str, Any],
    models: Sequence[Mapping[str, Any]],
    scorers: Sequence[Mapping[str, Any]],
    stages: Mapping[str, Any],
) -> dict[str, Any]:
    """The result JSON of one suite run.

    ``models``: one dict per model as it ran, ``{"name", "params", "seeds", "checkpoint"}``; a field left out is
    taken from the suite's ``[[models]]`` entry of that name (empty ``models``: every model of the suite). Given
    ``catalog`` or ``checkpoint_lock`` fields are kept; otherwise they are looked up here (the catalog entry, and the
    lock file of a local model's checkpoint folder).
    ``scorers``: one dict per scorer as it ran, ``{"name", "version", "class", "init_kwargs", "score_kwargs"}``; a
    field left out is taken from the suite's ``[[scorers]]`` entry, and the version and class from the catalog.
    ``stages``: what the stages did (counts, timings), kept as given.
    """
    suite = loaded.suite
    specs = {spec.name: spec for spec in getattr(suite, "models", [])}
    given = _merged(models) or [{"name": name} for name in specs]
    scorer_specs = {_scorer_name(spec): spec for spec in getattr(suite, "scorers", [])}
    given_scorers = [{**s, "name": _scorer_name(s)} for s in scorers] or [{"name": name} for name in scorer_specs]
    board = dict(leaderboard) if isinstance(leaderboard, Mapping) else leaderboard.to_dict()
    result = {
        "schema_version": RESULT_SCHEMA,
        "suite": {
            "name": suite.name,
            "version": suite.version,
            "content_hash": loaded.content_hash,
            "path": str(loaded.path),
        },
        "datasets": list(prepared.datasets),
        "models": [_model_record(m, specs.get(str(m["name"]))) for m in given],
        "scorers": [_scorer_record(s, scorer_specs.get(str(s.get("name")))) for s in given_scorers],
        "environment": environment(),
        "leaderboard": board,
        "stages": dict(stages),
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    scrubbed: dict[str, Any] = scrub_data(result)
    return scrubbed


def _merged(models: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One dict per model name: dicts of the same model (one per seed, ``"seed": 7``) merged, their seeds listed
    in the order given."""
    merged: dict[str, dict[str, Any]] = {}
    for given in models:
        name = str(given["name"])
        seeds = list(given.get("seeds") or []) + ([given["seed"]] if given.get("seed") is not None else [])
        record = merged.setdefault(name, {**{k: v for k, v in given.items() if k not in ("seed", "seeds")}})
        if seeds or "seeds" in given:
            record["seeds"] = [*record.get("seeds", []), *(s for s in seeds if s not in record.get("seeds", []))]
    return list(merged.values())


def _scorer_name(spec: Any) -> str:
    """A scorer's name as the scoring runner files it: its catalog name, else its class path (a suite's
    ``[[scorers]]`` entry, or a dict of its fields)."""
    fields = spec if isinstance(spec, Mapping) else {key: getattr(spec, key, None) for key in ("name", "class_path")}
    return str(fields.get("name") or fields.get("class_path") or fields.get("class") or "")


def masked(values: Mapping[str, Any] | None) -> dict[str, Any]:
    """``values`` with the value of every key that names a secret (``api_key``, ``token``) masked, nested too."""
    out: dict[str, Any] = {}
    for key, value in (values or {}).items():
        if SECRET_NAME.search(str(key)) and value not in (None, ""):
            out[str(key)] = MASK
        elif isinstance(value, Mapping):
            out[str(key)] = masked(value)
        else:
            out[str(key)] = value
    return out


def _model_record(given: Mapping[str, Any], spec: Any) -> dict[str, Any]:
    name = str(given["name"])
    params = given.get("params", getattr(spec, "params", {}))
    seeds = given.get("seeds", getattr(spec, "seed_list", None))
    checkpoint = given.get("checkpoint", getattr(spec, "checkpoint", None))
    catalog = given["catalog"] if "catalog" in given else catalog_entry(name)
    if "checkpoint_lock" in given:
        lock = given["checkpoint_lock"]
    else:
        kind = catalog.get("kind") if catalog else None
        lock = checkpoint_lock(name, checkpoint) if kind == "local" else None
    return {
        "name": name,
        "catalog": catalog,
        "params": masked(params),
        "seeds": [int(s) for s in seeds] if seeds is not None else None,
        "checkpoint_lock": lock,
    }


def catalog_entry(name: str) -> dict[str, Any] | None:
    """The catalog fields that say what a model is: service, wrapper, model id, family, kind (None: not in the
    catalog any more, e.g. an extra catalog that is no longer set)."""
    from vmevalkit.runner.registry import ModelLoadError, UnknownModelError, get_entry

    try:
        entry = get_entry(name)
    except (UnknownModelError, ModelLoadError):
        return None
    return {
        "service": entry.service,
        "wrapper": entry.wrapper,
        "model": entry.model,
        "family": entry.family,
        "kind": entry.kind,
    }


def checkpoint_lock(name: str, checkpoint: str | Path | None = None) -> dict[str, str] | None:
    """``{file: sha256}`` of the lock file of the checkpoint a local model runs from, as ``vmevalkit local`` finds
    it (``checkpoint``: the suite's folder; else ``--checkpoint``/``VMEVALKIT_CHECKPOINTS``/the catalog's pinned
    weights under ``weights/``); None where no lock records them (a tiny or hand-made folder, weights not installed)."""
    from vmevalkit.runner.registry import ModelLoadError, UnknownModelError, get_entry
    from vmevalkit.settings import get_settings
    from vmevalkit.workers.installation import checkpoint_for
    from vmevalkit.workers.weights import read_lock

    try:
        if checkpoint is not None:
            folder = Path(checkpoint).expanduser()
        else:
            folder = checkpoint_for(get_entry(name), get_settings()).path
        lock = read_lock(folder)
    except (UnknownModelError, ModelLoadError, LookupError, ValueError, OSError):
        return None
    if lock is None:
        return None
    return {path: pin.sha256 for path, pin in sorted(lock.files.items())}


def _scorer_record(given: Mapping[str, Any], spec: Any) -> dict[str, Any]:
    name = _scorer_name(given)
    class_path = (
        given.get("class") or given.get("class_path") or getattr(spec, "class_path", None) or _scorer_service(name)
    )
    version = given["version"] if "version" in given else _scorer_version(class_path)
    return {
        "name": name,
        "version": None if version is None else str(version),
        "class": class_path,
        "init_kwargs": masked(given.get("init_kwargs", getattr(spec, "init_kwargs", {}))),
        "score_kwargs": masked(given.get("score_kwargs", getattr(spec, "score_kwargs", {}))),
    }


def _scorer_service(name: str) -> str | None:
    from vmevalkit.runner.registry import ScorerCatalogError, UnknownScorerError, get_scorer_entry

    try:
        return get_scorer_entry(name).service
    except (UnknownScorerError, ScorerCatalogError):
        return None


def _scorer_version(class_path: str | None) -> Any:
    """A scorer class's ``version`` (its scores' meaning): loaded by its dotted path, None when it cannot be."""
    if not class_path:
        return None
    from vmevalkit.utils.imports import PluginLoadError, load_object

    try:
        return getattr(load_object(class_path), "version", None)
    except (PluginLoadError, ImportError):
        return None


# -- the environment ----------------------------------------------------------------------


def environment(packages: Iterable[str] = KEY_PACKAGES) -> dict[str, Any]:
    """vmevalkit's and python's versions, the key packages' (those installed), and the git commit of the checkout
    the package runs from (None when installed from a wheel, or git is missing)."""
    import vmevalkit

    return {
        "vmevalkit": package_version("vmevalkit") or getattr(vmevalkit, "__version__", None),
        "python": ".".join(str(part) for part in sys.version_info[:3]),
        "packages": package_versions(packages),
        "git_commit": git_commit(Path(vmevalkit.__file__).resolve().parent.parent),
    }


def package_version(name: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return None


def package_versions(names: Iterable[str]) -> dict[str, str]:
    """``{name: version}`` of the installed ones among ``names``, read from their metadata (nothing is imported:
    torch alone takes seconds)."""
    found = {name: package_version(name) for name in names}
    return {name: v for name, v in sorted(found.items()) if v is not None}


def git_commit(root: Path) -> str | None:
    """HEAD's commit when ``root`` is a git checkout (has ``.git``); None otherwise or when git cannot tell."""
    if not (root / ".git").exists():
        return None
    try:
        done = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    commit = done.stdout.strip()
    return commit if done.returncode == 0 and len(commit) == 40 else None


# -- flat metrics -------------------------------------------------------------------------


def flat_metrics(result: Mapping[str, Any]) -> dict[str, dict[str, float]]:
    """Per model: ``composite``, ``rank``, ``criteria.<name>``, ``category.<cat>.composite`` and
    ``category.<cat>.<name>``, values that are None left out: what MLflow logs and ``metrics.json`` holds."""
    out: dict[str, dict[str, float]] = {}
    for row in result.get("leaderboard", {}).get("models", []):
        metrics: dict[str, float] = {}
        _put(metrics, "composite", row.get("composite"))
        _put(metrics, "rank", row.get("rank"))
        for name, crit in sorted((row.get("criteria") or {}).items()):
            _put(metrics, f"criteria.{name}", crit.get("value") if isinstance(crit, Mapping) else crit)
        for cat, breakdown in sorted((row.get("categories") or {}).items()):
            _put(metrics, f"category.{cat}.composite", breakdown.get("composite"))
            for name, value in sorted((breakdown.get("criteria") or {}).items()):
                _put(metrics, f"category.{cat}.{name}", value)
        out[str(row["model"])] = metrics
    return out


def _put(metrics: dict[str, float], key: str, value: Any) -> None:
    if isinstance(value, bool) or value is None:
        return
    if isinstance(value, (int, float)) and math.isfinite(value):
        metrics[key] = float(value)


# -- reading and comparing ----------------------------------------------------------------


def read_result(path: Path) -> dict[str, Any]:
    """A result JSON, or ``ResultError`` saying why it is not one."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ResultError(f"{path}: cannot be read ({exc.strerror or type(exc).__name__})") from None
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ResultError(f"{path}: not JSON ({exc})") from None
    if not isinstance(data, dict) or "schema_version" not in data or "leaderboard" not in data:
        raise ResultError(f"{path}: not a suite result (no schema_version or leaderboard): give a result.json")
    version = data["schema_version"]
    if not isinstance(version, int) or isinstance(version, bool):
        raise ResultError(f"{path}: schema_version {version!r} is not a whole number")
    if version > RESULT_SCHEMA:
        raise ResultError(
            f"{path}: result schema {version} is newer than this vmevalkit reads ({RESULT_SCHEMA}): upgrade vmevalkit"
        )
    return data


def compare(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[str]:
    """What differs between two results, one line each (at most ``WIDTH`` columns), config then scores: ``[]``
    when they agree. Ignored: where the suite file lay, when each ran and what the stages did."""
    config = _config_lines(a, b)
    scores = _score_lines(a, b)
    lines: list[str] = []
    if config:
        lines += ["config:", *config]
    if scores:
        lines += ["scores:", *scores]
    return lines


def _config_lines(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[str]:
    lines: list[str] = []
    if a.get("schema_version") != b.get("schema_version"):
        lines.append(_line("schema_version", a.get("schema_version"), b.get("schema_version")))
    suite_a, suite_b = a.get("suite") or {}, b.get("suite") or {}
    for key in ("name", "version", "content_hash"):
        if suite_a.get(key) != suite_b.get(key):
            lines.append(_line(f"suite.{key}", suite_a.get(key), suite_b.get(key)))
    data_a, data_b = list(a.get("datasets") or []), list(b.get("datasets") or [])
    if len(data_a) != len(data_b):
        lines.append(_line("datasets", f"{len(data_a)} datasets", f"{len(data_b)} datasets"))
    for i, (one, two) in enumerate(zip(data_a, data_b, strict=False)):  # a count that differs is said above
        lines += _dict_lines(f"datasets[{i}]", one, two)
    lines += _keyed_lines("model", a.get("models"), b.get("models"), ("catalog", "params", "seeds", "checkpoint_lock"))
    lines += _keyed_lines(
        "scorer", a.get("scorers"), b.get("scorers"), ("version", "class", "init_kwargs", "score_kwargs")
    )
    env_a, env_b = a.get("environment") or {}, b.get("environment") or {}
    for key in ("vmevalkit", "python", "git_commit"):
        if env_a.get(key) != env_b.get(key):
            lines.append(_line(f"environment.{key}", env_a.get(key), env_b.get(key)))
    lines += _dict_lines("package", env_a.get("packages") or {}, env_b.get("packages") or {}, sep=" ")
    return lines


def _keyed_lines(what: str, a: Any, b: Any, fields: Sequence[str]) -> list[str]:
    """Differences between two lists of records named by ``name``: who is in one only, then field by field."""
    by_a = {str(r.get("name")): r for r in a or [] if isinstance(r, Mapping)}
    by_b = {str(r.get("name")): r for r in b or [] if isinstance(r, Mapping)}
    lines: list[str] = []
    for name in sorted(by_a.keys() | by_b.keys()):
        if name not in by_b:
            lines.append(_fit(f"  {what} {name}: only in A"))
        elif name not in by_a:
            lines.append(_fit(f"  {what} {name}: only in B"))
        else:
            for field in fields:
                one, two = by_a[name].get(field), by_b[name].get(field)
                if isinstance(one, Mapping) and isinstance(two, Mapping):
                    lines += _dict_lines(f"{what} {name}: {field}", one, two)
                elif one != two:
                    lines.append(_line(f"{what} {name}: {field}", one, two))
    return lines


def _dict_lines(label: str, a: Any, b: Any, sep: str = ".") -> list[str]:
    """One line per key (nested keys dotted) whose value differs; a key only on one side shows as absent."""
    if not (isinstance(a, Mapping) and isinstance(b, Mapping)):
        return [] if a == b else [_line(label, a, b)]
    flat_a, flat_b = _flatten(a), _flatten(b)
    lines = []
    for key in sorted(flat_a.keys() | flat_b.keys()):
        one, two = flat_a.get(key, _ABSENT), flat_b.get(key, _ABSENT)
        if one != two:
            lines.append(_line(f"{label}{sep}{key}", one, two))
    return lines


class _Absent:
    def __repr__(self) -> str:
        return "(absent)"


_ABSENT: Any = _Absent()


def _flatten(value: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, item in value.items():
        name = f"{prefix}{key}"
        if isinstance(item, Mapping) and item:
            out.update(_flatten(item, f"{name}."))
        else:
            out[name] = item
    return out


def _score_lines(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[str]:
    rows_a = {str(r.get("model")): r for r in (a.get("leaderboard") or {}).get("models", [])}
    rows_b = {str(r.get("model")): r for r in (b.get("leaderboard") or {}).get("models", [])}
    lines: list[str] = []
    for model in sorted(rows_a.keys() | rows_b.keys()):
        if model not in rows_b:
            lines.append(_fit(f"  model {model}: only in A (composite {_num(rows_a[model].get('composite'))})"))
            continue
        if model not in rows_a:
            lines.append(_fit(f"  model {model}: only in B (composite {_num(rows_b[model].get('composite'))})"))
            continue
        flat_a, flat_b = _score_values(rows_a[model]), _score_values(rows_b[model])
        for key in sorted(flat_a.keys() | flat_b.keys(), key=_score_order):
            one, two = flat_a.get(key), flat_b.get(key)
            if _same_number(one, two):
                continue
            delta = f" ({two - one:+.4g})" if one is not None and two is not None else ""
            lines.append(_line(f"model {model}: {key}", _num(one), _num(two), delta=delta, raw=True))
    return lines


def _score_values(row: Mapping[str, Any]) -> dict[str, float | None]:
    """A leaderboard row as ``flat_metrics`` names its values, plus passed/failed where a criterion has a threshold;
    None where a value is missing (it differs from any number)."""
    values: dict[str, Any] = {"composite": row.get("composite"), "rank": row.get("rank")}
    for name, crit in (row.get("criteria") or {}).items():
        values[f"criteria.{name}"] = crit.get("value") if isinstance(crit, Mapping) else crit
        if isinstance(crit, Mapping) and crit.get("passed") is not None:
            values[f"passed.{name}"] = 1.0 if crit["passed"] else 0.0
    for cat, breakdown in (row.get("categories") or {}).items():
        values[f"category.{cat}.composite"] = breakdown.get("composite")
        for name, value in (breakdown.get("criteria") or {}).items():
            values[f"category.{cat}.{name}"] = value
    return {k: float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None for k, v in values.items()}


def _score_order(key: str) -> tuple[int, str]:
    """composite and rank first, then criteria, pass/fail, categories."""
    order = {"composite": 0, "rank": 1}
    if key in order:
        return order[key], key
    for i, prefix in enumerate(("criteria.", "passed.", "category."), start=2):
        if key.startswith(prefix):
            return i, key
    return 9, key


def _same_number(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return abs(a - b) <= 1e-12 or (math.isnan(a) and math.isnan(b))


def _num(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1e4 else f"{value:.6g}"
    return str(value)


def _shown(value: Any) -> str:
    if value is _ABSENT:
        return "(absent)"
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str, ensure_ascii=False)


def _line(label: str, a: Any, b: Any, *, delta: str = "", raw: bool = False) -> str:
    """``  label: A -> B`` cut to ``WIDTH`` columns: long values keep their head and tail, a long label its head."""
    one, two = (str(a), str(b)) if raw else (_shown(a), _shown(b))
    label = _cut(label, 48)
    room = WIDTH - len(f"  {label}:  -> {delta}")
    if len(one) + len(two) > room:
        half = max(room // 2, 9)
        one, two = _cut(one, half), _cut(two, half)
    return _fit(f"  {label}: {one} -> {two}{delta}")


def _cut(text: str, width: int) -> str:
    if len(text) <= width:
        return text
    head = (width - 1) * 2 // 3
    return text[:head] + "…" + text[len(text) - (width - 1 - head) :]


def _fit(line: str) -> str:
    return line if len(line) <= WIDTH else line[: WIDTH - 1] + "…"

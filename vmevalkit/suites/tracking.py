"""MLflow tracking of a suite run: one parent run per suite result, one nested child run per model.

Turned on by ``vmevalkit run --mlflow`` or by setting ``MLFLOW_TRACKING_URI`` (the variable wins, so a team
server configured once in the shell takes every run). Without the variable the runs go to a local store beside
the outputs, in the form current MLflow recommends: since MLflow 3.7 the default backend is a SQLite database
(``sqlite:///mlflow.db``) and the ``./mlruns`` file store is "legacy", kept only for existing data and slated for
deprecation, see https://mlflow.org/docs/latest/self-hosting (Default Storage Backend Change) and
https://mlflow.org/docs/latest/self-hosting/architecture/backend-store. So the default store is
``<output_dir>/mlflow.db``, with artifacts in ``<output_dir>/mlartifacts``. Open it with::

    mlflow ui --backend-store-uri sqlite:///<output_dir>/mlflow.db
    # or serve it to a team (https://mlflow.org/docs/latest/self-hosting/architecture/tracking-server):
    mlflow server --backend-store-uri sqlite:///<output_dir>/mlflow.db \\
        --artifacts-destination <output_dir>/mlartifacts --host 127.0.0.1 --port 5000

(the artifact paths are stored absolute in the database, so the UI finds them from any working directory).

What is logged, and why so:
- The parent run holds what identifies the suite run: the suite's name, version and content hash, each dataset's
  fingerprint hash, the scorer versions; metrics ``best_composite`` and ``n_models``; artifacts (report.html, the
  CSVs, result.json, metrics.json). Its tags ``vmevalkit.suite_hash`` and ``vmevalkit.result_hash`` make logging
  idempotent: logging the same result again finds this run (``search_runs`` with a tag filter,
  https://mlflow.org/docs/latest/ml/search/search-runs) instead of adding another, and a log cut off half way is
  completed, not duplicated.
- Each child run is one model, nested by MLflow's system tag ``mlflow.parentRunId`` (what ``start_run(nested=True)``
  sets; we use ``MlflowClient`` directly so that no global "active run" state is touched). Params: model, catalog
  entry, model params, seeds, checkpoint lock hashes. Metrics: every key of ``metrics[model]`` exactly as given
  (the same numbers ``metrics.json`` holds), so MLflow's compare view shows what the leaderboard shows.
- Secrets never leave the machine: a param whose name says it holds one (``api_key``, ``*_token``, ...) is logged
  as ``***``, and every string logged (params, tags, text artifacts) passes ``vmevalkit.utils.redact`` with those
  values added to the environment's secrets.

mlflow is an optional extra (``pip install "vmevalkit[suites]"``), imported only inside the functions that need it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from vmevalkit.utils.redact import MASK, SECRET_NAME, scrub, scrub_data

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

ENV_VAR = "MLFLOW_TRACKING_URI"
DB_NAME = "mlflow.db"
ARTIFACTS_DIR = "mlartifacts"
INSTALL_HINT = 'pip install "vmevalkit[suites]"'

# Our tags (MLflow reserves the "mlflow." prefix for its own).
TAG_ROLE = "vmevalkit.role"
TAG_SUITE_HASH = "vmevalkit.suite_hash"
TAG_RESULT_HASH = "vmevalkit.result_hash"
TAG_MODEL = "vmevalkit.model"
PARENT_TAG = "mlflow.parentRunId"  # MLflow's system tag for nested runs (mlflow.utils.mlflow_tags)
ROLE_SUITE = "suite"
ROLE_MODEL = "model"

# MLflow's own limits (mlflow.utils.validation): a batch holds at most 100 params+tags and 1000 metrics, and a
# param value at most 6000 characters.
MAX_PARAMS_TAGS_PER_BATCH = 100
MAX_METRICS_PER_BATCH = 1000
MAX_PARAM_LENGTH = 6000
TRUNCATED = "...(truncated)"
# Fields of a result that say when it was made, not what it is: left out of the result hash, so the same suite
# with the same outcome logs once however often its result file is rewritten.
VOLATILE_FIELDS = ("created_at",)


class TrackingError(RuntimeError):
    """MLflow is missing, unreachable or refused what we logged; the message names the store and the fix."""


@dataclass(frozen=True)
class TrackingInfo:
    parent_run_id: str
    child_run_ids: dict[str, str]
    uri: str
    experiment_id: str = ""
    reused: bool = False  # the parent run was logged before (same suite and result): nothing new was added


def tracking_uri(flag: bool, output_dir: Path) -> str | None:
    """Where to log: ``MLFLOW_TRACKING_URI`` if set, else the local SQLite store when ``--mlflow``, else None."""
    env = os.environ.get(ENV_VAR, "").strip()
    if env:
        return env
    if not flag:
        return None
    return local_store_uri(output_dir)


def local_store_uri(output_dir: Path) -> str:
    """``sqlite:///<absolute output_dir>/mlflow.db`` (four slashes on POSIX: the fourth starts the path)."""
    return "sqlite:///" + (output_dir.resolve() / DB_NAME).as_posix()


def display_uri(uri: str) -> str:
    """The URI without a password (``http://user:pass@host`` -> ``http://user:***@host``), for messages."""
    parts = urlsplit(uri)
    if parts.password:
        netloc = parts.netloc.replace(":" + parts.password + "@", ":" + MASK + "@", 1)
        return urlunsplit(parts._replace(netloc=netloc))
    return uri


def log_suite(
    result: Mapping[str, Any],
    metrics: Mapping[str, Mapping[str, float]],
    artifacts: Sequence[Path],
    uri: str,
    experiment_name: str,
) -> TrackingInfo:
    """Log one suite result to MLflow at ``uri``: a parent run and a nested child run per model.

    Idempotent: a parent run with the same suite and result hash is reused; its children are completed where
    missing, and a finished parent is returned as it is. Raises TrackingError (mlflow missing, the store
    unreachable or refusing a value) and FileNotFoundError (an artifact that does not exist, checked first).
    """
    missing = [str(p) for p in artifacts if not Path(p).is_file()]
    if missing:
        raise FileNotFoundError(f"MLflow artifacts not found: {', '.join(missing)}")
    names = [Path(p).name for p in artifacts]
    if len(set(names)) != len(names):
        raise ValueError(f"MLflow artifacts must have distinct file names (they share one folder): {names}")

    client = _client(uri)
    from mlflow.exceptions import MlflowException

    try:
        return _log(client, result, metrics, artifacts, uri, experiment_name)
    except MlflowException as err:
        raise TrackingError(f"MLflow at {display_uri(uri)}: {scrub(str(err.message))}") from err


def result_hash(result: Mapping[str, Any], metrics: Mapping[str, Mapping[str, float]]) -> str:
    """sha256 of the result (less its volatile fields) and the metrics, as canonical JSON."""
    content = {k: v for k, v in result.items() if k not in VOLATILE_FIELDS}
    return _sha256_json({"result": content, "metrics": metrics})


# ---------------------------------------------------------------------------------------------------------------


def _client(uri: str) -> MlflowClient:
    try:
        from mlflow.tracking import MlflowClient
    except ImportError as err:
        raise TrackingError(
            f"MLflow tracking needs the mlflow package, which is not installed: {INSTALL_HINT}"
            f" (or unset {ENV_VAR} and drop --mlflow)"
        ) from err
    return MlflowClient(tracking_uri=uri)


def _log(
    client: MlflowClient,
    result: Mapping[str, Any],
    metrics: Mapping[str, Mapping[str, float]],
    artifacts: Sequence[Path],
    uri: str,
    experiment_name: str,
) -> TrackingInfo:
    from mlflow.entities import RunStatus

    secrets = sorted(_secret_values(result))
    experiment_id = _experiment(client, experiment_name, uri)
    suite = result.get("suite") or {}
    suite_hash = str(suite.get("content_hash", ""))
    rhash = result_hash(result, metrics)
    finished = RunStatus.to_string(RunStatus.FINISHED)

    parent = _find_one(
        client,
        experiment_id,
        f"tags.`{TAG_ROLE}` = '{ROLE_SUITE}' and tags.`{TAG_RESULT_HASH}` = '{rhash}'"
        f" and tags.`{TAG_SUITE_HASH}` = '{suite_hash}'",
    )
    reused = parent is not None
    if parent is not None and parent.info.status == finished:
        children = _children(client, experiment_id, parent.info.run_id)
        return TrackingInfo(parent.info.run_id, children, uri, experiment_id, reused=True)

    if parent is None:
        tags = {TAG_ROLE: ROLE_SUITE, TAG_SUITE_HASH: suite_hash, TAG_RESULT_HASH: rhash, **_environment_tags(result)}
        run_name = f"{suite.get('name', 'suite')} {suite.get('version', '')}".strip()
        parent = client.create_run(experiment_id, tags=_scrub_map(tags, secrets), run_name=scrub(run_name, secrets))
    parent_id = parent.info.run_id
    _log_batch(client, parent_id, _parent_params(result), _parent_metrics(result, metrics), secrets)

    existing = {
        run.data.tags.get(TAG_MODEL, ""): run for run in _search(client, experiment_id, _child_filter(parent_id))
    }
    child_ids: dict[str, str] = {}
    for model in _model_names(result, metrics):
        run = existing.get(model)
        if run is not None and run.info.status == finished:
            child_ids[model] = run.info.run_id
            continue
        if run is None:
            tags = {PARENT_TAG: parent_id, TAG_ROLE: ROLE_MODEL, TAG_MODEL: model, TAG_RESULT_HASH: rhash}
            run = client.create_run(experiment_id, tags=_scrub_map(tags, secrets), run_name=scrub(model, secrets))
        child_id = run.info.run_id
        entry = _model_entry(result, model)
        _log_batch(client, child_id, _child_params(model, entry), _child_metrics(metrics.get(model, {})), secrets)
        client.set_terminated(child_id, finished)
        child_ids[model] = child_id

    _log_artifacts(client, parent_id, artifacts, secrets)
    client.set_terminated(parent_id, finished)
    return TrackingInfo(parent_id, child_ids, uri, experiment_id, reused=reused)


def _experiment(client: MlflowClient, name: str, uri: str) -> str:
    """The experiment's id, created when missing; in a SQLite store its artifacts go beside the database."""
    from mlflow.exceptions import MlflowException

    found = client.get_experiment_by_name(name)
    if found is not None:
        if found.lifecycle_stage == "deleted":
            raise TrackingError(
                f"MLflow experiment {name!r} at {display_uri(uri)} is deleted: restore it"
                f" (mlflow experiments restore --experiment-id {found.experiment_id}) or name another experiment"
            )
        return str(found.experiment_id)
    location = _sqlite_artifact_location(uri)
    try:
        return str(client.create_experiment(name, artifact_location=location))
    except MlflowException:
        again = client.get_experiment_by_name(name)  # created meanwhile by another process
        if again is None:
            raise
        return str(again.experiment_id)


def _sqlite_artifact_location(uri: str) -> str | None:
    """``<folder of the .db>/mlartifacts`` as a file URI for a SQLite store; None elsewhere (the server decides)."""
    prefix = "sqlite:///"
    if not uri.startswith(prefix):
        return None
    db = Path(uri[len(prefix) :].split("?", 1)[0])
    if not db.is_absolute() or str(db) in ("", ":memory:"):
        db = Path.cwd() / db
    return (db.parent / ARTIFACTS_DIR).as_uri()


def _search(client: MlflowClient, experiment_id: str, filter_string: str) -> Iterator[Any]:
    token: str | None = None
    while True:
        page = client.search_runs([experiment_id], filter_string=filter_string, max_results=1000, page_token=token)
        yield from page
        token = page.token
        if not token:
            return


def _find_one(client: MlflowClient, experiment_id: str, filter_string: str) -> Any:
    """The oldest run that matches, or None (two would only come from two processes logging at once)."""
    runs = sorted(_search(client, experiment_id, filter_string), key=lambda r: (r.info.start_time, r.info.run_id))
    return runs[0] if runs else None


def _child_filter(parent_id: str) -> str:
    return f"tags.`{PARENT_TAG}` = '{parent_id}' and tags.`{TAG_ROLE}` = '{ROLE_MODEL}'"


def _children(client: MlflowClient, experiment_id: str, parent_id: str) -> dict[str, str]:
    return {
        run.data.tags.get(TAG_MODEL, ""): run.info.run_id
        for run in _search(client, experiment_id, _child_filter(parent_id))
    }


def _model_names(result: Mapping[str, Any], metrics: Mapping[str, Mapping[str, float]]) -> list[str]:
    """The result's models in its order, then any model that only the metrics name."""
    names = [str(m.get("name")) for m in result.get("models") or [] if m.get("name")]
    names += sorted(m for m in metrics if m not in names)
    return list(dict.fromkeys(names))


def _model_entry(result: Mapping[str, Any], model: str) -> Mapping[str, Any]:
    for entry in result.get("models") or []:
        if entry.get("name") == model:
            return entry  # type: ignore[no-any-return]
    return {"name": model}


# --- what is logged ---------------------------------------------------------------------------------------------


def _parent_params(result: Mapping[str, Any]) -> dict[str, str]:
    suite = result.get("suite") or {}
    params = {
        "suite.name": suite.get("name"),
        "suite.version": suite.get("version"),
        "suite.content_hash": suite.get("content_hash"),
        "datasets": len(result.get("datasets") or []),
    }
    for i, fingerprint in enumerate(result.get("datasets") or []):
        params[f"dataset.{i}.kind"] = fingerprint.get("kind")
        if isinstance(fingerprint.get("sha256"), str):
            params[f"dataset.{i}.sha256"] = fingerprint["sha256"]
        else:  # no files hash in the fingerprint: the fingerprint's own hash still tells two datasets apart
            params[f"dataset.{i}.fingerprint"] = _sha256_json(fingerprint)
    for scorer in result.get("scorers") or []:
        name = scorer.get("name")
        params[f"scorer.{name}.version"] = scorer.get("version")
        params[f"scorer.{name}.class"] = scorer.get("class")
        for kind in ("init_kwargs", "score_kwargs"):
            if scorer.get(kind):
                params[f"scorer.{name}.{kind}"] = _json(_mask_secret_names(scorer[kind]))
    return _as_params(params)


def _child_params(model: str, entry: Mapping[str, Any]) -> dict[str, str]:
    params: dict[str, Any] = {"model": model}
    for key, value in (entry.get("catalog") or {}).items():
        params[f"catalog.{key}"] = value
    for key, value in _mask_secret_names(entry.get("params") or {}).items():
        params[f"param.{key}"] = value
    if entry.get("seeds") is not None:
        params["seeds"] = _json(entry["seeds"])
    lock = entry.get("checkpoint_lock")
    if lock:
        for file, digest in lock.items():
            params[f"checkpoint.{file}"] = digest
    return _as_params(params)


def _parent_metrics(result: Mapping[str, Any], metrics: Mapping[str, Mapping[str, float]]) -> dict[str, float]:
    composites = [float(m["composite"]) for m in metrics.values() if m.get("composite") is not None]
    out = {"n_models": float(len(_model_names(result, metrics)))}
    if composites:
        out["best_composite"] = max(composites)
    return out


def _child_metrics(values: Mapping[str, float]) -> dict[str, float]:
    out: dict[str, float] = {}
    for key, value in values.items():
        if value is None:
            continue
        name = _safe_key(key)
        if name in out:
            raise TrackingError(f"metrics {key!r} and another name both become {name!r} in MLflow: rename one")
        out[name] = float(value)
    return out


def _environment_tags(result: Mapping[str, Any]) -> dict[str, str]:
    env = result.get("environment") or {}
    tags = {"vmevalkit.version": env.get("vmevalkit"), "vmevalkit.python": env.get("python")}
    if env.get("git_commit"):
        tags["mlflow.source.git.commit"] = env["git_commit"]
    if result.get("schema_version") is not None:
        tags["vmevalkit.result_schema"] = str(result["schema_version"])
    return {k: str(v) for k, v in tags.items() if v is not None}


# --- secrets ------------------------------------------------------------------------------------------------------


def _secret_values(value: Any) -> set[str]:
    """Values held under a secret-looking name anywhere in the result (a model's ``api_key`` param, ...)."""
    found: set[str] = set()
    if isinstance(value, Mapping):
        for key, item in value.items():
            if isinstance(key, str) and SECRET_NAME.search(key) and isinstance(item, str) and item:
                found.add(item)
            else:
                found |= _secret_values(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            found |= _secret_values(item)
    return found


def _mask_secret_names(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: (MASK if SECRET_NAME.search(str(k)) else v) for k, v in values.items()}


def _scrub_map(values: Mapping[str, str], secrets: Iterable[str]) -> dict[str, str]:
    return {str(k): str(v) for k, v in scrub_data(dict(values), extra=secrets).items()}


# --- MLflow calls ---------------------------------------------------------------------------------------------


def _log_batch(
    client: MlflowClient, run_id: str, params: Mapping[str, str], metrics: Mapping[str, float], secrets: list[str]
) -> None:
    """Params and metrics in batches within MLflow's limits; re-logging the same values is allowed (resume)."""
    from mlflow.entities import Metric, Param

    clean = _scrub_map(params, secrets)
    param_list = [Param(k, v) for k, v in clean.items()]
    now = int(time.time() * 1000)
    metric_list = [Metric(k, v, now, 0) for k, v in metrics.items()]
    for start in range(0, len(param_list), MAX_PARAMS_TAGS_PER_BATCH):
        client.log_batch(run_id, params=param_list[start : start + MAX_PARAMS_TAGS_PER_BATCH])
    for start in range(0, len(metric_list), MAX_METRICS_PER_BATCH):
        client.log_batch(run_id, metrics=metric_list[start : start + MAX_METRICS_PER_BATCH])


def _log_artifacts(client: MlflowClient, run_id: str, artifacts: Sequence[Path], secrets: list[str]) -> None:
    """Each file at the run's artifact root; text files (JSON, CSV, HTML) are scrubbed of secrets first."""
    with tempfile.TemporaryDirectory(prefix="vmk-mlflow-") as tmp:
        for path in artifacts:
            path = Path(path)
            data = path.read_bytes()
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                client.log_artifact(run_id, str(path))
                continue
            clean = scrub(text, secrets)
            if clean == text:
                client.log_artifact(run_id, str(path))
                continue
            copy = Path(tmp) / path.name
            copy.write_text(clean, encoding="utf-8")
            client.log_artifact(run_id, str(copy))


# --- helpers ------------------------------------------------------------------------------------------------------

_UNSAFE = re.compile(r"[^A-Za-z0-9_.\- ]")


def _safe_key(key: str) -> str:
    """A name MLflow accepts as a param or metric key: letters, digits, ``_ . - space``; no ``..``."""
    safe = re.sub(r"\.{2,}", "_", _UNSAFE.sub("_", str(key)))
    return "_" if safe in ("", ".") else safe[:250]


def _as_params(values: Mapping[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in values.items():
        if value is None:
            continue
        text = value if isinstance(value, str) else _json(value)
        if len(text) > MAX_PARAM_LENGTH:
            text = text[: MAX_PARAM_LENGTH - len(TRUNCATED)] + TRUNCATED
        out[_safe_key(key)] = text
    return out


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def _sha256_json(value: Any) -> str:
    return hashlib.sha256(_json(value).encode("utf-8")).hexdigest()

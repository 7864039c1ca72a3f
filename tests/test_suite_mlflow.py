"""MLflow tracking of a suite result (vmevalkit.suites.tracking) against a real ``mlflow server`` on 127.0.0.1.

The server runs as a subprocess with a SQLite backend and proxied artifacts in a temporary folder, started once for
the module (it takes seconds to boot). Runs are read back with ``MlflowClient``: one parent run, one nested child per
model, the child metrics exactly ``metrics.json``, the artifacts present, no secret anywhere, no second parent when
the same result is logged again. The default local store (``--mlflow`` without ``MLFLOW_TRACKING_URI``) is checked
in-process: a SQLite file beside the outputs.
"""

from __future__ import annotations

import copy
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from vmevalkit.suites import tracking
from vmevalkit.suites.tracking import TrackingError, log_suite, tracking_uri

mlflow = pytest.importorskip("mlflow")
from mlflow.tracking import MlflowClient  # noqa: E402

API_KEY = "sk-test-mlflow-0123456789abcdef"  # a model param named as a secret: masked by its name
ENV_TOKEN = "tok-env-9876543210fedcba"  # the value of a secret-named variable: scrubbed wherever it appears
SERVER_BOOT_DEADLINE_S = 180  # a loaded CI runner can take long to import mlflow; not a timing assertion
QUIET_MLFLOW = {"MLFLOW_DISABLE_TELEMETRY": "true", "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}


def suite_result(created_at: str = "2026-01-01T00:00:00Z") -> dict[str, Any]:
    """A result in result.py's shape, by hand: two models (one with secrets in its params), two datasets."""
    return {
        "schema_version": 1,
        "suite": {"name": "quick", "version": "1", "content_hash": "a" * 64, "path": "quick.toml"},
        "datasets": [
            {"kind": "generated", "domains": ["maze"], "seed": 0, "count": 2, "tasks": 2, "sha256": "b" * 64},
            {"kind": "hub", "repo": "org/name", "revision": "c" * 40, "tasks": 3, "sha256": "d" * 64},
        ],
        "models": [
            {
                "name": "fake-api-model",
                "catalog": {"service": "fakeprovider", "wrapper": "x.Y", "model": "m-1", "family": "f", "kind": "api"},
                "params": {"api_key": API_KEY, "endpoint": f"https://api.example/v1?auth={ENV_TOKEN}", "fps": 8},
                "seeds": [42, 43],
                "checkpoint_lock": None,
            },
            {
                "name": "oracle-solution",
                "catalog": {"service": "baseline", "wrapper": "b.O", "model": "oracle", "family": "b", "kind": "local"},
                "params": {},
                "seeds": [7],
                "checkpoint_lock": {"model.safetensors": "e" * 64},
            },
        ],
        "scorers": [
            {"name": "task-verifier", "version": "3", "class": "v.T", "init_kwargs": {}, "score_kwargs": {}},
        ],
        "environment": {"vmevalkit": "0.1.0", "python": "3.11.7", "packages": {"numpy": "2.0"}, "git_commit": None},
        "leaderboard": {"models": [], "criteria": ["success"]},
        "created_at": created_at,
    }


def suite_metrics() -> dict[str, dict[str, float]]:
    """flat_metrics' shape; values with many digits, so that exactness is checked, not rounding."""
    return {
        "fake-api-model": {
            "composite": 0.3333333333333333,
            "rank": 2.0,
            "criteria.success": 0.1234567890123456,
            "category.games.composite": 0.30000000000000004,
            "category.games.success": 0.25,
        },
        "oracle-solution": {
            "composite": 0.9876543210987654,
            "rank": 1.0,
            "criteria.success": 1.0,
            "category.games.composite": 1.0,
            "category.games.success": 1.0,
        },
    }


def write_outputs(folder: Path, result: dict[str, Any], metrics: dict[str, dict[str, float]]) -> list[Path]:
    """The files a suite run hands to log_suite: the result (with the raw key in it, as a careless writer would)."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {
        "result.json": json.dumps(result, indent=2),
        "metrics.json": json.dumps(metrics, indent=2),
        "leaderboard.csv": "model,rank,composite\noracle-solution,1,0.9876543210987654\nfake-api-model,2,0.33\n",
        "report.html": "<html><body><h1>quick</h1></body></html>\n",
    }
    paths = []
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
        paths.append(folder / name)
    return paths


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``mlflow server`` with a SQLite backend and artifacts in a temp folder; yields its URL once /health is OK."""
    root = tmp_path_factory.mktemp("mlflow-server")
    env = {**os.environ, **QUIET_MLFLOW}
    env.pop("MLFLOW_TRACKING_URI", None)
    port = free_port()
    log = (root / "server.log").open("wb")
    cmd = [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", f"sqlite:///{root / 'mlflow.db'}"]
    cmd += ["--artifacts-destination", str(root / "artifacts"), "--host", "127.0.0.1", "--port", str(port)]
    cmd += ["--workers", "1"]
    proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + SERVER_BOOT_DEADLINE_S
        while True:
            if proc.poll() is not None:
                pytest.fail(f"mlflow server exited ({proc.returncode}):\n{(root / 'server.log').read_text()[-3000:]}")
            try:
                if httpx.get(f"{url}/health", timeout=2).text.strip() == "OK":
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"mlflow server not healthy in time:\n{(root / 'server.log').read_text()[-3000:]}")
            time.sleep(0.25)
        yield url
    finally:
        # the server's own process group (uvicorn and its worker): only what this fixture started
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=20)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


@pytest.fixture(autouse=True)
def quiet_client(monkeypatch: pytest.MonkeyPatch) -> None:
    """No telemetry from the client (no network in tests) and a secret-named variable that redact must honour."""
    for name, value in QUIET_MLFLOW.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("FAKEPROVIDER_API_TOKEN", ENV_TOKEN)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)


def runs_of(client: MlflowClient, experiment: str) -> list[Any]:
    found = client.get_experiment_by_name(experiment)
    assert found is not None, f"experiment {experiment} was not created"
    return list(client.search_runs([found.experiment_id], max_results=1000))


def assert_no_secret(run: Any) -> None:
    logged = {**run.data.params, **run.data.tags, "run_name": run.info.run_name}
    for key, value in logged.items():
        assert API_KEY not in value and ENV_TOKEN not in value, f"secret logged in {key}: {value}"


def test_a_suite_result_round_trips_through_a_real_mlflow_server(
    mlflow_server: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server)
    uri = tracking_uri(False, tmp_path)  # the variable alone turns tracking on
    assert uri == mlflow_server
    result, metrics = suite_result(), suite_metrics()
    artifacts = write_outputs(tmp_path / "out", result, metrics)

    info = log_suite(result, metrics, artifacts, uri, "suite-quick")

    client = MlflowClient(tracking_uri=mlflow_server)
    runs = {run.info.run_id: run for run in runs_of(client, "suite-quick")}
    assert len(runs) == 3 and not info.reused
    parent = runs[info.parent_run_id]
    assert "mlflow.parentRunId" not in parent.data.tags
    assert parent.info.status == "FINISHED"
    assert set(info.child_run_ids) == {"fake-api-model", "oracle-solution"}

    # the parent: what identifies the suite run
    assert parent.data.params["suite.name"] == "quick"
    assert parent.data.params["suite.version"] == "1"
    assert parent.data.params["suite.content_hash"] == "a" * 64
    assert parent.data.params["dataset.0.sha256"] == "b" * 64
    assert parent.data.params["dataset.1.sha256"] == "d" * 64
    assert parent.data.params["scorer.task-verifier.version"] == "3"
    assert parent.data.metrics == {"best_composite": 0.9876543210987654, "n_models": 2.0}
    assert parent.data.tags["vmevalkit.suite_hash"] == "a" * 64

    # one nested child per model: its params, and its metrics exactly metrics.json
    for model, run_id in info.child_run_ids.items():
        child = runs[run_id]
        assert child.data.tags["mlflow.parentRunId"] == info.parent_run_id
        assert child.info.run_name == model and child.info.status == "FINISHED"
        assert child.data.metrics == metrics[model]
        assert child.data.params["model"] == model
    api = runs[info.child_run_ids["fake-api-model"]].data.params
    assert api["catalog.service"] == "fakeprovider" and api["catalog.kind"] == "api"
    assert api["param.api_key"] == "***"
    assert api["param.endpoint"] == "https://api.example/v1?auth=***"
    assert api["param.fps"] == "8"
    assert json.loads(api["seeds"]) == [42, 43]
    oracle = runs[info.child_run_ids["oracle-solution"]].data.params
    assert oracle["checkpoint.model.safetensors"] == "e" * 64
    assert json.loads(oracle["seeds"]) == [7]

    # nothing secret in any param, tag or run name
    for run in runs.values():
        assert_no_secret(run)

    # the artifacts, through the server's artifact proxy; the result file's secrets are scrubbed on the way
    names = {item.path for item in client.list_artifacts(info.parent_run_id)}
    assert names == {"result.json", "metrics.json", "leaderboard.csv", "report.html"}
    fetched = Path(client.download_artifacts(info.parent_run_id, "result.json", str(tmp_path / "dl")))
    text = fetched.read_text(encoding="utf-8")
    assert API_KEY not in text and ENV_TOKEN not in text
    assert json.loads(text)["models"][0]["params"]["api_key"] == "***"
    fetched = Path(client.download_artifacts(info.parent_run_id, "metrics.json", str(tmp_path / "dl")))
    assert json.loads(fetched.read_text(encoding="utf-8")) == metrics

    # the same result again (rewritten later: a new created_at) adds nothing and names the same runs
    again = log_suite(suite_result(created_at="2026-02-02T00:00:00Z"), metrics, artifacts, uri, "suite-quick")
    assert again.reused
    assert (again.parent_run_id, again.child_run_ids) == (info.parent_run_id, info.child_run_ids)
    assert len(runs_of(client, "suite-quick")) == 3

    # a different outcome is a different suite run: a new parent with its own children
    changed = copy.deepcopy(metrics)
    changed["oracle-solution"]["criteria.success"] = 0.5
    other = log_suite(result, changed, artifacts, uri, "suite-quick")
    assert other.parent_run_id != info.parent_run_id and not other.reused
    assert len(runs_of(client, "suite-quick")) == 6
    assert client.get_run(other.child_run_ids["oracle-solution"]).data.metrics == changed["oracle-solution"]


def test_the_flag_without_a_uri_logs_to_a_sqlite_store_beside_the_outputs(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    out = tmp_path / "runs" / "suite-quick"
    assert tracking_uri(False, out) is None  # neither the flag nor the variable: no tracking
    uri = tracking_uri(True, out)
    assert uri == "sqlite:///" + (out.resolve() / "mlflow.db").as_posix()
    result, metrics = suite_result(), suite_metrics()
    artifacts = write_outputs(out, result, metrics)

    info = log_suite(result, metrics, artifacts, uri, "suite-quick")

    assert (out / "mlflow.db").is_file()
    assert not (tmp_path / "mlruns").exists()  # no legacy file store in the working directory (the test's cwd)
    client = MlflowClient(tracking_uri=uri)
    runs = {run.info.run_id: run for run in runs_of(client, "suite-quick")}
    assert set(runs) == {info.parent_run_id, *info.child_run_ids.values()}
    for model, run_id in info.child_run_ids.items():
        assert runs[run_id].data.tags["mlflow.parentRunId"] == info.parent_run_id
        assert runs[run_id].data.metrics == metrics[model]
    assert {item.path for item in client.list_artifacts(info.parent_run_id)} == {p.name for p in artifacts}
    stored = sorted(p.name for p in (out / "mlartifacts").rglob("*") if p.is_file())
    assert stored == sorted(p.name for p in artifacts)  # the artifacts lie beside the database
    assert log_suite(result, metrics, artifacts, uri, "suite-quick").reused
    assert len(runs_of(client, "suite-quick")) == 3

    # the variable wins over the flag's default
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:9")
    assert tracking_uri(True, out) == "http://127.0.0.1:9"


def test_a_missing_artifact_fails_before_anything_is_logged(tmp_path: Path) -> None:
    uri = tracking.local_store_uri(tmp_path)
    with pytest.raises(FileNotFoundError, match="report.html"):
        log_suite(suite_result(), suite_metrics(), [tmp_path / "report.html"], uri, "suite-quick")
    assert not (tmp_path / "mlflow.db").exists()


def test_without_mlflow_installed_the_error_names_the_extra(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "mlflow.tracking", None)  # what `import` meets when the package is absent
    with pytest.raises(TrackingError, match=r'pip install "vmevalkit\[suites\]"'):
        log_suite(suite_result(), suite_metrics(), [], tracking.local_store_uri(tmp_path), "suite-quick")


def test_a_password_in_the_uri_is_not_shown() -> None:
    assert tracking.display_uri("https://me:hunter2-secret@mlflow.example") == "https://me:***@mlflow.example"
    assert tracking.display_uri("sqlite:///x/mlflow.db") == "sqlite:///x/mlflow.db"

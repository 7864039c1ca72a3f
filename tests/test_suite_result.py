"""The result JSON of a suite run (vmevalkit.suites.result), its flat metrics, and ``vmevalkit compare``."""

from __future__ import annotations

import argparse
import copy
import json
import subprocess
from importlib.metadata import version
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from vmevalkit.cli import compare as compare_cli
from vmevalkit.suites import result as res
from vmevalkit.suites.schema import load_suite

REPO = Path(__file__).resolve().parent.parent
QUICK = REPO / "vmevalkit" / "suites" / "benchmarks" / "quick.toml"
SECRET = "sk-test-0123456789abcdef"


def board(success: float = 0.5, composite: float = 0.6) -> dict[str, Any]:
    """A leaderboard as criteria.Leaderboard.to_dict() writes it, by hand: two models, two criteria, one category."""
    return {
        "criteria": ["success", "end_state"],
        "models": [
            {
                "model": "oracle-solution",
                "rank": 1,
                "composite": 1.0,
                "ci": [1.0, 1.0],
                "criteria": {
                    "success": {"value": 1.0, "score": 1.0, "passed": True, "weight": 2.0, "n": 6},
                    "end_state": {"value": 1.0, "score": 1.0, "passed": None, "weight": 1.0, "n": 6},
                },
                "categories": {"abstraction": {"composite": 1.0, "criteria": {"success": 1.0, "end_state": 1.0}}},
            },
            {
                "model": "shortcut-cut",
                "rank": 2,
                "composite": composite,
                "ci": [0.2, 0.9],
                "criteria": {
                    "success": {"value": success, "score": success, "passed": success >= 0.5, "weight": 2.0, "n": 6},
                    "end_state": {"value": None, "score": 0.0, "passed": None, "weight": 1.0, "n": 0},
                },
                "categories": {"abstraction": {"composite": None, "criteria": {"success": success, "end_state": None}}},
            },
        ],
    }


def prepared() -> SimpleNamespace:
    return SimpleNamespace(datasets=[{"kind": "generated", "domains": ["maze"], "tasks": 2, "sha256": "ab" * 32}])


def quick_result(**changes: Any) -> dict[str, Any]:
    loaded = load_suite(QUICK)
    models = changes.get("models") or [
        {"name": "oracle-solution", "params": {}, "seeds": [42]},
        {"name": "shortcut-cut", "params": {"fps": 8}, "seeds": [42]},
    ]
    scorers = [
        {"name": "task-verifier", "version": "2"},
        {"name": "frame-match", "version": "2", "init_kwargs": {"region": "changed"}},
    ]
    return res.build_result(loaded, prepared(), board(), models, scorers, {"fingerprint": "x"})


def test_build_result_records_suite_models_scorers_and_environment() -> None:
    result = quick_result()
    json.dumps(result)  # JSON-able as it is
    loaded = load_suite(QUICK)
    assert result["schema_version"] == res.RESULT_SCHEMA == 1
    assert result["suite"] == {
        "name": "quick",
        "version": "1",
        "content_hash": loaded.content_hash,
        "path": str(QUICK.resolve()),
    }
    assert result["datasets"] == prepared().datasets
    oracle, cut = result["models"]
    assert oracle["catalog"]["kind"] == "builtin" and oracle["catalog"]["model"] == "oracle-solution"
    assert set(oracle["catalog"]) == {"service", "wrapper", "model", "family", "kind"}
    assert oracle["checkpoint_lock"] is None  # a builtin model has no checkpoint
    assert cut["params"] == {"fps": 8} and cut["seeds"] == [42]
    tv, fm = result["scorers"]
    assert tv == {
        "name": "task-verifier",
        "version": "2",
        "class": "vmevalkit.scoring.verifiers:TaskVerifier",
        "init_kwargs": {},
        "score_kwargs": {},
    }
    assert fm["init_kwargs"] == {"region": "changed"}
    env = result["environment"]
    assert env["packages"]["numpy"] == version("numpy") and env["packages"]["pydantic"] == version("pydantic")
    assert env["vmevalkit"] == version("vmevalkit")
    assert env["python"].count(".") == 2
    head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True, check=False)
    assert env["git_commit"] == (head.stdout.strip() if (REPO / ".git").exists() and head.returncode == 0 else None)
    assert result["leaderboard"] == board() and result["stages"] == {"fingerprint": "x"}


def test_models_and_scorers_default_to_the_suite_and_seeds_merge() -> None:
    loaded = load_suite(QUICK)
    plain = res.build_result(loaded, prepared(), board(), [], [], {})
    assert [m["name"] for m in plain["models"]] == ["oracle-solution", "shortcut-cut", "static-first-frame"]
    assert all(m["seeds"] == [42] for m in plain["models"])
    # the scorer's version is read from its class when not given
    assert [(s["name"], s["version"]) for s in plain["scorers"]] == [("task-verifier", "2"), ("frame-match", "2")]
    # one dict per (model, seed), as the run stage gives them: one record, its seeds in order
    per_seed = [{"name": "shortcut-cut", "seed": 7}, {"name": "shortcut-cut", "seed": 3}]
    merged = res.build_result(loaded, prepared(), board(), per_seed, [], {})
    assert [(m["name"], m["seeds"]) for m in merged["models"]] == [("shortcut-cut", [7, 3])]


def test_secrets_never_reach_the_result(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_PROVIDER_API_KEY", SECRET)
    models = [{"name": "oracle-solution", "params": {"note": f"key={SECRET}", "api_key": "short1", "fps": 8}}]
    scorers = [{"name": "task-verifier", "init_kwargs": {"token": "abc", "url": f"https://x/?k={SECRET}"}}]
    result = res.build_result(load_suite(QUICK), prepared(), board(), models, scorers, {})
    text = json.dumps(result)
    assert SECRET not in text and "short1" not in text and '"abc"' not in text
    assert result["models"][0]["params"] == {"note": "key=***", "api_key": "***", "fps": 8}
    assert result["scorers"][0]["init_kwargs"] == {"token": "***", "url": "https://x/?k=***"}


def write_lock(folder: Path, files: dict[str, str]) -> None:
    folder.mkdir(parents=True)
    lock = {
        "checkpoint": "svd",
        "repo_id": "stabilityai/stable-video-diffusion-img2vid-xt",
        "revision": "9e43909513c6714f1bc78bcb44d96e733cd242aa",
        "commit": "9e43909513c6714f1bc78bcb44d96e733cd242aa",
        "files": {path: {"size": 1, "sha256": sha} for path, sha in files.items()},
        "created_at": "2025-01-01T00:00:00+00:00",
    }
    (folder / "vmevalkit.lock.json").write_text(json.dumps(lock), encoding="utf-8")


def test_checkpoint_lock_of_local_models(tmp_path: Path) -> None:
    loaded = load_suite(QUICK)
    # not installed: no lock, recorded as None (not an error: the result is written after the run)
    none = res.build_result(loaded, prepared(), board(), [{"name": "svd"}], [], {})
    assert none["models"][0]["catalog"]["kind"] == "local" and none["models"][0]["checkpoint_lock"] is None
    # the pinned weights, found where `vmevalkit local` finds them (weights/<family>/<id>, cwd is tmp_path)
    write_lock(tmp_path / "weights" / "svd" / "svd", {"unet/w.safetensors": "a" * 64, "model_index.json": "b" * 64})
    pinned = res.build_result(loaded, prepared(), board(), [{"name": "svd"}], [], {})
    assert pinned["models"][0]["checkpoint_lock"] == {"model_index.json": "b" * 64, "unet/w.safetensors": "a" * 64}
    # a checkpoint folder the suite names
    write_lock(tmp_path / "mine", {"vae/x.safetensors": "c" * 64})
    named = res.build_result(
        loaded, prepared(), board(), [{"name": "svd", "checkpoint": str(tmp_path / "mine")}], [], {}
    )
    assert named["models"][0]["checkpoint_lock"] == {"vae/x.safetensors": "c" * 64}


def test_git_commit_of_a_checkout_and_of_a_plain_folder(tmp_path: Path) -> None:
    assert res.git_commit(tmp_path) is None
    repo = tmp_path / "repo"
    repo.mkdir()
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q"], check=True)
    (repo / "f").write_text("x")
    subprocess.run([*git, "add", "f"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "m"], check=True)
    head = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    assert res.git_commit(repo) == head and len(head) == 40


def test_flat_metrics_names_every_value_and_leaves_none_out() -> None:
    flat = res.flat_metrics({"leaderboard": board(success=0.25, composite=0.4)})
    assert flat == {
        "oracle-solution": {
            "composite": 1.0,
            "rank": 1.0,
            "criteria.end_state": 1.0,
            "criteria.success": 1.0,
            "category.abstraction.composite": 1.0,
            "category.abstraction.end_state": 1.0,
            "category.abstraction.success": 1.0,
        },
        "shortcut-cut": {
            "composite": 0.4,
            "rank": 2.0,
            "criteria.success": 0.25,
            "category.abstraction.success": 0.25,
        },
    }


def differing_pair() -> tuple[dict[str, Any], dict[str, Any]]:
    a = quick_result()
    b = copy.deepcopy(a)
    b["models"][1]["params"]["fps"] = 16
    b["scorers"][0]["version"] = "3"
    b["environment"]["packages"]["numpy"] = "0.0.1"
    b["leaderboard"] = board(success=0.75, composite=0.7)
    b["created_at"] = "2099-01-01T00:00:00+00:00"  # ignored: when it ran is no difference
    b["suite"]["path"] = "elsewhere/quick.toml"  # ignored: where the file lay
    return a, b


def test_compare_lists_config_then_scores_with_deltas() -> None:
    a, b = differing_pair()
    lines = res.compare(a, b)
    numpy_a = a["environment"]["packages"]["numpy"]
    assert lines == [
        "config:",
        "  model shortcut-cut: params.fps: 8 -> 16",
        '  scorer task-verifier: version: "2" -> "3"',
        f'  package numpy: "{numpy_a}" -> "0.0.1"',
        "scores:",
        "  model shortcut-cut: composite: 0.6 -> 0.7 (+0.1)",
        "  model shortcut-cut: criteria.success: 0.5 -> 0.75 (+0.25)",
        "  model shortcut-cut: category.abstraction.success: 0.5 -> 0.75 (+0.25)",
    ]
    assert res.compare(a, b) == lines  # deterministic
    assert "  model shortcut-cut: criteria.success: 0.75 -> 0.5 (-0.25)" in res.compare(b, a)
    assert res.compare(a, copy.deepcopy(a)) == []


def test_compare_fits_100_columns_with_long_names_and_values() -> None:
    a, b = differing_pair()
    long_name = "a-lab-model-with-a-very-long-name-" + "x" * 60
    for doc in (a, b):
        doc["models"].append({"name": long_name, "catalog": None, "params": {}, "seeds": [1], "checkpoint_lock": None})
    a["models"][-1]["params"]["prompt_prefix"] = "p" * 300
    b["models"][-1]["params"]["prompt_prefix"] = "q" * 300
    b["suite"]["content_hash"] = "f" * 64
    b["models"][0]["checkpoint_lock"] = {"unet/" + "w" * 120 + ".safetensors": "c" * 64}
    lines = res.compare(a, b)
    assert len(lines) >= 8
    assert all(len(line) <= res.WIDTH for line in lines), [line for line in lines if len(line) > res.WIDTH]
    assert any(line.startswith("  suite.content_hash: ") for line in lines)
    assert any("prompt_prefix" in line and "ppp" in line and "qqq" in line for line in lines)


def run_compare(a: Path | str, b: Path | str) -> int:
    parser = argparse.ArgumentParser()
    compare_cli.add_arguments(parser)
    return compare_cli.run(parser.parse_args([str(a), str(b)]))


def test_compare_cli_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a, b = differing_pair()
    pa, pb = tmp_path / "a.json", tmp_path / "b.json"
    pa.write_text(json.dumps(a), encoding="utf-8")
    pb.write_text(json.dumps(b), encoding="utf-8")
    assert run_compare(pa, pa) == 0
    assert capsys.readouterr().out == "no differences\n"
    assert run_compare(pa, pb) == 1
    out = capsys.readouterr().out
    assert out.splitlines() == res.compare(a, b)
    assert "criteria.success: 0.5 -> 0.75 (+0.25)" in out

    (tmp_path / "bad.json").write_text("{not json", encoding="utf-8")
    (tmp_path / "other.json").write_text('{"name": "quick"}', encoding="utf-8")
    (tmp_path / "newer.json").write_text(json.dumps({**a, "schema_version": 99}), encoding="utf-8")
    for name, why in [
        ("missing.json", "cannot be read"),
        ("bad.json", "not JSON"),
        ("other.json", "not a suite result"),
        ("newer.json", "upgrade vmevalkit"),
    ]:
        assert run_compare(pa, tmp_path / name) == 2
        captured = capsys.readouterr()
        assert captured.out == "" and why in captured.err and captured.err.startswith("error: ")

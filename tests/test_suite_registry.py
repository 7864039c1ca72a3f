"""Named benchmarks (vmevalkit.suites.registry) and ``vmevalkit benchmarks``: shipped, by path, by
VMEVALKIT_BENCHMARKS, by entry point, and which wins a name clash (env > entry point > shipped)."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import cli_env

from vmevalkit.cli import benchmarks as benchmarks_cli
from vmevalkit.suites import registry
from vmevalkit.suites.schema import SuiteError, load_suite

SHIPPED = Path(registry.__file__).resolve().parent / "benchmarks"
MINE = """name = "{name}"
version = "1"
description = "{description}"

[[datasets]]
kind = "generated"
domains = ["maze"]
count = 1

[[models]]
name = "oracle-solution"

[[scorers]]
name = "task-verifier"

[[criteria]]
name = "success"
metric = "task-verifier.task_success"
"""


def suite_file(path: Path, description: str = "mine") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".json":
        data = {
            "name": path.stem,
            "version": "1",
            "description": description,
            "datasets": [{"kind": "generated", "domains": ["maze"], "count": 1}],
            "models": [{"name": "oracle-solution"}],
            "scorers": [{"name": "task-verifier"}],
            "criteria": [{"name": "success", "metric": "task-verifier.task_success"}],
        }
        path.write_text(json.dumps(data), encoding="utf-8")
    else:
        path.write_text(MINE.format(name=path.stem, description=description), encoding="utf-8")
    return path


def test_shipped_benchmarks_resolve_and_are_valid_suites() -> None:
    infos = {info.name: info for info in registry.list_benchmarks()}
    assert {"quick", "reasoning"} <= set(infos)
    for name in ("quick", "reasoning"):
        assert infos[name].source == "shipped" and infos[name].shadows == ()
        path = registry.resolve(name)
        assert path == (SHIPPED / f"{name}.toml").resolve() == infos[name].path
        loaded = load_suite(path)  # the schema accepts what ships
        assert loaded.suite.name == name and infos[name].description
        assert [m.name for m in loaded.suite.models] == ["oracle-solution", "shortcut-cut", "static-first-frame"]
        assert [s.name for s in loaded.suite.scorers] == ["task-verifier", "frame-match"]
    quick = load_suite(registry.resolve("quick")).suite
    (generated,) = quick.datasets
    assert generated.kind == "generated" and len(generated.domains) == 3 and generated.count == 2
    (every,) = load_suite(registry.resolve("reasoning")).suite.datasets
    assert every.domains == "all" and every.count == 10


def test_a_user_file_by_path(tmp_path: Path) -> None:
    mine = suite_file(tmp_path / "suites" / "mine.toml")
    assert registry.resolve(str(mine)) == mine.resolve()
    assert registry.resolve("suites/mine.toml") == mine.resolve()  # relative to the working directory
    with pytest.raises(SuiteError, match="no such suite file"):
        registry.resolve("suites/missing.toml")


def test_unknown_name_lists_the_known_ones_with_a_suggestion() -> None:
    with pytest.raises(SuiteError) as caught:
        registry.resolve("quik")
    message = str(caught.value)
    assert "unknown benchmark 'quik' (did you mean: quick?)" in message
    assert "known: quick, reasoning" in message and registry.ENV_VAR in message


def test_env_var_folders_and_files_and_clashes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "lab"
    suite_file(folder / "alpha.toml")
    suite_file(folder / "beta.json", "beta from the folder")
    suite_file(folder / "quick.toml", "our own quick")  # shadows the shipped quick
    (folder / "notes.txt").write_text("not a suite")
    single = suite_file(tmp_path / "elsewhere" / "beta.toml", "beta from the file")
    monkeypatch.setenv(registry.ENV_VAR, os.pathsep.join([str(single), str(folder)]))
    assert registry.resolve("alpha") == (folder / "alpha.toml").resolve()
    # earlier entries of the variable win, as in PATH
    assert registry.resolve("beta") == single.resolve()
    assert registry.resolve("quick") == (folder / "quick.toml").resolve()
    infos = {info.name: info for info in registry.list_benchmarks()}
    assert "notes" not in infos
    assert (infos["quick"].source, infos["quick"].shadows, infos["quick"].description) == (
        "env",
        ("shipped",),
        "our own quick",
    )
    assert (infos["beta"].description, infos["beta"].shadows) == ("beta from the file", ("env",))
    assert infos["reasoning"].source == "shipped"


def test_env_var_entry_that_does_not_exist_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(registry.ENV_VAR, str(tmp_path / "typo"))
    with pytest.raises(SuiteError, match=f"{registry.ENV_VAR}: .*typo does not exist"):
        registry.resolve("quick")  # never silently the shipped one


def run_benchmarks_cli(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    benchmarks_cli.add_arguments(parser)
    return benchmarks_cli.run(parser.parse_args(list(argv)))


def test_benchmarks_cli_lists_and_prints_a_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    suite_file(tmp_path / "lab" / "quick.toml", "our own quick " * 12)
    monkeypatch.setenv(registry.ENV_VAR, str(tmp_path / "lab"))
    assert run_benchmarks_cli() == 0
    out = capsys.readouterr().out
    assert "quick      (env; shadows the shipped one)" in out and "reasoning  (shipped)" in out
    assert str((tmp_path / "lab" / "quick.toml").resolve()) in out
    assert all(len(line) <= 100 for line in out.splitlines() if str(tmp_path) not in line)
    assert run_benchmarks_cli("reasoning") == 0
    assert capsys.readouterr().out == f"{(SHIPPED / 'reasoning.toml').resolve()}\n"
    assert run_benchmarks_cli("nope") == 2
    assert "error: unknown benchmark 'nope'" in capsys.readouterr().err


ENTRY_MODULE = """
from pathlib import Path

def lab_suite():
    return Path(__file__).parent / "lab_suites" / "lab.toml"

def clash():
    return Path(__file__).parent / "lab_suites" / "quick.toml"
"""


def test_entry_points_in_a_subprocess(tmp_path: Path) -> None:
    """A package installed with entry points (a dist-info on PYTHONPATH): a function giving a path, a plain path;
    it wins over a shipped name and loses to VMEVALKIT_BENCHMARKS."""
    site = tmp_path / "site"
    (site / "vmk_lab_bench").mkdir(parents=True)
    (site / "vmk_lab_bench" / "__init__.py").write_text(ENTRY_MODULE)
    suite_file(site / "vmk_lab_bench" / "lab_suites" / "lab.toml", "from the lab's package")
    suite_file(site / "vmk_lab_bench" / "lab_suites" / "quick.toml", "the lab's quick")
    plain = suite_file(tmp_path / "plain" / "plainly.json", "named by a path")
    env_reasoning = suite_file(tmp_path / "env" / "reasoning.toml", "the user's reasoning")
    dist = site / "vmk_lab_bench-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: vmk-lab-bench\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        "[vmevalkit.benchmarks]\n"
        "lab = vmk_lab_bench:lab_suite\n"
        "quick = vmk_lab_bench:clash\n"
        "reasoning = vmk_lab_bench:clash\n"
        f"plainly = {plain}\n"
        "broken = vmk_lab_bench:missing_function\n"
    )
    script = (
        "import json\n"
        "from vmevalkit.suites.registry import list_benchmarks, resolve\n"
        "infos = {i.name: [i.source, list(i.shadows), i.description, str(i.path)] for i in list_benchmarks()}\n"
        "print(json.dumps({'lab': str(resolve('lab')), 'quick': str(resolve('quick')), "
        "'reasoning': str(resolve('reasoning')), 'plainly': str(resolve('plainly')), 'infos': infos}))\n"
    )
    env = cli_env()
    env["PYTHONPATH"] = os.pathsep.join([str(site), env["PYTHONPATH"]])
    env[registry.ENV_VAR] = str(env_reasoning)
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout)
    lab_suites = (site / "vmk_lab_bench" / "lab_suites").resolve()
    assert got["lab"] == str(lab_suites / "lab.toml")
    assert got["quick"] == str(lab_suites / "quick.toml")  # entry point over shipped
    assert got["reasoning"] == str(env_reasoning.resolve())  # env over entry point over shipped
    assert got["plainly"] == str(plain.resolve())
    infos = got["infos"]
    assert infos["quick"][:3] == ["entry point", ["shipped"], "the lab's quick"]
    assert infos["reasoning"][:3] == ["env", ["entry point", "shipped"], "the user's reasoning"]
    assert infos["lab"][:3] == ["entry point", [], "from the lab's package"]
    # a broken entry point is listed with its error; it does not stop the listing
    assert infos["broken"][3] == "None" and "does not load" in infos["broken"][2]

    resolve_broken = "from vmevalkit.suites.registry import resolve\nresolve('broken')\n"
    failed = subprocess.run(
        [sys.executable, "-c", resolve_broken], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert failed.returncode == 1 and "SuiteError: benchmark 'broken' (entry point vmk_lab_bench:missing_function)" in (
        failed.stderr
    )

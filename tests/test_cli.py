"""The command line as a user runs it: real subprocesses, exit codes, messages."""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO, cli_env, run_generate

from vmevalkit.cli import generate
from vmevalkit.cli.main import COMMANDS, EXAMPLES, build_parser, example_parser
from vmevalkit.runner.inference import RunEvent
from vmevalkit.runner.records import read_record


def test_default_baselines_run_then_resume(questions: Path, tmp_path: Path) -> None:
    args = ("--model", "static-first-frame", "--task-id", "maze_0001", "maze_0002", "--questions-dir", str(questions))
    first = run_generate(*args, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    videos = sorted((tmp_path / "data" / "outputs" / "pilot" / "static-first-frame").rglob("*.mp4"))
    assert [v.parent.parent.parent.name for v in videos] == ["maze_0001", "maze_0002"]
    assert sorted(tmp_path.rglob("*.mp4")) == videos, "each video is written once, in its generation folder"
    second = run_generate(*args, cwd=tmp_path)
    assert second.returncode == 0
    assert "skipping 2 generation(s) already done" in second.stdout
    assert not [line for line in second.stdout.splitlines() if line.startswith("completed ")]


def test_failed_generations_give_exit_1_until_retried(questions: Path, tmp_path: Path) -> None:
    args = ("--model", "test-probe", "--domain", "sudoku", "--questions-dir", str(questions), "--output-dir", "o")
    failing = run_generate(*args, cwd=tmp_path, VMK_FAIL_TASKS="sudoku_0002")
    assert failing.returncode == 1
    assert "failed: test-probe sudoku_0002: planned failure for sudoku_0002" in failing.stderr
    still = run_generate(*args, cwd=tmp_path)
    assert still.returncode == 1, "a failed generation left in the experiment keeps the exit code non-zero"
    assert "use --retry-failed" in still.stdout
    retried = run_generate(*args, "--retry-failed", cwd=tmp_path)
    assert retried.returncode == 0, retried.stdout + retried.stderr
    run_dirs = [m.parent for m in (tmp_path / "o").rglob("metadata.json")]
    assert len(run_dirs) == 4 and all(read_record(d).status == "completed" for d in run_dirs)


def test_usage_errors_exit_2_with_the_fix(questions: Path, tmp_path: Path) -> None:
    q = ("--questions-dir", str(questions))
    unknown = run_generate("--model", "oracle-soluton", *q, cwd=tmp_path)
    assert unknown.returncode == 2 and "did you mean: oracle-solution" in unknown.stderr
    task = run_generate("--model", "oracle-solution", "--task-id", "maze_9999", *q, cwd=tmp_path)
    assert task.returncode == 2 and "task 'maze_9999' not found" in task.stderr
    no_model = run_generate(*q, cwd=tmp_path)
    assert no_model.returncode == 2 and "--list-models" in no_model.stderr
    no_dir = run_generate("--model", "oracle-solution", "--questions-dir", "missing", cwd=tmp_path)
    assert no_dir.returncode == 2 and "vmevalkit tasks build" in no_dir.stderr
    bad_limit = run_generate("--model", "oracle-solution", "--limit-per-domain", "0", *q, cwd=tmp_path)
    assert bad_limit.returncode == 2 and "--limit-per-domain: must be at least 1" in bad_limit.stderr
    bad_duration = run_generate("--model", "oracle-solution", "--duration", "0", *q, cwd=tmp_path)
    assert bad_duration.returncode == 2 and "--duration: must be positive" in bad_duration.stderr
    assert not (tmp_path / "data" / "outputs").exists(), "nothing runs when the command line is wrong"


def test_invalid_tasks_are_reported_and_the_rest_run(questions: Path, tmp_path: Path) -> None:
    (questions / "maze_task" / "maze_0003" / "first_frame.png").write_bytes(b"garbage")
    result = run_generate(
        "--model",
        "static-first-frame",
        "--domain",
        "maze",
        "--questions-dir",
        str(questions),
        "--output-dir",
        "o",
        cwd=tmp_path,
    )
    assert result.returncode == 1  # exit 0 means every selected generation completed; an invalid task is not
    assert "skipped task maze_0003" in result.stderr and "first_frame.png is not a readable image" in result.stderr
    assert "1 invalid task(s) skipped" in result.stderr
    assert len(list((tmp_path / "o").rglob("*.mp4"))) == 3


def test_dry_run_prints_the_plan_and_writes_nothing(questions: Path, tmp_path: Path) -> None:
    result = run_generate(
        "--model",
        "oracle-solution",
        "static-first-frame",
        "--limit-per-domain",
        "2",
        "--questions-dir",
        str(questions),
        "--dry-run",
        cwd=tmp_path,
    )
    assert result.returncode == 0
    assert "plan: 12 generations over 6 tasks" in result.stdout
    assert not (tmp_path / "data").exists()


def test_list_models_and_console_script(tmp_path: Path) -> None:
    listed = run_generate("--list-models", cwd=tmp_path)
    assert listed.returncode == 0 and "oracle-solution" in listed.stdout and "static-first-frame" in listed.stdout
    models = subprocess.run(
        [sys.executable, "-m", "vmevalkit", "models", "--json", "--kind", "builtin"],
        cwd=tmp_path,
        env=cli_env(),
        capture_output=True,
        text=True,
        check=True,
    )
    rows = {row["name"]: row for row in json.loads(models.stdout)}
    assert rows["oracle-solution"] == {
        "name": "oracle-solution",
        "family": "baselines",
        "kind": "builtin",
        "installed": True,
        "installed_as": "yes",
        "key_set": None,
        "description": rows["oracle-solution"]["description"],
        "retired": None,
    }


def test_tasks_build_and_list(tmp_path: Path) -> None:
    def vmevalkit(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "vmevalkit", *args],
            cwd=tmp_path,
            env=cli_env(),
            capture_output=True,
            text=True,
        )

    built = vmevalkit("tasks", "build", "--questions-dir", "q", "--domain", "maze", "--per-domain", "3", "--seed", "5")
    assert built.returncode == 0, built.stderr
    assert sorted(p.name for p in (tmp_path / "q" / "maze_task").iterdir()) == ["maze_0001", "maze_0002", "maze_0003"]
    unknown = vmevalkit("tasks", "build", "--questions-dir", "q2", "--domain", "sudoku", "mazes")
    assert not (tmp_path / "q2").exists()
    assert unknown.returncode == 2 and "unknown task domain 'mazes' (did you mean: maze?)" in unknown.stderr
    listed = vmevalkit("tasks", "--questions-dir", "q", "list")
    assert listed.returncode == 0 and "maze" in listed.stdout and "3" in listed.stdout
    generated = run_generate("--model", "oracle-solution", "--questions-dir", "q", cwd=tmp_path)
    assert generated.returncode == 0, generated.stderr


def test_experiment_names_cannot_escape_the_output_dir(questions: Path, tmp_path: Path) -> None:
    for name in ("../escape", "a/b", ".hidden"):
        result = run_generate(
            "--model", "oracle-solution", "--experiment", name, "--questions-dir", str(questions), cwd=tmp_path
        )
        assert result.returncode == 2 and "must be a plain folder name" in result.stderr
    assert not list(tmp_path.rglob("*.mp4"))


def test_console_script_is_installed(tmp_path: Path) -> None:
    script = Path(sys.executable).parent / "vmevalkit"
    assert script.is_file(), "pip install -e . installs the 'vmevalkit' console script"
    for command in ([str(script)], [sys.executable, "-m", "vmevalkit"]):
        result = subprocess.run(
            [*command, "models", "--json"], cwd=tmp_path, env=cli_env(), capture_output=True, text=True
        )
        assert result.returncode == 0, result.stderr
        assert "static-first-frame" in {row["name"] for row in json.loads(result.stdout)}
    bare = subprocess.run([str(script)], cwd=tmp_path, env=cli_env(), capture_output=True, text=True)
    assert bare.returncode == 2 and "generate" in bare.stdout


# -- one command: every subcommand, the examples, the install tools ----------------------------------------------

LOCAL_ACTIONS = ("status", "validate", "tiny", "fetch", "verify", "print-pins", "weights")
# Packages a model virtualenv does not have, and the heavy ones --help must never pay for.
HEAVY = ("numpy", "av", "torch", "PIL", "rich", "httpx", "tenacity", "pydantic_settings")


def test_every_subcommand_answers_help_without_heavy_imports() -> None:
    argvs = [["--help"], *([name, "--help"] for name in COMMANDS), *(["local", a, "--help"] for a in LOCAL_ACTIONS)]
    argvs += [["tasks", "build", "--help"]]
    code = (
        "import json, sys\n"
        "from vmevalkit.cli.main import main\n"
        "codes = []\n"
        "for argv in json.loads(sys.argv[1]):\n"
        "    try:\n        main(argv)\n    except SystemExit as exc:\n        codes.append(exc.code)\n"
        "print('RESULT=' + json.dumps([codes, sorted(sys.modules)]))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, json.dumps(argvs)], capture_output=True, text=True, env=cli_env(), check=True
    )
    codes, loaded = json.loads(out.stdout.split("RESULT=")[1])
    assert codes == [0] * len(argvs), out.stderr
    for argv in argvs[1:]:
        assert f"usage: vmevalkit {' '.join(argv[:-1])} " in out.stdout, argv
    for name in ("generate", "score", "report", "evaluate-scorers", "models", "tasks", "local", *LOCAL_ACTIONS):
        assert re.search(rf"^    {re.escape(name)}\b", out.stdout, re.MULTILINE), f"{name} is not listed in a --help"
    assert not {m for m in loaded if m.split(".")[0] in HEAVY}
    assert not {m for m in loaded if m.startswith(("vmevalkit.models.", "vmevalkit.scoring", "vmevalkit.video"))}


def _options(parser: argparse.ArgumentParser) -> list[tuple[Any, ...]]:
    return [
        (a.option_strings, a.dest, a.nargs, a.default, a.type, a.required, a.choices, a.metavar, a.help)
        for a in parser._actions
    ]


def _subparser(name: str) -> argparse.ArgumentParser:
    (sub,) = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    parser: argparse.ArgumentParser = sub.choices[name]
    return parser


@pytest.mark.parametrize(("script", "command"), sorted(EXAMPLES.items()))
def test_each_example_script_is_its_subcommand(script: str, command: str, tmp_path: Path) -> None:
    assert _options(example_parser(command, script)) == _options(_subparser(command))
    entry_point = f"{command.replace('-', '_')}_main"
    assert f"from vmevalkit.cli.main import {entry_point}" in (REPO / "examples" / script).read_text()

    def flags(argv: list[str]) -> tuple[set[str], str]:
        done = subprocess.run(argv, cwd=tmp_path, env=cli_env(), capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        description = done.stdout.split("\n\n")[1]
        return set(re.findall(r"(?<![\w-])--?[a-z][\w-]*", done.stdout)), " ".join(description.split())

    by_script = flags([sys.executable, str(REPO / "examples" / script), "--help"])
    by_command = flags([sys.executable, "-m", "vmevalkit", command, "--help"])
    assert by_script == by_command
    assert "--help" in by_script[0] and len(by_script[0]) > 3


def test_report_and_evaluate_scorers_usage_errors_are_the_same_either_way(tmp_path: Path) -> None:
    for script, command, args in (
        ("report.py", "report", ["--experiment", "../up"]),
        ("report.py", "report", ["--max-videos-per-model", "-1"]),
        ("evaluate_scorers.py", "evaluate-scorers", ["--scorer", "x"]),  # --labels is required
        ("evaluate_scorers.py", "evaluate-scorers", ["--labels", "l.jsonl", "-s", "x", "--confidence", "2"]),
    ):
        runs = [
            subprocess.run(argv, cwd=tmp_path, env=cli_env(), capture_output=True, text=True, timeout=60)
            for argv in (
                [sys.executable, str(REPO / "examples" / script), *args],
                [sys.executable, "-m", "vmevalkit", command, *args],
            )
        ]
        assert runs[0].returncode == runs[1].returncode == 2, (args, runs[0].stderr, runs[1].stderr)
        last = [r.stderr.strip().splitlines()[-1].split("error: ", 1)[1] for r in runs]
        assert last[0] == last[1], last


def test_evaluate_scorers_help_states_the_real_defaults() -> None:
    from vmevalkit.cli.evaluate_scorers import OUT_HELP
    from vmevalkit.scoring.meta_eval.agreement import BootstrapSettings
    from vmevalkit.scoring.meta_eval.outputs import DEFAULT_OUT_SUBDIR

    text = example_parser("evaluate-scorers", "evaluate_scorers.py").format_help()
    defaults = BootstrapSettings()
    for flag, value in (("confidence", defaults.confidence), ("resamples", defaults.resamples), ("seed", 0)):
        assert re.search(rf"--{flag} \w+\s+.*\(default: {value}\)", text), flag
    assert defaults.seed == 0
    assert OUT_HELP.endswith(f"<experiment>/{DEFAULT_OUT_SUBDIR})")


BLOCKER = """
import importlib.abc, runpy, sys
class Absent(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {heavy!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}} (not in a model venv)")
        return None
sys.meta_path.insert(0, Absent())
sys.argv[0] = "vmevalkit"
runpy.run_module("vmevalkit", run_name="__main__", alter_sys=True)
"""


def test_install_tools_run_with_the_stdlib_and_pydantic_only(tmp_path: Path) -> None:
    """``python -m vmevalkit local ...`` in a model venv: nothing of the main environment may be imported."""

    def local(*args: str) -> subprocess.CompletedProcess[str]:
        code = BLOCKER.format(heavy=set(HEAVY))
        env = {**cli_env(), "PYTHONPATH": str(REPO)}
        return subprocess.run(
            [sys.executable, "-c", code, "local", *args], cwd=tmp_path, env=env, capture_output=True, text=True
        )

    assert local("--help").returncode == 0
    pins = local("print-pins", "--weights-dir", str(tmp_path / "none"))
    assert pins.returncode == 0, pins.stderr
    assert "Traceback" not in pins.stderr
    unknown = local("tiny", "no-such-model", str(tmp_path / "tiny"))
    assert unknown.returncode == 2 and "'no-such-model' is not a local model or local scorer" in unknown.stderr
    assert not (tmp_path / "tiny").exists()
    blocked = local("status")  # the control: status reads settings and the registry, which a venv cannot import
    assert blocked.returncode != 0 and "(not in a model venv)" in blocked.stderr


def test_local_without_an_action_is_a_usage_error(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "vmevalkit", "local"], cwd=tmp_path, env=cli_env(), capture_output=True, text=True
    )
    assert done.returncode == 2 and "choose an action: vmevalkit local {status," in done.stderr


def test_local_validate_of_an_unknown_name_is_one_usage_error_line(tmp_path: Path) -> None:
    for name, kind in (("ltx-vide", "model"), ("static-first-frame", "local")):
        done = subprocess.run(
            [sys.executable, "-m", "vmevalkit", "local", "validate", name],
            cwd=tmp_path,
            env=cli_env(),
            capture_output=True,
            text=True,
        )
        assert done.returncode == 2, done.stderr
        assert "Traceback" not in done.stderr and done.stderr.startswith("error: "), done.stderr
        assert len(done.stderr.splitlines()) == 1, done.stderr
        if kind == "model":
            assert "unknown model 'ltx-vide'" in done.stderr and "ltx-video" in done.stderr  # did you mean
        else:
            assert "'static-first-frame' is not a local model" in done.stderr


# -- progress of running local jobs ----------------------------------------------------------------------------


def event(kind: str, task_id: str = "maze_0001", step: int = 0, error: str | None = None) -> RunEvent:
    return RunEvent(kind, "ltx-video", task_id, Path("/x"), error, step=step, total=30)  # type: ignore[arg-type]


def test_plain_lines_show_progress_at_most_once_per_job_per_interval(capsys: pytest.CaptureFixture[str]) -> None:
    now = [0.0]
    lines = generate.EventLines(interval=5.0, clock=lambda: now[0])
    for at, e in [
        (0.0, event("started")),
        (0.0, event("progress", step=1)),
        (1.0, event("progress", step=2)),  # too soon after step 1: dropped
        (1.0, event("progress", "maze_0002", step=1)),  # another job: its own clock
        (4.9, event("progress", step=9)),
        (5.0, event("progress", step=10)),
        (6.0, event("completed")),
        (6.5, event("progress", "maze_0002", step=7)),
        (6.6, event("failed", "maze_0002", error="out of memory")),
    ]:
        now[0] = at
        lines(e)
    assert capsys.readouterr().out.splitlines() == [
        "progress  ltx-video maze_0001: step 1/30",
        "progress  ltx-video maze_0002: step 1/30",
        "progress  ltx-video maze_0001: step 10/30",
        "completed ltx-video maze_0001",
        "progress  ltx-video maze_0002: step 7/30",
        "failed    ltx-video maze_0002: out of memory",
    ]


def test_the_progress_bar_counts_finished_jobs_only_and_shows_the_latest_step() -> None:
    label = generate.BarLabel()
    advanced = [label.update(e) for e in (event("started"), event("progress", step=3), event("progress", step=4))]
    assert advanced == [0, 0, 0]
    assert str(label) == "done 0  failed 0  skipped 0  (ltx-video maze_0001: step 4/30)"
    label.update(event("progress", "maze_[red]", step=1))
    assert str(label) == "done 0  failed 0  skipped 0  (ltx-video maze_\\[red]: step 1/30)"  # markup escaped
    assert label.update(event("completed", "maze_[red]")) == 1
    assert str(label).endswith("(ltx-video maze_0001: step 4/30)")  # the job still running
    assert [label.update(event(k)) for k in ("redo", "failed", "skipped_done", "busy")] == [0, 1, 1, 1]
    assert str(label) == "done 1  failed 1  skipped 2"


# -- plans, costs and tables at 80 columns (issue 12) ------------------------------------------------------------

KEYS = ("RUNWAYML_API_SECRET", "RUNWAYML_BASE_URL", "WAVESPEED_API_KEY")


def at_80_columns(*args: str, cwd: Path, command: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    """A command as a newcomer runs it: 80 columns, no key of any provider (nor a gateway), no .env."""
    env = {k: v for k, v in cli_env(COLUMNS="80").items() if k not in KEYS}
    cmd = [*command, *args] if command else [sys.executable, "-m", "vmevalkit", *args]
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=240)


def assert_fits(output: str) -> None:
    wide = [line for line in output.splitlines() if len(line) > 80]
    assert not wide, f"wider than 80 columns: {wide}"
    assert "…" not in output, "nothing is cut with an ellipsis"


def test_a_dry_run_without_keys_prices_every_model_and_marks_the_one_that_cannot_run(
    questions: Path, tmp_path: Path
) -> None:
    q = ("--questions-dir", str(questions), "--dry-run")
    result = at_80_columns("generate", "--model", "oracle-solution", "runway-gen4-turbo", *q, cwd=tmp_path)
    assert result.returncode == 1, result.stderr  # README: a dry run exits 1 when a requested model cannot run
    assert_fits(result.stdout)
    rows = {line.split()[0]: line.split() for line in result.stdout.splitlines() if line.startswith(("oracle", "run"))}
    assert rows["oracle-solution"][-3:] == ["12", "free", "ready"]
    assert rows["runway-gen4-turbo"][-4:] == ["0", "3.00", "no", "key"]  # 12 x 5 s x $0.05, though it cannot run
    words = " ".join(result.stdout.split())  # rich wraps long lines at 80 columns
    assert "$3.00 more for the model(s) that cannot run now" in words
    assert "dry run: nothing was generated; 12 generation(s) would run; 1 model(s) cannot run" in words
    assert "error: Set RUNWAYML_API_SECRET in .env to use runway-gen4-turbo" in result.stderr
    assert not (tmp_path / "data").exists()

    alone = at_80_columns("generate", "--model", "runway-gen4-turbo", *q, cwd=tmp_path)
    assert alone.returncode == 2, "no requested model can run: the exit code the real run gives"
    assert "runway-gen4-turbo" in alone.stdout and "3.00" in alone.stdout, "the plan and its cost are still shown"
    ready = at_80_columns("generate", "--model", "oracle-solution", *q, cwd=tmp_path)
    assert ready.returncode == 0 and "state" not in ready.stdout


def test_a_model_that_cannot_run_keeps_its_row_in_the_plan_and_the_summary(questions: Path, tmp_path: Path) -> None:
    names = ("oracle-solution", "wavespeed-wan-2-1-i2v-480p", "runway-gen3a-turbo")  # the longest name there is
    args = ("--task-id", "maze_0001", "--questions-dir", str(questions), "--output-dir", "o", "--no-progress")
    result = at_80_columns("generate", "--model", *names, *args, cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    assert_fits(result.stdout)
    plan, summary = result.stdout.split("summary")
    for table in (plan, summary):
        rows = {
            line.split()[0]: line.strip() for line in table.splitlines() if line.split() and line.split()[0] in names
        }
        assert set(rows) == set(names), table
        assert rows["wavespeed-wan-2-1-i2v-480p"].endswith("no key")
        assert rows["runway-gen3a-turbo"].endswith("retired")
    assert "not run: wavespeed-wan-2-1-i2v-480p: Set WAVESPEED_API_KEY" in result.stderr
    assert len(list((tmp_path / "o").rglob("*.mp4"))) == 1, "the model that can run ran"


def test_a_retired_model_says_so_before_asking_for_its_key(questions: Path, tmp_path: Path) -> None:
    q = ("--questions-dir", str(questions))
    for dry in ((), ("--dry-run",)):
        result = at_80_columns("generate", "--model", "runway-gen3a-turbo", *q, *dry, cwd=tmp_path)
        assert result.returncode == 2
        assert "Model 'runway-gen3a-turbo' is retired by its provider" in result.stderr
        assert "can be used by setting RUNWAYML_BASE_URL" in result.stderr  # the gateway hint
        assert "RUNWAYML_API_SECRET" not in result.stderr, "no key is asked for a model that cannot run anyway"


def test_models_fit_80_columns_with_a_retired_column(tmp_path: Path) -> None:
    listed = at_80_columns("models", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert_fits(listed.stdout)
    header = next(line for line in listed.stdout.splitlines() if line.startswith("name"))
    assert header.split()[-1] == "retired?"
    rows = {line.split()[0]: line.split() for line in listed.stdout.splitlines() if line.split()}
    from vmevalkit.runner.registry import get_entry, model_names

    for name in model_names():  # every name whole, and whether it is retired in its own column
        assert rows[name][-1] == ("yes" if get_entry(name).retired else "no"), name
    assert "description left out at 80 columns: widen the terminal, or --json" in listed.stdout

    local = at_80_columns("models", "--kind", "local", cwd=tmp_path)
    assert local.returncode == 0
    assert_fits(local.stdout)
    lines = [line for line in local.stdout.splitlines() if line.strip()]
    n_models = int(lines[0].split()[0])
    assert len(lines) == n_models + 4, local.stdout  # title, header, rule, a line per model, caption: no word per line


def test_models_show_descriptions_where_they_fit(tmp_path: Path) -> None:
    env = {**cli_env(COLUMNS="200")}
    wide = subprocess.run(
        [sys.executable, "-m", "vmevalkit", "models", "--kind", "api"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    row = next(line for line in wide.stdout.splitlines() if "runway-gen3a-turbo" in line)
    assert "Runway Gen-3 Alpha Turbo image-to-video" in row and "(retired)" not in row
    assert "left out" not in wide.stdout


@pytest.mark.parametrize("width", [60, 80, 100, 140])
def test_a_fitted_table_never_cuts_a_model_name_or_a_word(width: int) -> None:
    from rich.console import Console

    from vmevalkit.cli.common import print_table

    names = ["wavespeed-wan-2-1-i2v-480p", "oracle-solution"]
    headers = ["model", "completed", "failed", "done before", "failed before", "busy", "state"]
    rows = [[n, "12", "0", "3", "0", "0", "not installed"] for n in names]
    console = Console(width=width, color_system=None)
    with console.capture() as out:
        print_table(console, "summary", headers, rows, text=["state"])
    text = out.get()
    assert all(n in text for n in names)
    words = set(text.split())
    assert {"completed", "before", "busy", "installed"} <= words, text
    if width >= 80:
        assert max(len(line) for line in text.splitlines()) <= width


def scored_experiment(questions: Path, cwd: Path, models: tuple[str, ...]) -> subprocess.CompletedProcess[str]:
    """Two tasks generated by ``models`` in ``cwd/o`` and scored by task-verifier and frame-match, at 80 columns."""
    common = ("--output-dir", "o", "--no-progress")
    made = at_80_columns(
        "generate", "--model", *models, "--task-id", "maze_0001", "sudoku_0001", "--questions-dir", str(questions),
        *common, cwd=cwd,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    scored = at_80_columns("score", "--scorer", "task-verifier", "frame-match", *common, cwd=cwd)
    assert scored.returncode == 0, scored.stderr
    return scored


def test_report_prints_the_leaderboard_at_80_columns(questions: Path, tmp_path: Path) -> None:
    scored_experiment(questions, tmp_path, ("oracle-solution", "static-first-frame"))
    report = at_80_columns("report", "--output-dir", "o", cwd=tmp_path)
    assert report.returncode == 0, report.stderr
    board = report.stdout[report.stdout.index("leaderboard") : report.stdout.index("wrote ")]
    assert_fits(board)  # the lines around it are paths, as long as they are
    assert "leaderboard: mean of each scorer's main dimension, best task-verifier first" in report.stdout
    board, by_category = board.split("task-verifier task_success by category")
    rows = [line.strip("│ ").split() for line in board.splitlines() if line.startswith("│")]
    assert [row[0] for row in rows] == ["oracle-solution", "static-first-frame"], report.stdout
    assert rows[0][2] == "1" and rows[1][2] == "0", "task_success: the oracle passes, the static frame does not"
    # Then the first scorer by category (the experiment's domains, each in its own category): one column each.
    from vmevalkit.tasks.base import CATEGORIES

    cells = [
        [cell.strip() for cell in line.strip("│┃").split("│" if "│" in line else "┃")]
        for line in by_category.splitlines()
        if line.startswith(("│", "┃"))
    ]
    header, oracle, static = cells
    assert header[0] == "model" and len(header) > 2 and set(header[1:]) <= set(CATEGORIES), by_category
    assert oracle == ["oracle-solution"] + ["1"] * (len(header) - 1), by_category
    assert static == ["static-first-frame"] + ["0"] * (len(header) - 1), by_category
    # The files still listed, after the leaderboard: their folder once, then one short line per file.
    listing = report.stdout[report.stdout.index("wrote ") :].splitlines()
    assert listing[0].startswith("wrote ") and listing[0].endswith(str(Path("o", "pilot", "report")) + "/:"), listing
    names = [line.strip() for line in listing[1:]]
    assert {"metrics_summary.csv", "metrics_detail.csv", "metrics.json", "report.html"} <= set(names), listing
    assert all(line.startswith("  ") and len(line) <= 80 for line in listing[1:]), listing


def test_the_progress_bar_shows_an_eta(questions: Path, tmp_path: Path) -> None:
    import io

    from rich.console import Console

    from vmevalkit.runner.inference import InferenceRunner
    from vmevalkit.tasks.loader import load_tasks

    tasks = load_tasks(questions, task_ids=["maze_0001", "maze_0002"]).tasks
    runner = InferenceRunner(output_dir=tmp_path / "o")
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=80, color_system=None)
    summary = generate.run_with_progress(console, runner, runner.plan(["oracle-solution"], tasks), plain=False)
    assert summary.completed == 2
    final = [line for line in re.split(r"[\r\n]", out.getvalue()) if "2/2" in line][-1]
    assert re.search(r"2/2 \d:\d\d:\d\d eta \d:\d\d:\d\d", final), final  # elapsed, then the time left


def test_the_score_summary_fits_80_columns_with_every_header_and_name_whole(questions: Path, tmp_path: Path) -> None:
    models = ("oracle-solution", "static-first-frame")
    scored = scored_experiment(questions, tmp_path, models)
    assert_fits(scored.stdout)
    header = next(line for line in scored.stdout.splitlines() if "scorer" in line and "model" in line)
    assert [cell.strip() for cell in header.strip("┃").split("┃")] == [
        "scorer", "model", "videos", "scored", "up to date", "failed"
    ], header  # fmt: skip
    table_rows = [line for line in scored.stdout.splitlines() if line.startswith("│")]
    for model in models:  # a row in the counts of each scorer and in each scorer's means, the name whole
        assert sum(f" {model} " in row for row in table_rows) == 2 + 2, scored.stdout


def test_plain_lines_say_how_many_are_done_and_about_how_long_the_rest_takes(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """--no-progress (a log): each finished generation ends with its count and an ETA from the pace so far, as the
    progress bar's does; redone and skipped ones do not count, the last one has nothing left."""
    now = [100.0]
    lines = generate.EventLines(clock=lambda: now[0], to_run=3)
    for at, e in [
        (105.0, event("skipped_done", "maze_0009")),  # not run: neither printed nor counted
        (110.0, event("completed")),
        (115.0, event("redo", "maze_0002", error="the video was deleted")),
        (130.0, event("failed", "maze_0002", error="boom")),
        (3700.0, event("completed", "maze_0003")),
    ]:
        now[0] = at
        lines(e)
    assert capsys.readouterr().out.splitlines() == [
        "completed ltx-video maze_0001  (1/3 done, about 20 s left)",
        "redo      ltx-video maze_0002: the video was deleted",
        "failed    ltx-video maze_0002: boom  (2/3 done, about 15 s left)",
        "completed ltx-video maze_0003  (3/3 done)",
    ]
    texts = [generate.duration_text(s) for s in (0.2, 59, 61, 3500, 3599, 7500)]
    assert texts == ["1 s", "59 s", "1 min", "58 min", "1 h 0 min", "2 h 5 min"]

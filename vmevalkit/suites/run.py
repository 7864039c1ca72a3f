"""``vmevalkit run SUITE``: a suite from its datasets to a ranked result, resumably.

The steps, each resumable; a second run of a finished, unchanged suite does no work:
  1. the suite is loaded and checked (``schema.load_suite``), a name resolved through the registry;
  2. its datasets become one questions folder (``datasets.prepare_questions``), reused when unchanged;
  3. the plan: every (model, seed, task) generation, what is already done and what the rest would cost.
     ``--dry-run`` prints it and stops;
  4. generate: ``vmevalkit generate`` per model and seed, as a child process, only where the plan has work;
  5. score: ``vmevalkit score`` per suite scorer, only when the generations or the scorers changed since the
     last scoring that finished (the *fingerprint* of the plan's records and score files, kept in
     ``state.json``);
  6. report: ``vmevalkit report``, and
  7. the criteria over the planned generations' records and score files (``criteria.evaluate``), written as
     ``result.json``, ``metrics.json`` and ``leaderboard.csv``, only when the fingerprint moved since the last
     result;
  8. MLflow, when ``--mlflow`` or ``MLFLOW_TRACKING_URI`` asks for it.

Why child processes for steps 4 to 6: they are the same commands a user runs by hand, with their checks (a model
without its key is reported with the fix), crash safety (a killed generation is redone, a score file is whole or
absent) and exit codes. Their arguments are lists, never a shell line: a prompt or a path is data.

Everything the suite writes of its own lies in ``<output-dir>/<experiment>/suite/``. Each file is written
atomically, so a kill at any point leaves the previous file or the new one; the next run goes on from there.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vmevalkit.runner.inference import InferenceRunner, PlannedGeneration
from vmevalkit.scoring.runner import SCORES_DIR
from vmevalkit.settings import Settings, get_settings
from vmevalkit.suites import criteria, datasets, result, tracking
from vmevalkit.suites.schema import LoadedSuite, ModelSpec, ScorerSpec
from vmevalkit.tasks.loader import Task, load_tasks
from vmevalkit.utils.atomic import atomic_write_json, atomic_write_text
from vmevalkit.utils.redact import scrub

SUITE_DIR = "suite"  # under the experiment folder: questions/, state.json, result.json, metrics.json, ...
STATE_FILE = "state.json"
TASKS_FILE = "tasks.json"  # the questions folder's valid tasks, kept while the folder is unchanged
RESULT_FILE = "result.json"
METRICS_FILE = "metrics.json"
LEADERBOARD_FILE = "leaderboard.csv"
Say = Callable[[str], None]


class SuiteRunError(RuntimeError):
    """A stage could not finish; the message says which and how to resume."""


@dataclass(frozen=True)
class ModelPlan:
    """One model at one seed: its generations over every task."""

    spec: ModelSpec
    seed: int
    items: list[PlannedGeneration]
    runner: InferenceRunner

    @property
    def label(self) -> str:
        return f"{self.spec.name} (seed {self.seed})"

    def to_run(self) -> int:
        return sum(self.runner.will_run(item) for item in self.items)

    def done(self) -> int:
        return sum(item.state == "completed" and item.problem is None for item in self.items)

    def cost(self) -> float:
        return sum(
            float(i.spec.estimated_cost()) for i in self.items if self.runner.will_run(i) and i.state != "running"
        )


@dataclass
class SuitePlan:
    loaded: LoadedSuite
    settings: Settings
    experiment_dir: Path
    questions: datasets.PreparedQuestions
    tasks: list[Task]
    models: list[ModelPlan] = field(default_factory=list)

    @property
    def suite_dir(self) -> Path:
        return self.experiment_dir / SUITE_DIR

    def run_dirs(self) -> list[Path]:
        return [item.run_dir for plan in self.models for item in plan.items]


@dataclass(frozen=True)
class SuiteOutcome:
    exit_code: int
    result_path: Path | None
    leaderboard: criteria.Leaderboard | None
    did_work: bool  # False: every stage found itself done


# -- steps 1-3: the plan -------------------------------------------------------------------------------------------


def experiment_name(loaded: LoadedSuite) -> str:
    return loaded.suite.experiment or f"suite-{loaded.suite.name}"


def make_plan(loaded: LoadedSuite, output_dir: Path | None = None, *, offline: bool = False) -> SuitePlan:
    """Prepare the questions and plan every generation (nothing is generated)."""
    settings = get_settings()
    root = Path(output_dir) if output_dir is not None else Path(settings.output_dir)
    experiment_dir = root / experiment_name(loaded)
    prepared = datasets.prepare_questions(loaded, experiment_dir / SUITE_DIR, offline=offline)
    plan = SuitePlan(loaded, settings, experiment_dir, prepared, load_questions(prepared, experiment_dir / SUITE_DIR))
    for spec in loaded.suite.models:
        model_settings = settings
        if spec.checkpoint:  # as `generate --checkpoint MODEL=DIR` folds it in: the run ids must be the child's
            folder = Path(spec.checkpoint).expanduser().absolute()
            model_settings = settings.model_copy(update={"checkpoints": {**settings.checkpoints, spec.name: folder}})
        for seed in spec.seed_list:
            runner = InferenceRunner(
                experiment=experiment_name(loaded),
                output_dir=root,
                settings=model_settings,
                seed=seed,
                duration=loaded.suite.duration,
                params={key: as_cli_reads(param_text(value)) for key, value in spec.params.items()},
            )
            plan.models.append(ModelPlan(spec, seed, runner.plan([spec.name], plan.tasks), runner))
    return plan


def load_questions(prepared: datasets.PreparedQuestions, suite_dir: Path) -> list[Task]:
    """The valid tasks of the prepared questions folder.

    Loading validates every task, which decodes each image: seconds for thousands of tasks, on every run. The
    folder's manifest records a hash of every file's path, size and modification time when it was built and each
    time it is reused, so the tasks validated once are kept in ``tasks.json`` under that hash and read back while
    it holds (any edit to the folder changes it, and they are validated again)."""
    try:
        manifest = json.loads((prepared.questions_dir / datasets.MANIFEST).read_text(encoding="utf-8"))
        key = f"{manifest['key']}:{manifest['tree']}"
    except (OSError, ValueError, KeyError, TypeError):
        key = None
    cache = suite_dir / TASKS_FILE
    if key is not None:
        try:
            cached = json.loads(cache.read_text(encoding="utf-8"))
            if cached.get("key") == key:
                return [Task.model_validate(task) for task in cached["tasks"]]
        except (OSError, ValueError, KeyError, TypeError):
            pass  # no cache, or one that cannot be read: validate again
    tasks = list(load_tasks(prepared.questions_dir).tasks)
    if key is not None:
        atomic_write_json(cache, {"key": key, "tasks": [task.model_dump(mode="json") for task in tasks]})
    return tasks


def describe_plan(plan: SuitePlan) -> list[str]:
    """The plan as the dry run prints it: datasets, then one line per model and seed, then the totals."""
    suite = plan.loaded.suite
    lines = [f"suite {suite.name} {suite.version} ({plan.loaded.content_hash[:12]}) -> {plan.experiment_dir}"]
    for index, fingerprint in enumerate(plan.questions.datasets):
        lines.append(
            f"  dataset {index}: {fingerprint.get('kind')} {fingerprint.get('what', '')}, "
            f"{fingerprint.get('tasks', '?')} tasks"
        )
    lines.append(f"  {len(plan.tasks)} tasks, {len(suite.scorers)} scorer(s), {len(suite.criteria)} criteria")
    width = max((len(m.label) for m in plan.models), default=10)
    for model in plan.models:
        lines.append(
            f"  {model.label:<{width}}  {len(model.items):>6} generations  {model.done():>6} done  "
            f"{model.to_run():>6} to run  ${model.cost():.2f}"
        )
    total = sum(len(m.items) for m in plan.models)
    done = sum(m.done() for m in plan.models)
    to_run = sum(m.to_run() for m in plan.models)
    lines.append(
        f"  total: {total} generations, {done} done, {to_run} to run, about ${sum(m.cost() for m in plan.models):.2f}"
    )
    return lines


# -- fingerprints: has anything changed since a stage last finished? -------------------------------------------------


def fingerprint(plan: SuitePlan) -> str:
    """A hash of what scoring and the result read: every planned generation's state (as the plan read it from its
    record) and its suite score files (by size and modification time: one stat per file), and the suite's own
    content."""
    digest = hashlib.sha256(plan.loaded.content_hash.encode())
    names = [f"{os.sep}{SCORES_DIR}{os.sep}{scorer_file_name(spec)}.json" for spec in plan.loaded.suite.scorers]
    lines: list[str] = []
    for model in plan.models:
        for item in model.items:
            base = str(item.run_dir)  # plain strings: 40,000 pathlib objects would cost more than the stats
            lines.append(f"{base}|{item.state}|{item.problem}")
            for name in names:
                try:
                    stat = os.stat(base + name)
                except OSError:
                    lines.append(f"{name}|-")
                    continue
                lines.append(f"{name}|{stat.st_size}|{stat.st_mtime_ns}")
    digest.update("\n".join(lines).encode())
    return digest.hexdigest()


def scorer_file_name(spec: ScorerSpec) -> str:
    """The name the scoring runner writes this scorer's files under (a plug-in's: its declared name, else its class
    path; ``ScorerSpec`` defaults to that, and a suite naming it otherwise is told so by the missing files)."""
    return spec.name


def read_state(plan: SuitePlan) -> dict[str, Any]:
    try:
        data = json.loads((plan.suite_dir / STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def write_state(plan: SuitePlan, **values: Any) -> None:
    atomic_write_json(plan.suite_dir / STATE_FILE, {**read_state(plan), **values})


# -- steps 4-6: the child commands -----------------------------------------------------------------------------------


def param_text(value: Any) -> str:
    """A suite parameter as ``--param KEY=VALUE`` text: strings as they are, numbers and booleans as JSON."""
    return value if isinstance(value, str) else json.dumps(value)


def as_cli_reads(text: str) -> Any:
    """The value ``generate --param`` reads from ``text`` (JSON numbers and booleans, else the text): the plan
    made here must name the run folders the child process writes."""
    try:
        value = json.loads(text)
    except ValueError:
        return text
    return text if isinstance(value, (dict, list)) else value


def _vmevalkit(args: Sequence[str], say: Say) -> int:
    """Run ``python -m vmevalkit ARGS`` (a list: nothing is parsed by a shell), its output passed through."""
    say("$ vmevalkit " + " ".join(args))
    process = subprocess.run([sys.executable, "-m", "vmevalkit", *args], env=dict(os.environ), check=False)
    return process.returncode


def _child(args: Sequence[str], what: str, say: Say) -> bool:
    """Run one child command; True when it says something is not complete (exit 1). Ctrl-C in it (130) stops the
    suite as it stopped the child; a usage error (2) stops it too: nothing after it can be right."""
    code = _vmevalkit(args, say)
    if code == 130:
        raise KeyboardInterrupt
    if code == 2:
        raise SuiteRunError(f"{what} refused its arguments (exit 2): the error above says the fix")
    return code != 0


def _common(plan: SuitePlan) -> list[str]:
    return ["--output-dir", str(plan.experiment_dir.parent), "--experiment", plan.experiment_dir.name]


def generate(plan: SuitePlan, say: Say) -> tuple[bool, list[str]]:
    """Step 4: ``(did work, problems)``."""
    problems: list[str] = []
    worked = False
    for model in plan.models:
        if model.to_run() == 0:
            say(f"generate {model.label}: all {len(model.items)} done")
            continue
        worked = True
        args = ["generate", "--model", model.spec.name, "--seed", str(model.seed), "--no-progress"]
        args += ["--questions-dir", str(plan.questions.questions_dir), *_common(plan)]
        if plan.loaded.suite.duration is not None:
            args += ["--duration", repr(float(plan.loaded.suite.duration))]
        for key, value in model.spec.params.items():
            args += ["--param", f"{key}={param_text(value)}"]
        if model.spec.checkpoint:
            args += ["--checkpoint", f"{model.spec.name}={model.spec.checkpoint}"]
        if _child(args, f"generate {model.label}", say):
            problems.append(f"{model.label}: some generations are not completed")
    return worked, problems


def score(plan: SuitePlan, say: Say) -> tuple[bool, list[str]]:
    """Step 5: every suite scorer over the suite's models, when the fingerprint moved since the last scoring."""
    if read_state(plan).get("scored") == fingerprint(plan):
        say("score: nothing new to score")
        return False, []
    problems: list[str] = []
    models = list(dict.fromkeys(m.spec.name for m in plan.models))
    for spec in plan.loaded.suite.scorers:
        args = ["score", *(["--scorer", spec.name] if spec.class_path is None else [])]
        if spec.class_path is not None:
            args += ["--scorer-class-path", spec.class_path]
        if spec.init_kwargs:
            args += ["--scorer-init-kwargs-json", json.dumps(spec.init_kwargs)]
        if spec.score_kwargs:
            args += ["--scorer-score-kwargs-json", json.dumps(spec.score_kwargs)]
        args += ["--model", *models, "--no-progress", *_common(plan)]
        if _child(args, f"score {scorer_file_name(spec)}", say):
            problems.append(f"{scorer_file_name(spec)}: some generations could not be scored")
    if not problems:
        write_state(plan, scored=fingerprint(plan))
    return True, problems


def report(plan: SuitePlan, say: Say) -> list[str]:
    """Step 6: the experiment's report (report.html, the CSVs)."""
    return ["report: not written"] if _child(["report", *_common(plan)], "report", say) else []


# -- step 7: the criteria ------------------------------------------------------------------------------------------


def collect_items(plan: SuitePlan) -> list[criteria.Item]:
    """One item per planned generation: its state from the plan (which read its record), its scores from the suite's
    score files, read straight from the folders the plan names (no search, no video decoding) as plain JSON (the
    fields read here are few), so that 10,000 generations take a moment. A score file that cannot be read counts as
    missing."""
    from vmevalkit.tasks import DOMAINS, get_domain

    names = [f"{os.sep}{SCORES_DIR}{os.sep}{scorer_file_name(spec)}.json" for spec in plan.loaded.suite.scorers]
    categories = {domain: get_domain(domain).category for domain in DOMAINS}
    items: list[criteria.Item] = []
    for model in plan.models:
        for item in model.items:
            # The plan read each record already: completed, with its video where the record says.
            completed = item.state == "completed" and item.problem is None
            scores: dict[str, dict[str, float | None]] = {}
            base = str(item.run_dir)
            for name, suffix in zip(plan_scorer_names(plan), names, strict=True) if completed else ():
                score = _json_object(base + suffix)
                dimensions = score.get("dimensions")
                if score.get("error") is None and isinstance(dimensions, dict):
                    scores[name] = {str(k): _number(v) for k, v in dimensions.items()}
            task = item.spec.task
            items.append(
                criteria.Item(
                    model=model.spec.name,
                    task_id=task.task_id,
                    domain=task.domain,
                    category=task.metadata.get("category") or categories.get(task.domain),
                    seed=model.seed,
                    failed=not completed,
                    scores=scores,
                )
            )
    return items


def plan_scorer_names(plan: SuitePlan) -> list[str]:
    return [scorer_file_name(spec) for spec in plan.loaded.suite.scorers]


def _json_object(path: str) -> dict[str, Any]:
    try:
        with open(path, "rb") as handle:
            data = json.loads(handle.read())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _number(value: Any) -> float | None:
    """A score file's dimension: a finite number, else None (unscored), as ``ScoreRecord`` reads it."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    number = float(value)
    return number if number == number and abs(number) != float("inf") else None


def leaderboard_csv(board: criteria.Leaderboard) -> str:
    data = board.to_dict()
    names = data["criteria"]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["rank", "model", "composite", "ci_low", "ci_high", *names, *(f"{n}_passed" for n in names)])
    for row in data["models"]:
        ci = row.get("ci") or [None, None]
        values = [row["criteria"][n]["value"] for n in names]
        passed = [row["criteria"][n]["passed"] for n in names]
        writer.writerow([row["rank"], row["model"], row["composite"], ci[0], ci[1], *values, *passed])
    return out.getvalue()


def write_result(plan: SuitePlan, board: criteria.Leaderboard, say: Say, inputs: str | None = None) -> Path:
    """Step 7's files: result.json (last, with the fingerprint that says the others are written), metrics.json and
    leaderboard.csv, each atomically."""
    document = result.build_result(
        plan.loaded,
        plan.questions,
        board,
        models=[model_info(m) for m in plan.models],
        scorers=[s.model_dump(mode="json") for s in plan.loaded.suite.scorers],
        stages={"fingerprint": inputs or fingerprint(plan)},
    )
    metrics = result.flat_metrics(document)
    atomic_write_json(plan.suite_dir / METRICS_FILE, metrics)
    atomic_write_text(plan.suite_dir / LEADERBOARD_FILE, leaderboard_csv(board))
    atomic_write_json(plan.suite_dir / RESULT_FILE, document)  # last: its fingerprint says the rest is written
    say(board.table())
    return plan.suite_dir / RESULT_FILE


def model_info(model: ModelPlan) -> dict[str, Any]:
    entry = model.items[0].spec.entry if model.items else None
    return {
        "name": model.spec.name,
        "seed": model.seed,
        "params": {k: scrub(str(v)) if isinstance(v, str) else v for k, v in model.spec.params.items()},
        "checkpoint": model.spec.checkpoint,
        "catalog": entry.model_dump(mode="json", include={"service", "wrapper", "model", "family", "kind"})
        if entry is not None
        else None,
    }


def result_is_current(plan: SuitePlan, inputs: str) -> bool:
    """Whether result.json was made from exactly the records and score files whose fingerprint is ``inputs``."""
    try:
        data = json.loads((plan.suite_dir / RESULT_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    stages = data.get("stages") if isinstance(data, dict) else None
    return isinstance(stages, dict) and stages.get("fingerprint") == inputs


# -- all of it -------------------------------------------------------------------------------------------------------


def run_suite(
    loaded: LoadedSuite,
    *,
    output_dir: Path | None = None,
    mlflow: bool = False,
    say: Say = print,
) -> SuiteOutcome:
    """Steps 2-8 (step 1 is the caller's). Exit code 0: every generation completed and scored, the result written;
    1: the result is written but something is missing (the lines above say what)."""
    plan = make_plan(loaded, output_dir)
    for line in describe_plan(plan):
        say(line)
    generated, problems = generate(plan, say)
    if generated:
        plan = make_plan(loaded, output_dir)  # the records changed: the fingerprints below must see them
    scored, score_problems = score(plan, say)
    problems += score_problems
    did_work = generated or scored
    board: criteria.Leaderboard | None = None
    path = plan.suite_dir / RESULT_FILE
    inputs = fingerprint(plan)
    if result_is_current(plan, inputs):
        say(f"result: up to date ({path})")
    else:
        did_work = True
        problems += report(plan, say)
        board = criteria.evaluate(plan.loaded.suite, collect_items(plan))
        path = write_result(plan, board, say, inputs)
        say(f"result: {path}")
    uri = tracking.tracking_uri(mlflow, plan.experiment_dir.parent)
    if uri is not None:
        document = json.loads(path.read_text(encoding="utf-8"))
        artifacts = [plan.suite_dir / name for name in (RESULT_FILE, METRICS_FILE, LEADERBOARD_FILE)]
        report_dir = plan.experiment_dir / "report"
        # report.html and its CSVs (its own metrics.json is the report's, not the suite's: one name, one file)
        artifacts += sorted(p for p in report_dir.glob("*") if p.suffix in (".html", ".csv"))
        info = tracking.log_suite(document, result.flat_metrics(document), artifacts, uri, plan.experiment_dir.name)
        say(f"mlflow: run {info.parent_run_id} at {scrub(info.uri)}")
    for problem in problems:
        say(f"not complete: {problem}")
    return SuiteOutcome(1 if problems else 0, path, board, did_work)

"""The ray engine on real local Ray clusters (CPU only, fake GPUs): generation and scoring spread over actors.

Most tests share one two-node cluster per test process (``shared``, ``ray.cluster_utils.Cluster``: each node with its
own raylet and object store, on this machine): the head has 4 fake GPUs but declares GPU memory for two workers of
the local test model; the second node has 4 GPUs and no installs (its ``VMEVALKIT_ENVS_DIR`` leads nowhere, and
``VMK_NO_SCORER`` keeps the plug-in scorer from being built there), as a node missing its venvs would. The node
removal test has its own cluster, the suite test lets ``vmevalkit run`` start its own instance. The real CLI is the
driver (``RAY_ADDRESS``). GPUs are fake (``num_gpus``): Ray hands them out and sets ``CUDA_VISIBLE_DEVICES``, and the
local test model's worker (tests/plugins/vmk_test_local.py, no torch) logs what it was given. Nodes inherit the
environment they start in, so the test plugins (PYTHONPATH), the call log and the gate file reach every actor and
worker; each test reads only the log lines written since it began.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from conftest import PLUGINS, cli_env, generate_cmd, make_fake_venv, run_generate, run_score

from vmevalkit.runner.records import read_record

GPU_MEMORY = "vmevalkit_gpu_memory_gb"
STORE = 75 * 2**20  # Ray's least object store
NODE: dict[str, Any] = {"num_cpus": 2, "object_store_memory": STORE}
# Node failures noticed in about a second, not Ray's default fifteen: the node-removal test waits on it.
FAST_FAILURE = {"health_check_initial_delay_ms": 0, "health_check_period_ms": 300, "health_check_failure_threshold": 3}


@contextmanager
def cluster(*nodes: dict[str, Any]) -> Iterator[Any]:
    """A head node with ``nodes[0]``'s resources and one more node per further entry."""
    from ray.cluster_utils import Cluster

    head = {**NODE, **nodes[0], "_system_config": FAST_FAILURE}
    started = Cluster(initialize_head=True, head_node_args=head)
    try:
        for extra in nodes[1:]:
            started.add_node(**{**NODE, **extra})
        started.wait_for_nodes()
        yield started
    finally:
        started.shutdown()


@dataclass
class Nodes:
    """A running cluster and the files its actors share with the test: the call log, the gate, spill folders."""

    cluster: Any
    log: Path
    gate: Path
    spills: tuple[Path, ...] = ()

    @property
    def address(self) -> str:
        return str(self.cluster.address)

    @property
    def head_id(self) -> str:
        return str(self.cluster.head_node.node_id)

    def calls(self, since: int = 0) -> list[dict[str, Any]]:
        lines = self.log.read_text().splitlines() if self.log.exists() else []
        return [json.loads(line) for line in lines[since:]]


@contextmanager
def node_environment(root: Path) -> Iterator[tuple[Path, Path]]:
    """What nodes started inside inherit: the test plugins, the call log and the gate file."""
    log, gate = root / "calls.jsonl", root / "gate"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(PLUGINS), os.environ.get("PYTHONPATH", "")])))
        mp.setenv("VMK_CALL_LOG", str(log))
        mp.setenv("VMK_GATE_FILE", str(gate))
        yield log, gate


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Nodes]:
    root = tmp_path_factory.mktemp("ray-shared")
    spills = (root / "spill-head", root / "spill-node")
    no_installs = {"VMEVALKIT_ENVS_DIR": str(root / "no-envs"), "VMK_NO_SCORER": "1"}
    with node_environment(root) as (log, gate), cluster(
        {"num_gpus": 4, "resources": {GPU_MEMORY: 2}, "object_spilling_directory": str(spills[0])},
        {"num_gpus": 4, "resources": {GPU_MEMORY: 64}, "object_spilling_directory": str(spills[1]),
         "env_vars": no_installs},
    ) as c:  # fmt: skip
        yield Nodes(c, log, gate, spills)


def records(root: Path) -> dict[str, Any]:
    found = {}
    for meta in root.rglob("metadata.json"):
        record = read_record(meta.parent)
        assert record is not None
        found[str(meta.parent.relative_to(root))] = record
    return found


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def wait_for(condition: Any, what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_baselines_on_ray_match_the_local_engine(tmp_path: Path, questions: Path, shared: Nodes) -> None:
    """Same run ids, same videos and same scores as the local engine; the work spread over both nodes."""
    out = tmp_path / "out"
    common = ["--model", "static-first-frame", "oracle-solution", "--questions-dir", str(questions)]
    common += ["--domain", "maze", "sudoku", "--limit-per-domain", "1", "--output-dir", str(out), "--no-progress"]
    local = run_generate(*common, "--experiment", "local", cwd=tmp_path)
    assert local.returncode == 0, local.stderr
    ray_env = {"RAY_ADDRESS": shared.address, "VMEVALKIT_RAY_ACTORS": "2"}  # spread: one actor on each node
    done = run_generate(*common, "--experiment", "ray", "--engine", "ray", cwd=tmp_path, **ray_env)
    assert done.returncode == 0, done.stderr + done.stdout
    assert "per node" in done.stdout
    env = cli_env(**ray_env)
    for experiment, engine in (("local", []), ("ray", ["--engine", "ray"])):
        scored = run_score(
            "--scorer", "task-verifier", "--experiment", experiment, "--output-dir", str(out),
            "--no-progress", *engine, cwd=tmp_path, env=env,
        )  # fmt: skip
        assert scored.returncode == 0, scored.stderr + scored.stdout
    by_engine = {name: records(out / name) for name in ("local", "ray")}
    assert set(by_engine["local"]) == set(by_engine["ray"]) and len(by_engine["ray"]) == 4  # same run ids
    nodes = set()
    for rel, record in by_engine["ray"].items():
        twin = by_engine["local"][rel]
        assert record.status == twin.status == "completed"
        assert record.video_sha256 == twin.video_sha256 == sha256(out / "ray" / rel / record.video)
        placement = record.result.metadata["placement"]
        assert placement["engine"] == "ray" and placement["attempts"] == 1 and placement["gpus"] == []
        nodes.add(placement["node_id"])
        assert "placement" not in twin.result.metadata
        ours = json.loads((out / "ray" / rel / "scores" / "task-verifier.json").read_text())
        theirs = json.loads((out / "local" / rel / "scores" / "task-verifier.json").read_text())
        assert ours["error"] is None and ours["dimensions"] == theirs["dimensions"]
        assert ours["details"] == theirs["details"]  # every move the verifier read, the same
    assert len(nodes) == 2  # both nodes generated


@pytest.fixture
def local_model(tmp_path: Path, questions: Path) -> dict[str, str]:
    """The local test model: a real worker process in a fake venv, loading a checkpoint folder."""
    envs = tmp_path / "envs"
    make_fake_venv(envs, "test-local")
    checkpoint = tmp_path / "ckpt"
    checkpoint.mkdir()
    (checkpoint / "model_index.json").write_text('{"_class_name": "TestPipeline"}')
    return {
        "VMEVALKIT_ENVS_DIR": str(envs),
        "VMEVALKIT_CHECKPOINTS": json.dumps({"test-local": str(checkpoint)}),
        "VMEVALKIT_QUESTIONS_DIR": str(questions),
    }


def test_local_model_on_fake_gpus_within_gpu_memory_skipping_a_node_without_its_venv(
    tmp_path: Path, questions: Path, local_model: dict[str, str], shared: Nodes
) -> None:
    """Workers pinned to the GPUs Ray gave their actors, two on the head (its declared GPU memory), none on the node
    without the venv; a job that crashes every worker fails after VMEVALKIT_RAY_MAX_ATTEMPTS attempts."""
    shared.gate.unlink(missing_ok=True)
    before = len(shared.calls())
    for prompt in questions.glob("maze_task/*/prompt.txt"):  # held at the gate: both head workers busy at once
        prompt.write_text("VMK_GATE " + prompt.read_text())
    (questions / "maze_task" / "maze_0001" / "prompt.txt").write_text("VMK_CRASH: solve the maze")
    command = generate_cmd(
        "--model", "test-local", "--domain", "maze", "--output-dir", str(tmp_path / "out"), "--no-progress",
        "--engine", "ray",
    )  # fmt: skip
    # An overall limit of 1 job in flight does not hold the cluster back: Ray jobs are bounded by their actors.
    env = cli_env(RAY_ADDRESS=shared.address, VMEVALKIT_MAX_CONCURRENCY="1", VMEVALKIT_RAY_MAX_ATTEMPTS="2")
    run = subprocess.Popen(
        command, cwd=tmp_path, env={**env, **local_model}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    gated = lambda: [e for e in shared.calls(before) if e["event"] == "predict" and "VMK_GATE" in e["prompt"]]  # noqa: E731
    wait_for(lambda: len(gated()) >= 2, "both head workers holding a job")
    shared.gate.touch()
    stdout, stderr = run.communicate(timeout=180)
    assert run.returncode == 1, stderr + stdout  # the crashing job failed
    found = {r.task_id: r for r in records(tmp_path / "out").values()}
    crashed = found.pop("maze_0001")
    assert crashed.status == "failed" and "after 2 attempts" in crashed.error
    assert len(found) == 3 and all(r.status == "completed" for r in found.values())
    log = shared.calls(before)
    assert len([e for e in log if e["event"] == "predict" and "VMK_CRASH" in e["prompt"]]) == 2  # not forever
    loads = {e["pid"]: e for e in log if e["event"] == "load"}
    gpus = set()
    for record in found.values():
        placement = record.result.metadata["placement"]
        assert placement["node_id"] == shared.head_id  # the other node has no venv: its actors were dropped
        assert [loads[record.result.metadata["worker"]["pid"]]["cuda_visible_devices"]] == placement["gpus"]
        gpus.add(tuple(placement["gpus"]))
    assert len(gpus) == 2  # two workers, on two GPUs: all the head's declared GPU memory holds of this model
    assert "per node" in stdout and " GPU " in stdout


def start_gated(tmp_path: Path, questions: Path, address: str, *args: str) -> subprocess.Popen[str]:
    command = generate_cmd(
        "--model", "test-gated", "--questions-dir", str(questions), "--output-dir", str(tmp_path / "out"),
        "--no-progress", "--engine", "ray", *args,
    )  # fmt: skip
    return subprocess.Popen(
        command, cwd=tmp_path, env=cli_env(RAY_ADDRESS=address), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip


def check_each_completed_once(
    tmp_path: Path, log: list[dict[str, Any]], stdout: str, domain: str, tasks: int
) -> dict[str, Any]:
    found = {r.task_id: r for r in records(tmp_path / "out").values() if r.domain == domain}
    assert len(found) == tasks and all(r.status == "completed" and r.attempts == 1 for r in found.values())
    ours = f"{domain}_"
    lines = [line.split() for line in stdout.splitlines() if line.startswith("completed ")]
    completed = Counter(words[2] for words in lines if words[2].startswith(ours))
    assert completed == dict.fromkeys(found, 1)  # each generation completed exactly once
    finished = Counter(e["task_id"] for e in log if e["event"] == "done" and e["task_id"].startswith(ours))
    assert finished == dict.fromkeys(found, 1)  # and each video was made once: a lost job never finished
    return found


def test_a_node_removed_mid_run_its_jobs_complete_elsewhere_exactly_once(tmp_path: Path, questions: Path) -> None:
    with node_environment(tmp_path) as (log, gate), cluster({}, {}) as c:
        nodes = Nodes(c, log, gate)
        worker_node = c.list_all_nodes()[1]
        run = start_gated(tmp_path, questions, c.address, "--domain", "maze", "sudoku", "--limit-per-domain", "3")
        # Four actors (two CPUs a node), each holding a job at the gate.
        wait_for(lambda: sum(e["event"] == "start" for e in nodes.calls()) >= 4, "four jobs in flight")
        c.remove_node(worker_node)
        gate.touch()  # the head's jobs finish; the removed node's go back to the queue once their loss is noticed
        stdout, stderr = run.communicate(timeout=180)
        assert run.returncode == 0, stderr + stdout
        found = {**check_each_completed_once(tmp_path, nodes.calls(), stdout, "maze", 3)}
        found.update(check_each_completed_once(tmp_path, nodes.calls(), stdout, "sudoku", 3))
    retried = [r for r in found.values() if r.result.metadata["placement"]["attempts"] == 2]
    assert len(retried) == 2  # the two jobs of the removed node
    assert all("the actor was lost" in r.result.metadata["placement"]["lost"][0] for r in retried)


def test_a_killed_actor_its_job_is_retried_then_a_killed_driver_resumes(
    tmp_path: Path, questions: Path, shared: Nodes
) -> None:
    shared.gate.unlink(missing_ok=True)
    before = len(shared.calls())
    # An actor killed under its job: the job runs again on another actor, and completes once.
    run = start_gated(tmp_path, questions, shared.address, "--domain", "maze", "--limit-per-domain", "3")
    wait_for(lambda: sum(e["event"] == "start" for e in shared.calls(before)) >= 2, "two jobs in flight")
    victim = next(e for e in shared.calls(before) if e["event"] == "start")
    os.kill(victim["pid"], signal.SIGKILL)  # the actor's own process: a builtin model runs inside it
    time.sleep(1)
    shared.gate.touch()
    stdout, stderr = run.communicate(timeout=180)
    assert run.returncode == 0, stderr + stdout
    found = check_each_completed_once(tmp_path, shared.calls(before), stdout, "maze", 3)
    assert found[victim["task_id"]].result.metadata["placement"]["attempts"] == 2

    # The driver killed mid-run: its actors go with it, and the same command resumes from the store.
    shared.gate.unlink()
    before = len(shared.calls())
    run = start_gated(tmp_path, questions, shared.address, "--domain", "sudoku", "--limit-per-domain", "3")
    wait_for(lambda: sum(e["event"] == "start" for e in shared.calls(before)) >= 2, "two jobs in flight")
    run.kill()
    run.communicate(timeout=60)
    orphans = [e["pid"] for e in shared.calls(before) if e["event"] == "start"]
    wait_for(lambda: not any(alive(pid) for pid in orphans), "the dead driver's actors to go")
    shared.gate.touch()
    again = start_gated(tmp_path, questions, shared.address, "--domain", "sudoku", "--limit-per-domain", "3")
    stdout, stderr = again.communicate(timeout=180)
    assert again.returncode == 0, stderr + stdout
    resumed = {r.task_id: r for r in records(tmp_path / "out").values() if r.domain == "sudoku"}
    assert len(resumed) == 3 and all(r.status == "completed" for r in resumed.values())
    assert sum(r.attempts == 2 for r in resumed.values()) >= 2  # the jobs the dead driver had started, redone
    finished = Counter(e["task_id"] for e in shared.calls(before) if e["event"] == "done")
    assert finished == dict.fromkeys(resumed, 1)  # each made once: nothing of the dead driver's finished


def spilled(directories: tuple[Path, ...]) -> int:
    return sum(1 for d in directories if d.exists() for p in d.rglob("*") if p.is_file())


def test_videos_do_not_pile_up_in_the_object_store(tmp_path: Path, questions: Path, shared: Nodes) -> None:
    """12 videos of about 8 MB each (about 95 MB) from one actor, through object stores of 75 MB (Ray's least): each
    is freed once written, so no store fills and Ray never spills an object to disk. The same bytes held at once
    (the control) do spill."""
    import ray

    before = spilled(shared.spills)
    done = run_generate(
        "--model", "test-large", "--questions-dir", str(questions), "--output-dir", str(tmp_path / "out"),
        "--no-progress", "--engine", "ray", cwd=tmp_path, RAY_ADDRESS=shared.address, VMEVALKIT_RAY_ACTORS="1",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr + done.stdout
    found = records(tmp_path / "out")
    assert len(found) == 12 and sum(r.video_size for r in found.values()) > 80 * 2**20
    assert spilled(shared.spills) == before
    # The control: the same amount held at once by a driver overflows the store, and Ray spills.
    ray.init(address=shared.address, include_dashboard=False, log_to_driver=False)
    try:
        held = [ray.put(os.urandom(8 * 2**20)) for _ in range(12)]
        wait_for(lambda: spilled(shared.spills) > before, "the control to spill", timeout=60)
        del held
    finally:
        ray.shutdown()


def test_scoring_actors_a_lost_actor_is_retried_and_a_node_without_the_scorer_is_skipped(
    tmp_path: Path, questions: Path, shared: Nodes
) -> None:
    out = tmp_path / "out"
    done = run_generate(
        "--model", "static-first-frame", "--domain", "maze", "--questions-dir", str(questions), "--output-dir",
        str(out), "--no-progress", cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    died_once = tmp_path / "died-once"
    env = cli_env(RAY_ADDRESS=shared.address, VMEVALKIT_RAY_ACTORS="2")
    kwargs = {"die_task_ids": ["maze_0002"], "once_file": str(died_once)}

    # The second node cannot build the scorer: its actors are dropped and the head scores everything.
    # maze_0002 kills the actor that scores it, once: its batch runs again on another actor.
    before = len(shared.calls())
    scored = run_score(
        "--scorer-class-path", "vmk_test_scorers:DiesInChild", "--scorer-init-kwargs-json", json.dumps(kwargs),
        "--output-dir", str(out), "--no-progress", "--engine", "ray", cwd=tmp_path, env=env,
    )  # fmt: skip
    assert scored.returncode == 0, scored.stderr + scored.stdout
    scores = [json.loads(p.read_text()) for p in out.rglob("scores/dies.json")]
    assert died_once.exists() and len(scores) == 4 and all(r["error"] is None for r in scores)
    assert [e["event"] for e in shared.calls(before) if e["event"] == "died"] == ["died"]  # once, then retried
    assert any(e["event"] == "refused" for e in shared.calls(before))


def test_engine_errors_name_the_fix(tmp_path: Path, questions: Path) -> None:
    common = ["--model", "static-first-frame", "--questions-dir", str(questions), "--output-dir", str(tmp_path)]
    # No cluster at that address: a usage error before any work.
    done = run_generate(*common, "--engine", "ray", "--ray-address", "127.0.0.1:9", cwd=tmp_path, timeout=180)
    assert done.returncode == 2 and "ray start --head" in done.stderr, done.stderr
    assert not list(tmp_path.rglob("metadata.json"))
    # --ray-address without the ray engine.
    done = run_generate(*common, "--ray-address", "127.0.0.1:9", cwd=tmp_path)
    assert done.returncode == 2 and "--ray-address applies to --engine ray" in done.stderr
    # A dry run plans without a cluster.
    done = run_generate(*common, "--engine", "ray", "--dry-run", cwd=tmp_path)
    assert done.returncode == 0 and "would run" in done.stdout


SUITE = """
name = "tiny-ray"
version = "1"
description = "two maze tasks, two baselines"
duration = 1.0

[[datasets]]
kind = "generated"
domains = ["maze"]
count = 2
seed = 3

[[models]]
name = "oracle-solution"

[[models]]
name = "static-first-frame"

[[scorers]]
name = "task-verifier"

[[criteria]]
name = "success"
metric = "task-verifier.task_success"
goal = "max"
"""


def test_a_suite_runs_on_ray_every_child_joining_one_cluster(tmp_path: Path) -> None:
    """``vmevalkit run SUITE --engine ray`` with no address: the suite starts one Ray instance of its own and its
    generate and score children join it (none starts another); the oracle ranks first."""
    (tmp_path / "tiny.toml").write_text(SUITE)
    done = subprocess.run(
        [sys.executable, "-m", "vmevalkit", "run", str(tmp_path / "tiny.toml"), "--output-dir", str(tmp_path / "out"),
         "--engine", "ray"],
        cwd=tmp_path, env=cli_env(), capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    found = records(tmp_path / "out")
    assert len(found) == 4 and all(r.status == "completed" for r in found.values())
    nodes = {r.result.metadata["placement"]["node_id"] for r in found.values()}
    assert len(nodes) == 1  # the one instance the suite started, joined by each model's generate child
    result = json.loads((tmp_path / "out" / "suite-tiny-ray" / "suite" / "result.json").read_text())
    ranked = [row["model"] for row in result["leaderboard"]["models"]]
    assert ranked == ["oracle-solution", "static-first-frame"], ranked

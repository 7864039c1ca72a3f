"""The ray engine on real local Ray clusters (CPU only, fake GPUs): generation and scoring spread over actors.

Each test starts its own cluster with ``ray.cluster_utils.Cluster`` (a head node plus, where a test needs them, more
nodes on this machine, each with its own raylet and object store) and runs the real CLI as the driver against it
(``RAY_ADDRESS``). GPUs are fake (``num_gpus``): Ray hands them out and sets ``CUDA_VISIBLE_DEVICES``, and the local
test model's worker (tests/plugins/vmk_test_local.py, no torch) logs what it was given. The nodes inherit this
process's environment when they start, so the test plugins (PYTHONPATH) and the call log reach the actors.
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
from pathlib import Path
from typing import Any

import pytest
from conftest import PLUGINS, cli_env, generate_cmd, make_fake_venv, run_generate, run_score

from vmevalkit.runner.records import read_record

GPU_MEMORY = "vmevalkit_gpu_memory_gb"
NODE: dict[str, Any] = {"num_cpus": 2, "object_store_memory": 80 * 2**20}
# Node failures noticed in about a second, not Ray's default fifteen: the node-removal test waits on it.
FAST_FAILURE = {"health_check_initial_delay_ms": 0, "health_check_period_ms": 300, "health_check_failure_threshold": 3}


@pytest.fixture
def node_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, str]:
    """What the nodes (and so every actor and worker) inherit: the test plugins and the call log."""
    values = {
        "PYTHONPATH": os.pathsep.join(filter(None, [str(PLUGINS), os.environ.get("PYTHONPATH", "")])),
        "VMK_CALL_LOG": str(tmp_path / "calls.jsonl"),
        "VMK_GATE_FILE": str(tmp_path / "gate"),
    }
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    return values


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


def calls(node_env: dict[str, str]) -> list[dict[str, Any]]:
    path = Path(node_env["VMK_CALL_LOG"])
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


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


def test_baselines_on_ray_match_the_local_engine(tmp_path: Path, questions: Path, node_env: dict[str, str]) -> None:
    """Same run ids, same videos and same scores as the local engine; the work spread over both nodes."""
    out = tmp_path / "out"
    common = ["--model", "static-first-frame", "oracle-solution", "--questions-dir", str(questions)]
    common += ["--domain", "maze", "sudoku", "--limit-per-domain", "1", "--output-dir", str(out), "--no-progress"]
    local = run_generate(*common, "--experiment", "local", cwd=tmp_path)
    assert local.returncode == 0, local.stderr
    with cluster({}, {}) as c:
        ray_env = {"RAY_ADDRESS": c.address, "VMEVALKIT_RAY_ACTORS": "2"}  # spread: one actor on each node
        done = run_generate(*common, "--experiment", "ray", "--engine", "ray", cwd=tmp_path, **ray_env)
        assert done.returncode == 0, done.stderr + done.stdout
        assert "per node" in done.stdout
        env = cli_env(**ray_env)
        for experiment, engine in (("local", []), ("ray", ["--engine", "ray"])):
            scored = run_score(
                "--scorer", "frame-match", "task-verifier", "--experiment", experiment, "--output-dir", str(out),
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
        for scorer in ("frame-match", "task-verifier"):
            ours = json.loads((out / "ray" / rel / "scores" / f"{scorer}.json").read_text())
            theirs = json.loads((out / "local" / rel / "scores" / f"{scorer}.json").read_text())
            assert ours["error"] is None and ours["dimensions"] == theirs["dimensions"]
            assert ours["details"] == theirs["details"]
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


def test_local_model_on_fake_gpus_one_worker_per_gpu_within_gpu_memory(
    tmp_path: Path, questions: Path, local_model: dict[str, str], node_env: dict[str, str]
) -> None:
    """One actor per GPU that has the model's memory; each loads one worker pinned to the GPU Ray gave it."""
    for prompt in questions.glob("*_task/*/prompt.txt"):  # every job waits at the gate: one job per actor at once
        prompt.write_text("VMK_GATE " + prompt.read_text())
    # The head has 4 GPUs but declares GPU memory for 2 workers of this model (1 GB each); the other node, 4.
    with cluster({"num_gpus": 4, "resources": {GPU_MEMORY: 2}}, {"num_gpus": 4, "resources": {GPU_MEMORY: 64}}) as c:
        head_id = c.head_node.node_id
        command = generate_cmd(
            "--model", "test-local", "--limit-per-domain", "2", "--output-dir", str(tmp_path / "out"),
            "--no-progress", "--engine", "ray",
        )  # fmt: skip
        env = cli_env(RAY_ADDRESS=c.address, **local_model)
        run = subprocess.Popen(
            command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        wait_for(lambda: sum(e["event"] == "predict" for e in calls(node_env)) >= 6, "six jobs on six GPUs")
        Path(node_env["VMK_GATE_FILE"]).touch()
        stdout, stderr = run.communicate(timeout=180)
    assert run.returncode == 0, stderr + stdout
    found = records(tmp_path / "out")
    assert len(found) == 6 and all(r.status == "completed" for r in found.values())
    loads = {c["pid"]: c for c in calls(node_env) if c["event"] == "load"}
    assert len(loads) == 6  # six actors, one worker each: never more than the jobs
    places = Counter()
    for record in found.values():
        placement = record.result.metadata["placement"]
        worker = loads[record.result.metadata["worker"]["pid"]]
        assert [worker["cuda_visible_devices"]] == placement["gpus"]  # the worker runs on the actor's GPU
        places[(placement["node_id"], tuple(placement["gpus"]))] += 1
    assert len(places) == 6  # six distinct GPUs, one job each
    assert len([gpus for node, gpus in places if node == head_id]) == 2  # the head's GPU memory holds two
    assert "per node" in stdout and stdout.count(" GPU ") >= 6


def test_a_node_that_cannot_load_and_a_job_that_crashes_every_worker(
    tmp_path: Path, questions: Path, local_model: dict[str, str], node_env: dict[str, str]
) -> None:
    """The model runs on the node that has it; the crashing job fails after VMEVALKIT_RAY_MAX_ATTEMPTS attempts."""
    (questions / "maze_task" / "maze_0001" / "prompt.txt").write_text("VMK_CRASH: solve the maze")
    no_envs = tmp_path / "node-without-envs"
    with cluster({"num_gpus": 2}, {"num_gpus": 2, "env_vars": {"VMEVALKIT_ENVS_DIR": str(no_envs)}}) as c:
        head_id = c.head_node.node_id
        done = run_generate(
            "--model", "test-local", "--domain", "maze", "--output-dir", str(tmp_path / "out"),
            "--no-progress", "--engine", "ray", cwd=tmp_path, RAY_ADDRESS=c.address,
            VMEVALKIT_RAY_MAX_ATTEMPTS="2", **local_model,
        )  # fmt: skip
    assert done.returncode == 1, done.stderr + done.stdout
    found = {r.task_id: r for r in records(tmp_path / "out").values()}
    crashed = found.pop("maze_0001")
    assert crashed.status == "failed" and "after 2 attempts" in crashed.error
    assert all(r.status == "completed" for r in found.values()) and len(found) >= 3
    assert {r.result.metadata["placement"]["node_id"] for r in found.values()} == {head_id}
    predicts = [c for c in calls(node_env) if c["event"] == "predict" and "VMK_CRASH" in c["prompt"]]
    assert len(predicts) == 2  # not retried forever


def start_gated(tmp_path: Path, questions: Path, address: str, *args: str) -> subprocess.Popen[str]:
    command = generate_cmd(
        "--model", "test-gated", "--questions-dir", str(questions), "--output-dir", str(tmp_path / "out"),
        "--no-progress", "--engine", "ray", *args,
    )  # fmt: skip
    return subprocess.Popen(
        command, cwd=tmp_path, env=cli_env(RAY_ADDRESS=address), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip


def check_each_completed_once(tmp_path: Path, node_env: dict[str, str], stdout: str, tasks: int) -> dict[str, Any]:
    found = {r.task_id: r for r in records(tmp_path / "out").values()}
    assert len(found) == tasks and all(r.status == "completed" and r.attempts == 1 for r in found.values())
    completed = Counter(line.split()[2] for line in stdout.splitlines() if line.startswith("completed "))
    assert completed == dict.fromkeys(found, 1)  # each generation completed exactly once
    finished = Counter(c["task_id"] for c in calls(node_env) if c["event"] == "done")
    assert finished == dict.fromkeys(found, 1)  # and each video was made once: a lost job never finished
    return found


def test_a_node_removed_mid_run_its_jobs_complete_elsewhere_exactly_once(
    tmp_path: Path, questions: Path, node_env: dict[str, str]
) -> None:
    with cluster({}, {}) as c:
        worker_node = c.list_all_nodes()[1]
        run = start_gated(tmp_path, questions, c.address, "--limit-per-domain", "2")
        # Four actors (two CPUs a node), each holding a job at the gate.
        wait_for(lambda: sum(e["event"] == "start" for e in calls(node_env)) >= 4, "four jobs in flight")
        c.remove_node(worker_node)
        time.sleep(2)  # the lost actors are noticed (their jobs go back to the queue) while the gate is shut
        Path(node_env["VMK_GATE_FILE"]).touch()
        stdout, stderr = run.communicate(timeout=180)
    assert run.returncode == 0, stderr + stdout
    found = check_each_completed_once(tmp_path, node_env, stdout, tasks=6)
    retried = [r for r in found.values() if r.result.metadata["placement"]["attempts"] == 2]
    assert len(retried) == 2  # the two jobs of the removed node
    assert all("the actor was lost" in r.result.metadata["placement"]["lost"][0] for r in retried)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_killed_actor_its_job_is_retried_then_a_killed_driver_resumes(
    tmp_path: Path, questions: Path, node_env: dict[str, str]
) -> None:
    gate = Path(node_env["VMK_GATE_FILE"])
    with cluster({}) as c:
        # An actor killed under its job: the job runs again on another actor, and completes once.
        run = start_gated(tmp_path, questions, c.address, "--domain", "maze", "--limit-per-domain", "3")
        wait_for(lambda: sum(e["event"] == "start" for e in calls(node_env)) >= 2, "two jobs in flight")
        victim = next(e for e in calls(node_env) if e["event"] == "start")
        os.kill(victim["pid"], signal.SIGKILL)  # the actor's own process: a builtin model runs inside it
        time.sleep(1)
        gate.touch()
        stdout, stderr = run.communicate(timeout=180)
        assert run.returncode == 0, stderr + stdout
        found = check_each_completed_once(tmp_path, node_env, stdout, tasks=3)
        assert found[victim["task_id"]].result.metadata["placement"]["attempts"] == 2

        # The driver killed mid-run: its actors go with it, and the same command resumes from the store.
        gate.unlink()
        before = len(calls(node_env))
        run = start_gated(tmp_path, questions, c.address, "--domain", "sudoku", "--limit-per-domain", "3")
        wait_for(lambda: sum(e["event"] == "start" for e in calls(node_env)[before:]) >= 2, "two jobs in flight")
        run.kill()
        run.communicate(timeout=60)
        orphans = [e["pid"] for e in calls(node_env)[before:] if e["event"] == "start"]
        wait_for(lambda: not any(alive(pid) for pid in orphans), "the dead driver's actors to go")
        gate.touch()
        again = start_gated(tmp_path, questions, c.address, "--domain", "sudoku", "--limit-per-domain", "3")
        stdout, stderr = again.communicate(timeout=180)
    assert again.returncode == 0, stderr + stdout
    resumed = {r.task_id: r for r in records(tmp_path / "out").values() if r.domain == "sudoku"}
    assert len(resumed) == 3 and all(r.status == "completed" for r in resumed.values())
    assert sum(r.attempts == 2 for r in resumed.values()) >= 2  # the jobs the dead driver had started, redone
    finished = Counter(e["task_id"] for e in calls(node_env)[before:] if e["event"] == "done")
    assert finished == dict.fromkeys(resumed, 1)  # each made once: nothing of the dead driver's finished


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


def spilled(directory: Path) -> int:
    return sum(1 for p in directory.rglob("*") if p.is_file()) if directory.exists() else 0


def test_videos_do_not_pile_up_in_the_object_store(tmp_path: Path, questions: Path, node_env: dict[str, str]) -> None:
    """12 videos of about 8 MB each (about 95 MB) through an object store of 75 MB (Ray's least): each is freed once
    written, so the store never fills and Ray never spills an object to disk. The same bytes held at once (the
    control) do spill."""
    import ray

    spill = tmp_path / "spill"
    with cluster({"object_store_memory": 75 * 2**20, "object_spilling_directory": str(spill)}) as c:
        done = run_generate(
            "--model", "test-large", "--questions-dir", str(questions), "--output-dir", str(tmp_path / "out"),
            "--no-progress", "--engine", "ray", cwd=tmp_path, RAY_ADDRESS=c.address,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr + done.stdout
        found = records(tmp_path / "out")
        assert len(found) == 12 and sum(r.video_size for r in found.values()) > 80 * 2**20
        assert spilled(spill) == 0
        # The control: the same amount held at once by a driver overflows the store, and Ray spills.
        ray.init(address=c.address, include_dashboard=False, log_to_driver=False)
        try:
            held = [ray.put(os.urandom(8 * 2**20)) for _ in range(12)]
            wait_for(lambda: spilled(spill) > 0, "the control to spill", timeout=60)
            del held
        finally:
            ray.shutdown()


def test_scoring_actors_a_lost_actor_is_retried_a_node_without_the_scorer_is_skipped(
    tmp_path: Path, questions: Path, node_env: dict[str, str]
) -> None:
    out = tmp_path / "out"
    done = run_generate(
        "--model", "static-first-frame", "--domain", "maze", "--questions-dir", str(questions), "--output-dir",
        str(out), "--no-progress", cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    died_once = tmp_path / "died-once"

    def score(kwargs: dict[str, Any]) -> subprocess.CompletedProcess[str]:
        return run_score(
            "--scorer-class-path", "vmk_test_scorers:DiesInChild", "--scorer-init-kwargs-json", json.dumps(kwargs),
            "--output-dir", str(out), "--no-progress", "--engine", "ray", cwd=tmp_path, env=env,
        )  # fmt: skip

    def scores() -> dict[str, Any]:
        return {p.parent.parent.parent.name: json.loads(p.read_text()) for p in out.rglob("scores/dies.json")}

    # The second node cannot build the scorer: its actors are dropped and the head scores everything.
    with cluster({}, {"env_vars": {"VMK_NO_SCORER": "1"}}) as c:
        env = cli_env(RAY_ADDRESS=c.address, VMEVALKIT_RAY_MAX_ATTEMPTS="2", VMEVALKIT_RAY_ACTORS="2")
        # maze_0002 kills the actor that scores it, once: its batch runs again on another actor.
        scored = score({"die_task_ids": ["maze_0002"], "once_file": str(died_once)})
        assert scored.returncode == 0, scored.stderr + scored.stdout
        assert died_once.exists() and all(r["error"] is None for r in scores().values()) and len(scores()) == 4
        assert any(e["event"] == "refused" for e in calls(node_env))
        # maze_0003 kills every actor it meets: after 2 attempts as a batch and 2 alone, it fails; the others score.
        before = len(calls(node_env))
        scored = score({"die_task_ids": ["maze_0003"]})
    assert scored.returncode == 1, scored.stderr + scored.stdout
    found = scores()
    assert "ScorerProcessDied" in found["maze_0003"]["error"] and "the actor was lost" in found["maze_0003"]["error"]
    assert all(r["error"] is None for task, r in found.items() if task != "maze_0003")
    deaths = [e for e in calls(node_env)[before:] if e["event"] == "died"]
    assert len(deaths) == 4

"""Local scorers through real worker processes: one load, many batches, faults, GPUs, install checks.

The test scorer (``vmk_test_local.ProbeScorer``) needs no torch, so its "virtualenv" is a launcher around this
interpreter; the rest is the production path: the score CLI, the scoring runner, ``LocalScorer``, the worker
subprocess and its JSON protocol. The real scorer families run on tiny checkpoints in tests/test_scorer_*.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, cli_env, make_fake_venv
from test_local_worker import set_prompt

from vmevalkit.runner.inference import InferenceRunner
from vmevalkit.runner.records import read_record
from vmevalkit.scoring.runner import read_score
from vmevalkit.tasks.loader import load_tasks
from vmevalkit.video import probe_video

SCORER = "test-local-scorer"
TASKS = ["maze_0001", "maze_0002", "sudoku_0001", "sudoku_0002"]


@pytest.fixture
def scorer_env(tmp_path: Path) -> dict[str, str]:
    envs = tmp_path / "envs"
    make_fake_venv(envs, SCORER)
    checkpoint = tmp_path / "ckpt"
    checkpoint.mkdir()
    (checkpoint / "config.json").write_text('{"model_type": "probe"}')
    return {
        "OPENAI_API_KEY": "sk-test-never-in-a-worker",
        "HF_TOKEN": "hf_test_never_in_a_worker",
        "VMEVALKIT_ENVS_DIR": str(envs),
        "VMEVALKIT_CHECKPOINTS": json.dumps({SCORER: str(checkpoint)}),
        "VMEVALKIT_EXTRA_SCORER_CATALOGS": "vmk_test_local:SCORERS",
        "VMK_CALL_LOG": str(tmp_path / "calls.jsonl"),
        "VMEVALKIT_LOCAL_GPUS": "cpu",
    }


def experiment(questions: Path, tmp_path: Path, prompts: dict[str, str] | None = None) -> Path:
    for task_id, prompt in (prompts or {}).items():
        set_prompt(questions, task_id, prompt)
    runner = InferenceRunner(output_dir=tmp_path / "outputs", experiment="exp", duration=1.0)
    summary = runner.run(["oracle-solution"], load_tasks(questions, task_ids=TASKS).tasks)
    assert summary.completed == len(TASKS)
    return runner.experiment_dir


def score(tmp_path: Path, env: dict[str, str], *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(REPO / "examples" / "score_videos.py"), "--output-dir", str(tmp_path / "outputs")]
        + ["--experiment", "exp", "--no-progress", *args],
        cwd=tmp_path,
        env=cli_env(**env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def calls(env: dict[str, str], event: str) -> list[dict]:
    path = Path(env["VMK_CALL_LOG"])
    lines = path.read_text().splitlines() if path.exists() else []
    return [c for c in map(json.loads, lines) if c["event"] == event]


def frame_counts(root: Path) -> dict[str, int]:
    """The frame count of every generated video, read here: what the probe scorer must report."""
    counts = {}
    for meta in root.rglob("metadata.json"):
        record = read_record(meta.parent)
        assert record is not None and record.video
        counts[record.task_id] = probe_video(meta.parent / record.video).frame_count
    return counts


def scores(root: Path) -> dict[str, object]:
    found = {}
    for path in root.rglob(f"scores/{SCORER}.json"):
        record = read_score(path)
        assert record is not None
        found[path.parent.parent.parent.name] = record  # <task_id>/<run_id>/scores/<scorer>.json
    return found


def test_one_worker_loads_once_and_scores_every_batch(questions: Path, tmp_path: Path, scorer_env: dict) -> None:
    root = experiment(questions, tmp_path)
    done = score(
        tmp_path, scorer_env, "--scorer", SCORER, "--batch-size", "3", "--scorer-score-kwargs-json", '{"k": 1}'
    )
    assert done.returncode == 0, done.stdout + done.stderr
    loads, batches = calls(scorer_env, "load-scorer"), calls(scorer_env, "score")
    assert len(loads) == 1 and [len(b["prompts"]) for b in batches] == [3, 1]
    assert loads[0]["device"] == "cpu" and loads[0]["cuda_visible_devices"] == ""
    assert loads[0]["options"] == {"scale": 2}, "catalog args reach the model; the checkpoint id does not"
    assert loads[0]["secrets_seen"] == [], "API keys and tokens never reach model code"
    assert all(b["kwargs"] == {"k": 1} for b in batches)
    found = scores(root)
    assert sorted(found) == TASKS
    pids = {r.dimensions["pid"] for r in found.values()}
    assert pids == {loads[0]["pid"]}, "every batch was served by the one worker"
    frames = frame_counts(root)
    for task_id, record in found.items():
        assert record.dimensions["frames"] == frames[task_id], "read by the worker from the item's video"
        assert record.details["scale"] == 2 and record.version == "probe-1"
        assert record.config["weights"] == f"dir:{tmp_path / 'ckpt'}"
        assert record.scorer_class == "vmevalkit.scoring.local.wrapper:LocalScorer"
    # Resume: nothing to score, so no worker is even started.
    again = score(
        tmp_path, scorer_env, "--scorer", SCORER, "--batch-size", "3", "--scorer-score-kwargs-json", '{"k": 1}'
    )
    assert again.returncode == 0 and len(calls(scorer_env, "load-scorer")) == 1, again.stderr


def test_crash_failure_and_nan_each_stay_with_their_own_item(questions: Path, tmp_path: Path, scorer_env: dict) -> None:
    root = experiment(
        questions,
        tmp_path,
        {"maze_0002": "solve it VMK_CRASH", "sudoku_0001": "solve it VMK_FAIL", "sudoku_0002": "VMK_NAN please"},
    )
    done = score(tmp_path, scorer_env, "--scorer", SCORER, "--batch-size", "4")
    assert done.returncode == 1, done.stdout + done.stderr
    found = scores(root)
    assert found["maze_0001"].error is None
    assert found["maze_0001"].dimensions["frames"] == frame_counts(root)["maze_0001"]
    crash = found["maze_0002"]
    assert crash.error and "the worker died (exit code 4)" in crash.error
    assert "scorer chatter on stdout" in crash.error, "the worker's last stderr lines explain the crash"
    assert "probe scorer failure" in (found["sudoku_0001"].error or "")
    nan = found["sudoku_0002"]
    assert nan.error is None and nan.dimensions == {"frames": None, "pid": None}
    assert nan.details == {"reason": "asked to give up", "final_frame_seen": False}, "no answer for public scorers"
    # The crashed batch was retried item by item on fresh workers; the good item did not wait on the bad ones.
    assert len(calls(scorer_env, "load-scorer")) >= 2
    # The next run redoes only the failures.
    set_prompt(questions, "maze_0002", "fine now")
    before = {k: v.scored_at for k, v in found.items()}
    score(tmp_path, scorer_env, "--scorer", SCORER)
    after = scores(root)
    assert (
        after["maze_0001"].scored_at == before["maze_0001"] and after["sudoku_0002"].scored_at == before["sudoku_0002"]
    )
    assert after["maze_0002"].scored_at != before["maze_0002"]


def test_a_hung_worker_is_killed_and_the_rest_are_scored(questions: Path, tmp_path: Path, scorer_env: dict) -> None:
    root = experiment(questions, tmp_path, {"maze_0001": "VMK_HANG"})
    done = score(tmp_path, {**scorer_env, "VMEVALKIT_LOCAL_JOB_TIMEOUT_S": "10"}, "--scorer", SCORER)
    assert done.returncode == 1
    found = scores(root)
    assert "the worker hung: no result within 10 s" in (found["maze_0001"].error or "")
    assert all(found[t].error is None for t in TASKS if t != "maze_0001")


def test_oom_fails_its_batch_with_the_fix_and_keeps_the_worker(
    questions: Path, tmp_path: Path, scorer_env: dict
) -> None:
    root = experiment(questions, tmp_path, {"sudoku_0002": "VMK_OOM"})
    done = score(tmp_path, scorer_env, "--scorer", SCORER, "--batch-size", "2")
    assert done.returncode == 1
    found = scores(root)
    assert "CUDA out of memory" in (found["sudoku_0002"].error or "") and "--batch-size" in found["sudoku_0002"].error
    assert len(calls(scorer_env, "load-scorer")) == 1, "an OOM is not a crash: the worker stays"
    assert len({found[t].dimensions["pid"] for t in TASKS if t != "sudoku_0002"}) == 1


def test_a_model_that_never_loads_fails_fast(questions: Path, tmp_path: Path, scorer_env: dict) -> None:
    root = experiment(questions, tmp_path)
    done = score(tmp_path, {**scorer_env, "VMK_LOAD_CRASH": "1"}, "--scorer", SCORER, "--batch-size", "2")
    assert done.returncode == 1
    errors = [r.error or "" for r in scores(root).values()]
    assert len(errors) == 4 and all("exit code 3" in e for e in errors)
    assert any("gave up after 2 failed loads" in e for e in errors)


def test_one_worker_per_gpu_and_a_batch_split_across_them(questions: Path, tmp_path: Path, scorer_env: dict) -> None:
    root = experiment(questions, tmp_path)
    done = score(tmp_path, {**scorer_env, "VMEVALKIT_LOCAL_GPUS": "0,1"}, "--scorer", SCORER, "--batch-size", "4")
    assert done.returncode == 0, done.stderr
    loads = calls(scorer_env, "load-scorer")
    assert sorted(c["cuda_visible_devices"] for c in loads) == ["0", "1"]
    assert sorted(len(b["prompts"]) for b in calls(scorer_env, "score")) == [2, 2]
    assert {r.dimensions["pid"] for r in scores(root).values()} == {c["pid"] for c in loads}
    pinned = score(tmp_path, {**scorer_env, "VMEVALKIT_LOCAL_GPUS": "0,1"}, "--scorer", SCORER, "--device", "cuda:1")
    assert pinned.returncode == 0  # nothing left to score: up to date whatever the device
    bad = score(tmp_path, scorer_env, "--scorer", SCORER, "--device", "tpu")
    assert bad.returncode == 2 and "use auto, cpu, cuda or cuda:N" in bad.stderr


def test_a_gpu_that_cannot_load_the_model_hands_its_work_to_the_others(
    questions: Path, tmp_path: Path, scorer_env: dict
) -> None:
    root = experiment(questions, tmp_path)
    env = {**scorer_env, "VMEVALKIT_LOCAL_GPUS": "0,1", "VMK_LOAD_CRASH_GPU": "0"}
    done = score(tmp_path, env, "--scorer", SCORER, "--batch-size", "4")
    assert done.returncode == 0, done.stdout + done.stderr
    loads = calls(scorer_env, "load-scorer")
    assert [c["cuda_visible_devices"] for c in loads] == ["1"]
    found = scores(root)
    assert sorted(found) == TASKS and {r.dimensions["pid"] for r in found.values()} == {loads[0]["pid"]}


def test_a_bad_option_is_a_usage_error_before_any_worker_starts(
    questions: Path, tmp_path: Path, scorer_env: dict
) -> None:
    root = experiment(questions, tmp_path)
    bad = score(tmp_path, scorer_env, "--scorer", SCORER, "--scorer-init-kwargs-json", '{"scale": -1}')
    assert bad.returncode == 2 and "bad option: scale must be positive" in bad.stderr
    assert calls(scorer_env, "load-scorer") == [] and not list(root.rglob("scores/*.json"))
    # Other options are other scores: the resume rule redoes them; the same options skip.
    assert score(tmp_path, scorer_env, "--scorer", SCORER).returncode == 0
    first = {k: r.scored_at for k, r in scores(root).items()}
    assert {r.config["args"]["scale"] for r in scores(root).values()} == {2}
    assert all(r.config["service"] == "vmk_test_local:ProbeScorer" for r in scores(root).values())
    assert score(tmp_path, scorer_env, "--scorer", SCORER, "--scorer-init-kwargs-json", '{"scale": 3}').returncode == 0
    again = scores(root)
    assert all(again[k].scored_at != first[k] and again[k].details["scale"] == 3 for k in first)


def test_not_installed_or_bad_checkpoint_is_refused_with_the_fix(
    questions: Path, tmp_path: Path, scorer_env: dict
) -> None:
    root = experiment(questions, tmp_path)
    missing = score(tmp_path, {**scorer_env, "VMEVALKIT_ENVS_DIR": str(tmp_path / "nowhere")}, "--scorer", SCORER)
    assert missing.returncode == 2
    assert f"Scorer '{SCORER}' is not installed: run bash setup/install_model.sh {SCORER}" in missing.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    bad = score(tmp_path, scorer_env, "--scorer", SCORER, "--checkpoint", str(empty))
    assert bad.returncode == 2 and "holds no config.json" in bad.stderr
    assert "transformers checkpoint folder" in bad.stderr
    assert not list(root.rglob("scores/*.json"))
    # --checkpoint DIR is used instead of the configured one, and recorded.
    other = tmp_path / "other"
    other.mkdir()
    (other / "config.json").write_text("{}")
    done = score(tmp_path, scorer_env, "--scorer", SCORER, "--checkpoint", str(other))
    assert done.returncode == 0, done.stderr
    assert calls(scorer_env, "load-scorer")[0]["checkpoint"] == str(other)
    assert {r.config["weights"] for r in scores(root).values()} == {f"dir:{other}"}


def test_the_worker_refuses_a_job_of_the_other_kind(tmp_path: Path) -> None:
    from vmevalkit.workers.protocol import FROM_WORKER, Generate, Load, Score, Shutdown, encode

    checkpoint = tmp_path / "ckpt"
    checkpoint.mkdir()
    (checkpoint / "config.json").write_text("{}")
    lines = [
        Load(service="vmk_test_local:ProbeScorer", model="m", args={}, checkpoint_dir=str(checkpoint), device="cpu"),
        Generate(
            id="g", image_path="x.png", prompt="p", output_path="o.mp4", seed=0, num_frames=2, height=8, width=8, fps=1
        ),
        Score(id="s", items=[]),
        Shutdown(),
    ]
    from conftest import PLUGINS

    out = subprocess.run(
        [sys.executable, "-m", "vmevalkit.workers.worker"],
        input=b"".join(encode(m) for m in lines),
        capture_output=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(PLUGINS), str(REPO)])},
        timeout=60,
    )
    replies = [FROM_WORKER.validate_json(line) for line in out.stdout.splitlines()]
    assert [r.type for r in replies] == ["ready", "result", "scores"]
    assert replies[1].ok is False and "serves a scorer" in (replies[1].error or "")
    assert replies[2].ok is True and replies[2].scores == []

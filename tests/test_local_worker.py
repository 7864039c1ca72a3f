"""Local models through real worker processes: load once, many jobs, faults, restarts, GPUs.

The test family (tests/plugins/vmk_test_local.py) needs no torch, so its "virtualenv" is a
launcher script around this interpreter; everything else is the production path: the CLI,
the runner, ``LocalExecutor``, the worker subprocess and its JSON protocol.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import sys
from pathlib import Path

import pytest
from conftest import PLUGINS, make_fake_venv, run_generate

from vmevalkit.runner.records import read_record
from vmevalkit.workers.protocol import FROM_WORKER, PROTOCOL_VERSION, Fatal, Load, Ready, encode
from vmevalkit.workers.worker import serve

MODEL = "test-local"


@pytest.fixture
def local_env(tmp_path: Path, questions: Path) -> dict[str, str]:
    envs = tmp_path / "envs"
    make_fake_venv(envs, MODEL)
    checkpoint = tmp_path / "ckpt"
    checkpoint.mkdir()
    (checkpoint / "model_index.json").write_text('{"_class_name": "TestPipeline"}')
    return {
        "VMEVALKIT_ENVS_DIR": str(envs),
        "VMEVALKIT_CHECKPOINTS": json.dumps({MODEL: str(checkpoint)}),
        "VMEVALKIT_QUESTIONS_DIR": str(questions),
        "VMK_CALL_LOG": str(tmp_path / "calls.jsonl"),
        "VMEVALKIT_LOCAL_GPUS": "cpu",
    }


def calls(env: dict[str, str]) -> list[dict]:
    path = Path(env["VMK_CALL_LOG"])
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def records(root: Path) -> dict[str, object]:
    found = {}
    for meta in root.rglob("metadata.json"):
        record = read_record(meta.parent)
        assert record is not None
        found[record.task_id] = record
    return found


def set_prompt(questions: Path, task_id: str, prompt: str) -> None:
    domain = task_id.rsplit("_", 1)[0]
    (questions / f"{domain}_task" / task_id / "prompt.txt").write_text(prompt, encoding="utf-8")


def generate(tmp_path: Path, env: dict[str, str], *args: str):
    return run_generate(
        "--model", MODEL, "--output-dir", str(tmp_path / "out"), "--no-progress", *args, cwd=tmp_path, **env
    )


def test_one_worker_loads_once_and_serves_the_whole_batch(tmp_path: Path, local_env: dict[str, str]) -> None:
    done = generate(tmp_path, local_env, "--limit-per-domain", "2")
    assert done.returncode == 0, done.stderr + done.stdout
    found = records(tmp_path / "out")
    assert len(found) == 6 and all(r.status == "completed" for r in found.values())
    log = calls(local_env)
    loads = [c for c in log if c["event"] == "load"]
    predicts = [c for c in log if c["event"] == "predict"]
    assert len(loads) == 1 and len(predicts) == 6
    assert {c["pid"] for c in predicts} == {loads[0]["pid"]}  # one process served every job
    for record in found.values():
        assert record.video_info.frame_count == 6  # 0.75 s at 8 fps
        assert (record.video_info.width, record.video_info.height) == (48, 48)
        meta = record.result.metadata
        assert meta["worker"]["pid"] == loads[0]["pid"] and meta["worker"]["load_seconds"] >= 0
        assert meta["generate_seconds"] > 0 and meta["peak_memory_bytes"] > 0
        assert record.checkpoint.startswith("dir:")
    # A rerun finds everything done and starts no worker at all.
    again = generate(tmp_path, local_env, "--limit-per-domain", "2")
    assert again.returncode == 0
    assert len([c for c in calls(local_env) if c["event"] == "load"]) == 1


def test_prompt_reaches_the_pipeline_verbatim(tmp_path: Path, local_env: dict[str, str], questions: Path) -> None:
    nasty = (
        "Move the \"agent\" to the goal.\nIt's `$(rm -rf /)`; echo '; DROP TABLE x;--\n"
        'def f():\n    return {"a": [1, 2]}  # \\n \\\\ \\u0000 \t tab\nünïcødé ✓ 🧩 \'\'\'"""'
    )
    set_prompt(questions, "maze_0001", nasty)
    done = generate(tmp_path, local_env, "--task-id", "maze_0001")
    assert done.returncode == 0, done.stderr
    (predict,) = [c for c in calls(local_env) if c["event"] == "predict"]
    assert predict["prompt"] == nasty.strip()  # the loader strips surrounding whitespace, nothing else
    (record,) = records(tmp_path / "out").values()
    assert record.result.metadata["prompt_sha256"] == hashlib.sha256(nasty.strip().encode()).hexdigest()


@pytest.mark.parametrize(("marker", "expected"), [("VMK_CRASH", "exit code 1"), ("VMK_SEGV", "SIGSEGV")])
def test_a_crashed_worker_fails_its_job_and_a_fresh_one_serves_the_rest(
    tmp_path: Path, local_env: dict[str, str], questions: Path, marker: str, expected: str
) -> None:
    set_prompt(questions, "maze_0002", f"please {marker} now")
    done = generate(tmp_path, local_env, "--domain", "maze")
    assert done.returncode == 1  # a failure is reported ...
    found = records(tmp_path / "out")
    assert found["maze_0002"].status == "failed"
    assert "the worker died" in found["maze_0002"].error and expected in found["maze_0002"].error
    assert "last worker stderr lines" in found["maze_0002"].error  # what the worker said last
    assert sorted(t for t, r in found.items() if r.status == "completed") == sorted(set(found) - {"maze_0002"})
    loads = [c for c in calls(local_env) if c["event"] == "load"]
    assert len(loads) == 2 and loads[0]["pid"] != loads[1]["pid"]  # ... and the batch went on in a new worker


def test_a_hung_worker_is_killed_at_the_deadline_and_replaced(
    tmp_path: Path, local_env: dict[str, str], questions: Path
) -> None:
    set_prompt(questions, "maze_0001", "VMK_HANG please")
    done = generate(tmp_path, {**local_env, "VMEVALKIT_LOCAL_JOB_TIMEOUT_S": "3"}, "--domain", "maze")
    assert done.returncode == 1
    found = records(tmp_path / "out")
    assert "hung" in found["maze_0001"].error and "killed" in found["maze_0001"].error
    assert sum(r.status == "completed" for r in found.values()) == 3
    loads = [c for c in calls(local_env) if c["event"] == "load"]
    hung_pid = loads[0]["pid"]
    with pytest.raises(ProcessLookupError):
        os.kill(hung_pid, 0)  # really gone, not left running in the background


def test_out_of_memory_is_reported_with_the_saver_that_helps_and_the_worker_stays(
    tmp_path: Path, local_env: dict[str, str], questions: Path
) -> None:
    set_prompt(questions, "maze_0001", "VMK_OOM")
    done = generate(tmp_path, local_env, "--domain", "maze")
    assert done.returncode == 1
    found = records(tmp_path / "out")
    error = found["maze_0001"].error
    assert "CUDA out of memory" in error and "VMEVALKIT_LOCAL_SAVERS=vae_tiling" in error
    assert found["maze_0001"].result.metadata["error_kind"] == "oom"
    assert sum(r.status == "completed" for r in found.values()) == 3
    assert len([c for c in calls(local_env) if c["event"] == "load"]) == 1  # an OOM does not cost a reload


def test_a_model_that_cannot_load_fails_its_jobs_and_other_models_still_run(
    tmp_path: Path, local_env: dict[str, str]
) -> None:
    done = run_generate(
        "--model",
        MODEL,
        "static-first-frame",
        "--domain",
        "maze",
        "--output-dir",
        str(tmp_path / "out"),
        "--no-progress",
        cwd=tmp_path,
        **{**local_env, "VMK_LOAD_CRASH": "1"},
    )
    assert done.returncode == 1
    found = {
        (r.model, t): r
        for meta in (tmp_path / "out").rglob("metadata.json")
        for r in [read_record(meta.parent)]
        for t in [r.task_id]
    }
    local = [r for (m, _), r in found.items() if m == MODEL]
    assert len(local) == 4 and all(r.status == "failed" for r in local)
    assert all("exit code 3" in r.error for r in local)
    assert all(r.status == "completed" for (m, _), r in found.items() if m == "static-first-frame")


def test_missing_install_is_reported_before_any_work(tmp_path: Path, local_env: dict[str, str]) -> None:
    env = {**local_env, "VMEVALKIT_ENVS_DIR": str(tmp_path / "no-envs")}
    done = generate(tmp_path, env)
    assert done.returncode == 2
    assert f"Model '{MODEL}' is not installed: run bash setup/install_model.sh {MODEL}" in done.stderr
    assert not (tmp_path / "out").exists()


def test_half_built_venv_counts_as_not_installed(tmp_path: Path, local_env: dict[str, str]) -> None:
    (Path(local_env["VMEVALKIT_ENVS_DIR"]) / MODEL / ".vmevalkit-install.json").unlink()
    done = generate(tmp_path, local_env)
    assert done.returncode == 2 and "is not installed" in done.stderr


def test_one_worker_per_gpu_with_its_own_cuda_visible_devices(tmp_path: Path, local_env: dict[str, str]) -> None:
    done = generate(tmp_path, {**local_env, "VMEVALKIT_LOCAL_GPUS": "0,1"})
    assert done.returncode == 0, done.stderr
    log = calls(local_env)
    loads = {c["pid"]: c["cuda_visible_devices"] for c in log if c["event"] == "load"}
    assert sorted(loads.values()) == ["0", "1"]
    served = {c["pid"] for c in log if c["event"] == "predict"}
    assert served == set(loads)  # jobs spread over both workers


def test_size_and_frames_follow_duration_and_params(tmp_path: Path, local_env: dict[str, str]) -> None:
    done = generate(
        tmp_path, local_env, "--task-id", "maze_0001", "--duration", "2", "--param", "width=64", "--param", "height=32"
    )
    assert done.returncode == 0, done.stderr
    (record,) = records(tmp_path / "out").values()
    assert record.video_info.frame_count == 16
    assert (record.video_info.width, record.video_info.height) == (64, 32)


def test_checkpoint_flag_runs_another_folder_and_changes_the_run_id(tmp_path: Path, local_env: dict[str, str]) -> None:
    other = tmp_path / "other-ckpt"
    other.mkdir()
    (other / "model_index.json").write_text("{}")
    first = generate(tmp_path, local_env, "--task-id", "maze_0001")
    second = generate(tmp_path, local_env, "--task-id", "maze_0001", "--checkpoint", str(other))
    assert first.returncode == second.returncode == 0, second.stderr
    loads = [c for c in calls(local_env) if c["event"] == "load"]
    assert [Path(c["checkpoint"]) for c in loads] == [
        Path(json.loads(local_env["VMEVALKIT_CHECKPOINTS"])[MODEL]),
        other,
    ]
    assert len(records(tmp_path / "out")) == 1 or len(list((tmp_path / "out").rglob("metadata.json"))) == 2
    assert len(list((tmp_path / "out").rglob("metadata.json"))) == 2  # other weights never resume this video
    bad = generate(tmp_path, local_env, "--task-id", "maze_0001", "--checkpoint", str(tmp_path / "nowhere"))
    assert bad.returncode == 2 and "holds no model_index.json" in bad.stderr


def test_worker_refuses_another_protocol_version() -> None:
    out = io.BytesIO()
    load = Load(service="vmk_test_local:ProbePipeline", model="x", args={}, checkpoint_dir=".")
    wrong = load.model_copy(update={"protocol": PROTOCOL_VERSION + 1})
    assert serve(io.BytesIO(encode(wrong)), out) == 2
    (message,) = [FROM_WORKER.validate_json(line) for line in out.getvalue().splitlines()]
    assert isinstance(message, Fatal) and "protocol" in message.error


def test_worker_keeps_stdout_for_the_protocol(tmp_path: Path, local_env: dict[str, str]) -> None:
    import subprocess

    checkpoint = json.loads(local_env["VMEVALKIT_CHECKPOINTS"])[MODEL]
    load = Load(
        service="vmk_test_local:ProbePipeline",
        model="x",
        args={
            "height": 8,
            "width": 8,
            "num_frames": 2,
            "fps": 2,
            "steps": 1,
            "guidance_scale": 1,
            "min_gpu_memory_gb": 0,
        },
        checkpoint_dir=checkpoint,
        device="cpu",
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(PLUGINS), *sys.path])}
    proc = subprocess.run(
        [sys.executable, "-m", "vmevalkit.workers.worker"],
        input=encode(load),
        capture_output=True,
        env=env,
        timeout=60,
    )
    lines = proc.stdout.splitlines()
    assert [type(FROM_WORKER.validate_json(line)) for line in lines] == [Ready]  # nothing else on stdout
    assert b"chatter on stdout" in proc.stderr and b"raw bytes on fd 1" in proc.stderr


def test_a_run_refuses_pinned_weights_that_fail_verification(tmp_path: Path, local_env: dict[str, str]) -> None:
    from vmevalkit.workers import weights

    weights_dir = tmp_path / "weights"
    pin = weights.get_pin("ltx-video")
    folder = weights.checkpoint_dir("ltx-video", weights_dir)
    folder.mkdir(parents=True)
    (folder / "model_index.json").write_text('{"_class_name": "LTXImageToVideoPipeline"}')
    data = (folder / "model_index.json").read_bytes()
    lock = weights.Lock(
        checkpoint="ltx-video",
        repo_id=pin.repo_id,
        revision=pin.revision,
        commit=pin.revision if pin.pinned else "0" * 40,
        files={"model_index.json": {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}},
        created_at="2026-11-23T00:00:00Z",
    )
    (folder / "vmevalkit.lock.json").write_text(lock.model_dump_json())
    make_fake_venv(Path(local_env["VMEVALKIT_ENVS_DIR"]), "ltx-video")
    env = {**local_env, "VMEVALKIT_WEIGHTS_DIR": str(weights_dir)}
    ok = run_generate("--model", "ltx-video", "--dry-run", cwd=tmp_path, **env)
    assert ok.returncode == 0, ok.stderr  # verified: it would run
    (folder / "model_index.json").write_text('{"_class_name": "LTXImageToVideoPipelinX"}')  # same size, new bytes
    refused = run_generate("--model", "ltx-video", "--dry-run", cwd=tmp_path, **env)
    assert refused.returncode == 2
    assert "weights for 'ltx-video' failed verification: model_index.json sha256 mismatch" in refused.stderr
    assert "run bash setup/install_model.sh ltx-video" in refused.stderr


def test_the_workers_progress_reaches_the_runner_as_events_that_do_not_count(
    tmp_path: Path, local_env: dict[str, str], questions: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worker sends Progress(step, total) per denoising step; the runner hands each one on as a "progress" event
    of the job it belongs to (the CLI shows them), and the summary counts only finished work."""
    from vmevalkit.runner.inference import InferenceRunner, RunEvent
    from vmevalkit.settings import get_settings
    from vmevalkit.tasks.loader import load_tasks

    for name, value in local_env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.syspath_prepend(str(PLUGINS))
    monkeypatch.setenv("PYTHONPATH", str(PLUGINS))  # the worker imports the probe pipeline too
    get_settings.cache_clear()
    events: list[RunEvent] = []
    runner = InferenceRunner(experiment="progress", output_dir=tmp_path / "out", on_event=events.append)
    tasks = load_tasks(questions, task_ids=["maze_0001", "sudoku_0001"]).tasks
    summary = runner.run([MODEL], tasks)
    assert summary.models[MODEL].completed == 2 and summary.models[MODEL].failed == 0
    progress = [e for e in events if e.kind == "progress"]
    for task_id in ("maze_0001", "sudoku_0001"):
        steps = [(e.step, e.total) for e in progress if e.task_id == task_id]
        # The probe pipeline reports one step per frame: 6 frames (0.75 s at 8 fps).
        assert steps == [(i, 6) for i in range(1, 7)], steps
        started = next(i for i, e in enumerate(events) if e.kind == "started" and e.task_id == task_id)
        finished = next(i for i, e in enumerate(events) if e.kind == "completed" and e.task_id == task_id)
        mine = [i for i, e in enumerate(events) if e.kind == "progress" and e.task_id == task_id]
        assert all(started < i < finished for i in mine)


def test_a_tiny_checkpoint_brings_its_own_small_defaults(tmp_path: Path, local_env: dict[str, str]) -> None:
    """install_model.sh --tiny prints "run with --checkpoint weights/tiny/<model>": that command must make the tiny
    family's few small frames, not the catalog's full-size video (hours of CPU on random weights)."""
    from vmevalkit.workers.tiny import TINY_MARKER, write_tiny_marker

    checkpoint = Path(json.loads(local_env["VMEVALKIT_CHECKPOINTS"])[MODEL])
    write_tiny_marker(checkpoint, {"height": 16, "width": 24, "num_frames": 3, "steps": 1, "flow_shift": 3.0})
    assert json.loads((checkpoint / TINY_MARKER).read_text()) == {
        "tiny": True,
        "width": 24,
        "height": 16,
        "num_frames": 3,
        "steps": 1,
    }
    done = generate(tmp_path, local_env, "--task-id", "maze_0001")
    assert done.returncode == 0, done.stderr
    (record,) = records(tmp_path / "out").values()
    assert record.video_info.frame_count == 3  # not the catalog's 6 (0.75 s at 8 fps)
    assert (record.video_info.width, record.video_info.height) == (24, 16)  # not 48x48
    assert record.result.metadata["tiny_checkpoint"]["steps"] == 1  # not the catalog's 3
    assert "runs on the CPU" not in done.stderr  # a tiny checkpoint takes seconds: nothing to warn about
    # Explicit values still win.
    explicit = generate(
        tmp_path, local_env, "--task-id", "maze_0002", "--duration", "2", "--param", "width=40", "--param", "steps=2"
    )
    assert explicit.returncode == 0, explicit.stderr
    other = records(tmp_path / "out")["maze_0002"]
    assert other.video_info.frame_count == 16 and (other.video_info.width, other.video_info.height) == (40, 16)


def test_a_worker_on_the_cpu_warns_once_with_a_rough_estimate(tmp_path: Path, local_env: dict[str, str]) -> None:
    done = generate(tmp_path, local_env, "--domain", "maze")
    assert done.returncode == 0, done.stderr
    warnings = [line for line in done.stderr.splitlines() if "runs on the CPU" in line]
    assert len(warnings) == 1, done.stderr  # four jobs, one warning
    assert warnings[0].startswith(f"warning: {MODEL} runs on the CPU: about ")
    assert "per video (48x48, 6 frames, 3 steps; a rough estimate)" in warnings[0]

"""Real processes: SIGKILL mid-run, then resume; two runs of one experiment at once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest
from conftest import cli_env, generate_cmd, run_generate

from vmevalkit.runner.records import Claim, read_record
from vmevalkit.utils.atomic import TEMP_MARKER
from vmevalkit.video import probe_video

ARGS = ("--model", "test-probe", "--duration", "2", "--experiment", "crash", "--no-progress")


def statuses(out: Path) -> list[str]:
    found = []
    for meta in out.rglob("metadata.json"):
        found.append(json.loads(meta.read_text())["status"])  # must always parse: written atomically
    return found


def temp_files(out: Path) -> list[Path]:
    return [p for p in out.rglob(f"*{TEMP_MARKER}*") if p.is_file()]


def wait_for(condition, what: str, deadline_s: float = 120) -> None:
    # Waits on an observable state, never on a fixed delay; the deadline only stops a hung test.
    end = time.monotonic() + deadline_s
    while not condition():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


@pytest.mark.parametrize("kill_after", [1, 6])
def test_sigkill_mid_write_then_rerun_completes_everything_once(
    questions: Path, tmp_path: Path, kill_after: int
) -> None:
    out, log = tmp_path / "out", tmp_path / "calls.jsonl"
    args = (*ARGS, "--questions-dir", str(questions), "--output-dir", str(out))
    env = cli_env(VMK_CALL_LOG=str(log), VMK_FRAME_DELAY="0.02")
    proc = subprocess.Popen(generate_cmd(*args), cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_for(
            lambda: statuses(out).count("completed") >= kill_after and any(p.suffix == ".mp4" for p in temp_files(out)),
            "completed generations and a video being written",
        )
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.communicate()
    assert proc.returncode == -signal.SIGKILL

    # What a kill leaves: complete files under final names, temps only under temp names.
    done_before = {p.parent for p in out.rglob("metadata.json") if json.loads(p.read_text())["status"] == "completed"}
    assert len(done_before) >= kill_after
    assert "running" in statuses(out), "the kill should have interrupted a generation"
    for video in out.rglob("*.mp4"):
        if TEMP_MARKER not in video.name:
            assert probe_video(video).frame_count == 16

    rerun = run_generate(*args, "--questions-dir", str(questions), cwd=tmp_path, VMK_CALL_LOG=str(log))
    assert rerun.returncode == 0, rerun.stderr
    assert f"skipping {len(done_before)} generation(s) already done" in rerun.stdout

    run_dirs = [p.parent for p in out.rglob("metadata.json")]
    assert sorted(d.parent.name for d in run_dirs) == sorted(
        p.name for p in questions.glob("*_task/*")
    )  # 12, no duplicates
    for run_dir in run_dirs:
        record = read_record(run_dir)
        assert record.status == "completed"
        assert probe_video(run_dir / record.video).frame_count == 16
        assert record.attempts == (1 if run_dir in done_before else record.attempts)
    assert not temp_files(out), "the rerun removes what the killed writer left"
    calls = Counter(json.loads(line)["task_id"] for line in log.read_text().splitlines())
    assert all(calls[d.parent.name] == 1 for d in done_before), "finished work is never redone"
    assert set(calls) == {d.parent.name for d in run_dirs}


def test_two_processes_on_one_experiment_share_the_work(questions: Path, tmp_path: Path) -> None:
    out, log = tmp_path / "out", tmp_path / "calls.jsonl"
    args = (*ARGS, "--questions-dir", str(questions), "--output-dir", str(out))
    env = cli_env(VMK_CALL_LOG=str(log), VMK_FRAME_DELAY="0.005")
    procs = [
        subprocess.Popen(
            generate_cmd(*args), cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=240) for p in procs]
    # The one that finishes last sees everything done (exit 0). The other may finish while its peer still
    # holds a generation: exit 1, because not every selected generation was completed when it ended.
    codes = [p.returncode for p in procs]
    assert sorted(codes) in ([0, 0], [0, 1]), outputs
    for code, (_stdout, stderr) in zip(codes, outputs, strict=True):
        if code == 1:
            assert "still claimed by another running process" in stderr and "failed:" not in stderr, stderr

    calls = [json.loads(line) for line in log.read_text().splitlines()]
    assert sorted(c["task_id"] for c in calls) == sorted(p.name for p in questions.glob("*_task/*")), "each task once"
    completed_lines = [line for stdout, _ in outputs for line in stdout.splitlines() if line.startswith("completed ")]
    assert len(completed_lines) == 12
    for meta in out.rglob("metadata.json"):
        record = read_record(meta.parent)
        assert record.status == "completed" and record.attempts == 1


def test_a_claim_excludes_other_processes_and_dies_with_its_owner(tmp_path: Path) -> None:
    code = (
        "import sys, time; from pathlib import Path; from vmevalkit.runner.records import Claim\n"
        "c = Claim.try_acquire(Path(sys.argv[1])); print('held' if c else 'busy', flush=True); time.sleep(600)\n"
    )
    import sys

    holder = subprocess.Popen(
        [sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE, text=True, env=cli_env()
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        assert Claim.try_acquire(tmp_path) is None
    finally:
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait()
    claim = Claim.try_acquire(tmp_path)  # the kernel released the dead owner's lock
    assert claim is not None
    claim.release()


def test_ctrl_c_stops_cleanly_and_the_same_command_resumes(questions: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = (*ARGS, "--questions-dir", str(questions), "--output-dir", str(out))
    env = cli_env(VMK_FRAME_DELAY="0.02")
    proc = subprocess.Popen(
        generate_cmd(*args), cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        wait_for(lambda: statuses(out).count("completed") >= 2, "two completed generations")
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 130, stderr
    assert "interrupted: run the same command again to resume" in stderr
    assert "Traceback" not in stderr
    rerun = run_generate(*args, cwd=tmp_path)
    assert rerun.returncode == 0, rerun.stderr
    assert statuses(out) == ["completed"] * 12 and not temp_files(out)

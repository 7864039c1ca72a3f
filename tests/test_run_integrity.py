"""Issue 10: no stale video passed as done, I/O errors and timeouts that never crash a run or
leave work behind, exit codes that mean what the README says, and outside text made safe.

Real CLI subprocesses, real mp4 files, real flock claims held by other processes, and real
full or read-only filesystems (a tmpfs mounted in a private user and mount namespace).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import cli_env, generate_cmd, run_generate, run_score

from vmevalkit.runner.inference import InferenceRunner
from vmevalkit.runner.records import file_sha256, read_record
from vmevalkit.tasks.loader import load_tasks
from vmevalkit.utils.atomic import TEMP_MARKER

BASE = ("--duration", "1", "--experiment", "exp", "--no-progress")


def metadata(out: Path) -> dict[str, dict]:
    """Every metadata.json under ``out``, by task id (strict JSON: NaN or Infinity would fail here)."""

    def refuse(token: str) -> None:
        raise AssertionError(f"non-strict JSON token {token}")

    found = {}
    for meta in out.rglob("metadata.json"):
        record = json.loads(meta.read_text(), parse_constant=refuse)
        found[record["task_id"]] = record
    return found


def generate(questions: Path, out: Path, cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return run_generate(*BASE, "--questions-dir", str(questions), "--output-dir", str(out), *args, cwd=cwd, **env)


def video_of(out: Path, task_id: str) -> Path:
    record = metadata(out)[task_id]
    (meta,) = [p for p in out.rglob("metadata.json") if json.loads(p.read_text())["task_id"] == task_id]
    return meta.parent / record["video"]


def wait_until(condition, what: str, deadline_s: float = 120) -> None:
    # Waits on an observable state, never on a fixed delay; the deadline only stops a hung test.
    end = time.monotonic() + deadline_s
    while not condition():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def assert_clean_exit(done: subprocess.CompletedProcess[str], code: int) -> None:
    assert done.returncode == code, done.stdout[-2000:] + done.stderr[-2000:]
    assert "Traceback" not in done.stderr + done.stdout


# -- 5. resume checks the video, not only metadata.json -------------------------------------------------


def test_deleted_truncated_or_replaced_video_is_redone_and_said(questions: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    first = generate(questions, out, tmp_path, "--model", "static-first-frame", "--domain", "maze")
    assert_clean_exit(first, 0)
    records = metadata(out)
    for record in records.values():
        assert record["video_size"] > 0 and len(record["video_sha256"]) == 64
    deleted, truncated, replaced = (video_of(out, t) for t in ("maze_0001", "maze_0002", "maze_0003"))
    assert records["maze_0001"]["video_sha256"] == file_sha256(deleted)
    deleted.unlink()
    truncated.write_bytes(truncated.read_bytes()[:100])
    data = bytearray(replaced.read_bytes())
    data[-10:] = bytes(b ^ 0xFF for b in data[-10:])  # same size, other bytes: only a rehash sees it
    replaced.write_bytes(bytes(data))

    second = generate(questions, out, tmp_path, "--model", "static-first-frame", "--domain", "maze")
    assert_clean_exit(second, 0)
    assert "redoing static-first-frame maze_0001" in second.stderr and "missing" in second.stderr
    assert "redoing static-first-frame maze_0002" in second.stderr and "changed size" in second.stderr
    assert "maze_0003" not in second.stderr, "a plain resume checks size, not content"
    assert "skipping 2 generation(s) already done" in second.stdout
    after = metadata(out)
    assert after["maze_0001"]["attempts"] == 2 and after["maze_0002"]["attempts"] == 2
    assert file_sha256(video_of(out, "maze_0002")) == after["maze_0002"]["video_sha256"]

    third = generate(questions, out, tmp_path, "--model", "static-first-frame", "--domain", "maze", "--verify")
    assert_clean_exit(third, 0)
    assert "redoing static-first-frame maze_0003" in third.stderr and "sha256" in third.stderr
    assert metadata(out)["maze_0003"]["attempts"] == 2
    assert file_sha256(video_of(out, "maze_0003")) == metadata(out)["maze_0003"]["video_sha256"]
    fourth = generate(questions, out, tmp_path, "--model", "static-first-frame", "--domain", "maze", "--verify")
    assert_clean_exit(fourth, 0)
    assert "skipping 4 generation(s) already done" in fourth.stdout and "redoing" not in fourth.stderr


def test_a_video_path_leading_out_of_the_run_folder_is_not_done(questions: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert_clean_exit(generate(questions, out, tmp_path, "--model", "static-first-frame", "--task-id", "maze_0001"), 0)
    (meta,) = out.rglob("metadata.json")
    outside = tmp_path / "other.mp4"
    shutil.copyfile(meta.parent / json.loads(meta.read_text())["video"], outside)
    record = json.loads(meta.read_text())
    record["video"] = os.path.relpath(outside, meta.parent)
    meta.write_text(json.dumps(record))
    again = generate(questions, out, tmp_path, "--model", "static-first-frame", "--task-id", "maze_0001")
    assert_clean_exit(again, 0)
    assert "outside the generation folder" in again.stderr
    assert metadata(out)["maze_0001"]["video"].startswith("video/")


# -- 6. the run id covers the input image, and the answer for wrappers handed it ---------------------


def test_new_input_image_or_answer_makes_a_new_generation(questions: Path, tmp_path: Path) -> None:
    from PIL import Image

    def run_dirs(model: str) -> set[Path]:
        return {p.parent for p in (tmp_path / "out" / "exp" / model).rglob("metadata.json")}

    def run(model: str) -> InferenceRunner:
        tasks = load_tasks(questions, task_ids=["maze_0001"]).tasks
        runner = InferenceRunner(output_dir=tmp_path / "out", experiment="exp", duration=1.0)
        assert runner.run([model], tasks).failed == 0
        return runner

    for model in ("static-first-frame", "oracle-solution"):
        run(model)
    task_dir = questions / "maze_task" / "maze_0001"
    # Same id and prompt, another image (a dataset rebuilt with another seed): never "already done".
    with Image.open(task_dir / "first_frame.png") as im:
        changed = im.convert("RGB")
    changed.putpixel((0, 0), (1, 2, 3))
    changed.save(task_dir / "first_frame.png")
    for model in ("static-first-frame", "oracle-solution"):
        before = run_dirs(model)
        run(model)
        assert len(run_dirs(model)) == len(before) + 1, f"{model} reused a video made from the old image"
    # Another answer: the oracle, which is handed it, makes a new video; a model that never sees it does not.
    meta = json.loads((task_dir / "question_metadata.json").read_text())
    meta["note"] = "solution metadata rebuilt"
    (task_dir / "question_metadata.json").write_text(json.dumps(meta))
    static_before, oracle_before = run_dirs("static-first-frame"), run_dirs("oracle-solution")
    run("static-first-frame")
    run("oracle-solution")
    assert run_dirs("static-first-frame") == static_before
    assert len(run_dirs("oracle-solution")) == len(oracle_before) + 1


# -- 9. I/O errors outside a job ------------------------------------------------------------------------


def test_output_dir_that_is_a_file_is_a_usage_error(questions: Path, tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("x")
    done = generate(questions, tmp_path / "afile", tmp_path, "--model", "static-first-frame")
    assert_clean_exit(done, 2)
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("error: output directory") and "--output-dir" in line


def _namespaced(mount_options: str, mountpoint: Path, argv: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` with a fresh tmpfs (``mount_options``) on ``mountpoint``, in private user and mount namespaces.

    The paths and the command travel as arguments, never spliced into the shell line."""
    if shutil.which("unshare") is None:
        pytest.skip("unshare (util-linux) is not installed")
    probe = subprocess.run(["unshare", "--user", "--map-root-user", "--mount", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"user namespaces are not available here: {probe.stderr.decode(errors='replace').strip()}")
    script = 'mount -t tmpfs -o "$1" tmpfs "$2" || exit 97; shift 2; exec "$@"'
    done = subprocess.run(
        ["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", script, "sh", mount_options, str(mountpoint)]
        + argv,
        cwd=cwd,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=240,
    )
    if done.returncode == 97:
        pytest.skip(f"cannot mount a tmpfs in a user namespace here: {done.stderr.strip()}")
    return done


def test_read_only_output_dir_is_refused_before_any_work(questions: Path, tmp_path: Path) -> None:
    mnt = tmp_path / "ro"
    mnt.mkdir()
    argv = generate_cmd(
        *BASE, "--model", "static-first-frame", "--questions-dir", str(questions), "--output-dir", str(mnt)
    )
    done = _namespaced("ro,size=1m", mnt, argv, tmp_path)
    assert_clean_exit(done, 2)
    (line,) = done.stderr.strip().splitlines()
    assert "not writable" in line and "Read-only file system" in line


def test_full_disk_mid_run_stops_cleanly_with_a_summary(questions: Path, tmp_path: Path) -> None:
    """The disk fills after a few generations: those stay completed, the run stops with exit 1 and its
    summary, no traceback, and no generation is left ``running`` or with a half-written file."""
    mnt = tmp_path / "small"
    mnt.mkdir()
    # One generation of the sample takes roughly 40 KB here (inputs copied, video, metadata): room for a few.
    argv = generate_cmd(
        *BASE,
        "--model",
        "static-first-frame",
        "oracle-solution",
        "--questions-dir",
        str(questions),
        "--output-dir",
        str(mnt),
    )
    done = _namespaced("size=160k", mnt, [sys.executable, "-c", _KEEP_AND_REPORT, str(mnt), *argv], tmp_path)
    assert done.returncode == 1, done.stdout[-3000:] + done.stderr[-3000:]
    assert "Traceback" not in done.stdout + done.stderr
    assert "summary" in done.stdout
    assert "No space left on device" in done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["statuses"].get("running", 0) == 0, report
    assert report["statuses"].get("completed", 0) >= 1, report
    assert report["completed_videos_ok"], report


# Runs the CLI inside the namespace, then (before the tmpfs disappears with it) reports what it left.
_KEEP_AND_REPORT = r"""
import collections, json, subprocess, sys
from pathlib import Path
from vmevalkit.video import probe_video
root, argv = Path(sys.argv[1]), sys.argv[2:]
done = subprocess.run(argv)
statuses = collections.Counter()
ok = True
for meta in root.rglob("metadata.json"):
    record = json.loads(meta.read_text())
    statuses[record["status"]] += 1
    if record["status"] == "completed":
        ok = ok and probe_video(meta.parent / record["video"]).frame_count > 0
print(json.dumps({"statuses": statuses, "completed_videos_ok": ok}))
sys.exit(done.returncode)
"""


def test_unclaimable_folder_fails_that_generation_only(questions: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    blocker = out / "exp" / "static-first-frame" / "maze_task" / "maze_0001"
    blocker.parent.mkdir(parents=True)
    blocker.write_text("a file where the task's folder goes")
    done = generate(questions, out, tmp_path, "--model", "static-first-frame", "--domain", "maze")
    assert_clean_exit(done, 1)
    assert "failed: static-first-frame maze_0001: I/O error claiming its folder" in done.stderr
    assert {t: r["status"] for t, r in metadata(out).items()} == {f"maze_000{i}": "completed" for i in (2, 3, 4)}


def test_unwritable_metadata_fails_that_generation_and_leaves_no_running_record(
    questions: Path, tmp_path: Path
) -> None:
    tasks = load_tasks(questions, domains=["maze"]).tasks
    runner = InferenceRunner(output_dir=tmp_path / "out", experiment="exp", duration=1.0)
    plan = runner.plan(["static-first-frame"], tasks)
    (plan[0].run_dir / "metadata.json").mkdir(parents=True)  # a directory where the record goes
    summary = runner.run(["static-first-frame"], tasks)
    assert (summary.completed, summary.failed) == (3, 1)
    (failure,) = summary.models["static-first-frame"].failures
    assert failure[0] == plan[0].spec.task.task_id and "I/O error" in failure[1]
    assert not [p for p in (tmp_path / "out").rglob(f"*{TEMP_MARKER}*")]


# -- 10. a builtin job past its timeout ----------------------------------------------------------------


def test_timed_out_builtin_job_is_abandoned_and_its_late_video_discarded(questions: Path, tmp_path: Path) -> None:
    import vmk_test_models

    from vmevalkit.settings import get_settings

    tasks = load_tasks(questions, task_ids=["maze_0001"]).tasks
    settings = get_settings().model_copy(update={"job_timeout_s": 0.2})
    runner = InferenceRunner(output_dir=tmp_path / "out", experiment="exp", duration=1.0, settings=settings)
    vmk_test_models.GATE.clear()
    vmk_test_models.GATED_DONE.clear()
    summary = runner.run(["test-gated"], tasks)
    assert summary.failed == 1
    (run_dir,) = [p.parent for p in (tmp_path / "out").rglob("metadata.json")]
    assert read_record(run_dir).status == "failed" and "timed out" in read_record(run_dir).error
    vmk_test_models.GATE.set()  # the abandoned call now finishes and writes its video
    try:
        wait_until(lambda: vmk_test_models.GATED_DONE, "the abandoned call to finish")
        late = vmk_test_models.GATED_DONE[0]
        assert late.parent == run_dir / "video" and TEMP_MARKER in late.name, "it wrote to its private path"
        wait_until(lambda: not late.exists(), "the late video to be removed")
        assert not list((run_dir / "video").glob("*.mp4"))
        assert read_record(run_dir).status == "failed"
    finally:
        vmk_test_models.GATE.clear()


def test_timed_out_builtin_job_does_not_keep_the_process_alive(questions: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    # The gate file never appears: the job would run forever; the process must still end after its timeout.
    done = generate(
        questions,
        out,
        tmp_path,
        "--model",
        "test-gated",
        "--task-id",
        "maze_0001",
        VMK_GATE_FILE=str(tmp_path / "never"),
        VMEVALKIT_JOB_TIMEOUT_S="0.5",
    )
    assert_clean_exit(done, 1)
    assert "timed out after 0.5 s" in done.stderr
    assert metadata(out)["maze_0001"]["status"] == "failed"


# -- 11. exit 0 means every selected generation is completed --------------------------------------------


def test_invalid_tasks_make_exit_1_with_their_count(questions: Path, tmp_path: Path) -> None:
    (questions / "maze_task" / "maze_0002" / "prompt.txt").unlink()
    done = generate(questions, tmp_path / "out", tmp_path, "--model", "static-first-frame", "--domain", "maze")
    assert_clean_exit(done, 1)
    assert "warning: skipped task maze_0002" in done.stderr
    assert "1 invalid task(s) skipped" in done.stderr
    assert len(metadata(tmp_path / "out")) == 3


def _start_gated_peer(questions: Path, out: Path, tmp_path: Path, task_id: str) -> subprocess.Popen[str]:
    """A real CLI process that claims ``task_id`` and waits in its job until killed (its gate never opens)."""
    args = (*BASE, "--model", "test-gated", "--task-id", task_id, "--questions-dir", str(questions))
    peer = subprocess.Popen(
        generate_cmd(*args, "--output-dir", str(out)),
        cwd=tmp_path,
        env=cli_env(VMK_GATE_FILE=str(tmp_path / "never")),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        wait_until(
            lambda: peer.poll() is not None or metadata(out).get(task_id, {}).get("status") == "running",
            "the peer to start its generation",
        )
    except AssertionError:
        peer.kill()
        raise
    assert peer.poll() is None, "the peer exited early"
    return peer


def test_generation_held_by_a_live_peer_gives_exit_1_and_a_dead_peers_is_taken_over(
    questions: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    peer = _start_gated_peer(questions, out, tmp_path, "maze_0001")
    try:
        held = generate(questions, out, tmp_path, "--model", "test-gated", "--domain", "maze", VMK_GATE_FILE=str(out))
        assert_clean_exit(held, 1)
        assert f"busy: test-gated maze_0001: still claimed by pid {peer.pid}" in held.stderr
        assert "1 generation(s) still claimed by another running process" in held.stderr
    finally:
        peer.send_signal(signal.SIGKILL)
        peer.wait()
    assert metadata(out)["maze_0001"]["status"] == "running"  # what the killed peer left
    again = generate(questions, out, tmp_path, "--model", "test-gated", "--domain", "maze", VMK_GATE_FILE=str(out))
    assert_clean_exit(again, 0)
    assert metadata(out)["maze_0001"]["status"] == "completed"


def test_claim_of_a_peer_that_dies_during_the_run_is_taken_over_in_the_same_run(
    questions: Path, tmp_path: Path
) -> None:
    import vmk_test_models

    out = tmp_path / "out"
    peer = _start_gated_peer(questions, out, tmp_path, "maze_0001")
    completed: list[str] = []

    def on_event(event) -> None:
        if event.kind == "completed":
            completed.append(event.task_id)
            if len(completed) == 3:  # this run's own work is done; the peer dies before the second look
                peer.send_signal(signal.SIGKILL)
                peer.wait()

    tasks = load_tasks(questions, domains=["maze"]).tasks
    runner = InferenceRunner(output_dir=out, experiment="exp", duration=1.0, on_event=on_event)
    vmk_test_models.GATE.set()
    try:
        summary = runner.run(["test-gated"], tasks)
    finally:
        vmk_test_models.GATE.clear()
        if peer.poll() is None:
            peer.kill()
            peer.wait()
    assert summary.complete and summary.busy == 0 and summary.completed == 4, summary
    assert metadata(out)["maze_0001"]["status"] == "completed"


# -- 12, 13. non-finite numbers and bad settings ---------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ("--duration", "inf"),
        ("--duration", "nan"),
        ("--duration=-Infinity",),
        ("--max-cost", "inf"),
        ("--param", "steps=NaN"),
        ("--param", "guidance_scale=inf"),
    ],
)
def test_non_finite_numbers_are_refused(questions: Path, tmp_path: Path, args: tuple[str, ...]) -> None:
    done = run_generate(
        "--model",
        "test-local",
        "static-first-frame",
        "--questions-dir",
        str(questions),
        "--output-dir",
        str(tmp_path / "out"),
        *args,
        cwd=tmp_path,
    )
    assert_clean_exit(done, 2)
    assert "finite" in done.stderr
    assert not (tmp_path / "out").exists()


def test_non_finite_scorer_kwargs_are_refused(tmp_path: Path) -> None:
    done = run_score(
        "--scorer", "frame-match", "--scorer-score-kwargs-json", '{"frames": NaN}', cwd=tmp_path, env=cli_env()
    )
    assert_clean_exit(done, 2)
    assert "NaN" in done.stderr and "finite" in done.stderr


@pytest.mark.parametrize(
    ("env", "name"),
    [
        ({"VMEVALKIT_MAX_CONCURRENCY": "abc"}, "VMEVALKIT_MAX_CONCURRENCY"),
        ({"VMEVALKIT_JOB_TIMEOUT_S": "-5"}, "VMEVALKIT_JOB_TIMEOUT_S"),
        ({"VMEVALKIT_REQUEST_TIMEOUT_S": "nan"}, "VMEVALKIT_REQUEST_TIMEOUT_S"),
    ],
)
def test_bad_settings_are_one_line_usage_errors(questions: Path, tmp_path: Path, env: dict, name: str) -> None:
    done = generate(questions, tmp_path / "out", tmp_path, "--model", "static-first-frame", **env)
    assert_clean_exit(done, 2)
    assert name in done.stderr and "pydantic" not in done.stderr.lower()
    assert done.stderr.startswith("error: ")


def test_non_utf8_dotenv_is_a_usage_error(questions: Path, tmp_path: Path) -> None:
    (tmp_path / ".env").write_bytes(b"LUMA_API_KEY=caf\xe9\n")
    done = generate(questions, tmp_path / "out", tmp_path, "--model", "static-first-frame")
    assert_clean_exit(done, 2)
    assert ".env" in done.stderr and "UTF-8" in done.stderr


# -- 3, 14. outside text: no secret, no terminal control characters -----------------------------------------

KEY = "vmk-secret-Q7r2T9xLp4Zc8Wm1"


def test_a_model_that_echoes_a_key_leaves_it_nowhere(questions: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    done = generate(
        questions,
        out,
        tmp_path,
        "--model",
        "test-echo",
        "--task-id",
        "maze_0001",
        VMK_TEST_API_KEY=KEY,
        VMK_ECHO_ENV="VMK_TEST_API_KEY",
    )
    assert_clean_exit(done, 1)
    assert "invalid key ***" in done.stderr
    assert KEY not in done.stdout + done.stderr
    for path in out.rglob("*"):
        if path.is_file():
            assert KEY.encode() not in path.read_bytes(), path


def test_control_characters_from_task_ids_and_errors_are_escaped(questions: Path, tmp_path: Path) -> None:
    evil = "maze_\x1b]52;c;ZXZpbA==\x07\x1b[2J"
    shutil.copytree(questions / "maze_task" / "maze_0001", questions / "maze_task" / evil)
    (questions / "maze_task" / "maze_0002" / "prompt.txt").unlink()
    os.rename(questions / "maze_task" / "maze_0002", questions / "maze_task" / "maze_\x1b[31mbad")
    done = generate(
        questions, tmp_path / "out", tmp_path, "--model", "test-probe", "--domain", "maze", VMK_FAIL_TASKS=evil
    )
    assert done.returncode == 1
    for stream in (done.stdout, done.stderr):
        assert "\x1b" not in stream and "\x07" not in stream
    assert "maze_\\x1b]52;c;ZXZpbA==\\x07\\x1b[2J" in done.stderr  # the failure line, escaped
    assert "skipped task maze_\\x1b[31mbad" in done.stderr


def test_a_scorer_constructor_error_is_one_scrubbed_usage_line(questions: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert_clean_exit(generate(questions, out, tmp_path, "--model", "static-first-frame", "--task-id", "maze_0001"), 0)
    done = run_score(
        "--scorer-class-path",
        "vmk_test_scorers:RefusingOptions",
        "--output-dir",
        str(out),
        "--experiment",
        "exp",
        cwd=tmp_path,
        env=cli_env(VMK_TEST_API_KEY=KEY),
    )
    assert_clean_exit(done, 2)
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("error: ") and "ValueError: bad option for key ***" in line
    assert KEY not in done.stderr and "\x1b" not in done.stderr

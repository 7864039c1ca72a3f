"""Checkpoint registry, lock files, verification and download (vmevalkit/workers/weights.py).

The registry, verification, stamps and print-pins run here in the main environment. Downloads need
huggingface_hub, which only model virtualenvs have: those tests run the ``weights`` command line in the
interpreter named by VMEVALKIT_TEST_MODEL_PYTHON, against a fake Hub on 127.0.0.1 (``fakes/hf_hub.py``)
reached through HF_ENDPOINT, exactly as an install reaches a mirror.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import tomllib
from conftest import REPO, ModelVenv
from fakes.hf_hub import FakeHub, Fault

from vmevalkit.workers import weights
from vmevalkit.workers.weights import (
    LOCK_FILE,
    PARTIAL_DIR,
    STAMP_FILE,
    FilePin,
    Lock,
    RegistryError,
    UnknownCheckpointError,
    WeightsVerificationError,
)

MiB = 1024 * 1024
# Bigger than huggingface_hub's 10 MiB download chunk, so a broken transfer leaves whole chunks on disk to resume.
BIG = 12 * MiB
CHUNK = 10 * MiB
TOKEN = "hf_testTOKENvalue0123456789"
FAMILIES = {"svd", "ltx-video", "cogvideox", "hunyuanvideo", "wan"}


def blob(seed: str, size: int) -> bytes:
    """Deterministic incompressible bytes."""
    out = bytearray()
    counter = 0
    while len(out) < size:
        out += hashlib.sha256(f"{seed}:{counter}".encode()).digest() * 64
        counter += 1
    return bytes(out[:size])


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def repo_files(version: str = "v1") -> dict[str, bytes]:
    """A diffusers-shaped repo: configs (small git files), weights (LFS), and files the patterns leave out."""
    return {
        "model_index.json": f'{{"_class_name": "FakePipeline", "v": "{version}"}}'.encode(),
        "scheduler/scheduler_config.json": b'{"num_train_timesteps": 1000}',
        "transformer/config.json": f'{{"layers": 2, "v": "{version}"}}'.encode(),
        "transformer/diffusion_pytorch_model.safetensors": blob(f"transformer-{version}", BIG),
        "transformer/diffusion_pytorch_model.fp16.safetensors": blob("fp16", 4096),
        "vae/config.json": b'{"latent_channels": 4}',
        "vae/diffusion_pytorch_model.safetensors": blob(f"vae-{version}", 8192),
        "README.md": b"# fake model card\n",
        "original-format.safetensors": blob("single-file", 4096),
    }


WANTED = [
    "model_index.json",
    "scheduler/scheduler_config.json",
    "transformer/config.json",
    "transformer/diffusion_pytorch_model.safetensors",
    "vae/config.json",
    "vae/diffusion_pytorch_model.safetensors",
]
PATTERNS = '["model_index.json", "scheduler/*.json", "transformer/*", "vae/*"]'


def registry_table(
    checkpoint: str = "tiny",
    *,
    repo_id: str = "acme/tiny-video",
    revision: str = "main",
    gated: bool = False,
    files: dict[str, tuple[int, str]] | None = None,
) -> str:
    pinned = len(revision) == 40
    lines = [
        f'["{checkpoint}"]',
        f'repo_id = "{repo_id}"',
        'family = "fake"',
        f'revision = "{revision}"',
        f"pinned = {str(pinned).lower()}",
        f"gated = {str(gated).lower()}",
        f"allow_patterns = {PATTERNS}",
        'ignore_patterns = ["*.fp16.*"]',
        'note = "test checkpoint"',
    ]
    if files is not None:
        lines += ["", f'["{checkpoint}".files]']
        lines += [f'"{path}" = {{ size = {size}, sha256 = "{digest}" }}' for path, (size, digest) in files.items()]
    return "\n".join(lines) + "\n"


def write_registry(path: Path, *tables: str) -> Path:
    path.write_text("\n".join(tables), encoding="utf-8")
    return path


def files_of(directory: Path) -> dict[str, bytes]:
    """The weight files of an install (not our lock, stamp or partial files)."""
    own = {LOCK_FILE, STAMP_FILE, weights.MUTEX_FILE}
    return {
        p.relative_to(directory).as_posix(): p.read_bytes()
        for p in directory.rglob("*")
        if p.is_file() and p.name not in own and PARTIAL_DIR not in p.parts
    }


# ---- the shipped registry --------------------------------------------------------------------------


SCORER_CHECKPOINTS = {"clip-score", "xclip-score", "videoscore", "videoreward", "vlm-judge-qwen"}


def test_shipped_registry_names_every_local_model() -> None:
    pins = {k: v for k, v in weights.load_registry().items() if k not in SCORER_CHECKPOINTS}
    assert set(pins) == {
        "svd",
        "ltx-video",
        "cogvideox-5b-i2v",
        "hunyuanvideo-i2v",
        "wan2.1-i2v-14b-480p",
        "wan2.1-i2v-14b-720p",
        "wan2.2-ti2v-5b",
        "wan2.2-i2v-a14b",
    }
    for pin in pins.values():
        assert pin.family in FAMILIES
        assert "model_index.json" in pin.allow_patterns
        # safetensors only: no pickled weights, no original single-file checkpoints at the repo root
        assert not any(p.endswith((".bin", ".pt", ".pth", ".ckpt")) for p in pin.allow_patterns)
        assert all("/" in p or p == "model_index.json" for p in pin.allow_patterns)
        assert pin.note, f"{pin.id}: say where the pin comes from, or why there is none"
    assert pins["svd"].gated
    assert pins["hunyuanvideo-i2v"].pinned is False and pins["hunyuanvideo-i2v"].revision == "main"


def test_scorer_checkpoints_are_transformers_folders_with_notes() -> None:
    pins = weights.load_registry()
    assert SCORER_CHECKPOINTS <= set(pins)
    for name in SCORER_CHECKPOINTS:
        pin = pins[name]
        assert pin.note and pin.allow_patterns, name
        assert "config.json" in pin.allow_patterns or "model_config.json" in pin.allow_patterns, name
        # Pickled weights only where the model ships nothing else (VideoReward's model.pth, loaded weights_only).
        pickled = [p for p in pin.allow_patterns if p.endswith((".bin", ".pt", ".pth", ".ckpt"))]
        assert pickled == ([] if name != "videoreward" else ["checkpoint-11352/model.pth"]), name


def test_catalog_local_entries_name_registry_checkpoints() -> None:
    from vmevalkit.runner.MODEL_CATALOG import AVAILABLE_MODELS

    pins = weights.load_registry()
    for name, entry in AVAILABLE_MODELS.items():
        if entry.get("kind") != "local":
            continue
        checkpoint = entry["args"]["checkpoint"]
        assert checkpoint in pins, f"{name}: checkpoint '{checkpoint}' is not in checkpoints.toml"
        assert entry["model"] == pins[checkpoint].repo_id, name


def test_registry_is_package_data() -> None:
    assert weights.DEFAULT_REGISTRY.name == "checkpoints.toml"
    text = (REPO / "pyproject.toml").read_text()
    assert '"vmevalkit.workers" = ["*.toml"]' in text


# ---- registry parsing ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda t: t.replace("pinned = false", "pinned = true"), "40-hex commit"),
        (lambda t: t.replace('note = "test checkpoint"', ""), "needs a note"),
        (lambda t: t.replace('revision = "main"', f'revision = "{"a" * 40}"'), "set pinned = true"),
        (lambda t: t + '\n["tiny".files]\n"../escape" = { size = 1, sha256 = "' + "0" * 64 + '" }\n', "[files]"),
        (lambda t: t.replace("gated = false", "gated = false\nmirror = 'x'"), "mirror"),
        (lambda t: t.replace('family = "fake"', 'family = "../up"'), "family"),
        (lambda t: t.replace("allow_patterns = " + PATTERNS, "allow_patterns = []"), "allow_patterns"),
    ],
)
def test_registry_rejects_invalid_tables(tmp_path: Path, edit: Any, message: str) -> None:
    path = write_registry(tmp_path / "registry.toml", edit(registry_table()))
    with pytest.raises(RegistryError) as caught:
        weights.load_registry(path)
    assert "[tiny]" in str(caught.value) and message in str(caught.value)


def test_unsafe_file_path_in_a_pinned_table_is_refused(tmp_path: Path) -> None:
    table = registry_table(revision="b" * 40, files={"../../etc/passwd": (1, "0" * 64)})
    with pytest.raises(RegistryError, match="unsafe file path"):
        weights.load_registry(write_registry(tmp_path / "registry.toml", table))


def test_unknown_checkpoint_lists_the_known_ones(tmp_path: Path) -> None:
    registry = write_registry(tmp_path / "registry.toml", registry_table("tiny"), registry_table("other"))
    with pytest.raises(UnknownCheckpointError) as caught:
        weights.get_pin("nope", registry)
    assert "unknown checkpoint 'nope'" in str(caught.value) and "other, tiny" in str(caught.value)
    assert isinstance(caught.value, LookupError)


def test_checkpoint_dir_is_family_then_id(tmp_path: Path) -> None:
    assert weights.checkpoint_dir("wan2.2-ti2v-5b", tmp_path) == tmp_path / "wan" / "wan2.2-ti2v-5b"
    registry = write_registry(tmp_path / "registry.toml", registry_table())
    assert weights.checkpoint_dir("tiny", tmp_path, registry=registry) == tmp_path / "fake" / "tiny"


# ---- verification without a hub: installs made by hand -----------------------------------------------


def make_install(weights_dir: Path, files: dict[str, bytes], *, revision: str = "main", commit: str = "c" * 40) -> Path:
    directory = weights_dir / "fake" / "tiny"
    for relpath, data in files.items():
        (directory / relpath).parent.mkdir(parents=True, exist_ok=True)
        (directory / relpath).write_bytes(data)
    lock = Lock(
        checkpoint="tiny",
        repo_id="acme/tiny-video",
        revision=revision,
        commit=commit,
        files={rel: FilePin(size=len(data), sha256=sha(data)) for rel, data in files.items()},
        created_at="2025-01-01T00:00:00+00:00",
    )
    (directory / LOCK_FILE).write_text(lock.model_dump_json(indent=2))
    return directory


SMALL = {"model_index.json": b'{"a": 1}', "transformer/w.safetensors": blob("w", 5000)}


def count_hashes(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    hashed: list[Path] = []
    original = weights._hash_file

    def counting(path: Path, *, git: bool = False) -> tuple[str, str | None]:
        hashed.append(path)
        return original(path, git=git)

    monkeypatch.setattr(weights, "_hash_file", counting)
    return hashed


def test_verify_uses_stamps_and_catches_a_changed_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    registry = write_registry(tmp_path / "registry.toml", registry_table())
    directory = make_install(tmp_path / "w", SMALL)
    hashed = count_hashes(monkeypatch)

    assert weights.verify("tiny", tmp_path / "w", registry=registry) == []
    assert len(hashed) == 2 and (directory / STAMP_FILE).is_file()
    assert weights.verify("tiny", tmp_path / "w", registry=registry) == []
    assert len(hashed) == 2, "unchanged files are not hashed again"

    target = directory / "transformer/w.safetensors"
    data = bytearray(target.read_bytes())
    data[100] ^= 0xFF
    target.write_bytes(bytes(data))  # same size, new mtime
    os.utime(target, ns=(time.time_ns(), time.time_ns() + 1_000_000))
    assert weights.verify("tiny", tmp_path / "w", registry=registry) == [
        "weights for 'tiny' failed verification: transformer/w.safetensors sha256 mismatch: "
        "run bash setup/install_model.sh tiny to re-download it"
    ]
    assert hashed[-1] == target and len(hashed) == 3


def test_full_verify_catches_what_the_stamp_cannot(tmp_path: Path) -> None:
    """A change that keeps size and mtime passes the stamp check; --full hashes every file anyway."""
    registry = write_registry(tmp_path / "registry.toml", registry_table())
    directory = make_install(tmp_path / "w", SMALL)
    assert weights.verify("tiny", tmp_path / "w", registry=registry) == []
    target = directory / "transformer/w.safetensors"
    st = target.stat()
    target.write_bytes(blob("other", 5000))
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert weights.verify("tiny", tmp_path / "w", registry=registry) == []
    assert (
        "transformer/w.safetensors sha256 mismatch"
        in weights.verify("tiny", tmp_path / "w", registry=registry, full=True)[0]
    )


def test_verify_reports_missing_and_resized_files(tmp_path: Path) -> None:
    registry = write_registry(tmp_path / "registry.toml", registry_table())
    directory = make_install(tmp_path / "w", SMALL)
    (directory / "model_index.json").unlink()
    (directory / "transformer/w.safetensors").write_bytes(b"short")
    problems = weights.verify("tiny", tmp_path / "w", registry=registry)
    assert problems == [
        "weights for 'tiny' failed verification: model_index.json is missing: "
        "run bash setup/install_model.sh tiny to re-download it",
        "weights for 'tiny' failed verification: transformer/w.safetensors has 5 bytes, expected 5000: "
        "run bash setup/install_model.sh tiny to re-download it",
    ]
    with pytest.raises(WeightsVerificationError, match="model_index.json is missing"):
        weights.require_verified("tiny", tmp_path / "w", registry=registry)


def test_verify_without_a_lock(tmp_path: Path) -> None:
    registry = write_registry(tmp_path / "registry.toml", registry_table())
    assert weights.verify("tiny", tmp_path / "w", registry=registry) == [
        "weights for 'tiny' are not downloaded: run bash setup/install_model.sh tiny"
    ]
    (tmp_path / "w/fake/tiny").mkdir(parents=True)
    (tmp_path / "w/fake/tiny/model_index.json").write_text("{}")
    assert weights.verify("tiny", tmp_path / "w", registry=registry) == [
        "weights for 'tiny' are incomplete (an install did not finish): run bash setup/install_model.sh tiny"
    ]
    (tmp_path / "w/fake/tiny" / LOCK_FILE).write_text("{not json")
    [problem] = weights.verify("tiny", tmp_path / "w", registry=registry)
    assert "unreadable lock file" in problem and problem.endswith("run bash setup/install_model.sh tiny")


def test_verify_refuses_a_lock_the_registry_moved_away_from(tmp_path: Path) -> None:
    make_install(tmp_path / "w", SMALL, revision="d" * 40, commit="d" * 40)
    same = write_registry(tmp_path / "same.toml", registry_table(revision="d" * 40))
    assert weights.verify("tiny", tmp_path / "w", registry=same) == []
    moved = write_registry(tmp_path / "moved.toml", registry_table(revision="e" * 40))
    [problem] = weights.verify("tiny", tmp_path / "w", registry=moved)
    assert "installed from acme/tiny-video at dddddddddddd but the registry now asks for eeeeeeeeeeee" in problem
    assert problem.endswith("run bash setup/install_model.sh tiny to update them")


def test_a_branch_lock_keeps_its_commit(tmp_path: Path) -> None:
    """An unpinned entry is satisfied by a lock of the same branch, whatever commit it resolved to."""
    make_install(tmp_path / "w", SMALL, revision="main", commit="f" * 40)
    registry = write_registry(tmp_path / "registry.toml", registry_table(revision="main"))
    assert weights.verify("tiny", tmp_path / "w", registry=registry) == []
    other_branch = write_registry(tmp_path / "dev.toml", registry_table(revision="dev"))
    assert "now asks for revision 'dev'" in weights.verify("tiny", tmp_path / "w", registry=other_branch)[0]


def test_lock_must_agree_with_the_registry_file_pins(tmp_path: Path) -> None:
    make_install(tmp_path / "w", SMALL, revision="a" * 40, commit="a" * 40)
    pins = {rel: (len(data), sha(data)) for rel, data in SMALL.items()}
    registry = write_registry(tmp_path / "ok.toml", registry_table(revision="a" * 40, files=pins))
    assert weights.verify("tiny", tmp_path / "w", registry=registry) == []
    pins["transformer/w.safetensors"] = (5000, sha(b"something else"))
    registry = write_registry(tmp_path / "bad.toml", registry_table(revision="a" * 40, files=pins))
    assert weights.verify("tiny", tmp_path / "w", registry=registry) == [
        "weights for 'tiny' failed verification: transformer/w.safetensors is not the file the registry pins: "
        "run bash setup/install_model.sh tiny to re-download it"
    ]


def test_print_pins_turns_verified_locks_into_registry_tables(tmp_path: Path) -> None:
    registry = write_registry(tmp_path / "registry.toml", registry_table(revision="main"))
    make_install(tmp_path / "w", SMALL, revision="main", commit="1" * 40)
    text = weights.print_pins(tmp_path / "w", registry=registry)
    table = tomllib.loads(text)["tiny"]
    assert table["revision"] == "1" * 40 and table["pinned"] is True
    assert table["files"] == {rel: {"size": len(data), "sha256": sha(data)} for rel, data in SMALL.items()}
    # pasted into a registry, it is valid and the install verifies against it
    pasted = write_registry(tmp_path / "pinned.toml", text)
    pin = weights.get_pin("tiny", pasted)
    assert pin.pinned and pin.files is not None and pin.allow_patterns == json.loads(PATTERNS)
    assert weights.verify("tiny", tmp_path / "w", registry=pasted) == []


def test_print_pins_skips_unverified_installs(tmp_path: Path) -> None:
    registry = write_registry(tmp_path / "registry.toml", registry_table())
    directory = make_install(tmp_path / "w", SMALL)
    (directory / "model_index.json").write_bytes(b'{"a": 2}')
    text = weights.print_pins(tmp_path / "w", registry=registry)
    assert tomllib.loads(text) == {}
    assert "# skipped tiny: weights for 'tiny' failed verification: model_index.json sha256 mismatch" in text
    assert "no lock files" in weights.print_pins(tmp_path / "empty", registry=registry)


def test_status_summarises_an_install(tmp_path: Path) -> None:
    registry = write_registry(tmp_path / "registry.toml", registry_table())
    before = weights.status("tiny", tmp_path / "w", registry=registry)
    assert before["present"] is False and before["verified"] is False and before["size_bytes"] == 0
    make_install(tmp_path / "w", SMALL)
    after = weights.status("tiny", tmp_path / "w", registry=registry)
    assert after["present"] and after["verified"] and after["commit"] == "c" * 40
    assert after["size_bytes"] >= sum(len(d) for d in SMALL.values())


def main_env_cli(tmp_path: Path, *args: str, without_hub: bool = False) -> subprocess.CompletedProcess[str]:
    """``vmevalkit local ARGS``; ``without_hub``: as an environment without huggingface_hub runs it (the main
    environment may have it, with the suites extra, so its absence is made: a package of that name that cannot be
    imported, first on the path)."""
    path = str(REPO)
    if without_hub:
        blocker = tmp_path / "no-hub" / "huggingface_hub"
        blocker.mkdir(parents=True, exist_ok=True)
        (blocker / "__init__.py").write_text('raise ImportError("No module named huggingface_hub")\n')
        path = os.pathsep.join([str(blocker.parent), path])
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": path, "HOME": str(tmp_path)}
    return subprocess.run(
        [sys.executable, "-m", "vmevalkit", "local", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_cli_in_the_main_environment(tmp_path: Path) -> None:
    registry = write_registry(tmp_path / "registry.toml", registry_table())
    common = ["--weights-dir", str(tmp_path / "w"), "--registry", str(registry)]
    verify = main_env_cli(tmp_path, "verify", "tiny", *common)
    assert verify.returncode == 1 and "Traceback" not in verify.stderr
    assert "weights for 'tiny' are not downloaded: run bash setup/install_model.sh tiny" in verify.stderr
    make_install(tmp_path / "w", SMALL)
    verified = main_env_cli(tmp_path, "verify", *common, "tiny", "--full")
    assert verified.returncode == 0, verified.stderr
    assert verified.stdout == "weights for 'tiny' verified\n"
    shutil.rmtree(tmp_path / "w")
    status = main_env_cli(tmp_path, "weights", *common)
    assert status.returncode == 0 and json.loads(status.stdout)["tiny"]["present"] is False
    # downloads need huggingface_hub, which an environment without the model (or suites) extras lacks: a clear
    # error, not a traceback
    fetch = main_env_cli(tmp_path, "fetch", "tiny", *common, without_hub=True)
    assert fetch.returncode == 1 and "Traceback" not in fetch.stderr
    assert "needs huggingface_hub" in fetch.stderr
    unknown = main_env_cli(tmp_path, "verify", "nope", *common)
    assert unknown.returncode == 1 and "unknown checkpoint 'nope'" in unknown.stderr


# ---- install state: tiny checkpoints, sizes -----------------------------------------------------------


def install_cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``vmevalkit ARGS`` in the main environment with the envs and weights under ``tmp_path``."""
    env = {
        "PATH": os.environ["PATH"],
        "PYTHONPATH": str(REPO),
        "HOME": str(tmp_path),
        "VMEVALKIT_ENVS_DIR": str(tmp_path / "envs"),
        "VMEVALKIT_WEIGHTS_DIR": str(tmp_path / "weights"),
        "COLUMNS": "200",
    }
    return subprocess.run(
        [sys.executable, "-m", "vmevalkit", *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )


def test_a_model_installed_with_a_tiny_checkpoint_says_so_and_how_to_run_it(tmp_path: Path) -> None:
    """After install_model.sh ltx-video --tiny (a venv and weights/tiny/ltx-video, no real weights) the model is
    installed "tiny", and the fix names the --checkpoint that runs it, not "not installed"."""
    from conftest import make_fake_venv

    from vmevalkit.runner.registry import get_entry
    from vmevalkit.settings import Settings
    from vmevalkit.workers.installation import install_state, local_problem
    from vmevalkit.workers.tiny import write_tiny_marker

    settings = Settings(envs_dir=tmp_path / "envs", weights_dir=tmp_path / "weights")
    entry = get_entry("ltx-video")
    assert install_state(entry, settings) == "no"
    make_fake_venv(tmp_path / "envs", "ltx-video")
    assert install_state(entry, settings) == "no"  # a venv without any checkpoint
    tiny = tmp_path / "weights" / "tiny" / "ltx-video"
    tiny.mkdir(parents=True)
    (tiny / "model_index.json").write_text("{}")
    assert install_state(entry, settings) == "no"  # a folder there, but not one install_model.sh --tiny built
    write_tiny_marker(tiny, {"height": 32, "width": 32, "num_frames": 9, "steps": 2})
    assert install_state(entry, settings) == "tiny"
    problem = local_problem(entry, settings)
    assert problem is not None and "installed with a tiny random checkpoint only" in problem
    assert f"--checkpoint {tiny.absolute()}" in problem and "bash setup/install_model.sh ltx-video" in problem
    # Run on that folder, it is simply ready.
    chosen = Settings(envs_dir=tmp_path / "envs", weights_dir=tmp_path / "weights", checkpoints={"ltx-video": tiny})
    assert install_state(entry, chosen) == "yes"
    listed = install_cli(tmp_path, "local", "status", "--json")
    assert listed.returncode == 0, listed.stderr
    (row,) = [r for r in json.loads(listed.stdout) if r["model"] == "ltx-video"]
    assert row["venv"] is True and row["weights"] == "tiny" and row["weights_bytes"] > 0


def test_the_installer_and_the_listing_report_the_same_venv_size(tmp_path: Path) -> None:
    from conftest import make_fake_venv

    launcher = make_fake_venv(tmp_path / "envs", "ltx-video")
    (launcher.parent.parent / "lib").mkdir()
    (launcher.parent.parent / "lib" / "big.bin").write_bytes(b"x" * (3 * MiB + 123_456))
    script = 'source setup/lib/common.sh && vmk_venv_size "$1"'
    env = {**os.environ, "VMEVALKIT_ENVS_DIR": str(tmp_path / "envs"), "VMEVALKIT_PYTHON": sys.executable}
    shell = subprocess.run(
        ["bash", "-c", script, "bash", "ltx-video"], cwd=REPO, env=env, capture_output=True, text=True, timeout=60
    )
    assert shell.returncode == 0, shell.stderr
    assert shell.stdout.strip() == "3.1 MB"
    listed = install_cli(tmp_path, "local", "status")
    assert listed.returncode == 0, listed.stderr
    (line,) = [line for line in listed.stdout.splitlines() if line.startswith("ltx-video ")]
    assert line.split()[1:3] == ["yes", "3.1"] and line.split()[3] == "MB"


def test_the_size_of_a_folder_that_does_not_exist_says_not_installed_not_zero(tmp_path: Path) -> None:
    missing = install_cli(tmp_path, "local", "size", "envs/ltx-video")
    assert missing.returncode == 2, "a missing thing, like an unknown model: exit 2, one error line"
    assert missing.stdout == ""
    assert missing.stderr == "error: not installed (envs/ltx-video does not exist)\n"
    (tmp_path / "a-file").write_bytes(b"x" * 10)
    not_a_folder = install_cli(tmp_path, "local", "size", "a-file")
    assert not_a_folder.returncode == 2 and not_a_folder.stderr == "error: a-file is not a folder\n"
    (tmp_path / "envs" / "empty").mkdir(parents=True)
    empty = install_cli(tmp_path, "local", "size", "envs/empty")
    assert empty.returncode == 0 and empty.stdout == "0 B\n", "an existing empty folder is 0 B"
    # The installer prints what --list prints for a venv that is not there.
    script = 'source setup/lib/common.sh && vmk_venv_size "$1"'
    env = {**os.environ, "VMEVALKIT_ENVS_DIR": str(tmp_path / "envs"), "VMEVALKIT_PYTHON": sys.executable}
    shell = subprocess.run(
        ["bash", "-c", script, "bash", "ltx-video"], cwd=REPO, env=env, capture_output=True, text=True, timeout=60
    )
    assert shell.stdout == "size unknown\n"


def test_the_listing_shows_what_a_missing_install_downloads(tmp_path: Path) -> None:
    from vmevalkit.cli.local_status import stack_size

    listed = install_cli(tmp_path, "local", "status")
    assert listed.returncode == 0, listed.stderr
    (line,) = [line for line in listed.stdout.splitlines() if line.startswith("ltx-video ")]
    size = stack_size("ltx-video")
    assert size is not None and size.endswith("GB")  # setup/stacks/diffusers.txt records its measured size
    # The registry records no file sizes for ltx-video's weights (yet): the listing says so rather than guess.
    assert f"no, about {size}" in line and "missing, size unknown" in line
    # The size line is read from the model's stack, and is absent for a model setup/models.txt does not list.
    setup = tmp_path / "setup"
    (setup / "stacks").mkdir(parents=True)
    (setup / "models.txt").write_text("m1 s1\nm2 s2\n")
    (setup / "stacks" / "s1.txt").write_text("# installed size: 2.5 GB\n# more words\ntorch==1.0\n")
    (setup / "stacks" / "s2.txt").write_text("torch==1.0\n")
    assert [stack_size(m, setup) for m in ("m1", "m2", "m3")] == ["2.5 GB", None, None]


def test_the_installer_says_what_it_installs_and_how_big_before_the_long_wait(tmp_path: Path) -> None:
    script = (
        "source setup/lib/common.sh && stack=$(vmk_model_stack ltx-video)"
        " && mapfile -t pins < <(vmk_stack_pins $stack)"
        ' && VMK_STACK_SIZE="$(vmk_stack_size $stack)"'
        ' vmk_install_summary "$(vmk_stack_constraints $stack)" "${pins[@]}"'
    )
    shown = subprocess.run(["bash", "-c", script], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0, shown.stderr
    pins = [
        line.strip()
        for line in (REPO / "setup" / "stacks" / "diffusers.txt").read_text().splitlines()
        if line.strip() and not line.startswith(("#", "-c"))
    ]
    first = ", ".join(pin.replace("==", " ") for pin in pins[:3])
    constraints = (REPO / "setup" / "lib" / "constraints-diffusers.txt").read_text().splitlines()
    every = sum(1 for line in constraints if line[:1].isalnum())
    from vmevalkit.cli.local_status import stack_size

    assert shown.stdout == (
        f"installing {len(pins)} packages ({first} and {len(pins) - 3} more; {every} with their dependencies), "
        f"about {stack_size('ltx-video')} with the CPU torch wheel (the CUDA one adds several GB)\n"
    )


# ---- downloads from the fake hub, in a model environment ---------------------------------------------


@pytest.fixture(scope="session")
def hub_python(model_venv: ModelVenv) -> str:
    """A Python that has huggingface_hub: the model virtualenv the installer built for this run."""
    probe = subprocess.run([str(model_venv.python), "-c", "import huggingface_hub"], capture_output=True, text=True)
    assert probe.returncode == 0, f"the model venv cannot import huggingface_hub: {probe.stderr[-500:]}"
    return str(model_venv.python)


@pytest.fixture
def hub() -> Any:
    with FakeHub(tree_page_size=3) as fake:  # small pages: the listing is followed through its Link headers
        yield fake


class Installer:
    """Runs the weights command line in the model environment, against the fake hub."""

    def __init__(self, python: str, hub: FakeHub, tmp_path: Path) -> None:
        self.python, self.hub, self.tmp = python, hub, tmp_path
        self.weights_dir = tmp_path / "weights"
        self.hf_home = tmp_path / "hf-home"

    def env(self, **extra: str) -> dict[str, str]:
        # A clean environment: no token, no saved login, no offline switch from the developer's shell.
        env = {
            "PATH": os.environ["PATH"],
            "HOME": str(self.tmp),
            "PYTHONPATH": str(REPO),
            "HF_HOME": str(self.hf_home),
            "HF_ENDPOINT": self.hub.endpoint,
            "HF_HUB_DISABLE_PROGRESS_BARS": "1",
        }
        env.update(extra)
        return env

    def argv(self, registry: Path, *args: str, weights_dir: Path | None = None) -> list[str]:
        wdir = weights_dir or self.weights_dir
        options = ["--weights-dir", str(wdir), "--registry", str(registry)]
        return [self.python, "-m", "vmevalkit", "local", *args, *options]

    def run(self, registry: Path, *args: str, weights_dir: Path | None = None, **env: str) -> Any:
        return subprocess.run(
            self.argv(registry, *args, weights_dir=weights_dir),
            cwd=self.tmp,
            env=self.env(**env),
            capture_output=True,
            text=True,
            timeout=120,
        )

    def fetch(self, registry: Path, checkpoint: str = "tiny", **kwargs: Any) -> Any:
        return self.run(registry, "fetch", checkpoint, **kwargs)


@pytest.fixture
def installer(hub_python: str, hub: FakeHub, tmp_path: Path) -> Installer:
    return Installer(hub_python, hub, tmp_path)


def hub_calls(hub: FakeHub) -> list[str]:
    """The requests an install made (huggingface_hub's optional agent-registry probe left out)."""
    return [f"{r.method} {r.path}" for r in hub.log if "agent-harnesses" not in r.path]


def read_lock(directory: Path) -> Lock:
    lock = weights.read_lock(directory)
    assert lock is not None
    return lock


def test_fetch_at_a_pinned_commit(installer: Installer, hub: FakeHub, tmp_path: Path) -> None:
    pinned = hub.add_repo("acme/tiny-video", repo_files("v1"))
    hub.commit("acme/tiny-video", repo_files("v2"))  # main moves on: the pin must still get v1
    registry = write_registry(tmp_path / "registry.toml", registry_table(revision=pinned))

    result = installer.fetch(registry)
    assert result.returncode == 0, result.stderr
    directory = installer.weights_dir / "fake" / "tiny"
    v1 = repo_files("v1")
    assert files_of(directory) == {rel: v1[rel] for rel in WANTED}
    lock = read_lock(directory)
    assert lock.revision == pinned and lock.commit == pinned
    assert lock.files == {rel: FilePin(size=len(v1[rel]), sha256=sha(v1[rel])) for rel in WANTED}
    calls = hub_calls(hub)
    assert not any("/revision/" in c for c in calls), "a pinned commit needs no resolution"
    assert all(pinned in c for c in calls if "/resolve/" in c or "/tree/" in c)
    assert not any("fp16" in c or "README" in c or "original-format" in c for c in calls)
    assert not (directory / PARTIAL_DIR).exists()
    assert weights.verify("tiny", installer.weights_dir, registry=registry) == []


def test_rerun_of_a_complete_install_makes_no_request(installer: Installer, hub: FakeHub, tmp_path: Path) -> None:
    pinned = hub.add_repo("acme/tiny-video", repo_files())
    registry = write_registry(tmp_path / "registry.toml", registry_table(revision=pinned))
    assert installer.fetch(registry).returncode == 0
    hub.clear_log()
    again = installer.fetch(registry)
    assert again.returncode == 0, again.stderr
    assert hub.log == []
    assert "installed and verified" in again.stderr


def test_branch_is_resolved_to_a_commit_and_locked(installer: Installer, hub: FakeHub, tmp_path: Path) -> None:
    first = hub.add_repo("acme/tiny-video", repo_files("v1"))
    registry = write_registry(tmp_path / "registry.toml", registry_table(revision="main"))
    result = installer.fetch(registry)
    assert result.returncode == 0, result.stderr
    assert f"'main' of acme/tiny-video is commit {first}" in result.stderr
    directory = installer.weights_dir / "fake" / "tiny"
    lock = read_lock(directory)
    assert lock.revision == "main" and lock.commit == first
    calls = hub_calls(hub)
    assert calls[0] == "GET /api/models/acme/tiny-video/revision/main"
    on_hub = [c for c in calls[1:] if "/cdn/" not in c]
    assert on_hub and all(first in c for c in on_hub), "after resolving, everything is fetched at the commit"

    # main moves on; the lock holds: no request, same weights
    hub.commit("acme/tiny-video", repo_files("v2"))
    hub.clear_log()
    assert installer.fetch(registry).returncode == 0 and hub.log == []
    # a lost file comes back from the locked commit, not from the new head of main
    (directory / "transformer/config.json").unlink()
    hub.clear_log()
    repaired = installer.fetch(registry)
    assert repaired.returncode == 0, repaired.stderr
    assert (directory / "transformer/config.json").read_bytes() == repo_files("v1")["transformer/config.json"]
    calls = hub_calls(hub)
    assert not any("/revision/" in c for c in calls)
    assert [c for c in calls if c.startswith("GET") and "/resolve/" in c] == [
        f"GET /acme/tiny-video/resolve/{first}/transformer/config.json"
    ]
    assert read_lock(directory).commit == first


def test_dropped_connection_resumes_with_a_range_request(installer: Installer, hub: FakeHub, tmp_path: Path) -> None:
    pinned = hub.add_repo("acme/tiny-video", repo_files())
    big = "transformer/diffusion_pytorch_model.safetensors"
    hub.inject(big, Fault("drop", after=CHUNK + MiB))
    registry = write_registry(tmp_path / "registry.toml", registry_table(revision=pinned))
    result = installer.fetch(registry)
    assert result.returncode == 0, result.stderr
    cdn = hub.requests("GET", server="cdn", contains=sha(repo_files()[big]))
    assert [r.headers.get("range") for r in cdn] == [None, f"bytes={CHUNK}-"]
    assert hub.body_bytes_sent[big] == CHUNK + MiB + (BIG - CHUNK), "resumed, not restarted"
    assert (installer.weights_dir / "fake/tiny" / big).read_bytes() == repo_files()[big]


def test_killed_install_resumes_from_its_partial_file(installer: Installer, hub: FakeHub, tmp_path: Path) -> None:
    pinned = hub.add_repo("acme/tiny-video", repo_files())
    big = "transformer/diffusion_pytorch_model.safetensors"
    hub.inject(big, Fault("hang", after=CHUNK + MiB))
    registry = write_registry(tmp_path / "registry.toml", registry_table(revision=pinned))
    directory = installer.weights_dir / "fake" / "tiny"

    process = subprocess.Popen(
        installer.argv(registry, "fetch", "tiny"),
        cwd=tmp_path,
        env=installer.env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        partial: list[Path] = []
        while time.monotonic() < deadline:
            partial = [p for p in (directory / PARTIAL_DIR).rglob("*.incomplete") if p.stat().st_size >= CHUNK]
            if partial:
                break
            time.sleep(0.05)
        assert partial, "the install never wrote a partial file"
        process.send_signal(signal.SIGKILL)  # the installer dies mid-download: no cleanup runs
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
        hub.release.set()
    assert not (directory / LOCK_FILE).exists()
    assert "are incomplete" in weights.verify("tiny", installer.weights_dir, registry=registry)[0]

    hub.clear_log()
    result = installer.fetch(registry)
    assert result.returncode == 0, result.stderr
    assert f"resuming {big} at byte {CHUNK}" in result.stderr
    cdn = hub.requests("GET", server="cdn", contains=sha(repo_files()[big]))
    assert [r.headers.get("range") for r in cdn] == [f"bytes={CHUNK}-"]
    assert hub.body_bytes_sent[big] == BIG - CHUNK
    assert (directory / big).read_bytes() == repo_files()[big]
    assert weights.verify("tiny", installer.weights_dir, registry=registry) == []


@pytest.mark.parametrize("relpath", ["transformer/diffusion_pytorch_model.safetensors", "vae/config.json"])
def test_mismatch_with_a_registry_pin_is_refused(
    installer: Installer, hub: FakeHub, tmp_path: Path, relpath: str
) -> None:
    pinned = hub.add_repo("acme/tiny-video", repo_files())
    files = {rel: (len(data), sha(data)) for rel, data in repo_files().items() if rel in WANTED}
    files[relpath] = (files[relpath][0], sha(b"the bytes the maintainer pinned"))
    registry = write_registry(tmp_path / "registry.toml", registry_table(revision=pinned, files=files))
    result = installer.fetch(registry)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"weights for 'tiny' failed verification: {relpath}" in result.stderr
    assert "registry" in result.stderr
    directory = installer.weights_dir / "fake" / "tiny"
    assert not (directory / LOCK_FILE).exists()
    assert relpath not in files_of(directory), "a file that fails its pin is not put in place"
    assert weights.verify("tiny", installer.weights_dir, registry=registry)[0].startswith("weights for 'tiny' are")


def test_corrupted_download_is_refused_and_the_next_install_repairs_it(
    installer: Installer, hub: FakeHub, tmp_path: Path
) -> None:
    pinned = hub.add_repo("acme/tiny-video", repo_files())
    registry = write_registry(tmp_path / "registry.toml", registry_table(revision=pinned))
    hub.inject("vae/diffusion_pytorch_model.safetensors", Fault("corrupt"))
    bad = installer.fetch(registry)
    assert bad.returncode == 1
    assert "vae/diffusion_pytorch_model.safetensors sha256 mismatch" in bad.stderr
    assert "run bash setup/install_model.sh tiny to download it again" in bad.stderr
    directory = installer.weights_dir / "fake" / "tiny"
    assert not (directory / LOCK_FILE).exists()
    good = installer.fetch(registry)
    assert good.returncode == 0, good.stderr
    assert files_of(directory) == {rel: repo_files()[rel] for rel in WANTED}


def test_tampered_file_is_reported_then_repaired_alone(installer: Installer, hub: FakeHub, tmp_path: Path) -> None:
    pinned = hub.add_repo("acme/tiny-video", repo_files())
    registry = write_registry(tmp_path / "registry.toml", registry_table(revision=pinned))
    assert installer.fetch(registry).returncode == 0
    directory = installer.weights_dir / "fake" / "tiny"
    target = directory / "transformer/diffusion_pytorch_model.safetensors"
    with open(target, "r+b") as fh:
        fh.seek(1234)
        fh.write(b"\x00\x01\x02")
    assert weights.verify("tiny", installer.weights_dir, registry=registry) == [
        "weights for 'tiny' failed verification: transformer/diffusion_pytorch_model.safetensors sha256 mismatch: "
        "run bash setup/install_model.sh tiny to re-download it"
    ]
    verify = installer.run(registry, "verify", "tiny")
    assert verify.returncode == 1 and "sha256 mismatch" in verify.stderr

    hub.clear_log()
    assert installer.fetch(registry).returncode == 0
    downloads = [c for c in hub_calls(hub) if c.startswith("GET") and ("/resolve/" in c or "/cdn/" in c)]
    assert downloads == [f"GET /cdn/{sha(repo_files()['transformer/diffusion_pytorch_model.safetensors'])}"]
    assert weights.verify("tiny", installer.weights_dir, registry=registry) == []


def test_registry_moving_to_a_new_commit_replaces_the_install(
    installer: Installer, hub: FakeHub, tmp_path: Path
) -> None:
    old = hub.add_repo("acme/tiny-video", repo_files("v1"))
    v2 = repo_files("v2")
    del v2["scheduler/scheduler_config.json"]
    new = hub.commit("acme/tiny-video", v2, replace=True)
    assert installer.fetch(write_registry(tmp_path / "old.toml", registry_table(revision=old))).returncode == 0
    registry = write_registry(tmp_path / "new.toml", registry_table(revision=new))
    assert "registry now asks for" in weights.verify("tiny", installer.weights_dir, registry=registry)[0]

    hub.clear_log()
    result = installer.fetch(registry)
    assert result.returncode == 0, result.stderr
    directory = installer.weights_dir / "fake" / "tiny"
    assert read_lock(directory).commit == new
    assert files_of(directory) == {rel: v2[rel] for rel in WANTED if rel in v2}, "stale files are removed"
    fetched = {c.rsplit("/", 1)[-1] for c in hub_calls(hub) if c.startswith("GET") and "/resolve/" in c}
    assert "scheduler_config.json" not in fetched and "model_index.json" in fetched
    assert "vae/config.json" not in {c.split(f"{new}/")[-1] for c in hub_calls(hub) if c.startswith("GET")}


def test_gated_repo_needs_a_token_that_never_leaks(installer: Installer, hub: FakeHub, tmp_path: Path) -> None:
    pinned = hub.add_repo("acme/gated-video", repo_files(), gated=True, tokens={TOKEN})
    registry = write_registry(tmp_path / "registry.toml", registry_table(repo_id="acme/gated-video", revision=pinned))

    anonymous = installer.fetch(registry)
    assert anonymous.returncode == 1 and "Traceback" not in anonymous.stderr
    assert f"acme/gated-video is gated: accept its license at {hub.endpoint}/acme/gated-video" in anonymous.stderr
    assert "export HF_TOKEN=<token>" in anonymous.stderr

    wrong = installer.fetch(registry, HF_TOKEN="hf_notgranted000")
    assert wrong.returncode == 1 and "has no access" in wrong.stderr and "hf_notgranted000" not in wrong.stderr

    granted = installer.fetch(registry, HF_TOKEN=TOKEN)
    assert granted.returncode == 0, granted.stderr
    directory = installer.weights_dir / "fake" / "tiny"
    assert files_of(directory) == {rel: repo_files()[rel] for rel in WANTED}
    assert weights.verify("tiny", installer.weights_dir, registry=registry) == []

    # the token went to the hub, never to the CDN, and is in no message and no file written
    assert any(r.headers.get("authorization") == f"Bearer {TOKEN}" for r in hub.requests(server="hub"))
    assert all("authorization" not in r.headers for r in hub.requests(server="cdn"))
    for output in (anonymous, wrong, granted):
        assert TOKEN not in output.stdout + output.stderr
    for path in [*tmp_path.rglob("*")]:
        if path.is_file():
            assert TOKEN.encode() not in path.read_bytes(), path


def test_explicit_endpoint_and_token_win_over_the_environment(
    installer: Installer, hub: FakeHub, tmp_path: Path
) -> None:
    pinned = hub.add_repo("acme/gated-video", repo_files(), gated=True, tokens={TOKEN})
    registry = write_registry(tmp_path / "registry.toml", registry_table(repo_id="acme/gated-video", revision=pinned))
    nowhere = "http://127.0.0.1:9"  # nothing listens there
    code = (
        "import sys; from pathlib import Path; from vmevalkit.workers.weights import fetch; "
        "lock = fetch('tiny', Path(sys.argv[1]), endpoint=sys.argv[2], token=sys.argv[3], registry=Path(sys.argv[4])); "
        "print(lock.commit)"
    )
    result = subprocess.run(
        [installer.python, "-c", code, str(installer.weights_dir), hub.endpoint, TOKEN, str(registry)],
        cwd=tmp_path,
        env=installer.env(HF_ENDPOINT=nowhere, HF_TOKEN="hf_wrong_from_env"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == pinned
    # and --endpoint on the command line, with HF_ENDPOINT pointing nowhere
    public = hub.add_repo("acme/tiny-video", repo_files())
    other = write_registry(tmp_path / "public.toml", registry_table(revision=public))
    env = {"HF_ENDPOINT": nowhere}
    cli = installer.run(other, "fetch", "tiny", "--endpoint", hub.endpoint, weights_dir=tmp_path / "w2", **env)
    assert cli.returncode == 0, cli.stderr


def test_print_pins_round_trip_through_a_fresh_install(installer: Installer, hub: FakeHub, tmp_path: Path) -> None:
    commit = hub.add_repo("acme/tiny-video", repo_files())
    registry = write_registry(tmp_path / "registry.toml", registry_table(revision="main"))
    assert installer.fetch(registry).returncode == 0
    printed = installer.run(registry, "print-pins")
    assert printed.returncode == 0, printed.stderr
    table = tomllib.loads(printed.stdout)["tiny"]
    assert table["revision"] == commit and table["pinned"] is True and set(table["files"]) == set(WANTED)

    # pasted into the registry, a fresh install fetches the pinned commit and verifies against the pins
    hub.commit("acme/tiny-video", repo_files("v2"))
    pinned = write_registry(tmp_path / "pinned.toml", printed.stdout)
    fresh = tmp_path / "fresh-weights"
    hub.clear_log()
    result = installer.fetch(pinned, weights_dir=fresh)
    assert result.returncode == 0, result.stderr
    assert not any("/revision/" in c for c in hub_calls(hub))
    assert read_lock(fresh / "fake" / "tiny").files == {
        rel: FilePin(size=pin["size"], sha256=pin["sha256"]) for rel, pin in table["files"].items()
    }
    assert files_of(fresh / "fake" / "tiny") == {rel: repo_files()[rel] for rel in WANTED}


def test_unknown_repo_and_revision_are_explained(installer: Installer, hub: FakeHub, tmp_path: Path) -> None:
    hub.add_repo("acme/tiny-video", repo_files())
    missing = write_registry(tmp_path / "missing.toml", registry_table(repo_id="acme/nothing-here"))
    result = installer.fetch(missing)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"acme/nothing-here was not found on {hub.endpoint}" in result.stderr
    branch = write_registry(tmp_path / "branch.toml", registry_table(revision="no-such-branch"))
    result = installer.fetch(branch)
    assert result.returncode == 1 and "has no revision 'no-such-branch'" in result.stderr


def test_a_listing_that_escapes_the_folder_is_refused(installer: Installer, hub: FakeHub, tmp_path: Path) -> None:
    files = {**repo_files(), "transformer/../../../escaped.safetensors": blob("evil", 2048)}
    pinned = hub.add_repo("acme/tiny-video", files)
    registry = write_registry(tmp_path / "registry.toml", registry_table(revision=pinned))
    result = installer.fetch(registry)
    assert result.returncode == 1 and "unsafe file path" in result.stderr and "Traceback" not in result.stderr
    assert not list(tmp_path.rglob("escaped.safetensors"))
    assert not any(c.startswith("GET") and "/resolve/" in c for c in hub_calls(hub))


def test_registry_file_list_must_match_the_commit(installer: Installer, hub: FakeHub, tmp_path: Path) -> None:
    pinned = hub.add_repo("acme/tiny-video", repo_files())
    files = {rel: (len(data), sha(data)) for rel, data in repo_files().items() if rel in WANTED}
    del files["vae/config.json"]
    files["vae/renamed.json"] = (2, sha(b"{}"))
    registry = write_registry(tmp_path / "registry.toml", registry_table(revision=pinned, files=files))
    result = installer.fetch(registry)
    assert result.returncode == 1
    assert f"the registry pins vae/renamed.json, which {hub.endpoint} does not list" in result.stderr
    assert f"{hub.endpoint} lists vae/config.json, which the registry does not pin" in result.stderr
    assert not (installer.weights_dir / "fake" / "tiny" / LOCK_FILE).exists()


def test_models_says_a_model_with_only_a_tiny_checkpoint_is_installed_tiny(tmp_path: Path) -> None:
    """``vmevalkit models`` after ``install_model.sh ltx-video --tiny``: "tiny", not "no"; a dry run names the state."""
    from conftest import make_fake_venv

    from vmevalkit.workers.tiny import write_tiny_marker

    make_fake_venv(tmp_path / "envs", "ltx-video")
    tiny = tmp_path / "weights" / "tiny" / "ltx-video"
    tiny.mkdir(parents=True)
    (tiny / "model_index.json").write_text("{}")
    write_tiny_marker(tiny, {"height": 32, "width": 32, "num_frames": 9, "steps": 2})
    listed = install_cli(tmp_path, "models", "--kind", "local", "--json")
    assert listed.returncode == 0, listed.stderr
    rows = {r["name"]: r for r in json.loads(listed.stdout)}
    assert rows["ltx-video"]["installed_as"] == "tiny" and rows["ltx-video"]["installed"] is False
    assert rows["svd"]["installed_as"] == "no"
    table = install_cli(tmp_path, "models", "--kind", "local")
    (line,) = [row for row in table.stdout.splitlines() if "ltx-video" in row]
    assert " tiny " in f"{line} " and "svd" not in line
    plan = install_cli(
        tmp_path, "generate", "--model", "ltx-video", "--dry-run", "--questions-dir", str(REPO / "data" / "questions")
    )
    assert "tiny checkpoint only" in plan.stdout + plan.stderr and "--checkpoint" in plan.stdout + plan.stderr


# ---- download sizes of weights not yet installed: print-pins NAME asks the Hub, --list shows them --------------


def hub_cli(tmp_path: Path, hub: FakeHub, *args: str) -> subprocess.CompletedProcess[str]:
    """``vmevalkit ARGS`` in the main environment (no huggingface_hub there), the Hub reached through HF_ENDPOINT."""
    env = {
        "PATH": os.environ["PATH"],
        "PYTHONPATH": str(REPO),
        "HOME": str(tmp_path),
        "VMEVALKIT_ENVS_DIR": str(tmp_path / "envs"),
        "VMEVALKIT_WEIGHTS_DIR": str(tmp_path / "weights"),
        "HF_ENDPOINT": hub.endpoint,
        "COLUMNS": "80",
    }
    return subprocess.run(
        [sys.executable, "-m", "vmevalkit", *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )


def test_print_pins_of_weights_not_installed_records_each_file_size_from_the_hub(hub: FakeHub, tmp_path: Path) -> None:
    commit = hub.add_repo("acme/tiny-video", repo_files())
    hub.commit("acme/tiny-video", repo_files("v2"))  # main moves on: a pinned table lists its own commit's files
    registry = write_registry(tmp_path / "registry.toml", registry_table(revision=commit))
    printed = hub_cli(tmp_path, hub, "local", "print-pins", "tiny", "--registry", str(registry))
    assert printed.returncode == 0, printed.stderr
    table = tomllib.loads(printed.stdout)["tiny"]
    assert table["sizes"] == {rel: len(repo_files()[rel]) for rel in WANTED}
    assert table["revision"] == commit and table["pinned"] is True and "files" not in table
    # The documented model-info call, asked for its blobs (https://huggingface.co/docs/hub/api).
    (asked,) = hub.requests("GET", contains="/api/models/")
    assert asked.path == f"/api/models/acme/tiny-video/revision/{commit}" and asked.query.get("blobs") == "true"
    # Pasted into the registry, the sizes are the download size, and nothing else changes.
    pasted = weights.get_pin("tiny", write_registry(tmp_path / "pasted.toml", printed.stdout))
    assert pasted.sizes == table["sizes"] and pasted.files is None
    assert weights.download_bytes(pasted) == sum(len(repo_files()[rel]) for rel in WANTED)
    assert weights.download_bytes(weights.get_pin("tiny", registry)) is None

    # A branch: the sizes of the commit it points at now, said so; the revision stays the branch.
    branch = write_registry(tmp_path / "branch.toml", registry_table(revision="main"))
    printed = hub_cli(tmp_path, hub, "local", "print-pins", "tiny", "--registry", str(branch))
    assert printed.returncode == 0, printed.stderr
    table = tomllib.loads(printed.stdout)["tiny"]
    assert table["revision"] == "main" and table["pinned"] is False
    assert table["sizes"]["model_index.json"] == len(repo_files("v2")["model_index.json"])
    assert f"at {hub.repos['acme/tiny-video'].branches['main'][:12]}" in printed.stdout

    # No such repo: one error line naming where it looked and what to check, exit 1.
    missing = write_registry(tmp_path / "missing.toml", registry_table(repo_id="acme/nothing-here"))
    failed = hub_cli(tmp_path, hub, "local", "print-pins", "tiny", "--registry", str(missing))
    assert failed.returncode == 1 and "Traceback" not in failed.stderr
    assert f"acme/nothing-here was not found on {hub.endpoint}" in failed.stderr and "HF_ENDPOINT" in failed.stderr


def test_a_sizes_table_is_checked_like_the_files_table(tmp_path: Path) -> None:
    for bad, why in (('"../up" = 3', "unsafe file path"), ('"a.json" = -1', "greater than or equal to 0")):
        registry = write_registry(tmp_path / "r.toml", registry_table() + '\n["tiny".sizes]\n' + bad + "\n")
        with pytest.raises(RegistryError, match=why):
            weights.load_registry(registry)


def test_the_listing_shows_the_download_size_once_print_pins_recorded_it(hub: FakeHub, tmp_path: Path) -> None:
    import re

    from vmevalkit.utils.sizes import human

    commit = hub.add_repo("Lightricks/LTX-Video", repo_files())
    shipped = weights.DEFAULT_REGISTRY.read_text(encoding="utf-8")
    ltx = re.compile(r"^\[ltx-video\]\n.*?(?=^\[)", re.MULTILINE | re.DOTALL)
    original = ltx.search(shipped)
    assert original is not None and "[ltx-video.sizes]" not in shipped, "the shipped registry invents no sizes"
    pinned_here = re.sub(r'revision = "[0-9a-f]{40}"', f'revision = "{commit}"', original.group(0))
    registry = tmp_path / "checkpoints.toml"
    registry.write_text(shipped.replace(original.group(0), pinned_here), encoding="utf-8")

    before = hub_cli(tmp_path, hub, "local", "status", "--registry", str(registry))
    assert before.returncode == 0, before.stderr
    (line,) = [line for line in before.stdout.splitlines() if line.startswith("ltx-video ")]
    assert "missing, size unknown" in line
    assert "vmevalkit local print-pins <model>" in before.stdout, "size unknown says how to fill it"

    printed = hub_cli(tmp_path, hub, "local", "print-pins", "ltx-video", "--registry", str(registry))
    assert printed.returncode == 0, printed.stderr
    registry.write_text(shipped.replace(original.group(0), printed.stdout + "\n"), encoding="utf-8")
    after = hub_cli(tmp_path, hub, "local", "status", "--registry", str(registry))
    assert after.returncode == 0, after.stderr
    (line,) = [line for line in after.stdout.splitlines() if line.startswith("ltx-video ")]
    assert f"missing, {human(sum(len(repo_files()[rel]) for rel in WANTED))}" in line

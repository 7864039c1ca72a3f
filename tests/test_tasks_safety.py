"""The loader reads only regular files inside the questions directory, refuses oversized inputs before
decoding them, and turns any failure of one task into a reason instead of aborting the load."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import struct
import zlib
from pathlib import Path

import pytest

from vmevalkit.tasks.loader import load_tasks

SECRET = "vmk-leaked-secret-0123456789"
TASK_FILES = ["first_frame.png", "final_frame.png", "prompt.txt", "question_metadata.json"]


def _task_dir(questions: Path, task_id: str = "maze_0001") -> Path:
    return questions / f"{task_id.rsplit('_', 1)[0]}_task" / task_id


def _problems(questions: Path, **kwargs: int) -> dict[str, str]:
    return {p.task_id: p.reason for p in load_tasks(questions, **kwargs).problems}


def _only_problem(questions: Path, task_id: str = "maze_0001", **kwargs: int) -> str:
    task_set = load_tasks(questions, **kwargs)
    assert [p.task_id for p in task_set.problems] == [task_id], [p.reason for p in task_set.problems]
    assert task_id not in {t.task_id for t in task_set.tasks}
    assert len(task_set.tasks) == 11
    return task_set.problems[0].reason


def _png(width: int, height: int, *, idat: bytes | None = None) -> bytes:
    """A 1-bit grayscale PNG of ``width`` x ``height``, all black: tiny on disk whatever its size.
    ``idat`` replaces the compressed pixel data (e.g. with garbage)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    if idat is None:
        row = b"\0" * (1 + (width + 7) // 8)  # filter byte + packed bits
        packer = zlib.compressobj(9)
        parts = [packer.compress(row * min(height - start, 512)) for start in range(0, height, 512)]
        idat = b"".join(parts) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


# --- item 4: files must be regular files inside the questions directory --------------------------------


@pytest.mark.parametrize("name", TASK_FILES)
def test_a_task_file_linked_out_of_the_dataset_makes_the_task_invalid(questions: Path, name: str) -> None:
    outside = questions.parent / "outside"
    outside.mkdir()
    task_dir = _task_dir(questions)
    # A real file of the right kind, so only where it lives is wrong.
    target = outside / name
    shutil.copy(task_dir / name, target)
    if name == "prompt.txt":
        (questions.parent / ".env").write_text(f"OPENAI_API_KEY={SECRET}\n")
        target = questions.parent / ".env"
    (task_dir / name).unlink()
    (task_dir / name).symlink_to(os.path.relpath(target, task_dir))
    reason = _only_problem(questions)
    assert name in reason and "outside the questions directory" in reason
    assert SECRET not in reason


def test_the_prompt_linked_to_dotenv_never_becomes_a_prompt(questions: Path) -> None:
    (questions.parent / ".env").write_text(f"OPENAI_API_KEY={SECRET}\n")
    prompt = _task_dir(questions) / "prompt.txt"
    prompt.unlink()
    prompt.symlink_to("../../../.env")
    task_set = load_tasks(questions)
    assert all(SECRET not in t.prompt for t in task_set.tasks)
    assert all(SECRET not in p.reason for p in task_set.problems)
    assert "maze_0001" in {p.task_id for p in task_set.problems}


def test_links_that_stay_inside_the_dataset_are_fine(questions: Path) -> None:
    task_dir = _task_dir(questions)
    for name in TASK_FILES:
        (task_dir / name).unlink()
        (task_dir / name).symlink_to(Path("..") / "maze_0002" / name)
    # A task folder and a whole domain folder may be links inside the dataset too.
    (questions / "maze_task" / "maze_0009").symlink_to("maze_0003")
    (questions / "mirror_task").symlink_to("sudoku_task")
    task_set = load_tasks(questions)
    assert not task_set.problems
    by_id = {(t.domain, t.task_id): t for t in task_set.tasks}
    assert by_id[("maze", "maze_0001")].prompt == by_id[("maze", "maze_0002")].prompt
    assert ("maze", "maze_0009") in by_id and ("mirror", "sudoku_0001") in by_id


def test_the_questions_dir_itself_may_be_a_link(questions: Path) -> None:
    link = questions.parent / "questions-link"
    link.symlink_to(questions)
    task_set = load_tasks(link)
    assert not task_set.problems and len(task_set.tasks) == 12


def test_a_task_folder_linked_out_of_the_dataset_smuggles_nothing_in(questions: Path, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere" / "maze_0009"
    shutil.copytree(_task_dir(questions), outside)
    (questions / "maze_task" / "maze_0009").symlink_to(outside)
    reason = _problems(questions)["maze_0009"]
    assert "outside the questions directory" in reason
    assert "maze_0009" not in {t.task_id for t in load_tasks(questions).tasks}


def test_a_domain_folder_linked_out_of_the_dataset_smuggles_nothing_in(questions: Path, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere" / "chess_task"
    shutil.copytree(questions / "maze_task", outside)
    (questions / "chess_task").symlink_to(outside)
    task_set = load_tasks(questions)
    assert {t.domain for t in task_set.tasks} == {"maze", "sliding_puzzle", "sudoku"}
    assert {p.domain for p in task_set.problems} == {"chess"} and len(task_set.problems) == 4
    assert all("outside the questions directory" in p.reason for p in task_set.problems)


@pytest.mark.timeout(60)  # a FIFO that is opened blocks forever: the timeout is the failure, not a measurement
@pytest.mark.parametrize("name", TASK_FILES)
def test_a_fifo_named_like_a_task_file_is_refused_without_blocking(questions: Path, name: str) -> None:
    path = _task_dir(questions) / name
    path.unlink()
    os.mkfifo(path)
    reason = _only_problem(questions)
    assert name in reason and "not a regular file" in reason


@pytest.mark.parametrize("name", TASK_FILES)
def test_a_directory_named_like_a_task_file_is_refused(questions: Path, name: str) -> None:
    path = _task_dir(questions) / name
    path.unlink()
    path.mkdir()
    (path / "inner.txt").write_text("hello")
    reason = _only_problem(questions)
    assert name in reason and "directory" in reason


@pytest.mark.parametrize("name", TASK_FILES)
def test_a_link_to_a_device_is_refused(questions: Path, name: str) -> None:
    path = _task_dir(questions) / name
    path.unlink()
    path.symlink_to("/dev/null")
    reason = _only_problem(questions)
    assert name in reason


@pytest.mark.timeout(60)  # reading a device could block or never end
@pytest.mark.parametrize("name", TASK_FILES)
def test_a_device_inside_the_dataset_is_refused_without_opening_it(questions: Path, name: str) -> None:
    path = _task_dir(questions) / name
    path.unlink()
    try:
        os.mknod(path, stat.S_IFCHR | 0o644, os.makedev(1, 5))  # like /dev/zero: endless bytes
    except PermissionError:
        pytest.skip("creating a device node needs root")
    reason = _only_problem(questions)
    assert name in reason and "not a regular file" in reason and "device" in reason


@pytest.mark.parametrize("name", TASK_FILES)
def test_broken_and_looping_links_are_refused(questions: Path, name: str) -> None:
    path = _task_dir(questions) / name
    path.unlink()
    path.symlink_to("no-such-file")
    assert name in _only_problem(questions)
    path.unlink()
    path.symlink_to(name)  # points at itself
    assert name in _only_problem(questions)


# --- item 8: oversized inputs are refused, and nothing one task holds aborts the load --------------------


def test_a_decompression_bomb_is_one_invalid_task(questions: Path) -> None:
    bomb = _png(20_000, 20_000)
    assert len(bomb) < 200_000
    (_task_dir(questions) / "first_frame.png").write_bytes(bomb)
    reason = _only_problem(questions)
    assert "first_frame.png" in reason and "20000x20000" in reason
    assert "16,000,000" in reason and "VMEVALKIT_MAX_IMAGE_PIXELS" in reason


@pytest.mark.parametrize("name", ["first_frame.png", "final_frame.png"])
def test_an_oversized_frame_is_refused_from_its_header_before_any_decoding(questions: Path, name: str) -> None:
    # The pixel data is garbage: a loader that decoded first would call it unreadable, not too large.
    (_task_dir(questions) / name).write_bytes(_png(10_000, 10_000, idat=b"garbage"))
    reason = _only_problem(questions)
    assert name in reason and "10000x10000" in reason and "100,000,000" in reason
    assert "VMEVALKIT_MAX_IMAGE_PIXELS" in reason and "readable" not in reason


def test_a_frame_just_over_the_default_limit_is_refused(questions: Path) -> None:
    (_task_dir(questions) / "first_frame.png").write_bytes(_png(4001, 4000))
    assert "16,004,000" in _only_problem(questions)


def test_the_pixel_limit_comes_from_settings_or_the_caller(questions: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert not load_tasks(questions, max_image_pixels=512 * 512).problems
    assert len(load_tasks(questions, max_image_pixels=512 * 512 - 1).problems) == 12
    monkeypatch.setenv("VMEVALKIT_MAX_IMAGE_PIXELS", "1000")
    from vmevalkit.settings import get_settings

    get_settings.cache_clear()
    task_set = load_tasks(questions)
    assert not task_set.tasks and len(task_set.problems) == 12
    assert all("512x512" in p.reason and "1,000" in p.reason for p in task_set.problems)


def _nested(depth: int) -> str:
    return '{"a": ' * (depth - 1) + "[]" + "}" * (depth - 1)


def test_metadata_nested_100000_levels_is_one_invalid_task(questions: Path) -> None:
    (_task_dir(questions) / "question_metadata.json").write_text(_nested(100_000))
    reason = _only_problem(questions)
    assert "question_metadata.json" in reason and "100,000" in reason
    assert "64" in reason and "VMEVALKIT_MAX_METADATA_DEPTH" in reason


def test_metadata_depth_limit_is_exact_and_configurable(questions: Path) -> None:
    meta = _task_dir(questions) / "question_metadata.json"
    meta.write_text(_nested(64))
    assert not load_tasks(questions).problems
    meta.write_text(_nested(65))
    assert "65" in _only_problem(questions)
    assert not load_tasks(questions, max_metadata_depth=65).problems


def test_brackets_inside_strings_do_not_count_as_depth(questions: Path) -> None:
    meta = _task_dir(questions) / "question_metadata.json"
    meta.write_text(json.dumps({"drawing": "[" * 500 + '\\"{' * 300, "escaped": '\\"[[[', "nested": [[1]]}))
    task = next(t for t in load_tasks(questions, max_metadata_depth=3).tasks if t.task_id == "maze_0001")
    assert task.metadata["nested"] == [[1]]


def test_metadata_over_the_size_limit_is_refused(questions: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    meta = _task_dir(questions) / "question_metadata.json"
    meta.write_text(json.dumps({"padding": "x" * (1 << 20)}))
    reason = _only_problem(questions)
    size = meta.stat().st_size
    assert f"{size:,}" in reason and "1,048,576" in reason and "VMEVALKIT_MAX_METADATA_BYTES" in reason
    assert not load_tasks(questions, max_metadata_bytes=size).problems
    monkeypatch.setenv("VMEVALKIT_MAX_METADATA_BYTES", "1000")
    from vmevalkit.settings import get_settings

    get_settings.cache_clear()
    assert len(load_tasks(questions).problems) == 12  # every shipped metadata file is over 1000 bytes


def test_any_unexpected_error_in_one_task_is_its_reason(questions: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    meta = _task_dir(questions) / "question_metadata.json"
    meta.write_text(json.dumps({"marker": "explode"}))
    real_loads = json.loads

    def exploding_loads(text: str | bytes, **kwargs: object) -> object:
        if (b"explode" if isinstance(text, bytes) else "explode") in text:  # type: ignore[operator]
            raise RuntimeError("simulated surprise")
        return real_loads(text, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(json, "loads", exploding_loads)
    reason = _only_problem(questions)
    assert "RuntimeError" in reason and "simulated surprise" in reason


# --- item 6 (piece): content hashes of the bytes the loader read --------------------------------------------


def test_tasks_carry_hashes_of_their_files(questions: Path) -> None:
    task_dir = _task_dir(questions)
    task = next(t for t in load_tasks(questions).tasks if t.task_id == "maze_0001")

    def digest(name: str) -> str:
        return hashlib.sha256((task_dir / name).read_bytes()).hexdigest()

    assert task.first_frame_sha256 == digest("first_frame.png")
    assert task.final_frame_sha256 == digest("final_frame.png")
    assert task.metadata_sha256 == digest("question_metadata.json")
    assert task.final_frame == task_dir / "final_frame.png"


def test_hashes_of_absent_optional_files(questions: Path) -> None:
    task_dir = _task_dir(questions)
    (task_dir / "final_frame.png").unlink()
    (task_dir / "question_metadata.json").unlink()
    task = next(t for t in load_tasks(questions).tasks if t.task_id == "maze_0001")
    assert task.final_frame_sha256 is None and task.final_frame is None
    assert task.metadata_sha256 == hashlib.sha256(b"").hexdigest()


def test_a_changed_frame_changes_its_hash_but_not_the_others(questions: Path) -> None:
    before = {t.task_id: t for t in load_tasks(questions).tasks}
    other = _task_dir(questions, "maze_0002") / "first_frame.png"
    shutil.copy(other, _task_dir(questions) / "first_frame.png")
    after = {t.task_id: t for t in load_tasks(questions).tasks}
    assert after["maze_0001"].first_frame_sha256 == before["maze_0002"].first_frame_sha256
    assert after["maze_0001"].first_frame_sha256 != before["maze_0001"].first_frame_sha256
    assert after["maze_0001"].prompt == before["maze_0001"].prompt
    assert after["maze_0001"].metadata_sha256 == before["maze_0001"].metadata_sha256


def test_each_task_file_is_opened_once(questions: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins
    import io

    opened: list[str] = []
    real_os_open, real_open = os.open, builtins.open

    def spy_os_open(path: object, *args: object, **kwargs: object) -> int:
        opened.append(os.fspath(path))  # type: ignore[arg-type]
        return real_os_open(path, *args, **kwargs)  # type: ignore[arg-type]

    def spy_open(file: object, *args: object, **kwargs: object) -> object:
        if not isinstance(file, int):
            opened.append(os.fspath(file))  # type: ignore[arg-type]
        return real_open(file, *args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(os, "open", spy_os_open)
    monkeypatch.setattr(builtins, "open", spy_open)
    monkeypatch.setattr(io, "open", spy_open)
    task_set = load_tasks(questions, task_ids=["maze_0001"])
    assert len(task_set.tasks) == 1
    for name in TASK_FILES:
        assert sum(Path(p).name == name for p in opened) == 1, (name, opened)

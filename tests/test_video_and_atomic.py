"""Atomic writes: a failed or interrupted writer never leaves a file under the final name."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vmevalkit.utils.atomic import atomic_path, atomic_write_json, atomic_write_text, remove_temp_files, temp_path_for
from vmevalkit.video import VideoError, probe_video, read_frames, write_video


def test_atomic_write_replaces_whole_files(tmp_path: Path) -> None:
    target = tmp_path / "a" / "data.json"
    atomic_write_json(target, {"v": 1})
    atomic_write_json(target, {"v": 2})
    assert target.read_text().strip().startswith("{") and '"v": 2' in target.read_text()
    assert [p.name for p in target.parent.iterdir()] == ["data.json"]


def test_an_error_keeps_the_old_file_and_removes_the_temp(tmp_path: Path) -> None:
    target = tmp_path / "note.txt"
    atomic_write_text(target, "old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("crash while writing")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["note.txt"]


def test_remove_temp_files_only_removes_temps(tmp_path: Path) -> None:
    keep = tmp_path / "video.mp4"
    keep.write_bytes(b"x")
    stale = temp_path_for(tmp_path / "sub" / "video.mp4")
    stale.parent.mkdir()
    stale.write_bytes(b"partial")
    (tmp_path / ".hidden").write_text("not ours")
    assert remove_temp_files(tmp_path) == 1
    assert keep.exists() and (tmp_path / ".hidden").exists() and not stale.exists()


def test_video_round_trip(tmp_path: Path) -> None:
    frames = [np.full((64, 96, 3), i * 20, np.uint8) for i in range(10)]
    info = write_video(frames, tmp_path / "v.mp4", fps=5)
    assert (info.frame_count, info.width, info.height, info.fps) == (10, 96, 64, 5)
    decoded = read_frames(tmp_path / "v.mp4")
    assert decoded.shape == (10, 64, 96, 3)
    assert abs(float(decoded[9].mean()) - 180) < 3


def test_odd_sizes_are_padded_not_scaled(tmp_path: Path) -> None:
    frame = np.zeros((33, 51, 3), np.uint8)
    frame[:, -1] = 255
    info = write_video([frame, frame], tmp_path / "odd.mp4")
    assert (info.width, info.height) == (52, 34)
    assert read_frames(tmp_path / "odd.mp4")[0][:, -1].mean() > 200  # the edge column was repeated


def test_a_writer_that_fails_midway_leaves_nothing(tmp_path: Path) -> None:
    def frames():
        yield np.zeros((32, 32, 3), np.uint8)
        yield np.zeros((32, 32, 3), np.uint8)
        raise RuntimeError("model crashed after two frames")

    with pytest.raises(RuntimeError):
        write_video(frames(), tmp_path / "v.mp4")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(VideoError, match="expected 32x32"):
        write_video([np.zeros((32, 32, 3), np.uint8), np.zeros((16, 16, 3), np.uint8)], tmp_path / "w.mp4")
    with pytest.raises(VideoError, match="no frames"):
        write_video([], tmp_path / "x.mp4")
    assert list(tmp_path.iterdir()) == []


def test_probe_rejects_non_videos(tmp_path: Path) -> None:
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\x00" * 100)
    with pytest.raises(VideoError):
        probe_video(bad)
    with pytest.raises(VideoError):
        read_frames(bad)

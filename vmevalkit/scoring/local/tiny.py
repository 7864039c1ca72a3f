"""Two small generations on disk (a moving square, and a still one), for scorers' tiny checks and tests.

``LocalScorerModel.check_tiny`` scores them with a tiny checkpoint (``python -m vmevalkit.workers.tiny ... --check``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vmevalkit.scoring.base import ScoreItem


def sample_items(folder: Path, prompt: str = "Move the green dot to the red square.") -> list[ScoreItem]:
    """Two small generations on disk: a square that moves, and a video that never changes."""
    from PIL import Image

    from vmevalkit.video import write_video

    def frames(moving: bool) -> list[np.ndarray]:
        out = []
        for t in range(12):
            frame = np.full((64, 64, 3), 255, np.uint8)
            x = 4 + (4 * t if moving else 0)
            frame[24:36, x : x + 12] = (30, 160, 60)
            out.append(frame)
        return out

    items = []
    for name, moving in (("moving", True), ("still", False)):
        run = folder / name
        (run / "question").mkdir(parents=True)
        clip = frames(moving)
        first = run / "question" / "first_frame.png"
        Image.fromarray(clip[0]).save(first)
        video = run / "video.mp4"
        write_video(clip, video, fps=8)
        items.append(
            ScoreItem(
                generation_dir=run,
                model="tiny-check",
                task_id=f"maze_{name}",
                domain="maze",
                video_path=video,
                prompt=prompt,
                first_frame=first,
            )
        )
    return items

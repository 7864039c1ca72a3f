"""counting: the generated trays and fills, checked by code written apart from the generator, and the verifier on
drawn cheats (two coins at once, a coin taken away, one coin too many, a changed number) and on a fill in another
order, which answers the prompt too, through a real mp4 and ``task-verifier``.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
from domain_videos import score_videos

from vmevalkit.models.baselines import spread_keyframes
from vmevalkit.tasks import get_domain
from vmevalkit.tasks.base import GeneratedTask
from vmevalkit.tasks.counting import draw_tray
from vmevalkit.tasks.render import to_array
from vmevalkit.tasks.verifier import judge

SEEDS = (0, 1, 2)
PER_SEED = 8
TASK_SUCCESS = 0


@cache
def tasks() -> tuple[GeneratedTask, ...]:
    domain = get_domain("counting")
    return tuple(task for seed in SEEDS for task in domain.generate(PER_SEED, seed=seed))


def test_every_fill_adds_the_missing_coins_to_the_first_empty_slots() -> None:
    for task in tasks():
        md = task.metadata
        rows, cols = md["rows"], md["cols"]
        coins = [[False] * cols for _ in range(rows)]
        for r, c in md["prefilled"]:
            assert not coins[r][c], "a slot is prefilled twice"
            coins[r][c] = True
        # Replay: each step puts one coin into the first empty slot scanning row by row.
        for r, c in md["solution"]:
            first_empty = next((y, x) for y in range(rows) for x in range(cols) if not coins[y][x])
            assert (r, c) == first_empty, f"{md['task_id']}: {r, c} is not the next empty slot"
            coins[r][c] = True
        assert sum(map(sum, coins)) == md["target"], f"{md['task_id']}: the tray does not end with N coins"
        assert md["num_steps"] == len(md["solution"]) == md["target"] - len(md["prefilled"]) >= 2
        assert md["target"] <= rows * cols


def test_difficulty_sets_the_tray_the_number_and_the_prefilled_coins() -> None:
    seen: dict[str, list[dict[str, Any]]] = {}
    for task in tasks():
        seen.setdefault(task.metadata["difficulty"], []).append(task.metadata)
    assert set(seen) == {"easy", "medium", "hard"}
    trays = {level: {(md["rows"], md["cols"]) for md in mds} for level, mds in seen.items()}
    assert trays == {"easy": {(2, 4)}, "medium": {(3, 4)}, "hard": {(4, 4)}}
    assert max(md["target"] for md in seen["easy"]) <= 5
    assert max(md["target"] for md in seen["medium"]) <= 8
    assert all(7 <= md["target"] <= 12 and md["prefilled"] for md in seen["hard"])


def test_each_solution_keyframe_reads_back_as_its_tray() -> None:
    domain = get_domain("counting")
    for task in tasks()[:: PER_SEED // 2]:
        md = task.metadata
        verifier = domain.verifier(md)
        states = verifier.read_states(np.stack(domain.render_solution(md)))
        for k, state in enumerate(states):
            filled = {tuple(s) for s in md["prefilled"] + md["solution"][:k]}
            expected = tuple(int((r, c) in filled) for r in range(md["rows"]) for c in range(md["cols"]))
            assert state == (md["target"], expected)


def video(md: dict[str, Any], trays: list[list[list[int]]], target: int | None = None) -> list[np.ndarray]:
    return spread_keyframes([to_array(draw_tray(md, coins, target)) for coins in trays], 48)


def empty_slots(md: dict[str, Any]) -> list[list[int]]:
    return [[r, c] for r in range(md["rows"]) for c in range(md["cols"]) if [r, c] not in md["prefilled"]]


def test_verifier_names_each_cheat() -> None:
    task = next(t for t in tasks() if t.metadata["prefilled"] and t.metadata["num_steps"] >= 3)
    md = task.metadata
    verifier = get_domain("counting").verifier(md)
    start, fill = md["prefilled"], md["solution"]

    def verdict_of(trays: list[list[list[int]]], target: int | None = None) -> Any:
        return judge(verifier, np.stack(video(md, trays, target)))

    at_once = verdict_of([start, start + fill[:2], start + fill])
    assert "2 coins appear at once" in at_once.reason and not at_once.passed, at_once.reason

    taken = verdict_of([start, start[1:] + fill[:1]])
    assert "disappears" in taken.reason, taken.reason

    extra = empty_slots(md)[len(fill)]  # the next empty slot after the reading-order fill
    too_many = verdict_of([start + fill[:k] for k in range(len(fill) + 1)] + [start + fill + [extra]])
    assert "already holds" in too_many.reason and too_many.end_state == 0.0, too_many.reason
    assert f"ends with {md['target'] + 1} coins" in too_many.reason

    other = md["target"] % 12 + 1
    renumbered = verdict_of([start], target=other)
    assert f"the target number changes from {md['target']} to {other}" in renumbered.reason, renumbered.reason

    short = verdict_of([start + fill[:k] for k in range(len(fill))])
    assert short.violations == 0 and short.end_state == 0.0
    assert f"ends with {md['target'] - 1} coins, not {md['target']}" in short.reason


def test_task_verifier_accepts_any_n_coins_added_one_by_one_and_fails_a_jump_cut(tmp_path: Path) -> None:
    task = next(t for t in tasks() if t.metadata["num_steps"] >= 3)
    md = task.metadata
    start, need = md["prefilled"], md["num_steps"]
    backwards = empty_slots(md)[::-1][:need]  # the last empty slots first: not the rendered fill, still N coins
    assert backwards != md["solution"]
    videos = {
        "backwards": video(md, [start + backwards[:k] for k in range(need + 1)]),
        "jump_cut": video(md, [start, start + backwards]),
    }
    # the verifier reads the metadata only
    scores, details = score_videos(task, videos, tmp_path, without_final_frame=True)
    assert scores[0, TASK_SUCCESS] == 1.0, details[0]
    assert details[0]["moves"] == need
    assert scores[1, TASK_SUCCESS] == 0.0 and f"{need} coins appear at once" in details[1]["reason"], details[1]

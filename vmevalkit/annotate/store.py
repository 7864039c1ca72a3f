"""An annotator's files: their labels (the JSONL ``evaluate-scorers`` reads) and their session (seed, answer policy).

``<output-dir>/<experiment>/annotations/``:

- ``<annotator>-<mode>.jsonl``: the labels, in exactly the format of docs/SCORING.md ("Human labels"); each
  label's optional ``source`` object records how it was made (item, position, seed, whether and when the answer
  frame was shown, the first judgment before it was). Every submission rewrites the file whole, atomically
  (temp file, fsync, rename): a killed server leaves the file as it was after the last label it acknowledged.
- ``<annotator>-<mode>.session.json``: the seed and settings of the session, so a restart continues in the
  same order.
- ``.<annotator>-<mode>.lock``: held (``flock``) while a server writes the labels: a second server for the same
  annotator and mode is refused instead of losing labels to a race.

Resuming reads the labels file: an item is done when the file holds its label, whatever wrote it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from vmevalkit.annotate.items import Item, Mode
from vmevalkit.scoring.meta_eval.labels import Label, PairLabel, RatingLabel, parse_label_line
from vmevalkit.utils.atomic import atomic_write_json, atomic_write_text, strict_json_dumps

ANNOTATIONS_DIR = "annotations"
SESSION_SCHEMA_VERSION = 1
ANNOTATOR = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
SUCCESS, PROCESS = "task_success", "process"  # rate mode's dimensions: the task-verifier's names
Reveal = Literal["after", "always", "never"]
REVEALS: tuple[Reveal, ...] = ("after", "always", "never")


class AnnotateError(ValueError):
    """Something that stops a session before it starts, with the fix."""


def check_annotator(name: str) -> str:
    if not ANNOTATOR.fullmatch(name):
        raise AnnotateError(
            f"--annotator {name!r}: use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit "
            "(it names the annotator's labels file)"
        )
    return name


class Session:
    """One annotator's session of one mode on one experiment: its settings, its labels file and what is done."""

    def __init__(
        self,
        experiment_dir: Path,
        annotator: str,
        mode: Mode,
        seed: int,
        reveal: Reveal,
        dimension: str,
    ) -> None:
        self.annotator, self.mode, self.seed, self.reveal, self.dimension = annotator, mode, seed, reveal, dimension
        folder = experiment_dir / ANNOTATIONS_DIR
        self.labels_path = folder / f"{annotator}-{mode}.jsonl"
        self.session_path = folder / f"{annotator}-{mode}.session.json"
        self._lock_path = folder / f".{annotator}-{mode}.lock"
        self._lock_fd: int | None = None
        self._write = threading.Lock()  # the server's threads submit one at a time
        self._lines: list[str] = []
        self._done: set[str] = set()  # item keys labelled

    # -- opening ----------------------------------------------------------------------------------------------

    @classmethod
    def recorded_seed(cls, experiment_dir: Path, annotator: str, mode: Mode) -> int | None:
        """The seed an earlier start of this session recorded, or None."""
        path = experiment_dir / ANNOTATIONS_DIR / f"{annotator}-{mode}.session.json"
        try:
            seed = json.loads(path.read_text(encoding="utf-8"))["seed"]
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise AnnotateError(f"cannot read {path} ({exc}): move it away to start this session afresh") from None
        if not isinstance(seed, int) or isinstance(seed, bool):
            raise AnnotateError(f"{path}: seed is not a whole number: move it away to start this session afresh")
        return seed

    def open(self, settings: dict[str, Any]) -> None:
        """Take the lock, read the labels written so far, record the session. An AnnotateError when another
        server holds this session or the labels file has a bad line."""
        self.labels_path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise AnnotateError(
                f"another vmevalkit annotate is serving {self.annotator}'s {self.mode} session of this experiment: "
                "use that one, or stop it first"
            ) from None
        self._lock_fd = fd
        try:
            self._read()
        except AnnotateError:
            self.close()
            raise
        atomic_write_json(
            self.session_path,
            {
                "schema_version": SESSION_SCHEMA_VERSION,
                "annotator": self.annotator,
                "mode": self.mode,
                "seed": self.seed,
                "reveal": self.reveal,
                "dimension": self.dimension,
                **settings,
            },
        )

    def close(self) -> None:
        if self._lock_fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._lock_fd)  # closing releases the flock
            self._lock_fd = None

    def _read(self) -> None:
        try:
            text = self.labels_path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                label = parse_label_line(line)
            except ValueError as exc:
                raise AnnotateError(
                    f"{self.labels_path.name}:{number}: {exc}: mend or remove that line, then start again"
                ) from None
            self._lines.append(line)
            self._mark(label)

    def _mark(self, label: Label) -> None:
        if label.rater != self.annotator:
            return
        if isinstance(label, RatingLabel) and label.dimension == SUCCESS and self.mode == "rate":
            self._done.add(label.generation)
        elif isinstance(label, PairLabel) and label.dimension == self.dimension and self.mode == "pairwise":
            self._done.update({f"{label.a} | {label.b}", f"{label.b} | {label.a}"})

    # -- progress ---------------------------------------------------------------------------------------------

    def is_done(self, item: Item) -> bool:
        return item.key in self._done

    def next_item(self, items: Sequence[Item]) -> Item | None:
        return next((item for item in items if not self.is_done(item)), None)

    def done_count(self, items: Sequence[Item]) -> int:
        return sum(self.is_done(item) for item in items)

    # -- writing ----------------------------------------------------------------------------------------------

    def add(self, item: Item, labels: Sequence[Label]) -> None:
        """Append the item's labels: the whole file rewritten atomically, then the item counts as done."""
        lines = [strict_json_dumps(label.model_dump(exclude_defaults=True)) for label in labels]
        for line in lines:  # what is written is what evaluate-scorers reads: checked, not assumed
            parse_label_line(line)
        with self._write:
            atomic_write_text(self.labels_path, "".join(f"{line}\n" for line in [*self._lines, *lines]))
            self._lines.extend(lines)
            for label in labels:
                self._mark(label)
        assert self.is_done(item), "a saved item counts as done"

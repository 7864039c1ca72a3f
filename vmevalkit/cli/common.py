"""What every subcommand shares: exit codes, the one-line ``error:`` message, argument types, the settings guard.

Stdlib only at module level, like every module of this package: the parser of every subcommand is built on each
start (``--help`` must answer at once), and ``python -m vmevalkit local ...`` runs inside model virtualenvs, which
have neither rich nor httpx.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    from vmevalkit.settings import Settings

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130

OUTPUT_DIR_HELP = "experiments root (default: data/outputs, or $VMEVALKIT_OUTPUT_DIR)"


def experiment_folder(args: argparse.Namespace, settings: Settings) -> Path | None:
    """``<output-dir>/<experiment>/`` from ``--output-dir`` and ``--experiment`` (else their settings); None, after
    an error line, when the experiment is not a plain folder name (it must never lead out of the output dir)."""
    from vmevalkit.runner.registry import SAFE_NAME

    experiment = args.experiment or settings.experiment
    if not SAFE_NAME.fullmatch(experiment):
        error(f"experiment name {experiment!r} must be a plain folder name (letters, digits, '.', '_', '-')")
        return None
    return Path(args.output_dir or settings.output_dir).absolute() / experiment


def error(message: str) -> None:
    # Plain print, not rich: an error line is never wrapped or read as markup, so it
    # can be grepped and copied (paths and model names may contain '[...]'). Messages
    # carry outside text (task ids, provider bodies): control characters are escaped.
    print(f"error: {shown(message)}", file=sys.stderr)


def shown(text: object) -> str:
    """Outside text as it may reach a terminal: secrets masked, control characters escaped."""
    from vmevalkit.utils.redact import scrub
    from vmevalkit.utils.text import printable

    return printable(scrub(str(text)))


def guarded(command: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    """Run a command; bad settings and I/O errors end it with one ``error:`` line, never a traceback."""
    try:
        from vmevalkit.settings import get_settings

        get_settings()  # bad settings are a usage error, found before any work
        return int(command(args))
    except OSError as exc:
        where = f" ({exc.filename})" if exc.filename else ""
        error(f"{exc.strerror or type(exc).__name__}{where}")
        return EXIT_FAILED
    except ValueError as exc:
        from vmevalkit.settings import SettingsError

        if isinstance(exc, SettingsError):
            error(str(exc))
            return EXIT_USAGE
        raise


# -- argument types ---------------------------------------------------------------------


def _whole_number(text: str, minimum: int, rule: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"{rule}, got {value}")
    return value


def positive_int(text: str) -> int:
    return _whole_number(text, 1, "must be at least 1")


def non_negative_int(text: str) -> int:
    return _whole_number(text, 0, "must be 0 or more")


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text}")
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text}")
    return value


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows; use a finite number")


def json_object(text: str) -> dict[str, Any]:
    import json

    try:
        value = json.loads(text, parse_constant=_refuse_constant)  # no NaN or Infinity
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not valid JSON ({exc}): {text!r}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"must be a JSON object of keywords like '{{\"key\": 1}}', got {text!r}")
    return value


def key_value(text: str) -> tuple[str, Any]:
    import json

    key, sep, raw = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        value: Any = json.loads(raw)  # numbers and booleans as such; data only, never code
    except ValueError:
        value = raw
    if isinstance(value, (dict, list)):
        value = raw
    if isinstance(value, float) and not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{key}: {raw!r} is not a finite number")
    if isinstance(value, str) and _is_non_finite_word(value):
        raise argparse.ArgumentTypeError(f"{key}: {raw!r} is not a finite number")
    return key.strip(), value


def _is_non_finite_word(text: str) -> bool:
    # float() reads these as inf/nan; a parameter spelt so is almost surely a number gone wrong.
    try:
        return not math.isfinite(float(text))
    except ValueError:
        return False


# -- tables that fit the terminal -----------------------------------------------------------


def fitted_table(
    title: str,
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    width: int,
    *,
    names: int = 1,
    text: Sequence[str] = (),
    fold: str | None = None,
    fold_min: int = 30,
    must_fit: bool = False,
) -> Table | None:
    """A rich table for a terminal ``width`` columns wide that never cuts a word, or None when even that cannot fit.

    The first ``names`` columns (model names) are never wrapped. Drawn with boxes around every cell where every
    column fits whole; otherwise without them (one rule under the header), each column as wide as its longest word
    and widened, last first, while room is left. The ``fold`` column (a description) takes what is left, at least
    ``fold_min``. Too narrow a terminal gets the narrowest table (wider than ``width``), or None with ``must_fit``
    (the caller leaves columns out). Rows are rich markup; columns after the names are right-aligned (numbers)
    unless in ``text``. Widths are computed here rather than left to rich, which narrows a column below its longest
    word when a table is too wide.
    """
    from rich import box
    from rich.table import Table
    from rich.text import Text

    plain = [[Text.from_markup(cell).plain for cell in row] for row in rows]
    columns = [[header, *(row[i] for row in plain)] for i, header in enumerate(headers)]
    fixed = [i for i, header in enumerate(headers) if header != fold]
    full = {i: max(len(cell) for cell in columns[i]) for i in fixed}
    need_fold = fold_min if fold in headers else 0
    boxed = sum(full.values()) + 3 * len(headers) + 1 + need_fold <= width
    if boxed:
        widths = dict(full)
    else:
        widths = {
            i: full[i] if i < names else max(len(word) for cell in columns[i] for word in [*cell.split(), ""])
            for i in fixed
        }
        spare = width - (sum(widths.values()) + 2 * (len(headers) - 1) + need_fold)
        if spare < 0 and must_fit:
            return None
        spare = max(spare, 0)
        for i in reversed(fixed):
            grow = min(full[i] - widths[i], spare)
            widths[i] += grow
            spare -= grow
    table = Table(title=title)
    if not boxed:
        table.box, table.show_edge, table.pad_edge, table.collapse_padding = box.SIMPLE_HEAD, False, False, True
    for i, header in enumerate(headers):
        if header == fold:
            table.add_column(header, overflow="fold", min_width=fold_min, ratio=1)
        else:
            left = i < names or header in text
            table.add_column(header, justify="left" if left else "right", width=widths[i], no_wrap=i < names)
    for row in rows:
        table.add_row(*row)
    return table


def print_table(console: Console, title: str, headers: Sequence[str], rows: Sequence[Sequence[str]], **kw: Any) -> None:
    """``fitted_table`` printed: model names whole, every column in the terminal's width where it can be."""
    table = fitted_table(title, headers, rows, console.width, **kw)
    assert table is not None  # only must_fit gives None
    # Narrower than the narrowest table: drawn at its own width (the terminal wraps it) rather than cutting names.
    width = console.width
    console.width = max(width, table_width(table))
    try:
        console.print(table)
    finally:
        console.width = width


def table_width(table: Table) -> int:
    """The columns a table of fixed-width columns (``fitted_table``'s, folded ones aside) takes."""
    cells = sum(column.width or column.min_width or 0 for column in table.columns)
    gaps = 2 * (len(table.columns) - 1) if not table.show_edge else 3 * len(table.columns) + 1
    return cells + gaps


def print_columns(
    console: Console, title: str, key: str, columns: dict[str, dict[str, str]], rows: Sequence[str], **kw: Any
) -> None:
    """A table of ``rows`` (model names, in this order) by ``columns`` (header -> row -> cell), split into as many
    tables as it takes for each to fit the terminal: a scorer with many dimensions never pushes a column out."""
    headers = list(columns)
    while headers:
        take = len(headers)
        while take > 1:
            chunk = headers[:take]
            cells = [[row, *(columns[h].get(row, "-") for h in chunk)] for row in rows]
            if fitted_table(title, [key, *chunk], cells, console.width, must_fit=True, **kw) is not None:
                break
            take -= 1
        chunk, headers = headers[:take], headers[take:]
        print_table(console, title, [key, *chunk], [[row, *(columns[h].get(row, "-") for h in chunk)] for row in rows])


# -- the engine -------------------------------------------------------------------------


def add_engine_arguments(p: argparse.ArgumentParser, what: str = "builtin and local models") -> None:
    p.add_argument(
        "--engine",
        choices=("local", "ray"),
        help=f"where {what} run: local (this machine; the default, or $VMEVALKIT_ENGINE) or ray (a Ray cluster; "
        "pip install 'vmevalkit[ray]')",
    )
    p.add_argument(
        "--ray-address",
        metavar="ADDRESS",
        help="the Ray cluster to join with --engine ray, e.g. HEAD:6379 or ray://HEAD:10001 "
        "(default: $VMEVALKIT_RAY_ADDRESS or $RAY_ADDRESS, else a new Ray instance of its own on this machine)",
    )


def engine_settings(args: argparse.Namespace, settings: Settings) -> Settings | None:
    """``settings`` with ``--engine`` and ``--ray-address`` applied; None, after an error line, for a
    ``--ray-address`` without the ray engine."""
    update: dict[str, Any] = {}
    if getattr(args, "engine", None):
        update["engine"] = args.engine
    if getattr(args, "ray_address", None):
        update["ray_address"] = args.ray_address
    settings = settings.model_copy(update=update)
    if update.get("ray_address") and settings.engine != "ray":
        error("--ray-address applies to --engine ray (or VMEVALKIT_ENGINE=ray)")
        return None
    return settings


def join_cluster(settings: Settings) -> bool:
    """With the ray engine, join (or start) the cluster before any work: False, after an error line naming the
    fix, when that cannot be done. True at once with the local engine."""
    if settings.engine != "ray":
        return True
    import os

    from vmevalkit.cluster.session import RAY_VARIABLES, ClusterError, connect

    # Ray reads its address and token from the environment only: a .env may hold them too (the token is a secret,
    # and like every key it comes from the environment or .env, and is never printed).
    for name in RAY_VARIABLES:
        value = settings.value(name)
        if value and name not in os.environ:
            os.environ[name] = value
    try:
        connect(settings.ray_address)
    except ClusterError as exc:
        error(str(exc))
        return False
    return True

"""What every subcommand shares: exit codes, the one-line ``error:`` message, argument types, the settings guard.

Stdlib only at module level, like every module of this package: the parser of every subcommand is built on each
start (``--help`` must answer at once), and ``python -m vmevalkit local ...`` runs inside model virtualenvs, which
have neither rich nor httpx.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable
from typing import Any

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130

OUTPUT_DIR_HELP = "experiments root (default: data/outputs, or $VMEVALKIT_OUTPUT_DIR)"


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


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


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

"""One place that removes secrets from text that came from outside.

Providers, judges and scorers may echo a key back: in an error body, a status
field, a verdict's rationale. Every such string passes ``scrub`` (or
``scrub_data`` for parsed JSON) before it reaches a record, a cache, a log or
the terminal. The secrets are the values of every variable, in the environment
or in ``.env``, whose name says it holds one (``*_KEY``, ``*_TOKEN``,
``*_SECRET``, ...), plus values issued at run time (``register_secret``: Kling's
signed tokens). Matching is by value, so a key is caught wherever it appears.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

from vmevalkit.utils.dotenv import dotenv_values

# Names of variables that hold a secret: API keys, tokens, passwords.
SECRET_NAME = re.compile(r"(^|_)(KEY|TOKEN|SECRET|PASSWORD|CREDENTIALS?)(_|$)", re.IGNORECASE)
# Shorter values are not treated as secrets: replacing "1" or "yes" everywhere would garble text, not protect it.
MIN_SECRET_LENGTH = 8
MASK = "***"

_issued: set[str] = set()
_issued_lock = threading.Lock()


def register_secret(value: str) -> None:
    """A secret made at run time (a signed token): scrubbed from then on, in this process."""
    if len(value) >= MIN_SECRET_LENGTH:
        with _issued_lock:
            _issued.add(value)


def secret_values(extra: Iterable[str] = ()) -> tuple[str, ...]:
    """Every known secret value, longest first (so a key that contains another is masked whole)."""
    found = set(extra)
    try:
        dotenv = dotenv_values()
    except (OSError, ValueError):  # an unreadable .env is reported where settings are read; scrubbing goes on
        dotenv = {}
    for source in (os.environ, dotenv):
        found.update(value for name, value in source.items() if SECRET_NAME.search(name))
    with _issued_lock:
        found.update(_issued)
    return tuple(sorted((v for v in found if len(v) >= MIN_SECRET_LENGTH), key=len, reverse=True))


def scrub(text: str, extra: Iterable[str] = ()) -> str:
    """``text`` with every secret (also in its URL-encoded form) replaced by ``***``."""
    if not text:
        return text
    for secret in secret_values(extra):
        for form in {secret, quote(secret, safe="")}:
            if form in text:
                text = text.replace(form, MASK)
    return text


def scrub_data(value: Any, extra: Iterable[str] = ()) -> Any:
    """Parsed JSON (dicts, lists, strings, numbers) with every string scrubbed, keys included."""
    secrets = secret_values(extra)
    if not secrets:
        return value
    return _scrub_tree(value, secrets)


def _scrub_tree(value: Any, secrets: tuple[str, ...]) -> Any:
    if isinstance(value, str):
        return scrub(value, secrets) if any(s in value or quote(s, safe="") in value for s in secrets) else value
    if isinstance(value, dict):
        return {_scrub_tree(k, secrets): _scrub_tree(v, secrets) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_scrub_tree(v, secrets) for v in value]
    return value

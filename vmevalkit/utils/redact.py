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
    found.update(_environ_secrets())
    found.update(value for name, value in dotenv.items() if SECRET_NAME.search(name))
    with _issued_lock:
        found.update(_issued)
    return tuple(sorted((v for v in found if len(v) >= MIN_SECRET_LENGTH), key=len, reverse=True))


# The environment's secret values and the raw environment they were read from. Scrubbing runs on
# every provider answer (each poll of each job), and decoding and matching every variable's name was
# most of its cost; comparing the raw environment with the one last read is a C-level dict compare.
_environ_memo: tuple[dict[Any, Any], frozenset[str]] | None = None


def _environ_secrets() -> frozenset[str]:
    """The values of the environment's secret-named variables, read again whenever the environment changed.

    Read from a copy of ``os.environ``'s raw mapping, so the values always belong to the very
    environment they are remembered with: a change made meanwhile (by another thread) is seen next call.
    """
    global _environ_memo
    env = os.environ
    raw: dict[Any, Any] | None = getattr(env, "_data", None)  # CPython's mapping behind os.environ
    if raw is None:  # another implementation: no cheap way to tell a change, so read it every time
        return frozenset(value for name, value in env.items() if SECRET_NAME.search(name))
    memo = _environ_memo
    if memo is not None and memo[0] == raw:
        return memo[1]
    snapshot = dict(raw)
    values = frozenset(
        env.decodevalue(value) for name, value in snapshot.items() if SECRET_NAME.search(env.decodekey(name))
    )
    _environ_memo = (snapshot, values)
    return values


def scrub(text: str, extra: Iterable[str] = ()) -> str:
    """``text`` with every secret (also in its URL-encoded form) replaced by ``***``."""
    if not text:
        return text
    return _scrub_text(text, _forms(secret_values(extra)))


def scrub_data(value: Any, extra: Iterable[str] = ()) -> Any:
    """Parsed JSON (dicts, lists, strings, numbers) with every string scrubbed, keys included."""
    secrets = secret_values(extra)
    if not secrets:
        return value
    return _scrub_tree(value, _forms(secrets))


def _forms(secrets: tuple[str, ...]) -> tuple[str, ...]:
    """Each secret and its URL-encoded form (when that differs), longest secret first."""
    forms: list[str] = []
    for secret in secrets:
        forms.append(secret)
        quoted = quote(secret, safe="")
        if quoted != secret:
            forms.append(quoted)
    return tuple(forms)


def _scrub_text(text: str, forms: tuple[str, ...]) -> str:
    for form in forms:
        if form in text:
            text = text.replace(form, MASK)
    return text


def _scrub_tree(value: Any, forms: tuple[str, ...]) -> Any:
    if isinstance(value, str):
        return _scrub_text(value, forms)
    if isinstance(value, dict):
        return {_scrub_tree(k, forms): _scrub_tree(v, forms) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_scrub_tree(v, forms) for v in value]
    return value

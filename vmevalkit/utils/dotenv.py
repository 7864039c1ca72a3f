"""Reading ``.env``: the one parser, shared by the settings and the secret scrubber (``redact``).

Below ``vmevalkit.settings`` so that ``redact`` (which the settings use) never imports the settings back.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

DEFAULT_ENV_FILE = ".env"  # the settings' own ``env_file``


class SettingsError(ValueError):
    """Settings that cannot be used. The message is one line: each bad variable by its environment name,
    the value given (hidden for secret-named variables) and what it expects; or the ``.env`` file that is
    not UTF-8, with the byte offset."""


def dotenv_values(env_file: object = None) -> dict[str, str]:
    """The variables of ``.env`` (or ``env_file``), parsed once per modification of the file.

    Raises SettingsError when the file is not UTF-8 or cannot be read."""
    if env_file is None:
        env_file = DEFAULT_ENV_FILE
    return _dotenv_values(env_file)


def _dotenv_values(env_file: object) -> dict[str, str]:
    path = Path(str(env_file)) if env_file else None
    if path is None or not path.is_file():
        return {}
    return _parse_dotenv(path, path.stat().st_mtime_ns)


@lru_cache(maxsize=4)
def _parse_dotenv(path: Path, mtime_ns: int) -> dict[str, str]:
    # Cached per modification time: keys are looked up per request, the file read once.
    values: dict[str, str] = {}
    for raw in _read_dotenv(path).splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.removeprefix("export ").partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key.strip()] = value
    return values


def _read_dotenv(path: Path) -> str:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SettingsError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise SettingsError(
            f"{path} is not UTF-8 text: byte 0x{data[exc.start]:02x} at byte offset {exc.start} (line {line}) "
            "cannot be decoded; re-save the file as UTF-8"
        ) from None
    return text.removeprefix("\ufeff")  # a byte order mark, as some editors write

"""One settings object for the whole tool, read from the environment and ``.env``.

Our own knobs use the ``VMEVALKIT_`` prefix. Provider keys (``LUMA_API_KEY``,
...) keep the names their providers document and are read with ``secret()``,
which returns a ``SecretStr`` so a key never ends up in a log or a repr.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="VMEVALKIT_", env_file=".env", extra="ignore")

    questions_dir: Path = Field(default=Path("data/questions"), description="Task dataset root")
    output_dir: Path = Field(default=Path("data/outputs"), description="Where experiments are written")
    experiment: str = Field(default="pilot", description="Default experiment name")
    envs_dir: Path = Field(default=Path("envs"), description="One virtualenv per local model")
    weights_dir: Path = Field(default=Path("weights"), description="Model checkpoints")
    max_concurrency: int = Field(default=8, ge=1, description="Jobs in flight at once, over all models")
    builtin_concurrency: int = Field(default=2, ge=1, description="Builtin (in-process) jobs at once per model")
    request_timeout_s: float = Field(default=60.0, gt=0, description="HTTP connect/read timeout")
    poll_interval_s: float = Field(default=10.0, gt=0, description="How often API jobs are polled")
    job_timeout_s: float = Field(default=1800.0, gt=0, description="Deadline for one generation")
    extra_catalogs: str = Field(
        default="",
        description="Comma-separated dotted paths ('my_pkg.catalog:MODELS') to dicts of extra catalog entries",
    )

    def secret(self, name: str) -> SecretStr | None:
        """A provider key from the environment, else from ``.env``; None when unset or empty."""
        value = os.environ.get(name)
        if value is None:
            value = _dotenv_values(self.model_config.get("env_file")).get(name)
        return SecretStr(value) if value else None

    def has_secret(self, name: str) -> bool:
        return self.secret(name) is not None


def _dotenv_values(env_file: object) -> dict[str, str]:
    path = Path(str(env_file)) if env_file else None
    if path is None or not path.is_file():
        return {}
    values: dict[str, str] = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.removeprefix("export ").partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key.strip()] = value
    return values


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()

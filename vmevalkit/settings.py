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
    max_concurrency: int = Field(default=32, ge=1, description="Jobs in flight at once, over all models")
    provider_concurrency: int = Field(default=8, ge=1, description="API jobs in flight at once per provider")
    api_retries: int = Field(default=5, ge=1, description="Attempts per HTTP request on 5xx and network errors")
    api_retry_base_delay_s: float = Field(default=1.0, gt=0, description="First backoff delay; doubles per retry")
    builtin_concurrency: int = Field(default=2, ge=1, description="Builtin (in-process) jobs at once per model")
    request_timeout_s: float = Field(default=60.0, gt=0, description="HTTP connect/read timeout")
    poll_interval_s: float = Field(default=10.0, gt=0, description="How often API jobs are polled")
    job_timeout_s: float = Field(default=1800.0, gt=0, description="Deadline for one generation")
    image_host: str = Field(
        default="data-url",
        description="How images reach providers that need a URL: data-url, s3, or a dotted path module:Class",
    )
    s3_bucket: str = Field(default="", description="Bucket for the s3 image host")
    s3_prefix: str = Field(default="vmevalkit-inputs/", description="Key prefix for uploaded inputs")
    s3_endpoint_url: str = Field(default="", description="S3-compatible endpoint (MinIO, R2, ...); empty for AWS")
    s3_url_expiry_s: int = Field(default=3600, ge=60, description="Lifetime of presigned input URLs")
    checkpoints: dict[str, Path] = Field(
        default_factory=dict,
        description='Local models run from these checkpoint folders, not their pinned weights: {"ltx-video": "DIR"}',
    )
    local_gpus: str = Field(
        default="",
        description="GPUs for local-model workers, one worker each: '0,1'; 'cpu' for none; empty: every visible GPU",
    )
    local_savers: str = Field(
        default="auto",
        description="Memory savers for local models: auto (when the GPU is below the model's minimum), none, or a list",
    )
    local_load_timeout_s: float = Field(default=1800.0, gt=0, description="Deadline for a worker to load its model")
    local_job_timeout_s: float = Field(
        default=7200.0, gt=0, description="Deadline for one local generation; a worker past it is killed as hung"
    )
    extra_catalogs: str = Field(
        default="",
        description="Comma-separated dotted paths ('my_pkg.catalog:MODELS') to dicts of extra catalog entries",
    )
    extra_scorer_catalogs: str = Field(
        default="",
        description="Comma-separated dotted paths ('my_pkg.catalog:SCORERS') to dicts of extra scorer catalog entries",
    )

    def secret(self, name: str) -> SecretStr | None:
        """A provider key from the environment, else from ``.env``; None when unset or empty."""
        value = self.value(name)
        return SecretStr(value) if value else None

    def value(self, name: str) -> str | None:
        """A non-secret variable (e.g. ``RUNWAYML_BASE_URL``) from the environment, else ``.env``."""
        value = os.environ.get(name)
        if value is None:
            value = _dotenv_values(self.model_config.get("env_file")).get(name)
        return value or None

    def has_secret(self, name: str) -> bool:
        return self.secret(name) is not None


def dotenv_values(env_file: object = None) -> dict[str, str]:
    """The variables of ``.env`` (or ``env_file``), parsed once per modification of the file."""
    if env_file is None:
        env_file = Settings.model_config.get("env_file")
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

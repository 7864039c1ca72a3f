"""One settings object for the whole tool, read from the environment and ``.env``.

Our own knobs use the ``VMEVALKIT_`` prefix. Provider keys (``LUMA_API_KEY``,
...) keep the names their providers document and are read with ``secret()``,
which returns a ``SecretStr`` so a key never ends up in a log or a repr.

Settings that cannot be used (a value of the wrong type or range, a ``.env``
that is not UTF-8) raise one ``SettingsError`` whose one-line message names
each variable, the value given and what it expects.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, SettingsConfigDict
from pydantic_settings import SettingsError as _SourceError

from vmevalkit.utils.dotenv import DEFAULT_ENV_FILE, SettingsError, _dotenv_values, dotenv_values
from vmevalkit.utils.redact import SECRET_NAME

__all__ = ["Settings", "SettingsError", "dotenv_values", "get_settings"]

# Values longer than this are shortened in error messages.
_SHOWN_VALUE_CHARS = 80


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="VMEVALKIT_",
        env_file=DEFAULT_ENV_FILE,
        env_file_encoding="utf-8-sig",  # UTF-8, with or without a byte order mark
        extra="ignore",
        allow_inf_nan=False,  # every float setting: inf and nan are refused
    )

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
    engine: Literal["local", "ray"] = Field(
        default="local",
        description="Where builtin and local models and scorers run: local (this machine) or ray (a Ray cluster)",
    )
    ray_address: str = Field(
        default="",
        description="The Ray cluster to join with engine ray (ray://HOST:10001 or HOST:6379); empty: $RAY_ADDRESS, "
        "else a new Ray instance of its own on this machine",
    )
    ray_max_attempts: int = Field(
        default=3, ge=1, description="Attempts per job on Ray when its worker or node dies; then it fails"
    )
    ray_actors: int = Field(
        default=0, ge=0, description="Ray actors per model or scorer at most; 0: as many as the cluster holds"
    )
    extra_catalogs: str = Field(
        default="",
        description="Comma-separated dotted paths ('my_pkg.catalog:MODELS') to dicts of extra catalog entries",
    )
    extra_scorer_catalogs: str = Field(
        default="",
        description="Comma-separated dotted paths ('my_pkg.catalog:SCORERS') to dicts of extra scorer catalog entries",
    )
    max_image_pixels: int = Field(
        default=16_000_000, ge=1, description="Largest task frame (width x height), checked before decoding"
    )
    max_metadata_bytes: int = Field(default=1 << 20, ge=1, description="Largest question_metadata.json, in bytes")
    max_metadata_depth: int = Field(
        default=64, ge=1, description="Deepest nesting of objects and arrays in question_metadata.json"
    )

    def __init__(self, **values: Any) -> None:
        env_file = values["_env_file"] if "_env_file" in values else type(self).model_config.get("env_file")
        for path in _env_files(env_file):
            _dotenv_values(path)  # a .env that is not UTF-8 is a SettingsError naming it, before pydantic reads it
        try:
            super().__init__(**values)
        except ValidationError as exc:
            problems = {str(error["loc"][0]): error["input"] for error in exc.errors() if error["loc"]}
            raise SettingsError(_describe(type(self), problems, env_file)) from None
        except _SourceError as exc:
            # A complex value (checkpoints) that is not JSON: pydantic-settings names the field in its message.
            match = re.search(r'field "([^"]+)"', str(exc))
            if match is None or match.group(1) not in type(self).model_fields:
                raise SettingsError(f"invalid settings: {exc}") from None
            raise SettingsError(_describe(type(self), {match.group(1): None}, env_file)) from None

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


def _env_files(env_file: object) -> list[object]:
    if env_file is None:
        return []
    if isinstance(env_file, (str, os.PathLike)):
        return [env_file]
    if isinstance(env_file, Iterable):
        return list(env_file)
    return [env_file]


def _describe(cls: type[Settings], problems: Mapping[str, object], env_file: object) -> str:
    """One line: each bad setting as ``NAME='value' (from where): expected what``."""
    dotenv: dict[str, str] = {}
    dotenv_path = ""
    for path in _env_files(env_file):
        found = _dotenv_values(path)
        if found:
            dotenv.update(found)
            dotenv_path = str(path)
    parts = []
    for field_name, given in problems.items():
        name = env_name(cls, field_name)
        source = ""
        if name in os.environ:
            given, source = os.environ[name], " (from the environment)"
        elif name in dotenv:
            given, source = dotenv[name], f" (from {dotenv_path})"
        shown = "=<hidden>" if SECRET_NAME.search(name) else f"={_shown(given)}"
        field = cls.model_fields.get(field_name)
        expects = _expects(field) if field is not None else "a valid value"
        parts.append(f"{name}{shown}{source}: expected {expects}")
    head = "invalid setting: " if len(parts) == 1 else "invalid settings: "
    return head + "; ".join(parts)


def env_name(cls: type[Settings], field_name: str) -> str:
    """The environment variable that sets ``field_name`` (``max_concurrency`` -> ``VMEVALKIT_MAX_CONCURRENCY``)."""
    prefix = str(cls.model_config.get("env_prefix") or "")
    return f"{prefix}{field_name}".upper()


def _shown(value: object) -> str:
    text = repr(value if isinstance(value, str) else str(value))
    return text if len(text) <= _SHOWN_VALUE_CHARS else text[: _SHOWN_VALUE_CHARS - 4] + "...'"


def _expects(field: FieldInfo) -> str:
    kinds: dict[object, str] = {
        int: "an integer",
        float: "a finite number",
        str: "text",
        Path: "a path",
        bool: "true or false",
    }
    annotation = field.annotation
    origin = getattr(annotation, "__origin__", None)
    if annotation in kinds:
        what = kinds[annotation]
    elif origin is Literal:
        what = "one of " + ", ".join(str(choice) for choice in getattr(annotation, "__args__", ()))
    elif origin in (dict, list):
        nouns: dict[object, str] = {int: "integer", float: "number", str: "text", Path: "path", bool: "boolean"}
        item = nouns.get(getattr(annotation, "__args__", (None,))[-1], "value")
        what = f"a JSON object of name: {item} pairs" if origin is dict else "a JSON array"
    else:
        what = "a valid value"
    bounds = []
    for constraint in field.metadata:
        for attr, op in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<")):
            bound = getattr(constraint, attr, None)
            if isinstance(bound, (int, float)):
                bounds.append(f"{op} {bound:g}" if isinstance(bound, float) else f"{op} {bound}")
    return " ".join([what, " and ".join(bounds)]) if bounds else what


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()

"""Bad settings raise one SettingsError whose one-line message names each variable, its value and what it
expects; a .env that is not UTF-8 names the file and the byte offset."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import Field

from vmevalkit.settings import Settings, SettingsError, dotenv_values, get_settings

FLOAT_FIELDS = sorted(name for name, field in Settings.model_fields.items() if field.annotation is float)


def _error(**env: str) -> str:
    mp = pytest.MonkeyPatch()
    try:
        for name, value in env.items():
            mp.setenv(name, value)
        get_settings.cache_clear()
        with pytest.raises(SettingsError) as caught:
            get_settings()
    finally:
        mp.undo()
    message = str(caught.value)
    assert "\n" not in message, "one line, for one 'error:' line"
    assert "pydantic" not in message and "errors.pydantic.dev" not in message
    return message


def test_settings_error_is_a_value_error() -> None:
    assert issubclass(SettingsError, ValueError)


def test_a_non_integer_names_the_variable_the_value_and_what_it_expects() -> None:
    message = _error(VMEVALKIT_MAX_CONCURRENCY="abc")
    assert "VMEVALKIT_MAX_CONCURRENCY" in message and "'abc'" in message
    assert "an integer >= 1" in message


def test_a_negative_timeout_names_what_it_expects() -> None:
    message = _error(VMEVALKIT_JOB_TIMEOUT_S="-5")
    assert "VMEVALKIT_JOB_TIMEOUT_S" in message and "'-5'" in message and "> 0" in message


def test_every_bad_variable_is_listed_once() -> None:
    message = _error(VMEVALKIT_MAX_CONCURRENCY="0", VMEVALKIT_POLL_INTERVAL_S="soon", VMEVALKIT_S3_URL_EXPIRY_S="5")
    for name in ("VMEVALKIT_MAX_CONCURRENCY", "VMEVALKIT_POLL_INTERVAL_S", "VMEVALKIT_S3_URL_EXPIRY_S"):
        assert message.count(name) == 1, message
    assert "'soon'" in message and "an integer >= 60" in message


@pytest.mark.parametrize("value", ["inf", "-inf", "nan", "Infinity", "NaN"])
@pytest.mark.parametrize("name", FLOAT_FIELDS)
def test_non_finite_floats_are_refused_for_every_float_setting(name: str, value: str) -> None:
    env_name = f"VMEVALKIT_{name.upper()}"
    message = _error(**{env_name: value})
    assert env_name in message and "finite" in message


def test_there_are_float_settings_to_check() -> None:
    assert {"job_timeout_s", "request_timeout_s", "poll_interval_s"} <= set(FLOAT_FIELDS)


def test_a_bad_value_from_dotenv_names_the_file(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("VMEVALKIT_BUILTIN_CONCURRENCY=two\n")
    message = _error()
    assert "VMEVALKIT_BUILTIN_CONCURRENCY" in message and "'two'" in message and ".env" in message


def test_a_checkpoints_value_that_is_not_json_is_a_settings_error() -> None:
    message = _error(VMEVALKIT_CHECKPOINTS="ltx-video=weights/x")
    assert "VMEVALKIT_CHECKPOINTS" in message and "'ltx-video=weights/x'" in message and "JSON object" in message


def test_control_characters_in_a_value_are_escaped() -> None:
    message = _error(VMEVALKIT_MAX_CONCURRENCY="1\x1b[2J")
    assert "\x1b" not in message and "\\x1b" in message


class _WithSecretField(Settings):
    test_api_key: int = Field(default=1, ge=1)


def test_the_value_of_a_secret_named_variable_is_never_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VMEVALKIT_TEST_API_KEY", "sk-very-secret-value-123")
    with pytest.raises(SettingsError) as caught:
        _WithSecretField()
    message = str(caught.value)
    assert "VMEVALKIT_TEST_API_KEY" in message and "sk-very-secret-value-123" not in message


def _write_bad_dotenv(path: Path) -> int:
    good = b"# keys\nVMEVALKIT_EXPERIMENT=caf"
    path.write_bytes(good + b"\xe9\nOTHER=1\n")  # latin-1 e-acute: not UTF-8
    return len(good)


def test_a_non_utf8_dotenv_names_the_file_and_the_offset(tmp_path: Path) -> None:
    offset = _write_bad_dotenv(tmp_path / ".env")
    message = _error()
    assert ".env" in message and f"byte offset {offset}" in message and "line 2" in message
    assert "UTF-8" in message and "re-save" in message


def test_value_secret_and_dotenv_values_give_the_settings_error_too(tmp_path: Path) -> None:
    settings = Settings()  # no .env yet
    _write_bad_dotenv(tmp_path / ".env")
    with pytest.raises(SettingsError, match="byte offset"):
        settings.value("OTHER")
    with pytest.raises(SettingsError, match="byte offset"):
        settings.secret("SOME_API_KEY")
    with pytest.raises(SettingsError, match="byte offset"):
        dotenv_values()
    other = tmp_path / "other.env"
    _write_bad_dotenv(other)
    with pytest.raises(SettingsError, match="other.env"):
        dotenv_values(other)


def test_a_dotenv_saved_with_a_byte_order_mark_works(tmp_path: Path) -> None:
    (tmp_path / ".env").write_bytes(b"\xef\xbb\xbfVMEVALKIT_MAX_CONCURRENCY=3\nVMK_TEST_API_KEY=abc\n")
    settings = get_settings()
    assert settings.max_concurrency == 3
    assert settings.value("VMEVALKIT_MAX_CONCURRENCY") == "3"
    assert dotenv_values()["VMEVALKIT_MAX_CONCURRENCY"] == "3"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("VMEVALKIT_MAX_IMAGE_PIXELS", "0"),
        ("VMEVALKIT_MAX_METADATA_BYTES", "-1"),
        ("VMEVALKIT_MAX_METADATA_DEPTH", "deep"),
    ],
)
def test_the_loader_limits_are_checked_settings(name: str, value: str) -> None:
    message = _error(**{name: value})
    assert name in message and "an integer >= 1" in message


def test_the_loader_limits_have_sane_defaults() -> None:
    settings = get_settings()
    assert settings.max_image_pixels == 16_000_000
    assert settings.max_metadata_bytes == 1 << 20
    assert settings.max_metadata_depth == 64

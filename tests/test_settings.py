"""Settings come from the environment and .env; secrets never show up in output."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import REPO, run_generate

from vmevalkit.runner.MODEL_CATALOG import AVAILABLE_MODELS
from vmevalkit.settings import Settings, SettingsError, get_settings

SECRET = "vmk-secret-value-0123456789"


def test_prefixed_environment_and_dotenv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".env").write_text("VMEVALKIT_MAX_CONCURRENCY=3\nVMEVALKIT_OUTPUT_DIR=from-dotenv\n")
    monkeypatch.setenv("VMEVALKIT_OUTPUT_DIR", "from-env")
    settings = Settings()
    assert settings.max_concurrency == 3
    assert settings.output_dir == Path("from-env"), "the environment wins over .env"


def test_invalid_setting_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VMEVALKIT_MAX_CONCURRENCY", "0")
    with pytest.raises(SettingsError, match="VMEVALKIT_MAX_CONCURRENCY='0'.*an integer >= 1"):
        Settings()


def test_secrets_from_env_or_dotenv_are_masked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".env").write_text(f"# provider keys\nexport VMK_TEST_API_KEY='{SECRET}'\nEMPTY_KEY=\n")
    settings = get_settings()
    key = settings.secret("VMK_TEST_API_KEY")
    assert key is not None and key.get_secret_value() == SECRET
    assert SECRET not in repr(key) and SECRET not in str(key)
    assert settings.secret("EMPTY_KEY") is None and settings.secret("NOT_SET_ANYWHERE") is None
    monkeypatch.setenv("VMK_TEST_API_KEY", "from-env")
    assert settings.secret("VMK_TEST_API_KEY").get_secret_value() == "from-env"


def test_missing_key_stops_before_any_work_and_names_the_fix(questions: Path, tmp_path: Path) -> None:
    result = run_generate("--model", "test-needs-key", "--questions-dir", str(questions), cwd=tmp_path)
    assert result.returncode == 2
    assert "Set VMK_TEST_API_KEY in .env to use test-needs-key (see .env.example)" in result.stderr
    assert not (tmp_path / "data" / "outputs").exists()


def test_a_set_key_never_reaches_output_or_metadata(questions: Path, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(f"VMK_TEST_API_KEY={SECRET}\n")
    listed = run_generate("--list-models", cwd=tmp_path)
    row = next(line for line in listed.stdout.splitlines() if "test-needs-key" in line)
    assert re.search(r"\byes\b.*\byes\b", row), row  # installed? yes, key set? yes
    result = run_generate(
        "--model", "test-needs-key", "--domain", "maze", "--questions-dir", str(questions), cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert SECRET not in result.stdout + result.stderr
    for path in (tmp_path / "data" / "outputs").rglob("*"):
        if path.is_file() and path.suffix in (".json", ".txt"):
            assert SECRET not in path.read_text()


def test_env_example_lists_every_key_and_setting() -> None:
    example = (REPO / ".env.example").read_text()
    names = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", example, flags=re.M))
    needed = {key for entry in AVAILABLE_MODELS.values() for key in entry.get("env_keys", [])}
    assert needed <= names, f".env.example lacks {needed - names}"
    ours = {f"VMEVALKIT_{field.upper()}" for field in Settings.model_fields}
    assert ours <= names, f".env.example lacks {ours - names}"
    assert "=" in example and not re.search(r"^[A-Z_]*KEY=\S+", example, flags=re.M), "no real values in the example"


def test_env_example_names_every_providers_base_url_and_keys() -> None:
    from vmevalkit.runner.registry import get_entry, load_service_class

    example = (REPO / ".env.example").read_text()
    for name, entry in AVAILABLE_MODELS.items():
        if entry["kind"] != "api":
            continue
        service = load_service_class(get_entry(name))
        assert service.base_url_env in example, f"{service.base_url_env} ({name}) is missing from .env.example"
        for key in service.key_env:
            assert f"{key}=" in example, f"{key} ({name}) is missing from .env.example"


def test_prices_follow_resolution() -> None:
    from vmevalkit.models.constraints import Price

    price = Price(usd_per_second=0.1, usd_per_second_by_resolution={"1080p": 0.3})
    assert price.estimate(5) == pytest.approx(0.5)
    assert price.estimate(5, "1080p") == pytest.approx(1.5)
    assert Price(usd_per_video=0.4).estimate(10, "720p") == pytest.approx(0.4)

"""The one scrub function every outside string passes, and the printable form of outside text."""

from __future__ import annotations

from pathlib import Path

import pytest

from vmevalkit.utils.redact import register_secret, scrub, scrub_data, secret_values
from vmevalkit.utils.text import printable

KEY = "sk-test-Zq9xR2vLm8Tp4Wd7"


def test_scrub_masks_every_secret_named_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LUMA_API_KEY", KEY)
    monkeypatch.setenv("HF_TOKEN", "hf_tokenvalue123")
    monkeypatch.setenv("VMEVALKIT_EXPERIMENT", "notasecret-value")  # not a secret name: left alone
    text = f"status: bad key {KEY} (token hf_tokenvalue123) in notasecret-value"
    assert scrub(text) == "status: bad key *** (token ***) in notasecret-value"


def test_the_environment_is_read_again_whenever_it_changed(monkeypatch: pytest.MonkeyPatch) -> None:
    # The environment's secrets are remembered between calls (scrubbing runs on every poll of every
    # job): a key set, changed or removed since must count at once, as if it were read every time.
    monkeypatch.setenv("LUMA_API_KEY", KEY)
    assert scrub(f"a {KEY}") == "a ***"
    monkeypatch.setenv("LUMA_API_KEY", "sk-test-another-value-42")  # same names, another value
    assert scrub("b sk-test-another-value-42") == "b ***"
    assert KEY not in secret_values()
    monkeypatch.setenv("RUNWAYML_API_SECRET", "rw-new-secret-0123")
    assert "rw-new-secret-0123" in secret_values()
    monkeypatch.delenv("LUMA_API_KEY")
    assert "sk-test-another-value-42" not in secret_values()
    assert scrub_data({"k": ["rw-new-secret-0123"]}) == {"k": ["***"]}


def test_scrub_masks_url_encoded_forms_and_dotenv(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    secret = "a/b+c=d-0123456789"
    (tmp_path / ".env").write_text(f"RUNWAYML_API_SECRET='{secret}'\n")
    monkeypatch.chdir(tmp_path)
    assert secret in secret_values()
    assert scrub("https://x/?k=a%2Fb%2Bc%3Dd-0123456789 and a/b+c=d-0123456789") == "https://x/?k=*** and ***"


def test_scrub_data_walks_keys_and_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    body = {"error": {"message": f"key {KEY}", KEY: [1.5, None, f"x{KEY}x"]}, "n": 3}
    assert scrub_data(body) == {"error": {"message": "key ***", "***": [1.5, None, "x***x"]}, "n": 3}


def test_short_values_and_issued_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOME_TOKEN", "1")  # too short to be a secret: masking it would garble every number
    assert scrub("retry 1 of 3") == "retry 1 of 3"
    register_secret("eyJissued.jwt.token-value")
    assert scrub("Bearer eyJissued.jwt.token-value") == "Bearer ***"


def test_printable_escapes_terminal_controls() -> None:
    hostile = "maze_\x1b[2J\x1b]52;c;aGk=\x07id\r\nnext\u202eevil\x9b"
    shown = printable(hostile)
    assert "\x1b" not in shown and "\x07" not in shown and "\r" not in shown and "\u202e" not in shown
    assert shown == "maze_\\x1b[2J\\x1b]52;c;aGk=\\x07id\\r\\nnext\\u202eevil\\x9b"
    assert printable("line one\nline\x1b two", keep_newlines=True) == "line one\nline\\x1b two"
    assert printable("plain text, émoji 🎬") == "plain text, émoji 🎬"

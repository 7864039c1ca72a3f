"""No secret a scorer, a judge or a provider sends back reaches a score file, the judge cache, an exception or the
terminal: the fakes here echo the key in every field they return (``echo_key``), and a plug-in scorer echoes one in
everything it returns or raises."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import run_score
from fakes.gemini_generate import KEY as GEMINI_KEY
from fakes.gemini_generate import FakeGeminiGenerate
from fakes.harness import api_env, assert_no_secret
from fakes.openai_chat import KEY, FakeOpenAIChat, verdict
from fakes.server import Fault

from vmevalkit.runner.inference import InferenceRunner
from vmevalkit.scoring.base import ScoreBatch, ScoreItem
from vmevalkit.scoring.runner import ScoringRunner, find_generations, items_for, read_score, score_path
from vmevalkit.scoring.vlm_judge import GeminiJudge, OpenAIJudge, read_cache_entry, write_cache_entry
from vmevalkit.settings import get_settings
from vmevalkit.tasks.loader import load_tasks
from vmevalkit.utils.http import ApiError

OTHER_SECRET = "tok-other-service-5f2c9a7e41d8b3"  # in a secret-named variable the judge itself never uses
PLUGIN_SECRET = "plugin-secret-9d8c7b6a5f4e3d2c"


@pytest.fixture
def fast(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VMEVALKIT_API_RETRY_BASE_DELAY_S", "0.01")
    monkeypatch.setenv("VMEVALKIT_API_RETRIES", "2")
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "GEMINI_API_KEY", "GOOGLE_API_KEY", "GEMINI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OTHER_SERVICE_TOKEN", OTHER_SECRET)
    get_settings.cache_clear()


@pytest.fixture
def openai(fast: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeOpenAIChat]:
    with FakeOpenAIChat() as server:
        server.echo_key = True
        monkeypatch.setenv("OPENAI_BASE_URL", f"{server.base_url}/v1")
        monkeypatch.setenv("OPENAI_API_KEY", KEY)
        get_settings.cache_clear()
        yield server


@pytest.fixture
def gemini(fast: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGeminiGenerate]:
    with FakeGeminiGenerate() as server:
        server.echo_key = True
        monkeypatch.setenv("GEMINI_BASE_URL", server.base_url)
        monkeypatch.setenv("GEMINI_API_KEY", GEMINI_KEY)
        get_settings.cache_clear()
        yield server


def make_experiment(questions: Path, out: Path, models: list[str]) -> Path:
    tasks = load_tasks(questions, task_ids=["maze_0001", "sudoku_0001"]).tasks
    runner = InferenceRunner(output_dir=out, experiment="exp", duration=1.0)
    assert runner.run(models, tasks).completed == len(models) * len(tasks)
    return runner.experiment_dir


def leaked(secret: str, root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and secret.encode() in p.read_bytes()]


# -- the fakes really echo it ------------------------------------------------------------------------------------------


def test_the_echoing_fakes_send_the_key_back_in_what_they_answer(openai: FakeOpenAIChat) -> None:
    import httpx

    url, auth = f"{openai.base_url}/v1/chat/completions", {"authorization": f"Bearer {KEY}"}
    bad = httpx.post(url, headers=auth, json={"model": "", "messages": []})
    assert bad.status_code == 400 and KEY in bad.json()["error"]["message"], "an error body echoes it"
    openai.replies.append(verdict(1, 1.0, 1.0, "fine"))
    ok = httpx.post(url, headers=auth, json={"model": "m", "messages": [{"role": "user", "content": "json"}]}).json()
    content = ok["choices"][0]["message"]["content"]
    assert KEY in json.loads(content)["rationale"] and KEY in ok["id"] and KEY in ok["model"]


# -- a plug-in scorer ------------------------------------------------------------------------------------------------


class Leaky:
    """Puts the secret into every string it returns, keys included, and into the error it raises for sudoku."""

    name = "leaky"
    dimensions = ("one",)

    def score_batch(self, items: list[ScoreItem]) -> ScoreBatch:
        if any(item.domain == "sudoku" for item in items):
            raise RuntimeError(f"the service said: bad token {PLUGIN_SECRET} for {items[0].task_id}")
        details = [
            {
                "reason": f"authenticated with {PLUGIN_SECRET}",
                PLUGIN_SECRET: [PLUGIN_SECRET, {"nested": f"x{PLUGIN_SECRET}y"}],
                "url": f"https://api.example/v1?key={PLUGIN_SECRET}",
            }
            for _ in items
        ]
        return ScoreBatch(np.ones((len(items), 1)), details)


def test_a_scorers_details_and_errors_are_scrubbed_before_any_score_file_or_outcome(
    questions: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACME_SCORER_API_KEY", PLUGIN_SECRET)
    experiment = make_experiment(questions, tmp_path / "out", ["oracle-solution", "static-first-frame"])
    events: list[str] = []
    summary = ScoringRunner(Leaky(), on_event=lambda o: events.append(repr(o))).run(find_generations(experiment))
    assert (summary.scored, summary.failed) == (2, 2)
    assert leaked(PLUGIN_SECRET, tmp_path / "out") == []
    for _, error in summary.failures:
        assert PLUGIN_SECRET not in error and "bad token ***" in error
    assert not [e for e in events if PLUGIN_SECRET in e], "nothing the runner hands on holds the secret"
    scored = [o.record for o in summary.outcomes if o.status == "scored"]
    assert scored and all(r is not None and r.details["reason"] == "authenticated with ***" for r in scored)


def test_an_option_holding_a_secret_is_scrubbed_from_the_config_and_resume_still_works(
    questions: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACME_SCORER_API_KEY", PLUGIN_SECRET)
    experiment = make_experiment(questions, tmp_path / "out", ["oracle-solution"])

    class Plain(Leaky):
        def score_batch(self, items: list[ScoreItem]) -> ScoreBatch:
            return ScoreBatch(np.ones((len(items), 1)))

    first = ScoringRunner(Plain(), init_kwargs={"api_key": PLUGIN_SECRET}).run(find_generations(experiment))
    assert first.scored == 2 and leaked(PLUGIN_SECRET, tmp_path / "out") == []
    again = ScoringRunner(Plain(), init_kwargs={"api_key": PLUGIN_SECRET}).run(find_generations(experiment))
    assert again.skipped == 2, "the scrubbed config is what is compared on a rerun"


# -- the OpenAI-compatible judge ------------------------------------------------------------------------------------


def test_an_echoing_openai_judge_leaves_no_key_in_score_files_the_cache_or_errors(
    openai: FakeOpenAIChat, questions: Path, tmp_path: Path
) -> None:
    experiment = make_experiment(questions, tmp_path / "out", ["oracle-solution", "static-first-frame"])
    generations = find_generations(experiment)  # oracle maze, oracle sudoku, static maze, static sudoku
    openai.replies = [
        verdict(1, 1.0, 1.0, "The dot walks the corridors."),  # rationale echoes the key
        "I cannot answer in JSON.",  # unusable: repaired once
        "Still no JSON, sorry.",  # unusable twice: NaN with both excerpts
        {"refusal": "I will not judge this."},  # refusal echoes the key
    ]
    # The fourth item's request fails with an error body that echoes the key and another service's token.
    scorer = OpenAIJudge(cache_dir=tmp_path / "cache", max_concurrency=1)
    summary = ScoringRunner(scorer, batch_size=1).run(generations[:3])
    openai.inject(
        "chat",
        Fault.http(400, {"error": {"message": f"bad request from {KEY} (also {OTHER_SECRET})", "type": "x"}}),
    )
    failed = ScoringRunner(scorer, batch_size=1).run(generations[3:])
    assert (summary.scored, failed.failed) == (3, 1)
    details = [o.record.details for o in summary.outcomes if o.record is not None]
    assert "***" in details[0]["rationale"] and "***" in details[1]["reply_excerpt"]
    assert "***" in details[2]["reason"]
    ((_, error),) = failed.failures
    assert "HTTP 400" in error and KEY not in error and OTHER_SECRET not in error
    for secret in (KEY, OTHER_SECRET):
        assert leaked(secret, tmp_path) == [], secret
    assert list((tmp_path / "cache").rglob("*.json")), "the verdicts were cached"


def test_the_judges_exceptions_are_scrubbed_of_every_secret(
    openai: FakeOpenAIChat, questions: Path, tmp_path: Path
) -> None:
    experiment = make_experiment(questions, tmp_path / "out", ["oracle-solution"])
    items = [items_for(OpenAIJudge(), g) for g in find_generations(experiment)]
    body = {"error": {"message": f"quota of {OTHER_SECRET} exceeded; key {KEY}", "type": "insufficient_quota"}}
    openai.inject("chat", Fault.http(403, body))
    with pytest.raises(ApiError) as single:
        OpenAIJudge(cache_dir=tmp_path / "cache").score_batch(items[:1])
    openai.inject("chat", Fault.http(403, body))
    with pytest.raises(ApiError) as batch:
        OpenAIJudge(cache_dir=tmp_path / "cache2", max_concurrency=1).score_batch(items)
    for raised in (single.value, batch.value):
        text = str(raised) + repr(raised.args) + json.dumps(getattr(raised, "body", None))
        assert OTHER_SECRET not in text and KEY not in text and "***" in text
        assert raised.__cause__ is None or OTHER_SECRET not in str(raised.__cause__)


def test_a_cache_entry_written_before_scrubbing_is_scrubbed_when_read(
    openai: FakeOpenAIChat, questions: Path, tmp_path: Path
) -> None:
    experiment = make_experiment(questions, tmp_path / "out", ["oracle-solution"])
    (generation, _) = find_generations(experiment)
    judge = OpenAIJudge(cache_dir=tmp_path / "cache")
    item = items_for(judge, generation)
    key, fields = judge.cache_key(item)
    path = tmp_path / "cache" / key[:2] / f"{key}.json"
    # As an older version wrote it: the judge's words, key and all, straight into the entry.
    path.parent.mkdir(parents=True)
    path.write_text(
        json.dumps(
            {
                "schema": 1,
                "key_fields": fields,
                "scores": {"task_success": 1.0, "end_state": 1.0, "process": 1.0},
                "detail": {"judge_model": "gpt-4o-mini", "rationale": f"solved; my key is {KEY}", "repaired": False},
            }
        )
    )
    cached = read_cache_entry(path)
    assert cached is not None and KEY not in json.dumps(cached[1]) and cached[0] == [1.0, 1.0, 1.0]
    summary = ScoringRunner(judge).run([generation])
    assert summary.scored == 1 and not openai.calls("chat"), "served from the cache"
    record = read_score(score_path(generation.run_dir, "vlm-judge-openai"))
    assert record is not None and record.details["rationale"] == "solved; my key is ***"
    assert leaked(KEY, tmp_path / "out") == []
    # And the writer scrubs whatever it is given.
    write_cache_entry(tmp_path / "w" / "e.json", fields, [1.0, 0.0, 0.0], {"reason": f"k={KEY}"})
    assert leaked(KEY, tmp_path / "w") == []


def test_the_score_command_with_an_echoing_judge_prints_and_writes_no_key(
    fast: None, questions: Path, tmp_path: Path
) -> None:
    make_experiment(questions, tmp_path / "out", ["oracle-solution", "static-first-frame"])
    with FakeOpenAIChat() as server:
        server.echo_key = True
        server.replies = [verdict(1, 1.0, 1.0, "ok"), "no json", "still none", {"refusal": "no"}]
        env = api_env(OPENAI_BASE_URL=f"{server.base_url}/v1", OPENAI_API_KEY=KEY, VMEVALKIT_PROVIDER_CONCURRENCY="1")
        args = ("--scorer", "vlm-judge-openai", "--output-dir", str(tmp_path / "out"), "--experiment", "exp")
        done = run_score(*args, "--no-progress", "--batch-size", "1", cwd=tmp_path, env=env)
        assert done.returncode == 0, done.stdout + done.stderr
        assert len(server.requests()) == 5
    assert_no_secret(KEY, tmp_path / "out", done.stdout, done.stderr)


# -- Gemini ------------------------------------------------------------------------------------------------------------


def test_an_echoing_gemini_judge_leaves_no_key_anywhere(
    gemini: FakeGeminiGenerate, questions: Path, tmp_path: Path
) -> None:
    experiment = make_experiment(questions, tmp_path / "out", ["oracle-solution", "static-first-frame"])
    generations = find_generations(experiment)
    gemini.replies = [
        verdict(1, 1.0, 1.0, "Solved."),
        {"block_reason": "SAFETY"},
        {"finish_reason": "SAFETY"},
        "not json",
        "not json either",
    ]
    scorer: Any = GeminiJudge(cache_dir=tmp_path / "cache", max_concurrency=1)
    summary = ScoringRunner(scorer, batch_size=1).run(generations)
    assert summary.scored == 4
    details = [o.record.details for o in summary.outcomes if o.record is not None]
    assert "***" in details[0]["rationale"] and "***" in details[1]["reason"]
    assert "***" in details[3]["reply_excerpt"]
    gemini.inject("generate", Fault.http(400, {"error": {"code": 400, "message": f"no: {GEMINI_KEY}"}}))
    with pytest.raises(ApiError) as raised:
        GeminiJudge(cache_dir=tmp_path / "fresh").score_batch([items_for(scorer, generations[0])])
    assert GEMINI_KEY not in str(raised.value)
    assert leaked(GEMINI_KEY, tmp_path) == []


class Garbled:
    """Returns text where numbers belong: the contract error quotes it."""

    name = "garbled"
    dimensions = ("one",)

    def __init__(self, token: str = "") -> None:
        if token == "refuse":
            raise TypeError(f"the service rejected token {PLUGIN_SECRET}")

    def score_batch(self, items: list[ScoreItem]) -> Any:
        return [[f"token {PLUGIN_SECRET}"] for _ in items]


def test_contract_errors_that_quote_a_scorer_are_scrubbed(
    questions: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from vmevalkit.scoring.base import ScorerContractError
    from vmevalkit.scoring.build import build_scorer

    monkeypatch.setenv("ACME_SCORER_API_KEY", PLUGIN_SECRET)
    experiment = make_experiment(questions, tmp_path / "out", ["oracle-solution"])
    with pytest.raises(ScorerContractError, match="non-numeric") as raised:
        ScoringRunner(Garbled()).run(find_generations(experiment))
    assert PLUGIN_SECRET not in str(raised.value) and raised.value.__cause__ is None
    with pytest.raises(ScorerContractError, match="rejected token \\*\\*\\*") as built:
        build_scorer(Garbled, {"token": "refuse"})
    assert PLUGIN_SECRET not in str(built.value) and built.value.__cause__ is None
    assert leaked(PLUGIN_SECRET, tmp_path / "out") == []


@pytest.mark.parametrize("provider", ["openai", "gemini"])
def test_the_shared_echo_of_every_text_leaves_no_key_either(
    fast: None, questions: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, provider: str
) -> None:
    """``FakeServer.echo_secrets`` appends the secrets to every text of every answer, the verdict itself included:
    nothing parses, every reply is repaired once and scored NaN with excerpts that would hold the key."""
    experiment = make_experiment(questions, tmp_path / "out", ["oracle-solution"])
    server: Any = FakeOpenAIChat() if provider == "openai" else FakeGeminiGenerate()
    with server:
        key = KEY if provider == "openai" else GEMINI_KEY
        server.echo_secrets = lambda req: [key, OTHER_SECRET]
        if provider == "openai":
            monkeypatch.setenv("OPENAI_BASE_URL", f"{server.base_url}/v1")
            monkeypatch.setenv("OPENAI_API_KEY", KEY)
            scorer: Any = OpenAIJudge(cache_dir=tmp_path / "cache")
        else:
            monkeypatch.setenv("GEMINI_BASE_URL", server.base_url)
            monkeypatch.setenv("GEMINI_API_KEY", GEMINI_KEY)
            scorer = GeminiJudge(cache_dir=tmp_path / "cache")
        get_settings.cache_clear()
        summary = ScoringRunner(scorer).run(find_generations(experiment))
    assert summary.scored == 2
    for outcome in summary.outcomes:
        assert outcome.record is not None and "***" in json.dumps(outcome.record.details)
    for secret in (key, OTHER_SECRET):
        assert leaked(secret, tmp_path) == [], secret

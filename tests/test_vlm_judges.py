"""The VLM judges (vlm-judge-openai, vlm-judge-gemini) against loopback fakes speaking the real APIs.

Covered: strict verdict parsing, the request shapes (frames, the input image, temperature 0, JSON mode, the
rubric), malformed replies repaired once or scored NaN, refusals, 429s and 5xx, keys only in headers, the verdict
cache (reruns pay nothing), the concurrency cap, and the real score CLI over videos of the real baselines.
"""

from __future__ import annotations

import io
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import run_score
from fakes.gemini_generate import KEY as GEMINI_KEY
from fakes.gemini_generate import FakeGeminiGenerate
from fakes.harness import api_env, assert_no_secret
from fakes.openai_chat import KEY, FakeOpenAIChat, decode_image, verdict
from fakes.server import Fault
from PIL import Image

from vmevalkit.runner.inference import InferenceRunner
from vmevalkit.scoring.base import PUBLIC_INPUTS, ScoreItem, ScorerContractError, checked_scores
from vmevalkit.scoring.runner import ScoringRunner, find_generations, items_for, load_catalog_scorer
from vmevalkit.scoring.vlm_judge import (
    RUBRIC_VERSION,
    GeminiJudge,
    OpenAIJudge,
    VerdictError,
    parse_verdict,
    sample_indices,
)
from vmevalkit.settings import get_settings
from vmevalkit.tasks.loader import load_tasks
from vmevalkit.utils.http import ApiError, HttpStatusError, MissingKeyError
from vmevalkit.video import write_video

GOOD = verdict(1, 1.0, 0.75, "The dot walks the corridors to the red square.")
RAMP_STEP = 25  # frame i of the "moving" test video is a flat grey of 25 * i: every frame differs from the last


# -- fixtures -------------------------------------------------------------------------------------------------------


@pytest.fixture
def fast(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fast backoff: the retry paths are the real ones, only the waits shrink."""
    monkeypatch.setenv("VMEVALKIT_API_RETRY_BASE_DELAY_S", "0.01")
    monkeypatch.setenv("VMEVALKIT_API_RETRIES", "4")
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "GEMINI_API_KEY", "GOOGLE_API_KEY", "GEMINI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()


@pytest.fixture
def openai(fast: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeOpenAIChat]:
    with FakeOpenAIChat() as server:
        monkeypatch.setenv("OPENAI_BASE_URL", f"{server.base_url}/v1")
        monkeypatch.setenv("OPENAI_API_KEY", KEY)
        get_settings.cache_clear()
        yield server


@pytest.fixture
def gemini(fast: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGeminiGenerate]:
    with FakeGeminiGenerate() as server:
        monkeypatch.setenv("GEMINI_BASE_URL", server.base_url)
        monkeypatch.setenv("GEMINI_API_KEY", GEMINI_KEY)
        get_settings.cache_clear()
        yield server


def make_item(tmp: Path, name: str, values: list[int], domain: str = "maze", prompt: str | None = None) -> ScoreItem:
    """A real 64x64 mp4 whose frame i is a flat grey of ``values[i]``, and its first frame as the input image."""
    frames = [np.full((64, 64, 3), v, np.uint8) for v in values]
    write_video(frames, tmp / f"{name}.mp4", fps=5)
    Image.fromarray(frames[0]).save(tmp / f"{name}-first.png")
    return ScoreItem(
        generation_dir=tmp,
        model="some-model",
        task_id=name,
        domain=domain,
        video_path=tmp / f"{name}.mp4",
        prompt=prompt or f"Solve puzzle {name}.",
        first_frame=tmp / f"{name}-first.png",
    )


@pytest.fixture
def moving(tmp_path: Path) -> ScoreItem:
    return make_item(tmp_path, "moving", [RAMP_STEP * i for i in range(10)])


@pytest.fixture
def still(tmp_path: Path) -> ScoreItem:
    return make_item(tmp_path, "still", [90] * 10, domain="sudoku")


def judge(cls: type = OpenAIJudge, **kwargs: Any) -> Any:
    return cls(cache_dir=kwargs.pop("cache_dir", Path("cache")), **kwargs)


def scores_of(batch: Any) -> np.ndarray:
    return np.asarray(batch.scores)


def grey(image: np.ndarray) -> float:
    return float(image.mean())


# -- parsing -------------------------------------------------------------------------------------------------------


def test_parse_verdict_takes_the_object_alone_or_in_one_code_fence() -> None:
    plain = parse_verdict(GOOD)
    assert plain.scores() == [1.0, 1.0, 0.75] and plain.rationale.startswith("The dot walks")
    fenced = parse_verdict(f"```json\n{GOOD}\n```")
    assert fenced == plain
    assert (
        parse_verdict('{"task_success": 0, "end_state": 0, "process": 0.0, "rationale": " none "}').rationale == "none"
    )


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        ("The dot reaches the goal, so it passes.", "not valid JSON"),
        (f"Here is my verdict: {GOOD}", "not valid JSON"),
        (f"{GOOD}\nHope this helps!", "not valid JSON"),
        ("", "the reply is empty"),
        ("[1, 1, 1]", "a JSON list, not an object"),
        ('{"task_success": 1, "end_state": 1, "process": 1}', "missing \\['rationale'\\]"),
        ('{"task_success": 1, "end_state": 1, "process": 1, "rationale": "r", "score": 3}', "unexpected \\['score'\\]"),
        ('{"task_success": 0.5, "end_state": 1, "process": 1, "rationale": "r"}', '"task_success" must be 0 or 1'),
        ('{"task_success": 1, "end_state": 1.5, "process": 1, "rationale": "r"}', '"end_state" must be a number'),
        ('{"task_success": true, "end_state": 1, "process": 1, "rationale": "r"}', '"task_success" must be a number'),
        ('{"task_success": 1, "end_state": "1", "process": 1, "rationale": "r"}', '"end_state" must be a number'),
        ('{"task_success": 1, "end_state": 1, "process": NaN, "rationale": "r"}', "NaN is not a number JSON allows"),
        ('{"task_success": 1, "end_state": 1, "process": 1, "rationale": ""}', '"rationale" must be a non-empty'),
    ],
)
def test_parse_verdict_refuses_anything_else(reply: str, message: str) -> None:
    with pytest.raises(VerdictError, match=message):
        parse_verdict(reply)


def test_frames_are_sampled_evenly_with_the_first_and_the_last() -> None:
    assert sample_indices(10, 5) == [0, 2, 4, 7, 9]
    assert sample_indices(81, 9) == [0, 10, 20, 30, 40, 50, 60, 70, 80]
    assert sample_indices(3, 8) == [0, 1, 2], "a short video is sent whole"


# -- the catalog and the contract ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "model"), [("vlm-judge-openai", "gpt-4o-mini"), ("vlm-judge-gemini", "gemini-2.5-flash")]
)
def test_catalog_judges_load_without_a_key_and_declare_no_ground_truth(fast: None, name: str, model: str) -> None:
    scorer = load_catalog_scorer(name)
    assert scorer.name == name and scorer.model == model and scorer.version == RUBRIC_VERSION
    assert scorer.dimensions == ("task_success", "end_state", "process")
    assert scorer.pass_dimension == "task_success"
    assert scorer.inputs == PUBLIC_INPUTS == {"video", "prompt", "first_frame"}, "never the expected final frame"
    assert load_catalog_scorer(name, {"model": "other"}).model == "other"


def test_bad_options_are_usage_errors(fast: None) -> None:
    with pytest.raises(ScorerContractError, match="frames must be at least 2"):
        load_catalog_scorer("vlm-judge-openai", {"frames": 1})
    with pytest.raises(ScorerContractError, match="image_format must be 'png' or 'jpeg'"):
        load_catalog_scorer("vlm-judge-openai", {"image_format": "gif"})
    with pytest.raises(ScorerContractError, match="fps must be in \\(0, 24\\]"):
        load_catalog_scorer("vlm-judge-gemini", {"fps": 30})
    with pytest.raises(TypeError, match="takes no score_batch options"):
        OpenAIJudge().score_batch([], frames=16)


# -- vlm-judge-openai ------------------------------------------------------------------------------------------------


def test_openai_request_carries_the_frames_the_input_image_and_the_rubric(
    openai: FakeOpenAIChat, moving: ScoreItem, still: ScoreItem
) -> None:
    batch = judge(frames=5).score_batch([moving, still])
    scores, details = checked_scores(OpenAIJudge(), [moving, still], batch)
    assert scores.tolist() == [[1.0, 1.0, 1.0], [0.0, 0.0, 0.0]], "the toy judge saw the moving and the still video"
    assert details[0]["frames_sent"] == 5 and details[0]["video_frames"] == 10
    assert details[0]["rationale"].startswith("The puzzle is solved step by step")
    assert (
        details[0]["cached"] is False and details[0]["repaired"] is False and details[0]["judge_model"] == "gpt-4o-mini"
    )

    requests = sorted(openai.requests(), key=lambda body: json.dumps(body["messages"][1]["content"][0]))
    assert len(requests) == 2
    for request in requests:
        assert request["model"] == "gpt-4o-mini" and request["temperature"] == 0
        assert request["response_format"] == {"type": "json_object"}
        assert [m["role"] for m in request["messages"]] == ["system", "user"]
    maze, sudoku = requests
    assert "green dot" in maze["messages"][0]["content"] and "JSON" in maze["messages"][0]["content"]
    assert "black (given) digit" in sudoku["messages"][0]["content"], "each domain has its own rubric"
    assert "teleporting" in maze["messages"][0]["content"] and "cutting to the answer" in maze["messages"][0]["content"]
    assert "Solve puzzle moving." in maze["messages"][1]["content"][0]["text"]

    images = FakeOpenAIChat.images(maze)
    assert len(images) == 1 + 5, "the input image, then five frames"
    assert all(image.shape == (64, 64, 3) for image in images)
    # The first image is the input image; the frames are 0, 2, 4, 7, 9 of the ten (greys 0, 50, 100, 175, 225).
    assert grey(images[0]) == pytest.approx(0, abs=3)
    assert [grey(i) for i in images[1:]] == pytest.approx([RAMP_STEP * i for i in (0, 2, 4, 7, 9)], abs=3)
    labels = [p["text"] for p in maze["messages"][1]["content"] if p["type"] == "text"]
    assert "Frame 4 of 5 (frame 7, 1.40 s):" in labels
    assert all(r.headers["authorization"] == f"Bearer {KEY}" for _, _, r in openai.log)


def test_jpeg_frames_and_a_size_cap(openai: FakeOpenAIChat, tmp_path: Path) -> None:
    frames = [np.full((200, 320, 3), 25 * i, np.uint8) for i in range(6)]
    write_video(frames, tmp_path / "wide.mp4", fps=6)
    Image.fromarray(frames[0]).save(tmp_path / "wide.png")
    item = ScoreItem(tmp_path, "m", "wide", "maze", tmp_path / "wide.mp4", "p", tmp_path / "wide.png")
    judge(frames=3, image_format="jpeg", max_side=160).score_batch([item])
    (request,) = openai.requests()
    urls = [p["image_url"]["url"] for p in request["messages"][1]["content"] if p["type"] == "image_url"]
    assert len(urls) == 4 and all(url.startswith("data:image/jpeg;base64,") for url in urls)
    assert all(decode_image(url).shape == (100, 160, 3) for url in urls), "shrunk to 160 on the long side"


def test_a_malformed_reply_is_repaired_by_one_retry(openai: FakeOpenAIChat, moving: ScoreItem) -> None:
    bad = "The green dot reaches the red square, so I would say it passes."
    openai.replies = [bad, GOOD]
    batch = judge().score_batch([moving])
    assert scores_of(batch).tolist() == [[1.0, 1.0, 0.75]]
    assert batch.details[0]["repaired"] is True and batch.details[0]["reply_excerpt"] == bad
    first, second = openai.requests()
    assert [m["role"] for m in second["messages"]] == ["system", "user", "assistant", "user"]
    assert second["messages"][1] == first["messages"][1], "the frames are sent again with the conversation"
    assert second["messages"][2]["content"] == bad
    assert (
        "not valid JSON" in second["messages"][3]["content"]
        and "only the JSON object" in second["messages"][3]["content"]
    )
    assert second["temperature"] == 0


def test_a_reply_still_malformed_after_the_retry_is_nan_with_both_reasons(
    openai: FakeOpenAIChat, moving: ScoreItem
) -> None:
    openai.replies = [
        '{"task_success": 1}',
        '```json\n{"task_success": 2, "end_state": 1, "process": 1, "rationale": "x"}\n```',
    ]
    batch = judge().score_batch([moving])
    assert np.isnan(scores_of(batch)).all()
    reason = batch.details[0]["reason"]
    assert (
        "unusable twice" in reason and "missing" in reason and '"task_success" must be a number from 0 to 1' in reason
    )
    assert batch.details[0]["repair_reply_excerpt"].startswith("```json")
    assert len(openai.requests()) == 2, "one repair, not more"
    # A paid answer is cached like any other: asking again would get the same reply at temperature 0.
    again = judge().score_batch([moving])
    assert np.isnan(scores_of(again)).all() and again.details[0]["cached"] is True
    assert len(openai.requests()) == 2


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        ({"refusal": "I can't help with judging this content."}, "the judge refused: I can't help"),
        ({"finish_reason": "content_filter"}, "content filter"),
    ],
)
def test_refusals_are_nan_with_the_reason_and_not_asked_again(
    openai: FakeOpenAIChat, moving: ScoreItem, reply: dict[str, str], reason: str
) -> None:
    openai.replies = [reply]
    batch = judge().score_batch([moving])
    assert np.isnan(scores_of(batch)).all() and reason in batch.details[0]["reason"]
    assert len(openai.requests()) == 1, "a refusal is not a format problem: no repair request"


def test_429_then_success_and_5xx_then_success(openai: FakeOpenAIChat, moving: ScoreItem, still: ScoreItem) -> None:
    openai.inject("chat", Fault.rate_limited("0"), Fault.http(500), Fault.http(503), Fault.drop())
    batch = judge(max_concurrency=1).score_batch([moving, still])
    assert scores_of(batch).tolist() == [[1.0, 1.0, 1.0], [0.0, 0.0, 0.0]]
    statuses = [status for name, status, _ in openai.log if name == "chat"]
    assert statuses == ["429", "500", "503", "drop", "200", "200"]


def test_a_failed_request_fails_alone_and_the_judged_items_are_not_paid_again(
    openai: FakeOpenAIChat, moving: ScoreItem, still: ScoreItem
) -> None:
    openai.inject("chat", Fault.http(400, {"error": {"message": "Invalid image", "type": "invalid_request_error"}}))
    with pytest.raises(ApiError, match="1 of 2 judge requests failed \\(the rest are cached\\).*HTTP 400"):
        judge().score_batch([moving, still])
    assert len(openai.calls("chat")) == 2
    # What the scoring runner does next: each item alone. The judged one is a cache hit; only the other is sent.
    for item in (moving, still):
        assert not np.isnan(scores_of(judge().score_batch([item]))).any()
    assert len(openai.calls("chat")) == 3


def test_the_key_goes_only_into_the_authorization_header(
    openai: FakeOpenAIChat, moving: ScoreItem, tmp_path: Path
) -> None:
    batch = judge().score_batch([moving])
    assert all(r.headers["authorization"] == f"Bearer {KEY}" for _, _, r in openai.log)
    assert all(KEY not in r.body.decode() for _, _, r in openai.log)
    assert KEY not in json.dumps(batch.details)
    assert list((tmp_path / "cache").rglob("*.json")), "the cache was written"
    assert_no_secret(KEY, tmp_path)


def test_a_wrong_key_is_an_error_that_does_not_echo_it(
    openai: FakeOpenAIChat, moving: ScoreItem, monkeypatch: pytest.MonkeyPatch
) -> None:
    wrong = "sk-proj-wrong-0000000000000000000"
    monkeypatch.setenv("OPENAI_API_KEY", wrong)
    get_settings.cache_clear()
    with pytest.raises(HttpStatusError, match="HTTP 401.*invalid_api_key") as raised:
        judge().score_batch([moving])
    assert wrong not in str(raised.value)


def test_a_missing_key_is_named_and_a_keyless_server_gets_no_header(
    fast: None, moving: ScoreItem, tmp_path: Path
) -> None:
    # The hosted API (no OPENAI_BASE_URL) needs the key: nothing is sent without it.
    with pytest.raises(MissingKeyError, match="Set OPENAI_API_KEY in .env to use vlm-judge-openai"):
        judge().score_batch([moving])
    # A self-hosted server (vLLM without --api-key) needs none: no Authorization header at all.
    with FakeOpenAIChat(require_key=False) as server:
        batch = judge(base_url=f"{server.base_url}/v1", model="Qwen/Qwen2.5-VL-7B-Instruct").score_batch([moving])
        assert scores_of(batch).tolist() == [[1.0, 1.0, 1.0]]
        (request,) = server.calls("chat")
        assert "authorization" not in request.headers and request.json()["model"] == "Qwen/Qwen2.5-VL-7B-Instruct"


def test_a_server_without_json_mode_is_asked_again_without_it(
    openai: FakeOpenAIChat, moving: ScoreItem, still: ScoreItem
) -> None:
    openai.reject_response_format = True
    scorer = judge(max_concurrency=1)
    assert not np.isnan(scores_of(scorer.score_batch([moving]))).any()
    first, second = (r.json() for r in openai.calls("chat"))
    assert "response_format" in first and "response_format" not in second
    scorer.score_batch([still])
    assert "response_format" not in openai.calls("chat")[2].json(), "not tried again on this server"
    assert len(openai.calls("chat")) == 3


def test_rerun_is_served_from_the_cache_and_the_key_covers_model_and_video(
    openai: FakeOpenAIChat, moving: ScoreItem, still: ScoreItem, tmp_path: Path
) -> None:
    first = judge().score_batch([moving, still])
    assert len(openai.requests()) == 2
    again = judge().score_batch([moving, still])
    assert len(openai.requests()) == 2, "zero requests on a rerun"
    assert scores_of(again).tolist() == scores_of(first).tolist()
    assert [d["cached"] for d in again.details] == [True, True]
    assert [d["rationale"] for d in again.details] == [d["rationale"] for d in first.details]

    entries = sorted((tmp_path / "cache").rglob("*.json"))
    assert len(entries) == 2 and all(e.parent.name == e.stem[:2] for e in entries)
    entry = json.loads(entries[0].read_text())
    assert set(entry["key_fields"]) >= {"judge", "model", "rubric_version", "prompt", "video_sha256", "media"}
    assert entry["key_fields"]["rubric_version"] == RUBRIC_VERSION and entry["key_fields"]["model"] == "gpt-4o-mini"
    assert not list((tmp_path / "cache").rglob(".*tmp-*")), "atomic writes leave no temp files"

    judge(model="gpt-4o").score_batch([moving])
    assert len(openai.requests()) == 3, "another judge model is another verdict"
    judge(frames=4).score_batch([moving])
    assert len(openai.requests()) == 4, "other frames are another verdict"
    write_video([np.full((64, 64, 3), 30, np.uint8)] * 10, moving.video_path, fps=5)
    judge().score_batch([moving])
    assert len(openai.requests()) == 5, "a regenerated video is judged again"


def test_the_same_video_and_prompt_in_one_batch_is_judged_once(openai: FakeOpenAIChat, moving: ScoreItem) -> None:
    batch = judge().score_batch([moving, moving, moving])
    assert scores_of(batch).tolist() == [[1.0, 1.0, 1.0]] * 3
    assert len(openai.requests()) == 1


def test_judges_run_concurrently_up_to_the_cap(openai: FakeOpenAIChat, tmp_path: Path) -> None:
    items = [make_item(tmp_path, f"v{i}", [RAMP_STEP * k for k in range(4)]) for i in range(5)]
    # Each request waits until two are in flight (the last one excepted): a judge sending one at a time never
    # gets there.
    openai.hold_until, openai.expected = 2, len(items)
    batch = judge(max_concurrency=2).score_batch(items)
    assert not np.isnan(scores_of(batch)).any()
    assert openai.max_in_flight == 2
    # And never more than the cap: now each request waits a moment for a third one, which a capped judge never sends.
    openai.hold_until, openai.hold_s, openai.arrivals, openai.max_in_flight = 3, 0.3, 0, 0
    judge(max_concurrency=2, cache_dir=tmp_path / "other-cache").score_batch(items)
    assert len(openai.requests()) == 10 and openai.max_in_flight == 2


def test_unreadable_inputs_score_nan_for_that_item_only(
    openai: FakeOpenAIChat, moving: ScoreItem, tmp_path: Path
) -> None:
    (tmp_path / "broken.mp4").write_bytes(b"not a video")
    broken = ScoreItem(tmp_path, "m", "broken", "maze", tmp_path / "broken.mp4", "p", moving.first_frame)
    batch = judge().score_batch([broken, moving])
    assert np.isnan(scores_of(batch)[0]).all() and "cannot read the inputs" in batch.details[0]["reason"]
    assert scores_of(batch)[1].tolist() == [1.0, 1.0, 1.0]
    assert len(openai.requests()) == 1


def test_default_cache_is_under_the_output_dir(
    openai: FakeOpenAIChat, moving: ScoreItem, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VMEVALKIT_OUTPUT_DIR", str(tmp_path / "outputs"))
    get_settings.cache_clear()
    OpenAIJudge().score_batch([moving])
    assert len(list((tmp_path / "outputs" / ".judge-cache").rglob("*.json"))) == 1


# -- vlm-judge-gemini ------------------------------------------------------------------------------------------------


def test_gemini_request_carries_the_video_itself_and_asks_for_json(
    gemini: FakeGeminiGenerate, moving: ScoreItem, still: ScoreItem
) -> None:
    batch = judge(GeminiJudge).score_batch([moving, still])
    assert scores_of(batch).tolist() == [[1.0, 1.0, 1.0], [0.0, 0.0, 0.0]]
    assert batch.details[0]["video_fps_sampled"] == 8.0, "16 frames over the 2 s video, not Gemini's 1 per second"
    calls = gemini.calls("generate")
    assert len(calls) == 2 and all(r.path == "/v1beta/models/gemini-2.5-flash:generateContent" for r in calls)
    assert all(r.headers["x-goog-api-key"] == GEMINI_KEY and GEMINI_KEY not in r.body.decode() for r in calls)
    bodies = {b["contents"][0]["parts"][0]["text"].rsplit(" ", 1)[-1]: b for b in (r.json() for r in calls)}
    body = bodies["moving."]
    assert body["generationConfig"] == {"temperature": 0, "responseMimeType": "application/json"}
    assert "green dot" in body["systemInstruction"]["parts"][0]["text"]
    assert "black (given) digit" in bodies["still."]["systemInstruction"]["parts"][0]["text"]
    assert [c["role"] for c in body["contents"]] == ["user"]
    blobs = FakeGeminiGenerate.blobs(body)
    assert [mime for mime, _ in blobs] == ["image/png", "video/mp4"]
    assert blobs[1][1] == moving.video_path.read_bytes(), "the mp4 itself, byte for byte"
    with Image.open(io.BytesIO(blobs[0][1])) as image:
        assert image.size == (64, 64) and grey(np.asarray(image)) == 0
    video_part = body["contents"][0]["parts"][-1]
    assert video_part["videoMetadata"] == {"fps": 8.0}


def test_gemini_takes_google_api_key_too(
    gemini: FakeGeminiGenerate, moving: ScoreItem, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GEMINI_API_KEY")
    monkeypatch.setenv("GOOGLE_API_KEY", GEMINI_KEY)
    get_settings.cache_clear()
    assert scores_of(judge(GeminiJudge).score_batch([moving])).tolist() == [[1.0, 1.0, 1.0]]
    assert gemini.calls("generate")[0].headers["x-goog-api-key"] == GEMINI_KEY


def test_gemini_without_a_key_names_both_variables(fast: None, moving: ScoreItem) -> None:
    with pytest.raises(MissingKeyError, match="Set GEMINI_API_KEY or GOOGLE_API_KEY"):
        judge(GeminiJudge).score_batch([moving])


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        ({"block_reason": "SAFETY"}, "promptFeedback.blockReason SAFETY"),
        ({"block_reason": "PROHIBITED_CONTENT"}, "blockReason PROHIBITED_CONTENT"),
        ({"finish_reason": "SAFETY"}, "finishReason SAFETY"),
    ],
)
def test_gemini_blocks_are_refusals(
    gemini: FakeGeminiGenerate, moving: ScoreItem, reply: dict[str, str], reason: str
) -> None:
    gemini.replies = [reply]
    batch = judge(GeminiJudge).score_batch([moving])
    assert np.isnan(scores_of(batch)).all() and reason in batch.details[0]["reason"]
    assert len(gemini.requests()) == 1


def test_gemini_malformed_reply_repaired_then_cached(gemini: FakeGeminiGenerate, moving: ScoreItem) -> None:
    gemini.replies = ['{"task_success": 1, "end_state": 1, "process": 1', GOOD]
    batch = judge(GeminiJudge).score_batch([moving])
    assert scores_of(batch).tolist() == [[1.0, 1.0, 0.75]] and batch.details[0]["repaired"] is True
    second = gemini.requests()[1]
    assert [c["role"] for c in second["contents"]] == ["user", "model", "user"]
    assert second["contents"][1]["parts"] == [{"text": '{"task_success": 1, "end_state": 1, "process": 1'}]
    assert "not valid JSON" in second["contents"][2]["parts"][0]["text"]
    again = judge(GeminiJudge).score_batch([moving])
    assert again.details[0]["cached"] is True and len(gemini.requests()) == 2


def test_gemini_twice_malformed_is_nan(gemini: FakeGeminiGenerate, moving: ScoreItem) -> None:
    gemini.replies = ["Solved.", "Still solved."]
    batch = judge(GeminiJudge).score_batch([moving])
    assert np.isnan(scores_of(batch)).all() and "unusable twice" in batch.details[0]["reason"]


def test_gemini_429_and_5xx_are_retried(gemini: FakeGeminiGenerate, moving: ScoreItem) -> None:
    gemini.inject("generate", Fault.rate_limited("0"), Fault.http(500), Fault.http(503))
    assert scores_of(judge(GeminiJudge).score_batch([moving])).tolist() == [[1.0, 1.0, 1.0]]
    assert [s for n, s, _ in gemini.log if n == "generate"] == ["429", "500", "503", "200"]


def test_gemini_video_over_the_inline_limit_is_nan_unsent_and_uncached(
    gemini: FakeGeminiGenerate, moving: ScoreItem
) -> None:
    batch = judge(GeminiJudge, max_request_mb=0.0001).score_batch([moving])
    assert np.isnan(scores_of(batch)).all() and "inline request limit" in batch.details[0]["reason"]
    assert gemini.log == []
    assert not np.isnan(scores_of(judge(GeminiJudge).score_batch([moving]))).any()
    assert len(gemini.requests()) == 1


def test_gemini_fixed_fps(gemini: FakeGeminiGenerate, moving: ScoreItem) -> None:
    judge(GeminiJudge, fps=2.5).score_batch([moving])
    assert gemini.requests()[0]["contents"][0]["parts"][-1]["videoMetadata"] == {"fps": 2.5}


# -- end to end: the real score CLI over the real baselines ------------------------------------------------------


def test_score_cli_with_an_openai_compatible_judge_on_the_baselines(
    fast: None, questions: Path, tmp_path: Path
) -> None:
    tasks = load_tasks(questions, task_ids=["maze_0001", "sudoku_0001"]).tasks
    runner = InferenceRunner(output_dir=tmp_path / "out", experiment="exp", duration=1.0)
    assert runner.run(["static-first-frame", "shortcut-cut", "oracle-solution"], tasks).completed == 6

    with FakeOpenAIChat() as server:
        env = api_env(OPENAI_BASE_URL=f"{server.base_url}/v1", OPENAI_API_KEY=KEY)
        args = ("--scorer", "vlm-judge-openai", "--output-dir", str(tmp_path / "out"), "--no-progress")
        first = run_score(*args, "--experiment", "exp", cwd=tmp_path, env=env)
        assert first.returncode == 0, first.stdout + first.stderr
        assert len(server.requests()) == 6
        for request in server.requests():
            assert request["temperature"] == 0 and len(FakeOpenAIChat.images(request)) == 1 + 8
        assert all(r.headers["authorization"] == f"Bearer {KEY}" for _, _, r in server.log)

        scores = {}
        for path in sorted((tmp_path / "out" / "exp").rglob("scores/vlm-judge-openai.json")):
            record = json.loads(path.read_text())
            meta = json.loads((path.parent.parent / "metadata.json").read_text())
            assert record["error"] is None and record["inputs"] == ["first_frame", "prompt", "video"]
            assert record["details"]["frames_sent"] == 8 and record["details"]["rationale"]
            scores[(meta["model"], meta["task_id"])] = record["dimensions"]
        assert len(scores) == 6
        for task in ("maze_0001", "sudoku_0001"):
            # What the (toy) judge saw in the frames: nothing moving, one cut to the answer, a step-by-step solution.
            assert scores[("static-first-frame", task)] == {"task_success": 0.0, "end_state": 0.0, "process": 0.0}
            assert scores[("shortcut-cut", task)] == {"task_success": 0.0, "end_state": 1.0, "process": 0.0}
            assert scores[("oracle-solution", task)] == {"task_success": 1.0, "end_state": 1.0, "process": 1.0}
        cache = tmp_path / "out" / ".judge-cache"
        assert len(list(cache.rglob("*.json"))) == 6, "verdicts cached next to the experiments"

        again = run_score(*args, "--experiment", "exp", cwd=tmp_path, env=env)
        assert again.returncode == 0 and len(server.requests()) == 6, "a rerun sends nothing"

        # Another experiment with the same videos (the baselines are deterministic) pays nothing either.
        shutil.copytree(tmp_path / "out" / "exp", tmp_path / "out" / "exp2", ignore=shutil.ignore_patterns("scores"))
        other = run_score(*args, "--experiment", "exp2", cwd=tmp_path, env=env)
        assert other.returncode == 0, other.stdout + other.stderr
        assert other.stdout.count("scored  vlm-judge-openai") == 6
        assert len(server.requests()) == 6, "served from the cache of the first experiment"

    assert_no_secret(KEY, tmp_path / "out", first.stdout, first.stderr, again.stdout, other.stdout, other.stderr)


def test_scoring_runner_gives_a_judge_public_inputs_only(fast: None, questions: Path, tmp_path: Path) -> None:
    tasks = load_tasks(questions, task_ids=["maze_0001"]).tasks
    runner = InferenceRunner(output_dir=tmp_path / "out", experiment="exp", duration=1.0)
    runner.run(["oracle-solution"], tasks)
    (generation,) = find_generations(runner.experiment_dir)
    item = items_for(OpenAIJudge(), generation)
    assert item.final_frame is None and item.task_dir is None
    assert (generation.run_dir / "question" / "final_frame.png").is_file(), "the answer exists but is not given"


def test_runner_records_a_failed_judge_request_and_redoes_it(fast: None, questions: Path, tmp_path: Path) -> None:
    tasks = load_tasks(questions, task_ids=["maze_0001", "sudoku_0001"]).tasks
    experiment = InferenceRunner(output_dir=tmp_path / "out", experiment="exp", duration=1.0)
    experiment.run(["static-first-frame"], tasks)
    generations = find_generations(experiment.experiment_dir)
    with FakeOpenAIChat(require_key=False) as server:
        scorer = OpenAIJudge(base_url=f"{server.base_url}/v1", cache_dir=tmp_path / "cache")
        sudoku_prompt = next(t.prompt for t in tasks if t.domain == "sudoku")
        server.fail_prompts = {sudoku_prompt}  # every request about the sudoku answers HTTP 500
        summary = ScoringRunner(scorer, batch_size=2).run(generations)
        assert (summary.scored, summary.failed) == (1, 1)
        assert summary.failures[0][0].record.task_id == "sudoku_0001" and "HTTP 500" in summary.failures[0][1]
        # The batch (maze once, sudoku 4 attempts), then item by item: the maze from the cache, sudoku 4 again.
        assert len(server.calls("chat")) == 1 + 4 + 4
        server.fail_prompts = set()
        redo = ScoringRunner(scorer, batch_size=2).run(generations)
        assert (redo.scored, redo.skipped, redo.failed) == (1, 1, 0)
        assert len(server.calls("chat")) == 9 + 1, "only the failed one is sent again"
    assert all(o.record is not None and None not in o.record.dimensions.values() for o in redo.outcomes)


def test_catalog_lists_the_judges_as_api_scorers() -> None:
    from vmevalkit.runner.SCORER_CATALOG import AVAILABLE_SCORERS

    for name in ("vlm-judge-openai", "vlm-judge-gemini"):
        assert AVAILABLE_SCORERS[name]["kind"] == "api" and "wrapper" not in AVAILABLE_SCORERS[name]  # in-process

"""The local Qwen2.5-VL judge (``vmevalkit.scoring.local.qwen_judge``).

Pure parts in the main environment: the user turn, the conversation with its one repair (fake replies), the
options, the chat template file. The production path in the scorer's virtualenv, on tiny checkpoints built here in
the real layout: random weights (gibberish, so the repair turn runs and both items score NaN with both reasons),
and models scripted to reply with a fixed text (a valid verdict flows through to the scores; a fixed bad reply is
repaired once, then scored NaN).
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from conftest import ModelVenv, tiny_scorer_check, venv_code_env

from vmevalkit.runner.SCORER_CATALOG import LOCAL_SCORERS
from vmevalkit.scoring.base import PUBLIC_INPUTS
from vmevalkit.scoring.judge_rubric import DIMENSIONS, REPAIR_REQUEST, rubric_for
from vmevalkit.scoring.local import qwen_vl_text, videoreward
from vmevalkit.scoring.local.qwen_judge import (
    CHAT_TEMPLATE,
    SPECIAL_TOKENS,
    Generation,
    QwenVLJudge,
    converse,
    read_chat_template,
    user_content,
)

SERVICE = "vmevalkit.scoring.local.qwen_judge:QwenVLJudge"
GOOD = {"task_success": 1, "end_state": 0.75, "process": 0.5, "rationale": "The dot walks to the red square."}
# The real checkpoint's files that the loader reads (vocab.json and merges.txt are not read: tokenizer.json is).
LAYOUT = {
    "config.json",
    "generation_config.json",
    "model.safetensors.index.json",
    "preprocessor_config.json",
    "chat_template.json",
    "tokenizer.json",
    "tokenizer_config.json",
}


# -- pure Python ----------------------------------------------------------------------------------------------------


def test_declares_the_rubric_dimensions_and_only_public_inputs() -> None:
    assert QwenVLJudge.dimensions == DIMENSIONS == ("task_success", "end_state", "process")
    assert QwenVLJudge.pass_dimension == "task_success"
    assert QwenVLJudge.inputs == PUBLIC_INPUTS  # never final_frame or the task's solution
    assert QwenVLJudge.checkpoint_marker == "config.json"


def test_module_imports_without_torch() -> None:
    code = "import sys, vmevalkit.scoring.local.qwen_judge; print(sorted({'torch','transformers'} & set(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_user_turn_holds_instruction_input_image_and_each_frame_in_order() -> None:
    parts = user_content("Move the green dot to the red square.", [0, 6, 11], 12, 8.0)
    kinds = ["image" if p["type"] == "image" else "text" for p in parts]
    assert kinds.count("image") == 4  # the input image, then three frames
    texts = [p.get("text", "") for p in parts]
    assert "Move the green dot to the red square." in texts[0]
    first_image = kinds.index("image")
    assert "input image" in texts[first_image - 1]
    assert "3 frames sampled evenly from its video (12 frames)" in "".join(texts)
    # Each frame's caption comes right before its image.
    for number, (index, seconds) in enumerate([(0, "0.00"), (6, "0.75"), (11, "1.38")], start=1):
        caption = texts.index(f"Frame {number} of 3 (frame {index}, {seconds} s):\n")
        assert kinds[caption + 1] == "image"
    assert "JSON object only" in texts[-1]
    assert all(set(p) <= {"type", "text"} for p in parts)  # no image data: the processor gets the images


def _system_and_user() -> list[dict[str, Any]]:
    return [
        {"role": "system", "content": rubric_for("maze")},
        {"role": "user", "content": user_content("Solve it.", [0, 1], 2, 0.0)},
    ]


def test_a_valid_first_reply_scores_without_repair() -> None:
    seen: list[list[dict[str, Any]]] = []

    def generate(conversation: list[dict[str, Any]]) -> Generation:
        seen.append(conversation)
        return Generation(json.dumps(GOOD), 30, True)

    scores, detail = converse(_system_and_user(), generate)
    assert scores == [1.0, 0.75, 0.5]
    assert detail["repaired"] is False and detail["rationale"] == GOOD["rationale"]
    assert detail["tokens_generated"] == [30]
    assert len(seen) == 1 and len(seen[0]) == 2


def test_a_bad_reply_is_sent_back_once_with_the_reason_then_repaired() -> None:
    replies = iter([Generation("Sure! <|image_pad|>The dot moved.", 7, True), Generation(json.dumps(GOOD), 30, True)])
    seen: list[list[dict[str, Any]]] = []

    def generate(conversation: list[dict[str, Any]]) -> Generation:
        seen.append(conversation)
        return next(replies)

    scores, detail = converse(_system_and_user(), generate)
    assert scores == [1.0, 0.75, 0.5]
    assert detail["repaired"] is True and detail["tokens_generated"] == [7, 30]
    assert detail["reply_excerpt"].startswith("Sure!")
    second = seen[1]
    assert second[:2] == _system_and_user()
    # The bad reply goes back without special tokens: "<|image_pad|>" would become an image with no image.
    assert second[2] == {"role": "assistant", "content": "Sure! The dot moved."}
    assert second[3]["role"] == "user"
    assert second[3]["content"].startswith(REPAIR_REQUEST.split("{reason}")[0])
    assert "not valid JSON" in second[3]["content"]


def test_two_bad_replies_score_nan_with_both_reasons() -> None:
    replies = iter([Generation('{"task_success": 2', 256, False), Generation("[1, 0.5, 0.5]", 9, True)])
    scores, detail = converse(_system_and_user(), lambda _: next(replies))
    assert all(math.isnan(v) for v in scores) and len(scores) == len(DIMENSIONS)
    assert detail["repaired"] is False and detail["tokens_generated"] == [256, 9]
    reason = detail["reason"]
    assert "unusable twice" in reason and "not valid JSON" in reason and "cut at max_new_tokens, 256 tokens" in reason
    assert "after the repair request: a JSON list, not an object" in reason
    assert detail["repair_reply_excerpt"] == "[1, 0.5, 0.5]"


def test_options_are_checked() -> None:
    judge = QwenVLJudge("Qwen/Qwen2.5-VL-7B-Instruct")
    assert (judge.frames, judge.max_pixels, judge.min_pixels, judge.max_new_tokens) == (8, 448 * 448, None, 256)
    assert judge.repetition_penalty == 1.0 and judge.dtype == "float32"
    for bad in ({"frames": 1}, {"max_pixels": 100}, {"min_pixels": 10**9}, {"max_new_tokens": 0}):
        with pytest.raises(ValueError):
            QwenVLJudge("m", **bad)
    with pytest.raises(TypeError, match="max_frames"):
        QwenVLJudge("m", max_frames=3)


def test_catalog_and_tiny_args_construct_and_bad_options_are_refused() -> None:
    entry = LOCAL_SCORERS["vlm-judge-qwen"]
    args = {k: v for k, v in entry["args"].items() if k != "checkpoint"}
    assert QwenVLJudge(entry["model"], **args).max_pixels == 200704
    assert QwenVLJudge(entry["model"], **{**args, **QwenVLJudge.tiny_args}).frames == 4
    for bad in ({"frames": "8"}, {"min_pixels": True}, {"repetition_penalty": 0}, {"max_new_tokens": 1.5}):
        with pytest.raises(ValueError):
            QwenVLJudge("m", **bad)
    with pytest.raises(TypeError, match="max_pixel"):
        QwenVLJudge("m", max_pixel=200704)  # misspelt
    assert QwenVLJudge.oom_hint.startswith("lower frames") and "max_pixels" in QwenVLJudge.oom_hint


def test_qwen_vl_text_is_shared_with_videoreward() -> None:
    assert CHAT_TEMPLATE is qwen_vl_text.CHAT_TEMPLATE is videoreward.QWEN2_VL_CHAT_TEMPLATE
    assert SPECIAL_TOKENS is qwen_vl_text.SPECIAL_TOKENS is videoreward.QWEN2_VL_SPECIAL_TOKENS
    assert SPECIAL_TOKENS[-2:] == (qwen_vl_text.IMAGE_TOKEN, qwen_vl_text.VIDEO_TOKEN) and len(SPECIAL_TOKENS) == 14


def test_chat_template_is_read_from_json_or_jinja(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        read_chat_template(tmp_path)
    (tmp_path / "chat_template.json").write_text(json.dumps({"chat_template": CHAT_TEMPLATE}))
    assert read_chat_template(tmp_path) == CHAT_TEMPLATE
    (tmp_path / "chat_template.jinja").write_text("{{ messages }}")
    assert read_chat_template(tmp_path) == "{{ messages }}"
    for token in ("<|vision_start|><|image_pad|><|vision_end|>", "<|im_start|>assistant\n"):
        assert token in CHAT_TEMPLATE
    assert {"<|im_end|>", "<|image_pad|>", "<|video_pad|>", "<|endoftext|>"} <= set(SPECIAL_TOKENS)


# -- the production path on tiny checkpoints (the scorer's virtualenv) ---------------------------------------------


@pytest.fixture(scope="module")
def random_check(scorer_venv: ModelVenv, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """The tiny CLI: build the random-weight checkpoint, load it with setup() on the CPU, score two videos."""
    checkpoint = tmp_path_factory.mktemp("qwen-judge") / "ckpt"
    return checkpoint, tiny_scorer_check(scorer_venv, SERVICE, checkpoint)


SCRIPTED = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    from vmevalkit.scoring.base import ScoreItem
    from vmevalkit.scoring.local.qwen_judge import QwenVLJudge
    from vmevalkit.scoring.local.tiny import sample_items

    root = Path(sys.argv[1])
    good, bad = root / "good", root / "bad"
    QwenVLJudge.build_tiny(good, scripted_reply=sys.argv[2])
    QwenVLJudge.build_tiny(bad, scripted_reply="The video looks fine.")
    judge = QwenVLJudge("tiny", **QwenVLJudge.tiny_args)
    judge.setup(good, "cpu")
    items = sample_items(root / "items")
    broken = ScoreItem(root, "m", "maze_0", "maze", root / "missing.mp4", "p", items[0].first_frame)
    batch = judge.score([*items, broken])
    scores = [[v if v == v else None for v in row] for row in batch.scores]
    # CUDA out of memory while generating fails the batch (retried by the next run): never a NaN verdict.
    import torch
    def boom(*args, **kwargs):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
    judge._vlm.generate = boom
    try:
        judge.score([items[0], broken])
        oom = "scored"
    except Exception as exc:
        oom = f"{type(exc).__name__}: {exc}"
    # A weight under another name is refused, not left at its random initial value.
    from safetensors.torch import load_file, save_file
    index_path = good / "model.safetensors.index.json"
    index = json.loads(index_path.read_text())
    shard = good / index["weight_map"].pop("model.norm.weight")
    tensors = load_file(shard)
    tensors["model.final_norm.weight"] = tensors.pop("model.norm.weight")
    save_file(tensors, shard, metadata={"format": "pt"})
    index["weight_map"]["model.final_norm.weight"] = shard.name
    index_path.write_text(json.dumps(index))
    try:
        QwenVLJudge("tiny").setup(good, "cpu")
        renamed = "loaded"
    except RuntimeError as exc:
        renamed = str(exc)
    out = {
        "good": {"scores": scores, "details": batch.details},
        "bad": QwenVLJudge.check_tiny(bad, {}),
        "renamed": renamed,
        "oom": oom,
    }
    print(json.dumps(out))
    """
)


@pytest.fixture(scope="module")
def scripted_check(scorer_venv: ModelVenv, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Tiny models whose greedy reply is a fixed text: a valid verdict, and a bad one."""
    root = tmp_path_factory.mktemp("qwen-judge-scripted")
    done = subprocess.run(
        [str(scorer_venv.python), "-c", SCRIPTED, str(root), json.dumps(GOOD), SERVICE],
        env=venv_code_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_tiny_checkpoint_has_the_real_layout_and_key_names(random_check: tuple[Path, dict[str, Any]]) -> None:
    checkpoint, _ = random_check
    names = {p.name for p in checkpoint.iterdir()}
    assert LAYOUT <= names
    index = json.loads((checkpoint / "model.safetensors.index.json").read_text())
    shards = set(index["weight_map"].values())
    assert len(shards) > 1 and all(s.startswith("model-0000") and s.endswith(".safetensors") for s in shards)
    assert names == LAYOUT | shards  # nothing else: no model.safetensors, no chat_template.jinja
    keys = set(index["weight_map"])
    # The checkpoint's naming (transformers renames them to model.visual.* / model.language_model.* at load).
    assert {"visual.patch_embed.proj.weight", "visual.merger.ln_q.weight", "visual.merger.mlp.2.weight"} <= keys
    assert {"model.embed_tokens.weight", "model.layers.0.input_layernorm.weight", "model.norm.weight"} <= keys
    assert "lm_head.weight" in keys
    assert all(
        k.startswith(("visual.", "model.layers.", "model.embed_tokens.", "model.norm.", "lm_head.")) for k in keys
    )

    config = json.loads((checkpoint / "config.json").read_text())
    assert config["model_type"] == "qwen2_5_vl" and "text_config" not in config  # flat, as the real file
    assert config["architectures"] == ["Qwen2_5_VLForConditionalGeneration"]
    vision = config["vision_config"]
    assert vision["out_hidden_size"] == config["hidden_size"]
    assert all(0 <= i < vision["depth"] for i in vision["fullatt_block_indexes"])
    assert sum(config["rope_scaling"]["mrope_section"]) * 2 == config["hidden_size"] // config["num_attention_heads"]
    tokenizer = json.loads((checkpoint / "tokenizer.json").read_text())
    added = {t["content"]: t["id"] for t in tokenizer["added_tokens"]}
    assert set(SPECIAL_TOKENS) <= set(added)
    assert added["<|image_pad|>"] == config["image_token_id"] and added["<|video_pad|>"] == config["video_token_id"]
    assert added["<|vision_start|>"] == config["vision_start_token_id"]
    assert json.loads((checkpoint / "tokenizer_config.json").read_text())["tokenizer_class"] == "Qwen2Tokenizer"
    preprocessor = json.loads((checkpoint / "preprocessor_config.json").read_text())
    assert preprocessor["image_processor_type"] == "Qwen2VLImageProcessor"
    assert preprocessor["processor_class"] == "Qwen2_5_VLProcessor"
    assert json.loads((checkpoint / "chat_template.json").read_text())["chat_template"] == CHAT_TEMPLATE


def test_random_weights_repair_once_then_score_nan_with_both_reasons(
    random_check: tuple[Path, dict[str, Any]],
) -> None:
    _, out = random_check
    assert out["dimensions"] == list(DIMENSIONS)
    assert out["shape"] == [2, 3]
    assert out["scores"] == [[None, None, None], [None, None, None]]  # gibberish is never a verdict
    assert out["dtype"] == "float32"
    for detail in out["details"]:
        assert detail["judge_model"] == "tiny"
        assert detail["frames_sent"] == 4 and detail["frame_indices"] == [0, 4, 7, 11]
        assert detail["video_frames"] == 12
        # The input image and four frames, 64x64 each: resized to 56x56, 2x2 merged vision tokens apiece.
        assert detail["vision_tokens"] == 5 * 4
        assert detail["prompt_tokens"] > detail["vision_tokens"]
        assert detail["max_pixels"] == 448 * 448
        assert len(detail["tokens_generated"]) == 2  # the first reply and the repair
        assert all(1 <= n <= QwenVLJudge.tiny_args["max_new_tokens"] for n in detail["tokens_generated"])
        assert detail["repaired"] is False
        reason = detail["reason"]
        assert reason.startswith("the judge's reply was unusable twice: ")
        assert "; after the repair request: " in reason
        assert "reply_excerpt" in detail and "repair_reply_excerpt" in detail


def test_a_scripted_verdict_flows_through_to_the_scores(scripted_check: dict[str, Any]) -> None:
    good = scripted_check["good"]
    assert good["scores"][:2] == [[1.0, 0.75, 0.5], [1.0, 0.75, 0.5]]
    for detail in good["details"][:2]:
        assert detail["rationale"] == GOOD["rationale"]
        assert detail["repaired"] is False
        assert detail["tokens_generated"] == [2]  # the verdict's token, then <|im_end|>
        assert json.loads(detail["reply_excerpt"]) == GOOD
        assert detail["frames_sent"] == 4
    # An item whose video cannot be read scores NaN with the reason; the rest of the batch is judged.
    assert good["scores"][2] == [None, None, None]
    assert good["details"][2]["reason"].startswith("cannot read the inputs")


def test_out_of_memory_fails_the_batch_instead_of_scoring_nan(scripted_check: dict[str, Any]) -> None:
    assert scripted_check["oom"].startswith("OutOfMemoryError: CUDA out of memory")


def test_a_checkpoint_with_a_renamed_weight_is_refused(scripted_check: dict[str, Any]) -> None:
    assert "not a complete Qwen2.5-VL checkpoint" in scripted_check["renamed"]
    assert "model.language_model.norm.weight" in scripted_check["renamed"]


def test_a_scripted_bad_reply_is_repaired_once_then_nan(scripted_check: dict[str, Any]) -> None:
    bad = scripted_check["bad"]
    assert bad["shape"] == [2, 3] and bad["scores"] == [[None, None, None], [None, None, None]]
    for detail in bad["details"]:
        assert detail["reply_excerpt"] == detail["repair_reply_excerpt"] == "The video looks fine."
        assert detail["tokens_generated"] == [2, 2]  # ended on <|im_end|> both times: no "cut" note
        assert detail["reason"] == (
            "the judge's reply was unusable twice: not valid JSON (Expecting value at character 0); "
            "after the repair request: not valid JSON (Expecting value at character 0)"
        )

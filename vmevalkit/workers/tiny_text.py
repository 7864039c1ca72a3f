"""Small tokenizers and text encoders for the tiny test checkpoints, built in-process (never downloaded).

Each function returns a transformers tokenizer of the class a diffusers pipeline names in its
``model_index.json``; ``save_pretrained`` then writes files that the same class loads back.

In transformers 5 the "Fast" names are aliases (``T5TokenizerFast is T5Tokenizer``) and a class
with its own ``__init__`` is rebuilt from the ``vocab``/``merges`` in ``tokenizer.json`` when
loaded: its normalizer and pre-tokenizer come from the class, not from the file. So every
tokenizer here is built through the class's own constructor, which makes the saved and loaded
tokenizers identical.

All of them accept any text: characters outside the small vocabulary become the unknown token
(T5), byte tokens (Llama) or byte-level symbols (CLIP), never an error.
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from typing import Any

# Words common in prompts; whole-word tokens keep tiny sequences short. Any other word is
# spelled with character pieces.
COMMON_WORDS = (
    "a an the of and or in on to with from by for at is are be it its this that as into over under "
    "video image scene camera moves move slowly left right up down person man woman ball car red blue "
    "green white black small large object objects background light"
).split()

# Characters the tiny vocabularies spell words with (T5 maps everything else to <unk>).
CHARACTERS = string.ascii_letters + string.digits + string.punctuation


def t5_tokenizer(model_max_length: int = 512) -> Any:
    """A T5 (SentencePiece-style Unigram) tokenizer: ``<pad>`` = 0, ``</s>`` = 1, ``<unk>`` = 2.

    Used for the T5/UMT5 text encoders of LTX-Video, CogVideoX and Wan; the pipelines pass their
    own ``max_length``, ``model_max_length`` only matters for callers that do not.
    """
    from transformers import T5Tokenizer

    # (piece, log-probability): Unigram picks the segmentation with the highest total score, so
    # whole words (-3) win over spelling them out (-5 per character).
    vocab: list[tuple[str, float]] = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("▁", -4.0)]
    vocab += [("▁" + word, -3.0) for word in COMMON_WORDS]
    vocab += [(char, -5.0) for char in CHARACTERS]
    vocab += [("▁" + char, -5.5) for char in CHARACTERS]
    # extra_ids=0: no <extra_id_N> sentinels, which the pipelines never use.
    return T5Tokenizer(vocab=vocab, extra_ids=0, model_max_length=model_max_length)


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2's byte-level alphabet: each of the 256 bytes as a printable character."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
    printable += list(range(ord("®"), ord("ÿ") + 1))
    mapping = {byte: chr(byte) for byte in printable}
    shift = 0
    for byte in range(256):
        if byte not in mapping:
            mapping[byte] = chr(256 + shift)
            shift += 1
    return mapping


def clip_tokenizer(model_max_length: int = 77) -> Any:
    """A CLIP (byte-level BPE) tokenizer with the 256-symbol byte alphabet and no merges.

    Every byte is a token (plus its end-of-word form), so any text tokenizes, one symbol per
    byte. Hunyuan's ``tokenizer_2``; CLIP text encoders take 77 tokens.
    """
    from transformers import CLIPTokenizer

    symbols = sorted(_bytes_to_unicode().values())
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for symbol in symbols:
        vocab[symbol] = len(vocab)
        vocab[symbol + "</w>"] = len(vocab)
    return CLIPTokenizer(vocab=vocab, merges=[], model_max_length=model_max_length)


def _train_bpe(corpus: str, special_tokens: Sequence[str]) -> tuple[dict[str, int], list[Any]]:
    """Vocabulary and merges of a BPE that spells every word of ``corpus`` as one token.

    The words are cut out the way Llama's tokenizer sees them (spaces become "▁", which starts
    a word; the text right after a special token has none; runs of newlines are words too), so
    merges never join two words and unknown words are spelled with smaller pieces.
    """
    import json
    import re

    from tokenizers import Tokenizer, models, trainers

    words: list[str] = []
    pattern = "|".join(re.escape(token) for token in special_tokens) or "$^"
    for segment in re.split(pattern, " ".join(COMMON_WORDS) + "\n" + corpus):
        words += re.findall(r"▁?[^\s▁]+|\s+", segment.replace(" ", "▁"))
    words += ["▁" + word for word in COMMON_WORDS]

    tokenizer = Tokenizer(models.BPE(byte_fallback=True))
    trainer = trainers.BpeTrainer(
        vocab_size=100_000,  # no limit: merge until every word is one token
        special_tokens=list(special_tokens),
        initial_alphabet=list(CHARACTERS + "▁\n"),
        show_progress=False,
    )
    tokenizer.train_from_iterator(words, trainer=trainer)
    model = json.loads(tokenizer.to_str())["model"]
    return dict(model["vocab"]), [tuple(merge) for merge in model["merges"]]


def llama_tokenizer(corpus: str = "", special_tokens: Sequence[str] = (), model_max_length: int = 1024) -> Any:
    """A Llama (SentencePiece-style BPE with byte fallback) tokenizer learned from ``corpus``.

    ``corpus``: text the tokenizer should split into few tokens (a pipeline's prompt template);
    ``special_tokens``: markers that must stay single tokens (chat headers, ``<image>``).
    Characters outside the vocabulary fall back to the byte tokens ``<0x00>``..``<0xFF>``.
    Adds ``<s>`` in front and pads on the right, as Llama 3 does: pipelines that find tokens
    by position (Hunyuan's image token) rely on both.
    """
    from transformers import LlamaTokenizer

    specials = ["<unk>", "<s>", "</s>", "<pad>", *special_tokens]
    learned, merges = _train_bpe(corpus, specials)
    # Byte tokens right after the special ones, as in Llama's vocabulary, then the learned pieces.
    vocab = {token: index for index, token in enumerate(specials)}
    for byte in range(256):
        vocab[f"<0x{byte:02X}>"] = len(vocab)
    for piece, _ in sorted(learned.items(), key=lambda item: item[1]):
        vocab.setdefault(piece, len(vocab))
    return LlamaTokenizer(
        vocab=vocab,
        merges=merges,
        pad_token="<pad>",
        additional_special_tokens=list(special_tokens) or None,
        add_bos_token=True,
        padding_side="right",
        model_max_length=model_max_length,
    )


def t5_encoder(tokenizer: Any, d_model: int = 16) -> Any:
    """A one-layer T5 encoder over ``tokenizer``'s vocabulary (LTX-Video and CogVideoX encode with T5-XXL).

    ``d_model`` is the width the family's tiny transformer expects as its caption dimension.
    """
    from transformers import T5Config, T5EncoderModel

    return T5EncoderModel(
        T5Config(
            vocab_size=len(tokenizer),
            d_model=d_model,
            d_kv=8,
            d_ff=32,
            num_layers=1,
            num_heads=2,
            relative_attention_num_buckets=8,
            pad_token_id=tokenizer.pad_token_id,
            eos_token_id=tokenizer.eos_token_id,
        )
    )


def clip_tokenizer_openai_order(model_max_length: int = 77) -> Any:
    """``clip_tokenizer`` with the two special tokens last, where OpenAI's CLIP vocabulary has them
    (``<|startoftext|>`` 49406, ``<|endoftext|>`` 49407 of 49408).

    CLIP text models whose config keeps the legacy ``eos_token_id = 2`` (openai/clip-vit-*; X-CLIP
    always) pool the text at ``input_ids.argmax()``, which is the end token only when it has the
    highest id. With this order a tiny checkpoint pools where the real one does.
    """
    from transformers import CLIPTokenizer

    vocab: dict[str, int] = {}
    for symbol in sorted(_bytes_to_unicode().values()):
        vocab[symbol] = len(vocab)
        vocab[symbol + "</w>"] = len(vocab)
    vocab["<|startoftext|>"] = len(vocab)
    vocab["<|endoftext|>"] = len(vocab)
    return CLIPTokenizer(vocab=vocab, merges=[], model_max_length=model_max_length)


def qwen2_tokenizer(
    corpus: str = "",
    special_tokens: Sequence[str] = ("<|endoftext|>",),
    eos_token: str = "<|endoftext|>",
    pad_token: str = "<|endoftext|>",
    vocab_size: int = 1024,
    model_max_length: int = 32768,
) -> Any:
    """A Qwen2 (GPT-2 style byte-level BPE) tokenizer learned from ``corpus``, of ``Qwen2Tokenizer``'s class.

    The 256 byte symbols and merges learned from ``corpus`` (up to ``vocab_size`` pieces, cut the way
    Qwen2's own pre-tokenizer cuts text), then ``special_tokens`` in the order given: Qwen's vocabulary
    also ends with its special tokens (``<|endoftext|>``, ``<|im_start|>``...). Any text tokenizes: a
    byte-level BPE spells whatever it has no piece for with byte symbols.
    """
    import json

    from tokenizers import Regex, Tokenizer, models, pre_tokenizers, trainers
    from transformers import Qwen2Tokenizer
    from transformers.models.qwen2.tokenization_qwen2 import PRETOKENIZE_REGEX

    learner = Tokenizer(models.BPE())
    # The same two steps as Qwen2Tokenizer's pre-tokenizer, so the merges fit the pieces it will see.
    learner.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(PRETOKENIZE_REGEX), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    learner.train_from_iterator([" ".join(COMMON_WORDS), corpus], trainer=trainer)
    model = json.loads(learner.to_str())["model"]
    vocab: dict[str, int] = dict(model["vocab"])
    for token in special_tokens:
        vocab.setdefault(token, len(vocab))
    extra = [t for t in special_tokens if t not in (eos_token, pad_token)]
    return Qwen2Tokenizer(
        vocab=vocab,
        merges=[tuple(merge) for merge in model["merges"]],
        unk_token=None,
        eos_token=eos_token,
        pad_token=pad_token,
        additional_special_tokens=extra or None,
        model_max_length=model_max_length,
    )

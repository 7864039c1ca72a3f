"""The text side shared by the Qwen-VL scorers (``videoreward`` on Qwen2-VL, ``qwen_judge`` on Qwen2.5-VL).

Both model generations use the Qwen2 vocabulary with the same special tokens and ship the same chat template:

- ``SPECIAL_TOKENS``: Qwen2's added special tokens, ids 151643-151656 in this order in the real vocabularies
  (the ``added_tokens`` of ``tokenizer.json`` in https://huggingface.co/Qwen/Qwen2-VL-2B-Instruct and
  https://huggingface.co/Qwen/Qwen2.5-VL-7B-Instruct); the tiny checkpoints add them in the same order.
- ``CHAT_TEMPLATE``: the ``chat_template.json`` of both repos (a default system turn unless the conversation starts
  with one; ``<|vision_start|><|image_pad|><|vision_end|>`` per image part, ``<|video_pad|>`` per video part;
  ``<|im_start|>assistant\\n`` as the generation prompt), as quoted in public code that reads those files.
  VideoAlign's ``inference.py`` renders its turn with the processor of Qwen2-VL-2B-Instruct, i.e. with this
  template; the Qwen2.5-VL judge uses the template of the checkpoint it loads and writes this one into its tiny
  checkpoint.
"""

from __future__ import annotations

IMAGE_TOKEN = "<|image_pad|>"
VIDEO_TOKEN = "<|video_pad|>"
END_OF_TURN = "<|im_end|>"

SPECIAL_TOKENS: tuple[str, ...] = (
    "<|endoftext|>",
    "<|im_start|>",
    END_OF_TURN,
    "<|object_ref_start|>",
    "<|object_ref_end|>",
    "<|box_start|>",
    "<|box_end|>",
    "<|quad_start|>",
    "<|quad_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|vision_pad|>",
    IMAGE_TOKEN,
    VIDEO_TOKEN,
)

CHAT_TEMPLATE = (
    "{% set image_count = namespace(value=0) %}{% set video_count = namespace(value=0) %}"
    "{% for message in messages %}{% if loop.first and message['role'] != 'system' %}"
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}"
    "<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}<|im_end|>\n"
    "{% else %}{% for content in message['content'] %}"
    "{% if content['type'] == 'image' or 'image' in content or 'image_url' in content %}"
    "{% set image_count.value = image_count.value + 1 %}"
    "{% if add_vision_id %}Picture {{ image_count.value }}: {% endif %}"
    "<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif content['type'] == 'video' or 'video' in content %}"
    "{% set video_count.value = video_count.value + 1 %}"
    "{% if add_vision_id %}Video {{ video_count.value }}: {% endif %}"
    "<|vision_start|><|video_pad|><|vision_end|>"
    "{% elif 'text' in content %}{{ content['text'] }}{% endif %}{% endfor %}<|im_end|>\n"
    "{% endif %}{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

#!/usr/bin/env bash
# wan2.1-i2v-14b-480p: its own virtualenv envs/wan2.1-i2v-14b-480p/ with these exact pins, then its pinned checkpoint.
# The transitive dependencies are pinned too, by setup/lib/constraints-diffusers.txt.
set -euo pipefail
source "$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/lib/common.sh"

PINS=(
    torch==2.13.0
    diffusers==0.42.1
    transformers==5.23.0
    accelerate==1.15.0
    safetensors==0.8.0
    tokenizers==0.23.3
    sentencepiece==0.2.3
    huggingface_hub==2.4.0
    ftfy==6.3.1
    av==18.1.0
    numpy==2.4.6
    pillow==13.0.0
    pydantic==2.14.3
)

vmk_install_model wan2.1-i2v-14b-480p "$VMK_REPO/setup/lib/constraints-diffusers.txt" "${PINS[@]}"
